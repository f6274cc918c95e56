/* test_chat_telegram.c - the Telegram Update parser (chat/telegram.c):
 * messages of each kind, edits, button presses, updates the inbox ignores,
 * and bodies that must be refused with a reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/json.h"
#include "chat/telegram.h"

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

static tg_update parse_ok(const char *b) {
  tg_update u;
  if (tg_parse(A, b, strlen(b), &u, why, sizeof why)) fail_msg("refused: %s", why);
  return u;
}

static json *meta(const tg_update *u, const char *key) {
  json *v = NULL;
  json_error je;
  assert_int_equal(json_parse(A, u->metadata, strlen(u->metadata), &v, &je), 0);
  return json_get(v, key);
}

#define FROM "\"from\":{\"id\":5001,\"is_bot\":false,\"first_name\":\"Asha\"," \
             "\"last_name\":\"Rao\",\"username\":\"asha\"}"
#define CHAT "\"chat\":{\"id\":5001,\"type\":\"private\",\"first_name\":\"Asha\"}"

static void test_text(void **state) {
  (void)state;
  tg_update u = parse_ok("{\"update_id\":9001,\"message\":{\"message_id\":42," FROM
                         "," CHAT ",\"date\":1700000000,\"text\":\"/start abc\"}}");
  assert_int_equal(u.update_id, 9001);
  assert_int_equal(u.kind, TG_MESSAGE);
  assert_string_equal(u.chat_id, "5001");
  assert_string_equal(u.message_id, "42");
  assert_string_equal(u.from_id, "5001");
  assert_string_equal(u.name, "Asha Rao");
  assert_string_equal(u.username, "asha");
  assert_int_equal(u.date, 1700000000);
  assert_string_equal(u.type, "text");
  assert_string_equal(u.text, "/start abc");
  assert_string_equal(meta(&u, "username")->str, "asha");
}

static void test_media(void **state) {
  (void)state;
  tg_update u = parse_ok(
      "{\"update_id\":1,\"message\":{\"message_id\":1," CHAT ",\"date\":1,"
      "\"caption\":\"price?\",\"photo\":[{\"file_id\":\"small\",\"width\":90},"
      "{\"file_id\":\"big\",\"width\":1280}]}}");
  assert_string_equal(u.type, "image");
  assert_string_equal(u.text, "price?");
  assert_string_equal(json_get(meta(&u, "photo"), "file_id")->str, "big");
  /* No from: the chat names the sender. */
  assert_string_equal(u.name, "Asha");
  assert_null(u.from_id);

  u = parse_ok("{\"update_id\":2,\"message\":{\"message_id\":2," CHAT
               ",\"document\":{\"file_id\":\"D\",\"file_name\":\"po.pdf\"}}}");
  assert_string_equal(u.type, "document");
  assert_string_equal(u.text, "");
  u = parse_ok("{\"update_id\":3,\"message\":{\"message_id\":3," CHAT
               ",\"location\":{\"latitude\":12.97,\"longitude\":77.59}}}");
  assert_string_equal(u.type, "location");
  assert_string_equal(json_get(meta(&u, "location"), "longitude")->str, "77.59");
  u = parse_ok("{\"update_id\":4,\"message\":{\"message_id\":4," CHAT
               ",\"contact\":{\"phone_number\":\"+919876543210\","
               "\"first_name\":\"Ravi\"}}}");
  assert_string_equal(u.type, "contacts");
  u = parse_ok("{\"update_id\":5,\"message\":{\"message_id\":5," CHAT
               ",\"voice\":{\"file_id\":\"V\",\"duration\":3}}}");
  assert_string_equal(u.type, "audio");
  u = parse_ok("{\"update_id\":6,\"message\":{\"message_id\":6," CHAT
               ",\"sticker\":{\"file_id\":\"S\"}}}");
  assert_string_equal(u.type, "unsupported");
  assert_string_equal(meta(&u, "original_type")->str, "sticker");
}

