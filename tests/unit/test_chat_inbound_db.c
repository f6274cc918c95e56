/* test_chat_inbound_db.c - the inbound path on SQLite and PostgreSQL
 * (argv[1]): the webhook handlers (chat/webhook.c) called in process with
 * a request built here, and the worker (chat/inbound.c) that turns what
 * they stored into sessions, messages, statuses and events.
 *
 * Signatures are checked before anything is stored (missing, wrong, no
 * secret: 401; a signed body that is not a webhook: 400; oversized: 413);
 * Meta's handshake answers the bare challenge; a message is logged once
 * however often and in whatever order it comes, also when two workers hold
 * two copies of it at the same moment; statuses only move forward and wait
 * for a message that is not known yet; an unknown number is acknowledged
 * and dropped; a Telegram chat becomes the owner's with the one-time code;
 * a payload that cannot be processed is set aside, not retried forever. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/api.h"
#include "base/arena.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "chat/chat.h"
#include "chat/inbound.h"
#include "chat/store.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

#define PNID "106540352242922"
#define APP_SECRET "app-secret-1"

/* ---- fixtures ------------------------------------------------------------------- */

static void add_whatsapp(db *d, const char *profile, const char *pnid,
                         const char *app_secret, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), db_text(pnid),
                app_secret ? db_text(app_secret) : db_null()};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, "
              "phone_number_id, access_token, app_secret, verify_token, "
              "verified_phone_number_id) VALUES ($1, $2, 'whatsapp', $3, "
              "'EAAtoken', $4, 'verify-me', $3)",
              v, 4, NULL, &err));
}

static void add_telegram(db *d, const char *profile, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, bot_token, "
              "webhook_secret) VALUES ($1, $2, 'telegram', "
              "'123456:ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'tg-secret')",
              v, 2, NULL, &err));
}

static const char *h_sig, *h_tg;
static const char *hdr(const api_req *r, const char *name) {
  (void)r;
  if (!strcasecmp(name, "X-Hub-Signature-256")) return h_sig;
  if (!strcasecmp(name, "X-Telegram-Bot-Api-Secret-Token")) return h_tg;
  return NULL;
}

typedef void (*handler_fn)(db *, api_req *, api_resp *);

/* Calls a handler as the HTTP layer would; returns the status and copies
 * the body into out (in a). */
static int call(db *d, arena *a, handler_fn fn, const char *method,
                const char *id, const char *query, const char *body,
                const char **out, const char **ctype) {
  api_req req = {.a = a,
                 .method = method,
                 .path = "",
                 .query = query ? query : "",
                 .body = body ? body : "",
                 .body_len = body ? strlen(body) : 0,
                 .remote = "127.0.0.1",
                 .header = hdr};
  if (id) {
    req.nparams = 1;
    req.params[0].name = "id";
    req.params[0].value = id;
  }
  api_resp resp;
  api_resp_init(&resp);
  fn(d, &req, &resp);
  if (out) *out = arena_strdup(a, buf_cstr(&resp.body));
  if (ctype) *ctype = resp.content_type;
  int st = resp.status;
  api_resp_free(&resp);
  return st;
}

static const char *sign(arena *a, const char *secret, const char *body) {
  uint8_t mac[32];
  char hex[65];
  hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
  hex_encode(mac, 32, hex);
  return arena_printf(a, "sha256=%s", hex);
}

/* A signed POST to /webhooks/whatsapp[/:id]. */
static int wa_post(db *d, arena *a, const char *id, const char *secret,
                   const char *body) {
  h_sig = secret ? sign(a, secret, body) : NULL;
  int st = call(d, a, chat_whatsapp_webhook, "POST", id, NULL, body, NULL, NULL);
  h_sig = NULL;
  return st;
}

static int tg_post(db *d, arena *a, const char *id, const char *body) {
  h_tg = "tg-secret";
  int st = call(d, a, chat_telegram_webhook, "POST", id, NULL, body, NULL, NULL);
  h_tg = NULL;
  return st;
}

static const char *wa_text(arena *a, const char *pnid, const char *from,
                           const char *wamid, const char *text) {
  return arena_printf(
      a,
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\","
      "\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":"
      "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550001111\","
      "\"phone_number_id\":\"%s\"},\"contacts\":[{\"profile\":{\"name\":"
      "\"Cust %s\"},\"wa_id\":\"%s\"}],\"messages\":[{\"from\":\"%s\",\"id\":"
      "\"%s\",\"timestamp\":\"%lld\",\"type\":\"text\",\"text\":{\"body\":"
      "\"%s\"}}]}}]}]}",
      pnid, from, from, from, wamid, (long long)(time_now_us() / 1000000),
      text);
}

