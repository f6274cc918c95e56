/* test_chat_outbox_db.c - the chat outbox (chat/outbox.c) and the chat
 * operations (chat/rpc.c) on SQLite and PostgreSQL (argv[1]), with a local
 * fake server standing in for WhatsApp's Cloud API and Telegram's Bot API.
 *
 * A queued message is sent once and its provider id stored; 5xx and rate
 * limits are retried after the wait asked for, permanent errors fail the
 * message with the provider's code; WhatsApp's 24-hour window fails free
 * text locally or turns it into a template; the per-channel rate limit
 * holds messages back; four concurrent pollers never send one message
 * twice; a row left 'sending' by a dead sender is not sent again; and the
 * operations refuse bad callers and bad input without writing anything. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/arena.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "chat/chat.h"
#include "chat/store.h"
#include "fakes/fake_server.h"

static db_err err;
static fake_server *fs;
static atomic_int next_id;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

/* The providers, when no scripted answer is queued: WhatsApp under /wa,
 * Telegram under /tg. */
static void provider(void *ctx, const fake_request *req, fake_response *resp) {
  (void)ctx;
  char body[512];
  int n = atomic_fetch_add(&next_id, 1) + 1;
  if (!strncmp(req->path, "/wa/", 4)) {
    snprintf(body, sizeof body,
             "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"x\","
             "\"wa_id\":\"x\"}],\"messages\":[{\"id\":\"wamid.%d\"}]}",
             n);
  } else if (strstr(req->path, "/setWebhook")) {
    snprintf(body, sizeof body,
             "{\"ok\":true,\"result\":true,\"description\":\"Webhook was set\"}");
  } else if (strstr(req->path, "/getMe")) {
    snprintf(body, sizeof body,
             "{\"ok\":true,\"result\":{\"id\":123,\"is_bot\":true,"
             "\"first_name\":\"Shop\",\"username\":\"shop_bot\"}}");
  } else {
    snprintf(body, sizeof body,
             "{\"ok\":true,\"result\":{\"message_id\":%d,\"chat\":{\"id\":5551234}}}",
             n);
  }
  fake_response_json(resp, body);
}

static int setup(void **state) {
  if (test_fixture_setup(state)) return -1;
  fs = fake_server_start();
  if (!fs) return -1;
  fake_server_set_handler(fs, provider, NULL);
  static char wa[128], tg[128];
  snprintf(wa, sizeof wa, "%s/wa", fake_server_url(fs));
  snprintf(tg, sizeof tg, "%s/tg", fake_server_url(fs));
  chat_settings cs = {wa, tg, "", "", "", "", 1000, 0};
  chat_configure(&cs);
  return 0;
}

static int teardown(void **state) {
  fake_server_stop(fs);
  fs = NULL;
  return test_fixture_teardown(state);
}

/* A WhatsApp channel with its options (NULL: none). */
static void add_whatsapp(db *d, const char *profile, const char *pnid,
                         const char *default_template, const char *rate,
                         char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), db_text(pnid),
                default_template ? db_text(default_template) : db_null(),
                db_int(rate ? strtol(rate, NULL, 10) : 0)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, phone_number_id, "
              "access_token, app_secret, verify_token, default_template, "
              "templates, rate_limit_per_s) VALUES ($1, $2, 'whatsapp', $3, "
              "'EAAtoken', 'appsecret', 'verify', $4, "
              "'[{\"name\":\"reminder\",\"language\":\"en_US\",\"params\":1}]', "
              "nullif($5, 0))",
              v, 5, NULL, &err));
}

static void add_telegram(db *d, const char *profile, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, bot_token) VALUES "
              "($1, $2, 'telegram', '123:ABCdefGHIjklMNOpqrSTUvwxYZ012345')",
              v, 2, NULL, &err));
}

/* A session of the channel, its window open when open is 1. */
static void session(db *d, arena *a, const char *profile, const char *ch_id,
                    const char *contact, int open, chat_session *s) {
  chat_channel ch;
  int found;
  OK(chat_channel_load(d, a, profile, ch_id, &ch, &found, &err));
  assert_int_equal(found, 1);
  chat_contact who = {contact, "Ramesh", NULL};
  OK(chat_session_get_or_create(d, a, &ch, &who, s, NULL, &err));
  if (open) {
    db_val v[] = {db_uuid(profile), db_uuid(s->id), db_ts(time_now_us() - 3600LL * 1000000)};
    OK(db_query(d, "UPDATE sessions SET last_inbound_at = $3 WHERE profile_id = $1 AND id = $2",
                v, 3, NULL, &err));
    s->last_inbound_at = time_now_us() - 3600LL * 1000000;
  }
}

