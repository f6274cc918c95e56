/* cron.c - five-field cron schedules in named time zones (see cron.h).
 *
 * The parser is the classic one: numbers, ranges, lists, steps, names of
 * months and days, 7 as a second Sunday, and Vixie cron's rule that when
 * neither day field starts with '*' a day matching either one runs.
 *
 * Zones are read from the system's TZif files (RFC 8536) rather than
 * through TZ and localtime, which would be process-global and not
 * thread-safe: the 64-bit section of a version 2+ file (the 32-bit version
 * 1 section when that is all there is), and the POSIX TZ rule in the
 * file's footer for times past its last transition ("EST5EDT,M3.2.0,
 * M11.1.0"), so summer time is right in 2040 too. A zone is loaded once and
 * kept for the life of the process in a list under a mutex. "UTC" needs no
 * file, and Asia/Kolkata, the default, falls back to its fixed +05:30 where
 * no tzdata is installed (India has had no other offset since 1945).
 *
 * cron_next walks local calendar days and, for each matching minute, finds
 * the instant that wall-clock time names. On the day clocks go forward a
 * time in the skipped hour is moved later by the gap (02:30 becomes 03:30,
 * as java.time does), so a daily run is never lost; on the day they go
 * back a time that happens twice runs once, the first time. */
#include "flow/cron.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/timeutil.h"

#define ZONEINFO_DIR "/usr/share/zoneinfo"
#define TZIF_MAX_BYTES (512 * 1024)
#define CRON_HORIZON_DAYS (5 * 366 + 2)

/* ---- the five fields ----------------------------------------------------- */

static const char *const MONTHS[] = {"jan", "feb", "mar", "apr", "may", "jun",
                                     "jul", "aug", "sep", "oct", "nov", "dec"};
static const char *const DAYS[] = {"sun", "mon", "tue", "wed",
                                   "thu", "fri", "sat"};

typedef struct field_def {
  const char *name;
  int lo, hi;
  const char *const *names; /* names[i] is the value i + name_base */
  int nnames, name_base;
} field_def;

static const field_def FIELDS[5] = {
    {"minute", 0, 59, NULL, 0, 0},       {"hour", 0, 23, NULL, 0, 0},
    {"day of month", 1, 31, NULL, 0, 0}, {"month", 1, 12, MONTHS, 12, 1},
    {"day of week", 0, 7, DAYS, 7, 0},
};

/* A number or a name at *s (advanced past it), or -1. */
static int field_value(const field_def *f, const char **s) {
  const char *p = *s;
  if (*p >= '0' && *p <= '9') {
    int v = 0;
    while (*p >= '0' && *p <= '9') {
      v = v * 10 + (*p - '0');
      if (v > 1000) return -1;
      p++;
    }
    *s = p;
    return v;
  }
  for (int i = 0; i < f->nnames; i++)
    if (strncasecmp(p, f->names[i], 3) == 0) {
      *s = p + 3;
      return i + f->name_base;
    }
  return -1;
}

static int parse_field(const field_def *f, const char *text, size_t n,
                       uint64_t *bits, char *err, size_t errlen) {
  char tmp[128];
  if (n == 0 || n >= sizeof tmp) goto bad;
  memcpy(tmp, text, n);
  tmp[n] = '\0';
  *bits = 0;
  const char *p = tmp;
  for (;;) {
    int a, b, step = 1, single = 0;
    if (*p == '*') {
      a = f->lo, b = f->hi == 7 ? 6 : f->hi;
      p++;
    } else {
      a = field_value(f, &p);
      if (a < 0) goto bad;
      b = a;
      single = 1;
      if (*p == '-') {
        p++;
        b = field_value(f, &p);
        if (b < 0) goto bad;
        single = 0;
      }
      if (a < f->lo || a > f->hi || b < f->lo || b > f->hi) {
        snprintf(err, errlen, "cron %s field '%s': values run from %d to %d",
                 f->name, tmp, f->lo, f->hi);
        return -1;
      }
      if (b < a) {
        snprintf(err, errlen, "cron %s field '%s': a range runs low to high",
                 f->name, tmp);
        return -1;
      }
    }
    if (*p == '/') {
      p++;
      if (*p < '0' || *p > '9') goto bad;
      step = 0;
      while (*p >= '0' && *p <= '9' && step <= 100)
        step = step * 10 + (*p++ - '0');
      if (step < 1 || step > f->hi) {
        snprintf(err, errlen, "cron %s field '%s': the step must be 1 to %d",
                 f->name, tmp, f->hi);
        return -1;
      }
      if (single) b = f->hi; /* "5/15" means 5-59/15 */
    }
    for (int v = a; v <= b; v += step)
      *bits |= 1ULL << (v == 7 && f->hi == 7 ? 0 : v);
    if (*p == '\0') break;
    if (*p != ',') goto bad;
    p++;
  }
  return 0;
bad:
  snprintf(err, errlen, "cron %s field '%.*s' is not understood", f->name,
           (int)(n > 60 ? 60 : n), text);
  return -1;
}

