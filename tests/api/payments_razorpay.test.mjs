// payments_razorpay.test.mjs - Razorpay payment links and payment webhooks
// against the fake (tests/fakes/razorpay.mjs), on the suite's backend:
// making a link (one per open due, also after a failure or an unknown
// outcome; a refusal's field errors), a payment webhook delivered three
// times and concurrently records one payment, payment_link.paid and
// payment.captured of one payment record one, a bad or missing signature
// or a signed non-event changes nothing, a replayed event id is answered
// and ignored, refund.processed records one refund that the statement
// shows, and the shared account's route (a server of its own with
// MUNSHI_RAZORPAY_*).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { rest, rows, signup, suffix } from './lib.mjs';
import { freshDatabase, startMunshi } from './chat_lib.mjs';
import {
  RazorpayFake, deliver, eventId, linkPaidEvent, paymentCapturedEvent, refundProcessedEvent,
} from '../fakes/razorpay.mjs';

const KEY_ID = `rzp_test_${randomBytes(6).toString('hex')}`;
const KEY_SECRET = `ks_${randomBytes(12).toString('hex')}`;
const WEBHOOK_SECRET = `wh_${randomBytes(12).toString('hex')}`;
const SHARED = { id: `rzp_test_shared${randomBytes(3).toString('hex')}`, secret: 'shared-key-secret', webhook: 'shared-webhook-secret' };

let fake;

before(async () => {
  fake = new RazorpayFake({ [KEY_ID]: KEY_SECRET, [SHARED.id]: SHARED.secret });
  await fake.listen(Number(process.env.MUNSHI_TEST_RZP_PORT));
});
after(async () => { await fake.close(); });

const rpc = (token, name, args, origin) => rest('POST', `rpc/${name}`, { token, body: args, origin });
const represent = { Prefer: 'return=representation' };

async function ok(p) {
  const r = await p;
  assert.equal(r.status, 200, r.info);
  return r.json;
}

const paise = (s) => Math.round(Number(s) * 100);

/** A business with a customer, an issued invoice of `rupees`, and (unless
 * shared) its own Razorpay integration. */
async function shop({ rupees = 500, origin, integration = true } = {}) {
  const owner = await signup({ origin });
  const t = owner.token;
  const prof = await rest('PATCH', `profiles?id=eq.${owner.userId}`, { token: t, origin, body: { state_code: '27' } });
  assert.ok(prof.status === 204 || prof.status === 200, prof.info);
  const phone = `+9198${String(Math.floor(Math.random() * 1e8)).padStart(8, '0')}`;
  const c = await rest('POST', 'customers', { token: t, origin, headers: represent, body: { full_name: 'Asha Rao', phone_number: phone, email: 'asha@example.com', state_code: '27' } });
  assert.equal(c.status, 201, c.info);
  const p = await rest('POST', 'products', { token: t, origin, headers: represent, body: { name: `Saree ${suffix()}`, gst_rate: 0, base_price: rupees, current_stock: 100 } });
  assert.equal(p.status, 201, p.info);
  const inv = await ok(rpc(t, 'create_invoice', { customer_id: c.json[0].id, items: [{ product_id: p.json[0].id, quantity: 1 }] }, origin));
  let integ = null;
  if (integration) {
    const r = await rest('POST', 'integrations', { token: t, origin, headers: represent, body: { provider: 'razorpay', key_id: KEY_ID, key_secret: KEY_SECRET, webhook_secret: WEBHOOK_SECRET } });
    assert.equal(r.status, 201, r.info);
    integ = r.json[0].id;
  }
  return { owner, t, customer: c.json[0].id, product: p.json[0].id, invoice: inv, integ, origin };
}

async function newInvoice(s, rupees) {
  return ok(rpc(s.t, 'create_invoice', { customer_id: s.customer, items: [{ product_id: s.product, quantity: 1, unit_price: rupees }] }, s.origin));
}