static const char *wa_status(arena *a, const char *pnid, const char *wamid,
                             const char *status) {
  const char *errs =
      strcmp(status, "failed")
          ? ""
          : ",\"errors\":[{\"code\":131026,\"title\":\"Message "
            "undeliverable\",\"message\":\"Message undeliverable\"}]";
  return arena_printf(
      a,
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
      "\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"%s\"},\"statuses\":[{\"id\":\"%s\",\"status\":\"%s\",\"timestamp\":"
      "\"1700000000\",\"recipient_id\":\"919876543210\"%s}]}}]}]}",
      pnid, wamid, status, errs);
}

static int poll_all(db *d) {
  int total = 0, n;
  while ((n = chat_inbound_poll(NULL, d, "test", &err)) > 0) total += n;
  if (n < 0) fail_msg("poll failed: [%s] %s", err.code, err.message);
  return total;
}

static int64_t count(db *d, const char *sql, const char *arg) {
  return test_count(d, sql, arg);
}

/* message.received events of the profile whose payload says from_owner. */
static int from_owner_events(db *d, const char *profile) {
  db_val v[] = {db_uuid(profile)};
  db_res *r = NULL;
  OK(db_query(d,
              "SELECT payload FROM events WHERE profile_id = $1 AND "
              "event_type = 'message.received'",
              v, 1, &r, &err));
  int n = 0;
  arena *a = arena_new();
  for (int i = 0; i < db_res_rows(r); i++) {
    json *ev = NULL;
    json_error je;
    const char *t = db_res_text(r, i, 0);
    assert_int_equal(json_parse(a, t, strlen(t), &ev, &je), 0);
    json *fo = json_get(ev, "from_owner");
    assert_non_null(fo);
    n += fo->type == JSON_TRUE;
  }
  arena_free(a);
  db_res_free(r);
  return n;
}

#define N_MSG "SELECT count(*) FROM unified_messages WHERE profile_id = $1"
#define N_EVENTS                                                      \
  "SELECT count(*) FROM events WHERE profile_id = $1 AND event_type = " \
  "'message.received'"
#define N_RAW "SELECT count(*) FROM chat_inbound"

/* ---- webhooks -------------------------------------------------------------------- */

static void test_handshake(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37], other[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  const char *body, *ctype;
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", ch,
                        "hub.mode=subscribe&hub.verify_token=verify-me&"
                        "hub.challenge=1158201444",
                        NULL, &body, &ctype),
                   200);
  assert_string_equal(body, "1158201444");
  assert_non_null(strstr(ctype, "text/plain"));
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", ch,
                        "hub.mode=subscribe&hub.verify_token=verify-not&"
                        "hub.challenge=1",
                        NULL, NULL, NULL),
                   403);
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", ch,
                        "hub.mode=unsubscribe&hub.verify_token=verify-me&"
                        "hub.challenge=1",
                        NULL, NULL, NULL),
                   403);
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", ch,
                        "hub.mode=subscribe&hub.challenge=1", NULL, NULL, NULL),
                   403);
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", ch,
                        "hub.mode=subscribe&hub.verify_token=verify-me&"
                        "hub.challenge=%3Cscript%3E",
                        NULL, NULL, NULL),
                   400);
  uuid_v7(other);
  assert_int_equal(call(f->d, a, chat_whatsapp_verify, "GET", other,
                        "hub.mode=subscribe&hub.verify_token=verify-me&"
                        "hub.challenge=1",
                        NULL, NULL, NULL),
                   404);
  arena_free(a);
}

