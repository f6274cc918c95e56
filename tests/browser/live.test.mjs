// live.test.mjs - the inbox and the workflow screens in Chromium, against
// the real server: a WhatsApp message posted to the webhook (signed, as Meta
// posts it) appears in the open inbox without a reload, the agent's answer
// follows, WhatsApp's receipts move its ticks, the owner takes over, replies
// (the WhatsApp fake receives it) and hands back; a workflow is drafted from
// words, rehearsed and activated, and a run's steps light up one by one as
// the engine commits them. Each screen is photographed at phone and desktop
// size.
//
// "Live" is checked, not assumed: each screen says on its root whether its
// realtime channel joined (data-live="live") or fell back to polling, the
// tests wait for "live" before acting, and a marker set on the window shows
// the page was never reloaded.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { FakeWhatsApp, waStatus } from '../fakes/whatsapp.mjs';
import { Shop, eventually, randomWaId, sleep } from '../api/chat_lib.mjs';
import { go, launch, newPage, noErrors, shoot, signIn, waitLive } from './lib.mjs';

let browser;
let wa;
let shop;
let page;

before(async () => {
  wa = new FakeWhatsApp();
  await wa.listen(Number(process.env.MUNSHI_TEST_WA_PORT || 0));
  shop = await Shop.open({ wa, telegram: false });
  browser = await launch();
  page = await newPage(browser);
  await signIn(page, shop.user);
  await page.evaluate(() => { window.__notReloaded = true; });
});

after(async () => {
  if (browser) await browser.close();
  if (wa) await wa.close();
});

const notReloaded = async () => assert.equal(await page.evaluate(() => window.__notReloaded), true, 'the page was reloaded');

