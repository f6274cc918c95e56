// auth.test.mjs - /auth/v1, the GoTrue subset: signup, password and
// refresh-token grants, user, logout, error shapes, JWT claims, and the
// failed-login rate limit.
//
// Failed logins are rate limited per email and per client address (5 per
// 300 s by default). So that this file never locks out 127.0.0.1 (which the
// other files sign in from), every failed login here is sent from another
// loopback source address (127.x.y.z, random per run), and all of them
// come last.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import {
  ANON_KEY, JWT_SECRET, SERVICE_KEY, UUID_RE, auth, decodeJwt, expectAuthError, now,
  randomEmail, randomLoopback, randomPassword, rest, signup, suffix,
} from './lib.mjs';

const login = (email, password, localAddress) =>
  auth('POST', 'token?grant_type=password', { body: { email, password }, localAddress });
const refresh = (refresh_token) =>
  auth('POST', 'token?grant_type=refresh_token', { body: { refresh_token } });

test('signup answers a session: access_token, bearer, expires_in, refresh_token, user', async () => {
  const email = randomEmail('signup');
  const r = await auth('POST', 'signup', {
    body: { email, password: randomPassword(), data: { business_name: 'Sharma Traders' } },
  });
  assert.ok(r.status === 200 || r.status === 201, r.info);
  const s = r.json;
  assert.equal(typeof s.access_token, 'string', r.info);
  assert.equal(s.access_token.split('.').length, 3, r.info);
  assert.equal(s.token_type, 'bearer', r.info);
  assert.equal(typeof s.expires_in, 'number', r.info);
  assert.ok(s.expires_in > 0, r.info);
  assert.equal(typeof s.refresh_token, 'string', r.info);
  assert.ok(s.refresh_token.length >= 8, r.info);
  assert.ok(s.user && UUID_RE.test(s.user.id), r.info);
  assert.equal(s.user.email, email, r.info);
});

test('access token: HS256 over the secret, with Supabase claims', async () => {
  const u = await signup();
  const { header, payload, signature } = decodeJwt(u.token);
  assert.equal(header.alg, 'HS256');
  const [h, p] = u.token.split('.');
  const want = createHmac('sha256', JWT_SECRET).update(`${h}.${p}`).digest('base64url');
  assert.equal(signature, want, 'signature is not HMAC-SHA256 of the token with MUNSHI_JWT_SECRET');
  assert.equal(payload.sub, u.userId);
  assert.equal(payload.role, 'authenticated');
  assert.equal(payload.aud, 'authenticated');
  assert.equal(payload.email, u.email);
  assert.ok(UUID_RE.test(payload.session_id), `session_id: ${payload.session_id}`);
  assert.ok(Number.isInteger(payload.iat) && Number.isInteger(payload.exp), JSON.stringify(payload));
  assert.ok(Math.abs(payload.iat - now()) <= 120, `iat ${payload.iat} is not now (${now()})`);
  assert.ok(payload.exp > now(), 'exp is in the past');
  assert.ok(Math.abs(payload.exp - payload.iat - u.session.expires_in) <= 2,
    `exp - iat = ${payload.exp - payload.iat}, expires_in = ${u.session.expires_in}`);
});

test('API keys are HS256 JWTs with roles anon and service_role', () => {
  for (const [key, role] of [[ANON_KEY, 'anon'], [SERVICE_KEY, 'service_role']]) {
    const { header, payload, signature } = decodeJwt(key);
    assert.equal(header.alg, 'HS256');
    assert.equal(payload.role, role);
    const [h, p] = key.split('.');
    assert.equal(signature, createHmac('sha256', JWT_SECRET).update(`${h}.${p}`).digest('base64url'),
      `${role} key is not signed with MUNSHI_JWT_SECRET`);
  }
});

test('signup creates the profile with the data given', async () => {
  const wa = `+9198${String(Date.now()).slice(-8)}`;
  // A Karnataka GSTIN with its mod-36 check character: the state code of
  // the profile follows from it.
  const gst = '29ABCDE1234F1ZW';
  const u = await signup({ data: { business_name: 'Kirana Corner', whatsapp_number: wa, gst_number: gst } });
  const r = await rest('GET', 'profiles?select=*', { token: u.token });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.json.length, 1, r.info);
  const p = r.json[0];
  assert.equal(p.id, u.userId, r.info);
  assert.equal(p.business_name, 'Kirana Corner', r.info);
  assert.equal(p.whatsapp_number, wa, r.info);
  assert.equal(p.gst_number, gst, r.info);
  assert.equal(p.state_code, '29', r.info);
});

