/* invoice_pdf.c - the GST tax invoice as a PDF (CGST Rule 46), its HTTP
 * route GET /invoices/<id>.pdf, and rpc/invoice_upi (the UPI link and QR of
 * what is due on an invoice).
 *
 * The invoice, its lines, the business and the customer are read in one
 * statement (one snapshot), before anything is drawn: rendering takes
 * milliseconds and holds no database lock. The page states what Rule 46
 * asks of a tax invoice: the supplier's name, address and GSTIN; a serial
 * number and the date; the recipient's name, address, GSTIN when
 * registered, and state with its code; the place of supply (state name and
 * code); per line the HSN code, description, quantity and unit, rate,
 * discount, taxable value, CGST/SGST or IGST rate and amount; the tax by
 * rate; the round-off and total, in figures and in words (Indian
 * numbering); whether tax is payable on reverse charge (munshi's invoices:
 * no); a place for the authorised signatory; "ORIGINAL FOR RECIPIENT". The
 * UPI QR code of the amount due (biz_upi_link, tr = the invoice number) and
 * the link in text let the customer pay from the page. A draft says DRAFT
 * and that it is not a tax invoice; a cancelled invoice says CANCELLED. */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/ident.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/upi.h"
#include "biz/words.h"
#include "integrations/integ_int.h"
#include "integrations/integrations.h"
#include "integrations/pdf.h"

/* A PDF larger than this is refused (an invoice of many hundred lines is a
 * few hundred kilobytes). */
#define INVOICE_PDF_MAX (16u << 20)

/* "Karnataka (29)", or "" when there is no code. */
static const char *state_label(arena *a, const char *code) {
  if (!code || !*code) return "";
  const char *n = gst_state_name(code);
  return n ? arena_printf(a, "%s (%s)", n, code) : arena_printf(a, "%s", code);
}

typedef struct inv_line {
  const char *description, *hsn, *unit;
  int64_t qty;  /* thousandths */
  int64_t rate; /* hundredths of a percent */
  int64_t unit_price, discount, taxable, cgst, sgst, igst, total; /* paise */
} inv_line;

typedef struct inv_doc {
  /* the business */
  const char *biz_name, *biz_gstin, *biz_state, *biz_address, *upi_id,
      *biz_phone;
  /* the invoice */
  char id[37];
  const char *number, *status, *pos, *notes, *cancel_reason;
  int32_t date, due_date; /* DB_BAD_DATE: none */
  int64_t subtotal, cgst, sgst, igst, round_off, total, paid, due;
  /* the customer */
  const char *cust_name, *cust_address, *cust_city, *cust_pincode,
      *cust_gstin, *cust_state, *cust_phone, *cust_email;
  inv_line *lines;
  int nlines;
} inv_doc;

static const char *opt_text(arena *a, db_res *r, int row, int col) {
  return db_res_isnull(r, row, col) ? NULL
                                    : arena_strdup(a, db_res_text(r, row, col));
}

/* Reads the invoice id of profile_id into v. 0, 1 when there is no such
 * invoice (of this business), -1 with err. One statement (the invoice with
 * its business and customer on every row, one row per line), so it reads
 * one snapshot on both backends without a transaction around it, in one
 * round trip. */
