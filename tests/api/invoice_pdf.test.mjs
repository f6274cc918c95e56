// invoice_pdf.test.mjs - GET /invoices/<id>.pdf and rpc/invoice_upi over
// HTTP: the owner's token in the Authorization header or as access_token in
// the query (so a link opens in a browser), the PDF's headers (type, inline
// file name from the invoice number, no caching), its text read back with
// pdftotext, and the refusals: no token 401, another business's invoice 404
// (as a missing one), a malformed id 400, a path that is no .pdf 404.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { before, test } from 'node:test';

import { ANON_KEY, BASE, SERVICE_KEY, expectPgError, randomUuid, rest, signup } from './lib.mjs';

const REP = { Prefer: 'return=representation' };

let A;
let B;
let invoice; // A's issued invoice

/** GET path as bytes (fetch keeps the binary body). */
async function get(path, headers = {}) {
  const r = await fetch(BASE + path, { headers });
  const body = Buffer.from(await r.arrayBuffer());
  let json;
  try { json = JSON.parse(body.toString('utf8')); } catch { json = undefined; }
  return {
    status: r.status, body, json, header: (n) => r.headers.get(n),
    info: `GET ${path} -> ${r.status} ${body.subarray(0, 200).toString('utf8')}`,
  };
}

// -layout keeps a row on one line; -raw keeps the content stream's order,
// which is the reading order of shaped Devanagari (layout mode guesses word
// gaps from glyph positions and splits some vowel signs off).
function pdfText(buf, mode = '-layout') {
  return execFileSync('pdftotext', [mode, '-', '-'], { input: buf }).toString('utf8');
}

before(async () => {
  A = await signup();
  B = await signup();
  const p = await rest('PATCH', `profiles?id=eq.${A.userId}`, {
    token: A.token,
    body: { business_name: 'Gupta Kirana', state_code: '27', address: '3 Laxmi Road, Pune', upi_id: 'gupta@upi' },
  });
  assert.ok(p.status === 204 || p.status === 200, p.info);
  const prod = await rest('POST', 'products', {
    token: A.token, headers: REP,
    body: { name: 'Toor Dal', hsn_code: '0713', unit: 'kg', gst_rate: 5, base_price: 140, current_stock: 100 },
  });
  assert.equal(prod.status, 201, prod.info);
  const cust = await rest('POST', 'customers', {
    token: A.token, headers: REP,
    body: { full_name: 'सीता देवी', phone_number: '+919811100001', state_code: '29', city: 'Mysuru', pincode: '570001' },
  });
  assert.equal(cust.status, 201, cust.info);
  const inv = await rest('POST', 'rpc/create_invoice', {
    token: A.token,
    body: { customer_id: cust.json[0].id, items: [{ product_id: prod.json[0].id, quantity: 2 }] },
  });
  assert.equal(inv.status, 200, inv.info);
  invoice = inv.json;
});

test('the owner gets the PDF with the token in the header', async () => {
  const r = await get(`/invoices/${invoice.id}.pdf`, { Authorization: `Bearer ${A.token}` });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.header('content-type'), 'application/pdf');
  const file = `${invoice.invoice_number.replaceAll('/', '-')}.pdf`;
  assert.equal(r.header('content-disposition'), `inline; filename="${file}"`);
  assert.match(r.header('cache-control'), /private/);
  assert.match(r.header('cache-control'), /no-store/);
  assert.equal(r.body.subarray(0, 5).toString('latin1'), '%PDF-');
  const text = pdfText(r.body);
  assert.ok(text.includes(invoice.invoice_number), text);
  assert.ok(text.includes('Gupta Kirana'), text);
  assert.ok(pdfText(r.body, '-raw').includes('सीता देवी'), pdfText(r.body, '-raw'));
  assert.ok(text.includes('Place of Supply: Karnataka (29)'), text);
  assert.ok(text.includes('ORIGINAL FOR RECIPIENT'), text);
  // 2 kg at 140.00 = 280.00 + 5% IGST 14.00 = 294.00
  assert.ok(text.includes('Rupees Two Hundred Ninety-Four Only'), text);
});

test('the token as access_token in the query opens it too (a browser link)', async () => {
  const r = await get(`/invoices/${invoice.id}.pdf?access_token=${encodeURIComponent(A.token)}`);
  assert.equal(r.status, 200, r.info);
  assert.equal(r.body.subarray(0, 5).toString('latin1'), '%PDF-');
});

test('without a token: 401; the anon key alone: 401; the service key: 403', async () => {
  expectPgError(await get(`/invoices/${invoice.id}.pdf`), 401);
  expectPgError(await get(`/invoices/${invoice.id}.pdf`, { apikey: ANON_KEY }), 401);
  const bad = await get(`/invoices/${invoice.id}.pdf?access_token=not.a.jwt`);
  expectPgError(bad, 401);
  const svc = await get(`/invoices/${invoice.id}.pdf`, { Authorization: `Bearer ${SERVICE_KEY}` });
  expectPgError(svc, 403);
});