test('signup refuses a GSTIN with a wrong check character and a number that is no phone', async () => {
  const bad = await auth('POST', 'signup', { body: { email: randomEmail('gst'), password: randomPassword(), data: { gst_number: '29ABCDE1234F1Z5' } } });
  assert.equal(bad.status, 400, bad.info);
  assert.match(bad.json.error_description, /check character/);
  const wa = await auth('POST', 'signup', { body: { email: randomEmail('wa'), password: randomPassword(), data: { whatsapp_number: 'call me' } } });
  assert.equal(wa.status, 400, wa.info);
});

const badSignups = [
  { name: 'password under 8 characters', body: () => ({ email: randomEmail('short'), password: 'Ab1!xyz' }), status: 422 },
  { name: 'empty password', body: () => ({ email: randomEmail('empty'), password: '' }), status: [400, 422] },
  { name: 'no password', body: () => ({ email: randomEmail('nopw') }), status: [400, 422] },
  { name: 'no email', body: () => ({ password: randomPassword() }), status: [400, 422] },
  { name: 'email without @', body: () => ({ email: `nobody-${suffix()}`, password: randomPassword() }), status: [400, 422] },
  { name: 'email is a number', body: () => ({ email: 12345, password: randomPassword() }), status: [400, 422] },
];
for (const c of badSignups) {
  test(`signup refused: ${c.name}`, async () => {
    const r = await auth('POST', 'signup', { body: c.body() });
    expectAuthError(r, c.status);
  });
}

test('signup with a taken email -> 422, also in other letter case', async () => {
  const u = await signup();
  const again = await auth('POST', 'signup', { body: { email: u.email, password: randomPassword() } });
  expectAuthError(again, 422);
  const upper = await auth('POST', 'signup', { body: { email: u.email.toUpperCase(), password: randomPassword() } });
  expectAuthError(upper, 422);
});

test('signup with a whatsapp_number another business has -> 4xx, and no half-made account', async () => {
  const wa = `+9197${String(Date.now()).slice(-8)}`;
  await signup({ data: { business_name: 'First', whatsapp_number: wa } });
  const email = randomEmail('wa-dup');
  const r = await auth('POST', 'signup', { body: { email, password: randomPassword(), data: { business_name: 'Second', whatsapp_number: wa } } });
  assert.ok(r.status >= 400 && r.status < 500, `a taken whatsapp_number should be a clear 4xx: ${r.info}`);
  assert.equal(typeof r.json?.error, 'string', r.info);
  // The email was not taken by a user without a profile.
  const again = await signup({ email, data: { business_name: 'Second' } });
  const p = await rest('GET', 'profiles?select=id,business_name', { token: again.token });
  assert.deepEqual(p.json, [{ id: again.userId, business_name: 'Second' }], p.info);
});

test('concurrent signups with one email: exactly one succeeds, the others 422', async () => {
  const email = randomEmail('race');
  const rs = await Promise.all(Array.from({ length: 4 }, () =>
    auth('POST', 'signup', { body: { email, password: randomPassword() } })));
  const all = rs.map((r) => r.info).join('\n');
  assert.equal(rs.filter((r) => r.status === 200 || r.status === 201).length, 1, all);
  for (const r of rs) if (r.status !== 200 && r.status !== 201) expectAuthError(r, 422);
});

test('concurrent refreshes of one token: exactly one succeeds', async () => {
  const u = await signup();
  const rs = await Promise.all(Array.from({ length: 5 }, () => refresh(u.refreshToken)));
  const ok = rs.filter((r) => r.status === 200);
  assert.equal(ok.length, 1, `a refresh token was good more than once (or never): ${rs.map((r) => r.info).join('\n')}`);
  for (const r of rs) if (r.status !== 200) expectAuthError(r, 400, 'invalid_grant');
});

test('refresh with a made-up token -> 400', async () => {
  const r = await refresh(`nope-${suffix()}`);
  expectAuthError(r, 400);
  const empty = await refresh('');
  expectAuthError(empty, 400);
});

