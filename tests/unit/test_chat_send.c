/* test_chat_send.c - the provider requests the outbox sends and how their
 * answers are read (chat/send.c): every message kind on WhatsApp and
 * Telegram, the providers' limits, and each class of answer (sent, retried,
 * failed) with the exact shapes Meta and Telegram use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/json.h"
#include "chat/send.h"

static const chat_send_target WA = {CHAT_WHATSAPP, "https://graph.example/v21.0",
                                    "1234567890", "EAAtoken", NULL,
                                    "919876543210"};
static const chat_send_target TG = {CHAT_TELEGRAM, "https://tg.example", NULL,
                                    NULL, "123:ABCdefGHIjklMNOpqrSTUvwxYZ012345",
                                    "5551234"};

/* The body as a parsed JSON value, for asserting on members. */
static const json *body_of(arena *a, const chat_http *h) {
  json *v;
  json_error je;
  assert_int_equal(json_parse(a, h->body, h->body_len, &v, &je), 0);
  return v;
}

static const char *path_str(const json *v, const char *const *path) {
  for (; *path; path++) {
    if (!v) return NULL;
    if (v->type == JSON_ARRAY) {
      size_t i = (size_t)(**path - '0');
      v = i < v->n ? v->items[i] : NULL;
    } else {
      v = json_get(v, *path);
    }
  }
  return v && (v->type == JSON_STRING || v->type == JSON_NUMBER) ? v->str : NULL;
}
#define AT(v, ...) path_str((v), (const char *const[]){__VA_ARGS__, NULL})

static void build(arena *a, const chat_send_target *t, const char *type,
                  const char *content, const char *meta, chat_http *h) {
  chat_message m;
  char why[256] = "";
  if (chat_message_from_row(a, type, content, meta, &m, why, sizeof why))
    fail_msg("from_row: %s", why);
  m.ref = "0190a0b0-0000-7000-8000-000000000001";
  if (chat_send_build(a, t, &m, h, why, sizeof why)) fail_msg("build: %s", why);
}

static void test_whatsapp_text(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_http h;
  build(a, &WA, "text", "Namaste \"ji\"", NULL, &h);
  assert_string_equal(h.method, "POST");
  assert_string_equal(h.url, "https://graph.example/v21.0/1234567890/messages");
  assert_string_equal(h.authorization, "Bearer EAAtoken");
  const json *b = body_of(a, &h);
  assert_string_equal(AT(b, "messaging_product"), "whatsapp");
  assert_string_equal(AT(b, "recipient_type"), "individual");
  assert_string_equal(AT(b, "to"), "919876543210");
  assert_string_equal(AT(b, "type"), "text");
  assert_string_equal(AT(b, "text", "body"), "Namaste \"ji\"");
  assert_int_equal(json_get(json_get(b, "text"), "preview_url")->type, JSON_FALSE);
  assert_string_equal(AT(b, "biz_opaque_callback_data"),
                      "0190a0b0-0000-7000-8000-000000000001");
  arena_free(a);
}

