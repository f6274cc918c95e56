// wf_blueprint.js - one workflow (#/workflows/<id>): its name, state,
// trigger, the Architect's explanation and the owner's prompt, the graph,
// and the three things an owner does with a draft: rehearse it over the
// business's recent history (rpc/rehearse_workflow: what would it have sent,
// to whom; nothing is made), activate it (or switch it off), and run it by
// hand (rpc/run_workflow, which opens the live run view). Its runs are
// listed below and follow the server live.

import { drawGraph } from './wf_graph.js';
import { liveChannel } from './wf_live.js';
import { asJson, jsonText, statusBadge, triggerText, WF_WORDS } from './wf_common.js';

const L = {
  en: {
    back: 'Workflows', notFound: 'This workflow is not there (deleted, or another business\'s).',
    version: 'version {v}', activeVersion: 'running version {v}', prompt: 'You asked', explanation: 'What it does',
    rehearse: 'Rehearse', rehearsing: 'Rehearsing…', activate: 'Activate', deactivate: 'Switch off', run: 'Run now',
    runHint: 'Activate it first: a draft never runs (rehearse it instead).',
    rehearsal: 'Rehearsal over the last {n} times it would have started', found: '{found} found',
    noneFound: 'Nothing in the recent history would have started it.', note: 'A rehearsal: nothing was sent, saved or changed.',
    steps: 'steps', runs: 'Runs', noRuns: 'No runs yet.', paused: 'Paused: {reason}', nextRun: 'Next run {at}',
    webhook: 'Webhook URL', activated: 'Activated', deactivated: 'Switched off', started: 'Run started',
    live: 'Live', polling: 'Updating every few seconds', connecting: 'Connecting…',
  },
  hi: {
    back: 'वर्कफ़्लो', notFound: 'यह वर्कफ़्लो नहीं मिला।',
    version: 'संस्करण {v}', activeVersion: 'चालू संस्करण {v}', prompt: 'आपने कहा', explanation: 'यह क्या करता है',
    rehearse: 'रिहर्सल', rehearsing: 'रिहर्सल हो रही है…', activate: 'चालू करें', deactivate: 'बंद करें', run: 'अभी चलाएँ',
    runHint: 'पहले चालू करें: ड्राफ़्ट कभी नहीं चलता (रिहर्सल करके देखें)।',
    rehearsal: 'पिछली {n} बार की रिहर्सल', found: '{found} मिले',
    noneFound: 'हाल के इतिहास में कुछ भी इसे शुरू नहीं करता।', note: 'रिहर्सल: न कुछ भेजा गया, न सहेजा, न बदला।',
    steps: 'कदम', runs: 'रन', noRuns: 'अभी कोई रन नहीं।', paused: 'रुका: {reason}', nextRun: 'अगला रन {at}',
    webhook: 'वेबहुक URL', activated: 'चालू हो गया', deactivated: 'बंद हो गया', started: 'रन शुरू हुआ',
    live: 'लाइव', polling: 'हर कुछ सेकंड में ताज़ा', connecting: 'जुड़ रहा है…',
  },
};

