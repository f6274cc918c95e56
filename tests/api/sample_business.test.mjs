// sample_business.test.mjs - rpc/load_sample_business, the dashboard's
// offer to a new owner: the sample's books land in the CALLER's business
// (never another's, never a second time, never over real books), they obey
// the books' rules (totals recomputed here from docs/books.md with BigInt
// paise), and refusals change nothing. Also GET /config.js, which gives the
// page its anon key.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  SERVICE_KEY, decodeJwt, expectPgError, httpRaw, rest, rows, signup,
} from './lib.mjs';

const paise = (v) => {
  const m = /^(-?)(\d+)(?:\.(\d{1,2}))?$/.exec(String(v));
  assert.ok(m, `not money: ${v}`);
  const n = BigInt(m[2] + (m[3] || '').padEnd(2, '0'));
  return m[1] ? -n : n;
};
const rhu = (n, d) => (2n * n + d) / (2n * d); // n >= 0
const load = (u, body = {}) => rest('POST', 'rpc/load_sample_business', { token: u.token, body });
const TABLES = ['products', 'customers', 'invoices', 'payments', 'sessions', 'unified_messages', 'workflow_blueprints'];
async function counts(u) {
  const out = {};
  for (const t of TABLES) out[t] = (await rows(t, u.token, 'select=id')).length;
  return out;
}

describe('rpc/load_sample_business', () => {
  let owner;
  before(async () => { owner = await signup(); });

  test('loads the sample books into the caller\'s own business', async () => {
    const r = await load(owner);
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, {
      profile_id: owner.userId, products: 6, customers: 4, invoices: 4, payments: 2,
      sessions: 1, messages: 3, workflows: 1,
    });
    assert.deepEqual(await counts(owner), {
      products: 6, customers: 4, invoices: 4, payments: 2, sessions: 1, unified_messages: 3, workflow_blueprints: 1,
    });
    // Every row is the caller's (read with the service key, which sees all).
    for (const t of TABLES) {
      const mine = await rows(t, null, `select=id,profile_id&profile_id=eq.${owner.userId}`);
      assert.ok(mine.length > 0, t);
      assert.ok(mine.every((x) => x.profile_id === owner.userId), t);
    }
    // No state code on a new profile: the sample's, Maharashtra.
    const [p] = await rows('profiles', owner.token, 'select=state_code,business_name');
    assert.equal(p.state_code, '27');
    assert.match(p.business_name, /^Biz /, 'the owner\'s own business name is kept');
    // The workflow is switched off: it would message customers.
    const [wf] = await rows('workflow_blueprints', owner.token, 'select=is_active,nodes');
    assert.equal(wf.is_active, false);
  });

  test('the books add up: statuses, one invoice recomputed, debts = invoices - payments', async () => {
    const inv = await rows('invoices', owner.token,
      'select=id,status,total_amount,round_off,cgst_amount,igst_amount,customer_id,customers(full_name)');
    const by = Object.fromEntries(inv.map((i) => [i.customers.full_name, i]));
    assert.equal(by['Asha Patil'].status, 'cancelled');
    assert.equal(by['Manjunath Stores'].status, 'draft');
    assert.equal(by['Kaveri Builders'].status, 'partially_paid');
    assert.equal(by['Ravi Deshmukh'].status, 'partially_paid');
    // Ravi (27, intra-state): 1 x 1240.00 at 18% and 2 x 649.00 - 50.00 at 5%.
    const lines = [[124000n, 1800n], [2n * 64900n - 5000n, 500n]];
    let exact = 0n, half = 0n;
    for (const [taxable, rate] of lines) {
      const h = rhu(taxable * rate, 20000n);
      half += h;
      exact += taxable + 2n * h;
    }
    const total = ((exact + 50n) / 100n) * 100n;
    assert.equal(paise(by['Ravi Deshmukh'].cgst_amount), half);
    assert.equal(paise(by['Ravi Deshmukh'].igst_amount), 0n);
    assert.equal(paise(by['Ravi Deshmukh'].total_amount), total);
    assert.equal(paise(by['Ravi Deshmukh'].round_off), total - exact);
    // Kaveri is in Karnataka (29): IGST only.
    assert.equal(paise(by['Kaveri Builders'].cgst_amount), 0n);
    assert.ok(paise(by['Kaveri Builders'].igst_amount) > 0n);
    // total_debt of each customer = issued, non-cancelled invoices - payments.
    const pays = await rows('payments', owner.token, 'select=customer_id,amount_received');
    const custs = await rows('customers', owner.token, 'select=id,total_debt');
    for (const c of custs) {
      const owed = inv.filter((i) => i.customer_id === c.id && !['draft', 'cancelled'].includes(i.status))
        .reduce((s, i) => s + paise(i.total_amount), 0n);
      const paid = pays.filter((p) => p.customer_id === c.id).reduce((s, p) => s + paise(p.amount_received), 0n);
      assert.equal(paise(c.total_debt), owed - paid, c.id);
    }
  });

  test('a second load is refused (409) and adds nothing', async () => {
    const before = await counts(owner);
    const r = await load(owner);
    expectPgError(r, 409, 'MU409');
    assert.match(r.json.message, /empty business/);
    assert.deepEqual(await counts(owner), before);
  });

  test('a business with books of its own is refused, and nothing is added', async () => {
    for (const [table, row] of [
      ['customers', { full_name: 'Real Customer', phone_number: '+919811100001' }],
      ['products', { name: 'Real product', gst_rate: 5, base_price: 10 }],
    ]) {
      const u = await signup();
      const ins = await rest('POST', table, { token: u.token, body: row });
      assert.equal(ins.status, 201, ins.info);
      const r = await load(u);
      expectPgError(r, 409, 'MU409');
      assert.match(r.json.message, new RegExp(table));
      const c = await counts(u);
      assert.deepEqual(c, { ...Object.fromEntries(TABLES.map((t) => [t, 0])), [table]: 1 });
    }
  });

  test('a business in another state keeps its state: the Pune customers become inter-state', async () => {
    const u = await signup();
    const p = await rest('PATCH', `profiles?id=eq.${u.userId}`, { token: u.token, body: { state_code: '29' } });
    assert.equal(p.status, 204, p.info);
    assert.equal((await load(u)).status, 200);
    const [prof] = await rows('profiles', u.token, 'select=state_code');
    assert.equal(prof.state_code, '29');
    const inv = await rows('invoices', u.token, 'select=igst_amount,cgst_amount,customers(state_code)');
    for (const i of inv) {
      const inter = i.customers.state_code !== '29';
      assert.equal(paise(i.igst_amount) > 0n, inter, JSON.stringify(i));
      assert.equal(paise(i.cgst_amount) > 0n, !inter, JSON.stringify(i));
    }
  });

  test('another business sees none of it', async () => {
    const other = await signup();
    assert.deepEqual(await counts(other), Object.fromEntries(TABLES.map((t) => [t, 0])));
  });

  test('refusals: anonymous 401, service role 403, arguments 400, GET 405; nothing written', async () => {
    const u = await signup();
    expectPgError(await rest('POST', 'rpc/load_sample_business', { body: {} }), 401);
    expectPgError(await rest('POST', 'rpc/load_sample_business', { token: SERVICE_KEY, apikey: SERVICE_KEY, body: {} }), 403, '42501');
    expectPgError(await load(u, { business: 'x' }), 400, 'MU400');
    expectPgError(await rest('POST', 'rpc/load_sample_business', { token: u.token, rawBody: '{"a":', headers: { 'Content-Type': 'application/json' } }), 400);
    expectPgError(await rest('GET', 'rpc/load_sample_business', { token: u.token }), 405);
    assert.deepEqual(await counts(u), Object.fromEntries(TABLES.map((t) => [t, 0])));
    assert.equal((await load(u)).status, 200, 'and the business can still load it');
  });
});

