// chat_webhooks.test.mjs - the WhatsApp webhook as an attacker and as Meta
// really behave: the verification handshake; bad signatures (401, nothing
// stored); correctly signed bodies that are not payloads (400, nothing
// stored); oversized bodies (413); redelivery, concurrent delivery and
// reordering (each message once, one reply each); batches of several
// entries, changes and message types; statuses applied monotonically (a
// late "delivered" never overwrites "read"; a status that arrives before its
// message is kept until the message exists); the 24-hour window. (The
// shared-app endpoint needs a server of its own: chat_durability.test.mjs.)
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, test } from 'node:test';

import { sendText, waMessage, wamid } from '../fakes/whatsapp.mjs';
import { rawUpload } from './lib.mjs';
import { Shop, eventually, randomDigits, randomWaId, sleep, startFakes } from './chat_lib.mjs';

let fakes;
let shop;

before(async () => {
  fakes = await startFakes();
  shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg, telegram: false });
});
after(async () => { await fakes.close(); });

describe("Meta's verification handshake", () => {
  test('the right verify_token echoes hub.challenge; anything else is 403', async () => {
    const ok = await shop.meta.verify(shop.verifyToken, '1158201444');
    assert.equal(ok.status, 200);
    assert.equal(ok.text, '1158201444');
    assert.equal((await shop.meta.verify('wrong', '1158201444')).status, 403);
    assert.equal((await shop.meta.verify(shop.verifyToken, '1158201444', 'unsubscribe')).status, 403);
  });
});

describe('signatures and bad bodies', () => {
  test('a missing, wrong or malformed X-Hub-Signature-256 is 401 and stores nothing', async () => {
    const before = await shop.countMessages();
    const { payload, message } = shop.meta.text(randomWaId(), 'hi');
    const raw = JSON.stringify(payload);
    const other = createHmac('sha256', 'not-the-secret').update(raw).digest('hex');
    const cases = [
      null,
      `sha256=${other}`,
      `sha256=${'0'.repeat(64)}`,
      'sha256=zz',
      shop.meta.sign(raw).replace('sha256=', 'sha1='),
      shop.meta.sign(`${raw} `), // the signature of other bytes
      shop.meta.sign(raw).toUpperCase(),
      '',
    ];
    for (const sig of cases) {
      const r = await shop.meta.post(raw, { signature: sig });
      assert.equal(r.status, 401, `signature ${JSON.stringify(sig)}: ${r.info}`);
    }
    await sleep(1500);
    assert.equal(await shop.countMessages(), before);
    assert.equal(await shop.inboundByWamid(message.id), undefined);
  });

  test('a correctly signed body that is not a payload is 400 and stores nothing', async () => {
    const before = await shop.countMessages();
    const bodies = [
      'not json',
      '[1,2,3]',
      '"whatsapp"',
      '{}',
      '{"object":"whatsapp_business_account"}',
      '{"object":"whatsapp_business_account","entry":"nope"}',
      '{"object":"whatsapp_business_account","entry":[{"changes":{"value":1}}]}',
      '{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages","value":{"messaging_product":"whatsapp","messages":"x"}}]}]}',
      '{"object":"whatsapp_business_account","entry":[]',
    ];
    for (const b of bodies) {
      const r = await shop.meta.post(b);
      assert.equal(r.status, 400, `${b}: ${r.info}`);
    }
    await sleep(1500);
    assert.equal(await shop.countMessages(), before);
  });

  test('a body over the cap is 413 and stores nothing', async () => {
    const before = await shop.countMessages();
    const { payload } = shop.meta.text(randomWaId(), 'x'.repeat(2 * 1024 * 1024));
    const raw = Buffer.from(JSON.stringify(payload));
    const r = await rawUpload({
      path: `/webhooks/whatsapp/${shop.waChannel.id}`,
      headers: { 'Content-Type': 'application/json', 'X-Hub-Signature-256': shop.meta.sign(raw) },
      body: raw,
    });
    assert.equal(r.status, 413, r.info);
    await sleep(1000);
    assert.equal(await shop.countMessages(), before);
  });

  test('an unknown channel id is refused and stores nothing', async () => {
    const { payload } = shop.meta.text(randomWaId(), 'hi');
    const r = await shop.meta.post(payload, { path: '/webhooks/whatsapp/00000000-0000-4000-8000-000000000000' });
    assert.ok([401, 404].includes(r.status), r.info);
  });
});

