/* test_biz_gst.c - GST arithmetic and identifiers (src/biz/gst.c).
 *
 * The numbers on an invoice are what a shop owner is taxed on, so the line
 * and invoice tests are a table of worked examples whose expected paise are
 * written out with the arithmetic beside them, to be checked by hand rather
 * than trusted to the code under test. Around them: rounding exactly at the
 * half paisa and the half rupee, refusals at every edge of int64 and of the
 * money columns, a seeded random run checking the invariants (CGST == SGST,
 * totals are sums, the grand total is whole rupees), the financial year at
 * India's midnight on 31 March, invoice numbers, GSTIN check characters,
 * state codes, HSN codes and phone numbers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "biz/gst.h"

#define US 1000000LL

/* ---- round_half_up_div ------------------------------------------------- */

static void test_round_half_up_div(void **state) {
  (void)state;
  assert_true(round_half_up_div(0, 7) == 0);
  assert_true(round_half_up_div(4, 10) == 0);
  assert_true(round_half_up_div(5, 10) == 1);   /* 0.5 up */
  assert_true(round_half_up_div(15, 10) == 2);  /* 1.5 up, not to even */
  assert_true(round_half_up_div(25, 10) == 3);  /* 2.5 up, not to even */
  assert_true(round_half_up_div(14, 10) == 1);
  assert_true(round_half_up_div(-4, 10) == 0);
  assert_true(round_half_up_div(-5, 10) == -1); /* away from zero */
  assert_true(round_half_up_div(-15, 10) == -2);
  assert_true(round_half_up_div(-14, 10) == -1);
  assert_true(round_half_up_div(1, 3) == 0);    /* odd divisor: no tie */
  assert_true(round_half_up_div(2, 3) == 1);
  assert_true(round_half_up_div(-2, 3) == -1);
  assert_true(round_half_up_div(7, 1) == 7);
  assert_true(round_half_up_div(-7, 1) == -7);
  /* The int64 edges: no intermediate may overflow (UBSan watches). */
  assert_true(round_half_up_div(INT64_MAX, 1) == INT64_MAX);
  assert_true(round_half_up_div(INT64_MIN, 1) == INT64_MIN);
  /* INT64_MAX / 2 = 4611686018427387903.5 -> ...904 */
  assert_true(round_half_up_div(INT64_MAX, 2) == 4611686018427387904LL);
  assert_true(round_half_up_div(INT64_MIN, 2) == -4611686018427387904LL);
  /* (INT64_MIN + 1) / 2 = -4611686018427387903.5 -> ...904 */
  assert_true(round_half_up_div(INT64_MIN + 1, 2) == -4611686018427387904LL);
  assert_true(round_half_up_div(INT64_MAX, INT64_MAX) == 1);
  assert_true(round_half_up_div(INT64_MAX / 2, INT64_MAX) == 0);
  assert_true(round_half_up_div(INT64_MAX / 2 + 1, INT64_MAX) == 1);
  assert_true(round_half_up_div(INT64_MIN, INT64_MAX) == -1);
  assert_true(round_half_up_div(1, INT64_MAX) == 0);

  /* Against the definition, by brute force: r is the nearest integer to
   * n/d, and on a tie the one farther from zero. */
  for (int64_t d = 1; d <= 60; d++) {
    for (int64_t n = -2000; n <= 2000; n++) {
      int64_t r = round_half_up_div(n, d);
      int64_t err2 = 2 * (n - r * d); /* 2 d (n/d - r) */
      if (err2 < -d || err2 > d)
        fail_msg("%lld/%lld -> %lld is not nearest", (long long)n,
                 (long long)d, (long long)r);
      if ((err2 == d || err2 == -d) &&
          (r > 0 ? r * d < n : r < 0 ? r * d > n : n != 0))
        fail_msg("%lld/%lld -> %lld: tie not away from zero", (long long)n,
                 (long long)d, (long long)r);
      assert_true(round_half_up_div(-n, d) == -r); /* symmetric */
    }
  }
}

/* ---- lines: worked examples -------------------------------------------- */

typedef struct line_case {
  const char *what;
  int64_t qty, price, discount, rate;
  int intra;
  int64_t taxable, cgst, sgst, igst, total;
} line_case;

/* qty in thousandths, money in paise, rate in hundredths of a percent.
 * CGST = SGST = round(taxable x rate / 20000), IGST = round(taxable x rate /
 * 10000), taxable = round(qty x price / 1000) - discount; round = half up. */
