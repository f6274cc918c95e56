// badinput.test.mjs - every kind of bad request gets a clear 4xx in
// PostgREST's error shape and changes nothing: malformed JSON, wrong types,
// unknown tables and columns, oversized bodies, query strings and headers,
// bad JWTs, bad filter syntax. run.sh runs this on SQLite and on PostgreSQL.
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';

import {
  ANON_KEY, SERVICE_KEY, countAll, decodeJwt, expectPgError, httpRaw, now, randomUuid, rawUpload,
  rest, rows, signJwt, signup, suffix,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };

let U;
let cust;
let prod;
before(async () => {
  U = await signup();
  const c = await rest('POST', 'customers', { token: U.token, headers: REP, body: { full_name: 'Baseline', phone_number: '+913000000001' } });
  assert.equal(c.status, 201, c.info);
  cust = c.json[0];
  const p = await rest('POST', 'products', { token: U.token, headers: REP, body: { name: 'Baseline', sku: 'BASE-1', base_price: 5 } });
  assert.equal(p.status, 201, p.info);
  prod = p.json[0];
});

/** Snapshot of what a bad request must not change. */
async function snapshot() {
  return {
    customers: await countAll('customers'),
    products: await countAll('products'),
    mine: await rows('customers', U.token, 'select=*&order=id.asc'),
    myProducts: await rows('products', U.token, 'select=*&order=id.asc'),
  };
}

