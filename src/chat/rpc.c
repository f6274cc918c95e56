/* rpc.c - the chat operations under /rest/v1/rpc (chat.h chat_rpc), with
 * the same rules as the business operations (rest/rpc.c): a signed-in
 * owner, POST, a JSON object body, PostgREST's error shape; bad input is
 * refused before anything is written.
 *
 *   send_message {session_id, text} | {session_id, template:{name,
 *       language, params}}   queues the owner's message (sender 'owner')
 *       and hands the session over to the human (is_bot_active = false)
 *   set_bot_active {session_id, active}
 *   connect_whatsapp {channel_id}   proves the token may use the number
 *   connect_telegram {channel_id, public_url}   Telegram setWebhook (the
 *       channel's webhook_secret, made here when it has none) and getMe
 *       (bot_username)
 *   link_owner_telegram {channel_id}   a one-time code, valid 15 minutes,
 *       that the owner sends to the bot as "/start <code>"
 *   send_invoice {invoice_id}   queues the invoice as a WhatsApp document
 *       to its customer (rendered when the outbox sends it, through the
 *       registered document source), the caption with the amount due and
 *       the UPI link */
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/upi.h"
#include "chat/chat.h"
#include "chat/send.h"
#include "chat/store.h"
#include "jobs/worker.h"
#include "net/http_client.h"

#define LINK_CODE_LEN 10
#define LINK_CODE_TTL_US (15LL * 60 * 1000000)
#define PUBLIC_URL_MAX 400
#define TELEGRAM_TIMEOUT_MS 10000L

static const char *const ops[] = {"send_message", "set_bot_active",
                                  "connect_telegram", "link_owner_telegram",
                                  "connect_whatsapp", "send_invoice"};

int chat_rpc_known(const char *op) {
  if (!op) return 0;
  for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
    if (!strcmp(op, ops[i])) return 1;
  return 0;
}

static void db_fail(api_resp *resp, const db_err *e) {
  api_fail(resp, api_error_for_sqlstate(e->code), e->message, NULL, NULL);
}

/* A member that must be a UUID; -1 (answered) when it is not. */
static int arg_uuid(const json *args, const char *key, char out[37],
                    api_resp *resp) {
  const json *v = json_get(args, key);
  if (!v || v->type != JSON_STRING || uuid_normalize(v->str, out))
    return api_failf(resp, E_OP_INVALID, "%s must be a UUID", key);
  return 0;
}

static void reply(api_resp *resp, buf *b) {
  resp->status = 200;
  buf_reset(&resp->body);
  buf_append(&resp->body, b->data ? b->data : "", b->len);
}

/* ---- send_message ------------------------------------------------------------------ */

static size_t chars(const char *s) {
  size_t c = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) c++;
  return c;
}

