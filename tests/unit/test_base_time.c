/* test_base_time.c - timestamps, dates and the calendar (src/base/timeutil.c).
 *
 * The calendar code is checked against fixed known dates and by round trips
 * over the whole supported range; parsing is checked for every accepted
 * form, time zone arithmetic across day, month and year edges, and the
 * impossible dates that must be refused rather than normalised. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"

static void assert_ts(const char *in, const char *want) {
  int64_t t = 0;
  if (ts_parse(in, &t)) fail_msg("refused %s", in);
  char out[TS_TEXT_LEN + 1];
  ts_format(t, out);
  if (strcmp(out, want) != 0) fail_msg("%s -> %s, want %s", in, out, want);
}

static void assert_ts_refused(const char *in) {
  int64_t t = 77;
  if (ts_parse(in, &t) == 0) fail_msg("accepted %s", in);
  assert_int_equal(t, 77);
}

static void test_civil(void **state) {
  (void)state;
  assert_int_equal(days_from_civil(1970, 1, 1), 0);
  assert_int_equal(days_from_civil(1970, 1, 2), 1);
  assert_int_equal(days_from_civil(1969, 12, 31), -1);
  assert_int_equal(days_from_civil(2000, 1, 1), 10957);
  assert_int_equal(days_from_civil(2000, 3, 1), 11017);
  assert_int_equal(days_from_civil(2026, 11, 24), 20781);
  assert_int_equal(days_from_civil(1, 1, 1), -719162);
  assert_int_equal(days_from_civil(9999, 12, 31), 2932896);
  assert_int_equal(days_from_civil(1600, 2, 29) + 1,
                   days_from_civil(1600, 3, 1));
  assert_int_equal(days_from_civil(-1, 12, 31) + 1, days_from_civil(0, 1, 1));

  int64_t y;
  unsigned m, d;
  civil_from_days(0, &y, &m, &d);
  assert_true(y == 1970 && m == 1 && d == 1);
  civil_from_days(-1, &y, &m, &d);
  assert_true(y == 1969 && m == 12 && d == 31);
  civil_from_days(11016, &y, &m, &d);
  assert_true(y == 2000 && m == 2 && d == 29);
  civil_from_days(-719162, &y, &m, &d);
  assert_true(y == 1 && m == 1 && d == 1);

  /* Round trip and strict succession over years -400 .. 10400. */
  int64_t prev_y = -401;
  unsigned prev_m = 12, prev_d = 31;
  for (int64_t z = days_from_civil(-400, 1, 1);
       z <= days_from_civil(10400, 12, 31); z++) {
    civil_from_days(z, &y, &m, &d);
    assert_true(days_from_civil(y, m, d) == z);
    if (d == 1) {
      assert_true(m == 1 ? (y == prev_y + 1 && prev_m == 12 && prev_d == 31)
                         : (y == prev_y && m == prev_m + 1 && prev_d >= 28));
    } else {
      assert_true(y == prev_y && m == prev_m && d == prev_d + 1);
    }
    prev_y = y;
    prev_m = m;
    prev_d = d;
  }
}

