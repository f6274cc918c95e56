/* gst.c - the arithmetic and identifiers of Indian GST invoices (see gst.h).
 *
 * Everything here is integer arithmetic on paise, thousandths of a unit and
 * hundredths of a percent, so an invoice comes out the same to the paisa on
 * every machine and both databases, and nothing is ever rounded except where
 * the law says so (each tax to the paisa, the grand total to the rupee), and
 * then always half away from zero. Every product that could leave int64 is
 * checked, and every result is kept below GST_MONEY_MAX, the largest value
 * the numeric(14,2) money columns hold; a value past it is refused, never
 * wrapped or clamped. The identifier checks (GSTIN, state codes, HSN, phone
 * numbers, invoice numbers) look at bytes, not at the locale, so a UTF-8
 * letter is never taken for an ASCII one. */
#include "biz/gst.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"


static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int is_upper(char c) {
  return c >= 'A' && c <= 'Z';
}

/* ---- rounding and amounts ---------------------------------------------- */

int64_t round_half_up_div(int64_t n, int64_t d) {
  assert(d > 0);
  if (d <= 0) return 0; /* defensive: every caller passes a positive constant */
  int64_t q = n / d, r = n % d;
  /* C truncates toward zero, so r carries n's sign and |r| < d. "Half or
   * more" is |r| >= d - |r|, which never overflows, unlike 2 * r. Rounding a
   * negative n away from zero keeps round(-x) == -round(x), so a credit
   * note is the exact negative of its invoice. */
  if (r > 0 && r >= d - r)
    q++;
  else if (r < 0 && -r >= d + r)
    q--;
  return q;
}

static int money_ok(int64_t v) {
  return v >= 0 && v <= GST_MONEY_MAX;
}

int gst_line(const gst_line_in *in, int intra, gst_line_out *out) {
  if (!in || !out) return -1;
  if (in->qty <= 0 || in->qty > GST_MONEY_MAX) return -1;
  if (!money_ok(in->unit_price) || !money_ok(in->discount)) return -1;
  if (in->rate < 0 || in->rate > 10000) return -1;

  /* qty x price in thousandths of a paisa. If this leaves int64 the line
   * value is above 10^15 paise anyway, far past GST_MONEY_MAX. */
  int64_t value;
  if (__builtin_mul_overflow(in->qty, in->unit_price, &value)) return -1;
  int64_t gross = round_half_up_div(value, 1000);
  if (gross > GST_MONEY_MAX || in->discount > gross) return -1;

  gst_line_out o = {0};
  o.taxable = gross - in->discount;
  /* taxable x rate is at most 10^14 x 10^4, inside int64; checked anyway so
   * a later change of GST_MONEY_MAX cannot make it wrap. */
  int64_t base;
  if (__builtin_mul_overflow(o.taxable, in->rate, &base)) return -1;
  if (intra) {
    /* Each of CGST and SGST is half the rate, rounded on its own: the law
     * wants them equal, so one is computed and copied. */
    o.cgst = round_half_up_div(base, 20000);
    o.sgst = o.cgst;
  } else {
    o.igst = round_half_up_div(base, 10000);
  }
  /* Each term is at most GST_MONEY_MAX (a rate of at most 100%), so the sum
   * is far inside int64. */
  o.total = o.taxable + o.cgst + o.sgst + o.igst;
  if (o.total > GST_MONEY_MAX) return -1;
  *out = o; /* only on success: a refused line leaves out as it was */
  return 0;
}

/* acc += v for values in 0..GST_MONEY_MAX; -1 when the sum passes it. */
static int add_capped(int64_t *acc, int64_t v) {
  if (!money_ok(v)) return -1;
  int64_t s = *acc + v; /* both <= GST_MONEY_MAX: no overflow */
  if (s > GST_MONEY_MAX) return -1;
  *acc = s;
  return 0;
}

