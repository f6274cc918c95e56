// realtime.test.mjs - the live feed over WebSockets (docs/realtime.md), driven
// by unmodified @supabase/supabase-js 2.109.0 from npm as a front end written
// for Supabase would drive it, and by a raw `ws` client where the wire itself
// is the point (vsn 1.0.0 object frames, caps, secrets in the bytes).
//
// What is proven: a workflow run's every step and every inbound WhatsApp
// message arrive live and in commit order, each record equal to what GET
// /rest/v1 returns for the row; filters (eq, in, event types); another
// tenant's rows never arrive, anon sees nothing, the service key everything,
// secrets are null; bad and expired tokens are refused at join; a token that
// expires while joined ends the channel; access_token refresh keeps it; a
// client that drops and reconnects within the window gets what it missed;
// the caps (frame size, channels, bindings, sockets per user and per
// address); an upgraded socket outlives the header deadline; a stopping
// server closes its sockets with 1001; and a change written through one
// munshi process arrives on a socket of another on the same database.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';

import { createClient } from '@supabase/supabase-js';
import WebSocket from 'ws';

import { Shop, eventually, freshDatabase, sleep, startFakes, startMunshi } from './chat_lib.mjs';
import { ANON_KEY, BASE, SERVICE_KEY, decodeJwt, httpRaw, now, rest, signJwt, signup, suffix } from './lib.mjs';

const REP = { Prefer: 'return=representation' };

// Every WebSocket supabase-js opens, and every frame it receives, so a test
// can cut a connection or look at the bytes.
const opened = [];
const rawFrames = [];
class TrackedWS extends WebSocket {
  constructor(...args) {
    super(...args);
    opened.push(this);
    this.on('message', (d) => rawFrames.push(String(d)));
  }
}

const clients = [];
/**
 * A supabase-js client; with a token (a string, or a function giving the
 * current one: supabase-js's accessToken option), realtime is given it
 * before any channel is made (`await realtime.setAuth()`), as an app does
 * once signed in: a channel subscribed earlier joins with the anon key.
 * A refresh is then: the function gives the new token, and
 * `realtime.setAuth()` pushes it (setAuth(token) with the option set races
 * with the client's own setAuth() after each join, which puts the
 * callback's token back).
 */
async function client({ origin = BASE, token } = {}) {
  const fn = typeof token === 'function' ? token : async () => token;
  const sb = createClient(origin, ANON_KEY, {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: TrackedWS },
    ...(token ? { accessToken: fn } : {}),
  });
  clients.push(sb);
  if (token) await sb.realtime.setAuth();
  return sb;
}

after(async () => {
  for (const sb of clients) {
    try { await sb.removeAllChannels(); } catch { /* closed */ }
    try { sb.realtime.disconnect(); } catch { /* closed */ }
  }
});

/** A channel with postgres_changes bindings; events are collected per binding. */
function listen(sb, name, bindings) {
  const ch = sb.channel(name);
  const got = bindings.map(() => []);
  const all = [];
  const system = [];
  const statuses = [];
  bindings.forEach((b, i) => ch.on('postgres_changes', b, (p) => { got[i].push(p); all.push(p); }));
  ch.on('system', {}, (p) => system.push(p));
  const subscribed = new Promise((resolve, reject) => {
    ch.subscribe((status, err) => {
      statuses.push({ status, err });
      if (status === 'SUBSCRIBED') resolve();
      else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') reject(err || new Error(status));
    });
  });
  subscribed.catch(() => {}); // a test that expects a refusal awaits it itself
  return { ch, got, all, system, statuses, subscribed };
}

/** A user token made here: sub and session of a real user, exp as asked. */
function userToken(user, expInS, extra = {}) {
  const p = decodeJwt(user.token).payload;
  return signJwt({ ...p, exp: now() + expInS, ...extra });
}

const ofRow = (events, id) => events.filter((e) => (e.new && e.new.id === id) || (e.old && e.old.id === id));

async function restRow(table, id, token) {
  const r = await rest('GET', `${table}?id=eq.${id}&select=*`, { token });
  assert.equal(r.status, 200, r.info);
  return r.json[0];
}

/** Resolves once the last event of row id carries exactly the REST row. */
async function settlesToRest(events, table, id, token, what) {
  let last;
  let row;
  await eventually(async () => {
    row = await restRow(table, id, token);
    const mine = ofRow(events, id);
    last = mine.length ? mine[mine.length - 1].new : undefined;
    try { assert.deepEqual(last, row); return true; } catch { return false; }
  }, `${what}: the last event's record to equal GET /rest/v1/${table}`, 20000);
}

// ---- a raw client ------------------------------------------------------------