static void test_edited(void **state) {
  (void)state;
  tg_update u = parse_ok("{\"update_id\":7,\"edited_message\":{\"message_id\":42,"
                         FROM "," CHAT ",\"date\":1,\"edit_date\":2,\"text\":"
                         "\"2 kg atta\"}}");
  assert_int_equal(u.kind, TG_EDITED);
  assert_string_equal(u.message_id, "42");
  assert_string_equal(u.text, "2 kg atta");
  assert_int_equal(meta(&u, "edited")->type, JSON_TRUE);
  assert_string_equal(meta(&u, "edit_date")->str, "2");
}

static void test_callback(void **state) {
  (void)state;
  tg_update u = parse_ok(
      "{\"update_id\":8,\"callback_query\":{\"id\":\"4382bfdwdsb323b2d9\","
      FROM ",\"message\":{\"message_id\":77," CHAT ",\"date\":1,\"text\":"
      "\"Confirm?\"},\"chat_instance\":\"x\",\"data\":\"confirm\"}}");
  assert_int_equal(u.kind, TG_CALLBACK);
  assert_string_equal(u.type, "button");
  assert_string_equal(u.text, "confirm");
  assert_string_equal(u.callback_id, "4382bfdwdsb323b2d9");
  assert_string_equal(u.chat_id, "5001");
  assert_string_equal(u.message_id, "77");
  assert_string_equal(meta(&u, "callback_query_id")->str, "4382bfdwdsb323b2d9");

  /* Without the message: the user's private chat. */
  u = parse_ok("{\"update_id\":9,\"callback_query\":{\"id\":\"q\",\"from\":{"
               "\"id\":6002},\"data\":\"no\"}}");
  assert_string_equal(u.chat_id, "6002");
  assert_null(u.message_id);
}

static void test_other(void **state) {
  (void)state;
  tg_update u = parse_ok("{\"update_id\":10,\"my_chat_member\":{\"chat\":{}}}");
  assert_int_equal(u.kind, TG_OTHER);
  u = parse_ok("{\"update_id\":11}");
  assert_int_equal(u.kind, TG_OTHER);
}

static void refused(const char *b, const char *reason_part) {
  tg_update u;
  why[0] = 0;
  assert_int_equal(tg_parse(A, b, strlen(b), &u, why, sizeof why), -1);
  if (!strstr(why, reason_part))
    fail_msg("reason \"%s\" does not mention \"%s\"", why, reason_part);
}

static void test_malformed(void **state) {
  (void)state;
  refused("not json", "not JSON");
  refused("[1]", "object");
  refused("{}", "update_id");
  refused("{\"update_id\":\"1\"}", "update_id");
  refused("{\"update_id\":1.5}", "update_id");
  refused("{\"update_id\":-1}", "negative");
  refused("{\"update_id\":1,\"message\":[]}", "message");
  refused("{\"update_id\":1,\"message\":{\"message_id\":1}}", "chat");
  refused("{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":"
          "\"x\"}}}",
          "chat.id");
  refused("{\"update_id\":1,\"message\":{\"chat\":{\"id\":1}}}", "message_id");
  refused("{\"update_id\":1,\"message\":{\"message_id\":1,\"chat\":{\"id\":1},"
          "\"text\":7}}",
          "strings");
  refused("{\"update_id\":1,\"callback_query\":{\"from\":{\"id\":1}}}", "id");
  refused("{\"update_id\":1,\"callback_query\":{\"id\":\"q\"}}", "from");
  refused("{\"update_id\":1,\"callback_query\":{\"id\":\"q\",\"from\":{\"id\":"
          "1},\"data\":{}}}",
          "data");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_text, setup, teardown),
      cmocka_unit_test_setup_teardown(test_media, setup, teardown),
      cmocka_unit_test_setup_teardown(test_edited, setup, teardown),
      cmocka_unit_test_setup_teardown(test_callback, setup, teardown),
      cmocka_unit_test_setup_teardown(test_other, setup, teardown),
      cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