static void test_dates(void **state) {
  (void)state;
  int32_t d = 0;
  assert_int_equal(date_parse("1970-01-01", &d), 0);
  assert_int_equal(d, 0);
  assert_int_equal(date_parse("2026-11-24", &d), 0);
  assert_int_equal(d, 20781);
  char out[11];
  date_format(d, out);
  assert_string_equal(out, "2026-11-24");
  date_format(-1, out);
  assert_string_equal(out, "1969-12-31");
  date_format(-719162, out);
  assert_string_equal(out, "0001-01-01");

  /* Leap years: divisible by 4, except centuries, except every 400. */
  assert_int_equal(date_parse("2024-02-29", &d), 0);
  assert_int_equal(date_parse("2000-02-29", &d), 0);
  assert_int_equal(date_parse("1600-02-29", &d), 0);
  assert_int_equal(date_parse("2023-02-29", &d), -1);
  assert_int_equal(date_parse("1900-02-29", &d), -1);
  assert_int_equal(date_parse("2100-02-29", &d), -1);
  assert_int_equal(date_parse("2024-02-30", &d), -1);

  const char *bad[] = {"2026-04-31",  "2026-06-31",       "2026-09-31",
                       "2026-11-31",  "2026-13-01",       "2026-00-10",
                       "2026-01-00",  "2026-01-32",       "0000-01-01",
                       "26-11-24",    "2026-1-24",        "2026-11-4",
                       "2026/11/24",  "2026-11-24T00:00", "2026-11-24 ",
                       " 2026-11-24", "20261124",         "",
                       "2026-11-2x",  "+2026-11-24",      "-2026-11-24",
                       "12026-11-24"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    d = 99;
    if (date_parse(bad[i], &d) == 0) fail_msg("accepted date %s", bad[i]);
    assert_int_equal(d, 99);
  }
  assert_int_equal(date_parse(NULL, &d), -1);

  /* Every valid day of 1999..2101 parses back from its own text. */
  for (int32_t z = (int32_t)days_from_civil(1999, 1, 1);
       z <= (int32_t)days_from_civil(2101, 12, 31); z++) {
    date_format(z, out);
    int32_t back;
    assert_int_equal(date_parse(out, &back), 0);
    assert_int_equal(back, z);
  }
}

static void test_ts_forms(void **state) {
  (void)state;
  assert_ts("2026-11-24", "2026-11-24T00:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00", "2026-11-24T20:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00Z", "2026-11-24T20:00:00.000000+00:00");
  assert_ts("2026-11-24t20:00:00z", "2026-11-24T20:00:00.000000+00:00");
  assert_ts("2026-11-24 20:00:00", "2026-11-24T20:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00.1Z", "2026-11-24T20:00:00.100000+00:00");
  assert_ts("2026-11-24T20:00:00.123Z", "2026-11-24T20:00:00.123000+00:00");
  assert_ts("2026-11-24T20:00:00.123456Z", "2026-11-24T20:00:00.123456+00:00");
  assert_ts("2026-11-24T20:00:00.000001", "2026-11-24T20:00:00.000001+00:00");
  assert_ts("2026-11-24 20:00:00+00", "2026-11-24T20:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00.123456+00:00",
            "2026-11-24T20:00:00.123456+00:00");
  assert_ts("2026-11-24T23:59:59.999999Z", "2026-11-24T23:59:59.999999+00:00");
}

static void test_ts_zones(void **state) {
  (void)state;
  assert_ts("2026-11-24 20:00:00.5+05:30", "2026-11-24T14:30:00.500000+00:00");
  assert_ts("2026-11-24T20:00:00+0530", "2026-11-24T14:30:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00+05", "2026-11-24T15:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00+05:30", "2026-11-24T14:30:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00-08:00", "2026-11-25T04:00:00.000000+00:00");
  assert_ts("2026-11-24T20:00:00-00:00", "2026-11-24T20:00:00.000000+00:00");
  /* Across a day, a month, a year, and a leap day. */
  assert_ts("2026-01-01T02:00:00+05:30", "2025-12-31T20:30:00.000000+00:00");
  assert_ts("2026-12-31T22:00:00-03:00", "2027-01-01T01:00:00.000000+00:00");
  assert_ts("2024-02-28T23:00:00-02:00", "2024-02-29T01:00:00.000000+00:00");
  assert_ts("2024-03-01T00:30:00+01:00", "2024-02-29T23:30:00.000000+00:00");
  assert_ts("2023-03-01T00:30:00+01:00", "2023-02-28T23:30:00.000000+00:00");
  assert_ts("2026-11-24T00:00:00+23:59", "2026-11-23T00:01:00.000000+00:00");
  assert_ts("2026-11-24T00:00:00-23:59", "2026-11-24T23:59:00.000000+00:00");
}

