// chat_durability.test.mjs - servers of our own on fresh databases (the
// suite's server keeps its settings):
//  - the shared Meta app (MUNSHI_WHATSAPP_APP_SECRET): POST /webhooks/whatsapp
//    routed by metadata.phone_number_id; an unknown one acknowledged;
//  - the LLM path: with MUNSHI_LLM_URL/KEY/MODEL set, an OpenAI-compatible
//    endpoint (tests/fakes/llm.mjs) chooses the action through tool calling
//    (metadata.agent.source "llm"); a slow one is cut at
//    MUNSHI_LLM_TIMEOUT_MS and the rules answer (source "rules");
//  - kill -9 with queued sends: messages queued (rpc/send_message) while
//    WhatsApp is down are each sent exactly once after a kill -9 and a
//    restart (the fake's record), and so is every other outbound message; the one unknowable case, a send in flight when the process
//    dies, is measured: how often the provider got it, and how it ended.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { FakeLLM } from '../fakes/llm.mjs';
import { FakeWhatsApp, WhatsAppMeta, sendText, wamid } from '../fakes/whatsapp.mjs';
import { Shop, freshDatabase, randomDigits, randomWaId, sleep, startMunshi } from './chat_lib.mjs';

describe('the LLM path', () => {
  let db;
  let srv;
  let wa;
  let llm;
  let shop;
  const TIMEOUT_MS = 1500;

  before(async () => {
    wa = new FakeWhatsApp();
    await wa.listen();
    llm = new FakeLLM({ key: 'sk-test-123', model: 'fake-model-1' });
    await llm.listen();
    db = freshDatabase();
    srv = await startMunshi(db.url, {
      MUNSHI_WHATSAPP_API_URL: wa.url,
      MUNSHI_LLM_URL: llm.url,
      MUNSHI_LLM_KEY: 'sk-test-123',
      MUNSHI_LLM_MODEL: 'fake-model-1',
      MUNSHI_LLM_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    shop = await Shop.open({ origin: srv.origin, wa, telegram: false });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
    await wa.close();
    await llm.close();
  });

  test('the model chooses the action by a tool call: source "llm", the tools offered, the key sent', async () => {
    const waId = randomWaId();
    const r = await shop.say(waId, 'rice ka rate kya hai');
    const agent = r.reply.metadata.agent;
    assert.equal(agent.source, 'llm', JSON.stringify(r.reply));
    assert.equal(agent.action, 'price');
    assert.ok(llm.calls.length >= 1, 'the endpoint was called');
    const call = llm.calls[llm.calls.length - 1];
    assert.equal(call.headers.authorization, 'Bearer sk-test-123');
    assert.equal(call.body.model, 'fake-model-1');
    const names = (call.body.tools || []).map((t) => t.type === 'function' && t.function.name);
    for (const a of ['greet', 'price', 'order', 'confirm_order', 'balance', 'pay', 'track', 'handover', 'fallback']) {
      assert.ok(names.includes(a), `tool ${a} offered: ${names.join(',')}`);
    }
    for (const t of call.body.tools) assert.equal(typeof t.function.parameters, 'object', `${t.function.name} has a JSON schema`);
    assert.ok(JSON.stringify(call.body.messages).includes('rice ka rate kya hai'), 'the customer text is in the messages');
    // The price still comes from the books.
    assert.match(sendText(wa.sends.find((s) => s.wamid === r.reply.provider_message_id)), /1,?250|1,?312\.50/);
  });

  test('the model\'s choice wins over the rules: "hello there" answered as balance when the model says so', async () => {
    llm.script.push({ call: { name: 'balance', arguments: {} } });
    const r = await shop.say(randomWaId(), 'hello there');
    assert.equal(r.reply.metadata.agent.source, 'llm');
    assert.equal(r.reply.metadata.agent.action, 'balance');
  });

  test('a slow model is cut at MUNSHI_LLM_TIMEOUT_MS and the rules answer (source "rules")', async () => {
    llm.script.push({ delayMs: 8000 });
    const t0 = Date.now();
    const r = await shop.say(randomWaId(), 'what is the price of rice?');
    const took = Date.now() - t0;
    assert.equal(r.reply.metadata.agent.source, 'rules', JSON.stringify(r.reply));
    assert.equal(r.reply.metadata.agent.action, 'price');
    assert.ok(took < 8000, `answered in ${took} ms, before the model would have (8000 ms); timeout ${TIMEOUT_MS} ms`);
  });

  test('a model that fails (500) or answers without a tool call falls back to the rules', async () => {
    llm.script.push({ status: 500 });
    const a = await shop.say(randomWaId(), 'hi');
    assert.equal(a.reply.metadata.agent.source, 'rules');
    llm.script.push({ content: 'Hello! How can I help?' });
    const b = await shop.say(randomWaId(), 'price of oil');
    assert.equal(b.reply.metadata.agent.source, 'rules');
    assert.equal(b.reply.metadata.agent.action, 'price');
  });
});

describe('the shared Meta app: POST /webhooks/whatsapp routed by phone_number_id', () => {
  const secret = 'shared-app-secret-0123456789abcdef';
  let db;
  let srv;
  let wa;
  let shop;

  before(async () => {
    wa = new FakeWhatsApp();
    await wa.listen();
    db = freshDatabase();
    srv = await startMunshi(db.url, { MUNSHI_WHATSAPP_API_URL: wa.url, MUNSHI_WHATSAPP_APP_SECRET: secret });
    shop = await Shop.open({ origin: srv.origin, wa, telegram: false });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
    await wa.close();
  });

  test('signed with MUNSHI_WHATSAPP_APP_SECRET, it lands on the channel of its phone_number_id once the number is proved', async () => {
    const meta = new WhatsAppMeta({ munshi: srv.origin, path: '/webhooks/whatsapp', appSecret: secret, phoneNumberId: shop.pnid });
    const waId = randomWaId();
    // Before rpc/connect_whatsapp proves the channel's token may use the
    // number, the shared route gives its messages to nobody: any business
    // could have typed the number in.
    const before = await shop.countMessages();
    assert.equal((await meta.post(meta.text(waId, 'too early').payload)).status, 200);
    await sleep(1500);
    assert.equal(await shop.countMessages(), before);
    // A token Meta does not accept for the number proves nothing.
    const real = wa.tokens[shop.pnid];
    wa.tokens[shop.pnid] = 'someone-elses-token';
    let c = await shop.rpc('connect_whatsapp', { channel_id: shop.waChannel.id });
    assert.equal(c.status, 409, c.info);
    wa.tokens[shop.pnid] = real;
    c = await shop.rpc('connect_whatsapp', { channel_id: shop.waChannel.id });
    assert.equal(c.status, 200, c.info);
    assert.equal(c.json.verified, true, c.info);
    const { payload, message } = meta.text(waId, 'hi');
    const r = await meta.post(payload);
    assert.equal(r.status, 200, r.info);
    const m = await shop.waitInbound(message.id);
    assert.equal(m.channel_id, shop.waChannel.id);
    await shop.waitReply(m.id);
    // The channel's own secret does not sign for the shared endpoint.
    const own = new WhatsAppMeta({ munshi: srv.origin, path: '/webhooks/whatsapp', appSecret: shop.appSecret, phoneNumberId: shop.pnid });
    assert.equal((await own.post(own.text(waId, 'hi').payload)).status, 401);
  });

  test('an unknown phone_number_id is acknowledged and stores nothing', async () => {
    const meta = new WhatsAppMeta({ munshi: srv.origin, path: '/webhooks/whatsapp', appSecret: secret, phoneNumberId: randomDigits(15) });
    const before = await shop.countMessages();
    const { payload } = meta.text(randomWaId(), 'hi');
    const r = await meta.post(payload);
    assert.equal(r.status, 200, r.info);
    await sleep(1500);
    assert.equal(await shop.countMessages(), before);
  });
});

describe('kill -9 with queued sends', () => {
  let db;
  let srv;
  let wa;
  let shop;

  before(async () => {
    wa = new FakeWhatsApp();
    await wa.listen();
    db = freshDatabase();
    srv = await startMunshi(db.url, { MUNSHI_WHATSAPP_API_URL: wa.url });
    shop = await Shop.open({ origin: srv.origin, wa, telegram: false });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
    await wa.close();
  });

  /** N customers write "hi" (their windows open); resolves [{waId, sessionId}]. */
  async function customersWrite(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
      const waId = randomWaId();
      const { payload, message } = shop.meta.text(waId, 'hi');
      assert.equal((await shop.meta.post(payload)).status, 200);
      out.push({ waId, wamid: message.id });
    }
    for (const x of out) x.sessionId = (await shop.waitInbound(x.wamid)).session_id;
    return out;
  }

  /** The owner's message text to session sid (rpc/send_message). */
  async function ownerSends(sid, text) {
    const r = await shop.rpc('send_message', { session_id: sid, text });
    assert.ok(r.status === 200 || r.status === 201, r.info);
  }

  test('messages queued while WhatsApp is down are each sent exactly once after kill -9 and a restart', async () => {
    const who = await customersWrite(6);
    await sleep(1500); // the agent's replies to "hi", if any, go out while WhatsApp is up
    // WhatsApp answers 503 to everything: the outbox puts each message back
    // with a backoff (2 s and more). Once every message has been tried and
    // nothing has been tried for 300 ms, none is in flight: all are queued.
    wa.rule = () => ({ status: 503, body: 'Service Unavailable' });
    for (const [k, x] of who.entries()) await ownerSends(x.sessionId, `Order ${k + 1} is packed`);
    const tried = (k) => wa.attempts.filter((a) => sendText(a) === `Order ${k + 1} is packed`).length;
    await wa.waitUntil(() => who.every((x, k) => tried(k) >= 1), 20000, 'each message tried once');
    await wa.waitUntil(() => Date.now() - Math.max(...wa.attempts.map((a) => a.at)) > 300, 5000, 'a quiet moment');
    const queued = (await shop.get('unified_messages?direction=eq.outbound&select=id,status'))
      .filter((m) => m.status === 'queued').length;
    await srv.kill9();
    wa.rule = null;
    srv = await startMunshi(db.url, { MUNSHI_WHATSAPP_API_URL: wa.url });
    shop.origin = srv.origin;
    shop.base = srv.origin;
    shop.meta.munshi = new URL(srv.origin);
    const unsent = () => who.filter((x, k) => !wa.sends.some((y) => sendText(y) === `Order ${k + 1} is packed`));
    await wa.waitSends(() => unsent().length === 0, 60000, 'every queued message sent after the restart').catch(() => {});
    const left = [];
    for (const x of unsent()) left.push(...(await shop.get(`unified_messages?session_id=eq.${x.sessionId}&sender=eq.owner&select=content,status,error,updated_at`)));
    assert.deepEqual(left, [], 'messages queued before the kill and not sent 60 s after the restart');
    await sleep(3000); // time for a double send to show
    for (const [k, x] of who.entries()) {
      const text = `Order ${k + 1} is packed`;
      assert.equal(wa.sends.filter((s) => sendText(s) === text).length, 1, `"${text}" sent once`);
      const rows = await shop.get(`unified_messages?session_id=eq.${x.sessionId}&direction=eq.outbound&select=*`);
      for (const m of rows) {
        assert.equal(m.status, 'sent', JSON.stringify(m));
        assert.equal(wa.sends.filter((s) => s.wamid === m.provider_message_id).length, 1, 'the provider id stored is the one WhatsApp gave');
      }
      assert.equal(wa.sendsTo(x.waId).length, rows.length, `sends to ${x.waId} = its outbound messages`);
    }
    console.log(`# kill -9: ${queued} outbound messages queued at the kill; after the restart each was sent once`);
  });

  test('the unknowable case measured: the process dies while the provider call is in flight', async () => {
    const [x] = await customersWrite(1);
    await sleep(1500);
    const text = 'Your invoice is ready';
    wa.rule = (send) => (sendText(send) === text ? { delayMs: 30000 } : undefined);
    await ownerSends(x.sessionId, text);
    await wa.waitUntil(() => wa.attempts.some((a) => sendText(a) === text), 20000, 'the send in flight');
    const msg = (await shop.get(`unified_messages?session_id=eq.${x.sessionId}&sender=eq.owner&select=*`))[0];
    await sleep(200);
    await srv.kill9();
    wa.rule = null;
    // Meta got the request: the message is on its way to the customer.
    const inFlight = wa.attempts.find((a) => sendText(a) === text);
    const opaque = inFlight.body.biz_opaque_callback_data;
    srv = await startMunshi(db.url, { MUNSHI_WHATSAPP_API_URL: wa.url });
    shop.origin = srv.origin;
    shop.base = srv.origin;
    shop.meta.munshi = new URL(srv.origin);
    await sleep(5000); // a restarted outbox that re-sent it would have done so by now
    const calls = wa.attempts.filter((a) => sendText(a) === text).length;
    const mid = (await shop.get(`unified_messages?id=eq.${msg.id}&select=*`))[0];
    // Meta's status for it arrives, echoing biz_opaque_callback_data.
    const t0 = Date.now();
    const metaId = wamid();
    await shop.statuses([[metaId, 'delivered', x.waId, { bizOpaque: opaque }]]);
    let settled;
    for (let i = 0; i < 50; i++) {
      settled = (await shop.get(`unified_messages?id=eq.${msg.id}&select=*`))[0];
      if (settled.status === 'delivered') break;
      await sleep(200);
    }
    const measured = {
      status_at_kill: msg.status, status_after_restart: mid.status, error_after_restart: mid.error,
      provider_calls: calls, biz_opaque_callback_data: opaque ?? null,
      status_after_webhook: settled.status, provider_message_id: settled.provider_message_id,
      settled_by_webhook_ms: settled.status === 'delivered' ? Date.now() - t0 : null,
    };
    console.log(`# in-flight at kill -9: ${JSON.stringify(measured)}`);
    assert.equal(calls, 1, 'not sent again after the restart (it may have reached the customer)');
    assert.ok(opaque, `the send carries biz_opaque_callback_data for the status to find it: ${inFlight.raw}`);
    assert.equal(settled.status, 'delivered', `Meta's status settles it: ${JSON.stringify(settled)}`);
    assert.equal(settled.provider_message_id, metaId);
  });
});
