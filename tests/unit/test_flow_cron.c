/* test_flow_cron.c - cron schedules and time zones (src/flow/cron.c).
 *
 * Expected instants were worked out by hand from the calendar and the
 * zones' published rules (and agree with Python's zoneinfo): month ends,
 * leap days, the day-of-month / day-of-week rule, and the hours that summer
 * time skips and repeats in New York and London, including years past the
 * last transition a zoneinfo file lists. Needs Debian's tzdata. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "flow/cron.h"

static int64_t T(const char *iso) {
  int64_t t;
  if (ts_parse(iso, &t)) fail_msg("bad fixture time %s", iso);
  return t;
}

static const cron_tz *zone(const char *name) {
  char err[128] = "";
  const cron_tz *tz = cron_tz_get(name, err, sizeof err);
  if (!tz) fail_msg("zone %s: %s", name, err);
  return tz;
}

/* cron_next of expr in zone after `after`, checked against want (or -1). */
static void next_is(const char *expr, const char *zn, const char *after,
                    const char *want) {
  cron_spec s;
  char err[160] = "";
  if (cron_parse(expr, &s, err, sizeof err)) fail_msg("%s: %s", expr, err);
  int64_t got = cron_next(&s, zone(zn), T(after));
  int64_t w = want ? T(want) : -1;
  if (got != w) {
    char g[TS_TEXT_LEN + 1] = "-1";
    if (got >= 0) ts_format(got, g);
    fail_msg("'%s' in %s after %s: got %s, want %s", expr, zn, after, g,
             want ? want : "-1");
  }
}

/* Every run in order from `after`: each is the next after the one before. */
static void runs_are(const char *expr, const char *zn, const char *after,
                     const char *const *want, int n) {
  for (int i = 0; i < n; i++) {
    next_is(expr, zn, i ? want[i - 1] : after, want[i]);
  }
}

static void parse_fails(const char *expr, const char *want) {
  cron_spec s;
  char err[160] = "";
  if (cron_parse(expr, &s, err, sizeof err) == 0)
    fail_msg("accepted '%s'", expr);
  if (!strstr(err, want))
    fail_msg("'%s': error '%s', want '%s'", expr, err, want);
}

static void test_parse(void **state) {
  (void)state;
  cron_spec s;
  char err[160];
  assert_int_equal(
      cron_parse("*/15 9-17 1,15 jan-mar mon-fri", &s, err, sizeof err), 0);
  assert_true(s.minute == (1ULL << 0 | 1ULL << 15 | 1ULL << 30 | 1ULL << 45));
  assert_int_equal(s.hour, 0x3FE00); /* 9..17 */
  assert_int_equal(s.dom, 1u << 1 | 1u << 15);
  assert_int_equal(s.month, 0xE); /* 1..3 */
  assert_int_equal(s.dow, 0x3E);  /* 1..5 */
  assert_false(s.dom_star);
  assert_false(s.dow_star);
  assert_int_equal(cron_parse("  0 0 * * *  ", &s, err, sizeof err), 0);
  assert_true(s.dom_star && s.dow_star);
  assert_int_equal(s.dow, 0x7F);
  assert_int_equal(s.dom, 0xFFFFFFFEu);
  assert_int_equal(cron_parse("0 0 * * 7", &s, err, sizeof err), 0);
  assert_int_equal(s.dow, 1);
  assert_int_equal(cron_parse("0 0 * * SUN", &s, err, sizeof err), 0);
  assert_int_equal(s.dow, 1);
  assert_int_equal(cron_parse("0 0 * * 5-7", &s, err, sizeof err), 0);
  assert_int_equal(s.dow, 1 | 1 << 5 | 1 << 6);
  assert_int_equal(cron_parse("5/20 0-10/5 * * *", &s, err, sizeof err), 0);
  assert_true(s.minute == (1ULL << 5 | 1ULL << 25 | 1ULL << 45));
  assert_int_equal(s.hour, 1 | 1 << 5 | 1 << 10);
  assert_int_equal(cron_parse("0 0 1 Dec *", &s, err, sizeof err), 0);
  assert_int_equal(s.month, 1 << 12);
  assert_int_equal(cron_parse("@daily", &s, err, sizeof err), 0);
  assert_true(s.minute == 1 && s.hour == 1 && s.dom_star && s.dow_star);
  assert_int_equal(cron_parse("@weekly", &s, err, sizeof err), 0);
  assert_int_equal(s.dow, 1);
  assert_int_equal(cron_parse("0 0 29 2 *", &s, err, sizeof err), 0);

  parse_fails("", "needs five fields");
  parse_fails(
      "* * * *",
      "needs five fields (minute hour day-of-month month day-of-week), not 4");
  parse_fails("* * * * * *", "more than five fields");
  parse_fails("60 * * * *", "minute field '60': values run from 0 to 59");
  parse_fails("0 24 * * *", "hour field");
  parse_fails("0 0 0 * *", "day of month field '0'");
  parse_fails("0 0 32 * *", "day of month");
  parse_fails("0 0 * 13 *", "month field");
  parse_fails("0 0 * * 8", "day of week field");
  parse_fails("5-1 * * * *", "a range runs low to high");
  parse_fails("*/0 * * * *", "the step must be 1 to 59");
  parse_fails("*/ * * * *", "minute field '*/' is not understood");
  parse_fails("1,,2 * * * *", "not understood");
  parse_fails("a * * * *", "not understood");
  parse_fails("0 0 * foo *", "month field 'foo'");
  parse_fails("0 0 * * monday", "day of week field 'monday'");
  parse_fails("0 0 30 2 *", "never runs");
  parse_fails("0 0 31 4,6,9,11 *", "never runs");
  parse_fails("@often", "not understood");
  parse_fails("-1 * * * *", "not understood");
}

