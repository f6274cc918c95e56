/* test_chat_document_db.c - documents made at send time (chat/document.c,
 * the outbox's upload step in chat/outbox.c) and rpc/send_invoice
 * (chat/rpc.c), on SQLite and PostgreSQL (argv[1]), with a local fake
 * server standing in for WhatsApp's Cloud API and Telegram's Bot API and a
 * test document source standing in for the invoice PDF.
 *
 * WhatsApp gets the rendered bytes as a multipart media upload and then a
 * message naming the media id; Telegram gets them in sendDocument. A source
 * that refuses fails the message with its reason and calls no provider; a
 * source that is busy, and an upload that meets a 503, are retried; a
 * refused upload fails the message; a closed 24-hour window fails a
 * document before anything is rendered. send_invoice refuses drafts,
 * cancelled invoices, customers without a phone, businesses without a
 * WhatsApp channel and other businesses' invoices, writing nothing, and
 * queues an issued one with its caption (amount due, UPI link). */
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

/* The test document source: "%PDF-test <ref>" with a NUL and high bytes
 * (a multipart body must carry them as they are); ref "refuse" → -1,
 * "busy" → -2 (once, then it renders). */
static const char DOC_TAIL[] = {'\n', '\0', '\xff', '\xfe', '\r', '\n', '%', '%', 'E', 'O', 'F'};
static atomic_int renders, busy_left;
static char last_profile[37];

static int test_source(void *cls, db *d, arena *a, const char *profile_id,
                       const char *source, const char *ref, buf *out,
                       const char **filename, char *why, size_t whylen) {
  (void)cls, (void)d, (void)a;
  atomic_fetch_add(&renders, 1);
  snprintf(last_profile, sizeof last_profile, "%s", profile_id);
  if (strcmp(source, "invoice")) {
    snprintf(why, whylen, "unknown source %s", source);
    return -1;
  }
  if (!strcmp(ref, "refuse")) {
    snprintf(why, whylen, "the invoice is a draft");
    return -1;
  }
  if (!strcmp(ref, "busy") && atomic_fetch_sub(&busy_left, 1) > 0) {
    snprintf(why, whylen, "database busy");
    return -2;
  }
  buf_printf(out, "%%PDF-test %s", ref);
  buf_append(out, DOC_TAIL, sizeof DOC_TAIL);
  *filename = "from-source.pdf";
  return 0;
}

static atomic_int slow_ms; /* every answer waits this long */

static void provider(void *ctx, const fake_request *req, fake_response *resp) {
  (void)ctx;
  char body[512];
  resp->delay_ms = atomic_load(&slow_ms);
  int n = atomic_fetch_add(&next_id, 1) + 1;
  if (!strncmp(req->path, "/wa/", 4) && strstr(req->path, "/media"))
    snprintf(body, sizeof body, "{\"id\":\"77%06d\"}", n);
  else if (!strncmp(req->path, "/wa/", 4))
    snprintf(body, sizeof body,
             "{\"messaging_product\":\"whatsapp\",\"messages\":[{\"id\":\"wamid.%d\"}]}", n);
  else
    snprintf(body, sizeof body,
             "{\"ok\":true,\"result\":{\"message_id\":%d,\"chat\":{\"id\":5551234}}}", n);
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
  chat_set_document_source(test_source, NULL);
  atomic_store(&renders, 0);
  atomic_store(&busy_left, 0);
  atomic_store(&slow_ms, 0);
  return 0;
}

static int teardown(void **state) {
  chat_set_document_source(NULL, NULL);
  fake_server_stop(fs);
  fs = NULL;
  return test_fixture_teardown(state);
}

static void add_whatsapp(db *d, const char *profile, const char *pnid, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), db_text(pnid)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, phone_number_id, "
              "access_token, app_secret, verify_token) VALUES ($1, $2, "
              "'whatsapp', $3, 'EAAtoken', 'appsecret', 'verify')",
              v, 3, NULL, &err));
}

static void add_telegram(db *d, const char *profile, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, bot_token) VALUES "
              "($1, $2, 'telegram', '123:ABCdefGHIjklMNOpqrSTUvwxYZ012345')",
              v, 2, NULL, &err));
}

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
  }
}

static void queue_doc(db *d, const chat_session *s, const char *ref, char id[37]) {
  char meta[256];
  snprintf(meta, sizeof meta,
           "{\"document\":{\"source\":\"invoice\",\"ref\":\"%s\",\"filename\":\"INV-0042.pdf\"}}",
           ref);
  chat_out o = {.session_id = s->id, .sender = "owner", .message_type = "document",
                .content = "Invoice INV-0042", .metadata = meta};
  OK(chat_enqueue(d, s, &o, id, NULL, &err));
}

