/* dec.h - exact decimals as scaled int64 (money in paise, quantities in
 * thousandths, rates in hundredths of a percent).
 *
 * No floating point: "12.50" with scale 2 is 1250. Parsing refuses more
 * fractional digits than the scale instead of rounding them away. */
#ifndef MUNSHI_BASE_DEC_H
#define MUNSHI_BASE_DEC_H

#include <stddef.h>
#include <stdint.h>

#define MONEY_SCALE 2 /* paise */
#define QTY_SCALE 3   /* thousandths */
#define DEC_MAX_TEXT 32

/* Parses an optionally signed decimal ("-12", "12.5", "0.05", ".5" refused)
 * of s[0..n). Returns 0, or -1 when malformed, with more than scale
 * fractional digits, or out of range. */
int dec_parse(const char *s, size_t n, int scale, int64_t *out);
/* dec_parse that also takes more fractional digits than scale when they
 * are all zeros ("12.5000" at scale 2, as PostgreSQL prints numeric);
 * anything that would need rounding is -1 (never rounded silently). */
int dec_parse_zeros(const char *s, size_t n, int scale, int64_t *out);
/* Formats v/10^scale with exactly scale decimals ("12.50"); returns the
 * length written to out (which holds DEC_MAX_TEXT bytes). */
int dec_format(int64_t v, int scale, char out[DEC_MAX_TEXT]);
/* 10^n for n in 0..18 (the scales an int64 can carry). */
uint64_t dec_pow10(int n);

#endif