static const line_case LINES[] = {
    /* 0: 10000 x 1800 / 20000 = 900 each */
    {"1 x Rs 100 at 18%, intra", 1000, 10000, 0, 1800, 1, 10000, 900, 900, 0,
     11800},
    /* 1: 10000 x 1800 / 10000 = 1800 */
    {"1 x Rs 100 at 18%, inter", 1000, 10000, 0, 1800, 0, 10000, 0, 0, 1800,
     11800},
    /* 2: 1020 x 500 / 20000 = 25.50 -> 26 each (half paisa up) */
    {"Rs 10.20 at 5%, intra, CGST 25.50 p", 1000, 1020, 0, 500, 1, 1020, 26,
     26, 0, 1072},
    /* 3: 1020 x 500 / 10000 = 51.00: the same line costs a paisa less
     * across a state border, because the half paisa is rounded once */
    {"Rs 10.20 at 5%, inter", 1000, 1020, 0, 500, 0, 1020, 0, 0, 51, 1071},
    /* 4: 161 x 1800 / 20000 = 14.49 -> 14 each */
    {"Rs 1.61 at 18%, intra, CGST 14.49 p", 1000, 161, 0, 1800, 1, 161, 14, 14,
     0, 189},
    /* 5: 150 x 1800 / 20000 = 13.50 -> 14 each */
    {"Rs 1.50 at 18%, intra, CGST 13.50 p", 1000, 150, 0, 1800, 1, 150, 14, 14,
     0, 178},
    /* 6: 161 x 1800 / 10000 = 28.98 -> 29 */
    {"Rs 1.61 at 18%, inter", 1000, 161, 0, 1800, 0, 161, 0, 0, 29, 190},
    /* 7: 500083 x 300 / 10000 = 15002.49 -> 15002 */
    {"gold Rs 5000.83 at 3%, inter, IGST .49 p", 1000, 500083, 0, 300, 0,
     500083, 0, 0, 15002, 515085},
    /* 8: 500050 x 300 / 10000 = 15001.50 -> 15002 */
    {"gold Rs 5000.50 at 3%, inter, IGST .50 p", 1000, 500050, 0, 300, 0,
     500050, 0, 0, 15002, 515052},
    /* 9: 500083 x 300 / 20000 = 7501.245 -> 7501 each */
    {"gold Rs 5000.83 at 3%, intra", 1000, 500083, 0, 300, 1, 500083, 7501,
     7501, 0, 515085},
    /* 10: 2500 x 4199 / 1000 = 10497.5 -> 10498 (half paisa up);
     * 10498 x 500 / 20000 = 262.45 -> 262 each */
    {"2.5 kg x Rs 41.99 at 5%, intra", 2500, 4199, 0, 500, 1, 10498, 262, 262,
     0, 11022},
    /* 11: 333 x 9999 / 1000 = 3329.667 -> 3330; no tax */
    {"0.333 kg x Rs 99.99 at 0%", 333, 9999, 0, 0, 1, 3330, 0, 0, 0, 3330},
    /* 12: 1234 x 1001 / 1000 = 1235.234 -> 1235;
     * 1235 x 1200 / 10000 = 148.2 -> 148 */
    {"1.234 m x Rs 10.01 at 12%, inter", 1234, 1001, 0, 1200, 0, 1235, 0, 0,
     148, 1383},
    /* 13: 1 x 50 / 1000 = 0.05 -> 0: a line can round to nothing */
    {"0.001 x Rs 0.50 at 18%", 1, 50, 0, 1800, 1, 0, 0, 0, 0, 0},
    /* 14: 1 x 500 / 1000 = 0.5 -> 1 */
    {"0.001 x Rs 5.00 at 0%", 1, 500, 0, 0, 0, 1, 0, 0, 0, 1},
    /* 15: 3000 x 25000 / 1000 = 75000; - 5000 = 70000;
     * 70000 x 1200 / 20000 = 4200 each */
    {"3 x Rs 250 less Rs 50 at 12%, intra", 3000, 25000, 5000, 1200, 1, 70000,
     4200, 4200, 0, 78400},
    /* 16: 2000 x 999 / 1000 = 1998; - 1998 = 0 */
    {"a discount of the whole line", 2000, 999, 1998, 1800, 1, 0, 0, 0, 0, 0},
    /* 17: 1500 x 33333 / 1000 = 49999.5 -> 50000; - 99 = 49901;
     * 49901 x 1800 / 10000 = 8982.18 -> 8982. The discount comes off
     * after the line value is rounded. */
    {"1.5 x Rs 333.33 less Rs 0.99 at 18%, inter", 1500, 33333, 99, 1800, 0,
     49901, 0, 0, 8982, 58883},
    /* 18: 1000000 x 25 / 20000 = 1250 each */
    {"Rs 10000 at 0.25%, intra", 1000, 1000000, 0, 25, 1, 1000000, 1250, 1250,
     0, 1002500},
    /* 19: 1000000 x 25 / 10000 = 2500 */
    {"Rs 10000 at 0.25%, inter", 1000, 1000000, 0, 25, 0, 1000000, 0, 0, 2500,
     1002500},
    /* 20: 200 x 25 / 20000 = 0.25 -> 0 each */
    {"Rs 2 at 0.25%, intra", 1000, 200, 0, 25, 1, 200, 0, 0, 0, 200},
    /* 21: 200 x 25 / 10000 = 0.5 -> 1 */
    {"Rs 2 at 0.25%, inter", 1000, 200, 0, 25, 0, 200, 0, 0, 1, 201},
    /* 22: 123456 x 2800 / 20000 = 17283.84 -> 17284 each */
    {"Rs 1234.56 at 28%, intra", 1000, 123456, 0, 2800, 1, 123456, 17284,
     17284, 0, 158024},
    /* 23: 123456 x 2800 / 10000 = 34567.68 -> 34568 */
    {"Rs 1234.56 at 28%, inter", 1000, 123456, 0, 2800, 0, 123456, 0, 0, 34568,
     158024},
    /* 24: 1 x 1200 / 20000 = 0.06 -> 0 */
    {"1 paisa at 12%, intra", 1000, 1, 0, 1200, 1, 1, 0, 0, 0, 1},
    /* 25: 1 x 10000 / 20000 = 0.5 -> 1 each: at 100% the halves round up
     * twice (no real slab is 100%, the edge of the range is still exact) */
    {"1 paisa at 100%, intra", 1000, 1, 0, 10000, 1, 1, 1, 1, 0, 3},
    /* 26: 1 x 10000 / 10000 = 1 */
    {"1 paisa at 100%, inter", 1000, 1, 0, 10000, 0, 1, 0, 0, 1, 2},
    /* 27 */
    {"Rs 500 at 0%, intra", 1000, 50000, 0, 0, 1, 50000, 0, 0, 0, 50000},
    /* 28: 1000000 x 9999999 / 1000 = 9999999000;
     * 9999999000 x 1800 / 20000 = 899999910 each */
    {"1000 x Rs 99999.99 at 18%, intra", 1000000, 9999999, 0, 1800, 1,
     9999999000LL, 899999910, 899999910, 0, 11799998820LL},
    /* 29: the largest line value a column holds, untaxed */
    {"GST_MONEY_MAX at 0%", 1000, GST_MONEY_MAX, 0, 0, 0, GST_MONEY_MAX, 0, 0,
     0, GST_MONEY_MAX},
    /* 30: 8516 x 1800 / 10000 = 1532.88 -> 1533; total 10049 (for the
     * invoice rounding below) */
    {"Rs 85.16 at 18%, inter", 1000, 8516, 0, 1800, 0, 8516, 0, 0, 1533,
     10049},
    /* 31: 8517 x 1800 / 10000 = 1533.06 -> 1533; total 10050 */
    {"Rs 85.17 at 18%, inter", 1000, 8517, 0, 1800, 0, 8517, 0, 0, 1533,
     10050},
};
#define NLINES (int)(sizeof LINES / sizeof LINES[0])

static gst_line_out line_of(int i) {
  const line_case *c = &LINES[i];
  gst_line_in in = {c->qty, c->price, c->discount, c->rate};
  gst_line_out out;
  memset(&out, 0x5a, sizeof out);
  if (gst_line(&in, c->intra, &out)) fail_msg("line %d (%s) refused", i, c->what);
  return out;
}