export async function mountBlueprint(root, ctx, id) {
  const t = ctx.t(L);
  const w = ctx.t(WF_WORDS);
  const esc = ctx.esc;
  let bp = null;
  const runs = new Map();
  let gone = false;

  root.innerHTML = `
    <div class="workflows wf-blueprint" data-screen="workflow" data-id="${esc(id)}" data-live="connecting">
      <div class="row wf-head"><a class="btn small back" href="#/workflows">← ${esc(t('back'))}</a>
        <span class="badge live-state" data-live-label>${esc(t('connecting'))}</span></div>
      <div class="stack" data-body></div>
      <div data-rehearsal></div>
      <section class="stack"><h2>${esc(t('runs'))}</h2><div class="list" data-runs></div></section>
    </div>`;
  const screen = root.querySelector('[data-screen]');
  const body = root.querySelector('[data-body]');
  const rehEl = root.querySelector('[data-rehearsal]');
  const runsEl = root.querySelector('[data-runs]');
  const liveLabel = root.querySelector('[data-live-label]');

  function render() {
    if (!bp) { body.innerHTML = `<p class="empty">${esc(t('notFound'))}</p>`; return; }
    const state = bp.paused_reason ? 'paused' : bp.is_active ? 'active' : 'draft';
    screen.dataset.active = bp.is_active ? 'true' : 'false';
    const nodes = asJson(bp.nodes, []);
    const edges = asJson(bp.edges, []);
    body.innerHTML = `
      <div class="row title-row"><h1 class="name">${esc(bp.name)}</h1>${statusBadge(state, w, esc)}</div>
      <p class="muted">${esc(triggerText(bp, w))} · ${esc(t('version', { v: bp.version }))}${bp.is_active && bp.active_version ? ` · ${esc(t('activeVersion', { v: bp.active_version }))}` : ''}</p>
      ${bp.paused_reason ? `<p class="badge warn">${esc(t('paused', { reason: bp.paused_reason }))}</p>` : ''}
      ${bp.is_active && bp.next_run_at ? `<p class="muted">${esc(t('nextRun', { at: ctx.time(bp.next_run_at) }))}</p>` : ''}
      ${bp.webhook_url ? `<p class="muted">${esc(t('webhook'))}: <code>${esc(bp.webhook_url)}</code></p>` : ''}
      ${bp.prompt ? `<blockquote class="prompt"><span class="muted">${esc(t('prompt'))}:</span> ${esc(bp.prompt)}</blockquote>` : ''}
      ${bp.explanation ? `<div class="card"><strong>${esc(t('explanation'))}</strong><p class="explanation" data-explanation>${esc(bp.explanation)}</p></div>` : ''}
      <div class="graph-box card" data-graph></div>
      <div class="row actions">
        <button class="btn" data-action="rehearse">${esc(t('rehearse'))}</button>
        ${bp.is_active
          ? `<button class="btn" data-action="deactivate">${esc(t('deactivate'))}</button>`
          : `<button class="btn primary" data-action="activate">${esc(t('activate'))}</button>`}
        <button class="btn${bp.is_active ? ' primary' : ''}" data-action="run" ${bp.is_active ? '' : `disabled title="${esc(t('runHint'))}"`}>${esc(t('run'))}</button>
      </div>
      ${bp.is_active ? '' : `<p class="muted">${esc(t('runHint'))}</p>`}`;
    drawGraph(body.querySelector('[data-graph]'), { name: bp.name, nodes, edges }, { lang: ctx.lang });
  }

  function renderRuns() {
    const rows = [...runs.values()].sort((a, b) => (a.started_at < b.started_at ? 1 : -1)).slice(0, 30);
    runsEl.innerHTML = rows.length ? rows.map((r) => `
      <a class="item" data-id="${esc(r.id)}" data-status="${esc(r.status)}" href="#/workflows/run/${encodeURIComponent(r.id)}">
        <span class="main"><span class="name">${esc(ctx.time(r.started_at))}</span>
          <span class="muted">${esc(r.trigger_kind || '')} · v${esc(r.version)}${r.error ? ` · ${esc(r.error)}` : ''}</span></span>
        <span class="side">${statusBadge(r.status, w, esc)}</span></a>`).join('')
      : `<p class="empty">${esc(t('noRuns'))}</p>`;
  }

  function renderRehearsal(r) {
    const items = Array.isArray(r.rehearsals) ? r.rehearsals : [];
    rehEl.innerHTML = `
      <section class="card rehearsal stack" data-rehearsal-result data-found="${esc(r.found)}">
        <h3>${esc(t('rehearsal', { n: r.last_n }))} <span class="muted">(${esc(t('found', { found: r.found }))})</span></h3>
        ${items.length ? '' : `<p class="empty">${esc(t('noneFound'))}</p>`}
        ${items.map((x) => `
          <div class="rehearsed" data-outcome="${esc(x.outcome)}">
            <div class="row"><span class="muted">${esc(x.source && x.source.event_type ? x.source.event_type : '')}
              ${esc(x.source && x.source.at ? ctx.time(x.source.at) : '')}</span>${statusBadge(x.outcome, w, esc)}</div>
            <ul class="would">${(Array.isArray(x.would) ? x.would : []).map((s) => `<li>${esc(s)}</li>`).join('')}</ul>
            <details><summary>${esc((x.steps || []).length)} ${esc(t('steps'))}</summary>
              <ol class="rsteps">${(x.steps || []).map((s) => `<li><strong>${esc(s.node_id)}</strong> ${statusBadge(s.status, w, esc)}
                ${s.would ? `<div>${esc(s.would)}</div>` : ''}${s.error ? `<div class="err">${esc(jsonText(s.error))}</div>` : ''}</li>`).join('')}</ol>
            </details>
          </div>`).join('')}
        <p class="muted">${esc(t('note'))}</p>
      </section>`;
  }

  async function load() {
    const [a, b] = await Promise.all([
      ctx.sb.from('workflow_blueprints').select('*').eq('id', id).limit(1),
      ctx.sb.from('workflow_logs').select('id,status,started_at,finished_at,error,trigger_kind,version')
        .eq('blueprint_id', id).order('started_at', { ascending: false }).limit(30),
    ]);
    if (gone) return;
    if (a.error || b.error) { ctx.toast((a.error || b.error).message); return; }
    bp = a.data[0] || null;
    for (const r of b.data) runs.set(r.id, r);
    render();
    renderRuns();
  }

  async function act(button, fn) {
    button.disabled = true;
    try { await fn(); } finally { if (!gone && button.isConnected) button.disabled = false; }
  }

  body.addEventListener('click', (e) => {
    const b = e.target.closest('[data-action]');
    if (!b || !bp) return;
    const a = b.dataset.action;
    if (a === 'rehearse') {
      act(b, async () => {
        b.textContent = t('rehearsing');
        const { data, error } = await ctx.sb.rpc('rehearse_workflow', { id, last_n: 5 });
        if (gone) return;
        b.textContent = t('rehearse');
        if (error) { ctx.toast(error.message); return; }
        renderRehearsal(data);
      });
    } else if (a === 'activate' || a === 'deactivate') {
      act(b, async () => {
        const { data, error } = await ctx.sb.rpc(a === 'activate' ? 'activate_workflow' : 'deactivate_workflow', { id });
        if (gone) return;
        if (error) { ctx.toast(error.message); return; }
        bp = { ...bp, ...data, paused_reason: null };
        render();
        ctx.toast(a === 'activate' ? t('activated') : t('deactivated'));
      });
    } else if (a === 'run') {
      act(b, async () => {
        const { data, error } = await ctx.sb.rpc('run_workflow', { id, input: {} });
        if (gone) return;
        if (error) { ctx.toast(error.message); return; }
        ctx.toast(t('started'));
        ctx.go(`#/workflows/run/${data.run_id}`);
      });
    }
  });

  const live = liveChannel(ctx, 'workflow', [
    {
      table: 'workflow_blueprints', filter: `id=eq.${id}`,
      handler(p) {
        if (p.eventType === 'DELETE') bp = null;
        else if (p.new) bp = { ...(bp || {}), ...p.new };
        render();
      },
    },
    {
      table: 'workflow_logs', filter: `blueprint_id=eq.${id}`,
      handler(p) {
        if (p.eventType === 'DELETE') { if (p.old && p.old.id) runs.delete(p.old.id); } else if (p.new && p.new.id) {
          runs.set(p.new.id, { ...(runs.get(p.new.id) || {}), ...p.new });
        }
        renderRuns();
      },
    },
  ], {
    onState(state) {
      screen.dataset.live = state;
      liveLabel.textContent = t(state);
      liveLabel.className = `badge live-state${state === 'live' ? ' ok' : state === 'polling' ? ' warn' : ''}`;
    },
    reload: load,
  });
  await load();
  return () => { gone = true; live.close(); };
}
