// chat_outbox.test.mjs - the outbox against the providers' answers, as the
// fakes give them in the providers' own shapes: WhatsApp's permanent errors
// (131026 undeliverable, 131047 outside the window, 190 bad token) fail the
// message at once with the provider's code and text and are not retried;
// its rate limits (130429, 131056) and 5xx are retried until sent; Telegram's
// 429 with retry_after waits that long, its 403 fails. Each reply is an
// agent's answer to a customer's "hi", scripted per recipient.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { wamid } from '../fakes/whatsapp.mjs';
import { Shop, eventually, randomDigits, randomWaId, sleep, startFakes } from './chat_lib.mjs';

let fakes;
let shop;

before(async () => {
  fakes = await startFakes();
  shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg });
});
after(async () => { await fakes.close(); });

/** Scripts the answers WhatsApp gives sends to waId, in order (then success). */
function scriptWa(waId, answers) {
  const queue = [...answers];
  const prev = fakes.wa.rule;
  fakes.wa.rule = (send) => {
    if (send.to.replace(/^\+/, '') === waId && queue.length) return queue.shift();
    return prev ? prev(send) : undefined;
  };
}

/** The customer says hi; resolves the agent's reply once it left 'queued'. */
async function replyTo(waId, timeoutMs = 30000, sent = true) {
  const { payload, message } = shop.meta.text(waId, 'hi');
  assert.equal((await shop.meta.post(payload)).status, 200);
  const inbound = await shop.waitInbound(message.id);
  return shop.waitReply(inbound.id, { timeoutMs, sent });
}

const attemptsTo = (waId) => fakes.wa.attempts.filter((a) => a.to && a.to.replace(/^\+/, '') === waId);

describe('WhatsApp errors', () => {
  for (const code of [131026, 131047, 190]) {
    test(`${code} fails the message at once with Meta's code and text, no retry`, async () => {
      const waId = randomWaId();
      scriptWa(waId, [{ error: code }]);
      const m = await replyTo(waId);
      assert.equal(m.status, 'failed', JSON.stringify(m));
      assert.ok(m.error, 'error set');
      assert.equal(String(m.error.code), String(code), JSON.stringify(m.error));
      assert.ok(typeof m.error.message === 'string' && m.error.message.length > 0, JSON.stringify(m.error));
      await new Promise((r) => setTimeout(r, 3000));
      assert.equal(attemptsTo(waId).length, 1, 'a permanent error is not retried');
    });
  }

  // A connection dropped after the request went out: the provider may have
  // the message, so it is not sent again at once (the retry waits a minute,
  // CHAT_SEND_UNSURE_WAIT_MS). Meta's status for the send that did arrive
  // echoes munshi's id (biz_opaque_callback_data) and settles it: never a
  // second copy. (libcurl itself may resend once over a fresh connection
  // when a reused keep-alive connection dies; then the message is sent by
  // that copy — docs/chat.md names this residual case.)
  test('a dropped connection is not sent again at once; the status carrying our id settles it', async () => {
    const waId = randomWaId();
    scriptWa(waId, [{ drop: true }]);
    const m = await replyTo(waId, 20000, false);
    await eventually(async () => attemptsTo(waId).length >= 1, 'the first attempt', 20000, 100);
    await sleep(3000);
    let x = (await shop.get(`unified_messages?id=eq.${m.id}&select=*`))[0];
    if (fakes.wa.sendsTo(waId).length === 1) {
      assert.equal(x.status, 'sent', 'libcurl resent it itself');
      return;
    }
    assert.equal(x.status, 'queued');
    assert.equal(attemptsTo(waId).length, 1, 'not sent again at once');
    await shop.statuses([[wamid(), 'delivered', waId, { bizOpaque: m.id }]]);
    x = await eventually(async () => {
      const y = (await shop.get(`unified_messages?id=eq.${m.id}&select=*`))[0];
      return y.status === 'delivered' && y;
    }, 'settled by its status', 20000, 200);
    assert.equal(x.error, null);
    await sleep(1500);
    assert.equal(attemptsTo(waId).length, 1, 'still one attempt');
  });

  for (const [label, answers] of [
    ['130429 (throughput)', [{ error: 130429 }]],
    ['131056 (pair rate)', [{ error: 131056 }]],
    ['503 then 500', [{ status: 503, body: 'Service Unavailable' }, { status: 500, body: 'oops' }]],
  ]) {
    test(`${label} is retried until sent, once`, async () => {
      const waId = randomWaId();
      scriptWa(waId, answers);
      const m = await replyTo(waId, 60000);
      const sent = await eventually(async () => {
        const x = (await shop.get(`unified_messages?id=eq.${m.id}&select=*`))[0];
        return x.status === 'sent' && x;
      }, `${label}: sent after retries`, 60000, 250);
      assert.equal(attemptsTo(waId).length, answers.length + 1, `${answers.length} failures and one success`);
      assert.equal(fakes.wa.sendsTo(waId).length, 1);
      assert.equal(fakes.wa.sendsTo(waId)[0].wamid, sent.provider_message_id);
    });
  }
});

describe('Telegram errors', () => {
  test('429 with retry_after: waits that long, then sent once', async () => {
    const chatId = Number(randomDigits(9));
    fakes.tg.script.push({ error: 429, retryAfter: 2 });
    const u = shop.bot.message(chatId, 'hi');
    const t0 = Date.now();
    assert.equal((await shop.bot.post(u)).status, 200);
    const inbound = await shop.waitInbound(`${chatId}:${u.message.message_id}`);
    const m = await shop.waitReply(inbound.id, { timeoutMs: 30000 });
    assert.equal(m.status, 'sent', JSON.stringify(m));
    const calls = fakes.tg.calls.filter((c) => c.method === 'sendMessage' && String(c.params.chat_id) === String(chatId));
    assert.equal(calls.length, 2);
    assert.ok(calls[1].at - calls[0].at >= 1900, `retried after ${calls[1].at - calls[0].at} ms, retry_after was 2 s`);
    assert.ok(Date.now() - t0 < 30000);
  });

  test('403 (blocked by the user) fails the message with Telegram\'s text, no retry', async () => {
    const chatId = Number(randomDigits(9));
    fakes.tg.script.push({ error: 403 });
    const u = shop.bot.message(chatId, 'hi');
    assert.equal((await shop.bot.post(u)).status, 200);
    const inbound = await shop.waitInbound(`${chatId}:${u.message.message_id}`);
    const m = await shop.waitReply(inbound.id, { timeoutMs: 30000 });
    assert.equal(m.status, 'failed', JSON.stringify(m));
    assert.match(JSON.stringify(m.error), /403|blocked/i);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(fakes.tg.calls.filter((c) => c.method === 'sendMessage' && String(c.params.chat_id) === String(chatId)).length, 1);
  });
});