describe('GET /config.js', () => {
  test('a script giving the page the anon key; not cached', async () => {
    const u = await signup(); // so the installation is not a new one
    const r = await httpRaw({ path: '/config.js' });
    assert.equal(r.status, 200, r.info);
    assert.match(r.header('content-type'), /^text\/javascript/);
    assert.equal(r.header('cache-control'), 'no-store');
    const m = /^window\.MUNSHI_CONFIG = (\{.*\});\n$/s.exec(r.text);
    assert.ok(m, r.text);
    const cfg = JSON.parse(m[1]);
    assert.deepEqual(Object.keys(cfg).sort(), ['anon_key', 'first_run']);
    assert.equal(cfg.first_run, false);
    // The server's anon key (its iat is its own): role anon, and the API takes it.
    assert.equal(decodeJwt(cfg.anon_key).payload.role, 'anon');
    const ok = await rest('GET', 'customers?select=id', { token: u.token, apikey: cfg.anon_key });
    assert.equal(ok.status, 200, ok.info);
    expectPgError(await rest('GET', 'customers?select=id', { token: cfg.anon_key, apikey: cfg.anon_key }), 401);
    const post = await httpRaw({ method: 'POST', path: '/config.js' });
    assert.equal(post.status, 405, post.info);
  });

  test('the dashboard and supabase-js are served from the binary', async () => {
    const page = await httpRaw({ path: '/' });
    for (const src of ['/config.js', '/vendor/supabase.js', '/js/app.js']) assert.ok(page.text.includes(`src="${src}"`), src);
    const sb = await httpRaw({ path: '/vendor/supabase.js' });
    assert.equal(sb.status, 200);
    assert.match(sb.header('content-type'), /^text\/javascript/);
    assert.ok(sb.text.length > 100000 && /createClient/.test(sb.text), 'the UMD bundle');
    for (const p of ['/js/ui.js', '/css/app.css', '/js/screens/home.js', '/js/screens/invoices.js']) {
      assert.equal((await httpRaw({ path: p })).status, 200, p);
    }
    assert.equal((await httpRaw({ path: '/vendor/package.json' })).status, 404, 'npm manifests are not served');
  });
});