describe('exactly once', () => {
  test('one payload delivered five times in a row and five at once: one message, one reply', async () => {
    const waId = randomWaId();
    const { payload, message } = shop.meta.text(waId, 'hi');
    const raw = JSON.stringify(payload);
    for (let i = 0; i < 5; i++) assert.equal((await shop.meta.post(raw)).status, 200);
    const rs = await Promise.all(Array.from({ length: 5 }, () => shop.meta.post(raw)));
    for (const r of rs) assert.equal(r.status, 200, r.info);
    const m = await shop.waitInbound(message.id);
    await shop.waitReply(m.id);
    await sleep(2000);
    assert.equal((await shop.get(`unified_messages?provider_message_id=eq.${encodeURIComponent(message.id)}&select=id`)).length, 1);
    assert.equal((await shop.get(`unified_messages?session_id=eq.${m.session_id}&direction=eq.inbound&select=id`)).length, 1);
    assert.equal((await shop.get(`unified_messages?session_id=eq.${m.session_id}&direction=eq.outbound&select=id`)).length, 1);
    assert.equal(fakes.wa.sendsTo(waId).length, 1, 'one reply reached WhatsApp');
    const s = await shop.session(m.session_id);
    assert.equal(s.unread_count >= 0, true);
  });

  test('a batch of two entries, three changes and six messages of five types: each stored once', async () => {
    const a = randomWaId();
    const b = randomWaId();
    const img = waMessage.image(a, { caption: 'is this atta available?', mediaId: `${randomDigits(16)}` });
    const loc = waMessage.location(b, { latitude: 19.076, longitude: 72.8777, name: 'Shop', address: 'Dadar, Mumbai' });
    const btn = waMessage.buttonReply(a, 'confirm', 'Yes');
    const lst = waMessage.listReply(b, 'rice', 'Basmati Rice', '25 kg bag');
    const t1 = waMessage.text(a, 'price of oil?');
    const t2 = waMessage.text(b, 'hi');
    const contacts = [{ profile: { name: 'Asha' }, wa_id: a }, { profile: { name: 'Bilal' }, wa_id: b }];
    const payload = shop.meta.payload(null, {
      entries: [
        [shop.meta.value({ contacts, messages: [t1, img] }), shop.meta.value({ contacts, messages: [t2] })],
        [shop.meta.value({ contacts, messages: [loc, btn, lst] })],
      ],
    });
    const r = await shop.meta.post(payload);
    assert.equal(r.status, 200, r.info);
    const rows = {};
    for (const m of [t1, img, loc, btn, lst, t2]) rows[m.id] = await shop.waitInbound(m.id);
    assert.equal(rows[t1.id].message_type, 'text');
    assert.equal(rows[t1.id].content, 'price of oil?');
    assert.equal(rows[img.id].message_type, 'image');
    assert.equal(rows[img.id].content, 'is this atta available?');
    assert.match(JSON.stringify(rows[img.id].metadata), new RegExp(img.image.id), 'the media id is kept');
    assert.equal(rows[loc.id].message_type, 'location');
    assert.match(JSON.stringify(rows[loc.id].metadata), /19\.076/, 'the coordinates are kept');
    assert.match(JSON.stringify(rows[loc.id].metadata), /72\.8777/);
    assert.equal(rows[btn.id].message_type, 'interactive');
    assert.equal(rows[btn.id].content, 'Yes');
    assert.equal(rows[lst.id].content, 'Basmati Rice');
    // Two contacts, two sessions.
    assert.equal(new Set(Object.values(rows).map((x) => x.session_id)).size, 2);
    const sa = await shop.session(rows[t1.id].session_id);
    assert.equal(sa.contact_name, 'Asha');
    // Again, whole: nothing new.
    const n = await shop.countMessages('direction=eq.inbound');
    assert.equal((await shop.meta.post(payload)).status, 200);
    await sleep(1500);
    assert.equal(await shop.countMessages('direction=eq.inbound'), n);
  });

  test('a contact without wa_id is keyed by the user id Meta sends', async () => {
    const uid = `IN.${randomDigits(18)}`;
    const msg = { from_user_id: uid, id: wamid(), timestamp: String(Math.floor(Date.now() / 1000)), type: 'text', text: { body: 'hi' } };
    const payload = shop.meta.payload([shop.meta.value({ contacts: [{ profile: { name: 'Priya' }, user_id: uid }], messages: [msg] })]);
    assert.equal((await shop.meta.post(payload)).status, 200);
    assert.equal((await shop.meta.post(payload)).status, 200);
    const m = await shop.waitInbound(msg.id);
    const s = await shop.session(m.session_id);
    assert.equal(s.contact_id, uid);
    assert.equal(s.contact_name, 'Priya');
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal((await shop.get(`unified_messages?session_id=eq.${m.session_id}&direction=eq.inbound&select=id`)).length, 1);
  });

  test('reordered deliveries: the later message first, then the earlier, then both again', async () => {
    const waId = randomWaId();
    const now = Math.floor(Date.now() / 1000);
    const first = shop.meta.text(waId, 'hi', { timestamp: now - 5 });
    const second = shop.meta.text(waId, 'price of atta', { timestamp: now - 2 });
    assert.equal((await shop.meta.post(second.payload)).status, 200);
    assert.equal((await shop.meta.post(first.payload)).status, 200);
    assert.equal((await shop.meta.post(second.payload)).status, 200);
    assert.equal((await shop.meta.post(first.payload)).status, 200);
    const m1 = await shop.waitInbound(first.message.id);
    const m2 = await shop.waitInbound(second.message.id);
    await shop.waitReply(m1.id);
    await shop.waitReply(m2.id);
    await sleep(1500);
    assert.equal((await shop.get(`unified_messages?session_id=eq.${m1.session_id}&direction=eq.inbound&select=id`)).length, 2);
    assert.equal(fakes.wa.sendsTo(waId).length, 2, 'one reply per message');
  });
});

