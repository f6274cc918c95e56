// shiprocket.mjs - a Shiprocket API fake for the node tests.
//
// Two sides:
//  - FakeShiprocket, Shiprocket's external API (/v1/external) as munshi's
//    client meets it: POST /auth/login {email, password} -> {token}; every
//    other call needs "Authorization: Bearer <token>" and answers 401
//    {"message","status_code":401} for an unknown or expired token
//    (expireTokens() ends every token, as 10 days would). POST
//    /orders/create/adhoc (422 {"message","errors":{field:[text]},
//    "status_code":422} for missing fields or a scripted refusal), GET
//    /orders?search=<channel order id>, POST /courier/assign/awb,
//    /courier/generate/pickup, /courier/generate/label, GET
//    /courier/track/awb/<awb> (the scans added with track()). It records
//    every request (requests[]) and every order it made (orders[]).
//  - ShiprocketHooks, Shiprocket posting tracking webhooks to munshi: the
//    payload shape of Shiprocket's docs (awb, courier_name, current_status,
//    shipment_status_id, etd, scans[{date, status, activity, location,
//    sr-status, sr-status-label}]) with the x-api-key header.
//
// Scripting, per path (e.g. '/courier/assign/awb'): push answers on
// script[path]; each is used once: {status, body} | {drop: true} (closes
// the connection unanswered, nothing done) | {dropAfter: true} (does the
// work, then closes the connection unanswered: an answer lost to a
// timeout). failEachStepOnce = true fails the first call of each step
// (order, awb, pickup, label) with a 500.
import { randomBytes } from 'node:crypto';

import { FakeServer, reply } from './common.mjs';

const PREFIX = '/v1/external';

/** Shiprocket's "YYYY-MM-DD HH:MM:SS" in IST for a Date. */
export function istText(d = new Date()) {
  const t = new Date(d.getTime() + 330 * 60000);
  return t.toISOString().slice(0, 19).replace('T', ' ');
}

export const STATUS_LABEL = {
  6: 'SHIPPED', 7: 'DELIVERED', 17: 'OUT FOR DELIVERY', 18: 'IN TRANSIT', 42: 'PICKED UP',
  21: 'UNDELIVERED', 19: 'OUT FOR PICKUP', 3: 'PICKUP SCHEDULED', 9: 'RTO INITIATED',
};

export class FakeShiprocket extends FakeServer {
  constructor(opts = {}) {
    super((req, res, rec) => this.onRequest(req, res, rec));
    this.accounts = { ...(opts.accounts || {}) }; // email -> password
    this.tokens = new Map(); // token -> {email, valid}
    this.orders = [];
    this.script = {};
    this.failEachStepOnce = false;
    this.failed = new Set();
    this.tracks = new Map(); // awb -> {code, scans: []}
    this.nextId = 100000 + Math.floor(Math.random() * 100000);
  }

  expireTokens() { for (const t of this.tokens.values()) t.valid = false; }
  logins() { return this.requests.filter((r) => r.path.endsWith('/auth/login')).length; }
  calls(p) { return this.requests.filter((r) => r.path.split('?')[0] === PREFIX + p); }
  ordersFor(channelOrderId) { return this.orders.filter((o) => o.channel_order_id === channelOrderId); }

  /** Adds a scan to awb's tracking (code: Shiprocket's status id). */
  track(awb, code, { activity, location = 'MUMBAI, MAHARASHTRA', at = new Date() } = {}) {
    const t = this.tracks.get(awb) || { code: null, scans: [] };
    t.code = code;
    t.scans.unshift({
      date: istText(at), status: `S${code}`, activity: activity || STATUS_LABEL[code] || `status ${code}`,
      location, 'sr-status': String(code), 'sr-status-label': STATUS_LABEL[code] || 'NA',
    });
    this.tracks.set(awb, t);
    return t;
  }