static void queue(db *d, const chat_session *s, const char *type,
                  const char *text, const char *meta, char id[37]) {
  chat_out o = {.session_id = s->id, .sender = "agent", .message_type = type,
                .content = text, .metadata = meta};
  OK(chat_enqueue(d, s, &o, id, NULL, &err));
}

static int poll_once(db *d) {
  int n = chat_outbox_poll(NULL, d, "test-worker", &err);
  if (n < 0) fail_msg("poll: [%s] %s", err.code, err.message);
  return n;
}

/* Status, provider id and error code of a message. */
typedef struct msg_state {
  char status[16];
  char provider_id[64];
  char error_code[32];
  char error_message[512];
} msg_state;

static msg_state msg(db *d, const char *id) {
  msg_state m;
  memset(&m, 0, sizeof m);
  db_val v[] = {db_uuid(id)};
  db_res *r = NULL;
  OK(db_query(d,
              "SELECT status, coalesce(provider_message_id, ''), "
              "coalesce(error, 'null') FROM unified_messages WHERE id = $1",
              v, 1, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  snprintf(m.status, sizeof m.status, "%s", db_res_text(r, 0, 0));
  snprintf(m.provider_id, sizeof m.provider_id, "%s", db_res_text(r, 0, 1));
  arena *a = arena_new();
  json *e;
  json_error je;
  const char *t = db_res_text(r, 0, 2);
  assert_int_equal(json_parse(a, t, strlen(t), &e, &je), 0);
  if (e->type == JSON_OBJECT) {
    const json *c = json_get(e, "code");
    const json *mm = json_get(e, "message");
    assert_non_null(json_get(e, "title"));
    snprintf(m.error_code, sizeof m.error_code, "%s", c ? c->str : "");
    snprintf(m.error_message, sizeof m.error_message, "%s", mm ? mm->str : "");
  }
  arena_free(a);
  db_res_free(r);
  return m;
}

static int64_t outbox_rows(db *d) {
  return test_count(d, "SELECT count(*) FROM chat_outbox", NULL);
}

/* Makes every pending row due now (instead of waiting out a backoff). */
static void make_due(db *d) {
  db_val v[] = {db_ts(time_now_us() - 1000)};
  OK(db_query(d, "UPDATE chat_outbox SET next_attempt_at = $1", v, 1, NULL, &err));
}

static void test_sent(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], tg[37], m1[37], m2[37];
  chat_session s1, s2;
  add_whatsapp(f->d, f->profile, "1234567890", NULL, NULL, wa);
  add_telegram(f->d, f->profile, tg);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s1);
  session(f->d, a, f->profile, tg, "5551234", 0, &s2);
  queue(f->d, &s1, "text", "Namaste", NULL, m1);
  queue(f->d, &s2, "text", "Hello", NULL, m2);
  assert_int_equal(poll_once(f->d), 2);
  assert_int_equal(fake_server_count(fs), 2);
  msg_state a1 = msg(f->d, m1), a2 = msg(f->d, m2);
  assert_string_equal(a1.status, "sent");
  assert_string_equal(a2.status, "sent");
  assert_memory_equal(a1.provider_id, "wamid.", 6);
  assert_int_equal(strncmp(a2.provider_id, "5551234:", 8), 0);
  assert_int_equal(outbox_rows(f->d), 0);
  /* What WhatsApp got: the number's endpoint, the bearer, our id. */
  const fake_request *r = NULL;
  for (size_t i = 0; i < 2; i++) {
    const fake_request *x = fake_server_request(fs, i);
    if (!strncmp(x->path, "/wa/", 4)) r = x;
  }
  assert_non_null(r);
  assert_string_equal(r->path, "/wa/1234567890/messages");
  assert_string_equal(fake_request_header(r, "Authorization"), "Bearer EAAtoken");
  assert_non_null(strstr(r->body, "\"to\":\"919876543210\""));
  assert_non_null(strstr(r->body, m1));
  /* Nothing left: a second poll sends nothing. */
  assert_int_equal(poll_once(f->d), 0);
  assert_int_equal(fake_server_count(fs), 2);
  arena_free(a);
}

