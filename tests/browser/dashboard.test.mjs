// dashboard.test.mjs - the dashboard's way in and its books, in Chromium:
// the sign-in form (a wrong password refused, then the right one), an
// invoice made on the invoices screen with two lines (one of them a
// fractional quantity) and issued, checked against what the server stored,
// and a screenshot of every books screen at phone and desktop size.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';

import { rest, signup } from '../api/lib.mjs';
import { go, launch, newPage, noErrors, open, shoot, signIn } from './lib.mjs';

let browser;
let user;
let customer;
let products;

const REP = { Prefer: 'return=representation' };
const as = (method, path, body) => rest(method, path, { token: user.token, body, headers: REP });

/** Paise (BigInt) of a REST decimal ("1180.5", 1180.5, "1180.50"), from its text. */
function paise(v) {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(v));
  assert.ok(m, `not a money value: ${v}`);
  const p = BigInt(m[2]) * 100n + BigInt((m[3] || '').padEnd(2, '0') || '0');
  return m[1] ? -p : p;
}

/** ₹ with Indian grouping (1,23,456.50) from paise. */
function rupees(p) {
  const neg = p < 0n;
  const a = neg ? -p : p;
  let whole = String(a / 100n);
  const frac = String(a % 100n).padStart(2, '0');
  if (whole.length > 3) {
    const head = whole.slice(0, -3);
    whole = `${head.replace(/\B(?=(\d{2})+(?!\d))/g, ',')},${whole.slice(-3)}`;
  }
  return `${neg ? '-' : ''}₹${whole}.${frac}`;
}

before(async () => {
  user = await signup({ data: { business_name: 'Browser Books' } });
  const p = await as('PATCH', `profiles?id=eq.${user.userId}`, { state_code: '27' });
  assert.equal(p.status, 200, p.info);
  const c = await as('POST', 'customers', { full_name: 'Chitra Stores', phone_number: '+919876501234', state_code: '27' });
  assert.equal(c.status, 201, c.info);
  customer = c.json[0];
  const ps = await as('POST', 'products', [
    { name: 'Sugar 1 kg', sku: 'SUG', hsn_code: '1701', unit: 'kg', gst_rate: 5, base_price: '44.00', current_stock: 100 },
    { name: 'Sunflower Oil 1 L', sku: 'SUNOIL', hsn_code: '1512', unit: 'litre', gst_rate: 18, base_price: '150.50', current_stock: 50 },
  ]);
  assert.equal(ps.status, 201, ps.info);
  products = ps.json;
  browser = await launch();
});

after(async () => { if (browser) await browser.close(); });

test('sign in: a wrong password is refused, the right one opens home', async () => {
  const page = await newPage(browser);
  await open(page);
  await page.locator('[data-screen=signin]').waitFor();
  await shoot(page, 'signin');
  await page.locator('#email').fill(user.email);
  await page.locator('#password').fill(`${user.password}x`);
  await page.locator('[data-action=signin]').click();
  await page.locator('#auth-error:not([hidden])').waitFor();
  assert.equal(await page.locator('[data-screen=home]').count(), 0, 'not signed in');
  await page.locator('#password').fill(user.password);
  await page.locator('[data-action=signin]').click();
  await page.locator('[data-screen=home]').waitFor();
  await shoot(page, 'home');
  noErrors(page);
  await page.context().close();
});

test('an invoice made and issued on the invoices screen, as the server stores it', async () => {
  const page = await newPage(browser);
  await signIn(page, user);
  await go(page, '#/invoices', 'invoices');
  await shoot(page, 'invoices-empty');
  await page.locator('[data-action=new-invoice]').click();
  const form = page.locator('[data-form=invoice]');
  await form.waitFor();
  await form.locator('select[name=customer]').selectOption(customer.id);
  const lines = form.locator('select[name=product]');
  await lines.nth(0).selectOption(products[0].id);
  await form.locator('input[name=qty]').nth(0).fill('2');
  await form.locator('[data-action=add-line]').click();
  await lines.nth(1).selectOption(products[1].id);
  await form.locator('input[name=qty]').nth(1).fill('1.5');
  // The preview, in integer paise as the server computes it (intra-state:
  // CGST + SGST): 2 x 44.00 at 5% and 1.5 x 150.50 at 18%.
  const taxable = 2n * 4400n + (3n * 15050n) / 2n; // 8800 + 22575
  await form.locator('[data-field=totals]').getByText(rupees(taxable), { exact: false }).first().waitFor();
  await shoot(page, 'invoice-new');
  await form.locator('[data-action=issue]').click();
  await page.waitForURL(/#\/invoices\/[0-9a-f-]{36}$/);
  const id = page.url().split('/').pop();
  const number = page.locator('[data-field=number]');
  await number.waitFor();

  const r = await as('GET', `invoices?id=eq.${id}&select=*,invoice_items(*)`);
  assert.equal(r.status, 200, r.info);
  const inv = r.json[0];
  assert.equal(inv.customer_id, customer.id);
  assert.equal(inv.status, 'pending', 'issued');
  assert.equal(inv.invoice_items.length, 2);
  assert.equal((await number.textContent()).trim(), inv.invoice_number);
  assert.equal(paise(inv.subtotal), taxable);
  // The page shows the server's total, formatted from its text.
  await page.getByText(rupees(paise(inv.total_amount))).first().waitFor();
  await shoot(page, 'invoice');

  // The list has it; the customer's ledger owes it.
  await go(page, '#/invoices', 'invoices');
  await page.locator(`[data-screen=invoices] .item[data-id="${id}"]`).waitFor();
  await shoot(page, 'invoices');
  await go(page, '#/customers', 'customers');
  await page.locator(`[data-screen=customers] [data-id="${customer.id}"]`).first().waitFor();
  await shoot(page, 'customers');
  await go(page, `#/customers/${customer.id}`, 'customers');
  await page.getByText(rupees(paise(inv.total_amount))).first().waitFor();
  await shoot(page, 'customer');
  await go(page, '#/products', 'products');
  await page.locator(`[data-screen=products] [data-id="${products[0].id}"]`).first().waitFor();
  await shoot(page, 'products');
  noErrors(page);
  await page.context().close();
});