static void test_line_examples(void **state) {
  (void)state;
  for (int i = 0; i < NLINES; i++) {
    const line_case *c = &LINES[i];
    gst_line_out o = line_of(i);
    if (o.taxable != c->taxable || o.cgst != c->cgst || o.sgst != c->sgst ||
        o.igst != c->igst || o.total != c->total)
      fail_msg("line %d (%s): got %lld %lld %lld %lld = %lld, want "
               "%lld %lld %lld %lld = %lld",
               i, c->what, (long long)o.taxable, (long long)o.cgst,
               (long long)o.sgst, (long long)o.igst, (long long)o.total,
               (long long)c->taxable, (long long)c->cgst, (long long)c->sgst,
               (long long)c->igst, (long long)c->total);
    /* The table itself must add up, so a typo in it cannot hide. */
    assert_true(c->taxable + c->cgst + c->sgst + c->igst == c->total);
    assert_true(c->cgst == c->sgst);
  }
}

/* ---- invoices: worked examples ----------------------------------------- */

static gst_totals totals_of(const int *idx, int n) {
  gst_line_out lines[16];
  assert_true(n <= 16);
  for (int i = 0; i < n; i++) lines[i] = line_of(idx[i]);
  gst_totals t;
  memset(&t, 0x5a, sizeof t);
  assert_int_equal(gst_invoice_totals(lines, n, &t), 0);
  return t;
}

static void expect_totals(gst_totals t, int64_t subtotal, int64_t cgst,
                          int64_t sgst, int64_t igst, int64_t round_off,
                          int64_t total) {
  if (t.subtotal != subtotal || t.cgst != cgst || t.sgst != sgst ||
      t.igst != igst || t.round_off != round_off || t.total != total)
    fail_msg("got %lld %lld %lld %lld %+lld = %lld, want %lld %lld %lld %lld "
             "%+lld = %lld",
             (long long)t.subtotal, (long long)t.cgst, (long long)t.sgst,
             (long long)t.igst, (long long)t.round_off, (long long)t.total,
             (long long)subtotal, (long long)cgst, (long long)sgst,
             (long long)igst, (long long)round_off, (long long)total);
}

static void test_invoice_examples(void **state) {
  (void)state;
  /* Seven rates within one state: lines 10 (5%), 22 (28%), 15 (12%),
   * 11 (0%), 20 (0.25%), 0 (18%), 9 (3%).
   * subtotal = 10498 + 123456 + 70000 + 3330 + 200 + 10000 + 500083 = 717567
   * CGST = SGST = 262 + 17284 + 4200 + 0 + 0 + 900 + 7501 = 30147
   * raw = 717567 + 2 x 30147 = 777861 (Rs 7778.61) -> Rs 7779, +39 p */
  int intra[] = {10, 22, 15, 11, 20, 0, 9};
  expect_totals(totals_of(intra, 7), 717567, 30147, 30147, 0, 39, 777900);

  /* Across a border: lines 1 (18%), 3 (5%), 12 (12%), 21 (0.25%),
   * 23 (28%), 8 (3%), 17 (18%, discounted).
   * subtotal = 10000 + 1020 + 1235 + 200 + 123456 + 500050 + 49901 = 685862
   * IGST = 1800 + 51 + 148 + 1 + 34568 + 15002 + 8982 = 60552
   * raw = 746414 (Rs 7464.14) -> Rs 7464, -14 p */
  int inter[] = {1, 3, 12, 21, 23, 8, 17};
  expect_totals(totals_of(inter, 7), 685862, 0, 0, 60552, -14, 746400);

  /* Line 30 alone: raw 10049, Rs 100.49 -> Rs 100 (49 p go down). */
  int down[] = {30};
  expect_totals(totals_of(down, 1), 8516, 0, 0, 1533, -49, 10000);
  /* Line 31 alone: raw 10050, Rs 100.50 -> Rs 101 (50 p go up). */
  int up[] = {31};
  expect_totals(totals_of(up, 1), 8517, 0, 0, 1533, 50, 10100);
  /* Both: 10049 + 10050 = 20099 -> Rs 201, +1 p: the invoice is rounded
   * once, on its sum. */
  int both[] = {30, 31};
  expect_totals(totals_of(both, 2), 17033, 0, 0, 3066, 1, 20100);
  /* One line of 0.05 paise rounds to an invoice of nothing. */
  int nothing[] = {13};
  expect_totals(totals_of(nothing, 1), 0, 0, 0, 0, 0, 0);

  /* Round-off at the edges, with lines written out directly. */
  struct {
    int64_t raw, round_off, total;
  } r[] = {
      {0, 0, 0},         {1, -1, 0},          {49, -49, 0},
      {50, 50, 100},     {99, 1, 100},        {100, 0, 100},
      {10049, -49, 10000}, {10050, 50, 10100}, {11800, 0, 11800},
      {GST_MONEY_MAX - 99, 0, GST_MONEY_MAX - 99},
      {GST_MONEY_MAX - 50, -49, GST_MONEY_MAX - 99}, /* ...49 p down */
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++) {
    gst_line_out l = {r[i].raw, 0, 0, 0, r[i].raw};
    gst_totals t;
    assert_int_equal(gst_invoice_totals(&l, 1, &t), 0);
    expect_totals(t, r[i].raw, 0, 0, 0, r[i].round_off, r[i].total);
  }

  /* No lines at all: an empty invoice sums to zero. */
  gst_totals t;
  memset(&t, 0x5a, sizeof t);
  assert_int_equal(gst_invoice_totals(NULL, 0, &t), 0);
  expect_totals(t, 0, 0, 0, 0, 0, 0);
}

/* ---- refusals ----------------------------------------------------------- */

static void expect_line_refused(int64_t qty, int64_t price, int64_t discount,
                                int64_t rate, int intra) {
  gst_line_in in = {qty, price, discount, rate};
  gst_line_out out = {1, 2, 3, 4, 5};
  if (gst_line(&in, intra, &out) == 0)
    fail_msg("accepted qty %lld price %lld discount %lld rate %lld",
             (long long)qty, (long long)price, (long long)discount,
             (long long)rate);
  /* A refused line leaves the output as it was. */
  assert_true(out.taxable == 1 && out.cgst == 2 && out.sgst == 3 &&
              out.igst == 4 && out.total == 5);
}

