// wf_run.js - one run of a workflow, live (#/workflows/run/<run id>). The
// engine writes every step into the run's step_results twice, each in its
// own commit: when it starts ("running") and when it ends (completed,
// failed, waiting, skipped) with its input, output and error
// (docs/workflows.md, "Steps"). This screen subscribes to that one
// workflow_logs row and redraws on every change: the graph's nodes take the
// colour of their latest step, the step list grows, and a step whose status
// just changed flashes. A failed step opens its details by itself.
//
// Test hooks: each step is `.step[data-node="<node id>"][data-status="…"]`;
// the run's status is on the root as data-run-status.

import { drawGraph } from './wf_graph.js';
import { liveChannel } from './wf_live.js';
import { asJson, jsonText, statusBadge, WF_WORDS } from './wf_common.js';

const L = {
  en: {
    back: 'Workflow', all: 'Workflows', notFound: 'This run is not there (deleted, or another business\'s).',
    run: 'Run', started: 'Started {at}', finished: 'finished {at}', steps: 'Steps', noSteps: 'No step has started yet.',
    input: 'Input', output: 'Output', error: 'Error', attempt: 'attempt {n}', scope: 'item {scope}',
    cancel: 'Cancel run', retry: 'Retry', versionNote: 'The graph shown is version {shown}; this run runs version {run}.',
    trigger: 'Trigger data', omitted: '{n} steps not kept',
    live: 'Live', polling: 'Updating every few seconds', connecting: 'Connecting…',
  },
  hi: {
    back: 'वर्कफ़्लो', all: 'वर्कफ़्लो', notFound: 'यह रन नहीं मिला।',
    run: 'रन', started: 'शुरू {at}', finished: 'पूरा {at}', steps: 'कदम', noSteps: 'अभी कोई कदम शुरू नहीं हुआ।',
    input: 'इनपुट', output: 'आउटपुट', error: 'त्रुटि', attempt: 'प्रयास {n}', scope: 'आइटम {scope}',
    cancel: 'रन रद्द करें', retry: 'फिर से चलाएँ', versionNote: 'दिखाया गया ग्राफ़ संस्करण {shown} है; यह रन संस्करण {run} चलाता है।',
    trigger: 'ट्रिगर डेटा', omitted: '{n} कदम नहीं रखे गए',
    live: 'लाइव', polling: 'हर कुछ सेकंड में ताज़ा', connecting: 'जुड़ रहा है…',
  },
};

