// tenancy.test.mjs - every statement is scoped to the caller's profile: user
// B cannot see, change or point at user A's rows, and A's row looks to B
// exactly like a missing one. The anon key alone reads nothing; the
// service_role key reaches every tenant.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import {
  ANON_KEY, SERVICE_KEY, expectPgError, randomUuid, rest, rows, signup,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const OBJ = { Accept: 'application/vnd.pgrst.object+json' };

let A;
let B;
let aCust; // A's customers, by name
let bCust;
let aSession;

before(async () => {
  A = await signup();
  B = await signup();
  const a = await rest('POST', 'customers', {
    token: A.token, headers: REP,
    body: [
      { full_name: 'A One', phone_number: '+911000000001', notes: 'a-note' },
      { full_name: 'A Two', phone_number: '+911000000002' },
      { full_name: 'A Three' },
    ],
  });
  assert.equal(a.status, 201, a.info);
  aCust = Object.fromEntries(a.json.map((c) => [c.full_name, c]));
  const b = await rest('POST', 'customers', {
    token: B.token, headers: REP,
    // Same phone number as A's: unique per business, not across businesses.
    body: { full_name: 'B One', phone_number: '+911000000001' },
  });
  assert.equal(b.status, 201, b.info);
  bCust = b.json[0];
  const s = await rest('POST', 'sessions', {
    token: A.token, headers: REP, body: { contact_id: '+911000000001', customer_id: aCust['A One'].id },
  });
  assert.equal(s.status, 201, s.info);
  aSession = s.json[0];
});

const aIds = () => Object.values(aCust).map((c) => c.id);

test('each user lists only its own rows', async () => {
  const a = await rows('customers', A.token, 'select=id,profile_id');
  assert.deepEqual(a.map((c) => c.id).sort(), aIds().sort());
  assert.ok(a.every((c) => c.profile_id === A.userId));
  const b = await rows('customers', B.token, 'select=id,profile_id');
  assert.deepEqual(b, [{ id: bCust.id, profile_id: B.userId }]);
});

test('filters cannot reach another tenant', async () => {
  const queries = [
    `id=eq.${aCust['A One'].id}`,
    `id=in.(${aIds().join(',')})`,
    `profile_id=eq.${A.userId}`,
    `or=(profile_id.eq.${A.userId},id.eq.${aCust['A Two'].id})`,
    'full_name=like.A*',
    `phone_number=eq.${encodeURIComponent('+911000000002')}`,
  ];
  for (const q of queries) {
    const r = await rest('GET', `customers?select=id&${q}`, { token: B.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [], `B sees A's rows: ${r.info}`);
  }
});

test('count=exact counts only own rows', async () => {
  const r = await rest('GET', 'customers?select=id', { token: B.token, headers: { Prefer: 'count=exact' } });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.header('content-range'), '0-0/1', r.info);
});

test('another tenant\'s row is indistinguishable from a missing one (406 object)', async () => {
  const theirs = await rest('GET', `customers?select=*&id=eq.${aCust['A One'].id}`, { token: B.token, headers: OBJ });
  const missing = await rest('GET', `customers?select=*&id=eq.${randomUuid()}`, { token: B.token, headers: OBJ });
  expectPgError(theirs, 406, 'PGRST116');
  expectPgError(missing, 406, 'PGRST116');
  assert.deepEqual(theirs.json, missing.json, `${theirs.info}\n${missing.info}`);
  // A reads it fine.
  const own = await rest('GET', `customers?select=full_name&id=eq.${aCust['A One'].id}`, { token: A.token, headers: OBJ });
  assert.equal(own.status, 200, own.info);
  assert.deepEqual(own.json, { full_name: 'A One' });
});

