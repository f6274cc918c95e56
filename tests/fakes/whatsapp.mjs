// whatsapp.mjs - a WhatsApp Cloud API fake for the node tests and the bench.
//
// Two sides:
//  - FakeWhatsApp, the Graph API's send endpoint as munshi's outbox meets it:
//    POST [/<version>]/<phone_number_id>/messages with "Authorization: Bearer
//    <token>". It answers Meta's success shape ({"messaging_product":
//    "whatsapp","contacts":[{"input","wa_id"}],"messages":[{"id":"wamid..."}]})
//    or, when scripted, Meta's error shape ({"error":{"message","type",
//    "code","error_data":{"messaging_product","details"},"error_subcode",
//    "fbtrace_id"}}) with an HTTP status; it can stall, drop connections or be
//    down, and records every send (sends[], each with the wamid it gave).
//  - WhatsAppMeta, Meta posting webhooks to munshi: builds payloads shaped as
//    Meta sends them (object whatsapp_business_account, entry[].changes[]
//    .value with messaging_product, metadata, contacts, messages, statuses),
//    signs the raw body (X-Hub-Signature-256: sha256=HMAC-SHA256(app secret,
//    body)), batches, redelivers the same bytes, and sends statuses in any
//    order (or skips "delivered").
//  - The media upload, POST [/<version>]/<phone_number_id>/media as
//    multipart/form-data (messaging_product=whatsapp, type, file), parsed
//    byte for byte: answers {"id":"<media id>"} and keeps the file in
//    media[] ({id, phoneNumberId, token, type, filename, contentType, data});
//    scriptable through mediaScript like the sends ({error: 100} |
//    {status: 503} | {drop: true}).
//
// Run alone (the bench): node tests/fakes/whatsapp.mjs [--port N]
// prints "FAKE_WHATSAPP <origin>" and answers every send with success.
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';

import { FakeServer, arg, isMain, parseMultipart, reply } from './common.mjs';

export const GRAPH_VERSION = 'v21.0';

/** A wamid the way Meta's look: "wamid." and base64 of random bytes. */
export function wamid() {
  return `wamid.${randomBytes(30).toString('base64').replace(/=+$/, '')}`;
}

/**
 * Errors as Meta answers them, by code: the HTTP status, the title Meta puts
 * in `message` ("(#code) title") and a details text of our own. Meta keys its
 * errors on `code`; the HTTP status of the rate-limit codes is not pinned in
 * its documentation, so the fake uses 429 (override with {status}).
 */
export const WA_ERRORS = {
  131047: { status: 400, title: 'Re-engagement message', details: 'More than 24 hours have passed since the recipient last replied; send a template instead.' },
  131026: { status: 400, title: 'Message Undeliverable', details: 'The recipient cannot receive this message.' },
  131056: { status: 429, title: '(Business Account, Consumer Account) pair rate limit hit', details: 'Too many messages to this recipient in a short time.' },
  130429: { status: 429, title: 'Rate limit hit', details: 'Cloud API message throughput has been reached.' },
  190: { status: 401, title: 'Access token has expired', details: 'Error validating access token: Session has expired.', subcode: 463 },
  131000: { status: 500, title: 'Something went wrong', details: 'Message failed to send because of an unknown error.' },
  100: { status: 400, title: 'Invalid parameter', details: 'A parameter is missing or invalid.' },
};

/** Meta's error body for code (see WA_ERRORS); over = {message, details, subcode}. */
export function waErrorBody(code, over = {}) {
  const e = WA_ERRORS[code] || { title: 'Error', details: 'error' };
  const body = {
    error: {
      message: over.message || `(#${code}) ${e.title}`,
      type: 'OAuthException',
      code: Number(code),
      error_data: { messaging_product: 'whatsapp', details: over.details || e.details },
      fbtrace_id: randomBytes(9).toString('base64url'),
    },
  };
  const sub = over.subcode ?? e.subcode;
  if (sub !== undefined) body.error.error_subcode = sub;
  return body;
}

