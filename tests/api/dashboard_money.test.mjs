// dashboard_money.test.mjs - the dashboard's money code (web/js/ui.js, the
// module the browser loads) against the server: the invoice editor's live
// GST preview must equal what rpc/create_invoice computes, for random
// invoices (fractional quantities, odd prices, discounts, every GST rate,
// intra- and inter-state); and the parsing and formatting of amounts is
// exact (no floating point), with Indian digit grouping.
import assert from 'node:assert/strict';
import { randomInt } from 'node:crypto';
import { before, describe, test } from 'node:test';

import * as ui from '../../web/js/ui.js';
import { rest, signup } from './lib.mjs';

describe('the invoice preview equals the server\'s invoice', () => {
  let u;
  const products = [];
  const customers = {};
  before(async () => {
    u = await signup();
    const p = await rest('PATCH', `profiles?id=eq.${u.userId}`, { token: u.token, body: { state_code: '27' } });
    assert.equal(p.status, 204, p.info);
    const rates = ['0', '0.25', '3', '5', '12', '18', '28', '1.5'];
    const r = await rest('POST', 'products', {
      token: u.token, headers: { Prefer: 'return=representation' },
      body: rates.map((g, i) => ({ name: `P${i}`, gst_rate: Number(g), base_price: Number(`${randomInt(1, 99999)}.${String(randomInt(0, 100)).padStart(2, '0')}`) })),
    });
    assert.equal(r.status, 201, r.info);
    products.push(...r.json);
    for (const [k, st] of [['intra', '27'], ['inter', '29']]) {
      const c = await rest('POST', 'customers', { token: u.token, headers: { Prefer: 'return=representation' }, body: { full_name: k, state_code: st } });
      assert.equal(c.status, 201, c.info);
      customers[k] = c.json[0];
    }
  });

  test('60 random invoices, both kinds of supply', async () => {
    for (let n = 0; n < 60; n++) {
      const kind = n % 2 ? 'inter' : 'intra';
      const lines = [];
      const items = [];
      for (let i = randomInt(1, 5); i > 0; i--) {
        const p = products[randomInt(0, products.length)];
        const qtyText = `${randomInt(0, 50)}.${String(randomInt(1, 1000)).padStart(3, '0')}`;
        const own = randomInt(0, 2) === 1;
        const priceText = own ? `${randomInt(0, 5000)}.${String(randomInt(0, 100)).padStart(2, '0')}` : null;
        const line = { qty: ui.parseQty(qtyText), price: own ? ui.parseMoney(priceText) : ui.paise(p.base_price),
          discount: 0n, rate: ui.units(p.gst_rate, 2) };
        const gross = (2n * line.qty * line.price + 1000n) / 2000n;
        if (gross > 0n && randomInt(0, 3) === 0) line.discount = BigInt(randomInt(0, Number(gross) + 1));
        lines.push(line);
        const it = { product_id: p.id, quantity: ui.decNumber(line.qty, 3) };
        if (own) it.unit_price = ui.decNumber(line.price, 2);
        if (line.discount) it.discount = ui.decNumber(line.discount, 2);
        items.push(it);
      }
      const want = ui.gstTotals(lines, kind === 'intra');
      const r = await rest('POST', 'rpc/create_invoice', { token: u.token, body: { customer_id: customers[kind].id, items, draft: true } });
      assert.equal(r.status, 200, r.info);
      const got = r.json;
      const msg = `${kind} ${JSON.stringify(items)} -> ${r.info}`;
      assert.equal(ui.paise(got.subtotal), want.subtotal, msg);
      assert.equal(ui.paise(got.cgst_amount), want.cgst, msg);
      assert.equal(ui.paise(got.sgst_amount), want.sgst, msg);
      assert.equal(ui.paise(got.igst_amount), want.igst, msg);
      assert.equal(ui.paise(got.round_off), want.roundOff, msg);
      assert.equal(ui.paise(got.total_amount), want.total, msg);
      const byLine = got.items.slice().sort((a, b) => a.line_no - b.line_no);
      byLine.forEach((l, i) => assert.equal(ui.paise(l.line_total), want.lines[i].total, `line ${i + 1}: ${msg}`));
    }
  });
});