static void test_signatures(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37], tg[37], nosecret[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  add_whatsapp(f->d, f->profile, "2002", NULL, nosecret);
  add_telegram(f->d, f->profile, tg);
  const char *b = wa_text(a, PNID, "919876543210", "wamid.s1", "hi");

  /* Missing, wrong, another secret's, over a changed body: 401, nothing. */
  assert_int_equal(wa_post(f->d, a, ch, NULL, b), 401);
  h_sig = "sha256=00";
  assert_int_equal(call(f->d, a, chat_whatsapp_webhook, "POST", ch, NULL, b,
                        NULL, NULL),
                   401);
  h_sig = sign(a, APP_SECRET, "{}");
  assert_int_equal(call(f->d, a, chat_whatsapp_webhook, "POST", ch, NULL, b,
                        NULL, NULL),
                   401);
  h_sig = NULL;
  assert_int_equal(wa_post(f->d, a, ch, "another-secret", b), 401);
  assert_int_equal(count(f->d, N_RAW, NULL), 0);

  /* The right one: stored, 200. Upper-case hex is the same signature. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, b), 200);
  assert_int_equal(count(f->d, N_RAW, NULL), 1);
  char *upper = arena_strdup(a, sign(a, APP_SECRET, b));
  for (char *p = upper + 7; *p; p++)
    if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
  h_sig = upper;
  assert_int_equal(call(f->d, a, chat_whatsapp_webhook, "POST", ch, NULL, b,
                        NULL, NULL),
                   200);
  h_sig = NULL;
  assert_int_equal(count(f->d, N_RAW, NULL), 2);

  /* Signed but not a webhook: 400, nothing stored. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, "{\"object\":\"page\"}"), 400);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, "{not json"), 400);
  assert_int_equal(count(f->d, N_RAW, NULL), 2);

  /* Oversized: 413 before anything else. */
  char *big = arena_alloc(a, CHAT_WEBHOOK_MAX_BODY + 2);
  memset(big, ' ', CHAT_WEBHOOK_MAX_BODY + 1);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, big), 413);

  /* Unknown channel: 404. */
  char unknown[37];
  uuid_v7(unknown);
  assert_int_equal(wa_post(f->d, a, unknown, APP_SECRET, b), 404);
  assert_int_equal(wa_post(f->d, a, "not-a-uuid", APP_SECRET, b), 404);
  /* A Telegram channel's id on the WhatsApp route: 404. */
  assert_int_equal(wa_post(f->d, a, tg, APP_SECRET, b), 404);

  /* The shared route and a channel without a secret of its own: 401 while
   * no shared secret is configured, then the shared secret signs. */
  assert_int_equal(wa_post(f->d, a, NULL, "x", b), 401);
  assert_int_equal(wa_post(f->d, a, nosecret, "x", b), 401);
  chat_settings s = *chat_settings_get();
  s.whatsapp_app_secret = "shared-secret";
  chat_configure(&s);
  assert_int_equal(wa_post(f->d, a, NULL, "shared-secret", b), 200);
  assert_int_equal(wa_post(f->d, a, nosecret, "shared-secret", b), 200);
  assert_int_equal(wa_post(f->d, a, NULL, APP_SECRET, b), 401);
  /* A channel with its own secret does not take the shared one. */
  assert_int_equal(wa_post(f->d, a, ch, "shared-secret", b), 401);
  s.whatsapp_app_secret = "";
  chat_configure(&s);
  assert_int_equal(count(f->d, N_RAW, NULL), 4);

  /* Telegram: the secret token header. */
  const char *u = "{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{"
                  "\"id\":77},\"text\":\"hi\"}}";
  assert_int_equal(call(f->d, a, chat_telegram_webhook, "POST", tg, NULL, u,
                        NULL, NULL),
                   401);
  h_tg = "tg-secreT";
  assert_int_equal(call(f->d, a, chat_telegram_webhook, "POST", tg, NULL, u,
                        NULL, NULL),
                   401);
  h_tg = NULL;
  assert_int_equal(tg_post(f->d, a, ch, u), 404); /* a WhatsApp channel */
  assert_int_equal(tg_post(f->d, a, tg, "{\"message\":{}}"), 400);
  assert_int_equal(count(f->d, N_RAW, NULL), 4);
  assert_int_equal(tg_post(f->d, a, tg, u), 200);
  /* The same update again while the first still waits: stored once. */
  assert_int_equal(tg_post(f->d, a, tg, u), 200);
  assert_int_equal(count(f->d, N_RAW, NULL), 5);
  arena_free(a);
}

/* ---- processing ------------------------------------------------------------------ */

