// workflow_architect.test.mjs - the Architect over HTTP, on the suite's
// database (run.sh runs this file on SQLite and on PostgreSQL):
//  - rpc/draft_workflow {prompt}: a checked draft saved inactive with the
//    prompt and the explanation; a question for an ambiguous prompt, saving
//    nothing; bad arguments refused with PostgREST's error shape;
//  - the LLM path, on a server of our own pointed at tests/fakes/llm.mjs:
//    the model's graph used (source "llm"), repaired when the repair is
//    simple, refused when it does not validate (the offline draft instead,
//    source "rules", llm_error), a question from the model, a model down;
//  - rpc/rehearse_workflow {id, last_n}: the last N matching events replayed
//    with what would be sent to whom, and nothing written;
//  - the shipment notifications (picked up, out for delivery, delivered):
//    drafted in English and Hindi as a switch on the event's status.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { FakeLLM } from '../fakes/llm.mjs';
import { FakeShiprocket, scan, webhookPayload } from '../fakes/shiprocket.mjs';
import { freshDatabase, startMunshi } from './chat_lib.mjs';
import { countAll, expectPgError, httpRaw, randomUuid, rest, rows, signup } from './lib.mjs';

function rpc(token, name, args, origin) {
  return rest('POST', `rpc/${name}`, { token, body: args, origin });
}

async function names(token, origin) {
  const r = await rest('GET', 'workflow_blueprints?select=id,name', { token, origin });
  assert.equal(r.status, 200, r.info);
  return r.json;
}

async function blueprint(token, id, origin) {
  const r = await rest('GET', `workflow_blueprints?id=eq.${id}&select=*`, { token, origin });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.json.length, 1, r.info);
  return r.json[0];
}

describe('rpc/draft_workflow', () => {
  let owner;
  before(async () => {
    owner = await signup();
  });

  test('English: the reminder with escalation, saved inactive with the prompt and the explanation', async () => {
    const prompt = 'when an invoice is 3 days overdue, remind the customer; after 7, tell me';
    const r = await rpc(owner.token, 'draft_workflow', { prompt });
    assert.equal(r.status, 200, r.info);
    const d = r.json;
    assert.match(d.id, /^[0-9a-f-]{36}$/);
    assert.equal(d.source, 'rules');
    assert.equal(d.is_active, false);
    assert.deepEqual(d.nodes.map((n) => n.type),
      ['trigger', 'wait', 'condition', 'send_message', 'wait', 'condition', 'send_message']);
    assert.equal(d.nodes[0].params.event, 'invoice.issued');
    // overdue: counted from the due date (the invoice's date when it has none)
    assert.equal(d.nodes[1].params.until, 'date(coalesce(invoice.due_date, invoice.invoice_date)) + 3d');
    assert.equal(d.nodes[4].params.until, 'date(coalesce(invoice.due_date, invoice.invoice_date)) + 7d');
    assert.equal(d.nodes[3].params.to, 'customer');
    assert.equal(d.nodes[6].params.to, 'owner');
    assert.match(d.nodes[3].params.text, /\{\{ invoice\.invoice_number \}\}/);
    assert.equal(d.edges.length, 6);
    assert.deepEqual(d.edges[2], { from: 'check', to: 'send', when: 'true' });
    assert.match(d.explanation, /wait until 3 days after the invoice's due date/);
    assert.match(d.explanation, /nothing runs until you activate it/);

    const row = await blueprint(owner.token, d.id);
    assert.equal(row.is_active, false);
    assert.equal(row.prompt, prompt);
    assert.equal(row.explanation, d.explanation);
    assert.equal(row.name, d.name);
    assert.deepEqual(row.nodes, d.nodes);
    assert.deepEqual(row.edges, d.edges);
    assert.equal(row.trigger_event, 'invoice.issued');
  });

  test('Hinglish: the daily sales at 10 pm, to the owner, a cron in Asia/Kolkata', async () => {
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'roz raat 10 baje mujhe aaj ki bikri bhejo' });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json.nodes[0].params, { cron: '0 22 * * *', timezone: 'Asia/Kolkata' });
    assert.equal(r.json.nodes[1].params.to, 'owner');
    assert.match(r.json.nodes[1].params.text, /sales_summary\('today'\)/);
    const row = await blueprint(owner.token, r.json.id);
    assert.equal(row.is_active, false);
    assert.equal(row.trigger_kind, 'cron');
  });

  test('an amount in lakh becomes exact rupees in the condition', async () => {
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'agar 1.5 lakh se zyada ka bill bane to mujhe batao' });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.nodes[1].params.if, 'invoice.total_amount > 150000');
  });

  test('an ambiguous prompt gets a question and saves nothing', async () => {
    const before0 = (await rows('workflow_blueprints', owner.token, 'select=id')).length;
    for (const prompt of ['remind them', 'yaad dilao', 'hello']) {
      const r = await rpc(owner.token, 'draft_workflow', { prompt });
      assert.equal(r.status, 200, r.info);
      assert.equal(typeof r.json.question, 'string', r.info);
      assert.ok(r.json.question.length > 10);
      assert.equal(r.json.id, undefined);
    }
    assert.equal((await rows('workflow_blueprints', owner.token, 'select=id')).length, before0);
  });

  test('bad arguments: PostgREST-shaped errors, nothing saved', async () => {
    const n0 = await countAll('workflow_blueprints');
    expectPgError(await rpc(owner.token, 'draft_workflow', {}), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'draft_workflow', { prompt: 42 }), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'draft_workflow', { prompt: '   ' }), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'draft_workflow', { prompt: 'x'.repeat(2001) }), 400, 'MU400');
    const anon = await rest('POST', 'rpc/draft_workflow', { body: { prompt: 'send me today\'s sales at 9 pm' } });
    assert.equal(anon.status, 401, anon.info);
    const get = await rest('GET', 'rpc/draft_workflow', { token: owner.token });
    assert.ok(get.status === 405 || get.status === 404, get.info);
    assert.equal(await countAll('workflow_blueprints'), n0);
  });
});

