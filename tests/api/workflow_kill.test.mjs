// workflow_kill.test.mjs - the kill test of issue 8: an active workflow
// (customer.created → wait 3 s → send_message to the customer), a few
// thousand triggering events, kill -9 while the runs wait and again while
// they send, a restart after each: every run completes and every customer
// gets exactly one message, counted at the WhatsApp fake. A send that was
// in flight at a kill (the provider may or may not have it) is never made
// again (chat outbox: outcome_unknown); such messages are counted and
// reported on their own. MUNSHI_KILL_N sets the number of events (default
// 2000; 600 on a sanitizer build).
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { FakeWhatsApp } from '../fakes/whatsapp.mjs';
import { Shop, freshDatabase, randomWaId, sleep, startMunshi } from './chat_lib.mjs';

// A sanitizer build is several times slower: fewer events keep it in time.
const N = Number(process.env.MUNSHI_KILL_N || (/asan/.test(process.env.MUNSHI_BIN || '') ? 600 : 2000));
const REP = { Prefer: 'return=representation' };

function sql(url, text) {
  const out = url.startsWith('sqlite:')
    ? execFileSync('sqlite3', ['-cmd', '.timeout 10000', url.slice(7), text], { encoding: 'utf8' })
    : execFileSync('psql', [url, '-qtAX', '-v', 'ON_ERROR_STOP=1', '-c', text], { encoding: 'utf8' });
  return out.split('\n').filter((l) => l !== '');
}