// Each case: method, path (under /rest/v1/), body or raw, extra headers,
// the status(es) and code(s) expected. The user's token is sent unless
// `token` is given.
const cases = [
  // malformed JSON
  { name: 'malformed JSON', method: 'POST', path: 'customers', raw: '{"full_name": "x",', status: 400, code: 'PGRST102' },
  { name: 'not JSON at all', method: 'POST', path: 'customers', raw: 'full_name=x', status: 400, code: 'PGRST102' },
  { name: 'trailing garbage after JSON', method: 'POST', path: 'customers', raw: '{"full_name":"x"} {', status: 400, code: 'PGRST102' },
  { name: 'invalid UTF-8 in JSON', method: 'POST', path: 'customers', raw: Buffer.concat([Buffer.from('{"full_name":"'), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), status: 400, code: 'PGRST102' },
  { name: 'deeply nested JSON', method: 'POST', path: 'customers', raw: `${'['.repeat(100000)}${']'.repeat(100000)}`, status: 400 },
  { name: 'JSON scalar body', method: 'POST', path: 'customers', raw: '42', status: 400 },
  { name: 'JSON array of scalars', method: 'POST', path: 'customers', raw: '[1,2]', status: 400 },
  { name: 'malformed JSON on PATCH', method: 'PATCH', path: () => `customers?id=eq.${cust.id}`, raw: '{"notes":', status: 400, code: 'PGRST102' },
  // wrong types
  { name: 'full_name: 123', method: 'POST', path: 'customers', body: { full_name: 123 }, status: 400 },
  { name: 'full_name: object', method: 'POST', path: 'customers', body: { full_name: { a: 1 } }, status: 400 },
  { name: 'base_price: "abc"', method: 'POST', path: 'products', body: { name: 'p', base_price: 'abc' }, status: 400, code: '22P02' },
  { name: 'base_price: 1.234 (three decimals)', method: 'POST', path: 'products', raw: '{"name":"p","base_price":1.234}', status: 400 },
  { name: 'base_price: 1e400', method: 'POST', path: 'products', raw: '{"name":"p","base_price":1e400}', status: 400 },
  { name: 'base_price: over numeric(14,2)', method: 'POST', path: 'products', raw: '{"name":"p","base_price":1000000000000.00}', status: 400 },
  { name: 'base_price: true', method: 'POST', path: 'products', body: { name: 'p', base_price: true }, status: 400 },
  { name: 'base_price: negative (check)', method: 'POST', path: 'products', body: { name: 'p', base_price: -5 }, status: 400, code: '23514' },
  { name: 'gst_rate: 150 (check)', method: 'POST', path: 'products', body: { name: 'p', gst_rate: 150 }, status: 400, code: '23514' },
  { name: 'hsn_code: 12 (check)', method: 'POST', path: 'products', body: { name: 'p', hsn_code: '12' }, status: 400, code: '23514' },
  { name: 'is_active: "yes"', method: 'POST', path: 'products', body: { name: 'p', is_active: 'yes' }, status: 400 },
  { name: 'is_active: 2', method: 'POST', path: 'products', body: { name: 'p', is_active: 2 }, status: 400 },
  { name: 'state_code: KA (check)', method: 'POST', path: 'customers', body: { full_name: 'c', state_code: 'KA' }, status: 400, code: '23514' },
  { name: 'id: not a uuid', method: 'POST', path: 'customers', body: { full_name: 'c', id: 'not-a-uuid' }, status: 400 },
  { name: 'channel outside the check', method: 'POST', path: 'sessions', body: { contact_id: 'x', channel: 'fax' }, status: 400, code: '23514' },
  { name: 'workflow name: a number', method: 'POST', path: 'workflow_blueprints', body: { name: 5, nodes: [] }, status: 400 },
  { name: 'full_name: null (not null)', method: 'POST', path: 'customers', body: { full_name: null }, status: 400, code: '23502' },
  { name: 'full_name missing (not null)', method: 'POST', path: 'customers', body: { notes: 'no name' }, status: 400, code: '23502' },
  { name: 'bulk with one bad row inserts none', method: 'POST', path: 'customers', body: [{ full_name: 'Good Row' }, { full_name: 123 }], status: 400 },
  { name: 'bulk with one row missing a name inserts none', method: 'POST', path: 'customers', body: [{ full_name: 'Good Row' }, { notes: 'x' }], status: 400, code: '23502' },
  { name: 'PATCH full_name to null', method: 'PATCH', path: () => `customers?id=eq.${cust.id}`, body: { full_name: null }, status: 400, code: '23502' },
  { name: 'PATCH base_price to "abc"', method: 'PATCH', path: () => `products?id=eq.${prod.id}`, body: { base_price: 'abc' }, status: 400, code: '22P02' },
  // uniqueness
  { name: 'duplicate phone_number', method: 'POST', path: 'customers', body: { full_name: 'Dup', phone_number: '+913000000001' }, status: 409, code: '23505' },
  { name: 'duplicate sku', method: 'POST', path: 'products', body: { name: 'Dup', sku: 'BASE-1' }, status: 409, code: '23505' },
  { name: 'duplicate id', method: 'POST', path: 'customers', body: () => ({ full_name: 'Dup', id: cust.id }), status: 409, code: '23505' },
  { name: 'duplicate within one bulk insert', method: 'POST', path: 'products', body: [{ name: 'x', sku: 'TWICE' }, { name: 'y', sku: 'TWICE' }], status: 409, code: '23505' },
  // unknown tables
  { name: 'unknown table GET', method: 'GET', path: 'nosuchtable', status: 404 },
  { name: 'unknown table POST', method: 'POST', path: 'nosuchtable', body: { a: 1 }, status: 404 },
  { name: 'auth_users is not exposed', method: 'GET', path: 'auth_users?select=*', status: 404 },
  { name: 'auth_refresh_tokens is not exposed', method: 'GET', path: 'auth_refresh_tokens', status: 404 },
  { name: 'auth_sessions is not exposed', method: 'GET', path: 'auth_sessions', status: 404 },
  { name: 'sqlite_master is not a table here', method: 'GET', path: 'sqlite_master', status: 404 },
  { name: 'pg_catalog is not a table here', method: 'GET', path: 'pg_user', status: 404 },
  { name: 'schema-qualified name', method: 'GET', path: 'public.customers', status: 404 },
  { name: 'table name with SQL in it', method: 'GET', path: 'customers%3BDROP%20TABLE%20customers', status: 404 },
  // unknown columns
  { name: 'unknown column in select', method: 'GET', path: 'customers?select=id,nosuchcol', status: 400, code: '42703' },
  { name: 'unknown column in filter', method: 'GET', path: 'customers?nosuchcol=eq.1', status: 400, code: '42703' },
  { name: 'unknown column in order', method: 'GET', path: 'customers?order=nosuchcol.asc', status: 400, code: '42703' },
  { name: 'unknown column in body', method: 'POST', path: 'customers', body: { full_name: 'x', nosuchcol: 1 }, status: 400, code: ['42703', 'PGRST204'] },
  { name: 'unknown column in PATCH body', method: 'PATCH', path: () => `customers?id=eq.${cust.id}`, body: { nosuchcol: 1 }, status: 400, code: ['42703', 'PGRST204'] },
  { name: 'unknown column in or=()', method: 'GET', path: 'customers?or=(full_name.eq.x,nosuchcol.eq.y)', status: 400, code: '42703' },
  { name: 'unknown column in an embed', method: 'GET', path: 'sessions?select=id,unified_messages(nosuchcol)', status: 400, code: '42703' },
  { name: 'a column twice in select', method: 'GET', path: 'customers?select=id,notes,notes', status: 400, code: 'PGRST100' },
  { name: 'a column twice under two aliases', method: 'GET', path: 'customers?select=a:notes,b:notes', status: 400, code: 'PGRST100' },
  { name: 'a column through * and by name', method: 'GET', path: 'customers?select=*,notes', status: 400, code: 'PGRST100' },
  { name: 'a column twice in an embed', method: 'GET', path: 'sessions?select=id,unified_messages(content,content)', status: 400, code: 'PGRST100' },
  { name: 'one column 256 times', method: 'GET', path: `customers?select=${Array(256).fill('notes').join(',')}`, status: 400, code: 'PGRST100' },
  { name: 'SQL in select', method: 'GET', path: `customers?select=${encodeURIComponent('id;DROP TABLE customers')}`, status: 400 },
  { name: 'SQL in order', method: 'GET', path: `customers?order=${encodeURIComponent('id;DROP TABLE customers--')}`, status: 400 },
  { name: 'SQL as a column name in body', method: 'POST', path: 'customers', body: { 'full_name) VALUES (1);--': 'x' }, status: 400 },
  // bad filters
  { name: 'invalid uuid in eq filter', method: 'GET', path: 'customers?id=eq.not-a-uuid', status: 400 },
  { name: 'invalid uuid in in filter', method: 'GET', path: 'customers?id=in.(abc,def)', status: 400 },
  { name: 'not a number in gt filter', method: 'GET', path: 'products?base_price=gt.cheap', status: 400 },
  { name: 'not a boolean in is filter', method: 'GET', path: 'products?is_active=is.maybe', status: 400 },
  { name: 'unknown operator', method: 'GET', path: 'customers?full_name=foo.x', status: 400 },
  { name: 'filter without operator', method: 'GET', path: 'customers?full_name=x', status: 400 },
  { name: 'bad order direction', method: 'GET', path: 'customers?order=full_name.sideways', status: 400 },
  { name: 'limit not a number', method: 'GET', path: 'customers?limit=abc', status: 400 },
  { name: 'negative limit', method: 'GET', path: 'customers?limit=-1', status: 400 },
  { name: 'negative offset', method: 'GET', path: 'customers?offset=-5', status: 400 },
  { name: 'unbalanced or=(', method: 'GET', path: 'customers?or=(full_name.eq.x', status: 400 },
  { name: 'unbalanced in.(', method: 'GET', path: 'customers?id=in.(a,b', status: 400 },
  { name: 'unbalanced embed', method: 'GET', path: 'sessions?select=*,unified_messages(', status: 400 },
  { name: 'bad percent-encoding', method: 'GET', path: 'customers?full_name=eq.%zz', status: 400 },
  { name: 'PATCH with a bad filter changes nothing', method: 'PATCH', path: 'customers?id=eq.nope', body: { notes: 'x' }, status: 400 },
  { name: 'DELETE with a bad filter deletes nothing', method: 'DELETE', path: 'customers?full_name=zap.x', status: 400 },
  { name: 'DELETE with an unknown column filter', method: 'DELETE', path: 'customers?nosuchcol=eq.1', status: 400, code: '42703' },
  // size caps
  { name: 'query string of 20 KB', method: 'GET', path: `customers?full_name=eq.${'q'.repeat(20000)}`, status: [400, 414] },
  { name: 'PATCH query string of 20 KB', method: 'PATCH', path: `customers?full_name=in.(${'w,'.repeat(10000)}w)`, body: { notes: 'x' }, status: [400, 414] },
];

describe('bad requests: 4xx in the error shape, nothing changed', () => {
  for (const c of cases) {
    test(c.name, async () => {
      const before1 = await snapshot();
      const path = typeof c.path === 'function' ? c.path() : c.path;
      const body = typeof c.body === 'function' ? c.body() : c.body;
      const r = await rest(c.method, path, {
        token: c.token ?? U.token, headers: { ...REP, ...(c.headers || {}) }, body, rawBody: c.raw,
      });
      expectPgError(r, c.status, c.code);
      assert.deepEqual(await snapshot(), before1, `the bad request changed data: ${r.info}`);
    });
  }
});

describe('oversized requests the HTTP layer may refuse', () => {
  const upload = (body, chunked) => rawUpload({
    path: '/rest/v1/customers',
    headers: { apikey: ANON_KEY, Authorization: `Bearer ${U.token}`, 'Content-Type': 'application/json', Prefer: 'return=representation' },
    body: Buffer.from(body),
    chunked,
  });
  const big = JSON.stringify({ full_name: 'x'.repeat((1 << 20) + 1024) });
  const bulk = JSON.stringify([{ full_name: 'y'.repeat(600000) }, { full_name: 'z'.repeat(600000) }]);

  for (const [name, body, chunked] of [
    ['body over 1 MiB (Content-Length) -> 413', big, false],
    ['bulk body over 1 MiB (Content-Length) -> 413', bulk, false],
    ['chunked body over 1 MiB -> 413', big, true],
  ]) {
    test(name, async () => {
      const before1 = await snapshot();
      const r = await upload(body, chunked);
      expectPgError(r, 413);
      assert.deepEqual(await snapshot(), before1);
    });
  }

  test('control: a body just under 1 MiB is accepted', async () => {
    const name = 'u'.repeat((1 << 20) - 4096);
    const r = await upload(JSON.stringify({ full_name: name }), false);
    assert.equal(r.status, 201, r.info.slice(0, 300));
    const d = await rest('DELETE', `customers?id=eq.${r.json[0].id}`, { token: U.token });
    assert.equal(d.status, 204, d.info);
  });

  test('query string of 100 KB -> 4xx', async () => {
    const r = await rest('GET', `customers?full_name=eq.${'q'.repeat(100000)}`, { token: U.token });
    assert.ok([400, 414, 431].includes(r.status), r.info);
  });

  test('a 64 KB header -> 4xx (431/400/413)', async () => {
    const r = await rest('GET', 'customers?select=id', { token: U.token, headers: { 'X-Big': 'h'.repeat(64 * 1024) } });
    assert.ok([400, 413, 431].includes(r.status), r.info);
  });

  test('a 64 KB Authorization header -> 4xx', async () => {
    const r = await rest('GET', 'customers?select=id', { token: `${U.token}${'A'.repeat(64 * 1024)}` });
    assert.ok([400, 401, 413, 431].includes(r.status), r.info);
  });

  test('many headers -> 4xx or served, never a crash', async () => {
    const headers = {};
    for (let i = 0; i < 500; i++) headers[`X-H${i}`] = 'v'.repeat(100);
    const r = await rest('GET', 'customers?select=id', { token: U.token, headers });
    assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500), r.info);
  });

  test('the server still answers after all of it', async () => {
    const r = await rest('GET', `customers?select=id&id=eq.${cust.id}`, { token: U.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json, [{ id: cust.id }]);
  });
});