static int load(db *d, arena *a, const char *profile_id, const char *id,
                inv_doc *v, db_err *err) {
  db_res *r = NULL;
  int rc = -1;
  db_val k[] = {db_uuid(profile_id), db_uuid(id)};
  memset(v, 0, sizeof *v);
  if (db_query_fixed(
          d,
          "SELECT i.invoice_number, i.status, i.place_of_supply, i.notes, "
          "i.cancel_reason, i.invoice_date, i.due_date, i.subtotal, "
          "i.cgst_amount, i.sgst_amount, i.igst_amount, i.round_off, "
          "i.total_amount, i.amount_paid, i.balance_due, c.full_name, "
          "c.address, c.city, c.pincode, c.gstin, c.state_code, "
          "c.phone_number, c.email, p.business_name, p.gst_number, "
          "p.state_code, p.address, p.upi_id, p.whatsapp_number, "
          "it.id, it.description, it.hsn_code, pr.unit, it.quantity, "
          "it.gst_rate, it.unit_price, it.discount, it.taxable_value, "
          "it.cgst_amount, it.sgst_amount, it.igst_amount, it.line_total "
          "FROM invoices i "
          "JOIN customers c ON c.profile_id = i.profile_id "
          "AND c.id = i.customer_id "
          "JOIN profiles p ON p.id = i.profile_id "
          "LEFT JOIN invoice_items it ON it.profile_id = i.profile_id "
          "AND it.invoice_id = i.id "
          "LEFT JOIN products pr ON pr.profile_id = it.profile_id "
          "AND pr.id = it.product_id "
          "WHERE i.profile_id = $1 AND i.id = $2 "
          "ORDER BY it.line_no, it.id",
          k, 2, &r, err))
    goto out;
  int rows = db_res_rows(r);
  if (rows < 1) {
    rc = 1;
    goto out;
  }
  uuid_normalize(id, v->id);
  v->number = opt_text(a, r, 0, 0);
  v->status = arena_strdup(a, db_res_text(r, 0, 1));
  v->pos = opt_text(a, r, 0, 2);
  v->notes = opt_text(a, r, 0, 3);
  v->cancel_reason = opt_text(a, r, 0, 4);
  v->date = db_res_date(r, 0, 5);
  v->due_date = db_res_isnull(r, 0, 6) ? DB_BAD_DATE : db_res_date(r, 0, 6);
  int64_t *money[] = {&v->subtotal, &v->cgst,  &v->sgst, &v->igst,
                      &v->round_off, &v->total, &v->paid, &v->due};
  for (int i = 0; i < 8; i++) *money[i] = db_res_dec(r, 0, 7 + i, 2);
  const char **text[] = {&v->cust_name,  &v->cust_address, &v->cust_city,
                         &v->cust_pincode, &v->cust_gstin, &v->cust_state,
                         &v->cust_phone, &v->cust_email,   &v->biz_name,
                         &v->biz_gstin,  &v->biz_state,    &v->biz_address,
                         &v->upi_id,     &v->biz_phone};
  for (int i = 0; i < 14; i++) *text[i] = opt_text(a, r, 0, 15 + i);
  v->lines = arena_alloc(a, sizeof *v->lines * (size_t)rows);
  for (int row = 0; row < rows; row++) {
    if (db_res_isnull(r, row, 29)) continue; /* no lines (LEFT JOIN) */
    inv_line *l = &v->lines[v->nlines++];
    l->description = opt_text(a, r, row, 30);
    l->hsn = opt_text(a, r, row, 31);
    l->unit = db_res_isnull(r, row, 32) ? "pcs" : opt_text(a, r, row, 32);
    l->qty = db_res_dec(r, row, 33, 3);
    l->rate = db_res_dec(r, row, 34, 2);
    int64_t *m[] = {&l->unit_price, &l->discount, &l->taxable,
                    &l->cgst,       &l->sgst,     &l->igst, &l->total};
    for (int j = 0; j < 7; j++) *m[j] = db_res_dec(r, row, 35 + j, 2);
  }
  rc = 0;
out:
  db_res_free(r);
  return rc;
}

/* ---- text helpers -------------------------------------------------------- */

