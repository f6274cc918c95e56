// books.test.mjs - the business operations of /rest/v1/rpc: GST invoices
// (arithmetic to the paisa, intra- and inter-state, round-off, numbering),
// drafts, issuing against stock, cancelling, payments and their allocation,
// credit, stock adjustments, the reports, Idempotency-Key, the events outbox
// and tenancy. Expected money is computed here with BigInt paise from the
// rules of docs/books.md, never copied from the server's answers.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  SERVICE_KEY, errorText, expectPgError, randomUuid, rest, rows, signup,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };

// ---- exact decimals ----------------------------------------------------------

/** A decimal (JSON number or string) as a BigInt of 10^-scale units. */
function units(v, scale) {
  assert.ok(typeof v === 'number' || typeof v === 'string', `not a decimal: ${JSON.stringify(v)}`);
  const s = String(v);
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  assert.ok(m, `not a plain decimal: ${s}`);
  const frac = m[3] || '';
  assert.ok(frac.replace(/0+$/, '').length <= scale, `${s} has more than ${scale} decimals`);
  const n = BigInt(m[2] + frac.padEnd(scale, '0').slice(0, scale));
  return m[1] ? -n : n;
}
const paise = (v) => units(v, 2);
const milli = (v) => units(v, 3);
const rupees = (p) => {
  const neg = p < 0n;
  const a = neg ? -p : p;
  return `${neg ? '-' : ''}${a / 100n}.${String(a % 100n).padStart(2, '0')}`;
};

/** n / d rounded half away from zero (d > 0). */
function roundHalfUp(n, d) {
  const neg = n < 0n;
  const a = neg ? -n : n;
  const q = (2n * a + d) / (2n * d);
  return neg ? -q : q;
}

/** One line by the rules: qty in thousandths, money in paise, rate in hundredths of a percent. */
function expectLine({ qty, price, discount = 0n, rate }, intra) {
  const gross = roundHalfUp(qty * price, 1000n);
  const taxable = gross - discount;
  let cgst = 0n;
  let sgst = 0n;
  let igst = 0n;
  if (intra) {
    cgst = roundHalfUp(taxable * rate, 20000n);
    sgst = cgst;
  } else {
    igst = roundHalfUp(taxable * rate, 10000n);
  }
  return { taxable, cgst, sgst, igst, total: taxable + cgst + sgst + igst };
}

function expectInvoice(lines) {
  const sum = (k) => lines.reduce((s, l) => s + l[k], 0n);
  const exact = sum('total');
  const total = roundHalfUp(exact, 100n) * 100n;
  return {
    subtotal: sum('taxable'), cgst: sum('cgst'), sgst: sum('sgst'), igst: sum('igst'),
    total, roundOff: total - exact,
  };
}

// ---- API helpers ----------------------------------------------------------------

function rpc(token, name, args, headers = {}) {
  return rest('POST', `rpc/${name}`, { token, body: args, headers });
}

async function ok(p) {
  const r = await p;
  assert.equal(r.status, 200, r.info);
  assert.ok(r.json && typeof r.json === 'object', `no JSON answer: ${r.info}`);
  return r.json;
}

async function one(table, token, query) {
  const list = await rows(table, token, query);
  assert.equal(list.length, 1, `expected one ${table} row for ${query}, got ${JSON.stringify(list)}`);
  return list[0];
}

const debtOf = async (token, id) => paise((await one('customers', token, `select=total_debt&id=eq.${id}`)).total_debt);
const stockOf = async (token, id) => milli((await one('products', token, `select=current_stock&id=eq.${id}`)).current_stock);
const countOf = async (token, table, query = '') => (await rows(table, token, `select=id${query ? `&${query}` : ''}`)).length;

async function events(token, query = '') {
  return rows('events', token, `select=event_type,entity_type,entity_id,payload,created_at&order=created_at.asc${query ? `&${query}` : ''}`);
}

/** "26-27" for a date of the financial year 2026-27 (1 April to 31 March). */
function fyLabel(isoDate) {
  const [y, m] = isoDate.split('-').map(Number);
  const start = m >= 4 ? y : y - 1;
  return `${String(start % 100).padStart(2, '0')}-${String((start + 1) % 100).padStart(2, '0')}`;
}

/** Today's date in India (UTC+05:30). */
function todayIst() {
  return new Date(Date.now() + 5.5 * 3600 * 1000).toISOString().slice(0, 10);
}

/** Start year of the financial year today falls in (IST). Invoices may be
 * dated from 1 April of the year before it up to today, so the tests that
 * need fixed dates take them from the previous financial year (PY). */
function fyStartYear() {
  const [y, m] = todayIst().split('-').map(Number);
  return m >= 4 ? y : y - 1;
}
const PY = fyStartYear() - 1;

// The catalogue every test business starts with: the four rates the issue
// names (18, 5, 0.25, 28), a zero-rated line and one with a low-stock threshold.
const PRODUCTS = {
  bottle: { name: 'Steel bottle 1 l', sku: 'BOT-1', hsn_code: '7323', unit: 'pcs', gst_rate: 18, base_price: 99.99, current_stock: 100000 },
  rice: { name: 'Basmati rice', sku: 'RICE-1', hsn_code: '1006', unit: 'kg', gst_rate: 5, base_price: 84.5, current_stock: 100000 },
  diamond: { name: 'Rough diamond', sku: 'DIA-1', hsn_code: '710210', unit: 'ct', gst_rate: 0.25, base_price: 1234.57, current_stock: 100000 },
  cement: { name: 'Cement 50 kg', sku: 'CEM-50', hsn_code: '25232930', unit: 'bag', gst_rate: 28, base_price: 415.35, current_stock: 100000 },
  milk: { name: 'Fresh milk', sku: 'MILK-1', hsn_code: '0401', unit: 'l', gst_rate: 0, base_price: 56, current_stock: 100000 },
  packing: { name: 'Packing charge', unit: 'pcs', gst_rate: 18, base_price: 20, current_stock: 100000 }, // no HSN code
  lamp: { name: 'Brass lamp', sku: 'LAMP-1', hsn_code: '9405', unit: 'pcs', gst_rate: 12, base_price: 350, current_stock: 8, low_stock_threshold: 5 },
};
const CUSTOMERS = {
  local: { full_name: 'Ravi Kumar', phone_number: '+919876500001', state_code: '27' }, // Maharashtra, like the business
  other: { full_name: 'Lakshmi Rao', phone_number: '+919876500002', state_code: '29' }, // Karnataka
};

/** A fresh business in state 27 with PRODUCTS and CUSTOMERS (or the ones given). */
async function business({ products = PRODUCTS, customers = CUSTOMERS, state = '27' } = {}) {
  const u = await signup();
  if (state) {
    const p = await rest('PATCH', `profiles?id=eq.${u.userId}`, { token: u.token, body: { state_code: state } });
    assert.ok(p.status === 204 || p.status === 200, p.info);
  }
  const make = async (table, spec) => {
    const keys = Object.keys(spec);
    if (!keys.length) return {};
    const r = await rest('POST', table, { token: u.token, headers: REP, body: keys.map((k) => spec[k]) });
    assert.equal(r.status, 201, r.info);
    assert.equal(r.json.length, keys.length, r.info);
    return Object.fromEntries(keys.map((k, i) => [k, r.json[i]]));
  };
  return { ...u, products: await make('products', products), customers: await make('customers', customers) };
}

// ---- operations need a signed-in business ----------------------------------------

describe('calling operations', () => {
  test('without a user token: 401; with the service key: 403; unknown operation: 404; GET: 405', async () => {
    const anon = await rest('POST', 'rpc/debtors', { body: {} });
    expectPgError(anon, 401);
    const svc = await rest('POST', 'rpc/debtors', { token: SERVICE_KEY, apikey: SERVICE_KEY, body: {} });
    expectPgError(svc, 403);
    const u = await signup();
    expectPgError(await rpc(u.token, 'no_such_operation', {}), 404, 'PGRST202');
    expectPgError(await rest('GET', 'rpc/debtors', { token: u.token }), 405);
  });

  test('a business without a state_code cannot invoice (409, naming state_code)', async () => {
    const b = await business({ state: null });
    const r = await rpc(b.token, 'create_invoice', {
      customer_id: b.customers.local.id, items: [{ product_id: b.products.bottle.id, quantity: 1 }],
    });
    expectPgError(r, 409, 'MU409');
    assert.match(errorText(r), /state_code/, r.info);
    assert.equal(await countOf(b.token, 'invoices'), 0);
  });
});

// ---- GST arithmetic --------------------------------------------------------------

