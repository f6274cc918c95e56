// workflow_runs.test.mjs - workflow runs end to end over HTTP (docs/workflows.md,
// "Runs"): a blueprint written over REST and activated; a business event
// (a customer created over REST) starts a run; every step shows in
// workflow_logs.step_results with its start and end; send_message reaches
// the WhatsApp fake once. Also run_workflow (active only), cancel_run of a
// waiting run, and the webhook trigger (202, Idempotency-Key, bare 404).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { Shop, eventually, randomWaId, startFakes } from './chat_lib.mjs';
import { UUID_RE, httpRaw } from './lib.mjs';

const REP = { Prefer: 'return=representation' };

/** Saves a blueprint over REST and activates it; resolves its row. */
async function activeBlueprint(shop, bp) {
  const c = await shop.rest('POST', 'workflow_blueprints', { body: bp, headers: REP });
  assert.equal(c.status, 201, c.info);
  const id = c.json[0].id;
  const a = await shop.rpc('activate_workflow', { id });
  assert.equal(a.status, 200, a.info);
  return (await shop.get(`workflow_blueprints?id=eq.${id}&select=*`))[0];
}

async function runsOf(shop, bpId) {
  return shop.get(`workflow_logs?blueprint_id=eq.${bpId}&select=*&order=started_at`);
}

async function finishedRun(shop, runId, timeoutMs = 15000) {
  return eventually(async () => {
    const [r] = await shop.get(`workflow_logs?id=eq.${runId}&select=*`);
    return r && !['running', 'waiting'].includes(r.status) ? r : null;
  }, `run ${runId} to end`, timeoutMs);
}