test('inbox: a WhatsApp message arrives live, the ticks move, take over, reply, hand back', async () => {
  await go(page, '#/inbox', 'inbox');
  await waitLive(page, 'inbox');
  await page.locator('[data-screen=inbox] .empty').first().waitFor();
  await shoot(page, 'inbox-empty');

  // A customer writes; the list shows the conversation with its unread count.
  const waId = randomWaId();
  const { payload, message } = shop.meta.text(waId, 'rice ka price kya hai?', { name: 'Asha Verma' });
  const post = await shop.meta.post(payload);
  assert.equal(post.status, 200, post.info);
  const inbound = await shop.waitInbound(message.id);
  const sid = inbound.session_id;
  const row = page.locator(`[data-screen=inbox] .session[data-id="${sid}"]`);
  await row.waitFor();
  await assert.doesNotReject(row.locator('.name', { hasText: 'Asha Verma' }).waitFor());
  await row.locator('[data-unread]').waitFor();
  assert.ok(Number(await row.locator('[data-unread]').getAttribute('data-unread')) >= 1);
  await shoot(page, 'inbox-list');

  // Open it: the message is there, the agent's answer comes in live, and
  // opening it read it (unread_count back to 0 on the server).
  await row.click();
  await page.locator('[data-screen=inbox].has-conv').waitFor();
  await waitLive(page, 'inbox');
  await page.locator(`.msg.in[data-id="${inbound.id}"]`, { hasText: 'rice ka price kya hai?' }).waitFor();
  const reply = await shop.waitReply(inbound.id);
  const replyEl = page.locator(`.msg.out[data-id="${reply.id}"]`);
  await replyEl.waitFor();
  assert.equal(await replyEl.getAttribute('data-sender'), 'agent');
  await page.locator(`.msg.out[data-id="${reply.id}"][data-status="sent"]`).waitFor();
  await eventually(async () => (await shop.session(sid)).unread_count === 0, 'unread_count 0 after opening');

  // WhatsApp's receipts: delivered, then read, each shown as it comes.
  assert.ok(reply.provider_message_id, 'the reply has its wamid');
  await shop.statuses([[reply.provider_message_id, 'delivered', waId]]);
  await page.locator(`.msg.out[data-id="${reply.id}"][data-status="delivered"] .tick-delivered`).waitFor();
  await shop.statuses([[reply.provider_message_id, 'read', waId]]);
  await page.locator(`.msg.out[data-id="${reply.id}"][data-status="read"] .tick-read`).waitFor();

  // A second message while the conversation is open; then one that is
  // markup, shown as the text it is and never run.
  const second = shop.meta.text(waId, 'aur atta?', { name: 'Asha Verma' });
  assert.equal((await shop.meta.post(second.payload)).status, 200);
  await page.locator('.msg.in', { hasText: 'aur atta?' }).waitFor();
  const markup = '<img src=x onerror="window.__xss=1"><b>bold</b>';
  assert.equal((await shop.meta.post(shop.meta.text(waId, markup, { name: 'Asha Verma' }).payload)).status, 200);
  await page.locator('.msg.in .msg-text', { hasText: markup }).waitFor();
  assert.equal(await page.locator('.msg img, .msg b').count(), 0, 'no markup from a message');
  assert.equal(await page.evaluate(() => window.__xss), undefined);

  // Take over: the bot stops, the button turns into "hand back".
  await page.locator('[data-action=takeover]').click();
  await page.locator('[data-action=handback]').waitFor();
  await eventually(async () => (await shop.session(sid)).is_bot_active === false, 'is_bot_active false');

  // Reply as the owner: shown at once, sent to WhatsApp, ticked.
  const text = `Haan ji, 1250 ka bag hai ${Date.now() % 1000}`;
  await page.locator('[data-reply] textarea').fill(text);
  await page.locator('[data-action=reply]').click();
  const mine = page.locator('.msg.out[data-sender=owner]', { hasText: text });
  await mine.waitFor();
  await wa.waitSends((sends) => sends.some((s) => s.to.replace(/^\+/, '') === waId && s.body.text && s.body.text.body === text), 15000, 'the owner\'s reply at WhatsApp');
  await page.locator('.msg.out[data-sender=owner][data-status="sent"]', { hasText: text }).waitFor();
  assert.equal(await page.locator('[data-reply] textarea').inputValue(), '', 'the box is cleared');
  await shoot(page, 'inbox-conversation');

  // Hand back.
  await page.locator('[data-action=handback]').click();
  await page.locator('[data-action=takeover]').waitFor();
  await eventually(async () => (await shop.session(sid)).is_bot_active === true, 'is_bot_active true');

  // A conversation of another business is not shown (REST says not found).
  await go(page, '#/inbox/00000000-0000-7000-8000-000000000000', 'inbox');
  await page.locator('[data-screen=inbox] [data-conv] .empty').waitFor();

  await waitLive(page, 'inbox');
  await notReloaded();
  noErrors(page);
});