static int poll_once(db *d) {
  int n = chat_outbox_poll(NULL, d, "test-worker", &err);
  if (n < 0) fail_msg("poll: [%s] %s", err.code, err.message);
  return n;
}

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
    snprintf(m.error_code, sizeof m.error_code, "%s", c ? c->str : "");
    snprintf(m.error_message, sizeof m.error_message, "%s", mm ? mm->str : "");
  }
  arena_free(a);
  db_res_free(r);
  return m;
}

static void make_due(db *d) {
  db_val v[] = {db_ts(time_now_us() - 1000)};
  OK(db_query(d, "UPDATE chat_outbox SET next_attempt_at = $1", v, 1, NULL, &err));
}

/* The bytes of the file part of a multipart body (after its blank line, up
 * to the next delimiter). */
static const char *file_part(const fake_request *r, const char *name, size_t *len) {
  const char *ct = fake_request_header(r, "Content-Type");
  assert_non_null(ct);
  const char *bd = strstr(ct, "boundary=");
  assert_non_null(bd);
  char delim[128], key[64];
  snprintf(delim, sizeof delim, "\r\n--%s", bd + 9);
  snprintf(key, sizeof key, "name=\"%s\"", name);
  const char *end = r->body + r->body_len;
  for (const char *p = r->body; p + strlen(key) <= end; p++) {
    if (memcmp(p, key, strlen(key))) continue;
    const char *q = p;
    while (q + 4 <= end && memcmp(q, "\r\n\r\n", 4)) q++;
    q += 4;
    const char *e = q;
    while (e + strlen(delim) <= end && memcmp(e, delim, strlen(delim))) e++;
    assert_true(e + strlen(delim) <= end);
    *len = (size_t)(e - q);
    return q;
  }
  return NULL;
}

static void assert_doc(const char *got, size_t len, const char *ref) {
  char want[256];
  int n = snprintf(want, sizeof want, "%%PDF-test %s", ref);
  memcpy(want + n, DOC_TAIL, sizeof DOC_TAIL);
  assert_int_equal(len, (size_t)n + sizeof DOC_TAIL);
  assert_memory_equal(got, want, len);
}

static void test_whatsapp_upload_then_send(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], m1[37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567890", wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  queue_doc(f->d, &s, "inv-1", m1);
  assert_int_equal(poll_once(f->d), 1);
  assert_int_equal(fake_server_count(fs), 2);
  assert_string_equal(last_profile, f->profile);
  const fake_request *up = fake_server_request(fs, 0);
  assert_string_equal(up->path, "/wa/1234567890/media");
  assert_string_equal(fake_request_header(up, "Authorization"), "Bearer EAAtoken");
  size_t n;
  const char *v = file_part(up, "messaging_product", &n);
  assert_non_null(v);
  assert_memory_equal(v, "whatsapp", n);
  v = file_part(up, "type", &n);
  assert_memory_equal(v, "application/pdf", n);
  v = file_part(up, "file", &n);
  assert_non_null(v);
  assert_doc(v, n, "inv-1");
  /* The message's own filename wins over the source's. */
  assert_non_null(strstr(up->body, "filename=\"INV-0042.pdf\""));
  const fake_request *send = fake_server_request(fs, 1);
  assert_string_equal(send->path, "/wa/1234567890/messages");
  assert_non_null(strstr(send->body, "\"type\":\"document\""));
  assert_non_null(strstr(send->body, "\"id\":\"77000001\""));
  assert_non_null(strstr(send->body, "\"filename\":\"INV-0042.pdf\""));
  assert_non_null(strstr(send->body, "\"caption\":\"Invoice INV-0042\""));
  assert_null(strstr(send->body, "\"link\""));
  msg_state x = msg(f->d, m1);
  assert_string_equal(x.status, "sent");
  assert_string_equal(x.provider_id, "wamid.2");
  arena_free(a);
}

