/* test_base_dec.c - exact decimal parsing and formatting (src/base/dec.c).
 *
 * Money is the point: every accepted text must give exactly the paise it
 * spells, nothing is ever rounded, and the int64 edges neither overflow nor
 * wrap. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/dec.h"

static int parse(const char *s, int scale, int64_t *out) {
  return dec_parse(s, strlen(s), scale, out);
}

static void assert_parses(const char *s, int scale, int64_t want) {
  int64_t v = 0;
  if (parse(s, scale, &v)) fail_msg("refused %s (scale %d)", s, scale);
  if (v != want)
    fail_msg("%s (scale %d): got %lld, want %lld", s, scale, (long long)v,
             (long long)want);
}

static void assert_refused(const char *s, int scale) {
  int64_t v = 12345;
  if (parse(s, scale, &v) == 0) fail_msg("accepted %s (scale %d)", s, scale);
  assert_int_equal(v, 12345);
}

static void assert_formats(int64_t v, int scale, const char *want) {
  char out[DEC_MAX_TEXT];
  int n = dec_format(v, scale, out);
  assert_string_equal(out, want);
  assert_int_equal(n, (int)strlen(want));
}

static void test_parse_money(void **state) {
  (void)state;
  assert_parses("0", 2, 0);
  assert_parses("-0", 2, 0);
  assert_parses("-0.00", 2, 0);
  assert_parses("12", 2, 1200);
  assert_parses("12.5", 2, 1250);
  assert_parses("12.50", 2, 1250);
  assert_parses("12.05", 2, 1205);
  assert_parses("0.05", 2, 5);
  assert_parses("0.49", 2, 49);
  assert_parses("0.50", 2, 50);
  assert_parses("-0.50", 2, -50);
  assert_parses("-0.49", 2, -49);
  assert_parses("1.500", 2, 150); /* trailing zeros past the scale */
  assert_parses("1.50000000000000000000000", 2, 150);
  assert_parses("007.10", 2, 710); /* leading zeros are harmless */
  assert_parses("99999999999.99", 2, 9999999999999LL);

  assert_refused("0.499", 2); /* would need rounding */
  assert_refused("0.495", 2);
  assert_refused("0.001", 2);
  assert_refused("1.5001", 2);
  assert_refused("1.50000000000000000000001", 2);
}

