// ui.js - helpers every screen shares: strings in two languages, HTML
// escaping, money and quantities as exact integers (paise, thousandths),
// GST as the server computes it, dates, the toast, errors, small DOM helpers.
// Money never passes through floating-point arithmetic here: a decimal from
// the API is read from its text into an integer count of paise (BigInt), and
// sums, taxes and roundings are done on those integers.

// ---- strings ------------------------------------------------------------

// translator(dict, lang) -> t(key, vars): dict[lang][key], else English, else
// the key; "{name}" placeholders are filled from vars.
export function translator(dict, lang) {
  return (key, vars) => {
    let s = (dict[lang] && dict[lang][key]) ?? (dict.en && dict.en[key]) ?? key;
    if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (k in vars ? String(vars[k]) : m));
    return s;
  };
}

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function esc(text) {
  return text == null ? '' : String(text).replace(/[&<>"']/g, (c) => ESC[c]);
}

// ---- exact decimals -----------------------------------------------------

// A decimal (the API's number, or a string of one) as a BigInt count of
// 10^-scale units, rounded half away from zero past scale; null when it is
// not a decimal. Numbers are read from their shortest text (String(v)), which
// is the literal the server sent for any value with at most 15 digits.
export function units(v, scale) {
  if (v == null || v === '') return null;
  let s = typeof v === 'number' ? (Number.isFinite(v) ? String(v) : '') : String(v).trim();
  if (/e/i.test(s)) s = Number(s).toFixed(scale + 1);
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(s);
  if (!m || (m[2] === '' && !m[3])) return null;
  const frac = (m[3] || '').padEnd(scale + 1, '0');
  let n = BigInt((m[2] || '0') + frac.slice(0, scale));
  if (frac.charCodeAt(scale) >= 53 /* '5' */) n += 1n;
  return m[1] === '-' ? -n : n;
}
export const paise = (v) => units(v, 2);
export const milli = (v) => units(v, 3);

// The decimal text of n units of 10^-scale ("1234.50").
export function decText(n, scale) {
  const neg = n < 0n;
  let s = (neg ? -n : n).toString().padStart(scale + 1, '0');
  if (scale) s = s.slice(0, -scale) + '.' + s.slice(-scale);
  return (neg ? '-' : '') + s;
}
// For a JSON body: the number whose shortest text is that decimal, so
// JSON.stringify writes exactly it (true below 2^53 units).
// Larger counts would be changed by the conversion: refused (the typed
// amounts are capped below it by parseMoney and parseQty).
export function decNumber(n, scale) {
  const max = 9007199254740991n; // 2^53 - 1
  if (n > max || n < -max) throw new RangeError('amount too large');
  return Number(decText(n, scale));
}

// Indian digit grouping: the last three digits, then twos (12,34,567).
function groupIN(digits) {
  if (digits.length <= 3) return digits;
  const head = digits.slice(0, -3), tail = digits.slice(-3);
  return head.replace(/\B(?=(\d{2})+$)/g, ',') + ',' + tail;
}
// '₹1,23,456.50' from paise (BigInt).
export function fmtPaise(p) {
  if (p == null) return '—';
  const neg = p < 0n;
  const s = decText(neg ? -p : p, 2);
  const [r, f] = s.split('.');
  return (neg ? '−' : '') + '₹' + groupIN(r) + '.' + f;
}
// ctx.money: a REST decimal in rupees, formatted.
export function money(v) {
  const p = paise(v);
  return p == null ? '—' : fmtPaise(p);
}
// A quantity (thousandths) without trailing zeros: 2.5, 40, 0.125.
export function fmtQty(v) {
  const m = typeof v === 'bigint' ? v : milli(v);
  if (m == null) return '—';
  return decText(m, 3).replace(/\.?0+$/, '') || '0';
}

// What the user typed, as paise: "1,250", "₹ 99.5", "12.05"; null when it is
// not an amount of at most 2 decimals (never rounded silently).
export function parseMoney(text) {
  const s = String(text ?? '').replace(/[₹,\s]/g, '');
  // At most 12 digits before the point: the schema's numeric(14,2), and
  // well inside the 15 digits a JSON number carries exactly.
  if (!/^\d{1,12}(\.\d{0,2})?$|^\.\d{1,2}$/.test(s)) return null;
  return units(s, 2);
}
// A typed quantity, as thousandths: at most 3 decimals.
export function parseQty(text) {
  const s = String(text ?? '').replace(/[,\s]/g, '');
  // At most 11 digits before the point (numeric(14,3)).
  if (!/^-?\d{1,11}(\.\d{0,3})?$|^-?\.\d{1,3}$/.test(s)) return null;
  return units(s, 3);
}

// ---- GST (docs/books.md "GST: how an invoice is computed") ---------------

// round half up of num/den for num >= 0, den > 0 (BigInt).
const rhu = (num, den) => (2n * num + den) / (2n * den);

// A line: {qty: thousandths, price: paise, discount: paise, rate: GST rate in
// hundredths of a percent (18% = 1800)}, all BigInt. Returns the line's
// taxable value, taxes and total in paise, or {error} for a discount above
// the line's value.
export function gstLine(l, intra) {
  const gross = rhu(l.qty * l.price, 1000n);
  const taxable = gross - (l.discount || 0n);
  if (taxable < 0n) return { error: 'discount' };
  let cgst = 0n, sgst = 0n, igst = 0n;
  if (intra) cgst = sgst = rhu(taxable * l.rate, 20000n);
  else igst = rhu(taxable * l.rate, 10000n);
  return { taxable, cgst, sgst, igst, total: taxable + cgst + sgst + igst };
}
// The invoice's totals from its lines: sums, then the grand total rounded to
// the rupee (50 paise and up rounds up) and the round-off.
export function gstTotals(lines, intra) {
  const t = { subtotal: 0n, cgst: 0n, sgst: 0n, igst: 0n, lines: [] };
  for (const l of lines) {
    const r = gstLine(l, intra);
    t.lines.push(r);
    if (r.error) continue;
    t.subtotal += r.taxable; t.cgst += r.cgst; t.sgst += r.sgst; t.igst += r.igst;
  }
  const exact = t.subtotal + t.cgst + t.sgst + t.igst;
  t.total = ((exact + 50n) / 100n) * 100n;
  t.roundOff = t.total - exact;
  return t;
}

// ---- dates --------------------------------------------------------------

// Today's date in India (YYYY-MM-DD), as the server dates invoices.
export function todayIST(offsetDays = 0) {
  const d = new Date(Date.now() + offsetDays * 86400000);
  return new Intl.DateTimeFormat('en-CA', { timeZone: 'Asia/Kolkata' }).format(d);
}
// A short local time: "14:05" today, else "3 Dec" (and the year when not this one).
export function shortTime(iso, lang) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  const loc = lang === 'hi' ? 'hi-IN' : 'en-IN';
  const now = new Date();
  if (d.toDateString() === now.toDateString())
    return d.toLocaleTimeString(loc, { hour: '2-digit', minute: '2-digit' });
  const opts = { day: 'numeric', month: 'short' };
  if (d.getFullYear() !== now.getFullYear()) opts.year = 'numeric';
  return d.toLocaleDateString(loc, opts);
}
// A date column ("2026-11-25") shown as "25 Nov 2026".
export function shortDate(ymd, lang) {
  if (!ymd) return '';
  const d = new Date(String(ymd).slice(0, 10) + 'T00:00:00');
  if (Number.isNaN(d.getTime())) return String(ymd);
  return d.toLocaleDateString(lang === 'hi' ? 'hi-IN' : 'en-IN',
    { day: 'numeric', month: 'short', year: 'numeric' });
}

// ---- the page -----------------------------------------------------------

let toastTimer = 0;
export function toast(text) {
  let el = document.getElementById('toast');
  if (!el) {
    el = document.createElement('div');
    el.id = 'toast';
    el.setAttribute('role', 'status');
    document.body.appendChild(el);
  }
  el.textContent = text;
  el.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { el.hidden = true; }, 3500);
}