/** A raw WebSocket: resolves {ws, frames, next(pred), send(obj), closed} once open. */
function raw({ origin = BASE, vsn = '2.0.0', apikey = ANON_KEY, localAddress } = {}) {
  const u = new URL(origin);
  const q = new URLSearchParams();
  if (apikey !== null) q.set('apikey', apikey);
  if (vsn !== null) q.set('vsn', vsn);
  const ws = new WebSocket(`ws://${u.host}/realtime/v1/websocket?${q}`, { localAddress });
  const frames = [];
  const waiters = [];
  let closeInfo = null;
  const closed = new Promise((resolve) => ws.on('close', (code, reason) => { closeInfo = { code, reason: String(reason) }; resolve(closeInfo); }));
  ws.on('message', (d, isBinary) => {
    if (isBinary) return;
    const f = JSON.parse(String(d));
    frames.push(f);
    for (const w of [...waiters]) if (w.pred(f)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(f); }
  });
  const c = {
    ws,
    frames,
    closed,
    get closeInfo() { return closeInfo; },
    send: (obj) => ws.send(JSON.stringify(obj)),
    next(pred, what = 'a frame', ms = 10000) {
      const have = frames.find(pred);
      if (have) return Promise.resolve(have);
      return new Promise((resolve, reject) => {
        const w = { pred, resolve };
        waiters.push(w);
        setTimeout(() => { if (waiters.includes(w)) { waiters.splice(waiters.indexOf(w), 1); reject(new Error(`no ${what} within ${ms} ms; got ${JSON.stringify(frames).slice(0, 2000)}`)); } }, ms);
      });
    },
  };
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(c));
    ws.once('unexpected-response', (req, res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}: ${body}`), { status: res.statusCode, body })));
    });
    ws.once('error', reject);
  });
}

const v2 = (c, jr, ref, topic, event, payload) => c.send([jr, ref, topic, event, payload]);
const isReply = (ref) => (f) => f[1] === ref && f[3] === 'phx_reply';

// ---- the tests ----------------------------------------------------------------

describe('realtime over WebSockets (supabase-js)', () => {
  let fakes;
  before(async () => { fakes = await startFakes(); });
  after(async () => { await fakes.close(); });

  test('a workflow run: every step arrives live, in order, as REST reads it', async () => {
    const shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg, whatsapp: false, telegram: false });
    const sb = await client({ token: shop.token });
    const L = listen(sb, `wf-${suffix()}`, [{ event: '*', schema: 'public', table: 'workflow_logs' }]);
    await L.subscribed;
    const c = await shop.rest('POST', 'workflow_blueprints', {
      body: {
        name: `Live ${suffix()}`,
        nodes: [
          { id: 't', type: 'trigger', params: { manual: true } },
          { id: 'c', type: 'condition', params: { if: 'true' } },
          { id: 'x', type: 'stop' },
        ],
        edges: [{ from: 't', to: 'c' }, { from: 'c', to: 'x', when: 'true' }],
      },
      headers: REP,
    });
    assert.equal(c.status, 201, c.info);
    const bpId = c.json[0].id;
    assert.equal((await shop.rpc('activate_workflow', { id: bpId })).status, 200);
    const r = await shop.rpc('run_workflow', { id: bpId, input: { n: 1 } });
    assert.equal(r.status, 200, r.info);
    const runId = r.json.run_id;
    await eventually(() => ofRow(L.all, runId).some((e) => e.new && e.new.status === 'completed'), 'the completed run', 20000);
    const ev = ofRow(L.all, runId);
    assert.equal(ev[0].eventType, 'INSERT', 'the run is first inserted');
    assert.equal(ev[0].old && Object.keys(ev[0].old).length, 0, 'an INSERT has no old record');
    let steps = 0;
    for (const e of ev) {
      assert.equal(e.schema, 'public');
      assert.equal(e.table, 'workflow_logs');
      assert.ok(!Number.isNaN(Date.parse(e.commit_timestamp)), e.commit_timestamp);
      assert.equal(e.errors, null);
      const n = (e.new.step_results || []).length;
      assert.ok(n >= steps, `steps went back from ${steps} to ${n}: events out of order`);
      steps = n;
      if (e.eventType === 'UPDATE') assert.equal(e.old.id, runId, 'UPDATE carries the previous row');
    }
    // every step was seen on its way: t, c and x each appear as the last
    // step of some event, in that order
    const lastNodes = ev.map((e) => (e.new.step_results || []).map((s) => s.node_id).join(','));
    const final = ev[ev.length - 1].new;
    assert.deepEqual(final.step_results.map((s) => s.node_id), ['t', 'c', 'x']);
    assert.ok(lastNodes.length >= 2, `only ${lastNodes.length} events: ${lastNodes}`);
    await settlesToRest(L.all, 'workflow_logs', runId, shop.token, 'the run');
  });

  test('inbound WhatsApp messages arrive live, in commit order, with their replies', async () => {
    const shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg, telegram: false });
    const sb = await client({ token: shop.token });
    const M = listen(sb, `msgs-${suffix()}`, [
      { event: '*', schema: 'public', table: 'unified_messages' },
      { event: '*', schema: 'public', table: 'sessions' },
    ]);
    await M.subscribed;
    const waId = `919${String(Date.now()).slice(-9)}`;
    const sent = [];
    for (const text of ['namaste', 'atta price?', 'thank you']) {
      const { payload, message } = shop.meta.text(waId, text, { name: 'Ravi Kumar' });
      const post = await shop.meta.post(payload);
      assert.equal(post.status, 200, post.info);
      sent.push((await shop.waitInbound(message.id)).id);
    }
    const msgs = M.got[0];
    await eventually(() => sent.every((id) => ofRow(msgs, id).some((e) => e.eventType === 'INSERT')), 'every inbound INSERT', 20000);
    const inserts = msgs.filter((e) => e.eventType === 'INSERT' && e.new.direction === 'inbound').map((e) => e.new.id);
    assert.deepEqual(inserts.filter((id) => sent.includes(id)), sent, 'inbound messages in the order they were committed');
    for (const id of sent) {
      const first = ofRow(msgs, id)[0];
      assert.equal(first.eventType, 'INSERT', 'a message is inserted before it is updated');
      assert.equal(first.new.profile_id, shop.user.userId);
    }
    // each reply the agent sends is inserted after the message it answers
    await eventually(() => sent.every((id) => msgs.some((e) => e.eventType === 'INSERT' && e.new.reply_to === id)), 'the replies', 30000);
    for (const id of sent) {
      const at = msgs.findIndex((e) => e.eventType === 'INSERT' && e.new.id === id);
      const rep = msgs.findIndex((e) => e.eventType === 'INSERT' && e.new.reply_to === id);
      assert.ok(at < rep, 'the reply after the message');
    }
    assert.ok(M.got[1].some((e) => e.eventType === 'INSERT' && e.new.profile_id === shop.user.userId), 'the session is published too');
    for (const id of sent) await settlesToRest(msgs, 'unified_messages', id, shop.token, `message ${id}`);
  });

  test('filters: eq, in, and event types pick their rows', async () => {
    const owner = await signup();
    const sb = await client({ token: owner.token });
    const tag = suffix();
    const name = `Asha ${tag}`;
    const L = listen(sb, `f-${tag}`, [
      { event: '*', schema: 'public', table: 'customers' },
      { event: '*', schema: 'public', table: 'customers', filter: `full_name=eq.${name}` },
      { event: 'UPDATE', schema: 'public', table: 'customers' },
      { event: 'INSERT', schema: 'public', table: 'customers', filter: `full_name=in.("${name}",Ravi ${tag})` },
      { event: 'DELETE', schema: 'public', table: 'customers' },
    ]);
    await L.subscribed;
    const mk = async (n) => {
      const r = await rest('POST', 'customers', { token: owner.token, body: { full_name: n }, headers: REP });
      assert.equal(r.status, 201, r.info);
      return r.json[0].id;
    };
    const a = await mk(name);
    const b = await mk(`Ravi ${tag}`);
    const c = await mk(`Other ${tag}`);
    let r = await rest('PATCH', `customers?id=eq.${a}`, { token: owner.token, body: { notes: 'vip' } });
    assert.equal(r.status, 204, r.info);
    r = await rest('DELETE', `customers?id=eq.${c}`, { token: owner.token });
    assert.equal(r.status, 204, r.info);
    const sentinel = await mk(`Sentinel ${tag}`);
    // one socket, frames in order: once the sentinel is in, all before it is
    await eventually(() => L.got[0].some((e) => e.new && e.new.id === sentinel), 'the sentinel');
    const ids = (k) => L.got[k].map((e) => `${e.eventType}:${(e.new && e.new.id) || e.old.id}`);
    assert.deepEqual(ids(0), [`INSERT:${a}`, `INSERT:${b}`, `INSERT:${c}`, `UPDATE:${a}`, `DELETE:${c}`, `INSERT:${sentinel}`]);
    assert.deepEqual(ids(1), [`INSERT:${a}`, `UPDATE:${a}`]);
    assert.deepEqual(ids(2), [`UPDATE:${a}`]);
    assert.deepEqual(ids(3), [`INSERT:${a}`, `INSERT:${b}`]);
    assert.deepEqual(ids(4), [`DELETE:${c}`]);
    const del = L.got[4][0];
    assert.equal(del.old.full_name, `Other ${tag}`, 'a DELETE carries the whole old row');
    assert.deepEqual(del.new, {}, 'a DELETE has no new record');
    const upd = L.got[2][0];
    assert.equal(upd.old.notes, null);
    assert.equal(upd.new.notes, 'vip');
  });

  test('a bad filter or an unknown table is refused at join', async () => {
    const owner = await signup();
    const sb = await client({ token: owner.token });
    let L = listen(sb, `bad-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers', filter: 'full_name=like.x' }]);
    await assert.rejects(L.subscribed, /invalid filter/);
    L = listen(sb, `bad-${suffix()}`, [{ event: '*', schema: 'public', table: 'no_such_table' }]);
    await assert.rejects(L.subscribed, /unknown table/);
    L = listen(sb, `bad-${suffix()}`, [{ event: '*', schema: 'public', table: 'channels', filter: 'access_token=eq.x' }]);
    await assert.rejects(L.subscribed, /invalid filter/, 'a secret column cannot be probed with a filter');
  });

  test("another tenant's rows never arrive; anon sees nothing; the service key sees all; secrets are null", async () => {
    const a = await signup();
    const b = await signup();
    const sa = await client({ token: a.token });
    const sbB = await client({ token: b.token });
    const anon = await client();
    const svc = await client({ token: SERVICE_KEY });
    const bind = [{ event: '*', schema: 'public', table: 'customers' }, { event: '*', schema: 'public', table: 'channels' }];
    const LA = listen(sa, `t-${suffix()}`, bind);
    const LB = listen(sbB, `t-${suffix()}`, bind);
    const LN = listen(anon, `t-${suffix()}`, bind);
    const LS = listen(svc, `t-${suffix()}`, [{ event: '*', schema: 'public' }]);
    await Promise.all([LA.subscribed, LB.subscribed, LN.subscribed, LS.subscribed]);
    const ca = await rest('POST', 'customers', { token: a.token, body: { full_name: 'A customer' }, headers: REP });
    const cb = await rest('POST', 'customers', { token: b.token, body: { full_name: 'B customer' }, headers: REP });
    assert.equal(ca.status, 201, ca.info);
    assert.equal(cb.status, 201, cb.info);
    const secret = `EAAGsecret${suffix()}`;
    const appSecret = `appsecret${suffix()}`;
    const ch = await rest('POST', 'channels', {
      token: a.token,
      body: { platform: 'whatsapp', name: 'WA', phone_number_id: String(Date.now()), display_phone_number: '15551234567', access_token: secret, app_secret: appSecret, verify_token: `v${suffix()}` },
      headers: REP,
    });
    assert.equal(ch.status, 201, ch.info);
    const sentinel = await rest('POST', 'customers', { token: b.token, body: { full_name: 'B sentinel' }, headers: REP });
    await eventually(() => LS.all.some((e) => e.new && e.new.id === sentinel.json[0].id), 'the service key to see the sentinel');
    await eventually(() => LB.got[0].some((e) => e.new.id === sentinel.json[0].id), 'B to see its sentinel');
    await eventually(() => LA.got[1].length === 1, "A's channel");
    await sleep(300);
    assert.deepEqual(LA.got[0].map((e) => e.new.id), [ca.json[0].id], 'A sees its own customer only');
    assert.deepEqual(LB.got[0].map((e) => e.new.id), [cb.json[0].id, sentinel.json[0].id], 'B sees its own customers only');
    assert.equal(LB.got[1].length, 0, "B never sees A's channel");
    assert.equal(LN.all.length, 0, 'anon reads nothing');
    const svcIds = LS.all.map((e) => e.new && e.new.id);
    for (const id of [ca.json[0].id, cb.json[0].id, ch.json[0].id]) assert.ok(svcIds.includes(id), 'the service key sees every tenant');
    const rec = LA.got[1][0].new;
    assert.equal(rec.access_token, null, 'a write-only secret is null');
    assert.equal(rec.app_secret, null);
    assert.deepEqual(rec, await restRow('channels', ch.json[0].id, a.token), 'the channel as REST shows it');
    for (const f of rawFrames) {
      assert.ok(!f.includes(secret) && !f.includes(appSecret), 'a secret went out on a socket');
    }
    // the profiles table: a user sees its own profile change, not another's
    const P = listen(sa, `p-${suffix()}`, [{ event: 'UPDATE', schema: 'public', table: 'profiles' }]);
    await P.subscribed;
    let r = await rest('PATCH', `profiles?id=eq.${b.userId}`, { token: b.token, body: { state_code: '29' } });
    assert.equal(r.status, 204, r.info);
    r = await rest('PATCH', `profiles?id=eq.${a.userId}`, { token: a.token, body: { state_code: '27' } });
    assert.equal(r.status, 204, r.info);
    await eventually(() => P.all.length >= 1, "A's profile update");
    await sleep(300);
    assert.deepEqual(P.all.map((e) => e.new.id), [a.userId]);
  });

  test('a bad or expired token is refused at join', async () => {
    const owner = await signup();
    const forged = signJwt({ ...decodeJwt(owner.token).payload }, 'not-the-secret-0123456789abcdef0123');
    let L = listen(await client({ token: forged }), `x-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await assert.rejects(L.subscribed, /Invalid token/i);
    L = listen(await client({ token: userToken(owner, -60) }), `x-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await assert.rejects(L.subscribed, /expired/i);
    // a bad apikey is refused before the upgrade, as a REST call would be
    await assert.rejects(raw({ apikey: 'garbage' }), (e) => e.status === 401);
    await assert.rejects(raw({ apikey: null }), (e) => e.status === 401);
  });

  test('a token that expires while joined ends the channel (system error, then closed)', async () => {
    const owner = await signup();
    const sb = await client({ token: userToken(owner, 3) });
    const L = listen(sb, `exp-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await L.subscribed;
    await eventually(() => L.statuses.some((s) => s.status === 'CLOSED'), 'the channel to close', 10000);
    const sys = L.system.find((s) => s.status === 'error');
    assert.ok(sys, `no system error: ${JSON.stringify(L.system)}`);
    assert.match(sys.message, /Token has expired/);
    const r = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'after expiry' } });
    assert.equal(r.status, 201, r.info);
    await sleep(1000);
    assert.equal(L.all.length, 0, 'nothing after the channel ended');
  });

  test('access_token refresh keeps a channel past the first token; a bad refresh ends it', async () => {
    const owner = await signup();
    let current = userToken(owner, 3);
    const sb = await client({ token: async () => current });
    const L = listen(sb, `ref-${suffix()}`, [{ event: 'INSERT', schema: 'public', table: 'customers' }]);
    await L.subscribed;
    await sleep(200);
    current = userToken(owner, 3600);
    await sb.realtime.setAuth();
    await sleep(4500);
    assert.ok(!L.statuses.some((s) => s.status === 'CLOSED'), `closed despite the refresh: ${JSON.stringify(L.system)}`);
    const r = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'after refresh' }, headers: REP });
    await eventually(() => L.all.some((e) => e.new.id === r.json[0].id), 'a change after the first token expired');
    // the channel reads as whoever the new token names (realtime-js may join
    // with the anon key and push the user's token right after)
    const other = await signup();
    current = other.token;
    await sb.realtime.setAuth();
    await sleep(300);
    const mine = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'owner, after the switch' }, headers: REP });
    const theirs = await rest('POST', 'customers', { token: other.token, body: { full_name: 'other, after the switch' }, headers: REP });
    await eventually(() => L.all.some((e) => e.new.id === theirs.json[0].id), "the new token's rows");
    assert.ok(!L.all.some((e) => e.new.id === mine.json[0].id), "the old token's rows stop");
    assert.ok(!L.statuses.some((s) => s.status === 'CLOSED'));
    // an expired token pushed as a refresh ends it too
    let current2 = owner.token;
    const sb2 = await client({ token: async () => current2 });
    const L2 = listen(sb2, `ref2-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await L2.subscribed;
    await sleep(200);
    current2 = userToken(owner, -5);
    await sb2.realtime.setAuth();
    await eventually(() => L2.statuses.some((s) => s.status === 'CLOSED'), 'the second channel to close');
    assert.ok(L2.system.some((s) => s.status === 'error' && /expired/i.test(s.message)), JSON.stringify(L2.system));
  });

  test('a client that drops and reconnects within the window gets what it missed, in order', async () => {
    const owner = await signup();
    const sb = await client({ token: owner.token });
    const first = opened.length;
    const L = listen(sb, `rc-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await L.subscribed;
    const mine = opened.slice(first);
    assert.equal(mine.length, 1, 'one socket');
    const mk = async (n) => (await rest('POST', 'customers', { token: owner.token, body: { full_name: n }, headers: REP })).json[0].id;
    const c1 = await mk('before the drop');
    await eventually(() => L.all.some((e) => e.new.id === c1), 'c1');
    mine[0].terminate(); // no close frame, no phx_leave: a network drop
    const missed = [await mk('missed 1'), await mk('missed 2'), await mk('missed 3')];
    await eventually(() => opened.length > first + 1 && L.statuses.filter((s) => s.status === 'SUBSCRIBED').length >= 2, 'the rejoin', 15000);
    await eventually(() => missed.every((id) => L.all.some((e) => e.new.id === id)), 'the missed changes', 15000);
    const after = await mk('after the rejoin');
    await eventually(() => L.all.some((e) => e.new.id === after), 'a live change after the rejoin');
    // duplicates are allowed (the replay starts where the server knows the
    // client was), gaps and reordering are not
    const seq = [];
    for (const e of L.all) if (!seq.includes(e.new.id)) seq.push(e.new.id);
    assert.deepEqual(seq, [c1, ...missed, after]);
  });
});

describe('realtime on the wire (raw ws)', () => {
  test('vsn 1.0.0: object frames, join reply, changes, heartbeat, leave', async () => {
    const owner = await signup();
    const c = await raw({ vsn: '1.0.0' });
    const binding = { event: '*', schema: 'public', table: 'customers' };
    c.send({ topic: 'realtime:v1', event: 'phx_join', payload: { config: { postgres_changes: [binding] }, access_token: owner.token }, ref: '1', join_ref: '1' });
    const rep = await c.next((f) => f.event === 'phx_reply' && f.ref === '1', 'the join reply');
    assert.equal(rep.topic, 'realtime:v1');
    assert.ok(!('join_ref' in rep), 'v1 server frames leave join_ref out');
    assert.equal(rep.payload.status, 'ok');
    const [echo] = rep.payload.response.postgres_changes;
    assert.equal(typeof echo.id, 'number');
    assert.ok(echo.id > 0);
    assert.deepEqual({ ...echo, id: undefined }, { ...binding, id: undefined });
    const sys = await c.next((f) => f.event === 'system', 'the system message');
    assert.deepEqual(sys.payload, { message: 'Subscribed to PostgreSQL', status: 'ok', extension: 'postgres_changes', channel: 'v1' });
    const r = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'v1 customer' }, headers: REP });
    const ev = await c.next((f) => f.event === 'postgres_changes', 'the change');
    assert.equal(ev.ref, null);
    assert.deepEqual(ev.payload.ids, [echo.id]);
    const d = ev.payload.data;
    assert.equal(d.type, 'INSERT');
    assert.equal(d.schema, 'public');
    assert.equal(d.table, 'customers');
    assert.equal(d.errors, null);
    assert.ok(Array.isArray(d.columns) && d.columns.every((x) => typeof x.name === 'string' && typeof x.type === 'string'));
    assert.deepEqual(d.columns.map((x) => x.name).sort(), Object.keys(r.json[0]).sort(), 'columns are the REST columns');
    assert.ok(!('old_record' in d), 'an INSERT has no old_record');
    assert.deepEqual(d.record, await restRow('customers', r.json[0].id, owner.token));
    c.send({ topic: 'phoenix', event: 'heartbeat', payload: {}, ref: '2' });
    const hb = await c.next((f) => f.ref === '2', 'the heartbeat reply');
    assert.deepEqual(hb, { topic: 'phoenix', event: 'phx_reply', payload: { status: 'ok', response: {} }, ref: '2' });
    c.send({ topic: 'realtime:v1', event: 'phx_leave', payload: {}, ref: '3', join_ref: '1' });
    await c.next((f) => f.ref === '3' && f.event === 'phx_reply', 'the leave reply');
    await c.next((f) => f.event === 'phx_close', 'phx_close');
    c.ws.close();
  });

  test('vsn 2.0.0: exact frames; binary frames and broadcasts are ignored; an unknown topic is refused', async () => {
    const owner = await signup();
    const c = await raw();
    const binding = { event: '*', schema: 'public', table: 'products', filter: 'current_stock=lt.10' };
    v2(c, '6', '6', 'realtime:x', 'phx_join', { config: { broadcast: { ack: false, self: false }, presence: { key: '', enabled: false }, postgres_changes: [binding], private: false }, access_token: owner.token });
    const rep = await c.next(isReply('6'));
    assert.equal(rep[0], '6');
    assert.equal(rep[2], 'realtime:x');
    const id = rep[4].response.postgres_changes[0].id;
    assert.deepEqual(rep[4], { status: 'ok', response: { postgres_changes: [{ ...binding, id }] } });
    const sys = await c.next((f) => f[3] === 'system');
    assert.deepEqual(sys, ['6', null, 'realtime:x', 'system', { message: 'Subscribed to PostgreSQL', status: 'ok', extension: 'postgres_changes', channel: 'x' }]);
    c.ws.send(Buffer.from([3, 1, 2, 3]), { binary: true });
    v2(c, '6', '7', 'realtime:x', 'broadcast', { type: 'broadcast', event: 'e', payload: {} });
    v2(c, null, '8', 'realtime:elsewhere', 'access_token', { access_token: owner.token });
    const un = await c.next(isReply('8'));
    assert.equal(un[4].status, 'error');
    assert.match(un[4].response.reason, /unmatched topic/);
    const p1 = await rest('POST', 'products', { token: owner.token, body: { name: 'Few', unit: 'kg', gst_rate: 5, base_price: '10.00', current_stock: 3 }, headers: REP });
    const p2 = await rest('POST', 'products', { token: owner.token, body: { name: 'Many', unit: 'kg', gst_rate: 5, base_price: '10.00', current_stock: 30 }, headers: REP });
    assert.equal(p1.status, 201, p1.info);
    assert.equal(p2.status, 201, p2.info);
    v2(c, null, '9', 'phoenix', 'heartbeat', {});
    await c.next(isReply('9'));
    const ev = await c.next((f) => f[3] === 'postgres_changes');
    assert.deepEqual([ev[0], ev[1], ev[2]], [null, null, 'realtime:x']);
    assert.equal(ev[4].data.record.id, p1.json[0].id);
    await sleep(500);
    assert.equal(c.frames.filter((f) => f[3] === 'postgres_changes').length, 1, 'the filter left the other product out');
    assert.equal(c.closeInfo, null, 'still open');
    c.ws.close();
  });

  test('the handshake refuses what is not a WebSocket for us', async () => {
    let r = await httpRaw({ path: `/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0` });
    assert.equal(r.status, 400, r.info);
    assert.equal(r.json.code, 'PGRST100');
    const up = { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==' };
    r = await httpRaw({ path: `/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0`, headers: { ...up, 'Sec-WebSocket-Version': '8' } });
    assert.equal(r.status, 400, r.info);
    assert.equal(r.header('sec-websocket-version'), '13');
    r = await httpRaw({ path: `/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=3.0.0`, headers: { ...up, 'Sec-WebSocket-Version': '13' } });
    assert.equal(r.status, 400, r.info);
    r = await httpRaw({ path: `/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0`, headers: { ...up, 'Sec-WebSocket-Key': 'short', 'Sec-WebSocket-Version': '13' } });
    assert.equal(r.status, 400, r.info);
    r = await httpRaw({ method: 'POST', path: `/realtime/v1/websocket?apikey=${ANON_KEY}`, body: '' });
    assert.equal(r.status, 405, r.info);
  });
});

describe('realtime caps and lifetime (a server of our own)', () => {
  let db;
  let srv;
  before(async () => {
    db = freshDatabase();
    srv = await startMunshi(db.url, {
      MUNSHI_REALTIME_MAX_CHANNELS: '2',
      MUNSHI_REALTIME_MAX_BINDINGS: '2',
      MUNSHI_REALTIME_MAX_SOCKETS_PER_USER: '2',
      MUNSHI_REALTIME_MAX_FRAME: '4096',
      MUNSHI_HEADER_TIMEOUT: '1',
      MUNSHI_WORKERS: '0',
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
  });

  const joinFrame = (ref, topic, token, bindings = [{ event: '*', schema: 'public', table: 'customers' }]) =>
    [ref, ref, topic, 'phx_join', { config: { postgres_changes: bindings }, access_token: token }];

  test('frame size, channels per socket, bindings per channel', async () => {
    const u = await signup({ origin: srv.origin });
    const c = await raw({ origin: srv.origin });
    c.send(joinFrame('1', 'realtime:a', u.token));
    c.send(joinFrame('2', 'realtime:b', u.token));
    c.send(joinFrame('3', 'realtime:c', u.token));
    assert.equal((await c.next(isReply('1')))[4].status, 'ok');
    assert.equal((await c.next(isReply('2')))[4].status, 'ok');
    const third = await c.next(isReply('3'));
    assert.equal(third[4].status, 'error');
    assert.match(third[4].response.reason, /too many channels/);
    const b = [{ event: '*', schema: 'public', table: 'customers' }];
    c.send(joinFrame('4', 'realtime:a', u.token, [...b, ...b, ...b]));
    const many = await c.next(isReply('4'));
    assert.equal(many[4].status, 'error');
    assert.match(many[4].response.reason, /too many postgres_changes bindings/);
    // past the frame cap: closed with 1009 (message too big)
    c.send([null, '5', 'phoenix', 'heartbeat', { pad: 'x'.repeat(5000) }]);
    const closed = await c.closed;
    assert.equal(closed.code, 1009);
  });

  test('sockets per user and per address', async () => {
    const u = await signup({ origin: srv.origin });
    const socks = [];
    for (let i = 0; i < 3; i++) {
      const c = await raw({ origin: srv.origin });
      socks.push(c);
      c.send(joinFrame('1', 'realtime:u', u.token));
      await c.next(isReply('1'));
    }
    assert.equal(socks[0].frames[0][4].status, 'ok');
    assert.equal(socks[1].frames[0][4].status, 'ok');
    assert.equal(socks[2].frames[0][4].status, 'error');
    assert.match(socks[2].frames[0][4].response.reason, /too many realtime connections for this user/);
    // one socket of the user closes: a new one may join (once the server
    // has seen it go)
    socks[0].ws.close();
    await socks[0].closed;
    let ref = 1;
    await eventually(async () => {
      ref += 1;
      socks[2].send(joinFrame(String(ref), 'realtime:u', u.token));
      return (await socks[2].next(isReply(String(ref))))[4].status === 'ok';
    }, 'a join after a socket of the user closed', 5000, 200);
    for (const c of socks) c.ws.close();
    // sockets that never join count against their address
    const addr = '127.0.0.77';
    // Each socket is counted when the WebSocket thread takes it over, after
    // its 101 went out from whichever HTTP worker upgraded it: under load
    // the three can be taken in another order than they were opened, so
    // the one refused is any one of them - exactly one.
    const as = [];
    for (let i = 0; i < 3; i++) as.push(await raw({ origin: srv.origin, localAddress: addr }));
    const first = await Promise.race(as.map((c, i) => c.closed.then((ci) => ({ i, ci }))));
    assert.equal(first.ci.code, 1008);
    assert.match(first.ci.reason, /too many connections from this address/);
    await new Promise((r) => setTimeout(r, 300));
    const open = as.filter((c, i) => i !== first.i);
    for (const c of open) assert.equal(c.closeInfo, null);
    for (const c of open) c.ws.close();
  });

  test('an upgraded socket outlives the header deadline; a stopping server closes it with 1001', async () => {
    const c = await raw({ origin: srv.origin });
    await sleep(2500); // the header deadline is 1 s here
    assert.equal(c.closeInfo, null, 'cut by the header sweeper');
    v2(c, null, '1', 'phoenix', 'heartbeat', {});
    await c.next(isReply('1'));
    const exited = await srv.stop();
    srv = null;
    const closed = await c.closed;
    assert.equal(closed.code, 1001);
    assert.equal(exited && exited.code, 0, `the server exited with ${JSON.stringify(exited)}`);
  });
});

describe('two munshi processes on one database', () => {
  let second;
  before(async () => {
    second = await startMunshi(process.env.MUNSHI_DB, { MUNSHI_WORKERS: '0' });
  });
  after(async () => { if (second) await second.stop(); });

  test('a change written through one process arrives on a socket of the other', async () => {
    const owner = await signup();
    const onSecond = listen(await client({ origin: second.origin, token: owner.token }), `two-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    const onFirst = listen(await client({ token: owner.token }), `one-${suffix()}`, [{ event: '*', schema: 'public', table: 'customers' }]);
    await Promise.all([onSecond.subscribed, onFirst.subscribed]);
    const viaFirst = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'written on the first' }, headers: REP });
    const viaSecond = await rest('POST', 'customers', { token: owner.token, body: { full_name: 'written on the second' }, headers: REP, origin: second.origin });
    assert.equal(viaFirst.status, 201, viaFirst.info);
    assert.equal(viaSecond.status, 201, viaSecond.info);
    const ids = [viaFirst.json[0].id, viaSecond.json[0].id];
    await eventually(() => ids.every((id) => onSecond.all.some((e) => e.new.id === id)), 'both changes on the second process', 15000);
    await eventually(() => ids.every((id) => onFirst.all.some((e) => e.new.id === id)), 'both changes on the first process', 15000);
    assert.deepEqual(onSecond.all.map((e) => e.new.id), ids, 'in commit order');
    assert.deepEqual(onFirst.all.map((e) => e.new.id), ids, 'in commit order');
  });
});

