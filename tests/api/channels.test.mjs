// channels.test.mjs - connected WhatsApp numbers and Telegram bots
// (/rest/v1/channels): their secrets are write-only (set by POST and PATCH,
// null in every read: select=*, an explicit select, Accept object, answers
// of writes, embeds from sessions and messages, the service role too), can
// never be filtered or ordered on, and never reach the server's log; a
// channel is checked per platform before anything is written; a
// phone_number_id belongs to one business (409, naming none); another
// business can neither see nor change a channel.
//
// What the API hides is checked in the database itself (sqlite3 or psql on
// MUNSHI_DB, which run.sh exports): that a PATCH of a secret really stored
// it, that a Telegram channel got a webhook_secret, and to give a session
// its channel_id (read-only over REST: the inbound worker sets it).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';

import {
  SERVICE_KEY, UUID_RE, expectPgError, rest, rows, signup, suffix,
} from './lib.mjs';

const REP = { Prefer: 'return=representation' };
const OBJ = { Accept: 'application/vnd.pgrst.object+json' };
const SVC = { token: SERVICE_KEY, apikey: SERVICE_KEY };
const SECRETS = ['access_token', 'app_secret', 'verify_token', 'bot_token', 'webhook_secret', 'owner_link_code'];
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- values ------------------------------------------------------------------

const digits = (n) => Array.from(randomBytes(n), (b) => String(b % 10)).join('').replace(/^0/, '1');
const secret = (tag) => `${tag}${randomBytes(18).toString('hex')}`;
const botToken = () => `${digits(10)}:AA${randomBytes(24).toString('base64url').slice(0, 33)}`;

function whatsapp(extra = {}) {
  return {
    platform: 'whatsapp',
    name: `WA ${suffix()}`,
    phone_number_id: digits(15),
    display_phone_number: '+91 98123 45678',
    access_token: secret('EAAG'),
    app_secret: secret('as'),
    verify_token: secret('vt'),
    ...extra,
  };
}

function telegram(extra = {}) {
  return { platform: 'telegram', name: `TG ${suffix()}`, bot_token: botToken(), ...extra };
}

// ---- the database, for what the API does not show -----------------------------

const DB_URL = process.env.MUNSHI_DB || '';

/** Runs one SQL statement on the suite's database; the first column of each row. */
function dbQuery(sql) {
  let out;
  if (DB_URL.startsWith('sqlite:')) {
    out = execFileSync('sqlite3', ['-cmd', '.timeout 10000', DB_URL.slice(7), sql], { encoding: 'utf8' });
  } else {
    out = execFileSync('psql', [DB_URL, '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', sql], { encoding: 'utf8' });
  }
  return out.split('\n').filter((l) => l !== '');
}

const uuidLit = (u) => {
  assert.match(u, UUID_RE);
  return `'${u}'`;
};

/** A channel's stored column (the real value, not what the API shows). */
const stored = (id, col) => dbQuery(`SELECT coalesce(${col}, '<null>') FROM channels WHERE id = ${uuidLit(id)}`)[0];

function assertSecretsNull(row, info) {
  for (const k of SECRETS) {
    assert.ok(k in row, `${k} is missing from the row (select=* shows it as null): ${info}`);
    assert.equal(row[k], null, `${k} was shown: ${info}`);
  }
}

/** The strings of values that occur in text. */
function leaks(text, values) {
  return values.filter((v) => v && text.includes(v));
}

let A;
let B;
let waBody;
let wa; // A's WhatsApp channel as created
let tgBody;
let tg; // A's Telegram channel as created

before(async () => {
  assert.ok(DB_URL.startsWith('sqlite:') || DB_URL.startsWith('postgres'), `MUNSHI_DB is not set by run.sh: "${DB_URL}"`);
  A = await signup();
  B = await signup();
  waBody = whatsapp({
    templates: [{ name: 'payment_reminder', language: 'en', params: 2 }, { name: 'payment_reminder', language: 'hi', params: 2 }],
    default_template: 'payment_reminder',
    rate_limit_per_s: 20,
  });
  const r = await rest('POST', 'channels', { token: A.token, headers: REP, body: waBody });
  assert.equal(r.status, 201, r.info);
  wa = r.json[0];
  tgBody = telegram({ bot_username: '@munshi_test_bot' });
  const t = await rest('POST', 'channels', { token: A.token, headers: REP, body: tgBody });
  assert.equal(t.status, 201, t.info);
  tg = t.json[0];
});