const loadedCss = new Set();
// Loads /css/<name>.css once (a screen's own styles).
export function css(name) {
  if (!/^[a-z0-9_-]+$/.test(name) || loadedCss.has(name)) return;
  loadedCss.add(name);
  const l = document.createElement('link');
  l.rel = 'stylesheet';
  l.href = '/css/' + name + '.css';
  document.head.appendChild(l);
}

// The text of an error from supabase-js ({message, details, code}) or a throw.
export function errText(e) {
  if (!e) return '';
  if (typeof e === 'string') return e;
  return e.message || e.msg || e.error_description || String(e);
}

// html`…`-free helpers: an element from HTML text, and querying.
export function el(html) {
  const t = document.createElement('template');
  t.innerHTML = html.trim();
  return t.content.firstElementChild;
}
export const $ = (root, sel) => root.querySelector(sel);
export const $$ = (root, sel) => Array.from(root.querySelectorAll(sel));

// Runs fn while button is disabled (no double submits); shows its error.
export async function busy(button, fn) {
  if (button) button.disabled = true;
  try {
    return await fn();
  } catch (e) {
    toast(errText(e));
    return undefined;
  } finally {
    if (button) button.disabled = false;
  }
}

// Throws the error of a supabase-js answer, else returns its data.
export function must({ data, error }) {
  if (error) throw error;
  return data;
}