// Each case: the customer, an optional place of supply, the lines, whether it
// is intra-state, and for some a total worked out by hand as a check on the
// rules above.
const GST_CASES = [
  {
    name: 'intra-state, one line at the base price',
    customer: 'local', intra: true,
    lines: [{ product: 'bottle', quantity: 1 }],
    // 9% of 99.99 = 8.9991 -> 9.00 each; 99.99 + 18.00 = 117.99 -> 118.00
    hand: { subtotal: '99.99', cgst: '9.00', sgst: '9.00', igst: '0.00', total: '118.00', roundOff: '0.01' },
  },
  {
    name: 'intra-state, mixed rates, discounts and a fractional quantity',
    customer: 'local', intra: true,
    lines: [
      { product: 'bottle', quantity: 2.5 },                         // 249.975 -> 249.98
      { product: 'rice', quantity: 3, discount: 10 },               // 253.50 - 10
      { product: 'diamond', quantity: 1 },                          // 0.25%
      { product: 'cement', quantity: 2, unit_price: 400.1, discount: 0.55 },
      { product: 'milk', quantity: 1.75 },                          // zero-rated
    ],
  },
  {
    name: 'inter-state (customer in 29): IGST only',
    customer: 'other', intra: false,
    lines: [
      { product: 'bottle', quantity: 2.5 },
      { product: 'rice', quantity: 3, discount: 10 },
      { product: 'diamond', quantity: 1 },
      { product: 'cement', quantity: 2, unit_price: 400.1, discount: 0.55 },
    ],
  },
  {
    name: 'place_of_supply 29 for a customer in 27: inter-state',
    customer: 'local', placeOfSupply: '29', intra: false,
    lines: [{ product: 'cement', quantity: 1 }],
  },
  {
    name: 'place_of_supply 27 for a customer in 29: intra-state',
    customer: 'other', placeOfSupply: '27', intra: true,
    lines: [{ product: 'cement', quantity: 1 }],
  },
  {
    name: 'half a paisa of tax rounds up (2.5% of 0.20 = 0.005 -> 0.01 each)',
    customer: 'local', intra: true,
    lines: [{ product: 'rice', quantity: 1, unit_price: 0.2 }, { product: 'milk', quantity: 1, unit_price: 10 }],
    hand: { subtotal: '10.20', cgst: '0.01', sgst: '0.01', igst: '0.00', total: '10.00', roundOff: '-0.22' },
  },
  {
    name: 'a quarter-paisa tax rounds down intra-state, half a paisa up inter-state (0.25% of 2.00)',
    customer: 'other', intra: false,
    lines: [{ product: 'diamond', quantity: 1, unit_price: 2 }],
    hand: { subtotal: '2.00', cgst: '0.00', sgst: '0.00', igst: '0.01', total: '2.00', roundOff: '-0.01' },
  },
  {
    name: 'line value rounds half-up to the paisa (0.005 x 1.00 = 0.005 -> 0.01)',
    customer: 'local', intra: true,
    lines: [
      { product: 'milk', quantity: 0.005, unit_price: 1 },     // 0.005 -> 0.01
      { product: 'milk', quantity: 1.115, unit_price: 0.1 },   // 0.1115 -> 0.11
      { product: 'milk', quantity: 1, unit_price: 10 },
    ],
    hand: { subtotal: '10.12', cgst: '0.00', sgst: '0.00', igst: '0.00', total: '10.00', roundOff: '-0.12' },
  },
  {
    name: 'total ending in .50 rounds up to the rupee',
    customer: 'local', intra: true,
    lines: [{ product: 'milk', quantity: 1, unit_price: 100.5 }],
    hand: { subtotal: '100.50', cgst: '0.00', sgst: '0.00', igst: '0.00', total: '101.00', roundOff: '0.50' },
  },
  {
    name: 'total ending in .49 rounds down to the rupee',
    customer: 'local', intra: true,
    lines: [{ product: 'milk', quantity: 1, unit_price: 100.49 }],
    hand: { subtotal: '100.49', cgst: '0.00', sgst: '0.00', igst: '0.00', total: '100.00', roundOff: '-0.49' },
  },
  {
    name: 'a large invoice stays exact',
    customer: 'other', intra: false,
    lines: [{ product: 'diamond', quantity: 999.999, unit_price: 98765.43, discount: 0.01 }],
  },
];