  async onRequest(req, res, rec) {
    const url = new URL(req.url, 'http://x');
    let p = url.pathname;
    if (!p.startsWith(PREFIX)) return reply(res, 404, { message: 'not found', status_code: 404 });
    p = p.slice(PREFIX.length);
    const sc = this.script[p] && this.script[p].shift();
    if (sc && sc.drop) { req.socket.destroy(); return undefined; }
    if (sc && sc.status) return reply(res, sc.status, sc.body ?? { message: 'scripted', status_code: sc.status });
    if (p === '/auth/login') {
      const b = rec.json || {};
      if (!b.email || this.accounts[b.email] !== b.password) {
        return reply(res, 400, { message: 'Invalid email and password combination', status_code: 400 });
      }
      const token = `fake.${randomBytes(24).toString('base64url')}`;
      this.tokens.set(token, { email: b.email, valid: true });
      return reply(res, 200, { id: 1, first_name: 'API', email: b.email, company_id: 1, token });
    }
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization || '');
    const tok = m && this.tokens.get(m[1]);
    if (!tok || !tok.valid) return reply(res, 401, { message: 'Token has expired', status_code: 401 });
    const step = { '/orders/create/adhoc': 'order', '/courier/assign/awb': 'awb', '/courier/generate/pickup': 'pickup', '/courier/generate/label': 'label' }[p];
    if (step && this.failEachStepOnce && !this.failed.has(step)) {
      this.failed.add(step);
      return reply(res, 500, { message: 'Internal server error (scripted)', status_code: 500 });
    }
    const b = rec.json || {};
    // dropAfter: the head of the answer and part of its body, then the
    // connection closes (libcurl resends a request on a reused connection
    // that closes before any byte of an answer, so the cut comes after).
    const done = (status, body) => {
      if (!(sc && sc.dropAfter)) return reply(res, status, body);
      res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': 4096 });
      res.write('{"order_id":');
      setTimeout(() => req.socket.destroy(), 50);
      return undefined;
    };
    if (p === '/orders/create/adhoc' && req.method === 'POST') {
      const need = ['order_id', 'order_date', 'pickup_location', 'billing_customer_name', 'billing_address', 'billing_city',
        'billing_pincode', 'billing_state', 'billing_country', 'billing_phone', 'order_items', 'payment_method',
        'sub_total', 'length', 'breadth', 'height', 'weight'];
      const errors = {};
      for (const k of need) if (b[k] === undefined || b[k] === '') errors[k] = [`The ${k.replace(/_/g, ' ')} field is required.`];
      if (b.billing_phone && !/^\d{10}$/.test(b.billing_phone)) errors.billing_phone = ['The billing phone must be 10 digits.'];
      if (this.refusePincode && b.billing_pincode === this.refusePincode) errors.billing_pincode = ['Delivery pincode is not serviceable.'];
      if (Object.keys(errors).length) return reply(res, 422, { message: 'Oops! Invalid Data.', errors, status_code: 422 });
      const o = { id: this.nextId++, shipment_id: this.nextId++, channel_order_id: String(b.order_id), body: b, status: 'NEW', awb: '' };
      this.orders.push(o);
      return done(200, { order_id: o.id, shipment_id: o.shipment_id, status: 'NEW', status_code: 1, onboarding_completed_now: 0, awb_code: '', courier_company_id: '', courier_name: '' });
    }
    if (p === '/orders' && req.method === 'GET') {
      const q = url.searchParams.get('search') || '';
      const data = this.orders.filter((o) => o.channel_order_id === q || (o.awb && o.awb === q)).map((o) => ({
        id: o.id, channel_order_id: o.channel_order_id, status: o.status, status_code: 1,
        shipments: [{ id: o.shipment_id, awb: o.awb, courier: '' }],
      }));
      return reply(res, 200, { data, meta: { pagination: { total: data.length } } });
    }
    const bySid = (sid) => this.orders.find((o) => String(o.shipment_id) === String(Array.isArray(sid) ? sid[0] : sid));
    if (p === '/courier/assign/awb' && req.method === 'POST') {
      const o = bySid(b.shipment_id);
      if (!o) return reply(res, 422, { message: 'Invalid shipment id', errors: { shipment_id: ['The selected shipment id is invalid.'] }, status_code: 422 });
      if (!o.awb) o.awb = `7${String(this.nextId++).padStart(13, '0')}`;
      return done(200, { awb_assign_status: 1, response: { data: { courier_company_id: 10, awb_code: o.awb, courier_name: 'Delhivery Surface', shipment_id: o.shipment_id, order_id: o.id } } });
    }
    if (p === '/courier/generate/pickup' && req.method === 'POST') {
      const o = bySid(b.shipment_id);
      if (!o || !o.awb) return reply(res, 400, { message: 'Please assign AWB first', status_code: 400 });
      o.pickup = true;
      return done(200, { pickup_status: 1, response: { pickup_scheduled_date: '2026-12-03 10:00:00', pickup_token_number: 'Reference No: 1', status: 3 } });
    }
    if (p === '/courier/generate/label' && req.method === 'POST') {
      const o = bySid(b.shipment_id);
      if (!o || !o.awb) return reply(res, 400, { message: 'Please assign AWB first', status_code: 400 });
      return done(200, { label_created: 1, label_url: `https://labels.example.invalid/${o.shipment_id}.pdf`, response: 'Label has been created and uploaded successfully!', not_created: [] });
    }
    const tm = /^\/courier\/track\/awb\/([^/]+)$/.exec(p);
    if (tm && req.method === 'GET') {
      const t = this.tracks.get(decodeURIComponent(tm[1]));
      if (!t) return reply(res, 200, { tracking_data: { track_status: 0, shipment_status: 0, shipment_track: [], shipment_track_activities: null, error: 'Aahh! There is no activities found in our DB.' } });
      return reply(res, 200, {
        tracking_data: {
          track_status: 1, shipment_status: t.code,
          shipment_track: [{ awb_code: tm[1], courier_name: 'Delhivery Surface', current_status: STATUS_LABEL[t.code] || '' }],
          shipment_track_activities: t.scans, track_url: `https://shiprocket.co/tracking/${tm[1]}`, etd: '2026-12-06 18:00:00',
        },
      });
    }
    return reply(res, 404, { message: '404 Not Found', status_code: 404 });
  }
}

/** A tracking webhook body as Shiprocket sends it. */
export function webhookPayload(awb, code, scans = [], extra = {}) {
  return {
    awb, courier_name: 'Delhivery Surface', current_status: STATUS_LABEL[code] || 'NA', current_status_id: 20,
    shipment_status: STATUS_LABEL[code] || 'NA', shipment_status_id: code, current_timestamp: '02 12 2026 10:00:00',
    order_id: 'x', sr_order_id: 1, awb_assigned_date: '2026-12-02 10:00:00', pickup_scheduled_date: '2026-12-02 11:00:00',
    etd: '2026-12-06 18:00:00', scans, is_return: 0, channel_id: 1, pod_status: '', pod: 'Not Available', ...extra,
  };
}

/** A scan of a webhook's scans[]. */
export function scan(code, at, activity, location = 'MUMBAI, MAHARASHTRA') {
  return { date: istText(at), status: `S${code}`, activity: activity || STATUS_LABEL[code] || `status ${code}`, location, 'sr-status': String(code), 'sr-status-label': STATUS_LABEL[code] || 'NA' };
}