static void test_telegram_send_document(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char tg[37], m1[37];
  chat_session s;
  add_telegram(f->d, f->profile, tg);
  session(f->d, a, f->profile, tg, "5551234", 0, &s);
  queue_doc(f->d, &s, "inv-2", m1);
  assert_int_equal(poll_once(f->d), 1);
  assert_int_equal(fake_server_count(fs), 1);
  const fake_request *r = fake_server_request(fs, 0);
  assert_string_equal(r->path, "/tg/bot123:ABCdefGHIjklMNOpqrSTUvwxYZ012345/sendDocument");
  size_t n;
  const char *v = file_part(r, "chat_id", &n);
  assert_memory_equal(v, "5551234", n);
  v = file_part(r, "caption", &n);
  assert_memory_equal(v, "Invoice INV-0042", n);
  v = file_part(r, "document", &n);
  assert_doc(v, n, "inv-2");
  assert_string_equal(msg(f->d, m1).status, "sent");
  arena_free(a);
}

static void test_failures_and_retries(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  char wa[37], m1[37], m2[37], m3[37], m4[37];
  chat_session s, closed;
  add_whatsapp(f->d, f->profile, "1234567891", wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  /* The source refuses: failed with its reason, no provider called. */
  queue_doc(f->d, &s, "refuse", m1);
  assert_int_equal(poll_once(f->d), 1);
  msg_state x = msg(f->d, m1);
  assert_string_equal(x.status, "failed");
  assert_string_equal(x.error_code, "document_unavailable");
  assert_non_null(strstr(x.error_message, "draft"));
  assert_int_equal(fake_server_count(fs), 0);
  /* Busy once: back to the queue, then sent. */
  atomic_store(&busy_left, 1);
  queue_doc(f->d, &s, "busy", m2);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m2).status, "queued");
  assert_int_equal(fake_server_count(fs), 0);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE state = 'pending'", NULL), 1);
  make_due(f->d);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m2).status, "sent");
  assert_int_equal(fake_server_count(fs), 2);
  /* The upload meets a 503: retried (upload again, then the send). */
  fake_server_enqueue_simple(fs, 503, "text/plain", "unavailable");
  queue_doc(f->d, &s, "inv-3", m3);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m3).status, "queued");
  assert_int_equal(fake_server_count(fs), 3);
  make_due(f->d);
  assert_int_equal(poll_once(f->d), 1);
  assert_string_equal(msg(f->d, m3).status, "sent");
  assert_int_equal(fake_server_count(fs), 5);
  assert_non_null(strstr(fake_server_request(fs, 3)->path, "/media"));
  /* The upload is refused: failed with Meta's code, no message sent. */
  fake_server_enqueue_simple(fs, 400, "application/json",
                             "{\"error\":{\"message\":\"(#100) Param file must be a file "
                             "with one of the following types\",\"type\":\"OAuthException\","
                             "\"code\":100}}");
  queue_doc(f->d, &s, "inv-4", m4);
  assert_int_equal(poll_once(f->d), 1);
  x = msg(f->d, m4);
  assert_string_equal(x.status, "failed");
  assert_string_equal(x.error_code, "100");
  assert_int_equal(fake_server_count(fs), 6);
  /* A closed window: failed before anything is rendered or uploaded. */
  int before = atomic_load(&renders);
  char m5[37];
  session(f->d, a, f->profile, wa, "919000000009", 0, &closed);
  queue_doc(f->d, &closed, "inv-5", m5);
  assert_int_equal(poll_once(f->d), 1);
  x = msg(f->d, m5);
  assert_string_equal(x.status, "failed");
  assert_string_equal(x.error_code, "window_closed");
  assert_int_equal(atomic_load(&renders), before);
  assert_int_equal(fake_server_count(fs), 6);
  /* No source registered: failed, clearly. */
  chat_set_document_source(NULL, NULL);
  char m6[37];
  queue_doc(f->d, &s, "inv-6", m6);
  assert_int_equal(poll_once(f->d), 1);
  x = msg(f->d, m6);
  assert_string_equal(x.error_code, "document_unavailable");
  assert_non_null(strstr(x.error_message, "no document source"));
  assert_int_equal(fake_server_count(fs), 6);
  arena_free(a);
}

/* A batch of slow sends stops at half its lease and puts the rest back,
 * unsent and not counted, so that no other worker settles rows that are
 * still being sent. Lease 2 s here; each document takes 2 × 400 ms. */
