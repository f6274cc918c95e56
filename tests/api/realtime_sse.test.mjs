// realtime_sse.test.mjs - GET /realtime/v1/sse, the live feed as server-sent
// events: INSERT, UPDATE and DELETE arrive in commit order, each event's
// data the postgres_changes data object with record/old_record exactly as a
// REST read shows the row (secrets as null); a user sees its own tenant's
// rows only, the service role every tenant's; table filters (eq, in with
// commas); Last-Event-ID resumes (header and query parameter) with nothing
// missed and nothing repeated; bad requests and bad tokens are refused
// before a stream opens; the token may come in the query (EventSource
// cannot set headers); a token that expires ends the stream with an
// error event.
import assert from 'node:assert/strict';
import http from 'node:http';
import { after, before, test } from 'node:test';

import {
  ANON_KEY, BASE, SERVICE_KEY, expectPgError, now, rest, rows, signJwt, signup,
} from './lib.mjs';

const base = new URL(BASE);
const REP = { Prefer: 'return=representation' };
const open = new Set();

/**
 * Opens a stream. Resolves {status, json} for an answer that is not a
 * stream, else a stream object: events (queue), take(n), quiet(ms),
 * ended (promise), close().
 */
function sse(query, { token, headers = {}, apikey = ANON_KEY } = {}) {
  const h = { Accept: 'text/event-stream', ...headers };
  if (apikey) h.apikey = apikey;
  if (token) h.Authorization = `Bearer ${token}`;
  return new Promise((resolve, reject) => {
    const req = http.request({
      host: base.hostname, port: base.port, method: 'GET', agent: false,
      path: `/realtime/v1/sse?${query}`, headers: h,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      if (res.statusCode !== 200 || !/^text\/event-stream/.test(res.headers['content-type'] || '')) {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d) => { body += d; });
        res.on('end', () => {
          let json = null;
          try { json = JSON.parse(body); } catch { /* not JSON */ }
          resolve({ status: res.statusCode, json, text: body, info: `GET sse?${query} -> ${res.statusCode} ${body}` });
        });
        return;
      }
      const s = {
        status: 200, headers: res.headers, events: [], raw: '', comments: 0, waiters: [],
        ended: null,
        close() { req.destroy(); open.delete(s); },
        take(n, timeoutMs = 10000) {
          return new Promise((res2, rej2) => {
            const check = () => {
              if (s.events.length >= n) { res2(s.events.splice(0, n)); return true; }
              return false;
            };
            if (check()) return;
            const t = setTimeout(() => {
              s.waiters = s.waiters.filter((w) => w !== check);
              rej2(new Error(`waited ${timeoutMs} ms for ${n} event(s), got ${s.events.length}: ${JSON.stringify(s.events).slice(0, 800)}`));
            }, timeoutMs);
            s.waiters.push(() => { if (check()) { clearTimeout(t); return true; } return false; });
          });
        },
        async quiet(ms) {
          await new Promise((r) => setTimeout(r, ms));
          assert.deepEqual(s.events, [], 'no event was due');
        },
      };
      let buf = '';
      s.ended = new Promise((r) => res.on('end', r).on('close', r));
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        s.raw += chunk;
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = { id: null, event: 'message', data: [] };
          let any = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) { s.comments++; continue; }
            const c = line.indexOf(':');
            const k = c < 0 ? line : line.slice(0, c);
            const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
            if (k === 'id') ev.id = v;
            else if (k === 'event') ev.event = v;
            else if (k === 'data') { ev.data.push(v); any = true; }
          }
          if (!any) continue;
          ev.text = ev.data.join('\n');
          ev.data = JSON.parse(ev.text);
          s.events.push(ev);
        }
        s.waiters = s.waiters.filter((w) => !w());
      });
      open.add(s);
      resolve(s);
    });
    req.end();
  });
}

let A;
let B;

before(async () => {
  A = await signup();
  B = await signup();
});

after(() => {
  for (const s of open) s.close();
});

async function addCustomer(token, body) {
  const r = await rest('POST', 'customers', { token, headers: REP, body });
  assert.equal(r.status, 201, r.info);
  return r.json[0];
}

