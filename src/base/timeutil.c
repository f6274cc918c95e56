/* timeutil.c - UTC timestamps as int64 microseconds, dates as days since
 * 1970-01-01, and their text forms (see timeutil.h).
 *
 * Calendar arithmetic is done here with plain integers (the proleptic
 * Gregorian days-from-civil conversion) instead of timegm/mktime, so the
 * result never depends on the process's TZ or locale. Parsing accepts the
 * forms clients and both databases actually send (RFC 3339, ISO 8601 with a
 * space, PostgreSQL's "+00") and refuses impossible dates rather than
 * normalising them: 2026-02-30 is an error, not March 2nd. Years run from
 * 0001 to 9999, the range both the text form and PostgreSQL agree on. */
#include "base/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define US_PER_SEC 1000000LL

static int64_t clock_us(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * US_PER_SEC + ts.tv_nsec / 1000;
}

int64_t time_now_us(void) {
  return clock_us(CLOCK_REALTIME);
}

int64_t time_mono_us(void) {
  return clock_us(CLOCK_MONOTONIC);
}

/* Days since 1970-01-01 of a proleptic Gregorian date. The year is counted
 * from March so the leap day falls at the end of it, and whole 400-year eras
 * (146097 days each) keep the arithmetic exact for negative years too. */
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  if (m <= 2) y -= 1;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;                          /* [0, 399] */
  int64_t mp = m > 2 ? (int64_t)m - 3 : (int64_t)m + 9; /* March = 0 */
  int64_t doy = (153 * mp + 2) / 5 + (int64_t)d - 1;    /* [0, 365] */
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;  /* [0, 146096] */
  return era * 146097 + doe - 719468; /* 719468: 0000-03-01 to 1970-01-01 */
}

void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d) {
  z += 719468;
  int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
  *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
  *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static unsigned days_in_month(int64_t y, unsigned m) {
  static const unsigned dim[12] = {31, 28, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* The range of the four-digit text forms: 0001-01-01 .. 9999-12-31. */
#define MIN_DAY (-719162LL) /* days_from_civil(1, 1, 1) */
#define MAX_DAY 2932896LL   /* days_from_civil(9999, 12, 31) */

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

void ts_format(int64_t t_us, char out[TS_TEXT_LEN + 1]) {
  /* Clamp so the fixed-width form always holds: nothing outside this range
   * can come from ts_parse, and the clock will not get there. */
  if (t_us < MIN_DAY * US_PER_DAY) t_us = MIN_DAY * US_PER_DAY;
  if (t_us > (MAX_DAY + 1) * US_PER_DAY - 1)
    t_us = (MAX_DAY + 1) * US_PER_DAY - 1;
  int64_t days = floor_div(t_us, US_PER_DAY);
  int64_t rem = t_us - days * US_PER_DAY; /* [0, US_PER_DAY) */
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  unsigned secs = (unsigned)(rem / US_PER_SEC);
  unsigned us = (unsigned)(rem % US_PER_SEC);
  snprintf(out, TS_TEXT_LEN + 1, "%04u-%02u-%02uT%02u:%02u:%02u.%06u+00:00",
           (unsigned)y % 10000u, m % 100u, d % 100u, secs / 3600 % 100u,
           secs / 60 % 60, secs % 60, us % 1000000u);
}

/* ---- parsing ---------------------------------------------------------- */

/* Reads exactly n digits at *s and advances past them. */
static int digits(const char **s, int n, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < n; i++) {
    char c = (*s)[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (unsigned)(c - '0');
  }
  *s += n;
  *out = v;
  return 0;
}

/* "YYYY-MM-DD" at *s, checked against the calendar; advances past it. */
static int parse_ymd(const char **s, int64_t *days) {
  unsigned y, m, d;
  const char *p = *s;
  if (digits(&p, 4, &y) || *p++ != '-' || digits(&p, 2, &m) || *p++ != '-' ||
      digits(&p, 2, &d))
    return -1;
  if (y < 1 || m < 1 || m > 12 || d < 1 || d > days_in_month(y, m)) return -1;
  *days = days_from_civil(y, m, d);
  *s = p;
  return 0;
}

int date_parse(const char *s, int32_t *days) {
  int64_t v;
  if (!s || parse_ymd(&s, &v) || *s) return -1;
  *days = (int32_t)v;
  return 0;
}

void date_format(int32_t days, char out[11]) {
  int64_t z = days < MIN_DAY ? MIN_DAY : days > MAX_DAY ? MAX_DAY : days;
  int64_t y;
  unsigned m, d;
  civil_from_days(z, &y, &m, &d);
  snprintf(out, 11, "%04u-%02u-%02u", (unsigned)y % 10000u, m % 100u, d % 100u);
}

/* Zone suffix: "", "Z", "+HH", "+HHMM", "+HH:MM" (or '-'); sets the offset
 * east of UTC in seconds. Must consume the rest of the string. */
static int parse_zone(const char *p, int64_t *off_s) {
  *off_s = 0;
  if (*p == '\0') return 0;
  if ((*p == 'Z' || *p == 'z') && p[1] == '\0') return 0;
  if (*p != '+' && *p != '-') return -1;
  int sign = *p++ == '-' ? -1 : 1;
  unsigned hh, mm = 0;
  if (digits(&p, 2, &hh)) return -1;
  if (*p == ':') {
    p++;
    if (digits(&p, 2, &mm)) return -1;
  } else if (*p) {
    if (digits(&p, 2, &mm)) return -1;
  }
  if (*p || hh > 23 || mm > 59) return -1;
  *off_s = sign * (int64_t)(hh * 3600 + mm * 60);
  return 0;
}

int ts_parse(const char *s, int64_t *t_us) {
  if (!s) return -1;
  int64_t days;
  if (parse_ymd(&s, &days)) return -1;
  unsigned hh = 0, mi = 0, ss = 0, us = 0;
  int64_t off_s = 0;
  if (*s == 'T' || *s == 't' || *s == ' ') {
    s++;
    if (digits(&s, 2, &hh) || *s++ != ':' || digits(&s, 2, &mi)) return -1;
    if (*s == ':') {
      s++;
      if (digits(&s, 2, &ss)) return -1;
      if (*s == '.') {
        s++;
        int n = 0;
        while (*s >= '0' && *s <= '9') {
          if (++n > 6) return -1; /* finer than we can keep */
          us = us * 10 + (unsigned)(*s++ - '0');
        }
        if (n == 0) return -1;
        for (; n < 6; n++) us *= 10;
      }
    }
    if (hh > 23 || mi > 59 || ss > 59) return -1;
    if (parse_zone(s, &off_s)) return -1;
  } else if (*s) {
    return -1;
  }
  int64_t t = days * US_PER_DAY +
              ((int64_t)hh * 3600 + mi * 60 + ss - off_s) * US_PER_SEC + us;
  /* An offset can carry 0001-01-01 or 9999-12-31 over the edge. */
  if (t < MIN_DAY * US_PER_DAY || t >= (MAX_DAY + 1) * US_PER_DAY) return -1;
  *t_us = t;
  return 0;
}