static void send_message(db *d, api_req *req, const json *args,
                         api_resp *resp) {
  char sid[37], id[37];
  if (arg_uuid(args, "session_id", sid, resp)) return;
  const json *text = json_get(args, "text");
  const json *tpl = json_get(args, "template");
  if (text && text->type == JSON_NULL) text = NULL;
  if (tpl && tpl->type == JSON_NULL) tpl = NULL;
  if (!text && !tpl) {
    api_fail(resp, E_OP_INVALID, "give text or template", NULL, NULL);
    return;
  }
  if (text && (text->type != JSON_STRING || text->len == 0 ||
               chars(text->str) > CHAT_TEXT_MAX || !text->str[strspn(text->str, " \t\r\n")])) {
    api_fail(resp, E_OP_INVALID, "text must be 1 to 4096 characters", NULL, NULL);
    return;
  }
  buf meta, content, out;
  buf_init(&meta, 64 * 1024);
  buf_init(&content, 64 * 1024);
  buf_init(&out, 4096);
  const char *type = "text";
  if (tpl) {
    /* Checked with the outbox's own reader, so what is accepted here is
     * what it will send. */
    buf_puts(&meta, "{\"template\":");
    if (json_write(&meta, tpl) || buf_putc(&meta, '}')) {
      api_fail(resp, E_OP_INVALID, "template is too large", NULL, NULL);
      goto out;
    }
    chat_message m;
    char why[256];
    if (chat_message_from_row(req->a, "template", text ? text->str : "",
                              buf_cstr(&meta), &m, why, sizeof why)) {
      api_fail(resp, E_OP_INVALID, why, NULL, NULL);
      goto out;
    }
    type = "template";
    if (text) {
      buf_puts(&content, text->str);
    } else {
      /* What the inbox shows: the template and its parameters. */
      buf_printf(&content, "[template %s]", m.tpl_name);
      for (int i = 0; i < m.n_params; i++)
        buf_printf(&content, "%s%s", i ? ", " : " ", m.tpl_params[i]);
    }
  } else {
    buf_puts(&content, text->str);
  }

  db_err e;
  chat_session s;
  int found = 0;
  if (db_begin(d, 1, &e)) {
    db_fail(resp, &e);
    goto out;
  }
  if (chat_session_load(d, req->a, req->who.sub, sid, &s, &found, &e)) goto dbfail;
  if (!found) {
    db_rollback(d);
    api_fail(resp, E_OP_NOT_FOUND, "no such session", NULL, NULL);
    goto out;
  }
  chat_channel ch;
  if (chat_channel_load(d, req->a, req->who.sub, s.channel_id, &ch, &found, &e))
    goto dbfail;
  if (!found) {
    db_rollback(d);
    api_fail(resp, E_OP_CONFLICT, "the session has no channel to send through",
             NULL, NULL);
    goto out;
  }
  chat_out o = {.session_id = s.id,
                .sender = "owner",
                .message_type = type,
                .content = buf_cstr(&content),
                .metadata = tpl ? buf_cstr(&meta) : NULL};
  if (chat_enqueue(d, &s, &o, id, NULL, &e)) goto dbfail;
  /* A human answered: the bot stops answering this session. */
  db_val v[] = {db_uuid(req->who.sub), db_uuid(s.id), db_ts(time_now_us())};
  if (db_query_fixed(d,
                     "UPDATE sessions SET is_bot_active = false, updated_at = "
                     "$3 WHERE profile_id = $1 AND id = $2",
                     v, 3, NULL, &e))
    goto dbfail;
  if (db_commit(d, &e)) {
    db_fail(resp, &e);
    goto out;
  }
  jobs_wake();
  json_obj r;
  json_obj_open(&r, &out);
  json_obj_str(&r, "message_id", id);
  json_obj_str(&r, "session_id", s.id);
  json_obj_str(&r, "status", "queued");
  json_obj_str(&r, "message_type", type);
  json_obj_bool(&r, "is_bot_active", 0);
  json_obj_bool(&r, "window_open", chat_window_open(&s, time_now_us()));
  json_obj_close(&r);
  reply(resp, &out);
  goto out;
dbfail:
  db_rollback(d);
  db_fail(resp, &e);
out:
  buf_free(&meta);
  buf_free(&content);
  buf_free(&out);
}

/* ---- set_bot_active ---------------------------------------------------------------- */

static void set_bot_active(db *d, api_req *req, const json *args,
                           api_resp *resp) {
  char sid[37];
  if (arg_uuid(args, "session_id", sid, resp)) return;
  const json *a = json_get(args, "active");
  if (!a || (a->type != JSON_TRUE && a->type != JSON_FALSE)) {
    api_fail(resp, E_OP_INVALID, "active must be true or false", NULL, NULL);
    return;
  }
  int on = a->type == JSON_TRUE;
  db_val v[] = {db_uuid(req->who.sub), db_uuid(sid), db_bool(on),
                db_ts(time_now_us())};
  db_res *r = NULL;
  db_err e;
  if (db_query_fixed(d,
                     "UPDATE sessions SET is_bot_active = $3, updated_at = $4 "
                     "WHERE profile_id = $1 AND id = $2 RETURNING id",
                     v, 4, &r, &e)) {
    db_fail(resp, &e);
    return;
  }
  int found = db_res_rows(r) > 0;
  db_res_free(r);
  if (!found) {
    api_fail(resp, E_OP_NOT_FOUND, "no such session", NULL, NULL);
    return;
  }
  buf out;
  buf_init(&out, 1024);
  json_obj o;
  json_obj_open(&o, &out);
  json_obj_str(&o, "session_id", sid);
  json_obj_bool(&o, "is_bot_active", on);
  json_obj_close(&o);
  reply(resp, &out);
  buf_free(&out);
}

/* ---- Telegram ---------------------------------------------------------------------- */