// ---------------------------------------------------------------------------
describe('secrets are write-only', () => {
  test('the answer of a POST shows the channel and null secrets', () => {
    assert.match(wa.id, UUID_RE);
    assert.equal(wa.profile_id, A.userId);
    assert.equal(wa.platform, 'whatsapp');
    assert.equal(wa.phone_number_id, waBody.phone_number_id);
    assert.equal(wa.display_phone_number, waBody.display_phone_number);
    assert.deepEqual(wa.templates, waBody.templates);
    assert.equal(wa.default_template, 'payment_reminder');
    assert.equal(wa.rate_limit_per_s, 20);
    assert.equal(wa.is_active, true);
    assertSecretsNull(wa, 'POST whatsapp');
    assert.equal(tg.platform, 'telegram');
    assert.equal(tg.bot_username, 'munshi_test_bot', 'the @ of a bot username is dropped');
    assertSecretsNull(tg, 'POST telegram');
  });

  test('the secrets are stored as sent', () => {
    for (const k of ['access_token', 'app_secret', 'verify_token']) assert.equal(stored(wa.id, k), waBody[k], k);
    assert.equal(stored(tg.id, 'bot_token'), tgBody.bot_token);
  });

  test('a Telegram channel without webhook_secret gets a random one', async () => {
    const s = stored(tg.id, 'webhook_secret');
    assert.match(s, /^[A-Za-z0-9_-]{32,256}$/);
    const t2 = await rest('POST', 'channels', { token: A.token, headers: REP, body: telegram() });
    assert.equal(t2.status, 201, t2.info);
    const s2 = stored(t2.json[0].id, 'webhook_secret');
    assert.match(s2, /^[A-Za-z0-9_-]{32,256}$/);
    assert.notEqual(s, s2);
    // One the owner gives is kept.
    const mine = secret('ws_');
    const t3 = await rest('POST', 'channels', { token: A.token, body: telegram({ webhook_secret: mine }) });
    assert.equal(t3.status, 201, t3.info);
    assert.deepEqual(dbQuery(`SELECT count(*) FROM channels WHERE webhook_secret = '${mine}'`), ['1']);
    for (const id of [t2.json[0].id]) {
      const d = await rest('DELETE', `channels?id=eq.${id}`, { token: A.token });
      assert.equal(d.status, 204, d.info);
    }
    const d = await rest('DELETE', 'channels?platform=eq.telegram&bot_username=is.null', { token: A.token });
    assert.equal(d.status, 204, d.info);
  });

  test('select=*, an explicit select, an object and the service role read null', async () => {
    const all = await rows('channels', A.token, 'select=*&order=created_at');
    assert.equal(all.length, 2);
    for (const row of all) assertSecretsNull(row, 'select=*');
    const explicit = await rows('channels', A.token, `select=id,${SECRETS.join(',')}&id=eq.${wa.id}`);
    assert.deepEqual(explicit, [{ id: wa.id, ...Object.fromEntries(SECRETS.map((k) => [k, null])) }]);
    const one = await rest('GET', `channels?id=eq.${tg.id}`, { token: A.token, headers: OBJ });
    assert.equal(one.status, 200, one.info);
    assertSecretsNull(one.json, 'object');
    const svc = await rest('GET', `channels?select=*&id=in.(${wa.id},${tg.id})`, SVC);
    assert.equal(svc.status, 200, svc.info);
    assert.equal(svc.json.length, 2);
    for (const row of svc.json) assertSecretsNull(row, 'service role');
    const all_text = JSON.stringify([all, explicit, one.json, svc.json]);
    assert.deepEqual(leaks(all_text, [waBody.access_token, waBody.app_secret, waBody.verify_token, tgBody.bot_token,
      stored(tg.id, 'webhook_secret')]), []);
  });

  test('embedded channels read null: from sessions and messages by channel_id, and channels -> sessions', async () => {
    const s = await rest('POST', 'sessions', { token: A.token, headers: REP, body: { contact_id: `+91${digits(10)}`, channel: 'whatsapp' } });
    assert.equal(s.status, 201, s.info);
    const sid = s.json[0].id;
    dbQuery(`UPDATE sessions SET channel_id = ${uuidLit(wa.id)} WHERE id = ${uuidLit(sid)}`);
    const m = await rest('POST', 'unified_messages', { token: A.token, headers: REP, body: { session_id: sid, direction: 'inbound', content: 'hi' } });
    assert.equal(m.status, 201, m.info);
    dbQuery(`UPDATE unified_messages SET channel_id = ${uuidLit(wa.id)} WHERE id = ${uuidLit(m.json[0].id)}`);

    const e1 = await rows('sessions', A.token, `select=id,channel_id,channels(*)&id=eq.${sid}`);
    assert.equal(e1.length, 1);
    assert.equal(e1[0].channel_id, wa.id);
    assert.equal(e1[0].channels.id, wa.id, 'the embed found the channel');
    assert.equal(e1[0].channels.phone_number_id, waBody.phone_number_id);
    assertSecretsNull(e1[0].channels, 'sessions -> channels(*)');
    const e2 = await rows('sessions', A.token, `select=id,channels(id,access_token,app_secret,verify_token)&id=eq.${sid}`);
    assert.deepEqual(e2[0].channels, { id: wa.id, access_token: null, app_secret: null, verify_token: null });
    const e3 = await rows('unified_messages', A.token, `select=id,channels(*)&id=eq.${m.json[0].id}`);
    assertSecretsNull(e3[0].channels, 'unified_messages -> channels(*)');
    const e4 = await rows('channels', A.token, `select=*,sessions(id)&id=eq.${wa.id}`);
    assert.deepEqual(e4[0].sessions, [{ id: sid }]);
    assertSecretsNull(e4[0], 'channels with sessions');
    // return=representation of a write that embeds.
    const p = await rest('PATCH', `sessions?id=eq.${sid}&select=id,channels(*)`, { token: A.token, headers: REP, body: { contact_name: 'Asha' } });
    assert.equal(p.status, 200, p.info);
    assertSecretsNull(p.json[0].channels, 'PATCH sessions answer');
    assert.deepEqual(leaks(JSON.stringify([e1, e2, e3, e4, p.json]), [waBody.access_token, waBody.app_secret, waBody.verify_token]), []);
  });

  test('a secret cannot be filtered, ordered or conflicted on (400, says write-only)', async () => {
    const probes = [
      `channels?access_token=eq.${waBody.access_token}`,
      'channels?access_token=like.EAAG*',
      'channels?app_secret=is.null',
      'channels?verify_token=in.(a,b)',
      'channels?bot_token=neq.x',
      `channels?or=(name.eq.x,webhook_secret.eq.y)`,
      'channels?not.and=(name.eq.x,owner_link_code.eq.y)',
      'channels?order=access_token.desc',
      'channels?select=id&order=name,app_secret',
      'channels?on_conflict=verify_token',
    ];
    for (const p of probes) {
      for (const who of [{ token: A.token }, SVC]) {
        const r = await rest('GET', p, who);
        expectPgError(r, 400, 'PGRST100');
        assert.match(r.json.message, /write-only/, r.info);
        assert.ok(!r.text.includes(waBody.access_token), r.info);
      }
    }
    // Not on PATCH or DELETE either (a 204 or not would answer the question).
    const pa = await rest('PATCH', `channels?access_token=eq.${waBody.access_token}`, { token: A.token, body: { name: 'x' } });
    expectPgError(pa, 400, 'PGRST100');
    const de = await rest('DELETE', `channels?verify_token=eq.${waBody.verify_token}`, { token: A.token });
    expectPgError(de, 400, 'PGRST100');
    assert.equal((await rows('channels', A.token, `select=name&id=eq.${wa.id}`))[0].name, waBody.name);
  });

  test('PATCH sets a secret: stored, updated_at moves, the answer shows null', async () => {
    const before = (await rows('channels', A.token, `select=updated_at&id=eq.${wa.id}`))[0].updated_at;
    await sleep(5);
    const token = secret('EAAG');
    const r = await rest('PATCH', `channels?id=eq.${wa.id}`, { token: A.token, headers: REP, body: { access_token: token, verify_token: 'new-verify-token' } });
    assert.equal(r.status, 200, r.info);
    assertSecretsNull(r.json[0], 'PATCH answer');
    assert.ok(!r.text.includes(token));
    assert.notEqual(r.json[0].updated_at, before);
    assert.ok(Date.parse(r.json[0].updated_at) > Date.parse(before), r.info);
    assert.equal(stored(wa.id, 'access_token'), token);
    assert.equal(stored(wa.id, 'verify_token'), 'new-verify-token');
    assert.equal(stored(wa.id, 'app_secret'), waBody.app_secret, 'a secret not in the PATCH is kept');
    waBody.access_token = token;
    waBody.verify_token = 'new-verify-token';
    const bt = botToken();
    const t = await rest('PATCH', `channels?id=eq.${tg.id}`, { token: A.token, body: { bot_token: bt } });
    assert.equal(t.status, 204, t.info);
    assert.equal(stored(tg.id, 'bot_token'), bt);
    tgBody.bot_token = bt;
  });

  test('owner_link_code is made by rpc/link_owner_telegram, never written by a client', async () => {
    const r = await rest('PATCH', `channels?id=eq.${tg.id}`, { token: A.token, body: { owner_link_code: '123456' } });
    expectPgError(r, 400, 'MU001');
    const p = await rest('POST', 'channels', { token: A.token, body: telegram({ owner_link_code: '123456' }) });
    expectPgError(p, 400, 'MU001');
  });
});