describe('GST invoices', () => {
  let b;
  before(async () => { b = await business(); });

  for (const c of GST_CASES) {
    test(`create_invoice: ${c.name}`, async () => {
      const items = c.lines.map((l) => {
        const it = { product_id: b.products[l.product].id, quantity: l.quantity };
        if (l.unit_price !== undefined) it.unit_price = l.unit_price;
        if (l.discount !== undefined) it.discount = l.discount;
        return it;
      });
      const args = { customer_id: b.customers[c.customer].id, items };
      if (c.placeOfSupply) args.place_of_supply = c.placeOfSupply;
      const inv = await ok(rpc(b.token, 'create_invoice', args));

      const want = c.lines.map((l) => {
        const p = PRODUCTS[l.product];
        return expectLine({
          qty: milli(l.quantity),
          price: paise(l.unit_price !== undefined ? l.unit_price : p.base_price),
          discount: l.discount !== undefined ? paise(l.discount) : 0n,
          rate: units(p.gst_rate, 2),
        }, c.intra);
      });
      const tot = expectInvoice(want);
      if (c.hand) {
        // The rules as coded above agree with the worked example.
        assert.deepEqual(
          { subtotal: rupees(tot.subtotal), cgst: rupees(tot.cgst), sgst: rupees(tot.sgst), igst: rupees(tot.igst), total: rupees(tot.total), roundOff: rupees(tot.roundOff) },
          c.hand,
        );
      }

      assert.equal(inv.status, tot.total === 0n ? 'paid' : 'pending');
      assert.equal(inv.customer_id, b.customers[c.customer].id);
      assert.equal(inv.place_of_supply, c.placeOfSupply || CUSTOMERS[c.customer].state_code);
      assert.ok(Array.isArray(inv.items), 'the answer carries its items');
      assert.equal(inv.items.length, c.lines.length);
      inv.items.forEach((it, i) => {
        const l = c.lines[i];
        const p = PRODUCTS[l.product];
        assert.equal(it.product_id, b.products[l.product].id);
        assert.equal(it.hsn_code, p.hsn_code, `line ${i} keeps the product's HSN code`);
        assert.equal(units(it.gst_rate, 2), units(p.gst_rate, 2), `line ${i} keeps the rate`);
        assert.equal(milli(it.quantity), milli(l.quantity), `line ${i} quantity`);
        assert.equal(paise(it.taxable_value), want[i].taxable, `line ${i} taxable_value`);
        assert.equal(paise(it.cgst_amount), want[i].cgst, `line ${i} cgst`);
        assert.equal(paise(it.sgst_amount), want[i].sgst, `line ${i} sgst`);
        assert.equal(paise(it.igst_amount), want[i].igst, `line ${i} igst`);
        assert.equal(paise(it.line_total), want[i].total, `line ${i} line_total`);
      });
      assert.equal(paise(inv.subtotal), tot.subtotal, 'subtotal');
      assert.equal(paise(inv.cgst_amount), tot.cgst, 'cgst_amount');
      assert.equal(paise(inv.sgst_amount), tot.sgst, 'sgst_amount');
      assert.equal(paise(inv.igst_amount), tot.igst, 'igst_amount');
      assert.equal(paise(inv.round_off), tot.roundOff, 'round_off');
      assert.equal(paise(inv.total_amount), tot.total, 'total_amount');
      assert.equal(paise(inv.total_amount) % 100n, 0n, 'the total is whole rupees');
      assert.equal(paise(inv.balance_due), tot.total, 'nothing paid yet');
      assert.equal(paise(inv.amount_paid), 0n);
      if (c.intra) {
        assert.equal(inv.cgst_amount, inv.sgst_amount, 'CGST equals SGST');
        assert.equal(paise(inv.igst_amount), 0n);
      } else {
        assert.equal(paise(inv.cgst_amount) + paise(inv.sgst_amount), 0n, 'no CGST/SGST inter-state');
      }

      // The stored invoice, read back through REST with its lines, says the same.
      const stored = await one('invoices', b.token, `select=*,invoice_items(*)&id=eq.${inv.id}`);
      for (const k of ['subtotal', 'cgst_amount', 'sgst_amount', 'igst_amount', 'round_off', 'total_amount', 'balance_due']) {
        assert.equal(paise(stored[k]), paise(inv[k]), `stored ${k}`);
      }
      assert.equal(stored.invoice_number, inv.invoice_number);
      assert.ok(Array.isArray(stored.invoice_items), 'invoice_items embedded');
      assert.equal(stored.invoice_items.length, c.lines.length);
      const byLine = [...stored.invoice_items].sort((x, y) => (x.line_no ?? 0) - (y.line_no ?? 0));
      byLine.forEach((it, i) => assert.equal(paise(it.line_total), want[i].total, `stored line ${i}`));
    });
  }

  test('a product without an HSN code gives a line without one (null)', async () => {
    const inv = await ok(rpc(b.token, 'create_invoice', {
      customer_id: b.customers.local.id, items: [{ product_id: b.products.packing.id, quantity: 1 }],
    }));
    assert.equal(inv.items[0].hsn_code, null, JSON.stringify(inv.items[0]));
    assert.equal(paise(inv.items[0].line_total), 2360n);
  });

  test('issuing takes a fractional quantity out of stock and adds the total to the debt', async () => {
    const pid = b.products.rice.id;
    const cid = b.customers.other.id;
    const stock0 = await stockOf(b.token, pid);
    const debt0 = await debtOf(b.token, cid);
    const inv = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: pid, quantity: 2.5 }] }));
    assert.equal(await stockOf(b.token, pid), stock0 - 2500n);
    assert.equal(await debtOf(b.token, cid), debt0 + paise(inv.total_amount));
  });

  // More decimals than a quantity (3) or an amount of money (2) may carry, and
  // other bad arguments: 400 MU400, and nothing is written.
  const BAD = [
    ['quantity with 4 decimals (number)', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1.2345 }] })],
    ['quantity with 4 decimals (string)', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: '1.0001' }] })],
    ['unit_price with 3 decimals', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1, unit_price: 10.001 }] })],
    ['discount with 3 decimals', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1, discount: 0.005 }] })],
    ['quantity 0', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 0 }] })],
    ['negative quantity', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: -1 }] })],
    ['quantity not a number', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 'two' }] })],
    ['negative unit_price', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1, unit_price: -5 }] })],
    ['discount above the line value', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1, unit_price: 10, discount: 10.01 }] })],
    ['no items', (b) => ({ customer_id: b.customers.local.id, items: [] })],
    ['items not an array', (b) => ({ customer_id: b.customers.local.id, items: { product_id: b.products.rice.id } })],
    ['no customer_id', (b) => ({ items: [{ product_id: b.products.rice.id, quantity: 1 }] })],
    ['customer_id not a UUID', (b) => ({ customer_id: 'ravi', items: [{ product_id: b.products.rice.id, quantity: 1 }] })],
    ['an unknown argument', (b) => ({ customer_id: b.customers.local.id, items: [{ product_id: b.products.rice.id, quantity: 1 }], colour: 'red' })],
    ['place_of_supply not a state code', (b) => ({ customer_id: b.customers.local.id, place_of_supply: 'MH', items: [{ product_id: b.products.rice.id, quantity: 1 }] })],
    ['invoice_date not a date', (b) => ({ customer_id: b.customers.local.id, invoice_date: '24/11/2026', items: [{ product_id: b.products.rice.id, quantity: 1 }] })],
    ['due_date before invoice_date', (b) => ({ customer_id: b.customers.local.id, invoice_date: `${PY}-05-10`, due_date: `${PY}-05-01`, items: [{ product_id: b.products.rice.id, quantity: 1 }] })],
  ];
  for (const [name, make] of BAD) {
    test(`create_invoice refuses ${name}: 400 MU400, nothing written`, async () => {
      const before = await countOf(b.token, 'invoices');
      const stock = await stockOf(b.token, b.products.rice.id);
      const debt = await debtOf(b.token, b.customers.local.id);
      expectPgError(await rpc(b.token, 'create_invoice', make(b)), 400, 'MU400');
      assert.equal(await countOf(b.token, 'invoices'), before);
      assert.equal(await stockOf(b.token, b.products.rice.id), stock);
      assert.equal(await debtOf(b.token, b.customers.local.id), debt);
    });
  }

  test('an unknown customer or product: 404 MU404', async () => {
    const before = await countOf(b.token, 'invoices');
    expectPgError(await rpc(b.token, 'create_invoice', {
      customer_id: randomUuid(), items: [{ product_id: b.products.rice.id, quantity: 1 }],
    }), 404, 'MU404');
    expectPgError(await rpc(b.token, 'create_invoice', {
      customer_id: b.customers.local.id, items: [{ product_id: randomUuid(), quantity: 1 }],
    }), 404, 'MU404');
    expectPgError(await rpc(b.token, 'issue_invoice', { invoice_id: randomUuid() }), 404, 'MU404');
    expectPgError(await rpc(b.token, 'cancel_invoice', { invoice_id: randomUuid(), reason: 'x' }), 404, 'MU404');
    assert.equal(await countOf(b.token, 'invoices'), before);
  });
});

// ---- numbering, drafts, stock, cancelling ------------------------------------------