// A business operation with an Idempotency-Key (one per button press, so a
// retried request never does the work twice).
export async function rpcOnce(sb, op, args, key) {
  return must(await sb.rpc(op, args).setHeader('Idempotency-Key', key || crypto.randomUUID()));
}

// A bottom sheet (a dialog on desktop) holding html; returns {root, close}.
export function sheet(html, onClose) {
  const wrap = el('<div class="sheet"><div class="card stack" role="dialog">' + html + '</div></div>');
  const close = () => { wrap.remove(); document.removeEventListener('keydown', onKey); if (onClose) onClose(); };
  const onKey = (e) => { if (e.key === 'Escape') close(); };
  wrap.addEventListener('click', (e) => { if (e.target === wrap || e.target.closest('[data-close]')) close(); });
  document.addEventListener('keydown', onKey);
  document.body.appendChild(wrap);
  const first = wrap.querySelector('input, select, textarea');
  if (first) first.focus();
  return { root: wrap.firstElementChild, close };
}

// Calls fn at most once per ms (for live refreshes after a burst of changes).
export function debounce(fn, ms) {
  let t = 0;
  return (...a) => { clearTimeout(t); t = setTimeout(() => fn(...a), ms); };
}

// ---- books ----------------------------------------------------------------

// GST state codes (01..38, 97) and their names, for pickers.
export const STATES = [
  ['01', 'Jammu and Kashmir'], ['02', 'Himachal Pradesh'], ['03', 'Punjab'], ['04', 'Chandigarh'],
  ['05', 'Uttarakhand'], ['06', 'Haryana'], ['07', 'Delhi'], ['08', 'Rajasthan'], ['09', 'Uttar Pradesh'],
  ['10', 'Bihar'], ['11', 'Sikkim'], ['12', 'Arunachal Pradesh'], ['13', 'Nagaland'], ['14', 'Manipur'],
  ['15', 'Mizoram'], ['16', 'Tripura'], ['17', 'Meghalaya'], ['18', 'Assam'], ['19', 'West Bengal'],
  ['20', 'Jharkhand'], ['21', 'Odisha'], ['22', 'Chhattisgarh'], ['23', 'Madhya Pradesh'], ['24', 'Gujarat'],
  ['25', 'Daman and Diu'], ['26', 'Dadra and Nagar Haveli and Daman and Diu'], ['27', 'Maharashtra'],
  ['28', 'Andhra Pradesh (old)'], ['29', 'Karnataka'], ['30', 'Goa'], ['31', 'Lakshadweep'], ['32', 'Kerala'],
  ['33', 'Tamil Nadu'], ['34', 'Puducherry'], ['35', 'Andaman and Nicobar Islands'], ['36', 'Telangana'],
  ['37', 'Andhra Pradesh'], ['38', 'Ladakh'], ['97', 'Other Territory'],
];
export function stateName(code) {
  const s = STATES.find((x) => x[0] === code);
  return s ? s[1] : code || '';
}
export function stateOptions(selected, emptyLabel) {
  return (emptyLabel != null ? `<option value="">${esc(emptyLabel)}</option>` : '') +
    STATES.map(([c, n]) => `<option value="${c}"${c === selected ? ' selected' : ''}>${c} · ${esc(n)}</option>`).join('');
}

const STATUS = {
  en: { draft: 'Draft', pending: 'Unpaid', partially_paid: 'Part paid', paid: 'Paid', cancelled: 'Cancelled' },
  hi: { draft: 'ड्राफ़्ट', pending: 'बकाया', partially_paid: 'आंशिक', paid: 'चुकता', cancelled: 'रद्द' },
};
const STATUS_CLASS = { draft: '', pending: 'warn', partially_paid: 'warn', paid: 'ok', cancelled: 'err' };
// An invoice status as a badge.
export function statusBadge(status, lang) {
  const label = (STATUS[lang] || STATUS.en)[status] || status;
  return `<span class="badge ${STATUS_CLASS[status] || ''}" data-status="${esc(status)}">${esc(label)}</span>`;
}

// Digits of a phone number for wa.me links ("+91 98200 11111" -> "919820011111").
export const phoneDigits = (p) => String(p || '').replace(/\D/g, '');
