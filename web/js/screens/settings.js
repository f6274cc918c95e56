// settings.js - the business and its outside services: the profile that
// invoices print (name, GSTIN, address, state, UPI id, invoice prefix, the
// owner's phone), and the integrations - Shiprocket (the API user's email
// and password, the webhook token, the default pickup location) and
// Razorpay (key id, key secret, webhook secret) - with the webhook URLs to
// paste into each provider's panel.
//
// The secrets are write-only on the server (docs/api.md): every read of
// them is null, so this screen never shows one and never fills one into a
// field. What it can tell: Shiprocket's password and Razorpay's key secret
// are required when the row is made and can never be cleared, so they are
// "set" exactly when the row exists; a webhook token or secret is optional,
// and whether one is stored cannot be read back - the screen says "set"
// when it saved one from this browser, and otherwise says it cannot know.
import * as ui from '../ui.js';

// The webhook paths each provider is given (docs/integrations.md).
// Shiprocket's panel refuses URLs with its own name in them, so its
// integration is also served under a neutral alias.
const WEBHOOK = {
  shiprocket: ['/webhooks/shiprocket/', '/webhooks/courier/'],
  razorpay: ['/webhooks/razorpay/'],
};

const L = {
  en: {
    settings: 'Settings', business: 'Your business', business_name: 'Business name', gst_number: 'GSTIN',
    address: 'Address', state: 'State (GST)', choose_state: 'Choose…', upi_id: 'UPI id (for payment QR codes)',
    invoice_prefix: 'Invoice number prefix', owner_phone: 'Your own phone (commands on WhatsApp)',
    save: 'Save', saved: 'Saved.', integrations: 'Integrations',
    shiprocket: 'Shiprocket', shiprocket_lead: 'Shipments: create the order, assign a courier, schedule the pickup and follow its tracking. Use the email and password of an API user (Shiprocket: Settings › API › Configure).',
    razorpay: 'Razorpay', razorpay_lead: 'Payment links for invoices; payments record themselves when Razorpay tells munshi (Razorpay: Account & Settings › API Keys, and Webhooks).',
    email: 'API user\'s email', password: 'API user\'s password', webhook_token: 'Webhook token (x-api-key)',
    pickup_location: 'Default pickup location (its nickname in Shiprocket)',
    key_id: 'Key Id', key_secret: 'Key Secret', webhook_secret: 'Webhook secret',
    active: 'Active', connected: 'Connected', paused: 'Switched off', not_connected: 'Not connected',
    set: 'set', not_set: 'not set', unknown: 'hidden (write-only: type a new one to replace it)',
    keep: 'Leave empty to keep the one that is set', generate: 'Generate',
    generated: 'A new token is in the field: copy it into the provider\'s panel now - munshi will not show it again.',
    webhook_urls: 'Webhook URL to paste in the provider\'s panel', webhook_alias: 'If the panel refuses that address, this one is the same:',
    webhook_after: 'The webhook URL appears once the integration is saved.',
    shared_note: 'Without keys of your own, payment links use this installation\'s Razorpay account, if it has one.',
    copy: 'Copy', copied: 'Copied.', need: '{field} is needed.', pin_token: 'At least 16 characters.',
  },
  hi: {
    settings: 'सेटिंग', business: 'आपका व्यापार', business_name: 'व्यापार का नाम', gst_number: 'GSTIN',
    address: 'पता', state: 'राज्य (GST)', choose_state: 'चुनें…', upi_id: 'UPI आईडी (भुगतान QR के लिए)',
    invoice_prefix: 'बिल नंबर का उपसर्ग', owner_phone: 'आपका अपना फ़ोन (WhatsApp पर आदेश)',
    save: 'सहेजें', saved: 'सहेजा गया।', integrations: 'जुड़ी सेवाएँ',
    shiprocket: 'Shiprocket', shiprocket_lead: 'शिपमेंट: ऑर्डर बनाना, कूरियर, पिकअप और ट्रैकिंग। Shiprocket के API यूज़र का ईमेल और पासवर्ड दें (Settings › API › Configure)।',
    razorpay: 'Razorpay', razorpay_lead: 'बिलों के लिए भुगतान लिंक; Razorpay के बताने पर भुगतान अपने आप दर्ज होते हैं (API Keys और Webhooks)।',
    email: 'API यूज़र का ईमेल', password: 'API यूज़र का पासवर्ड', webhook_token: 'वेबहुक टोकन (x-api-key)',
    pickup_location: 'पिकअप की जगह (Shiprocket में उसका नाम)',
    key_id: 'Key Id', key_secret: 'Key Secret', webhook_secret: 'वेबहुक सीक्रेट',
    active: 'चालू', connected: 'जुड़ा है', paused: 'बंद है', not_connected: 'नहीं जुड़ा',
    set: 'सेट है', not_set: 'सेट नहीं', unknown: 'छिपा है (केवल लिखा जा सकता है: बदलने के लिए नया लिखें)',
    keep: 'जो सेट है वही रखने के लिए खाली छोड़ें', generate: 'बनाएँ',
    generated: 'नया टोकन फ़ील्ड में है: इसे अभी सेवा के पैनल में कॉपी करें - munshi इसे दोबारा नहीं दिखाएगा।',
    webhook_urls: 'सेवा के पैनल में डालने का वेबहुक URL', webhook_alias: 'अगर पैनल यह पता न ले, तो यह भी वही है:',
    webhook_after: 'सहेजने के बाद वेबहुक URL दिखेगा।',
    shared_note: 'अपनी keys के बिना, भुगतान लिंक इस munshi के Razorpay खाते से बनते हैं (अगर है)।',
    copy: 'कॉपी', copied: 'कॉपी हुआ।', need: '{field} ज़रूरी है।', pin_token: 'कम से कम 16 अक्षर।',
  },
};