static void test_whatsapp_buttons_template_document(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_http h;
  build(a, &WA, "interactive", "Confirm the order?",
        "{\"buttons\":[{\"id\":\"yes\",\"title\":\"Haan\"},{\"id\":\"no\","
        "\"title\":\"नहीं, रहने दो\"}]}",
        &h);
  const json *b = body_of(a, &h);
  assert_string_equal(AT(b, "type"), "interactive");
  assert_string_equal(AT(b, "interactive", "type"), "button");
  assert_string_equal(AT(b, "interactive", "body", "text"), "Confirm the order?");
  assert_string_equal(AT(b, "interactive", "action", "buttons", "0", "type"), "reply");
  assert_string_equal(AT(b, "interactive", "action", "buttons", "1", "reply", "id"), "no");
  assert_string_equal(AT(b, "interactive", "action", "buttons", "0", "reply", "title"),
                      "Haan");

  build(a, &WA, "template", "",
        "{\"template\":{\"name\":\"payment_due\",\"language\":\"hi\","
        "\"params\":[\"Ramesh\",\"1,250.00\"]}}",
        &h);
  b = body_of(a, &h);
  assert_string_equal(AT(b, "type"), "template");
  assert_string_equal(AT(b, "template", "name"), "payment_due");
  assert_string_equal(AT(b, "template", "language", "code"), "hi");
  assert_string_equal(AT(b, "template", "components", "0", "type"), "body");
  assert_string_equal(AT(b, "template", "components", "0", "parameters", "0", "type"), "text");
  assert_string_equal(AT(b, "template", "components", "0", "parameters", "1", "text"),
                      "1,250.00");

  build(a, &WA, "document", "Invoice INV-7",
        "{\"document\":{\"link\":\"https://x.example/i.pdf\",\"filename\":\"INV-7.pdf\"}}",
        &h);
  b = body_of(a, &h);
  assert_string_equal(AT(b, "type"), "document");
  assert_string_equal(AT(b, "document", "link"), "https://x.example/i.pdf");
  assert_string_equal(AT(b, "document", "filename"), "INV-7.pdf");
  assert_string_equal(AT(b, "document", "caption"), "Invoice INV-7");
  arena_free(a);
}

static void test_window_template(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_message m;
  char why[256];
  chat_http h;
  /* The channel's default template, its language and parameter count from
   * the channel's list: the text becomes the one body parameter. */
  assert_int_equal(chat_message_from_row(a, "text", "You owe 500", NULL, &m, why, sizeof why), 0);
  chat_message_as_template(a, &m, "reminder", "",
                           "[{\"name\":\"reminder\",\"language\":\"en_US\",\"params\":1}]");
  assert_int_equal(chat_send_build(a, &WA, &m, &h, why, sizeof why), 0);
  const json *b = body_of(a, &h);
  assert_string_equal(AT(b, "template", "name"), "reminder");
  assert_string_equal(AT(b, "template", "language", "code"), "en_US");
  assert_string_equal(AT(b, "template", "components", "0", "parameters", "0", "text"),
                      "You owe 500");
  /* Listed with no parameters: none are sent; unlisted: "en". */
  assert_int_equal(chat_message_from_row(a, "text", "hello", NULL, &m, why, sizeof why), 0);
  chat_message_as_template(a, &m, "hello_world", "",
                           "[{\"name\":\"hello_world\",\"language\":\"en\",\"params\":0}]");
  assert_int_equal(chat_send_build(a, &WA, &m, &h, why, sizeof why), 0);
  b = body_of(a, &h);
  assert_null(json_get(json_get(b, "template"), "components"));
  /* A text message that names its template keeps the template's params. */
  assert_int_equal(chat_message_from_row(a, "text", "Hi Ramesh, you owe 500",
                                         "{\"template\":{\"name\":\"due\",\"params\":[\"Ramesh\",500]}}",
                                         &m, why, sizeof why), 0);
  assert_int_equal(m.kind, CHAT_MSG_TEXT);
  assert_int_equal(m.has_template, 1);
  chat_message_as_template(a, &m, m.tpl_name, m.tpl_language, "[]");
  assert_int_equal(chat_send_build(a, &WA, &m, &h, why, sizeof why), 0);
  b = body_of(a, &h);
  assert_string_equal(AT(b, "template", "language", "code"), "en");
  assert_string_equal(AT(b, "template", "components", "0", "parameters", "1", "text"), "500");
  arena_free(a);
}

