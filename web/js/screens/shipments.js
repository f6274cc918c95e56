// shipments.js - the shipments: a list whose statuses move live (realtime
// on shipments), and a shipment's page: where it is, each tracking scan
// (shipment_scans, live too), the label and tracking links, why the last
// attempt stopped (a provider's refusal with its fields), retry a failed
// shipment (rpc/create_shipment continues where it stopped and never makes
// a second Shiprocket order) and track now (rpc/track_shipment).
//
// Shipments are made from an invoice's page (invoices.js, "Ship"): the
// form and its error display live in shipForm below, shared by both.
import * as ui from '../ui.js';
import { liveChannel } from './wf_live.js';

const L = {
  en: {
    shipments: 'Shipments', none: 'No shipments yet. Ship an invoice from its page.', none_here: 'No shipments here.',
    all: 'All', moving: 'On the way', delivered_tab: 'Delivered', problems: 'Needs attention',
    back: 'Shipments', not_found: 'This shipment was not found.', invoice: 'Invoice', awb: 'AWB', courier: 'Courier',
    track: 'Track now', tracked: 'Tracking updated.', retry: 'Retry', retried: 'Shipment continued: {status}.',
    label: 'Label', tracking: 'Tracking page', scans: 'Tracking', no_scans: 'No scans yet.',
    pickup: 'Pickup', pickup_location: 'Pickup location', payment_method: 'Payment', prepaid: 'Prepaid', cod: 'Cash on delivery',
    size: 'Package', stopped_at: 'Stopped at: {step}', live: 'Live', polling: 'Updating every few seconds', connecting: 'Connecting…',
    eta: 'Expected', length: 'Length (cm)', breadth: 'Breadth (cm)', height: 'Height (cm)', weight: 'Weight (kg)',
    ship: 'Ship with Shiprocket', ship_go: 'Create shipment', shipped: 'Shipment {status}.',
    bad_dim: 'A size in cm above 0 with at most 2 decimals.', bad_weight: 'A weight in kg above 0 with at most 3 decimals.',
    provider_said: 'Shiprocket said:',
  },
  hi: {
    shipments: 'शिपमेंट', none: 'अभी कोई शिपमेंट नहीं। बिल के पेज से भेजें।', none_here: 'यहाँ कोई शिपमेंट नहीं।',
    all: 'सभी', moving: 'रास्ते में', delivered_tab: 'पहुँचे', problems: 'ध्यान दें',
    back: 'शिपमेंट', not_found: 'यह शिपमेंट नहीं मिला।', invoice: 'बिल', awb: 'AWB', courier: 'कूरियर',
    track: 'अभी ट्रैक करें', tracked: 'ट्रैकिंग अपडेट हुई।', retry: 'फिर कोशिश करें', retried: 'शिपमेंट आगे बढ़ा: {status}।',
    label: 'लेबल', tracking: 'ट्रैकिंग पेज', scans: 'ट्रैकिंग', no_scans: 'अभी कोई स्कैन नहीं।',
    pickup: 'पिकअप', pickup_location: 'पिकअप की जगह', payment_method: 'भुगतान', prepaid: 'प्रीपेड', cod: 'डिलीवरी पर नकद',
    size: 'पैकेट', stopped_at: 'यहाँ रुका: {step}', live: 'लाइव', polling: 'हर कुछ सेकंड में अपडेट', connecting: 'जुड़ रहा है…',
    eta: 'अनुमानित', length: 'लंबाई (सेमी)', breadth: 'चौड़ाई (सेमी)', height: 'ऊँचाई (सेमी)', weight: 'वज़न (किलो)',
    ship: 'Shiprocket से भेजें', ship_go: 'शिपमेंट बनाएँ', shipped: 'शिपमेंट {status}।',
    bad_dim: 'सेमी में 0 से बड़ा नाप, अधिकतम 2 दशमलव।', bad_weight: 'किलो में 0 से बड़ा वज़न, अधिकतम 3 दशमलव।',
    provider_said: 'Shiprocket ने कहा:',
  },
};

