// providers.test.mjs - the dashboard against the providers' fakes, in
// Chromium: Shiprocket connected from the settings screen (its webhook token
// generated there is the one a webhook must carry, which proves the secret
// was stored though the page never shows it again); an invoice shipped
// through the ship form - a 422 with field errors shown by field, then the
// same form again making the shipment (one Shiprocket order); the shipment's
// page following a webhook's scans live and "Track now"; the PDF opened from
// the invoice (a PDF with the invoice number); the UPI QR; a Razorpay payment
// link shown with its short URL.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { httpRaw, rest, signup } from '../api/lib.mjs';
import { RazorpayFake } from '../fakes/razorpay.mjs';
import { FakeShiprocket, scan, webhookPayload } from '../fakes/shiprocket.mjs';
import { go, launch, newPage, noErrors, shoot, signIn, waitLive } from './lib.mjs';

let browser;
let user;
let customer;
let product;
const sr = new FakeShiprocket();
const SR_EMAIL = 'api@parcels.example';
const SR_PASSWORD = 'sr-' + Math.random().toString(36).slice(2);
const RZP_KEY = 'rzp_test_Browser42';
const RZP_SECRET = 'rzp-' + Math.random().toString(36).slice(2);
const rzp = new RazorpayFake({ [RZP_KEY]: RZP_SECRET });

const REP = { Prefer: 'return=representation' };
const as = (method, path, body) => rest(method, path, { token: user.token, body, headers: REP });

async function issuedInvoice() {
  const r = await rest('POST', 'rpc/create_invoice', {
    token: user.token, body: { customer_id: customer.id, items: [{ product_id: product.id, quantity: 3 }] },
  });
  assert.equal(r.status, 200, r.info);
  return r.json;
}

before(async () => {
  await sr.listen(Number(process.env.MUNSHI_TEST_SR_PORT || 0));
  await rzp.listen(Number(process.env.MUNSHI_TEST_RZP_PORT || 0));
  sr.accounts[SR_EMAIL] = SR_PASSWORD;
  user = await signup({ data: { business_name: 'Parcel Wala' } });
  const p = await as('PATCH', `profiles?id=eq.${user.userId}`, { state_code: '27', upi_id: 'parcelwala@upi', address: '1 Shop Lane, Pune', gst_number: '27AAPFU0939F1ZV' });
  assert.equal(p.status, 200, p.info);
  const c = await as('POST', 'customers', {
    full_name: 'Sunita Rao', phone_number: '+919812300000', email: 'sunita@example.com', state_code: '27',
    address: '7 FC Road', city: 'Pune', pincode: '411004',
  });
  assert.equal(c.status, 201, c.info);
  customer = c.json[0];
  const ps = await as('POST', 'products', { name: 'Masala Box', sku: 'MSL', hsn_code: '0910', unit: 'pcs', gst_rate: 5, base_price: '80.00', current_stock: 50 });
  assert.equal(ps.status, 201, ps.info);
  product = ps.json[0];
  browser = await launch();
});

after(async () => {
  if (browser) await browser.close();
  await sr.close();
  await rzp.close();
});