// ---------------------------------------------------------------------------
describe('a channel is checked before it is written', () => {
  const bad = [
    ['no platform', { name: 'x', phone_number_id: '123' }, /platform is required/],
    ['an unknown platform', { platform: 'sms', bot_token: botToken() }, /platform must be/],
    ['whatsapp without phone_number_id', whatsapp({ phone_number_id: undefined }), /phone_number_id is required/],
    ['whatsapp with a phone number for phone_number_id', whatsapp({ phone_number_id: '+919812345678' }), /phone_number_id must be the digits/],
    ['whatsapp without access_token', whatsapp({ access_token: undefined }), /access_token is required/],
    ['whatsapp with a null access_token', whatsapp({ access_token: null }), /access_token is required/],
    ['whatsapp without verify_token', whatsapp({ verify_token: undefined }), /verify_token is required/],
    ['whatsapp without app_secret (no shared app here)', whatsapp({ app_secret: undefined }), /app_secret is required/],
    ['an access_token with a line break', whatsapp({ access_token: `EAAG${digits(20)}\n` }), /access_token must be 1 to 1024 printable/],
    ['an empty verify_token', whatsapp({ verify_token: '' }), /verify_token must be 1 to 256/],
    ['a bot_token on whatsapp', whatsapp({ bot_token: botToken() }), /bot_token belongs to telegram/],
    ['telegram without bot_token', { platform: 'telegram', name: 't' }, /bot_token is required/],
    ['a bot_token without its colon', telegram({ bot_token: `123456789${secret('x')}` }), /bot_token is not a Telegram bot token/],
    ['a bot_token too short after the colon', telegram({ bot_token: '123456789:short' }), /bot_token is not a Telegram bot token/],
    ['a bot_token with letters in its id', telegram({ bot_token: `12ab:${secret('AA')}` }), /bot_token is not a Telegram bot token/],
    ['a phone_number_id on telegram', telegram({ phone_number_id: digits(12) }), /phone_number_id belongs to whatsapp/],
    ['a webhook_secret with other characters', telegram({ webhook_secret: 'not allowed!' }), /webhook_secret must be 1 to 256/],
    ['templates not an array', whatsapp({ templates: { name: 'a' } }), /templates must be an array/],
    ['a template without language', whatsapp({ templates: [{ name: 'a', params: 0 }] }), /templates\[0\]\.language/],
    ['a template with 11 params', whatsapp({ templates: [{ name: 'a', language: 'en', params: 11 }] }), /templates\[0\]\.params/],
    ['a template with -1 params', whatsapp({ templates: [{ name: 'a', language: 'en', params: -1 }] }), /templates\[0\]\.params/],
    ['a template with fractional params', whatsapp({ templates: [{ name: 'a', language: 'en', params: 1.5 }] }), /templates\[0\]\.params/],
    ['a template name with capitals', whatsapp({ templates: [{ name: 'Order Update', language: 'en', params: 1 }] }), /templates\[0\]\.name/],
    ['a template with an unknown member', whatsapp({ templates: [{ name: 'a', language: 'en', params: 1, parms: 2 }] }), /unknown member "parms"/],
    ['a template twice', whatsapp({ templates: [{ name: 'a', language: 'en', params: 1 }, { name: 'a', language: 'en', params: 2 }] }), /templates\[1\] repeats templates\[0\]/],
    ['a default_template not listed', whatsapp({ templates: [{ name: 'a', language: 'en', params: 1 }], default_template: 'b' }), /default_template must be the name/],
    ['null templates', whatsapp({ templates: null }), /templates cannot be null/],
    ['rate_limit_per_s 0', whatsapp({ rate_limit_per_s: 0 }), /rate_limit_per_s is messages per second, 1 to 1000/],
    ['rate_limit_per_s 1001', whatsapp({ rate_limit_per_s: 1001 }), /rate_limit_per_s is messages per second, 1 to 1000/],
    ['a name of 101 characters', whatsapp({ name: 'न'.repeat(101) }), /name is longer than 100/],
  ];
  for (const [what, body, re] of bad) {
    test(`POST: ${what} -> 400, nothing written`, async () => {
      const n = (await rows('channels', A.token, 'select=id')).length;
      const r = await rest('POST', 'channels', { token: A.token, headers: REP, body });
      expectPgError(r, 400, '23514');
      assert.match(r.json.message, re, r.info);
      // The message never repeats a secret it was given.
      assert.deepEqual(leaks(r.text, SECRETS.map((k) => body[k]).filter((v) => typeof v === 'string' && v.length > 8)), [], r.info);
      assert.equal((await rows('channels', A.token, 'select=id')).length, n);
    });
  }

  test('a name of 100 Devanagari characters is within the limit', async () => {
    const r = await rest('POST', 'channels', { token: A.token, headers: REP, body: whatsapp({ name: 'न'.repeat(100) }) });
    assert.equal(r.status, 201, r.info);
    const d = await rest('DELETE', `channels?id=eq.${r.json[0].id}`, { token: A.token });
    assert.equal(d.status, 204, d.info);
  });

  test('a bulk POST with one bad channel writes none', async () => {
    const n = (await rows('channels', A.token, 'select=id')).length;
    const r = await rest('POST', 'channels', { token: A.token, body: [whatsapp(), telegram({ bot_token: 'nope' })] });
    expectPgError(r, 400, '23514');
    assert.equal((await rows('channels', A.token, 'select=id')).length, n);
  });

  const badPatch = [
    ['clearing access_token', () => wa.id, { access_token: null }, /access_token cannot be cleared/],
    ['clearing phone_number_id', () => wa.id, { phone_number_id: null }, /phone_number_id cannot be cleared/],
    ['clearing bot_token', () => tg.id, { bot_token: null }, /bot_token cannot be cleared/],
    ['clearing webhook_secret', () => tg.id, { webhook_secret: null }, /webhook_secret cannot be cleared/],
    ['clearing app_secret without a shared app', () => wa.id, { app_secret: null }, /app_secret cannot be cleared/],
    ['mixing the platforms', () => wa.id, { access_token: secret('EAAG'), bot_token: botToken() }, /a change cannot set both/],
    ['a bad bot_token', () => tg.id, { bot_token: 'x:y' }, /bot_token is not a Telegram bot token/],
    ['rate_limit_per_s 5000', () => wa.id, { rate_limit_per_s: 5000 }, /1 to 1000/],
    ['a template with 11 params', () => wa.id, { templates: [{ name: 'a', language: 'en', params: 11 }] }, /params/],
  ];
  for (const [what, id, body, re] of badPatch) {
    test(`PATCH: ${what} -> 400, nothing changed`, async () => {
      const q = `select=*&id=eq.${id()}`;
      const before = await rows('channels', A.token, q);
      const secretsBefore = dbQuery(`SELECT coalesce(access_token,'-') || coalesce(bot_token,'-') || coalesce(app_secret,'-') FROM channels WHERE id = ${uuidLit(id())}`);
      const r = await rest('PATCH', `channels?id=eq.${id()}`, { token: A.token, body });
      expectPgError(r, 400, '23514');
      assert.match(r.json.message, re, r.info);
      assert.deepEqual(await rows('channels', A.token, q), before);
      assert.deepEqual(dbQuery(`SELECT coalesce(access_token,'-') || coalesce(bot_token,'-') || coalesce(app_secret,'-') FROM channels WHERE id = ${uuidLit(id())}`), secretsBefore);
    });
  }

  test('PATCH: the platform cannot change', async () => {
    const r = await rest('PATCH', `channels?id=eq.${wa.id}`, { token: A.token, body: { platform: 'telegram' } });
    expectPgError(r, 400, 'MU001');
  });

  test('PATCH: templates and the default template can change together', async () => {
    const templates = [{ name: 'order_update', language: 'en_US', params: 3 }];
    const r = await rest('PATCH', `channels?id=eq.${wa.id}`, { token: A.token, headers: REP, body: { templates, default_template: 'order_update' } });
    assert.equal(r.status, 200, r.info);
    assert.deepEqual(r.json[0].templates, templates);
    assert.equal(r.json[0].default_template, 'order_update');
  });
});

