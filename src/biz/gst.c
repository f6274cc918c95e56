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

#define US_PER_DAY (86400LL * 1000000LL)
/* India has one time zone and no daylight saving: UTC+05:30 all year. */
#define IST_OFFSET_US ((5LL * 3600 + 30 * 60) * 1000000LL)

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

/* ---- GSTIN, state codes, HSN ------------------------------------------- */

int gst_state_valid(const char *code) {
  if (!code || !is_digit(code[0]) || !is_digit(code[1]) || code[2]) return 0;
  int v = (code[0] - '0') * 10 + (code[1] - '0');
  return (v >= 1 && v <= 38) || v == 97;
}

/* The value of a GSTIN character in base 36, or -1 (also for '\0'). */
static int b36(char c) {
  if (is_digit(c)) return c - '0';
  if (is_upper(c)) return c - 'A' + 10;
  return -1;
}

char gstin_check_char(const char *first14) {
  if (!first14) return '\0';
  int sum = 0;
  for (int i = 0; i < 14; i++) {
    int v = b36(first14[i]); /* stops at a short string's NUL */
    if (v < 0) return '\0';
    /* Luhn mod 36: every second character doubled, and a product above 35
     * folded back as its two base-36 digits added, which keeps doubling a
     * permutation of 0..35, so any single wrong character is caught. */
    int p = v * (i % 2 ? 2 : 1);
    sum += p / 36 + p % 36;
  }
  int c = (36 - sum % 36) % 36;
  return (char)(c < 10 ? '0' + c : 'A' + (c - 10));
}

static int gstin_fail(char *why, size_t whylen, const char *msg) {
  if (why && whylen) snprintf(why, whylen, "%s", msg);
  return -1;
}

int gstin_check(const char *gstin, char state[3], char *why, size_t whylen) {
  if (state) state[0] = '\0';
  if (why && whylen) why[0] = '\0';
  if (!gstin) return gstin_fail(why, whylen, "GSTIN is missing");
  size_t len = 0;
  while (len < 16 && gstin[len]) len++; /* no need to walk a long string */
  if (len != 15) return gstin_fail(why, whylen, "GSTIN must be 15 characters");
  if (!is_digit(gstin[0]) || !is_digit(gstin[1]))
    return gstin_fail(why, whylen,
                      "a GSTIN starts with a two-digit state code");
  char st[3] = {gstin[0], gstin[1], '\0'};
  if (!gst_state_valid(st)) {
    if (why && whylen)
      snprintf(why, whylen, "state code %s in the GSTIN is not a GST state",
               st);
    return -1;
  }
  /* Characters 3 to 12 are the holder's PAN: AAAAA9999A. */
  for (int i = 2; i < 7; i++)
    if (!is_upper(gstin[i]))
      return gstin_fail(why, whylen,
                        "characters 3 to 7 of a GSTIN (from the PAN) must be "
                        "capital letters");
  for (int i = 7; i < 11; i++)
    if (!is_digit(gstin[i]))
      return gstin_fail(
          why, whylen,
          "characters 8 to 11 of a GSTIN (from the PAN) must be digits");
  if (!is_upper(gstin[11]))
    return gstin_fail(why, whylen,
                      "character 12 of a GSTIN (from the PAN) must be a "
                      "capital letter");
  /* The holder's registrations in one state are counted 1-9, then A-Z. */
  if (!(is_upper(gstin[12]) || (gstin[12] >= '1' && gstin[12] <= '9')))
    return gstin_fail(why, whylen,
                      "character 13 of a GSTIN (the registration number) "
                      "must be 1-9 or A-Z");
  if (gstin[13] != 'Z')
    return gstin_fail(why, whylen, "character 14 of a GSTIN must be Z");
  char want = gstin_check_char(gstin);
  assert(want); /* the 14 characters were all checked above */
  if (gstin[14] != want) {
    if (why && whylen)
      snprintf(why, whylen, "GSTIN check character should be %c", want);
    return -1;
  }
  if (state) memcpy(state, st, 3);
  return 0;
}

int hsn_valid(const char *s) {
  if (!s) return 0;
  size_t i = 0;
  for (; s[i]; i++)
    if (i == 8 || !is_digit(s[i])) return 0;
  return i == 4 || i == 6 || i == 8;
}

/* ---- phone numbers ----------------------------------------------------- */

/* Writes "+" and n digits into out. */
static void put_e164(char out[17], const char *cc, const char *digits,
                     size_t n) {
  size_t ccl = strlen(cc);
  out[0] = '+';
  memcpy(out + 1, cc, ccl);
  memcpy(out + 1 + ccl, digits, n);
  out[1 + ccl + n] = '\0';
}

int phone_e164(const char *in, char out[17]) {
  if (!out) return -1;
  out[0] = '\0';
  if (!in) return -1;
  /* The longest form we take is "00" + 15 digits; a longer run of digits
   * is refused as soon as it is seen, so the buffer never overflows. */
  char dig[17];
  size_t nd = 0;
  int plus = 0;
  for (const char *p = in; *p; p++) {
    char c = *p;
    if (c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
    if (c == '+') {
      if (plus || nd) return -1; /* one +, before every digit */
      plus = 1;
      continue;
    }
    if (!is_digit(c) || nd == sizeof dig) return -1;
    dig[nd++] = c;
  }

  const char *intl = NULL; /* digits after the + (country code first) */
  size_t nintl = 0;
  if (plus) {
    intl = dig;
    nintl = nd;
  } else if (nd >= 2 && dig[0] == '0' && dig[1] == '0') {
    /* 00 is the international prefix dialled from India. */
    intl = dig + 2;
    nintl = nd - 2;
  } else if (nd == 10 && dig[0] >= '6' && dig[0] <= '9') {
    /* A bare mobile number. A bare 10 digits starting 0-5 would be a
     * landline with its STD code but without the trunk 0, too easily a
     * typo, so it is refused. */
    put_e164(out, "91", dig, 10);
    return 0;
  } else if (nd == 11 && dig[0] == '0') {
    /* Trunk 0 + 10 digits: a mobile or a landline with its STD code.
     * dig[1] is not 0 (that was the 00 branch). */
    put_e164(out, "91", dig + 1, 10);
    return 0;
  } else if (nd == 12 && dig[0] == '9' && dig[1] == '1' && dig[2] != '0') {
    put_e164(out, "91", dig + 2, 10);
    return 0;
  } else {
    return -1;
  }

  /* E.164: at most 15 digits; fewer than 8 is no real number anywhere
   * we sell to, and no country code starts with 0. */
  if (nintl < 8 || nintl > 15 || intl[0] == '0') return -1;
  /* India's numbers are always 10 digits after 91, so a +91 number of
   * another length is a typo, caught here rather than on WhatsApp. */
  if (intl[0] == '9' && intl[1] == '1' && (nintl != 12 || intl[2] == '0'))
    return -1;
  put_e164(out, "", intl, nintl);
  return 0;
}