static void test_messages_once(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  db_val p[] = {db_uuid(f->profile)};
  OK(db_query(f->d, "UPDATE profiles SET owner_phone = '+919811111111' WHERE id = $1",
              p, 1, NULL, &err));

  const char *m1 = wa_text(a, PNID, "919876543210", "wamid.A1", "rice ka rate");
  const char *m2 = wa_text(a, PNID, "919876543210", "wamid.A2", "2 kg atta");
  /* Reordered: the second message arrives first; each arrives twice. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, m2), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, m1), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, m2), 200);
  assert_int_equal(poll_all(f->d), 3);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, m1), 200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_RAW, NULL), 0);
  assert_int_equal(count(f->d, N_MSG, f->profile), 2);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM sessions WHERE profile_id = $1 "
                         "AND unread_count = 2 AND last_inbound_at IS NOT NULL "
                         "AND contact_id = '919876543210' AND contact_name = "
                         "'Cust 919876543210'",
                         f->profile),
                   1);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM customers WHERE profile_id = $1 "
                         "AND phone_number = '+919876543210'",
                         f->profile),
                   1);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE "
                         "profile_id = $1 AND direction = 'inbound' AND "
                         "sender = 'customer' AND status = 'received' AND "
                         "provider_message_id = 'wamid.A1' AND content = "
                         "'rice ka rate' AND message_type = 'text'",
                         f->profile),
                   1);

  /* The event's payload. */
  db_res *r = NULL;
  OK(db_query(f->d,
              "SELECT e.payload, m.id, m.session_id FROM events e JOIN "
              "unified_messages m ON m.profile_id = e.profile_id AND m.id = "
              "e.entity_id WHERE e.profile_id = $1 AND e.event_type = "
              "'message.received' AND m.provider_message_id = 'wamid.A1'",
              p, 1, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  json *ev = NULL;
  json_error je;
  const char *payload = arena_strdup(a, db_res_text(r, 0, 0));
  assert_int_equal(json_parse(a, payload, strlen(payload), &ev, &je), 0);
  assert_string_equal(json_get(ev, "message_id")->str, db_res_text(r, 0, 1));
  assert_string_equal(json_get(ev, "session_id")->str, db_res_text(r, 0, 2));
  assert_string_equal(json_get(ev, "channel_id")->str, ch);
  assert_int_equal(json_get(ev, "customer_id")->type, JSON_STRING);
  assert_string_equal(json_get(ev, "platform")->str, "whatsapp");
  assert_string_equal(json_get(ev, "message_type")->str, "text");
  assert_string_equal(json_get(ev, "text")->str, "rice ka rate");
  assert_int_equal(json_get(ev, "from_owner")->type, JSON_FALSE);
  assert_string_equal(json_get(ev, "contact_id")->str, "919876543210");
  assert_string_equal(json_get(ev, "contact_name")->str, "Cust 919876543210");
  db_res_free(r);

  /* The owner's phone: from_owner. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET,
                           wa_text(a, PNID, "919811111111", "wamid.O1",
                                   "sales today")),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(from_owner_events(f->d, f->profile),
                   1);
  arena_free(a);
}

static void test_routing(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37], ch2[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  add_whatsapp(f->d, f->profile, "3003", "secret-2", ch2);
  chat_settings s = *chat_settings_get();
  s.whatsapp_app_secret = "shared-secret";
  chat_configure(&s);

  /* Shared route: one body, changes for a known and an unknown number. */
  const char *b =
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":["
      "{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"999999\"},\"messages\":[{\"from\":\"9111\",\"id\":\"wamid.X\","
      "\"type\":\"text\",\"text\":{\"body\":\"lost\"}}]}},"
      "{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"3003\"},\"messages\":[{\"from\":\"9222\",\"id\":\"wamid.Y\","
      "\"type\":\"text\",\"text\":{\"body\":\"found\"}}]}}]}]}";
  assert_int_equal(wa_post(f->d, a, NULL, "shared-secret", b), 200);
  /* Only unknown numbers: acknowledged, processed once, gone. */
  assert_int_equal(wa_post(f->d, a, NULL, "shared-secret",
                           wa_text(a, "888888", "9333", "wamid.Z", "x")),
                   200);
  assert_int_equal(poll_all(f->d), 2);
  assert_int_equal(count(f->d, N_RAW, NULL), 0);
  assert_int_equal(count(f->d, N_MSG, f->profile), 1);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE "
                         "provider_message_id = 'wamid.Y' AND channel_id = $1",
                         ch2),
                   1);

  /* A channel's own route carries its own number only. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET,
                           wa_text(a, "3003", "9444", "wamid.W", "sneaky")),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_MSG, f->profile), 1);

  /* The shared route delivers only to a channel that proved it owns the
   * number (rpc/connect_whatsapp): another business that typed in this
   * number gets nothing until then. */
  char other[37], squat[37];
  test_tenant(f->d, NULL, other);
  uuid_v7(squat);
  db_val q[] = {db_uuid(other), db_uuid(squat)};
  OK(db_query(f->d,
              "INSERT INTO channels (profile_id, id, platform, "
              "phone_number_id, access_token) VALUES ($1, $2, 'whatsapp', "
              "'5005', 'not-the-owners')",
              q, 2, NULL, &err));
  assert_int_equal(wa_post(f->d, a, NULL, "shared-secret",
                           wa_text(a, "5005", "9555", "wamid.S1", "hello")),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_MSG, other), 0);
  OK(db_query(f->d,
              "UPDATE channels SET verified_phone_number_id = "
              "phone_number_id WHERE profile_id = $1 AND id = $2",
              q, 2, NULL, &err));
  assert_int_equal(wa_post(f->d, a, NULL, "shared-secret",
                           wa_text(a, "5005", "9555", "wamid.S2", "hello")),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_MSG, other), 1);
  s.whatsapp_app_secret = "";
  chat_configure(&s);
  arena_free(a);
}

/* An outbound message of a session with provider id pmid (NULL: not sent
 * yet); its id goes to id. */
static void outbound(db *d, arena *a, const char *profile, const char *ch_id,
                     const char *pmid, char id[37]) {
  chat_channel ch;
  int found;
  OK(chat_channel_load(d, a, profile, ch_id, &ch, &found, &err));
  chat_contact who = {"919876543210", "Ramesh", "+919876543210"};
  chat_session s;
  OK(chat_session_get_or_create(d, a, &ch, &who, &s, NULL, &err));
  chat_out m = {.session_id = s.id, .sender = "agent", .content = "hello"};
  OK(chat_enqueue(d, &s, &m, id, NULL, &err));
  if (pmid) {
    db_val v[] = {db_uuid(profile), db_uuid(id), db_text(pmid)};
    OK(db_query(d,
                "UPDATE unified_messages SET provider_message_id = $3, status "
                "= 'sent' WHERE profile_id = $1 AND id = $2",
                v, 3, NULL, &err));
  }
}

