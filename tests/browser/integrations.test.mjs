// integrations.test.mjs - the dashboard's screens for issue 10, in Chromium:
//  - settings: the business profile saved; the Shiprocket and Razorpay
//    integrations saved through the forms, their secrets written (the
//    server refuses nothing) but never shown: the fields are empty after a
//    save and after a reload, the page's HTML never holds them, a secret
//    reads "set"; the webhook URL to paste; a refused key id shown and
//    nothing written;
//  - customers: city and PIN code on a new customer, a PIN code that is not
//    one refused before anything is sent, the edit form (a change and a
//    cleared field, as the server stores them);
//  - shipments: the list and a shipment's page follow the status live (a
//    change made over REST shows without a reload), the invoice's page
//    links its shipment and offers its actions (PDF, send, UPI QR, payment
//    link; ship only without a live shipment), the ship form's own checks;
//  - screenshots of the new screens at phone and desktop size.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { rest, signup } from '../api/lib.mjs';
import { BASE, go, launch, newPage, noErrors, shoot, signIn, waitLive } from './lib.mjs';

let browser;
let user;
let customer;
let product;

const REP = { Prefer: 'return=representation' };
const as = (method, path, body) => rest(method, path, { token: user.token, body, headers: REP });

async function issuedInvoice() {
  const r = await rest('POST', 'rpc/create_invoice', {
    token: user.token,
    body: { customer_id: customer.id, items: [{ product_id: product.id, quantity: 2 }] },
  });
  assert.equal(r.status, 200, r.info);
  return r.json;
}

before(async () => {
  user = await signup({ data: { business_name: 'Browser Parcels' } });
  const p = await as('PATCH', `profiles?id=eq.${user.userId}`, { state_code: '27' });
  assert.equal(p.status, 200, p.info);
  const c = await as('POST', 'customers', {
    full_name: 'Meera Traders', phone_number: '+919876512345', state_code: '27',
    address: '12 MG Road', city: 'Pune', pincode: '411001',
  });
  assert.equal(c.status, 201, c.info);
  customer = c.json[0];
  const ps = await as('POST', 'products', { name: 'Tea 250 g', sku: 'TEA', hsn_code: '0902', unit: 'pcs', gst_rate: 5, base_price: '120.00', current_stock: 40 });
  assert.equal(ps.status, 201, ps.info);
  product = ps.json[0];
  browser = await launch();
});

after(async () => { if (browser) await browser.close(); });