describe('amounts in the browser are exact', () => {
  test('reading the API\'s decimals', () => {
    assert.equal(ui.paise(906), 90600n);
    assert.equal(ui.paise(791.23), 79123n);
    assert.equal(ui.paise('0.1'), 10n);
    assert.equal(ui.paise(-0.49), -49n);
    assert.equal(ui.paise(99999999999.99), 9999999999999n);
    assert.equal(ui.milli(250.5), 250500n);
    assert.equal(ui.milli('0.125'), 125n);
    assert.equal(ui.units(0.25, 2), 25n);
    assert.equal(ui.paise('abc'), null);
    assert.equal(ui.paise(null), null);
    assert.equal(ui.paise(''), null);
  });

  test('what the owner types: at most 2 decimals (3 for quantities), never rounded', () => {
    assert.equal(ui.parseMoney('1,250'), 125000n);
    assert.equal(ui.parseMoney('₹ 99.5'), 9950n);
    assert.equal(ui.parseMoney('.05'), 5n);
    assert.equal(ui.parseMoney('0.1'), 10n);
    for (const bad of ['10.005', '-5', '1e3', 'abc', '', '1.2.3', '₹']) assert.equal(ui.parseMoney(bad), null, bad);
    assert.equal(ui.parseQty('2.5'), 2500n);
    assert.equal(ui.parseQty('-1.5'), -1500n);
    assert.equal(ui.parseQty('0.125'), 125n);
    for (const bad of ['0.0001', '1,5.5x', 'x']) assert.equal(ui.parseQty(bad), null, bad);
    // Amounts the schema holds (numeric(14,2) / (14,3)) and no larger: a
    // larger one would not survive the JSON number the request carries.
    assert.equal(ui.parseMoney('999999999999.99'), 99999999999999n);
    assert.equal(ui.parseMoney('9999999999999'), null);
    assert.equal(ui.parseMoney('90071992547409.92'), null);
    assert.equal(ui.parseQty('99999999999.999'), 99999999999999n);
    assert.equal(ui.parseQty('999999999999'), null);
    assert.equal(JSON.stringify({ a: ui.decNumber(ui.parseMoney('999999999999.99'), 2) }), '{"a":999999999999.99}');
    assert.throws(() => ui.decNumber(2n ** 53n, 2), RangeError);
    // 0.1 + 0.2 in paise, not in floating point
    assert.equal(ui.parseMoney('0.1') + ui.parseMoney('0.2'), ui.parseMoney('0.3'));
  });

  test('formatting: ₹ with Indian grouping, the sign, and numbers JSON writes exactly', () => {
    assert.equal(ui.money(123456.5), '₹1,23,456.50');
    assert.equal(ui.money('1234567890.05'), '₹1,23,45,67,890.05');
    assert.equal(ui.money(0), '₹0.00');
    assert.equal(ui.money(999), '₹999.00');
    assert.equal(ui.money(1000), '₹1,000.00');
    assert.equal(ui.money(-0.45), '−₹0.45');
    assert.equal(ui.money(null), '—');
    assert.equal(ui.fmtQty(250.5), '250.5');
    assert.equal(ui.fmtQty(40), '40');
    assert.equal(ui.decText(-5n, 2), '-0.05');
    for (const p of [1n, 10n, 99n, 79123n, 9999999999999n]) {
      assert.equal(JSON.stringify(ui.decNumber(p, 2)), ui.decText(p, 2).replace(/\.?0+$/, '') || '0', String(p));
    }
  });

  test('GST by the rules of docs/books.md, the worked example', () => {
    // 2.5 x 84.50 at 5% and 2 x 299.99 - 20.00 at 18%, intra-state: 906.00, round-off -0.19.
    const lines = [{ qty: 2500n, price: 8450n, discount: 0n, rate: 500n }, { qty: 2000n, price: 29999n, discount: 2000n, rate: 1800n }];
    const t = ui.gstTotals(lines, true);
    assert.deepEqual([t.subtotal, t.cgst, t.sgst, t.total, t.roundOff], [79123n, 5748n, 5748n, 90600n, -19n]);
    // 0.25% of 2.00: IGST 0.01, but CGST + SGST 0.00.
    const small = [{ qty: 1000n, price: 200n, discount: 0n, rate: 25n }];
    assert.equal(ui.gstTotals(small, false).igst, 1n);
    assert.equal(ui.gstTotals(small, true).cgst, 0n);
    assert.ok(ui.gstLine({ qty: 1000n, price: 100n, discount: 101n, rate: 0n }).error);
  });
});