describe('kill -9 during workflow runs', () => {
  let db;
  let srv;
  let wa;
  let shop;
  let bpId;
  // A short outbox lease, so a killed sender's claim is settled within the
  // test (300 s by default: a batch of slow provider calls).
  const env = () => ({ MUNSHI_WHATSAPP_API_URL: wa.url, MUNSHI_WORKERS: '2', MUNSHI_CHAT_OUTBOX_LEASE_S: '6' });

  before(async () => {
    wa = new FakeWhatsApp();
    await wa.listen();
    db = freshDatabase();
    srv = await startMunshi(db.url, env());
    shop = await Shop.open({ origin: srv.origin, wa, telegram: false });
  });
  after(async () => {
    if (srv) await srv.stop();
    if (db) db.drop();
    await wa.close();
  });

  async function restart() {
    srv = await startMunshi(db.url, env());
    shop.origin = srv.origin;
    shop.base = srv.origin;
  }

  const counts = (bp) => {
    const m = { running: 0, waiting: 0, completed: 0, failed: 0, cancelled: 0 };
    for (const l of sql(db.url, `SELECT status, count(*) FROM workflow_logs WHERE blueprint_id = '${bp}' GROUP BY status`)) {
      const [k, v] = l.split('|');
      m[k] = Number(v);
    }
    return m;
  };

  async function until(pred, ms, what) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
      if (await pred()) return;
      await sleep(100);
    }
    const outbox = sql(db.url, 'SELECT state, count(*) FROM chat_outbox GROUP BY state').join(', ');
    const steps = sql(db.url, 'SELECT node_id, status, count(*) FROM workflow_steps GROUP BY node_id, status').join(', ');
    throw new Error(`timed out after ${ms} ms: ${what}; runs ${JSON.stringify(counts(bpId))}, steps [${steps}], ` +
      `outbox [${outbox}], WhatsApp calls ${wa.attempts.length}, accepted ${wa.sends.length}\n${srv.log().slice(-2000)}`);
  }

  test(`${N} runs survive kill -9 while waiting and while sending; one message per customer`, { timeout: 170000 }, async () => {
    const t0 = Date.now();
    const c = await shop.rest('POST', 'workflow_blueprints', {
      body: {
        name: 'Welcome after a moment',
        max_messages_per_hour: 1000000, // the cap is not under test here
        nodes: [
          { id: 't', type: 'trigger', params: { event: 'customer.created' } },
          { id: 'w', type: 'wait', params: { for: '3s' } },
          { id: 's', type: 'send_message', params: { to: 'customer', text: 'Namaste {{ customer.full_name }}, welcome to our shop!',
            template: { name: 'payment_reminder', language: 'en', params: ['{{ customer.full_name }}', 'welcome'] } } },
        ],
        edges: [{ from: 't', to: 'w' }, { from: 'w', to: 's' }],
      },
      headers: REP,
    });
    assert.equal(c.status, 201, c.info);
    const bp = c.json[0].id;
    bpId = bp;
    assert.equal((await shop.rpc('activate_workflow', { id: bp })).status, 200);

    const phones = new Set();
    while (phones.size < N) phones.add(randomWaId());
    const all = [...phones];
    for (let i = 0; i < N; i += 250) {
      const body = all.slice(i, i + 250).map((w, k) => ({ full_name: `Customer ${i + k}`, phone_number: `+${w}` }));
      const r = await shop.rest('POST', 'customers', { body });
      assert.equal(r.status, 201, r.info);
    }

    // kill 1: while runs wait
    await until(() => counts(bp).waiting >= N * 0.3, 60000, 'runs waiting');
    const atKill1 = counts(bp);
    await srv.kill9();
    await restart();

    // kill 2: while they send
    await until(() => wa.sends.length >= N * 0.3, 60000, 'sends under way');
    const sentAtKill2 = wa.sends.length;
    await srv.kill9();
    await restart();

    await until(() => counts(bp).completed + counts(bp).failed >= N, 90000, 'every run ended');
    const end = counts(bp);
    // A kill leaves the outbox's claim 'sending' until its lease ends; then
    // the one message of the claim that may have been on the wire is
    // settled outcome_unknown (never sent again: the provider may have it)
    // and the rest of the batch is sent. Wait for the outbox to empty.
    await until(() => Number(sql(db.url, 'SELECT count(*) FROM chat_outbox')[0]) === 0, 60000, 'the outbox drained');
    await sleep(2000); // time for a repeat to show
    const unknown = Number(sql(db.url,
      `SELECT count(*) FROM unified_messages WHERE sender = 'workflow' AND status = 'queued' AND CAST(error AS text) LIKE '%outcome_unknown%'`)[0]);
    const queued = Number(sql(db.url,
      `SELECT count(*) FROM unified_messages WHERE direction = 'outbound' AND sender = 'workflow'`)[0]);
    const per = all.map((w) => wa.sendsTo(w).length);
    const once = per.filter((n) => n === 1).length;
    const repeats = per.filter((n) => n > 1).length;
    const missing = all.filter((w, k) => per[k] === 0);
    const neverCalled = missing.filter((w) => !wa.attempts.some((a) => String(a.to).replace(/^\+/, '') === w)).length;
    console.log(`# kill test (${process.env.MUNSHI_BACKEND || 'sqlite'}): ${N} runs; kill 1 with ${atKill1.waiting} waiting ` +
      `and ${atKill1.running} running, kill 2 after ${sentAtKill2} sends; after the restarts: ${end.completed} completed, ` +
      `${end.failed} failed; messages queued by the runs: ${queued}; customers with exactly one message: ${once}, ` +
      `with more than one: ${repeats}, with none: ${missing.length} (${neverCalled} never sent to WhatsApp); ` +
      `in flight at a kill (outcome_unknown, not re-sent): ${unknown}; ` +
      `WhatsApp calls ${wa.attempts.length}, accepted ${wa.sends.length}; ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    assert.equal(end.completed, N, `every run completed: ${JSON.stringify(end)}`);
    assert.equal(queued, N, 'each run queued its message once');
    assert.equal(Number(sql(db.url, 'SELECT count(*) FROM workflow_steps')[0]), 0, 'no step left');
    assert.equal(repeats, 0, 'no customer got the message twice');
    // The only customers without their message are those whose message was
    // on the wire at a kill and did not reach the provider: at most one per
    // outbox claim alive at a kill (2 workers, 2 kills), each settled
    // outcome_unknown (the window docs/chat.md describes).
    assert.ok(missing.length <= unknown, `${missing.length} customers without a message, ${unknown} in flight at a kill`);
    assert.ok(unknown <= 4, `at most one message in flight per worker per kill, not ${unknown}`);
  });
});
