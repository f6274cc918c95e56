// http.test.mjs - the HTTP layer as an attacker and a browser meet it:
// static files at "/", 405 and 404 from the route table, request smuggling
// (two framings of one body) answered 400 and closed, a slow-loris client
// cut off at the header deadline, half-open sockets from one address not
// stopping another client, password-hashing requests offloaded (the surplus
// gets 429 while /health keeps answering), X-Forwarded-For believed only
// from a trusted proxy, and access_token never reaching the log.
//
// The limit tests start servers of their own (MUNSHI_BIN, on the same
// database and secret as the suite's server) with short timeouts and small
// pools, so the shared server keeps its defaults. Speed is measured, not
// asserted: bounds here are loose enough for a loaded 2-core machine.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BASE, httpRaw, randomEmail, randomPassword, randomLoopback, signup } from './lib.mjs';

const base = new URL(BASE);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/** A plain request to host:port; resolves {status, headers, text, json, ms}. */
function get(port, path, { method = 'GET', headers = {}, body, localAddress, timeoutMs = 30000 } = {}) {
  const t0 = Date.now();
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined) { h['Content-Type'] = 'application/json'; h['Content-Length'] = Buffer.byteLength(body); }
    const req = http.request({ host: '127.0.0.1', port, method, path, headers: h, agent: false, localAddress });
    const timer = setTimeout(() => { req.destroy(new Error(`${method} ${path}: no answer in ${timeoutMs} ms`)); }, timeoutMs);
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('end', () => {
        clearTimeout(timer);
        const text = Buffer.concat(parts).toString('utf8');
        let json;
        try { json = JSON.parse(text); } catch { json = undefined; }
        resolve({ status: res.statusCode, headers: res.headers, text, json, ms: Date.now() - t0 });
      });
    });
    req.on('error', (e) => { clearTimeout(timer); reject(e); });
    req.end(body);
  });
}

/** Starts munshi with extra environment; resolves {port, log(), stop()}. */
async function startServer(env) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'munshi-http-'));
  const logPath = join(dir, 'server.log');
  const { openSync } = await import('node:fs');
  const fd = openSync(logPath, 'w');
  const proc = spawn(process.env.MUNSHI_BIN, ['serve'], {
    cwd: dir,
    env: { ...process.env, MUNSHI_PORT: String(port), MUNSHI_LISTEN: '127.0.0.1', ...env },
    stdio: ['ignore', fd, fd],
  });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = { code, sig }; });
  for (let i = 0; i < 200; i++) {
    if (exited) break;
    try { if ((await get(port, '/health', { timeoutMs: 1000 })).status === 200) break; } catch { /* not yet */ }
    await sleep(100);
  }
  const log = () => readFileSync(logPath, 'utf8');
  assert.equal(exited, null, `the server exited early: ${JSON.stringify(exited)}\n${log()}`);
  return {
    port,
    log,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 300 && !exited; i++) await sleep(100);
        if (!exited) proc.kill('SIGKILL');
      }
      const out = log();
      rmSync(dir, { recursive: true, force: true });
      assert.ok(exited && exited.code === 0, `server stopped badly (${JSON.stringify(exited)}):\n${out.slice(-3000)}`);
    },
  };
}

/** Sends raw bytes; resolves everything read until the server closes (or timeoutMs). */
function rawExchange(port, bytes, timeoutMs = 5000) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const parts = [];
    let closed = false;
    const timer = setTimeout(() => { s.destroy(); resolve({ text: Buffer.concat(parts).toString(), closed }); }, timeoutMs);
    s.on('connect', () => s.write(bytes));
    s.on('data', (d) => parts.push(d));
    s.on('error', () => {});
    s.on('close', () => { closed = true; clearTimeout(timer); resolve({ text: Buffer.concat(parts).toString(), closed }); });
  });
}

