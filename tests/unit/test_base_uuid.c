/* test_base_uuid.c - UUIDv7 generation and normalisation (src/base/uuid.c).
 *
 * Checks the RFC 9562 layout (version, variant, timestamp), that ids from
 * one process strictly increase even many per millisecond, and that threads
 * generating at once never collide. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/uuid.h"

static void assert_layout(const char *u) {
  assert_int_equal(strlen(u), UUID_STR_LEN);
  for (int i = 0; i < UUID_STR_LEN; i++) {
    if (i == 8 || i == 13 || i == 18 || i == 23)
      assert_int_equal(u[i], '-');
    else
      assert_true((u[i] >= '0' && u[i] <= '9') || (u[i] >= 'a' && u[i] <= 'f'));
  }
  assert_int_equal(u[14], '7');           /* version */
  assert_non_null(strchr("89ab", u[19])); /* variant 10 */
}

static uint64_t ts_ms_of(const char *u) {
  char hex[13];
  memcpy(hex, u, 8);
  memcpy(hex + 8, u + 9, 4);
  hex[12] = '\0';
  return strtoull(hex, NULL, 16);
}

static void test_layout(void **state) {
  (void)state;
  uint64_t before = (uint64_t)(time_now_us() / 1000);
  char u[UUID_STR_LEN + 1];
  uuid_v7(u);
  uint64_t after = (uint64_t)(time_now_us() / 1000);
  assert_layout(u);
  uint64_t ms = ts_ms_of(u);
  /* The counter may have run the clock ahead by a little, never behind. */
  assert_true(ms >= before);
  assert_true(ms <= after + 1);
  char n[UUID_STR_LEN + 1];
  assert_int_equal(uuid_normalize(u, n), 0);
  assert_string_equal(n, u);
}

static int cmp_str(const void *a, const void *b) {
  return strcmp((const char *)a, (const char *)b);
}

static void test_ordered_unique(void **state) {
  (void)state;
  enum { N = 10000 };
  char(*ids)[UUID_STR_LEN + 1] = malloc(sizeof *ids * N);
  for (int i = 0; i < N; i++) {
    uuid_v7(ids[i]);
    if (i) assert_layout(ids[i]);
    if (i && strcmp(ids[i - 1], ids[i]) >= 0)
      fail_msg("not increasing at %d: %s then %s", i, ids[i - 1], ids[i]);
  }
  /* Many fell in the same millisecond, so the counter was exercised. */
  assert_true(ts_ms_of(ids[N - 1]) - ts_ms_of(ids[0]) < N);
  /* The 48 random tail bits differ between neighbours. */
  int same_tail = 0;
  for (int i = 1; i < N; i++)
    if (strcmp(ids[i - 1] + 24, ids[i] + 24) == 0) same_tail++;
  assert_true(same_tail < 3);
  free(ids);
}

enum { THREADS = 8, PER_THREAD = 5000 };
static char thread_ids[THREADS * PER_THREAD][UUID_STR_LEN + 1];

static void *gen_thread(void *arg) {
  intptr_t t = (intptr_t)arg;
  for (int i = 0; i < PER_THREAD; i++) uuid_v7(thread_ids[t * PER_THREAD + i]);
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t th[THREADS];
  for (intptr_t t = 0; t < THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, gen_thread, (void *)t), 0);
  for (int t = 0; t < THREADS; t++) pthread_join(th[t], NULL);
  /* Each thread saw its own ids increase. */
  for (int t = 0; t < THREADS; t++)
    for (int i = 1; i < PER_THREAD; i++)
      assert_true(strcmp(thread_ids[t * PER_THREAD + i - 1],
                         thread_ids[t * PER_THREAD + i]) < 0);
  /* And no id appears twice across all of them. */
  qsort(thread_ids, THREADS * PER_THREAD, sizeof thread_ids[0], cmp_str);
  for (int i = 1; i < THREADS * PER_THREAD; i++)
    if (strcmp(thread_ids[i - 1], thread_ids[i]) == 0)
      fail_msg("duplicate id %s", thread_ids[i]);
}

static void test_normalize(void **state) {
  (void)state;
  char out[UUID_STR_LEN + 1];
  assert_int_equal(uuid_normalize("0190F3A1-7B2C-7D4E-8F00-ABCDEFABCDEF", out),
                   0);
  assert_string_equal(out, "0190f3a1-7b2c-7d4e-8f00-abcdefabcdef");
  assert_int_equal(uuid_normalize("00000000-0000-0000-0000-000000000000", out),
                   0);
  assert_string_equal(out, "00000000-0000-0000-0000-000000000000");

  const char *bad[] = {
      "",
      "0190f3a1-7b2c-7d4e-8f00-abcdefabcde",    /* short */
      "0190f3a1-7b2c-7d4e-8f00-abcdefabcdef0",  /* long */
      "0190f3a17b2c7d4e8f00abcdefabcdef",       /* no dashes */
      "{0190f3a1-7b2c-7d4e-8f00-abcdefabcdef}", /* braces */
      "0190f3a1-7b2c-7d4e-8f00_abcdefabcdef",
      "0190f3a1-7b2c-7d4e-8f0-0abcdefabcdef", /* dash misplaced */
      "0190f3g1-7b2c-7d4e-8f00-abcdefabcdef", /* not hex */
      " 0190f3a1-7b2c-7d4e-8f00-abcdefabcdef",
      "0190f3a1-7b2c-7d4e-8f00-abcdefabcde ",
      "urn:uuid:0190f3a1-7b2c-7d4e-8f00-abcdef",
      "' OR 1=1 --",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    memcpy(out, "untouched", 10);
    if (uuid_normalize(bad[i], out) == 0) fail_msg("accepted %s", bad[i]);
    assert_string_equal(out, "untouched");
  }
  assert_int_equal(uuid_normalize(NULL, out), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_layout),
      cmocka_unit_test(test_ordered_unique),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_normalize),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
