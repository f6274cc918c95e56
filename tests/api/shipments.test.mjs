// shipments.test.mjs - shipments through Shiprocket, against the fake in
// tests/fakes/shiprocket.mjs on MUNSHI_TEST_SR_PORT (run.sh points the
// server's MUNSHI_SHIPROCKET_API_URL there): rpc/create_shipment's four
// steps and what they store, a retry after a failure at each step making
// exactly one Shiprocket order (also when the order's answer was lost),
// 422 field errors, an expired token, the tracking webhook (tokens, scans
// once, never backwards, shipment.updated events), rpc/track_shipment and
// the tracking job (a server of our own with a short interval).
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { FakeShiprocket, scan, webhookPayload } from '../fakes/shiprocket.mjs';
import { freshDatabase, startMunshi, eventually } from './chat_lib.mjs';
import { expectPgError, httpRaw, rest, rows, signup, suffix } from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const fake = new FakeShiprocket();
const DIMS = { length: 20, breadth: '15.5', height: 10, weight: 1.25, payment_method: 'prepaid' };

function rpc(token, name, args, origin) {
  return rest('POST', `rpc/${name}`, { token, body: args, origin });
}
async function ok(p) {
  const r = await p;
  assert.equal(r.status, 200, r.info);
  return r.json;
}

/** Posts a tracking webhook; key null sends no x-api-key. */
function hook(path, key, payload, origin) {
  const headers = { 'Content-Type': 'application/json' };
  if (key !== null) headers['x-api-key'] = key;
  return httpRaw({ method: 'POST', path, headers, body: typeof payload === 'string' ? payload : JSON.stringify(payload), origin });
}

/**
 * A business with a Shiprocket integration (an account the fake knows), a
 * customer in Pune and two issued invoices of two lines.
 */
async function shop(origin) {
  const u = await signup({ origin });
  const p = await rest('PATCH', `profiles?id=eq.${u.userId}`, { token: u.token, body: { state_code: '27' }, origin });
  assert.ok(p.status === 204 || p.status === 200, p.info);
  const email = `api-${suffix()}@shop.example`;
  const password = `pw-${randomBytes(6).toString('hex')}`;
  fake.accounts[email] = password;
  const webhookToken = randomBytes(18).toString('hex');
  const integ = await rest('POST', 'integrations', {
    token: u.token, headers: REP, origin,
    body: { provider: 'shiprocket', email, password, webhook_token: webhookToken, pickup_location: 'Home' },
  });
  assert.equal(integ.status, 201, integ.info);
  const cust = await rest('POST', 'customers', {
    token: u.token, headers: REP, origin,
    body: { full_name: 'Asha Patil', phone_number: '+919812345678', email: 'asha@example.com', state_code: '27', address: '12 MG Road, Camp', city: 'Pune', pincode: '411001' },
  });
  assert.equal(cust.status, 201, cust.info);
  const prods = await rest('POST', 'products', {
    token: u.token, headers: REP, origin,
    body: [{ name: 'Atta 5kg', sku: 'ATTA5', hsn_code: '1101', gst_rate: 5, base_price: 250, current_stock: 100 },
      { name: 'Ghee', hsn_code: '0405', unit: 'kg', gst_rate: 12, base_price: 600, current_stock: 100 }],
  });
  assert.equal(prods.status, 201, prods.info);
  const invoice = async () => ok(rpc(u.token, 'create_invoice', {
    customer_id: cust.json[0].id,
    items: [{ product_id: prods.json[0].id, quantity: 2 }, { product_id: prods.json[1].id, quantity: 1.5 }],
  }, origin));
  return { ...u, integ: integ.json[0], webhookToken, customer: cust.json[0], invoice, email };
}

