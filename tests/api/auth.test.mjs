// auth.test.mjs - /auth/v1, the GoTrue subset: signup, password and
// refresh-token grants, user, logout, error shapes, JWT claims, and the
// attempt limits.
//
// The server runs with its default limits (docs/deploy.md): failed logins
// per email from one address (5) and per address (20), signup attempts per
// address (10), then waits from 30 s that double. So that this file never
// uses up 127.0.0.1's allowance (which the other files, and supabase-js,
// send from), every signup and every failed login here is sent from another
// loopback source address (127.x.y.z, random per call), and the tests that
// hit a limit come last.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';

import {
  ANON_KEY, JWT_SECRET, SERVICE_KEY, UUID_RE, auth, decodeJwt, expectAuthError, now,
  randomEmail, randomLoopback, randomPassword, rest, signup, suffix,
} from './lib.mjs';

const login = (email, password, localAddress) =>
  auth('POST', 'token?grant_type=password', { body: { email, password }, localAddress });
// Every signup from its own address unless one is given (see above).
const signupAt = (body, localAddress = randomLoopback()) =>
  auth('POST', 'signup', { body, localAddress });
const refresh = (refresh_token) =>
  auth('POST', 'token?grant_type=refresh_token', { body: { refresh_token } });

test('signup answers a session: access_token, bearer, expires_in, refresh_token, user', async () => {
  const email = randomEmail('signup');
  const r = await signupAt({ email, password: randomPassword(), data: { business_name: 'Sharma Traders' } });
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
  const bad = await signupAt({ email: randomEmail('gst'), password: randomPassword(), data: { gst_number: '29ABCDE1234F1Z5' } });
  assert.equal(bad.status, 400, bad.info);
  assert.match(bad.json.error_description, /check character/);
  const wa = await signupAt({ email: randomEmail('wa'), password: randomPassword(), data: { whatsapp_number: 'call me' } });
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
    const r = await signupAt(c.body());
    expectAuthError(r, c.status);
  });
}

test('signup with a taken email -> 422, also in other letter case', async () => {
  const u = await signup();
  const again = await signupAt({ email: u.email, password: randomPassword() });
  expectAuthError(again, 422);
  const upper = await signupAt({ email: u.email.toUpperCase(), password: randomPassword() });
  expectAuthError(upper, 422);
});

test('signup with a whatsapp_number another business has -> 4xx, and no half-made account', async () => {
  const wa = `+9197${String(Date.now()).slice(-8)}`;
  await signup({ data: { business_name: 'First', whatsapp_number: wa } });
  const email = randomEmail('wa-dup');
  const r = await signupAt({ email, password: randomPassword(), data: { business_name: 'Second', whatsapp_number: wa } });
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
    signupAt({ email, password: randomPassword() })));
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
  const r = await signupAt({ email, password: 'short' });
  expectAuthError(r, 422);
  const l = await login(email, 'short', randomLoopback());
  expectAuthError(l, 400, 'invalid_grant');
  // The email is still free.
  const ok = await signup({ email });
  assert.ok(UUID_RE.test(ok.userId));
});

function expectLimited(r) {
  expectAuthError(r, 429, 'over_request_rate_limit');
  const retry = Number(r.header('retry-after'));
  assert.ok(Number.isInteger(retry) && retry > 0 && retry <= 900, `Retry-After: ${r.header('retry-after')}: ${r.info}`);
  return retry;
}