test('INSERT, UPDATE and DELETE arrive in order, rendered as REST reads the row', async () => {
  const s = await sse('tables=customers', { token: A.token });
  assert.equal(s.status, 200);
  assert.match(s.headers['content-type'], /^text\/event-stream/);
  assert.equal(s.headers['cache-control'], 'no-cache');
  const c = await addCustomer(A.token, { full_name: 'Live One', phone_number: '+919811100001', state_code: '29' });
  const [restRow] = await rows('customers', A.token, `id=eq.${c.id}`);
  const up = await rest('PATCH', `customers?id=eq.${c.id}`, { token: A.token, headers: REP, body: { notes: 'called back' } });
  assert.equal(up.status, 200, up.info);
  const [restRow2] = await rows('customers', A.token, `id=eq.${c.id}`);
  const del = await rest('DELETE', `customers?id=eq.${c.id}`, { token: A.token });
  assert.ok([200, 204].includes(del.status), del.info);

  const [ins, upd, dl] = await s.take(3);
  assert.deepEqual([ins.event, upd.event, dl.event], ['INSERT', 'UPDATE', 'DELETE']);
  for (const e of [ins, upd, dl]) {
    assert.match(e.id, /^\d+\.\d+$/, 'the id is the position txid.seq');
    assert.equal(e.data.schema, 'public');
    assert.equal(e.data.table, 'customers');
    assert.equal(e.data.type, e.event);
    assert.equal(e.data.errors, null);
    assert.ok(Array.isArray(e.data.columns), 'columns is an array');
    assert.ok(!Number.isNaN(Date.parse(e.data.commit_timestamp)), e.text);
  }
  const pos = (id) => id.split('.').map(BigInt);
  const [a, b2, c2] = [ins, upd, dl].map((e) => pos(e.id));
  const lt = (x, y) => x[0] < y[0] || (x[0] === y[0] && x[1] < y[1]);
  assert.ok(lt(a, b2) && lt(b2, c2), `ids grow: ${ins.id} ${upd.id} ${dl.id}`);
  assert.deepEqual(ins.data.record, restRow);
  assert.equal('old_record' in ins.data, false, 'an INSERT has no old_record');
  assert.deepEqual(upd.data.record, restRow2);
  assert.deepEqual(upd.data.old_record, restRow);
  assert.deepEqual(dl.data.old_record, restRow2);
  assert.equal('record' in dl.data, false, 'a DELETE has no record');
  s.close();
});

test('a user sees its own tenant only; the service role sees every tenant', async () => {
  const sa = await sse('tables=customers', { token: A.token });
  const sb = await sse('tables=customers', { token: B.token });
  const ss = await sse('tables=customers', { token: SERVICE_KEY, apikey: SERVICE_KEY });
  const ca = await addCustomer(A.token, { full_name: 'Tenant A row' });
  const cb = await addCustomer(B.token, { full_name: 'Tenant B row' });
  const [ea] = await sa.take(1);
  const [eb] = await sb.take(1);
  assert.equal(ea.data.record.id, ca.id);
  assert.equal(eb.data.record.id, cb.id);
  const both = await ss.take(2);
  assert.deepEqual(both.map((e) => e.data.record.id), [ca.id, cb.id]);
  await sa.quiet(500);
  await sb.quiet(0);
  for (const s of [sa, sb, ss]) s.close();
});

test('secrets go out as null, as a REST read shows them', async () => {
  const s = await sse('tables=channels', { token: A.token });
  const r = await rest('POST', 'channels', {
    token: A.token, headers: REP,
    body: { platform: 'whatsapp', name: 'sse secrets', phone_number_id: `8${Date.now()}`, access_token: 'very-secret-token', app_secret: 'very-secret-app', verify_token: 'v' },
  });
  assert.equal(r.status, 201, r.info);
  const [e] = await s.take(1);
  assert.equal(e.event, 'INSERT');
  assert.equal(e.data.record.access_token, null);
  assert.equal(e.data.record.app_secret, null);
  assert.ok(!e.text.includes('very-secret'), 'no secret in the event');
  assert.deepEqual(e.data.record, r.json[0]);
  s.close();
});

test('filters: eq, and in with commas inside the list; other tables not sent', async () => {
  // A stream opened before a and b are published would carry their
  // INSERTs too (it gets what the feed publishes after it opened): wait
  // until another stream has seen them.
  const s0 = await sse('tables=customers', { token: A.token });
  const a = await addCustomer(A.token, { full_name: 'Filter A', state_code: '27' });
  const b = await addCustomer(A.token, { full_name: 'Filter B', state_code: '27' });
  await s0.take(2);
  s0.close();
  const s = await sse(`tables=${encodeURIComponent(`customers:state_code=eq.29,products,customers:id=in.(${a.id},${b.id})`)}`, { token: A.token });
  await addCustomer(A.token, { full_name: 'Filter no', state_code: '24' });
  const yes = await addCustomer(A.token, { full_name: 'Filter yes', state_code: '29' });
  const up = await rest('PATCH', `customers?id=eq.${b.id}`, { token: A.token, body: { notes: 'b changed' } });
  assert.ok([200, 204].includes(up.status), up.info);
  const p = await rest('POST', 'products', { token: A.token, headers: REP, body: { name: 'SSE soap', sku: `SSE-${Date.now()}`, unit: 'pcs', gst_rate: 18, base_price: 10 } });
  assert.equal(p.status, 201, p.info);
  const ev = await s.take(3);
  assert.deepEqual(ev.map((e) => [e.event, e.data.table, (e.data.record || {}).id]),
    [['INSERT', 'customers', yes.id], ['UPDATE', 'customers', b.id], ['INSERT', 'products', p.json[0].id]]);
  await s.quiet(500);
  s.close();
});

