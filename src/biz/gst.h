/* gst.h - the arithmetic and identifiers of Indian GST invoices, exact to
 * the paisa: line values, CGST/SGST/IGST, the invoice's round-off to the
 * rupee, financial years, invoice numbers, GSTIN check characters, state
 * codes, HSN codes and phone numbers. No database, no floating point.
 *
 * Units: money in paise, quantities in thousandths (2.5 kg = 2500), rates
 * in hundredths of a percent (18% = 1800, 0.25% = 25). */
#ifndef MUNSHI_BIZ_GST_H
#define MUNSHI_BIZ_GST_H

#include <stddef.h>
#include <stdint.h>

#include "base/ident.h"

/* Largest money value a column holds: numeric(14,2) is below 10^12 rupees. */
#define GST_MONEY_MAX 99999999999999LL

/* n / d rounded half away from zero (d > 0): 0.5 paise and up goes up, and
 * -0.5 goes to -1, so round(-x) == -round(x). */
int64_t round_half_up_div(int64_t n, int64_t d);

typedef struct gst_line_in {
  int64_t qty;        /* thousandths, > 0 */
  int64_t unit_price; /* paise, >= 0 */
  int64_t discount;   /* paise, >= 0, an amount off the line */
  int64_t rate;       /* hundredths of a percent, 0..10000 */
} gst_line_in;

typedef struct gst_line_out {
  int64_t taxable; /* qty x unit price (rounded half-up) - discount */
  int64_t cgst, sgst, igst;
  int64_t total;   /* taxable + taxes */
} gst_line_out;

/* Computes one line. intra: supply within the state (CGST and SGST, each at
 * half the rate, each rounded half-up, so they are equal), else IGST at the
 * full rate. Returns 0, or -1 when the inputs are out of range, the
 * discount exceeds the line value, or a value would pass GST_MONEY_MAX. */
int gst_line(const gst_line_in *in, int intra, gst_line_out *out);

typedef struct gst_totals {
  int64_t subtotal; /* sum of taxable values */
  int64_t cgst, sgst, igst;
  int64_t round_off; /* total_amount - (subtotal + taxes), -49..+50 paise */
  int64_t total;     /* rounded to the rupee (section 170 CGST Act) */
} gst_totals;

/* Sums the lines and rounds the grand total to the nearest rupee (50 paise
 * and up round up). Returns 0, or -1 past GST_MONEY_MAX. */
int gst_invoice_totals(const gst_line_out *lines, int n, gst_totals *out);

/* The date (days since 1970-01-01) in India's time zone (UTC+05:30) at the
 * instant now_us. */
int32_t gst_today_ist(int64_t now_us);
/* Financial year of a date: 1 April to 31 March, as "26-27". */
void gst_fy_label(int32_t days, char out[6]);

/* A valid invoice prefix: 1..5 characters of A-Z a-z 0-9 - / (1 if valid,
 * else 0). */
int gst_prefix_valid(const char *prefix);
/* Formats PREFIX/YY-YY/NNNN (at least four digits). Returns 0, or -1 when
 * the result passes 16 characters (GST's limit for invoice numbers). */
int gst_invoice_number(const char *prefix, const char fy[6], int64_t n,
                       char out[17]);

#endif