/**
 * The send endpoint. opts.tokens: {phone_number_id: token} the fake accepts
 * (a number not listed accepts any token unless opts.strict).
 *
 * Scripting: push answers on `script` (used one per send, in order):
 *   {error: 131047} | {error: 130429, status: 400} | {status: 503, body: 'x'}
 *   | {drop: true} (closes the connection unanswered) | {delayMs: 5000}
 *   | {ok: true, delayMs} ; or set `rule(send)` returning such an answer or
 *   undefined (success). `down = true` drops every connection.
 */
export class FakeWhatsApp extends FakeServer {
  constructor(opts = {}) {
    super((req, res, rec) => this.onRequest(req, res, rec));
    this.tokens = { ...(opts.tokens || {}) };
    this.strict = !!opts.strict;
    this.script = [];
    this.rule = null;
    this.nextIds = []; // wamids to give the next accepted sends (else random)
    this.sends = []; // accepted sends: {at, phoneNumberId, token, body, wamid, to}
    this.attempts = []; // every POST to a messages endpoint, answered or not
    this.media = []; // accepted uploads: {id, phoneNumberId, token, type, filename, contentType, data}
    this.mediaAttempts = []; // every POST to a media endpoint
    this.mediaScript = [];
  }

  /** The media upload; answers as Meta does, keeping the file. */
  onMedia(req, res, rec, pnid) {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization || '')?.[1];
    const attempt = { at: rec.at, phoneNumberId: pnid, token };
    this.mediaAttempts.push(attempt);
    const want = this.tokens[pnid];
    if (!token || (want !== undefined && token !== want) || (want === undefined && this.strict)) {
      reply(res, 401, waErrorBody(190, { message: 'Invalid OAuth access token - Cannot parse access token', subcode: undefined }));
      return;
    }
    let parts;
    try {
      parts = parseMultipart(req.headers['content-type'], rec.raw);
    } catch (e) {
      attempt.answer = 400;
      reply(res, 400, waErrorBody(100, { details: `bad multipart body: ${e.message}` }));
      return;
    }
    const field = (n) => parts.find((p) => p.name === n);
    const file = field('file');
    const product = field('messaging_product');
    const type = field('type');
    if (!product || product.data.toString('utf8') !== 'whatsapp' || !file || !file.filename || !type) {
      attempt.answer = 400;
      reply(res, 400, waErrorBody(100, { message: '(#100) The parameter messaging_product, file and type are required.', details: 'messaging_product "whatsapp", type and file are required' }));
      return;
    }
    const ans = this.mediaScript.length ? this.mediaScript.shift() : {};
    if (ans.drop) { attempt.answer = 'drop'; req.socket.destroy(); return; }
    if (ans.error !== undefined) {
      attempt.answer = ans.status ?? 400;
      reply(res, attempt.answer, waErrorBody(ans.error, ans));
      return;
    }
    if (ans.status) { attempt.answer = ans.status; reply(res, ans.status, 'upstream error', { 'Content-Type': 'text/plain' }); return; }
    const id = String(1000000000000000 + Math.floor(Math.random() * 1e15));
    this.media.push({ at: rec.at, id, phoneNumberId: pnid, token, type: type.data.toString('utf8'), filename: file.filename, contentType: file.contentType, data: Buffer.from(file.data) });
    attempt.answer = 200;
    this.notify();
    reply(res, 200, { id });
  }

  /** The upload whose media id a send names, or undefined. */
  mediaOf(send) {
    const id = send && send.body && send.body.document && send.body.document.id;
    return id ? this.media.find((m) => m.id === id) : undefined;
  }

  /** The base URL munshi takes as MUNSHI_WHATSAPP_API_URL. */
  get url() { return `${this.origin}/${GRAPH_VERSION}`; }

  async onRequest(req, res, rec) {
    // GET /<phone_number_id>: Meta answers the number's fields only to a
    // token that may use it (rpc/connect_whatsapp proves ownership so).
    const g = /^(?:\/v\d+\.\d+)?\/(\d{1,32})\/?(?:\?.*)?$/.exec(req.url);
    if (g && req.method === 'GET') {
      const token = /^Bearer (.+)$/.exec(req.headers.authorization || '')?.[1];
      const want = this.tokens[g[1]];
      if (!token || (want !== undefined && token !== want) || (want === undefined && this.strict)) {
        reply(res, 401, waErrorBody(190, { message: 'Invalid OAuth access token - Cannot parse access token', subcode: undefined }));
        return;
      }
      reply(res, 200, { id: g[1], display_phone_number: `+91 ${g[1].slice(-10)}` });
      return;
    }
    const up = /^(?:\/v\d+\.\d+)?\/(\d{1,32})\/media\/?(?:\?.*)?$/.exec(req.url);
    if (up && req.method === 'POST') { this.onMedia(req, res, rec, up[1]); return; }
    const m = /^(?:\/v\d+\.\d+)?\/(\d{1,32})\/messages\/?(?:\?.*)?$/.exec(req.url);
    if (!m || req.method !== 'POST') {
      reply(res, 400, waErrorBody(100, { message: `Unsupported ${req.method} request to ${req.url.slice(0, 80)}`, details: 'unknown path' }));
      return;
    }
    const pnid = m[1];
    const auth = req.headers.authorization || '';
    const token = /^Bearer (.+)$/.exec(auth)?.[1];
    const send = { at: rec.at, phoneNumberId: pnid, token, body: rec.json, raw: rec.raw.toString('utf8'), to: rec.json && rec.json.to };
    this.attempts.push(send);
    const want = this.tokens[pnid];
    if (!token || (want !== undefined && token !== want) || (want === undefined && this.strict)) {
      send.answer = 401;
      reply(res, 401, waErrorBody(190, { message: 'Invalid OAuth access token - Cannot parse access token', subcode: undefined }));
      return;
    }
    const b = rec.json;
    if (!b || b.messaging_product !== 'whatsapp' || typeof b.to !== 'string' || !b.type) {
      send.answer = 400;
      reply(res, 400, waErrorBody(100, { details: 'messaging_product "whatsapp", to and type are required' }));
      return;
    }
    let ans = this.script.length ? this.script.shift() : undefined;
    if (ans === undefined && this.rule) ans = this.rule(send);
    ans = ans || { ok: true };
    if (ans.delayMs) await new Promise((r) => setTimeout(r, ans.delayMs).unref());
    if (ans.drop) { send.answer = 'drop'; req.socket.destroy(); return; }
    if (ans.error !== undefined) {
      const st = ans.status ?? (WA_ERRORS[ans.error] ? WA_ERRORS[ans.error].status : 400);
      send.answer = st;
      reply(res, st, waErrorBody(ans.error, ans));
      return;
    }
    if (ans.status && ans.status !== 200) {
      send.answer = ans.status;
      reply(res, ans.status, ans.body ?? 'upstream error', { 'Content-Type': 'text/plain' });
      return;
    }
    if (res.destroyed) { send.answer = 'gone'; return; }
    send.wamid = this.nextIds.length ? this.nextIds.shift() : wamid();
    send.answer = 200;
    this.sends.push(send);
    this.notify();
    reply(res, 200, {
      messaging_product: 'whatsapp',
      contacts: [{ input: b.to, wa_id: b.to.replace(/^\+/, '') }],
      messages: [{ id: send.wamid }],
    });
  }

  /** Accepted sends to wa_id (digits, no "+"). */
  sendsTo(waId) {
    return this.sends.filter((s) => String(s.to).replace(/^\+/, '') === waId);
  }

  /** Waits until pred(sends) holds. */
  waitSends(pred, timeoutMs = 15000, what = 'sends') {
    return this.waitUntil(() => pred(this.sends), timeoutMs, what);
  }

  reset() {
    this.requests.length = 0;
    this.sends.length = 0;
    this.attempts.length = 0;
    this.media.length = 0;
    this.mediaAttempts.length = 0;
    this.mediaScript.length = 0;
    this.script.length = 0;
    this.rule = null;
    this.nextIds.length = 0;
    this.down = false;
    this.delayMs = 0;
  }
}

