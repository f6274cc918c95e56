// common.mjs - what the node fakes share: a loopback HTTP server whose
// handler gets the whole body, JSON answers, a record of every request,
// waiting for background senders, and the "run me as a process" entry
// (the bench runs the WhatsApp fake beside munshi).
import http from 'node:http';
import { pathToFileURL } from 'node:url';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Reads a request's body as a Buffer. */
export function readBody(req) {
  return new Promise((resolve, reject) => {
    const parts = [];
    req.on('data', (d) => parts.push(d));
    req.on('end', () => resolve(Buffer.concat(parts)));
    req.on('error', reject);
  });
}

/** Answers status with body (an object is sent as JSON). */
export function reply(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/**
 * A fake's server: handle(req, res, body) answers; every request is kept in
 * `requests` ({at, method, path, headers, raw, json}) before handle runs.
 * `down` makes it drop every connection without answering (a provider that
 * is unreachable), `delayMs` stalls every answer.
 */
export class FakeServer {
  constructor(handle) {
    this.handle = handle;
    this.requests = [];
    this.down = false;
    this.delayMs = 0;
    this.waiters = [];
    this.sockets = new Set();
    this.server = http.createServer(async (req, res) => {
      const raw = await readBody(req).catch(() => Buffer.alloc(0));
      if (this.down) { req.socket.destroy(); return; }
      let json;
      try { json = raw.length ? JSON.parse(raw.toString('utf8')) : undefined; } catch { json = undefined; }
      const rec = { at: Date.now(), method: req.method, path: req.url, headers: req.headers, raw, json };
      this.requests.push(rec);
      this.notify();
      if (this.delayMs) await sleep(this.delayMs);
      if (res.destroyed) return;
      try {
        await this.handle(req, res, rec);
      } catch (e) {
        if (!res.headersSent) reply(res, 500, { fake_error: String(e && e.message) });
      }
    });
    this.server.keepAliveTimeout = 2000;
    this.server.on('connection', (s) => { this.sockets.add(s); s.on('close', () => this.sockets.delete(s)); });
  }

  /** Listens on 127.0.0.1:port (0: any); resolves the origin "http://127.0.0.1:N". */
  listen(port = 0) {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, '127.0.0.1', () => {
        this.port = this.server.address().port;
        this.origin = `http://127.0.0.1:${this.port}`;
        resolve(this.origin);
      });
    });
  }

  close() {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  notify() {
    const keep = [];
    for (const w of this.waiters) { if (!w.check()) keep.push(w); }
    this.waiters = keep;
  }

  /** Resolves once pred() holds (checked on each request and every 50 ms); rejects after timeoutMs. */
  waitUntil(pred, timeoutMs = 10000, what = 'condition') {
    return new Promise((resolve, reject) => {
      let timer;
      let poll;
      const w = {
        check: () => {
          if (!pred()) return false;
          clearTimeout(timer); clearInterval(poll); resolve(); return true;
        },
      };
      if (w.check()) return;
      timer = setTimeout(() => {
        clearInterval(poll);
        this.waiters = this.waiters.filter((x) => x !== w);
        reject(new Error(`fake: ${what} not reached in ${timeoutMs} ms`));
      }, timeoutMs);
      poll = setInterval(() => w.check(), 50);
      this.waiters.push(w);
    });
  }
}

/** True when the module at url is the script node was started with. */
export function isMain(url) {
  return process.argv[1] && url === pathToFileURL(process.argv[1]).href;
}

/** "--name value" from argv, or def. */
export function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 && i + 1 < process.argv.length ? process.argv[i + 1] : def;
}

/**
 * Parses a multipart/form-data body (RFC 7578) byte for byte: contentType is
 * the request's Content-Type (its boundary parameter), raw the body Buffer.
 * Returns [{name, filename, contentType, data: Buffer}] in order, or throws
 * an Error saying what is malformed: a missing boundary, a part without
 * its blank line or Content-Disposition, or no closing delimiter. The data
 * is exactly the bytes between the part's blank line and the CRLF before
 * the next delimiter, so a file's NULs, CRs and high bytes survive.
 */
export function parseMultipart(contentType, raw) {
  const m = /^multipart\/form-data;\s*boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType || '');
  if (!m) throw new Error(`not multipart/form-data with a boundary: ${contentType}`);
  const boundary = m[1] || m[2];
  const first = Buffer.from(`--${boundary}\r\n`);
  const delim = Buffer.from(`\r\n--${boundary}`);
  if (!raw.subarray(0, first.length).equals(first)) throw new Error('the body does not start with the boundary');
  const parts = [];
  let pos = first.length;
  for (;;) {
    const headEnd = raw.indexOf('\r\n\r\n', pos);
    if (headEnd < 0) throw new Error('a part without the blank line after its headers');
    const headers = {};
    for (const line of raw.subarray(pos, headEnd).toString('utf8').split('\r\n')) {
      const i = line.indexOf(':');
      if (i <= 0) throw new Error(`a malformed part header: ${line}`);
      headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const cd = headers['content-disposition'] || '';
    const name = /(?:^|;)\s*name="([^"]*)"/.exec(cd);
    if (!/^form-data/.test(cd) || !name) throw new Error(`a part without form-data; name: ${cd}`);
    const filename = /;\s*filename="([^"]*)"/.exec(cd);
    const end = raw.indexOf(delim, headEnd + 4);
    if (end < 0) throw new Error('no delimiter after a part');
    parts.push({ name: name[1], filename: filename ? filename[1] : undefined, contentType: headers['content-type'], data: raw.subarray(headEnd + 4, end) });
    const after = raw.subarray(end + delim.length, end + delim.length + 2).toString('latin1');
    if (after === '--') return parts;
    if (after !== '\r\n') throw new Error('garbage after a delimiter');
    pos = end + delim.length + 2;
  }
}
