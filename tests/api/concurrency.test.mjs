// concurrency.test.mjs - many clients at once on one customer's books through
// the HTTP API: invoices issued (and some cancelled) and payments recorded in
// parallel. Afterwards nothing is lost or counted twice: the debt is exactly
// the invoices minus the payments (BigInt paise), the series is 0001..N with
// no gap and no duplicate, the stock is the opening stock minus what was
// sold; and ten parallel requests with one Idempotency-Key make one payment.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';

import { ANON_KEY, BASE, randomUuid, rest, rows, signup } from './lib.mjs';

const CLIENTS = 32;       // parallel clients
const ROUNDS = 4;         // invoices (and payments) per client
const OPENING = 1000000n; // units of the product in stock at the start

/** A decimal as a BigInt of 10^-scale units (exact; no floating point). */
function units(v, scale) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(v));
  assert.ok(m, `not a plain decimal: ${v}`);
  const frac = (m[3] || '').padEnd(scale, '0');
  assert.ok(!/[1-9]/.test(frac.slice(scale)), `${v} has more than ${scale} decimals`);
  const n = BigInt(m[2] + frac.slice(0, scale));
  return m[1] ? -n : n;
}
const paise = (v) => units(v, 2);
const milli = (v) => units(v, 3);
const decimal = (n, scale) => {
  const s = String(n).padStart(scale + 1, '0');
  return `${s.slice(0, -scale)}.${s.slice(-scale)}`;
};

let U;
let customerId;
let productId;

/** One operation over fetch (its own connection pool, unlike lib.mjs's helpers). */
async function call(name, args, headers = {}) {
  const res = await fetch(`${BASE}/rest/v1/rpc/${name}`, {
    method: 'POST',
    headers: {
      apikey: ANON_KEY, Authorization: `Bearer ${U.token}`, 'Content-Type': 'application/json', ...headers,
    },
    body: JSON.stringify(args),
  });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return {
    status: res.status, json, text, replayed: res.headers.get('idempotent-replayed') === 'true',
    info: `POST rpc/${name} ${JSON.stringify(args)} -> ${res.status} ${text.slice(0, 400)}`,
  };
}

before(async () => {
  U = await signup();
  const p = await rest('PATCH', `profiles?id=eq.${U.userId}`, { token: U.token, body: { state_code: '27' } });
  assert.ok(p.status === 204 || p.status === 200, p.info);
  const c = await rest('POST', 'customers', {
    token: U.token, headers: { Prefer: 'return=representation' },
    body: { full_name: 'Busy Customer', phone_number: '+919800011111', state_code: '27' },
  });
  assert.equal(c.status, 201, c.info);
  customerId = c.json[0].id;
  const pr = await rest('POST', 'products', {
    token: U.token, headers: { Prefer: 'return=representation' },
    body: { name: 'Chai masala 100 g', hsn_code: '0910', gst_rate: 5, base_price: 47.5, current_stock: Number(OPENING) },
  });
  assert.equal(pr.status, 201, pr.info);
  productId = pr.json[0].id;
});

