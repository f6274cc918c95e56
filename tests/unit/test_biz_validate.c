/* test_biz_validate.c - the rules for a channel written through /rest/v1
 * (src/biz/validate.c): what each platform needs, the formats of ids and
 * tokens, templates, the webhook_secret made for a Telegram bot, the shared
 * WhatsApp app, and the 409 message for a phone_number_id connected
 * elsewhere. The black-box side (nothing written, secrets never echoed, on
 * both databases) is tests/api/channels.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "biz/biz.h"

#define BOT "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"

/* A row under construction: name/value pairs, as rest_write.c passes them. */
typedef struct row {
  const char *names[32];
  db_val vals[32];
  biz_fields f;
} row;

static void row_init(row *r) {
  memset(r, 0, sizeof *r);
  r->f = (biz_fields){r->names, r->vals, 0, 32};
}

static void put(row *r, const char *name, db_val v) {
  r->names[r->f.n] = name;
  r->vals[r->f.n++] = v;
}

static const db_val *get(const row *r, const char *name) {
  for (int i = 0; i < r->f.n; i++)
    if (!strcmp(r->names[i], name)) return &r->vals[i];
  return NULL;
}

static void whatsapp(row *r) {
  row_init(r);
  put(r, "platform", db_text("whatsapp"));
  put(r, "phone_number_id", db_text("106540352242922"));
  put(r, "access_token", db_text("EAAGm0PX4ZCpsBAKZB"));
  put(r, "app_secret", db_text("0123456789abcdef0123456789abcdef"));
  put(r, "verify_token", db_text("my-verify-token"));
}

static void telegram(row *r) {
  row_init(r);
  put(r, "platform", db_text("telegram"));
  put(r, "bot_token", db_text(BOT));
}

/* Checks r as an insert (or update) and returns the message, "" when it
 * passed. */
static const char *check(arena *a, row *r, int insert) {
  biz_err e;
  memset(&e, 0, sizeof e);
  int rc = biz_check_fields(a, "channels", &r->f, insert, &e);
  if (rc == 0) return "";
  assert_int_equal(e.code, E_CHECK);
  return arena_strdup(a, e.message);
}

static void expect(arena *a, row *r, int insert, const char *fragment) {
  const char *m = check(a, r, insert);
  if (!strstr(m, fragment))
    fail_msg("expected \"%s\" in \"%s\"", fragment, m);
}

static void test_whatsapp(void **state) {
  (void)state;
  arena *a = arena_new();
  row r;
  biz_channels_configure(0);
  whatsapp(&r);
  assert_string_equal(check(a, &r, 1), "");
  assert_null(get(&r, "webhook_secret")); /* only Telegram gets one made */
  static const char *const needed[] = {"phone_number_id", "access_token",
                                       "verify_token", "app_secret"};
  for (size_t k = 0; k < 4; k++) {
    whatsapp(&r);
    for (int i = 0; i < r.f.n; i++)
      if (!strcmp(r.names[i], needed[k])) r.vals[i] = db_null();
    expect(a, &r, 1, needed[k]);
    expect(a, &r, 1, "is required");
  }
  whatsapp(&r);
  r.vals[1] = db_text("+919812345678");
  expect(a, &r, 1, "phone_number_id must be the digits");
  whatsapp(&r);
  r.vals[2] = db_text("EAAG with space");
  expect(a, &r, 1, "access_token must be 1 to 1024 printable");
  assert_null(strstr(check(a, &r, 1), "EAAG")); /* never echoed */
  whatsapp(&r);
  put(&r, "bot_token", db_text(BOT));
  expect(a, &r, 1, "bot_token belongs to telegram");
  whatsapp(&r);
  put(&r, "rate_limit_per_s", db_int(0));
  expect(a, &r, 1, "1 to 1000");
  whatsapp(&r);
  put(&r, "rate_limit_per_s", db_int(1000));
  assert_string_equal(check(a, &r, 1), "");
  /* With a shared app, app_secret may be left out, or cleared later. */
  biz_channels_configure(1);
  whatsapp(&r);
  r.vals[3] = db_null();
  assert_string_equal(check(a, &r, 1), "");
  row_init(&r);
  put(&r, "app_secret", db_null());
  assert_string_equal(check(a, &r, 0), "");
  biz_channels_configure(0);
  expect(a, &r, 0, "app_secret cannot be cleared");
  arena_free(a);
}

