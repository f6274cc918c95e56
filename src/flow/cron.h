/* cron.h - five-field cron schedules and the time zones they run in.
 *
 * "m h dom mon dow" with numbers, ranges (1-5), lists (1,15), steps (*\/15,
 * 0-30/10), names of months and days (jan, mon) and the usual rule that
 * when both day fields are restricted either may match. Times are
 * computed in a named IANA zone (Asia/Kolkata by default) read from the
 * system's zoneinfo (TZif) files, so a zone with summer time gets its
 * shifts right; pure and thread-safe (no TZ variable, no localtime).
 * "UTC" needs no tzdata; Asia/Kolkata falls back to a fixed +05:30 when
 * tzdata is missing. On the day clocks go forward, a time in the skipped
 * hour runs later by the gap (02:30 -> 03:30); a time that happens twice
 * when they go back runs once, the first time. Also @hourly, @daily,
 * @weekly, @monthly, @yearly. A day that never comes ("0 0 30 2 *") is a
 * parse error. */
#ifndef MUNSHI_FLOW_CRON_H
#define MUNSHI_FLOW_CRON_H

#include <stddef.h>
#include <stdint.h>

#define CRON_DEFAULT_TZ "Asia/Kolkata"

typedef struct cron_spec {
  uint64_t minute; /* bit m: 0..59 */
  uint32_t hour;   /* 0..23 */
  uint32_t dom;    /* 1..31 */
  uint16_t month;  /* 1..12 */
  uint8_t dow;     /* 0..6, Sunday 0 (7 accepted as Sunday) */
  int dom_star, dow_star;
} cron_spec;

/* Parses expr. Returns 0, or -1 with err naming the field at fault. */
int cron_parse(const char *expr, cron_spec *out, char *err, size_t errlen);

typedef struct cron_tz cron_tz; /* a loaded zone; shared, never freed */
/* The zone called name ("Asia/Kolkata", "UTC"), loaded once and cached.
 * NULL when there is no such zone (err says so). Thread-safe. */
const cron_tz *cron_tz_get(const char *name, char *err, size_t errlen);
/* A zone from the bytes of a TZif file (RFC 8536: version 1, or the 64-bit
 * section and footer rule of version 2+), for tests and tools; the caller
 * frees it with cron_tz_free. NULL with err when the data is malformed.
 * cron_tz_get uses it for the files under /usr/share/zoneinfo. */
cron_tz *cron_tz_from_tzif(const char *name, const void *data, size_t n,
                           char *err, size_t errlen);
void cron_tz_free(cron_tz *tz); /* accepts NULL; never for cron_tz_get's */
/* Offset from UTC in seconds in force at t_us. */
int cron_tz_offset(const cron_tz *tz, int64_t t_us);

/* The first time strictly after after_us (µs, UTC) that matches spec in
 * zone tz, or -1 when none within 5 years (e.g. "0 0 30 2 *"). */
int64_t cron_next(const cron_spec *spec, const cron_tz *tz, int64_t after_us);

#endif