test('bad requests are refused before a stream opens', async () => {
  const cases = [
    ['', 400, 'PGRST100'],
    ['tables=', 400, 'PGRST100'],
    ['tables=no_such_table', 404, 'PGRST205'],
    ['tables=customers:no_such_col=eq.1', 400, undefined],
    ['tables=customers:state_code=zz.1', 400, undefined],
    [`tables=${encodeURIComponent('customers:id=in.(1,2')}`, 400, 'PGRST100'],
    ['tables=customers&tables=products', 400, 'PGRST100'],
    ['tables=customers&last_event_id=yesterday', 400, 'PGRST100'],
  ];
  for (const [q, status, code] of cases) {
    const r = await sse(q, { token: A.token });
    expectPgError(r, status, code);
  }
  const bad = await sse('tables=customers', { headers: { 'Last-Event-ID': 'x.y' }, token: A.token });
  expectPgError(bad, 400, 'PGRST100');
});

test('a bad, expired or missing token is refused', async () => {
  const forged = signJwt({ sub: A.userId, role: 'authenticated', aud: 'authenticated', exp: now() + 600 }, 'not-the-secret');
  const expired = signJwt({ sub: A.userId, role: 'authenticated', aud: 'authenticated', exp: now() - 10, iat: now() - 100 });
  expectPgError(await sse('tables=customers', { token: forged }), 401, 'PGRST301');
  expectPgError(await sse('tables=customers', { token: expired }), 401, 'PGRST303');
  expectPgError(await sse('tables=customers', {}), 401); // the anon key alone
  expectPgError(await sse('tables=customers', { apikey: null }), 401);
  expectPgError(await sse(`tables=customers&access_token=${forged}`, { apikey: null }), 401, 'PGRST301');
});

test('the token in the query, as EventSource sends it', async () => {
  const s = await sse(`tables=customers&access_token=${encodeURIComponent(A.token)}`, { apikey: null });
  assert.equal(s.status, 200, s.info);
  const c = await addCustomer(A.token, { full_name: 'Query token' });
  const [e] = await s.take(1);
  assert.equal(e.data.record.id, c.id);
  s.close();
});

test('Last-Event-ID resumes after the last event seen, by header or query', async () => {
  const s = await sse('tables=customers', { token: A.token });
  const c1 = await addCustomer(A.token, { full_name: 'Resume 1' });
  const [e1] = await s.take(1);
  assert.equal(e1.data.record.id, c1.id);
  s.close();
  // Missed while away: two rows of A (and one of B, never A's to see).
  const c2 = await addCustomer(A.token, { full_name: 'Resume 2' });
  await addCustomer(B.token, { full_name: 'Resume B' });
  const c3 = await addCustomer(A.token, { full_name: 'Resume 3' });
  const h = await sse('tables=customers', { token: A.token, headers: { 'Last-Event-ID': e1.id } });
  assert.equal(h.status, 200, h.info);
  const got = await h.take(2);
  assert.deepEqual(got.map((e) => e.data.record.id), [c2.id, c3.id]);
  // Live changes follow the replayed ones on the same stream.
  const c4 = await addCustomer(A.token, { full_name: 'Resume 4' });
  const [e4] = await h.take(1);
  assert.equal(e4.data.record.id, c4.id);
  await h.quiet(300);
  h.close();
  const q = await sse(`tables=customers&last_event_id=${got[0].id}`, { token: A.token });
  const got2 = await q.take(2);
  assert.deepEqual(got2.map((e) => e.data.record.id), [c3.id, c4.id]);
  await q.quiet(300);
  q.close();
});

