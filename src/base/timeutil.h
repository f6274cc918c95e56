/* timeutil.h - UTC timestamps (microseconds since the epoch) and dates.
 *
 * Timestamps travel as text in one canonical form,
 * "2026-11-24T20:00:00.123456+00:00" (fixed width, so text order is time
 * order on SQLite), which is also what the API answers. Dates are
 * "YYYY-MM-DD", held as days since 1970-01-01. */
#ifndef MUNSHI_BASE_TIMEUTIL_H
#define MUNSHI_BASE_TIMEUTIL_H

#include <stdint.h>

#define TS_TEXT_LEN 32
#define US_PER_DAY (86400LL * 1000000LL)
/* India has one time zone and no daylight saving: UTC+05:30 all year. */
#define IST_OFFSET_US ((5LL * 3600 + 30 * 60) * 1000000LL) /* "2026-11-24T20:00:00.123456+00:00" */

int64_t time_now_us(void);     /* wall clock, UTC */
int64_t time_mono_us(void);    /* monotonic clock, for durations */
/* Writes the canonical text form of t and a NUL into out[TS_TEXT_LEN+1]. */
void ts_format(int64_t t_us, char out[TS_TEXT_LEN + 1]);
/* Parses ISO 8601 / RFC 3339 forms: "2026-11-24", "2026-11-24T20:00:00Z",
 * "2026-11-24 20:00:00.5+05:30" and PostgreSQL's "2026-11-24 20:00:00+00".
 * Returns 0 or -1. */
int ts_parse(const char *s, int64_t *t_us);
/* Dates: days since 1970-01-01. */
int date_parse(const char *s, int32_t *days);
void date_format(int32_t days, char out[11]);
int64_t days_from_civil(int64_t y, unsigned m, unsigned d);
void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d);

#endif