static void test_retry(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], tg[37], m1[37], m2[37];
  chat_session s1, s2;
  add_whatsapp(f->d, f->profile, "1234567891", NULL, NULL, wa);
  add_telegram(f->d, f->profile, tg);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s1);
  queue(f->d, &s1, "text", "one", NULL, m1);

  /* 503: back to pending, not sent again before its time. */
  fake_server_enqueue_simple(fs, 503, "text/html", "<h1>down</h1>");
  int64_t t0 = time_now_us();
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m1).status, "queued");
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE "
                                    "state = 'pending' AND attempts = 1 AND "
                                    "last_error LIKE 'http_503%'", NULL), 1);
  assert_int_equal(poll_once(f->d), 0);
  assert_int_equal(fake_server_count(fs), 1);

  /* 130429 with Retry-After: 120 → not before two minutes. */
  make_due(f->d);
  fake_response *rl = fake_response_new(429);
  fake_response_header(rl, "Retry-After", "120");
  fake_response_json(rl,
                     "{\"error\":{\"message\":\"(#130429) Rate limit hit\",\"type\":"
                     "\"OAuthException\",\"code\":130429,\"error_data\":{"
                     "\"messaging_product\":\"whatsapp\",\"details\":\"Cloud API "
                     "message throughput has been reached.\"},\"fbtrace_id\":\"A1\"}}");
  fake_server_enqueue(fs, rl);
  assert_int_equal(poll_once(f->d), 1);
  db_res *r = NULL;
  OK(db_query(f->d, "SELECT next_attempt_at, attempts FROM chat_outbox", NULL, 0, &r, &err));
  assert_int_equal(db_res_rows(r), 1);
  assert_true(db_res_ts(r, 0, 0) >= t0 + 115LL * 1000000);
  assert_true(db_res_ts(r, 0, 0) <= time_now_us() + 121LL * 1000000);
  assert_int_equal(db_res_int(r, 0, 1), 2);
  db_res_free(r);

  /* Then it goes through, once. */
  make_due(f->d);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m1).status, "sent");
  assert_int_equal(fake_server_count(fs), 3);
  assert_int_equal(outbox_rows(f->d), 0);

  /* Telegram 429 with parameters.retry_after. */
  session(f->d, a, f->profile, tg, "5551234", 0, &s2);
  queue(f->d, &s2, "text", "two", NULL, m2);
  fake_server_enqueue_simple(fs, 429, "application/json",
                             "{\"ok\":false,\"error_code\":429,\"description\":"
                             "\"Too Many Requests: retry after 30\",\"parameters\":"
                             "{\"retry_after\":30}}");
  t0 = time_now_us();
  assert_int_equal(poll_once(f->d), 1);
  OK(db_query(f->d, "SELECT next_attempt_at FROM chat_outbox", NULL, 0, &r, &err));
  assert_true(db_res_ts(r, 0, 0) >= t0 + 29LL * 1000000);
  db_res_free(r);
  assert_string_equal(msg(f->d, m2).status, "queued");

  /* A connection refused is retried too: point Telegram at a closed port. */
  make_due(f->d);
  chat_settings cs = *chat_settings_get();
  char wa_url[128], tg_url[128];
  snprintf(wa_url, sizeof wa_url, "%s", cs.whatsapp_api_url);
  snprintf(tg_url, sizeof tg_url, "%s", cs.telegram_api_url);
  cs.whatsapp_api_url = wa_url;
  cs.telegram_api_url = "http://127.0.0.1:1";
  chat_configure(&cs);
  assert_int_equal(poll_once(f->d), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE "
                                    "state = 'pending' AND last_error LIKE 'connect%'",
                              NULL), 1);
  cs.telegram_api_url = tg_url;
  chat_configure(&cs);
  /* Giving up: the last attempt fails the message with the last error. */
  db_val v[] = {db_ts(time_now_us() - 1000)};
  OK(db_query(f->d, "UPDATE chat_outbox SET attempts = 11, next_attempt_at = $1", v, 1,
              NULL, &err));
  fake_server_enqueue_simple(fs, 502, "text/plain", "bad gateway");
  assert_int_equal(poll_once(f->d), 1);
  msg_state g = msg(f->d, m2);
  assert_string_equal(g.status, "failed");
  assert_string_equal(g.error_code, "gave_up");
  assert_non_null(strstr(g.error_message, "http_502"));
  assert_int_equal(outbox_rows(f->d), 0);
  arena_free(a);
}