// ---- what an attacker found (issue 9's review) -------------------------------

/** Bytes sent as-is on a fresh TCP connection; resolves with all that came back once the server closes (or after ms). */
function tcpExchange(origin, text, ms = 3000) {
  const u = new URL(origin);
  return new Promise((resolve, reject) => {
    const chunks = [];
    const s = net.connect({ host: u.hostname, port: Number(u.port) }, () => s.write(text));
    const done = () => { clearTimeout(t); s.destroy(); resolve(Buffer.concat(chunks).toString('latin1')); };
    const t = setTimeout(done, ms);
    s.on('data', (d) => chunks.push(d));
    s.on('end', done);
    s.on('error', reject);
  });
}

/** A client frame (masked), as RFC 6455 5.2 lays it out. */
function clientFrame(payload, opcode) {
  const mask = Buffer.from([1, 2, 3, 4]);
  const len = payload.length;
  const head = len < 126 ? Buffer.from([0x80 | opcode, 0x80 | len]) : Buffer.from([0x80 | opcode, 0x80 | 126, len >> 8, len & 255]);
  const body = Buffer.from(payload.map((b, i) => b ^ mask[i & 3]));
  return Buffer.concat([head, mask, body]);
}

function rssMB(pid) {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m[1]) / 1024;
}