describe('workflow runs', () => {
  let fakes;
  let shop;

  before(async () => {
    fakes = await startFakes();
    shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg, telegram: false });
  });
  after(async () => { await fakes.close(); });

  test('an event starts a run; every step is logged; the message reaches WhatsApp once', async () => {
    const bp = await activeBlueprint(shop, {
      name: 'Welcome',
      nodes: [
        { id: 't', type: 'trigger', params: { event: 'customer.created' } },
        { id: 'c', type: 'condition', params: { if: "customer.full_name != ''" } },
        { id: 's', type: 'send_message', params: { to: 'customer', text: 'Namaste {{ customer.full_name }}, welcome!',
          // the customer never wrote: WhatsApp's window is closed
          template: { name: 'payment_reminder', language: 'en', params: ['{{ customer.full_name }}', 'welcome'] } } },
      ],
      edges: [{ from: 't', to: 'c' }, { from: 'c', to: 's', when: 'true' }],
    });
    assert.equal(bp.is_active, true);
    const waId = randomWaId();
    const cu = await shop.rest('POST', 'customers', { body: { full_name: 'Asha Verma', phone_number: `+${waId}` }, headers: REP });
    assert.equal(cu.status, 201, cu.info);
    const run = await eventually(async () => (await runsOf(shop, bp.id))[0], 'the run', 15000);
    assert.equal(run.trigger_kind, 'event');
    assert.match(run.trigger_key, /^event:/);
    assert.equal(run.input.entity_id, cu.json[0].id);
    assert.equal(run.input.event_type, 'customer.created');
    const done = await finishedRun(shop, run.id);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.ok(done.finished_at);
    assert.deepEqual(done.step_results.map((s) => s.node_id), ['t', 'c', 's']);
    for (const s of done.step_results) {
      assert.equal(s.status, 'completed', JSON.stringify(s));
      assert.ok(s.started_at && s.finished_at, JSON.stringify(s));
      assert.equal(s.attempt, 1);
      assert.equal(s.error, null);
    }
    assert.equal(done.step_results[2].type, 'send_message');
    await fakes.wa.waitSends(() => fakes.wa.sendsTo(waId).length >= 1, 15000, 'the welcome message');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(fakes.wa.sendsTo(waId).length, 1, 'sent once');
    // the same event again changes nothing: one run per event
    assert.equal((await runsOf(shop, bp.id)).length, 1);
  });

  test('run_workflow runs an active workflow and refuses a draft; cancel_run stops a waiting run', async () => {
    const draft = await shop.rest('POST', 'workflow_blueprints', {
      body: {
        name: 'Later',
        nodes: [{ id: 't', type: 'trigger', params: { manual: true } }, { id: 'w', type: 'wait', params: { for: '1h' } }, { id: 'x', type: 'stop' }],
        edges: [{ from: 't', to: 'w' }, { from: 'w', to: 'x' }],
      },
      headers: REP,
    });
    assert.equal(draft.status, 201, draft.info);
    const id = draft.json[0].id;
    let r = await shop.rpc('run_workflow', { id, input: { n: 1 } });
    assert.equal(r.status, 409, r.info);
    assert.match(r.json.message, /not active/);
    assert.equal((await runsOf(shop, id)).length, 0);
    assert.equal((await shop.rpc('activate_workflow', { id })).status, 200);
    r = await shop.rpc('run_workflow', { id, input: 'nope' });
    assert.equal(r.status, 400, r.info);
    r = await shop.rpc('run_workflow', { id, input: { n: 1 } });
    assert.equal(r.status, 200, r.info);
    const runId = r.json.run_id;
    assert.match(runId, UUID_RE);
    const waiting = await eventually(async () => {
      const [x] = await shop.get(`workflow_logs?id=eq.${runId}&select=*`);
      return x.status === 'waiting' ? x : null;
    }, 'the run to wait');
    assert.equal(waiting.trigger_kind, 'manual');
    assert.deepEqual(waiting.input, { n: 1 });
    assert.equal(waiting.step_results[1].status, 'waiting');
    r = await shop.rpc('cancel_run', { run_id: runId });
    assert.equal(r.status, 200, r.info);
    const [c] = await shop.get(`workflow_logs?id=eq.${runId}&select=*`);
    assert.equal(c.status, 'cancelled');
    r = await shop.rpc('cancel_run', { run_id: runId });
    assert.equal(r.status, 409, r.info);
    r = await shop.rpc('retry_run', { run_id: runId, from_step: 'x' });
    assert.equal(r.status, 200, r.info);
    const again = await finishedRun(shop, runId);
    assert.equal(again.status, 'completed', JSON.stringify(again));
    assert.equal(again.step_results.at(-1).node_id, 'x');
  });

  // Found by review: a run's row had no byte cap, so large outputs of every
  // for_each item made a row REST refused (413). Now entries, the context
  // and step_results are capped and the run reads back.
  test('a run with large outputs per for_each item stays readable over REST', async () => {
    for (let i = 0; i < 20; i++) {
      const cu = await shop.rest('POST', 'customers', { body: { full_name: `Big ${String(i).padStart(2, '0')}` } });
      assert.equal(cu.status, 201, cu.info);
    }
    const bp = await activeBlueprint(shop, {
      name: 'Big outputs',
      nodes: [
        { id: 't', type: 'trigger', params: { manual: true } },
        { id: 'f', type: 'for_each', params: { over: 'customers' } },
        { id: 'v', type: 'set', params: { values: { copy: 'trigger.blob', who: 'item.full_name' } } },
      ],
      edges: [{ from: 't', to: 'f' }, { from: 'f', to: 'v' }],
    });
    // a 60 kB value each item copies, and 800 kB more of input
    const input = { blob: 'b'.repeat(60000), pad: 'p'.repeat(800000) };
    const r = await shop.rpc('run_workflow', { id: bp.id, input });
    assert.equal(r.status, 200, r.info);
    const done = await finishedRun(shop, r.json.run_id, 30000);
    assert.equal(done.status, 'completed', done.error);
    const size = JSON.stringify(done).length;
    assert.ok(size < 2 * 1024 * 1024, `row of ${size} bytes`);
    const trig = done.step_results[0];
    assert.equal(trig.output.truncated, true);
    assert.ok(trig.output.bytes > 860000);
    assert.ok(trig.output.preview.length <= 1024);
    assert.equal(done.context.nodes.t.truncated, true);
    const sets = done.step_results.filter((e) => e.node_id === 'v');
    assert.ok(sets.length >= 20, `${sets.length} set entries`);
    for (const e of sets) {
      assert.equal(e.status, 'completed', JSON.stringify(e).slice(0, 300));
      assert.equal(e.output.truncated, true);
      assert.ok(e.output.bytes > 60000);
    }
  });

  test('a webhook starts a run: 202, once per Idempotency-Key, unknown tokens get a bare 404', async () => {
    const bp = await activeBlueprint(shop, {
      name: 'Hook',
      nodes: [{ id: 'in', type: 'trigger', params: { webhook: true } }, { id: 'v', type: 'set', params: { values: { order: 'trigger.order' } } }],
      edges: [{ from: 'in', to: 'v' }],
    });
    assert.ok(bp.webhook_url, JSON.stringify(bp));
    const path = new URL(bp.webhook_url, 'http://x').pathname;
    const post = (p, body, headers = {}) => httpRaw({
      method: 'POST', path: p, origin: shop.origin, body: JSON.stringify(body),
      headers: { 'Content-Type': 'application/json', ...headers },
    });
    let r = await post(path, { order: 7 });
    assert.equal(r.status, 202, r.info);
    const runId = r.json.run_id;
    const done = await finishedRun(shop, runId);
    assert.equal(done.status, 'completed', JSON.stringify(done));
    assert.equal(done.trigger_kind, 'webhook');
    assert.deepEqual(done.input, { order: 7 });
    const a = await post(path, {}, { 'Idempotency-Key': 'delivery-1' });
    const b = await post(path, {}, { 'Idempotency-Key': 'delivery-1' });
    assert.equal(a.status, 202);
    assert.equal(b.status, 202);
    assert.equal(a.json.run_id, b.json.run_id);
    r = await post(`/webhooks/workflows/${'0'.repeat(48)}`, {});
    assert.equal(r.status, 404);
    assert.doesNotMatch(r.text, /workflow_blueprints|token/);
    r = await post(path, [1, 2]);
    assert.equal(r.status, 400);
  });
});