describe('numbering, drafts and cancelling', () => {
  let b;
  let fy;
  before(async () => {
    b = await business();
    fy = fyLabel(todayIst());
  });
  const num = (n) => `INV/${fy}/${String(n).padStart(4, '0')}`;
  const line = (qty = 1) => [{ product_id: b.products.bottle.id, quantity: qty }];

  test('issued invoices are numbered INV/yy-yy/0001, 0002 … dated today in India', async () => {
    const a = await ok(rpc(b.token, 'create_invoice', { customer_id: b.customers.local.id, items: line() }));
    const c = await ok(rpc(b.token, 'create_invoice', { customer_id: b.customers.other.id, items: line() }));
    assert.equal(a.invoice_date, todayIst());
    assert.equal(a.invoice_number, num(1));
    assert.equal(c.invoice_number, num(2));
    assert.ok(a.invoice_number.length <= 16 && /^[A-Za-z0-9/-]+$/.test(a.invoice_number));
  });

  test('a draft has no number and changes nothing until issue_invoice', async () => {
    const pid = b.products.bottle.id;
    const cid = b.customers.local.id;
    const stock0 = await stockOf(b.token, pid);
    const debt0 = await debtOf(b.token, cid);
    const d = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line(3), draft: true }));
    assert.equal(d.status, 'draft');
    assert.equal(d.invoice_number, null);
    assert.ok(paise(d.total_amount) > 0n, 'a draft has its totals');
    assert.equal(await stockOf(b.token, pid), stock0, 'a draft takes no stock');
    assert.equal(await debtOf(b.token, cid), debt0, 'a draft adds no debt');
    let evs = (await events(b.token, `entity_id=eq.${d.id}`)).map((e) => e.event_type);
    assert.deepEqual(evs, ['invoice.created']);
    // A payment cannot be allocated to a draft.
    expectPgError(await rpc(b.token, 'record_payment', {
      customer_id: cid, amount_received: 1, payment_mode: 'cash', invoice_id: d.id,
    }), 409, 'MU409');

    const i = await ok(rpc(b.token, 'issue_invoice', { invoice_id: d.id }));
    assert.equal(i.id, d.id);
    assert.equal(i.status, 'pending');
    assert.equal(i.invoice_number, num(3));
    assert.equal(await stockOf(b.token, pid), stock0 - 3000n);
    assert.equal(await debtOf(b.token, cid), debt0 + paise(i.total_amount));
    evs = (await events(b.token, `entity_id=eq.${d.id}`)).map((e) => e.event_type);
    assert.deepEqual(evs, ['invoice.created', 'invoice.issued']);
    // The outbox's own position (counted across every business) is not
    // shown: not in select=*, and naming it is an unknown column.
    const all = await rows('events', b.token, `select=*&entity_id=eq.${d.id}`);
    assert.ok(all.length === 2 && all.every((e) => !('seq' in e) && !('txid' in e)), JSON.stringify(all[0]));
    for (const q of ['select=seq', 'select=id&txid=gt.0', 'select=id&order=seq.desc']) {
      expectPgError(await rest('GET', `events?${q}`, { token: b.token }), 400, '42703');
    }
    // Only a draft can be issued.
    expectPgError(await rpc(b.token, 'issue_invoice', { invoice_id: d.id }), 409, 'MU409');
    assert.equal(await stockOf(b.token, pid), stock0 - 3000n);
  });

  test('issuing with too little stock: 409 naming the product, nothing changes', async () => {
    const lamp = b.products.lamp; // 8 in stock
    const cid = b.customers.local.id;
    const stock0 = await stockOf(b.token, lamp.id);
    const debt0 = await debtOf(b.token, cid);
    const before = await countOf(b.token, 'invoices');
    const r = await rpc(b.token, 'create_invoice', {
      customer_id: cid, items: [{ product_id: b.products.bottle.id, quantity: 1 }, { product_id: lamp.id, quantity: 9 }],
    });
    expectPgError(r, 409, 'MU409');
    assert.ok(errorText(r).includes(PRODUCTS.lamp.name), `the error names the product: ${r.info}`);
    assert.equal(await countOf(b.token, 'invoices'), before, 'no invoice left behind');
    assert.equal(await stockOf(b.token, lamp.id), stock0);
    assert.equal(await debtOf(b.token, cid), debt0);

    // The same through a draft: the draft stays a draft, unnumbered.
    const d = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: lamp.id, quantity: 9 }], draft: true }));
    const r2 = await rpc(b.token, 'issue_invoice', { invoice_id: d.id });
    expectPgError(r2, 409, 'MU409');
    assert.ok(errorText(r2).includes(PRODUCTS.lamp.name), r2.info);
    const still = await one('invoices', b.token, `select=status,invoice_number&id=eq.${d.id}`);
    assert.deepEqual(still, { status: 'draft', invoice_number: null });
    assert.equal(await stockOf(b.token, lamp.id), stock0);
    assert.equal(await debtOf(b.token, cid), debt0);
    // The number the refused issue would have taken is still free.
    const next = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line() }));
    assert.equal(next.invoice_number, num(4));
  });

  test('cancel_invoice puts stock and debt back; the number is never reused', async () => {
    const pid = b.products.cement.id;
    const cid = b.customers.other.id;
    const stock0 = await stockOf(b.token, pid);
    const debt0 = await debtOf(b.token, cid);
    const inv = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: pid, quantity: 4 }] }));
    assert.equal(inv.invoice_number, num(5));
    assert.equal(await stockOf(b.token, pid), stock0 - 4000n);
    expectPgError(await rpc(b.token, 'cancel_invoice', { invoice_id: inv.id }), 400, 'MU400'); // a reason is required
    const c = await ok(rpc(b.token, 'cancel_invoice', { invoice_id: inv.id, reason: 'wrong customer' }));
    assert.equal(c.status, 'cancelled');
    assert.equal(c.invoice_number, num(5), 'a cancelled invoice keeps its number');
    assert.equal(paise(c.balance_due), 0n);
    assert.equal(await stockOf(b.token, pid), stock0);
    assert.equal(await debtOf(b.token, cid), debt0);
    expectPgError(await rpc(b.token, 'cancel_invoice', { invoice_id: inv.id, reason: 'again' }), 409, 'MU409');
    expectPgError(await rpc(b.token, 'record_payment', {
      customer_id: cid, amount_received: 10, payment_mode: 'cash', invoice_id: inv.id,
    }), 409, 'MU409');
    assert.equal(await debtOf(b.token, cid), debt0, 'the refused payment changed nothing');
    const next = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line() }));
    assert.equal(next.invoice_number, num(6));
    const numbers = (await rows('invoices', b.token, 'select=invoice_number&invoice_number=not.is.null'))
      .map((x) => x.invoice_number).sort();
    assert.deepEqual(numbers, [1, 2, 3, 4, 5, 6].map(num), 'gapless, no duplicates');
  });

  test('cancelling a draft leaves stock and debt alone and uses no number', async () => {
    const pid = b.products.bottle.id;
    const cid = b.customers.local.id;
    const stock0 = await stockOf(b.token, pid);
    const debt0 = await debtOf(b.token, cid);
    const d = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line(2), draft: true }));
    const c = await ok(rpc(b.token, 'cancel_invoice', { invoice_id: d.id, reason: 'not needed' }));
    assert.equal(c.status, 'cancelled');
    assert.equal(c.invoice_number, null);
    assert.equal(await stockOf(b.token, pid), stock0);
    assert.equal(await debtOf(b.token, cid), debt0);
    expectPgError(await rpc(b.token, 'issue_invoice', { invoice_id: d.id }), 409, 'MU409');
    const next = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line() }));
    assert.equal(next.invoice_number, num(7));
  });

  test('a paid invoice that is cancelled leaves the payment as credit', async () => {
    const cid = b.customers.other.id;
    const debt0 = await debtOf(b.token, cid);
    const inv = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line() }));
    const total = paise(inv.total_amount);
    await ok(rpc(b.token, 'record_payment', { customer_id: cid, amount_received: rupees(total), payment_mode: 'upi', invoice_id: inv.id }));
    assert.equal(await debtOf(b.token, cid), debt0);
    const c = await ok(rpc(b.token, 'cancel_invoice', { invoice_id: inv.id, reason: 'returned' }));
    assert.equal(c.status, 'cancelled');
    assert.equal(await debtOf(b.token, cid), debt0 - total, 'the customer is owed the payment');
  });

  test('the series restarts each financial year (31 March vs 1 April)', async () => {
    const cid = b.customers.local.id;
    const fy0 = fyStartYear();
    const yy = (y) => String(y % 100).padStart(2, '0');
    const prev = `${yy(fy0 - 1)}-${yy(fy0)}`;
    const a = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, invoice_date: `${fy0}-03-31`, items: line() }));
    const a2 = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, invoice_date: `${fy0 - 1}-04-01`, items: line() }));
    assert.equal(a.invoice_number, `INV/${prev}/0001`, 'the last day of the previous year opens its own series');
    assert.equal(a2.invoice_number, `INV/${prev}/0002`);
    const c = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, invoice_date: `${fy0}-04-01`, items: line() }));
    assert.match(c.invoice_number, new RegExp(`^INV/${fy}/\\d{4}$`), '1 April is in the current year');
    const today = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: line() }));
    assert.equal(Number(today.invoice_number.slice(-4)), Number(c.invoice_number.slice(-4)) + 1,
      'the current year\'s series went on undisturbed');
    // Outside the window: before the previous year, or in the future.
    expectPgError(await rpc(b.token, 'create_invoice', { customer_id: cid, invoice_date: `${fy0 - 1}-03-31`, items: line() }), 400, 'MU400');
    const tomorrow = new Date(Date.now() + (5.5 + 24) * 3600 * 1000).toISOString().slice(0, 10);
    expectPgError(await rpc(b.token, 'create_invoice', { customer_id: cid, invoice_date: tomorrow, items: line() }), 400, 'MU400');
  });

  test('invoice_prefix from the profile leads the number', async () => {
    const p = await rest('PATCH', `profiles?id=eq.${b.userId}`, { token: b.token, body: { invoice_prefix: 'AT' } });
    assert.ok(p.status === 204 || p.status === 200, p.info);
    const inv = await ok(rpc(b.token, 'create_invoice', { customer_id: b.customers.local.id, items: line() }));
    assert.match(inv.invoice_number, new RegExp(`^AT/${fy}/\\d{4}$`));
  });
});

// ---- payments ------------------------------------------------------------------