test('a token that expires ends the stream with an error event', async () => {
  const exp = now() + 2;
  const token = signJwt({ sub: A.userId, role: 'authenticated', aud: 'authenticated', exp, iat: now(), email: A.email });
  const s = await sse('tables=customers', { token });
  assert.equal(s.status, 200, s.info);
  const c = await addCustomer(A.token, { full_name: 'Before expiry' });
  const [e] = await s.take(1);
  assert.equal(e.data.record.id, c.id);
  const [err] = await s.take(1, 8000);
  assert.equal(err.event, 'error');
  assert.equal(err.data.code, 'PGRST303');
  assert.ok(Date.now() / 1000 >= exp, 'not before the token expired');
  await s.ended;
  // Nothing after the end: a later change reaches no one on this stream.
  assert.deepEqual(s.events, []);
});

// Resumes run off the HTTP workers: the regression of a review that saw
// eight resumes from far back make /health wait for seconds and two of
// them cut off with no answer (the replays ran on the two workers, one
// after another, each building megabytes before answering). Here eight
// resumes each much larger than a stream's queue (4 MiB) are answered at
// once, /health stays prompt while they replay, and each gets every row
// once, in order, then the live change made meanwhile.
test('large resumes: answered at once, /health prompt, every row once and in order', async () => {
  const C = await signup();
  const s0 = await sse('tables=customers', { token: C.token });
  await addCustomer(C.token, { full_name: 'marker' });
  const [mark] = await s0.take(1);
  s0.close();
  const N = 5000;
  const pad = 'y'.repeat(700); // each event about 1.6 kB: 8 MB a stream
  for (let k = 0; k < N; k += 500) {
    const body = Array.from({ length: 500 }, (_, i) => ({ full_name: `r${String(k + i).padStart(5, '0')}-${pad}` }));
    const r = await rest('POST', 'customers', { token: C.token, body });
    assert.equal(r.status, 201, r.info);
  }

  // A light client: counts the events as they stream, keeps no text.
  const resume = () => new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = http.request({
      host: base.hostname, port: base.port, method: 'GET', agent: false,
      path: `/realtime/v1/sse?tables=customers&last_event_id=${mark.id}`,
      headers: { apikey: ANON_KEY, Authorization: `Bearer ${C.token}` },
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const st = { status: res.statusCode, headersMs: Date.now() - t0, n: 0, last: 0n, bad: [], errors: [], req };
      let buf = '';
      st.until = (n, ms = 60000) => new Promise((ok, fail) => {
        const t = setTimeout(() => fail(new Error(`waited ${ms} ms for ${n} events, got ${st.n}; ${st.bad.concat(st.errors).slice(0, 3)}`)), ms);
        const check = () => { if (st.n >= n) { clearTimeout(t); ok(); return true; } return false; };
        if (!check()) st.wait = check;
      });
      res.setEncoding('utf8');
      res.on('data', (chunk) => {
        buf += chunk;
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          if (/^event: error$/m.test(block)) st.errors.push(block.slice(0, 200));
          const id = /^id: (\d+)\.(\d+)$/m.exec(block);
          if (!id) continue;
          const seq = BigInt(id[2]);
          if (seq <= st.last) st.bad.push(`id ${seq} after ${st.last}`);
          st.last = seq;
          const name = /"full_name":"([^"]{0,20})/.exec(block)[1];
          const want = st.n < N ? `r${String(st.n).padStart(5, '0')}-` : 'live';
          if (!name.startsWith(want)) st.bad.push(`event ${st.n} is ${name}, not ${want}`);
          st.n++;
        }
        if (st.wait && st.wait()) st.wait = null;
      });
      resolve(st);
    });
    req.end();
  });

  const t0 = Date.now();
  const streams = await Promise.all(Array.from({ length: 8 }, resume));
  const openedMs = Date.now() - t0;
  const h0 = Date.now();
  const hr = await fetch(`${BASE}/health`);
  const healthMs = Date.now() - h0;
  assert.equal(hr.status, 200);
  for (const st of streams) assert.equal(st.status, 200);
  assert.ok(openedMs < 3000, `the eight resumes were answered in ${openedMs} ms`);
  assert.ok(healthMs < 1000, `/health took ${healthMs} ms while the resumes replayed`);
  assert.ok(streams.some((st) => st.n < N), 'the replays were still running when /health was asked');

  const live = await addCustomer(C.token, { full_name: 'live after the resumes' });
  await Promise.all(streams.map((st) => st.until(N + 1)));
  await new Promise((r) => setTimeout(r, 300));
  for (const st of streams) {
    assert.deepEqual(st.bad, []);
    assert.deepEqual(st.errors, []);
    assert.equal(st.n, N + 1, 'every row once, then the live one');
    st.req.destroy();
  }
  assert.ok(live.id);
});