// Per provider: its columns, which are secrets, and which secret the
// server requires at insert (and never lets be cleared).
const PROVIDERS = {
  shiprocket: {
    fields: ['email', 'password', 'webhook_token', 'pickup_location'],
    secrets: ['password', 'webhook_token'], required: ['email', 'password'], sure: ['password'],
    token: 'webhook_token',
  },
  razorpay: {
    fields: ['key_id', 'key_secret', 'webhook_secret'],
    secrets: ['key_secret', 'webhook_secret'], required: ['key_id', 'key_secret'], sure: ['key_secret'],
    token: 'webhook_secret',
  },
};

// Which optional secrets this browser saved, per integration id (never the
// values: only that one was written).
const MEMO = 'munshi.secrets_saved';
function savedHere(id) {
  try { return JSON.parse(localStorage.getItem(MEMO) || '{}')[id] || {}; } catch { return {}; }
}
function rememberSaved(id, names) {
  let all = {};
  try { all = JSON.parse(localStorage.getItem(MEMO) || '{}'); } catch { all = {}; }
  all[id] = Object.assign(all[id] || {}, Object.fromEntries(names.map((n) => [n, true])));
  localStorage.setItem(MEMO, JSON.stringify(all));
}

// A random token of 32 characters (letters and digits) for a webhook.
function newToken() {
  const abc = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789';
  const r = new Uint8Array(32);
  crypto.getRandomValues(r);
  return Array.from(r, (b) => abc[b % abc.length]).join('');
}

async function copyText(ctx, t, text) {
  try { await navigator.clipboard.writeText(text); ctx.toast(t('copied')); } catch { ctx.toast(text); }
}

function profileCard(ctx, t, p) {
  const { esc } = ctx;
  const f = (k, attrs = '') => `<label class="field"><span>${esc(t(k))}</span>
    <input name="${k}" value="${esc(p[k] || '')}" autocomplete="off" ${attrs}></label>`;
  return `<form class="card stack" data-form="profile" novalidate>
    <h2>${esc(t('business'))}</h2>
    ${f('business_name', 'autocomplete="organization"')}
    ${f('gst_number', 'autocapitalize="characters"')}
    ${f('address')}
    <label class="field"><span>${esc(t('state'))}</span><select name="state_code">${ui.stateOptions(p.state_code || '', t('choose_state'))}</select></label>
    ${f('upi_id', 'placeholder="shop@upi"')}
    <div class="row">
      <label class="field grow"><span>${esc(t('invoice_prefix'))}</span><input name="invoice_prefix" value="${esc(p.invoice_prefix || '')}" maxlength="5" autocomplete="off"></label>
      <label class="field grow"><span>${esc(t('owner_phone'))}</span><input name="owner_phone" type="tel" value="${esc(p.owner_phone || '')}" placeholder="+91" autocomplete="off"></label>
    </div>
    <p class="error" hidden></p>
    <button class="btn primary" data-action="save-profile">${esc(t('save'))}</button>
  </form>`;
}

