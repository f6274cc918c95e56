/* dec.c - exact decimal text <-> scaled int64 (see dec.h).
 *
 * Money and quantities cross the API as decimal text and live in the program
 * as integers of the smallest unit, so this is the one place where digits
 * become values. Everything is integer arithmetic with explicit overflow
 * checks: a value that does not fit, or that would need rounding, is refused
 * rather than silently altered. json_decimal and json_int64 call dec_parse so
 * the rules are the same whether a number arrives in JSON or in a query. */
#include "base/dec.h"

#include <string.h>

#include <stdio.h>

/* 10^18 still fits in int64; 10^19 does not, so scales stop at 18. */
#define DEC_MAX_SCALE 18

static const uint64_t pow10_tab[DEC_MAX_SCALE + 1] = {
    1ULL,
    10ULL,
    100ULL,
    1000ULL,
    10000ULL,
    100000ULL,
    1000000ULL,
    10000000ULL,
    100000000ULL,
    1000000000ULL,
    10000000000ULL,
    100000000000ULL,
    1000000000000ULL,
    10000000000000ULL,
    100000000000000ULL,
    1000000000000000ULL,
    10000000000000000ULL,
    100000000000000000ULL,
    1000000000000000000ULL,
};

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* acc = acc * 10 + d, refusing to pass limit. */
static int push_digit(uint64_t *acc, unsigned d, uint64_t limit) {
  if (*acc > (limit - d) / 10) return -1;
  *acc = *acc * 10 + d;
  return 0;
}

int dec_parse(const char *s, size_t n, int scale, int64_t *out) {
  if (!s || scale < 0 || scale > DEC_MAX_SCALE) return -1;
  size_t i = 0;
  int neg = 0;
  if (i < n && s[i] == '-') {
    neg = 1;
    i++;
  }
  /* The magnitude of INT64_MIN is one more than INT64_MAX. */
  const uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  uint64_t acc = 0;

  size_t int_start = i;
  while (i < n && is_digit(s[i])) {
    if (push_digit(&acc, (unsigned)(s[i] - '0'), limit)) return -1;
    i++;
  }
  if (i == int_start) return -1; /* ".5", "-", "" */

  int frac_digits = 0;
  if (i < n && s[i] == '.') {
    i++;
    size_t frac_start = i;
    while (i < n && is_digit(s[i])) {
      if (frac_digits < scale) {
        if (push_digit(&acc, (unsigned)(s[i] - '0'), limit)) return -1;
        frac_digits++;
      } else if (s[i] != '0') {
        return -1; /* would need rounding */
      }
      i++;
    }
    if (i == frac_start) return -1; /* "1." */
  }
  if (i != n) return -1;

  /* Scale up for the decimals the text did not spell out. */
  for (; frac_digits < scale; frac_digits++)
    if (push_digit(&acc, 0, limit)) return -1;

  if (neg)
    *out = acc == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)acc;
  else
    *out = (int64_t)acc;
  return 0;
}

int dec_format(int64_t v, int scale, char out[DEC_MAX_TEXT]) {
  if (scale < 0 || scale > DEC_MAX_SCALE) {
    out[0] = '\0';
    return -1;
  }
  /* Negate in unsigned arithmetic so INT64_MIN does not overflow. */
  uint64_t mag = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
  uint64_t p = pow10_tab[scale];
  const char *sign = v < 0 ? "-" : "";
  int len;
  if (scale == 0)
    len = snprintf(out, DEC_MAX_TEXT, "%s%llu", sign, (unsigned long long)mag);
  else
    len = snprintf(out, DEC_MAX_TEXT, "%s%llu.%0*llu", sign,
                   (unsigned long long)(mag / p), scale,
                   (unsigned long long)(mag % p));
  return len;
}

uint64_t dec_pow10(int n) { return pow10_tab[n]; }

int dec_parse_zeros(const char *s, size_t n, int scale, int64_t *out) {
  const char *dot = memchr(s, '.', n);
  if (dot) {
    size_t frac = n - (size_t)(dot - s) - 1;
    if (frac > (size_t)scale) {
      size_t keep = (size_t)(dot - s) + 1 + (size_t)scale;
      for (size_t k = keep; k < n; k++)
        if (s[k] != '0') return -1;
      n = scale ? keep : (size_t)(dot - s);
    }
  }
  return dec_parse(s, n, scale, out);
}