static void test_line_refusals(void **state) {
  (void)state;
  expect_line_refused(0, 100, 0, 1800, 1);   /* no quantity */
  expect_line_refused(-1000, 100, 0, 1800, 1);
  expect_line_refused(INT64_MIN, 100, 0, 1800, 1);
  expect_line_refused(1000, -1, 0, 1800, 1); /* negative price */
  expect_line_refused(1000, INT64_MIN, 0, 1800, 0);
  expect_line_refused(1000, 100, -1, 1800, 1); /* negative discount */
  expect_line_refused(1000, 100, 101, 1800, 1); /* discount > line value */
  /* 2500 x 4199 / 1000 = 10498 after rounding: 10499 off is too much */
  expect_line_refused(2500, 4199, 10499, 500, 1);
  expect_line_refused(1000, 100, 0, -1, 1); /* rate outside 0..100% */
  expect_line_refused(1000, 100, 0, 10001, 0);
  expect_line_refused(1000, 100, 0, INT64_MAX, 0);
  /* Values past the money columns. */
  expect_line_refused(GST_MONEY_MAX + 1, 1, 0, 0, 0);
  expect_line_refused(1000, GST_MONEY_MAX + 1, 0, 0, 0);
  expect_line_refused(1000, 100, GST_MONEY_MAX + 1, 0, 0);
  /* qty x price leaves int64: 10^14 x 10^14. */
  expect_line_refused(GST_MONEY_MAX, GST_MONEY_MAX, 0, 0, 1);
  expect_line_refused(INT64_MAX, INT64_MAX, 0, 0, 1);
  /* Fits int64 but the line value does not fit a column:
   * 1000 units (1000000) x Rs 10^10 (10^12 p) = 10^15 p. */
  expect_line_refused(1000000, 1000000000000LL, 0, 0, 1);
  /* The line value fits, the total with tax does not:
   * GST_MONEY_MAX + 18% of it. */
  expect_line_refused(1000, GST_MONEY_MAX, 0, 1800, 1);
  expect_line_refused(1000, GST_MONEY_MAX, 0, 1800, 0);
  /* GST_MONEY_MAX - 1 at 0.01%: a tax of about 10^10 p pushes the total
   * past the cap. */
  expect_line_refused(1000, GST_MONEY_MAX - 1, 0, 1, 0);

  /* Inside: a line of Rs 10^11 at 18% totals 1.18 x 10^13 p, below the
   * cap; CGST = 10^13 x 1800 / 20000 = 9 x 10^11. */
  gst_line_in ok = {1000, 10000000000000LL, 0, 1800};
  gst_line_out o;
  assert_int_equal(gst_line(&ok, 1, &o), 0);
  assert_true(o.total == 11800000000000LL && o.cgst == 900000000000LL);

  gst_line_in in = {1000, 100, 0, 0};
  assert_int_equal(gst_line(NULL, 1, &o), -1);
  assert_int_equal(gst_line(&in, 1, NULL), -1);
}

static void test_totals_refusals(void **state) {
  (void)state;
  gst_totals t = {7, 7, 7, 7, 7, 7};
  gst_line_out big = {60000000000000LL, 0, 0, 0, 60000000000000LL};
  gst_line_out two[2] = {big, big}; /* 1.2 x 10^14 > GST_MONEY_MAX */
  assert_int_equal(gst_invoice_totals(two, 2, &t), -1);
  assert_true(t.total == 7 && t.subtotal == 7); /* untouched */

  /* Each sum fits, their total does not. */
  gst_line_out taxed = {50000000000000LL, 25000000000000LL, 25000000000000LL,
                        0, 100000000000000LL};
  assert_int_equal(gst_invoice_totals(&taxed, 1, &t), -1);

  /* The raw total fits but rounding it up to the rupee does not:
   * 999999999999.50 -> 1000000000000.00 > GST_MONEY_MAX. */
  gst_line_out edge = {GST_MONEY_MAX - 49, 0, 0, 0, GST_MONEY_MAX - 49};
  assert_int_equal(gst_invoice_totals(&edge, 1, &t), -1);
  gst_line_out at_max = {GST_MONEY_MAX, 0, 0, 0, GST_MONEY_MAX};
  assert_int_equal(gst_invoice_totals(&at_max, 1, &t), -1);

  /* Negative or wrapped values are not lines gst_line makes. */
  gst_line_out neg = {-100, 0, 0, 0, -100};
  assert_int_equal(gst_invoice_totals(&neg, 1, &t), -1);
  gst_line_out negtax = {100, -9, -9, 0, 82};
  assert_int_equal(gst_invoice_totals(&negtax, 1, &t), -1);
  gst_line_out huge = {INT64_MAX, INT64_MAX, INT64_MAX, INT64_MAX, -4};
  assert_int_equal(gst_invoice_totals(&huge, 1, &t), -1);

  gst_line_out one = {100, 0, 0, 0, 100};
  assert_int_equal(gst_invoice_totals(&one, -1, &t), -1);
  assert_int_equal(gst_invoice_totals(NULL, 1, &t), -1);
  assert_int_equal(gst_invoice_totals(&one, 1, NULL), -1);

  /* Many lines: GST_MONEY_MAX / 999 = 100100100100 p each; 999 of them
   * make 99999999999900 (fits), 1000 make 100100100100000 (does not). */
  static gst_line_out many[1000];
  for (int i = 0; i < 1000; i++)
    many[i] = (gst_line_out){GST_MONEY_MAX / 999, 0, 0, 0, GST_MONEY_MAX / 999};
  assert_int_equal(gst_invoice_totals(many, 999, &t), 0);
  assert_int_equal(gst_invoice_totals(many, 1000, &t), -1);
}

/* ---- random invariants ------------------------------------------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL; /* fixed: reproducible */

static uint64_t rng(void) {
  uint64_t x = rng_state; /* xorshift64 */
  x ^= x << 13;
  x ^= x >> 7;
  x ^= x << 17;
  return rng_state = x;
}

static int64_t rng_below(int64_t n) {
  return (int64_t)(rng() % (uint64_t)n);
}