static void test_permanent(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], tg[37], m1[37], m2[37], m3[37];
  chat_session s1, s2;
  add_whatsapp(f->d, f->profile, "1234567892", NULL, NULL, wa);
  add_telegram(f->d, f->profile, tg);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s1);
  session(f->d, a, f->profile, tg, "5551234", 0, &s2);
  queue(f->d, &s1, "text", "one", NULL, m1);
  queue(f->d, &s1, "text", "two", NULL, m2);
  queue(f->d, &s2, "text", "three", NULL, m3);
  /* In queue order (UUIDv7 ids): m1, m2, m3. */
  fake_server_enqueue_simple(
      fs, 400, "application/json",
      "{\"error\":{\"message\":\"(#131047) Re-engagement message\",\"type\":"
      "\"OAuthException\",\"code\":131047,\"error_data\":{\"messaging_product\":"
      "\"whatsapp\",\"details\":\"Message failed to send because more than 24 "
      "hours have passed since the customer last replied to this number.\"},"
      "\"fbtrace_id\":\"A2\"}}");
  fake_server_enqueue_simple(
      fs, 401, "application/json",
      "{\"error\":{\"message\":\"Error validating access token: Session has "
      "expired\",\"type\":\"OAuthException\",\"code\":190,\"error_subcode\":463,"
      "\"fbtrace_id\":\"A3\"}}");
  fake_server_enqueue_simple(fs, 403, "application/json",
                             "{\"ok\":false,\"error_code\":403,\"description\":"
                             "\"Forbidden: bot was blocked by the user\"}");
  assert_int_equal(poll_once(f->d), 3);
  msg_state x1 = msg(f->d, m1), x2 = msg(f->d, m2), x3 = msg(f->d, m3);
  assert_string_equal(x1.status, "failed");
  assert_string_equal(x1.error_code, "131047");
  assert_non_null(strstr(x1.error_message, "24 hours"));
  assert_string_equal(x2.status, "failed");
  assert_string_equal(x2.error_code, "190");
  assert_string_equal(x3.status, "failed");
  assert_string_equal(x3.error_code, "403");
  assert_int_equal(outbox_rows(f->d), 0);
  make_due(f->d);
  assert_int_equal(poll_once(f->d), 0);
  assert_int_equal(fake_server_count(fs), 3);
  arena_free(a);
}

static void test_window(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char plain[37], with_tpl[37], m1[37], m2[37], m3[37], m4[37];
  chat_session s1, s2;
  add_whatsapp(f->d, f->profile, "1234567893", NULL, NULL, plain);
  add_whatsapp(f->d, f->profile, "1234567894", "reminder", NULL, with_tpl);
  session(f->d, a, f->profile, plain, "919000000001", 0, &s1);
  session(f->d, a, f->profile, with_tpl, "919000000002", 0, &s2);
  /* Closed window, no template: failed here, nothing sent. */
  queue(f->d, &s1, "text", "You owe 500", NULL, m1);
  assert_int_equal(poll_once(f->d), 1);
  msg_state x = msg(f->d, m1);
  assert_string_equal(x.status, "failed");
  assert_string_equal(x.error_code, "window_closed");
  assert_int_equal(fake_server_count(fs), 0);
  /* The channel's default template, the text as its parameter. */
  queue(f->d, &s2, "text", "You owe 500", NULL, m2);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m2).status, "sent");
  const fake_request *r = fake_server_request(fs, 0);
  assert_non_null(strstr(r->body, "\"type\":\"template\""));
  assert_non_null(strstr(r->body, "\"name\":\"reminder\""));
  assert_non_null(strstr(r->body, "\"code\":\"en_US\""));
  assert_non_null(strstr(r->body, "\"text\":\"You owe 500\""));
  /* A template named in the message's metadata wins, with its params. */
  queue(f->d, &s1, "text", "Hi Ramesh",
        "{\"template\":{\"name\":\"due_note\",\"language\":\"hi\",\"params\":[\"Ramesh\"]}}",
        m3);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m3).status, "sent");
  r = fake_server_request(fs, 1);
  assert_non_null(strstr(r->body, "\"name\":\"due_note\""));
  assert_non_null(strstr(r->body, "\"text\":\"Ramesh\""));
  /* Window open: the same message goes as free text. */
  db_val v[] = {db_uuid(s1.id), db_ts(time_now_us())};
  OK(db_query(f->d, "UPDATE sessions SET last_inbound_at = $2 WHERE id = $1", v, 2, NULL,
              &err));
  queue(f->d, &s1, "text", "Hi Ramesh",
        "{\"template\":{\"name\":\"due_note\",\"language\":\"hi\",\"params\":[\"Ramesh\"]}}",
        m4);
  assert_int_equal(poll_once(f->d), 1);
  r = fake_server_request(fs, 2);
  assert_non_null(strstr(r->body, "\"type\":\"text\""));
  assert_non_null(strstr(r->body, "\"body\":\"Hi Ramesh\""));
  arena_free(a);
}