/** The text of a send as a person would read it (text, buttons, template). */
export function sendText(s) {
  const b = s.body || {};
  if (b.type === 'text') return b.text && b.text.body;
  if (b.type === 'interactive') return b.interactive && b.interactive.body && b.interactive.body.text;
  if (b.type === 'template') {
    const params = (b.template.components || []).flatMap((c) => (c.parameters || []).map((p) => p.text));
    return `[template ${b.template.name}] ${params.join(' | ')}`;
  }
  if (b.type === 'document') return b.document && (b.document.caption || b.document.filename);
  return undefined;
}

// --- Meta's side: webhooks --------------------------------------------------

let seq = 0;
const ts = (t) => String(t ?? Math.floor(Date.now() / 1000));

/** Message objects as Meta puts them in value.messages[]. */
export const waMessage = {
  text: (from, body, o = {}) => ({ from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'text', text: { body } }),
  buttonReply: (from, id, title, o = {}) => ({
    ...(o.context ? { context: o.context } : {}),
    from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'interactive',
    interactive: { type: 'button_reply', button_reply: { id, title } },
  }),
  listReply: (from, id, title, description, o = {}) => ({
    from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'interactive',
    interactive: { type: 'list_reply', list_reply: { id, title, ...(description ? { description } : {}) } },
  }),
  /** A template's quick-reply button. */
  button: (from, payload, text, o = {}) => ({ from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'button', button: { payload, text } }),
  image: (from, { caption, mediaId = `${Date.now()}${++seq}`, mime = 'image/jpeg' } = {}, o = {}) => ({
    from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'image',
    image: { ...(caption !== undefined ? { caption } : {}), mime_type: mime, sha256: randomBytes(32).toString('base64'), id: mediaId },
  }),
  location: (from, { latitude, longitude, name, address }, o = {}) => ({
    from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'location',
    location: { latitude, longitude, ...(name ? { name } : {}), ...(address ? { address } : {}) },
  }),
  reaction: (from, messageId, emoji, o = {}) => ({ from, id: o.id || wamid(), timestamp: ts(o.timestamp), type: 'reaction', reaction: { message_id: messageId, emoji } }),
};