int gst_invoice_totals(const gst_line_out *lines, int n, gst_totals *out) {
  if (!out || n < 0 || (n > 0 && !lines)) return -1;
  gst_totals t = {0};
  for (int i = 0; i < n; i++) {
    /* Lines come from gst_line, so none is negative; a negative one means
     * the caller mixed in something else (a credit note has its own
     * document), and the round-off range below would not hold. */
    if (add_capped(&t.subtotal, lines[i].taxable) ||
        add_capped(&t.cgst, lines[i].cgst) ||
        add_capped(&t.sgst, lines[i].sgst) ||
        add_capped(&t.igst, lines[i].igst))
      return -1;
  }
  int64_t raw = t.subtotal;
  if (add_capped(&raw, t.cgst) || add_capped(&raw, t.sgst) ||
      add_capped(&raw, t.igst))
    return -1;
  /* Section 170: to the nearest rupee, 50 paise and up going up. raw is not
   * negative, so half away from zero is half up here. */
  t.total = round_half_up_div(raw, 100) * 100;
  if (t.total > GST_MONEY_MAX) return -1;
  t.round_off = t.total - raw;
  *out = t;
  return 0;
}

/* ---- dates and invoice numbers ----------------------------------------- */

int32_t gst_today_ist(int64_t now_us) {
  /* Floor division by whole days, then the offset added to the remainder
   * only: now_us + IST_OFFSET_US itself could overflow near INT64_MAX. */
  int64_t days = now_us / US_PER_DAY, rem = now_us % US_PER_DAY;
  if (rem < 0) {
    rem += US_PER_DAY;
    days--;
  }
  if (rem >= US_PER_DAY - IST_OFFSET_US) days++;
  /* |days| <= INT64_MAX / US_PER_DAY + 1, about 1.07e8: fits int32. */
  return (int32_t)days;
}

void gst_fy_label(int32_t days, char out[6]) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  /* January to March belong to the year that began the April before. */
  int64_t start = m >= 4 ? y : y - 1;
  /* Two digits of the year, also for proleptic years before 0. */
  unsigned a = (unsigned)(((start % 100) + 100) % 100);
  unsigned b = (a + 1) % 100;
  out[0] = (char)('0' + a / 10);
  out[1] = (char)('0' + a % 10);
  out[2] = '-';
  out[3] = (char)('0' + b / 10);
  out[4] = (char)('0' + b % 10);
  out[5] = '\0';
}

static int invoice_char(char c) {
  return is_digit(c) || is_upper(c) || (c >= 'a' && c <= 'z') || c == '-' ||
         c == '/';
}

int gst_prefix_valid(const char *prefix) {
  if (!prefix) return 0;
  size_t i = 0;
  for (; prefix[i]; i++)
    if (i == 5 || !invoice_char(prefix[i])) return 0;
  return i >= 1;
}

/* "YY-YY" with the second year following the first ("99-00" too). */
static int fy_valid(const char *fy) {
  if (!fy || !is_digit(fy[0]) || !is_digit(fy[1]) || fy[2] != '-' ||
      !is_digit(fy[3]) || !is_digit(fy[4]) || fy[5])
    return 0;
  int a = (fy[0] - '0') * 10 + (fy[1] - '0');
  int b = (fy[3] - '0') * 10 + (fy[4] - '0');
  return b == (a + 1) % 100;
}

int gst_invoice_number(const char *prefix, const char fy[6], int64_t n,
                       char out[17]) {
  if (!out) return -1;
  out[0] = '\0';
  if (!gst_prefix_valid(prefix) || !fy_valid(fy) || n < 1) return -1;
  char digits[20]; /* INT64_MAX has 19 */
  int nd = 0;
  for (int64_t v = n; v > 0; v /= 10) digits[nd++] = (char)('0' + v % 10);
  int width = nd < 4 ? 4 : nd;
  size_t plen = strlen(prefix); /* 1..5, checked above */
  /* Rule 46 of the CGST Rules: at most 16 characters. */
  if (plen + 1 + 5 + 1 + (size_t)width > 16) return -1;
  char *p = out;
  memcpy(p, prefix, plen);
  p += plen;
  *p++ = '/';
  memcpy(p, fy, 5);
  p += 5;
  *p++ = '/';
  for (int i = width; i > nd; i--) *p++ = '0';
  while (nd > 0) *p++ = digits[--nd];
  *p = '\0';
  return 0;
}