static void test_next_utc(void **state) {
  (void)state;
  next_is("0 9 * * *", "UTC", "2026-12-01T10:00:00Z", "2026-12-02T09:00:00Z");
  next_is("0 9 * * *", "UTC", "2026-12-01T08:59:59.999999Z",
          "2026-12-01T09:00:00Z");
  /* Strictly after: a run at exactly `after` is not the next one. */
  next_is("0 9 * * *", "UTC", "2026-12-01T09:00:00Z", "2026-12-02T09:00:00Z");
  next_is("*/15 * * * *", "UTC", "2026-12-01T10:07:00Z",
          "2026-12-01T10:15:00Z");
  next_is("*/15 * * * *", "UTC", "2026-12-01T23:59:00Z",
          "2026-12-02T00:00:00Z");
  next_is("* * * * *", "UTC", "2026-12-01T10:07:30Z", "2026-12-01T10:08:00Z");
  /* Month ends: April has no 31st, nor does November. */
  next_is("0 0 31 * *", "UTC", "2026-04-15T00:00:00Z", "2026-05-31T00:00:00Z");
  next_is("0 0 31 * *", "UTC", "2026-10-31T00:00:00Z", "2026-12-31T00:00:00Z");
  next_is("0 0 1 * *", "UTC", "2026-12-31T23:00:00Z", "2027-01-01T00:00:00Z");
  next_is("@yearly", "UTC", "2026-06-01T00:00:00Z", "2027-01-01T00:00:00Z");
  /* Leap years: the next 29 February is in 2028; 2100 has none. */
  next_is("0 12 29 2 *", "UTC", "2026-03-01T00:00:00Z", "2028-02-29T12:00:00Z");
  next_is("0 12 29 2 *", "UTC", "2095-03-01T00:00:00Z", "2096-02-29T12:00:00Z");
  next_is("0 0 28 2 *", "UTC", "2028-02-28T00:00:00Z", "2029-02-28T00:00:00Z");
  /* Beyond five years there is no answer: 2100 is no leap year, so the
   * 29th after 2096 is in 2104. */
  next_is("0 12 29 2 *", "UTC", "2096-03-01T00:00:00Z", NULL);
}