static void test_telegram(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_http h;
  build(a, &TG, "text", "Hello", NULL, &h);
  assert_string_equal(h.url,
                      "https://tg.example/bot123:ABCdefGHIjklMNOpqrSTUvwxYZ012345/sendMessage");
  assert_null(h.authorization);
  const json *b = body_of(a, &h);
  assert_int_equal(json_get(b, "chat_id")->type, JSON_NUMBER);
  assert_string_equal(AT(b, "chat_id"), "5551234");
  assert_string_equal(AT(b, "text"), "Hello");
  assert_null(json_get(b, "reply_markup"));

  build(a, &TG, "interactive", "Confirm?",
        "{\"buttons\":[{\"id\":\"yes\",\"title\":\"Yes\"},{\"id\":\"no\",\"title\":\"No\"}]}",
        &h);
  b = body_of(a, &h);
  assert_string_equal(AT(b, "reply_markup", "inline_keyboard", "0", "0", "text"), "Yes");
  assert_string_equal(AT(b, "reply_markup", "inline_keyboard", "1", "0", "callback_data"), "no");

  build(a, &TG, "document", "Your invoice",
        "{\"document\":{\"link\":\"https://x.example/i.pdf\"}}", &h);
  assert_non_null(strstr(h.url, "/sendDocument"));
  b = body_of(a, &h);
  assert_string_equal(AT(b, "document"), "https://x.example/i.pdf");
  assert_string_equal(AT(b, "caption"), "Your invoice");

  /* A template goes to Telegram as its text. */
  build(a, &TG, "template", "Reminder: 500 due",
        "{\"template\":{\"name\":\"due\",\"language\":\"en\"}}", &h);
  b = body_of(a, &h);
  assert_string_equal(AT(b, "text"), "Reminder: 500 due");
  arena_free(a);
}

