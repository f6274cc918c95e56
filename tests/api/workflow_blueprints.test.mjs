// workflow_blueprints.test.mjs - blueprints written over REST are held to the
// rules of the workflow module (src/flow/bp_rest.c): an invalid graph is
// refused with the node and parameter at fault and nothing is written (a
// bulk insert included); the trigger's columns are derived; editing the
// graph makes a new version (and its workflow_versions row), editing
// anything else does not; setting is_active does what rpc/activate_workflow
// does (active_version, the webhook's URL); and another business can
// neither read nor activate the blueprint.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, describe, test } from 'node:test';

import {
  UUID_RE, expectPgError, randomUuid, rest, rows, signup,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const OBJ = { Accept: 'application/vnd.pgrst.object+json' };

const DB_URL = process.env.MUNSHI_DB || '';
/** One SQL statement on the suite's database; the first column of each row. */
function dbQuery(sql) {
  const out = DB_URL.startsWith('sqlite:')
    ? execFileSync('sqlite3', ['-cmd', '.timeout 10000', DB_URL.slice(7), sql], { encoding: 'utf8' })
    : execFileSync('psql', [DB_URL, '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}
const versionsOf = (id) => {
  assert.match(id, UUID_RE);
  return dbQuery(`SELECT version FROM workflow_versions WHERE blueprint_id = '${id}' ORDER BY version`).map(Number);
};

const remind = () => ({
  name: 'Remind unpaid after 3 days',
  nodes: [
    { id: 't', type: 'trigger', params: { event: 'invoice.issued' } },
    { id: 'w', type: 'wait', params: { for: '3d' } },
    { id: 'c', type: 'condition', params: { if: "invoice.status != 'paid'" } },
    { id: 's', type: 'send_message', params: { to: 'customer', text: 'Namaste {{ customer.full_name }}, invoice {{ invoice.invoice_number }} is due.' } },
  ],
  edges: [{ from: 't', to: 'w' }, { from: 'w', to: 'c' }, { from: 'c', to: 's', when: 'true' }],
});
const hook = (name = 'Hook') => ({
  name,
  nodes: [{ id: 'in', type: 'trigger', params: { webhook: true } }, { id: 'done', type: 'stop' }],
  edges: [{ from: 'in', to: 'done' }],
});

/** Asserts the answer is the blueprint error naming node and parameter. */
function expectGraphError(r, node, param) {
  expectPgError(r, 400, 'MU400');
  const want = node && param ? `node '${node}', parameter '${param}'`
    : node ? `node '${node}'` : `parameter '${param}'`;
  assert.equal(r.json.details, want, r.info);
  assert.ok(r.json.message.length > 10, r.info);
}

describe('workflow_blueprints over REST', () => {
  let A;
  let B;
  before(async () => {
    A = await signup();
    B = await signup();
  });

  test('an invalid graph is refused with its node and parameter, and nothing is written', async () => {
    const before1 = (await rows('workflow_blueprints', A.token, 'select=id')).length;
    const cases = [
      [{ name: 'x', nodes: [], edges: [] }, '', 'nodes'],
      [{ name: 'x', nodes: [{ id: 't', type: 'trigger', params: { event: 'invoice.eaten' } }] }, 't', 'event'],
      [{ name: 'x', nodes: [{ id: 't', type: 'trigger', params: { event: 'invoice.paid', manual: true } }] }, 't', ''],
      [{ name: 'x', nodes: [{ id: 't', type: 'trigger', params: { manual: true } }, { id: 'x', type: 'teleport' }], edges: [{ from: 't', to: 'x' }] }, 'x', 'type'],
      [{ ...remind(), edges: [{ from: 't', to: 'w' }, { from: 'w', to: 'c' }, { from: 'c', to: 's', when: 'maybe' }] }, 'c', 'edges[2].when'],
      [{ ...remind(), edges: [{ from: 't', to: 'w' }, { from: 'w', to: 'c' }, { from: 'c', to: 's', when: 'true' }, { from: 's', to: 'w' }] }, 'w', ''],
      [{ ...remind(), edges: [{ from: 't', to: 'w' }, { from: 'w', to: 'c' }] }, 's', ''],
      [{ ...remind(), edges: [{ from: 't', to: 'nowhere' }] }, 't', 'edges[0].to'],
    ];
    for (const [body, node, param] of cases) {
      const r = await rest('POST', 'workflow_blueprints', { token: A.token, headers: REP, body });
      if (node && !param) {
        expectPgError(r, 400, 'MU400');
        assert.match(r.json.details, new RegExp(`^node '${node}'`), r.info);
      } else {
        expectGraphError(r, node, param);
      }
    }
    // A bulk insert: one bad row refuses them all.
    const bulk = await rest('POST', 'workflow_blueprints', {
      token: A.token, body: [remind(), hook(), { name: 'bad', nodes: [{ id: 't', type: 'trigger' }] }],
    });
    expectGraphError(bulk, 't', 'event');
    const after1 = (await rows('workflow_blueprints', A.token, 'select=id')).length;
    assert.equal(after1, before1);
  });

  test('a valid graph is saved as a draft, version 1, with its trigger derived', async () => {
    const r = await rest('POST', 'workflow_blueprints', { token: A.token, headers: { ...REP, ...OBJ }, body: remind() });
    assert.equal(r.status, 201, r.info);
    const w = r.json;
    assert.equal(w.version, 1, r.info);
    assert.equal(w.is_active, false, r.info);
    assert.equal(w.active_version, null, r.info);
    assert.equal(w.trigger_kind, 'event', r.info);
    assert.equal(w.trigger_event, 'invoice.issued', r.info);
    assert.equal(w.webhook_url, null, r.info);
    assert.ok(!('webhook_token' in w), r.info);
    assert.deepEqual(versionsOf(w.id), [1]);
  });

  test('a bulk insert of valid graphs writes each with its version row', async () => {
    const r = await rest('POST', 'workflow_blueprints', { token: A.token, headers: REP, body: [remind(), hook('Bulk hook')] });
    assert.equal(r.status, 201, r.info);
    assert.equal(r.json.length, 2, r.info);
    assert.deepEqual(r.json.map((w) => w.trigger_kind), ['event', 'webhook'], r.info);
    for (const w of r.json) assert.deepEqual(versionsOf(w.id), [1]);
  });

  test('editing the graph makes a new version; editing anything else does not', async () => {
    const c = await rest('POST', 'workflow_blueprints', { token: A.token, headers: REP, body: remind() });
    assert.equal(c.status, 201, c.info);
    const id = c.json[0].id;
    const patch = (body) => rest('PATCH', `workflow_blueprints?id=eq.${id}`, { token: A.token, headers: { ...REP, ...OBJ }, body });

    let r = await patch({ description: 'chases money' });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.version, 1, r.info);

    const g = remind();
    g.nodes[1].params.for = '5d';
    r = await patch({ nodes: g.nodes });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.version, 2, r.info);
    assert.equal(r.json.nodes[1].params.for, '5d', r.info);
    assert.equal(r.json.active_version, null, r.info);

    // The same graph again (members in another order) is not a new version.
    const same = g.nodes.map((n) => Object.fromEntries(Object.entries(n).reverse()));
    r = await patch({ nodes: same, name: 'Remind after 5 days' });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.version, 2, r.info);
    assert.equal(r.json.name, 'Remind after 5 days', r.info);

    // An edit that breaks the merged graph is refused; the row is unchanged.
    r = await patch({ edges: [{ from: 't', to: 'w' }] });
    expectGraphError(r, 'c', '');
    r = await patch({ nodes: [{ id: 't', type: 'trigger', params: { event: 'invoice.paid' } }] });
    expectGraphError(r, 't', 'edges[0].to');
    const back = await rows('workflow_blueprints', A.token, `select=version,nodes,edges&id=eq.${id}`);
    assert.equal(back[0].version, 2);
    assert.equal(back[0].edges.length, 3);
    assert.deepEqual(versionsOf(id), [1, 2]);

    // Read-only columns stay read-only.
    r = await patch({ version: 9 });
    expectPgError(r, 400, 'MU001');
  });

  test('is_active over REST activates and deactivates as the rpc does', async () => {
    const c = await rest('POST', 'workflow_blueprints', { token: A.token, headers: REP, body: hook('Toggle') });
    assert.equal(c.status, 201, c.info);
    const id = c.json[0].id;
    assert.equal(c.json[0].webhook_url, null, c.info);
    const patch = (body) => rest('PATCH', `workflow_blueprints?id=eq.${id}`, { token: A.token, headers: { ...REP, ...OBJ }, body });

    let r = await patch({ is_active: true });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.is_active, true, r.info);
    assert.equal(r.json.active_version, 1, r.info);
    assert.match(r.json.webhook_url, /\/webhooks\/workflows\/[0-9a-f]{48}$/, r.info);
    const url = r.json.webhook_url;

    // An edit of an active blueprint: the new version runs at once; the URL stays.
    const g = hook('Toggle');
    g.nodes.splice(1, 0, { id: 'mid', type: 'set' });
    g.edges = [{ from: 'in', to: 'mid' }, { from: 'mid', to: 'done' }];
    r = await patch({ nodes: g.nodes, edges: g.edges });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.version, 2, r.info);
    assert.equal(r.json.active_version, 2, r.info);
    assert.equal(r.json.webhook_url, url, r.info);

    r = await patch({ is_active: false });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.is_active, false, r.info);
    assert.equal(r.json.webhook_url, url, 'a paused webhook keeps its URL');

    // The rpc and REST agree.
    r = await rest('POST', 'rpc/activate_workflow', { token: A.token, body: { id } });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.is_active, true, r.info);
    assert.equal(r.json.active_version, 2, r.info);
    assert.equal(r.json.webhook_url, url, r.info);
    r = await rest('POST', 'rpc/deactivate_workflow', { token: A.token, body: { id } });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.is_active, false, r.info);
    const back = await rows('workflow_blueprints', A.token, `select=is_active,active_version&id=eq.${id}`);
    assert.deepEqual(back, [{ is_active: false, active_version: 2 }]);
  });

  test('POST with is_active true makes an active blueprint at once', async () => {
    const r = await rest('POST', 'workflow_blueprints', { token: A.token, headers: { ...REP, ...OBJ }, body: { ...remind(), is_active: true } });
    assert.equal(r.status, 201, r.info);
    assert.equal(r.json.is_active, true, r.info);
    assert.equal(r.json.active_version, 1, r.info);
    assert.equal(r.json.trigger_kind, 'event', r.info);
  });

  test('a cron blueprint: schedule and zone checked, next_run_at set while active', async () => {
    const cron = (params) => ({
      name: 'Sales at 9 pm',
      nodes: [{ id: 't', type: 'trigger', params }, { id: 'end', type: 'stop' }],
      edges: [{ from: 't', to: 'end' }],
    });
    expectGraphError(await rest('POST', 'workflow_blueprints', { token: A.token, body: cron({ cron: '61 * * * *' }) }), 't', 'cron');
    expectGraphError(await rest('POST', 'workflow_blueprints', { token: A.token, body: cron({ cron: '0 21 * * *', timezone: 'Mars/Olympus' }) }), 't', 'timezone');
    // A schedule that never fires (30 February) is refused too.
    expectGraphError(await rest('POST', 'workflow_blueprints', { token: A.token, body: cron({ cron: '0 0 30 2 *' }) }), 't', 'cron');

    const t0 = Date.now();
    const r = await rest('POST', 'workflow_blueprints', { token: A.token, headers: { ...REP, ...OBJ }, body: { ...cron({ cron: '0 21 * * *' }), is_active: true } });
    assert.equal(r.status, 201, r.info);
    assert.equal(r.json.trigger_kind, 'cron', r.info);
    assert.equal(r.json.cron, '0 21 * * *', r.info);
    assert.equal(r.json.timezone, 'Asia/Kolkata', r.info);
    const next = Date.parse(r.json.next_run_at);
    assert.ok(next > t0 && next <= t0 + 86400e3, r.info);
    // 21:00 in India is 15:30 UTC.
    assert.equal(new Date(next).toISOString().slice(11, 16), '15:30', r.info);
    const off = await rest('PATCH', `workflow_blueprints?id=eq.${r.json.id}`, { token: A.token, headers: { ...REP, ...OBJ }, body: { is_active: false } });
    assert.equal(off.status, 200, off.info);
    assert.equal(off.json.next_run_at, null, off.info);
  });

  test('rpc/activate_workflow: bad and unknown ids', async () => {
    expectPgError(await rest('POST', 'rpc/activate_workflow', { token: A.token, body: {} }), 400, 'MU400');
    expectPgError(await rest('POST', 'rpc/activate_workflow', { token: A.token, body: { id: 'nope' } }), 400, 'MU400');
    expectPgError(await rest('POST', 'rpc/activate_workflow', { token: A.token, body: { id: randomUuid() } }), 404, 'MU404');
  });

  test('another business can neither read, change nor activate the blueprint', async () => {
    const c = await rest('POST', 'workflow_blueprints', { token: A.token, headers: REP, body: hook('Mine') });
    assert.equal(c.status, 201, c.info);
    const id = c.json[0].id;
    assert.deepEqual(await rows('workflow_blueprints', B.token, `select=id&id=eq.${id}`), []);
    const p = await rest('PATCH', `workflow_blueprints?id=eq.${id}`, { token: B.token, headers: REP, body: { is_active: true } });
    assert.equal(p.status, 200, p.info);
    assert.deepEqual(p.json, [], p.info);
    const a = await rest('POST', 'rpc/activate_workflow', { token: B.token, body: { id } });
    expectPgError(a, 404, 'MU404');
    const back = await rows('workflow_blueprints', A.token, `select=is_active,webhook_url&id=eq.${id}`);
    assert.deepEqual(back, [{ is_active: false, webhook_url: null }]);
  });
});