describe('payments', () => {
  let b;
  let inv; // three invoices of the local customer, oldest first
  const cid = () => b.customers.local.id;
  before(async () => {
    b = await business();
    inv = [];
    // Created newest first, so the allocation order has to come from the dates.
    for (const [date, qty] of [[`${PY}-04-03`, 3], [`${PY}-04-02`, 2], [`${PY}-04-01`, 1]]) {
      inv.unshift(await ok(rpc(b.token, 'create_invoice', {
        customer_id: b.customers.local.id, invoice_date: date, items: [{ product_id: b.products.cement.id, quantity: qty }],
      })));
    }
  });
  const state = async (i) => one('invoices', b.token, `select=status,amount_paid,balance_due,total_amount&id=eq.${inv[i].id}`);

  test('the totals of the three invoices are the debt', async () => {
    const sum = inv.reduce((s, x) => s + paise(x.total_amount), 0n);
    assert.equal(await debtOf(b.token, cid()), sum);
  });

  test('a payment goes to the named invoice first, then to the oldest open ones', async () => {
    const t = inv.map((x) => paise(x.total_amount));
    const debt0 = await debtOf(b.token, cid());
    // All of invoice 3 and 100.00 more, which goes to invoice 1 (the oldest).
    const amount = t[2] + 10000n;
    const p = await ok(rpc(b.token, 'record_payment', {
      customer_id: cid(), amount_received: rupees(amount), payment_mode: 'upi', invoice_id: inv[2].id, reference: 'UPI-1',
    }));
    assert.equal(paise(p.amount_received), amount);
    assert.ok(Array.isArray(p.allocations), p);
    assert.deepEqual(p.allocations.map((a) => [a.invoice_id, paise(a.amount)]), [[inv[2].id, t[2]], [inv[0].id, 10000n]]);
    assert.equal(await debtOf(b.token, cid()), debt0 - amount);
    const s = await Promise.all([0, 1, 2].map(state));
    assert.equal(s[2].status, 'paid');
    assert.equal(paise(s[2].balance_due), 0n);
    assert.equal(paise(s[2].amount_paid), t[2]);
    assert.equal(s[0].status, 'partially_paid');
    assert.equal(paise(s[0].amount_paid), 10000n);
    assert.equal(paise(s[0].balance_due), t[0] - 10000n);
    assert.equal(s[1].status, 'pending');
    assert.equal(paise(s[1].balance_due), t[1]);
    const pay = await one('payments', b.token, `select=customer_id,amount_received,payment_mode,reference&id=eq.${p.id}`);
    assert.deepEqual({ ...pay, amount_received: paise(pay.amount_received) },
      { customer_id: cid(), amount_received: amount, payment_mode: 'upi', reference: 'UPI-1' });
  });

  test('without an invoice the payment pays the oldest first', async () => {
    const s0 = await Promise.all([0, 1].map(state));
    const amount = paise(s0[0].balance_due) + 1n; // invoice 1 in full, one paisa to invoice 2
    await ok(rpc(b.token, 'record_payment', { customer_id: cid(), amount_received: rupees(amount), payment_mode: 'cash' }));
    const s = await Promise.all([0, 1].map(state));
    assert.equal(s[0].status, 'paid');
    assert.equal(s[1].status, 'partially_paid');
    assert.equal(paise(s[1].amount_paid), 1n);
  });

  test('paying more than is owed leaves a credit: total_debt below zero', async () => {
    const debt0 = await debtOf(b.token, cid());
    assert.ok(debt0 > 0n);
    const amount = debt0 + 25050n; // 250.50 more than owed
    const p = await ok(rpc(b.token, 'record_payment', { customer_id: cid(), amount_received: rupees(amount), payment_mode: 'bank_transfer' }));
    assert.equal(await debtOf(b.token, cid()), -25050n);
    assert.equal(paise(p.unallocated), 25050n, 'the answer says what was left as credit');
    const s = await Promise.all([0, 1, 2].map(state));
    assert.deepEqual(s.map((x) => x.status), ['paid', 'paid', 'paid']);
    // The credit is used by the next invoice's debt.
    const next = await ok(rpc(b.token, 'create_invoice', { customer_id: cid(), items: [{ product_id: b.products.milk.id, quantity: 10 }] }));
    assert.equal(await debtOf(b.token, cid()), paise(next.total_amount) - 25050n);
  });

  test('paid invoices fire invoice.paid; payments fire payment.received', async () => {
    const evs = await events(b.token);
    const paid = evs.filter((e) => e.event_type === 'invoice.paid').map((e) => e.entity_id).sort();
    assert.deepEqual(paid, inv.map((x) => x.id).sort());
    assert.equal(evs.filter((e) => e.event_type === 'payment.received').length, await countOf(b.token, 'payments'));
  });

  const MODES = ['cash', 'upi', 'bank_transfer', 'card', 'cheque', 'other'];
  for (const mode of MODES) {
    test(`payment_mode ${mode} is accepted`, async () => {
      const debt0 = await debtOf(b.token, b.customers.other.id);
      const p = await ok(rpc(b.token, 'record_payment', { customer_id: b.customers.other.id, amount_received: 1.5, payment_mode: mode }));
      assert.equal(p.payment_mode, mode);
      assert.equal(await debtOf(b.token, b.customers.other.id), debt0 - 150n);
    });
  }

  const BAD = [
    ['an unknown payment_mode', { amount_received: 10, payment_mode: 'bitcoin' }],
    ['payment_mode in capitals', { amount_received: 10, payment_mode: 'CASH' }],
    ['no payment_mode', { amount_received: 10 }],
    ['an empty payment_mode', { amount_received: 10, payment_mode: '' }],
    ['amount 0', { amount_received: 0, payment_mode: 'cash' }],
    ['a negative amount', { amount_received: -10, payment_mode: 'cash' }],
    ['an amount with 3 decimals', { amount_received: 10.005, payment_mode: 'cash' }],
    ['an amount as text with 3 decimals', { amount_received: '10.001', payment_mode: 'cash' }],
    ['no amount', { payment_mode: 'cash' }],
    ['received_at not a time', { amount_received: 10, payment_mode: 'cash', received_at: 'yesterday' }],
    ['an unknown argument', { amount_received: 10, payment_mode: 'cash', tip: 5 }],
  ];
  for (const [name, args] of BAD) {
    test(`record_payment refuses ${name}: 400 MU400, nothing written`, async () => {
      const debt0 = await debtOf(b.token, cid());
      const n0 = await countOf(b.token, 'payments');
      expectPgError(await rpc(b.token, 'record_payment', { customer_id: cid(), ...args }), 400, 'MU400');
      assert.equal(await debtOf(b.token, cid()), debt0);
      assert.equal(await countOf(b.token, 'payments'), n0);
    });
  }

  test('record_payment for an unknown customer, or naming another customer\'s invoice: 404', async () => {
    const n0 = await countOf(b.token, 'payments');
    const debt0 = await debtOf(b.token, b.customers.other.id);
    expectPgError(await rpc(b.token, 'record_payment', { customer_id: randomUuid(), amount_received: 10, payment_mode: 'cash' }), 404, 'MU404');
    expectPgError(await rpc(b.token, 'record_payment', {
      customer_id: b.customers.other.id, amount_received: 10, payment_mode: 'cash', invoice_id: inv[0].id,
    }), 404, 'MU404');
    assert.equal(await countOf(b.token, 'payments'), n0);
    assert.equal(await debtOf(b.token, b.customers.other.id), debt0);
  });
});

// ---- stock ---------------------------------------------------------------------

describe('stock', () => {
  let b;
  before(async () => { b = await business(); });

  test('adjust_stock moves current_stock by fractional deltas', async () => {
    const pid = b.products.rice.id;
    const s0 = await stockOf(b.token, pid);
    const a = await ok(rpc(b.token, 'adjust_stock', { product_id: pid, delta: 12.5, reason: 'purchase' }));
    assert.equal(milli(a.current_stock), s0 + 12500n);
    const c = await ok(rpc(b.token, 'adjust_stock', { product_id: pid, delta: -0.125, reason: 'spilt' }));
    assert.equal(milli(c.current_stock), s0 + 12375n);
    assert.equal(await stockOf(b.token, pid), s0 + 12375n);
  });

  const BAD = [
    ['delta 0', { delta: 0, reason: 'x' }, 400, 'MU400'],
    ['a delta with 4 decimals', { delta: 1.0005, reason: 'x' }, 400, 'MU400'],
    ['no reason', { delta: 1 }, 400, 'MU400'],
    ['no delta', { reason: 'x' }, 400, 'MU400'],
    ['stock below zero', { delta: -1000000, reason: 'x' }, 409, 'MU409'],
  ];
  for (const [name, args, status, code] of BAD) {
    test(`adjust_stock refuses ${name}: ${status} ${code}`, async () => {
      const pid = b.products.bottle.id;
      const s0 = await stockOf(b.token, pid);
      expectPgError(await rpc(b.token, 'adjust_stock', { product_id: pid, ...args }), status, code);
      assert.equal(await stockOf(b.token, pid), s0);
    });
  }

  test('adjust_stock of an unknown product: 404', async () => {
    expectPgError(await rpc(b.token, 'adjust_stock', { product_id: randomUuid(), delta: 1, reason: 'x' }), 404, 'MU404');
  });

  test('stock.low fires when stock crosses the threshold, not again while below', async () => {
    const lamp = b.products.lamp; // 8 in stock, threshold 5
    const cid = b.customers.local.id;
    const low = async () => (await events(b.token, `event_type=eq.stock.low&entity_id=eq.${lamp.id}`)).length;
    await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: lamp.id, quantity: 2 }] })); // 6
    assert.equal(await low(), 0);
    await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: lamp.id, quantity: 2 }] })); // 4
    assert.equal(await low(), 1, 'crossing 5 fires stock.low');
    const ev = (await events(b.token, `event_type=eq.stock.low&entity_id=eq.${lamp.id}`))[0];
    assert.equal(ev.entity_type, 'product');
    assert.equal(milli(ev.payload.current_stock), 4000n);
    await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: lamp.id, quantity: 1 }] })); // 3
    assert.equal(await low(), 1, 'already below: no second event');
    await ok(rpc(b.token, 'adjust_stock', { product_id: lamp.id, delta: 10, reason: 'purchase' })); // 13
    await ok(rpc(b.token, 'adjust_stock', { product_id: lamp.id, delta: -8, reason: 'breakage' })); // 5
    assert.equal(await low(), 2, 'crossing again fires again');
    assert.equal(await stockOf(b.token, lamp.id), 5000n);
  });

  test('current_stock is written only by the stock operations', async () => {
    const r = await rest('PATCH', `products?id=eq.${b.products.rice.id}`, { token: b.token, body: { current_stock: 1 } });
    expectPgError(r, 400, 'MU001');
  });
});