static void test_refusals(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_message m;
  chat_http h;
  char why[256];
  const char *bad[][3] = {
      {"text", "", NULL},
      {"interactive", "pick", "{\"buttons\":[]}"},
      {"interactive", "pick",
       "{\"buttons\":[{\"id\":\"1\",\"title\":\"a\"},{\"id\":\"2\",\"title\":\"b\"},"
       "{\"id\":\"3\",\"title\":\"c\"},{\"id\":\"4\",\"title\":\"d\"}]}"},
      {"interactive", "pick", "{\"buttons\":[{\"id\":\"1\",\"title\":\"123456789012345678901\"}]}"},
      {"interactive", "pick",
       "{\"buttons\":[{\"id\":\"1\",\"title\":\"a\"},{\"id\":\"1\",\"title\":\"b\"}]}"},
      {"template", "", "{}"},
      {"template", "", "{\"template\":{\"language\":\"en\"}}"},
      {"template", "", "{\"template\":{\"name\":\"x\",\"params\":[{}]}}"},
      {"document", "", "{\"document\":{\"link\":\"file:///etc/passwd\"}}"},
      {"location", "x", NULL},
      {"text", "x", "[1]"},
      {"text", "x", "{bad"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    if (chat_message_from_row(a, bad[i][0], bad[i][1], bad[i][2], &m, why, sizeof why) != -1)
      fail_msg("case %zu was accepted", i);
    assert_true(strlen(why) > 5);
  }
  /* 20 code points of Devanagari (60 bytes) fit; 21 Latin letters do not. */
  assert_int_equal(chat_message_from_row(
                       a, "interactive", "pick",
                       "{\"buttons\":[{\"id\":\"1\",\"title\":\"नमस्ते नमस्ते नमस्ते\"}]}",
                       &m, why, sizeof why),
                   0);
  /* Missing credentials or contact. */
  assert_int_equal(chat_message_from_row(a, "text", "hi", NULL, &m, why, sizeof why), 0);
  chat_send_target t = WA;
  t.access_token = "";
  assert_int_equal(chat_send_build(a, &t, &m, &h, why, sizeof why), -1);
  t = TG;
  t.bot_token = NULL;
  assert_int_equal(chat_send_build(a, &t, &m, &h, why, sizeof why), -1);
  t = WA;
  t.to = "";
  assert_int_equal(chat_send_build(a, &t, &m, &h, why, sizeof why), -1);
  arena_free(a);
}

static void parse(chat_platform p, long status, const char *body,
                  const char *retry_after, chat_send_result *r) {
  chat_send_parse(p, "5551234", status, body, body ? strlen(body) : 0,
                  retry_after, r);
}

static const char *wa_error(char *out, size_t n, int code) {
  snprintf(out, n,
           "{\"error\":{\"message\":\"(#%d) Some title\",\"type\":\"OAuthException\","
           "\"code\":%d,\"error_subcode\":2494010,\"error_data\":{\"messaging_product\":"
           "\"whatsapp\",\"details\":\"Details of %d\"},\"fbtrace_id\":\"AbC\"}}",
           code, code, code);
  return out;
}

static void test_whatsapp_answers(void **state) {
  (void)state;
  chat_send_result r;
  parse(CHAT_WHATSAPP, 200,
        "{\"messaging_product\":\"whatsapp\",\"contacts\":[{\"input\":\"919876543210\","
        "\"wa_id\":\"919876543210\"}],\"messages\":[{\"id\":\"wamid.HBgLOTE5ODc2NTQzMjEw\"}]}",
        NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_SENT);
  assert_string_equal(r.provider_id, "wamid.HBgLOTE5ODc2NTQzMjEw");

  char b[512];
  /* Permanent: outside the window, undeliverable, bad token, bad params. */
  int permanent[] = {131047, 131026, 190, 100, 131051, 132001};
  long pstatus[] = {400, 400, 401, 400, 400, 404};
  for (size_t i = 0; i < sizeof permanent / sizeof permanent[0]; i++) {
    parse(CHAT_WHATSAPP, pstatus[i], wa_error(b, sizeof b, permanent[i]), NULL, &r);
    assert_int_equal(r.outcome, CHAT_SEND_FAILED);
    char code[16];
    snprintf(code, sizeof code, "%d", permanent[i]);
    assert_string_equal(r.code, code);
    assert_non_null(strstr(r.title, "Some title"));
    assert_non_null(strstr(r.message, "Details of"));
  }
  /* Retried: rate limits and temporary errors, whatever the HTTP status. */
  int transient[] = {130429, 131056, 4, 80007, 131000, 131016, 133004, 2};
  for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
    parse(CHAT_WHATSAPP, 400, wa_error(b, sizeof b, transient[i]), NULL, &r);
    assert_int_equal(r.outcome, CHAT_SEND_RETRY);
    assert_int_equal(r.retry_after_ms, -1);
  }
  /* Retry-After honoured, in seconds. */
  parse(CHAT_WHATSAPP, 429, wa_error(b, sizeof b, 130429), "7", &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  assert_int_equal(r.retry_after_ms, 7000);
  /* 5xx with or without Meta's error object; an HTML error page. */
  parse(CHAT_WHATSAPP, 503, "<html>Service Unavailable</html>", NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  assert_string_equal(r.code, "http_503");
  parse(CHAT_WHATSAPP, 500, wa_error(b, sizeof b, 999999), NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  /* Other 4xx without an error object: failed. */
  parse(CHAT_WHATSAPP, 403, "forbidden", NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "http_403");
  /* A 200 without a message id is not sent again. */
  parse(CHAT_WHATSAPP, 200, "{\"messaging_product\":\"whatsapp\",\"messages\":[]}", NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "bad_response");
}

static void test_telegram_answers(void **state) {
  (void)state;
  chat_send_result r;
  parse(CHAT_TELEGRAM, 200,
        "{\"ok\":true,\"result\":{\"message_id\":42,\"chat\":{\"id\":-100123,"
        "\"type\":\"group\"},\"date\":1700000000,\"text\":\"hi\"}}",
        NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_SENT);
  assert_string_equal(r.provider_id, "-100123:42");
  parse(CHAT_TELEGRAM, 200, "{\"ok\":true,\"result\":{\"message_id\":7}}", NULL, &r);
  assert_string_equal(r.provider_id, "5551234:7");

  parse(CHAT_TELEGRAM, 429,
        "{\"ok\":false,\"error_code\":429,\"description\":\"Too Many Requests: retry "
        "after 13\",\"parameters\":{\"retry_after\":13}}",
        "99", &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  assert_int_equal(r.retry_after_ms, 13000); /* the body's, not the header's */
  assert_string_equal(r.code, "429");
  assert_string_equal(r.title, "Too Many Requests");

  parse(CHAT_TELEGRAM, 400,
        "{\"ok\":false,\"error_code\":400,\"description\":\"Bad Request: chat not found\"}",
        NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "400");
  assert_string_equal(r.title, "Bad Request");
  assert_string_equal(r.message, "Bad Request: chat not found");

  parse(CHAT_TELEGRAM, 403,
        "{\"ok\":false,\"error_code\":403,\"description\":\"Forbidden: bot was blocked "
        "by the user\"}",
        NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "403");

  parse(CHAT_TELEGRAM, 502, "Bad Gateway", NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  parse(CHAT_TELEGRAM, 500,
        "{\"ok\":false,\"error_code\":500,\"description\":\"Internal Server Error\"}", NULL,
        &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
}

static void test_transport_and_error_json(void **state) {
  (void)state;
  chat_send_result r;
  net_error retried[] = {NET_ETIMEOUT, NET_ECONNECT, NET_EBROKEN, NET_ETLS};
  for (size_t i = 0; i < sizeof retried / sizeof retried[0]; i++) {
    chat_send_transport(retried[i], &r);
    assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  }
  chat_send_transport(NET_ETIMEOUT, &r);
  assert_string_equal(r.code, "timeout");
  /* An answer lost after the request may have arrived waits for a status
   * to settle it; a refused connection is tried again after the backoff. */
  assert_int_equal(r.retry_after_ms, CHAT_SEND_UNSURE_WAIT_MS);
  chat_send_transport(NET_EBROKEN, &r);
  assert_int_equal(r.retry_after_ms, CHAT_SEND_UNSURE_WAIT_MS);
  chat_send_transport(NET_ECONNECT, &r);
  assert_int_equal(r.retry_after_ms, -1);
  chat_send_transport(NET_EURL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  chat_send_transport(NET_ETOOLARGE, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);

  chat_send_fail(&r, "window_closed", "Outside \"the\" window", "why");
  buf b;
  buf_init(&b, 0);
  assert_int_equal(chat_send_error_json(&r, &b), 0);
  assert_string_equal(buf_cstr(&b),
                      "{\"code\":\"window_closed\",\"title\":\"Outside \\\"the\\\" "
                      "window\",\"message\":\"why\"}");
  buf_free(&b);
}

/* ---- documents from a source: multipart and media ids ------------------------ */

static void test_multipart_exact(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 4096);
  static const char pdf[] = {'%', 'P', 'D', 'F', '\0', '\r', '\n', '\xff'};
  chat_part parts[] = {
      {"messaging_product", NULL, NULL, "whatsapp", 8},
      {"file", "INV \"7\"\r\n.pdf", "application/pdf", pdf, sizeof pdf}};
  assert_int_equal(chat_multipart_build(&b, "XyZ-1", parts, 2), 0);
  static const char want[] =
      "--XyZ-1\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n"
      "\r\nwhatsapp\r\n"
      "--XyZ-1\r\nContent-Disposition: form-data; name=\"file\"; "
      "filename=\"INV _7___.pdf\"\r\nContent-Type: application/pdf\r\n\r\n"
      "%PDF\0\r\n\xff\r\n"
      "--XyZ-1--\r\n";
  assert_int_equal(b.len, sizeof want - 1);
  assert_memory_equal(b.data, want, sizeof want - 1);
  /* A boundary found in the data, or not a valid boundary: refused. */
  buf_reset(&b);
  chat_part clash[] = {{"f", NULL, NULL, "a--XyZ-1b", 9}};
  assert_int_equal(chat_multipart_build(&b, "XyZ-1", clash, 1), -1);
  assert_int_equal(chat_multipart_build(&b, "", parts, 1), -1);
  assert_int_equal(chat_multipart_build(&b, "bad boundary", parts, 1), -1);
  assert_int_equal(chat_multipart_build(&b, "b\"q", parts, 1), -1);
  /* Over the buffer's cap: refused, not truncated. */
  buf small;
  buf_init(&small, 40);
  assert_int_equal(chat_multipart_build(&small, "XyZ-1", parts, 2), -1);
  buf_free(&small);
  buf_free(&b);
}

/* The part of a multipart body named name (its bytes after the blank line). */
static const char *part_of(arena *a, const chat_http *h, const char *name,
                           size_t *len) {
  const char *bd = strstr(h->content_type, "boundary=");
  assert_non_null(bd);
  const char *delim = arena_printf(a, "\r\n--%s", bd + 9);
  const char *key = arena_printf(a, "name=\"%s\"", name);
  const char *end = h->body + h->body_len;
  for (const char *p = h->body; p < end; p++) {
    if ((size_t)(end - p) < strlen(key) || memcmp(p, key, strlen(key))) continue;
    const char *q = p;
    while (q + 4 <= end && memcmp(q, "\r\n\r\n", 4)) q++;
    q += 4;
    const char *e = q;
    while (e + strlen(delim) <= end && memcmp(e, delim, strlen(delim))) e++;
    *len = (size_t)(e - q);
    return q;
  }
  return NULL;
}

static void test_source_documents(void **state) {
  (void)state;
  arena *a = arena_new();
  chat_message m;
  char why[256];
  const char *meta =
      "{\"document\":{\"source\":\"invoice\",\"ref\":\"0190a0b0-0000-7000-8000-00000000000f\","
      "\"filename\":\"INV-0007.pdf\"}}";
  assert_int_equal(chat_message_from_row(a, "document", "Invoice INV-0007", meta,
                                         &m, why, sizeof why), 0);
  assert_int_equal(m.kind, CHAT_MSG_DOCUMENT);
  assert_string_equal(m.doc_source, "invoice");
  assert_string_equal(m.doc_filename, "INV-0007.pdf");
  /* Not rendered or not uploaded yet: nothing to send. */
  chat_http h;
  assert_int_equal(chat_send_build(a, &WA, &m, &h, why, sizeof why), -1);
  assert_int_equal(chat_send_build(a, &TG, &m, &h, why, sizeof why), -1);

  /* WhatsApp: the upload, then the message naming the media id. */
  static const char pdf[] = "%PDF-1.7 fake\n%%EOF\n";
  assert_int_equal(chat_media_build(a, &WA, m.doc_filename, "application/pdf",
                                    pdf, sizeof pdf - 1, &h, why, sizeof why), 0);
  assert_string_equal(h.url, "https://graph.example/v21.0/1234567890/media");
  assert_string_equal(h.authorization, "Bearer EAAtoken");
  assert_non_null(strstr(h.content_type, "multipart/form-data; boundary="));
  size_t n;
  const char *v = part_of(a, &h, "messaging_product", &n);
  assert_non_null(v);
  assert_int_equal(n, 8);
  assert_memory_equal(v, "whatsapp", 8);
  v = part_of(a, &h, "type", &n);
  assert_memory_equal(v, "application/pdf", n);
  v = part_of(a, &h, "file", &n);
  assert_int_equal(n, sizeof pdf - 1);
  assert_memory_equal(v, pdf, n);
  assert_non_null(strstr(h.body, "filename=\"INV-0007.pdf\""));
  m.doc_media_id = "1013859600285441";
  assert_int_equal(chat_send_build(a, &WA, &m, &h, why, sizeof why), 0);
  const json *b = body_of(a, &h);
  assert_string_equal(AT(b, "type"), "document");
  assert_string_equal(AT(b, "document", "id"), "1013859600285441");
  assert_null(AT(b, "document", "link"));
  assert_string_equal(AT(b, "document", "filename"), "INV-0007.pdf");
  assert_string_equal(AT(b, "document", "caption"), "Invoice INV-0007");

  /* Telegram: sendDocument with the file itself. */
  m.doc_data = pdf;
  m.doc_len = sizeof pdf - 1;
  assert_int_equal(chat_send_build(a, &TG, &m, &h, why, sizeof why), 0);
  assert_string_equal(h.url, "https://tg.example/bot123:ABCdefGHIjklMNOpqrSTUvwxYZ012345/sendDocument");
  assert_non_null(strstr(h.content_type, "multipart/form-data; boundary="));
  v = part_of(a, &h, "chat_id", &n);
  assert_memory_equal(v, "5551234", n);
  v = part_of(a, &h, "caption", &n);
  assert_memory_equal(v, "Invoice INV-0007", n);
  v = part_of(a, &h, "document", &n);
  assert_int_equal(n, sizeof pdf - 1);
  assert_memory_equal(v, pdf, n);

  /* Refusals of the metadata. */
  const char *bad[] = {
      "{\"document\":{\"source\":\"Invoice\",\"ref\":\"x\"}}",
      "{\"document\":{\"source\":\"invoice\"}}",
      "{\"document\":{\"source\":\"invoice\",\"ref\":\"a b\"}}",
      "{\"document\":{\"source\":\"invoice\",\"ref\":\"x\",\"filename\":\"../x.pdf\"}}",
      "{\"document\":{\"source\":\"invoice\",\"ref\":\"x\",\"filename\":\"a\\\"b.pdf\"}}",
      "{\"document\":{\"source\":\"invoice\",\"ref\":\"x\",\"filename\":\"a\\nb\"}}",
      "{\"document\":\"x\"}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(chat_message_from_row(a, "document", "c", bad[i], &m, why,
                                           sizeof why), -1);
  /* Media upload refusals: empty, oversized, Telegram. */
  assert_int_equal(chat_media_build(a, &WA, "x.pdf", NULL, pdf, 0, &h, why, sizeof why), -1);
  assert_int_equal(chat_media_build(a, &WA, "x.pdf", NULL, pdf, CHAT_DOC_MAX + 1, &h, why, sizeof why), -1);
  assert_int_equal(chat_media_build(a, &TG, "x.pdf", NULL, pdf, 4, &h, why, sizeof why), -1);
  arena_free(a);
}

static void test_media_answers(void **state) {
  (void)state;
  chat_send_result r;
  const char *ok = "{\"id\":\"1013859600285441\"}";
  chat_media_parse(200, ok, strlen(ok), NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_SENT);
  assert_string_equal(r.provider_id, "1013859600285441");
  /* A message-send shape is not an upload answer. */
  const char *msg = "{\"messages\":[{\"id\":\"wamid.x\"}]}";
  chat_media_parse(200, msg, strlen(msg), NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "bad_response");
  const char *num = "{\"id\":1013859600285441}";
  chat_media_parse(200, num, strlen(num), NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  const char *bad = "{\"error\":{\"message\":\"(#100) Param file must be a file\","
                    "\"type\":\"OAuthException\",\"code\":100}}";
  chat_media_parse(400, bad, strlen(bad), NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_FAILED);
  assert_string_equal(r.code, "100");
  const char *busy = "{\"error\":{\"message\":\"busy\",\"code\":131016}}";
  chat_media_parse(503, busy, strlen(busy), "7", &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
  assert_int_equal(r.retry_after_ms, 7000);
  chat_media_parse(502, "", 0, NULL, &r);
  assert_int_equal(r.outcome, CHAT_SEND_RETRY);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whatsapp_text),
      cmocka_unit_test(test_whatsapp_buttons_template_document),
      cmocka_unit_test(test_window_template),
      cmocka_unit_test(test_telegram),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_whatsapp_answers),
      cmocka_unit_test(test_telegram_answers),
      cmocka_unit_test(test_transport_and_error_json),
      cmocka_unit_test(test_multipart_exact),
      cmocka_unit_test(test_source_documents),
      cmocka_unit_test(test_media_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
