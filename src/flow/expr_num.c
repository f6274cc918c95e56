/* expr_num.c - exact decimal arithmetic for expressions (see expr_int.h).
 *
 * A number is an int64 mantissa and a decimal scale, as money is everywhere
 * in munshi. Magnitudes are handled as uint64 so INT64_MIN never overflows
 * on negation, and division is done digit by digit so no intermediate needs
 * more than 64 bits: 10000.00 / 3 is 3333.3333, never 3333.33333333334.
 * Results that do not fit are refused (-1); the evaluator turns that into
 * "number too large" for the owner. */
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "flow/expr_int.h"


static uint64_t mag(int64_t v) {
  return v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
}

/* A signed value from a magnitude: -1 when it does not fit. */
static int from_mag(uint64_t m, int neg, int64_t *out) {
  if (neg) {
    if (m > (uint64_t)INT64_MAX + 1) return -1;
    *out = m == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)m;
  } else {
    if (m > (uint64_t)INT64_MAX) return -1;
    *out = (int64_t)m;
  }
  return 0;
}

static int mul_u(uint64_t a, uint64_t b, uint64_t *r) {
  if (a != 0 && b > UINT64_MAX / a) return -1;
  *r = a * b;
  return 0;
}

int xnum_parse(const char *s, size_t n, int64_t *num, int *scale) {
  size_t i = 0;
  int neg = 0;
  if (i < n && s[i] == '-') neg = 1, i++;
  size_t int_start = i;
  while (i < n && s[i] >= '0' && s[i] <= '9') i++;
  size_t int_end = i;
  if (int_end == int_start) return -1;
  size_t frac_start = i, frac_end = i;
  if (i < n && s[i] == '.') {
    frac_start = ++i;
    while (i < n && s[i] >= '0' && s[i] <= '9') i++;
    frac_end = i;
    if (frac_end == frac_start) return -1;
  }
  if (i != n) return -1;
  /* Zeros past the last significant decimal carry nothing; only those past
   * the limit are dropped, so "10000.00" keeps its two places. */
  while (frac_end - frac_start > EXPR_MAX_SCALE && s[frac_end - 1] == '0')
    frac_end--;
  if (frac_end - frac_start > EXPR_MAX_SCALE) return -2;
  uint64_t m = 0;
  for (size_t k = int_start; k < int_end; k++)
    if (mul_u(m, 10, &m) || m + (uint64_t)(s[k] - '0') < m)
      return -1;
    else
      m += (uint64_t)(s[k] - '0');
  for (size_t k = frac_start; k < frac_end; k++)
    if (mul_u(m, 10, &m) || m + (uint64_t)(s[k] - '0') < m)
      return -1;
    else
      m += (uint64_t)(s[k] - '0');
  if (from_mag(m, neg, num)) return -1;
  *scale = (int)(frac_end - frac_start);
  return 0;
}

int xnum_rescale(int64_t v, int from, int to, int64_t *out) {
  if (to < from || to - from > 18) return -1;
  uint64_t m;
  if (mul_u(mag(v), dec_pow10(to - from), &m)) return -1;
  return from_mag(m, v < 0, out);
}

int64_t xnum_round(int64_t v, int from, int to) {
  if (to >= from) return v;
  uint64_t p = dec_pow10(from - to), m = mag(v);
  uint64_t q = m / p, r = m % p;
  if (r >= p - r) q++; /* half away from zero */
  /* q is at most |v| / 10 + 1, so it always fits. */
  return v < 0 ? -(int64_t)q : (int64_t)q;
}

static int align(int64_t *a, int *sa, int64_t *b, int *sb) {
  int s = *sa > *sb ? *sa : *sb;
  if (xnum_rescale(*a, *sa, s, a) || xnum_rescale(*b, *sb, s, b)) return -1;
  *sa = *sb = s;
  return 0;
}

int xnum_add(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs) {
  if (align(&a, &sa, &b, &sb)) return -1;
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return -1;
  *r = a + b;
  *rs = sa;
  return 0;
}

int xnum_sub(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs) {
  if (align(&a, &sa, &b, &sb)) return -1;
  if ((b < 0 && a > INT64_MAX + b) || (b > 0 && a < INT64_MIN + b)) return -1;
  *r = a - b;
  *rs = sa;
  return 0;
}