test('GET /auth/v1/user with a token -> the user', async () => {
  const u = await signup();
  const r = await auth('GET', 'user', { token: u.token });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.json.id, u.userId, r.info);
  assert.equal(r.json.email, u.email, r.info);
});

test('GET /auth/v1/user without a token -> 401', async () => {
  const r = await auth('GET', 'user', {});
  expectAuthError(r, 401);
});

test('GET /auth/v1/user with a garbage or anon token -> 401/403', async () => {
  for (const t of ['garbage', 'a.b.c', ANON_KEY]) {
    const r = await auth('GET', 'user', { token: t });
    expectAuthError(r, [401, 403]);
  }
});

test('logout -> 204, then the session\'s refresh token is refused', async () => {
  const u = await signup();
  const out = await auth('POST', 'logout', { token: u.token });
  assert.equal(out.status, 204, out.info);
  assert.equal(out.text, '', out.info);
  const r = await refresh(u.refreshToken);
  expectAuthError(r, 400);
});

test('logout revokes only that session', async () => {
  const u = await signup();
  const other = await login(u.email, u.password);
  assert.equal(other.status, 200, other.info);
  const out = await auth('POST', 'logout?scope=local', { token: u.token });
  assert.equal(out.status, 204, out.info);
  const r = await refresh(other.json.refresh_token);
  assert.equal(r.status, 200, `a local logout revoked another session: ${r.info}`);
});

test('logout without a token -> 401', async () => {
  const r = await auth('POST', 'logout', {});
  expectAuthError(r, [401, 403]);
});

// ---- failed logins, last, from other loopback addresses -------------------

test('wrong password and unknown email -> the same 400 invalid_grant', async () => {
  const u = await signup();
  const wrong = await login(u.email, `${u.password}x`, randomLoopback());
  expectAuthError(wrong, 400, 'invalid_grant');
  const unknown = await login(randomEmail('ghost'), u.password, randomLoopback());
  expectAuthError(unknown, 400, 'invalid_grant');
  assert.deepEqual(unknown.json, wrong.json, 'unknown email and wrong password must look alike');
});

test('a refused signup (short password) left no account behind', async () => {
  const email = randomEmail('shortpw');
  const r = await auth('POST', 'signup', { body: { email, password: 'short' } });
  expectAuthError(r, 422);
  const l = await login(email, 'short', randomLoopback());
  expectAuthError(l, 400, 'invalid_grant');
  // The email is still free.
  const ok = await signup({ email });
  assert.ok(UUID_RE.test(ok.userId));
});

test('failed logins are rate limited per email (429), even with the right password then', async () => {
  const u = await signup();
  const statuses = [];
  let limited;
  for (let i = 0; i < 10; i++) {
    // A different source address each time: only the per-email count grows.
    const r = await login(u.email, `wrong-${i}-password`, randomLoopback());
    statuses.push(r.status);
    if (r.status === 429) { limited = r; break; }
    expectAuthError(r, 400, 'invalid_grant');
  }
  assert.ok(limited, `no 429 after 10 wrong passwords for one email: ${statuses.join(',')}`);
  assert.ok(statuses.length >= 4, `limited too early: ${statuses.join(',')}`);
  expectAuthError(limited, 429);
  const right = await login(u.email, u.password, randomLoopback());
  expectAuthError(right, 429);
});

test('failed logins are rate limited per address (429); other addresses unaffected', async () => {
  const v = await signup();
  const addr = randomLoopback();
  const statuses = [];
  let limited;
  for (let i = 0; i < 10; i++) {
    const r = await login(randomEmail('spray'), 'wrong-password', addr);
    statuses.push(r.status);
    if (r.status === 429) { limited = r; break; }
    expectAuthError(r, 400, 'invalid_grant');
  }
  assert.ok(limited, `no 429 after 10 failed logins from one address: ${statuses.join(',')}`);
  assert.ok(statuses.length >= 4, `limited too early: ${statuses.join(',')}`);
  expectAuthError(limited, 429);
  const blocked = await login(v.email, v.password, addr);
  expectAuthError(blocked, 429);
  const elsewhere = await login(v.email, v.password, randomLoopback());
  assert.equal(elsewhere.status, 200, `the limit of one address hit another: ${elsewhere.info}`);
});