const payments = (s) => rows('payments', s.t, `select=id,amount_received,provider,provider_payment_id,payment_mode&customer_id=eq.${s.customer}`);
const invoiceRow = async (s, id) => (await rows('invoices', s.t, `select=status,amount_paid,balance_due&id=eq.${id}`))[0];
const debt = async (s) => (await rows('customers', s.t, `select=total_debt&id=eq.${s.customer}`))[0].total_debt;
const hookPath = (s) => `/webhooks/razorpay/${s.integ}`;

describe('payment links', () => {
  test('a link for the amount due, made once per open due', async () => {
    const s = await shop({ rupees: 1234 });
    const before = fake.creates().length;
    const lr = await rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id });
    assert.equal(lr.status, 200, lr.info);
    const l = lr.json;
    assert.match(lr.text, /"amount":1234\.00[,}]/, 'exact decimal text');
    assert.equal(l.invoice_id, s.invoice.id);
    assert.match(l.provider_link_id, /^plink_/);
    assert.match(l.short_url, /^https:\/\/rzp\.io\/i\//);
    assert.equal(paise(l.amount), 123400);
    assert.equal(l.reused, false);
    assert.ok(l.reference_id.length <= 40, l.reference_id);
    const sent = fake.creates().at(-1);
    assert.equal(sent.json.amount, 123400, 'paise, an integer');
    assert.equal(sent.json.currency, 'INR');
    assert.equal(sent.json.reference_id, l.reference_id);
    assert.equal(sent.json.customer.name, 'Asha Rao');
    assert.match(sent.json.customer.contact, /^\+9198/);
    assert.ok(sent.json.expire_by > Date.now() / 1000 + 6 * 86400, 'seven days by default');
    assert.equal(Buffer.from(sent.headers.authorization.slice(6), 'base64').toString(), `${KEY_ID}:${KEY_SECRET}`);
    // Again: the same link, no second call to create.
    const again = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
    assert.equal(again.provider_link_id, l.provider_link_id);
    assert.equal(again.reused, true);
    assert.equal(fake.creates().length, before + 1);
    const rowsNow = await rows('payment_links', s.t, `select=reference_id,short_url,status,amount&invoice_id=eq.${s.invoice.id}`);
    assert.equal(rowsNow.length, 1);
    assert.equal(rowsNow[0].short_url, l.short_url);
  });

  test('a failure, then a retry: one link', async () => {
    const s = await shop();
    fake.failNext = 1;
    const r = await rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id });
    assert.equal(r.status, 502, r.info);
    assert.equal(r.json.code, 'MU502');
    const l = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
    assert.equal(fake.links.filter((x) => x.link.reference_id === l.reference_id).length, 1);
  });

  test('an unknown outcome (made, answer lost), then a retry: the same link, found by its reference', async () => {
    const s = await shop();
    fake.dropNext = 1;
    const r = await rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id });
    // 502 (no answer), or 200 when libcurl sent the request again on a
    // fresh connection (it does so when a reused one dies before any
    // answer): Razorpay then refuses the reference and munshi adopts the
    // link it made. Either way, one link.
    assert.ok(r.status === 502 || r.status === 200, r.info);
    const made = fake.links.at(-1).link;
    const l = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
    assert.equal(l.provider_link_id, made.id);
    assert.equal(fake.links.filter((x) => x.link.reference_id === l.reference_id).length, 1);
    const lookups = fake.requests.filter((q) => q.method === 'GET' && q.path.includes(`reference_id=${l.reference_id}`));
    assert.ok(lookups.length >= 1, 'looked the reference up before making another');
    assert.equal(l.reused, true);
  });

  test('concurrent calls make one link', async () => {
    const s = await shop();
    const answers = await Promise.all([1, 2, 3, 4].map(() => rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id })));
    for (const a of answers) assert.equal(a.status, 200, a.info);
    assert.equal(new Set(answers.map((a) => a.json.provider_link_id)).size, 1);
    const ref = answers[0].json.reference_id;
    assert.equal(fake.links.filter((x) => x.link.reference_id === ref).length, 1);
  });

  test("a refusal answers 422 with Razorpay's words and field", async () => {
    const s = await shop();
    fake.refuseNext = { description: 'The contact format is invalid.', field: 'customer.contact' };
    const r = await rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id });
    assert.equal(r.status, 422, r.info);
    assert.equal(r.json.code, 'MU422P');
    assert.match(r.json.details, /contact format is invalid/);
    assert.deepEqual(JSON.parse(r.json.hint), { 'customer.contact': ['The contact format is invalid.'] });
    const failed = await rows('payment_links', s.t, `select=status,last_error&invoice_id=eq.${s.invoice.id}`);
    assert.equal(failed.length, 1);
    assert.equal(failed[0].status, 'failed');
    // The next call starts afresh.
    await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
  });

  test('bad arguments and states', async () => {
    const s = await shop();
    for (const [args, status] of [
      [{}, 400], [{ invoice_id: 'nope' }, 400], [{ invoice_id: s.invoice.id, extra: 1 }, 400],
      [{ invoice_id: s.invoice.id, expire_by: '2020-01-01T00:00:00Z' }, 400],
      [{ invoice_id: '0190f0f0-0000-7000-8000-000000000000' }, 404],
    ]) {
      const r = await rpc(s.t, 'create_payment_link', args);
      assert.equal(r.status, status, `${JSON.stringify(args)}: ${r.info}`);
    }
    // Paid in full: nothing due, no link.
    await ok(rpc(s.t, 'record_payment', { customer_id: s.customer, amount_received: 500, payment_mode: 'cash' }));
    const r = await rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id });
    assert.equal(r.status, 409, r.info);
    // No account at all (no integration, no shared one on this server).
    const bare = await shop({ integration: false });
    const n = await rpc(bare.t, 'create_payment_link', { invoice_id: bare.invoice.id });
    assert.equal(n.status, 409, n.info);
    assert.match(n.json.message, /Razorpay account/);
  });
});

