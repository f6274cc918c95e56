// app.js - the dashboard's shell: the supabase client, sign-in and sign-up,
// the top bar, the nav, the Hindi/English switch and the hash router that
// mounts one screen module at a time (the contract is in docs/dashboard.md).
import * as ui from './ui.js';

const SCREENS = ['home', 'inbox', 'invoices', 'customers', 'products', 'shipments', 'workflows', 'settings'];

const L = {
  en: {
    home: 'Home', inbox: 'Inbox', invoices: 'Invoices', customers: 'Customers',
    products: 'Products', workflows: 'Workflows', shipments: 'Shipments', settings: 'Settings',
    signin_title: 'Sign in to your business', signup_title: 'Set up your business',
    signup_lead: 'A new munshi: create the owner\'s account. You can load a sample business next.',
    email: 'Email', password: 'Password', business_name: 'Business name',
    signin: 'Sign in', signup: 'Create account', or_signup: 'New here?', or_signin: 'Have an account?',
    signout: 'Sign out', pw_hint: 'At least 8 characters',
    need_both: 'Enter your email and password.', loading: 'Loading…',
    load_failed: 'This screen could not be loaded: {error}', welcome: 'Welcome, {name}',
    no_config: 'The page could not read its settings (/config.js).',
  },
  hi: {
    home: 'होम', inbox: 'इनबॉक्स', invoices: 'बिल', customers: 'ग्राहक',
    products: 'सामान', workflows: 'वर्कफ़्लो', shipments: 'शिपमेंट', settings: 'सेटिंग',
    signin_title: 'अपने व्यापार में साइन इन करें', signup_title: 'अपना व्यापार शुरू करें',
    signup_lead: 'नया munshi: मालिक का खाता बनाइए। इसके बाद आप नमूना व्यापार लोड कर सकते हैं।',
    email: 'ईमेल', password: 'पासवर्ड', business_name: 'व्यापार का नाम',
    signin: 'साइन इन', signup: 'खाता बनाएँ', or_signup: 'नए हैं?', or_signin: 'खाता है?',
    signout: 'साइन आउट', pw_hint: 'कम से कम 8 अक्षर',
    need_both: 'ईमेल और पासवर्ड लिखें।', loading: 'लोड हो रहा है…',
    load_failed: 'यह स्क्रीन लोड नहीं हो सकी: {error}', welcome: 'स्वागत है, {name}',
    no_config: 'पेज अपनी सेटिंग (/config.js) नहीं पढ़ सका।',
  },
};

const ICONS = {
  home: '<path d="M3 11l9-7 9 7"/><path d="M5 10v10h5v-6h4v6h5V10"/>',
  inbox: '<path d="M4 5h16v11H8l-4 4z"/><path d="M8 9h8M8 12h5"/>',
  invoices: '<path d="M6 3h9l4 4v14H6z"/><path d="M14 3v5h5M9 12h7M9 16h7"/>',
  customers: '<circle cx="9" cy="8" r="3.5"/><path d="M2.5 20c.8-3.6 3.4-5.5 6.5-5.5s5.7 1.9 6.5 5.5"/><path d="M16 4.8a3.2 3.2 0 010 6.4M18 14.8c1.8.7 3 2.4 3.5 5.2"/>',
  products: '<path d="M3 7l9-4 9 4-9 4z"/><path d="M3 7v10l9 4 9-4V7M12 11v10"/>',
  shipments: '<path d="M2 7h11v9H2z"/><path d="M13 10h4l3 3v3h-7z"/><circle cx="6" cy="17.5" r="1.8"/><circle cx="16.5" cy="17.5" r="1.8"/>',
  settings: '<circle cx="12" cy="12" r="3"/><path d="M12 2.5v3M12 18.5v3M2.5 12h3M18.5 12h3M5.3 5.3l2.1 2.1M16.6 16.6l2.1 2.1M5.3 18.7l2.1-2.1M16.6 7.4l2.1-2.1"/>',
  workflows: '<circle cx="5" cy="6" r="2.5"/><circle cx="19" cy="6" r="2.5"/><circle cx="12" cy="18" r="2.5"/><path d="M7.5 6h9M6.3 8.2l4.4 7.6M17.7 8.2l-4.4 7.6"/>',
};

const cfg = window.MUNSHI_CONFIG || null;
const state = {
  lang: localStorage.getItem('munshi.lang') === 'hi' ? 'hi' : 'en',
  sb: null, user: null, profile: null,
  current: null, // {name, argsKey, unmount}
  seq: 0,
};
const t = (key, vars) => ui.translator(L, state.lang)(key, vars);
const app = document.getElementById('app');

function setLang(lang) {
  state.lang = lang;
  localStorage.setItem('munshi.lang', lang);
  document.documentElement.lang = lang;
  if (state.user) { renderFrame(); route(true); } else renderAuth();
}

