// lib.mjs - what every black-box API test needs: the server's address and
// keys (exported by run.sh), a raw HTTP client that can also pick its source
// address (the login and signup limits count per address), /rest/v1 and /auth/v1
// helpers that return {status, headers, json, text, info}, fresh users, and
// hand-made JWTs for the bad-token cases.
//
// Every helper result carries `info`: "METHOD /path -> status body…", so a
// failing assertion shows the request and the server's answer.
import assert from 'node:assert/strict';
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';

function need(name) {
  const v = process.env[name];
  if (!v) {
    throw new Error(`${name} is not set: run the suite through tests/api/run.sh (see tests/api/README.md)`);
  }
  return v;
}

export const BASE = need('MUNSHI_URL').replace(/\/+$/, '');
export const ANON_KEY = need('MUNSHI_ANON_KEY');
export const SERVICE_KEY = need('MUNSHI_SERVICE_KEY');
export const JWT_SECRET = need('MUNSHI_JWT_SECRET');

const base = new URL(BASE);

export const UUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function suffix() {
  return `${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}
export function randomEmail(tag = 'user') {
  return `${tag}-${suffix()}@example.com`;
}
export function randomPassword() {
  return `pw-${randomBytes(9).toString('base64url')}`;
}
export function randomUuid() {
  // A version-4 UUID nobody has: for "missing row" requests.
  const b = randomBytes(16);
  b[6] = (b[6] & 0x0f) | 0x40;
  b[8] = (b[8] & 0x3f) | 0x80;
  const h = b.toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A random loopback source address other than 127.0.0.1 (the limiter counts per address). */
export function randomLoopback() {
  const b = randomBytes(3);
  return `127.${1 + (b[0] % 254)}.${b[1]}.${1 + (b[2] % 254)}`;
}

function describe(method, path, status, text) {
  const t = text.length > 600 ? `${text.slice(0, 600)}…(${text.length} bytes)` : text;
  return `${method} ${path.length > 300 ? `${path.slice(0, 300)}…` : path} -> ${status} ${t}`;
}

/**
 * One HTTP exchange with node:http (no connection reuse).
 * opts: method, path (starting with "/"), headers, body (string|Buffer),
 * chunks (array of Buffers sent with chunked encoding), localAddress,
 * timeoutMs, origin (another server than MUNSHI_URL: "http://127.0.0.1:N").
 * Resolves {status, headers, text, json, info, header(name)};
 * rejects when the connection fails before an answer.
 */
export function httpRaw({ method = 'GET', path = '/', headers = {}, body, chunks, localAddress, timeoutMs = 20000, origin } = {}) {
  const to = origin ? new URL(origin) : base;
  return new Promise((resolve, reject) => {
    const h = { ...headers };
    if (body !== undefined && chunks === undefined) h['Content-Length'] = Buffer.byteLength(body);
    const req = http.request({
      host: to.hostname,
      port: to.port,
      method,
      path,
      headers: h,
      agent: false,
      localAddress,
      maxHeaderSize: 1 << 20,
    });
    let done = false;
    const timer = setTimeout(() => {
      if (!done) {
        done = true;
        req.destroy();
        reject(new Error(`${method} ${path.slice(0, 200)}: no answer in ${timeoutMs} ms`));
      }
    }, timeoutMs);
    req.on('response', (res) => {
      const parts = [];
      res.on('data', (d) => parts.push(d));
      res.on('error', (e) => {
        if (!done) { done = true; clearTimeout(timer); reject(e); }
      });
      res.on('end', () => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        const text = Buffer.concat(parts).toString('utf8');
        let json;
        try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
        resolve({
          status: res.statusCode,
          headers: res.headers,
          header: (n) => res.headers[n.toLowerCase()],
          text,
          json,
          info: describe(method, path, res.statusCode, text),
        });
      });
    });
    req.on('error', (e) => {
      if (!done) {
        done = true;
        clearTimeout(timer);
        e.message = `${method} ${path.slice(0, 200)}: ${e.message}`;
        reject(e);
      }
    });
    if (chunks !== undefined) {
      for (const c of chunks) req.write(c);
      req.end();
    } else {
      req.end(body);
    }
  });
}

function prepare({ token, apikey = ANON_KEY, headers = {}, body, rawBody }) {
  const h = {};
  if (apikey !== null && apikey !== undefined) h.apikey = apikey;
  if (token) h.Authorization = `Bearer ${token}`;
  Object.assign(h, headers);
  let payload;
  if (rawBody !== undefined) payload = rawBody;
  else if (body !== undefined) payload = JSON.stringify(body);
  if (payload !== undefined && !Object.keys(h).some((k) => k.toLowerCase() === 'content-type')) {
    h['Content-Type'] = 'application/json';
  }
  return { h, payload };
}

/**
 * A /rest/v1 request. path is relative: "customers?select=id".
 * opts: token (user JWT; none when absent), apikey (anon key unless given;
 * null for none), headers, body (JSON-encoded), rawBody (sent as is),
 * origin (another server).
 */
export async function rest(method, path, opts = {}) {
  const { h, payload } = prepare(opts);
  return httpRaw({ method, path: `/rest/v1/${path}`, headers: h, body: payload, localAddress: opts.localAddress, origin: opts.origin });
}

/** An /auth/v1 request; path is relative: "token?grant_type=password". */
export async function auth(method, path, opts = {}) {
  const { h, payload } = prepare(opts);
  return httpRaw({ method, path: `/auth/v1/${path}`, headers: h, body: payload, localAddress: opts.localAddress, origin: opts.origin });
}

/**
 * Signs up a fresh user; returns {token, userId, email, password, refreshToken, session}.
 * Sent from a random loopback address: signups are limited per address, and
 * the suites together sign up more users than one address may.
 */
export async function signup({ email = randomEmail(), password = randomPassword(), data, origin } = {}) {
  const body = { email, password, data: data ?? { business_name: `Biz ${suffix()}` } };
  const r = await auth('POST', 'signup', { body, localAddress: randomLoopback(), origin });
  assert.ok(r.status === 200 || r.status === 201, `signup failed: ${r.info}`);
  assert.ok(r.json && typeof r.json.access_token === 'string', `signup gave no access_token: ${r.info}`);
  return {
    token: r.json.access_token,
    refreshToken: r.json.refresh_token,
    userId: r.json.user && r.json.user.id,
    email,
    password,
    session: r.json,
  };
}

/** Rows of table visible to token (the service key when token is omitted). */
export async function rows(table, token, query = 'select=*') {
  const opts = token ? { token } : { token: SERVICE_KEY, apikey: SERVICE_KEY };
  const r = await rest('GET', `${table}?${query}`, opts);
  assert.equal(r.status, 200, `listing ${table}: ${r.info}`);
  assert.ok(Array.isArray(r.json), `listing ${table} is not an array: ${r.info}`);
  return r.json;
}

/**
 * Number of rows in table over all tenants (the service key's exact count:
 * a read returns at most MUNSHI_MAX_ROWS rows, so counting them would stop there).
 */
export async function countAll(table) {
  const r = await rest('HEAD', `${table}?select=id`, {
    token: SERVICE_KEY, apikey: SERVICE_KEY, headers: { Prefer: 'count=exact' },
  });
  assert.ok(r.status === 200 || r.status === 206, `counting ${table}: ${r.info}`);
  const m = /\/(\d+)$/.exec(r.header('content-range') || '');
  assert.ok(m, `counting ${table}: no total in Content-Range: ${r.info}`);
  return Number(m[1]);
}

/** Asserts a PostgREST-shaped error: status (number or list), code (string or list). */
export function expectPgError(r, status, code) {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(r.status), `expected status ${statuses.join('|')}: ${r.info}`);
  assert.ok(r.json && typeof r.json === 'object' && !Array.isArray(r.json),
    `error body is not a JSON object: ${r.info}`);
  for (const k of ['code', 'message', 'details', 'hint']) {
    assert.ok(k in r.json, `error body lacks "${k}": ${r.info}`);
  }
  assert.equal(typeof r.json.message, 'string', `error message is not text: ${r.info}`);
  if (code !== undefined) {
    const codes = Array.isArray(code) ? code : [code];
    assert.ok(codes.includes(r.json.code), `expected code ${codes.join('|')}: ${r.info}`);
  }
}

/** Asserts a GoTrue-shaped error {error, error_description}. */
export function expectAuthError(r, status, error) {
  const statuses = Array.isArray(status) ? status : [status];
  assert.ok(statuses.includes(r.status), `expected status ${statuses.join('|')}: ${r.info}`);
  assert.ok(r.json && typeof r.json === 'object', `error body is not JSON: ${r.info}`);
  assert.equal(typeof r.json.error, 'string', `no "error" text: ${r.info}`);
  assert.equal(typeof r.json.error_description, 'string', `no "error_description" text: ${r.info}`);
  if (error !== undefined) assert.equal(r.json.error, error, r.info);
}

/** All text of an error body, for "does it name X" checks. */
export function errorText(r) {
  const j = r.json || {};
  return [j.message, j.details, j.hint, j.error, j.error_description, j.msg].filter(Boolean).join(' ');
}

// --- JWTs made by hand -------------------------------------------------

export function b64url(x) {
  return Buffer.from(typeof x === 'string' ? x : JSON.stringify(x)).toString('base64url');
}

export function decodeJwt(token) {
  const parts = token.split('.');
  assert.equal(parts.length, 3, `not a JWT: ${token}`);
  return {
    header: JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')),
    payload: JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')),
    signature: parts[2],
  };
}

/** header.payload.signature with HMAC-SHA-<bits> over secret (bytes of the text). */
export function signJwt(payload, secret = JWT_SECRET, header = { alg: 'HS256', typ: 'JWT' }) {
  const bits = { HS256: 'sha256', HS384: 'sha384', HS512: 'sha512' }[header.alg] || 'sha256';
  const input = `${b64url(header)}.${b64url(payload)}`;
  const sig = createHmac(bits, secret).update(input).digest('base64url');
  return `${input}.${sig}`;
}

export function now() {
  return Math.floor(Date.now() / 1000);
}

/** A regexp that finds `"key": <number text>` exactly in a JSON text. */
export function numberTextRe(key, text) {
  const esc = text.replace(/[.+\-]/g, (c) => `\\${c}`);
  return new RegExp(`"${key}"\\s*:\\s*${esc}(?![0-9])`);
}

/**
 * An upload the server may refuse before it has read it all (413): the head
 * goes first, the body only when no answer came within waitMs, and write
 * errors after an answer (EPIPE, ECONNRESET) are ignored. body is a Buffer;
 * chunked sends it with Transfer-Encoding: chunked in 64 KiB pieces.
 * Resolves like httpRaw.
 */
export function rawUpload({ method = 'POST', path, headers = {}, body, chunked = false, waitMs = 300, timeoutMs = 20000 }) {
  return new Promise((resolve, reject) => {
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${base.host}`, 'Connection: close'];
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    lines.push(chunked ? 'Transfer-Encoding: chunked' : `Content-Length: ${body.length}`);
    const head = `${lines.join('\r\n')}\r\n\r\n`;
    const got = [];
    let error;
    let settled = false;
    const sock = net.connect({ host: base.hostname, port: Number(base.port) });
    const finish = () => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const raw = Buffer.concat(got);
      const cut = raw.indexOf('\r\n\r\n');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw.subarray(0, 20).toString('latin1'));
      if (!m || cut < 0) {
        reject(new Error(`${method} ${path}: no HTTP answer (${error ? error.code || error.message : 'connection closed'}; ${raw.length} bytes received)`));
        return;
      }
      const hdrs = {};
      for (const line of raw.subarray(0, cut).toString('latin1').split('\r\n').slice(1)) {
        const i = line.indexOf(':');
        if (i > 0) hdrs[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
      }
      let payload = raw.subarray(cut + 4);
      if (/chunked/i.test(hdrs['transfer-encoding'] || '')) {
        const parts = [];
        let at = 0;
        for (;;) {
          const eol = payload.indexOf('\r\n', at);
          if (eol < 0) break;
          const n = parseInt(payload.subarray(at, eol).toString('latin1'), 16);
          if (!n) break;
          parts.push(payload.subarray(eol + 2, eol + 2 + n));
          at = eol + 2 + n + 2;
        }
        payload = Buffer.concat(parts);
      } else if (hdrs['content-length'] !== undefined) {
        payload = payload.subarray(0, Number(hdrs['content-length']));
      }
      const text = payload.toString('utf8');
      let json;
      try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
      const status = Number(m[1]);
      resolve({ status, headers: hdrs, header: (n) => hdrs[n.toLowerCase()], text, json, info: describe(method, path, status, text) });
    };
    const timer = setTimeout(() => { error = error || new Error('timeout'); sock.destroy(); finish(); }, timeoutMs);
    sock.on('data', (d) => got.push(d));
    sock.on('error', (e) => { error = e; });
    sock.on('close', finish);
    sock.on('connect', () => {
      sock.write(head);
      setTimeout(() => {
        if (got.length || sock.destroyed) return; // answered before the body
        const piece = 64 * 1024;
        for (let at = 0; at < body.length && !sock.destroyed; at += piece) {
          const part = body.subarray(at, at + piece);
          sock.write(chunked ? Buffer.concat([Buffer.from(`${part.length.toString(16)}\r\n`), part, Buffer.from('\r\n')]) : part);
        }
        if (chunked && !sock.destroyed) sock.write('0\r\n\r\n');
      }, waitMs);
    });
  });
}
