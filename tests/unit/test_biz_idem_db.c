/* test_biz_idem_db.c - Idempotency-Key answers (biz/idempotency.c) on
 * SQLite and PostgreSQL (argv[1]).
 *
 * A new key is new; the same operation and body replay the stored status
 * and answer byte for byte; another body or operation under the key is a
 * mismatch; keys belong to one business; an answer stored in a transaction
 * that rolls back leaves no key behind; a second store of a key fails with
 * the unique violation the caller turns into a retry; and keys are checked
 * before they reach the database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/buf.h"
#include "base/uuid.h"
#include "biz/idempotency.h"
#include "db/db.h"

static db_err err;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

struct fixture {
  db *d;
  char profile[UUID_STR_LEN + 1];
  char other[UUID_STR_LEN + 1];
};

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->d = test_db_open_migrated(NULL);
  test_tenant(f->d, NULL, f->profile);
  test_tenant(f->d, NULL, f->other);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  test_db_close(f->d);
  free(f);
  return 0;
}

static const char body[] = "{\"customer_id\": \"x\", \"amount\": 10}";
/* Keys out of order and odd spacing: a replay must not normalise them. */
static const char answer[] = "{\"zeta\":1, \"id\":\"p1\",\"amount\":10.50}";

static idem_state lookup(struct fixture *f, const char *profile,
                         const char *key, const char *op, const char *b,
                         int *status, buf *stored) {
  idem_state st = (idem_state)-1;
  OK(idem_lookup(f->d, profile, key, op, b, b ? strlen(b) : 0, &st, status,
                 stored, &err));
  return st;
}

static void test_new_replay_mismatch(void **state) {
  struct fixture *f = *state;
  int status = 0;
  buf stored;
  buf_init(&stored, 0);

  OK(db_begin(f->d, 1, &err));
  assert_int_equal(lookup(f, f->profile, "k-1", "record_payment", body,
                          &status, &stored),
                   IDEM_NEW);
  OK(idem_store(f->d, f->profile, "k-1", "record_payment", body,
                strlen(body), 201, answer, &err));
  OK(db_commit(f->d, &err));

  OK(db_begin(f->d, 1, &err));
  assert_int_equal(lookup(f, f->profile, "k-1", "record_payment", body,
                          &status, &stored),
                   IDEM_REPLAY);
  assert_int_equal(status, 201);
  assert_string_equal(buf_cstr(&stored), answer);
  assert_int_equal(stored.len, strlen(answer));
  /* Another body, or the same body for another operation. */
  assert_int_equal(lookup(f, f->profile, "k-1", "record_payment",
                          "{\"customer_id\": \"x\", \"amount\": 11}", &status,
                          &stored),
                   IDEM_MISMATCH);
  assert_int_equal(lookup(f, f->profile, "k-1", "create_invoice", body,
                          &status, &stored),
                   IDEM_MISMATCH);
  /* The body counts to its last byte, not to a NUL. */
  idem_state st;
  OK(idem_lookup(f->d, f->profile, "k-1", "record_payment", body,
                 strlen(body) - 1, &st, &status, &stored, &err));
  assert_int_equal(st, IDEM_MISMATCH);
  /* Another business's key space is its own. */
  assert_int_equal(lookup(f, f->other, "k-1", "record_payment", body, &status,
                          &stored),
                   IDEM_NEW);
  /* Keys are compared exactly. */
  assert_int_equal(lookup(f, f->profile, "K-1", "record_payment", body,
                          &status, &stored),
                   IDEM_NEW);
  db_rollback(f->d);

  /* An empty body is a body too; status and stored may be left out. */
  OK(db_begin(f->d, 1, &err));
  OK(idem_store(f->d, f->profile, "k-empty", "debtors", NULL, 0, 200, "[]",
                &err));
  OK(db_commit(f->d, &err));
  assert_int_equal(lookup(f, f->profile, "k-empty", "debtors", NULL, NULL,
                          NULL),
                   IDEM_REPLAY);
  assert_int_equal(lookup(f, f->profile, "k-empty", "debtors", "{}", NULL,
                          NULL),
                   IDEM_MISMATCH);
  buf_free(&stored);
}

static void test_rollback_leaves_no_key(void **state) {
  struct fixture *f = *state;
  OK(db_begin(f->d, 1, &err));
  assert_int_equal(
      lookup(f, f->profile, "retry-me", "create_invoice", body, NULL, NULL),
      IDEM_NEW);
  OK(idem_store(f->d, f->profile, "retry-me", "create_invoice", body,
                strlen(body), 200, answer, &err));
  db_rollback(f->d);
  assert_int_equal(
      lookup(f, f->profile, "retry-me", "create_invoice", body, NULL, NULL),
      IDEM_NEW);
  /* The retry with the same key goes through. */
  OK(db_begin(f->d, 1, &err));
  OK(idem_store(f->d, f->profile, "retry-me", "create_invoice", body,
                strlen(body), 200, answer, &err));
  OK(db_commit(f->d, &err));
}

static void test_second_store_is_unique_violation(void **state) {
  struct fixture *f = *state;
  OK(db_begin(f->d, 1, &err));
  OK(idem_store(f->d, f->profile, "dup", "create_invoice", body, strlen(body),
                200, answer, &err));
  OK(db_commit(f->d, &err));
  /* What a concurrent request that lost the race sees at its insert. */
  OK(db_begin(f->d, 1, &err));
  assert_int_equal(idem_store(f->d, f->profile, "dup", "create_invoice", body,
                              strlen(body), 200, answer, &err),
                   -1);
  assert_string_equal(err.code, "23505");
  db_rollback(f->d);
}

static void test_key_validation(void **state) {
  struct fixture *f = *state;
  char key[IDEM_KEY_MAX + 2];
  memset(key, 'a', sizeof key - 1);
  key[IDEM_KEY_MAX] = '\0';
  assert_true(idem_key_valid(key)); /* 255 characters */
  key[IDEM_KEY_MAX] = 'a';
  key[IDEM_KEY_MAX + 1] = '\0';
  assert_false(idem_key_valid(key)); /* 256 */
  assert_false(idem_key_valid(NULL));
  assert_false(idem_key_valid(""));
  assert_true(idem_key_valid("a"));
  assert_true(idem_key_valid("order 42/2026-11-24~!"));
  assert_true(idem_key_valid("550e8400-e29b-41d4-a716-446655440000"));
  assert_false(idem_key_valid("tab\there"));
  assert_false(idem_key_valid("new\nline"));
  assert_false(idem_key_valid("del\x7f"));
  assert_false(idem_key_valid("caf\xc3\xa9")); /* non-ASCII */

  /* An invalid key never reaches the database. */
  idem_state st;
  assert_int_equal(idem_lookup(f->d, f->profile, "", "op", body, strlen(body),
                               &st, NULL, NULL, &err),
                   -1);
  assert_string_equal(err.code, "22023");
  assert_int_equal(idem_store(f->d, f->profile, "bad\x01", "op", body,
                              strlen(body), 200, "{}", &err),
                   -1);
  assert_string_equal(err.code, "22023");
  assert_int_equal(idem_store(f->d, f->profile, key, "op", body, strlen(body),
                              200, "{}", &err),
                   -1);
  assert_string_equal(err.code, "22023");
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_new_replay_mismatch, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_rollback_leaves_no_key, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_second_store_is_unique_violation,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_key_validation, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