describe('payment webhooks', () => {
  async function linked(rupees = 500) {
    const s = await shop({ rupees });
    const l = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
    return { s, link: fake.linkByRef(l.reference_id) };
  }

  test('one payment, delivered three times and three times at once', async () => {
    const { s, link } = await linked(500);
    const ev = linkPaidEvent(link, 50000);
    const id = eventId();
    for (let i = 0; i < 3; i++) {
      const r = await deliver(s.origin ?? process.env.MUNSHI_URL, hookPath(s), ev, WEBHOOK_SECRET, { eventId: id });
      assert.equal(r.status, 200, r.info);
    }
    // Razorpay may also send it again under new event ids, concurrently.
    const rs = await Promise.all([1, 2, 3].map(() => deliver(process.env.MUNSHI_URL, hookPath(s), ev, WEBHOOK_SECRET)));
    for (const r of rs) assert.equal(r.status, 200, r.info);
    const ps = await payments(s);
    assert.equal(ps.length, 1, JSON.stringify(ps));
    assert.equal(ps[0].provider_payment_id, ev.payload.payment.entity.id);
    assert.equal(ps[0].payment_mode, 'upi');
    assert.equal(paise(ps[0].amount_received), 50000);
    const inv = await invoiceRow(s, s.invoice.id);
    assert.equal(inv.status, 'paid');
    assert.equal(paise(await debt(s)), 0);
    const pl = await rows('payment_links', s.t, `select=status,amount_paid&invoice_id=eq.${s.invoice.id}`);
    assert.equal(pl[0].status, 'paid');
    const evs = await rows('events', s.t, "select=id&event_type=eq.payment.received");
    assert.equal(evs.length, 1, 'one payment.received event');
  });

  test('payment.captured first, payment_link.paid after: one payment', async () => {
    const { s, link } = await linked(300);
    const paid = linkPaidEvent(link, 30000);
    const pid = paid.payload.payment.entity.id;
    const cap = paymentCapturedEvent(link, 30000, pid);
    const a = await deliver(process.env.MUNSHI_URL, hookPath(s), cap, WEBHOOK_SECRET);
    assert.equal(a.status, 200, a.info);
    const b = await deliver(process.env.MUNSHI_URL, hookPath(s), paid, WEBHOOK_SECRET);
    assert.equal(b.status, 200, b.info);
    assert.equal((await payments(s)).length, 1);
    assert.equal((await invoiceRow(s, s.invoice.id)).status, 'paid');
  });

  test('partial payments: each recorded once, the next link is for what is left', async () => {
    const { s, link } = await linked(1000);
    const part = linkPaidEvent(link, 40000, undefined, { partial: true });
    assert.equal((await deliver(process.env.MUNSHI_URL, hookPath(s), part, WEBHOOK_SECRET)).status, 200);
    assert.equal((await deliver(process.env.MUNSHI_URL, hookPath(s), part, WEBHOOK_SECRET)).status, 200);
    const inv = await invoiceRow(s, s.invoice.id);
    assert.equal(inv.status, 'partially_paid');
    assert.equal(paise(inv.balance_due), 60000);
    const l2 = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }));
    assert.equal(paise(l2.amount), 60000);
    assert.notEqual(l2.provider_link_id, link.id);
  });

  test('a bad or missing signature, or a signed non-event: refused, nothing written', async () => {
    const { s, link } = await linked(200);
    const ev = linkPaidEvent(link, 20000);
    const url = process.env.MUNSHI_URL;
    const cases = [
      await deliver(url, hookPath(s), ev, 'wrong-secret'),
      await deliver(url, hookPath(s), ev, WEBHOOK_SECRET, { signature: null }),
      await deliver(url, hookPath(s), ev, WEBHOOK_SECRET, { signature: 'ab'.repeat(32) }),
    ];
    for (const r of cases) {
      assert.equal(r.status, 401, r.info);
      assert.match(r.json.message, /X-Razorpay-Signature/);
    }
    // Signed, but not an event munshi can read: 400.
    const bad = [
      'not json',
      JSON.stringify({ ...ev, event: 42 }),
      JSON.stringify({ ...ev, payload: { ...ev.payload, payment: { entity: { ...ev.payload.payment.entity, amount: 200.5 } } } }),
      JSON.stringify({ ...ev, payload: { ...ev.payload, payment: { entity: { ...ev.payload.payment.entity, amount: '20000' } } } }),
      JSON.stringify({ ...ev, payload: { ...ev.payload, payment: { entity: { ...ev.payload.payment.entity, amount: 2e4 } } } }).replace('"amount":20000', '"amount":2e4'),
      JSON.stringify({ ...ev, payload: { ...ev.payload, payment: { entity: { ...ev.payload.payment.entity, currency: 'USD' } } } }),
    ];
    for (const body of bad) {
      const r = await deliver(url, hookPath(s), body, WEBHOOK_SECRET);
      assert.equal(r.status, 400, `${body.slice(0, 80)}: ${r.info}`);
    }
    // Unknown integration: 404.
    const r404 = await deliver(url, '/webhooks/razorpay/0190f0f0-0000-7000-8000-000000000000', ev, WEBHOOK_SECRET);
    assert.equal(r404.status, 404, r404.info);
    // Another business's secret does not sign for this one.
    const other = await shop();
    const x = await deliver(url, hookPath(other), ev, WEBHOOK_SECRET);
    assert.equal(x.status, 200, x.info); // same secret value, but the link is not other's
    assert.ok(x.json.ignored, x.info);
    assert.equal((await payments(s)).length, 0);
    assert.equal((await payments(other)).length, 0);
    assert.equal((await invoiceRow(s, s.invoice.id)).status, 'pending');
  });

  test('a replayed event id is answered and ignored', async () => {
    const { s, link } = await linked(500);
    const id = eventId();
    const first = linkPaidEvent(link, 10000, undefined, { partial: true });
    assert.equal((await deliver(process.env.MUNSHI_URL, hookPath(s), first, WEBHOOK_SECRET, { eventId: id })).status, 200);
    // Another payment's body under the same event id: a replay, not acted on.
    const second = linkPaidEvent(link, 20000, undefined, { partial: true });
    const r = await deliver(process.env.MUNSHI_URL, hookPath(s), second, WEBHOOK_SECRET, { eventId: id });
    assert.equal(r.status, 200, r.info);
    assert.match(r.json.ignored, /handled before/);
    assert.equal((await payments(s)).length, 1);
  });

  test('refund.processed: the dues rise once, the statement shows it', async () => {
    const { s, link } = await linked(800);
    const ev = linkPaidEvent(link, 80000);
    assert.equal((await deliver(process.env.MUNSHI_URL, hookPath(s), ev, WEBHOOK_SECRET)).status, 200);
    const refund = refundProcessedEvent(ev.payload.payment.entity.id, 25000);
    for (let i = 0; i < 2; i++) {
      const r = await deliver(process.env.MUNSHI_URL, hookPath(s), refund, WEBHOOK_SECRET);
      assert.equal(r.status, 200, r.info);
    }
    await Promise.all([1, 2].map(() => deliver(process.env.MUNSHI_URL, hookPath(s), refund, WEBHOOK_SECRET)));
    const rf = await rows('refunds', s.t, `select=amount,provider,provider_refund_id,payment_id&customer_id=eq.${s.customer}`);
    assert.equal(rf.length, 1, JSON.stringify(rf));
    assert.equal(paise(rf[0].amount), 25000);
    assert.equal(rf[0].provider_refund_id, refund.payload.refund.entity.id);
    assert.equal(paise(await debt(s)), 25000);
    const inv = await invoiceRow(s, s.invoice.id);
    assert.equal(inv.status, 'partially_paid');
    assert.equal(paise(inv.balance_due), 25000);
    const st = await ok(rpc(s.t, 'customer_statement', { customer_id: s.customer }));
    const entries = st.entries.filter((e) => e.type === 'refund');
    assert.equal(entries.length, 1, JSON.stringify(st.entries));
    assert.equal(paise(entries[0].debit), 25000);
    assert.equal(paise(st.closing_balance), 25000);
    // A refund of a payment munshi does not know: acknowledged, ignored.
    const stray = await deliver(process.env.MUNSHI_URL, hookPath(s), refundProcessedEvent('pay_Unknown123', 100), WEBHOOK_SECRET);
    assert.equal(stray.status, 200, stray.info);
    assert.ok(stray.json.ignored);
  });

  test('an over-refund is acknowledged once, kept visible as payment.refund_unapplied, books unchanged', async () => {
    const { s, link } = await linked(300);
    const ev = linkPaidEvent(link, 30000);
    assert.equal((await deliver(process.env.MUNSHI_URL, hookPath(s), ev, WEBHOOK_SECRET)).status, 200);
    const payId = ev.payload.payment.entity.id;
    const over = refundProcessedEvent(payId, 99999900, undefined, { link, paymentAmount: 30000 });
    const id = eventId();
    const r = await deliver(process.env.MUNSHI_URL, hookPath(s), over, WEBHOOK_SECRET, { eventId: id });
    // Not a 409 (Razorpay would deliver it again for ever): acknowledged,
    // with the refusal in the answer.
    assert.equal(r.status, 200, r.info);
    assert.ok(r.json.not_applied, r.info);
    const again = await deliver(process.env.MUNSHI_URL, hookPath(s), over, WEBHOOK_SECRET, { eventId: id });
    assert.equal(again.status, 200, again.info);
    assert.match(again.json.ignored, /handled before/);
    assert.equal((await rows('refunds', s.t, 'select=id')).length, 0);
    assert.equal(paise(await debt(s)), 0);
    const evs = await rows('events', s.t, 'select=event_type,payload&event_type=eq.payment.refund_unapplied');
    assert.equal(evs.length, 1, JSON.stringify(evs));
    const pl = typeof evs[0].payload === 'string' ? JSON.parse(evs[0].payload) : evs[0].payload;
    assert.equal(pl.provider_payment_id, payId);
    assert.equal(pl.provider_refund_id, over.payload.refund.entity.id);
    assert.equal(paise(pl.amount), 99999900);
    assert.ok(pl.error, JSON.stringify(pl));
  });

  test('a refund delivered before its payment records the payment first, then the refund; each once', async () => {
    const { s, link } = await linked(600);
    const pay = linkPaidEvent(link, 60000);
    const payId = pay.payload.payment.entity.id;
    const refund = refundProcessedEvent(payId, 10000, undefined, { link, paymentAmount: 60000 });
    const r = await deliver(process.env.MUNSHI_URL, hookPath(s), refund, WEBHOOK_SECRET);
    assert.equal(r.status, 200, r.info);
    assert.ok(!r.json.ignored, r.info);
    // The payment's own events come after: the same payment, not a second.
    for (const late of [pay, paymentCapturedEvent(link, 60000, payId)]) {
      const l = await deliver(process.env.MUNSHI_URL, hookPath(s), late, WEBHOOK_SECRET);
      assert.equal(l.status, 200, l.info);
    }
    const ps = await payments(s);
    assert.equal(ps.length, 1, JSON.stringify(ps));
    assert.equal(ps[0].provider_payment_id, payId);
    assert.equal(paise(ps[0].amount_received), 60000);
    assert.equal((await rows('refunds', s.t, 'select=id')).length, 1);
    assert.equal(paise(await debt(s)), 10000);
  });

  test('provider ids cannot be set over rpc (only the webhook sets them)', async () => {
    const s = await shop();
    for (const args of [
      { customer_id: s.customer, amount_received: 1, payment_mode: 'upi', provider: 'razorpay', provider_payment_id: 'pay_Claimed1' },
      { customer_id: s.customer, amount_received: 1, payment_mode: 'upi', provider_payment_id: 'pay_Claimed1' },
      { customer_id: s.customer, amount_received: 1, payment_mode: 'upi', provider: 'razorpay' },
    ]) {
      const r = await rpc(s.t, 'record_payment', args);
      assert.equal(r.status, 400, `${JSON.stringify(args)}: ${r.info}`);
    }
    assert.equal((await payments(s)).length, 0);
  });

  test('record_refund over rpc: bad input is refused, nothing written', async () => {
    const s = await shop();
    for (const args of [
      { customer_id: s.customer }, { customer_id: s.customer, amount: -1 },
      { customer_id: s.customer, amount: 1, provider: 'razorpay' },
      { customer_id: s.customer, amount: 1, provider_refund_id: 'rfnd_x' },
      { customer_id: s.customer, amount: 1, provider: 'razorpay', provider_refund_id: 'rfnd_x' },
    ]) {
      const r = await rpc(s.t, 'record_refund', args);
      assert.equal(r.status, 400, `${JSON.stringify(args)}: ${r.info}`);
    }
    const r = await rpc(s.t, 'record_refund', { customer_id: s.customer, amount: 1 });
    assert.equal(r.status, 409, r.info); // no credit to refund
    assert.equal((await rows('refunds', s.t, 'select=id')).length, 0);
  });
});