static void test_rate_limit(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], id[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567895", NULL, "2", wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  for (int i = 0; i < 5; i++) queue(f->d, &s, "text", "hi", NULL, id);
  int64_t t0 = time_now_us();
  assert_int_equal(poll_once(f->d), 5);
  /* A burst of one second's worth (2); the rest wait for their tokens,
   * their attempts not counted. */
  assert_int_equal(fake_server_count(fs), 2);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM unified_messages WHERE "
                                    "status = 'sent'", NULL), 2);
  db_res *r = NULL;
  OK(db_query(f->d, "SELECT next_attempt_at, attempts, state FROM chat_outbox", NULL, 0,
              &r, &err));
  assert_int_equal(db_res_rows(r), 3);
  for (int i = 0; i < 3; i++) {
    assert_true(db_res_ts(r, i, 0) > t0 + 400000); /* ≥ half a second at 2/s */
    assert_int_equal(db_res_int(r, i, 1), 0);
    assert_string_equal(db_res_text(r, i, 2), "pending");
  }
  db_res_free(r);
  /* Polled again at once, nothing more goes out. */
  assert_int_equal(poll_once(f->d), 0);
  assert_int_equal(fake_server_count(fs), 2);
  arena_free(a);
}

typedef struct poller_arg {
  const char *url;
  char name[16];
  int failed;
} poller_arg;

static void *poller(void *p) {
  poller_arg *pa = p;
  db *d = NULL;
  db_err e;
  if (db_open(pa->url, &d, &e)) {
    pa->failed = 1;
    return NULL;
  }
  int64_t until = time_now_us() + 20LL * 1000000;
  while (time_now_us() < until) {
    int n = chat_outbox_poll(NULL, d, pa->name, &e);
    if (n < 0) {
      /* SQLite's busy lock or a PostgreSQL serialization retry: go on. */
      continue;
    }
    db_res *r = NULL;
    if (db_query(d, "SELECT count(*) FROM chat_outbox", NULL, 0, &r, &e) == 0) {
      int64_t left = db_res_int(r, 0, 0);
      db_res_free(r);
      if (left == 0) break;
    }
  }
  db_close(d);
  return NULL;
}

static void test_concurrent_pollers(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], id[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567896", NULL, "1000", wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  enum { N = 60, T = 4 };
  OK(db_begin(f->d, 1, &err));
  for (int i = 0; i < N; i++) queue(f->d, &s, "text", "hi", NULL, id);
  OK(db_commit(f->d, &err));
  pthread_t th[T];
  poller_arg args[T];
  for (int i = 0; i < T; i++) {
    args[i] = (poller_arg){.url = f->url};
    snprintf(args[i].name, sizeof args[i].name, "w%d", i);
    assert_int_equal(pthread_create(&th[i], NULL, poller, &args[i]), 0);
  }
  for (int i = 0; i < T; i++) {
    pthread_join(th[i], NULL);
    assert_int_equal(args[i].failed, 0);
  }
  assert_int_equal(outbox_rows(f->d), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM unified_messages WHERE "
                                    "status = 'sent' AND direction = 'outbound'", NULL),
                   N);
  /* Each message reached the provider exactly once. */
  assert_int_equal(fake_server_count(fs), N);
  for (size_t i = 0; i < N; i++) {
    const char *ref = strstr(fake_server_request(fs, i)->body, "biz_opaque_callback_data");
    assert_non_null(ref);
    for (size_t k = 0; k < i; k++)
      if (!strncmp(strstr(fake_server_request(fs, k)->body, "biz_opaque_callback_data"),
                   ref, 64))
        fail_msg("request %zu repeats request %zu", i, k);
  }
  arena_free(a);
}

static void test_expired_lease_not_resent(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], m1[37], m2[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567897", NULL, NULL, wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  queue(f->d, &s, "text", "in flight when the process died", NULL, m1);
  queue(f->d, &s, "text", "another worker's, still leased", NULL, m2);
  /* As a claim left them: m1's lease ran out, m2's has not. */
  db_val v1[] = {db_uuid(m1), db_ts(time_now_us() - 1000000)};
  db_val v2[] = {db_uuid(m2), db_ts(time_now_us() + 600LL * 1000000)};
  const char *sql = "UPDATE chat_outbox SET state = 'sending', attempts = 1, "
                    "claimed_by = 'dead', lease_until = $2 WHERE message_id = $1";
  OK(db_query(f->d, sql, v1, 2, NULL, &err));
  OK(db_query(f->d, sql, v2, 2, NULL, &err));
  assert_int_equal(poll_once(f->d), 1);
  assert_int_equal(fake_server_count(fs), 0);
  msg_state x = msg(f->d, m1);
  assert_string_equal(x.status, "queued");
  assert_string_equal(x.error_code, "outcome_unknown");
  assert_null(strstr(x.error_message, "EAAtoken"));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE "
                                    "message_id = $1", m1), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE "
                                    "state = 'sending'", NULL), 1);
  assert_int_equal(poll_once(f->d), 0);
  assert_int_equal(fake_server_count(fs), 0);
  arena_free(a);
}