describe('rpc/rehearse_workflow', () => {
  let owner;
  before(async () => {
    owner = await signup();
  });

  test('replays the last payments: what would be sent to whom, nothing written', async () => {
    const c = await rest('POST', 'customers', {
      token: owner.token, headers: { Prefer: 'return=representation' },
      body: { full_name: 'Asha Verma', phone_number: `+9198${String(Date.now()).slice(-8)}` },
    });
    assert.equal(c.status, 201, c.info);
    const cid = c.json[0].id;
    for (const amount of ['500.00', '1250.50', '75.25']) {
      const p = await rpc(owner.token, 'record_payment', { customer_id: cid, amount_received: amount, payment_mode: 'upi' });
      assert.equal(p.status, 200, p.info);
    }
    const d = await rpc(owner.token, 'draft_workflow', { prompt: 'when a payment comes, thank the customer' });
    assert.equal(d.status, 200, d.info);

    // (events is left out: the outbox purge may delete consumed events meanwhile)
    const tables = ['workflow_logs', 'workflow_blueprints', 'unified_messages', 'sessions', 'payments', 'invoices', 'customers', 'products'];
    const counts = async () => Object.fromEntries(await Promise.all(tables.map(async (x) => [x, await countAll(x)])));
    const bp0 = await blueprint(owner.token, d.json.id);
    const c0 = await counts();

    const r = await rpc(owner.token, 'rehearse_workflow', { id: d.json.id, last_n: 2 });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.trigger, 'event');
    assert.equal(r.json.event, 'payment.received');
    assert.equal(r.json.found, 2, 'the last two of three payments');
    assert.deepEqual(await counts(), c0, 'a rehearsal writes nothing');
    const [first, second] = r.json.rehearsals;
    assert.equal(first.trigger.event_type, 'payment.received');
    assert.equal(first.trigger.amount_received, 1250.5);
    assert.equal(second.trigger.amount_received, 75.25);
    for (const one of r.json.rehearsals) {
      assert.deepEqual(one.steps.map((s) => s.node_id), ['trigger', 'send'], JSON.stringify(one));
      assert.equal(one.outcome, 'completed', JSON.stringify(one));
      assert.equal(one.would.length, 1, JSON.stringify(one));
      assert.match(one.would[0], /^would send ".*Asha Verma/, one.would[0]);
    }
    assert.match(first.would[0], /1,?250\.50/);

    assert.deepEqual(await counts(), c0, 'a rehearsal writes nothing');
    const bp1 = await blueprint(owner.token, d.json.id);
    assert.equal(bp1.updated_at, bp0.updated_at);
    assert.equal(bp1.is_active, false);
  });

  test('waits reported, not waited; the customer and then the owner; a for_each over the real debtors', async () => {
    const phone = `+9197${String(Date.now()).slice(-8)}`;
    const pr = await rest('PATCH', `profiles?id=eq.${owner.userId}`, {
      token: owner.token, body: { state_code: '29', owner_phone: '+919800000001' },
    });
    assert.ok(pr.status === 204 || pr.status === 200, pr.info);
    const c = await rest('POST', 'customers', {
      token: owner.token, headers: { Prefer: 'return=representation' },
      body: { full_name: 'Bala Kumar', phone_number: phone, state_code: '29' },
    });
    assert.equal(c.status, 201, c.info);
    const p = await rest('POST', 'products', {
      token: owner.token, headers: { Prefer: 'return=representation' },
      body: { name: 'Atta 10kg', base_price: '450.00', gst_rate: 0, current_stock: 100 },
    });
    assert.equal(p.status, 201, p.info);
    const inv = await rpc(owner.token, 'create_invoice', { customer_id: c.json[0].id, items: [{ product_id: p.json[0].id, quantity: 2 }] });
    assert.equal(inv.status, 200, inv.info);
    assert.equal(inv.json.status, 'pending', 'issued at once');
    const number = inv.json.invoice_number;

    const d = await rpc(owner.token, 'draft_workflow', { prompt: 'when an invoice is 3 days overdue, remind the customer; after 7, tell me' });
    assert.equal(d.status, 200, d.info);
    const r = await rpc(owner.token, 'rehearse_workflow', { id: d.json.id, last_n: 1 });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.found, 1);
    const one = r.json.rehearsals[0];
    assert.equal(one.source.event_type, 'invoice.issued');
    assert.deepEqual(one.steps.map((x) => [x.node_id, x.status]), [
      ['trigger', 'completed'], ['wait', 'would_wait'], ['check', 'completed'], ['send', 'completed'],
      ['wait_2', 'would_wait'], ['check_2', 'completed'], ['send_2', 'completed'],
    ], JSON.stringify(one));
    // no due date: 3 and 7 days after the invoice's date, midnight in India
    assert.match(one.steps[1].would, /^would wait until \d\d \w{3} \d{4}, 12:00 AM$/, one.steps[1].would);
    assert.match(one.steps[4].would, /^would wait until \d\d \w{3} \d{4}, 12:00 AM$/, one.steps[4].would);
    assert.notEqual(one.steps[1].would, one.steps[4].would);
    assert.equal(one.steps[2].branch, 'true', 'the invoice is unpaid');
    assert.equal(one.would.length, 2);
    assert.match(one.would[0], new RegExp(`^would send "Namaste Bala Kumar, .*${number.replace(/\//g, '\\/')}.*900\\.00.*" to Bala Kumar \\(\\${phone}\\)$`), one.would[0]);
    assert.match(one.would[1], /still unpaid 7 days after its due date.*" to the owner \(\+919800000001\)$/, one.would[1]);

    const m = await rpc(owner.token, 'draft_workflow', { prompt: 'when I click, remind everyone who owes money' });
    assert.equal(m.status, 200, m.info);
    assert.deepEqual(m.json.nodes.map((x) => x.type), ['trigger', 'for_each', 'send_message']);
    assert.equal(m.json.nodes[0].params.manual, true);
    const before0 = await countAll('unified_messages');
    const rm = await rpc(owner.token, 'rehearse_workflow', { id: m.json.id });
    assert.equal(rm.status, 200, rm.info);
    assert.equal(rm.json.trigger, 'manual');
    assert.equal(rm.json.found, 1, 'never run: once with an empty input');
    const mr = rm.json.rehearsals[0];
    assert.equal(mr.steps[1].items, 1, JSON.stringify(mr));
    assert.equal(mr.steps[2].scope, 'each#0');
    assert.match(mr.would[0], /^would send "Namaste Bala Kumar, ₹900\.00 is due .*" to Bala Kumar/, mr.would[0]);
    assert.equal(await countAll('unified_messages'), before0);
  });

  test('a workflow with nothing to replay yet answers so', async () => {
    const d = await rpc(owner.token, 'draft_workflow', { prompt: 'tell me when an invoice is cancelled' });
    assert.equal(d.status, 200, d.info);
    const r = await rpc(owner.token, 'rehearse_workflow', { id: d.json.id });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.found, 0);
    assert.deepEqual(r.json.rehearsals, []);
  });

  test('bad arguments and other businesses\' workflows', async () => {
    expectPgError(await rpc(owner.token, 'rehearse_workflow', {}), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'rehearse_workflow', { id: randomUuid(), last_n: 0 }), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'rehearse_workflow', { id: randomUuid(), last_n: 51 }), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'rehearse_workflow', { id: randomUuid(), last_n: 2.5 }), 400, 'MU400');
    expectPgError(await rpc(owner.token, 'rehearse_workflow', { id: randomUuid() }), 404, 'MU404');
    const d = await rpc(owner.token, 'draft_workflow', { prompt: 'welcome every new customer' });
    assert.equal(d.status, 200, d.info);
    const other = await signup();
    expectPgError(await rpc(other.token, 'rehearse_workflow', { id: d.json.id }), 404, 'MU404');
  });
});