test('settings: the profile and both integrations saved, secrets never shown', async () => {
  const page = await newPage(browser);
  await signIn(page, user);
  await go(page, '#/settings', 'settings');
  const prof = page.locator('[data-form=profile]');
  await prof.waitFor();
  await prof.locator('[name=business_name]').fill('Meera Parcels & Co');
  await prof.locator('[name=gst_number]').fill('27aapfu0939f1zv');
  await prof.locator('[name=upi_id]').fill('meera@upi');
  await prof.locator('[name=invoice_prefix]').fill('MP');
  await prof.locator('[name=owner_phone]').fill('+91 98200 11111');
  await prof.locator('[data-action=save-profile]').click();
  await page.locator('.topbar .biz', { hasText: 'Meera Parcels & Co' }).waitFor();
  let r = await as('GET', `profiles?id=eq.${user.userId}&select=business_name,gst_number,upi_id,invoice_prefix,owner_phone,state_code`);
  assert.deepEqual(r.json[0], {
    business_name: 'Meera Parcels & Co', gst_number: '27AAPFU0939F1ZV', upi_id: 'meera@upi',
    invoice_prefix: 'MP', owner_phone: '+919820011111', state_code: '27',
  });

  // Shiprocket: email and password, a generated webhook token, a pickup.
  const sr = page.locator('[data-form=integration][data-provider=shiprocket]');
  assert.equal(await sr.locator('[data-field=status]').getAttribute('data-status'), 'not_connected');
  await sr.locator('[name=email]').fill('api@meera.example');
  const password = 'Sr-pass-' + Math.random().toString(36).slice(2);
  await sr.locator('[name=password]').fill(password);
  await sr.locator('[data-action=generate][data-for=webhook_token]').click();
  const token = await sr.locator('[name=webhook_token]').inputValue();
  assert.match(token, /^[A-Za-z0-9]{32}$/);
  await sr.locator('[name=pickup_location]').fill('Pune Godown');
  await sr.locator('[data-action=save-integration]').click();
  await page.locator('[data-form=integration][data-provider=shiprocket] [data-field=status][data-status=connected]').waitFor();
  r = await as('GET', 'integrations?provider=eq.shiprocket&select=*');
  assert.equal(r.status, 200, r.info);
  assert.equal(r.json.length, 1);
  const row = r.json[0];
  assert.equal(row.email, 'api@meera.example');
  assert.equal(row.pickup_location, 'Pune Godown');
  assert.equal(row.password, null, 'write-only');
  assert.equal(row.webhook_token, null, 'write-only');
  // The fields are empty, the secrets "set", and the page holds neither.
  const sr2 = page.locator(`[data-form=integration][data-provider=shiprocket][data-id="${row.id}"]`);
  await sr2.waitFor();
  assert.equal(await sr2.locator('[name=password]').inputValue(), '');
  assert.equal(await sr2.locator('[name=webhook_token]').inputValue(), '');
  assert.equal(await sr2.locator('[data-secret=password]').getAttribute('data-state'), 'set');
  assert.equal(await sr2.locator('[data-secret=webhook_token]').getAttribute('data-state'), 'set');
  let html = await page.content();
  assert.ok(!html.includes(password) && !html.includes(token), 'no secret in the page');
  const url = await sr2.locator('[data-webhook-url="0"]').textContent();
  assert.equal(url, `${BASE}/webhooks/shiprocket/${row.id}`);

  // Razorpay: a key id that is not one is refused, nothing written.
  const rz = page.locator('[data-form=integration][data-provider=razorpay]');
  await rz.locator('[name=key_id]').fill('not_a_key');
  const keySecret = 'rzp-secret-' + Math.random().toString(36).slice(2);
  await rz.locator('[name=key_secret]').fill(keySecret);
  await rz.locator('[data-action=save-integration]').click();
  await rz.locator('.error:not([hidden])', { hasText: 'key_id' }).waitFor();
  r = await as('GET', 'integrations?provider=eq.razorpay&select=id');
  assert.equal(r.json.length, 0, 'nothing written');
  await rz.locator('[name=key_id]').fill('rzp_test_Abc123XYZ');
  const whSecret = 'wh-' + Math.random().toString(36).slice(2);
  await rz.locator('[name=webhook_secret]').fill(whSecret);
  await rz.locator('[data-action=save-integration]').click();
  await page.locator('[data-form=integration][data-provider=razorpay] [data-field=status][data-status=connected]').waitFor()
    .catch(async (e) => { throw new Error(`${e.message}: ${await rz.locator('.error').textContent()}`); });
  r = await as('GET', 'integrations?provider=eq.razorpay&select=*');
  assert.equal(r.json.length, 1);
  assert.equal(r.json[0].key_id, 'rzp_test_Abc123XYZ');
  assert.equal(r.json[0].key_secret, null);
  assert.equal(r.json[0].webhook_secret, null);

  // A reload: still nothing secret in the page, the states from what is known.
  await page.reload();
  await page.locator('[data-screen=settings] [data-form=integration][data-provider=razorpay][data-id]').waitFor();
  await page.locator(`[data-form=integration][data-provider=razorpay] [data-webhook-url="0"]`).waitFor();
  html = await page.content();
  for (const s of [password, token, keySecret, whSecret]) assert.ok(!html.includes(s), 'no secret after a reload');
  for (const input of await page.locator('[data-screen=settings] input[type=password]').all())
    assert.equal(await input.inputValue(), '');
  assert.equal(await page.locator('[data-provider=razorpay] [data-secret=key_secret]').getAttribute('data-state'), 'set');

  // Switching Shiprocket off writes is_active only.
  await page.locator('[data-provider=shiprocket] [name=is_active]').uncheck();
  await page.locator('[data-provider=shiprocket] [data-action=save-integration]').click();
  await page.locator('[data-provider=shiprocket] [data-field=status][data-status=paused]').waitFor();
  r = await as('GET', 'integrations?provider=eq.shiprocket&select=is_active,email');
  assert.deepEqual(r.json[0], { is_active: false, email: 'api@meera.example' });
  await page.locator('[data-provider=shiprocket] [name=is_active]').check();
  await page.locator('[data-provider=shiprocket] [data-action=save-integration]').click();
  await page.locator('[data-provider=shiprocket] [data-field=status][data-status=connected]').waitFor();
  await shoot(page, 'settings');
  noErrors(page);
  await page.context().close();
});