int cron_parse(const char *expr, cron_spec *out, char *err, size_t errlen) {
  static const struct {
    const char *at, *fields;
  } macros[] = {{"@hourly", "0 * * * *"},   {"@daily", "0 0 * * *"},
                {"@midnight", "0 0 * * *"}, {"@weekly", "0 0 * * 0"},
                {"@monthly", "0 0 1 * *"},  {"@yearly", "0 0 1 1 *"},
                {"@annually", "0 0 1 1 *"}};
  memset(out, 0, sizeof *out);
  if (!expr) {
    snprintf(err, errlen, "cron schedule is missing");
    return -1;
  }
  while (*expr == ' ' || *expr == '\t') expr++;
  if (*expr == '@') {
    size_t n = strcspn(expr, " \t");
    for (size_t i = 0; i < sizeof macros / sizeof macros[0]; i++)
      if (strlen(macros[i].at) == n &&
          strncasecmp(expr, macros[i].at, n) == 0 &&
          expr[n + strspn(expr + n, " \t")] == '\0')
        return cron_parse(macros[i].fields, out, err, errlen);
    snprintf(err, errlen, "cron schedule '%.40s' is not understood", expr);
    return -1;
  }
  const char *f[6];
  size_t fl[6];
  int k = 0;
  const char *p = expr;
  while (*p) {
    if (k == 5) {
      snprintf(err, errlen,
               "cron schedule has more than five fields (minute hour "
               "day-of-month month day-of-week)");
      return -1;
    }
    f[k] = p;
    fl[k] = strcspn(p, " \t");
    p += fl[k];
    k++;
    while (*p == ' ' || *p == '\t') p++;
  }
  if (k != 5) {
    snprintf(err, errlen,
             "cron schedule needs five fields (minute hour day-of-month "
             "month day-of-week), not %d",
             k);
    return -1;
  }
  uint64_t bits[5];
  for (int i = 0; i < 5; i++)
    if (parse_field(&FIELDS[i], f[i], fl[i], &bits[i], err, errlen)) return -1;
  out->minute = bits[0];
  out->hour = (uint32_t)bits[1];
  out->dom = (uint32_t)bits[2];
  out->month = (uint16_t)bits[3];
  out->dow = (uint8_t)bits[4];
  out->dom_star = f[2][0] == '*';
  out->dow_star = f[4][0] == '*';
  /* Days that never come ("0 0 30 2 *") are refused here, not found out
   * five years later; with a weekday as well, either may match. */
  if (!out->dom_star && out->dow_star) {
    static const int maxday[13] = {0,  31, 29, 31, 30, 31, 30,
                                   31, 31, 30, 31, 30, 31};
    int ok = 0;
    for (int m = 1; m <= 12 && !ok; m++)
      if (out->month >> m & 1)
        ok = (out->dom & (((uint32_t)2 << maxday[m]) - 2)) != 0;
    if (!ok) {
      snprintf(err, errlen,
               "cron schedule never runs: no such day in those months");
      memset(out, 0, sizeof *out);
      return -1;
    }
  }
  return 0;
}