static const char *money_text(arena *a, int64_t paise) {
  buf b;
  buf_init(&b, 0);
  biz_amount_indian(&b, paise);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* A decimal without trailing zeros: 2.500 -> "2.5", 18.00 -> "18". */
static const char *dec_short(arena *a, int64_t v, int scale) {
  char t[DEC_MAX_TEXT];
  dec_format(v, scale, t);
  char *dot = strchr(t, '.');
  if (dot) {
    char *e = t + strlen(t) - 1;
    while (e > dot && *e == '0') *e-- = 0;
    if (e == dot) *e = 0;
  }
  return arena_strdup(a, t);
}

/* DD-MM-YYYY, as Indian invoices write dates. */
static const char *date_text(arena *a, int32_t days) {
  if (days == DB_BAD_DATE) return "";
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  return arena_printf(a, "%02u-%02u-%04lld", d, m, (long long)y);
}

static int is_draft(const inv_doc *v) { return !strcmp(v->status, "draft"); }
static int is_cancelled(const inv_doc *v) {
  return !strcmp(v->status, "cancelled");
}

/* Intra-state: the place of supply is the supplier's state, so the tax is
 * CGST + SGST; else IGST. Also intra when the lines say so (an invoice
 * whose business has no state yet). */
static int is_intra(const inv_doc *v) {
  if (v->pos && v->biz_state) return !strcmp(v->pos, v->biz_state);
  return v->igst == 0;
}

/* The UPI link of what is due, or NULL when the page shows none: no UPI id,
 * nothing due, or not an issued invoice. In a. */
static const char *upi_link(arena *a, const inv_doc *v) {
  if (!v->upi_id || !*v->upi_id || v->due <= 0 || !v->number ||
      is_draft(v) || is_cancelled(v))
    return NULL;
  buf b;
  buf_init(&b, 0);
  const char *note = arena_printf(a, "Invoice %s", v->number);
  biz_upi_link(&b, v->upi_id, v->biz_name ? v->biz_name : "", v->due, note,
               v->number);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* ---- layout -------------------------------------------------------------- */

#define MARGIN 36.0
#define CONTENT_W (PDF_A4_W - 2 * MARGIN)
#define BOTTOM (PDF_A4_H - MARGIN)
#define PAD 3.0

typedef struct col {
  const char *head;
  double w;
  pdf_align align;
} col;

typedef struct page_state {
  pdf_doc *p;
  const inv_doc *v;
  arena *a;
  double y;
  int page;
} page_state;

/* A small line at the foot of every page: the number and the page. */
static void page_foot(page_state *s) {
  pdf_font(s->p, 7, 0);
  pdf_gray(s->p, 0.35);
  pdf_text(s->p, MARGIN, BOTTOM + 8, CONTENT_W, PDF_RIGHT,
           arena_printf(s->a, "%s · page %d",
                        s->v->number ? s->v->number : "draft", s->page));
  pdf_gray(s->p, 0);
}

static void new_page(page_state *s) {
  page_foot(s);
  pdf_page(s->p);
  s->page++;
  s->y = MARGIN;
}

/* One table row: each cell's text wrapped in its column; the row as tall as
 * its tallest cell. A row that does not fit below starts a new page (with
 * the header row again when head is given). */
static void table_row(page_state *s, const col *cols, int ncols,
                      const char *const *cells, int bold, double size,
                      const col *head) {
  double w[PDF_MAX_CELLS], x[PDF_MAX_CELLS];
  pdf_align al[PDF_MAX_CELLS];
  double cx = MARGIN;
  if (ncols > PDF_MAX_CELLS) ncols = PDF_MAX_CELLS;
  for (int i = 0; i < ncols; i++) {
    w[i] = cols[i].w - 2 * PAD;
    al[i] = cols[i].align;
    x[i] = cx + PAD;
    cx += cols[i].w;
  }
  pdf_font(s->p, size, bold);
  double h = pdf_cells_set(s->p, ncols, w, al, cells) + 2 * PAD;
  if (s->y + h > BOTTOM - 10) {
    new_page(s);
    if (head) {
      const char *heads[PDF_MAX_CELLS];
      for (int i = 0; i < ncols; i++) heads[i] = head[i].head;
      table_row(s, head, ncols, heads, 1, size, NULL);
    }
    /* The header row used the cells: set this row's again. */
    pdf_font(s->p, size, bold);
    h = pdf_cells_set(s->p, ncols, w, al, cells) + 2 * PAD;
  }
  if (bold) {
    pdf_gray(s->p, 0.92);
    pdf_rect(s->p, MARGIN, s->y, CONTENT_W, h, 1);
    pdf_gray(s->p, 0);
  }
  pdf_cells_draw(s->p, ncols, x, s->y + PAD);
  s->y += h;
  pdf_gray(s->p, 0.6);
  pdf_line(s->p, MARGIN, s->y, MARGIN + CONTENT_W, s->y, 0.4);
  pdf_gray(s->p, 0);
}

/* Starts a new page when h points do not fit below. */
static void need(page_state *s, double h) {
  if (s->y + h > BOTTOM - 10) new_page(s);
}

/* A labelled block of lines (supplier, recipient), w wide at x; returns its
 * height. Lines that are NULL or "" are left out. */
static double block(page_state *s, double x, double y, double w,
                    const char *title, const char *name,
                    const char *const *lines, int n) {
  double h = 0;
  pdf_font(s->p, 7.5, 1);
  pdf_gray(s->p, 0.35);
  h += pdf_text(s->p, x, y, w, PDF_LEFT, title);
  pdf_gray(s->p, 0);
  pdf_font(s->p, 11, 1);
  h += pdf_text(s->p, x, y + h, w, PDF_LEFT, name && *name ? name : "-");
  pdf_font(s->p, 8.5, 0);
  for (int i = 0; i < n; i++)
    if (lines[i] && *lines[i]) h += pdf_text(s->p, x, y + h, w, PDF_LEFT, lines[i]);
  return h;
}

static const char *join_address(arena *a, const char *addr, const char *city,
                                const char *pin) {
  buf b;
  buf_init(&b, 0);
  if (addr && *addr) buf_puts(&b, addr);
  if (city && *city) {
    if (b.len) buf_puts(&b, ", ");
    buf_puts(&b, city);
  }
  if (pin && *pin) {
    if (b.len) buf_puts(&b, " - ");
    buf_puts(&b, pin);
  }
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

static void draw_header(page_state *s) {
  const inv_doc *v = s->v;
  arena *a = s->a;
  pdf_doc *p = s->p;
  const char *title = is_draft(v) ? "DRAFT" : "TAX INVOICE";
  pdf_font(p, 7.5, 1);
  if (!is_draft(v))
    pdf_text(p, MARGIN, s->y, CONTENT_W, PDF_RIGHT, "ORIGINAL FOR RECIPIENT");
  pdf_font(p, 16, 1);
  s->y += pdf_text(p, MARGIN, s->y + 6, CONTENT_W, PDF_CENTER, title) + 6;
  if (is_draft(v)) {
    pdf_font(p, 9, 0);
    s->y += pdf_text(p, MARGIN, s->y, CONTENT_W, PDF_CENTER,
                     "This is a draft, not a tax invoice: it has no number yet "
                     "and is not valid for input tax credit.");
  }
  if (is_cancelled(v)) {
    pdf_gray(p, 0.15);
    pdf_rect(p, MARGIN, s->y + 4, CONTENT_W, 22, 1);
    pdf_gray(p, 1);
    pdf_font(p, 13, 1);
    pdf_text(p, MARGIN, s->y + 7, CONTENT_W, PDF_CENTER, "CANCELLED");
    pdf_gray(p, 0);
    s->y += 30;
    if (v->cancel_reason && *v->cancel_reason) {
      pdf_font(p, 8.5, 0);
      s->y += pdf_text(p, MARGIN, s->y, CONTENT_W, PDF_CENTER,
                       arena_printf(a, "Reason: %s", v->cancel_reason));
    }
  }
  s->y += 8;

  /* The supplier (left) and the invoice's particulars (right). */
  double half = CONTENT_W / 2 - 6, top = s->y;
  const char *sup[] = {
      v->biz_address,
      v->biz_gstin ? arena_printf(a, "GSTIN: %s", v->biz_gstin)
                   : "GSTIN: not registered",
      v->biz_state ? arena_printf(a, "State: %s", state_label(a, v->biz_state))
                   : NULL,
      v->biz_phone ? arena_printf(a, "Phone: %s", v->biz_phone) : NULL,
  };
  double hl = block(s, MARGIN, top, half, "SUPPLIER", v->biz_name, sup, 4);
  const char *pos = v->pos ? state_label(a, v->pos) : "";
  const char *inv[] = {
      arena_printf(a, "Invoice No.: %s", v->number ? v->number : "(draft)"),
      arena_printf(a, "Invoice Date: %s", date_text(a, v->date)),
      v->due_date != DB_BAD_DATE
          ? arena_printf(a, "Due Date: %s", date_text(a, v->due_date))
          : NULL,
      arena_printf(a, "Place of Supply: %s", *pos ? pos : "-"),
      "Reverse Charge: No",
  };
  double hr = block(s, MARGIN + half + 12, top, half, "INVOICE",
                    is_draft(v) ? "Draft" : "Tax Invoice", inv, 5);
  s->y = top + (hl > hr ? hl : hr) + 8;
  pdf_line(p, MARGIN, s->y, MARGIN + CONTENT_W, s->y, 0.6);
  s->y += 6;

  /* The recipient. */
  const char *rec[] = {
      join_address(a, v->cust_address, v->cust_city, v->cust_pincode),
      v->cust_gstin ? arena_printf(a, "GSTIN: %s", v->cust_gstin)
                    : "GSTIN: unregistered",
      v->cust_state
          ? arena_printf(a, "State: %s", state_label(a, v->cust_state))
          : NULL,
      v->cust_phone ? arena_printf(a, "Phone: %s", v->cust_phone) : NULL,
      v->cust_email ? arena_printf(a, "Email: %s", v->cust_email) : NULL,
  };
  s->y += block(s, MARGIN, s->y, CONTENT_W, "BILL TO (RECIPIENT)", v->cust_name,
                rec, 5);
  s->y += 8;
}

static void draw_lines(page_state *s) {
  const inv_doc *v = s->v;
  arena *a = s->a;
  int intra = is_intra(v);
  static const col intra_cols[] = {
      {"#", 20, PDF_RIGHT},          {"Description", 77, PDF_LEFT},
      {"HSN", 38, PDF_LEFT},         {"Qty", 34, PDF_RIGHT},
      {"Unit", 24, PDF_LEFT},        {"Rate", 44, PDF_RIGHT},
      {"Disc.", 34, PDF_RIGHT},      {"Taxable", 50, PDF_RIGHT},
      {"CGST%", 32, PDF_RIGHT},     {"CGST", 40, PDF_RIGHT},
      {"SGST%", 32, PDF_RIGHT},     {"SGST", 40, PDF_RIGHT},
      {"Total", 58.28, PDF_RIGHT},
  };
  static const col inter_cols[] = {
      {"#", 20, PDF_RIGHT},          {"Description", 127, PDF_LEFT},
      {"HSN", 40, PDF_LEFT},         {"Qty", 36, PDF_RIGHT},
      {"Unit", 26, PDF_LEFT},        {"Rate", 48, PDF_RIGHT},
      {"Disc.", 38, PDF_RIGHT},      {"Taxable", 54, PDF_RIGHT},
      {"IGST%", 36, PDF_RIGHT},     {"IGST", 44, PDF_RIGHT},
      {"Total", 54.28, PDF_RIGHT},
  };
  const col *cols = intra ? intra_cols : inter_cols;
  int n = intra ? 13 : 11;
  const char *heads[13];
  for (int i = 0; i < n; i++) heads[i] = cols[i].head;
  need(s, 40);
  pdf_line(s->p, MARGIN, s->y, MARGIN + CONTENT_W, s->y, 0.6);
  table_row(s, cols, n, heads, 1, 7.5, NULL);
  for (int i = 0; i < v->nlines; i++) {
    const inv_line *l = &v->lines[i];
    const char *c[13];
    int k = 0;
    c[k++] = arena_printf(a, "%d", i + 1);
    c[k++] = l->description ? l->description : "";
    c[k++] = l->hsn ? l->hsn : "";
    c[k++] = dec_short(a, l->qty, 3);
    c[k++] = l->unit;
    c[k++] = money_text(a, l->unit_price);
    c[k++] = money_text(a, l->discount);
    c[k++] = money_text(a, l->taxable);
    if (intra) {
      c[k++] = dec_short(a, l->rate / 2, 2);
      c[k++] = money_text(a, l->cgst);
      c[k++] = dec_short(a, l->rate - l->rate / 2, 2);
      c[k++] = money_text(a, l->sgst);
    } else {
      c[k++] = dec_short(a, l->rate, 2);
      c[k++] = money_text(a, l->igst);
    }
    c[k++] = money_text(a, l->total);
    table_row(s, cols, n, c, 0, 7.5, cols);
  }
  s->y += 10;
}

/* The tax by rate, as Rule 46 asks the rate and amount of each tax. */
static void draw_rate_summary(page_state *s) {
  const inv_doc *v = s->v;
  arena *a = s->a;
  int64_t rates[64];
  int nr = 0;
  for (int i = 0; i < v->nlines; i++) {
    int seen = 0;
    for (int j = 0; j < nr; j++) seen |= rates[j] == v->lines[i].rate;
    if (!seen && nr < 64) rates[nr++] = v->lines[i].rate;
  }
  /* Ascending, so the summary reads 5%, 12%, 18%. */
  for (int i = 1; i < nr; i++)
    for (int j = i; j > 0 && rates[j - 1] > rates[j]; j--) {
      int64_t t = rates[j];
      rates[j] = rates[j - 1];
      rates[j - 1] = t;
    }
  int intra = is_intra(v), n = intra ? 5 : 4;
  static const col intra_cols[] = {
      {"GST rate", 80, PDF_RIGHT}, {"Taxable value", 120, PDF_RIGHT},
      {"CGST", 100, PDF_RIGHT},    {"SGST", 100, PDF_RIGHT},
      {"Total tax", 123.28, PDF_RIGHT},
  };
  static const col inter_cols[] = {
      {"GST rate", 80, PDF_RIGHT}, {"Taxable value", 150, PDF_RIGHT},
      {"IGST", 150, PDF_RIGHT},    {"Total tax", 143.28, PDF_RIGHT},
  };
  const col *cols = intra ? intra_cols : inter_cols;
  need(s, 30 + 14.0 * nr);
  pdf_font(s->p, 8.5, 1);
  s->y += pdf_text(s->p, MARGIN, s->y, CONTENT_W, PDF_LEFT, "Tax by rate") + 2;
  const char *heads[5];
  for (int i = 0; i < n; i++) heads[i] = cols[i].head;
  pdf_line(s->p, MARGIN, s->y, MARGIN + CONTENT_W, s->y, 0.6);
  table_row(s, cols, n, heads, 1, 7.5, NULL);
  for (int j = 0; j < nr; j++) {
    int64_t tx = 0, cg = 0, sg = 0, ig = 0;
    for (int i = 0; i < v->nlines; i++) {
      if (v->lines[i].rate != rates[j]) continue;
      tx += v->lines[i].taxable;
      cg += v->lines[i].cgst;
      sg += v->lines[i].sgst;
      ig += v->lines[i].igst;
    }
    const char *rate = arena_printf(a, "%s%%", dec_short(a, rates[j], 2));
    const char *ci[] = {rate, money_text(a, tx), money_text(a, cg),
                        money_text(a, sg), money_text(a, cg + sg)};
    const char *co[] = {rate, money_text(a, tx), money_text(a, ig),
                        money_text(a, ig)};
    table_row(s, cols, n, intra ? ci : co, 0, 7.5, cols);
  }
  s->y += 10;
}

static void draw_totals(page_state *s, const char *link) {
  const inv_doc *v = s->v;
  arena *a = s->a;
  pdf_doc *p = s->p;
  double qr = 110, boxw = 230, x = MARGIN + CONTENT_W - boxw;
  need(s, 150);
  double top = s->y, y = top;
  struct {
    const char *k;
    int64_t v;
    int show;
  } rows[] = {
      {"Taxable value", v->subtotal, 1},
      {"CGST", v->cgst, is_intra(v)},
      {"SGST", v->sgst, is_intra(v)},
      {"IGST", v->igst, !is_intra(v)},
      {"Round off", v->round_off, 1},
  };
  pdf_font(p, 8.5, 0);
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    if (!rows[i].show) continue;
    pdf_text(p, x, y, boxw * 0.55, PDF_LEFT, rows[i].k);
    y += pdf_text(p, x + boxw * 0.55, y, boxw * 0.45, PDF_RIGHT,
                  money_text(a, rows[i].v)) + 1;
  }
  pdf_line(p, x, y + 1, x + boxw, y + 1, 0.6);
  y += 4;
  pdf_font(p, 11, 1);
  pdf_text(p, x, y, boxw * 0.45, PDF_LEFT, "Total");
  y += pdf_text(p, x + boxw * 0.45, y, boxw * 0.55, PDF_RIGHT,
                arena_printf(a, "₹ %s", money_text(a, v->total))) + 2;
  if (!is_draft(v) && !is_cancelled(v)) {
    pdf_font(p, 8.5, 0);
    pdf_text(p, x, y, boxw * 0.55, PDF_LEFT, "Amount paid");
    y += pdf_text(p, x + boxw * 0.55, y, boxw * 0.45, PDF_RIGHT,
                  money_text(a, v->paid)) + 1;
    pdf_font(p, 8.5, 1);
    pdf_text(p, x, y, boxw * 0.55, PDF_LEFT, "Balance due");
    y += pdf_text(p, x + boxw * 0.55, y, boxw * 0.45, PDF_RIGHT,
                  money_text(a, v->due)) + 1;
  }

  /* The QR of what is due, left of the totals. */
  double ly = top;
  if (link) {
    pdf_qr(p, MARGIN, top, qr, link);
    pdf_font(p, 8.5, 1);
    double tx = MARGIN + qr + 8, tw = x - tx - 12;
    ly += pdf_text(p, tx, ly, tw, PDF_LEFT,
                   arena_printf(a, "Scan to pay ₹ %s with any UPI app",
                                money_text(a, v->due))) + 2;
    pdf_font(p, 7.5, 0);
    ly += pdf_text(p, tx, ly, tw, PDF_LEFT,
                   arena_printf(a, "UPI ID: %s", v->upi_id)) + 2;
    pdf_font(p, 6.5, 0);
    ly += pdf_text(p, tx, ly, tw, PDF_LEFT, link);
    if (ly < top + qr) ly = top + qr;
  }
  s->y = (y > ly ? y : ly) + 10;

  /* The total in words. */
  buf w;
  buf_init(&w, 0);
  buf_puts(&w, "Amount in words: ");
  biz_amount_words(&w, v->total < 0 ? 0 : v->total);
  need(s, 24);
  pdf_font(p, 8.5, 1);
  s->y += pdf_text(p, MARGIN, s->y, CONTENT_W, PDF_LEFT, buf_cstr(&w)) + 8;
  buf_free(&w);
}

static void draw_foot(page_state *s) {
  const inv_doc *v = s->v;
  arena *a = s->a;
  pdf_doc *p = s->p;
  need(s, 80);
  double top = s->y, lw = CONTENT_W * 0.58;
  double y = top;
  if (v->notes && *v->notes) {
    pdf_font(p, 7.5, 1);
    y += pdf_text(p, MARGIN, y, lw, PDF_LEFT, "Notes");
    pdf_font(p, 7.5, 0);
    y += pdf_text(p, MARGIN, y, lw, PDF_LEFT, v->notes) + 4;
  }
  pdf_font(p, 7, 0);
  pdf_gray(p, 0.35);
  y += pdf_text(p, MARGIN, y, lw, PDF_LEFT,
                "Tax is not payable on reverse charge. This invoice is "
                "computer generated.");
  pdf_gray(p, 0);
  double rx = MARGIN + lw + 12, rw = CONTENT_W - lw - 12;
  pdf_font(p, 8.5, 1);
  pdf_text(p, rx, top, rw, PDF_RIGHT,
           arena_printf(a, "For %s", v->biz_name ? v->biz_name : ""));
  pdf_line(p, rx + 20, top + 48, rx + rw, top + 48, 0.5);
  pdf_font(p, 7.5, 0);
  pdf_text(p, rx, top + 51, rw, PDF_RIGHT, "Authorised Signatory");
  s->y = (y > top + 62 ? y : top + 62);
}

/* Draws the invoice into out. 0 or -1 with why. */
static int render(arena *a, const inv_doc *v, const char *link, buf *out,
                  char *why, size_t whylen) {
  const char *title =
      arena_printf(a, "%s %s", is_draft(v) ? "Draft invoice" : "Tax invoice",
                   v->number ? v->number : v->id);
  pdf_doc *p = pdf_begin(out, title);
  if (!p) {
    snprintf(why, whylen, "cairo could not start a PDF");
    return -1;
  }
  page_state s = {.p = p, .v = v, .a = a, .y = MARGIN, .page = 1};
  draw_header(&s);
  draw_lines(&s);
  draw_rate_summary(&s);
  draw_totals(&s, link);
  draw_foot(&s);
  page_foot(&s);
  return pdf_end(p, why, whylen);
}

/* "INV/26-27/0001" -> "INV-26-27-0001.pdf"; a draft: "draft-<id>.pdf". */
static const char *file_name(arena *a, const inv_doc *v) {
  if (!v->number || !*v->number) return arena_printf(a, "draft-%s.pdf", v->id);
  char *f = arena_printf(a, "%s.pdf", v->number);
  for (char *c = f; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') ||
          (*c >= '0' && *c <= '9') || *c == '-' || *c == '.' || *c == '_'))
      *c = '-';
  return f;
}

int integ_invoice_pdf(db *d, arena *a, const char *profile_id,
                      const char *invoice_id, buf *out, const char **filename,
                      api_error *code, char *why, size_t whylen) {
  inv_doc v;
  db_err err;
  char id[37];
  if (uuid_normalize(invoice_id ? invoice_id : "", id)) {
    *code = E_BAD_VALUE;
    snprintf(why, whylen, "invalid input syntax for type uuid: \"%.40s\"",
             invoice_id ? invoice_id : "");
    return -1;
  }
  int rc = load(d, a, profile_id, id, &v, &err);
  if (rc < 0) {
    *code = api_error_for_sqlstate(err.code);
    snprintf(why, whylen, "%s", err.message);
    return -1;
  }
  if (rc > 0) {
    *code = E_OP_NOT_FOUND;
    snprintf(why, whylen, "invoice %s not found", id);
    return -1;
  }
  size_t start = out->len;
  size_t old_max = out->max;
  if (!out->max || out->max - start > INVOICE_PDF_MAX)
    out->max = start + INVOICE_PDF_MAX;
  rc = render(a, &v, upi_link(a, &v), out, why, whylen);
  out->max = old_max;
  if (rc) {
    out->len = start;
    *code = E_INTERNAL;
    log_error("invoice pdf %s: %s", id, why);
    return -1;
  }
  if (filename) *filename = file_name(a, &v);
  return 0;
}

/* ---- GET /invoices/<id>.pdf ---------------------------------------------- */

void integ_invoice_pdf_serve(db *d, api_req *req, api_resp *resp) {
  if (req->who.role != ROLE_AUTHENTICATED) {
    api_fail(resp, req->who.role == ROLE_SERVICE ? E_FORBIDDEN : E_NO_AUTH,
             "an invoice belongs to a business: sign in as its owner", NULL,
             NULL);
    return;
  }
  const char *file = api_param(req, "file");
  size_t n = file ? strlen(file) : 0;
  if (n < 5 || strcmp(file + n - 4, ".pdf")) {
    api_fail(resp, E_NOT_FOUND_ROUTE, "only <invoice id>.pdf is served here",
             NULL, NULL);
    return;
  }
  const char *id = arena_strndup(req->a, file, n - 4);
  const char *filename = NULL;
  api_error code;
  char why[256];
  buf pdf;
  buf_init(&pdf, 0);
  if (integ_invoice_pdf(d, req->a, req->who.sub, id, &pdf, &filename, &code,
                        why, sizeof why)) {
    buf_free(&pdf);
    api_fail(resp, code, code == E_INTERNAL ? NULL : why, NULL, NULL);
    return;
  }
  buf_free(&resp->body);
  resp->body = pdf;
  resp->status = 200;
  resp->content_type = "application/pdf";
  api_header(resp, "Content-Disposition",
             arena_printf(req->a, "inline; filename=\"%s\"", filename));
  api_header(resp, "Cache-Control", "private, no-store");
  api_header(resp, "X-Content-Type-Options", "nosniff");
}

/* ---- rpc/invoice_upi {invoice_id} ---------------------------------------- */

void integ_op_invoice_upi(db *d, api_req *req, const json *args,
                          api_resp *resp) {
  const json *j = json_get(args, "invoice_id");
  char id[37];
  for (size_t i = 0; i < args->n; i++)
    if (strcmp(args->keys[i], "invoice_id")) {
      api_failf(resp, E_OP_INVALID, "unknown argument %.64s", args->keys[i]);
      return;
    }
  if (!j || j->type != JSON_STRING || uuid_normalize(j->str, id)) {
    api_fail(resp, E_OP_INVALID, "invoice_id must be an invoice's id (a uuid)",
             NULL, NULL);
    return;
  }
  inv_doc v;
  db_err err;
  int rc = load(d, req->a, req->who.sub, id, &v, &err);
  if (rc < 0) {
    api_fail(resp, api_error_for_sqlstate(err.code), err.message, NULL, NULL);
    return;
  }
  if (rc > 0) {
    api_failf(resp, E_OP_NOT_FOUND, "invoice %s not found", id);
    return;
  }
  if (!v.upi_id || !*v.upi_id) {
    api_fail(resp, E_OP_CONFLICT,
             "the business has no UPI id: set profiles.upi_id first", NULL,
             NULL);
    return;
  }
  if (is_draft(&v) || is_cancelled(&v)) {
    api_failf(resp, E_OP_CONFLICT,
              "invoice is %s: only an issued invoice is paid by UPI", v.status);
    return;
  }
  if (v.due <= 0) {
    api_fail(resp, E_OP_CONFLICT, "nothing is due on this invoice", NULL, NULL);
    return;
  }
  const char *link = upi_link(req->a, &v);
  buf svg;
  buf_init(&svg, 0);
  if (pdf_qr_svg(&svg, link)) {
    buf_free(&svg);
    api_fail(resp, E_INTERNAL, "the QR code could not be made", NULL, NULL);
    return;
  }
  buf *b = &resp->body;
  buf_reset(b);
  json_obj o;
  json_obj_open(&o, b);
  json_obj_str(&o, "invoice_id", id);
  json_obj_str(&o, "upi_link", link);
  json_obj_dec(&o, "amount_due", v.due, 2);
  json_obj_str(&o, "reference", v.number);
  json_obj_str(&o, "qr_svg", buf_cstr(&svg));
  buf_free(&svg);
  if (json_obj_close(&o)) {
    api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    return;
  }
  resp->status = 200;
}