static void test_telegram(void **state) {
  (void)state;
  arena *a = arena_new();
  row r;
  telegram(&r);
  assert_string_equal(check(a, &r, 1), "");
  const db_val *s = get(&r, "webhook_secret");
  assert_non_null(s);
  assert_int_equal(s->type, DBT_TEXT);
  assert_true(strlen(s->s) >= 32);
  assert_int_equal(strspn(s->s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                "0123456789_-"),
                   strlen(s->s));
  char first[64];
  snprintf(first, sizeof first, "%s", s->s);
  telegram(&r);
  assert_string_equal(check(a, &r, 1), "");
  assert_string_not_equal(get(&r, "webhook_secret")->s, first); /* random */
  /* One given is kept. */
  telegram(&r);
  put(&r, "webhook_secret", db_text("mine_0123"));
  assert_string_equal(check(a, &r, 1), "");
  assert_string_equal(get(&r, "webhook_secret")->s, "mine_0123");
  static const char *const bad_tokens[] = {
      "123456789",                                 /* no colon */
      "123456789:short",                           /* under 20 after it */
      "12ab:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",   /* letters in the id */
      ":AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw",       /* no id */
      "123:AAHdqTcvCH1vGWJx fSeofSAs0K5PALDsaw",   /* a space */
      "123:AAHdqTcvCH1vGWJx:fSeofSAs0K5PALDsaw",   /* two colons */
      "123456789012345678901:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw", /* 21-digit id */
  };
  for (size_t i = 0; i < sizeof bad_tokens / sizeof bad_tokens[0]; i++) {
    telegram(&r);
    r.vals[1] = db_text(bad_tokens[i]);
    expect(a, &r, 1, "bot_token is not a Telegram bot token");
  }
  telegram(&r);
  put(&r, "webhook_secret", db_text("no spaces please"));
  expect(a, &r, 1, "webhook_secret must be");
  telegram(&r);
  put(&r, "phone_number_id", db_text("123"));
  expect(a, &r, 1, "phone_number_id belongs to whatsapp");
  telegram(&r);
  put(&r, "bot_username", db_text("@shop_bot"));
  assert_string_equal(check(a, &r, 1), "");
  assert_string_equal(get(&r, "bot_username")->s, "shop_bot");
  row_init(&r);
  put(&r, "bot_token", db_null());
  expect(a, &r, 0, "bot_token cannot be cleared");
  row_init(&r);
  put(&r, "bot_token", db_text(BOT));
  put(&r, "access_token", db_text("EAAGm0PX4ZCpsBAKZB"));
  expect(a, &r, 0, "a change cannot set both");
  row_init(&r);
  put(&r, "platform", db_text("sms"));
  expect(a, &r, 1, "platform must be");
  row_init(&r);
  put(&r, "name", db_text("no platform"));
  expect(a, &r, 1, "platform is required");
  arena_free(a);
}

static void test_templates(void **state) {
  (void)state;
  arena *a = arena_new();
  row r;
  static const struct {
    const char *json, *error; /* error NULL: accepted */
  } cases[] = {
      {"[]", NULL},
      {"[{\"name\":\"payment_reminder\",\"language\":\"en\",\"params\":2},"
       "{\"name\":\"payment_reminder\",\"language\":\"hi\",\"params\":0}]",
       NULL},
      {"[{\"name\":\"x\",\"language\":\"en_US\",\"params\":10}]", NULL},
      {"{}", "templates must be an array"},
      {"[1]", "templates[0]"},
      {"[{\"name\":\"x\",\"language\":\"en\"}]", "templates[0].params"},
      {"[{\"name\":\"x\",\"language\":\"en\",\"params\":11}]", "templates[0].params"},
      {"[{\"name\":\"x\",\"language\":\"en\",\"params\":\"2\"}]", "templates[0].params"},
      {"[{\"name\":\"x\",\"language\":\"en\",\"params\":2.5}]", "templates[0].params"},
      {"[{\"name\":\"X\",\"language\":\"en\",\"params\":1}]", "templates[0].name"},
      {"[{\"name\":\"\",\"language\":\"en\",\"params\":1}]", "templates[0].name"},
      {"[{\"name\":\"x\",\"language\":\"e\",\"params\":1}]", "templates[0].language"},
      {"[{\"name\":\"x\",\"language\":\"en\",\"params\":1,\"body\":\"\"}]",
       "unknown member"},
      {"[{\"name\":\"x\",\"language\":\"en\",\"params\":1},"
       "{\"name\":\"x\",\"language\":\"en\",\"params\":2}]",
       "templates[1] repeats templates[0]"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    whatsapp(&r);
    put(&r, "templates", db_json(cases[i].json));
    if (cases[i].error)
      expect(a, &r, 1, cases[i].error);
    else
      assert_string_equal(check(a, &r, 1), "");
  }
  whatsapp(&r);
  put(&r, "templates", db_json("[{\"name\":\"a\",\"language\":\"en\",\"params\":1}]"));
  put(&r, "default_template", db_text("a"));
  assert_string_equal(check(a, &r, 1), "");
  whatsapp(&r);
  put(&r, "templates", db_json("[{\"name\":\"a\",\"language\":\"en\",\"params\":1}]"));
  put(&r, "default_template", db_text("b"));
  expect(a, &r, 1, "default_template must be the name");
  whatsapp(&r);
  put(&r, "default_template", db_text("a")); /* no templates at all */
  expect(a, &r, 1, "default_template must be the name");
  arena_free(a);
}

static void test_conflict_message(void **state) {
  (void)state;
  db_err sqlite = {"23505", "UNIQUE constraint failed: channels.phone_number_id"};
  db_err pg = {"23505",
               "duplicate key value violates unique constraint "
               "\"channels_phone_number_id_key\""};
  db_err pk = {"23505", "UNIQUE constraint failed: channels.profile_id, channels.id"};
  assert_non_null(biz_conflict_message("channels", &sqlite));
  assert_non_null(biz_conflict_message("channels", &pg));
  assert_null(biz_conflict_message("channels", &pk));
  assert_null(biz_conflict_message("customers", &sqlite));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_whatsapp),
      cmocka_unit_test(test_telegram),
      cmocka_unit_test(test_templates),
      cmocka_unit_test(test_conflict_message),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