/* ---- zones --------------------------------------------------------------- */

/* One end of summer time in a POSIX TZ rule. */
typedef struct tz_date {
  char kind; /* 'M' month.week.day, 'J' Julian 1..365 without Feb 29, 'N' 0..365
              */
  int m, w, d, n;
  int32_t secs; /* local time of day of the change (may be < 0 or > 24h) */
} tz_date;

typedef struct tz_rule {
  int32_t std_off, dst_off; /* seconds east of UTC */
  int has_dst;
  tz_date start, end;
} tz_rule;

struct cron_tz {
  char name[64];
  int32_t ntrans, ntypes;
  int64_t *trans;
  uint8_t *idx;
  int32_t *utoff;
  int has_rule;
  tz_rule rule;
  struct cron_tz *next;
};

static pthread_mutex_t zones_mu = PTHREAD_MUTEX_INITIALIZER;
static cron_tz *zones;

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* POSIX TZ: a name (letters, or <...>) at *s. */
static int rule_name(const char **s) {
  const char *p = *s;
  if (*p == '<') {
    while (*p && *p != '>') p++;
    if (*p != '>') return -1;
    p++;
  } else {
    while ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')) p++;
  }
  if (p - *s < 3) return -1;
  *s = p;
  return 0;
}

/* [+-]hh[:mm[:ss]] as seconds. */
static int rule_time(const char **s, int32_t *secs) {
  const char *p = *s;
  int sign = 1;
  if (*p == '+' || *p == '-') sign = *p++ == '-' ? -1 : 1;
  int part[3] = {0, 0, 0};
  for (int i = 0; i < 3; i++) {
    if (*p < '0' || *p > '9') return -1;
    int v = 0;
    while (*p >= '0' && *p <= '9') {
      v = v * 10 + (*p++ - '0');
      if (v > 200) return -1;
    }
    part[i] = v;
    if (*p != ':' || i == 2) break;
    p++;
  }
  *secs = sign * (part[0] * 3600 + part[1] * 60 + part[2]);
  *s = p;
  return 0;
}

static int rule_date(const char **s, tz_date *d) {
  const char *p = *s;
  memset(d, 0, sizeof *d);
  d->secs = 7200; /* 02:00 by default */
  if (*p == 'M') {
    p++;
    int v[3];
    for (int i = 0; i < 3; i++) {
      if (*p < '0' || *p > '9') return -1;
      v[i] = 0;
      while (*p >= '0' && *p <= '9') v[i] = v[i] * 10 + (*p++ - '0');
      if (i < 2 && *p++ != '.') return -1;
    }
    if (v[0] < 1 || v[0] > 12 || v[1] < 1 || v[1] > 5 || v[2] > 6) return -1;
    d->kind = 'M', d->m = v[0], d->w = v[1], d->d = v[2];
  } else {
    d->kind = 'N';
    if (*p == 'J') d->kind = 'J', p++;
    if (*p < '0' || *p > '9') return -1;
    while (*p >= '0' && *p <= '9') {
      d->n = d->n * 10 + (*p++ - '0');
      if (d->n > 366) return -1;
    }
  }
  if (*p == '/') {
    p++;
    if (rule_time(&p, &d->secs)) return -1;
  }
  *s = p;
  return 0;
}

static int parse_rule(const char *s, tz_rule *r) {
  memset(r, 0, sizeof *r);
  int32_t off;
  if (rule_name(&s) || rule_time(&s, &off)) return -1;
  r->std_off = -off; /* POSIX counts west of UTC */
  if (*s == '\0') return 0;
  if (rule_name(&s)) return -1;
  r->has_dst = 1;
  r->dst_off = r->std_off + 3600;
  if (*s != ',' && *s != '\0') {
    if (rule_time(&s, &off)) return -1;
    r->dst_off = -off;
  }
  if (*s == '\0') { /* no dates: the US rule POSIX assumes; rare in files */
    return -1;
  }
  if (*s++ != ',' || rule_date(&s, &r->start) || *s++ != ',' ||
      rule_date(&s, &r->end) || *s != '\0')
    return -1;
  return 0;
}