// ---------------------------------------------------------------------------
describe('one business per number, and tenancy', () => {
  test('a phone_number_id connected by another business -> 409 that names no business', async () => {
    const r = await rest('POST', 'channels', { token: B.token, headers: REP, body: whatsapp({ phone_number_id: waBody.phone_number_id }) });
    expectPgError(r, 409, '23505');
    assert.match(r.json.message, /phone_number_id is already connected/, r.info);
    for (const leak of [A.userId, A.email, wa.id, waBody.name, 'Biz ']) assert.ok(!r.text.includes(leak), `the answer names ${leak}: ${r.info}`);
    assert.deepEqual(await rows('channels', B.token, 'select=id'), []);
    // The same for a second channel of the same business, and for a PATCH.
    const again = await rest('POST', 'channels', { token: A.token, body: whatsapp({ phone_number_id: waBody.phone_number_id }) });
    expectPgError(again, 409, '23505');
    const b = await rest('POST', 'channels', { token: B.token, headers: REP, body: whatsapp() });
    assert.equal(b.status, 201, b.info);
    const p = await rest('PATCH', `channels?id=eq.${b.json[0].id}`, { token: B.token, body: { phone_number_id: waBody.phone_number_id } });
    expectPgError(p, 409, '23505');
    assert.ok(!p.text.includes(A.userId), p.info);
    const del = await rest('DELETE', `channels?id=eq.${b.json[0].id}`, { token: B.token });
    assert.equal(del.status, 204, del.info);
  });

  test('another business cannot see, change or delete a channel', async () => {
    assert.deepEqual(await rows('channels', B.token), []);
    assert.deepEqual(await rows('channels', B.token, `select=id&id=eq.${wa.id}`), []);
    const before = dbQuery(`SELECT name || access_token FROM channels WHERE id = ${uuidLit(wa.id)}`);
    const p = await rest('PATCH', `channels?id=eq.${wa.id}`, { token: B.token, headers: REP, body: { name: 'stolen', access_token: secret('EAAG') } });
    assert.equal(p.status, 200, p.info);
    assert.deepEqual(p.json, []);
    const d = await rest('DELETE', `channels?id=eq.${tg.id}`, { token: B.token, headers: REP });
    assert.equal(d.status, 200, d.info);
    assert.deepEqual(d.json, []);
    assert.deepEqual(dbQuery(`SELECT name || access_token FROM channels WHERE id = ${uuidLit(wa.id)}`), before);
    assert.equal((await rows('channels', A.token, 'select=id')).length, 2);
    const forged = await rest('POST', 'channels', { token: B.token, body: { ...telegram(), profile_id: A.userId } });
    expectPgError(forged, 403, '42501');
    // A session of B's cannot embed A's channel either.
    const s = await rest('POST', 'sessions', { token: B.token, headers: REP, body: { contact_id: '+919800000001' } });
    assert.equal(s.status, 201, s.info);
    const e = await rows('sessions', B.token, `select=id,channels(*)&id=eq.${s.json[0].id}`);
    assert.equal(e[0].channels, null);
  });
});

