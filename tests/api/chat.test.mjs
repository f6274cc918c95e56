// chat.test.mjs - conversations with the agent over the real webhooks, in
// English, Hinglish and Devanagari: "hi", a price, an order that becomes an
// invoice on "yes", the balance, a UPI payment link, tracking, a handover
// to a person and back; the owner's commands from profiles.owner_phone; a
// Telegram customer. Every reply is checked as it reached the provider fake
// (tests/fakes), its decision (metadata.agent) against what was asked, and
// every number in it against the books read over REST at that moment
// (chat_lib.mjs assertNumbersFromBooks): the agent never invents a number.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';

import { sendText } from '../fakes/whatsapp.mjs';
import {
  REP, Shop, assertNumbersFromBooks, assertShowsAmount, eventually, milli, paise, randomDigits, randomWaId, sleep, startFakes,
} from './chat_lib.mjs';

let fakes;
let shop;

before(async () => {
  fakes = await startFakes();
  shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg });
  // The owner writes first, so the owner's 24-hour window is open for the
  // handover notes below.
  await shop.say(shop.ownerWaId, 'hello');
});
after(async () => { await fakes.close(); });

const DEVANAGARI = /[\u0900-\u097F]/;
const rupees = (p) => `${p / 100n}.${String(p % 100n).padStart(2, '0')}`;

/** The expected total of an order (BigInt paise, intra-state GST, rounded half up per line). */
function orderTotal(lines) {
  let t = 0n;
  for (const [p, qty] of lines) {
    const taxable = paise(p.base_price) * BigInt(qty);
    const rate = milli(p.gst_rate) / 1000n; // whole percent here
    const half = (taxable * rate * 2n + 200n) / 400n; // CGST = SGST = taxable * rate / 2 / 100
    t += taxable + 2n * half;
  }
  return t;
}

/** Checks one agent reply as the customer got it; returns {agent, text, send}. */
async function checkReply(r, waId, { action, lang, extraNumbers = [] }) {
  const { reply, inbound } = r;
  assert.equal(reply.direction, 'outbound', JSON.stringify(reply));
  assert.equal(reply.sender, 'agent');
  assert.equal(reply.session_id, inbound.session_id);
  const agent = reply.metadata && reply.metadata.agent;
  assert.ok(agent, `no metadata.agent on the reply: ${JSON.stringify(reply)}`);
  if (action) {
    const want = Array.isArray(action) ? action : [action];
    assert.ok(want.includes(agent.action), `"${inbound.content}" should be ${want.join('|')}, the agent chose ${agent.action}: ${reply.content}`);
  }
  assert.equal(agent.source, 'rules', 'no LLM is configured on this server');
  assert.equal(reply.status, 'sent', `reply not sent: ${JSON.stringify(reply)}`);
  const send = fakes.wa.sends.find((s) => s.wamid === reply.provider_message_id);
  assert.ok(send, `the fake has no send with the reply's provider id ${reply.provider_message_id}`);
  assert.equal(send.to.replace(/^\+/, ''), waId, 'sent to the wrong number');
  assert.equal(send.phoneNumberId, shop.pnid);
  assert.equal(send.token, shop.waToken);
  const text = sendText(send);
  assert.ok(text && text.length > 0, `empty send: ${send.raw}`);
  assert.ok(text.includes(reply.content) || reply.content.includes(text), `what was sent (${JSON.stringify(text)}) is not the logged content (${JSON.stringify(reply.content)})`);
  if (lang === 'hi') assert.match(text, DEVANAGARI, `a Devanagari question gets a Devanagari answer: ${text}`);
  else assert.doesNotMatch(text, DEVANAGARI, `a Latin-script question gets a Latin-script answer: ${text}`);
  const session = await shop.session(inbound.session_id);
  const said = (inbound.content || '').match(/\d+(?:\.\d+)?/g) || [];
  const allow = await shop.allowedNumbers(session.customer_id, [...said, ...extraNumbers]);
  assertNumbersFromBooks(text, allow, `${agent.action} reply`);
  return { agent, text, send, session };
}