test('B cannot PATCH A\'s rows: 204 / [] like a missing row, and A\'s row is unchanged', async () => {
  const id = aCust['A One'].id;
  const p1 = await rest('PATCH', `customers?id=eq.${id}`, { token: B.token, body: { notes: 'hacked' } });
  assert.equal(p1.status, 204, p1.info);
  const p2 = await rest('PATCH', `customers?id=eq.${id}`, { token: B.token, headers: REP, body: { notes: 'hacked' } });
  assert.equal(p2.status, 200, p2.info);
  assert.deepEqual(p2.json, [], p2.info);
  const p3 = await rest('PATCH', `customers?full_name=like.*`, { token: B.token, headers: REP, body: { notes: 'hacked' } });
  assert.equal(p3.status, 200, p3.info);
  assert.deepEqual(p3.json.map((c) => c.id), [bCust.id], p3.info);
  const a = await rows('customers', A.token, `select=notes&id=eq.${id}`);
  assert.deepEqual(a, [{ notes: 'a-note' }]);
  const others = await rows('customers', A.token, 'select=notes&notes=eq.hacked');
  assert.deepEqual(others, []);
});

test('B cannot DELETE A\'s rows: 204 / [] like a missing row, and A keeps them', async () => {
  const id = aCust['A Two'].id;
  const d1 = await rest('DELETE', `customers?id=eq.${id}`, { token: B.token });
  assert.equal(d1.status, 204, d1.info);
  const d2 = await rest('DELETE', `customers?id=in.(${aIds().join(',')})`, { token: B.token, headers: REP });
  assert.equal(d2.status, 200, d2.info);
  assert.deepEqual(d2.json, [], d2.info);
  assert.equal((await rows('customers', A.token, 'select=id')).length, 3);
});

test('POST with A\'s profile_id by B -> 403 42501, nothing inserted anywhere', async () => {
  const countA = (await rows('customers', A.token, 'select=id')).length;
  const countB = (await rows('customers', B.token, 'select=id')).length;
  for (const body of [
    { full_name: 'Planted', profile_id: A.userId },
    [{ full_name: 'Planted ok' }, { full_name: 'Planted', profile_id: A.userId }],
  ]) {
    const r = await rest('POST', 'customers', { token: B.token, headers: REP, body });
    expectPgError(r, 403, '42501');
  }
  assert.equal((await rows('customers', A.token, 'select=id')).length, countA);
  assert.equal((await rows('customers', B.token, 'select=id')).length, countB);
  assert.deepEqual(await rows('customers', undefined, 'select=id&full_name=like.Planted*'), []);
});

test('PATCH profile_id to another tenant is refused; the row stays B\'s', async () => {
  const r = await rest('PATCH', `customers?id=eq.${bCust.id}`, { token: B.token, body: { profile_id: A.userId } });
  expectPgError(r, [400, 403]);
  const b = await rows('customers', B.token, `select=profile_id&id=eq.${bCust.id}`);
  assert.deepEqual(b, [{ profile_id: B.userId }]);
  assert.equal((await rows('customers', A.token, 'select=id')).length, 3);
});

test('a row cannot point into another business (foreign keys carry profile_id)', async () => {
  const s = await rest('POST', 'sessions', {
    token: B.token, body: { contact_id: '+912000000001', customer_id: aCust['A One'].id },
  });
  expectPgError(s, 409, '23503');
  const m = await rest('POST', 'unified_messages', {
    token: B.token, body: { session_id: aSession.id, direction: 'inbound', content: 'sneak' },
  });
  expectPgError(m, 409, '23503');
  assert.deepEqual(await rows('sessions', B.token, 'select=id'), []);
  assert.deepEqual(await rows('unified_messages', undefined, 'select=id&content=eq.sneak'), []);
});

test('embedding does not cross tenants', async () => {
  // B's own session pointing at B's customer embeds it; A's rows never appear.
  const s = await rest('POST', 'sessions', {
    token: B.token, headers: REP, body: { contact_id: '+912000000002', customer_id: bCust.id },
  });
  assert.equal(s.status, 201, s.info);
  const r = await rest('GET', 'sessions?select=contact_id,customers(full_name),unified_messages(id)', { token: B.token });
  assert.equal(r.status, 200, r.info);
  assert.deepEqual(r.json, [{ contact_id: '+912000000002', customers: { full_name: 'B One' }, unified_messages: [] }]);
  const c = await rest('GET', 'customers?select=full_name,sessions(contact_id)', { token: B.token });
  assert.equal(c.status, 200, c.info);
  assert.deepEqual(c.json, [{ full_name: 'B One', sessions: [{ contact_id: '+912000000002' }] }]);
});