static const char *status_of(db *d, arena *a, const char *id) {
  db_val v[] = {db_uuid(id)};
  db_res *r = NULL;
  OK(db_query(d, "SELECT status, coalesce(error, 'null') FROM unified_messages WHERE id = $1", v, 1, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  const char *s = arena_printf(a, "%s %s", db_res_text(r, 0, 0), db_res_text(r, 0, 1));
  db_res_free(r);
  return s;
}

static void test_statuses(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37], m1[37], m2[37], m3[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  outbound(f->d, a, f->profile, ch, "wamid.out1", m1);

  /* read, then a late delivered and sent: read stays. */
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out1", "read")), 200);
  assert_int_equal(poll_all(f->d), 1);
  assert_string_equal(status_of(f->d, a, m1), "read null");
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out1", "delivered")), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out1", "sent")), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out1", "read")), 200);
  poll_all(f->d);
  assert_string_equal(status_of(f->d, a, m1), "read null");

  /* failed keeps the provider's error. */
  outbound(f->d, a, f->profile, ch, "wamid.out2", m2);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out2", "failed")), 200);
  poll_all(f->d);
  const char *st = status_of(f->d, a, m2);
  assert_non_null(strstr(st, "failed"));
  assert_non_null(strstr(st, "131026"));
  assert_non_null(strstr(st, "Message undeliverable"));
  assert_int_equal(count(f->d, "SELECT count(*) FROM chat_status_pending", NULL), 0);

  /* Statuses before the message has its provider id: kept, then applied
   * when the outbox stores the id, skipping a missing "delivered". */
  outbound(f->d, a, f->profile, ch, NULL, m3);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out3", "sent")), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out3", "read")), 200);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, wa_status(a, PNID, "wamid.out3", "read")), 200);
  poll_all(f->d);
  assert_int_equal(count(f->d, "SELECT count(*) FROM chat_status_pending", NULL), 2);
  assert_string_equal(status_of(f->d, a, m3), "queued null");
  db_val v[] = {db_uuid(f->profile), db_uuid(m3)};
  OK(db_begin(f->d, 1, &err));
  OK(db_query(f->d,
              "UPDATE unified_messages SET provider_message_id = "
              "'wamid.out3', status = 'sent' WHERE profile_id = $1 AND id = $2",
              v, 2, NULL, &err));
  OK(chat_statuses_apply_pending(f->d, f->profile, ch, "wamid.out3", &err));
  OK(db_commit(f->d, &err));
  assert_string_equal(status_of(f->d, a, m3), "read null");
  assert_int_equal(count(f->d, "SELECT count(*) FROM chat_status_pending", NULL), 0);
  /* Nothing pending: a no-op. */
  OK(chat_statuses_apply_pending(f->d, f->profile, ch, "wamid.none", &err));

  /* The unknowable case: the outbox died during the send, so the message
   * has no wamid (its outcome_unknown error says so). The status carries
   * munshi's id back in biz_opaque_callback_data: the message adopts the
   * wamid and moves on, and its error is cleared. A status whose callback
   * data names a message that already has a wamid adopts nothing. */
  char m4[37];
  outbound(f->d, a, f->profile, ch, NULL, m4);
  db_val u[] = {db_uuid(f->profile), db_uuid(m4)};
  OK(db_query(f->d,
              "UPDATE unified_messages SET error = '{\"code\":"
              "\"outcome_unknown\"}' WHERE profile_id = $1 AND id = $2",
              u, 2, NULL, &err));
  const char *cb = arena_printf(
      a,
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
      "\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"%s\"},\"statuses\":[{\"id\":\"wamid.out4\",\"status\":"
      "\"delivered\",\"timestamp\":\"1700000000\",\"recipient_id\":"
      "\"919876543210\",\"biz_opaque_callback_data\":\"%s\"}]}}]}]}",
      PNID, m4);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, cb), 200);
  poll_all(f->d);
  assert_string_equal(status_of(f->d, a, m4), "delivered null");
  assert_int_equal(count(f->d, "SELECT count(*) FROM unified_messages WHERE "
                               "provider_message_id = 'wamid.out4'", NULL), 1);
  const char *cb2 = arena_printf(
      a,
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
      "\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"%s\"},\"statuses\":[{\"id\":\"wamid.other\",\"status\":"
      "\"read\",\"timestamp\":\"1700000000\",\"recipient_id\":"
      "\"919876543210\",\"biz_opaque_callback_data\":\"%s\"}]}}]}]}",
      PNID, m4);
  assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, cb2), 200);
  poll_all(f->d);
  assert_string_equal(status_of(f->d, a, m4), "delivered null");
  assert_int_equal(count(f->d, "SELECT count(*) FROM chat_status_pending WHERE "
                               "provider_message_id = 'wamid.other'", NULL), 1);
  OK(db_query(f->d, "DELETE FROM chat_status_pending", NULL, 0, NULL, &err));
  /* Statuses never make an inbound message or an event. */
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 0);
  arena_free(a);
}