static void test_random_invariants(void **state) {
  (void)state;
  static const int64_t slabs[] = {0, 10, 25, 100, 300, 500, 1200, 1800, 2800};
  for (int inv = 0; inv < 20000; inv++) {
    gst_line_out lines[8];
    int n = 1 + (int)rng_below(8);
    int intra = (int)rng_below(2);
    for (int i = 0; i < n; i++) {
      gst_line_in in;
      /* Small quantities and prices are where the rounding lives. */
      in.qty = 1 + rng_below(rng_below(2) ? 5000 : 1000000);
      in.unit_price = rng_below(rng_below(2) ? 1000 : 10000000);
      in.rate = rng_below(4) ? slabs[rng_below(9)] : rng_below(10001);
      int64_t x = in.qty * in.unit_price;
      int64_t gross = round_half_up_div(x, 1000);
      in.discount = rng_below(3) ? 0 : rng_below(gross + 1);
      gst_line_out *o = &lines[i];
      assert_int_equal(gst_line(&in, intra, o), 0);

      /* The line value is the nearest paisa, ties up:
       * x - 500 < 1000 x gross <= x + 500. */
      int64_t d = x - 1000 * (o->taxable + in.discount);
      assert_true(d >= -500 && d < 500);
      assert_true(o->taxable >= 0);
      int64_t base = o->taxable * in.rate;
      if (intra) {
        assert_true(o->cgst == o->sgst);
        assert_true(o->igst == 0);
        d = base - 20000 * o->cgst;
        assert_true(d >= -10000 && d < 10000);
      } else {
        assert_true(o->cgst == 0 && o->sgst == 0);
        d = base - 10000 * o->igst;
        assert_true(d >= -5000 && d < 5000);
      }
      assert_true(o->total == o->taxable + o->cgst + o->sgst + o->igst);
    }
    gst_totals t;
    assert_int_equal(gst_invoice_totals(lines, n, &t), 0);
    int64_t sub = 0, c = 0, s = 0, g = 0, line_totals = 0;
    for (int i = 0; i < n; i++) {
      sub += lines[i].taxable;
      c += lines[i].cgst;
      s += lines[i].sgst;
      g += lines[i].igst;
      line_totals += lines[i].total;
    }
    assert_true(t.subtotal == sub && t.cgst == c && t.sgst == s &&
                t.igst == g);
    assert_true(t.cgst == t.sgst);
    assert_true(t.total % 100 == 0);
    assert_true(t.round_off >= -49 && t.round_off <= 50);
    assert_true(t.total == line_totals + t.round_off);
    assert_true(t.total - t.round_off == sub + c + s + g);
  }
}

/* ---- dates, financial years, invoice numbers ----------------------------- */

static int64_t instant(const char *s) {
  int64_t t = 0;
  if (ts_parse(s, &t)) fail_msg("ts_parse refused %s", s);
  return t;
}

static void expect_ist(const char *utc, int y, unsigned m, unsigned d,
                       const char *fy) {
  int32_t days = gst_today_ist(instant(utc));
  if (days != days_from_civil(y, m, d))
    fail_msg("%s: day %ld, want %04d-%02u-%02u", utc, (long)days, y, m, d);
  char label[6];
  gst_fy_label(days, label);
  if (strcmp(label, fy)) fail_msg("%s: FY %s, want %s", utc, label, fy);
}

static void test_today_ist(void **state) {
  (void)state;
  /* 18:29:59Z + 5:30 = 23:59:59 IST on 31 March: still FY 2026-27. */
  expect_ist("2027-03-31T18:29:59Z", 2027, 3, 31, "26-27");
  expect_ist("2027-03-31T18:29:59.999999Z", 2027, 3, 31, "26-27");
  /* 18:30:00Z = 00:00:00 IST on 1 April: FY 2027-28 has begun. */
  expect_ist("2027-04-01T00:00:00+05:30", 2027, 4, 1, "27-28");
  expect_ist("2027-03-31T18:30:00Z", 2027, 4, 1, "27-28");
  expect_ist("2027-03-31T23:59:59Z", 2027, 4, 1, "27-28");
  /* 8 pm on 31 March in New York is 06:30 on 1 April in India. */
  expect_ist("2027-03-31T20:00:00-05:00", 2027, 4, 1, "27-28");
  /* The year's end in UTC is not a financial year's end. */
  expect_ist("2026-12-31T18:29:59Z", 2026, 12, 31, "26-27");
  expect_ist("2026-12-31T18:30:00Z", 2027, 1, 1, "26-27");
  expect_ist("2026-11-24T20:00:00Z", 2026, 11, 25, "26-27");
  expect_ist("2028-02-28T18:30:00Z", 2028, 2, 29, "27-28"); /* leap day */
  expect_ist("1999-12-31T18:30:00Z", 2000, 1, 1, "99-00");

  /* Before 1970, where C's division would round the wrong way. */
  assert_int_equal(gst_today_ist(0), 0);
  assert_int_equal(gst_today_ist(-1), 0); /* 05:29:59.999999 IST, 1 Jan 70 */
  assert_int_equal(gst_today_ist(-19800 * US), 0);    /* 00:00 IST */
  assert_int_equal(gst_today_ist(-19800 * US - 1), -1);
  assert_int_equal(gst_today_ist(66600 * US - 1), 0); /* 23:59:59 IST */
  assert_int_equal(gst_today_ist(66600 * US), 1);
  assert_int_equal(gst_today_ist(-86400 * US - 19800 * US), -1);
  assert_int_equal(gst_today_ist(-86400 * US - 19800 * US - 1), -2);
  /* The ends of int64, without overflow:
   * INT64_MAX = 106751991 days + 14454775807 us; + 19800000000 us is
   * still inside the day. INT64_MIN = -106751992 days + 71945224192 us;
   * + 19800000000 us passes 86400000000: the next day. */
  assert_int_equal(gst_today_ist(INT64_MAX), 106751991);
  assert_int_equal(gst_today_ist(INT64_MIN), -106751991);
}

static void expect_fy(int y, unsigned m, unsigned d, const char *want) {
  char label[6];
  memset(label, 'x', sizeof label);
  gst_fy_label((int32_t)days_from_civil(y, m, d), label);
  if (strcmp(label, want))
    fail_msg("%04d-%02u-%02u: FY %s, want %s", y, m, d, label, want);
}

static void test_fy_label(void **state) {
  (void)state;
  expect_fy(2027, 3, 31, "26-27");
  expect_fy(2027, 4, 1, "27-28");
  expect_fy(2026, 4, 1, "26-27");
  expect_fy(2026, 3, 31, "25-26");
  expect_fy(2000, 1, 1, "99-00");
  expect_fy(1999, 4, 1, "99-00");
  expect_fy(2000, 3, 31, "99-00");
  expect_fy(2000, 4, 1, "00-01");
  expect_fy(2009, 4, 1, "09-10");
  expect_fy(2099, 12, 31, "99-00");
  expect_fy(2100, 4, 1, "00-01");
  expect_fy(1970, 1, 1, "69-70");
  expect_fy(1, 1, 1, "00-01");
  expect_fy(0, 3, 1, "99-00"); /* proleptic: FY from 1 April of year -1 */
}

