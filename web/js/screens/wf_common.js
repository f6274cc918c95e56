// wf_common.js - words and small renderers the workflow screens share: the
// names of statuses and triggers in both languages, a status badge, a
// trigger in one line, and JSON shown as text (escaped, and cut so that a
// step's 16 KiB input cannot make the page crawl).

export const WF_WORDS = {
  en: {
    active: 'Active', draft: 'Draft', paused: 'Paused',
    running: 'Running', waiting: 'Waiting', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled',
    skipped: 'Skipped', truncated: 'More steps', pending: 'Pending',
    event: 'When {event}', cron: 'Schedule {cron}', webhook: 'Webhook', manual: 'Started by hand', none: 'No trigger',
  },
  hi: {
    active: 'चालू', draft: 'ड्राफ़्ट', paused: 'रुका हुआ',
    running: 'चल रहा है', waiting: 'इंतज़ार में', completed: 'पूरा', failed: 'विफल', cancelled: 'रद्द',
    skipped: 'छोड़ा', truncated: 'और कदम', pending: 'बाकी',
    event: 'जब {event}', cron: 'समय-सारणी {cron}', webhook: 'वेबहुक', manual: 'हाथ से शुरू', none: 'कोई ट्रिगर नहीं',
  },
};

const BADGE = {
  active: 'ok', completed: 'ok', running: 'run', waiting: 'warn', paused: 'warn', draft: '',
  failed: 'err', cancelled: '', skipped: '', truncated: '',
};

/** A .badge for a status; w is ctx.t(WF_WORDS). */
export function statusBadge(status, w, esc) {
  const s = String(status || '');
  return `<span class="badge ${BADGE[s] ?? ''} st-${esc(s)}" data-status-badge="${esc(s)}">${esc(w(s) || s)}</span>`;
}

/** A blueprint's trigger in words. */
export function triggerText(bp, w) {
  switch (bp.trigger_kind) {
    case 'event': return w('event', { event: bp.trigger_event || '' });
    case 'cron': return w('cron', { cron: `${bp.cron || ''}${bp.timezone ? ` ${bp.timezone}` : ''}` });
    case 'webhook': return w('webhook');
    case 'manual': return w('manual');
    default: return w('none');
  }
}

const MAX_JSON = 6000;

/** A JSON value as pretty text (a string stays itself), cut at MAX_JSON characters. */
export function jsonText(v) {
  let s;
  if (typeof v === 'string') s = v;
  else {
    try { s = JSON.stringify(v, null, 2); } catch { s = String(v); }
  }
  if (s === undefined) s = '';
  return s.length > MAX_JSON ? `${s.slice(0, MAX_JSON)}\n…` : s;
}

/** realtime-js hands jsonb columns over parsed, but be sure: text is parsed. */
export function asJson(v, fallback) {
  if (typeof v !== 'string') return v ?? fallback;
  try { return JSON.parse(v); } catch { return fallback; }
}