const LANGS = {
  en: {
    hi: 'hi', price: 'what is the price of rice?', order: '2 kg atta and 1 bag rice', yes: 'yes',
    balance: 'what is my balance?', pay: 'how do I pay?', track: 'where is my order?',
    handover: 'I want to talk to a person', after: 'hello? anyone there?',
  },
  hinglish: {
    hi: 'namaste', price: 'rice ka rate kya hai', order: '2 kg atta aur 1 bag rice bhej do', yes: 'haan',
    balance: 'mera hisaab bhejo', pay: 'payment kaise karu', track: 'mera order kahan hai',
    handover: 'mujhe insaan se baat karni hai', after: 'koi hai?',
  },
  hi: {
    hi: 'नमस्ते', price: 'चावल का भाव क्या है?', order: '2 किलो आटा और 1 बैग चावल भेज दो', yes: 'हाँ',
    balance: 'मेरा बकाया कितना है?', pay: 'भुगतान कैसे करूँ?', track: 'मेरा ऑर्डर कहाँ है?',
    handover: 'मुझे किसी इंसान से बात करनी है', after: 'कोई है?',
  },
};

const customers = {}; // lang -> {waId, customerId, invoice}

for (const [lang, t] of Object.entries(LANGS)) {
  describe(`a customer conversation in ${lang}`, () => {
    const waId = randomWaId();
    const c = { waId };
    customers[lang] = c;

    test(`"${t.hi}" is answered with a greeting; the session and customer exist`, async () => {
      const r = await shop.say(waId, t.hi, { name: 'Ravi Kumar' });
      const { session } = await checkReply(r, waId, { action: ['greet', 'help'], lang });
      assert.equal(session.channel_id, shop.waChannel.id);
      assert.equal(session.contact_id, waId);
      assert.equal(session.is_bot_active, true);
      assert.ok(session.last_inbound_at, 'last_inbound_at is set');
      assert.ok(session.customer_id, 'the session is linked to a customer');
      const cust = await shop.customer(session.customer_id);
      assert.equal(cust.phone_number, `+${waId}`);
      assert.equal(cust.full_name, 'Ravi Kumar');
      assert.equal(r.inbound.sender, 'customer');
      assert.equal(r.inbound.status, 'received');
      assert.equal(r.inbound.content, t.hi);
      c.customerId = session.customer_id;
      c.sessionId = session.id;
    });

    test(`"${t.price}" states rice's price from the books`, async () => {
      const r = await shop.say(waId, t.price);
      const { agent, text } = await checkReply(r, waId, { action: 'price', lang });
      assert.ok((agent.product_ids || []).includes(shop.products.rice.id), `product_ids should name rice: ${JSON.stringify(agent)}`);
      const rice = shop.products.rice;
      const withGst = orderTotal([[rice, 1]]);
      const shown = [milli(rice.base_price), milli(rupees(withGst))];
      assert.ok(shown.some((v) => text.replace(/,/g, '').match(/\d+(?:\.\d+)?/g)?.some((n) => milli(n) === v)),
        `the reply should state rice's price (${rice.base_price} or ${rupees(withGst)} with GST): ${text}`);
    });

    test(`"${t.order}" reads the lines and states the total, then "${t.yes}" issues the invoice`, async () => {
      const { atta, rice } = shop.products;
      const total = orderTotal([[atta, 2], [rice, 1]]);
      const rounded = ((total + 50n) / 100n) * 100n;
      const r = await shop.say(waId, t.order);
      const lineTotals = [orderTotal([[atta, 2]]), orderTotal([[rice, 1]])].map(rupees);
      const { agent, text } = await checkReply(r, waId, { action: 'order', lang, extraNumbers: [rupees(total), rupees(rounded), ...lineTotals] });
      const items = (agent.items || []).map((i) => [i.product_id, milli(i.quantity)]).sort();
      assert.deepEqual(items, [[atta.id, 2000n], [rice.id, 1000n]].sort(), `items: ${JSON.stringify(agent.items)}`);
      assert.ok(numbersInclude(text, [rupees(total), rupees(rounded)]), `the order reply should state the total ${rupees(total)} (or ${rupees(rounded)} rounded): ${text}`);

      const y = await shop.say(waId, t.yes);
      const { agent: a2, text: t2 } = await checkReply(y, waId, { action: 'confirm_order', lang });
      assert.ok(a2.invoice_id, `no invoice_id: ${JSON.stringify(a2)}`);
      const inv = (await shop.get(`invoices?id=eq.${a2.invoice_id}&select=*,invoice_items(*)`))[0];
      assert.ok(inv, 'the invoice exists');
      assert.equal(inv.customer_id, c.customerId);
      assert.notEqual(inv.status, 'draft');
      assert.ok([total, rounded].includes(paise(inv.total_amount)), `invoice total ${inv.total_amount} vs the stated ${rupees(total)}`);
      const lines = inv.invoice_items.map((i) => [i.product_id, milli(i.quantity)]).sort();
      assert.deepEqual(lines, [[atta.id, 2000n], [rice.id, 1000n]].sort());
      assert.ok(t2.includes(inv.invoice_number), `the confirmation should name ${inv.invoice_number}: ${t2}`);
      assertShowsAmount(t2, inv.total_amount, 'confirmation');
      c.invoice = inv;
    });

    test(`"${t.balance}" states the dues from the ledger`, async () => {
      const r = await shop.say(waId, t.balance);
      const { text } = await checkReply(r, waId, { action: ['balance', 'last_invoice'], lang });
      const cust = await shop.customer(c.customerId);
      assert.ok(paise(cust.total_debt) > 0n);
      assertShowsAmount(text, cust.total_debt, 'balance');
    });

    test(`"${t.pay}" gives a upi://pay link for the amount due`, async () => {
      const r = await shop.say(waId, t.pay);
      const { text } = await checkReply(r, waId, { action: 'pay', lang });
      const m = /upi:\/\/pay\?[^\s)"']+/.exec(text);
      assert.ok(m, `no upi://pay link: ${text}`);
      const q = new URLSearchParams(m[0].slice('upi://pay?'.length));
      assert.equal(q.get('pa'), shop.upi);
      const cust = await shop.customer(c.customerId);
      assert.equal(milli(q.get('am')), milli(cust.total_debt), `am= should be the dues ${cust.total_debt}: ${m[0]}`);
      if (q.get('cu') !== null) assert.equal(q.get('cu'), 'INR');
    });

    test(`"${t.track}" says not shipped, then the shipment's status once there is one`, async () => {
      const r = await shop.say(waId, t.track);
      await checkReply(r, waId, { action: 'track', lang });
      const awb = `AWB${randomDigits(10)}`;
      const s = await shop.rest('POST', 'shipments', {
        body: { invoice_id: c.invoice.id, awb_number: awb, courier_name: 'Delhivery', status: 'in_transit', shipped_at: new Date().toISOString() },
        headers: REP,
      });
      assert.equal(s.status, 201, s.info);
      const r2 = await shop.say(waId, t.track);
      const { text } = await checkReply(r2, waId, { action: 'track', lang });
      assert.ok(text.includes(awb) || /delhivery/i.test(text), `the tracking reply should name the AWB ${awb} or the courier: ${text}`);
      assert.notEqual(text, r.reply.content, 'shipped and not shipped read the same');
    });

    test(`"${t.handover}" hands over: bot off, the owner told, silence until it is turned back on`, async () => {
      const t0 = Date.now();
      const r = await shop.say(waId, t.handover);
      await checkReply(r, waId, { action: 'handover', lang });
      const s = await eventually(async () => { const x = await shop.session(c.sessionId); return x.is_bot_active === false && x; }, 'the bot off for the session');
      assert.equal(s.is_bot_active, false);
      await fakes.wa.waitSends((all) => all.some((x) => x.to.replace(/^\+/, '') === shop.ownerWaId && x.at >= t0), 15000, 'a note to the owner');
      // While handed over, a message is logged and left for the person.
      const { payload, message } = shop.meta.text(waId, t.after);
      assert.equal((await shop.meta.post(payload)).status, 200);
      const inbound = await shop.waitInbound(message.id);
      await sleep(2500);
      assert.equal((await shop.get(`unified_messages?reply_to=eq.${inbound.id}&select=id`)).length, 0, 'the agent answered a handed-over session');
      const u = await shop.session(c.sessionId);
      assert.ok(u.unread_count >= 1, `unread_count: ${u.unread_count}`);
      // The owner answers from the inbox: sent, logged as the owner's.
      const sm = await shop.rpc('send_message', { session_id: c.sessionId, text: 'Ji, main Sharma bol raha hoon.' });
      assert.ok(sm.status === 200 || sm.status === 201, sm.info);
      await fakes.wa.waitSends((all) => all.some((x) => x.to.replace(/^\+/, '') === waId && sendText(x) === 'Ji, main Sharma bol raha hoon.'), 15000, "the owner's reply sent");
      const mine = await shop.get(`unified_messages?session_id=eq.${c.sessionId}&sender=eq.owner&select=*`);
      assert.equal(mine.length, 1);
      await eventually(async () => (await shop.get(`unified_messages?id=eq.${mine[0].id}&select=status`))[0].status === 'sent', 'owner message sent');
      // Back on: the next message is answered.
      const on = await shop.rpc('set_bot_active', { session_id: c.sessionId, active: true });
      assert.ok(on.status === 200 || on.status === 204, on.info);
      assert.equal((await shop.session(c.sessionId)).is_bot_active, true);
      const back = await shop.say(waId, t.hi);
      await checkReply(back, waId, { action: ['greet', 'help'], lang });
    });
  });
}

