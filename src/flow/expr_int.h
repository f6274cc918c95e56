/* expr_int.h - private to expr*.c: the exact-decimal arithmetic of the
 * expression language and the conversions its evaluator and its formatter
 * share. Numbers are (mantissa, scale) pairs with scale 0..EXPR_MAX_SCALE;
 * every operation checks for overflow and answers -1 instead of wrapping,
 * so no sum of money is ever silently wrong. */
#ifndef MUNSHI_FLOW_EXPR_INT_H
#define MUNSHI_FLOW_EXPR_INT_H

#include <stddef.h>
#include <stdint.h>

#include "flow/expr.h"

#define EXPR_US_PER_SEC 1000000LL

/* A decimal literal "-12.50" of s[0..n) (no exponent, no '+'): 0, -1 when
 * malformed or out of range, -2 when it has more than EXPR_MAX_SCALE
 * significant decimals. Trailing zeros past the limit are dropped. */
int xnum_parse(const char *s, size_t n, int64_t *num, int *scale);
/* v at scale from, written at scale to (>= from): 0 or -1 on overflow. */
int xnum_rescale(int64_t v, int from, int to, int64_t *out);
/* v at scale from, rounded half away from zero to scale to (<= from). */
int64_t xnum_round(int64_t v, int from, int to);
/* Sum / difference / product / remainder; the result's scale in *rs. */
int xnum_add(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs);
int xnum_sub(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs);
int xnum_mul(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs);
int xnum_mod(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs);
/* a / b with exactly rs decimals, rounded half away from zero. b != 0. */
int xnum_div(int64_t a, int sa, int64_t b, int sb, int rs, int64_t *r);
/* -1, 0, 1 as a < b, a == b, a > b; exact at any scales. */
int xnum_cmp(int64_t a, int sa, int64_t b, int sb);

/* An ISO date or timestamp as a time: a date alone ("2026-12-01") and a
 * timestamp without an offset mean the business's local time
 * (tz_offset_s east of UTC). 0 or -1. */
int xtime_parse(const char *s, size_t n, int tz_offset_s, int64_t *us);
/* The start of the business's day that holds t. */
int64_t xtime_day_start(int64_t t, int tz_offset_s);

#endif