test("another business's invoice is 404, like a missing one", async () => {
  const other = await get(`/invoices/${invoice.id}.pdf`, { Authorization: `Bearer ${B.token}` });
  expectPgError(other, 404, 'MU404');
  const none = await get(`/invoices/${randomUuid()}.pdf`, { Authorization: `Bearer ${A.token}` });
  expectPgError(none, 404, 'MU404');
  assert.equal(other.json.message.replace(invoice.id, 'X'), none.json.message.replace(/[0-9a-f-]{36}/, 'X'));
});

test('a malformed id is 400; a path that is no .pdf is 404', async () => {
  const auth = { Authorization: `Bearer ${A.token}` };
  expectPgError(await get('/invoices/not-a-uuid.pdf', auth), 400, '22P02');
  expectPgError(await get(`/invoices/${invoice.id}.txt`, auth), 404);
  expectPgError(await get(`/invoices/${invoice.id}`, auth), 404);
  expectPgError(await get('/invoices/.pdf', auth), 404);
});

test('rpc/invoice_upi answers the UPI link, the amount due and the QR as SVG', async () => {
  const r = await rest('POST', 'rpc/invoice_upi', { token: A.token, body: { invoice_id: invoice.id } });
  assert.equal(r.status, 200, r.info);
  assert.equal(r.json.reference, invoice.invoice_number);
  assert.match(r.text, /"amount_due":294\.00/);
  const tr = encodeURIComponent(invoice.invoice_number);
  assert.equal(r.json.upi_link,
    `upi://pay?pa=gupta%40upi&pn=Gupta%20Kirana&am=294.00&cu=INR&tn=Invoice%20${tr}&tr=${tr}`);
  assert.match(r.json.qr_svg, /^<svg [^>]*viewBox="0 0 \d+ \d+"/);
  const other = await rest('POST', 'rpc/invoice_upi', { token: B.token, body: { invoice_id: invoice.id } });
  expectPgError(other, 404, 'MU404');
  expectPgError(await rest('POST', 'rpc/invoice_upi', { token: A.token, body: {} }), 400, 'MU400');
  expectPgError(await rest('POST', 'rpc/invoice_upi', { body: { invoice_id: invoice.id } }), 401);
});

// Rendering is CPU work of up to a second for the largest invoices; it runs
// on a pool of its own (two at a time, a bounded queue, 503 beyond it), so
// the HTTP workers keep answering everything else while PDFs render. Eight
// renders of a 500-line invoice of long Devanagari names on the two HTTP
// workers kept /health waiting for seconds.
test('/health and REST answer while large PDFs render', async () => {
  const prod = await rest('POST', 'products', {
    token: A.token, headers: REP,
    body: { name: 'प्र'.repeat(330), hsn_code: '6204', unit: 'pcs', gst_rate: 18, base_price: 1.01, current_stock: 100000 },
  });
  assert.equal(prod.status, 201, prod.info);
  const cust = await rest('POST', 'customers', {
    token: A.token, headers: REP,
    body: { full_name: 'Bulk Buyer', phone_number: '+919811100077', state_code: '27' },
  });
  assert.equal(cust.status, 201, cust.info);
  const items = Array.from({ length: 500 }, () => ({ product_id: prod.json[0].id, quantity: 1 }));
  const inv = await rest('POST', 'rpc/create_invoice', {
    token: A.token, body: { customer_id: cust.json[0].id, items },
  });
  assert.equal(inv.status, 200, inv.info);
  const path = `/invoices/${inv.json.id}.pdf`;
  const auth = { Authorization: `Bearer ${A.token}`, apikey: ANON_KEY };
  const t0 = Date.now();
  const one = await get(path, auth);
  assert.equal(one.status, 200, one.info);
  const single = Date.now() - t0;

  const burst = Promise.all(Array.from({ length: 8 }, () => get(path, auth)));
  await new Promise((r) => setTimeout(r, 100));
  const h0 = Date.now();
  const h = await fetch(`${BASE}/health`);
  await h.text();
  const health = Date.now() - h0;
  const r0 = Date.now();
  const list = await rest('GET', 'customers?select=id&limit=1', { token: A.token });
  const read = Date.now() - r0;
  const all = await burst;
  assert.equal(h.status, 200);
  assert.equal(list.status, 200, list.info);
  for (const r of all) assert.ok(r.status === 200 || r.status === 503, r.info);
  assert.ok(all.some((r) => r.status === 200));
  // Eight renders queued behind two workers would take 4 x one render.
  assert.ok(health < Math.max(1000, single), `health took ${health} ms (one PDF: ${single} ms)`);
  assert.ok(read < Math.max(1000, single), `a REST read took ${read} ms (one PDF: ${single} ms)`);
});