/** True when text states one of the amounts. */
function numbersInclude(text, amounts) {
  const want = amounts.map((a) => milli(a));
  return (String(text).replace(/,/g, '').match(/\d+(?:\.\d+)?/g) || []).some((n) => want.includes(milli(n)));
}

// ---------------------------------------------------------------------------
describe("the owner's commands from profiles.owner_phone", () => {
  /** The owner says text; checks the reply; returns its text. */
  async function owner(text, action, extra = []) {
    const r = await shop.say(shop.ownerWaId, text);
    const agent = r.reply.metadata && r.reply.metadata.agent;
    assert.ok(agent, JSON.stringify(r.reply));
    assert.equal(agent.action, action, `"${text}" should be ${action}: ${r.reply.content}`);
    assert.equal(r.reply.status, 'sent');
    const send = fakes.wa.sends.find((s) => s.wamid === r.reply.provider_message_id);
    assert.ok(send);
    const out = sendText(send);
    const custs = await shop.get('customers?select=total_debt,phone_number');
    const allow = await shop.allowedNumbers(null, [...extra, ...custs.map((x) => x.total_debt), custs.length,
      custs.filter((x) => paise(x.total_debt) > 0n).length]);
    assertNumbersFromBooks(out, allow, action);
    return { out, reply: r.reply };
  }

  function todayIst() {
    return new Date(Date.now() + 5.5 * 3600 * 1000).toISOString().slice(0, 10);
  }

  test('sales today, in three languages: the sum of today\'s invoices', async () => {
    const invs = await shop.get(`invoices?invoice_date=eq.${todayIst()}&status=neq.cancelled&status=neq.draft&select=total_amount`);
    assert.ok(invs.length >= 3, `the conversations issued invoices today: ${invs.length}`);
    const sum = invs.reduce((a, i) => a + paise(i.total_amount), 0n);
    for (const text of ['sales today', 'aaj ki bikri', 'आज की बिक्री']) {
      const { out } = await owner(text, 'owner_sales_today', [rupees(sum), invs.length]);
      assertShowsAmount(out, rupees(sum), text);
    }
  });

  test('who owes me: the debtors with their dues', async () => {
    const debtors = (await shop.get('customers?total_debt=gt.0&select=full_name,total_debt&order=total_debt.desc'));
    assert.ok(debtors.length >= 3);
    for (const text of ['who owes me', 'kisne paise dene hai']) {
      const { out } = await owner(text, 'owner_debtors');
      assertShowsAmount(out, debtors[0].total_debt, text);
    }
  });

  test('stock of rice: the stock from the books', async () => {
    const rice = (await shop.get(`products?id=eq.${shop.products.rice.id}&select=current_stock`))[0];
    assert.equal(milli(rice.current_stock), 97000n, 'three bags sold');
    const { out } = await owner('stock of rice', 'owner_stock');
    assertShowsAmount(out, rice.current_stock, 'stock');
  });

  test('remind all debtors: one reminder each, a template where the window is closed', async () => {
    // A debtor who never wrote on WhatsApp: the window is closed for them.
    const phone = randomWaId();
    const cu = await shop.rest('POST', 'customers', { body: { full_name: 'Old Debtor', phone_number: `+${phone}`, state_code: '27' }, headers: REP });
    assert.equal(cu.status, 201, cu.info);
    const inv = await shop.rpc('create_invoice', { customer_id: cu.json[0].id, items: [{ product_id: shop.products.oil.id, quantity: 2 }] });
    assert.ok(inv.status === 200 || inv.status === 201, inv.info);
    const t0 = Date.now();
    const debtors = await shop.get('customers?total_debt=gt.0&select=id,phone_number,total_debt');
    // Counts in the acknowledgement (sent, skipped) are at most the debtors.
    await owner('remind all debtors', 'owner_remind_all', Array.from({ length: debtors.length + 1 }, (_, k) => k));
    const wa = debtors.filter((d) => d.phone_number).map((d) => d.phone_number.replace(/^\+/, ''));
    const missing = () => wa.filter((w) => !fakes.wa.sends.some((s) => s.at >= t0 && s.to.replace(/^\+/, '') === w));
    await fakes.wa.waitSends(() => missing().length === 0, 20000, 'a reminder to each debtor').catch(() => {});
    assert.deepEqual(missing(), [], `debtors without a reminder (${phone} never wrote: a template should reach them)`);
    await sleep(1500);
    for (const w of wa) {
      const got = fakes.wa.sends.filter((s) => s.at >= t0 && s.to.replace(/^\+/, '') === w);
      assert.equal(got.length, 1, `one reminder to ${w}, got ${got.length}`);
    }
    const old = fakes.wa.sends.find((s) => s.at >= t0 && s.to.replace(/^\+/, '') === phone);
    assert.equal(old.body.type, 'template', `closed window: a template, not ${old.body.type}`);
    assert.equal(old.body.template.name, 'payment_reminder');
    const open = fakes.wa.sends.find((s) => s.at >= t0 && s.to.replace(/^\+/, '') === customers.en.waId);
    assert.notEqual(open.body.type, 'template', 'open window: free text');
    // The reminder's amount is the customer's dues.
    const dues = debtors.find((d) => d.phone_number === `+${customers.en.waId}`).total_debt;
    assertShowsAmount(sendText(open), dues, 'reminder');
  });
});