function secretState(row, prov, name) {
  if (!row) return 'not_set';
  if (PROVIDERS[prov].sure.includes(name)) return 'set';
  return savedHere(row.id)[name] ? 'set' : 'unknown';
}

function integrationCard(ctx, t, prov, row) {
  const { esc } = ctx;
  const P = PROVIDERS[prov];
  const status = !row ? 'not_connected' : row.is_active ? 'connected' : 'paused';
  const input = (k) => {
    if (P.secrets.includes(k)) {
      const st = secretState(row, prov, k);
      return `<label class="field"><span>${esc(t(k))} · <span class="badge ${st === 'set' ? 'ok' : st === 'unknown' ? '' : 'warn'}"
        data-secret="${k}" data-state="${st}">${esc(t(st))}</span></span>
        <div class="row"><input class="grow" name="${k}" type="password" autocomplete="new-password" value=""
          placeholder="${row ? esc(t('keep')) : ''}">
        ${k === P.token ? `<button type="button" class="btn small" data-action="generate" data-for="${k}">${esc(t('generate'))}</button>` : ''}</div></label>`;
    }
    return `<label class="field"><span>${esc(t(k))}</span><input name="${k}" value="${esc((row && row[k]) || '')}"
      autocomplete="off"${k === 'email' ? ' type="email" inputmode="email"' : ''}></label>`;
  };
  const origin = location.origin;
  const urls = row ? WEBHOOK[prov].map((p) => origin + p + row.id) : [];
  return `<form class="card stack" data-form="integration" data-provider="${prov}" data-id="${esc(row ? row.id : '')}" novalidate>
    <div class="row between"><h2>${esc(t(prov))}</h2>
      <span class="badge ${status === 'connected' ? 'ok' : status === 'paused' ? 'warn' : ''}" data-field="status" data-status="${status}">${esc(t(status))}</span></div>
    <p class="muted">${esc(t(prov + '_lead'))}</p>
    ${P.fields.map(input).join('')}
    ${row ? `<label class="row"><input type="checkbox" name="is_active"${row.is_active ? ' checked' : ''}> <span>${esc(t('active'))}</span></label>` : ''}
    <div class="stack tight" data-field="webhooks">
      <span class="muted">${esc(t('webhook_urls'))}</span>
      ${urls.length ? urls.map((u, i) => `${i ? `<span class="muted">${esc(t('webhook_alias'))}</span>` : ''}
        <div class="row"><code class="grow" style="word-break:break-all" data-webhook-url="${i}">${esc(u)}</code>
        <button type="button" class="btn small" data-action="copy" data-text="${esc(u)}">${esc(t('copy'))}</button></div>`).join('')
        : `<span class="muted">${esc(t('webhook_after'))}</span>`}
    </div>
    ${prov === 'razorpay' && !row ? `<p class="muted">${esc(t('shared_note'))}</p>` : ''}
    <p class="error" hidden></p>
    <button class="btn primary" data-action="save-integration">${esc(t('save'))}</button>
  </form>`;
}

