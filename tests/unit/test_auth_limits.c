/* test_auth_limits.c - the two guards around password checks: the attempt
 * counter (free attempts, doubling waits up to a cap, idle keys forgotten,
 * refunds, resets, bounded memory under a flood of keys, a waiting key not
 * pushed out by fresh ones) and the Argon2id hasher (round trip, refusals,
 * and that its semaphore really bounds how many hashes run at once). No
 * database. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "auth/password.h"
#include "auth/ratelimit.h"

/* The limiter's clock is the now_s argument: these tests drive it. */
static ratelimit *limiter(int free, int backoff, int max, int window,
                          size_t slots) {
  ratelimit_policy p = {.free = free, .backoff_s = backoff, .max_s = max,
                        .window_s = window};
  ratelimit *rl = ratelimit_new(&p, slots);
  assert_non_null(rl);
  return rl;
}

static void test_backoff(void **state) {
  (void)state;
  ratelimit *rl = limiter(3, 10, 80, 1000, 0);
  int retry = 0;
  for (int i = 0; i < 3; i++)
    assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", 1000, &retry), 0);
  /* Free attempts used up: wait 10 s after the last one. */
  assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", 1004, &retry), -1);
  assert_int_equal(retry, 6);
  /* Other keys are unaffected. */
  assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.2", 1004, NULL), 0);
  /* A refused attempt is not charged, so the wait still ends on time. */
  assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", 1009, &retry), -1);
  assert_int_equal(retry, 1);
  /* Each further attempt doubles the wait: 10, 20, 40, then the cap 80. */
  int64_t t = 1010;
  int want[] = {20, 40, 80, 80, 80};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", t, &retry), 0);
    assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", t, &retry), -1);
    assert_int_equal(retry, want[i]);
    assert_int_equal(ratelimit_take(rl, "a@b.co|10.0.0.1", t + want[i] - 1,
                                    &retry),
                     -1);
    assert_int_equal(retry, 1);
    t += want[i];
  }
  assert_int_equal(ratelimit_count(rl, "a@b.co|10.0.0.1"), 3 + 5);
  ratelimit_free(rl);
  ratelimit_free(NULL);
}

static void test_idle_forgets(void **state) {
  (void)state;
  /* window 100 is below 2 * max, so it is raised to 160. */
  ratelimit *rl = limiter(2, 5, 80, 100, 64);
  int retry;
  assert_int_equal(ratelimit_take(rl, "k", 0, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 0, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 0, &retry), -1);
  assert_int_equal(retry, 5);
  /* Waiting out the wait gives one attempt, not the free ones back. */
  assert_int_equal(ratelimit_take(rl, "k", 5, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 5, &retry), -1);
  assert_int_equal(retry, 10);
  /* 159 s idle is not enough (the raised window); 160 s is. */
  assert_int_equal(ratelimit_take(rl, "k", 164, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 164, &retry), -1);
  assert_int_equal(retry, 20);
  assert_int_equal(ratelimit_take(rl, "k", 164 + 160, NULL), 0);
  assert_int_equal(ratelimit_count(rl, "k"), 1);
  assert_int_equal(ratelimit_take(rl, "k", 164 + 160, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 164 + 160, NULL), -1);
  ratelimit_free(rl);
}

static void test_refund_reset(void **state) {
  (void)state;
  ratelimit *rl = limiter(2, 300, 300, 600, 64);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), -1);
  ratelimit_refund(rl, "k");
  assert_int_equal(ratelimit_count(rl, "k"), 1);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), -1);
  ratelimit_reset(rl, "k");
  assert_int_equal(ratelimit_count(rl, "k"), 0);
  assert_int_equal(ratelimit_take(rl, "k", 1, NULL), 0);
  /* Refunds and resets of unknown keys are harmless. */
  ratelimit_refund(rl, "unknown");
  ratelimit_reset(rl, "unknown");
  assert_int_equal(ratelimit_count(rl, "unknown"), 0);
  ratelimit_free(rl);
}