describe('statuses', () => {
  test('sent, then read (no delivered), then a late delivered: the message stays read; replays change nothing', async () => {
    const waId = randomWaId();
    const { reply } = await shop.say(waId, 'hi');
    const id = reply.provider_message_id;
    await shop.statuses([[id, 'sent', waId]]);
    await eventually(async () => (await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status === 'sent', 'sent');
    await shop.statuses([[id, 'read', waId]]);
    await eventually(async () => (await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status === 'read', 'read');
    await shop.statuses([[id, 'delivered', waId], [id, 'sent', waId]]);
    await shop.statuses([[id, 'delivered', waId]]);
    await sleep(1500);
    assert.equal((await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status, 'read');
  });

  test('statuses in one payload out of order (read before sent) end at read', async () => {
    const waId = randomWaId();
    const { reply } = await shop.say(waId, 'hello');
    const id = reply.provider_message_id;
    const now = Math.floor(Date.now() / 1000);
    await shop.statuses([[id, 'read', waId, { timestamp: now + 2 }], [id, 'sent', waId, { timestamp: now }], [id, 'delivered', waId, { timestamp: now + 1 }]]);
    await eventually(async () => (await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status === 'read', 'read', 10000);
    await sleep(1000);
    assert.equal((await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status, 'read');
  });

  test('failed with its errors: the code and text land on the message', async () => {
    const waId = randomWaId();
    const { reply } = await shop.say(waId, 'hi');
    const id = reply.provider_message_id;
    await shop.statuses([[id, 'failed', waId, { errors: [{ code: 131026, title: 'Message undeliverable', message: 'Message undeliverable', error_data: { details: 'Receiver is incapable of receiving this message' } }] }]]);
    const m = await eventually(async () => { const x = (await shop.get(`unified_messages?id=eq.${reply.id}&select=status,error`))[0]; return x.status === 'failed' && x; }, 'failed');
    assert.ok(m.error, 'error is set');
    assert.match(JSON.stringify(m.error), /131026/);
  });

  test('a status that arrives before its message is kept and applied once the message has that id', async () => {
    const waId = randomWaId();
    const early = wamid();
    await shop.statuses([[early, 'read', waId]]);
    fakes.wa.nextIds.push(early);
    const { reply } = await shop.say(waId, 'hi');
    assert.equal(reply.provider_message_id, early, 'the fake gave the reply the early id');
    await eventually(async () => (await shop.get(`unified_messages?id=eq.${reply.id}&select=status`))[0].status === 'read', 'the early read applied', 15000);
  });
});

describe('the 24-hour window', () => {
  test('a reply to a message older than 24 h goes as the channel\'s template', async () => {
    const waId = randomWaId();
    const old = Math.floor(Date.now() / 1000) - 26 * 3600;
    const { reply } = await shop.say(waId, 'hi', { timestamp: old });
    const sends = fakes.wa.sendsTo(waId);
    assert.equal(sends.length, 1, JSON.stringify(reply));
    assert.equal(sends[0].body.type, 'template', `outside the window a template goes: ${sends[0].raw}`);
    assert.equal(sends[0].body.template.name, 'payment_reminder');
  });

  test('without a template, free text outside the window fails locally with a clear reason', async () => {
    const other = await Shop.open({ wa: fakes.wa, telegram: false, templates: [], defaultTemplate: null });
    const waId = randomWaId();
    const old = Math.floor(Date.now() / 1000) - 26 * 3600;
    const { reply, inbound } = await other.say(waId, 'hi', { timestamp: old });
    assert.equal(reply.status, 'failed', JSON.stringify(reply));
    assert.match(JSON.stringify(reply.error), /24|window/i, `the reason names the window: ${JSON.stringify(reply.error)}`);
    assert.equal(fakes.wa.sendsTo(waId).length, 0, 'nothing went to WhatsApp');
    const sm = await other.rpc('send_message', { session_id: inbound.session_id, text: 'Hello from the shop' });
    if (sm.status === 200 || sm.status === 201) {
      const m = await eventually(async () => {
        const x = await other.get(`unified_messages?session_id=eq.${inbound.session_id}&sender=eq.owner&select=*`);
        return x.length && x[0].status !== 'queued' && x[0];
      }, 'the owner message settled');
      assert.equal(m.status, 'failed');
      assert.match(JSON.stringify(m.error), /24|window/i);
    } else {
      assert.ok(sm.status >= 400 && sm.status < 500, sm.info);
      assert.match(sm.text, /24|window/i, sm.info);
    }
    await sleep(500);
    assert.equal(fakes.wa.sendsTo(waId).length, 0, 'nothing went to WhatsApp');
    // And a fresh message opens it again (the bot back on: the owner's
    // send_message handed the session over).
    if (sm.status === 200 || sm.status === 201) {
      const on = await other.rpc('set_bot_active', { session_id: inbound.session_id, active: true });
      assert.ok(on.status === 200 || on.status === 204, on.info);
    }
    const again = await other.say(waId, 'hi');
    assert.equal(again.reply.status, 'sent');
    assert.equal(sendText(fakes.wa.sendsTo(waId)[0]), again.reply.content);
  });
});