static int is_leap(int64_t y) {
  return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

/* The day (days since the epoch) a rule date falls on in year y. */
static int64_t rule_day(const tz_date *d, int64_t y) {
  if (d->kind == 'J') {
    int64_t n = d->n - 1; /* Feb 29 is never counted */
    if (is_leap(y) && d->n >= 60) n++;
    return days_from_civil(y, 1, 1) + n;
  }
  if (d->kind == 'N') return days_from_civil(y, 1, 1) + d->n;
  int64_t first = days_from_civil(y, (unsigned)d->m, 1);
  int64_t wd = ((first + 4) % 7 + 7) % 7; /* 1970-01-01 was a Thursday */
  int64_t day = first + ((d->d - wd) % 7 + 7) % 7 + (int64_t)(d->w - 1) * 7;
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int last = dim[d->m - 1] + (d->m == 2 && is_leap(y));
  while (day >= first + last) day -= 7; /* week 5: the last one */
  return day;
}

static int32_t rule_offset(const tz_rule *r, int64_t t) {
  if (!r->has_dst) return r->std_off;
  int64_t y;
  unsigned m, d;
  civil_from_days(floor_div(t + r->std_off, 86400), &y, &m, &d);
  int64_t start = rule_day(&r->start, y) * 86400 + r->start.secs - r->std_off;
  int64_t end = rule_day(&r->end, y) * 86400 + r->end.secs - r->dst_off;
  int dst = start < end ? (t >= start && t < end) : !(t >= end && t < start);
  return dst ? r->dst_off : r->std_off;
}

static int32_t tz_offset_s(const cron_tz *tz, int64_t t) {
  if (!tz) return 0;
  if (tz->ntrans == 0 || t < tz->trans[0]) {
    if (tz->ntrans == 0 && tz->has_rule) return rule_offset(&tz->rule, t);
    return tz->ntypes ? tz->utoff[0] : 0;
  }
  if (t >= tz->trans[tz->ntrans - 1] && tz->has_rule)
    return rule_offset(&tz->rule, t);
  int32_t lo = 0, hi = tz->ntrans - 1; /* last transition <= t */
  while (lo < hi) {
    int32_t mid = lo + (hi - lo + 1) / 2;
    if (tz->trans[mid] <= t)
      lo = mid;
    else
      hi = mid - 1;
  }
  return tz->utoff[tz->idx[lo]];
}

int cron_tz_offset(const cron_tz *tz, int64_t t_us) {
  return tz_offset_s(tz, floor_div(t_us, 1000000));
}

static uint32_t be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
         p[3];
}
static int64_t be64(const unsigned char *p) {
  return (int64_t)((uint64_t)be32(p) << 32 | be32(p + 4));
}