describe('bad JWTs -> 401, nothing read or written', () => {
  const claims = () => decodeJwt(U.token).payload;
  const other = `other-secret-${suffix()}`;
  const tokens = [
    ['expired', () => signJwt({ ...claims(), iat: now() - 7200, exp: now() - 3600 }), 'PGRST303'],
    ['no exp', () => { const c = claims(); delete c.exp; return signJwt(c); }],
    ['tampered payload (sub changed)', () => {
      const [h, , s] = U.token.split('.');
      const p = Buffer.from(JSON.stringify({ ...claims(), sub: randomUuid() })).toString('base64url');
      return `${h}.${p}.${s}`;
    }, 'PGRST301'],
    ['tampered signature', () => {
      const [h, p, s] = U.token.split('.');
      const flipped = (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
      return `${h}.${p}.${flipped}`;
    }, 'PGRST301'],
    ['alg none', () => `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}.`, 'PGRST301'],
    ['alg none, two parts', () => `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(JSON.stringify(claims())).toString('base64url')}`, 'PGRST301'],
    ['alg HS512 with the right secret', () => signJwt(claims(), undefined, { alg: 'HS512', typ: 'JWT' }), 'PGRST301'],
    ['signed with another secret', () => signJwt(claims(), other), 'PGRST301'],
    ['service_role signed with another secret', () => signJwt({ role: 'service_role', iat: now(), exp: now() + 3600 }, other), 'PGRST301'],
    ['not a JWT', () => 'garbage', 'PGRST301'],
    ['empty parts', () => '..', 'PGRST301'],
    ['payload not JSON', () => `${Buffer.from('{"alg":"HS256"}').toString('base64url')}.${Buffer.from('nope').toString('base64url')}.sig`, 'PGRST301'],
  ];

  test('control: a token made here with the test secret is accepted', async () => {
    const t = signJwt({ ...claims(), iat: now(), exp: now() + 600 });
    const r = await rest('GET', `customers?select=id&id=eq.${cust.id}`, { token: t });
    assert.equal(r.status, 200, `the hand-made token is refused, so the cases below prove nothing: ${r.info}`);
    assert.deepEqual(r.json, [{ id: cust.id }]);
  });

  for (const [name, make, code] of tokens) {
    test(`${name}: GET and POST -> 401`, async () => {
      const t = make();
      const before1 = await snapshot();
      const g = await rest('GET', 'customers?select=id', { token: t });
      expectPgError(g, 401, code);
      const p = await rest('POST', 'customers', { token: t, body: { full_name: `Bad JWT ${name}` } });
      expectPgError(p, 401, code);
      const d = await rest('DELETE', `customers?id=eq.${cust.id}`, { token: t });
      expectPgError(d, 401, code);
      assert.deepEqual(await snapshot(), before1);
      const u = await httpRaw({ method: 'GET', path: '/auth/v1/user', headers: { apikey: ANON_KEY, Authorization: `Bearer ${t}` } });
      assert.ok(u.status === 401 || u.status === 403, `/auth/v1/user took a bad token: ${u.info}`);
    });
  }

  test('a forged apikey header alone -> 401', async () => {
    const forged = signJwt({ role: 'service_role', iat: now(), exp: now() + 3600 }, other);
    const r = await rest('GET', 'customers?select=id', { apikey: forged });
    expectPgError(r, 401);
  });

  test('a valid service key still works after all of it', async () => {
    const r = await rest('GET', `customers?select=id&id=eq.${cust.id}`, { token: SERVICE_KEY, apikey: SERVICE_KEY });
    assert.equal(r.status, 200, r.info);
    assert.equal(r.json.length, 1, r.info);
  });
});

describe('limits answered in the PostgREST error shape', () => {
  test('a 20 KB header -> 431 PGRST431', async () => {
    const r = await rest('GET', 'customers?select=id', { token: U.token, headers: { 'X-Big': 'h'.repeat(20 * 1024) } });
    expectPgError(r, 431, 'PGRST431');
  });

  test('a 9 KB query string -> 414 PGRST414', async () => {
    const r = await rest('GET', `customers?full_name=eq.${'q'.repeat(9 * 1024)}`, { token: U.token });
    expectPgError(r, 414, 'PGRST414');
  });

  test('Range up to INT64_MAX means no limit, not an overflow', async () => {
    const r = await rest('GET', 'customers?select=id', { token: U.token, headers: { Range: '0-9223372036854775807' } });
    assert.equal(r.status, 200, r.info);
    assert.ok(r.json.length >= 1);
  });

  test('Range with FROM > TO -> 416', async () => {
    const r = await rest('GET', 'customers?select=id', { token: U.token, headers: { Range: '5-2' } });
    expectPgError(r, 416, 'PGRST103');
  });

  test('PUT -> 405 before the query is looked at', async () => {
    const r = await rest('PUT', 'customers?id=eq.not-a-uuid', { token: U.token, body: { notes: 'x' } });
    expectPgError(r, 405, 'PGRST117');
  });

  test('an empty embed -> 400', async () => {
    const r = await rest('GET', 'sessions?select=id,unified_messages()', { token: U.token });
    expectPgError(r, 400, 'PGRST100');
  });

  test('gst_rate over numeric(5,2) -> 400 on both databases, nothing written', async () => {
    const before1 = await snapshot();
    const r = await rest('POST', 'products', { token: U.token, body: { name: 'p', gst_rate: 1000 } });
    expectPgError(r, 400, '22P02');
    assert.deepEqual(await snapshot(), before1);
  });

  test('invalid UTF-8 in a filter value -> 400 on both databases', async () => {
    const r = await rest('GET', 'customers?select=id&full_name=eq.%FF%FE', { token: U.token });
    expectPgError(r, 400, '22P02');
  });

  test('filters on json columns other than is -> 400', async () => {
    const r = await rest('GET', 'unified_messages?select=id&metadata=in.(x)', { token: U.token });
    expectPgError(r, 400, 'PGRST100');
  });

  test('like escapes with a backslash on both databases', async () => {
    const name = `a_b ${suffix()}`;
    const lit = `a\\_b ${suffix()}`;
    for (const full_name of [name, lit]) {
      const c = await rest('POST', 'customers', { token: U.token, body: { full_name } });
      assert.equal(c.status, 201, c.info);
    }
    // a\_b matches the underscore literally: "a_b ..." but not "a\_b ..."
    const r = await rest('GET', `customers?select=full_name&full_name=like.${encodeURIComponent('a\\_b *')}`, { token: U.token });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json.map((x) => x.full_name), [name]);
  });
});
