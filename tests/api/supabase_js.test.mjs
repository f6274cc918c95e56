// supabase_js.test.mjs - a real client: @supabase/supabase-js v2 from npm
// against munshi, as a front end written for Supabase would use it.
//
// On Node 20 supabase-js insists on a WebSocket class for its realtime
// client even when realtime is never used; `ws` is the one its error message
// names. Nothing here opens a socket.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { ANON_KEY, BASE, randomEmail, randomPassword, suffix } from './lib.mjs';

const client = () => createClient(BASE, ANON_KEY, {
  auth: { persistSession: false, autoRefreshToken: false },
  realtime: { transport: WebSocket },
});

const tag = suffix();
const one = { email: randomEmail('sbjs'), password: randomPassword() };
const two = { email: randomEmail('sbjs2'), password: randomPassword() };
let c1;
let c2;
let user1;
let ids; // c1's customers by name

const ok = ({ data, error, status }, what) => {
  assert.equal(error, null, `${what}: ${JSON.stringify(error)} (status ${status})`);
  return data;
};

before(async () => {
  c1 = client();
  c2 = client();
});

test('auth.signUp answers a session and the user', async () => {
  const data = ok(await c1.auth.signUp({
    email: one.email, password: one.password, options: { data: { business_name: `SBJS ${tag}` } },
  }), 'signUp');
  assert.ok(data.session, 'signUp gave no session');
  assert.equal(typeof data.session.access_token, 'string');
  assert.equal(data.user.email, one.email);
  user1 = data.user;
});

test('auth.signUp with a short password gives an AuthError', async () => {
  const { data, error } = await client().auth.signUp({ email: randomEmail('sbjs-short'), password: 'short' });
  assert.ok(error, 'no error for a 5-character password');
  assert.equal(error.status, 422);
  assert.equal(data.session, null);
});

test('auth.signInWithPassword and auth.getUser', async () => {
  const data = ok(await c1.auth.signInWithPassword(one), 'signInWithPassword');
  assert.equal(data.user.id, user1.id);
  assert.ok(data.session.expires_at > Date.now() / 1000, 'expires_at is in the past');
  const me = ok(await c1.auth.getUser(), 'getUser');
  assert.equal(me.user.id, user1.id);
  assert.equal(me.user.email, one.email);
  const s = ok(await c1.auth.getSession(), 'getSession');
  assert.equal(s.session.user.id, user1.id);
});

test('the profile row is readable and carries business_name', async () => {
  const p = ok(await c1.from('profiles').select('id,business_name').single(), 'profiles');
  assert.deepEqual(p, { id: user1.id, business_name: `SBJS ${tag}` });
});

test('from(customers).insert([...]).select() returns the rows', async () => {
  const data = ok(await c1.from('customers').insert([
    { full_name: 'Cust A', phone_number: '+914000000001', notes: 'first' },
    { full_name: 'Cust B', phone_number: '+914000000002' },
    { full_name: 'Cust C', email: 'c@example.com' },
  ]).select(), 'insert');
  assert.equal(data.length, 3);
  assert.ok(data.every((c) => c.profile_id === user1.id));
  ids = Object.fromEntries(data.map((c) => [c.full_name, c.id]));
  // One object, and return=minimal (no .select()).
  const single = ok(await c1.from('customers').insert({ full_name: 'Cust D' }).select('id,full_name').single(), 'insert one');
  assert.equal(single.full_name, 'Cust D');
  ids['Cust D'] = single.id;
  const minimal = await c1.from('customers').insert({ full_name: 'Cust E' });
  assert.equal(minimal.error, null, JSON.stringify(minimal.error));
  assert.equal(minimal.status, 201);
  assert.equal(minimal.data, null);
});