function duration(a, b) {
  if (!a || !b) return '';
  const ms = Date.parse(b) - Date.parse(a);
  if (!Number.isFinite(ms) || ms < 0) return '';
  return ms < 1000 ? `${ms} ms` : ms < 60000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 60000)} min`;
}

// updated_at is written the same way by REST and the feed (same renderer),
// so the text compares as the time does.
const newer = (a, b) => a && b && a.updated_at && b.updated_at && a.updated_at > b.updated_at;

export async function mountRun(root, ctx, runId) {
  const t = ctx.t(L);
  const w = ctx.t(WF_WORDS);
  const esc = ctx.esc;
  let run = null;
  let bp = null;
  let gone = false;
  const seen = new Map(); // entry key -> status last drawn, to flash what changed
  const open = new Set(); // entry keys whose details the owner opened

  root.innerHTML = `
    <div class="workflows wf-run" data-screen="workflow-run" data-id="${esc(runId)}" data-live="connecting">
      <div class="row wf-head"><a class="btn small back" data-back href="#/workflows">← ${esc(t('all'))}</a>
        <span class="badge live-state" data-live-label>${esc(t('connecting'))}</span></div>
      <div class="stack" data-head></div>
      <div class="graph-box card" data-graph></div>
      <section class="stack"><h2>${esc(t('steps'))}</h2><ol class="steps" data-steps></ol></section>
    </div>`;
  const screen = root.querySelector('[data-screen]');
  const head = root.querySelector('[data-head]');
  const graphEl = root.querySelector('[data-graph]');
  const stepsEl = root.querySelector('[data-steps]');
  const liveLabel = root.querySelector('[data-live-label]');

  const entryKey = (e, i) => `${i}:${e.node_id ?? ''}:${e.scope ?? ''}`;

  function renderHead() {
    if (!run) { head.innerHTML = `<p class="empty">${esc(t('notFound'))}</p>`; return; }
    screen.dataset.runStatus = run.status;
    const back = root.querySelector('[data-back]');
    back.href = `#/workflows/${encodeURIComponent(run.blueprint_id)}`;
    back.textContent = `← ${bp ? bp.name : t('back')}`;
    const input = asJson(run.input, {});
    head.innerHTML = `
      <div class="row title-row"><h1>${esc(t('run'))}</h1>${statusBadge(run.status, w, esc)}</div>
      <p class="muted">${esc(t('started', { at: ctx.time(run.started_at) }))}${run.finished_at ? ` · ${esc(t('finished', { at: ctx.time(run.finished_at) }))} (${esc(duration(run.started_at, run.finished_at))})` : ''}
        · ${esc(run.trigger_kind || '')} · v${esc(run.version)}</p>
      ${run.error ? `<p class="run-error err" data-run-error>${esc(run.error)}</p>` : ''}
      ${bp && bp.version !== run.version ? `<p class="muted">${esc(t('versionNote', { shown: bp.version, run: run.version }))}</p>` : ''}
      ${input && Object.keys(input).length ? `<details><summary>${esc(t('trigger'))}</summary><pre>${esc(jsonText(input))}</pre></details>` : ''}
      <div class="row actions">
        ${run.status === 'running' || run.status === 'waiting' ? `<button class="btn" data-action="cancel">${esc(t('cancel'))}</button>` : ''}
        ${run.status === 'failed' || run.status === 'cancelled' ? `<button class="btn" data-action="retry">${esc(t('retry'))}</button>` : ''}
      </div>`;
  }

  function renderSteps() {
    const entries = run ? asJson(run.step_results, []) : [];
    const list = Array.isArray(entries) ? entries : [];
    // Each node's latest status colours it in the graph (a for_each runs
    // a node once per item: the last entry written wins).
    const status = new Map();
    for (const e of list) if (e && e.node_id) status.set(e.node_id, e.status);
    if (bp) drawGraph(graphEl, { name: bp.name, nodes: asJson(bp.nodes, []), edges: asJson(bp.edges, []) }, { status, lang: ctx.lang });
    if (!list.length) { stepsEl.innerHTML = `<li class="empty">${esc(t('noSteps'))}</li>`; return; }
    stepsEl.innerHTML = list.map((e, i) => {
      if (!e || typeof e !== 'object') return '';
      const key = entryKey(e, i);
      const changed = seen.has(key) ? seen.get(key) !== e.status : seen.size > 0;
      seen.set(key, e.status);
      if (e.type === 'summary') {
        return `<li class="step summary" data-node="" data-status="${esc(e.status)}">
          <div class="row"><strong>…</strong>${statusBadge(e.status, w, esc)}<span class="muted">${esc(t('omitted', { n: e.omitted }))}</span></div>
          <p class="muted">${esc(e.message || '')}</p></li>`;
      }
      const isOpen = open.has(key) || e.status === 'failed';
      const part = (label, v, cls) => (v === null || v === undefined ? ''
        : `<div class="io ${cls}"><div class="muted">${esc(label)}</div><pre>${esc(jsonText(v))}</pre></div>`);
      return `<li class="step${changed ? ' changed' : ''}" data-key="${esc(key)}" data-node="${esc(e.node_id)}" data-status="${esc(e.status)}">
        <details${isOpen ? ' open' : ''}>
          <summary class="row">
            <span class="dot" aria-hidden="true"></span>
            <span class="main"><strong>${esc(e.node_id)}</strong> <span class="muted">${esc(e.type || '')}</span>
              ${e.scope ? `<span class="muted">${esc(t('scope', { scope: e.scope }))}</span>` : ''}</span>
            <span class="side">${statusBadge(e.status, w, esc)}
              <span class="muted">${e.attempt > 1 ? esc(t('attempt', { n: e.attempt })) : ''} ${esc(duration(e.started_at, e.finished_at))}</span></span>
          </summary>
          <div class="io-box">
            ${part(t('input'), e.input, 'input')}
            ${part(t('output'), e.output, 'output')}
            ${part(t('error'), e.error, 'error err')}
          </div>
        </details></li>`;
    }).join('');
  }

  function render() { renderHead(); renderSteps(); }

  stepsEl.addEventListener('toggle', (e) => {
    const li = e.target.closest('.step');
    if (!li || !li.dataset.key) return;
    if (e.target.open) open.add(li.dataset.key); else open.delete(li.dataset.key);
  }, true);

  head.addEventListener('click', async (e) => {
    const b = e.target.closest('[data-action]');
    if (!b || !run) return;
    b.disabled = true;
    const op = b.dataset.action === 'cancel' ? 'cancel_run' : 'retry_run';
    const { error } = await ctx.sb.rpc(op, { run_id: runId });
    if (gone) return;
    if (error) { ctx.toast(error.message); b.disabled = false; }
  });

  async function loadRun() {
    const { data, error } = await ctx.sb.from('workflow_logs').select('*').eq('id', runId).limit(1);
    if (gone) return;
    if (error) { ctx.toast(error.message); return; }
    const row = data[0] || null;
    // A change that came in while this read was on its way may be newer.
    if (!row || !run || !newer(run, row)) run = row;
    if (run && (!bp || bp.id !== run.blueprint_id)) {
      const b = await ctx.sb.from('workflow_blueprints').select('id,name,version,nodes,edges').eq('id', run.blueprint_id).limit(1);
      if (gone) return;
      if (!b.error) bp = b.data[0] || null;
    }
    render();
  }

  const live = liveChannel(ctx, 'run', [{
    table: 'workflow_logs', filter: `id=eq.${runId}`,
    handler(p) {
      if (p.eventType === 'DELETE') run = null;
      else if (p.new && p.new.id === runId) {
        // Changes arrive in commit order: a later one always holds the
        // whole row as that commit left it.
        run = { ...(run || {}), ...p.new };
      }
      render();
    },
  }], {
    onState(state) {
      screen.dataset.live = state;
      liveLabel.textContent = t(state);
      liveLabel.className = `badge live-state${state === 'live' ? ' ok' : state === 'polling' ? ' warn' : ''}`;
    },
    reload: loadRun,
  });
  await loadRun();
  return () => { gone = true; live.close(); };
}