function langSwitch() {
  const other = state.lang === 'hi' ? 'en' : 'hi';
  return `<button class="btn small lang-switch" data-action="lang" data-lang="${other}"
    title="${other === 'hi' ? 'हिन्दी' : 'English'}">${other === 'hi' ? 'हिन्दी' : 'English'}</button>`;
}

// ---- sign-in and sign-up -------------------------------------------------

function renderAuth(mode) {
  mode = mode || (cfg && cfg.first_run ? 'signup' : 'signin');
  const up = mode === 'signup';
  app.innerHTML = `
  <div class="auth stack" data-screen="signin">
    <div class="row between"><div class="brand">munshi</div>${langSwitch()}</div>
    <form class="card stack" id="auth-form" novalidate>
      <h1>${ui.esc(t(up ? 'signup_title' : 'signin_title'))}</h1>
      ${up ? `<p class="muted">${ui.esc(t('signup_lead'))}</p>
      <label class="field"><span>${ui.esc(t('business_name'))}</span>
        <input id="business_name" autocomplete="organization"></label>` : ''}
      <label class="field"><span>${ui.esc(t('email'))}</span>
        <input id="email" type="email" autocomplete="email" inputmode="email" required></label>
      <label class="field"><span>${ui.esc(t('password'))}</span>
        <input id="password" type="password" required minlength="8"
          autocomplete="${up ? 'new-password' : 'current-password'}">
        ${up ? `<small class="hint">${ui.esc(t('pw_hint'))}</small>` : ''}</label>
      <p class="error" id="auth-error" hidden></p>
      <button class="btn primary block" type="submit" data-action="${up ? 'signup' : 'signin'}">
        ${ui.esc(t(up ? 'signup' : 'signin'))}</button>
      <div class="row muted"><span>${ui.esc(t(up ? 'or_signin' : 'or_signup'))}</span>
        <button class="btn small" type="button" data-action="${up ? 'signin' : 'signup'}">
          ${ui.esc(t(up ? 'signin' : 'signup'))}</button>
        <button class="btn link small" type="button" data-action="switch-mode">
          ${ui.esc(up ? '↺' : '+')}</button></div>
    </form>
  </div>`;
  if (!cfg || !state.sb) { showAuthError(t('no_config')); return; }
  const form = document.getElementById('auth-form');
  // Both buttons act at once with what is typed: "Create account" on the
  // sign-in form creates the account (the business name can come later).
  form.addEventListener('submit', (e) => { e.preventDefault(); authAct(up ? 'signup' : 'signin', e.submitter); });
  form.addEventListener('click', (e) => {
    const b = e.target.closest('button[type=button]');
    if (!b) return;
    if (b.dataset.action === 'switch-mode') renderAuth(up ? 'signin' : 'signup');
    else authAct(b.dataset.action, b);
  });
  app.querySelector('[data-action=lang]').onclick = (e) => setLang(e.currentTarget.dataset.lang);
  (up ? document.getElementById('business_name') : document.getElementById('email')).focus();
}

function showAuthError(text) {
  const p = document.getElementById('auth-error');
  if (!p) return ui.toast(text);
  p.textContent = text;
  p.hidden = !text;
}

async function authAct(action, button) {
  const email = document.getElementById('email').value.trim();
  const password = document.getElementById('password').value;
  const bn = document.getElementById('business_name');
  if (!email || !password) { showAuthError(t('need_both')); return; }
  showAuthError('');
  await ui.busy(button, async () => {
    let r;
    if (action === 'signup') {
      const data = bn && bn.value.trim() ? { business_name: bn.value.trim() } : undefined;
      r = await state.sb.auth.signUp({ email, password, options: data ? { data } : undefined });
      if (!r.error) sessionStorage.setItem('munshi.new_account', '1');
    } else {
      r = await state.sb.auth.signInWithPassword({ email, password });
    }
    if (r.error) { showAuthError(ui.errText(r.error)); return; }
    if (cfg) cfg.first_run = false;
    if (r.data && r.data.session) await signedIn(r.data.session.user);
  });
}

// ---- the frame and the router ---------------------------------------------

async function signedIn(user) {
  if (state.user && state.user.id === user.id) return;
  state.user = user;
  // The business first (one small read): the top bar shows its name and
  // screens read its state code (GST) from ctx.profile.
  const { data } = await state.sb.from('profiles')
    .select('id,business_name,state_code,gst_number,whatsapp_number,upi_id,address,invoice_prefix')
    .eq('id', user.id).maybeSingle();
  state.profile = data || null;
  renderFrame();
  route(true);
}

function signedOut() {
  unmountCurrent();
  state.user = null;
  state.profile = null;
  renderAuth();
}