// ---- reports -------------------------------------------------------------------

/** The first of the names that obj has (the reports' field names). */
function field(obj, names) {
  const k = names.find((n) => obj && obj[n] !== undefined);
  assert.ok(k, `none of ${names.join(', ')} in ${JSON.stringify(obj).slice(0, 400)}`);
  return obj[k];
}
const listOf = (ans, names) => (Array.isArray(ans) ? ans : field(ans, names));

describe('reports', () => {
  let b;
  let x; // invoices of the local customer
  let y; // of the other customer
  before(async () => {
    b = await business({
      customers: {
        ...CUSTOMERS,
        paid: { full_name: 'Paid Up', phone_number: '+919876500003', state_code: '27' },
        credit: { full_name: 'In Credit', phone_number: '+919876500004', state_code: '27' },
      },
    });
    const inv = (customer, date, qty, extra = {}) => ok(rpc(b.token, 'create_invoice', {
      customer_id: b.customers[customer].id, invoice_date: date, items: [{ product_id: b.products.bottle.id, quantity: qty }], ...extra,
    }));
    x = [await inv('local', `${PY}-04-10`, 1), await inv('local', `${PY}-04-11`, 2)];
    y = [await inv('other', `${PY}-04-11`, 10), await inv('other', `${PY}-04-12`, 1)];
    await inv('local', `${PY}-04-11`, 5, { draft: true }); // drafts count nowhere
    const pz = await inv('paid', `${PY}-04-10`, 1);
    await ok(rpc(b.token, 'record_payment', { customer_id: b.customers.paid.id, amount_received: pz.total_amount, payment_mode: 'cash', received_at: `${PY}-04-10T12:00:00+05:30` }));
    await ok(rpc(b.token, 'record_payment', { customer_id: b.customers.credit.id, amount_received: 100, payment_mode: 'cash', received_at: `${PY}-04-11T12:00:00+05:30` }));
    await ok(rpc(b.token, 'record_payment', { customer_id: b.customers.local.id, amount_received: 50, payment_mode: 'upi', received_at: `${PY}-04-11T15:00:00+05:30` }));
    const c = await inv('local', `${PY}-04-12`, 1);
    await ok(rpc(b.token, 'cancel_invoice', { invoice_id: c.id, reason: 'duplicate' }));
  });

  test('customer_statement: opening 0, running balance, closing equals total_debt', async () => {
    const cid = b.customers.local.id;
    const st = await ok(rpc(b.token, 'customer_statement', { customer_id: cid }));
    const debt = await debtOf(b.token, cid);
    assert.equal(paise(field(st, ['opening_balance', 'opening'])), 0n);
    assert.equal(paise(field(st, ['closing_balance', 'closing'])), debt);
    const entries = field(st, ['entries', 'lines', 'transactions']);
    // two invoices, a payment, an invoice and its cancellation; never the draft
    assert.equal(entries.length, 5, JSON.stringify(entries));
    // The running balance moves by each entry's amount: the steps, in order
    // of magnitude, are the three invoices, the payment and the cancellation.
    let prev = 0n;
    const steps = [];
    for (const e of entries) {
      const bal = paise(field(e, ['balance', 'running_balance']));
      steps.push(bal - prev);
      prev = bal;
    }
    assert.equal(prev, debt, 'the last running balance is the closing balance');
    const c = (await rows('invoices', b.token, `select=total_amount&customer_id=eq.${cid}&status=eq.cancelled`))[0];
    const want = [paise(x[0].total_amount), paise(x[1].total_amount), -5000n, paise(c.total_amount), -paise(c.total_amount)];
    const key = (v) => (v < 0n ? -v : v) * 2n + (v < 0n ? 1n : 0n);
    const sorted = (list) => [...list].sort((p, q) => (key(p) < key(q) ? -1 : key(p) > key(q) ? 1 : 0));
    assert.deepEqual(sorted(steps), sorted(want), 'each entry moves the balance by its amount');
    assert.equal(debt, paise(x[0].total_amount) + paise(x[1].total_amount) - 5000n);
  });

  test('customer_statement from a later date opens with the balance carried forward', async () => {
    const cid = b.customers.local.id;
    const st = await ok(rpc(b.token, 'customer_statement', { customer_id: cid, from: `${PY}-04-11` }));
    assert.equal(paise(field(st, ['opening_balance', 'opening'])), paise(x[0].total_amount));
    assert.equal(paise(field(st, ['closing_balance', 'closing'])), await debtOf(b.token, cid));
    const early = await ok(rpc(b.token, 'customer_statement', { customer_id: cid, to: `${PY}-04-10` }));
    assert.equal(paise(field(early, ['closing_balance', 'closing'])), paise(x[0].total_amount));
  });

  test('customer_statement of an unknown customer: 404', async () => {
    expectPgError(await rpc(b.token, 'customer_statement', { customer_id: randomUuid() }), 404, 'MU404');
  });

  test('sales_summary adds up issued invoices and payments of the period, per day', async () => {
    const ans = await ok(rpc(b.token, 'sales_summary', { from: `${PY}-04-10`, to: `${PY}-04-11` }));
    const s = ans.totals ?? ans;
    // In the period: x0 and pz (10th), x1 and y0 (11th); not the draft, not the 12th.
    const invs = (await rows('invoices', b.token, `select=*&invoice_date=gte.${PY}-04-10&invoice_date=lte.${PY}-04-11&status=not.in.(draft,cancelled)`));
    assert.equal(invs.length, 4);
    const sum = (k) => invs.reduce((a, i) => a + paise(i[k]), 0n);
    assert.equal(Number(field(s, ['invoice_count', 'invoices', 'count'])), 4);
    assert.equal(paise(field(s, ['taxable_value', 'subtotal', 'taxable'])), sum('subtotal'));
    assert.equal(paise(field(s, ['cgst_amount', 'cgst'])), sum('cgst_amount'));
    assert.equal(paise(field(s, ['sgst_amount', 'sgst'])), sum('sgst_amount'));
    assert.equal(paise(field(s, ['igst_amount', 'igst'])), sum('igst_amount'));
    assert.ok(paise(field(s, ['igst_amount', 'igst'])) > 0n, 'y0 is inter-state');
    assert.equal(paise(field(s, ['total_amount', 'total'])), sum('total_amount'));
    const paid = paise((await one('invoices', b.token, `select=total_amount&customer_id=eq.${b.customers.paid.id}`)).total_amount) + 10000n + 5000n;
    assert.equal(paise(field(s, ['payments_received', 'payments', 'received'])), paid);
    const days = field(ans, ['days', 'per_day', 'by_day']);
    assert.equal(days.length, 2, JSON.stringify(days));
    const dayTotals = days.map((d) => paise(field(d, ['total_amount', 'total'])));
    assert.equal(dayTotals[0] + dayTotals[1], sum('total_amount'));
  });

  test('sales_summary needs from and to', async () => {
    expectPgError(await rpc(b.token, 'sales_summary', { from: `${PY}-04-10` }), 400, 'MU400');
    expectPgError(await rpc(b.token, 'sales_summary', { from: 'April', to: `${PY}-04-11` }), 400, 'MU400');
  });

  test('debtors: those who owe, largest first, with their oldest unpaid invoice date', async () => {
    const ans = await ok(rpc(b.token, 'debtors', {}));
    const list = listOf(ans, ['debtors', 'customers', 'rows']);
    const ids = list.map((d) => field(d, ['customer_id', 'id']));
    // other owes y0 + y1 (11 bottles), local x0 + x1 - 50 (3 bottles); paid and credit owe nothing.
    assert.deepEqual(ids, [b.customers.other.id, b.customers.local.id]);
    assert.equal(paise(field(list[0], ['total_debt', 'amount', 'balance'])), await debtOf(b.token, b.customers.other.id));
    assert.equal(paise(field(list[1], ['total_debt', 'amount', 'balance'])), await debtOf(b.token, b.customers.local.id));
    assert.equal(field(list[0], ['oldest_unpaid_invoice_date', 'oldest_invoice_date', 'oldest_unpaid']), `${PY}-04-11`);
    assert.equal(field(list[1], ['oldest_unpaid_invoice_date', 'oldest_invoice_date', 'oldest_unpaid']), `${PY}-04-10`);
  });
});

