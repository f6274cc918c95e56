// wf_live.js - one realtime channel for a screen, with a fallback. The
// inbox and the workflow screens both keep rows up to date from
// postgres_changes; this is the part they share (it lives beside the
// workflow modules, as wf_*, only because those are the names this part of
// the dashboard owns).
//
// liveChannel(ctx, name, bindings, {onState, reload}) subscribes one channel
// with a postgres_changes binding per {table, filter?, event?, handler} and
// reports its state through onState: "connecting", then "live" once the
// server has confirmed the join, or "polling" when it could not (no
// realtime server, WebSockets blocked, an error from the server) - then
// reload() runs every POLL_MS until the channel joins after all
// (realtime-js keeps trying on its own). reload() also runs each time the
// channel (re)joins, because changes made while it was not joined are not
// replayed to a new join: reading again closes that gap, and the screens
// merge rows by id so nothing shows twice. close() removes the channel
// (app.js calls the screen's unmount, which calls it).

const POLL_MS = 4000;
const JOIN_WAIT_MS = 8000;

export function liveChannel(ctx, name, bindings, { onState, reload }) {
  let state = '';
  let poll = null;
  let closed = false;

  const set = (s) => {
    if (s === state || closed) return;
    state = s;
    if (s === 'polling' && !poll) poll = setInterval(() => { if (!closed) reload(); }, POLL_MS);
    if (s !== 'polling' && poll) { clearInterval(poll); poll = null; }
    if (onState) onState(s);
  };

  set('connecting');
  const topic = `${name}:${Math.random().toString(36).slice(2, 10)}`;
  let ch = ctx.sb.channel(topic);
  for (const b of bindings) {
    const spec = { event: b.event || '*', schema: 'public', table: b.table };
    if (b.filter) spec.filter = b.filter;
    ch = ch.on('postgres_changes', spec, (payload) => { if (!closed) b.handler(payload); });
  }
  const waited = setTimeout(() => { if (state === 'connecting') set('polling'); }, JOIN_WAIT_MS);
  ch.subscribe((status) => {
    if (closed) return;
    if (status === 'SUBSCRIBED') {
      clearTimeout(waited);
      set('live');
      // The first join follows the screen's own first read closely, but a
      // change can fall between the two; a rejoin may have missed several.
      reload();
    } else if (status === 'CHANNEL_ERROR' || status === 'TIMED_OUT') {
      set('polling');
    } else if (status === 'CLOSED' && state === 'live') {
      set('polling');
    }
  });

  return {
    get state() { return state; },
    close() {
      closed = true;
      clearTimeout(waited);
      if (poll) clearInterval(poll);
      ctx.sb.removeChannel(ch);
    },
  };
}