/* The business's Telegram channel named in args; -1 when answered. */
static int telegram_channel(db *d, api_req *req, const json *args,
                            chat_channel *ch, api_resp *resp) {
  char cid[37];
  if (arg_uuid(args, "channel_id", cid, resp)) return -1;
  int found = 0;
  db_err e;
  if (chat_channel_load(d, req->a, req->who.sub, cid, ch, &found, &e)) {
    db_fail(resp, &e);
    return -1;
  }
  if (!found) return api_fail(resp, E_OP_NOT_FOUND, "no such channel", NULL, NULL);
  if (ch->platform != CHAT_TELEGRAM)
    return api_fail(resp, E_OP_INVALID, "not a Telegram channel", NULL, NULL);
  if (!*ch->bot_token)
    return api_fail(resp, E_OP_CONFLICT, "the channel has no bot_token", NULL, NULL);
  return 0;
}

/* Calls a Bot API method; answers the API error itself and returns -1 when
 * the call did not succeed, else 0 with the parsed answer's "result". */
static int telegram_call(arena *a, const chat_channel *ch, const char *method,
                         const char *body, const json **result,
                         api_resp *resp) {
  const char *url = arena_printf(a, "%s/bot%s/%s",
                                 chat_settings_get()->telegram_api_url,
                                 ch->bot_token, method);
  net_header h[] = {{"Content-Type", "application/json"}};
  net_req q = {.method = body ? "POST" : "GET",
               .url = url,
               .headers = h,
               .n_headers = body ? 1 : 0,
               .body = body,
               .body_len = body ? strlen(body) : 0,
               .connect_timeout_ms = 5000,
               .timeout_ms = TELEGRAM_TIMEOUT_MS,
               .max_response = 64 * 1024};
  net_result nr;
  int rc = -1;
  if (net_request(&q, &nr)) {
    api_failf(resp, E_UNAVAILABLE, "Telegram could not be reached (%s)",
              net_strerror(nr.err));
    goto out;
  }
  json *v = NULL;
  json_error je;
  if (json_parse(a, buf_cstr(&nr.body), nr.body.len, &v, &je) ||
      v->type != JSON_OBJECT) {
    api_failf(resp, E_UNAVAILABLE, "Telegram answered %s with HTTP %ld and no "
              "JSON", method, nr.status);
    goto out;
  }
  const json *ok = json_get(v, "ok");
  if (!ok || ok->type != JSON_TRUE) {
    const json *dsc = json_get(v, "description");
    const char *desc = dsc && dsc->type == JSON_STRING ? dsc->str : "no reason given";
    /* 401/404: the token is wrong; 400: the request (the URL); 5xx, 429:
     * Telegram's trouble, try later. */
    api_error ae = nr.status >= 500 || nr.status == 429 ? E_UNAVAILABLE
                   : nr.status == 400                   ? E_OP_INVALID
                                                        : E_OP_CONFLICT;
    api_failf(resp, ae, "Telegram refused %s: %.200s", method, desc);
    goto out;
  }
  *result = json_get(v, "result");
  rc = 0;
out:
  net_result_free(&nr);
  return rc;
}