// Finding 2: failures count per (email, address), not per email.
test('an attacker\'s failed logins at one address do not lock the user out at another', async () => {
  const u = await signup();
  const attacker = randomLoopback();
  const statuses = [];
  let limited;
  for (let i = 0; i < 10; i++) {
    const r = await login(u.email, `wrong-${i}-password`, attacker);
    statuses.push(r.status);
    if (r.status === 429) { limited = r; break; }
    expectAuthError(r, 400, 'invalid_grant');
  }
  assert.ok(limited, `no 429 after 10 wrong passwords from one address: ${statuses.join(',')}`);
  assert.equal(statuses.length, 6, `the 6th attempt should wait: ${statuses.join(',')}`);
  const wait = expectLimited(limited);
  assert.ok(wait >= 28 && wait <= 30, `the first wait is 30 s: ${limited.info}`);
  // At the attacker's address even the right password waits now ...
  expectLimited(await login(u.email, u.password, attacker));
  // ... but the user, from anywhere else, signs in.
  const user = await login(u.email, u.password, randomLoopback());
  assert.equal(user.status, 200, `the user was locked out by someone else's failures: ${user.info}`);
});

test('failed logins are rate limited per address across emails (429); other addresses unaffected', async () => {
  const v = await signup();
  const addr = randomLoopback();
  const statuses = [];
  let limited;
  for (let i = 0; i < 30; i++) {
    const r = await login(randomEmail('spray'), 'wrong-password', addr);
    statuses.push(r.status);
    if (r.status === 429) { limited = r; break; }
    expectAuthError(r, 400, 'invalid_grant');
  }
  assert.ok(limited, `no 429 after 30 failed logins from one address: ${statuses.join(',')}`);
  assert.equal(statuses.length, 21, `the 21st failure should wait: ${statuses.join(',')}`);
  expectLimited(limited);
  expectLimited(await login(v.email, v.password, addr));
  const elsewhere = await login(v.email, v.password, randomLoopback());
  assert.equal(elsewhere.status, 200, `the limit of one address hit another: ${elsewhere.info}`);
});

// Finding 1: signups are limited per address.
test('repeated signups from one address get 429 with Retry-After, and create nothing then', async () => {
  const addr = randomLoopback();
  const statuses = [];
  let limited;
  let limitedEmail;
  for (let i = 0; i < 15; i++) {
    const email = randomEmail('flood');
    const r = await signupAt({ email, password: randomPassword() }, addr);
    statuses.push(r.status);
    if (r.status === 429) { limited = r; limitedEmail = email; break; }
    assert.equal(r.status, 200, r.info);
  }
  assert.ok(limited, `no 429 after 15 signups from one address: ${statuses.join(',')}`);
  assert.equal(statuses.length, 11, `the 11th signup should wait: ${statuses.join(',')}`);
  const wait = expectLimited(limited);
  assert.ok(wait >= 28 && wait <= 30, `the first wait is 30 s: ${limited.info}`);
  // The refused signup made no account: the email is still free elsewhere.
  const later = await signup({ email: limitedEmail });
  assert.ok(UUID_RE.test(later.userId));
});

// Finding 6: "already registered" answers count too, so probing which
// emails have accounts is cut off like password guessing.
test('an enumeration loop through signup is cut off', async () => {
  const known = await signup();
  const prober = randomLoopback();
  const answers = [];
  for (let i = 0; i < 40; i++) {
    const email = i % 2 === 0 ? known.email : randomEmail('probe');
    const r = await signupAt({ email, password: randomPassword() }, prober);
    if (r.status !== 429) assert.equal(r.status, email === known.email ? 422 : 200, r.info);
    answers.push(r);
    if (r.status === 429) break;
  }
  const statuses = answers.map((r) => r.status);
  assert.equal(answers.at(-1).status, 429, `the probing was never cut off: ${statuses.join(',')}`);
  assert.equal(answers.length, 11, `cut off after ${answers.length - 1} probes: ${statuses.join(',')}`);
  expectLimited(answers.at(-1));
  // Cut off, a registered and an unknown email get the same answer.
  const a = await signupAt({ email: known.email, password: randomPassword() }, prober);
  const b = await signupAt({ email: randomEmail('probe'), password: randomPassword() }, prober);
  expectLimited(a);
  expectLimited(b);
  assert.equal(a.json.error_description, b.json.error_description);
});
