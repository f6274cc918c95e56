/* test_biz_words.c - amounts in words and in Indian figures
 * (src/biz/words.c), as the total of a GST invoice states them.
 *
 * The expected words are written out by hand for each unit boundary (ten,
 * hundred, thousand, lakh, crore, crores above ninety-nine), for paise
 * alone, rupees alone, both, zero and the largest money value; out of range
 * amounts are refused and leave the buffer as it was. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "biz/gst.h"
#include "biz/words.h"

static void words_is(int64_t paise, const char *want) {
  buf b;
  buf_init(&b, 0);
  assert_int_equal(biz_amount_words(&b, paise), 0);
  if (strcmp(buf_cstr(&b), want))
    fail_msg("%lld paise: got \"%s\", want \"%s\"", (long long)paise,
             buf_cstr(&b), want);
  buf_free(&b);
}

static void test_small(void **state) {
  (void)state;
  words_is(0, "Rupees Zero Only");
  words_is(100, "Rupees One Only");
  words_is(1, "One Paise Only");
  words_is(50, "Fifty Paise Only");
  words_is(99, "Ninety-Nine Paise Only");
  words_is(1100, "Rupees Eleven Only");
  words_is(1900, "Rupees Nineteen Only");
  words_is(2000, "Rupees Twenty Only");
  words_is(2105, "Rupees Twenty-One and Five Paise Only");
  words_is(10000, "Rupees One Hundred Only");
  words_is(10100, "Rupees One Hundred One Only");
  words_is(99999, "Rupees Nine Hundred Ninety-Nine and Ninety-Nine Paise Only");
}

static void test_indian_units(void **state) {
  (void)state;
  words_is(100000, "Rupees One Thousand Only");
  words_is(100100, "Rupees One Thousand One Only");
  words_is(1180000, "Rupees Eleven Thousand Eight Hundred Only");
  words_is(9999900, "Rupees Ninety-Nine Thousand Nine Hundred Ninety-Nine Only");
  words_is(10000000, "Rupees One Lakh Only");
  /* The example. */
  words_is(12345650,
           "Rupees One Lakh Twenty-Three Thousand Four Hundred Fifty-Six and "
           "Fifty Paise Only");
  words_is(10000100, "Rupees One Lakh One Only");
  words_is(999999900,
           "Rupees Ninety-Nine Lakh Ninety-Nine Thousand Nine Hundred "
           "Ninety-Nine Only");
  words_is(1000000000, "Rupees One Crore Only");
  words_is(1000000001, "Rupees One Crore and One Paise Only");
  words_is(1020304000,
           "Rupees One Crore Two Lakh Three Thousand Forty Only");
  words_is(999000000000LL, "Rupees Nine Hundred Ninety-Nine Crore Only");
  words_is(99900000000LL, "Rupees Ninety-Nine Crore Ninety Lakh Only");
  /* Crores above ninety-nine are counted in lakh and thousand. */
  words_is(12345678901234LL,
           "Rupees Twelve Thousand Three Hundred Forty-Five Crore Sixty-Seven "
           "Lakh Eighty-Nine Thousand Twelve and Thirty-Four Paise Only");
  words_is(GST_MONEY_MAX,
           "Rupees Ninety-Nine Thousand Nine Hundred Ninety-Nine Crore "
           "Ninety-Nine Lakh Ninety-Nine Thousand Nine Hundred Ninety-Nine "
           "and Ninety-Nine Paise Only");
}

static void test_refusals(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, "x");
  assert_int_equal(biz_amount_words(&b, -1), -1);
  assert_int_equal(biz_amount_words(&b, GST_MONEY_MAX + 1), -1);
  assert_string_equal(buf_cstr(&b), "x");
  buf_free(&b);
  /* A cap too small for the words: refused whole, nothing half written. */
  buf_init(&b, 10);
  assert_int_equal(biz_amount_words(&b, 12345650), -1);
  assert_int_equal((int)b.len, 0);
  buf_free(&b);
}

static void figures_is(int64_t paise, const char *want) {
  buf b;
  buf_init(&b, 0);
  biz_amount_indian(&b, paise);
  assert_string_equal(buf_cstr(&b), want);
  buf_free(&b);
}

static void test_figures(void **state) {
  (void)state;
  figures_is(0, "0.00");
  figures_is(5, "0.05");
  figures_is(99999, "999.99");
  figures_is(100000, "1,000.00");
  figures_is(10000000, "1,00,000.00");
  figures_is(123456789, "12,34,567.89");
  figures_is(1000000000, "1,00,00,000.00");
  figures_is(GST_MONEY_MAX, "9,99,99,99,99,999.99");
  figures_is(-118000, "-1,180.00");
  figures_is(-50, "-0.50");
  figures_is(INT64_MIN, "-92,23,37,20,36,85,47,758.08");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_small),
      cmocka_unit_test(test_indian_units),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_figures),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