/* A worker killed while it sends a batch: of that claim's rows only the
 * first can have been on the wire (one call at a time, in message_id
 * order, each outcome committed before the next call). It is settled
 * outcome_unknown; the rest were never called and are sent, once each
 * (found by the workflow kill test: they used to be stranded). */
static void test_dead_batch_rest_sent(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], m[3][37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567896", NULL, NULL, wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  for (int i = 0; i < 3; i++) queue(f->d, &s, "text", "batch", NULL, m[i]);
  /* As one claim of a dead worker left them: one lease, one claimant. */
  db_val v[] = {db_ts(time_now_us() - 1000000)};
  OK(db_query(f->d, "UPDATE chat_outbox SET state = 'sending', attempts = 1, "
                    "claimed_by = 'dead', lease_until = $1", v, 1, NULL, &err));
  poll_once(f->d);
  for (int round = 0; round < 3 && outbox_rows(f->d) > 0; round++) {
    make_due(f->d);
    poll_once(f->d);
  }
  assert_int_equal(outbox_rows(f->d), 0);
  /* the first was (maybe) on the wire: not sent again */
  msg_state x = msg(f->d, m[0]);
  assert_string_equal(x.status, "queued");
  assert_string_equal(x.error_code, "outcome_unknown");
  /* the others reach the provider once each */
  assert_int_equal(fake_server_count(fs), 2);
  for (int i = 1; i < 3; i++) assert_string_equal(msg(f->d, m[i]).status, "sent");
  arena_free(a);
}

/* The database failing at any statement of a poll (db_fault_after) loses
 * nothing and doubles nothing: each message reaches the provider exactly
 * once, and ends 'sent', or - when the failure hit after the provider had
 * answered - 'queued' with outcome_unknown once its lease runs out. */
static void test_faults(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], id[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567899", NULL, NULL, wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  int unknown = 0, sent = 0;
  for (int nth = 1; nth <= 14; nth++) {
    fake_server_reset(fs);
    queue(f->d, &s, "text", "hi", NULL, id);
    db_fault_after(nth);
    (void)chat_outbox_poll(NULL, f->d, "test-worker", &err);
    db_fault_after(0);
    db_rollback(f->d);
    for (int round = 0; round < 4 && outbox_rows(f->d) > 0; round++) {
      make_due(f->d);
      db_val v[] = {db_ts(time_now_us() - 1000)};
      OK(db_query(f->d, "UPDATE chat_outbox SET lease_until = $1 WHERE state = 'sending'",
                  v, 1, NULL, &err));
      poll_once(f->d);
    }
    assert_int_equal(outbox_rows(f->d), 0);
    if (fake_server_count(fs) != 1)
      fail_msg("fault at statement %d: %zu requests", nth, fake_server_count(fs));
    msg_state m = msg(f->d, id);
    if (!strcmp(m.status, "sent")) {
      sent++;
    } else {
      assert_string_equal(m.status, "queued");
      assert_string_equal(m.error_code, "outcome_unknown");
      unknown++;
    }
  }
  /* Both ends were reached: failures before the call and after it. */
  assert_true(sent > 0);
  assert_true(unknown > 0);
  arena_free(a);
}

/* ---- the operations ---------------------------------------------------------------- */

static const char *no_header(const api_req *r, const char *name) {
  (void)r, (void)name;
  return NULL;
}

/* Calls op as profile (NULL: anonymous) and returns the status; the body
 * goes to out (may be NULL). */
static int call(db *d, const char *profile, const char *method, const char *op,
                const char *body, char *out, size_t outlen) {
  arena *a = arena_new();
  api_req req;
  memset(&req, 0, sizeof req);
  req.a = a;
  req.method = method;
  req.path = op;
  req.query = "";
  req.body = body ? body : "";
  req.body_len = body ? strlen(body) : 0;
  req.remote = "127.0.0.1";
  req.header = no_header;
  if (profile) {
    req.who.role = ROLE_AUTHENTICATED;
    snprintf(req.who.sub, sizeof req.who.sub, "%s", profile);
  } else {
    req.who.role = ROLE_ANON;
  }
  api_resp resp;
  api_resp_init(&resp);
  assert_int_equal(chat_rpc_known(op), 1);
  chat_rpc(d, op, &req, &resp);
  if (out) snprintf(out, outlen, "%s", buf_cstr(&resp.body));
  int status = resp.status;
  api_resp_free(&resp);
  arena_free(a);
  return status;
}