static void test_slow_batch_stops_at_half_lease(void **state) {
  test_fixture *f = *state;
  arena *a = arena_new();
  static char wa_url[128], tg_url[128];
  snprintf(wa_url, sizeof wa_url, "%s/wa", fake_server_url(fs));
  snprintf(tg_url, sizeof tg_url, "%s/tg", fake_server_url(fs));
  chat_settings cs = {wa_url, tg_url, "", "", "", "", 1000, 2};
  chat_configure(&cs);
  char wa[37], m[4][37];
  chat_session s;
  add_whatsapp(f->d, f->profile, "1234567897", wa);
  session(f->d, a, f->profile, wa, "919876543210", 1, &s);
  for (int i = 0; i < 4; i++) queue_doc(f->d, &s, "inv-slow", m[i]);
  atomic_store(&slow_ms, 400);
  int sent = poll_once(f->d);
  assert_true(sent >= 1 && sent < 4);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox WHERE state = 'pending' AND attempts = 0", NULL),
                   4 - sent);
  atomic_store(&slow_ms, 0);
  while (test_count(f->d, "SELECT count(*) FROM chat_outbox", NULL) > 0) poll_once(f->d);
  for (int i = 0; i < 4; i++) assert_string_equal(msg(f->d, m[i]).status, "sent");
  assert_int_equal(fake_server_count(fs), 8); /* each uploaded and sent once */
  chat_settings back = {wa_url, tg_url, "", "", "", "", 1000, 0};
  chat_configure(&back);
  arena_free(a);
}

/* ---- rpc/send_invoice ------------------------------------------------------------- */

static const char *no_header(const api_req *r, const char *name) {
  (void)r, (void)name;
  return NULL;
}

static int call(db *d, const char *profile, const char *body, char *out, size_t outlen) {
  arena *a = arena_new();
  api_req req;
  memset(&req, 0, sizeof req);
  req.a = a;
  req.method = "POST";
  req.path = "send_invoice";
  req.query = "";
  req.body = body;
  req.body_len = strlen(body);
  req.remote = "127.0.0.1";
  req.header = no_header;
  req.who.role = ROLE_AUTHENTICATED;
  snprintf(req.who.sub, sizeof req.who.sub, "%s", profile);
  api_resp resp;
  api_resp_init(&resp);
  assert_int_equal(chat_rpc_known("send_invoice"), 1);
  chat_rpc(d, "send_invoice", &req, &resp);
  if (out) snprintf(out, outlen, "%s", buf_cstr(&resp.body));
  int status = resp.status;
  api_resp_free(&resp);
  arena_free(a);
  return status;
}

static int64_t writes(db *d) {
  return test_count(d, "SELECT (SELECT count(*) FROM unified_messages) + (SELECT "
                       "count(*) FROM chat_outbox) + (SELECT count(*) FROM sessions)",
                    NULL);
}

static void add_customer(db *d, const char *profile, const char *phone, char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), phone ? db_text(phone) : db_null()};
  OK(db_query(d,
              "INSERT INTO customers (profile_id, id, full_name, phone_number) "
              "VALUES ($1, $2, 'Ramesh Kumar', $3)",
              v, 3, NULL, &err));
}

static void add_invoice(db *d, const char *profile, const char *customer,
                        const char *number, const char *status, int64_t due,
                        char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), db_uuid(customer),
                number ? db_text(number) : db_null(), db_text(status), db_money(due)};
  OK(db_query(d,
              "INSERT INTO invoices (profile_id, id, customer_id, invoice_number, "
              "invoice_date, status, subtotal, total_amount, balance_due) VALUES "
              "($1, $2, $3, $4, '2026-11-20', $5, $6, $6, $6)",
              v, 6, NULL, &err));
}

