// razorpay.mjs - a local stand-in for Razorpay's payment links API and its
// webhooks, in Razorpay's shapes (facts from its public API docs):
//   POST /v1/payment_links            Basic auth key_id:key_secret; amount in
//                                     paise (integer), currency INR,
//                                     reference_id unique per account (a
//                                     second one is refused, 400)
//   GET  /v1/payment_links?reference_id=…   {"payment_links":[…]}
//   errors                            {"error":{"code","description","field",
//                                     "source","step","reason","metadata"}}
// and a webhook sender: events signed with X-Razorpay-Signature (hex
// HMAC-SHA256 of the raw body) and numbered with x-razorpay-event-id, which
// a test can deliver once, again, out of order or concurrently.
//
// Modes for the failure tests: failNext (the next create answers 500),
// dropNext (the next create MAKES the link, then drops the connection with
// no answer: the outcome is unknown to the caller), refuseNext (the next
// create is refused with a field error). Every request is in `requests`.
import { createHmac, randomBytes } from 'node:crypto';

import { FakeServer, arg, isMain, reply } from './common.mjs';

const rid = (prefix) => `${prefix}_${randomBytes(7).toString('base64url').replace(/[-_]/g, 'x')}`;

export function rzpError(status, description, field = null, code = 'BAD_REQUEST_ERROR') {
  return {
    status,
    body: {
      error: {
        code, description, field, source: 'business', step: 'payment_initiation',
        reason: 'input_validation_failed', metadata: {},
      },
    },
  };
}

/** Hex HMAC-SHA256 of body (a string or Buffer) with secret. */
export function sign(body, secret) {
  return createHmac('sha256', secret).update(body).digest('hex');
}

export class RazorpayFake {
  /** keys: {key_id: key_secret} the fake accepts. */
  constructor(keys = {}) {
    this.keys = { ...keys };
    this.links = []; // {keyId, link}
    this.failNext = 0;
    this.dropNext = 0;
    this.refuseNext = null; // {description, field}
    this.server = new FakeServer((req, res, rec) => this.handle(req, res, rec));
  }

  listen(port = 0) { return this.server.listen(port); }
  close() { return this.server.close(); }
  get requests() { return this.server.requests; }
  creates() { return this.requests.filter((r) => r.method === 'POST' && r.path.startsWith('/v1/payment_links')); }

  auth(req) {
    const h = req.headers.authorization || '';
    const m = /^Basic (.+)$/.exec(h);
    if (!m) return null;
    const [id, secret] = Buffer.from(m[1], 'base64').toString('utf8').split(':');
    return this.keys[id] !== undefined && this.keys[id] === secret ? id : null;
  }

  handle(req, res, rec) {
    const keyId = this.auth(req);
    if (!keyId) {
      const e = rzpError(401, 'Authentication failed', null, 'BAD_REQUEST_ERROR');
      return reply(res, e.status, e.body);
    }
    const url = new URL(req.url, 'http://x');
    if (req.method === 'GET' && url.pathname === '/v1/payment_links') {
      const ref = url.searchParams.get('reference_id');
      const mine = this.links.filter((l) => l.keyId === keyId && (!ref || l.link.reference_id === ref));
      return reply(res, 200, { payment_links: mine.map((l) => l.link) });
    }
    if (req.method === 'POST' && url.pathname === '/v1/payment_links') {
      if (this.failNext > 0) {
        this.failNext--;
        const e = rzpError(500, 'The server encountered an error', null, 'SERVER_ERROR');
        return reply(res, e.status, e.body);
      }
      const b = rec.json;
      if (!b || typeof b !== 'object') { const e = rzpError(400, 'The request body is not JSON'); return reply(res, e.status, e.body); }
      if (!Number.isInteger(b.amount) || b.amount < 100) {
        const e = rzpError(400, 'The amount must be atleast INR 1.00', 'amount');
        return reply(res, e.status, e.body);
      }
      if (b.currency !== 'INR') { const e = rzpError(400, 'The currency is invalid', 'currency'); return reply(res, e.status, e.body); }
      if (typeof b.reference_id !== 'string' || b.reference_id.length > 40) {
        const e = rzpError(400, 'The reference id may not be greater than 40 characters.', 'reference_id');
        return reply(res, e.status, e.body);
      }
      if (this.refuseNext) {
        const r = this.refuseNext;
        this.refuseNext = null;
        const e = rzpError(400, r.description, r.field);
        return reply(res, e.status, e.body);
      }
      if (this.links.some((l) => l.keyId === keyId && l.link.reference_id === b.reference_id)) {
        const e = rzpError(400, `Payment Link with reference_id ${b.reference_id} already exists`, 'reference_id');
        return reply(res, e.status, e.body);
      }
      const id = rid('plink');
      const link = {
        id, entity: 'payment_link', amount: b.amount, amount_paid: 0, currency: 'INR',
        accept_partial: !!b.accept_partial, reference_id: b.reference_id, description: b.description ?? '',
        customer: b.customer ?? {}, notes: b.notes ?? {}, notify: b.notify ?? {},
        expire_by: b.expire_by ?? 0, status: 'created', short_url: `https://rzp.io/i/${id.slice(6)}`,
        created_at: Math.floor(Date.now() / 1000), payments: null,
      };
      this.links.push({ keyId, link });
      if (this.dropNext > 0) {
        this.dropNext--;
        req.socket.destroy(); // made, but the caller never hears of it
        return undefined;
      }
      return reply(res, 200, link);
    }
    return reply(res, 404, rzpError(404, 'The requested URL was not found on the server.').body);
  }