static void expect_number(const char *prefix, const char *fy, int64_t n,
                          const char *want) {
  char out[17], fybuf[8] = {0};
  memset(out, 'x', sizeof out);
  /* Through a full-size buffer: the parameter is declared char[6]. */
  if (fy) snprintf(fybuf, sizeof fybuf, "%s", fy);
  int rc = gst_invoice_number(prefix, fy ? fybuf : NULL, n, out);
  if (!want) {
    if (rc == 0)
      fail_msg("accepted %s %s %lld as %s", prefix ? prefix : "(null)",
               fy ? fy : "(null)", (long long)n, out);
    assert_string_equal(out, "");
    return;
  }
  if (rc) fail_msg("refused %s %s %lld", prefix, fy, (long long)n);
  assert_string_equal(out, want);
  assert_true(strlen(out) <= 16);
}

static void test_invoice_numbers(void **state) {
  (void)state;
  expect_number("INV", "26-27", 1, "INV/26-27/0001");
  expect_number("INV", "26-27", 12, "INV/26-27/0012");
  expect_number("INV", "26-27", 9999, "INV/26-27/9999");
  expect_number("INV", "26-27", 10000, "INV/26-27/10000");
  expect_number("INV", "26-27", 12345, "INV/26-27/12345");
  expect_number("INV", "26-27", 999999, "INV/26-27/999999"); /* 16 */
  expect_number("INV", "26-27", 1000000, NULL);              /* 17 */
  expect_number("INV", "99-00", 7, "INV/99-00/0007");
  expect_number("ABCDE", "26-27", 9999, "ABCDE/26-27/9999"); /* 16 */
  expect_number("ABCDE", "26-27", 10000, NULL);              /* 17 */
  expect_number("a-b/c", "27-28", 1, "a-b/c/27-28/0001");
  expect_number("S", "27-28", 42, "S/27-28/0042");
  expect_number("INV", "26-27", 0, NULL);
  expect_number("INV", "26-27", -1, NULL);
  expect_number("INV", "26-27", INT64_MAX, NULL);
  expect_number("ABCDEF", "26-27", 1, NULL); /* prefix too long */
  expect_number("", "26-27", 1, NULL);
  expect_number("IN V", "26-27", 1, NULL);
  expect_number(NULL, "26-27", 1, NULL);
  expect_number("INV", "26-28", 1, NULL); /* not one year */
  expect_number("INV", "2627", 1, NULL);
  expect_number("INV", "26-2x", 1, NULL);
  expect_number("INV", "26-27 ", 1, NULL);
  expect_number("INV", NULL, 1, NULL);
  assert_int_equal(gst_invoice_number("INV", "26-27", 1, NULL), -1);

  assert_true(gst_prefix_valid("INV"));
  assert_true(gst_prefix_valid("S"));
  assert_true(gst_prefix_valid("GST01"));
  assert_true(gst_prefix_valid("a-b/c"));
  assert_true(gst_prefix_valid("z9"));
  assert_false(gst_prefix_valid(""));
  assert_false(gst_prefix_valid(NULL));
  assert_false(gst_prefix_valid("ABCDEF"));
  assert_false(gst_prefix_valid("INV_"));
  assert_false(gst_prefix_valid("INV "));
  assert_false(gst_prefix_valid("IN.V"));
  assert_false(gst_prefix_valid("\xc3\x84" "B")); /* UTF-8 letter */
  assert_false(gst_prefix_valid("A\tB"));
}

/* A series across the boundary: the last invoice of 31 March (IST) and the
 * first of 1 April, both issued at the same UTC date. */
static void test_numbering_across_fy(void **state) {
  (void)state;
  char fy[6], num[17];
  gst_fy_label(gst_today_ist(instant("2027-03-31T18:29:59Z")), fy);
  assert_int_equal(gst_invoice_number("INV", fy, 1234, num), 0);
  assert_string_equal(num, "INV/26-27/1234");
  gst_fy_label(gst_today_ist(instant("2027-03-31T18:30:00Z")), fy);
  assert_int_equal(gst_invoice_number("INV", fy, 1, num), 0);
  assert_string_equal(num, "INV/27-28/0001");
}

/* ---- GSTIN -------------------------------------------------------------- */

static void expect_gstin_ok(const char *g, const char *state_want) {
  char st[3] = "xx", why[128] = "";
  if (gstin_check(g, st, why, sizeof why))
    fail_msg("%s refused: %s", g, why);
  assert_string_equal(st, state_want);
  assert_true(gstin_check(g, NULL, NULL, 0) == 0);
}

static void expect_gstin_bad(const char *g, const char *why_want) {
  char st[3] = "xx", why[128] = "";
  if (gstin_check(g, st, why, sizeof why) == 0)
    fail_msg("%s accepted", g ? g : "(null)");
  assert_string_equal(why, why_want);
  assert_string_equal(st, "");
  assert_int_equal(gstin_check(g, NULL, NULL, 0), -1);
}

static void test_gstin_check_char(void **state) {
  (void)state;
  /* 27AAPFU0939F1ZV, the sample GSTIN printed in many GST guides, worked
   * by hand. Values: 0-9 are 0-9, A-Z are 10-35; every odd position
   * (from 0) is doubled and a product p adds p/36 + p%36.
   *   i  char value factor p   adds
   *   0  2    2     1      2   2
   *   1  7    7     2      14  14
   *   2  A    10    1      10  10
   *   3  A    10    2      20  20
   *   4  P    25    1      25  25
   *   5  F    15    2      30  30
   *   6  U    30    1      30  30
   *   7  0    0     2      0   0
   *   8  9    9     1      9   9
   *   9  3    3     2      6   6
   *  10  9    9     1      9   9
   *  11  F    15    2      30  30
   *  12  1    1     1      1   1
   *  13  Z    35    2      70  1 + 34 = 35
   * sum = 221; 221 % 36 = 5; (36 - 5) % 36 = 31 = 'V'. */
  assert_int_equal(gstin_check_char("27AAPFU0939F1Z"), 'V');
  expect_gstin_ok("27AAPFU0939F1ZV", "27");

  /* 29ABCDE1234F1Z: 2 + 18 + 10 + 22 + 12 + 26 + 14 + 2 + 2 + 6 + 4 + 30 +
   * 1 + 35 = 184; 184 % 36 = 4; 36 - 4 = 32 = 'W'. (The "29ABCDE1234F1Z5"
   * seen in placeholder text is not a valid GSTIN.) */
  assert_int_equal(gstin_check_char("29ABCDE1234F1Z"), 'W');
  expect_gstin_ok("29ABCDE1234F1ZW", "29");
  expect_gstin_bad("29ABCDE1234F1Z5", "GSTIN check character should be W");

  /* 29ABCDE1234FXZ: as above with X (33) for 1 at position 12:
   * 184 - 1 + 33 = 216 = 6 x 36; (36 - 0) % 36 = 0 = '0'. */
  assert_int_equal(gstin_check_char("29ABCDE1234FXZ"), '0');
  expect_gstin_ok("29ABCDE1234FXZ0", "29");

  /* 07ZZZZZ9999Z9Z: doubled Z (70) and doubled 9 (18) fold differently:
   * 0 + 14 + 35 + 35 + 35 + 35 + 35 + 18 + 9 + 18 + 9 + 35 + 9 + 35 = 322;
   * 322 % 36 = 34; 36 - 34 = 2 = '2'. */
  assert_int_equal(gstin_check_char("07ZZZZZ9999Z9Z"), '2');
  expect_gstin_ok("07ZZZZZ9999Z9Z2", "07");

  /* Not a GSTIN alphabet, or too short: no check character. */
  assert_int_equal(gstin_check_char("27aapfu0939f1z"), '\0');
  assert_int_equal(gstin_check_char("27AAPFU0939F1"), '\0');
  assert_int_equal(gstin_check_char(""), '\0');
  assert_int_equal(gstin_check_char(NULL), '\0');
  assert_int_equal(gstin_check_char("27AAPFU0939F-Z"), '\0');
  /* Only the first 14 count. */
  assert_int_equal(gstin_check_char("27AAPFU0939F1ZV"), 'V');
}