function renderFrame() {
  const name = (state.profile && state.profile.business_name) || state.user.email || '';
  app.innerHTML = `
  <header class="topbar">
    <span class="brand">munshi</span>
    <span class="biz">${ui.esc(name)}</span>
    <a class="btn small gear" href="#/settings" data-nav="settings" title="${ui.esc(t('settings'))}" aria-label="${ui.esc(t('settings'))}">
      <svg viewBox="0 0 24 24" aria-hidden="true">${ICONS.settings}</svg></a>
    ${langSwitch()}
    <button class="btn small" data-action="signout">${ui.esc(t('signout'))}</button>
  </header>
  <nav class="nav">${SCREENS.map((s) => `
    <a href="#/${s}" data-nav="${s}"><svg viewBox="0 0 24 24" aria-hidden="true">${ICONS[s]}</svg>
    <span>${ui.esc(t(s))}</span></a>`).join('')}
  </nav>
  <main id="view"></main>`;
  app.querySelector('[data-action=lang]').onclick = (e) => setLang(e.currentTarget.dataset.lang);
  app.querySelector('[data-action=signout]').onclick = async (e) => {
    await ui.busy(e.currentTarget, () => state.sb.auth.signOut());
    signedOut();
  };
}

function unmountCurrent() {
  const cur = state.current;
  state.current = null;
  if (cur && typeof cur.unmount === 'function') {
    try { cur.unmount(); } catch (e) { console.error(e); }
  }
}

function parseHash() {
  const parts = (location.hash || '').replace(/^#\/?/, '').split('/').filter(Boolean)
    .map((p) => { try { return decodeURIComponent(p); } catch { return p; } });
  return { name: parts[0] || 'home', args: parts.slice(1) };
}

function go(hash) {
  if (location.hash === hash) route(true);
  else location.hash = hash;
}

// Mounts the screen the hash names. force: remount even when unchanged (a
// language switch).
async function route(force) {
  if (!state.user || !document.getElementById('view')) return;
  const { name, args } = parseHash();
  if (!SCREENS.includes(name)) { location.replace('#/home'); return; }
  const argsKey = name + '/' + args.join('/');
  if (!force && state.current && state.current.argsKey === argsKey) return;
  unmountCurrent();
  const seq = ++state.seq;
  const view = document.getElementById('view');
  for (const a of document.querySelectorAll('nav.nav a, .topbar a.gear'))
    a.classList.toggle('active', a.dataset.nav === name);
  const root = document.createElement('section');
  root.className = 'screen';
  root.dataset.screen = name;
  root.innerHTML = `<div class="spinner" aria-label="${ui.esc(t('loading'))}"></div>`;
  view.replaceChildren(root);
  state.current = { name, argsKey, unmount: null };
  try {
    const mod = await import('./screens/' + name + '.js');
    if (seq !== state.seq) return;
    const screen = mod.default;
    document.title = (screen.title ? (screen.title[state.lang] || screen.title.en) : t(name)) + ' · munshi';
    root.innerHTML = '';
    const unmount = await screen.mount(root, makeCtx(), args);
    if (seq !== state.seq) { if (typeof unmount === 'function') unmount(); return; }
    state.current.unmount = unmount;
  } catch (e) {
    console.error(e);
    if (seq !== state.seq) return;
    root.innerHTML = `<div class="empty error">${ui.esc(t('load_failed', { error: ui.errText(e) }))}</div>`;
  }
}

function makeCtx() {
  const lang = state.lang;
  return {
    sb: state.sb,
    user: state.user,
    profile: state.profile,
    lang,
    t: (dict) => ui.translator(dict, lang),
    go,
    toast: ui.toast,
    money: ui.money,
    esc: ui.esc,
    time: (iso) => ui.shortTime(iso, lang),
    css: ui.css,
  };
}

// ---- start -----------------------------------------------------------------

async function start() {
  document.documentElement.lang = state.lang;
  if (cfg && window.supabase && window.supabase.createClient) {
    state.sb = window.supabase.createClient(cfg.url || location.origin, cfg.anon_key, {
      auth: { persistSession: true, autoRefreshToken: true, storageKey: 'munshi-auth' },
    });
  }
  if (!state.sb) { renderAuth(); return; }
  const { data } = await state.sb.auth.getSession();
  if (data && data.session) await signedIn(data.session.user);
  else renderAuth();
  state.sb.auth.onAuthStateChange((event, session) => {
    // Deferred: supabase-js holds its auth lock while it calls this, and
    // signedIn makes requests that need it.
    if (event === 'SIGNED_OUT') setTimeout(() => { if (state.user) signedOut(); }, 0);
    else if (session && session.user && !state.user) setTimeout(() => signedIn(session.user), 0);
  });
  window.addEventListener('hashchange', () => route(false));
}

start();