  /** The link made with reference_id (any account). */
  linkByRef(ref) {
    const l = this.links.find((x) => x.link.reference_id === ref);
    return l && l.link;
  }
}

// ---- webhooks ----------------------------------------------------------

function paymentEntity(link, amount, paymentId, method = 'upi') {
  return {
    id: paymentId, entity: 'payment', amount, currency: 'INR', status: 'captured',
    order_id: `order_${link ? link.id.slice(6) : 'none'}`, method, captured: true,
    description: link ? `#${link.id.slice(6)}` : '', email: 'void@razorpay.com', contact: '+919800000000',
    notes: link ? { ...link.notes } : {}, created_at: Math.floor(Date.now() / 1000) - 5,
  };
}

/** A payment_link.paid / partially_paid body for `amount` paise of link. */
export function linkPaidEvent(link, amount, paymentId = rid('pay'), { partial = false } = {}) {
  const paid = Math.min(link.amount, (link.amount_paid || 0) + amount);
  return {
    entity: 'event', account_id: 'acc_Fake', event: partial ? 'payment_link.partially_paid' : 'payment_link.paid',
    contains: ['payment_link', 'order', 'payment'],
    payload: {
      payment_link: { entity: { ...link, amount_paid: paid, status: partial ? 'partially_paid' : 'paid' } },
      order: { entity: { id: `order_${link.id.slice(6)}`, amount: link.amount, amount_paid: paid, currency: 'INR', status: 'paid' } },
      payment: { entity: paymentEntity(link, amount, paymentId) },
    },
    created_at: Math.floor(Date.now() / 1000),
  };
}

/** payment.captured of the same payment (notes carry munshi's reference). */
export function paymentCapturedEvent(link, amount, paymentId) {
  return {
    entity: 'event', account_id: 'acc_Fake', event: 'payment.captured', contains: ['payment'],
    payload: { payment: { entity: paymentEntity(link, amount, paymentId) } },
    created_at: Math.floor(Date.now() / 1000),
  };
}

export function refundProcessedEvent(paymentId, amount, refundId = rid('rfnd'), { link = null, paymentAmount = amount } = {}) {
  // Razorpay's refund.processed carries the refunded payment too; a link's
  // payment has the link's notes (munshi_reference) there.
  return {
    entity: 'event', account_id: 'acc_Fake', event: 'refund.processed', contains: ['refund', 'payment'],
    payload: {
      refund: { entity: { id: refundId, entity: 'refund', amount, currency: 'INR', payment_id: paymentId, notes: {}, status: 'processed', speed_processed: 'normal', created_at: Math.floor(Date.now() / 1000) } },
      payment: { entity: paymentEntity(link, paymentAmount, paymentId) },
    },
    created_at: Math.floor(Date.now() / 1000),
  };
}

export const eventId = () => rid('evt');

/**
 * Posts event (an object or raw text) to origin+path signed with secret, as
 * Razorpay does; opts.eventId (default: a new one), opts.signature to send
 * another one. Resolves {status, json, text}.
 */
export async function deliver(origin, path, event, secret, opts = {}) {
  const body = typeof event === 'string' ? event : JSON.stringify(event);
  const headers = { 'Content-Type': 'application/json' };
  const sig = opts.signature !== undefined ? opts.signature : sign(body, secret);
  if (sig !== null) headers['X-Razorpay-Signature'] = sig;
  const id = opts.eventId !== undefined ? opts.eventId : eventId();
  if (id !== null) headers['x-razorpay-event-id'] = id;
  const r = await fetch(`${origin}${path}`, { method: 'POST', headers, body });
  const text = await r.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: r.status, json, text, info: `POST ${path} -> ${r.status} ${text.slice(0, 400)}` };
}

if (isMain(import.meta.url)) {
  const keys = {};
  keys[arg('key-id', 'rzp_test_bench')] = arg('key-secret', 'bench-secret');
  const fake = new RazorpayFake(keys);
  fake.listen(Number(arg('port', '0'))).then((o) => console.log(`razorpay fake on ${o}`));
}