/** Creates a shipment, calling again after each failure until it answers 200 (at most n calls). */
async function createRetrying(b, invoiceId, n = 8, origin) {
  const answers = [];
  for (let i = 0; i < n; i++) {
    const r = await rpc(b.token, 'create_shipment', { invoice_id: invoiceId, ...DIMS }, origin);
    answers.push(r);
    if (r.status === 200) return { ship: r.json, answers };
  }
  assert.fail(`create_shipment never succeeded: ${answers.map((a) => a.info).join('\n')}`);
}

const shipmentRow = async (b, id) => (await rows('shipments', b.token, `select=*&id=eq.${id}`))[0];
const scansOf = async (b, id) => rows('shipment_scans', b.token, `select=*&shipment_id=eq.${id}&order=scanned_at.asc`);
const shipEvents = async (b, id) => rows('events', b.token, `select=event_type,entity_type,entity_id,payload&event_type=eq.shipment.updated&entity_id=eq.${id}&order=created_at.asc`);

before(async () => { await fake.listen(Number(process.env.MUNSHI_TEST_SR_PORT || 0)); });
after(async () => { await fake.close(); });

describe('create_shipment', () => {
  test('happy path: order, AWB, pickup, label, each stored; the order is built from the invoice', async () => {
    const b = await shop();
    const inv = await b.invoice();
    const before = fake.requests.length;
    const res = await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS });
    const s = await ok(res);
    assert.equal(s.status, 'pickup_scheduled');
    assert.equal(s.invoice_id, inv.id);
    assert.match(s.awb_number, /^7\d{13}$/);
    assert.equal(s.courier_name, 'Delhivery Surface');
    assert.equal(s.courier_id, '10');
    assert.match(s.label_url, /^https:\/\/labels\.example\.invalid\/\d+\.pdf$/);
    assert.equal(s.tracking_url, `https://shiprocket.co/tracking/${s.awb_number}`);
    assert.equal(s.last_error, null);
    assert.ok(s.sr_order_id && s.sr_shipment_id && s.pickup_scheduled_at, JSON.stringify(s));
    assert.equal(s.pickup_location, 'Home');
    // Exact decimals in the answer's text.
    assert.match(res.text, /"length_cm":20\.00,"breadth_cm":15\.50,"height_cm":10\.00,"weight_kg":1\.250/);

    const orders = fake.ordersFor(s.id);
    assert.equal(orders.length, 1, 'one order, the channel order id is the shipment id');
    const o = orders[0].body;
    assert.equal(o.billing_customer_name, 'Asha Patil');
    assert.equal(o.billing_city, 'Pune');
    assert.equal(o.billing_pincode, '411001');
    assert.equal(o.billing_state, 'Maharashtra');
    assert.equal(o.billing_phone, '9812345678');
    assert.equal(o.billing_email, 'asha@example.com');
    assert.equal(o.pickup_location, 'Home');
    assert.equal(o.payment_method, 'Prepaid');
    assert.equal(o.order_items.length, 2);
    assert.deepEqual(
      { name: o.order_items[0].name, sku: o.order_items[0].sku, units: o.order_items[0].units, hsn: o.order_items[0].hsn, tax: o.order_items[0].tax, price: o.order_items[0].selling_price },
      { name: 'Atta 5kg', sku: 'ATTA5', units: 2, hsn: '1101', tax: 5, price: 250 });
    // 1.5 kg of ghee: one unit worth the line (900.00), the quantity in its name.
    assert.equal(o.order_items[1].units, 1);
    assert.equal(o.order_items[1].selling_price, 900);
    assert.match(o.order_items[1].name, /^Ghee \(1\.500\)$/);
    assert.equal(o.sub_total, Number(inv.total_amount));
    assert.deepEqual([o.length, o.breadth, o.height, o.weight], [20, 15.5, 10, 1.25]);
    // Numbers went as JSON numbers with exact decimal text, never as strings.
    const raw = fake.requests.slice(before).find((r) => r.path.endsWith('/orders/create/adhoc')).raw.toString();
    assert.match(raw, /"sub_total":\d+\.\d{2}[,}]/);
    assert.match(raw, /"weight":1\.250[,}]/);

    const row = await shipmentRow(b, s.id);
    assert.equal(row.status, 'pickup_scheduled');
    assert.equal(row.provider, 'shiprocket');
    assert.equal(row.awb_number, s.awb_number);
    // A second create_shipment for the invoice is refused and makes nothing.
    expectPgError(await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }), 409, 'MU409');
    assert.equal(fake.ordersFor(s.id).length, 1);
  });

  test('bad arguments: 400, nothing written, nothing sent', async () => {
    const b = await shop();
    const inv = await b.invoice();
    const n = fake.requests.length;
    const bad = [
      { ...DIMS, invoice_id: 'nope' },
      { ...DIMS, invoice_id: inv.id, weight: -1 },
      { ...DIMS, invoice_id: inv.id, length: 1e3 },
      { ...DIMS, invoice_id: inv.id, height: 1.234 },
      { ...DIMS, invoice_id: inv.id, payment_method: 'cash' },
      { ...DIMS, invoice_id: inv.id, pickup_location: '' },
    ];
    for (const args of bad) expectPgError(await rpc(b.token, 'create_shipment', args), 400, 'MU400');
    expectPgError(await rpc(b.token, 'create_shipment', { ...DIMS, invoice_id: '0190b5a4-0000-7000-8000-000000000000' }), 404, 'MU404');
    assert.equal(fake.requests.length, n);
    assert.equal((await rows('shipments', b.token, 'select=id')).length, 0);
    const other = await shop();
    // Another business's invoice is not found.
    expectPgError(await rpc(other.token, 'create_shipment', { ...DIMS, invoice_id: inv.id }), 404, 'MU404');
  });

  test('a retry after a failure at each step makes exactly one Shiprocket order', async () => {
    const b = await shop();
    const inv = await b.invoice();
    fake.failEachStepOnce = true;
    fake.failed = new Set();
    try {
      const { ship, answers } = await createRetrying(b, inv.id);
      assert.equal(answers.length, 5, answers.map((a) => a.info).join('\n'));
      const steps = answers.slice(0, 4).map((a) => {
        expectPgError(a, 502, 'MU502');
        return /at the (\w+) step/.exec(a.json.message)[1];
      });
      assert.deepEqual(steps, ['order', 'awb', 'pickup', 'label']);
      assert.equal(fake.ordersFor(ship.id).length, 1);
      assert.equal(ship.status, 'pickup_scheduled');
      assert.ok(ship.label_url);
      assert.equal(ship.last_error, null);
    } finally {
      fake.failEachStepOnce = false;
    }
  });

  test('the failed step is kept in last_error until a retry passes it', async () => {
    const b = await shop();
    const inv = await b.invoice();
    fake.script['/courier/generate/pickup'] = [{ status: 400, body: { message: 'Pickup location is not verified', status_code: 400 } }];
    const r = await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS });
    expectPgError(r, 422, 'MU422P');
    assert.equal(r.json.details, 'Pickup location is not verified');
    const list = await rows('shipments', b.token, `select=*&invoice_id=eq.${inv.id}`);
    assert.equal(list.length, 1);
    assert.equal(list[0].status, 'awb_assigned');
    assert.equal(list[0].last_error.step, 'pickup');
    assert.equal(list[0].last_error.message, 'Pickup location is not verified');
    const s = await ok(rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }));
    assert.equal(s.id, list[0].id);
    assert.equal(s.awb_number, list[0].awb_number, 'the AWB is not assigned twice');
    assert.equal(fake.calls('/courier/assign/awb').filter((c) => String(c.json.shipment_id) === s.sr_shipment_id).length, 1);
  });

  test('a retry does not move back a status that tracking moved on meanwhile', async () => {
    const b = await shop();
    const inv = await b.invoice();
    fake.script['/courier/generate/label'] = [{ status: 503, body: { message: 'busy' } }, { status: 503 }, { status: 503 }];
    expectPgError(await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }), 502, 'MU502');
    const [row] = await rows('shipments', b.token, `select=*&invoice_id=eq.${inv.id}`);
    assert.equal(row.status, 'pickup_scheduled');
    const r = await hook(`/webhooks/shiprocket/${b.integ.id}`, b.webhookToken, webhookPayload(row.awb_number, 42, [scan(42, new Date())]));
    assert.equal(r.status, 200, r.info);
    const s = await ok(rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }));
    assert.ok(s.label_url);
    assert.equal(s.status, 'picked_up');
  });

  test('an order whose answer was lost is found, not made again', async () => {
    const b = await shop();
    const inv = await b.invoice();
    fake.script['/orders/create/adhoc'] = [{ dropAfter: true }];
    const r = await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS });
    expectPgError(r, 502, 'MU502');
    const [row] = await rows('shipments', b.token, `select=*&invoice_id=eq.${inv.id}`);
    assert.equal(row.status, 'pending');
    assert.equal(row.sr_order_id, null);
    assert.equal(fake.ordersFor(row.id).length, 1, 'Shiprocket made the order');
    const searches = fake.calls('/orders').length;
    const s = await ok(rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }));
    assert.equal(fake.calls('/orders').length, searches + 1, 'it searched for the order first');
    assert.equal(fake.ordersFor(row.id).length, 1, 'and made no second one');
    assert.equal(s.sr_order_id, String(fake.ordersFor(row.id)[0].id));
    assert.ok(s.label_url);
  });

  test('422 field errors are shown as such and stored; fixing the data and retrying works', async () => {
    const b = await shop();
    const inv = await b.invoice();
    fake.refusePincode = '411001';
    let r;
    try {
      r = await rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS });
    } finally {
      fake.refusePincode = null;
    }
    expectPgError(r, 422, 'MU422P');
    assert.equal(r.json.details, 'Oops! Invalid Data.');
    assert.deepEqual(JSON.parse(r.json.hint), { billing_pincode: ['Delivery pincode is not serviceable.'] });
    const [row] = await rows('shipments', b.token, `select=*&invoice_id=eq.${inv.id}`);
    assert.equal(row.last_error.step, 'order');
    assert.equal(row.last_error.status, 422);
    assert.deepEqual(row.last_error.errors, { billing_pincode: ['Delivery pincode is not serviceable.'] });
    const s = await ok(rpc(b.token, 'create_shipment', { invoice_id: inv.id, ...DIMS }));
    assert.equal(fake.ordersFor(s.id).length, 1);
  });

  test('the token is kept between calls, and made again once when Shiprocket answers 401', async () => {
    const b = await shop();
    const inv1 = await b.invoice();
    const inv2 = await b.invoice();
    const logins = fake.logins();
    const s1 = await ok(rpc(b.token, 'create_shipment', { invoice_id: inv1.id, ...DIMS }));
    assert.equal(fake.logins(), logins + 1);
    await ok(rpc(b.token, 'create_shipment', { invoice_id: inv2.id, ...DIMS }));
    assert.equal(fake.logins(), logins + 1, 'the stored token was used again');
    fake.expireTokens();
    fake.track(s1.awb_number, 42);
    const t = await ok(rpc(b.token, 'track_shipment', { shipment_id: s1.id }));
    assert.equal(t.status, 'picked_up');
    assert.equal(fake.logins(), logins + 2, 'one new login after the 401');
    // Wrong credentials: the login is refused and said so.
    fake.accounts[b.email] = 'changed';
    fake.expireTokens();
    const r = await rpc(b.token, 'track_shipment', { shipment_id: s1.id });
    expectPgError(r, 422, 'MU422P');
    assert.match(r.json.details, /refused the login/);
  });

  test('no Shiprocket integration: 409, nothing sent', async () => {
    const u = await signup();
    const n = fake.requests.length;
    expectPgError(await rpc(u.token, 'create_shipment', { invoice_id: '0190b5a4-0000-7000-8000-000000000000', ...DIMS }), 409, 'MU409');
    assert.equal(fake.requests.length, n);
  });
});