describe('rpc/draft_workflow with an LLM (tests/fakes/llm.mjs)', () => {
  let db;
  let srv;
  let llm;
  let owner;
  const good = {
    name: 'Thank big payers',
    nodes: [
      { id: 'start', type: 'trigger', params: { event: 'payment.received' } },
      { id: 'big', type: 'condition', params: { if: 'payment.amount_received > 10000' } },
      { id: 'thank', type: 'send_message', params: { to: 'customer', text: 'Thank you {{ customer.full_name }}!' } },
    ],
    edges: [{ from: 'start', to: 'big' }, { from: 'big', to: 'thank', when: 'true' }],
  };

  before(async () => {
    llm = new FakeLLM({ key: 'sk-arch', model: 'arch-model' });
    await llm.listen();
    db = freshDatabase();
    srv = await startMunshi(db.url, {
      MUNSHI_LLM_URL: llm.url, MUNSHI_LLM_KEY: 'sk-arch', MUNSHI_LLM_MODEL: 'arch-model', MUNSHI_LLM_TIMEOUT_MS: '3000',
    });
    owner = await signup({ origin: srv.origin });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
    if (llm) await llm.close();
  });

  test('the model\'s graph, checked and saved: source "llm"; the request offers the two tools', async () => {
    llm.script.push({ call: { name: 'draft_workflow', arguments: good } });
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'thank customers who pay more than 10000' }, srv.origin);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.source, 'llm');
    assert.deepEqual(r.json.nodes, good.nodes);
    assert.deepEqual(r.json.edges, good.edges);
    assert.match(r.json.explanation, /When a payment is received, if the payment is above ₹10000, send the customer/);
    const call = llm.calls[llm.calls.length - 1];
    assert.equal(call.headers.authorization, 'Bearer sk-arch');
    assert.equal(call.body.model, 'arch-model');
    assert.deepEqual(call.body.tools.map((x) => x.function.name), ['draft_workflow', 'ask_question']);
    assert.equal(call.body.messages[1].content, 'thank customers who pay more than 10000');
    const row = await blueprint(owner.token, r.json.id, srv.origin);
    assert.equal(row.is_active, false);
    assert.deepEqual(row.nodes, good.nodes);
  });

  test('simple faults are repaired: no edges, an event spelled otherwise', async () => {
    const linear = {
      name: 'Remind',
      nodes: [
        { id: 't', type: 'trigger', params: { event: 'invoice_overdue' } },
        { id: 'w', type: 'delay', params: { for: '3d' } },
        { id: 's', type: 'send_message', params: { to: 'customer', text: 'Please pay {{ invoice.balance_due }}' } },
      ],
    };
    llm.script.push({ call: { name: 'draft_workflow', arguments: linear } });
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'remind after 3 days' }, srv.origin);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.source, 'llm');
    assert.equal(r.json.nodes[0].params.event, 'invoice.issued');
    assert.equal(r.json.nodes[1].type, 'wait');
    assert.deepEqual(r.json.edges, [{ from: 't', to: 'w' }, { from: 'w', to: 's' }]);
    assert.match(r.json.repairs, /chained/);
  });

  test('an invalid graph from the model is refused and never saved: the offline draft instead', async () => {
    const cyclic = {
      name: 'Loop',
      nodes: [
        { id: 'a', type: 'trigger', params: { event: 'payment.received' } },
        { id: 'b', type: 'teleport', params: {} },
      ],
      edges: [{ from: 'a', to: 'b' }, { from: 'b', to: 'a' }],
    };
    const before0 = await names(owner.token, srv.origin);
    llm.script.push({ call: { name: 'draft_workflow', arguments: cyclic } });
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'jab bhi payment aaye customer ko dhanyavaad bhejo' }, srv.origin);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.source, 'rules');
    assert.match(r.json.llm_error, /refused/);
    assert.deepEqual(r.json.nodes.map((n) => n.type), ['trigger', 'send_message']);
    assert.equal(r.json.nodes[0].params.event, 'payment.received');
    const after0 = await names(owner.token, srv.origin);
    assert.equal(after0.length, before0.length + 1);
    assert.ok(!after0.some((x) => x.name === 'Loop'), 'the invalid graph was not saved');
  });

  test('the model asks a question; a model that is down falls back to the rules', async () => {
    llm.script.push({ call: { name: 'ask_question', arguments: { question: 'Remind whom, and when?' } } });
    const q = await rpc(owner.token, 'draft_workflow', { prompt: 'remind them' }, srv.origin);
    assert.equal(q.status, 200, q.info);
    assert.deepEqual(q.json, { question: 'Remind whom, and when?', source: 'llm' });
    llm.script.push({ status: 500 });
    const r = await rpc(owner.token, 'draft_workflow', { prompt: 'send me today\'s sales at 9 pm' }, srv.origin);
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.source, 'rules');
    assert.match(r.json.llm_error, /HTTP 500/);
    assert.equal(r.json.nodes[0].params.cron, '0 21 * * *');
  });
});