cron_tz *cron_tz_from_tzif(const char *name, const void *data, size_t n,
                           char *err, size_t errlen) {
  const unsigned char *d = data;
  cron_tz *tz = NULL;
  if (n < 44 || memcmp(d, "TZif", 4) != 0) goto bad;
  uint32_t c[6];
  for (int i = 0; i < 6; i++) c[i] = be32(d + 20 + 4 * i);
  /* isutcnt isstdcnt leapcnt timecnt typecnt charcnt */
  size_t v1 = (size_t)c[3] * 5 + (size_t)c[4] * 6 + c[5] + (size_t)c[2] * 8 +
              c[1] + c[0];
  if (c[3] > 100000 || c[4] == 0 || c[4] > 256 || c[5] > 65536 ||
      c[2] > 100000 || c[1] > 256 || c[0] > 256 || 44 + v1 > n)
    goto bad;
  const unsigned char *body = d + 44;
  int timesize = 4;
  const char *footer = NULL;
  size_t footer_n = 0;
  if (d[4] >= '2') {
    /* The 64-bit section; when it is cut short or malformed, the version 1
     * data already checked above is used instead. */
    const unsigned char *h = d + 44 + v1;
    uint32_t c2[6] = {0};
    int ok = (size_t)(h - d) + 44 <= n && memcmp(h, "TZif", 4) == 0;
    size_t v2 = 0;
    if (ok) {
      for (int i = 0; i < 6; i++) c2[i] = be32(h + 20 + 4 * i);
      v2 = (size_t)c2[3] * 9 + (size_t)c2[4] * 6 + c2[5] + (size_t)c2[2] * 12 +
           c2[1] + c2[0];
      ok = c2[3] <= 100000 && c2[4] != 0 && c2[4] <= 256 && c2[5] <= 65536 &&
           c2[2] <= 100000 && c2[1] <= 256 && c2[0] <= 256 &&
           (size_t)(h - d) + 44 + v2 <= n;
    }
    if (ok) {
      memcpy(c, c2, sizeof c);
      body = h + 44;
      timesize = 8;
      const char *f = (const char *)body + v2;
      const char *end = (const char *)d + n;
      if (f < end && *f == '\n') {
        const char *nl = memchr(f + 1, '\n', (size_t)(end - f - 1));
        if (nl) footer = f + 1, footer_n = (size_t)(nl - f - 1);
      }
    }
  }
  uint32_t ntrans = c[3], ntypes = c[4];
  tz = calloc(1, sizeof *tz + ntrans * sizeof(int64_t) +
                     ntypes * sizeof(int32_t) + ntrans + 1);
  if (!tz) {
    snprintf(err, errlen, "out of memory loading time zone");
    return NULL;
  }
  tz->trans = (int64_t *)(tz + 1);
  tz->utoff = (int32_t *)(tz->trans + ntrans);
  tz->idx = (uint8_t *)(tz->utoff + ntypes);
  tz->ntrans = (int32_t)ntrans;
  tz->ntypes = (int32_t)ntypes;
  snprintf(tz->name, sizeof tz->name, "%s", name);
  const unsigned char *p = body;
  for (uint32_t i = 0; i < ntrans; i++, p += timesize) {
    tz->trans[i] = timesize == 8 ? be64(p) : (int64_t)(int32_t)be32(p);
    if (i && tz->trans[i] <= tz->trans[i - 1]) goto bad;
  }
  for (uint32_t i = 0; i < ntrans; i++, p++) {
    if (*p >= ntypes) goto bad;
    tz->idx[i] = *p;
  }
  for (uint32_t i = 0; i < ntypes; i++, p += 6) {
    int32_t off = (int32_t)be32(p);
    if (off < -25 * 3600 || off > 26 * 3600) goto bad;
    tz->utoff[i] = off;
  }
  if (footer && footer_n > 0 && footer_n < 128) {
    char rule[128];
    memcpy(rule, footer, footer_n);
    rule[footer_n] = '\0';
    tz->has_rule = parse_rule(rule, &tz->rule) == 0;
  }
  return tz;
bad:
  free(tz);
  snprintf(err, errlen, "time zone '%s' has an unreadable zoneinfo file", name);
  return NULL;
}

void cron_tz_free(cron_tz *tz) {
  free(tz);
}

/* A zone of one fixed offset, for UTC and the Kolkata fallback. */
static cron_tz *fixed_zone(const char *name, int32_t off) {
  cron_tz *tz = calloc(1, sizeof *tz + sizeof(int32_t));
  if (!tz) return NULL;
  tz->utoff = (int32_t *)(tz + 1);
  tz->utoff[0] = off;
  tz->ntypes = 1;
  snprintf(tz->name, sizeof tz->name, "%s", name);
  return tz;
}

static int name_ok(const char *name) {
  size_t n = strlen(name);
  if (n == 0 || n >= 64 || name[0] == '/' || name[0] == '.' ||
      strstr(name, ".."))
    return 0;
  for (size_t i = 0; i < n; i++) {
    char c = name[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '/' || c == '_' || c == '-' ||
          c == '+' || c == '.'))
      return 0;
  }
  return 1;
}

