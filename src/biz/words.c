/* words.c - amounts in words and figures, Indian style (words.h). */
#include "biz/words.h"

#include <stdio.h>

#include "biz/gst.h"

static const char *const ones[20] = {
    "",        "One",     "Two",       "Three",    "Four",
    "Five",    "Six",     "Seven",     "Eight",    "Nine",
    "Ten",     "Eleven",  "Twelve",    "Thirteen", "Fourteen",
    "Fifteen", "Sixteen", "Seventeen", "Eighteen", "Nineteen"};
static const char *const tens[10] = {"",      "",      "Twenty", "Thirty",
                                     "Forty", "Fifty", "Sixty",  "Seventy",
                                     "Eighty", "Ninety"};

/* A word separator, unless b is at the start of the phrase (start). */
static void sep(buf *b, size_t start) {
  if (b->len > start) buf_putc(b, ' ');
}

/* 1..99: "Seven", "Forty-Two" (hyphenated, as cheques write them). */
static void two_digits(buf *b, size_t start, int n) {
  sep(b, start);
  if (n < 20) {
    buf_puts(b, ones[n]);
  } else {
    buf_puts(b, tens[n / 10]);
    if (n % 10) {
      buf_putc(b, '-');
      buf_puts(b, ones[n % 10]);
    }
  }
}

/* 1..999. */
static void three_digits(buf *b, size_t start, int n) {
  if (n >= 100) {
    sep(b, start);
    buf_puts(b, ones[n / 100]);
    buf_puts(b, " Hundred");
  }
  if (n % 100) two_digits(b, start, n % 100);
}

/* n >= 1 in Indian units: crore (10^7), lakh (10^5), thousand, the rest.
 * The crore count may itself need lakh and thousand; it recurses once or
 * twice at most for values within GST_MONEY_MAX. */
static void indian(buf *b, size_t start, int64_t n) {
  int64_t crore = n / 10000000, rest = n % 10000000;
  if (crore) {
    indian(b, start, crore);
    buf_puts(b, " Crore");
  }
  int lakh = (int)(rest / 100000), thousand = (int)(rest / 1000 % 100),
      units = (int)(rest % 1000);
  if (lakh) {
    two_digits(b, start, lakh);
    buf_puts(b, " Lakh");
  }
  if (thousand) {
    two_digits(b, start, thousand);
    buf_puts(b, " Thousand");
  }
  if (units) three_digits(b, start, units);
}

int biz_amount_words(buf *b, int64_t paise) {
  if (paise < 0 || paise > GST_MONEY_MAX) return -1;
  /* Built apart and appended whole, so a cap leaves b as it was. */
  buf w;
  buf_init(&w, 0);
  int64_t rupees = paise / 100;
  int p = (int)(paise % 100);
  if (rupees || !p) {
    buf_puts(&w, "Rupees");
    if (rupees)
      indian(&w, 0, rupees);
    else
      buf_puts(&w, " Zero");
  }
  if (p) {
    if (rupees) buf_puts(&w, " and");
    two_digits(&w, 0, p);
    buf_puts(&w, " Paise");
  }
  buf_puts(&w, " Only");
  int rc = buf_append(b, w.data, w.len);
  buf_free(&w);
  return rc;
}

void biz_amount_indian(buf *b, int64_t paise) {
  char digits[32];
  /* The magnitude as unsigned, so INT64_MIN does not overflow. */
  uint64_t m = paise < 0 ? 0 - (uint64_t)paise : (uint64_t)paise;
  int n = snprintf(digits, sizeof digits, "%llu",
                   (unsigned long long)(m / 100));
  if (paise < 0) buf_putc(b, '-');
  for (int i = 0; i < n; i++) {
    buf_putc(b, digits[i]);
    int left = n - 1 - i; /* digits still to come */
    if (left >= 3 && (left - 3) % 2 == 0) buf_putc(b, ',');
  }
  buf_printf(b, ".%02u", (unsigned)(m % 100));
}
