/* test_chat_store_db.c - channels, sessions and queued messages
 * (chat/store.c) on SQLite and PostgreSQL (argv[1]).
 *
 * A contact's first message makes one session linked to the customer with
 * its phone (or a new customer, with a customer.created event); the second
 * finds the same session; an agent reply to one inbound message is queued
 * once however often it is written; a channel is found by id and by Meta's
 * phone_number_id, and a phone_number_id belongs to one business only. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/arena.h"
#include "base/timeutil.h"
#include "chat/store.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

static void add_whatsapp(db *d, const char *profile, const char *pnid,
                         char id[37]) {
  uuid_v7(id);
  db_val v[] = {db_uuid(profile), db_uuid(id), db_text(pnid)};
  OK(db_query(d,
              "INSERT INTO channels (profile_id, id, platform, "
              "phone_number_id, access_token, app_secret, verify_token) "
              "VALUES ($1, $2, 'whatsapp', $3, 'EAAtoken', 'appsecret', "
              "'verify')",
              v, 3, NULL, &err));
}

static void test_sessions(void **state) {
  test_fixture *f = *state;
  arena *ap = arena_new();

  char ch_id[37], cust[37];
  add_whatsapp(f->d, f->profile, "1234567890", ch_id);
  /* A customer who is already in the books, by phone. */
  uuid_v7(cust);
  db_val c[] = {db_uuid(f->profile), db_uuid(cust)};
  OK(db_query(f->d,
              "INSERT INTO customers (profile_id, id, full_name, "
              "phone_number) VALUES ($1, $2, 'Ramesh', '+919876543210')",
              c, 2, NULL, &err));

  chat_channel ch;
  int found = 0;
  OK(chat_channel_load(f->d, ap, NULL, ch_id, &ch, &found, &err));
  assert_int_equal(found, 1);
  assert_string_equal(ch.app_secret, "appsecret");
  assert_int_equal(ch.platform, CHAT_WHATSAPP);
  OK(chat_channel_load(f->d, ap, NULL, "not-a-uuid", &ch, &found, &err));
  assert_int_equal(found, 0);
  OK(chat_channel_by_phone_number_id(f->d, ap, "1234567890", &ch, &found, &err));
  assert_int_equal(found, 1);
  assert_string_equal(ch.id, ch_id);

  chat_session s, s2;
  int created = -1;
  chat_contact known = {"919876543210", "Ramesh K", "+919876543210"};
  OK(chat_session_get_or_create(f->d, ap, &ch, &known, &s, &created, &err));
  assert_int_equal(created, 1);
  assert_string_equal(s.customer_id, cust);
  assert_int_equal(s.is_bot_active, 1);
  assert_int_equal(chat_window_open(&s, time_now_us()), 0);
  OK(chat_session_get_or_create(f->d, ap, &ch, &known, &s2, &created, &err));
  assert_int_equal(created, 0);
  assert_string_equal(s2.id, s.id);

  /* An unknown contact becomes a customer named after its profile. */
  int64_t before = test_count(f->d, "SELECT count(*) FROM events WHERE "
                                    "event_type = 'customer.created'", NULL);
  chat_contact fresh = {"919000000001", "Sita", "+919000000001"};
  OK(chat_session_get_or_create(f->d, ap, &ch, &fresh, &s2, &created, &err));
  assert_int_equal(created, 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM customers WHERE "
                                    "full_name = 'Sita' AND phone_number = "
                                    "'+919000000001'", NULL), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM events WHERE "
                                    "event_type = 'customer.created'", NULL),
                   before + 1);
  chat_contact bad = {"", NULL, NULL};
  assert_int_equal(chat_session_get_or_create(f->d, ap, &ch, &bad, &s2, NULL, &err), -1);

  /* A reply to one inbound message is queued once. */
  char inbound[37], out1[37], out2[37];
  uuid_v7(inbound);
  db_val m[] = {db_uuid(f->profile), db_uuid(inbound), db_uuid(s.id),
                db_uuid(ch_id)};
  OK(db_query(f->d,
              "INSERT INTO unified_messages (profile_id, id, session_id, "
              "channel_id, direction, content, provider_message_id) VALUES "
              "($1, $2, $3, $4, 'inbound', 'hi', 'wamid.1')",
              m, 4, NULL, &err));
  chat_out o = {.session_id = s.id, .sender = "agent", .content = "Namaste",
                .metadata = "{\"agent\":{\"action\":\"greet\"}}",
                .reply_to = inbound};
  int dup = -1;
  OK(chat_enqueue(f->d, &s, &o, out1, &dup, &err));
  assert_int_equal(dup, 0);
  OK(chat_enqueue(f->d, &s, &o, out2, &dup, &err));
  assert_int_equal(dup, 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM unified_messages "
                                    "WHERE status = 'queued'", NULL), 1);
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox "
                                    "WHERE message_id = $1", out1), 1);
  /* Owner messages carry no reply_to: each is queued. */
  chat_out owner = {.session_id = s.id, .sender = "owner", .content = "ok"};
  OK(chat_enqueue(f->d, &s, &owner, out2, &dup, &err));
  OK(chat_enqueue(f->d, &s, &owner, out2, &dup, &err));
  assert_int_equal(test_count(f->d, "SELECT count(*) FROM chat_outbox", NULL), 3);

  arena_free(ap);
}

static void test_phone_number_id_unique(void **state) {
  test_fixture *f = *state;
  char other[37], id[37];
  test_tenant(f->d, NULL, other);
  add_whatsapp(f->d, f->profile, "555", id);
  uuid_v7(id);
  db_val v[] = {db_uuid(other), db_uuid(id)};
  assert_int_equal(db_query(f->d,
                            "INSERT INTO channels (profile_id, id, platform, "
                            "phone_number_id, access_token) VALUES ($1, $2, "
                            "'whatsapp', '555', 'x')",
                            v, 2, NULL, &err),
                   -1);
  assert_string_equal(err.code, "23505");
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sessions, test_fixture_setup, test_fixture_teardown),
      cmocka_unit_test_setup_teardown(test_phone_number_id_unique, test_fixture_setup,
                                      test_fixture_teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
