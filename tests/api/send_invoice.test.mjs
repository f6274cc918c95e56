// send_invoice.test.mjs - rpc/send_invoice end to end, on the suite's
// database (run.sh runs it on SQLite and PostgreSQL): an issued invoice goes
// to its customer on WhatsApp as a document — munshi renders the invoice
// PDF when the outbox sends it, uploads it to the media endpoint as
// multipart/form-data (the fake parses it byte for byte and keeps the file)
// and sends a document message naming the media id, with a caption that
// has the invoice number, the amount due and the UPI link. The file the
// fake got is a PDF whose text (pdftotext) has the invoice number. Refusals
// (no token, a bad id, another business's invoice, a draft, a cancelled
// invoice, a customer without a phone) answer clearly and write nothing;
// a customer who never wrote (closed 24-hour window) gets no document and
// the message fails with window_closed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import { Shop, eventually, randomWaId, startFakes, REP } from './chat_lib.mjs';
import { expectPgError, randomUuid, rest } from './lib.mjs';

let fakes;
let shop;

before(async () => {
  fakes = await startFakes();
  shop = await Shop.open({ wa: fakes.wa, tg: fakes.tg, telegram: false });
});
after(async () => { await fakes.close(); });

async function customer(phone, name = 'Ramesh Kumar') {
  const r = await shop.rest('POST', 'customers', { body: { full_name: name, phone_number: phone, state_code: '27' }, headers: REP });
  assert.equal(r.status, 201, r.info);
  return r.json[0];
}

async function invoice(customerId, { draft = false, quantity = 2 } = {}) {
  const r = await shop.rpc('create_invoice', { customer_id: customerId, items: [{ product_id: shop.products.oil.id, quantity }], ...(draft ? { draft: true } : {}) });
  assert.ok(r.status === 200 || r.status === 201, r.info);
  return r.json;
}

async function messageCount() {
  return (await shop.get('unified_messages?direction=eq.outbound&select=id')).length;
}

function pdfText(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'munshi-send-'));
  try {
    const f = join(dir, 'in.pdf');
    writeFileSync(f, bytes);
    return execFileSync('pdftotext', ['-layout', f, '-'], { encoding: 'utf8' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('rpc/send_invoice', () => {
  test('refusals answer clearly and write nothing', async () => {
    const waId = randomWaId();
    const c = await customer(`+${waId}`);
    const noPhone = await customer(null, 'No Phone');
    const inv = await invoice(c.id);
    const draft = await invoice(c.id, { draft: true });
    const cancelled = await invoice(c.id);
    const x = await shop.rpc('cancel_invoice', { invoice_id: cancelled.id, reason: 'wrong items' });
    assert.equal(x.status, 200, x.info);
    const np = await invoice(noPhone.id);
    const before = await messageCount();
    expectPgError(await rest('POST', 'rpc/send_invoice', { body: { invoice_id: inv.id } }), 401);
    expectPgError(await shop.rpc('send_invoice', {}), 400, 'MU400');
    expectPgError(await shop.rpc('send_invoice', { invoice_id: 'nope' }), 400, 'MU400');
    expectPgError(await shop.rpc('send_invoice', { invoice_id: inv.id, extra: 1 }), 400, 'MU400');
    expectPgError(await shop.rpc('send_invoice', { invoice_id: randomUuid() }), 404, 'MU404');
    let r = await shop.rpc('send_invoice', { invoice_id: draft.id });
    expectPgError(r, 409, 'MU409');
    assert.match(r.info, /draft/);
    r = await shop.rpc('send_invoice', { invoice_id: cancelled.id });
    expectPgError(r, 409, 'MU409');
    assert.match(r.info, /cancelled/);
    r = await shop.rpc('send_invoice', { invoice_id: np.id });
    expectPgError(r, 409, 'MU409');
    assert.match(r.info, /phone/);
    // Another business's invoice is not found.
    const other = await Shop.open({ wa: fakes.wa, tg: fakes.tg, telegram: false });
    expectPgError(await other.rpc('send_invoice', { invoice_id: inv.id }), 404, 'MU404');
    assert.equal(await messageCount(), before);
  });

  test('an issued invoice goes out as a WhatsApp document: the PDF uploaded, then sent by media id', async () => {
    const waId = randomWaId();
    const c = await customer(`+${waId}`);
    await shop.say(waId, 'hi', { name: 'Ramesh Kumar' }); // the window opens
    const inv = await invoice(c.id, { quantity: 3 });
    const r = await shop.rpc('send_invoice', { invoice_id: inv.id });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.status, 'queued');
    assert.equal(r.json.window_open, true);
    const fname = `${inv.invoice_number.replace(/[^A-Za-z0-9._-]/g, '-')}.pdf`;
    assert.equal(r.json.filename, fname);
    const send = await eventually(async () => fakes.wa.sendsTo(waId).find((s) => s.body.type === 'document'), 'the document message', 30000);
    const doc = send.body.document;
    assert.equal(doc.filename, fname);
    assert.ok(doc.id && !doc.link, JSON.stringify(doc));
    assert.match(doc.caption, new RegExp(`Invoice ${inv.invoice_number}`));
    assert.match(doc.caption, /Amount due: ₹/);
    assert.match(doc.caption, new RegExp(`upi://pay\\?pa=${encodeURIComponent(shop.upi)}&`));
    assert.match(doc.caption, new RegExp(`am=${Number(inv.balance_due).toFixed(2)}&`));
    // The upload the message names: a PDF of this invoice.
    const media = fakes.wa.mediaOf(send);
    assert.ok(media, 'the media id is one the fake gave');
    assert.equal(media.phoneNumberId, shop.pnid);
    assert.equal(media.token, shop.waToken);
    assert.equal(media.type, 'application/pdf');
    assert.equal(media.contentType, 'application/pdf');
    assert.equal(media.filename, fname);
    assert.equal(media.data.subarray(0, 5).toString('latin1'), '%PDF-');
    const text = pdfText(media.data);
    assert.ok(text.includes(inv.invoice_number), text.slice(0, 2000));
    // The message row: sent, by the owner, as a document.
    const m = await eventually(async () => {
      const x = (await shop.get(`unified_messages?id=eq.${r.json.message_id}&select=*`))[0];
      return x && x.status === 'sent' ? x : null;
    }, 'the message sent');
    assert.equal(m.message_type, 'document');
    assert.equal(m.provider_message_id, send.wamid);
    assert.equal(m.metadata.document.source, 'invoice');
    assert.equal(m.metadata.document.ref, inv.id);
  });

  test('a customer who never wrote: the document is not sent (window_closed)', async () => {
    const waId = randomWaId();
    const c = await customer(`+${waId}`);
    const inv = await invoice(c.id);
    const uploads = fakes.wa.media.length;
    const r = await shop.rpc('send_invoice', { invoice_id: inv.id });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.window_open, false);
    const m = await eventually(async () => {
      const x = (await shop.get(`unified_messages?id=eq.${r.json.message_id}&select=*`))[0];
      return x && x.status === 'failed' ? x : null;
    }, 'the message failed');
    assert.equal(m.error.code, 'window_closed');
    assert.equal(fakes.wa.sendsTo(waId).length, 0);
    assert.equal(fakes.wa.media.length, uploads);
  });
});