static int64_t writes(db *d) {
  return test_count(d, "SELECT (SELECT count(*) FROM unified_messages) + (SELECT "
                       "count(*) FROM chat_outbox) + (SELECT count(*) FROM sessions "
                       "WHERE NOT is_bot_active)", NULL);
}

static void test_rpc(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], tg[37], body[1024], out[2048], other[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567898", NULL, NULL, wa);
  add_telegram(f->d, f->profile, tg);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  test_tenant(f->d, NULL, other);
  assert_int_equal(chat_rpc_known("send_message"), 1);
  assert_int_equal(chat_rpc_known("create_invoice"), 0);

  /* Refusals change nothing. */
  int64_t before = writes(f->d);
  snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"text\":\"hi\"}", s.id);
  assert_int_equal(call(f->d, NULL, "POST", "send_message", body, out, sizeof out), 401);
  assert_non_null(strstr(out, "PGRST302"));
  assert_int_equal(call(f->d, f->profile, "GET", "send_message", body, NULL, 0), 405);
  assert_int_equal(call(f->d, f->profile, "POST", "send_message", "{bad", out, sizeof out), 400);
  assert_non_null(strstr(out, "PGRST102"));
  assert_int_equal(call(f->d, f->profile, "POST", "send_message", "[1]", NULL, 0), 400);
  assert_int_equal(call(f->d, f->profile, "POST", "send_message", "{\"text\":\"hi\"}", out,
                        sizeof out), 400);
  assert_non_null(strstr(out, "MU400"));
  const char *bad_tails[] = {"", ",\"text\":\"\"", ",\"text\":\"   \"", ",\"text\":5",
                             ",\"template\":{\"language\":\"en\"}",
                             ",\"template\":{\"name\":\"x\",\"params\":[{}]}"};
  for (size_t i = 0; i < sizeof bad_tails / sizeof bad_tails[0]; i++) {
    snprintf(body, sizeof body, "{\"session_id\":\"%s\"%s}", s.id, bad_tails[i]);
    assert_int_equal(call(f->d, f->profile, "POST", "send_message", body, NULL, 0), 400);
  }
  /* Another business's session is not found. */
  snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"text\":\"hi\"}", s.id);
  assert_int_equal(call(f->d, other, "POST", "send_message", body, out, sizeof out), 404);
  assert_int_equal(call(f->d, f->profile, "POST", "set_bot_active",
                        "{\"session_id\":\"0190a0b0-0000-7000-8000-000000000001\","
                        "\"active\":true}", NULL, 0), 404);
  snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"active\":\"yes\"}", s.id);
  assert_int_equal(call(f->d, f->profile, "POST", "set_bot_active", body, NULL, 0), 400);
  assert_int_equal(writes(f->d), before);

  /* The owner's reply: queued as 'owner', the bot handed over. */
  snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"text\":\"I will call you\"}", s.id);
  assert_int_equal(call(f->d, f->profile, "POST", "send_message", body, out, sizeof out), 200);
  assert_non_null(strstr(out, "\"status\":\"queued\""));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM unified_messages WHERE sender = "
                                    "'owner' AND status = 'queued' AND content = 'I will "
                                    "call you'", NULL), 1);
  assert_int_equal(outbox_rows(f->d), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM sessions WHERE id = $1 AND NOT "
                                    "is_bot_active", s.id), 1);
  /* A template. */
  snprintf(body, sizeof body,
           "{\"session_id\":\"%s\",\"template\":{\"name\":\"reminder\",\"language\":"
           "\"en_US\",\"params\":[\"500\"]}}", s.id);
  assert_int_equal(call(f->d, f->profile, "POST", "send_message", body, out, sizeof out), 200);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM unified_messages WHERE "
                                    "message_type = 'template' AND content = '[template "
                                    "reminder] 500'", NULL), 1);
  assert_int_equal(poll_once(f->d), 2);
  assert_int_equal(fake_server_count(fs), 2);
  assert_non_null(strstr(fake_server_request(fs, 1)->body, "\"name\":\"reminder\""));
  /* The bot back on. */
  snprintf(body, sizeof body, "{\"session_id\":\"%s\",\"active\":true}", s.id);
  assert_int_equal(call(f->d, f->profile, "POST", "set_bot_active", body, out, sizeof out), 200);
  assert_non_null(strstr(out, "\"is_bot_active\":true"));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM sessions WHERE id = $1 AND "
                                    "is_bot_active", s.id), 1);

  /* connect_telegram: bad input first, then the real thing. */
  fake_server_reset(fs);
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\",\"public_url\":\"ftp://x\"}", tg);
  assert_int_equal(call(f->d, f->profile, "POST", "connect_telegram", body, NULL, 0), 400);
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\",\"public_url\":\"https://x/?a\"}", tg);
  assert_int_equal(call(f->d, f->profile, "POST", "connect_telegram", body, NULL, 0), 400);
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\",\"public_url\":\"https://shop.example\"}",
           wa);
  assert_int_equal(call(f->d, f->profile, "POST", "connect_telegram", body, NULL, 0), 400);
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\",\"public_url\":\"https://shop.example\"}",
           tg);
  assert_int_equal(call(f->d, other, "POST", "connect_telegram", body, NULL, 0), 404);
  assert_int_equal(fake_server_count(fs), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM channels WHERE webhook_secret IS "
                                    "NOT NULL", NULL), 0);
  snprintf(body, sizeof body,
           "{\"channel_id\":\"%s\",\"public_url\":\"https://shop.example/\"}", tg);
  int st = call(f->d, f->profile, "POST", "connect_telegram", body, out, sizeof out);
  if (st != 200) fail_msg("connect_telegram: %d %s", st, out);
  assert_non_null(strstr(out, "\"bot_username\":\"shop_bot\""));
  assert_int_equal(fake_server_count(fs), 2);
  const fake_request *r = fake_server_request(fs, 0);
  assert_non_null(strstr(r->path, "/setWebhook"));
  char want[256];
  snprintf(want, sizeof want, "\"url\":\"https://shop.example/webhooks/telegram/%s\"", tg);
  assert_non_null(strstr(r->body, want));
  assert_non_null(strstr(r->body, "\"allowed_updates\":[\"message\",\"edited_message\","
                                  "\"callback_query\"]"));
  db_res *res = NULL;
  db_val cv[] = {db_uuid(tg)};
  OK(db_query(f->d, "SELECT webhook_secret, bot_username FROM channels WHERE id = $1", cv, 1,
              &res, &err));
  snprintf(want, sizeof want, "\"secret_token\":\"%s\"", db_res_text(res, 0, 0));
  assert_true(strlen(db_res_text(res, 0, 0)) >= 32);
  assert_non_null(strstr(r->body, want));
  assert_string_equal(db_res_text(res, 0, 1), "shop_bot");
  db_res_free(res);
  /* Telegram refusing the token: a clear error. */
  fake_server_enqueue_simple(fs, 401, "application/json",
                             "{\"ok\":false,\"error_code\":401,\"description\":"
                             "\"Unauthorized\"}");
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\",\"public_url\":\"https://shop.example\"}",
           tg);
  assert_int_equal(call(f->d, f->profile, "POST", "connect_telegram", body, out, sizeof out),
                   409);
  assert_non_null(strstr(out, "Unauthorized"));

  /* link_owner_telegram: a one-time code for 15 minutes. */
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\"}", tg);
  assert_int_equal(call(f->d, f->profile, "POST", "link_owner_telegram", body, out, sizeof out),
                   200);
  OK(db_query(f->d, "SELECT owner_link_code, owner_link_expires_at FROM channels WHERE id = $1",
              cv, 1, &res, &err));
  const char *code = db_res_text(res, 0, 0);
  assert_int_equal(strlen(code), 10);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "\"command\":\"/start %s\"", code);
  assert_non_null(strstr(out, cmd));
  assert_non_null(strstr(out, "https://t.me/shop_bot?start="));
  int64_t exp = db_res_ts(res, 0, 1);
  assert_true(exp > time_now_us() + 14LL * 60 * 1000000);
  assert_true(exp <= time_now_us() + 15LL * 60 * 1000000);
  db_res_free(res);
  snprintf(body, sizeof body, "{\"channel_id\":\"%s\"}", wa);
  assert_int_equal(call(f->d, f->profile, "POST", "link_owner_telegram", body, NULL, 0), 400);
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_retry, setup, teardown),
      cmocka_unit_test_setup_teardown(test_permanent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_window, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rate_limit, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_pollers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_dead_batch_rest_sent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_expired_lease_not_resent, setup, teardown),
      cmocka_unit_test_setup_teardown(test_faults, setup, teardown),
      cmocka_unit_test_setup_teardown(test_rpc, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