// munshi's shipment statuses (0011_integrations.sql) in words, and a badge class.
const STATUS = {
  en: {
    pending: 'Not sent yet', order_created: 'Order created', awb_assigned: 'Courier assigned',
    pickup_scheduled: 'Pickup scheduled', picked_up: 'Picked up', in_transit: 'In transit',
    out_for_delivery: 'Out for delivery', delivered: 'Delivered', undelivered: 'Not delivered',
    rto: 'Returning', rto_delivered: 'Returned', cancelled: 'Cancelled', lost: 'Lost', failed: 'Failed',
  },
  hi: {
    pending: 'अभी नहीं भेजा', order_created: 'ऑर्डर बना', awb_assigned: 'कूरियर तय',
    pickup_scheduled: 'पिकअप तय', picked_up: 'पिकअप हुआ', in_transit: 'रास्ते में',
    out_for_delivery: 'डिलीवरी के लिए निकला', delivered: 'पहुँच गया', undelivered: 'नहीं पहुँचा',
    rto: 'वापस आ रहा', rto_delivered: 'वापस आया', cancelled: 'रद्द', lost: 'खो गया', failed: 'रुका',
  },
};
const STATUS_CLASS = { delivered: 'ok', out_for_delivery: 'ok', undelivered: 'err', rto: 'err',
  rto_delivered: 'err', lost: 'err', cancelled: 'err', failed: 'err' };
const MOVING = ['order_created', 'awb_assigned', 'pickup_scheduled', 'picked_up', 'in_transit', 'out_for_delivery'];
const DONE = ['delivered', 'rto_delivered', 'cancelled', 'lost'];
const TABS = ['all', 'moving', 'delivered_tab', 'problems'];

export function shipmentBadge(s, lang) {
  const st = s.last_error && !DONE.includes(s.status) ? 'failed' : s.status;
  const label = (STATUS[lang] || STATUS.en)[st] || (STATUS.en[st]) || st;
  return `<span class="badge ${STATUS_CLASS[st] || (st === 'pending' ? '' : 'warn')}" data-status="${ui.esc(s.status)}"${s.last_error ? ' data-failed="true"' : ''}>${ui.esc(label)}</span>`;
}

function inTab(s, tab) {
  if (tab === 'moving') return MOVING.includes(s.status) && !s.last_error;
  if (tab === 'delivered_tab') return s.status === 'delivered';
  if (tab === 'problems') return !!s.last_error || ['undelivered', 'rto', 'rto_delivered', 'lost'].includes(s.status);
  return true;
}

function liveBadge(t, state) {
  return `<span class="badge ${state === 'live' ? 'ok' : state === 'polling' ? 'warn' : ''}">${ui.esc(t(state))}</span>`;
}

// A shipment's last error ({step, status, message, errors: {field: [text]}})
// as lines of text.
function errorLines(t, le) {
  if (!le) return [];
  const out = [];
  if (le.step) out.push(t('stopped_at', { step: le.step }));
  if (le.message) out.push(String(le.message));
  if (le.errors && typeof le.errors === 'object')
    for (const [f, v] of Object.entries(le.errors)) out.push(`${f}: ${Array.isArray(v) ? v.join('; ') : String(v)}`);
  return out;
}

// Field errors of a refusal: the 422's {field: [text]} in the error's hint
// (E_PROVIDER_REFUSED, docs/integrations.md), or {} when it has none.
export function fieldErrors(err) {
  if (!err || !err.hint) return {};
  try {
    const o = JSON.parse(err.hint);
    return o && typeof o === 'object' && !Array.isArray(o) ? o : {};
  } catch { return {}; }
}