describe('tracking', () => {
  let b;
  let s;
  before(async () => {
    b = await shop();
    s = await ok(rpc(b.token, 'create_shipment', { invoice_id: (await b.invoice()).id, ...DIMS }));
  });

  test('webhook: a missing or wrong x-api-key is 401 and writes nothing', async () => {
    const t0 = new Date(Date.now() - 3600e3);
    const body = webhookPayload(s.awb_number, 18, [scan(18, t0)]);
    for (const path of [`/webhooks/shiprocket/${b.integ.id}`, '/webhooks/shiprocket', `/webhooks/courier/${b.integ.id}`]) {
      expectPgError(await hook(path, null, body), 401, 'PGRST302');
      expectPgError(await hook(path, 'x'.repeat(36), body), 401, 'PGRST302');
      expectPgError(await hook(path, `${b.webhookToken}x`, body), 401, 'PGRST302');
    }
    // Another business's token does not open this one's integration.
    const other = await shop();
    expectPgError(await hook(`/webhooks/shiprocket/${b.integ.id}`, other.webhookToken, body), 401, 'PGRST302');
    expectPgError(await hook('/webhooks/shiprocket', other.webhookToken, body), 401, 'PGRST302');
    assert.equal((await scansOf(b, s.id)).length, 0);
    assert.equal((await shipmentRow(b, s.id)).status, 'pickup_scheduled');
    assert.equal((await shipEvents(b, s.id)).length, 0);
  });

  test('webhook: scans stored once, status forward only, shipment.updated with the snapshot', async () => {
    const t = (h) => new Date(Date.now() - h * 3600e3);
    const path = `/webhooks/shiprocket/${b.integ.id}`;
    const first = webhookPayload(s.awb_number, 18, [scan(18, t(5), 'In transit', 'PUNE HUB'), scan(42, t(6), 'Picked up')]);
    let r = await hook(path, b.webhookToken, first);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.changed, true);
    // The same delivery again: nothing new.
    r = await hook(path, b.webhookToken, first);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.changed, false);
    assert.equal((await scansOf(b, s.id)).length, 2);
    // Through the alias without the id, and on to delivered.
    const deliveredScans = [scan(7, t(1), 'Delivered', 'PUNE'), scan(17, t(3), 'Out for delivery', 'PUNE'), ...first.scans];
    r = await hook('/webhooks/courier', b.webhookToken, webhookPayload(s.awb_number, 7, deliveredScans));
    assert.equal(r.status, 200, r.info);
    // A late in-transit update: its scan is kept, the status stays delivered.
    r = await hook(path, b.webhookToken, webhookPayload(s.awb_number, 18, [scan(18, t(2), 'Reached hub', 'PUNE')]));
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.changed, false);
    const row = await shipmentRow(b, s.id);
    assert.equal(row.status, 'delivered');
    assert.equal(row.status_code, 7);
    assert.ok(row.delivered_at && row.shipped_at);
    const scans = await scansOf(b, s.id);
    assert.deepEqual(scans.map((x) => x.activity), ['Picked up', 'In transit', 'Out for delivery', 'Reached hub', 'Delivered']);
    const ev = await shipEvents(b, s.id);
    assert.deepEqual(ev.map((e) => [e.payload.previous_status, e.payload.status]),
      [['pickup_scheduled', 'in_transit'], ['in_transit', 'delivered']]);
    const p = ev[1].payload;
    assert.equal(ev[1].entity_type, 'shipment');
    assert.deepEqual(Object.keys(p).sort(), ['awb_number', 'courier_name', 'id', 'invoice_id', 'previous_status', 'scan', 'status', 'status_code', 'tracking_url'].sort());
    assert.equal(p.id, s.id);
    assert.equal(p.invoice_id, s.invoice_id);
    assert.equal(p.awb_number, s.awb_number);
    assert.equal(p.status_code, 7);
    assert.equal(p.scan.activity, 'Delivered');
    assert.equal(p.scan.location, 'PUNE');
    assert.equal(new Date(p.scan.scanned_at).getTime(), Math.floor(t(1).getTime() / 1000) * 1000);
  });

  test('webhook: malformed bodies are refused; an unknown AWB is taken and ignored', async () => {
    const path = `/webhooks/shiprocket/${b.integ.id}`;
    for (const body of ['not json', '[]', '{"awb": {}}', JSON.stringify(webhookPayload('bad awb!', 18)), JSON.stringify({ ...webhookPayload(s.awb_number, 18), scans: 'x' })]) {
      expectPgError(await hook(path, b.webhookToken, body), 400);
    }
    const r = await hook(path, b.webhookToken, webhookPayload('99999999999', 18, [scan(18, new Date())]));
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.applied, false);
    // Without :id, an unknown AWB is refused as a wrong token is, byte for
    // byte: the answer tells a stranger nothing about which AWBs exist.
    const unknown = await hook('/webhooks/shiprocket', 'y'.repeat(32), webhookPayload('99999999999', 18, [scan(18, new Date())]));
    const known = await hook('/webhooks/shiprocket', 'y'.repeat(32), webhookPayload(s.awb_number, 18, [scan(18, new Date())]));
    expectPgError(unknown, 401, 'PGRST302');
    expectPgError(known, 401, 'PGRST302');
    assert.equal(unknown.text, known.text);
  });

  test('track_shipment polls Shiprocket and applies what it says', async () => {
    const c = await ok(rpc(b.token, 'create_shipment', { invoice_id: (await b.invoice()).id, ...DIMS }));
    let t = await ok(rpc(b.token, 'track_shipment', { shipment_id: c.id }));
    assert.equal(t.status, 'pickup_scheduled', 'no activity yet: nothing changes');
    fake.track(c.awb_number, 42, { at: new Date(Date.now() - 7200e3) });
    fake.track(c.awb_number, 17, { at: new Date(Date.now() - 600e3) });
    t = await ok(rpc(b.token, 'track_shipment', { shipment_id: c.id }));
    assert.equal(t.status, 'out_for_delivery');
    assert.ok(t.etd && t.last_tracked_at);
    assert.equal((await scansOf(b, c.id)).length, 2);
    await ok(rpc(b.token, 'track_shipment', { shipment_id: c.id }));
    assert.equal((await scansOf(b, c.id)).length, 2, 'scans once');
    expectPgError(await rpc(b.token, 'track_shipment', { shipment_id: 'x' }), 400, 'MU400');
    const other = await shop();
    expectPgError(await rpc(other.token, 'track_shipment', { shipment_id: c.id }), 404, 'MU404');
  });
});

describe('the tracking job', () => {
  let srv;
  let dbh;
  before(async () => {
    dbh = freshDatabase();
    srv = await startMunshi(dbh.url, { MUNSHI_SHIPMENT_TRACK_EVERY_S: '10' });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (dbh) dbh.drop();
  });

  test('polls open shipments without webhooks and moves them on', async () => {
    const b = await shop(srv.origin);
    const s = await ok(rpc(b.token, 'create_shipment', { invoice_id: (await b.invoice()).id, ...DIMS }, srv.origin));
    fake.track(s.awb_number, 18, { at: new Date(Date.now() - 60e3) });
    const row = await eventually(async () => {
      const r = await rest('GET', `shipments?select=*&id=eq.${s.id}`, { token: b.token, origin: srv.origin });
      return r.json[0].status === 'in_transit' ? r.json[0] : null;
    }, 'the job to track the shipment', 40000, 500);
    assert.ok(row.last_tracked_at);
    assert.ok(fake.requests.some((r) => r.path.endsWith(`/courier/track/awb/${s.awb_number}`)));
  });
});
