// workflows.js - the owner's automations. Three routes, one module (app.js
// maps the first segment "workflows" here):
//   #/workflows               the Architect's prompt box (words -> a draft
//                             graph with its plain explanation), the
//                             workflows, and the latest runs, live
//   #/workflows/<id>          one workflow: its graph, rehearse, activate,
//                             run, its runs (wf_blueprint.js)
//   #/workflows/run/<run id>  one run, each step lighting up as it runs,
//                             with its input, output and error (wf_run.js)
// docs/workflows.md is the reference for the operations used here:
// rpc/draft_workflow, rehearse_workflow, activate_workflow,
// deactivate_workflow, run_workflow, cancel_run, retry_run.

import { drawGraph } from './wf_graph.js';
import { liveChannel } from './wf_live.js';
import { statusBadge, triggerText, WF_WORDS } from './wf_common.js';

const L = {
  en: {
    title: 'Workflows', architect: 'Describe a workflow', promptLabel: 'What should happen, and when?',
    placeholder: 'e.g. when an invoice is 3 days overdue, remind the customer; after 7, tell me',
    draft: 'Draft it', drafting: 'Drafting…', examples: 'Try:', question: 'The Architect asks',
    draftSaved: 'Saved as a draft: nothing runs until you activate it.', open: 'Open, rehearse and activate',
    list: 'Your workflows', none: 'No workflows yet. Describe one above.', runs: 'Latest runs', noRuns: 'No runs yet.',
    live: 'Live', polling: 'Updating every few seconds', connecting: 'Connecting…', empty: 'Write what the workflow should do.',
    source: 'drafted by {source}',
  },
  hi: {
    title: 'वर्कफ़्लो', architect: 'वर्कफ़्लो बताइए', promptLabel: 'क्या होना चाहिए, और कब?',
    placeholder: 'जैसे: बिल 3 दिन overdue हो तो ग्राहक को याद दिलाओ; 7 दिन बाद मुझे बताओ',
    draft: 'ड्राफ़्ट बनाओ', drafting: 'बन रहा है…', examples: 'आज़माएँ:', question: 'Architect पूछता है',
    draftSaved: 'ड्राफ़्ट के रूप में सहेजा: जब तक आप चालू नहीं करते, कुछ नहीं चलेगा।', open: 'खोलें, रिहर्सल करें, चालू करें',
    list: 'आपके वर्कफ़्लो', none: 'अभी कोई वर्कफ़्लो नहीं। ऊपर लिखकर बनाइए।', runs: 'हाल के रन', noRuns: 'अभी कोई रन नहीं।',
    live: 'लाइव', polling: 'हर कुछ सेकंड में ताज़ा', connecting: 'जुड़ रहा है…', empty: 'लिखिए कि वर्कफ़्लो क्या करे।',
    source: '{source} ने बनाया',
  },
};

const EXAMPLES = [
  'when a payment comes in, thank the customer',
  'roz raat 10 baje mujhe aaj ki bikri bhejo',
  'when an invoice is 3 days overdue, remind the customer; after 7, tell me',
  'जब माल कम हो जाए मुझे बताओ',
];