static void test_ts_refused(void **state) {
  (void)state;
  const char *bad[] = {
      "",               /* empty */
      "2026-11-24T",    /* separator, no time */
      "2026-11-24T20",  /* hour only */
      "2026-11-24T20:", /* no minutes */
      "2026-11-24T20:0",
      "2026-11-24T24:00", /* hour 24 */
      "2026-11-24T20:60",
      "2026-11-24T20:00:60",         /* no leap seconds */
      "2026-11-24T20:00:00.",        /* dot without digits */
      "2026-11-24T20:00:00.1234567", /* finer than microseconds */
      "2026-11-24T20:00:00,5",
      "2026-11-24T20:00:00ZZ",
      "2026-11-24T20:00:00 Z",
      "2026-11-24T20:00:00+5",
      "2026-11-24T20:00:00+05:3",
      "2026-11-24T20:00:00+053",
      "2026-11-24T20:00:00+24:00",
      "2026-11-24T20:00:00+05:60",
      "2026-11-24T20:00:00+05:30:00",
      "2026-11-24T20:00:00UTC",
      "2026-11-24T20:00:00 +05:30",
      "2026-11-24_20:00:00",
      "2026-11-24Z",
      "2026-02-30T00:00:00Z",
      "2023-02-29",
      "2026-11-24T-1:00",
      "2026-11-24T2a:00",
      "0000-01-01T00:00:00Z",
      "0001-01-01T00:00:00+00:01", /* before year 1 once in UTC */
      "9999-12-31T23:59:59-00:01", /* after 9999 once in UTC */
      "now",
      "1732478400",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_ts_refused(bad[i]);
  int64_t t;
  assert_int_equal(ts_parse(NULL, &t), -1);
  /* The edges themselves are fine. */
  assert_ts("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000+00:00");
  assert_ts("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999+00:00");
}

static void test_ts_format(void **state) {
  (void)state;
  char out[TS_TEXT_LEN + 1];
  ts_format(0, out);
  assert_string_equal(out, "1970-01-01T00:00:00.000000+00:00");
  assert_int_equal(strlen(out), TS_TEXT_LEN);
  ts_format(-1, out);
  assert_string_equal(out, "1969-12-31T23:59:59.999999+00:00");
  ts_format(-1000000, out);
  assert_string_equal(out, "1969-12-31T23:59:59.000000+00:00");
  ts_format(1795550400123456LL, out);
  assert_string_equal(out, "2026-11-24T20:00:00.123456+00:00");
  /* Out-of-range values clamp instead of breaking the fixed width. */
  ts_format(INT64_MAX, out);
  assert_string_equal(out, "9999-12-31T23:59:59.999999+00:00");
  ts_format(INT64_MIN, out);
  assert_string_equal(out, "0001-01-01T00:00:00.000000+00:00");

  /* Text order is time order. */
  int64_t ts[] = {
      -86400000001LL,      -1, 0, 1, 999999, 1000000, 1795550400123456LL,
      253402300799999999LL};
  for (size_t i = 1; i < sizeof ts / sizeof ts[0]; i++) {
    char a[TS_TEXT_LEN + 1], b[TS_TEXT_LEN + 1];
    ts_format(ts[i - 1], a);
    ts_format(ts[i], b);
    assert_true(strcmp(a, b) < 0);
    int64_t back;
    assert_int_equal(ts_parse(b, &back), 0);
    assert_true(back == ts[i]);
  }
  /* Round trip through text, sampled over the range. */
  for (int64_t t = -62135596800000000LL; t < 253402300800000000LL;
       t += 9999999999937LL) {
    ts_format(t, out);
    int64_t back;
    assert_int_equal(ts_parse(out, &back), 0);
    assert_true(back == t);
  }
}

static void test_clocks(void **state) {
  (void)state;
  int64_t now = time_now_us();
  int64_t y2024 = days_from_civil(2024, 1, 1) * 86400LL * 1000000;
  assert_true(now > y2024);
  int64_t m1 = time_mono_us();
  int64_t m2 = time_mono_us();
  assert_true(m2 >= m1);
  assert_true(m1 > 0);
}

int main(void) {
  /* Nothing here may depend on the local zone. */
  setenv("TZ", "Asia/Kolkata", 1);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_civil),      cmocka_unit_test(test_dates),
      cmocka_unit_test(test_ts_forms),   cmocka_unit_test(test_ts_zones),
      cmocka_unit_test(test_ts_refused), cmocka_unit_test(test_ts_format),
      cmocka_unit_test(test_clocks),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