// ---------------------------------------------------------------------------
describe('profiles.owner_phone', () => {
  test('is E.164, normalised; a bad one -> 400 and nothing changed', async () => {
    const ok = await rest('PATCH', `profiles?id=eq.${A.userId}`, { token: A.token, headers: REP, body: { owner_phone: '+91 98123 45678' } });
    assert.equal(ok.status, 200, ok.info);
    assert.equal(ok.json[0].owner_phone, '+919812345678');
    for (const bad of ['98123', 'phone', '+0123456789']) {
      const r = await rest('PATCH', `profiles?id=eq.${A.userId}`, { token: A.token, body: { owner_phone: bad } });
      expectPgError(r, 400, '23514');
      assert.match(r.json.message, /owner_phone/, r.info);
    }
    assert.equal((await rows('profiles', A.token, 'select=owner_phone'))[0].owner_phone, '+919812345678');
  });
});

// ---------------------------------------------------------------------------
// A server of our own, with the debug log (every request line) and a shared
// WhatsApp app (MUNSHI_WHATSAPP_APP_SECRET), on the suite's database.

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}

async function startServer(env) {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'munshi-channels-'));
  const logPath = join(dir, 'server.log');
  const fd = openSync(logPath, 'w');
  const proc = spawn(process.env.MUNSHI_BIN, ['serve'], {
    cwd: dir,
    env: { ...process.env, MUNSHI_PORT: String(port), MUNSHI_LISTEN: '127.0.0.1', ...env },
    stdio: ['ignore', fd, fd],
  });
  let exited = null;
  proc.on('exit', (code, sig) => { exited = { code, sig }; });
  for (let i = 0; i < 200 && !exited; i++) {
    const up = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => { s.destroy(); resolve(true); });
      s.on('error', () => resolve(false));
    });
    if (up) break;
    await sleep(100);
  }
  const log = () => readFileSync(logPath, 'utf8');
  assert.equal(exited, null, `the server exited early: ${JSON.stringify(exited)}\n${log()}`);
  return {
    port, log,
    async stop() {
      if (!exited) {
        proc.kill('SIGTERM');
        for (let i = 0; i < 300 && !exited; i++) await sleep(100);
        if (!exited) proc.kill('SIGKILL');
      }
      const out = log();
      rmSync(dir, { recursive: true, force: true });
      assert.ok(exited && exited.code === 0, `server stopped badly (${JSON.stringify(exited)}):\n${out.slice(-3000)}`);
    },
  };
}