static void connect_telegram(db *d, api_req *req, const json *args,
                             api_resp *resp) {
  chat_channel ch;
  if (telegram_channel(d, req, args, &ch, resp)) return;
  const json *pu = json_get(args, "public_url");
  const char *url = pu && pu->type == JSON_STRING ? pu->str : NULL;
  size_t ul = url ? strlen(url) : 0;
  while (ul > 0 && url[ul - 1] == '/') ul--;
  if (!url || ul > PUBLIC_URL_MAX ||
      (strncmp(url, "https://", 8) && strncmp(url, "http://", 7)) ||
      ul <= (size_t)(url[4] == 's' ? 8 : 7) || strpbrk(url, "?# \t\r\n\"\\")) {
    api_fail(resp, E_OP_INVALID,
             "public_url must be the server's public http(s) base URL, "
             "without a query or fragment",
             NULL, "Telegram accepts only https:// webhooks");
    return;
  }
  db_err e;
  const char *secret = ch.webhook_secret;
  if (!*secret) {
    /* Made and stored first, so that the webhook is checked from the
     * first update Telegram sends. */
    uint8_t raw[24];
    buf s;
    buf_init(&s, 64);
    random_bytes(raw, sizeof raw);
    b64url_encode(&s, raw, sizeof raw);
    secret = arena_strdup(req->a, buf_cstr(&s));
    buf_free(&s);
    db_val v[] = {db_uuid(ch.profile_id), db_uuid(ch.id), db_text(secret),
                  db_ts(time_now_us())};
    db_res *r = NULL;
    if (db_query_fixed(d,
                       "UPDATE channels SET webhook_secret = coalesce("
                       "webhook_secret, $3), updated_at = $4 WHERE profile_id "
                       "= $1 AND id = $2 RETURNING webhook_secret",
                       v, 4, &r, &e)) {
      db_fail(resp, &e);
      return;
    }
    if (db_res_rows(r) > 0) secret = arena_strdup(req->a, db_res_text(r, 0, 0));
    db_res_free(r);
  }
  const char *hook = arena_printf(req->a, "%.*s/webhooks/telegram/%s", (int)ul,
                                  url, ch.id);
  buf body;
  buf_init(&body, 4096);
  json_obj o, arr;
  json_obj_open(&o, &body);
  json_obj_str(&o, "url", hook);
  json_obj_str(&o, "secret_token", secret);
  json_obj_arr(&o, "allowed_updates", &arr);
  json_obj_str(&arr, NULL, "message");
  json_obj_str(&arr, NULL, "edited_message");
  json_obj_str(&arr, NULL, "callback_query");
  json_obj_close(&arr);
  json_obj_close(&o);
  const json *res = NULL;
  int rc = telegram_call(req->a, &ch, "setWebhook", buf_cstr(&body), &res, resp);
  buf_free(&body);
  if (rc) return;
  const char *username = NULL;
  const json *me = NULL;
  /* getMe only fills bot_username: a failure here does not undo the
   * webhook, which is set. */
  api_resp scratch;
  api_resp_init(&scratch);
  if (!telegram_call(req->a, &ch, "getMe", NULL, &me, &scratch) && me &&
      me->type == JSON_OBJECT) {
    const json *u = json_get(me, "username");
    if (u && u->type == JSON_STRING && u->len > 0 && u->len <= 64)
      username = u->str;
  }
  api_resp_free(&scratch);
  if (username) {
    db_val v[] = {db_uuid(ch.profile_id), db_uuid(ch.id), db_text(username),
                  db_ts(time_now_us())};
    if (db_query_fixed(d,
                       "UPDATE channels SET bot_username = $3, updated_at = $4 "
                       "WHERE profile_id = $1 AND id = $2",
                       v, 4, NULL, &e)) {
      db_fail(resp, &e);
      return;
    }
  }
  buf out;
  buf_init(&out, 4096);
  json_obj_open(&o, &out);
  json_obj_str(&o, "channel_id", ch.id);
  json_obj_str(&o, "webhook_url", hook);
  json_obj_str(&o, "bot_username", username);
  json_obj_close(&o);
  reply(resp, &out);
  buf_free(&out);
}

/* connect_whatsapp {channel_id}: proves that the channel's access token
 * controls its phone_number_id (Graph GET /<phone_number_id>, which Meta
 * answers only for a number the token may use), and records it. Without
 * it the shared webhook route would give a number's messages to whichever
 * business typed the number in first. */