static void test_send_invoice(void **state) {
  test_fixture *f = *state;
  char wa[37], cust[37], nophone[37], inv[37], draft[37], cancelled[37], np[37],
      paid[37], other[37], body[256], out[4096];
  OK(db_query(f->d,
              "UPDATE profiles SET business_name = 'Sharma Kirana', upi_id = "
              "'sharma@upi' WHERE id = $1",
              (db_val[]){db_uuid(f->profile)}, 1, NULL, &err));
  add_customer(f->d, f->profile, "+919876543210", cust);
  add_customer(f->d, f->profile, NULL, nophone);
  add_invoice(f->d, f->profile, cust, "INV/26/0042", "pending", 12345650, inv);
  add_invoice(f->d, f->profile, cust, NULL, "draft", 10000, draft);
  add_invoice(f->d, f->profile, cust, "INV/26/0043", "cancelled", 10000, cancelled);
  add_invoice(f->d, f->profile, nophone, "INV/26/0044", "pending", 10000, np);
  add_invoice(f->d, f->profile, cust, "INV/26/0045", "paid", 0, paid);
  test_tenant(f->d, NULL, other);

  int64_t before = writes(f->d);
  /* No WhatsApp channel yet. */
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", inv);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 409);
  assert_non_null(strstr(out, "WhatsApp channel"));
  add_whatsapp(f->d, f->profile, "1234567899", wa);
  /* Refusals. */
  struct {
    const char *body;
    int status;
    const char *says;
  } bad[] = {
      {"{}", 400, "invoice_id"},
      {"{\"invoice_id\":\"x\"}", 400, "UUID"},
      {"{\"invoice_id\":\"0190a0b0-0000-7000-8000-000000000001\"}", 404, "no such invoice"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(call(f->d, f->profile, bad[i].body, out, sizeof out), bad[i].status);
    assert_non_null(strstr(out, bad[i].says));
  }
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\",\"x\":1}", inv);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 400);
  assert_non_null(strstr(out, "unknown argument"));
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", draft);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 409);
  assert_non_null(strstr(out, "draft"));
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", cancelled);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 409);
  assert_non_null(strstr(out, "cancelled"));
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", np);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 409);
  assert_non_null(strstr(out, "phone"));
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", inv);
  assert_int_equal(call(f->d, other, body, out, sizeof out), 404);
  chat_set_document_source(NULL, NULL);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 503);
  chat_set_document_source(test_source, NULL);
  assert_int_equal(writes(f->d), before);

  /* Queued: a document from the "invoice" source, the caption with the
   * amount due in Indian grouping and the UPI link. */
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 200);
  arena *a = arena_new();
  json *r;
  json_error je;
  assert_int_equal(json_parse(a, out, strlen(out), &r, &je), 0);
  assert_string_equal(json_get(r, "status")->str, "queued");
  assert_string_equal(json_get(r, "filename")->str, "INV-26-0042.pdf");
  assert_string_equal(json_get(r, "channel_id")->str, wa);
  assert_int_equal(json_get(r, "window_open")->type, JSON_FALSE);
  const char *caption = json_get(r, "caption")->str;
  assert_non_null(strstr(caption, "Invoice INV/26/0042 from Sharma Kirana"));
  assert_non_null(strstr(caption, "Amount due: \xe2\x82\xb9" "1,23,456.50"));
  assert_non_null(strstr(caption, "upi://pay?pa=sharma%40upi&pn=Sharma%20Kirana&am=123456.50"));
  assert_non_null(strstr(caption, "tr=INV%2F26%2F0042"));
  const char *mid = json_get(r, "message_id")->str;
  db_res *q = NULL;
  OK(db_query(f->d,
              "SELECT m.message_type, m.metadata, m.sender, s.contact_id, "
              "s.customer_id FROM unified_messages m JOIN sessions s ON s.id = "
              "m.session_id WHERE m.id = $1",
              (db_val[]){db_uuid(mid)}, 1, &q, &err));
  assert_int_equal(db_res_rows(q), 1);
  assert_string_equal(db_res_text(q, 0, 0), "document");
  json *md;
  const char *mt = arena_strdup(a, db_res_text(q, 0, 1));
  assert_int_equal(json_parse(a, mt, strlen(mt), &md, &je), 0);
  const json *doc = json_get(md, "document");
  assert_string_equal(json_get(doc, "source")->str, "invoice");
  assert_string_equal(json_get(doc, "ref")->str, inv);
  assert_string_equal(json_get(doc, "filename")->str, "INV-26-0042.pdf");
  assert_string_equal(db_res_text(q, 0, 2), "owner");
  assert_string_equal(db_res_text(q, 0, 3), "919876543210");
  assert_string_equal(db_res_text(q, 0, 4), cust);
  db_res_free(q);
  /* Paid in full: no amount, no link. */
  snprintf(body, sizeof body, "{\"invoice_id\":\"%s\"}", paid);
  assert_int_equal(call(f->d, f->profile, body, out, sizeof out), 200);
  assert_non_null(strstr(out, "Paid in full"));
  assert_null(strstr(out, "upi://"));
  /* The window is closed (the customer never wrote): the outbox fails it
   * clearly rather than sending a template without the file. */
  assert_int_equal(poll_once(f->d), 2);
  assert_string_equal(msg(f->d, mid).error_code, "window_closed");
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_whatsapp_upload_then_send, setup, teardown),
      cmocka_unit_test_setup_teardown(test_telegram_send_document, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failures_and_retries, setup, teardown),
      cmocka_unit_test_setup_teardown(test_slow_batch_stops_at_half_lease, setup, teardown),
      cmocka_unit_test_setup_teardown(test_send_invoice, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