static cron_tz *load_zone(const char *name, char *err, size_t errlen) {
  if (!strcmp(name, "UTC") || !strcmp(name, "Etc/UTC"))
    return fixed_zone(name, 0);
  char path[128];
  snprintf(path, sizeof path, "%s/%s", ZONEINFO_DIR, name);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (!strcmp(name, "Asia/Kolkata") || !strcmp(name, "Asia/Calcutta"))
      return fixed_zone(name, 19800);
    snprintf(err, errlen, "unknown time zone '%s'", name);
    return NULL;
  }
  unsigned char *data = malloc(TZIF_MAX_BYTES);
  size_t n = data ? fread(data, 1, TZIF_MAX_BYTES, f) : 0;
  fclose(f);
  cron_tz *tz = NULL;
  if (!data)
    snprintf(err, errlen, "out of memory loading time zone");
  else if (n == TZIF_MAX_BYTES || n < 4 || memcmp(data, "TZif", 4) != 0)
    snprintf(err, errlen, "unknown time zone '%s'", name); /* a directory, … */
  else
    tz = cron_tz_from_tzif(name, data, n, err, errlen);
  free(data);
  return tz;
}

const cron_tz *cron_tz_get(const char *name, char *err, size_t errlen) {
  if (!name || !name_ok(name)) {
    snprintf(err, errlen, "unknown time zone '%.64s'", name ? name : "");
    return NULL;
  }
  pthread_mutex_lock(&zones_mu);
  cron_tz *tz;
  for (tz = zones; tz; tz = tz->next)
    if (!strcmp(tz->name, name)) break;
  if (!tz) {
    /* Loaded under the lock: a zone is read once, and only names that
     * exist are kept, so the list is bounded by the zoneinfo directory. */
    tz = load_zone(name, err, errlen);
    if (tz) {
      tz->next = zones;
      zones = tz;
    }
  }
  pthread_mutex_unlock(&zones_mu);
  return tz;
}

/* ---- the next run -------------------------------------------------------- */

/* The instant (seconds) at which local wall-clock time L (seconds, as if
 * UTC) happens in tz: the first of two in a repeated hour; in a skipped
 * hour, L moved later by the gap. */
static int64_t resolve(const cron_tz *tz, int64_t L) {
  int32_t before = tz_offset_s(tz, L - 86400),
          after = tz_offset_s(tz, L + 86400);
  int64_t ta = L - before, tb = L - after;
  int va = tz_offset_s(tz, ta) == before, vb = tz_offset_s(tz, tb) == after;
  if (va && vb) return ta < tb ? ta : tb;
  if (va) return ta;
  if (vb) return tb;
  return ta; /* the gap: before the jump's offset, i.e. later by the gap */
}

int64_t cron_next(const cron_spec *spec, const cron_tz *tz, int64_t after_us) {
  if (!spec || !spec->minute || !spec->hour || !spec->dom || !spec->month ||
      !spec->dow)
    return -1;
  int64_t after_s = floor_div(after_us, 1000000);
  int64_t local = after_s + tz_offset_s(tz, after_s);
  /* A day early: in a repeated hour the local clock may read earlier than
   * the candidate's; candidates not after after_us are skipped anyway. */
  int64_t day0 = floor_div(local, 86400) - 1;
  for (int64_t day = day0; day <= day0 + CRON_HORIZON_DAYS; day++) {
    int64_t y;
    unsigned m, d;
    civil_from_days(day, &y, &m, &d);
    if (!(spec->month >> m & 1)) continue;
    int wd = (int)(((day + 4) % 7 + 7) % 7);
    int dm = (int)(spec->dom >> d & 1), wm = spec->dow >> wd & 1;
    if (spec->dom_star || spec->dow_star ? !(dm && wm) : !(dm || wm)) continue;
    for (int h = 0; h < 24; h++) {
      if (!(spec->hour >> h & 1)) continue;
      for (int mi = 0; mi < 60; mi++) {
        if (!(spec->minute >> mi & 1)) continue;
        int64_t L = day * 86400 + h * 3600 + mi * 60;
        /* No offset is more than 26 hours: such an L is surely past. */
        if (L + 26 * 3600 < after_s) continue;
        int64_t t = resolve(tz, L);
        if (t * 1000000 > after_us) return t * 1000000;
      }
    }
  }
  return -1;
}