test('workflows: draft from words, rehearse, activate; a run lights up step by step', async () => {
  // History to rehearse over: one payment from a customer with a phone.
  const c = await shop.rest('POST', 'customers', {
    body: { full_name: 'Bala Traders', phone_number: `+${randomWaId()}`, state_code: '27' },
    headers: { Prefer: 'return=representation' },
  });
  assert.equal(c.status, 201, c.info);
  const pay = await shop.rpc('record_payment', { customer_id: c.json[0].id, amount_received: '500.00', payment_mode: 'upi' });
  assert.equal(pay.status, 200, pay.info);

  await go(page, '#/workflows', 'workflows');
  await waitLive(page, 'workflows');
  await shoot(page, 'workflows-empty');

  // A prompt that cannot be drafted gets the Architect's question.
  await page.locator('#wf-prompt').fill('remind them');
  await page.locator('[data-action=draft]').click();
  await page.locator('[data-question]').waitFor();

  // A real one: the draft, its explanation and its graph, trigger first.
  await page.locator('#wf-prompt').fill('jab bhi payment aaye customer ko dhanyavaad bhejo');
  await page.locator('[data-action=draft]').click();
  const draft = page.locator('[data-draft]');
  await draft.waitFor();
  const bpId = await draft.getAttribute('data-draft');
  assert.ok((await draft.locator('[data-explanation]').textContent()).trim().length > 10, 'an explanation');
  const nodes = draft.locator('svg.wf-graph .gnode');
  assert.equal(await nodes.count(), 2);
  const first = await nodes.nth(0).getAttribute('data-node');
  const boxes = await Promise.all([0, 1].map((i) => nodes.nth(i).boundingBox()));
  const saved = await shop.get(`workflow_blueprints?id=eq.${bpId}&select=nodes,is_active`);
  assert.equal(saved[0].is_active, false, 'a draft');
  const trig = saved[0].nodes.find((n) => n.type === 'trigger').id;
  assert.equal(first, trig, 'the trigger is drawn first');
  assert.ok(boxes[0].y < boxes[1].y, 'the trigger is above the step it leads to');
  // The list shows it live (the draft came back over realtime or the rpc).
  await page.locator(`[data-blueprints] .item[data-id="${bpId}"]`).waitFor();
  await shoot(page, 'workflows-draft');

  // Open it, rehearse over the payment, activate.
  await page.locator('[data-action=open-draft]').click();
  await page.locator(`[data-screen=workflow][data-id="${bpId}"]`).waitFor();
  await waitLive(page, 'workflow');
  assert.equal(await page.locator('[data-action=run]').isDisabled(), true, 'a draft cannot be run');
  await page.locator('[data-action=rehearse]').click();
  const reh = page.locator('[data-rehearsal-result]');
  await reh.waitFor();
  assert.equal(await reh.getAttribute('data-found'), '1');
  await reh.locator('.would li', { hasText: 'Bala Traders' }).first().waitFor();
  await shoot(page, 'workflow-rehearsal');
  await page.locator('[data-action=activate]').click();
  await page.locator('[data-screen=workflow][data-active=true] [data-action=deactivate]').waitFor();
  assert.equal((await shop.get(`workflow_blueprints?id=eq.${bpId}&select=is_active`))[0].is_active, true);

  // A workflow whose run can be watched: a 2 s wait between steps, a branch,
  // and a last step that fails (a message to "the customer" of a run that
  // has none), so its error shows.
  const bp = await shop.rest('POST', 'workflow_blueprints', {
    headers: { Prefer: 'return=representation' },
    body: {
      name: 'Watch me run',
      nodes: [
        { id: 'start', type: 'trigger', params: { manual: true } },
        { id: 'count', type: 'set', params: { values: { x: '2' } } },
        { id: 'pause', type: 'wait', params: { for: '2s' } },
        { id: 'check', type: 'condition', params: { if: 'x > 1' } },
        { id: 'tell', type: 'send_message', params: { to: 'customer', text: 'x is {{ x }}' } },
        { id: 'halt', type: 'stop', params: {} },
      ],
      edges: [
        { from: 'start', to: 'count' }, { from: 'count', to: 'pause' }, { from: 'pause', to: 'check' },
        { from: 'check', to: 'tell', when: 'true' }, { from: 'check', to: 'halt', when: 'false' },
      ],
    },
  });
  assert.equal(bp.status, 201, bp.info);
  const wfId = bp.json[0].id;
  const act = await shop.rpc('activate_workflow', { id: wfId });
  assert.equal(act.status, 200, act.info);

  await go(page, `#/workflows/${wfId}`, 'workflow');
  await page.locator(`[data-screen=workflow][data-id="${wfId}"][data-active=true]`).waitFor();
  const whens = await page.locator('svg.wf-graph .wf-when text').allTextContents();
  assert.deepEqual(whens.sort(), ['false', 'true'], 'the branches are labelled');
  await shoot(page, 'workflow-blueprint');

  await page.locator('[data-action=run]').click();
  const run = page.locator('[data-screen=workflow-run]');
  await run.waitFor();
  const runId = await run.getAttribute('data-id');
  await waitLive(page, 'workflow-run');
  // The wait is seen waiting, then each later step as it ends.
  await page.locator('.step[data-node=pause][data-status=waiting]').waitFor();
  await page.locator('svg.wf-graph .gnode[data-node=pause][data-status=waiting]').waitFor();
  assert.equal(await page.locator('.step[data-node=check]').count(), 0, 'check has not run during the wait');
  await shoot(page, 'workflow-run-waiting');
  await page.locator('.step[data-node=pause][data-status=completed]').waitFor({ timeout: 20000 });
  await page.locator('.step[data-node=check][data-status=completed]').waitFor();
  const failed = page.locator('.step[data-node=tell][data-status=failed]');
  await failed.waitFor();
  await page.locator('[data-screen=workflow-run][data-run-status=failed]').waitFor();
  assert.equal(await page.locator('.step[data-node=halt]').count(), 0, 'the false branch did not run');
  // The failed step shows its error (open by itself); the set step its output.
  assert.match(await failed.locator('.io.error pre').textContent(), /customer/i);
  await page.locator('.step[data-node=count] summary').click();
  assert.match(await page.locator('.step[data-node=count] .io.output pre').textContent(), /"x"/);
  await page.locator('svg.wf-graph .gnode[data-node=tell][data-status=failed]').waitFor();
  await page.locator('[data-action=retry]').waitFor();
  // What the screen showed is what the server has.
  const logs = await shop.get(`workflow_logs?id=eq.${runId}&select=status,step_results`);
  assert.equal(logs[0].status, 'failed');
  assert.deepEqual(logs[0].step_results.map((e) => e.node_id), ['start', 'count', 'pause', 'check', 'tell']);
  await shoot(page, 'workflow-run');

  // The list shows the run.
  await go(page, '#/workflows', 'workflows');
  await page.locator(`[data-runs] .item[data-id="${runId}"][data-status=failed]`).waitFor();
  await shoot(page, 'workflows-list');

  // In Hindi: the screens' own words change with the switch.
  await page.locator('[data-action=lang][data-lang=hi]').click();
  await page.locator('[data-screen=workflows] h1', { hasText: 'वर्कफ़्लो' }).waitFor();
  await page.locator('[data-action=draft]', { hasText: 'ड्राफ़्ट बनाओ' }).waitFor();
  await shoot(page, 'workflows-hi');
  await go(page, `#/workflows/run/${runId}`, 'workflow-run');
  await page.locator('.step[data-node=tell] [data-status-badge=failed]', { hasText: 'विफल' }).waitFor();
  await shoot(page, 'workflow-run-hi');
  await go(page, '#/inbox', 'inbox');
  await page.locator('[data-screen=inbox] h1', { hasText: 'इनबॉक्स' }).waitFor();
  await shoot(page, 'inbox-hi');
  await page.locator('[data-action=lang][data-lang=en]').click();
  await page.locator('[data-screen=inbox] h1', { hasText: 'Inbox' }).waitFor();

  await notReloaded();
  await sleep(0);
  noErrors(page);
});

test('inbox without realtime: the screen says so and keeps up by reading again', async () => {
  // A page whose WebSockets to munshi are cut (as a proxy that does not
  // pass them would): the channel cannot join, the screen falls back.
  const p2 = await newPage(browser);
  await p2.routeWebSocket(/\/realtime\/v1\/websocket/, (ws) => { ws.close(); });
  await signIn(p2, shop.user);
  await go(p2, '#/inbox', 'inbox');
  await p2.locator('[data-screen=inbox][data-live=polling]').waitFor({ timeout: 20000 });
  const waId = randomWaId();
  const { payload, message } = shop.meta.text(waId, 'koi hai?', { name: 'Polling Pooja' });
  assert.equal((await shop.meta.post(payload)).status, 200);
  const inbound = await shop.waitInbound(message.id);
  await p2.locator(`[data-screen=inbox] .session[data-id="${inbound.session_id}"]`).waitFor({ timeout: 15000 });
  assert.equal(await p2.locator('[data-screen=inbox]').last().getAttribute('data-live'), 'polling');
  await shoot(p2, 'inbox-polling');
  noErrors(p2);
  await p2.context().close();
});