static void connect_whatsapp(db *d, api_req *req, const json *args,
                             api_resp *resp) {
  char cid[37];
  if (arg_uuid(args, "channel_id", cid, resp)) return;
  chat_channel ch;
  int found = 0;
  db_err e;
  if (chat_channel_load(d, req->a, req->who.sub, cid, &ch, &found, &e)) {
    db_fail(resp, &e);
    return;
  }
  if (!found) {
    api_fail(resp, E_OP_NOT_FOUND, "no such channel", NULL, NULL);
    return;
  }
  if (ch.platform != CHAT_WHATSAPP) {
    api_fail(resp, E_OP_INVALID, "not a WhatsApp channel", NULL, NULL);
    return;
  }
  const char *url =
      arena_printf(req->a, "%s/%s?fields=id,display_phone_number",
                   chat_settings_get()->whatsapp_api_url, ch.phone_number_id);
  const char *bearer = arena_printf(req->a, "Bearer %s", ch.access_token);
  net_header h[] = {{"Authorization", bearer}};
  net_req q = {.method = "GET",
               .url = url,
               .headers = h,
               .n_headers = 1,
               .connect_timeout_ms = 5000,
               .timeout_ms = TELEGRAM_TIMEOUT_MS,
               .max_response = 64 * 1024};
  net_result nr;
  if (net_request(&q, &nr)) {
    api_failf(resp, E_UNAVAILABLE, "WhatsApp could not be reached (%s)",
              net_strerror(nr.err));
    net_result_free(&nr);
    return;
  }
  json *v = NULL;
  json_error je;
  int parsed = !json_parse(req->a, buf_cstr(&nr.body), nr.body.len, &v, &je) &&
               v->type == JSON_OBJECT;
  const json *idj = parsed ? json_get(v, "id") : NULL;
  int ok = nr.status == 200 && idj && idj->type == JSON_STRING &&
           !strcmp(idj->str, ch.phone_number_id);
  if (!ok) {
    const json *err = parsed ? json_get(v, "error") : NULL;
    const json *msg = err && err->type == JSON_OBJECT ? json_get(err, "message") : NULL;
    api_failf(resp, nr.status >= 500 || nr.status == 429 ? E_UNAVAILABLE : E_OP_CONFLICT,
              "WhatsApp did not confirm that this channel's access_token may "
              "use phone_number_id %s (HTTP %ld: %.200s)",
              ch.phone_number_id, nr.status,
              msg && msg->type == JSON_STRING ? msg->str : "no reason given");
    net_result_free(&nr);
    return;
  }
  const json *dj = json_get(v, "display_phone_number");
  const char *display = dj && dj->type == JSON_STRING && dj->len <= 32
                            ? arena_strdup(req->a, dj->str)
                            : NULL;
  net_result_free(&nr);
  db_val u[] = {db_uuid(ch.profile_id), db_uuid(ch.id),
                db_text(ch.phone_number_id),
                display ? db_text(display) : db_null(), db_ts(time_now_us())};
  if (db_query_fixed(d,
                     "UPDATE channels SET verified_phone_number_id = $3, "
                     "display_phone_number = coalesce(display_phone_number, "
                     "$4), updated_at = $5 WHERE profile_id = $1 AND id = $2 "
                     "AND phone_number_id = $3",
                     u, 5, NULL, &e)) {
    db_fail(resp, &e);
    return;
  }
  buf out;
  buf_init(&out, 1024);
  json_obj o;
  json_obj_open(&o, &out);
  json_obj_str(&o, "channel_id", ch.id);
  json_obj_str(&o, "phone_number_id", ch.phone_number_id);
  json_obj_bool(&o, "verified", 1);
  json_obj_close(&o);
  reply(resp, &out);
  buf_free(&out);
}

static void link_owner_telegram(db *d, api_req *req, const json *args,
                                api_resp *resp) {
  chat_channel ch;
  if (telegram_channel(d, req, args, &ch, resp)) return;
  /* No 0/O or 1/I/L: the owner may type it. 31^10 codes, valid 15 min. */
  static const char alpha[] = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
  uint8_t raw[LINK_CODE_LEN];
  char code[LINK_CODE_LEN + 1];
  random_bytes(raw, sizeof raw);
  for (int i = 0; i < LINK_CODE_LEN; i++)
    code[i] = alpha[raw[i] % (sizeof alpha - 1)];
  code[LINK_CODE_LEN] = 0;
  int64_t expires = time_now_us() + LINK_CODE_TTL_US;
  db_val v[] = {db_uuid(ch.profile_id), db_uuid(ch.id), db_text(code),
                db_ts(expires), db_ts(time_now_us())};
  db_res *r = NULL;
  db_err e;
  if (db_query_fixed(d,
                     "UPDATE channels SET owner_link_code = $3, "
                     "owner_link_expires_at = $4, updated_at = $5 WHERE "
                     "profile_id = $1 AND id = $2 RETURNING "
                     "coalesce(bot_username, '')",
                     v, 5, &r, &e)) {
    db_fail(resp, &e);
    return;
  }
  const char *bot = db_res_rows(r) ? arena_strdup(req->a, db_res_text(r, 0, 0)) : "";
  db_res_free(r);
  buf out;
  buf_init(&out, 4096);
  json_obj o;
  json_obj_open(&o, &out);
  json_obj_str(&o, "channel_id", ch.id);
  json_obj_str(&o, "code", code);
  json_obj_str(&o, "command", arena_printf(req->a, "/start %s", code));
  json_obj_str(&o, "link", *bot ? arena_printf(req->a, "https://t.me/%s?start=%s",
                                               bot, code)
                                : NULL);
  json_obj_ts(&o, "expires_at", expires);
  json_obj_close(&o);
  reply(resp, &out);
  buf_free(&out);
}