test('Shiprocket from settings to a delivered parcel, and the invoice\'s PDF, QR and payment link', async () => {
  const page = await newPage(browser);
  await signIn(page, user);

  // Connect both providers on the settings screen.
  await go(page, '#/settings', 'settings');
  const f = page.locator('[data-form=integration][data-provider=shiprocket]');
  await f.locator('[name=email]').fill(SR_EMAIL);
  await f.locator('[name=password]').fill(SR_PASSWORD);
  await f.locator('[data-action=generate]').click();
  const token = await f.locator('[name=webhook_token]').inputValue();
  await f.locator('[name=pickup_location]').fill('Home');
  await f.locator('[data-action=save-integration]').click();
  await page.locator('[data-provider=shiprocket] [data-field=status][data-status=connected]').waitFor();
  const rz = page.locator('[data-form=integration][data-provider=razorpay]');
  await rz.locator('[name=key_id]').fill(RZP_KEY);
  await rz.locator('[name=key_secret]').fill(RZP_SECRET);
  await rz.locator('[data-action=save-integration]').click();
  await page.locator('[data-provider=razorpay] [data-field=status][data-status=connected]').waitFor();
  const integ = (await as('GET', 'integrations?provider=eq.shiprocket&select=id')).json[0];

  // Ship: Shiprocket refuses the first order with field errors.
  const inv = await issuedInvoice();
  await go(page, `#/invoices/${inv.id}`, 'invoices');
  await page.locator('[data-action=ship]').click();
  const form = page.locator('[data-form=ship]');
  await form.locator('[name=length]').fill('20');
  await form.locator('[name=breadth]').fill('15.5');
  await form.locator('[name=height]').fill('10');
  await form.locator('[name=weight]').fill('1.25');
  await form.locator('[name=payment_method]').selectOption('prepaid');
  sr.script['/orders/create/adhoc'] = [{
    status: 422, body: { message: 'Oops! Invalid Data.', errors: { length: ['The length must be at least 0.5.'], billing_pincode: ['Pincode is not serviceable.'] }, status_code: 422 },
  }];
  await form.locator('[data-action=create-shipment]').click();
  await form.locator('[data-error=length]:not([hidden])', { hasText: 'at least 0.5' }).waitFor();
  await form.locator('[data-field-error=billing_pincode]', { hasText: 'not serviceable' }).waitFor();
  await shoot(page, 'ship-refused');
  // The same form again: the shipment goes through, one order.
  await form.locator('[data-action=create-shipment]').click();
  await page.locator('[data-field=shipment] .badge[data-status=pickup_scheduled]').waitFor();
  const ship = (await as('GET', `shipments?invoice_id=eq.${inv.id}&select=*`)).json[0];
  assert.equal(sr.ordersFor(ship.id).length, 1, 'one Shiprocket order');
  assert.equal(ship.length_cm, 20);

  // The shipment's page: a webhook with the token from the settings screen.
  await page.locator('[data-field=shipment]').click();
  await waitLive(page, 'shipments');
  await page.locator('[data-action=label]').waitFor();
  const hook = (payload) => httpRaw({
    method: 'POST', path: `/webhooks/courier/${integ.id}`,
    headers: { 'Content-Type': 'application/json', 'x-api-key': token }, body: JSON.stringify(payload),
  });
  const t0 = new Date(Date.now() - 3600e3);
  let r = await hook(webhookPayload(ship.awb_number, 42, [scan(42, t0, 'Shipment picked up', 'PUNE, MAHARASHTRA')]));
  assert.equal(r.status, 200, r.text);
  await page.locator('[data-screen=shipments] .badge[data-status=picked_up]').first().waitFor();
  await page.locator('[data-list=scans] .item', { hasText: 'Shipment picked up' }).waitFor();
  // Track now: the courier's newer scan.
  sr.track(ship.awb_number, 17, { activity: 'Out for delivery', location: 'PUNE, MAHARASHTRA' });
  await page.locator('[data-action=track]').click();
  await page.locator('[data-screen=shipments] .badge[data-status=out_for_delivery]').first().waitFor();
  await page.locator('[data-list=scans] .item', { hasText: 'Out for delivery' }).waitFor();
  await shoot(page, 'shipment-tracked');

  // The invoice's PDF, in a new tab, with the token in the query.
  await go(page, `#/invoices/${inv.id}`, 'invoices');
  const [pdf] = await Promise.all([
    page.context().waitForEvent('response', (res) => res.url().includes(`/invoices/${inv.id}.pdf?access_token=`)),
    page.locator('[data-action=pdf]').click(),
  ]);
  assert.equal(pdf.status(), 200);
  assert.equal(pdf.headers()['content-type'], 'application/pdf');
  // The UPI QR of the amount due.
  await page.locator('[data-action=upi-qr]').click();
  const upi = page.locator('[data-form=upi]');
  await upi.locator('img[data-field=qr]').waitFor();
  const link = await upi.locator('[data-field=upi-link]').textContent();
  assert.match(link, /^upi:\/\/pay\?pa=parcelwala%40upi&/);
  assert.match(link, new RegExp(`tr=${encodeURIComponent(inv.invoice_number).replace(/[/]/g, '%2F')}`));
  await shoot(page, 'invoice-upi');
  await upi.locator('[data-close]').click();
  // A payment link from Razorpay.
  await page.locator('[data-action=payment-link]').click();
  await page.locator('[data-field=payment-link] [data-field=short-url]').waitFor();
  const url = await page.locator('[data-field=short-url]').textContent();
  const pl = (await as('GET', `payment_links?invoice_id=eq.${inv.id}&select=short_url`)).json;
  assert.equal(pl.length, 1);
  assert.equal(url, pl[0].short_url);
  await shoot(page, 'invoice-paylink');
  noErrors(page);
  await page.context().close();
});