test('select(*).eq().order()', async () => {
  const byName = ok(await c1.from('customers').select('*').eq('full_name', 'Cust B'), 'eq');
  assert.equal(byName.length, 1);
  assert.equal(byName[0].id, ids['Cust B']);
  assert.equal(byName[0].phone_number, '+914000000002');
  const desc = ok(await c1.from('customers').select('full_name').order('full_name', { ascending: false }), 'order');
  assert.deepEqual(desc.map((c) => c.full_name), ['Cust E', 'Cust D', 'Cust C', 'Cust B', 'Cust A']);
  const filtered = ok(await c1.from('customers').select('full_name')
    .in('id', [ids['Cust A'], ids['Cust C']]).order('full_name'), 'in');
  assert.deepEqual(filtered.map((c) => c.full_name), ['Cust A', 'Cust C']);
});

test('more filters: neq, like, ilike, is, not, or, limit, range', async () => {
  const names = async (q) => ok(await q, 'query').map((c) => c.full_name);
  const base = () => c1.from('customers').select('full_name');
  assert.deepEqual(await names(base().neq('full_name', 'Cust A').order('full_name')), ['Cust B', 'Cust C', 'Cust D', 'Cust E']);
  assert.deepEqual(await names(base().like('full_name', '%t C')), ['Cust C']);
  assert.deepEqual(await names(base().ilike('full_name', 'cust a')), ['Cust A']);
  assert.deepEqual(await names(base().is('phone_number', null).order('full_name')), ['Cust C', 'Cust D', 'Cust E']);
  assert.deepEqual(await names(base().not('phone_number', 'is', null).order('full_name')), ['Cust A', 'Cust B']);
  assert.deepEqual(await names(base().or('full_name.eq.Cust A,email.eq.c@example.com').order('full_name')), ['Cust A', 'Cust C']);
  assert.deepEqual(await names(base().order('full_name').limit(2)), ['Cust A', 'Cust B']);
  assert.deepEqual(await names(base().order('full_name').range(1, 3)), ['Cust B', 'Cust C', 'Cust D']);
  assert.deepEqual(await names(base().gte('created_at', '2000-01-01').lt('full_name', 'Cust B')), ['Cust A']);
});

test('update().eq().select()', async () => {
  const data = ok(await c1.from('customers').update({ notes: 'updated' }).eq('id', ids['Cust B']).select(), 'update');
  assert.equal(data.length, 1);
  assert.equal(data[0].notes, 'updated');
  const back = ok(await c1.from('customers').select('notes').eq('id', ids['Cust B']).single(), 'read back');
  assert.equal(back.notes, 'updated');
  const { error, status } = await c1.from('customers').update({ notes: 'x' }).eq('id', ids['Cust A']);
  assert.equal(error, null);
  assert.equal(status, 204);
});

test('delete().eq()', async () => {
  // Cust E was inserted with return=minimal: delete it by name.
  const del = await c1.from('customers').delete().eq('full_name', 'Cust E');
  assert.equal(del.error, null, JSON.stringify(del.error));
  assert.equal(del.status, 204);
  const gone = ok(await c1.from('customers').delete().eq('id', ids['Cust D']).select(), 'delete returning');
  assert.deepEqual(gone.map((c) => c.id), [ids['Cust D']]);
  const left = ok(await c1.from('customers').select('full_name').order('full_name'), 'left');
  assert.deepEqual(left.map((c) => c.full_name), ['Cust A', 'Cust B', 'Cust C']);
});

test('delete() without a filter is refused', async () => {
  const { error } = await c1.from('customers').delete();
  assert.ok(error, 'an unfiltered delete was accepted');
  const left = ok(await c1.from('customers').select('id'), 'left');
  assert.equal(left.length, 3);
});

test('.single() and .maybeSingle()', async () => {
  const one1 = ok(await c1.from('customers').select('full_name').eq('id', ids['Cust A']).single(), 'single');
  assert.deepEqual(one1, { full_name: 'Cust A' });
  const none = await c1.from('customers').select('*').eq('full_name', 'Nobody').single();
  assert.ok(none.error, 'single() on no row gave no error');
  assert.equal(none.error.code, 'PGRST116');
  assert.equal(none.status, 406);
  assert.equal(none.data, null);
  const many = await c1.from('customers').select('*').single();
  assert.equal(many.error && many.error.code, 'PGRST116');
  const maybe = ok(await c1.from('customers').select('*').eq('full_name', 'Nobody').maybeSingle(), 'maybeSingle');
  assert.equal(maybe, null);
  const maybeOne = ok(await c1.from('customers').select('full_name').eq('full_name', 'Cust C').maybeSingle(), 'maybeSingle one');
  assert.deepEqual(maybeOne, { full_name: 'Cust C' });
});