/* ---- send_invoice ------------------------------------------------------------------ */

#define CAPTION_NAME_MAX 80 /* bytes of the business name in a caption */

/* Rupees with Indian digit grouping: 123456789 paise → "₹12,34,567.89"
 * (the last three digits, then pairs). */
static void rupees(buf *b, int64_t paise) {
  if (paise < 0) {
    buf_putc(b, '-');
    paise = -paise;
  }
  char d[24];
  int n = snprintf(d, sizeof d, "%lld", (long long)(paise / 100));
  buf_puts(b, "\xe2\x82\xb9"); /* U+20B9 INDIAN RUPEE SIGN */
  for (int i = 0; i < n; i++) {
    int left = n - i; /* digits from here to the end */
    if (i > 0 && (left == 3 || (left > 3 && (left - 3) % 2 == 0)))
      buf_putc(b, ',');
    buf_putc(b, d[i]);
  }
  buf_printf(b, ".%02lld", (long long)(paise % 100));
}

/* The file name the customer sees: the invoice number with anything but
 * letters, digits, '.', '_' and '-' made '-', and ".pdf". */
static const char *invoice_filename(arena *a, const char *number) {
  char f[72];
  size_t n = 0;
  for (const char *p = number; *p && n < 60; p++) {
    char ch = *p;
    int ok = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
             (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-';
    f[n++] = ok ? ch : '-';
  }
  if (n == 0) f[n++] = 'x';
  f[n] = 0;
  return arena_printf(a, "%s.pdf", f);
}

static void send_invoice(db *d, api_req *req, const json *args,
                         api_resp *resp) {
  char iid[37], id[37];
  for (size_t i = 0; i < args->n; i++)
    if (strcmp(args->keys[i], "invoice_id")) {
      api_failf(resp, E_OP_INVALID, "unknown argument \"%.64s\"", args->keys[i]);
      return;
    }
  if (arg_uuid(args, "invoice_id", iid, resp)) return;
  buf meta, caption, out;
  buf_init(&meta, 4096);
  buf_init(&caption, 4096);
  buf_init(&out, 4096);
  db_err e;
  db_res *r = NULL;
  if (db_begin(d, 1, &e)) {
    db_fail(resp, &e);
    goto out;
  }
  db_val k[] = {db_uuid(req->who.sub), db_uuid(iid)};
  if (db_query_fixed(d,
                     "SELECT i.status, coalesce(i.invoice_number, ''), "
                     "i.balance_due, c.phone_number, c.full_name, "
                     "coalesce(p.business_name, ''), coalesce(p.upi_id, '') "
                     "FROM invoices i JOIN customers c ON c.profile_id = "
                     "i.profile_id AND c.id = i.customer_id JOIN profiles p ON "
                     "p.id = i.profile_id WHERE i.profile_id = $1 AND i.id = $2",
                     k, 2, &r, &e))
    goto dbfail;
  if (db_res_rows(r) == 0) {
    db_rollback(d);
    api_fail(resp, E_OP_NOT_FOUND, "no such invoice", NULL, NULL);
    goto out;
  }
  const char *status = arena_strdup(req->a, db_res_text(r, 0, 0));
  const char *number = arena_strdup(req->a, db_res_text(r, 0, 1));
  int64_t due = db_res_dec(r, 0, 2, 2);
  const char *phone = db_res_isnull(r, 0, 3) ? NULL : arena_strdup(req->a, db_res_text(r, 0, 3));
  const char *cname = arena_strdup(req->a, db_res_text(r, 0, 4));
  const char *bname = arena_strdup(req->a, db_res_text(r, 0, 5));
  const char *vpa = arena_strdup(req->a, db_res_text(r, 0, 6));
  db_res_free(r);
  r = NULL;
  if (!strcmp(status, "draft") || !strcmp(status, "cancelled") || !*number) {
    db_rollback(d);
    api_failf(resp, E_OP_CONFLICT,
              "the invoice is %s: only an issued invoice can be sent",
              !strcmp(status, "cancelled") ? "cancelled" : "a draft");
    goto out;
  }
  if (!phone || phone[0] != '+' || strlen(phone) < 8) {
    db_rollback(d);
    api_fail(resp, E_OP_CONFLICT, "the customer has no phone number to send to",
             NULL, "set the customer's phone_number (E.164, e.g. +919876543210)");
    goto out;
  }
  chat_channel ch;
  int found = 0;
  if (chat_channel_first(d, req->a, req->who.sub, CHAT_WHATSAPP, &ch, &found, &e))
    goto dbfail;
  if (!found) {
    db_rollback(d);
    api_fail(resp, E_OP_CONFLICT, "the business has no active WhatsApp channel",
             NULL, "add a WhatsApp channel under /rest/v1/channels");
    goto out;
  }
  if (!chat_document_source_set()) {
    db_rollback(d);
    api_fail(resp, E_UNAVAILABLE,
             "invoice documents cannot be made by this server", NULL,
             "the invoice PDF renderer is not registered");
    goto out;
  }
  chat_contact who = {.contact_id = phone + 1, .name = cname, .phone = phone};
  chat_session s;
  if (chat_session_get_or_create(d, req->a, &ch, &who, &s, NULL, &e)) goto dbfail;

  const char *filename = invoice_filename(req->a, number);
  buf_printf(&caption, "Invoice %s", number);
  if (*bname) buf_printf(&caption, " from %.*s", CAPTION_NAME_MAX, bname);
  if (due > 0) {
    buf_puts(&caption, "\nAmount due: ");
    rupees(&caption, due);
    if (*vpa) {
      buf_puts(&caption, "\nPay by UPI: ");
      biz_upi_link(&caption, vpa, *bname ? bname : vpa, due,
                   arena_printf(req->a, "Invoice %s", number), number);
    }
  } else {
    buf_puts(&caption, "\nPaid in full. Thank you!");
  }
  json_obj m, doc;
  json_obj_open(&m, &meta);
  json_obj_nest(&m, "document", &doc);
  json_obj_str(&doc, "source", "invoice");
  json_obj_str(&doc, "ref", iid);
  json_obj_str(&doc, "filename", filename);
  json_obj_close(&doc);
  if (json_obj_close(&m) || caption.len >= caption.max) {
    db_rollback(d);
    api_fail(resp, E_OP_INVALID, "the invoice's caption is too large", NULL, NULL);
    goto out;
  }
  chat_out o = {.session_id = s.id,
                .sender = "owner",
                .message_type = "document",
                .content = buf_cstr(&caption),
                .metadata = buf_cstr(&meta)};
  if (chat_enqueue(d, &s, &o, id, NULL, &e)) goto dbfail;
  if (db_commit(d, &e)) {
    db_fail(resp, &e);
    goto out;
  }
  jobs_wake();
  json_obj ro;
  json_obj_open(&ro, &out);
  json_obj_str(&ro, "message_id", id);
  json_obj_str(&ro, "session_id", s.id);
  json_obj_str(&ro, "channel_id", ch.id);
  json_obj_str(&ro, "status", "queued");
  json_obj_str(&ro, "filename", filename);
  json_obj_str(&ro, "caption", buf_cstr(&caption));
  json_obj_bool(&ro, "window_open", chat_window_open(&s, time_now_us()));
  json_obj_close(&ro);
  reply(resp, &out);
  goto out;
dbfail:
  db_res_free(r);
  db_rollback(d);
  db_fail(resp, &e);
out:
  buf_free(&meta);
  buf_free(&caption);
  buf_free(&out);
}

void chat_rpc(db *d, const char *op, api_req *req, api_resp *resp) {
  json *args;
  if (api_op_args(req, resp, &args)) return;
  if (!strcmp(op, "send_message"))
    send_message(d, req, args, resp);
  else if (!strcmp(op, "set_bot_active"))
    set_bot_active(d, req, args, resp);
  else if (!strcmp(op, "connect_telegram"))
    connect_telegram(d, req, args, resp);
  else if (!strcmp(op, "link_owner_telegram"))
    link_owner_telegram(d, req, args, resp);
  else if (!strcmp(op, "connect_whatsapp"))
    connect_whatsapp(d, req, args, resp);
  else if (!strcmp(op, "send_invoice"))
    send_invoice(d, req, args, resp);
  else
    api_failf(resp, E_OP_UNKNOWN,
              "Could not find the function public.%.64s in the schema cache",
              op);
}