static void test_gstin_errors(void **state) {
  (void)state;
  expect_gstin_bad(NULL, "GSTIN is missing");
  expect_gstin_bad("", "GSTIN must be 15 characters");
  expect_gstin_bad("27AAPFU0939F1Z", "GSTIN must be 15 characters");
  expect_gstin_bad("27AAPFU0939F1ZVX", "GSTIN must be 15 characters");
  expect_gstin_bad("27AAPFU0939F1ZV27AAPFU0939F1ZV",
                   "GSTIN must be 15 characters");
  expect_gstin_bad(" 27AAPFU0939F1ZV", "GSTIN must be 15 characters");
  expect_gstin_bad("2XAAPFU0939F1ZV",
                   "a GSTIN starts with a two-digit state code");
  expect_gstin_bad("X7AAPFU0939F1ZV",
                   "a GSTIN starts with a two-digit state code");
  expect_gstin_bad("40AAPFU0939F1ZV",
                   "state code 40 in the GSTIN is not a GST state");
  expect_gstin_bad("00AAPFU0939F1ZV",
                   "state code 00 in the GSTIN is not a GST state");
  expect_gstin_bad("99AAPFU0939F1ZV",
                   "state code 99 in the GSTIN is not a GST state");
  const char *letters =
      "characters 3 to 7 of a GSTIN (from the PAN) must be capital letters";
  expect_gstin_bad("27aapfu0939f1zv", letters); /* lower case is refused */
  expect_gstin_bad("27AAPF10939F1ZV", letters);
  expect_gstin_bad("27AAPFu0939F1ZV", letters);
  const char *digits =
      "characters 8 to 11 of a GSTIN (from the PAN) must be digits";
  expect_gstin_bad("27AAPFUO939F1ZV", digits); /* letter O for zero */
  expect_gstin_bad("27AAPFU093IF1ZV", digits);
  expect_gstin_bad("27AAPFU093991ZV", "character 12 of a GSTIN (from the PAN) "
                                      "must be a capital letter");
  const char *entity = "character 13 of a GSTIN (the registration number) "
                       "must be 1-9 or A-Z";
  expect_gstin_bad("27AAPFU0939F0ZV", entity);
  expect_gstin_bad("27AAPFU0939F-ZV", entity);
  expect_gstin_bad("27AAPFU0939F1YV", "character 14 of a GSTIN must be Z");
  expect_gstin_bad("27AAPFU0939F1zV", "character 14 of a GSTIN must be Z");
  expect_gstin_bad("27AAPFU0939F1ZW", "GSTIN check character should be V");
  expect_gstin_bad("27AAPFU0939F1Zv", "GSTIN check character should be V");
  expect_gstin_bad("27AAPFU0939F1Z-", "GSTIN check character should be V");
  /* Two PAN letters swapped (A and P at positions 3 and 4): they now add
   * 25 x 2 = 50 -> 1 + 14 = 15 and 10 instead of 20 and 25, so the sum is
   * 221 - 20 = 201; 201 % 36 = 21; 36 - 21 = 15 = 'F'. */
  expect_gstin_bad("27APAFU0939F1ZV", "GSTIN check character should be F");

  /* The reason is cut to the buffer and always terminated. */
  char why[8];
  memset(why, 'x', sizeof why);
  assert_int_equal(gstin_check("27AAPFU0939F1Z", NULL, why, sizeof why), -1);
  assert_string_equal(why, "GSTIN m");
  char one[1] = {'x'};
  assert_int_equal(gstin_check("40AAPFU0939F1ZV", NULL, one, 1), -1);
  assert_int_equal(one[0], '\0');
}

/* Luhn mod 36 catches every single wrong character: change each of the 15
 * characters of a valid GSTIN to each other character of the alphabet, and
 * none may pass. */
static void test_gstin_single_errors(void **state) {
  (void)state;
  static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  const char *valid[] = {"27AAPFU0939F1ZV", "29ABCDE1234F1ZW",
                         "29ABCDE1234FXZ0", "07ZZZZZ9999Z9Z2"};
  for (size_t v = 0; v < sizeof valid / sizeof valid[0]; v++) {
    for (int i = 0; i < 15; i++) {
      for (int a = 0; a < 36; a++) {
        char g[16];
        memcpy(g, valid[v], 16);
        if (g[i] == alphabet[a]) continue;
        g[i] = alphabet[a];
        if (gstin_check(g, NULL, NULL, 0) == 0)
          fail_msg("%s (from %s) accepted", g, valid[v]);
      }
    }
  }
}