test('customers: city and PIN code on a new customer, and the edit form', async () => {
  const page = await newPage(browser);
  await signIn(page, user);
  await go(page, '#/customers', 'customers');
  await page.locator('[data-action=new-customer]').click();
  const form = page.locator('[data-form=customer]');
  await form.locator('[name=full_name]').fill('Ravi Kumar');
  await form.locator('[name=phone_number]').fill('+91 99887 76655');
  await form.locator('[name=city]').fill('Bengaluru');
  await form.locator('[name=pincode]').fill('012345');
  await form.locator('[data-action=save-customer]').click();
  await form.locator('.error:not([hidden])').waitFor();
  let r = await as('GET', 'customers?full_name=eq.Ravi%20Kumar&select=id');
  assert.equal(r.json.length, 0, 'nothing sent');
  await form.locator('[name=pincode]').fill('560001');
  await shoot(page, 'customer-new');
  await form.locator('[data-action=save-customer]').click();
  await page.waitForURL(/#\/customers\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  r = await as('GET', `customers?id=eq.${id}&select=full_name,phone_number,city,pincode,address`);
  assert.deepEqual(r.json[0], { full_name: 'Ravi Kumar', phone_number: '+919988776655', city: 'Bengaluru', pincode: '560001', address: null });
  await page.locator('[data-field=address]', { hasText: 'Bengaluru, 560001' }).waitFor();

  // Edit: a new city and address; the PIN code cleared.
  await page.locator('[data-action=edit-customer]').click();
  const ed = page.locator('[data-form=customer]');
  assert.equal(await ed.locator('[name=city]').inputValue(), 'Bengaluru');
  await ed.locator('[name=city]').fill('Mysuru');
  await ed.locator('[name=address]').fill('4 Temple Road');
  await ed.locator('[name=pincode]').fill('');
  await shoot(page, 'customer-edit');
  await ed.locator('[data-action=save-customer]').click();
  await page.locator('[data-field=address]', { hasText: '4 Temple Road, Mysuru' }).waitFor();
  r = await as('GET', `customers?id=eq.${id}&select=full_name,city,pincode,address`);
  assert.deepEqual(r.json[0], { full_name: 'Ravi Kumar', city: 'Mysuru', pincode: null, address: '4 Temple Road' });
  noErrors(page);
  await page.context().close();
});

test('shipments: live status on the list and the page, the invoice\'s actions, the ship form', async () => {
  const inv = await issuedInvoice();
  const s = await as('POST', 'shipments', {
    invoice_id: inv.id, awb_number: 'AWB' + Date.now(), courier_name: 'Delhivery', status: 'in_transit',
    tracking_url: 'https://track.example/x',
  });
  assert.equal(s.status, 201, s.info);
  const ship = s.json[0];
  const page = await newPage(browser);
  await signIn(page, user);
  await go(page, '#/shipments', 'shipments');
  await waitLive(page, 'shipments');
  const item = page.locator(`[data-screen=shipments] .item[data-id="${ship.id}"]`);
  await item.locator('.badge[data-status=in_transit]').waitFor();
  assert.match(await item.textContent(), /Meera Traders/);
  await page.evaluate(() => { window.__stay = 1; });
  let r = await as('PATCH', `shipments?id=eq.${ship.id}`, { status: 'out_for_delivery' });
  assert.equal(r.status, 200, r.info);
  await item.locator('.badge[data-status=out_for_delivery]').waitFor();
  assert.equal(await page.evaluate(() => window.__stay), 1, 'no reload');
  await shoot(page, 'shipments');

  await item.click();
  await page.locator('[data-screen=shipments][data-live=live] .badge[data-status=out_for_delivery]').waitFor();
  await page.locator('[data-list=scans]').waitFor();
  r = await as('PATCH', `shipments?id=eq.${ship.id}`, { status: 'delivered' });
  assert.equal(r.status, 200, r.info);
  await page.locator('[data-screen=shipments] .badge[data-status=delivered]').waitFor();
  assert.equal(await page.locator('[data-action=track]').count(), 0, 'nothing to track once delivered');
  await shoot(page, 'shipment');

  // The invoice links its shipment and offers no second one.
  await go(page, `#/invoices/${inv.id}`, 'invoices');
  await page.locator(`[data-field=shipment][data-id="${ship.id}"]`).waitFor();
  for (const a of ['pdf', 'send-invoice', 'upi-qr', 'payment-link'])
    assert.equal(await page.locator(`[data-action=${a}]`).count(), 1, a);
  assert.equal(await page.locator('[data-action=ship]').count(), 0);
  await shoot(page, 'invoice-actions');

  // Another invoice: the ship form checks sizes before sending anything.
  const inv2 = await issuedInvoice();
  await go(page, `#/invoices/${inv2.id}`, 'invoices');
  await page.locator('[data-action=ship]').click();
  const form = page.locator('[data-form=ship]');
  await form.waitFor();
  assert.equal(await form.locator('[name=pickup_location]').inputValue(), 'Pune Godown', 'the integration\'s pickup');
  assert.equal(await form.locator('[name=payment_method]').inputValue(), 'cod', 'an unpaid invoice');
  await form.locator('[name=length]').fill('20');
  await form.locator('[name=breadth]').fill('15.5');
  await form.locator('[name=height]').fill('0');
  await form.locator('[name=weight]').fill('1.2345');
  await form.locator('[data-action=create-shipment]').click();
  await form.locator('[data-error=height]:not([hidden])').waitFor();
  await form.locator('[data-error=weight]:not([hidden])').waitFor();
  assert.ok(await form.locator('[data-error=length]').isHidden());
  await shoot(page, 'ship-form');
  r = await as('GET', `shipments?invoice_id=eq.${inv2.id}&select=id`);
  assert.equal(r.json.length, 0, 'nothing sent');
  noErrors(page);
  await page.context().close();
});

test('the new screens in Hindi', async () => {
  const page = await newPage(browser);
  await signIn(page, user);
  await page.locator('[data-action=lang][data-lang=hi]').click();
  await go(page, '#/settings', 'settings');
  await page.locator('[data-screen=settings] h1', { hasText: 'सेटिंग' }).waitFor();
  await go(page, '#/shipments', 'shipments');
  await page.locator('[data-screen=shipments] h1', { hasText: 'शिपमेंट' }).waitFor();
  await shoot(page, 'shipments-hi');
  await page.locator('[data-action=lang][data-lang=en]').click();
  noErrors(page);
  await page.context().close();
});