// The form that makes (or continues) the shipment of an invoice:
// rpc/create_shipment {invoice_id, pickup_location, length, breadth,
// height, weight, payment_method}. Sizes are exact decimals (cm with 2
// decimals, kg with 3), sent as the JSON number of that decimal. A
// refusal's field errors are shown under the fields they name (Shiprocket's
// names: length, breadth, height, weight, pickup_location, …), the others
// listed above the button. done(shipment) after an answer.
export function shipForm(ctx, invoice, defaults, done) {
  const t = ctx.t(L), { esc } = ctx;
  const d = defaults || {};
  const key = crypto.randomUUID(); // one per form: a retried submit is the same request
  const num = (v, scale) => (v == null || v === '' ? '' : ui.decText(ui.units(v, scale), scale).replace(/\.?0+$/, ''));
  const s = ui.sheet(`<form class="stack" data-form="ship" novalidate>
    <div class="row between"><h2>${esc(t('ship'))}</h2><button type="button" class="btn small" data-close>✕</button></div>
    <p class="muted">${esc(t('invoice'))} ${esc(invoice.invoice_number || '')}</p>
    <label class="field"><span>${esc(t('pickup_location'))}</span><input name="pickup_location" value="${esc(d.pickup_location || '')}" autocomplete="off">
      <small class="error" data-error="pickup_location" hidden></small></label>
    <div class="row">
      ${['length', 'breadth', 'height'].map((k) => `<label class="field grow"><span>${esc(t(k))}</span>
        <input name="${k}" inputmode="decimal" value="${esc(num(d[k], 2))}" autocomplete="off"><small class="error" data-error="${k}" hidden></small></label>`).join('')}
    </div>
    <div class="row">
      <label class="field grow"><span>${esc(t('weight'))}</span><input name="weight" inputmode="decimal" value="${esc(num(d.weight, 3))}" autocomplete="off">
        <small class="error" data-error="weight" hidden></small></label>
      <label class="field grow"><span>${esc(t('payment_method'))}</span><select name="payment_method">
        ${['prepaid', 'cod'].map((m) => `<option value="${m}"${m === (d.payment_method || 'prepaid') ? ' selected' : ''}>${esc(t(m))}</option>`).join('')}
      </select><small class="error" data-error="payment_method" hidden></small></label>
    </div>
    <div class="error stack tight" data-error="other" hidden></div>
    <button class="btn primary block" data-action="create-shipment">${esc(t('ship_go'))}</button>
  </form>`);
  const form = s.root.querySelector('form');
  const clear = () => { for (const e of form.querySelectorAll('[data-error]')) { e.hidden = true; e.textContent = ''; } };
  const show = (field, text) => {
    let e = form.querySelector(`[data-error="${CSS.escape(field)}"]`);
    if (!e) {
      e = form.querySelector('[data-error=other]');
      e.appendChild(ui.el(`<div data-field-error="${esc(field)}">${esc(field)}: ${esc(text)}</div>`));
    } else {
      e.textContent = e.textContent ? `${e.textContent}; ${text}` : text;
    }
    e.hidden = false;
  };
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    clear();
    const args = { invoice_id: invoice.id, payment_method: form.payment_method.value };
    const pl = form.pickup_location.value.trim();
    if (pl) args.pickup_location = pl;
    let bad = false;
    for (const k of ['length', 'breadth', 'height', 'weight']) {
      const scale = k === 'weight' ? 3 : 2;
      const text = form[k].value.trim().replace(/,/g, '');
      const re = scale === 3 ? /^\d{1,5}(\.\d{0,3})?$/ : /^\d{1,5}(\.\d{0,2})?$/;
      const v = re.test(text) ? ui.units(text, scale) : null;
      if (v == null || v <= 0n) { show(k, t(scale === 3 ? 'bad_weight' : 'bad_dim')); bad = true; continue; }
      args[k] = ui.decNumber(v, scale);
    }
    if (bad) return;
    const btn = form.querySelector('[data-action=create-shipment]');
    btn.disabled = true;
    try {
      const r = await ui.rpcOnce(ctx.sb, 'create_shipment', args, key);
      s.close();
      const st = r && r.status;
      ctx.toast(t('shipped', { status: (STATUS[ctx.lang] || STATUS.en)[st] || st || '' }));
      if (done) done(r);
    } catch (ex) {
      const fe = fieldErrors(ex);
      const names = Object.keys(fe);
      if (names.length) {
        const p = form.querySelector('[data-error=other]');
        p.appendChild(ui.el(`<div>${esc(t('provider_said'))} ${esc(ui.errText(ex))}</div>`));
        p.hidden = false;
        for (const f of names) show(f, Array.isArray(fe[f]) ? fe[f].join('; ') : String(fe[f]));
      } else {
        const p = form.querySelector('[data-error=other]');
        p.appendChild(ui.el(`<div>${esc(ui.errText(ex) + (ex && ex.details ? ` (${ex.details})` : ''))}</div>`));
        p.hidden = false;
      }
      if (done) done(null);
    } finally { btn.disabled = false; }
  });
  return s;
}

// Customers' names for a list of shipments (one level of embedding:
// shipments → invoices, then the invoices' customers in one read).
async function withNames(sb, list) {
  const ids = [...new Set(list.map((s) => s.invoices && s.invoices.customer_id).filter(Boolean))];
  if (!ids.length) return new Map();
  const { data } = await sb.from('customers').select('id,full_name').in('id', ids);
  return new Map((data || []).map((c) => [c.id, c.full_name]));
}