describe('the shipment notifications', () => {
  let owner;
  before(async () => {
    owner = await signup();
  });

  // trigger(shipment.updated) > switch(trigger.status) > a send per stage.
  async function checkStages(d) {
    assert.equal(d.is_active, false);
    assert.equal((await blueprint(owner.token, d.id)).trigger_event, 'shipment.updated');
    assert.deepEqual(d.nodes.map((n) => n.type), ['trigger', 'switch', 'send_message', 'send_message', 'send_message']);
    assert.equal(d.nodes[0].params.event, 'shipment.updated');
    assert.equal(d.nodes[1].params.on, 'trigger.status');
    assert.deepEqual(d.nodes[1].params.cases,
      { picked_up: 'picked_up', out_for_delivery: 'out_for_delivery', delivered: 'delivered' });
    assert.deepEqual(d.edges.slice(1).map((e) => [e.from, e.when]),
      [['status', 'picked_up'], ['status', 'out_for_delivery'], ['status', 'delivered']]);
    for (const n of d.nodes.slice(2)) {
      assert.equal(n.params.to, 'customer');
      assert.match(n.params.text, /\{\{ trigger\.awb_number \}\}/);
      assert.doesNotMatch(n.params.text, /shipment\./, 'the event, never the row read later');
      assert.match(n.params.template.name, /^shipment_(picked_up|out_for_delivery|delivered)$/);
    }
  }

  test('English: the draft branches on the event payload\'s status', async () => {
    const r = await rpc(owner.token, 'draft_workflow', {
      prompt: 'tell the customer on WhatsApp when the shipment is picked up, out for delivery and delivered',
    });
    assert.equal(r.status, 200, r.info);
    await checkStages(r.json);
    assert.match(r.json.explanation, /the shipment is out for delivery/);
  });

  test('Hindi: the same graph, Hindi texts', async () => {
    const r = await rpc(owner.token, 'draft_workflow', {
      prompt: 'जब शिपमेंट पिकअप हो, डिलीवरी के लिए निकले और डिलीवर हो जाए तो ग्राहक को WhatsApp पर बताओ',
    });
    assert.equal(r.status, 200, r.info);
    await checkStages(r.json);
    assert.match(r.json.nodes[4].params.text, /पहुंच गया है/);
    assert.equal(r.json.nodes[4].params.template.language, 'hi');
  });
});