/* ---- two workers, one payload ------------------------------------------------------- */

typedef struct worker_arg {
  const char *url;
  pthread_barrier_t *start;
  int handled;
  int failed;
} worker_arg;

static void *worker(void *p) {
  worker_arg *w = p;
  db *d = NULL;
  db_err e;
  if (db_open(w->url, &d, &e)) {
    w->failed = 1;
    pthread_barrier_wait(w->start);
    return NULL;
  }
  chat_inbound_opts o = {.batch = 1};
  pthread_barrier_wait(w->start);
  for (int i = 0; i < 200; i++) {
    int n = chat_inbound_poll(&o, d, "w", &e);
    if (n < 0) {
      w->failed = 1;
      break;
    }
    if (n == 0) break;
    w->handled += n;
  }
  db_close(d);
  return NULL;
}

static void test_concurrent_copies(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char ch[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  /* Ten messages from new contacts, each stored twice in a row, so the two
   * workers (one payload per claim) hold the two copies at once. */
  for (int i = 0; i < 10; i++) {
    char from[16], wamid[16];
    snprintf(from, sizeof from, "91900000%04d", i);
    snprintf(wamid, sizeof wamid, "wamid.C%d", i);
    const char *b = wa_text(a, PNID, from, wamid, "hello");
    assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, b), 200);
    assert_int_equal(wa_post(f->d, a, ch, APP_SECRET, b), 200);
  }
  pthread_barrier_t start;
  pthread_barrier_init(&start, NULL, 2);
  worker_arg w1 = {f->url, &start, 0, 0}, w2 = {f->url, &start, 0, 0};
  pthread_t t1, t2;
  pthread_create(&t1, NULL, worker, &w1);
  pthread_create(&t2, NULL, worker, &w2);
  pthread_join(t1, NULL);
  pthread_join(t2, NULL);
  pthread_barrier_destroy(&start);
  assert_int_equal(w1.failed + w2.failed, 0);
  poll_all(f->d); /* anything a deadlock victim left for a retry */
  /* Retries wait for their back-off: run until the table is empty. */
  for (int i = 0; i < 50 && count(f->d, N_RAW, NULL) > 0; i++) {
    db_val v[] = {db_ts(0)};
    OK(db_query(f->d, "UPDATE chat_inbound SET lease_until = $1", v, 1, NULL, &err));
    poll_all(f->d);
  }
  assert_int_equal(count(f->d, N_RAW, NULL), 0);
  assert_int_equal(count(f->d, N_MSG, f->profile), 10);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 10);
  assert_int_equal(count(f->d, "SELECT count(*) FROM sessions WHERE profile_id = $1", f->profile), 10);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM sessions WHERE profile_id = $1 "
                         "AND unread_count <> 1",
                         f->profile),
                   0);
  arena_free(a);
}

/* ---- Telegram -------------------------------------------------------------------- */