async function mountList(root, ctx) {
  const t = ctx.t(L);
  const w = ctx.t(WF_WORDS);
  const esc = ctx.esc;
  const bps = new Map();
  const runs = new Map();
  let gone = false;

  root.innerHTML = `
    <div class="workflows" data-screen="workflows" data-live="connecting">
      <div class="row wf-head"><h1>${esc(t('title'))}</h1>
        <span class="badge live-state" data-live-label>${esc(t('connecting'))}</span></div>
      <section class="card architect stack">
        <h2>${esc(t('architect'))}</h2>
        <form class="stack" data-architect>
          <label class="field"><span>${esc(t('promptLabel'))}</span>
            <textarea id="wf-prompt" name="prompt" rows="3" maxlength="2000" placeholder="${esc(t('placeholder'))}"></textarea></label>
          <div class="examples"><span class="muted">${esc(t('examples'))}</span>
            ${EXAMPLES.map((x) => `<button type="button" class="chip" data-example="${esc(x)}">${esc(x)}</button>`).join('')}</div>
          <div class="row"><button class="btn primary" type="submit" data-action="draft">${esc(t('draft'))}</button></div>
        </form>
        <div data-draft-result></div>
      </section>
      <section class="stack"><h2>${esc(t('list'))}</h2><div class="list" data-blueprints></div></section>
      <section class="stack"><h2>${esc(t('runs'))}</h2><div class="list" data-runs></div></section>
    </div>`;
  const screen = root.querySelector('[data-screen]');
  const form = root.querySelector('[data-architect]');
  const prompt = root.querySelector('#wf-prompt');
  const result = root.querySelector('[data-draft-result]');
  const bpEl = root.querySelector('[data-blueprints]');
  const runsEl = root.querySelector('[data-runs]');
  const liveLabel = root.querySelector('[data-live-label]');

  function renderBlueprints() {
    const rows = [...bps.values()].sort((a, b) => (a.updated_at < b.updated_at ? 1 : -1));
    bpEl.innerHTML = rows.length ? rows.map((b) => `
      <a class="item" data-id="${esc(b.id)}" href="#/workflows/${encodeURIComponent(b.id)}">
        <span class="main"><span class="name">${esc(b.name)}</span>
          <span class="muted">${esc(triggerText(b, w))}</span></span>
        <span class="side">${statusBadge(b.paused_reason ? 'paused' : b.is_active ? 'active' : 'draft', w, esc)}</span></a>`).join('')
      : `<p class="empty">${esc(t('none'))}</p>`;
  }

  function renderRuns() {
    const rows = [...runs.values()].sort((a, b) => (a.started_at < b.started_at ? 1 : -1)).slice(0, 20);
    runsEl.innerHTML = rows.length ? rows.map((r) => {
      const b = bps.get(r.blueprint_id);
      return `<a class="item" data-id="${esc(r.id)}" data-status="${esc(r.status)}" href="#/workflows/run/${encodeURIComponent(r.id)}">
        <span class="main"><span class="name">${esc(b ? b.name : r.blueprint_id)}</span>
          <span class="muted">${esc(ctx.time(r.started_at))}${r.error ? ` · ${esc(r.error)}` : ''}</span></span>
        <span class="side">${statusBadge(r.status, w, esc)}</span></a>`;
    }).join('') : `<p class="empty">${esc(t('noRuns'))}</p>`;
  }

  async function reload() {
    const [a, b] = await Promise.all([
      ctx.sb.from('workflow_blueprints')
        .select('id,name,is_active,trigger_kind,trigger_event,cron,timezone,paused_reason,version,updated_at')
        .order('updated_at', { ascending: false }).limit(200),
      ctx.sb.from('workflow_logs').select('id,blueprint_id,status,started_at,finished_at,error')
        .order('started_at', { ascending: false }).limit(20),
    ]);
    if (gone) return;
    if (a.error || b.error) { ctx.toast((a.error || b.error).message); return; }
    bps.clear();
    for (const x of a.data) bps.set(x.id, x);
    for (const x of b.data) runs.set(x.id, x);
    renderBlueprints();
    renderRuns();
  }

  function merge(map, render) {
    return (p) => {
      if (p.eventType === 'DELETE') { if (p.old && p.old.id) map.delete(p.old.id); } else if (p.new && p.new.id) {
        map.set(p.new.id, { ...(map.get(p.new.id) || {}), ...p.new });
      }
      render();
    };
  }

  function showDraft(d) {
    if (d.question) {
      result.innerHTML = `<div class="card question" data-question><strong>${esc(t('question'))}:</strong> ${esc(d.question)}</div>`;
      return;
    }
    result.innerHTML = `
      <div class="card draft stack" data-draft="${esc(d.id)}">
        <div class="row"><strong class="name">${esc(d.name)}</strong>${statusBadge('draft', w, esc)}
          <span class="muted">${esc(t('source', { source: d.source || 'rules' }))}</span></div>
        <p class="explanation" data-explanation>${esc(d.explanation || '')}</p>
        <div class="graph-box" data-graph></div>
        <p class="muted">${esc(t('draftSaved'))}</p>
        <div class="row"><a class="btn primary" data-action="open-draft" href="#/workflows/${encodeURIComponent(d.id)}">${esc(t('open'))}</a></div>
      </div>`;
    drawGraph(result.querySelector('[data-graph]'), d, { lang: ctx.lang });
  }

  form.addEventListener('click', (e) => {
    const x = e.target.closest('[data-example]');
    if (x) { prompt.value = x.dataset.example; prompt.focus(); }
  });
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const text = prompt.value.trim();
    if (!text) { ctx.toast(t('empty')); return; }
    const btn = form.querySelector('[data-action=draft]');
    btn.disabled = true;
    btn.textContent = t('drafting');
    try {
      const { data, error } = await ctx.sb.rpc('draft_workflow', { prompt: text });
      if (gone) return;
      if (error) { ctx.toast(error.message); return; }
      showDraft(data);
      if (data.id) await reload();
    } finally {
      btn.disabled = false;
      btn.textContent = t('draft');
    }
  });

  const live = liveChannel(ctx, 'workflows', [
    { table: 'workflow_blueprints', handler: merge(bps, () => { renderBlueprints(); renderRuns(); }) },
    { table: 'workflow_logs', handler: merge(runs, renderRuns) },
  ], {
    onState(state) {
      screen.dataset.live = state;
      liveLabel.textContent = t(state);
      liveLabel.className = `badge live-state${state === 'live' ? ' ok' : state === 'polling' ? ' warn' : ''}`;
    },
    reload,
  });
  await reload();
  return () => { gone = true; live.close(); };
}

export default {
  title: { en: 'Workflows', hi: 'वर्कफ़्लो' },

  async mount(root, ctx, args) {
    ctx.css('workflows');
    const a = args || [];
    if (a[0] === 'run' && a[1]) return (await import('./wf_run.js')).mountRun(root, ctx, a[1]);
    if (a[0]) return (await import('./wf_blueprint.js')).mountBlueprint(root, ctx, a[0]);
    return mountList(root, ctx);
  },
};