/* Drops trailing zero decimals: 100.00 -> 100 at scale 0. */
static void normalise(int64_t *v, int *s) {
  while (*s > 0 && *v % 10 == 0) *v /= 10, (*s)--;
}

int xnum_mul(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs) {
  /* The product is taken of the shortest forms, so 100.00 * 1.18 needs no
   * more digits than 100 * 118, then written at the scale the operands
   * suggest (their sum, at most EXPR_MAX_SCALE) when that fits. */
  int want = sa + sb > EXPR_MAX_SCALE ? EXPR_MAX_SCALE : sa + sb;
  normalise(&a, &sa);
  normalise(&b, &sb);
  uint64_t m;
  if (mul_u(mag(a), mag(b), &m)) return -1;
  int neg = (a < 0) != (b < 0);
  int s = sa + sb;
  if (s > EXPR_MAX_SCALE) {
    uint64_t p = dec_pow10(s - EXPR_MAX_SCALE), q = m / p, rem = m % p;
    if (rem >= p - rem) q++;
    m = q;
    s = EXPR_MAX_SCALE;
  }
  int64_t v;
  if (from_mag(m, neg, &v)) return -1;
  if (s < want && xnum_rescale(v, s, want, r) == 0) {
    *rs = want;
    return 0;
  }
  *r = v;
  *rs = s;
  return 0;
}

int xnum_mod(int64_t a, int sa, int64_t b, int sb, int64_t *r, int *rs) {
  if (align(&a, &sa, &b, &sb) || b == 0) return -1;
  if (b == -1) { /* INT64_MIN % -1 traps */
    *r = 0;
  } else {
    *r = a % b;
  }
  *rs = sa;
  return 0;
}

/* r*10 / d and r*10 % d for r < d, without ever forming r*10 (which may not
 * fit in 64 bits when d is near 2^63). */
static unsigned next_digit(uint64_t *r, uint64_t d) {
  uint64_t acc = 0;
  unsigned digit = 0;
  for (int i = 0; i < 10; i++) {
    acc += *r; /* acc < d and *r < d: no overflow below 2^64 */
    if (acc >= d) acc -= d, digit++;
  }
  *r = acc;
  return digit;
}

int xnum_div(int64_t a, int sa, int64_t b, int sb, int rs, int64_t *r) {
  if (b == 0 || rs < 0 || rs > EXPR_MAX_SCALE) return -1;
  if (align(&a, &sa, &b, &sb)) return -1; /* beyond 10^12 at scale 6 */
  uint64_t ma = mag(a), mb = mag(b);
  uint64_t q = ma / mb, rem = ma % mb;
  for (int k = 0; k < rs; k++) {
    unsigned d = next_digit(&rem, mb);
    if (mul_u(q, 10, &q) || q + d < q) return -1;
    q += d;
  }
  if (rem >= mb - rem) {
    if (q == UINT64_MAX) return -1;
    q++;
  }
  return from_mag(q, (a < 0) != (b < 0), r);
}

int xnum_cmp(int64_t a, int sa, int64_t b, int sb) {
  if (sa != sb) {
    int64_t x;
    if (sa < sb) {
      /* a scaled up does not fit: its magnitude beats any int64 b. */
      if (xnum_rescale(a, sa, sb, &x)) return a < 0 ? -1 : 1;
      a = x;
    } else {
      if (xnum_rescale(b, sb, sa, &x)) return b < 0 ? 1 : -1;
      b = x;
    }
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t xtime_day_start(int64_t t, int tz_offset_s) {
  int64_t off = (int64_t)tz_offset_s * EXPR_US_PER_SEC;
  return floor_div(t + off, US_PER_DAY) * US_PER_DAY - off;
}

int xtime_parse(const char *s, size_t n, int tz_offset_s, int64_t *us) {
  char tmp[48];
  if (n < 10 || n >= sizeof tmp || memchr(s, '\0', n)) return -1;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  int64_t t;
  if (ts_parse(tmp, &t)) return -1;
  /* ts_parse reads a missing offset as UTC; for owners a bare date or
   * clock time is the business's own. */
  int zoned = 0;
  for (size_t i = 10; i < n; i++)
    if (tmp[i] == 'Z' || tmp[i] == 'z' || tmp[i] == '+' || tmp[i] == '-')
      zoned = 1;
  if (!zoned) t -= (int64_t)tz_offset_s * EXPR_US_PER_SEC;
  *us = t;
  return 0;
}
