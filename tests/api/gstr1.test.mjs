// gstr1.test.mjs - rpc/gstr1_export over HTTP on the suite's database
// (run.sh: SQLite and PostgreSQL): invoices made through create_invoice for
// a registered customer in another state, an unregistered one in another
// state above the B2CL limit, and an unregistered one in the same state
// land in b2b, b2cl and b2cs with their exact totals, the HSN summary
// splits B2B from B2C, the CSV has the offline tool's headers; a bad month
// is 400 and a business without a GSTIN 409.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

import { expectPgError, rest, signup } from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const rpc = (token, op, body) => rest('POST', `rpc/${op}`, { token, body });

/** A GSTIN with its check character (mod-36, as base/ident.c checks it). */
function gstin(state, pan) {
  const chars = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ';
  const body = `${state}${pan}1Z`;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    const p = chars.indexOf(body[i]) * (i % 2 ? 2 : 1);
    sum += Math.floor(p / 36) + (p % 36);
  }
  return body + chars[(36 - (sum % 36)) % 36];
}

/** This month in India, YYYY-MM (invoices are dated in India's day). */
function monthIST() {
  return new Date(Date.now() + 5.5 * 3600 * 1000).toISOString().slice(0, 7);
}

const money = (v) => Number(v).toFixed(2);

describe('rpc/gstr1_export', () => {
  test('the month\'s invoices in b2b, b2cl, b2cs and the HSN summary, exactly', async () => {
    const u = await signup();
    const own = gstin('29', 'AABCS1429B');
    const p = await rest('PATCH', `profiles?id=eq.${u.userId}`, { token: u.token, body: { gst_number: own, state_code: '29' } });
    assert.ok(p.status === 200 || p.status === 204, p.info);
    const pr = await rest('POST', 'products', { token: u.token, headers: REP, body: { name: 'Laptop', sku: 'LAP', hsn_code: '8471', unit: 'pcs', gst_rate: 18, base_price: '45000.00', current_stock: 100 } });
    assert.equal(pr.status, 201, pr.info);
    const product = pr.json[0];
    const ctin = gstin('27', 'AAACR5055K');
    const cs = await rest('POST', 'customers', {
      token: u.token, headers: REP,
      body: [
        { full_name: 'Ramesh Traders', gstin: ctin },
        { full_name: 'Priya', state_code: '27' },
        { full_name: 'Walk-in', state_code: '29' },
      ],
    });
    assert.equal(cs.status, 201, cs.info);
    const [reg, far, near] = cs.json;
    const inv = async (customer, quantity) => {
      const r = await rpc(u.token, 'create_invoice', { customer_id: customer.id, items: [{ product_id: product.id, quantity }] });
      assert.ok(r.status === 200 || r.status === 201, r.info);
      return r.json;
    };
    const b2b = await inv(reg, 1);
    const b2cl = await inv(far, 3); // 1,35,000 + IGST: above ₹1 lakh
    const b2cs = await inv(near, 1);
    const r = await rpc(u.token, 'gstr1_export', { month: monthIST() });
    assert.equal(r.status, 200, r.info);
    const g = r.json.gstr1;
    assert.equal(g.gstin, own);
    assert.equal(g.fp, `${monthIST().slice(5)}${monthIST().slice(0, 4)}`);
    assert.equal(g.b2b.length, 1);
    assert.equal(g.b2b[0].ctin, ctin);
    assert.equal(g.b2b[0].inv[0].inum, b2b.invoice_number);
    assert.equal(money(g.b2b[0].inv[0].val), money(b2b.total_amount));
    assert.equal(g.b2b[0].inv[0].pos, '27');
    assert.equal(money(g.b2b[0].inv[0].itms[0].itm_det.iamt), money(b2b.igst_amount));
    assert.equal(g.b2cl.length, 1);
    assert.equal(g.b2cl[0].pos, '27');
    assert.equal(g.b2cl[0].inv[0].inum, b2cl.invoice_number);
    assert.equal(money(g.b2cl[0].inv[0].val), money(b2cl.total_amount));
    assert.equal(g.b2cs.length, 1);
    assert.equal(g.b2cs[0].sply_ty, 'INTRA');
    assert.equal(money(g.b2cs[0].txval), money(b2cs.subtotal));
    assert.equal(money(g.b2cs[0].camt), money(b2cs.cgst_amount));
    assert.equal(g.hsn.hsn_b2b.length, 1);
    assert.equal(g.hsn.hsn_b2b[0].hsn_sc, '8471');
    assert.equal(g.hsn.hsn_b2b[0].uqc, 'PCS');
    assert.equal(g.hsn.hsn_b2c.length, 1);
    assert.equal(Number(g.hsn.hsn_b2c[0].qty), 4);
    // Exact money in the raw text too: two decimals, no float noise.
    assert.match(r.text, new RegExp(`"val":${money(b2cl.total_amount)}[,}]`));
    assert.match(r.json.csv.b2b, /^GSTIN\/UIN of Recipient,Receiver Name,Invoice Number,Invoice date,Invoice Value,Place Of Supply,/);
    assert.ok(r.json.csv.b2cl.split('\r\n')[1].startsWith(`${b2cl.invoice_number},`), r.json.csv.b2cl);
    assert.deepEqual(r.json.invoices, { b2b: 1, b2cl: 1, b2cs: 1 });
  });

  test('a bad month is 400; a business without a GSTIN 409', async () => {
    const u = await signup();
    for (const month of ['2026-13', '2026-1', 'nope', '2017-06', 202611]) {
      expectPgError(await rpc(u.token, 'gstr1_export', { month }), 400, 'MU400');
    }
    expectPgError(await rpc(u.token, 'gstr1_export', {}), 400, 'MU400');
    const r = await rpc(u.token, 'gstr1_export', { month: '2026-11' });
    expectPgError(r, 409, 'MU409');
    assert.match(r.info, /GSTIN/);
  });
});