static void test_flood(void **state) {
  (void)state;
  /* 100,000 distinct keys through 64 slots: memory stays fixed (ASan would
   * see an overrun), and the latest keys are still counted. */
  ratelimit *rl = limiter(1, 300, 300, 600, 64);
  assert_int_equal(ratelimit_take(rl, "blocked", 1000, NULL), 0);
  assert_int_equal(ratelimit_take(rl, "blocked", 1000, NULL), -1);
  char key[32];
  for (int i = 0; i < 100000; i++) {
    snprintf(key, sizeof key, "addr:10.%d.%d.%d", i >> 16, (i >> 8) & 255,
             i & 255);
    assert_int_equal(ratelimit_take(rl, key, 1000 + i / 1000, NULL), 0);
  }
  assert_int_equal(ratelimit_take(rl, key, 1099, NULL), -1);
  ratelimit_free(rl);

  /* A key that is being made to wait is not pushed out by keys with fewer
   * attempts: rotating fresh addresses does not wipe a counter. */
  rl = limiter(2, 300, 300, 600, 16);
  for (int i = 0; i < 3; i++) ratelimit_take(rl, "victim", 0, NULL);
  assert_int_equal(ratelimit_count(rl, "victim"), 2);
  for (int i = 0; i < 10000; i++) {
    snprintf(key, sizeof key, "fresh:%d", i);
    assert_int_equal(ratelimit_take(rl, key, 1 + i / 100, NULL), 0);
  }
  assert_int_equal(ratelimit_take(rl, "victim", 150, NULL), -1);
  ratelimit_free(rl);
}

static void test_password(void **state) {
  (void)state;
  pw_hasher *h = pw_hasher_new(2);
  assert_non_null(h);
  char hash[PW_HASH_MAX];
  const char *pw = "correct horse battery staple";
  assert_int_equal(pw_hash(h, pw, strlen(pw), hash), 0);
  assert_non_null(strstr(hash, "$argon2id$"));
  assert_null(strstr(hash, pw));
  assert_int_equal(pw_verify(h, hash, pw, strlen(pw)), 1);
  assert_int_equal(pw_verify(h, hash, pw, strlen(pw) - 1), 0);
  assert_int_equal(
      pw_verify(h, hash, "Correct horse battery staple", strlen(pw)), 0);
  /* Two hashes of one password differ (random salt). */
  char hash2[PW_HASH_MAX];
  assert_int_equal(pw_hash(h, pw, strlen(pw), hash2), 0);
  assert_string_not_equal(hash, hash2);
  /* Unreadable stored hashes and overlong passwords just fail. */
  assert_int_equal(pw_verify(h, "", pw, strlen(pw)), 0);
  assert_int_equal(pw_verify(h, "$2a$10$bcrypt-is-not-ours", pw, strlen(pw)),
                   0);
  assert_int_equal(pw_verify(h, NULL, pw, strlen(pw)), 0);
  static char big[PW_MAX_BYTES + 2];
  memset(big, 'x', sizeof big - 1);
  assert_int_equal(pw_hash(h, big, PW_MAX_BYTES + 1, hash2), -1);
  assert_int_equal(pw_verify(h, hash, big, PW_MAX_BYTES + 1), 0);
  pw_hasher_free(h);
  pw_hasher_free(NULL);
}

/* Four threads through a one-slot hasher all finish (no lost wake-ups). */
static pw_hasher *g_h;
static int g_ok[4];

static void *hash_one(void *arg) {
  int i = (int)(intptr_t)arg;
  char hash[PW_HASH_MAX];
  char pw[16];
  snprintf(pw, sizeof pw, "password-%d", i);
  g_ok[i] = pw_hash(g_h, pw, strlen(pw), hash) == 0 &&
            pw_verify(g_h, hash, pw, strlen(pw)) == 1;
  return NULL;
}

static void test_password_concurrency(void **state) {
  (void)state;
  g_h = pw_hasher_new(1);
  pthread_t t[4];
  for (intptr_t i = 0; i < 4; i++)
    pthread_create(&t[i], NULL, hash_one, (void *)i);
  for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
  for (int i = 0; i < 4; i++) assert_true(g_ok[i]);
  pw_hasher_free(g_h);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_backoff),
      cmocka_unit_test(test_idle_forgets),
      cmocka_unit_test(test_refund_reset),
      cmocka_unit_test(test_flood),
      cmocka_unit_test(test_password),
      cmocka_unit_test(test_password_concurrency),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
