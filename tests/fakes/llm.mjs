// llm.mjs - an OpenAI-compatible chat-completions fake with tool calling,
// for the agent's LLM path.
//
// POST <base>/chat/completions (base: "<origin>/v1" or "<origin>") with
// "Authorization: Bearer <key>" and {model, messages, tools, tool_choice}.
// It answers one assistant message whose tool_calls hold one call
// {id, type:"function", function:{name, arguments:"<JSON text>"}} chosen by
// `rule(request)` (default: keywords of the last user message, see
// defaultRule), only ever naming a tool the request offered. It can be slow
// (delayMs, for the agent's timeout), fail ({status}), or answer plain
// content without a tool call. Every request is recorded in `calls`.
import { randomBytes } from 'node:crypto';

import { FakeServer, reply } from './common.mjs';

/** Keywords → tool, tried in order on the lowercased last user text. */
const KEYWORDS = [
  [/\b(price|rate|bhav|kitne ka)\b|कीमत|दाम|भाव/u, 'price'],
  [/\b(stock|available|hai kya|milega)\b/u, 'availability'],
  [/\b(balance|dues|hisaab|baki)\b|बकाया|हिसाब/u, 'balance'],
  [/\b(pay|upi|payment)\b/u, 'pay'],
  [/\b(track|shipment|kahan|delivery)\b/u, 'track'],
  [/\b(human|person|insaan|owner)\b/u, 'handover'],
  [/\b(hi|hello|namaste)\b|नमस्ते/u, 'greet'],
  [/\b(thanks|thank you|shukriya)\b|धन्यवाद/u, 'thanks'],
];
const PRODUCT_WORDS = ['atta', 'rice', 'oil', 'chawal', 'tel', 'sugar', 'आटा', 'चावल', 'तेल'];

/** Fills a tool's required arguments from its JSON schema and the text. */
function argumentsFor(tool, text) {
  const params = (tool && tool.function && tool.function.parameters) || {};
  const props = params.properties || {};
  const word = PRODUCT_WORDS.find((w) => text.includes(w));
  const out = {};
  for (const [k, p] of Object.entries(props)) {
    if (p.type === 'string' && /product|name|query|item|text/.test(k) && word) out[k] = word;
    else if (p.type === 'array' && p.items && p.items.type === 'string' && /product|name|quer/.test(k) && word) out[k] = [word];
  }
  return out;
}

/** The default rule: {name, arguments} for the last user message. */
export function defaultRule(body) {
  const msgs = (body && body.messages) || [];
  const last = [...msgs].reverse().find((m) => m.role === 'user');
  const text = String((last && (typeof last.content === 'string' ? last.content : JSON.stringify(last.content))) || '').toLowerCase();
  const tools = (body && body.tools) || [];
  const offered = new Map(tools.map((t) => [t.function && t.function.name, t]));
  for (const [re, name] of KEYWORDS) {
    if (re.test(text) && offered.has(name)) return { name, arguments: argumentsFor(offered.get(name), text) };
  }
  if (offered.has('fallback')) return { name: 'fallback', arguments: {} };
  const first = tools[0];
  return first ? { name: first.function.name, arguments: argumentsFor(first, text) } : null;
}

export class FakeLLM extends FakeServer {
  constructor(opts = {}) {
    super((req, res, rec) => this.onRequest(req, res, rec));
    this.key = opts.key || 'test-llm-key';
    this.model = opts.model || 'fake-model-1';
    this.rule = defaultRule;
    this.script = []; // per request: {delayMs} | {status, body} | {content: 'text'} | {call: {name, arguments}}
    this.calls = []; // {body, answer}
  }

  /** MUNSHI_LLM_URL (an OpenAI-style base that ends in /v1). */
  get url() { return `${this.origin}/v1`; }

  async onRequest(req, res, rec) {
    if (req.method !== 'POST' || !/^(?:\/v1)?\/chat\/completions\/?$/.test(req.url)) {
      reply(res, 404, { error: { message: `Unknown request URL: ${req.method} ${req.url}`, type: 'invalid_request_error', code: 'unknown_url' } });
      return;
    }
    const call = { at: rec.at, body: rec.json, headers: rec.headers };
    this.calls.push(call);
    if ((req.headers.authorization || '') !== `Bearer ${this.key}`) {
      call.answer = 401;
      reply(res, 401, { error: { message: 'Incorrect API key provided.', type: 'invalid_request_error', code: 'invalid_api_key' } });
      return;
    }
    const b = rec.json;
    if (!b || !Array.isArray(b.messages) || !b.model) {
      call.answer = 400;
      reply(res, 400, { error: { message: 'model and messages are required', type: 'invalid_request_error', code: null } });
      return;
    }
    const s = this.script.length ? this.script.shift() : {};
    if (s.delayMs) {
      await new Promise((r) => setTimeout(r, s.delayMs).unref());
      if (res.destroyed || req.socket.destroyed) { call.answer = 'abandoned'; return; }
    }
    if (s.status) { call.answer = s.status; reply(res, s.status, s.body || { error: { message: 'The server had an error', type: 'server_error' } }); return; }
    const message = { role: 'assistant', content: null };
    let finish = 'tool_calls';
    if (s.content !== undefined) {
      message.content = s.content;
      finish = 'stop';
    } else {
      const pick = s.call || this.rule(b);
      if (!pick) { message.content = 'I cannot help with that.'; finish = 'stop'; } else {
        message.tool_calls = [{
          id: `call_${randomBytes(12).toString('base64url')}`,
          type: 'function',
          function: { name: pick.name, arguments: typeof pick.arguments === 'string' ? pick.arguments : JSON.stringify(pick.arguments || {}) },
        }];
        call.tool = pick.name;
      }
    }
    call.answer = 200;
    reply(res, 200, {
      id: `chatcmpl-${randomBytes(12).toString('hex')}`,
      object: 'chat.completion',
      created: Math.floor(Date.now() / 1000),
      model: b.model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
    });
  }

  reset() { this.requests.length = 0; this.calls.length = 0; this.script.length = 0; this.rule = defaultRule; this.delayMs = 0; this.down = false; }
}
