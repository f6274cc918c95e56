// telegram.mjs - a Telegram Bot API fake for the node tests.
//
//  - FakeTelegram: POST /bot<token>/<method> for sendMessage, setWebhook,
//    getMe, answerCallbackQuery (JSON or form bodies), answering
//    {"ok":true,"result":...} or, when scripted, {"ok":false,"error_code",
//    "description"[,"parameters":{"retry_after"}]} with the same HTTP status
//    (429 with retry_after, 400, 403); a wrong token is 401 Unauthorized.
//    Every call is recorded (calls[]), sendMessage's also in sent[].
//    sendDocument takes multipart/form-data (chat_id, caption, document as
//    a file), parsed byte for byte; the file is kept in documents[].
//  - TelegramBot: Telegram posting Updates to munshi's webhook with
//    X-Telegram-Bot-Api-Secret-Token: messages, edited messages, callback
//    queries, with increasing update_id.
import http from 'node:http';

import { FakeServer, parseMultipart, reply } from './common.mjs';

/** Telegram's error body. */
export function tgError(code, description, retryAfter) {
  const b = { ok: false, error_code: code, description };
  if (retryAfter !== undefined) b.parameters = { retry_after: retryAfter };
  return b;
}

export const TG_ERRORS = {
  429: (n = 1) => tgError(429, `Too Many Requests: retry after ${n}`, n),
  400: () => tgError(400, 'Bad Request: chat not found'),
  403: () => tgError(403, 'Forbidden: bot was blocked by the user'),
  401: () => tgError(401, 'Unauthorized'),
};

/**
 * opts.token: a bot token it accepts (add more to `tokens`; none: any);
 * opts.username. Script answers for
 * sendMessage on `script` ({error: 429, retryAfter: 2} | {error: 400} |
 * {error: 403} | {status: 502} | {drop: true} | {delayMs}).
 */
export class FakeTelegram extends FakeServer {
  constructor(opts = {}) {
    super((req, res, rec) => this.onRequest(req, res, rec));
    this.tokens = new Set(opts.token ? [opts.token] : []); // empty: any token
    this.username = opts.username || 'munshi_test_bot';
    this.botId = Number(String(opts.token || '1:').split(':')[0]) || 1;
    this.script = [];
    this.calls = []; // {method, token, params}
    this.sent = []; // accepted sendMessage: {params, message_id}
    this.documents = []; // accepted sendDocument: {params, filename, contentType, data, message_id}
    this.webhook = null;
    this.nextMessageId = 1000;
  }

  /** MUNSHI_TELEGRAM_API_URL. */
  get url() { return this.origin; }

  async onRequest(req, res, rec) {
    const m = /^\/bot([^/]+)\/([A-Za-z]+)(?:\?(.*))?$/.exec(req.url);
    if (!m) { reply(res, 404, tgError(404, 'Not Found')); return; }
    const [, token, method, qs] = m;
    let params = {};
    const ct = req.headers['content-type'] || '';
    let file;
    if (/^multipart\/form-data/i.test(ct)) {
      try {
        for (const p of parseMultipart(ct, rec.raw)) {
          if (p.filename !== undefined) file = p;
          else params[p.name] = p.data.toString('utf8');
        }
      } catch (e) {
        reply(res, 400, tgError(400, `Bad Request: ${e.message}`));
        return;
      }
    } else if (/json/.test(ct)) params = rec.json || {};
    else if (/x-www-form-urlencoded/.test(ct)) params = Object.fromEntries(new URLSearchParams(rec.raw.toString('utf8')));
    else if (qs) params = Object.fromEntries(new URLSearchParams(qs));
    const call = { at: rec.at, method, token, params };
    this.calls.push(call);
    if (this.tokens.size && !this.tokens.has(token)) { reply(res, 401, TG_ERRORS[401]()); return; }
    const me = { id: this.botId, is_bot: true, first_name: 'Munshi Test', username: this.username };
    switch (method) {
      case 'getMe':
        reply(res, 200, { ok: true, result: { ...me, can_join_groups: true, can_read_all_group_messages: false, supports_inline_queries: false } });
        return;
      case 'setWebhook':
        if (!params.url) { reply(res, 400, tgError(400, 'Bad Request: bad webhook: URL must be provided')); return; }
        this.webhook = { url: params.url, secret_token: params.secret_token, allowed_updates: params.allowed_updates };
        reply(res, 200, { ok: true, result: true, description: 'Webhook was set' });
        return;
      case 'sendDocument': {
        if (params.chat_id === undefined || !file || file.name !== 'document') {
          reply(res, 400, tgError(400, params.chat_id === undefined ? 'Bad Request: chat_id is empty' : 'Bad Request: there is no document in the request'));
          return;
        }
        const message = {
          message_id: this.nextMessageId++,
          from: me,
          chat: { id: Number(params.chat_id), first_name: 'Customer', type: 'private' },
          date: Math.floor(Date.now() / 1000),
          document: { file_name: file.filename, mime_type: file.contentType, file_id: `doc${this.nextMessageId}`, file_size: file.data.length },
          ...(params.caption ? { caption: params.caption } : {}),
        };
        call.answer = 200;
        this.documents.push({ at: rec.at, token, params, filename: file.filename, contentType: file.contentType, data: Buffer.from(file.data), message_id: message.message_id });
        this.notify();
        reply(res, 200, { ok: true, result: message });
        return;
      }
      case 'answerCallbackQuery':
        reply(res, 200, { ok: true, result: true });
        return;
      case 'sendMessage': {
        let ans = this.script.length ? this.script.shift() : undefined;
        ans = ans || {};
        if (ans.delayMs) await new Promise((r) => setTimeout(r, ans.delayMs).unref());
        if (ans.drop) { req.socket.destroy(); return; }
        if (ans.error) {
          const body = ans.error === 429 ? TG_ERRORS[429](ans.retryAfter ?? 1) : (TG_ERRORS[ans.error] ? TG_ERRORS[ans.error]() : tgError(ans.error, 'Error'));
          call.answer = ans.error;
          reply(res, ans.error, body);
          return;
        }
        if (ans.status) { call.answer = ans.status; reply(res, ans.status, 'Bad Gateway', { 'Content-Type': 'text/html' }); return; }
        if (params.chat_id === undefined || params.text === undefined || params.text === '') {
          reply(res, 400, tgError(400, params.chat_id === undefined ? 'Bad Request: chat_id is empty' : 'Bad Request: message text is empty'));
          return;
        }
        const message = {
          message_id: this.nextMessageId++,
          from: me,
          chat: { id: Number(params.chat_id), first_name: 'Customer', type: 'private' },
          date: Math.floor(Date.now() / 1000),
          text: String(params.text),
        };
        if (params.reply_markup) message.reply_markup = typeof params.reply_markup === 'string' ? JSON.parse(params.reply_markup) : params.reply_markup;
        call.answer = 200;
        this.sent.push({ at: rec.at, token, params, message_id: message.message_id });
        this.notify();
        reply(res, 200, { ok: true, result: message });
        return;
      }
      default:
        reply(res, 404, tgError(404, 'Not Found: method not found'));
    }
  }

