// rest_crud.test.mjs - /rest/v1 as a PostgREST subset: insert (one, bulk,
// return=minimal|representation), select, every filter operator, not. and
// or=(), order with nulls placement, limit/offset, Range and count=exact,
// HEAD, the single-object Accept, PATCH and DELETE with filters, refusals
// (no filter, derived columns, tables kept by business operations), exact
// money, and one level of embedding both ways.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, test } from 'node:test';

import {
  UUID_RE, errorText, expectPgError, numberTextRe, randomUuid, rest, rows, signup, suffix,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const OBJ = { Accept: 'application/vnd.pgrst.object+json' };

// ---------------------------------------------------------------------------
describe('insert', () => {
  let u;
  before(async () => { u = await signup(); });

  test('POST one object, return=representation -> 201 and the row', async () => {
    const r = await rest('POST', 'customers', {
      token: u.token, headers: REP,
      body: { full_name: 'Asha Verma', phone_number: '+919800000001', email: 'asha@example.com', notes: 'first' },
    });
    assert.equal(r.status, 201, r.info);
    assert.ok(Array.isArray(r.json) && r.json.length === 1, r.info);
    const c = r.json[0];
    assert.match(c.id, UUID_RE, r.info);
    assert.equal(c.id[14], '7', `ids are UUIDv7 (DESIGN.md): ${c.id}`);
    assert.equal(c.profile_id, u.userId, r.info);
    assert.equal(c.full_name, 'Asha Verma');
    assert.equal(c.phone_number, '+919800000001');
    assert.equal(c.notes, 'first');
    assert.equal(c.gstin, null);
    assert.equal(c.total_debt, 0);
    assert.match(r.text, numberTextRe('total_debt', '0.00'), `money has two decimals: ${r.info}`);
    assert.ok(!Number.isNaN(Date.parse(c.created_at)), `created_at: ${c.created_at}`);
  });

  test('POST an array (bulk) -> 201 and every row', async () => {
    const body = ['Bulk One', 'Bulk Two', 'Bulk Three', 'Bulk Four'].map((full_name) => ({ full_name }));
    const r = await rest('POST', 'customers', { token: u.token, headers: REP, body });
    assert.equal(r.status, 201, r.info);
    assert.equal(r.json.length, 4, r.info);
    assert.deepEqual(r.json.map((c) => c.full_name).sort(), body.map((b) => b.full_name).sort());
    assert.equal(new Set(r.json.map((c) => c.id)).size, 4, 'ids are distinct');
    const all = await rows('customers', u.token, 'select=full_name&full_name=like.Bulk*');
    assert.equal(all.length, 4);
  });

  test('return=minimal -> 201 with an empty body (and so without Prefer)', async () => {
    for (const headers of [{ Prefer: 'return=minimal' }, {}]) {
      const name = `Minimal ${suffix()}`;
      const r = await rest('POST', 'customers', { token: u.token, headers, body: { full_name: name } });
      assert.equal(r.status, 201, r.info);
      assert.equal(r.text, '', r.info);
      const got = await rows('customers', u.token, `select=full_name&full_name=eq.${encodeURIComponent(name)}`);
      assert.equal(got.length, 1, `row ${name} was not stored`);
    }
  });

  test('select= on the representation limits the columns', async () => {
    const r = await rest('POST', 'customers?select=id,full_name', {
      token: u.token, headers: REP, body: { full_name: 'Selected' },
    });
    assert.equal(r.status, 201, r.info);
    assert.deepEqual(Object.keys(r.json[0]).sort(), ['full_name', 'id'], r.info);
  });

  test('types round-trip: boolean, null, jsonb, text', async () => {
    const nodes = [{ id: 'n1', type: 'trigger', params: { event: 'invoice.created' }, position: { x: 3, y: 1.5 } }];
    const r = await rest('POST', 'workflow_blueprints', {
      token: u.token, headers: REP,
      body: { name: 'Remind', description: null, nodes, edges: [], is_active: true, trigger_event: 'invoice.created' },
    });
    assert.equal(r.status, 201, r.info);
    const w = r.json[0];
    assert.deepEqual(w.nodes, nodes, r.info);
    assert.deepEqual(w.edges, [], r.info);
    assert.equal(w.is_active, true, r.info);
    assert.equal(w.description, null, r.info);
    const back = await rows('workflow_blueprints', u.token, `select=nodes,is_active&id=eq.${w.id}`);
    assert.deepEqual(back, [{ nodes, is_active: true }]);
  });
});

// ---------------------------------------------------------------------------
describe('money and stock', () => {
  let u;
  before(async () => { u = await signup(); });

  // [what is sent (JSON text), what must come back (JSON text)]
  const prices = [
    ['1234.50', '1234.50'],
    ['10.10', '10.10'],
    ['0.30', '0.30'],
    ['19.99', '19.99'],
    ['0.01', '0.01'],
    ['100', '100.00'],
    ['999999999999.99', '999999999999.99'],
    ['"55.25"', '55.25'],
  ];
  for (const [sent, back] of prices) {
    test(`base_price ${sent} comes back exactly as ${back}`, async () => {
      const raw = `{"name":"Price ${suffix()}","base_price":${sent}}`;
      const r = await rest('POST', 'products?select=id,base_price', { token: u.token, headers: REP, rawBody: raw });
      assert.equal(r.status, 201, r.info);
      assert.equal(r.json[0].base_price, Number(back), r.info);
      assert.match(r.text, numberTextRe('base_price', back), r.info);
      const g = await rest('GET', `products?select=base_price&id=eq.${r.json[0].id}`, { token: u.token });
      assert.match(g.text, numberTextRe('base_price', back), g.info);
      // And the value is found by an exact filter.
      const f = await rest('GET', `products?select=id&id=eq.${r.json[0].id}&base_price=eq.${back}`, { token: u.token });
      assert.equal(f.status, 200, f.info);
      assert.equal(f.json.length, 1, `filter base_price=eq.${back} misses the row: ${f.info}`);
    });
  }

  test('PATCH base_price keeps two decimals exactly', async () => {
    const r = await rest('POST', 'products', { token: u.token, headers: REP, body: { name: 'Patchy', base_price: 1 } });
    assert.equal(r.status, 201, r.info);
    const p = await rest('PATCH', `products?id=eq.${r.json[0].id}`, {
      token: u.token, headers: REP, rawBody: '{"base_price":10.20}',
    });
    assert.equal(p.status, 200, p.info);
    assert.match(p.text, numberTextRe('base_price', '10.20'), p.info);
  });

  let product;
  test('a product is created with its opening current_stock', async () => {
    const r = await rest('POST', 'products', {
      token: u.token, headers: REP, body: { name: 'Basmati Rice', unit: 'kg', base_price: 85.5, current_stock: 12.5 },
    });
    assert.equal(r.status, 201, r.info);
    product = r.json[0];
    assert.equal(product.current_stock, 12.5, r.info);
    const g = await rows('products', u.token, `select=current_stock&id=eq.${product.id}`);
    assert.deepEqual(g, [{ current_stock: 12.5 }]);
  });

  test('PATCH current_stock -> 400 MU001 naming adjust_stock; stock unchanged', async () => {
    assert.ok(product, 'needs the product of the previous test');
    const r = await rest('PATCH', `products?id=eq.${product.id}`, { token: u.token, body: { current_stock: 99 } });
    expectPgError(r, 400, 'MU001');
    assert.match(errorText(r), /adjust_stock/, r.info);
    const g = await rows('products', u.token, `select=current_stock&id=eq.${product.id}`);
    assert.deepEqual(g, [{ current_stock: 12.5 }]);
  });

  test('PATCH total_debt on customers -> 400 MU001; debt unchanged', async () => {
    const c = await rest('POST', 'customers', { token: u.token, headers: REP, body: { full_name: 'Debtor' } });
    assert.equal(c.status, 201, c.info);
    const id = c.json[0].id;
    const r = await rest('PATCH', `customers?id=eq.${id}`, { token: u.token, body: { total_debt: 500 } });
    expectPgError(r, 400, 'MU001');
    const g = await rows('customers', u.token, `select=total_debt&id=eq.${id}`);
    assert.deepEqual(g, [{ total_debt: 0 }]);
  });

  test('POST customers with total_debt does not set a debt', async () => {
    const name = `Sneaky ${suffix()}`;
    const r = await rest('POST', 'customers', { token: u.token, headers: REP, body: { full_name: name, total_debt: 500 } });
    if (r.status === 201) {
      assert.equal(r.json[0].total_debt, 0, `total_debt was written: ${r.info}`);
    } else {
      expectPgError(r, 400, 'MU001');
      assert.deepEqual(await rows('customers', u.token, `full_name=eq.${encodeURIComponent(name)}`), []);
    }
  });

  // Tables whose invariants the business operations keep.
  // [table, a body to insert, a body to patch with]
  const kept = [
    ['invoices', { customer_id: randomUuid(), invoice_date: '2024-04-01', total_amount: 100 }, { notes: 'x' }],
    ['invoice_items', { invoice_id: randomUuid(), quantity: 1, unit_price: 10 }, { description: 'x' }],
    ['payments', { customer_id: randomUuid(), amount_received: 100, payment_mode: 'cash' }, { notes: 'x' }],
  ];
  for (const [table, body, patch] of kept) {
    test(`POST ${table} -> 405 MU002 naming the rpc operation`, async () => {
      const r = await rest('POST', table, { token: u.token, body });
      expectPgError(r, 405, 'MU002');
      assert.match(errorText(r), /rpc/i, `the error should name the /rpc operation: ${r.info}`);
      assert.deepEqual(await rows(table, u.token, 'select=id'), []);
    });
    test(`PATCH and DELETE ${table} -> 405 MU002`, async () => {
      const p = await rest('PATCH', `${table}?id=eq.${randomUuid()}`, { token: u.token, body: patch });
      expectPgError(p, 405, 'MU002');
      const d = await rest('DELETE', `${table}?id=eq.${randomUuid()}`, { token: u.token });
      expectPgError(d, 405, 'MU002');
    });
    test(`GET ${table} is allowed`, async () => {
      const r = await rest('GET', `${table}?select=*`, { token: u.token });
      assert.equal(r.status, 200, r.info);
      assert.deepEqual(r.json, [], r.info);
    });
  }
});

// ---------------------------------------------------------------------------
// Five products of a user of their own, so every filter has a known answer.
const PRODUCTS = [
  { sku: 'A-1', name: 'Alpha Rice', base_price: 10.1, gst_rate: 5, is_active: true, hsn_code: '1006', low_stock_threshold: null, unit: 'kg' },
  { sku: 'B-2', name: 'Beta Oil', base_price: 120, gst_rate: 12, is_active: true, hsn_code: '1512', low_stock_threshold: 5, unit: 'l' },
  { sku: 'C-3', name: 'gamma soap', base_price: 35.5, gst_rate: 18, is_active: false, hsn_code: null, low_stock_threshold: 2, unit: 'pcs' },
  { sku: 'D-4', name: 'Delta Tea', base_price: 1234.5, gst_rate: 5, is_active: true, hsn_code: '0902', low_stock_threshold: null, unit: 'kg' },
  { sku: 'E-5', name: 'epsilon salt', base_price: 0.3, gst_rate: 0, is_active: true, hsn_code: null, low_stock_threshold: 10, unit: 'kg' },
];

describe('read: select, filters, order, paging, counts', () => {
  let u;
  before(async () => {
    u = await signup();
    const r = await rest('POST', 'products', { token: u.token, body: PRODUCTS });
    assert.equal(r.status, 201, r.info);
  });
  const skus = async (query) => {
    const r = await rest('GET', `products?select=sku&${query}`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.ok(Array.isArray(r.json), r.info);
    return { got: r.json.map((p) => p.sku), r };
  };

  // [query (order=sku.asc is added unless the query orders), expected skus]
  const filters = [
    ['base_price=eq.120', ['B-2']],
    ['base_price=eq.1234.50', ['D-4']],
    ['base_price=eq.10.1', ['A-1']],
    ['sku=eq.C-3', ['C-3']],
    ['sku=neq.A-1', ['B-2', 'C-3', 'D-4', 'E-5']],
    ['base_price=gt.35.50', ['B-2', 'D-4']],
    ['base_price=gte.35.50', ['B-2', 'C-3', 'D-4']],
    ['base_price=lt.35.5', ['A-1', 'E-5']],
    ['base_price=lte.10.10', ['A-1', 'E-5']],
    ['base_price=gt.10&base_price=lt.200', ['A-1', 'B-2', 'C-3']],
    ['gst_rate=gte.12', ['B-2', 'C-3']],
    ['low_stock_threshold=gt.4', ['B-2', 'E-5']],
    ['name=like.*ta*', ['B-2', 'D-4']],
    ['name=like.g*', ['C-3']],
    ['name=like.G*', []],
    ['name=ilike.G*', ['C-3']],
    ['name=ilike.*TEA', ['D-4']],
    ['name=ilike.*rice*', ['A-1']],
    ['name=eq.Delta%20Tea', ['D-4']],
    ['sku=in.(A-1,C-3)', ['A-1', 'C-3']],
    ['sku=in.("B-2","E-5")', ['B-2', 'E-5']],
    ['sku=in.()', []],
    ['hsn_code=is.null', ['C-3', 'E-5']],
    ['hsn_code=not.is.null', ['A-1', 'B-2', 'D-4']],
    ['is_active=is.false', ['C-3']],
    ['is_active=is.true', ['A-1', 'B-2', 'D-4', 'E-5']],
    ['is_active=eq.false', ['C-3']],
    ['sku=not.in.(A-1,B-2)', ['C-3', 'D-4', 'E-5']],
    ['base_price=not.gt.100', ['A-1', 'C-3', 'E-5']],
    ['name=not.ilike.*a*', []],
    ['sku=not.eq.E-5&is_active=is.true', ['A-1', 'B-2', 'D-4']],
    ['gst_rate=eq.5&is_active=is.true', ['A-1', 'D-4']],
    ['or=(sku.eq.A-1,base_price.gt.1000)', ['A-1', 'D-4']],
    ['or=(hsn_code.is.null,name.ilike.*rice*)', ['A-1', 'C-3', 'E-5']],
    ['or=(sku.in.(A-1,B-2),gst_rate.eq.18)', ['A-1', 'B-2', 'C-3']],
    ['or=(base_price.lt.1,base_price.gt.1000)&is_active=is.true', ['D-4', 'E-5']],
    ['not.or=(sku.eq.A-1,sku.eq.B-2)', ['C-3', 'D-4', 'E-5']],
    ['or=(sku.eq.A-1,and(gst_rate.eq.5,base_price.gt.100))', ['A-1', 'D-4']],
    ['sku=eq.nothing', []],
    // Bound values: this is only text, it matches nothing.
    [`sku=eq.${encodeURIComponent("x' OR '1'='1")}`, []],
  ];
  for (const [query, want] of filters) {
    test(`filter ${query}`, async () => {
      const { got, r } = await skus(`${query}&order=sku.asc`);
      assert.deepEqual(got, want, r.info);
    });
  }

  const orders = [
    ['order=base_price.desc', ['D-4', 'B-2', 'C-3', 'A-1', 'E-5']],
    ['order=base_price.asc', ['E-5', 'A-1', 'C-3', 'B-2', 'D-4']],
    ['order=base_price', ['E-5', 'A-1', 'C-3', 'B-2', 'D-4']],
    ['order=gst_rate.desc,sku.desc', ['C-3', 'B-2', 'D-4', 'A-1', 'E-5']],
    ['order=low_stock_threshold.asc.nullsfirst,sku.asc', ['A-1', 'D-4', 'C-3', 'B-2', 'E-5']],
    ['order=low_stock_threshold.asc.nullslast,sku.asc', ['C-3', 'B-2', 'E-5', 'A-1', 'D-4']],
    ['order=low_stock_threshold.desc.nullslast,sku.asc', ['E-5', 'B-2', 'C-3', 'A-1', 'D-4']],
    ['order=low_stock_threshold.desc.nullsfirst,sku.asc', ['A-1', 'D-4', 'E-5', 'B-2', 'C-3']],
    // PostgreSQL's defaults: NULLS LAST ascending, NULLS FIRST descending.
    ['order=low_stock_threshold.asc,sku.asc', ['C-3', 'B-2', 'E-5', 'A-1', 'D-4']],
    ['order=low_stock_threshold.desc,sku.asc', ['A-1', 'D-4', 'E-5', 'B-2', 'C-3']],
    ['order=sku.asc&limit=2', ['A-1', 'B-2']],
    ['order=sku.asc&limit=2&offset=2', ['C-3', 'D-4']],
    ['order=sku.asc&offset=4', ['E-5']],
    ['order=sku.desc&limit=1', ['E-5']],
    ['order=sku.asc&limit=0', []],
    ['order=sku.asc&offset=10', []],
  ];
  for (const [query, want] of orders) {
    test(`${query}`, async () => {
      const { got, r } = await skus(query);
      assert.deepEqual(got, want, r.info);
    });
  }

  test('select= columns: exactly those keys', async () => {
    const r = await rest('GET', 'products?select=sku,base_price,is_active&sku=eq.B-2', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [{ sku: 'B-2', base_price: 120, is_active: true }]);
    assert.match(r.text, numberTextRe('base_price', '120.00'), r.info);
  });

  test('select=* gives every column', async () => {
    const r = await rest('GET', 'products?select=*&sku=eq.A-1', { token: u.token });
    assert.equal(r.status, 200, r.info);
    const p = r.json[0];
    for (const k of ['id', 'profile_id', 'name', 'sku', 'hsn_code', 'unit', 'gst_rate', 'base_price',
      'current_stock', 'low_stock_threshold', 'is_active', 'created_at', 'updated_at']) {
      assert.ok(k in p, `select=* lacks ${k}: ${r.info}`);
    }
    assert.equal(p.profile_id, u.userId);
    assert.equal(p.current_stock, 0);
    assert.equal(p.low_stock_threshold, null);
  });

  test('no select= means *', async () => {
    const r = await rest('GET', 'products?sku=eq.E-5', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.length, 1, r.info);
    assert.equal(r.json[0].name, 'epsilon salt');
    assert.equal(r.json[0].unit, 'kg');
  });

  test('Range: 0-1 -> two rows and Content-Range 0-1/…', async () => {
    const r = await rest('GET', 'products?select=sku&order=sku.asc', { token: u.token, headers: { Range: '0-1' } });
    assert.ok(r.status === 200 || r.status === 206, r.info);
    assert.deepEqual(r.json.map((p) => p.sku), ['A-1', 'B-2'], r.info);
    assert.match(r.header('content-range') || '', /^0-1\//, `Content-Range: ${r.header('content-range')}`);
  });

  test('Range with Range-Unit: items, 2-3', async () => {
    const r = await rest('GET', 'products?select=sku&order=sku.asc', {
      token: u.token, headers: { Range: '2-3', 'Range-Unit': 'items' },
    });
    assert.ok(r.status === 200 || r.status === 206, r.info);
    assert.deepEqual(r.json.map((p) => p.sku), ['C-3', 'D-4'], r.info);
    assert.match(r.header('content-range') || '', /^2-3\//);
  });

  // [query, Range header or null, expected Content-Range]
  const counts = [
    ['order=sku.asc', null, '0-4/5'],
    ['order=sku.asc&limit=2', null, '0-1/5'],
    ['order=sku.asc', '0-1', '0-1/5'],
    ['order=sku.asc&limit=2&offset=2', null, '2-3/5'],
    ['is_active=is.true&limit=1', null, '0-0/4'],
    ['sku=eq.nothing', null, '*/0'],
  ];
  for (const [query, range, want] of counts) {
    test(`Prefer: count=exact ${query}${range ? ` Range ${range}` : ''} -> Content-Range ${want}`, async () => {
      const headers = { Prefer: 'count=exact' };
      if (range) headers.Range = range;
      const r = await rest('GET', `products?select=sku&${query}`, { token: u.token, headers });
      assert.ok(r.status === 200 || r.status === 206, r.info);
      assert.equal(r.header('content-range'), want, r.info);
    });
  }

  test('HEAD -> 200, no body, Content-Range with count', async () => {
    const r = await rest('HEAD', 'products?select=*', { token: u.token, headers: { Prefer: 'count=exact' } });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.text, '', r.info);
    assert.equal(r.header('content-range'), '0-4/5', r.info);
  });

  test('Accept object+json: one row -> 200 with an object', async () => {
    const r = await rest('GET', 'products?select=sku,name&sku=eq.A-1', { token: u.token, headers: OBJ });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, { sku: 'A-1', name: 'Alpha Rice' }, r.info);
  });

  test('Accept object+json: no row or several rows -> 406 PGRST116', async () => {
    for (const q of ['sku=eq.nothing', 'is_active=is.true', '']) {
      const r = await rest('GET', `products?select=sku&${q}`, { token: u.token, headers: OBJ });
      expectPgError(r, 406, 'PGRST116');
    }
  });
});

// ---------------------------------------------------------------------------
describe('update and delete', () => {
  let u;
  let ids;
  before(async () => {
    u = await signup();
    const r = await rest('POST', 'customers', {
      token: u.token, headers: REP,
      body: ['Upd One', 'Upd Two', 'Upd Three', 'Keep Four', 'Keep Five'].map((full_name) => ({ full_name })),
    });
    assert.equal(r.status, 201, r.info);
    ids = Object.fromEntries(r.json.map((c) => [c.full_name, c.id]));
  });

  test('PATCH with a filter -> 204, and the change is stored', async () => {
    const r = await rest('PATCH', `customers?id=eq.${ids['Upd One']}`, { token: u.token, body: { notes: 'vip', address: 'MG Road' } });
    assert.equal(r.status, 204, r.info);
    assert.equal(r.text, '', r.info);
    const g = await rows('customers', u.token, `select=notes,address,full_name&id=eq.${ids['Upd One']}`);
    assert.deepEqual(g, [{ notes: 'vip', address: 'MG Road', full_name: 'Upd One' }]);
  });

  test('PATCH return=representation -> 200 with the changed rows only', async () => {
    const r = await rest('PATCH', 'customers?full_name=like.Upd*&select=full_name,notes', {
      token: u.token, headers: REP, body: { notes: 'batch' },
    });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(
      r.json.map((c) => c.full_name).sort(),
      ['Upd One', 'Upd Three', 'Upd Two'],
      r.info,
    );
    assert.ok(r.json.every((c) => c.notes === 'batch'), r.info);
    const keep = await rows('customers', u.token, 'select=notes&full_name=like.Keep*');
    assert.deepEqual(keep, [{ notes: null }, { notes: null }]);
  });

  test('PATCH matching nothing -> 204, or [] with representation', async () => {
    const a = await rest('PATCH', `customers?id=eq.${randomUuid()}`, { token: u.token, body: { notes: 'x' } });
    assert.equal(a.status, 204, a.info);
    const b = await rest('PATCH', `customers?id=eq.${randomUuid()}`, { token: u.token, headers: REP, body: { notes: 'x' } });
    assert.equal(b.status, 200, b.info);
    assert.deepEqual(b.json, [], b.info);
  });

  test('PATCH moves updated_at forward', async () => {
    const [before1] = await rows('customers', u.token, `select=updated_at&id=eq.${ids['Keep Five']}`);
    await new Promise((res) => setTimeout(res, 1100));
    const r = await rest('PATCH', `customers?id=eq.${ids['Keep Five']}`, { token: u.token, headers: REP, body: { notes: 'touched' } });
    assert.equal(r.status, 200, r.info);
    assert.ok(Date.parse(r.json[0].updated_at) > Date.parse(before1.updated_at),
      `updated_at ${before1.updated_at} -> ${r.json[0].updated_at}`);
  });

  test('PATCH or DELETE without a filter -> 400, nothing changed', async () => {
    const beforeRows = await rows('customers', u.token, 'select=id,notes&order=id.asc');
    assert.equal(beforeRows.length, 5);
    const cases = [
      ['PATCH', 'customers', { notes: 'all' }],
      ['PATCH', 'customers?select=id', { notes: 'all' }],
      ['DELETE', 'customers'],
      ['DELETE', 'customers?select=id'],
    ];
    for (const [method, path, body] of cases) {
      const r = await rest(method, path, { token: u.token, body });
      expectPgError(r, 400);
    }
    assert.deepEqual(await rows('customers', u.token, 'select=id,notes&order=id.asc'), beforeRows);
  });

  test('DELETE with a filter -> 204 and the row is gone', async () => {
    const r = await rest('DELETE', `customers?id=eq.${ids['Upd Two']}`, { token: u.token });
    assert.equal(r.status, 204, r.info);
    assert.deepEqual(await rows('customers', u.token, `id=eq.${ids['Upd Two']}`), []);
    assert.equal((await rows('customers', u.token, 'select=id')).length, 4);
  });

  test('DELETE return=representation -> 200 with the deleted rows', async () => {
    const r = await rest('DELETE', `customers?id=in.(${ids['Upd Three']},${randomUuid()})&select=id,full_name`, {
      token: u.token, headers: REP,
    });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [{ id: ids['Upd Three'], full_name: 'Upd Three' }], r.info);
    assert.equal((await rows('customers', u.token, 'select=id')).length, 3);
  });

  test('DELETE matching nothing -> 204, nothing removed', async () => {
    const r = await rest('DELETE', `customers?id=eq.${randomUuid()}`, { token: u.token });
    assert.equal(r.status, 204, r.info);
    assert.equal((await rows('customers', u.token, 'select=id')).length, 3);
  });
});

// ---------------------------------------------------------------------------
describe('embedding (one level, along foreign keys)', () => {
  let u;
  let cust;
  let s1;
  let s2;
  let wf;
  before(async () => {
    u = await signup();
    const c = await rest('POST', 'customers', { token: u.token, headers: REP, body: { full_name: 'Ravi Kumar' } });
    assert.equal(c.status, 201, c.info);
    cust = c.json[0];
    const s = await rest('POST', 'sessions', {
      token: u.token, headers: REP,
      body: [
        { contact_id: '+919811111111', contact_name: 'Ravi', channel: 'whatsapp', customer_id: cust.id },
        { contact_id: '+919822222222', contact_name: 'Nobody', channel: 'telegram' },
      ],
    });
    assert.equal(s.status, 201, s.info);
    [s1, s2] = ['+919811111111', '+919822222222'].map((k) => s.json.find((x) => x.contact_id === k));
    assert.equal(s1.is_bot_active, true, s.info);
    const m = await rest('POST', 'unified_messages', {
      token: u.token,
      body: [
        { session_id: s1.id, direction: 'inbound', content: 'price of rice?', provider_message_id: `wamid.${suffix()}` },
        { session_id: s1.id, direction: 'outbound', content: 'Rs 85.50 per kg', status: 'queued' },
      ],
    });
    assert.equal(m.status, 201, m.info);
    const w = await rest('POST', 'workflow_blueprints', { token: u.token, headers: REP, body: { name: 'Dunning', nodes: [{ id: 'n1', type: 'trigger', params: { manual: true } }], edges: [] } });
    assert.equal(w.status, 201, w.info);
    wf = w.json[0];
    // Runs are written by the workflow engine only (read-only over REST):
    // two are put in the database directly.
    const run = (status, steps, error) => `INSERT INTO workflow_logs (profile_id, id, blueprint_id, status, step_results, error) VALUES ('${u.userId}', '${randomUuid()}', '${wf.id}', '${status}', '${steps}', ${error ? `'${error}'` : 'NULL'})`;
    for (const sql of [run('completed', '[{"node": "n1", "ok": true}]'), run('failed', '[]', 'boom')]) {
      const db = process.env.MUNSHI_DB || '';
      if (db.startsWith('sqlite:')) execFileSync('sqlite3', ['-cmd', '.timeout 10000', db.slice(7), sql]);
      else execFileSync('psql', [db, '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', sql]);
    }
  });

  test('one-to-many: sessions?select=*,unified_messages(*)', async () => {
    const r = await rest('GET', 'sessions?select=*,unified_messages(*)&order=contact_id.asc', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.length, 2, r.info);
    const [a, b] = r.json;
    assert.equal(a.id, s1.id);
    assert.equal(a.contact_name, 'Ravi');
    assert.ok(Array.isArray(a.unified_messages), r.info);
    assert.deepEqual(a.unified_messages.map((x) => x.content).sort(), ['Rs 85.50 per kg', 'price of rice?']);
    assert.ok(a.unified_messages.every((x) => x.session_id === s1.id && x.profile_id === u.userId), r.info);
    assert.deepEqual(b.unified_messages, [], r.info);
  });

  test('one-to-many with columns: select=id,unified_messages(direction,content)', async () => {
    const r = await rest('GET', `sessions?select=id,unified_messages(direction,content)&id=eq.${s1.id}`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(Object.keys(r.json[0]).sort(), ['id', 'unified_messages']);
    const msgs = r.json[0].unified_messages.map((x) => `${x.direction}:${x.content}`).sort();
    assert.deepEqual(msgs, ['inbound:price of rice?', 'outbound:Rs 85.50 per kg']);
    assert.deepEqual(Object.keys(r.json[0].unified_messages[0]).sort(), ['content', 'direction']);
  });

  test('many-to-one: unified_messages?select=id,sessions(contact_id)', async () => {
    const r = await rest('GET', 'unified_messages?select=id,direction,sessions(contact_id)', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.length, 2, r.info);
    for (const m of r.json) {
      assert.deepEqual(m.sessions, { contact_id: '+919811111111' }, r.info);
    }
  });

  test('many-to-one that may be null: sessions?select=contact_id,customers(full_name)', async () => {
    const r = await rest('GET', 'sessions?select=contact_id,customers(full_name)&order=contact_id.asc', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [
      { contact_id: '+919811111111', customers: { full_name: 'Ravi Kumar' } },
      { contact_id: '+919822222222', customers: null },
    ], r.info);
  });

  test('embedding with a filter on the parent: workflow_blueprints?select=name,workflow_logs(status,error)', async () => {
    const r = await rest('GET', `workflow_blueprints?select=name,workflow_logs(status,error)&id=eq.${wf.id}`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.length, 1, r.info);
    assert.equal(r.json[0].name, 'Dunning');
    const logs = r.json[0].workflow_logs.map((l) => `${l.status}:${l.error}`).sort();
    assert.deepEqual(logs, ['completed:null', 'failed:boom'], r.info);
  });

  test('workflow_logs?select=status,workflow_blueprints(name)', async () => {
    const r = await rest('GET', 'workflow_logs?select=status,step_results,workflow_blueprints(name)&status=eq.completed', { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [{ status: 'completed', step_results: [{ node: 'n1', ok: true }], workflow_blueprints: { name: 'Dunning' } }], r.info);
  });

  test('invoices?select=*,invoice_items(*) and select=id,customers(full_name) parse (no invoices yet)', async () => {
    for (const q of ['select=*,invoice_items(*)', 'select=id,customers(full_name)', 'select=*,payments(*),shipments(*)']) {
      const r = await rest('GET', `invoices?${q}`, { token: u.token });
      assert.equal(r.status, 200, r.info);
      assert.deepEqual(r.json, [], r.info);
    }
  });

  test('embedding a table with no relationship -> 400', async () => {
    for (const q of ['sessions?select=*,products(*)', 'sessions?select=*,nosuchtable(*)']) {
      const r = await rest('GET', q, { token: u.token });
      expectPgError(r, 400);
    }
  });

  test('embedding with the object Accept', async () => {
    const r = await rest('GET', `sessions?select=contact_name,unified_messages(content)&id=eq.${s2.id}`, {
      token: u.token, headers: { ...OBJ },
    });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, { contact_name: 'Nobody', unified_messages: [] }, r.info);
  });
});

// ---------------------------------------------------------------------------
describe('text that is not plain ASCII, and characters PostgREST reserves', () => {
  let u;
  const names = ['राम किराना स्टोर', 'Sharma, Ravi', 'A&B (Pvt) Ltd.', 'Quote "q" and \'s\'', 'Emoji 🛒 shop', 'back\\slash', 'percent 100%'];
  before(async () => {
    u = await signup();
    const r = await rest('POST', 'customers', { token: u.token, body: names.map((full_name) => ({ full_name })) });
    assert.equal(r.status, 201, r.info);
  });

  test('every name round-trips', async () => {
    const got = await rows('customers', u.token, 'select=full_name');
    assert.deepEqual(got.map((c) => c.full_name).sort(), [...names].sort());
  });

  for (const name of names) {
    test(`eq finds ${JSON.stringify(name)} (percent-encoded)`, async () => {
      const r = await rest('GET', `customers?select=full_name&full_name=eq.${encodeURIComponent(name)}`, { token: u.token });
      assert.equal(r.status, 200, r.info);
      assert.deepEqual(r.json, [{ full_name: name }], r.info);
    });
  }

  test('in.() with double-quoted values holding commas and parentheses', async () => {
    const list = `("Sharma, Ravi","A&B (Pvt) Ltd.")`;
    const r = await rest('GET', `customers?select=full_name&full_name=in.${encodeURIComponent(list)}&order=full_name.asc`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json.map((c) => c.full_name), ['A&B (Pvt) Ltd.', 'Sharma, Ravi'], r.info);
  });

  test('ilike on Devanagari, + as a space in the query', async () => {
    const r = await rest('GET', `customers?select=full_name&full_name=ilike.${encodeURIComponent('*किराना*')}`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [{ full_name: 'राम किराना स्टोर' }], r.info);
    const plus = await rest('GET', 'customers?select=full_name&full_name=eq.Emoji+%F0%9F%9B%92+shop', { token: u.token });
    assert.equal(plus.status, 200, plus.info);
    assert.deepEqual(plus.json, [{ full_name: 'Emoji 🛒 shop' }], plus.info);
  });
});

// ---------------------------------------------------------------------------
describe('case-insensitive matching folds Unicode alike on both databases', () => {
  let u;
  const names = ['ÉCOLE Shiksha', 'E\u0301cole Two', 'öztürk traders', 'राम किराना', 'Ram किराना Store',
    'Straße Laden', 'STRASSE Depot', 'İstanbul Çay', '100% ÖKO', '1000 ÖKO'];
  before(async () => {
    u = await signup();
    const r = await rest('POST', 'customers', { token: u.token, body: names.map((full_name) => ({ full_name })) });
    assert.equal(r.status, 201, r.info);
  });
  // pattern (as PostgREST takes it, * for %) -> the names it finds
  const cases = [
    ['*école*', ['E\u0301cole Two', 'ÉCOLE Shiksha']], // decomposed É too: both sides in NFC
    ['ÉCOLE*', ['E\u0301cole Two', 'ÉCOLE Shiksha']],
    ['ÖZTÜRK*', ['öztürk traders']],
    ['*किराना*', ['Ram किराना Store', 'राम किराना']], // no case: exact text
    ['rAM किराना*', ['Ram किराना Store']],
    ['straße*', ['Straße Laden']], // ß is not "ss" on either database
    ['strasse*', ['STRASSE Depot']],
    ['istanbul*', ['İstanbul Çay']],
    ['100\\% öko', ['100% ÖKO']], // an escaped % stays literal
    ['100* öko', ['100% ÖKO', '1000 ÖKO']],
  ];
  for (const [pat, want] of cases) {
    test(`ilike.${pat}`, async () => {
      const r = await rest('GET', `customers?select=full_name&full_name=ilike.${encodeURIComponent(pat)}`, { token: u.token });
      assert.equal(r.status, 200, r.info);
      assert.deepEqual(r.json.map((c) => c.full_name).sort(), [...want].sort(), r.info);
    });
  }
  test('like stays case-sensitive', async () => {
    const r = await rest('GET', `customers?select=full_name&full_name=like.${encodeURIComponent('*école*')}`, { token: u.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [], r.info);
  });
});

// ---------------------------------------------------------------------------
describe('answers are capped: repeated columns, rows per read, response size', () => {
  let u;
  before(async () => { u = await signup(); });

  test('one column 256 times in select= -> 400 PGRST100 naming it', async () => {
    const r = await rest('GET', `customers?select=${Array(256).fill('notes').join(',')}`, { token: u.token });
    expectPgError(r, 400, 'PGRST100');
    assert.match(r.json.message, /customers\.notes/, r.info);
  });

  test('a read returns at most 1000 rows; Content-Range says which', async () => {
    const body = Array.from({ length: 1005 }, (_, i) => ({ full_name: `Row ${String(i).padStart(4, '0')}` }));
    const ins = await rest('POST', 'customers', { token: u.token, body });
    assert.equal(ins.status, 201, ins.info);
    const all = await rest('GET', 'customers?select=id', { token: u.token });
    assert.equal(all.status, 200, all.info);
    assert.equal(all.json.length, 1000);
    assert.equal(all.header('content-range'), '0-999/*');
    assert.equal(new Set(all.json.map((c) => c.id)).size, 1000);
    const counted = await rest('GET', 'customers?select=id', { token: u.token, headers: { Prefer: 'count=exact' } });
    assert.equal(counted.status, 206, counted.info);
    assert.equal(counted.header('content-range'), '0-999/1005');
    const big = await rest('GET', 'customers?select=id&limit=5000', { token: u.token });
    assert.equal(big.json.length, 1000, 'a larger limit is clamped');
    const ranged = await rest('GET', 'customers?select=id', { token: u.token, headers: { Range: '0-4999' } });
    assert.equal(ranged.json.length, 1000, 'a larger Range is clamped');
    const rest5 = await rest('GET', 'customers?select=id&offset=1000', { token: u.token });
    assert.equal(rest5.json.length, 5);
    assert.equal(rest5.header('content-range'), '1000-1004/*');
    // the pages of the whole table, put together, are every row once
    const ids = new Set([...all.json, ...rest5.json].map((c) => c.id));
    assert.equal(ids.size, 1005);
  });

  test('large rows x many rows -> 413 soon, with advice to page; a page fits', async () => {
    const notes = 'n'.repeat(900 * 1024);
    for (let i = 0; i < 6; i++) {
      const r = await rest('POST', 'customers', { token: u.token, body: { full_name: `Big ${i}`, notes } });
      assert.equal(r.status, 201, r.info);
    }
    const t0 = Date.now();
    const r = await rest('GET', 'customers?select=full_name,notes&full_name=like.Big*', { token: u.token });
    const ms = Date.now() - t0;
    expectPgError(r, 413, 'PGRST413');
    assert.match(r.json.message, /limit/, r.info);
    assert.match(r.json.message, /Range/, r.info);
    assert.ok(r.text.length < 2048, `the refusal is small: ${r.text.length} bytes`);
    assert.ok(ms < 15000, `answered in ${ms} ms`);
    const page = await rest('GET', 'customers?select=full_name,notes&full_name=like.Big*&limit=2', { token: u.token });
    assert.equal(page.status, 200, page.info);
    assert.equal(page.json.length, 2);
    assert.equal(page.json[0].notes.length, notes.length);
  });
});

// ---------------------------------------------------------------------------
describe('concurrent requests', () => {
  let u;
  before(async () => { u = await signup(); });

  test('40 inserts and 40 reads at once all succeed', async () => {
    const writes = Array.from({ length: 40 }, (_, i) =>
      rest('POST', 'customers', { token: u.token, body: { full_name: `Para ${i}` } }));
    const reads = Array.from({ length: 40 }, () => rest('GET', 'customers?select=id&limit=5', { token: u.token }));
    const rs = await Promise.all([...writes, ...reads]);
    const bad = rs.filter((r, i) => r.status !== (i < 40 ? 201 : 200));
    assert.deepEqual(bad.map((r) => r.info), []);
    assert.equal((await rows('customers', u.token, 'select=id&full_name=like.Para*')).length, 40);
  });

  test('20 PATCHes of one row at once: all succeed, one value wins', async () => {
    const c = await rest('POST', 'customers', { token: u.token, headers: REP, body: { full_name: 'Contended' } });
    assert.equal(c.status, 201, c.info);
    const id = c.json[0].id;
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) =>
      rest('PATCH', `customers?id=eq.${id}`, { token: u.token, body: { notes: `n${i}` } })));
    assert.deepEqual(rs.filter((r) => r.status !== 204).map((r) => r.info), []);
    const [row] = await rows('customers', u.token, `select=notes&id=eq.${id}`);
    assert.match(row.notes, /^n\d+$/);
  });
});

// ---------------------------------------------------------------------------
test('CORS preflight for a browser client', async () => {
  const r = await rest('OPTIONS', 'customers', {
    apikey: null,
    headers: {
      Origin: 'http://localhost:5173',
      'Access-Control-Request-Method': 'POST',
      'Access-Control-Request-Headers': 'authorization,apikey,content-type,prefer,x-client-info',
    },
  });
  assert.ok(r.status === 200 || r.status === 204, r.info);
  assert.ok(r.header('access-control-allow-origin'), `no Access-Control-Allow-Origin: ${JSON.stringify(r.headers)}`);
  const allowed = (r.header('access-control-allow-headers') || '').toLowerCase();
  for (const h of ['authorization', 'apikey', 'content-type', 'prefer']) {
    assert.ok(allowed === '*' || allowed.includes(h), `preflight does not allow ${h}: ${JSON.stringify(r.headers)}`);
  }
  const methods = (r.header('access-control-allow-methods') || '').toUpperCase();
  assert.ok(methods === '*' || methods.includes('POST'), `preflight does not allow POST: ${JSON.stringify(r.headers)}`);
});