static void test_state_codes(void **state) {
  (void)state;
  const char *ok[] = {"01", "07", "09", "10", "19", "24", "27",
                      "29", "33", "36", "37", "38", "97"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!gst_state_valid(ok[i])) fail_msg("%s refused", ok[i]);
  const char *bad[] = {"00", "39", "40", "96", "98", "99", "1",  "001",
                       "7",  "ab", "2a", "",   " 1", "1 ", "-1", "27 "};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (gst_state_valid(bad[i])) fail_msg("'%s' accepted", bad[i]);
  assert_false(gst_state_valid(NULL));
  /* Every two-digit code, against the rule. */
  for (int v = 0; v < 100; v++) {
    char c[3] = {(char)('0' + v / 10), (char)('0' + v % 10), '\0'};
    assert_int_equal(gst_state_valid(c) != 0, (v >= 1 && v <= 38) || v == 97);
    /* every valid code has a name, no other has one */
    assert_int_equal(gst_state_name(c) != NULL, gst_state_valid(c) != 0);
  }
  assert_string_equal(gst_state_name("29"), "Karnataka");
  assert_string_equal(gst_state_name("07"), "Delhi");
  assert_string_equal(gst_state_name("97"), "Other Territory");
  assert_null(gst_state_name(NULL));
  assert_null(gst_state_name("2"));
}

static void test_hsn(void **state) {
  (void)state;
  const char *ok[] = {"1006", "100630", "10063010", "9983", "998314",
                      "0402", "71131910"};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
    if (!hsn_valid(ok[i])) fail_msg("%s refused", ok[i]);
  const char *bad[] = {"",        "100",       "10063",  "1006301",
                       "100630101", "10a6",    "1006 ", " 1006",
                       "10-06",   "\xef\xbc\x91\xef\xbc\x90\xef\xbc\x90\xef\xbc\x96" /* fullwidth */,
                       "1006.3"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (hsn_valid(bad[i])) fail_msg("'%s' accepted", bad[i]);
  assert_false(hsn_valid(NULL));
}

/* ---- phone numbers ------------------------------------------------------ */

static void expect_phone(const char *in, const char *want) {
  char out[17];
  memset(out, 'x', sizeof out);
  int rc = phone_e164(in, out);
  if (!want) {
    if (rc == 0) fail_msg("'%s' accepted as %s", in ? in : "(null)", out);
    assert_string_equal(out, "");
    return;
  }
  if (rc) fail_msg("'%s' refused", in);
  if (strcmp(out, want)) fail_msg("'%s' -> %s, want %s", in, out, want);
}

static void test_phones(void **state) {
  (void)state;
  /* A bare Indian mobile number and the ways people write it. */
  expect_phone("9876543210", "+919876543210");
  expect_phone("98765 43210", "+919876543210");
  expect_phone("98765-43210", "+919876543210");
  expect_phone("98.765.432.10", "+919876543210");
  expect_phone("(98765) 43210", "+919876543210");
  expect_phone("6000000000", "+916000000000");
  expect_phone("7012345678", "+917012345678");
  expect_phone("8012345678", "+918012345678");
  /* With the trunk 0, the country code, or the international prefix. */
  expect_phone("09876543210", "+919876543210");
  expect_phone("0 98765 43210", "+919876543210");
  expect_phone("919876543210", "+919876543210");
  expect_phone("91 98765 43210", "+919876543210");
  expect_phone("+91 98765 43210", "+919876543210");
  expect_phone("+91-98765-43210", "+919876543210");
  expect_phone("+919876543210", "+919876543210");
  expect_phone("0091 98765 43210", "+919876543210");
  expect_phone("00919876543210", "+919876543210");
  /* A landline with its STD code (Mumbai 022). */
  expect_phone("(022) 2345 6789", "+912223456789");
  expect_phone("022-23456789", "+912223456789");
  expect_phone("+91 22 2345 6789", "+912223456789");
  /* Other countries keep their code. */
  expect_phone("+1 (415) 555-0100", "+14155550100");
  expect_phone("+44 20 7946 0958", "+442079460958");
  expect_phone("0044 20 7946 0958", "+442079460958");
  expect_phone("+971 50 123 4567", "+971501234567");
  expect_phone("+12345678", "+12345678");                 /* 8 digits */
  expect_phone("+123456789012345", "+123456789012345");   /* 15 digits */
  expect_phone("00123456789012345", "+123456789012345");  /* 00 + 15 */

  expect_phone(NULL, NULL);
  expect_phone("", NULL);
  expect_phone("  ", NULL);
  expect_phone("+", NULL);
  expect_phone("abc", NULL);
  expect_phone("98765abc10", NULL);
  expect_phone("9876543210 ext 5", NULL);
  expect_phone("9876543210\t", NULL);
  expect_phone("98765\xe2\x80\x89" "43210", NULL); /* a thin space */
  expect_phone("5876543210", NULL);   /* no mobile starts with 5 */
  expect_phone("0876543210", NULL);   /* 10 digits with a 0 */
  expect_phone("987654321", NULL);    /* 9 digits */
  expect_phone("98765432101", NULL);  /* 11 digits, no trunk 0 */
  expect_phone("23456789", NULL);     /* a landline without its code */
  expect_phone("2223456789", NULL);   /* STD code without the trunk 0 */
  expect_phone("919876543", NULL);
  expect_phone("910876543210", NULL); /* 91 + a number starting 0 */
  expect_phone("0919876543210", NULL);
  expect_phone("+1234567", NULL);          /* 7 digits */
  expect_phone("+1234567890123456", NULL); /* 16 digits */
  expect_phone("001234567890123456", NULL);
  expect_phone("+0123456789", NULL);  /* no country code starts with 0 */
  expect_phone("0000000000", NULL);
  expect_phone("++919876543210", NULL);
  expect_phone("91+9876543210", NULL);
  expect_phone("+91 98765 4321", NULL);   /* 9 digits after +91 */
  expect_phone("+91 98765 432100", NULL); /* 11 digits after +91 */
  expect_phone("+91 09876 54321", NULL);
  expect_phone("00", NULL);
  /* A long run of digits is refused without overrunning anything. */
  char longer[400];
  memset(longer, '9', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  expect_phone(longer, NULL);
  assert_int_equal(phone_e164("9876543210", NULL), -1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_half_up_div),
      cmocka_unit_test(test_line_examples),
      cmocka_unit_test(test_invoice_examples),
      cmocka_unit_test(test_line_refusals),
      cmocka_unit_test(test_totals_refusals),
      cmocka_unit_test(test_random_invariants),
      cmocka_unit_test(test_today_ist),
      cmocka_unit_test(test_fy_label),
      cmocka_unit_test(test_invoice_numbers),
      cmocka_unit_test(test_numbering_across_fy),
      cmocka_unit_test(test_gstin_check_char),
      cmocka_unit_test(test_gstin_errors),
      cmocka_unit_test(test_gstin_single_errors),
      cmocka_unit_test(test_state_codes),
      cmocka_unit_test(test_hsn),
      cmocka_unit_test(test_phones),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