// The notifications rehearsed over real shipment.updated events: a
// shipment made through the Shiprocket fake, then tracking webhooks for
// picked up, in transit, out for delivery and delivered. The rehearsal
// replays the four events: three sends (each naming its own stage), none
// for in transit, although the shipment's row is delivered by then.
describe('the shipment notifications, rehearsed over Shiprocket\'s webhooks', () => {
  const fake = new FakeShiprocket();
  before(async () => { await fake.listen(Number(process.env.MUNSHI_TEST_SR_PORT || 0)); });
  after(async () => { await fake.close(); });

  test('three sends for four events, none for in_transit', async () => {
    const owner = await signup();
    const REP = { Prefer: 'return=representation' };
    const as = (method, path, body) => rest(method, path, { token: owner.token, body, headers: REP });
    assert.equal((await as('PATCH', `profiles?id=eq.${owner.userId}`, { state_code: '27', business_name: 'Rehearsal Parcels' })).status, 200);
    const email = `api-${randomUuid().slice(0, 8)}@shop.example`;
    fake.accounts[email] = 'sr-password';
    const webhookToken = randomUuid().replace(/-/g, '');
    const integ = await as('POST', 'integrations', { provider: 'shiprocket', email, password: 'sr-password', webhook_token: webhookToken, pickup_location: 'Home' });
    assert.equal(integ.status, 201, integ.info);
    const phone = `+9198${String(Date.now()).slice(-8)}`;
    const c = await as('POST', 'customers', { full_name: 'Kavya Shah', phone_number: phone, state_code: '27', address: '3 JM Road', city: 'Pune', pincode: '411005' });
    assert.equal(c.status, 201, c.info);
    const p = await as('POST', 'products', { name: 'Saree', hsn_code: '5208', gst_rate: 5, base_price: 1500, current_stock: 10 });
    assert.equal(p.status, 201, p.info);
    const inv = await rpc(owner.token, 'create_invoice', { customer_id: c.json[0].id, items: [{ product_id: p.json[0].id, quantity: 1 }] });
    assert.equal(inv.status, 200, inv.info);
    const s = await rpc(owner.token, 'create_shipment', { invoice_id: inv.json.id, length: 30, breadth: 20, height: 5, weight: 0.8, payment_method: 'prepaid' });
    assert.equal(s.status, 200, s.info);
    const awb = s.json.awb_number;

    const d = await rpc(owner.token, 'draft_workflow', {
      prompt: 'tell the customer on WhatsApp when the shipment is picked up, out for delivery and delivered',
    });
    assert.equal(d.status, 200, d.info);
    const t0 = Date.now() - 4 * 3600e3;
    const codes = [[42, 'picked_up'], [18, 'in_transit'], [17, 'out_for_delivery'], [7, 'delivered']];
    for (const [i, [code]] of codes.entries()) {
      const r = await httpRaw({
        method: 'POST', path: `/webhooks/courier/${integ.json[0].id}`,
        headers: { 'Content-Type': 'application/json', 'x-api-key': webhookToken },
        body: JSON.stringify(webhookPayload(awb, code, [scan(code, new Date(t0 + i * 3600e3))])),
      });
      assert.equal(r.status, 200, r.text);
    }
    const row = await rest('GET', `shipments?id=eq.${s.json.id}&select=status`, { token: owner.token });
    assert.equal(row.json[0].status, 'delivered');

    const r = await rpc(owner.token, 'rehearse_workflow', { id: d.json.id, last_n: 4 });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.found, 4);
    const said = { picked_up: /picked up by Delhivery Surface/, out_for_delivery: /out for delivery today/, delivered: /has been delivered/ };
    let sends = 0;
    for (const [i, [, status]] of codes.entries()) {
      const one = r.json.rehearsals[i];
      assert.equal(one.trigger.status, status);
      if (!said[status]) {
        assert.deepEqual(one.would || [], [], 'nothing for in_transit');
        continue;
      }
      assert.equal(one.would.length, 1, JSON.stringify(one));
      assert.match(one.would[0], said[status]);
      assert.match(one.would[0], /Kavya Shah/);
      assert.ok(one.would[0].includes(phone) && one.would[0].includes(awb), one.would[0]);
      for (const [k, re] of Object.entries(said)) if (k !== status) assert.doesNotMatch(one.would[0], re);
      sends++;
    }
    assert.equal(sends, 3);
  });
});
