// integrations_rest.test.mjs - the integrations table over REST (migration
// 0011): secrets (password, webhook_token, key_secret, webhook_secret) are
// write-only — null on every read, in the insert's representation and in
// the live feed, never their bytes on the wire; validation messages; one
// integration per provider per business; tenancy; and customers' city and
// pincode.
import assert from 'node:assert/strict';
import http from 'node:http';
import { randomBytes } from 'node:crypto';
import { before, test } from 'node:test';

import { ANON_KEY, BASE, expectPgError, rest, rows, signup, suffix } from './lib.mjs';

const REP = { Prefer: 'return=representation' };
let A;
let B;

before(async () => {
  A = await signup();
  B = await signup();
});

const secret = (tag) => `${tag}-${randomBytes(12).toString('hex')}`;

/** The live feed's raw bytes for table while fn runs (SSE, token in the header). */
async function feedDuring(token, table, fn, waitFor) {
  const base = new URL(BASE);
  let raw = '';
  const req = http.request({
    host: base.hostname, port: base.port, method: 'GET', agent: false, path: `/realtime/v1/sse?tables=${table}`,
    headers: { Accept: 'text/event-stream', apikey: ANON_KEY, Authorization: `Bearer ${token}` },
  });
  const opened = new Promise((resolve, reject) => {
    req.on('error', reject);
    req.on('response', (res) => {
      assert.equal(res.statusCode, 200);
      res.setEncoding('utf8');
      res.on('data', (d) => { raw += d; });
      resolve();
    });
  });
  req.end();
  await opened;
  try {
    await fn();
    const end = Date.now() + 10000;
    while (!waitFor(raw) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
  } finally {
    req.destroy();
  }
  return raw;
}

test('secrets are write-only: null on read, in the representation and in the live feed', async () => {
  const pw = secret('pw');
  const tok = secret('tok');
  let made;
  const raw = await feedDuring(A.token, 'integrations', async () => {
    made = await rest('POST', 'integrations', {
      token: A.token, headers: REP,
      body: { provider: 'shiprocket', email: 'api@shop.example', password: pw, webhook_token: tok, pickup_location: 'Home' },
    });
    assert.equal(made.status, 201, made.info);
    const p = await rest('PATCH', `integrations?id=eq.${made.json[0].id}`, { token: A.token, headers: REP, body: { password: `${pw}2` } });
    assert.equal(p.status, 200, p.info);
    assert.equal(p.json[0].password, null);
    assert.ok(!p.text.includes(pw));
  }, (r) => (r.match(/"type":"UPDATE"/g) || []).length >= 1);
  const row = made.json[0];
  assert.equal(row.provider, 'shiprocket');
  assert.equal(row.email, 'api@shop.example');
  assert.equal(row.password, null);
  assert.equal(row.webhook_token, null);
  assert.ok(!made.text.includes(pw) && !made.text.includes(tok), 'a secret came back');
  const [read] = await rows('integrations', A.token, `select=*&id=eq.${row.id}`);
  assert.equal(read.password, null);
  assert.equal(read.webhook_token, null);
  assert.equal(read.pickup_location, 'Home');
  assert.match(raw, /"table":"integrations"/, `the feed carried the change: ${raw.slice(0, 400)}`);
  assert.ok(!raw.includes(pw) && !raw.includes(tok), 'a secret went out on the live feed');
  // A secret cannot be probed with a filter either.
  const probe = await rest('GET', `integrations?select=id&password=eq.${pw}2`, { token: A.token });
  assert.ok(probe.status >= 400 || (Array.isArray(probe.json) && probe.json.length === 0), probe.info);
});

test('validation: clear messages, nothing written', async () => {
  const u = await signup();
  const cases = [
    [{ provider: 'shiprocket', email: 'a@b.example', password: 'x', webhook_token: 'short' }, /webhook_token must be at least 16/],
    [{ provider: 'shiprocket', email: 'not-an-email', password: 'x' }, /email must be/],
    [{ provider: 'shiprocket', password: 'x' }, /email/],
    [{ email: 'a@b.example', password: 'x' }, /provider is required/],
    [{ provider: 'shiprocket', email: 'a@b.example', password: 'x', key_secret: 'k' }, /razorpay/],
    [{ provider: 'razorpay', key_id: 'nope', key_secret: 'k' }, /key_id must be a Razorpay key id/],
    [{ provider: 'fedex', email: 'a@b.example', password: 'x' }, /provider|check/i],
  ];
  for (const [body, re] of cases) {
    const r = await rest('POST', 'integrations', { token: u.token, body });
    expectPgError(r, 400);
    assert.match(`${r.json.message} ${r.json.details}`, re, r.info);
  }
  assert.equal((await rows('integrations', u.token)).length, 0);
});

test('one integration per provider per business; each business its own', async () => {
  const u = await signup();
  const body = { provider: 'shiprocket', email: 'a@b.example', password: 'x' };
  const first = await rest('POST', 'integrations', { token: u.token, headers: REP, body });
  assert.equal(first.status, 201, first.info);
  const again = await rest('POST', 'integrations', { token: u.token, body });
  expectPgError(again, 409, '23505');
  assert.match(again.json.message, /integration of this provider already/);
  const other = await signup();
  assert.equal((await rest('POST', 'integrations', { token: other.token, body })).status, 201);
  const rz = await rest('POST', 'integrations', { token: u.token, body: { provider: 'razorpay', key_id: `rzp_test_${suffix()}`.slice(0, 30), key_secret: 'k', webhook_secret: 'w' } });
  assert.equal(rz.status, 201, rz.info);
  assert.equal((await rows('integrations', u.token)).length, 2);
});

test("tenancy: another business's integration cannot be read, changed or deleted", async () => {
  const [mine] = (await rest('POST', 'integrations', {
    token: B.token, headers: REP, body: { provider: 'shiprocket', email: 'b@b.example', password: 'x' },
  })).json;
  assert.ok(mine && mine.id);
  assert.equal((await rows('integrations', A.token, `select=id&id=eq.${mine.id}`)).length, 0);
  const p = await rest('PATCH', `integrations?id=eq.${mine.id}`, { token: A.token, headers: REP, body: { email: 'evil@x.example' } });
  assert.ok(p.status === 200 || p.status === 204 || p.status === 404, p.info);
  if (p.status === 200) assert.deepEqual(p.json, []);
  const d = await rest('DELETE', `integrations?id=eq.${mine.id}`, { token: A.token, headers: REP });
  assert.ok(d.status === 200 || d.status === 204 || d.status === 404, d.info);
  const [still] = await rows('integrations', B.token, `select=email&id=eq.${mine.id}`);
  assert.equal(still.email, 'b@b.example');
  // Anonymous callers see nothing.
  const anon = await rest('GET', 'integrations?select=id');
  assert.ok(anon.status === 401 || (anon.status === 200 && anon.json.length === 0), anon.info);
});

test('customers: city and pincode are validated', async () => {
  const u = await signup();
  for (const pincode of ['012345', '41100', '4110011', 'abcdef', '41 001']) {
    const r = await rest('POST', 'customers', { token: u.token, body: { full_name: 'X', pincode } });
    expectPgError(r, 400);
    assert.match(r.json.message, /pincode must be a six-digit PIN code/, r.info);
  }
  const empty = await rest('POST', 'customers', { token: u.token, body: { full_name: 'X', city: '' } });
  expectPgError(empty, 400);
  assert.match(empty.json.message, /city cannot be empty/);
  expectPgError(await rest('POST', 'customers', { token: u.token, body: { full_name: 'X', city: 'c'.repeat(101) } }), 400);
  assert.equal((await rows('customers', u.token)).length, 0);
  const ok = await rest('POST', 'customers', { token: u.token, headers: REP, body: { full_name: 'Asha', city: 'Pune', pincode: '411001' } });
  assert.equal(ok.status, 201, ok.info);
  assert.equal(ok.json[0].city, 'Pune');
  assert.equal(ok.json[0].pincode, '411001');
  const bad = await rest('PATCH', `customers?id=eq.${ok.json[0].id}`, { token: u.token, body: { pincode: '000000' } });
  expectPgError(bad, 400);
  assert.equal((await rows('customers', u.token, 'select=pincode'))[0].pincode, '411001');
});