static void test_telegram(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char tg[37];
  add_telegram(f->d, f->profile, tg);
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":100,\"message\":{\"message_id\":5,"
                           "\"from\":{\"id\":77,\"first_name\":\"Asha\"},"
                           "\"chat\":{\"id\":77,\"type\":\"private\"},\"date\":"
                           "1700000000,\"text\":\"1 kg atta\"}}"),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  /* The edit changes the row and emits nothing. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":101,\"edited_message\":{\"message_id\":"
                           "5,\"chat\":{\"id\":77},\"date\":1700000000,"
                           "\"edit_date\":1700000100,\"text\":\"2 kg atta\"}}"),
                   200);
  /* A button press: a "button" message with the data as text. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":102,\"callback_query\":{\"id\":"
                           "\"cbq1\",\"from\":{\"id\":77},\"message\":{"
                           "\"message_id\":6,\"chat\":{\"id\":77}},\"data\":"
                           "\"confirm\"}}"),
                   200);
  /* Ignored kinds are acknowledged. */
  assert_int_equal(tg_post(f->d, a, tg, "{\"update_id\":103,\"poll\":{\"id\":\"p\"}}"), 200);
  assert_int_equal(poll_all(f->d), 3);
  assert_int_equal(count(f->d, N_MSG, f->profile), 2);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE "
                         "provider_message_id = '77:5' AND content = '2 kg "
                         "atta' AND CAST(metadata AS TEXT) LIKE '%edited%'",
                         NULL),
                   1);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE "
                         "provider_message_id = 'cb:cbq1' AND message_type = "
                         "'button' AND content = 'confirm' AND CAST(metadata AS TEXT) LIKE "
                         "'%cbq1%'",
                         NULL),
                   1);
  /* The same update after it was processed: stored again, logged once. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":100,\"message\":{\"message_id\":5,"
                           "\"chat\":{\"id\":77},\"text\":\"1 kg atta\"}}"),
                   200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_MSG, f->profile), 2);
  arena_free(a);
}

static void test_owner_link(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char tg[37];
  add_telegram(f->d, f->profile, tg);
  db_val v[] = {db_uuid(tg), db_ts(time_now_us() + 600LL * 1000000)};
  OK(db_query(f->d,
              "UPDATE channels SET owner_link_code = 'K7Q2ZP', "
              "owner_link_expires_at = $2 WHERE id = $1",
              v, 2, NULL, &err));
  /* A wrong code is an ordinary message. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":1,\"message\":{\"message_id\":1,"
                           "\"chat\":{\"id\":900},\"text\":\"/start WRONG1\"}}"),
                   200);
  /* The right code in a group links nothing (every member would be the
   * owner): only a private chat, whose id is the sender's, links. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":9,\"message\":{\"message_id\":9,"
                           "\"from\":{\"id\":900,\"first_name\":\"Owner\"},"
                           "\"chat\":{\"id\":-100900,\"type\":\"group\"},"
                           "\"text\":\"/start K7Q2ZP\"}}"),
                   200);
  assert_int_equal(poll_all(f->d), 2); /* the wrong code's, and this */
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM channels WHERE id = $1 AND "
                         "owner_chat_id IS NULL AND owner_link_code = 'K7Q2ZP'",
                         tg),
                   1);
  const char *good = "{\"update_id\":2,\"message\":{\"message_id\":2,"
                     "\"from\":{\"id\":900,\"first_name\":\"Owner\"},\"chat\":"
                     "{\"id\":900,\"type\":\"private\"},\"text\":\"/start "
                     "K7Q2ZP\"}}";
  assert_int_equal(tg_post(f->d, a, tg, good), 200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM channels WHERE id = $1 AND "
                         "owner_chat_id = '900' AND owner_link_code IS NULL "
                         "AND owner_link_expires_at IS NULL",
                         tg),
                   1);
  /* Redelivered: nothing new (the code is spent, the row is there). */
  assert_int_equal(tg_post(f->d, a, tg, good), 200);
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE content "
                         "LIKE '%K7Q2ZP%' AND session_id IN (SELECT id FROM "
                         "sessions WHERE contact_id = '900')",
                         NULL),
                   0);
  /* The owner's next message says so. */
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":3,\"message\":{\"message_id\":3,"
                           "\"chat\":{\"id\":900},\"text\":\"sales today\"}}"),
                   200);
  poll_all(f->d);
  assert_int_equal(from_owner_events(f->d, f->profile),
                   1);

  /* An expired code links nothing. */
  db_val x[] = {db_uuid(tg), db_ts(time_now_us() - 1000000)};
  OK(db_query(f->d,
              "UPDATE channels SET owner_link_code = 'OLD999', "
              "owner_link_expires_at = $2 WHERE id = $1",
              x, 2, NULL, &err));
  assert_int_equal(tg_post(f->d, a, tg,
                           "{\"update_id\":4,\"message\":{\"message_id\":4,"
                           "\"chat\":{\"id\":901},\"text\":\"link OLD999\"}}"),
                   200);
  poll_all(f->d);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM channels WHERE id = $1 AND "
                         "owner_chat_id = '900' AND owner_link_code = 'OLD999'",
                         tg),
                   1);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 4);
  arena_free(a);
}

/* ---- failures ------------------------------------------------------------------- */