  sentTo(chatId) { return this.sent.filter((s) => String(s.params.chat_id) === String(chatId)); }

  reset() {
    this.requests.length = 0; this.calls.length = 0; this.sent.length = 0; this.script.length = 0;
    this.documents.length = 0;
    this.down = false; this.delayMs = 0;
  }
}

/**
 * Telegram's side of one bot: posts Updates to munshi.
 * opts: munshi (origin), channelId, secret (the webhook secret_token).
 */
export class TelegramBot {
  constructor(opts) {
    this.munshi = new URL(opts.munshi);
    this.path = opts.path || `/webhooks/telegram/${opts.channelId}`;
    this.secret = opts.secret;
    this.updateId = 500000000 + Math.floor(Math.random() * 1e6);
    this.messageId = 1;
  }

  user(chatId, firstName = 'Ravi', username) {
    return { id: Number(chatId), is_bot: false, first_name: firstName, ...(username ? { username } : {}), language_code: 'en' };
  }

  /** An Update with a text message from chatId (a private chat). */
  message(chatId, text, { firstName = 'Ravi', edited = false, date, messageId } = {}) {
    const from = this.user(chatId, firstName);
    const msg = {
      message_id: messageId ?? this.messageId++,
      from,
      chat: { id: Number(chatId), first_name: firstName, type: 'private' },
      date: date ?? Math.floor(Date.now() / 1000),
      text,
    };
    if (edited) msg.edit_date = msg.date + 5;
    return { update_id: ++this.updateId, [edited ? 'edited_message' : 'message']: msg };
  }

  /** An Update for an inline-keyboard button press. */
  callback(chatId, data, { firstName = 'Ravi', messageId = 1 } = {}) {
    return {
      update_id: ++this.updateId,
      callback_query: {
        id: String(BigInt(chatId) * 1000n + BigInt(this.updateId % 1000)),
        from: this.user(chatId, firstName),
        message: { message_id: messageId, chat: { id: Number(chatId), type: 'private' }, date: Math.floor(Date.now() / 1000), text: '…' },
        chat_instance: String(-Number(chatId)),
        data,
      },
    };
  }

  /** Posts update; o.secret: the header (null: none). Resolves {status, text, json}. */
  post(update, o = {}) {
    const raw = Buffer.from(typeof update === 'string' ? update : JSON.stringify(update));
    const headers = { 'Content-Type': 'application/json', 'Content-Length': raw.length };
    const sec = o.secret === undefined ? this.secret : o.secret;
    if (sec !== null) headers['X-Telegram-Bot-Api-Secret-Token'] = sec;
    return new Promise((resolve, reject) => {
      const req = http.request({ host: this.munshi.hostname, port: this.munshi.port, method: 'POST', path: o.path || this.path, headers, agent: false }, (res) => {
        const parts = [];
        res.on('data', (d) => parts.push(d));
        res.on('end', () => {
          const text = Buffer.concat(parts).toString('utf8');
          let json;
          try { json = JSON.parse(text); } catch { json = undefined; }
          resolve({ status: res.statusCode, text, json, info: `POST ${this.path} -> ${res.statusCode} ${text.slice(0, 300)}` });
        });
      });
      req.on('error', reject);
      req.end(raw);
    });
  }
}