async function listView(root, ctx) {
  const t = ctx.t(L), { sb, esc } = ctx;
  let tab = sessionStorage.getItem('munshi.shipment_tab') || 'all';
  if (!TABS.includes(tab)) tab = 'all';
  root.dataset.live = 'connecting';
  root.innerHTML = `
    <div class="row between"><h1>${esc(t('shipments'))}</h1><span data-field="live">${liveBadge(t, 'connecting')}</span></div>
    <div class="tabs" role="tablist">${TABS.map((k) =>
      `<button role="tab" data-tab="${k}" aria-selected="${k === tab}">${esc(t(k))}</button>`).join('')}</div>
    <ul class="list" data-list="shipments"></ul>`;
  const list = root.querySelector('[data-list]');
  let rows = [], names = new Map(), seq = 0;
  function render() {
    const shown = rows.filter((s) => inTab(s, tab));
    list.innerHTML = shown.length ? shown.map((s) => `
      <li><a class="item" href="#/shipments/${esc(s.id)}" data-id="${esc(s.id)}">
        <div class="main"><div class="name">${esc(names.get(s.invoices && s.invoices.customer_id) || '')}</div>
          <div class="muted">${esc(s.invoices ? s.invoices.invoice_number || '' : '')}${s.awb_number ? ' · ' + esc(t('awb')) + ' ' + esc(s.awb_number) : ''}${s.courier_name ? ' · ' + esc(s.courier_name) : ''}</div></div>
        <div class="side">${shipmentBadge(s, ctx.lang)}<div class="muted">${esc(ctx.time(s.updated_at))}</div></div></a></li>`).join('')
      : `<li class="empty">${esc(t(rows.length ? 'none_here' : 'none'))}</li>`;
  }
  async function load() {
    const my = ++seq;
    const { data, error } = await sb.from('shipments')
      .select('id,invoice_id,awb_number,courier_name,status,status_code,last_error,updated_at,invoices(invoice_number,customer_id)')
      .order('updated_at', { ascending: false }).limit(200);
    if (my !== seq) return;
    if (error) { list.innerHTML = `<li class="empty error">${esc(ui.errText(error))}</li>`; return; }
    const n = await withNames(sb, data);
    if (my !== seq) return;
    rows = data; names = n;
    render();
  }
  root.addEventListener('click', (e) => {
    const b = e.target.closest('[data-tab]');
    if (!b) return;
    tab = b.dataset.tab;
    sessionStorage.setItem('munshi.shipment_tab', tab);
    for (const x of root.querySelectorAll('[data-tab]')) x.setAttribute('aria-selected', String(x === b));
    render();
  });
  await load();
  const again = ui.debounce(load, 250);
  const ch = liveChannel(ctx, 'shipments', [{ table: 'shipments', handler: again }], {
    reload: load,
    onState: (s) => { root.dataset.live = s; root.querySelector('[data-field=live]').innerHTML = liveBadge(t, s); },
  });
  return () => ch.close();
}