// ---------------------------------------------------------------------------
describe('a Telegram customer', () => {
  const chatId = Number(randomDigits(9));

  test('"hi" and a price question are answered through sendMessage', async () => {
    const r = await shop.tgSay(chatId, 'hi');
    assert.equal(r.reply.metadata.agent.action === 'greet' || r.reply.metadata.agent.action === 'help', true, r.reply.content);
    const sent = fakes.tg.sentTo(chatId);
    assert.equal(sent.length, 1);
    assert.equal(sent[0].token, shop.botToken);
    assert.equal(String(sent[0].params.text), r.reply.content);
    assert.equal(r.reply.status, 'sent');
    const session = await shop.session(r.inbound.session_id);
    assert.equal(session.channel_id, shop.tgChannel.id);
    assert.equal(session.contact_id, String(chatId));

    const p = await shop.tgSay(chatId, 'price of oil?');
    assert.equal(p.reply.metadata.agent.action, 'price');
    assert.ok(p.reply.metadata.agent.product_ids.includes(shop.products.oil.id));
    const allow = await shop.allowedNumbers(session.customer_id);
    assertNumbersFromBooks(p.reply.content, allow, 'telegram price');
    assert.equal(fakes.tg.sentTo(chatId).length, 2);
  });

  test('an edited message changes the logged text, once; a button press (callback_query) is a message the agent answers', async () => {
    const u = shop.bot.message(chatId, 'price of atta');
    assert.equal((await shop.bot.post(u)).status, 200);
    const pid = `${chatId}:${u.message.message_id}`;
    const m = await shop.waitInbound(pid);
    await shop.waitReply(m.id);
    const e = shop.bot.message(chatId, 'price of rice', { edited: true, messageId: u.message.message_id });
    assert.equal((await shop.bot.post(e)).status, 200);
    assert.equal((await shop.bot.post(e)).status, 200);
    await eventually(async () => (await shop.get(`unified_messages?id=eq.${m.id}&select=content`))[0].content === 'price of rice', 'the edit applied');
    assert.equal((await shop.get(`unified_messages?provider_message_id=eq.${pid}&select=id`)).length, 1);
    const cb = shop.bot.callback(chatId, 'hi');
    assert.equal((await shop.bot.post(cb)).status, 200);
    const cm = await eventually(async () => (await shop.get(`unified_messages?session_id=eq.${m.session_id}&direction=eq.inbound&content=eq.hi&select=*&order=created_at.desc`))[0], 'the button press logged');
    const reply = await shop.waitReply(cm.id);
    assert.ok(['greet', 'help'].includes(reply.metadata.agent.action), reply.content);
  });

  test("the owner links a Telegram chat with a one-time code; its messages are then commands", async () => {
    const ownerChat = Number(randomDigits(9));
    const l = await shop.rpc('link_owner_telegram', { channel_id: shop.tgChannel.id });
    assert.equal(l.status, 200, l.info);
    assert.ok(l.json.code, l.info);
    assert.equal(l.json.command, `/start ${l.json.code}`);
    const ch = (await shop.get(`channels?id=eq.${shop.tgChannel.id}&select=owner_link_code,owner_link_expires_at`))[0];
    assert.equal(ch.owner_link_code, null, 'the code is a secret: it reads as null');
    // A wrong code links nothing: the chat stays a customer.
    const wrong = shop.bot.message(ownerChat, '/start NOTTHECODE');
    assert.equal((await shop.bot.post(wrong)).status, 200);
    const u = shop.bot.message(ownerChat, l.json.command);
    assert.equal((await shop.bot.post(u)).status, 200);
    await shop.waitInbound(`${ownerChat}:${u.message.message_id}`);
    await eventually(async () => (await shop.get(`channels?id=eq.${shop.tgChannel.id}&select=owner_chat_id`))[0].owner_chat_id === String(ownerChat), 'owner_chat_id set');
    const r = await shop.tgSay(ownerChat, 'aaj ki bikri');
    assert.equal(r.reply.metadata.agent.action, 'owner_sales_today', r.reply.content);
    // The code was used once: another chat cannot link with it.
    const intruder = Number(randomDigits(9));
    const v = shop.bot.message(intruder, l.json.command);
    assert.equal((await shop.bot.post(v)).status, 200);
    const x = await shop.tgSay(intruder, 'sales today');
    assert.notEqual(x.reply.metadata.agent.action, 'owner_sales_today', 'a used code must not link another chat');
    assert.equal((await shop.get(`channels?id=eq.${shop.tgChannel.id}&select=owner_chat_id`))[0].owner_chat_id, String(ownerChat));
  });

  test('the same update twice is one message; a wrong secret is 401 and stores nothing', async () => {
    const sentBefore = fakes.tg.sentTo(chatId).length;
    const u = shop.bot.message(chatId, 'thanks');
    assert.equal((await shop.bot.post(u)).status, 200);
    assert.equal((await shop.bot.post(u)).status, 200);
    const pid = `${chatId}:${u.message.message_id}`;
    const m = await shop.waitInbound(pid);
    await shop.waitReply(m.id);
    await sleep(1000);
    assert.equal((await shop.get(`unified_messages?provider_message_id=eq.${pid}&select=id`)).length, 1);
    assert.equal(fakes.tg.sentTo(chatId).length, sentBefore + 1, 'one reply to the one message');

    const before = await shop.countMessages();
    const bad = shop.bot.message(chatId, 'hi again');
    for (const secret of [null, 'wrong-secret', `${shop.tgSecret}x`]) {
      const r = await shop.bot.post(bad, { secret });
      assert.equal(r.status, 401, r.info);
    }
    await sleep(1000);
    assert.equal(await shop.countMessages(), before);
  });
});
