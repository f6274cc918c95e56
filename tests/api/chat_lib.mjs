// chat_lib.mjs - what the chat tests (chat*.test.mjs) share: the provider
// fakes on the ports run.sh gave the suite's server, a shop (a business with
// atta, rice and oil, a WhatsApp and a Telegram channel made over REST),
// talking to it as customers do and waiting for the agent's replies, reading
// the books over REST, the "every number in a reply comes from the books"
// check, and servers of our own on a fresh database (the LLM path, kill -9).
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { FakeWhatsApp, WhatsAppMeta, waStatus } from '../fakes/whatsapp.mjs';
import { FakeTelegram, TelegramBot } from '../fakes/telegram.mjs';
import { BASE, SERVICE_KEY, httpRaw, rest, signup, suffix } from './lib.mjs';

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
export const REP = { Prefer: 'return=representation' };

/** Polls fn until it returns a truthy value; rejects with what after timeoutMs. */
export async function eventually(fn, what, timeoutMs = 15000, everyMs = 100) {
  const end = Date.now() + timeoutMs;
  let last;
  for (;;) {
    last = await fn();
    if (last) return last;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** A number nobody else uses: "91" + 10 digits starting 6-9 (an Indian mobile). */
export function randomWaId() {
  const d = randomBytes(6).readUIntBE(0, 6) % 1000000000;
  return `919${String(d).padStart(9, '0')}`;
}
export function randomDigits(n) {
  let s = String(1 + (randomBytes(1)[0] % 9));
  while (s.length < n) s += String(randomBytes(1)[0] % 10);
  return s;
}

// ---- exact decimals ---------------------------------------------------------

/** A decimal (number or text, "1,234.50" allowed) as BigInt thousandths; null when not one. */
export function milli(v) {
  if (v === null || v === undefined) return null;
  const s = String(v).replace(/,/g, '');
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(s);
  if (!m) return null;
  const frac = (m[3] || '').replace(/0+$/, '');
  if (frac.length > 3) return null;
  const n = BigInt(m[2] + frac.padEnd(3, '0'));
  return m[1] ? -n : n;
}
export const paise = (v) => { const x = milli(v); return x === null ? null : x / 10n; };

// ---- the fakes ----------------------------------------------------------------

/**
 * Starts the WhatsApp and Telegram fakes on the ports the suite's server
 * sends to (run.sh: MUNSHI_TEST_WA_PORT, MUNSHI_TEST_TG_PORT).
 */
export async function startFakes() {
  const wa = new FakeWhatsApp();
  const tg = new FakeTelegram();
  await wa.listen(Number(process.env.MUNSHI_TEST_WA_PORT || 0));
  await tg.listen(Number(process.env.MUNSHI_TEST_TG_PORT || 0));
  return { wa, tg, async close() { await wa.close(); await tg.close(); } };
}

// ---- a shop -------------------------------------------------------------------

export const PRODUCTS = [
  { key: 'atta', name: 'Atta (wheat flour)', sku: 'ATTA', hsn_code: '1101', unit: 'kg', gst_rate: 5, base_price: '42.50', current_stock: 500 },
  { key: 'rice', name: 'Basmati Rice 25 kg', sku: 'RICE', hsn_code: '1006', unit: 'bag', gst_rate: 5, base_price: '1250.00', current_stock: 100 },
  { key: 'oil', name: 'Mustard Oil 1 L', sku: 'OIL', hsn_code: '1514', unit: 'litre', gst_rate: 18, base_price: '185.00', current_stock: 200 },
];

/**
 * A business with products, its owner's phone, a UPI id, and channels.
 * opts: origin (a server of our own), wa/tg (fakes; their tokens are
 * registered), whatsapp (true: make a WhatsApp channel), telegram,
 * templates (the WhatsApp channel's templates; default one reminder).
 */
export class Shop {
  static async open(opts = {}) {
    const s = new Shop();
    await s.init(opts);
    return s;
  }

  async init({ origin, wa, tg, whatsapp = true, telegram = true, templates, defaultTemplate } = {}) {
    this.origin = origin;
    this.base = origin || BASE;
    this.wa = wa;
    this.tg = tg;
    this.user = await signup({ data: { business_name: `Sharma Kirana ${suffix()}` }, origin });
    this.token = this.user.token;
    this.ownerWaId = randomWaId();
    this.upi = `sharmakirana${randomDigits(4)}@okaxis`;
    const p = await this.rest('PATCH', `profiles?id=eq.${this.user.userId}`, {
      body: { state_code: '27', upi_id: this.upi, owner_phone: `+${this.ownerWaId}`, whatsapp_number: `+${randomWaId()}` },
      headers: REP,
    });
    assert.equal(p.status, 200, `profile: ${p.info}`);
    this.profile = p.json[0];
    const r = await this.rest('POST', 'products', { body: PRODUCTS.map(({ key, ...x }) => x), headers: REP });
    assert.equal(r.status, 201, `products: ${r.info}`);
    this.products = {};
    for (const x of PRODUCTS) this.products[x.key] = r.json.find((y) => y.sku === x.sku);
    if (whatsapp) {
      this.pnid = randomDigits(15);
      this.waToken = `EAAG${randomBytes(24).toString('base64url')}`;
      this.appSecret = randomBytes(16).toString('hex');
      this.verifyToken = `verify-${randomBytes(6).toString('hex')}`;
      const c = await this.rest('POST', 'channels', {
        body: {
          platform: 'whatsapp', name: 'Shop WhatsApp', phone_number_id: this.pnid,
          display_phone_number: '15551234567', access_token: this.waToken,
          app_secret: this.appSecret, verify_token: this.verifyToken,
          templates: templates ?? [{ name: 'payment_reminder', language: 'en', params: 2 }],
          default_template: defaultTemplate === undefined ? 'payment_reminder' : defaultTemplate,
        },
        headers: REP,
      });
      assert.equal(c.status, 201, `whatsapp channel: ${c.info}`);
      this.waChannel = c.json[0];
      if (wa) wa.tokens[this.pnid] = this.waToken;
      this.meta = new WhatsAppMeta({ munshi: this.base, channelId: this.waChannel.id, appSecret: this.appSecret, phoneNumberId: this.pnid });
    }
    if (telegram) {
      const botId = randomDigits(10);
      this.botToken = `${botId}:AA${randomBytes(24).toString('base64url').replace(/[^A-Za-z0-9_-]/g, 'x')}`;
      this.tgSecret = `tg_${randomBytes(12).toString('hex')}`;
      const c = await this.rest('POST', 'channels', {
        body: { platform: 'telegram', name: 'Shop bot', bot_token: this.botToken, webhook_secret: this.tgSecret },
        headers: REP,
      });
      assert.equal(c.status, 201, `telegram channel: ${c.info}`);
      this.tgChannel = c.json[0];
      if (tg) tg.tokens.add(this.botToken);
      this.bot = new TelegramBot({ munshi: this.base, channelId: this.tgChannel.id, secret: this.tgSecret });
    }
  }

  rest(method, path, opts = {}) {
    return rest(method, path, { token: this.token, origin: this.origin, ...opts });
  }

  async get(path) {
    const r = await this.rest('GET', path);
    assert.equal(r.status, 200, r.info);
    return r.json;
  }

  async rpc(op, body) {
    return this.rest('POST', `rpc/${op}`, { body });
  }

  /** unified_messages of provider id (inbound). */
  async inboundByWamid(wamid) {
    const m = await this.get(`unified_messages?provider_message_id=eq.${encodeURIComponent(wamid)}&direction=eq.inbound&select=*`);
    return m[0];
  }

  /** Waits for the inbound row of provider id. */
  async waitInbound(providerId, timeoutMs = 15000) {
    return eventually(() => this.inboundByWamid(providerId), `inbound message ${providerId}`, timeoutMs);
  }

  /** Waits for the agent's reply to inbound message id (status beyond queued when sent is true). */
  async waitReply(inboundId, { sent = true, timeoutMs = 20000 } = {}) {
    return eventually(async () => {
      const r = await this.get(`unified_messages?reply_to=eq.${inboundId}&select=*`);
      if (!r.length) return null;
      if (sent && r[0].status === 'queued') return null;
      return r[0];
    }, `the agent's reply to ${inboundId}${sent ? ' (sent)' : ''}`, timeoutMs);
  }

  /**
   * A customer (waId) writes text on WhatsApp; resolves {inbound, reply,
   * post} once the agent's reply is sent (or failed).
   */
  async say(waId, text, { name = 'Ravi Kumar', timestamp, sent = true } = {}) {
    const { payload, message } = this.meta.text(waId, text, { name, timestamp });
    const post = await this.meta.post(payload);
    assert.equal(post.status, 200, `webhook: ${post.info}`);
    const inbound = await this.waitInbound(message.id);
    const reply = await this.waitReply(inbound.id, { sent });
    return { inbound, reply, post, message };
  }

  /** The customer Telegram chatId writes text; resolves {inbound, reply}. */
  async tgSay(chatId, text, o = {}) {
    const update = this.bot.message(chatId, text, o);
    const post = await this.bot.post(update);
    assert.equal(post.status, 200, `telegram webhook: ${post.info}`);
    const pid = `${chatId}:${update.message.message_id}`;
    const inbound = await this.waitInbound(pid);
    const reply = await this.waitReply(inbound.id);
    return { inbound, reply, update };
  }

  async session(id) { return (await this.get(`sessions?id=eq.${id}&select=*`))[0]; }
  async customer(id) { return (await this.get(`customers?id=eq.${id}&select=*`))[0]; }

  /** Counts of unified_messages of this business (filter: a query). */
  async countMessages(filter = '') {
    const r = await this.rest('HEAD', `unified_messages?select=id${filter ? `&${filter}` : ''}`, { headers: { Prefer: 'count=exact' } });
    const m = /\/(\d+)$/.exec(r.header('content-range') || '');
    assert.ok(m, `count: ${r.info}`);
    return Number(m[1]);
  }

  /** Posts WhatsApp statuses for provider ids. */
  async statuses(list) {
    const r = await this.meta.post(this.meta.statusesPayload(list.map(([id, st, to, o]) => waStatus(id, st, to, o))));
    assert.equal(r.status, 200, `statuses: ${r.info}`);
    return r;
  }

  /**
   * Every number the books allow in a reply to the customer customerId at
   * this moment (BigInt thousandths), with why. Numbers the customer wrote
   * are allowed too (extra).
   */
  async allowedNumbers(customerId, extra = []) {
    const allow = new Map();
    const add = (v, why) => { const x = milli(v); if (x !== null && !allow.has(String(x))) allow.set(String(x), why); };
    const addParts = (s, why) => { for (const d of String(s || '').match(/\d+/g) || []) add(d, why); };
    const products = await this.get('products?select=*');
    for (const p of products) {
      add(p.base_price, `${p.name} price`);
      add(p.gst_rate, `${p.name} GST rate`);
      add(p.current_stock, `${p.name} stock`);
      if (p.low_stock_threshold !== null) add(p.low_stock_threshold, `${p.name} threshold`);
      const bp = paise(p.base_price);
      const rate = milli(p.gst_rate); // thousandths of a percent
      const withGst = (bp * (100000n + rate) * 2n + 100000n) / 200000n; // rounded half up
      add(`${withGst / 100n}.${String(withGst % 100n).padStart(2, '0')}`, `${p.name} price with GST`);
      // Intra-state: CGST and SGST each rounded, then added.
      const half = (bp * rate * 2n + 200000n) / 400000n;
      const split = bp + 2n * half;
      add(`${split / 100n}.${String(split % 100n).padStart(2, '0')}`, `${p.name} price with CGST+SGST`);
      addParts(p.unit, 'unit');
      addParts(p.name, 'product name');
      addParts(p.sku, 'sku');
      addParts(p.hsn_code, 'HSN');
    }
    addParts(this.profile.business_name, 'business name');
    addParts(this.profile.upi_id, 'UPI id');
    addParts(this.profile.owner_phone, 'owner phone');
    addParts(this.profile.whatsapp_number, 'business number');
    if (customerId) {
      const c = await this.customer(customerId);
      if (c) {
        add(c.total_debt, 'customer total_debt');
        addParts(c.phone_number, 'customer phone');
      }
      const invs = await this.get(`invoices?customer_id=eq.${customerId}&select=*,invoice_items(*),shipments(*)`);
      for (const i of invs) {
        for (const k of ['subtotal', 'cgst_amount', 'sgst_amount', 'igst_amount', 'round_off', 'total_amount', 'amount_paid', 'balance_due']) add(i[k], `invoice ${k}`);
        const pre = paise(i.total_amount) - paise(i.round_off);
        add(`${pre / 100n}.${String(pre % 100n).padStart(2, '0')}`, 'invoice total before round-off');
        addParts(i.invoice_number, 'invoice number');
        addParts(i.invoice_date, 'invoice date');
        addParts(i.due_date, 'due date');
        for (const it of i.invoice_items || []) {
          for (const k of ['quantity', 'unit_price', 'taxable_value', 'gst_rate', 'cgst_amount', 'sgst_amount', 'igst_amount', 'line_total']) add(it[k], `item ${k}`);
        }
        for (const s of i.shipments || []) { addParts(s.awb_number, 'AWB'); addParts(s.shipped_at && s.shipped_at.slice(0, 10), 'shipped date'); }
      }
    }
    for (const e of extra) add(e, 'said or expected');
    return allow;
  }
}

/** The numbers written in text: [{raw, milli}] ("1,234.50" is one number). */
export function numbersIn(text) {
  const out = [];
  const re = /\d[\d,]*(?:\.\d+)?/g;
  // A link's percent-escapes ("%40", "%20") are not numbers: blanked, same length.
  const plain = String(text).replace(/%[0-9A-Fa-f]{2}/g, '   ');
  let m;
  while ((m = re.exec(plain))) {
    const raw = m[0].replace(/[,.]+$/, '');
    out.push({ raw, milli: milli(raw), at: m.index });
  }
  return out;
}

/**
 * Asserts every number in text is one the books allow (allow: a Map from
 * allowedNumbers). A list marker ("1." or "2)" at a line's start) is not a
 * number.
 */
export function assertNumbersFromBooks(text, allow, label) {
  const bad = [];
  for (const n of numbersIn(text)) {
    const before = String(text).slice(0, n.at);
    const after = String(text).slice(n.at + n.raw.length, n.at + n.raw.length + 1);
    if (/(^|\n)\s*$/.test(before) && /^[.)]/.test(after) && Number(n.raw) < 10) continue;
    if (n.milli === null || !allow.has(String(n.milli))) bad.push(n.raw);
  }
  assert.deepEqual(bad, [], `${label}: numbers not from the books in the reply ${JSON.stringify(text)}; allowed: ${[...allow.entries()].map(([k, w]) => `${Number(k) / 1000}(${w})`).join(', ')}`);
}

/** Asserts text shows the amount (a decimal) in some usual way: 1250, 1,250, 1250.00, 1,250.00. */
export function assertShowsAmount(text, amount, label) {
  const want = milli(amount);
  const found = numbersIn(text).some((n) => n.milli === want);
  assert.ok(found, `${label}: the reply should state ${amount}: ${JSON.stringify(text)}`);
}

// ---- servers of our own -----------------------------------------------------

export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

/**
 * A fresh database on the suite's backend: {url, drop()}. SQLite: a file in
 * a temporary directory; PostgreSQL: a new database on MUNSHI_TEST_PG_URL.
 */
export function freshDatabase() {
  if ((process.env.MUNSHI_BACKEND || 'sqlite') === 'postgres') {
    const admin = process.env.MUNSHI_TEST_PG_URL;
    assert.ok(admin, 'MUNSHI_TEST_PG_URL is not set (the postgres run needs it)');
    const name = `munshi_chat_${Date.now()}_${randomBytes(3).toString('hex')}`;
    const r = spawnSync('psql', [admin, '-qX', '-v', 'ON_ERROR_STOP=1', '-c', `CREATE DATABASE "${name}"`], { encoding: 'utf8' });
    assert.equal(r.status, 0, `CREATE DATABASE: ${r.stderr}`);
    const u = new URL(admin);
    u.pathname = `/${name}`;
    return {
      url: u.href,
      drop() { spawnSync('psql', [admin, '-qX', '-c', `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`]); },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'munshi-chat-db-'));
  return { url: `sqlite:${join(dir, 'chat.db')}`, drop() { rmSync(dir, { recursive: true, force: true }); } };
}

/**
 * Starts munshi (MUNSHI_BIN) on dbUrl with extra env; resolves a handle
 * {origin, port, log(), kill9(), stop()}. The suite's JWT secret is kept, so
 * its keys work here too.
 */
// Servers started here die with the test process, even when a test times
// out before its after() hook runs.
const live = new Set();
process.on('exit', () => { for (const p of live) { try { p.kill('SIGKILL'); } catch { /* gone */ } } });

export async function startMunshi(dbUrl, env = {}) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'munshi-chat-srv-'));
  const logPath = join(dir, 'server.log');
  const fd = openSync(logPath, 'w');
  const proc = spawn(process.env.MUNSHI_BIN, ['serve'], {
    cwd: dir,
    env: { ...process.env, MUNSHI_DB: dbUrl, MUNSHI_PORT: String(port), MUNSHI_LISTEN: '127.0.0.1', ...env },
    stdio: ['ignore', fd, fd],
  });
  let exited = null;
  live.add(proc);
  proc.on('exit', (code, sig) => { exited = { code, sig }; live.delete(proc); });
  const origin = `http://127.0.0.1:${port}`;
  const log = () => { try { return readFileSync(logPath, 'utf8'); } catch { return ''; } };
  for (let i = 0; i < 300 && !exited; i++) {
    try { if ((await httpRaw({ origin, path: '/health', timeoutMs: 1000 })).status === 200) break; } catch { /* not yet */ }
    await sleep(100);
  }
  assert.equal(exited, null, `munshi exited early: ${JSON.stringify(exited)}\n${log().slice(-3000)}`);
  return {
    origin,
    port,
    log,
    pid: proc.pid,
    async kill9() {
      proc.kill('SIGKILL');
      for (let i = 0; i < 100 && !exited; i++) await sleep(50);
    },
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 300 && !exited; i++) await sleep(100);
        if (!exited) proc.kill('SIGKILL');
      }
      rmSync(dir, { recursive: true, force: true });
      return exited;
    },
  };
}

/** The service key's view (all tenants) of a table on origin. */
export async function serviceRows(table, query, origin) {
  const r = await rest('GET', `${table}?${query}`, { token: SERVICE_KEY, apikey: SERVICE_KEY, origin });
  assert.equal(r.status, 200, r.info);
  return r.json;
}