describe('the shared account', () => {
  let srv;
  let db;
  before(async () => {
    db = freshDatabase();
    srv = await startMunshi(db.url, {
      MUNSHI_RAZORPAY_KEY_ID: SHARED.id,
      MUNSHI_RAZORPAY_KEY_SECRET: SHARED.secret,
      MUNSHI_RAZORPAY_WEBHOOK_SECRET: SHARED.webhook,
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
  });

  test('links with the shared keys; POST /webhooks/razorpay finds the business by reference', async () => {
    const s = await shop({ origin: srv.origin, integration: false, rupees: 700 });
    const l = await ok(rpc(s.t, 'create_payment_link', { invoice_id: s.invoice.id }, srv.origin));
    const sent = fake.creates().at(-1);
    assert.equal(Buffer.from(sent.headers.authorization.slice(6), 'base64').toString(), `${SHARED.id}:${SHARED.secret}`);
    const link = fake.linkByRef(l.reference_id);
    const ev = linkPaidEvent(link, 70000);
    const wrong = await deliver(srv.origin, '/webhooks/razorpay', ev, WEBHOOK_SECRET);
    assert.equal(wrong.status, 401, wrong.info);
    const rs = await Promise.all([1, 2, 3].map(() => deliver(srv.origin, '/webhooks/razorpay', ev, SHARED.webhook)));
    for (const r of rs) assert.equal(r.status, 200, r.info);
    const ps = await rest('GET', `payments?select=id,provider_payment_id&customer_id=eq.${s.customer}`, { token: s.t, origin: srv.origin });
    assert.equal(ps.json.length, 1, ps.info);
    const inv = await rest('GET', `invoices?select=status&id=eq.${s.invoice.id}`, { token: s.t, origin: srv.origin });
    assert.equal(inv.json[0].status, 'paid');
  });

  test("another business cannot make a shop's refund vanish (the refund finds its business through the link)", async () => {
    const A = await shop({ origin: srv.origin, integration: false, rupees: 500 });
    const l = await ok(rpc(A.t, 'create_payment_link', { invoice_id: A.invoice.id }, srv.origin));
    const link = fake.linkByRef(l.reference_id);
    const ev = linkPaidEvent(link, 50000);
    const payId = ev.payload.payment.entity.id;
    assert.equal((await deliver(srv.origin, '/webhooks/razorpay', ev, SHARED.webhook)).status, 200);
    // B tries to claim A's pay_ id: refused, nothing written.
    const B = await shop({ origin: srv.origin, integration: false, rupees: 100 });
    const claim = await rpc(B.t, 'record_payment', { customer_id: B.customer, amount_received: 1, payment_mode: 'upi', provider: 'razorpay', provider_payment_id: payId }, srv.origin);
    assert.equal(claim.status, 400, claim.info);
    const bp = await rest('GET', 'payments?select=id', { token: B.t, origin: srv.origin });
    assert.equal(bp.json.length, 0, bp.info);
    // A's genuine refund is applied to A.
    const refund = refundProcessedEvent(payId, 20000, undefined, { link, paymentAmount: 50000 });
    const r = await deliver(srv.origin, '/webhooks/razorpay', refund, SHARED.webhook);
    assert.equal(r.status, 200, r.info);
    assert.ok(!r.json.ignored, r.info);
    const rf = await rest('GET', 'refunds?select=amount,provider_refund_id', { token: A.t, origin: srv.origin });
    assert.equal(rf.json.length, 1, rf.info);
    assert.equal(paise(rf.json[0].amount), 20000);
    // A refund without a munshi reference on the shared route: not ours.
    const stray = await deliver(srv.origin, '/webhooks/razorpay', refundProcessedEvent(payId, 100), SHARED.webhook);
    assert.equal(stray.status, 200, stray.info);
    assert.ok(stray.json.ignored, stray.info);
    const rf2 = await rest('GET', 'refunds?select=id', { token: A.t, origin: srv.origin });
    assert.equal(rf2.json.length, 1, rf2.info);
  });

  test("the shared secret cannot refund a payment a shop recorded through its own integration", async () => {
    const A = await shop({ origin: srv.origin, rupees: 400 });
    const l = await ok(rpc(A.t, 'create_payment_link', { invoice_id: A.invoice.id }, srv.origin));
    const link = fake.linkByRef(l.reference_id);
    const ev = linkPaidEvent(link, 40000);
    const payId = ev.payload.payment.entity.id;
    const own = await deliver(srv.origin, `/webhooks/razorpay/${A.integ}`, ev, WEBHOOK_SECRET);
    assert.equal(own.status, 200, own.info);
    const shared = await deliver(srv.origin, '/webhooks/razorpay', refundProcessedEvent(payId, 10000, undefined, { link, paymentAmount: 40000 }), SHARED.webhook);
    assert.equal(shared.status, 200, shared.info);
    assert.ok(shared.json.ignored, shared.info);
    const rf = await rest('GET', 'refunds?select=id', { token: A.t, origin: srv.origin });
    assert.equal(rf.json.length, 0, rf.info);
    // Through its own route it is applied.
    const mine = await deliver(srv.origin, `/webhooks/razorpay/${A.integ}`, refundProcessedEvent(payId, 10000, undefined, { link, paymentAmount: 40000 }), WEBHOOK_SECRET);
    assert.equal(mine.status, 200, mine.info);
    const rf2 = await rest('GET', 'refunds?select=id', { token: A.t, origin: srv.origin });
    assert.equal(rf2.json.length, 1, rf2.info);
  });
});
