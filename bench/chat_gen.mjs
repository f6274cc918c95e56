// chat_gen.mjs - pre-generates signed WhatsApp webhooks for the chat bench
// (wrk cannot compute an HMAC): one line per request,
//   <X-Hub-Signature-256 value> TAB <raw JSON body>
// each body one text message from a distinct sender, shaped as Meta sends it
// (tests/fakes/whatsapp.mjs builds it).
//
//   node bench/chat_gen.mjs --out FILE --n N --run R --pnid PHONE_NUMBER_ID \
//        --secret APP_SECRET [--text "price of rice?"]
import { createWriteStream } from 'node:fs';

import { WhatsAppMeta } from '../tests/fakes/whatsapp.mjs';
import { arg } from '../tests/fakes/common.mjs';

const out = arg('out');
const n = Number(arg('n', '100000'));
const run = Number(arg('run', '1')) % 100;
const text = arg('text', 'price of rice?');
const meta = new WhatsAppMeta({
  munshi: 'http://127.0.0.1:1', channelId: 'bench', appSecret: arg('secret'), phoneNumberId: arg('pnid'),
  displayPhoneNumber: '15550001111',
});
if (!out || !arg('secret') || !arg('pnid') || !(n > 0 && n < 10000000)) {
  console.error('usage: chat_gen.mjs --out FILE --n N --run R --pnid ID --secret S');
  process.exit(2);
}
const ws = createWriteStream(out);
const ts = Math.floor(Date.now() / 1000);
for (let i = 0; i < n; i++) {
  // "91" + 10 digits: 6, the run (2 digits), the index (7 digits): distinct per run.
  const waId = `916${String(run).padStart(2, '0')}${String(i).padStart(7, '0')}`;
  const { payload } = meta.text(waId, text, { name: `Bench ${i}`, timestamp: ts });
  const raw = JSON.stringify(payload);
  if (!ws.write(`${meta.sign(raw)}\t${raw}\n`)) await new Promise((r) => ws.once('drain', r));
}
ws.end();
await new Promise((r) => ws.on('finish', r));