async function mount(root, ctx) {
  const t = ctx.t(L), { sb, esc } = ctx;
  root.innerHTML = `<h1>${esc(t('settings'))}</h1><div class="stack" data-part="profile"></div>
    <h2>${esc(t('integrations'))}</h2><div class="stack" data-part="integrations"></div>`;
  const profPart = root.querySelector('[data-part=profile]');
  const intPart = root.querySelector('[data-part=integrations]');
  let rows = {};

  async function loadProfile() {
    const r = await sb.from('profiles')
      .select('id,business_name,gst_number,address,state_code,upi_id,invoice_prefix,owner_phone')
      .eq('id', ctx.user.id).maybeSingle();
    if (r.error) { profPart.innerHTML = `<div class="empty error">${esc(ui.errText(r.error))}</div>`; return; }
    profPart.innerHTML = profileCard(ctx, t, r.data || {});
  }
  async function loadIntegrations() {
    // select=* on purpose: the secrets come back null whatever is asked.
    const r = await sb.from('integrations').select('*');
    if (r.error) { intPart.innerHTML = `<div class="empty error">${esc(ui.errText(r.error))}</div>`; return; }
    rows = Object.fromEntries(r.data.map((x) => [x.provider, x]));
    intPart.innerHTML = Object.keys(PROVIDERS).map((p) => integrationCard(ctx, t, p, rows[p])).join('');
  }

  const fail = (form, text) => { const e = form.querySelector('.error'); e.textContent = text; e.hidden = !text; };

  async function saveProfile(form, button) {
    const row = {};
    for (const k of ['business_name', 'gst_number', 'address', 'state_code', 'upi_id', 'invoice_prefix', 'owner_phone']) {
      let v = form[k].value.trim();
      if (k === 'gst_number') v = v.toUpperCase();
      if (k === 'owner_phone') v = v.replace(/[\s-]/g, '');
      // The prefix cannot be null (it has a default): an empty one is not sent.
      if (k === 'invoice_prefix' && !v) continue;
      row[k] = v || null;
    }
    fail(form, '');
    await ui.busy(button, async () => {
      const { data, error } = await sb.from('profiles').update(row).eq('id', ctx.user.id).select().single();
      if (error) { fail(form, ui.errText(error)); return; }
      if (ctx.profile) Object.assign(ctx.profile, data);
      const biz = document.querySelector('.topbar .biz');
      if (biz && data.business_name) biz.textContent = data.business_name;
      ctx.toast(t('saved'));
    });
  }

  async function saveIntegration(form, button) {
    const prov = form.dataset.provider, P = PROVIDERS[prov], row = rows[prov];
    const body = {};
    for (const k of P.fields) {
      const v = form[k].value.trim();
      if (P.secrets.includes(k)) { if (v) body[k] = v; continue; } // empty: keep what is set
      if (row ? v !== (row[k] || '') : v) body[k] = v || null;
    }
    if (form.is_active && row && form.is_active.checked !== row.is_active) body.is_active = form.is_active.checked;
    if (row && !Object.keys(body).length) { ctx.toast(t('saved')); return; } // nothing changed
    if (!row) {
      for (const k of P.required) if (!body[k]) { fail(form, t('need', { field: t(k) })); form[k].focus(); return; }
      body.provider = prov;
    }
    // Shiprocket's token: 16 characters at least (the server's rule too).
    if (prov === 'shiprocket' && body.webhook_token && body.webhook_token.length < 16) { fail(form, `${t('webhook_token')}: ${t('pin_token')}`); return; }
    fail(form, '');
    await ui.busy(button, async () => {
      const q = row ? sb.from('integrations').update(body).eq('id', row.id) : sb.from('integrations').insert(body);
      const { data, error } = await q.select().single();
      if (error) { fail(form, ui.errText(error)); return; }
      const written = P.secrets.filter((k) => body[k]);
      if (written.length) rememberSaved(data.id, written);
      ctx.toast(t('saved'));
      await loadIntegrations(); // the fields are emptied: a secret never stays on the page
    });
  }

  root.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action]');
    if (!b) return;
    const form = b.closest('form');
    if (b.dataset.action === 'generate') {
      form[b.dataset.for].value = newToken();
      form[b.dataset.for].type = 'text'; // shown once, to be copied
      ctx.toast(t('generated'));
    } else if (b.dataset.action === 'copy') copyText(ctx, t, b.dataset.text);
  });
  root.addEventListener('submit', (e) => {
    e.preventDefault();
    const form = e.target;
    if (form.dataset.form === 'profile') saveProfile(form, form.querySelector('[data-action=save-profile]'));
    else if (form.dataset.form === 'integration') saveIntegration(form, form.querySelector('[data-action=save-integration]'));
  });

  await Promise.all([loadProfile(), loadIntegrations()]);
}

export default {
  title: { en: 'Settings', hi: 'सेटिंग' },
  mount,
};