/** A status object of value.statuses[]; o: timestamp, errors (for "failed"), bizOpaque. */
export function waStatus(id, status, recipientId, o = {}) {
  const s = { id, status, timestamp: ts(o.timestamp), recipient_id: recipientId };
  if (status !== 'failed' && o.conversation !== false) {
    s.conversation = { id: randomBytes(16).toString('hex'), origin: { type: 'service' } };
    s.pricing = { billable: true, pricing_model: 'PMP', category: 'service' };
  }
  if (o.errors) s.errors = o.errors;
  // Meta echoes the send's biz_opaque_callback_data in its statuses.
  if (o.bizOpaque !== undefined) s.biz_opaque_callback_data = o.bizOpaque;
  return s;
}

/** A failed status's errors[] entry. */
export function waStatusError(code, title, details) {
  return { code, title, message: title, error_data: { details: details || title } };
}

/**
 * Meta's side of one WhatsApp number: builds, signs and posts webhooks.
 * opts: munshi (origin "http://127.0.0.1:N"), path (default
 * "/webhooks/whatsapp/<channelId>"), channelId, appSecret, phoneNumberId,
 * displayPhoneNumber, wabaId.
 */
export class WhatsAppMeta {
  constructor(opts) {
    this.munshi = new URL(opts.munshi);
    this.channelId = opts.channelId;
    this.path = opts.path || `/webhooks/whatsapp/${opts.channelId}`;
    this.appSecret = opts.appSecret;
    this.phoneNumberId = opts.phoneNumberId;
    this.displayPhoneNumber = opts.displayPhoneNumber || '15550000000';
    this.wabaId = opts.wabaId || String(100000000000000 + Math.floor(Math.random() * 1e9));
  }