async function detailView(root, ctx, id) {
  const t = ctx.t(L), { sb, esc } = ctx;
  let ship = null, scans = [], customer = '';
  root.dataset.live = 'connecting';
  let liveState = 'connecting';
  async function load() {
    const [s, sc] = await Promise.all([
      sb.from('shipments').select('*,invoices(id,invoice_number,customer_id)').eq('id', id).maybeSingle(),
      sb.from('shipment_scans').select('id,scanned_at,status,activity,location,status_code')
        .eq('shipment_id', id).order('scanned_at', { ascending: false }).limit(200),
    ]);
    if (s.error) throw s.error;
    if (sc.error) throw sc.error;
    ship = s.data; scans = sc.data;
    if (ship && ship.invoices && ship.invoices.customer_id && !customer) {
      const c = await sb.from('customers').select('full_name').eq('id', ship.invoices.customer_id).maybeSingle();
      customer = (c.data && c.data.full_name) || '';
    }
  }
  function render() {
    if (!ship) { root.innerHTML = `<div class="empty">${esc(t('not_found'))}</div>`; return; }
    const s = ship, inv = s.invoices || {};
    const errs = errorLines(t, s.last_error);
    // A step left (no label yet) or a step that failed: create_shipment goes on.
    const canRetry = !!s.provider && !DONE.includes(s.status) && (!!s.last_error || !s.label_url);
    const size = [s.length_cm, s.breadth_cm, s.height_cm].every((v) => v != null)
      ? `${ui.fmtQty(s.length_cm)} × ${ui.fmtQty(s.breadth_cm)} × ${ui.fmtQty(s.height_cm)} cm${s.weight_kg != null ? ', ' + ui.fmtQty(s.weight_kg) + ' kg' : ''}` : '';
    const row = (k, v) => (v ? `<div class="row between"><span class="muted">${esc(t(k))}</span><span data-field="${k}">${v}</span></div>` : '');
    root.innerHTML = `
      <div class="row between"><a class="btn small" href="#/shipments">← ${esc(t('back'))}</a><span data-field="live">${liveBadge(t, liveState)}</span></div>
      <div class="card stack">
        <div class="row between"><div class="grow"><h1>${esc(s.awb_number || customer || t('shipments'))}</h1>
          <div class="muted">${esc(customer)}${inv.id ? ` · <a href="#/invoices/${esc(inv.id)}">${esc(t('invoice'))} ${esc(inv.invoice_number || '')}</a>` : ''}</div></div>
          ${shipmentBadge(s, ctx.lang)}</div>
        ${row('courier', esc(s.courier_name || ''))}
        ${row('eta', s.etd ? esc(ui.shortDate(s.etd, ctx.lang)) : '')}
        ${row('pickup', s.pickup_scheduled_at ? esc(ui.shortDate(s.pickup_scheduled_at, ctx.lang)) : '')}
        ${row('pickup_location', esc(s.pickup_location || ''))}
        ${row('payment_method', s.payment_method ? esc(t(s.payment_method)) : '')}
        ${row('size', esc(size))}
        ${errs.length ? `<div class="error stack tight" data-field="last-error">${errs.map((l) => `<div>${esc(l)}</div>`).join('')}</div>` : ''}
        <div class="row">
          ${s.tracking_url ? `<a class="btn small" href="${esc(safeUrl(s.tracking_url))}" target="_blank" rel="noopener">${esc(t('tracking'))}</a>` : ''}
          ${s.label_url ? `<a class="btn small" href="${esc(safeUrl(s.label_url))}" target="_blank" rel="noopener" data-action="label">${esc(t('label'))}</a>` : ''}
          ${s.awb_number && !DONE.includes(s.status) ? `<button class="btn" data-action="track">${esc(t('track'))}</button>` : ''}
          ${canRetry ? `<button class="btn primary" data-action="retry">${esc(t('retry'))}</button>` : ''}
        </div>
      </div>
      <div class="card stack"><h2>${esc(t('scans'))}</h2>
        ${scans.length ? `<ul class="list" data-list="scans">${scans.map((x) => `<li class="item" data-id="${esc(x.id)}">
          <div class="main"><div>${esc(x.activity || x.status || '')}</div><div class="muted">${esc(x.location || '')}</div></div>
          <div class="side muted">${esc(ctx.time(x.scanned_at))}</div></li>`).join('')}</ul>`
          : `<p class="muted" data-list="scans">${esc(t('no_scans'))}</p>`}
      </div>`;
  }
  async function refresh() {
    try { await load(); render(); } catch (e) { root.innerHTML = `<div class="empty error">${esc(ui.errText(e))}</div>`; }
  }
  root.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-action]');
    if (!b || !ship) return;
    if (b.dataset.action === 'track') {
      await ui.busy(b, async () => {
        await ui.rpcOnce(sb, 'track_shipment', { shipment_id: id });
        ctx.toast(t('tracked'));
        await refresh();
      });
    } else if (b.dataset.action === 'retry') {
      // The same request as the first: create_shipment continues the steps
      // this shipment has left, with what it was made with.
      shipForm(ctx, { id: ship.invoice_id, invoice_number: (ship.invoices || {}).invoice_number }, {
        pickup_location: ship.pickup_location, length: ship.length_cm, breadth: ship.breadth_cm,
        height: ship.height_cm, weight: ship.weight_kg, payment_method: ship.payment_method,
      }, () => refresh());
    }
  });
  await refresh();
  const again = ui.debounce(refresh, 250);
  const ch = liveChannel(ctx, 'shipment', [
    { table: 'shipments', filter: `id=eq.${id}`, handler: again },
    { table: 'shipment_scans', filter: `shipment_id=eq.${id}`, handler: again },
  ], {
    reload: refresh,
    onState: (s) => {
      liveState = s; root.dataset.live = s;
      const el = root.querySelector('[data-field=live]');
      if (el) el.innerHTML = liveBadge(t, s);
    },
  });
  return () => ch.close();
}

// Only http(s) links from a provider are made links.
function safeUrl(u) {
  return /^https?:\/\//i.test(String(u)) ? String(u) : '#';
}

export default {
  title: { en: 'Shipments', hi: 'शिपमेंट' },
  async mount(root, ctx, args) {
    return args[0] ? detailView(root, ctx, args[0]) : listView(root, ctx);
  },
};