static void test_dom_dow(void **state) {
  (void)state;
  /* Both restricted: the 13th OR a Friday. 1 Dec 2026 is a Tuesday. */
  static const char *const either[] = {
      "2026-12-04T00:00:00Z", "2026-12-11T00:00:00Z", "2026-12-13T00:00:00Z",
      "2026-12-18T00:00:00Z"};
  runs_are("0 0 13 * fri", "UTC", "2026-12-01T00:00:00Z", either, 4);
  /* A day field starting with '*' restricts with AND: odd days that are
   * Fridays. */
  next_is("0 0 */2 * 5", "UTC", "2026-12-01T00:00:00Z", "2026-12-11T00:00:00Z");
  /* 7 and 0 are Sunday. */
  next_is("0 0 * * 7", "UTC", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z");
  next_is("0 0 * * 0", "UTC", "2026-12-01T00:00:00Z", "2026-12-06T00:00:00Z");
  next_is("0 10 * * mon", "Asia/Kolkata", "2026-12-01T00:00:00Z",
          "2026-12-07T04:30:00Z");
  static const char *const weekend[] = {
      "2026-12-04T00:00:00Z", "2026-12-05T00:00:00Z", "2026-12-06T00:00:00Z",
      "2026-12-11T00:00:00Z"};
  runs_are("0 0 * * 5-7", "UTC", "2026-12-01T00:00:00Z", weekend, 4);
  /* The first Monday of the month, the usual way: days 1-7 AND Monday
   * needs the '*' form, so a plain "1-7 * mon" is 1-7 OR Monday. */
  next_is("0 0 1-7 * mon", "UTC", "2026-12-08T00:00:00Z",
          "2026-12-14T00:00:00Z");
}

static void test_kolkata(void **state) {
  (void)state;
  const cron_tz *tz = zone("Asia/Kolkata");
  assert_int_equal(cron_tz_offset(tz, T("2026-12-01T00:00:00Z")), 19800);
  assert_int_equal(cron_tz_offset(tz, T("2040-06-01T00:00:00Z")), 19800);
  /* "roz raat 9 baje": 21:00 IST is 15:30 UTC. */
  next_is("0 21 * * *", "Asia/Kolkata", "2026-12-01T15:00:00Z",
          "2026-12-01T15:30:00Z");
  next_is("0 21 * * *", "Asia/Kolkata", "2026-12-01T15:30:00Z",
          "2026-12-02T15:30:00Z");
  /* Midnight on the 1st in India is still the previous day in UTC. */
  next_is("0 0 1 * *", "Asia/Kolkata", "2026-12-05T00:00:00Z",
          "2026-12-31T18:30:00Z");
  next_is("30 23 31 12 *", "Asia/Kolkata", "2026-01-01T00:00:00Z",
          "2026-12-31T18:00:00Z");
  assert_ptr_equal(zone("Asia/Kolkata"), tz); /* cached */
}

static void test_new_york(void **state) {
  (void)state;
  const cron_tz *ny = zone("America/New_York");
  assert_int_equal(cron_tz_offset(ny, T("2027-01-15T12:00:00Z")), -5 * 3600);
  assert_int_equal(cron_tz_offset(ny, T("2027-07-15T12:00:00Z")), -4 * 3600);
  /* The change itself: 2027-03-14 07:00 UTC. */
  assert_int_equal(cron_tz_offset(ny, T("2027-03-14T06:59:59Z")), -5 * 3600);
  assert_int_equal(cron_tz_offset(ny, T("2027-03-14T07:00:00Z")), -4 * 3600);
  /* Spring forward: 02:30 does not exist on 14 March 2027; it runs at
   * 03:30 EDT, then at 02:30 EDT on the days around it. */
  static const char *const spring[] = {
      "2027-03-13T07:30:00Z", "2027-03-14T07:30:00Z", "2027-03-15T06:30:00Z"};
  runs_are("30 2 * * *", "America/New_York", "2027-03-12T12:00:00Z", spring, 3);
  /* Every 30 minutes across the gap: 01:30 EST, 03:00, 03:30 EDT. */
  static const char *const halfhours[] = {
      "2027-03-14T06:30:00Z", "2027-03-14T07:00:00Z", "2027-03-14T07:30:00Z",
      "2027-03-14T08:00:00Z"};
  runs_are("*/30 * * * *", "America/New_York", "2027-03-14T06:00:00Z",
           halfhours, 4);
  /* Fall back: 01:30 happens twice on 7 November 2027; it runs once, the
   * first time (EDT), and the next day at 01:30 EST. */
  static const char *const fall[] = {"2027-11-07T05:30:00Z",
                                     "2027-11-08T06:30:00Z"};
  runs_are("30 1 * * *", "America/New_York", "2027-11-06T12:00:00Z", fall, 2);
  /* Hourly across it: 01:00 EDT, then 02:00 EST (the repeated 01:00 EST is
   * the same wall-clock time and is not run again). */
  static const char *const hourly[] = {
      "2027-11-07T05:00:00Z", "2027-11-07T07:00:00Z", "2027-11-07T08:00:00Z"};
  runs_are("0 * * * *", "America/New_York", "2027-11-07T04:30:00Z", hourly, 3);
  /* Asked from within the repeated hour, the next run is not a repeat. */
  next_is("30 1 * * *", "America/New_York", "2027-11-07T06:10:00Z",
          "2027-11-08T06:30:00Z");
  /* Past the transitions the file lists: the footer rule (EST5EDT,M3.2.0,
   * M11.1.0) keeps summer time right. */
  next_is("0 12 * * *", "America/New_York", "2040-06-30T12:00:00Z",
          "2040-06-30T16:00:00Z");
  next_is("0 12 * * *", "America/New_York", "2040-12-30T12:00:00Z",
          "2040-12-30T17:00:00Z");
  next_is("0 3 * * *", "America/New_York", "2040-03-10T12:00:00Z",
          "2040-03-11T07:00:00Z");
  assert_int_equal(cron_tz_offset(ny, T("2090-07-01T00:00:00Z")), -4 * 3600);
  assert_int_equal(cron_tz_offset(ny, T("2090-11-05T05:59:59Z")), -4 * 3600);
  assert_int_equal(cron_tz_offset(ny, T("2090-11-05T06:00:00Z")), -5 * 3600);
}

static void test_london(void **state) {
  (void)state;
  const cron_tz *lon = zone("Europe/London");
  assert_int_equal(cron_tz_offset(lon, T("2027-01-15T12:00:00Z")), 0);
  assert_int_equal(cron_tz_offset(lon, T("2027-07-15T12:00:00Z")), 3600);
  /* BST starts 28 March 2027 at 01:00 GMT: 01:30 is skipped. */
  next_is("30 1 * * *", "Europe/London", "2027-03-27T12:00:00Z",
          "2027-03-28T01:30:00Z");
  next_is("30 1 * * *", "Europe/London", "2027-03-28T01:30:00Z",
          "2027-03-29T00:30:00Z");
  /* BST ends 31 October 2027: 01:30 happens twice; the first is BST. */
  next_is("30 1 * * *", "Europe/London", "2027-10-30T12:00:00Z",
          "2027-10-31T00:30:00Z");
  next_is("30 1 * * *", "Europe/London", "2027-10-31T00:30:00Z",
          "2027-11-01T01:30:00Z");
  /* Last Sunday of March in a year past the file: 2050-03-27. */
  assert_int_equal(cron_tz_offset(lon, T("2050-03-27T00:59:59Z")), 0);
  assert_int_equal(cron_tz_offset(lon, T("2050-03-27T01:00:00Z")), 3600);
}

static void test_zone_names(void **state) {
  (void)state;
  char err[128];
  const char *bad[] = {
      "",     "Mars/Olympus",  "../etc/passwd", "/etc/passwd", "Asia/../UTC",
      "Asia", "Asia/Kolkata ", "Asia\\Kolkata", "Etc/UTC/x",   "zone.tab"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    if (cron_tz_get(bad[i], err, sizeof err))
      fail_msg("loaded zone '%s'", bad[i]);
    if (!strstr(err, "time zone")) fail_msg("'%s': error '%s'", bad[i], err);
  }
  assert_null(cron_tz_get(NULL, err, sizeof err));
  const cron_tz *utc = zone("UTC");
  assert_int_equal(cron_tz_offset(utc, T("2027-07-01T00:00:00Z")), 0);
  assert_ptr_equal(zone("UTC"), utc);
  assert_int_equal(cron_tz_offset(zone("Asia/Tokyo"), 0), 9 * 3600);
  assert_int_equal(
      cron_tz_offset(zone("Australia/Sydney"), T("2027-01-01T00:00:00Z")),
      11 * 3600);
  assert_int_equal(
      cron_tz_offset(zone("Australia/Sydney"), T("2027-07-01T00:00:00Z")),
      10 * 3600);
  assert_int_equal(
      cron_tz_offset(zone("Australia/Sydney"), T("2060-01-01T00:00:00Z")),
      11 * 3600);
  assert_int_equal(
      cron_tz_offset(zone("Asia/Kathmandu"), T("2027-01-01T00:00:00Z")), 20700);
}

/* A version 1 TZif file (32-bit times, no footer) built here: one
 * transition at 1e9 s from +00:00 to +01:00. */
static void test_tzif_v1_and_footer(void **state) {
  (void)state;
  unsigned char f[128];
  memset(f, 0, sizeof f);
  memcpy(f, "TZif", 4); /* version byte 0: version 1 */
  unsigned cnt[6] = {0, 0, 0, 1, 2, 4};
  for (int i = 0; i < 6; i++) f[20 + 4 * i + 3] = (unsigned char)cnt[i];
  size_t p = 44;
  uint32_t t = 1000000000u;
  f[p++] = (unsigned char)(t >> 24), f[p++] = (unsigned char)(t >> 16);
  f[p++] = (unsigned char)(t >> 8), f[p++] = (unsigned char)t;
  f[p++] = 1; /* index */
  p += 6;     /* type 0: +0 */
  f[p + 2] = 0x0E, f[p + 3] = 0x10, f[p + 4] = 1,
        f[p + 5] = 2; /* type 1: 3600 */
  p += 6;
  memcpy(f + p, "A\0B\0", 4);
  p += 4;
  char err[128];
  cron_tz *tz = cron_tz_from_tzif("Test/V1", f, p, err, sizeof err);
  if (!tz) fail_msg("%s", err);
  assert_int_equal(cron_tz_offset(tz, 999999999LL * 1000000), 0);
  assert_int_equal(cron_tz_offset(tz, 1000000000LL * 1000000), 3600);
  cron_spec s;
  assert_int_equal(cron_parse("0 0 * * *", &s, err, sizeof err), 0);
  /* 2001-09-09 01:46:40Z is 02:46:40 local; next local midnight is
   * 2001-09-10T00:00+01:00. */
  assert_int_equal(cron_next(&s, tz, 1000000000LL * 1000000),
                   T("2001-09-09T23:00:00Z"));
  cron_tz_free(tz);
  /* Truncated and corrupt files are refused, never read past. */
  for (size_t n = 0; n < p; n++) {
    cron_tz *bad = cron_tz_from_tzif("Test/V1", f, n, err, sizeof err);
    assert_null(bad);
  }
  /* Marked version 2 but cut off after the version 1 data: that data is
   * used. */
  f[4] = '2';
  tz = cron_tz_from_tzif("Test/V2cut", f, p, err, sizeof err);
  if (!tz) fail_msg("%s", err);
  assert_int_equal(cron_tz_offset(tz, 1000000000LL * 1000000), 3600);
  cron_tz_free(tz);
  f[4] = 0;
  f[44 + 4] = 7; /* a type index out of range */
  assert_null(cron_tz_from_tzif("Test/V1", f, p, err, sizeof err));
  assert_non_null(strstr(err, "unreadable"));

  /* Version 2 with no transitions at all, only the footer rule. */
  unsigned char g[256];
  memset(g, 0, sizeof g);
  memcpy(g, "TZif2", 5);
  unsigned c1[6] = {0, 0, 0, 0, 1, 4};
  for (int i = 0; i < 6; i++) g[20 + 4 * i + 3] = (unsigned char)c1[i];
  size_t q = 44 + 6 + 4; /* v1 block: one type, 4 chars */
  memcpy(g + q, g, 44);
  q += 44;
  q += 6; /* type 0: +0 */
  memcpy(g + q, "EST\0", 4);
  q += 4;
  const char *rule = "\nEST5EDT,M3.2.0,M11.1.0\n";
  memcpy(g + q, rule, strlen(rule));
  q += strlen(rule);
  tz = cron_tz_from_tzif("Test/Rule", g, q, err, sizeof err);
  if (!tz) fail_msg("%s", err);
  assert_int_equal(cron_tz_offset(tz, T("2031-01-10T00:00:00Z")), -5 * 3600);
  assert_int_equal(cron_tz_offset(tz, T("2031-03-09T06:59:59Z")), -5 * 3600);
  assert_int_equal(cron_tz_offset(tz, T("2031-03-09T07:00:00Z")), -4 * 3600);
  assert_int_equal(cron_tz_offset(tz, T("2031-11-02T05:59:59Z")), -4 * 3600);
  assert_int_equal(cron_tz_offset(tz, T("2031-11-02T06:00:00Z")), -5 * 3600);
  cron_tz_free(tz);
}

static uint32_t be32_at(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}

/* A real file cut inside its 64-bit section still gives the right offsets
 * from its 32-bit one (which runs to 2037). */
static void test_real_file_v1_fallback(void **state) {
  (void)state;
  FILE *fp = fopen("/usr/share/zoneinfo/America/New_York", "rb");
  if (!fp) fail_msg("tzdata is not installed");
  static unsigned char d[65536];
  size_t n = fread(d, 1, sizeof d, fp);
  fclose(fp);
  assert_true(n > 44 && d[4] >= '2');
  size_t v1 = 44 + (size_t)be32_at(d + 32) * 5 + (size_t)be32_at(d + 36) * 6 +
              be32_at(d + 40) + (size_t)be32_at(d + 28) * 8 + be32_at(d + 24) +
              be32_at(d + 20);
  char err[128];
  cron_tz *tz = cron_tz_from_tzif("Cut/New_York", d, v1 + 50, err, sizeof err);
  if (!tz) fail_msg("%s", err);
  assert_int_equal(cron_tz_offset(tz, T("2027-07-15T12:00:00Z")), -4 * 3600);
  assert_int_equal(cron_tz_offset(tz, T("2027-01-15T12:00:00Z")), -5 * 3600);
  cron_tz_free(tz);
}

static void *load_many(void *arg) {
  const cron_tz **out = arg;
  char err[128];
  for (int i = 0; i < 200; i++) {
    const cron_tz *tz = cron_tz_get("America/Sao_Paulo", err, sizeof err);
    if (i == 0)
      *out = tz;
    else if (tz != *out)
      *out = NULL;
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  pthread_t th[4];
  const cron_tz *got[4] = {0};
  for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, load_many, &got[i]);
  for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
  assert_non_null(got[0]);
  for (int i = 1; i < 4; i++) assert_ptr_equal(got[i], got[0]);
}

static void test_no_run(void **state) {
  (void)state;
  cron_spec s;
  memset(&s, 0, sizeof s);
  assert_int_equal(cron_next(&s, zone("UTC"), 0), -1);
  assert_int_equal(cron_next(NULL, zone("UTC"), 0), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_next_utc),
      cmocka_unit_test(test_dom_dow),
      cmocka_unit_test(test_kolkata),
      cmocka_unit_test(test_new_york),
      cmocka_unit_test(test_london),
      cmocka_unit_test(test_zone_names),
      cmocka_unit_test(test_tzif_v1_and_footer),
      cmocka_unit_test(test_real_file_v1_fallback),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_no_run),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