describe('realtime under abuse (a server of our own)', () => {
  let db;
  let srv;
  before(async () => {
    db = freshDatabase();
    srv = await startMunshi(db.url, {
      MUNSHI_REALTIME_MAX_SOCKETS_PER_USER: '2',
      MUNSHI_REALTIME_MAX_BINDINGS_PER_SOCKET: '50',
      MUNSHI_REALTIME_MAX_BINDINGS_PER_USER: '60',
      MUNSHI_REALTIME_MAX_QUEUE: '8388608',
      MUNSHI_REALTIME_MAX_QUEUE_TOTAL: '1048576',
      MUNSHI_MAX_BODY: '4194304',
    });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
  });
  const join = (ref, topic, token, bindings) =>
    [ref, ref, topic, 'phx_join', { config: { postgres_changes: bindings }, access_token: token }];
  const cust = { event: '*', schema: 'public', table: 'customers' };

  test('a ping flood that never reads holds no more than its queue; other sockets stay served', async () => {
    const u = new URL(srv.origin);
    const s = net.connect({ host: u.hostname, port: Number(u.port), localAddress: '127.0.0.81' });
    await new Promise((r) => s.once('connect', r));
    s.write(`GET /realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n` +
      'Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n');
    await new Promise((r) => s.once('data', r));
    s.pause(); // never read again: every pong the server owes stays with it
    s.on('error', () => {}); // the server may drop it (max_queue_total)
    const before = rssMB(srv.pid);
    const ping = clientFrame([...Buffer.alloc(125, 80)], 9);
    const blob = Buffer.concat(Array(2000).fill(ping));
    const other = await raw({ origin: srv.origin, localAddress: '127.0.0.82' });
    let flooding = true;
    const pump = () => { while (flooding && !s.destroyed && s.write(blob)); };
    s.on('drain', pump);
    pump();
    const t0 = Date.now();
    let worst = 0;
    let peak = 0;
    while (Date.now() - t0 < 5000) {
      const h0 = Date.now();
      const ref = String(h0);
      v2(other, null, ref, 'phoenix', 'heartbeat', {});
      await other.next(isReply(ref), 'a heartbeat reply during the flood', 5000);
      worst = Math.max(worst, Date.now() - h0);
      peak = Math.max(peak, rssMB(srv.pid) - before);
      await sleep(50);
    }
    flooding = false;
    const grew = Math.max(peak, rssMB(srv.pid) - before);
    s.destroy();
    other.ws.close();
    // 8 MiB of queue at most (and 1 MiB over all sockets here), plus the
    // kernel's buffers; unbounded it grew by about 150 MB a second
    assert.ok(grew < 100, `the server grew by ${grew.toFixed(0)} MB under a ping flood`);
    assert.ok(worst < 1000, `a heartbeat waited ${worst} ms`);
  });

  test('every matching binding gets its id, however many', async () => {
    const c = await raw({ origin: srv.origin, localAddress: '127.0.0.83', apikey: SERVICE_KEY });
    const bindings = Array.from({ length: 40 }, (_, i) => ({ ...cust, filter: `full_name=neq.x${i}` }));
    c.send(join('1', 'realtime:ids', SERVICE_KEY, bindings));
    const r = await c.next(isReply('1'));
    assert.equal(r[4].status, 'ok', JSON.stringify(r));
    const ids = r[4].response.postgres_changes.map((b) => b.id);
    const u = await signup({ origin: srv.origin });
    const made = await rest('POST', 'customers', { origin: srv.origin, token: u.token, body: { full_name: 'forty' }, headers: REP });
    assert.equal(made.status, 201, made.info);
    const ev = await c.next((f) => f[3] === 'postgres_changes' && f[4].data.record.id === made.json[0].id);
    assert.deepEqual([...ev[4].ids].sort((a, b) => a - b), [...ids].sort((a, b) => a - b));
    assert.equal(ev[4].ids.length, 40);
    c.ws.close();
  });

  test('bindings are capped per socket and per user', async () => {
    const u = await signup({ origin: srv.origin });
    const many = (n) => Array.from({ length: n }, (_, i) => ({ ...cust, filter: `full_name=eq.n${i}` }));
    const a = await raw({ origin: srv.origin, localAddress: '127.0.0.84' });
    a.send(join('1', 'realtime:a1', u.token, many(40)));
    assert.equal((await a.next(isReply('1')))[4].status, 'ok');
    a.send(join('2', 'realtime:a2', u.token, many(20)));
    const r2 = await a.next(isReply('2'));
    assert.equal(r2[4].status, 'error');
    assert.match(r2[4].response.reason, /too many postgres_changes bindings on this connection \(at most 50\)/);
    const b = await raw({ origin: srv.origin, localAddress: '127.0.0.84' });
    b.send(join('1', 'realtime:b1', u.token, many(25)));
    const rb = await b.next(isReply('1'));
    assert.equal(rb[4].status, 'error');
    assert.match(rb[4].response.reason, /too many postgres_changes bindings for this user/);
    // what a channel gives back on leave may be taken again
    v2(a, '1', '3', 'realtime:a1', 'phx_leave', {});
    await a.next(isReply('3'));
    b.send(join('2', 'realtime:b1', u.token, many(25)));
    assert.equal((await b.next(isReply('2')))[4].status, 'ok');
    a.ws.close();
    b.ws.close();
  });

  test('socket counts follow the principal: a token switch counts against the new user, a leave against the address again', async () => {
    const A = await signup({ origin: srv.origin });
    const B = await signup({ origin: srv.origin });
    const bs = [];
    for (let i = 0; i < 2; i++) {
      const c = await raw({ origin: srv.origin, localAddress: '127.0.0.85' });
      c.send(join('1', 'realtime:b', B.token, [cust]));
      assert.equal((await c.next(isReply('1')))[4].status, 'ok');
      bs.push(c);
    }
    const s = await raw({ origin: srv.origin, localAddress: '127.0.0.86' });
    s.send(join('1', 'realtime:s', A.token, [cust]));
    assert.equal((await s.next(isReply('1')))[4].status, 'ok');
    v2(s, '1', '2', 'realtime:s', 'access_token', { access_token: B.token });
    const sys = await s.next((f) => f[3] === 'system' && f[4].status === 'error', 'the channel ended');
    assert.match(sys[4].message, /too many realtime connections for this user/);
    await s.next((f) => f[3] === 'phx_close');
    for (const c of bs) c.ws.close();
    s.ws.close();
    // a socket that joined as a user and left counts against its address again
    const addr = '127.0.0.87';
    const x1 = await raw({ origin: srv.origin, localAddress: addr });
    x1.send(join('1', 'realtime:x', A.token, [cust]));
    assert.equal((await x1.next(isReply('1')))[4].status, 'ok');
    const x2 = await raw({ origin: srv.origin, localAddress: addr });
    const x3 = await raw({ origin: srv.origin, localAddress: addr }); // x1 counts against A now
    for (const c of [x2, x3]) { // taken over by the WebSocket thread (the 101 comes before)
      v2(c, null, 'hb', 'phoenix', 'heartbeat', {});
      await c.next(isReply('hb'));
    }
    assert.equal(x3.closeInfo, null);
    v2(x1, '1', '2', 'realtime:x', 'phx_leave', {});
    const closed = await Promise.race([x1.closed, sleep(5000).then(() => null)]); // back on the address, which is full
    assert.ok(closed, 'the socket that left stayed open past its address cap');
    assert.equal(closed.code, 1008);
    assert.match(closed.reason, /too many connections from this address/);
    x2.ws.close();
    x3.ws.close();
  });

  test('slow readers together are held to max_queue_total: the biggest go, a reader stays', async () => {
    const u = await signup({ origin: srv.origin });
    const reader = await raw({ origin: srv.origin, localAddress: '127.0.0.88' });
    reader.send(join('1', 'realtime:r', u.token, [cust]));
    assert.equal((await reader.next(isReply('1')))[4].status, 'ok');
    const slow = [];
    for (let i = 0; i < 6; i++) {
      const c = await raw({ origin: srv.origin, localAddress: `127.0.0.${90 + (i >> 1)}` });
      c.send(join('1', 'realtime:s', SERVICE_KEY, [cust]));
      await c.next(isReply('1'));
      c.got = 0;
      c.ws.on('message', () => { c.got += 1; });
      c.ws._socket.pause(); // reads nothing from now on
      slow.push(c);
    }
    const N = 120; // 7 MB to each: more than the kernel buffers, less than max_queue
    const notes = 'n'.repeat(60000);
    const ids = [];
    for (let i = 0; i < N; i += 10) {
      const body = Array.from({ length: 10 }, (_, k) => ({ full_name: `big ${i + k}`, notes }));
      const r = await rest('POST', 'customers', { origin: srv.origin, token: u.token, body, headers: REP });
      assert.equal(r.status, 201, r.info);
      ids.push(...r.json.map((x) => x.id));
    }
    await eventually(() => ids.every((id) => reader.frames.some((f) => f[3] === 'postgres_changes' && f[4].data.record.id === id)),
      'every change at the reader', 20000);
    await sleep(500);
    for (const c of slow) c.ws._socket.resume();
    await sleep(2000);
    const cut = slow.filter((c) => c.closeInfo && c.got < N + 2);
    assert.ok(cut.length > 0, `no slow reader was dropped (received ${slow.map((c) => c.got)})`);
    assert.equal(reader.closeInfo, null);
    assert.match(srv.log(), /bytes queued on all sockets/);
    for (const c of slow) c.ws.close();
    reader.ws.close();
  });

  test('a rejoin that replays thousands of rows does not hold up other sockets', async () => {
    const A = await signup({ origin: srv.origin });
    const probe = await raw({ origin: srv.origin, localAddress: '127.0.0.95', apikey: SERVICE_KEY });
    probe.send(join('1', 'realtime:probe', SERVICE_KEY, [{ event: 'INSERT', schema: 'public', table: 'products' }]));
    assert.equal((await probe.next(isReply('1')))[4].status, 'ok');
    // every channel reads the tenant's customers (the replay renders each
    // row), only the first matches one of them
    const C = 45;
    const bind = (k) => [{ ...cust, filter: k ? `full_name=eq.none ${k}` : 'full_name=eq.needle' }];
    const joinAll = (c) => { for (let k = 0; k < C; k++) c.send(join(String(k + 1), `realtime:p${k}`, A.token, bind(k))); };
    const first = await raw({ origin: srv.origin, localAddress: '127.0.0.96' });
    joinAll(first);
    await first.next(isReply(String(C)));
    for (let k = 0; k < 12; k++) {
      const body = Array.from({ length: 500 }, (_, i) => ({ full_name: k || i ? `replayed ${k}.${i}` : 'needle' }));
      const r = await rest('POST', 'customers', { origin: srv.origin, token: A.token, body });
      assert.equal(r.status, 201, r.info);
    }
    first.ws.terminate(); // dropped: its 30 channels are parked
    await sleep(1000);
    const latency = async () => {
      const t0 = Date.now();
      const r = await rest('POST', 'products', { origin: srv.origin, token: A.token, body: { name: `probe ${t0}` }, headers: REP });
      assert.equal(r.status, 201, r.info);
      await probe.next((f) => f[3] === 'postgres_changes' && f[4].data.record.id === r.json[0].id, 'the probe', 30000);
      return Date.now() - t0;
    };
    const base = await latency();
    const again = await raw({ origin: srv.origin, localAddress: '127.0.0.96' });
    joinAll(again); // each channel rejoins within the window: 45 replays of 6,000 rows
    const during = await latency();
    // the replay reaches the client too, after its join replies
    const got = await again.next((f) => f[3] === 'postgres_changes' && f[2] === 'realtime:p0', 'the replayed change', 30000);
    assert.equal(got[4].data.record.full_name, 'needle');
    again.ws.close();
    probe.ws.close();
    console.log(`probe latency ${base} ms, during the replays ${during} ms`);
    assert.ok(during < 1000, `a change waited ${during} ms behind a rejoin's replays (${base} ms before)`);
  });

  test('an HTTP/1.0 upgrade, or one with a body, is answered 400', async () => {
    const path = `/realtime/v1/websocket?apikey=${ANON_KEY}&vsn=2.0.0`;
    const hs = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n';
    let got = await tcpExchange(srv.origin, `GET ${path} HTTP/1.0\r\nHost: x\r\n${hs}\r\n`);
    assert.match(got, /^HTTP\/1\.[01] 400/, got);
    assert.match(got, /HTTP\/1\.1/);
    assert.match(got, /"code":"PGRST100"/);
    got = await tcpExchange(srv.origin, `GET ${path} HTTP/1.1\r\nHost: x\r\n${hs}Content-Length: 5\r\n\r\nhello`);
    assert.match(got, /^HTTP\/1\.1 400/, got);
    assert.match(got, /carries no body/);
    got = await tcpExchange(srv.origin, `GET ${path} HTTP/1.1\r\nHost: x\r\n${hs}Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`);
    assert.match(got, /^HTTP\/1\.1 400/, got);
    assert.doesNotMatch(got, /101 Switching/);
  });
});