test("count: 'exact'", async () => {
  const head = await c1.from('customers').select('*', { count: 'exact', head: true });
  assert.equal(head.error, null, JSON.stringify(head.error));
  assert.equal(head.count, 3);
  const page = await c1.from('customers').select('full_name', { count: 'exact' }).order('full_name').range(0, 1);
  assert.equal(page.error, null, JSON.stringify(page.error));
  assert.equal(page.count, 3);
  assert.deepEqual(page.data.map((c) => c.full_name), ['Cust A', 'Cust B']);
  const ins = await c1.from('products').insert([{ name: 'P1' }, { name: 'P2' }], { count: 'exact' }).select('name');
  assert.equal(ins.error, null, JSON.stringify(ins.error));
  assert.equal(ins.data.length, 2);
});

test('money comes back as exact numbers', async () => {
  const p = ok(await c1.from('products').insert({ name: 'Ghee', base_price: 649.9, gst_rate: 12, current_stock: 3.25 })
    .select('base_price,gst_rate,current_stock').single(), 'insert product');
  assert.deepEqual(p, { base_price: 649.9, gst_rate: 12, current_stock: 3.25 });
  const cheap = ok(await c1.from('products').select('name').gt('base_price', 600), 'gt');
  assert.deepEqual(cheap.map((x) => x.name), ['Ghee']);
});

test('errors come back as PostgrestError', async () => {
  const noTable = await c1.from('nosuchtable').select('*');
  assert.ok(noTable.error, 'no error for an unknown table');
  assert.equal(noTable.status, 404);
  const noCol = await c1.from('customers').select('nosuchcol');
  assert.equal(noCol.error && noCol.error.code, '42703');
  assert.equal(noCol.status, 400);
  const inv = await c1.from('invoices').insert({ customer_id: ids['Cust A'], invoice_date: '2024-04-01' });
  assert.equal(inv.error && inv.error.code, 'MU002');
  assert.equal(inv.status, 405);
  const dup = await c1.from('customers').insert({ full_name: 'Dup', phone_number: '+914000000001' });
  assert.equal(dup.error && dup.error.code, '23505');
  assert.equal(dup.status, 409);
});

test('a second user gets [] reading the first user\'s customers and cannot change them', async () => {
  ok(await c2.auth.signUp({ email: two.email, password: two.password }), 'second signUp');
  const signedIn = ok(await c2.auth.signInWithPassword(two), 'second signIn');
  assert.notEqual(signedIn.user.id, user1.id);
  const all = ok(await c2.from('customers').select('*'), 'second select');
  assert.deepEqual(all, []);
  const byId = ok(await c2.from('customers').select('*').eq('id', ids['Cust A']), 'second select by id');
  assert.deepEqual(byId, []);
  const single = await c2.from('customers').select('*').eq('id', ids['Cust A']).single();
  assert.equal(single.error && single.error.code, 'PGRST116');
  const upd = ok(await c2.from('customers').update({ notes: 'mine now' }).eq('id', ids['Cust A']).select(), 'second update');
  assert.deepEqual(upd, []);
  const del = ok(await c2.from('customers').delete().eq('id', ids['Cust A']).select(), 'second delete');
  assert.deepEqual(del, []);
  const still = ok(await c1.from('customers').select('notes').eq('id', ids['Cust A']).single(), 'first reads back');
  assert.equal(still.notes, 'x');
});

test('auth.signOut, then the client is anonymous', async () => {
  const { error } = await c2.auth.signOut();
  assert.equal(error, null, JSON.stringify(error));
  const s = ok(await c2.auth.getSession(), 'getSession');
  assert.equal(s.session, null);
  // Now it sends only the anon key, which reads no tenant rows.
  const r = await c2.from('customers').select('*');
  assert.ok(r.error, 'the anon key alone read customers');
  assert.equal(r.status, 401);
});