// ---------------------------------------------------------------------------
describe('static files and the route table', () => {
  test('GET / is the landing page, with an ETag that revalidates to 304', async () => {
    const r = await httpRaw({ path: '/' });
    assert.equal(r.status, 200, r.info);
    assert.match(r.header('content-type'), /^text\/html/);
    assert.match(r.text, /munshi/);
    const etag = r.header('etag');
    assert.match(etag, /^"[0-9a-f]+"$/);
    const again = await httpRaw({ path: '/index.html', headers: { 'If-None-Match': etag } });
    assert.equal(again.status, 304, again.info);
    assert.equal(again.text, '');
    const head = await httpRaw({ method: 'HEAD', path: '/' });
    assert.equal(head.status, 200);
    assert.equal(head.text, '');
  });

  test('the dashboard\'s pages may not be framed and run scripts from this server only', async () => {
    const r = await httpRaw({ path: '/' });
    assert.equal(r.header('x-frame-options'), 'DENY');
    const csp = r.header('content-security-policy') || '';
    assert.match(csp, /frame-ancestors 'none'/);
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.doesNotMatch(csp, /script-src[^;]*unsafe/);
    // Scripts and styles carry no page policy (it applies to documents).
    const js = await httpRaw({ path: '/js/app.js' });
    assert.equal(js.status, 200);
    assert.equal(js.header('content-security-policy'), undefined);
  });

  test('unknown paths are 404 and nothing climbs out of web/', async () => {
    for (const p of ['/nope', '/etc/passwd', '/%2e%2e/%2e%2e/etc/passwd', '/..%2f..%2fetc/passwd']) {
      const r = await httpRaw({ path: p });
      assert.equal(r.status, 404, r.info);
      assert.equal(r.json.code, 'PGRST125', r.info);
    }
    const raw = await rawExchange(base.port, 'GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    assert.match(raw.text, /^HTTP\/1\.1 (400|404)/);
    assert.doesNotMatch(raw.text, /root:/);
  });

  test('a known path with the wrong method is 405 with Allow', async () => {
    const r = await httpRaw({ method: 'POST', path: '/health', body: '{}' });
    assert.equal(r.status, 405, r.info);
    assert.equal(r.header('allow'), 'GET, HEAD');
    assert.equal(r.json.code, 'PGRST117');
    const f = await httpRaw({ method: 'DELETE', path: '/' });
    assert.equal(f.status, 405, f.info);
  });
});

// ---------------------------------------------------------------------------
describe('request smuggling', () => {
  const smuggled = 'GET /health HTTP/1.1\r\nHost: x\r\n\r\n';
  const cases = {
    'two different Content-Length headers':
      'POST /auth/v1/logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: 2\r\nContent-Length: ${2 + smuggled.length}\r\n\r\n{}${smuggled}`,
    'Content-Length with Transfer-Encoding':
      'POST /auth/v1/logout HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
      `Content-Length: ${5 + smuggled.length}\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n${smuggled}`,
    'Transfer-Encoding before Content-Length':
      'POST /rest/v1/customers HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n' +
      `Content-Length: 4\r\n\r\n0\r\n\r\n${smuggled}`,
  };
  for (const [name, bytes] of Object.entries(cases)) {
    test(`${name}: 400, closed, the second request never answered`, async () => {
      const r = await rawExchange(base.port, bytes);
      assert.ok(r.closed, `the connection stayed open: ${r.text}`);
      assert.match(r.text, /^HTTP\/1\.1 400 /, r.text);
      assert.match(r.text, /\r\nConnection: close\r\n/i, r.text);
      assert.equal(r.text.split('HTTP/1.1 ').length - 1, 1, `more than one answer: ${r.text}`);
      assert.doesNotMatch(r.text, /"status":"ok"/);
    });
  }

  test('two equal Content-Length headers are one length', async () => {
    const r = await rawExchange(base.port,
      'POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}');
    assert.match(r.text, /^HTTP\/1\.1 405 /, r.text);
  });
});

// ---------------------------------------------------------------------------
describe('connection limits and the header deadline', () => {
  let srv;
  before(async () => {
    srv = await startServer({ MUNSHI_HEADER_TIMEOUT: '2', MUNSHI_MAX_CONNECTIONS_PER_IP: '10' });
  });
  after(async () => { await srv.stop(); });

  test('a slow-loris client trickling a header byte every 500 ms is cut off at the deadline', async () => {
    const header = 'GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: ' + 'a'.repeat(200);
    const t0 = Date.now();
    const result = await new Promise((resolve) => {
      const s = net.connect(srv.port, '127.0.0.1');
      let i = 0;
      let timer;
      const stop = (how) => { clearInterval(timer); s.destroy(); resolve({ how, ms: Date.now() - t0, sent: i }); };
      s.on('connect', () => {
        timer = setInterval(() => {
          if (i >= header.length) return stop('finished trickling'); // 100 s: never reached
          s.write(header[i++]);
        }, 500);
      });
      s.on('data', () => {});
      s.on('error', () => stop('reset'));
      s.on('end', () => stop('closed'));
      s.on('close', () => stop('closed'));
      setTimeout(() => stop('still open after 20 s'), 20000);
    });
    assert.ok(result.how === 'closed' || result.how === 'reset', `${result.how} (${result.sent} bytes in ${result.ms} ms)`);
    // The deadline is 2 s; libmicrohttpd's idle timeout (30 s) never fired.
    assert.ok(result.ms < 15000, `cut after ${result.ms} ms`);
    assert.ok(result.ms >= 1500, `cut too early: ${result.ms} ms`);
  });

  test('half-open sockets from one address do not stop another client', async () => {
    const sockets = [];
    for (let i = 0; i < 40; i++) {
      const s = net.connect(srv.port, '127.0.0.1');
      s.on('error', () => {});
      s.on('connect', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: '));
      sockets.push(s);
    }
    await sleep(300);
    try {
      // Another address is served at once.
      const other = await get(srv.port, '/health', { localAddress: randomLoopback(), timeoutMs: 10000 });
      assert.equal(other.status, 200);
      // After the deadline the first address is served again too.
      await sleep(3500);
      const same = await get(srv.port, '/health', { timeoutMs: 10000 });
      assert.equal(same.status, 200);
      const open = sockets.filter((s) => !s.destroyed && s.readyState === 'open').length;
      assert.equal(open, 0, `${open} half-open sockets still open after the deadline`);
    } finally {
      for (const s of sockets) s.destroy();
    }
  });

  test('a kept-alive connection gets a fresh deadline for each request', async () => {
    const s = net.connect(srv.port, '127.0.0.1');
    const parts = [];
    s.on('data', (d) => parts.push(d));
    await new Promise((r) => s.on('connect', r));
    for (let i = 0; i < 3; i++) {
      s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n');
      await sleep(1200); // 3.6 s in all: past one deadline, within each
    }
    s.destroy();
    const text = Buffer.concat(parts).toString();
    assert.equal(text.split('HTTP/1.1 200').length - 1, 3, text);
  });
});

// ---------------------------------------------------------------------------
describe('password hashing runs on its own bounded pool', () => {
  let srv;
  before(async () => {
    srv = await startServer({ MUNSHI_OFFLOAD_THREADS: '1', MUNSHI_OFFLOAD_QUEUE: '2' });
  });
  after(async () => { await srv.stop(); });

  test('many signups at once: /health keeps answering, the surplus gets 429', async () => {
    const n = 24;
    // Each from its own address, so per-address limits of /auth do not
    // decide the outcome; the pool does.
    const signups = Array.from({ length: n }, () =>
      get(srv.port, '/auth/v1/signup', {
        method: 'POST',
        localAddress: randomLoopback(),
        headers: { apikey: process.env.MUNSHI_ANON_KEY },
        body: JSON.stringify({ email: randomEmail('pool'), password: randomPassword() }),
        timeoutMs: 60000,
      }));
    const healths = [];
    for (let i = 0; i < 10; i++) {
      healths.push(await get(srv.port, '/health', { timeoutMs: 10000 }));
      await sleep(20);
    }
    const rs = await Promise.all(signups);
    for (const h of healths) assert.equal(h.status, 200);
    const slowest = Math.max(...healths.map((h) => h.ms));
    // Measured, loosely bounded: without the pool this reached seconds.
    assert.ok(slowest < 5000, `/health took ${slowest} ms during the signups`);
    const ok = rs.filter((r) => r.status === 200);
    const busy = rs.filter((r) => r.status === 429);
    assert.equal(ok.length + busy.length, n, rs.map((r) => `${r.status} ${r.text}`).join('\n'));
    assert.ok(ok.length >= 1, 'no signup got through');
    assert.ok(busy.length >= 1, `no signup was refused with ${n} at once and room for 3`);
    for (const r of busy) {
      assert.equal(r.json.error_code, 'over_request_rate_limit', r.text);
      assert.equal(r.headers['retry-after'], '1');
    }
    // The pool is free again afterwards.
    const later = await get(srv.port, '/auth/v1/signup', {
      method: 'POST',
      localAddress: randomLoopback(),
      body: JSON.stringify({ email: randomEmail('pool'), password: randomPassword() }),
    });
    assert.equal(later.status, 200, later.text);
  });
});

// ---------------------------------------------------------------------------
describe('client address and logs', () => {
  let srv;
  before(async () => {
    srv = await startServer({ MUNSHI_TRUSTED_PROXIES: '127.0.0.1, ::1', MUNSHI_LOG: 'debug' });
  });
  after(async () => { await srv.stop(); });

  test('X-Forwarded-For counts from a trusted proxy only', async () => {
    const viaProxy = await get(srv.port, '/health?via=proxy', {
      headers: { 'X-Forwarded-For': '203.0.113.250, 198.51.100.23, 127.0.0.1' },
    });
    assert.equal(viaProxy.status, 200);
    const untrusted = randomLoopback();
    const direct = await get(srv.port, '/health', {
      localAddress: untrusted,
      headers: { 'X-Forwarded-For': '198.51.100.99' },
    });
    assert.equal(direct.status, 200);
    await sleep(200);
    const log = srv.log();
    assert.match(log, / 198\.51\.100\.23 GET \/health 200 /, log.slice(-2000));
    assert.doesNotMatch(log, /203\.0\.113\.250 GET/);
    assert.match(log, new RegExp(` ${untrusted.replace(/\./g, '\\.')} GET /health 200 `));
    assert.doesNotMatch(log, /198\.51\.100\.99/);
  });

  test('a token in access_token never reaches the log', async () => {
    const u = await signup();
    const paths = [
      `/rest/v1/customers?select=id&access_token=${u.token}`,
      `/health?access_token=${u.token}`,
      `/auth/v1/user?access_token=${u.token}`,
      `/nope?access_token=${u.token}`,
    ];
    for (const p of paths) await get(srv.port, p, { headers: { apikey: process.env.MUNSHI_ANON_KEY } });
    await sleep(200);
    const log = srv.log();
    assert.match(log, /GET \/rest\/v1\/customers /, 'the requests were not logged at all');
    assert.ok(!log.includes(u.token), 'the access token is in the log');
    // Not even a piece of it (the signature, the payload).
    for (const part of u.token.split('.')) assert.ok(!log.includes(part), 'a part of the token is in the log');
  });
});