/** A /rest/v1 request to the server on port (lib.mjs's helpers talk to the suite's). */
function restAt(port, method, path, { token, headers = {}, body } = {}) {
  const h = { apikey: process.env.MUNSHI_ANON_KEY, ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  const payload = body === undefined ? undefined : JSON.stringify(body);
  if (payload !== undefined) h['Content-Type'] = 'application/json';
  return new Promise((resolve, reject) => {
    import('node:http').then(({ default: http }) => {
      const req = http.request({ host: '127.0.0.1', port, method, path: `/rest/v1/${path}`, headers: h, agent: false });
      req.on('response', (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try { json = text ? JSON.parse(text) : undefined; } catch { json = undefined; }
          resolve({ status: res.statusCode, text, json, info: `${method} ${path.slice(0, 200)} -> ${res.statusCode} ${text.slice(0, 400)}` });
        });
      });
      req.on('error', reject);
      req.end(payload);
    }, reject);
  });
}

describe('logs and the shared WhatsApp app', () => {
  let srv;
  before(async () => {
    srv = await startServer({ MUNSHI_LOG: 'debug', MUNSHI_WHATSAPP_APP_SECRET: secret('shared') });
  });
  after(async () => { await srv.stop(); });

  test('with a shared app a WhatsApp channel may leave app_secret out; no secret ever reaches the log', async () => {
    const seen = [];
    const body = whatsapp({ app_secret: undefined });
    seen.push(body.access_token, body.verify_token);
    const r = await restAt(srv.port, 'POST', 'channels', { token: A.token, headers: REP, body });
    assert.equal(r.status, 201, r.info);
    const id = r.json[0].id;
    assertSecretsNull(r.json[0], 'shared app');
    assert.equal(stored(id, 'app_secret'), '<null>');
    // The same body on the suite's server (no shared app) is refused.
    const refused = await rest('POST', 'channels', { token: A.token, body: whatsapp({ app_secret: undefined }) });
    expectPgError(refused, 400, '23514');
    // Clearing app_secret is allowed here, too.
    const clear = await restAt(srv.port, 'PATCH', `channels?id=eq.${wa.id}`, { token: A.token, body: { app_secret: null } });
    assert.equal(clear.status, 204, clear.info);
    assert.equal(stored(wa.id, 'app_secret'), '<null>');
    // Writes, refusals and probes that carry secrets.
    const tgb = telegram({ webhook_secret: secret('wsec') });
    seen.push(tgb.bot_token, tgb.webhook_secret);
    const t = await restAt(srv.port, 'POST', 'channels', { token: A.token, body: tgb });
    assert.equal(t.status, 201, t.info);
    const newTok = secret('EAAG');
    const newApp = secret('app');
    seen.push(newTok, newApp);
    const p = await restAt(srv.port, 'PATCH', `channels?id=eq.${id}`, { token: A.token, headers: REP, body: { access_token: newTok, app_secret: newApp } });
    assert.equal(p.status, 200, p.info);
    const badTok = `${secret('EAAG')} x`;
    const badBot = `12ab:${secret('bb')}`;
    seen.push(badTok.split(' ')[0], badBot.slice(5));
    const b1 = await restAt(srv.port, 'POST', 'channels', { token: A.token, body: whatsapp({ access_token: badTok }) });
    assert.equal(b1.status, 400, b1.info);
    const b2 = await restAt(srv.port, 'POST', 'channels', { token: A.token, body: telegram({ bot_token: badBot }) });
    assert.equal(b2.status, 400, b2.info);
    const dup = whatsapp({ phone_number_id: waBody.phone_number_id });
    seen.push(dup.access_token, dup.verify_token, dup.app_secret);
    const b3 = await restAt(srv.port, 'POST', 'channels', { token: B.token, body: dup });
    assert.equal(b3.status, 409, b3.info);
    const probe = await restAt(srv.port, 'GET', `channels?access_token=eq.${newTok}`, { token: A.token });
    assert.equal(probe.status, 400, probe.info);
    const sel = await restAt(srv.port, 'GET', `channels?select=*,sessions(*)&id=eq.${id}`, { token: A.token });
    assert.equal(sel.status, 200, sel.info);
    assertSecretsNull(sel.json[0], 'via the second server');
    assert.equal(stored(id, 'access_token'), newTok);
    await sleep(200);
    const log = srv.log();
    assert.match(log, /POST \/rest\/v1\/channels /, 'the requests were not logged at all');
    assert.deepEqual(leaks(log, seen), [], 'a secret is in the log');
    const del = await restAt(srv.port, 'DELETE', `channels?or=(id.eq.${id},name.eq.${encodeURIComponent(tgb.name)})`, { token: A.token, headers: REP });
    assert.equal(del.status, 200, del.info);
    assert.equal(del.json.length, 2, del.info);
  });
});