static void test_parse_malformed(void **state) {
  (void)state;
  const char *bad[] = {"",    "-",   "+1",       "+0.5",  ".5",   "-.5", "1.",
                       "-1.", ".",   "1..2",     "1.2.3", "1e2",  "1E2", " 1",
                       "1 ",  "1,5", "1_000",    "--1",   "0x10", "abc", "1a",
                       "NaN", "inf", "\xd9\xa1", "- 1",   "1-"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_refused(bad[i], 2);
  int64_t v;
  /* Embedded NUL within the given length. */
  assert_int_equal(dec_parse("1\0002", 3, 0, &v), -1);
  /* Only the given length is read. */
  assert_int_equal(dec_parse("12.5xyz", 4, 2, &v), 0);
  assert_int_equal(v, 1250);
  assert_int_equal(dec_parse(NULL, 0, 2, &v), -1);
}

static void test_parse_scales(void **state) {
  (void)state;
  assert_parses("2.5", 3, 2500); /* 2.5 kg in grams */
  assert_parses("0.001", 3, 1);
  assert_parses("18", 2, 1800);
  assert_parses("42", 0, 42);
  assert_parses("42.000", 0, 42);
  assert_refused("42.1", 0);
  assert_parses("0.000000000000000001", 18, 1);
  assert_parses("9.223372036854775807", 18, INT64_MAX);
  assert_refused("10", 18);
  assert_refused("1", 19);
  assert_refused("1", -1);
}

static void test_parse_range(void **state) {
  (void)state;
  assert_parses("9223372036854775807", 0, INT64_MAX);
  assert_parses("-9223372036854775808", 0, INT64_MIN);
  assert_parses("92233720368547758.07", 2, INT64_MAX);
  assert_parses("-92233720368547758.08", 2, INT64_MIN);
  assert_parses("00000000000000000000000009223372036854775807", 0, INT64_MAX);
  assert_refused("9223372036854775808", 0);
  assert_refused("-9223372036854775809", 0);
  assert_refused("92233720368547758.08", 2);
  assert_refused("-92233720368547758.09", 2);
  assert_refused("92233720368547759", 2);    /* overflows only when scaled */
  assert_refused("18446744073709551616", 0); /* 2^64 wraps uint64 */
  assert_refused("18446744073709551615", 0);
  assert_refused("99999999999999999999999999999999999999", 0);
  assert_refused("-99999999999999999999999999999999999999", 2);
}

static void test_format(void **state) {
  (void)state;
  assert_formats(0, 2, "0.00");
  assert_formats(1250, 2, "12.50");
  assert_formats(5, 2, "0.05");
  assert_formats(-5, 2, "-0.05");
  assert_formats(-50, 2, "-0.50");
  assert_formats(-1250, 2, "-12.50");
  assert_formats(2500, 3, "2.500");
  assert_formats(42, 0, "42");
  assert_formats(-42, 0, "-42");
  assert_formats(INT64_MAX, 2, "92233720368547758.07");
  assert_formats(INT64_MIN, 2, "-92233720368547758.08");
  assert_formats(INT64_MIN, 0, "-9223372036854775808");
  assert_formats(INT64_MIN, 18, "-9.223372036854775808");
  assert_formats(1, 18, "0.000000000000000001");
  char out[DEC_MAX_TEXT];
  assert_int_equal(dec_format(1, 19, out), -1);
  assert_string_equal(out, "");
  assert_int_equal(dec_format(1, -1, out), -1);
}

static void test_roundtrip(void **state) {
  (void)state;
  const int64_t samples[] = {0,
                             1,
                             -1,
                             49,
                             50,
                             99,
                             100,
                             -101,
                             123456789,
                             -987654321,
                             INT64_MAX,
                             INT64_MIN,
                             INT64_MAX - 1,
                             INT64_MIN + 1};
  for (int scale = 0; scale <= 18; scale++) {
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
      char out[DEC_MAX_TEXT];
      int n = dec_format(samples[i], scale, out);
      assert_true(n > 0 && n < DEC_MAX_TEXT);
      int64_t back = 0;
      assert_int_equal(dec_parse(out, (size_t)n, scale, &back), 0);
      assert_true(back == samples[i]);
    }
  }
  /* Every paise value from -10.00 to 10.00. */
  for (int64_t v = -1000; v <= 1000; v++) {
    char out[DEC_MAX_TEXT];
    int n = dec_format(v, 2, out);
    int64_t back = 0;
    assert_int_equal(dec_parse(out, (size_t)n, 2, &back), 0);
    assert_true(back == v);
  }
}

/* Extra fractional zeros are taken (PostgreSQL prints numeric(14,4) as
 * "12.5000"); a digit that would need rounding is refused. */
static void test_parse_zeros(void **state) {
  (void)state;
  int64_t v = 0;
  assert_int_equal(dec_parse_zeros("12.5000", 7, 2, &v), 0);
  assert_int_equal(v, 1250);
  assert_int_equal(dec_parse_zeros("12.000", 6, 0, &v), 0);
  assert_int_equal(v, 12);
  assert_int_equal(dec_parse_zeros("-0.10", 5, 1, &v), 0);
  assert_int_equal(v, -1);
  assert_int_equal(dec_parse_zeros("12.501", 6, 2, &v), -1);
  assert_int_equal(dec_parse_zeros("12.5", 4, 2, &v), 0);
  assert_int_equal(v, 1250);
  assert_int_equal(dec_parse_zeros("x", 1, 2, &v), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse_money),
      cmocka_unit_test(test_parse_malformed),
      cmocka_unit_test(test_parse_scales),
      cmocka_unit_test(test_parse_range),
      cmocka_unit_test(test_format),
      cmocka_unit_test(test_roundtrip),
      cmocka_unit_test(test_parse_zeros),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