static void test_set_aside(void **state) {
  test_fixture *f = *state;
  char ch[37];
  add_whatsapp(f->d, f->profile, PNID, APP_SECRET, ch);
  /* A stored body that is not a webhook (written before a parser change,
   * say): set aside at once with the reason, not retried. */
  OK(chat_inbound_store(f->d, CHAT_WHATSAPP, ch, -1, "{\"object\":1}", 12, NULL, &err));
  assert_int_equal(poll_all(f->d), 1);
  assert_int_equal(poll_all(f->d), 0);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM chat_inbound WHERE state = "
                         "'failed' AND attempts = 1 AND last_error LIKE "
                         "'%whatsapp_business_account%'",
                         NULL),
                   1);
  /* A database failure while processing: retried, then set aside after
   * CHAT_INBOUND_MAX_ATTEMPTS. The message's insert fails: a CHECK that
   * refuses this text. */
  OK(db_exec(f->d, "DELETE FROM chat_inbound", &err));
  arena *a = arena_new();
  const char *b = wa_text(a, PNID, "919876543210", "wamid.F1", "poison");
  OK(chat_inbound_store(f->d, CHAT_WHATSAPP, ch, -1, b, strlen(b), NULL, &err));
  if (!strcmp(test_backend(), "sqlite"))
    OK(db_exec(f->d,
               "CREATE TRIGGER poison BEFORE INSERT ON unified_messages WHEN "
               "NEW.content = 'poison' BEGIN SELECT RAISE(ABORT, 'poison'); END",
               &err));
  else
    OK(db_exec(f->d,
               "ALTER TABLE unified_messages ADD CONSTRAINT poison CHECK "
               "(content IS DISTINCT FROM 'poison')",
               &err));
  /* Good payloads after it in the same batch are logged all the same. */
  const char *g1 = wa_text(a, PNID, "919800000001", "wamid.G1", "good one");
  const char *g2 = wa_text(a, PNID, "919800000002", "wamid.G2", "good two");
  OK(chat_inbound_store(f->d, CHAT_WHATSAPP, ch, -1, g2, strlen(g2), NULL, &err));
  OK(chat_inbound_store(f->d, CHAT_WHATSAPP, ch, -1, g1, strlen(g1), NULL, &err));
  assert_int_equal(chat_inbound_poll(NULL, f->d, "t", &err), 3);
  assert_int_equal(count(f->d, N_MSG, f->profile), 2);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);
  assert_int_equal(count(f->d, N_RAW, NULL), 1);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM chat_inbound WHERE state = "
                         "'pending' AND attempts = 1 AND lease_until IS NOT "
                         "NULL AND claimed_by IS NULL AND last_error LIKE "
                         "'database:%'",
                         NULL),
                   1);
  for (int i = 0; i < CHAT_INBOUND_MAX_ATTEMPTS + 2; i++) {
    db_val v[] = {db_ts(0)};
    OK(db_query(f->d, "UPDATE chat_inbound SET lease_until = $1 WHERE lease_until IS NOT NULL", v, 1, NULL, &err));
    assert_true(chat_inbound_poll(NULL, f->d, "t", &err) >= 0);
  }
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM chat_inbound WHERE state = "
                         "'failed' AND last_error LIKE 'database:%'",
                         NULL),
                   1);
  assert_int_equal(count(f->d,
                         "SELECT max(attempts) FROM chat_inbound", NULL),
                   CHAT_INBOUND_MAX_ATTEMPTS);
  assert_int_equal(count(f->d,
                         "SELECT count(*) FROM unified_messages WHERE content "
                         "= 'poison'",
                         NULL),
                   0);
  assert_int_equal(count(f->d, N_EVENTS, f->profile), 2);

  /* A transient failure (here a serialization failure, 40001, as a busy
   * database gives) is retried however often it happens and never sets
   * a good payload aside; once the database is well, it is processed.
   * PostgreSQL only: a trigger there can fail with any SQLSTATE. */
  if (!strcmp(test_backend(), "postgres")) {
    OK(db_exec(f->d,
               "CREATE FUNCTION flaky() RETURNS trigger LANGUAGE plpgsql AS "
               "$$ BEGIN IF NEW.content = 'flaky' THEN RAISE EXCEPTION "
               "'busy' USING ERRCODE = '40001'; END IF; RETURN NEW; END $$;"
               "CREATE TRIGGER flaky BEFORE INSERT ON unified_messages FOR "
               "EACH ROW EXECUTE FUNCTION flaky()",
               &err));
    const char *fl = wa_text(a, PNID, "919800000003", "wamid.T1", "flaky");
    OK(chat_inbound_store(f->d, CHAT_WHATSAPP, ch, -1, fl, strlen(fl), NULL,
                          &err));
    for (int i = 0; i < CHAT_INBOUND_MAX_ATTEMPTS + 3; i++) {
      db_val v[] = {db_ts(0)};
      OK(db_query(f->d, "UPDATE chat_inbound SET lease_until = $1 WHERE lease_until IS NOT NULL AND state = 'pending'", v, 1, NULL, &err));
      assert_true(chat_inbound_poll(NULL, f->d, "t", &err) >= 0);
    }
    assert_int_equal(count(f->d,
                           "SELECT count(*) FROM chat_inbound WHERE state = "
                           "'pending' AND last_error LIKE '%40001%'",
                           NULL),
                     1);
    OK(db_exec(f->d, "DROP TRIGGER flaky ON unified_messages", &err));
    db_val v[] = {db_ts(0)};
    OK(db_query(f->d, "UPDATE chat_inbound SET lease_until = $1 WHERE state = 'pending'", v, 1, NULL, &err));
    assert_true(chat_inbound_poll(NULL, f->d, "t", &err) >= 1);
    assert_int_equal(count(f->d,
                           "SELECT count(*) FROM unified_messages WHERE "
                           "content = 'flaky'",
                           NULL),
                     1);
  }
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_handshake, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_signatures, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_messages_once, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_routing, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_statuses, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_copies, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_telegram, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_owner_link, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_set_aside, test_fixture_setup, test_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