// ---- Idempotency-Key --------------------------------------------------------------

describe('Idempotency-Key', () => {
  let b;
  before(async () => { b = await business(); });

  test('record_payment: the same key and body replays the answer; the debt moves once', async () => {
    const cid = b.customers.local.id;
    const debt0 = await debtOf(b.token, cid);
    const body = { customer_id: cid, amount_received: 123.45, payment_mode: 'upi', reference: 'UTR-77' };
    const key = { 'Idempotency-Key': `pay-${randomUuid()}` };
    const first = await rpc(b.token, 'record_payment', body, key);
    assert.equal(first.status, 200, first.info);
    assert.notEqual(first.header('idempotent-replayed'), 'true');
    const again = await rpc(b.token, 'record_payment', body, key);
    assert.equal(again.status, 200, again.info);
    assert.equal(again.header('idempotent-replayed'), 'true');
    assert.deepEqual(again.json, first.json, 'the same answer');
    assert.equal(await debtOf(b.token, cid), debt0 - 12345n, 'the debt moved once');
    assert.equal(await countOf(b.token, 'payments', `customer_id=eq.${cid}`), 1);
    assert.equal((await events(b.token, 'event_type=eq.payment.received')).length, 1);

    // The same key with another body: 422, nothing done.
    const other = await rpc(b.token, 'record_payment', { ...body, amount_received: 200 }, key);
    expectPgError(other, 422, 'MU422');
    assert.equal(await debtOf(b.token, cid), debt0 - 12345n);
    assert.equal(await countOf(b.token, 'payments'), 1);
  });

  test('create_invoice: a replay gives the same invoice, issued once', async () => {
    const cid = b.customers.other.id;
    const pid = b.products.cement.id;
    const stock0 = await stockOf(b.token, pid);
    const body = { customer_id: cid, items: [{ product_id: pid, quantity: 2 }] };
    const key = { 'Idempotency-Key': `inv-${randomUuid()}` };
    const a = await rpc(b.token, 'create_invoice', body, key);
    assert.equal(a.status, 200, a.info);
    const c = await rpc(b.token, 'create_invoice', body, key);
    assert.equal(c.status, 200, c.info);
    assert.equal(c.header('idempotent-replayed'), 'true');
    assert.equal(c.json.id, a.json.id);
    assert.equal(c.json.invoice_number, a.json.invoice_number);
    assert.equal(await countOf(b.token, 'invoices'), 1);
    assert.equal(await stockOf(b.token, pid), stock0 - 2000n);
    assert.equal(await debtOf(b.token, cid), paise(a.json.total_amount));
    expectPgError(await rpc(b.token, 'create_invoice', { ...body, notes: 'changed' }, key), 422, 'MU422');
    assert.equal(await countOf(b.token, 'invoices'), 1);
  });

  test('keys belong to one business: another business may use the same key', async () => {
    const other = await business();
    const key = { 'Idempotency-Key': `shared-${randomUuid()}` };
    const p1 = await ok(rpc(b.token, 'record_payment', { customer_id: b.customers.local.id, amount_received: 1, payment_mode: 'cash' }, key));
    const r = await rpc(other.token, 'record_payment', { customer_id: other.customers.local.id, amount_received: 1, payment_mode: 'cash' }, key);
    assert.equal(r.status, 200, r.info);
    assert.notEqual(r.header('idempotent-replayed'), 'true');
    assert.notEqual(r.json.id, p1.id);
    assert.equal(await debtOf(other.token, other.customers.local.id), -100n);
  });

  test('a refusal is the answer to its key: replayed, and the key stays bound to its body', async () => {
    const key = { 'Idempotency-Key': `refused-${randomUuid()}` };
    const lamp = b.products.lamp; // 8 in stock
    const body = { customer_id: b.customers.local.id, items: [{ product_id: lamp.id, quantity: 9 }] };
    expectPgError(await rpc(b.token, 'create_invoice', body, key), 409, 'MU409');
    await ok(rpc(b.token, 'adjust_stock', { product_id: lamp.id, delta: 1, reason: 'found one' }));
    // The same request with the same key: the first answer again, nothing done.
    const again = await rpc(b.token, 'create_invoice', body, key);
    expectPgError(again, 409, 'MU409');
    assert.equal(again.header('idempotent-replayed'), 'true');
    assert.equal(await stockOf(b.token, lamp.id), 9000n); // thousandths
    // Another body with that key is refused; a new key goes through.
    expectPgError(await rpc(b.token, 'create_invoice', { ...body, notes: 'other' }, key), 422, 'MU422');
    const fresh = await rpc(b.token, 'create_invoice', body, { 'Idempotency-Key': `fresh-${randomUuid()}` });
    assert.equal(fresh.status, 200, fresh.info);
    assert.equal(await stockOf(b.token, lamp.id), 0n);
  });

  test('the same arguments spelled with other whitespace replay, not mismatch', async () => {
    const key = `ws-${randomUuid()}`;
    const args = { customer_id: b.customers.local.id, amount_received: 1, payment_mode: 'cash' };
    const first = await rpc(b.token, 'record_payment', args, { 'Idempotency-Key': key });
    assert.equal(first.status, 200, first.info);
    const r = await rest('POST', 'rpc/record_payment', {
      token: b.token, headers: { 'Idempotency-Key': key }, rawBody: JSON.stringify(args, null, 4),
    });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.header('idempotent-replayed'), 'true');
  });

  test('a key longer than 255 characters: 400', async () => {
    const r = await rpc(b.token, 'record_payment',
      { customer_id: b.customers.local.id, amount_received: 1, payment_mode: 'cash' }, { 'Idempotency-Key': 'k'.repeat(256) });
    expectPgError(r, 400, 'MU400');
  });
});

// ---- events ----------------------------------------------------------------------

describe('events outbox', () => {
  test('every kind of event is written and readable through /rest/v1/events', async () => {
    const b = await business();
    const cid = b.customers.local.id;
    const lamp = b.products.lamp;
    const i1 = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: lamp.id, quantity: 4 }] }));
    const p = await ok(rpc(b.token, 'record_payment', { customer_id: cid, amount_received: i1.total_amount, payment_mode: 'cash' }));
    const i2 = await ok(rpc(b.token, 'create_invoice', { customer_id: cid, items: [{ product_id: b.products.rice.id, quantity: 1 }] }));
    await ok(rpc(b.token, 'cancel_invoice', { invoice_id: i2.id, reason: 'test' }));

    const evs = await events(b.token);
    const has = (type, id) => evs.some((e) => e.event_type === type && e.entity_id === id);
    for (const [k, c] of Object.entries(b.customers)) assert.ok(has('customer.created', c.id), `customer.created ${k}`);
    for (const [k, pr] of Object.entries(b.products)) assert.ok(has('product.created', pr.id), `product.created ${k}`);
    for (const [type, id] of [
      ['invoice.created', i1.id], ['invoice.issued', i1.id], ['payment.received', p.id], ['invoice.paid', i1.id],
      ['invoice.created', i2.id], ['invoice.issued', i2.id], ['invoice.cancelled', i2.id], ['stock.low', lamp.id],
    ]) assert.ok(has(type, id), `${type} for ${id} in ${JSON.stringify(evs.map((e) => [e.event_type, e.entity_id]))}`);
    const issued = evs.find((e) => e.event_type === 'invoice.issued' && e.entity_id === i1.id);
    assert.equal(issued.entity_type, 'invoice');
    assert.equal(typeof issued.payload, 'object', 'the snapshot is JSON');
    assert.equal(issued.payload.invoice_number, i1.invoice_number);
    assert.equal(paise(issued.payload.total_amount), paise(i1.total_amount));
    const created = evs.find((e) => e.event_type === 'customer.created' && e.entity_id === cid);
    assert.equal(created.payload.full_name, CUSTOMERS.local.full_name);
    // In the order they happened.
    // In the order they happened (created and issued share one transaction,
    // so only the cancellation is surely later).
    const order = evs.filter((e) => e.entity_id === i2.id).map((e) => e.event_type);
    assert.deepEqual([...order].sort(), ['invoice.cancelled', 'invoice.created', 'invoice.issued']);
    assert.equal(order[2], 'invoice.cancelled');
  });

  test('a refused operation writes no event', async () => {
    const b = await business();
    const n0 = (await events(b.token)).length;
    expectPgError(await rpc(b.token, 'create_invoice', {
      customer_id: b.customers.local.id, items: [{ product_id: b.products.lamp.id, quantity: 100 }],
    }), 409, 'MU409');
    assert.equal((await events(b.token)).length, n0);
  });

  test('events cannot be written through REST', async () => {
    const b = await business({ products: {}, customers: {} });
    const r = await rest('POST', 'events', { token: b.token, body: { event_type: 'invoice.paid', entity_type: 'invoice', entity_id: randomUuid() } });
    expectPgError(r, 405);
  });
});