test('profiles: each user sees and changes only its own', async () => {
  const b = await rows('profiles', B.token, 'select=id');
  assert.deepEqual(b, [{ id: B.userId }]);
  const [aBefore] = await rows('profiles', A.token, 'select=business_name');
  const p = await rest('PATCH', `profiles?id=eq.${A.userId}`, { token: B.token, headers: REP, body: { business_name: 'Stolen' } });
  assert.equal(p.status, 200, p.info);
  assert.deepEqual(p.json, [], p.info);
  assert.deepEqual(await rows('profiles', A.token, 'select=business_name'), [aBefore]);
  const own = await rest('PATCH', `profiles?id=eq.${B.userId}`, { token: B.token, headers: REP, body: { business_name: 'B Renamed' } });
  assert.equal(own.status, 200, own.info);
  assert.equal(own.json.length, 1, own.info);
  assert.equal(own.json[0].business_name, 'B Renamed');
});

// The anon key alone is no user.
const anonCases = [
  ['GET', 'customers?select=id', undefined, { apikey: ANON_KEY }],
  ['GET', 'customers?select=id', undefined, { apikey: ANON_KEY, token: ANON_KEY }],
  ['GET', 'customers?select=id', undefined, { apikey: null }],
  ['GET', 'products?select=id', undefined, { apikey: ANON_KEY, token: ANON_KEY }],
  ['GET', 'profiles?select=id', undefined, { apikey: ANON_KEY, token: ANON_KEY }],
  ['POST', 'customers', { full_name: 'Anon Planted' }, { apikey: ANON_KEY, token: ANON_KEY }],
  ['PATCH', `customers?full_name=eq.A%20One`, { notes: 'anon' }, { apikey: ANON_KEY, token: ANON_KEY }],
  ['DELETE', `customers?full_name=eq.A%20Three`, undefined, { apikey: ANON_KEY, token: ANON_KEY }],
];
for (const [method, path, body, opts] of anonCases) {
  const who = opts.token ? 'Bearer anon key' : opts.apikey ? 'apikey only' : 'no key at all';
  test(`${who}: ${method} ${path} -> 401`, async () => {
    const r = await rest(method, path, { ...opts, body });
    expectPgError(r, 401);
  });
}

test('after the anon attempts A\'s rows are intact', async () => {
  const a = await rows('customers', A.token, 'select=full_name,notes&order=full_name.asc');
  assert.deepEqual(a, [
    { full_name: 'A One', notes: 'a-note' },
    { full_name: 'A Three', notes: null },
    { full_name: 'A Two', notes: null },
  ]);
  assert.deepEqual(await rows('customers', undefined, 'select=id&full_name=eq.Anon%20Planted'), []);
});

test('the service_role key sees every tenant', async () => {
  const want = [...aIds(), bCust.id].sort();
  for (const opts of [{ token: SERVICE_KEY, apikey: SERVICE_KEY }, { token: SERVICE_KEY, apikey: ANON_KEY }]) {
    const r = await rest('GET', `customers?select=id,profile_id&id=in.(${want.join(',')})`, opts);
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json.map((c) => c.id).sort(), want, r.info);
    assert.deepEqual(new Set(r.json.map((c) => c.profile_id)), new Set([A.userId, B.userId]));
  }
  const p = await rest('GET', `profiles?select=id&id=in.(${A.userId},${B.userId})`, { token: SERVICE_KEY, apikey: SERVICE_KEY });
  assert.equal(p.status, 200, p.info);
  assert.equal(p.json.length, 2, p.info);
});
