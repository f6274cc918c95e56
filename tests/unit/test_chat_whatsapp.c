/* test_chat_whatsapp.c - the WhatsApp Cloud API webhook parser
 * (chat/whatsapp.c): every message type, batches of entries and changes,
 * statuses with their errors, contacts without a wa_id, and bodies that
 * must be refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "chat/whatsapp.h"

static arena *A;
static char why[256];

static int setup(void **state) {
  (void)state;
  A = arena_new();
  return 0;
}
static int teardown(void **state) {
  (void)state;
  arena_free(A);
  return 0;
}

/* A body with one change of the given messages/statuses JSON (the inside
 * of "value" after metadata and contacts). */
static const char *body(const char *inner) {
  return arena_printf(
      A,
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"WABA\","
      "\"changes\":[{\"field\":\"messages\",\"value\":{\"messaging_product\":"
      "\"whatsapp\",\"metadata\":{\"display_phone_number\":\"15550001111\","
      "\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":{"
      "\"name\":\"Ramesh\"},\"wa_id\":\"919876543210\"}]%s}}]}]}",
      inner);
}

static wa_message one_message(const char *msg_json) {
  wa_payload p;
  const char *b = body(arena_printf(A, ",\"messages\":[%s]", msg_json));
  int rc = wa_parse(A, b, strlen(b), &p, why, sizeof why);
  if (rc) fail_msg("refused: %s", why);
  assert_int_equal(p.n_changes, 1);
  assert_int_equal(p.changes[0].n_messages, 1);
  assert_string_equal(p.changes[0].phone_number_id, "106540352242922");
  return p.changes[0].messages[0];
}

#define MSG(id, type, rest)                                                   \
  "{\"from\":\"919876543210\",\"id\":\"" id "\",\"timestamp\":\"1700000000\"," \
  "\"type\":\"" type "\"" rest "}"

/* A metadata member, parsed. */
static json *meta(const wa_message *m, const char *key) {
  json *v = NULL;
  json_error je;
  assert_int_equal(json_parse(A, m->metadata, strlen(m->metadata), &v, &je), 0);
  assert_int_equal(v->type, JSON_OBJECT);
  return json_get(v, key);
}

static void test_text(void **state) {
  (void)state;
  wa_message m = one_message(MSG("wamid.1", "text", ",\"text\":{\"body\":\"rice ka rate kya hai\"}"));
  assert_string_equal(m.id, "wamid.1");
  assert_string_equal(m.from, "919876543210");
  assert_string_equal(m.wa_id, "919876543210");
  assert_string_equal(m.name, "Ramesh");
  assert_int_equal(m.timestamp, 1700000000);
  assert_string_equal(m.type, "text");
  assert_string_equal(m.text, "rice ka rate kya hai");
  assert_string_equal(m.metadata, "{}");
}

static void test_interactive_and_button(void **state) {
  (void)state;
  wa_message m = one_message(MSG(
      "wamid.2", "interactive",
      ",\"interactive\":{\"type\":\"button_reply\",\"button_reply\":{\"id\":"
      "\"confirm\",\"title\":\"Yes\"}},\"context\":{\"from\":\"15550001111\","
      "\"id\":\"wamid.out1\"}"));
  assert_string_equal(m.type, "interactive");
  assert_string_equal(m.text, "Yes");
  json *ctx = meta(&m, "context");
  assert_non_null(ctx);
  assert_string_equal(json_get(ctx, "id")->str, "wamid.out1");
  json *i = meta(&m, "interactive");
  assert_string_equal(json_get(json_get(i, "button_reply"), "id")->str, "confirm");

  m = one_message(MSG("wamid.3", "interactive",
                      ",\"interactive\":{\"type\":\"list_reply\",\"list_reply\":"
                      "{\"id\":\"p1\",\"title\":\"Basmati rice\","
                      "\"description\":\"5 kg\"}}"));
  assert_string_equal(m.text, "Basmati rice");

  m = one_message(MSG("wamid.4", "button",
                      ",\"button\":{\"payload\":\"STOP\",\"text\":\"Stop promotions\"}"));
  assert_string_equal(m.type, "button");
  assert_string_equal(m.text, "Stop promotions");
}

static void test_media_location_contacts_reaction(void **state) {
  (void)state;
  wa_message m = one_message(MSG(
      "wamid.5", "image",
      ",\"image\":{\"caption\":\"this one\",\"mime_type\":\"image/jpeg\","
      "\"sha256\":\"abc\",\"id\":\"MEDIA1\"}"));
  assert_string_equal(m.type, "image");
  assert_string_equal(m.text, "this one");
  assert_string_equal(json_get(meta(&m, "image"), "id")->str, "MEDIA1");

  const char *kinds[] = {"document", "audio", "video"};
  for (int k = 0; k < 3; k++) {
    char msg[256];
    snprintf(msg, sizeof msg,
             "{\"from\":\"919876543210\",\"id\":\"wamid.k%d\",\"type\":\"%s\","
             "\"%s\":{\"id\":\"M%d\",\"filename\":\"bill.pdf\"}}",
             k, kinds[k], kinds[k], k);
    m = one_message(msg);
    assert_string_equal(m.type, kinds[k]);
    assert_string_equal(m.text, "");
    assert_non_null(meta(&m, kinds[k]));
  }

  m = one_message(MSG("wamid.6", "location",
                      ",\"location\":{\"latitude\":28.6139,\"longitude\":"
                      "77.209,\"name\":\"Shop\",\"address\":\"Delhi\"}"));
  assert_string_equal(m.type, "location");
  assert_string_equal(m.text, "Shop");
  /* Coordinates keep their literal text. */
  assert_string_equal(json_get(meta(&m, "location"), "latitude")->str, "28.6139");

  m = one_message(MSG("wamid.7", "contacts",
                      ",\"contacts\":[{\"name\":{\"formatted_name\":\"Suresh\"},"
                      "\"phones\":[{\"phone\":\"+91 99999 00000\"}]}]"));
  assert_string_equal(m.type, "contacts");
  assert_int_equal(meta(&m, "contacts")->type, JSON_ARRAY);

  m = one_message(MSG("wamid.8", "reaction",
                      ",\"reaction\":{\"message_id\":\"wamid.out1\",\"emoji\":\"\xf0\x9f\x91\x8d\"}"));
  assert_string_equal(m.type, "reaction");
  assert_string_equal(m.text, "\xf0\x9f\x91\x8d");
}

static void test_unsupported(void **state) {
  (void)state;
  wa_message m = one_message(MSG("wamid.9", "sticker",
                                 ",\"sticker\":{\"id\":\"S1\",\"animated\":false}"));
  assert_string_equal(m.type, "unsupported");
  assert_string_equal(meta(&m, "original_type")->str, "sticker");
  assert_string_equal(json_get(meta(&m, "sticker"), "id")->str, "S1");

  m = one_message(MSG("wamid.10", "unsupported",
                      ",\"errors\":[{\"code\":131051,\"title\":\"Message type unknown\"}]"));
  assert_string_equal(m.type, "unsupported");
  assert_int_equal(meta(&m, "errors")->type, JSON_ARRAY);

  m = one_message(MSG("wamid.11", "brand_new_type", ""));
  assert_string_equal(m.type, "unsupported");
  assert_string_equal(meta(&m, "original_type")->str, "brand_new_type");
}

static void test_contact_without_wa_id(void **state) {
  (void)state;
  const char *b =
      "{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":[{"
      "\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":"
      "\"1\"},\"contacts\":[{\"profile\":{\"name\":\"Anon\"},\"user_id\":"
      "\"IN.abc123\"}],\"messages\":[{\"from_user_id\":\"IN.abc123\",\"id\":"
      "\"wamid.u1\",\"type\":\"text\",\"text\":{\"body\":\"hi\"}}]}}]}]}";
  wa_payload p;
  assert_int_equal(wa_parse(A, b, strlen(b), &p, why, sizeof why), 0);
  wa_message *m = &p.changes[0].messages[0];
  assert_string_equal(m->from, "IN.abc123");
  assert_null(m->wa_id);
  assert_string_equal(m->name, "Anon");
  assert_int_equal(m->timestamp, 0);
}

static void test_batch(void **state) {
  (void)state;
  const char *b =
      "{\"object\":\"whatsapp_business_account\",\"entry\":["
      "{\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":{"
      "\"phone_number_id\":\"111\"},\"contacts\":[{\"wa_id\":\"9111\"},{"
      "\"wa_id\":\"9222\",\"profile\":{\"name\":\"B\"}}],\"messages\":["
      "{\"from\":\"9111\",\"id\":\"w1\",\"type\":\"text\",\"text\":{\"body\":"
      "\"a\"}},{\"from\":\"9222\",\"id\":\"w2\",\"type\":\"text\",\"text\":{"
      "\"body\":\"b\"}}]}},{\"field\":\"message_template_status_update\","
      "\"value\":{\"event\":\"APPROVED\"}}]},"
      "{\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":{"
      "\"phone_number_id\":\"222\"},\"statuses\":[{\"id\":\"w9\",\"status\":"
      "\"read\",\"timestamp\":\"1700000001\",\"recipient_id\":\"9333\"},{"
      "\"id\":\"w9\",\"status\":\"deleted\"}]}}]}]}";
  wa_payload p;
  assert_int_equal(wa_parse(A, b, strlen(b), &p, why, sizeof why), 0);
  assert_int_equal(p.n_changes, 2); /* the template update is skipped */
  assert_string_equal(p.changes[0].phone_number_id, "111");
  assert_int_equal(p.changes[0].n_messages, 2);
  assert_null(p.changes[0].messages[0].name);
  assert_string_equal(p.changes[0].messages[1].name, "B");
  assert_string_equal(p.changes[1].phone_number_id, "222");
  assert_int_equal(p.changes[1].n_statuses, 1); /* "deleted" is skipped */
  assert_string_equal(p.changes[1].statuses[0].status, "read");
  assert_int_equal(p.changes[1].statuses[0].timestamp, 1700000001);
  assert_null(p.changes[1].statuses[0].error);
}

static void test_failed_status(void **state) {
  (void)state;
  const char *b = body(
      ",\"statuses\":[{\"id\":\"wamid.out\",\"status\":\"failed\","
      "\"timestamp\":\"1700000002\",\"recipient_id\":\"919876543210\","
      "\"errors\":[{\"code\":131026,\"title\":\"Message undeliverable\","
      "\"message\":\"Message undeliverable\",\"error_data\":{\"details\":"
      "\"Receiver is incapable of receiving this message\"}}]},{\"id\":"
      "\"wamid.out2\",\"status\":\"failed\"}]");
  wa_payload p;
  assert_int_equal(wa_parse(A, b, strlen(b), &p, why, sizeof why), 0);
  assert_int_equal(p.changes[0].n_statuses, 2);
  wa_status *s = &p.changes[0].statuses[0];
  assert_string_equal(s->status, "failed");
  json *e = NULL;
  json_error je;
  assert_int_equal(json_parse(A, s->error, strlen(s->error), &e, &je), 0);
  assert_string_equal(json_get(e, "code")->str, "131026");
  assert_string_equal(json_get(e, "title")->str, "Message undeliverable");
  assert_string_equal(json_get(e, "message")->str,
                      "Receiver is incapable of receiving this message");
  /* A failure without errors still says it failed. */
  assert_non_null(p.changes[0].statuses[1].error);
  assert_non_null(strstr(p.changes[0].statuses[1].error, "\"code\":null"));
}

static void test_ranks(void **state) {
  (void)state;
  assert_true(wa_status_rank("sent") < wa_status_rank("delivered"));
  assert_true(wa_status_rank("delivered") < wa_status_rank("read"));
  assert_true(wa_status_rank("sent") < wa_status_rank("failed"));
  assert_int_equal(wa_status_rank("deleted"), -1);
  assert_int_equal(wa_status_rank(NULL), -1);
}

static void refused(const char *b, const char *reason_part) {
  wa_payload p;
  why[0] = 0;
  assert_int_equal(wa_parse(A, b, strlen(b), &p, why, sizeof why), -1);
  if (!strstr(why, reason_part))
    fail_msg("reason \"%s\" does not mention \"%s\"", why, reason_part);
}

static void test_malformed(void **state) {
  (void)state;
  refused("", "not JSON");
  refused("{\"object\":", "not JSON");
  refused("[]", "object");
  refused("{\"object\":\"page\",\"entry\":[]}", "whatsapp_business_account");
  refused("{\"object\":\"whatsapp_business_account\"}", "entry");
  refused("{\"object\":\"whatsapp_business_account\",\"entry\":[1]}", "changes");
  refused("{\"object\":\"whatsapp_business_account\",\"entry\":[{\"changes\":"
          "[{\"field\":\"messages\",\"value\":{}}]}]}",
          "metadata");
  refused(body(",\"messages\":[{\"id\":\"w\",\"type\":\"text\",\"text\":{"
               "\"body\":\"x\"}}]"),
          "sender");
  refused(body(",\"messages\":[" MSG("w", "text", ",\"text\":{}") "]"), "body");
  refused(body(",\"messages\":[" MSG("w", "text", ",\"text\":{\"body\":5}") "]"),
          "string");
  refused(body(",\"messages\":[" MSG("w", "image", ",\"image\":{}") "]"), "id");
  refused(body(",\"messages\":[" MSG("w", "location",
                                     ",\"location\":{\"latitude\":\"x\"}") "]"),
          "latitude");
  refused(body(",\"messages\":{}"), "arrays");
  refused(body(",\"statuses\":[{\"id\":\"w\"}]"), "status");
  /* A sender id longer than a session's contact id. */
  char longfrom[200];
  snprintf(longfrom, sizeof longfrom,
           ",\"messages\":[{\"from\":\"%070d\",\"id\":\"w\",\"type\":\"text\","
           "\"text\":{\"body\":\"x\"}}]",
           1);
  refused(body(longfrom), "from");
  /* Too many items in one body. */
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, ",\"statuses\":[");
  for (int i = 0; i <= WA_MAX_ITEMS; i++)
    buf_printf(&b, "%s{\"id\":\"w%d\",\"status\":\"read\"}", i ? "," : "", i);
  buf_puts(&b, "]");
  refused(body(buf_cstr(&b)), "more than");
  buf_free(&b);
  /* Valid: an empty entry list, and a change of another field only. */
  wa_payload p;
  const char *ok = "{\"object\":\"whatsapp_business_account\",\"entry\":[]}";
  assert_int_equal(wa_parse(A, ok, strlen(ok), &p, why, sizeof why), 0);
  assert_int_equal(p.n_changes, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_interactive_and_button, setup, teardown),
      cmocka_unit_test_setup_teardown(test_media_location_contacts_reaction, setup, teardown),
      cmocka_unit_test_setup_teardown(test_unsupported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_contact_without_wa_id, setup, teardown),
      cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
      cmocka_unit_test_setup_teardown(test_failed_status, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ranks, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