// ---- tenancy and REST ------------------------------------------------------------------

describe('tenancy and REST', () => {
  let A;
  let B;
  let aInv;
  before(async () => {
    A = await business();
    B = await business();
    aInv = await ok(rpc(A.token, 'create_invoice', { customer_id: A.customers.local.id, items: [{ product_id: A.products.bottle.id, quantity: 1 }] }));
  });

  test('B cannot invoice A\'s customer or A\'s product (404), nor touch A\'s invoice', async () => {
    const debtA = await debtOf(A.token, A.customers.local.id);
    const stockA = await stockOf(A.token, A.products.bottle.id);
    expectPgError(await rpc(B.token, 'create_invoice', {
      customer_id: A.customers.local.id, items: [{ product_id: B.products.bottle.id, quantity: 1 }],
    }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'create_invoice', {
      customer_id: B.customers.local.id, items: [{ product_id: A.products.bottle.id, quantity: 1 }],
    }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'record_payment', { customer_id: A.customers.local.id, amount_received: 10, payment_mode: 'cash' }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'record_payment', {
      customer_id: B.customers.local.id, amount_received: 10, payment_mode: 'cash', invoice_id: aInv.id,
    }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'cancel_invoice', { invoice_id: aInv.id, reason: 'x' }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'issue_invoice', { invoice_id: aInv.id }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'adjust_stock', { product_id: A.products.bottle.id, delta: -1, reason: 'x' }), 404, 'MU404');
    expectPgError(await rpc(B.token, 'customer_statement', { customer_id: A.customers.local.id }), 404, 'MU404');
    assert.equal(await debtOf(A.token, A.customers.local.id), debtA);
    assert.equal(await stockOf(A.token, A.products.bottle.id), stockA);
    assert.equal((await one('invoices', A.token, `select=status&id=eq.${aInv.id}`)).status, 'pending');
    assert.equal(await countOf(B.token, 'invoices'), 0);
    assert.equal(await countOf(B.token, 'payments'), 0);
  });

  test('B reads none of A\'s invoices, lines, payments or events', async () => {
    await ok(rpc(A.token, 'record_payment', { customer_id: A.customers.local.id, amount_received: 1, payment_mode: 'cash' }));
    assert.deepEqual(await rows('invoices', B.token, `select=id&id=eq.${aInv.id}`), []);
    assert.deepEqual(await rows('invoice_items', B.token, `select=id&invoice_id=eq.${aInv.id}`), []);
    assert.deepEqual(await rows('payments', B.token, 'select=id'), []);
    assert.deepEqual(await rows('events', B.token, `select=id&entity_id=eq.${aInv.id}`), []);
    const debtors = listOf(await ok(rpc(B.token, 'debtors', {})), ['debtors', 'customers', 'rows']);
    assert.deepEqual(debtors, []);
  });

  test('GET invoices?select=*,invoice_items(*) embeds the lines', async () => {
    const list = await rows('invoices', A.token, `select=*,invoice_items(*)&id=eq.${aInv.id}`);
    assert.equal(list.length, 1);
    assert.equal(list[0].invoice_items.length, 1);
    assert.equal(list[0].invoice_items[0].product_id, A.products.bottle.id);
    assert.equal(list[0].invoice_items[0].hsn_code, PRODUCTS.bottle.hsn_code);
    const withCustomer = await one('invoices', A.token, `select=invoice_number,customers(full_name)&id=eq.${aInv.id}`);
    assert.deepEqual(withCustomer, { invoice_number: aInv.invoice_number, customers: { full_name: CUSTOMERS.local.full_name } });
  });

  const WRITES = [
    ['POST', 'invoices', (c) => ({ customer_id: c, total_amount: 1 })],
    ['PATCH', 'invoices?id=eq.X', () => ({ status: 'paid' })],
    ['DELETE', 'invoices?id=eq.X', () => undefined],
    ['POST', 'invoice_items', () => ({ quantity: 1 })],
    ['POST', 'payments', (c) => ({ customer_id: c, amount_received: 100, payment_mode: 'cash' })],
    ['PATCH', 'payments?customer_id=eq.C', () => ({ amount_received: 1 })],
    ['DELETE', 'payments?customer_id=eq.C', () => undefined],
  ];
  for (const [method, path, body] of WRITES) {
    test(`${method} /rest/v1/${path.split('?')[0]} is refused: 405`, async () => {
      const cid = A.customers.local.id;
      const p = path.replace('X', aInv.id).replace('C', cid);
      const snapshot = async () => ({
        invoices: await rows('invoices', A.token, 'select=*&order=id'),
        items: await rows('invoice_items', A.token, 'select=*&order=id'),
        payments: await rows('payments', A.token, 'select=*&order=id'),
      });
      const before = await snapshot();
      const r = await rest(method, p, { token: A.token, body: body(cid) });
      expectPgError(r, 405, 'MU002');
      assert.deepEqual(await snapshot(), before, 'nothing changed');
    });
  }

  test('total_debt is written only by the operations', async () => {
    const r = await rest('PATCH', `customers?id=eq.${A.customers.local.id}`, { token: A.token, body: { total_debt: 0 } });
    expectPgError(r, 400, 'MU001');
    assert.equal(await debtOf(A.token, A.customers.local.id), paise(aInv.total_amount) - 100n);
  });
});

// ---- limits a review found missing --------------------------------------------

describe('values the books refuse on both databases', () => {
  let b;
  before(async () => {
    b = await business();
  });

  test('amounts and quantities beyond numeric(14,s): 400, nothing written', async () => {
    const cid = b.customers.local.id;
    const debt = await debtOf(b.token, cid);
    expectPgError(await rpc(b.token, 'record_payment', { customer_id: cid, amount_received: '90000000000000000', payment_mode: 'cash' }), 400, 'MU400');
    expectPgError(await rpc(b.token, 'adjust_stock', { product_id: b.products.rice.id, delta: '9223372036854775.807', reason: 'x' }), 400, 'MU400');
    expectPgError(await rpc(b.token, 'adjust_stock', { product_id: b.products.rice.id, delta: '-9223372036854775.808', reason: 'x' }), 400, 'MU400');
    assert.equal(await debtOf(b.token, cid), debt);
  });

  test('a payment dated in the future: 400', async () => {
    expectPgError(await rpc(b.token, 'record_payment', {
      customer_id: b.customers.local.id, amount_received: 1, payment_mode: 'cash', received_at: '9999-12-31T23:59:59+00:00',
    }), 400, 'MU400');
  });

  test('a state_code against the GSTIN is refused on PATCH too', async () => {
    const c = await rest('POST', 'customers', { token: b.token, headers: { Prefer: 'return=representation' },
      body: { full_name: 'Registered Buyer', gstin: '29ABCDE1234F1ZW' } });
    assert.equal(c.status, 201, c.info);
    assert.equal(c.json[0].state_code, '29', 'the state comes from the GSTIN');
    const p = await rest('PATCH', `customers?id=eq.${c.json[0].id}`, { token: b.token, body: { state_code: '27' } });
    expectPgError(p, 400, '23514');
    const back = await rows('customers', b.token, `select=state_code&id=eq.${c.json[0].id}`);
    assert.equal(back[0].state_code, '29');
  });

  test('a negative opening stock: 400', async () => {
    const r = await rest('POST', 'products', { token: b.token, body: { name: 'Oops', current_stock: -5 } });
    expectPgError(r, 400, '23514');
  });

  test('a draft issued later is dated the day it is issued', async () => {
    const d = await ok(rpc(b.token, 'create_invoice', {
      customer_id: b.customers.local.id, invoice_date: `${PY}-04-05`, draft: true,
      items: [{ product_id: b.products.rice.id, quantity: 1 }],
    }));
    const issued = await ok(rpc(b.token, 'issue_invoice', { invoice_id: d.id }));
    assert.equal(issued.invoice_date, todayIst());
    assert.match(issued.invoice_number, new RegExp(`^INV/${fyLabel(todayIst())}/\\d{4}$`));
  });
});