  /** One change's value; items: {contacts, messages, statuses}. */
  value({ contacts, messages, statuses, phoneNumberId, displayPhoneNumber } = {}) {
    const v = {
      messaging_product: 'whatsapp',
      metadata: {
        display_phone_number: displayPhoneNumber || this.displayPhoneNumber,
        phone_number_id: phoneNumberId || this.phoneNumberId,
      },
    };
    if (contacts) v.contacts = contacts;
    if (messages) v.messages = messages;
    if (statuses) v.statuses = statuses;
    return v;
  }

  /** A whole payload of values (one change each, in one entry unless entries given). */
  payload(values, { entries } = {}) {
    const change = (v) => ({ value: v, field: 'messages' });
    if (entries) {
      return { object: 'whatsapp_business_account', entry: entries.map((vs) => ({ id: this.wabaId, changes: vs.map(change) })) };
    }
    return { object: 'whatsapp_business_account', entry: [{ id: this.wabaId, changes: values.map(change) }] };
  }

  /** A payload of customer messages: list of {waId, name, message}. */
  messagesPayload(items) {
    const contacts = [];
    const seen = new Set();
    for (const it of items) {
      if (!seen.has(it.waId)) { seen.add(it.waId); contacts.push({ profile: { name: it.name || `Customer ${it.waId.slice(-4)}` }, wa_id: it.waId }); }
    }
    return this.payload([this.value({ contacts, messages: items.map((it) => it.message) })]);
  }

  /** One text from waId; returns {payload, message}. */
  text(waId, body, { name, id, timestamp } = {}) {
    const message = waMessage.text(waId, body, { id, timestamp });
    return { payload: this.messagesPayload([{ waId, name, message }]), message };
  }

  statusesPayload(statuses) {
    return this.payload([this.value({ statuses })]);
  }

  sign(raw, secret = this.appSecret) {
    return `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
  }

  /**
   * Posts payload (an object, or the exact bytes as a string/Buffer).
   * o.signature: the header value to send (null: none; default: the right
   * one), o.path, o.headers. Resolves {status, text, json, raw}.
   */
  post(payload, o = {}) {
    const raw = Buffer.isBuffer(payload) ? payload : Buffer.from(typeof payload === 'string' ? payload : JSON.stringify(payload));
    const headers = { 'Content-Type': 'application/json', 'Content-Length': raw.length, ...(o.headers || {}) };
    const sig = o.signature === undefined ? this.sign(raw) : o.signature;
    if (sig !== null) headers['X-Hub-Signature-256'] = sig;
    return new Promise((resolve, reject) => {
      const req = http.request({
        host: this.munshi.hostname, port: this.munshi.port, method: 'POST',
        path: o.path || this.path, headers, agent: false,
      }, (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, text, json, raw, info: `POST ${o.path || this.path} -> ${res.statusCode} ${text.slice(0, 300)}` });
        });
      });
      req.setTimeout(o.timeoutMs || 20000, () => req.destroy(new Error('webhook post: no answer')));
      req.on('error', reject);
      req.end(raw);
    });
  }

  /** Meta's verification GET: resolves {status, text}. */
  verify(token, challenge, mode = 'subscribe') {
    const q = new URLSearchParams({ 'hub.mode': mode, 'hub.verify_token': token, 'hub.challenge': challenge });
    return new Promise((resolve, reject) => {
      http.get({ host: this.munshi.hostname, port: this.munshi.port, path: `${this.path}?${q}`, agent: false }, (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => resolve({ status: res.statusCode, text: Buffer.concat(parts).toString('utf8') }));
      }).on('error', reject);
    });
  }
}

if (isMain(import.meta.url)) {
  // Standalone (the bench): success for every send, and no record kept
  // beyond a count, since a bench run sends hundreds of thousands.
  const fake = new FakeWhatsApp();
  let total = 0;
  const origin = await fake.listen(Number(arg('port', '0')));
  setInterval(() => {
    total += fake.sends.length;
    fake.requests.length = 0; fake.sends.length = 0; fake.attempts.length = 0;
  }, 1000).unref();
  console.log(`FAKE_WHATSAPP ${origin}/${GRAPH_VERSION}`);
  process.on('SIGTERM', () => { console.log(`FAKE_WHATSAPP sends ${total + fake.sends.length}`); process.exit(0); });
}
