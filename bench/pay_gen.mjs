// pay_gen.mjs - pre-generates signed Razorpay webhooks for the
// payment_webhooks bench (wrk cannot compute an HMAC): one line per request,
//   <X-Razorpay-Signature> TAB <x-razorpay-event-id> TAB <raw JSON body>
// Lines go in pairs: payment_link.partially_paid, then payment.captured, of
// the same distinct payment (₹1.00) on one of the links whose references
// are given, as Razorpay sends both for a paid link — so the server must
// record each payment once from two events (tests/fakes/razorpay.mjs builds
// the bodies).
//
//   node bench/pay_gen.mjs --out FILE --pairs N --run R --refs FILE --secret S
import { createWriteStream, readFileSync } from 'node:fs';

import { arg } from '../tests/fakes/common.mjs';
import { linkPaidEvent, paymentCapturedEvent, sign } from '../tests/fakes/razorpay.mjs';

const out = arg('out');
const pairs = Number(arg('pairs', '30000'));
const run = Number(arg('run', '1'));
const secret = arg('secret');
const refs = arg('refs') ? readFileSync(arg('refs'), 'utf8').split('\n').filter(Boolean) : [];
if (!out || !secret || !refs.length || !(pairs > 0 && pairs < 5000000)) {
  console.error('usage: pay_gen.mjs --out FILE --pairs N --run R --refs FILE --secret S');
  process.exit(2);
}
const ws = createWriteStream(out);
for (let i = 0; i < pairs; i++) {
  const ref = refs[i % refs.length];
  const link = { id: `plink_bench${i % refs.length}`, reference_id: ref, amount: 100000000, amount_paid: 0, notes: { munshi_reference: ref }, status: 'created' };
  const pay = `pay_b${run}x${i}`;
  const a = JSON.stringify(linkPaidEvent(link, 100, pay, { partial: true }));
  const b = JSON.stringify(paymentCapturedEvent(link, 100, pay));
  ws.write(`${sign(a, secret)}\tevt_b${run}x${i}a\t${a}\n`);
  ws.write(`${sign(b, secret)}\tevt_b${run}x${i}b\t${b}\n`);
}
ws.end();