test(`${CLIENTS} clients issue invoices and record payments for one customer at once`, async () => {
  // Each client: ROUNDS times an invoice of a random quantity (up to 3
  // decimals) at a random price, then a payment of a random amount; every
  // fourth client cancels its first invoice at the end. The answers the
  // clients got are kept to compare with what the database holds.
  const rnd = (n) => randomBytes(4).readUInt32BE() % n;
  const client = async (k) => {
    const mine = { invoices: [], payments: [], cancelled: [] };
    for (let i = 0; i < ROUNDS; i++) {
      const qty = BigInt(1 + rnd(5000));       // thousandths: 0.001 .. 5.000
      const price = BigInt(100 + rnd(100000)); // paise: 1.00 .. 1000.99
      const inv = await call('create_invoice', {
        customer_id: customerId, items: [{ product_id: productId, quantity: decimal(qty, 3), unit_price: decimal(price, 2) }],
      });
      assert.equal(inv.status, 200, inv.info);
      mine.invoices.push({ id: inv.json.id, number: inv.json.invoice_number, total: paise(inv.json.total_amount), qty });
      const amount = BigInt(1 + rnd(50000));
      const pay = await call('record_payment', {
        customer_id: customerId, amount_received: decimal(amount, 2), payment_mode: i % 2 ? 'upi' : 'cash',
      });
      assert.equal(pay.status, 200, pay.info);
      assert.equal(paise(pay.json.amount_received), amount);
      mine.payments.push({ id: pay.json.id, amount });
    }
    if (k % 4 === 0) {
      const first = mine.invoices[0];
      const c = await call('cancel_invoice', { invoice_id: first.id, reason: `client ${k}` });
      assert.equal(c.status, 200, c.info);
      assert.equal(c.json.status, 'cancelled');
      mine.cancelled.push(first.id);
    }
    return mine;
  };
  const results = await Promise.all(Array.from({ length: CLIENTS }, (_, k) => client(k)));

  const answered = results.flatMap((r) => r.invoices);
  const cancelled = new Set(results.flatMap((r) => r.cancelled));
  const payments = results.flatMap((r) => r.payments);
  const n = CLIENTS * ROUNDS;
  assert.equal(answered.length, n);

  // The database holds exactly what was answered.
  const invs = await rows('invoices', U.token, 'select=id,invoice_number,status,total_amount,customer_id');
  assert.equal(invs.length, n, 'one invoice per answered create_invoice');
  const byId = new Map(invs.map((i) => [i.id, i]));
  for (const a of answered) {
    const s = byId.get(a.id);
    assert.ok(s, `invoice ${a.id} was answered but is not stored`);
    assert.equal(s.invoice_number, a.number);
    assert.equal(paise(s.total_amount), a.total);
    if (cancelled.has(a.id)) assert.equal(s.status, 'cancelled');
    else assert.ok(['pending', 'partially_paid', 'paid'].includes(s.status), `status of ${a.id}: ${s.status}`);
  }
  const pays = await rows('payments', U.token, 'select=id,amount_received');
  assert.equal(pays.length, payments.length, 'one payment per answered record_payment');
  const payIds = new Set(pays.map((p) => p.id));
  for (const p of payments) assert.ok(payIds.has(p.id), `payment ${p.id} was answered but is not stored`);

  // Numbers: exactly PREFIX/FY/0001 .. N, no gap, no duplicate.
  const numbers = invs.map((i) => i.invoice_number);
  const m = /^(.*\/)\d{4,}$/.exec(numbers[0]);
  assert.ok(m, `invoice number ${numbers[0]}`);
  const want = Array.from({ length: n }, (_, i) => `${m[1]}${String(i + 1).padStart(4, '0')}`);
  assert.deepEqual([...numbers].sort(), want.sort());

  // total_debt = non-cancelled invoice totals - payments, to the paisa.
  const invoiced = answered.filter((a) => !cancelled.has(a.id)).reduce((s, a) => s + a.total, 0n);
  const paid = payments.reduce((s, p) => s + p.amount, 0n);
  const storedPaid = pays.reduce((s, p) => s + paise(p.amount_received), 0n);
  assert.equal(storedPaid, paid);
  const cust = await rows('customers', U.token, `select=total_debt&id=eq.${customerId}`);
  assert.equal(paise(cust[0].total_debt), invoiced - paid, 'total_debt');

  // The allocations add up: every invoice's paid + due is its total, and no
  // more is allocated than was paid (the rest is credit, or went back to
  // credit when a paid invoice was cancelled).
  const full = await rows('invoices', U.token, 'select=id,status,total_amount,amount_paid,balance_due');
  let due = 0n;
  let allocated = 0n;
  for (const i of full) {
    if (i.status === 'cancelled') continue;
    assert.equal(paise(i.amount_paid) + paise(i.balance_due), paise(i.total_amount), `invoice ${i.id}`);
    due += paise(i.balance_due);
    allocated += paise(i.amount_paid);
  }
  assert.ok(allocated <= paid, 'no more allocated than was paid');
  assert.equal(due, invoiced - allocated, 'the balances due are the invoices less what was allocated');

  // Stock: the opening stock minus what the non-cancelled invoices took.
  const sold = answered.filter((a) => !cancelled.has(a.id)).reduce((s, a) => s + a.qty, 0n);
  const prod = await rows('products', U.token, `select=current_stock&id=eq.${productId}`);
  assert.equal(milli(prod[0].current_stock), OPENING * 1000n - sold, 'current_stock');
});

test('10 parallel record_payment with the same Idempotency-Key make one payment', async () => {
  const c = await rest('POST', 'customers', {
    token: U.token, headers: { Prefer: 'return=representation' },
    body: { full_name: 'Retrying Customer', phone_number: '+919800022222', state_code: '27' },
  });
  assert.equal(c.status, 201, c.info);
  const cid = c.json[0].id;
  const key = `same-${randomUuid()}`;
  const args = { customer_id: cid, amount_received: '777.77', payment_mode: 'upi', reference: 'UTR-1' };
  const answers = await Promise.all(Array.from({ length: 10 }, () => call('record_payment', args, { 'Idempotency-Key': key })));
  const okays = answers.filter((a) => a.status === 200);
  for (const a of answers) {
    // A request that finds the key still being worked on may be told to retry
    // (409 MU410); every other answer is the one payment.
    assert.ok(a.status === 200 || (a.status === 409 && a.json && a.json.code === 'MU410'), a.info);
  }
  assert.ok(okays.length >= 1, 'at least one answer');
  assert.equal(okays.filter((a) => !a.replayed).length, 1, 'exactly one request did the work; the others replayed it');
  const ids = new Set(okays.map((a) => a.json.id));
  assert.equal(ids.size, 1, `one payment id in every answer: ${[...ids].join(', ')}`);
  for (const a of okays) assert.deepEqual(a.json, okays[0].json);

  const pays = await rows('payments', U.token, `select=id,amount_received&customer_id=eq.${cid}`);
  assert.equal(pays.length, 1, `exactly one payment row: ${JSON.stringify(pays)}`);
  assert.equal(pays[0].id, [...ids][0]);
  const cust = await rows('customers', U.token, `select=total_debt&id=eq.${cid}`);
  assert.equal(paise(cust[0].total_debt), -77777n, 'the debt moved once');

  // Afterwards the key replays for everyone, and a different body is refused.
  const later = await call('record_payment', args, { 'Idempotency-Key': key });
  assert.equal(later.status, 200, later.info);
  assert.ok(later.replayed);
  assert.equal(later.json.id, [...ids][0]);
  const other = await call('record_payment', { ...args, amount_received: '1.00' }, { 'Idempotency-Key': key });
  assert.equal(other.status, 422, other.info);
  assert.equal(other.json.code, 'MU422');
});
