/* gstr1.c - gstr1_export {month: "YYYY-MM"}: a month's outward supplies as
 * GSTR-1 wants them (docs/books.md, "GSTR-1"), in the JSON shape the GST
 * portal's offline tool takes and as CSV text per section with the offline
 * tool's column headers, so that an accountant can upload the one or paste
 * the other.
 *
 * Which invoices: those of the month (invoice_date, the date printed on the
 * invoice) that were issued and are not cancelled; drafts have no number
 * and are not supplies. Each goes to exactly one section:
 *
 *   b2b   the customer has a GSTIN: invoice by invoice, grouped by the
 *         recipient's GSTIN, the lines summed by tax rate;
 *   b2cl  no GSTIN, inter-state (place of supply ≠ the business's state),
 *         and an invoice value above the B2CL limit: invoice by invoice,
 *         grouped by place of supply. The limit is ₹1,00,000 for invoices
 *         dated from 1 August 2024 (CGST rule 59(4) as amended by
 *         notification 12/2024-Central Tax) and ₹2,50,000 before;
 *   b2cs  every other supply to an unregistered customer, summed by place
 *         of supply and rate;
 *
 * and every line to the HSN summary (table 12), split as the portal splits
 * it since 2025 into hsn_b2b (b2b) and hsn_b2c (b2cl + b2cs), summed by HSN
 * code, unit (UQC) and rate.
 *
 * Money stays integer paise from the database to the text: sums are int64,
 * written with two decimals, never through a double. Cess is always 0:
 * munshi does not bill cess. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "biz/args.h"

#define GSTR1_MAX_LINES 50000 /* invoice lines in one month's export */
#define GSTR1_CSV_MAX ((size_t)16 * 1024 * 1024)
#define GSTR1_WARN_MAX 50
#define HSN_DESC_MAX 30 /* characters the portal keeps of a description */
/* The B2CL limit in paise and the day it fell to ₹1 lakh. */
#define B2CL_LIMIT_OLD 25000000LL
#define B2CL_LIMIT_NEW 10000000LL
#define B2CL_NEW_FROM "2024-08-01"

enum { SEC_B2B, SEC_B2CL, SEC_B2CS };

/* ---- state names (the offline tool's place-of-supply spelling) --------- */

static const struct {
  const char *code, *name;
} states[] = {
    {"01", "Jammu & Kashmir"},      {"02", "Himachal Pradesh"},
    {"03", "Punjab"},               {"04", "Chandigarh"},
    {"05", "Uttarakhand"},          {"06", "Haryana"},
    {"07", "Delhi"},                {"08", "Rajasthan"},
    {"09", "Uttar Pradesh"},        {"10", "Bihar"},
    {"11", "Sikkim"},               {"12", "Arunachal Pradesh"},
    {"13", "Nagaland"},             {"14", "Manipur"},
    {"15", "Mizoram"},              {"16", "Tripura"},
    {"17", "Meghalaya"},            {"18", "Assam"},
    {"19", "West Bengal"},          {"20", "Jharkhand"},
    {"21", "Odisha"},               {"22", "Chhattisgarh"},
    {"23", "Madhya Pradesh"},       {"24", "Gujarat"},
    {"25", "Daman & Diu"},          {"26", "Dadra & Nagar Haveli & Daman & Diu"},
    {"27", "Maharashtra"},          {"28", "Andhra Pradesh(Before Division)"},
    {"29", "Karnataka"},            {"30", "Goa"},
    {"31", "Lakshadweep"},          {"32", "Kerala"},
    {"33", "Tamil Nadu"},           {"34", "Puducherry"},
    {"35", "Andaman & Nicobar Islands"}, {"36", "Telangana"},
    {"37", "Andhra Pradesh"},       {"38", "Ladakh"},
    {"97", "Other Territory"},
};

static const char *state_name(const char *code) {
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    if (!strcmp(states[i].code, code)) return states[i].name;
  return "";
}

/* ---- units: munshi's free-text unit → the GST unit quantity code -------- */

static const struct {
  const char *uqc, *name;
  const char *aliases; /* lower case, '|'-separated, each ending in '|' */
} uqcs[] = {
    {"PCS", "PIECES", "pcs|pc|piece|pieces|"},
    {"NOS", "NUMBERS", "nos|no|number|numbers|"},
    {"KGS", "KILOGRAMS", "kg|kgs|kilogram|kilograms|kilo|"},
    {"GMS", "GRAMMES", "g|gm|gms|gram|grams|gramme|grammes|"},
    {"LTR", "LITRES", "l|ltr|ltrs|litre|litres|liter|liters|"},
    {"MLT", "MILILITRE", "ml|mls|millilitre|milliliter|"},
    {"MTR", "METERS", "m|mtr|mtrs|metre|metres|meter|meters|"},
    {"BOX", "BOX", "box|boxes|"},
    {"DOZ", "DOZENS", "doz|dozen|dozens|"},
    {"PAC", "PACKS", "pac|pack|packs|pkt|pkts|packet|packets|"},
    {"BAG", "BAGS", "bag|bags|"},
    {"BTL", "BOTTLES", "btl|bottle|bottles|"},
    {"SET", "SETS", "set|sets|"},
    {"UNT", "UNITS", "unt|unit|units|"},
    {"QTL", "QUINTAL", "qtl|quintal|quintals|"},
    {"TON", "TONNES", "ton|tons|tonne|tonnes|"},
    {"SQF", "SQUARE FEET", "sqf|sqft|"},
    {"SQM", "SQUARE METERS", "sqm|"},
    {"PRS", "PAIRS", "prs|pair|pairs|"},
    {"CTN", "CARTONS", "ctn|carton|cartons|"},
    {"ROL", "ROLLS", "rol|roll|rolls|"},
};

/* The UQC of a unit ("OTH" when none fits); a service (HSN 99…) has "NA". */
static const char *uqc_of(const char *unit, const char *hsn) {
  if (!strncmp(hsn, "99", 2)) return "NA";
  char low[24];
  size_t n = strlen(unit);
  if (n == 0 || n >= sizeof low - 1) return "OTH";
  for (size_t i = 0; i < n; i++)
    low[i] = unit[i] >= 'A' && unit[i] <= 'Z' ? (char)(unit[i] + 32) : unit[i];
  low[n] = '|';
  low[n + 1] = 0;
  for (size_t i = 0; i < sizeof uqcs / sizeof uqcs[0]; i++) {
    const char *p = uqcs[i].aliases;
    for (const char *q = strstr(p, low); q; q = strstr(q + 1, low))
      if (q == p || q[-1] == '|') return uqcs[i].uqc;
  }
  return "OTH";
}

static const char *uqc_name(const char *uqc) {
  if (!strcmp(uqc, "NA")) return "NA";
  for (size_t i = 0; i < sizeof uqcs / sizeof uqcs[0]; i++)
    if (!strcmp(uqcs[i].uqc, uqc)) return uqcs[i].name;
  return "OTHERS";
}

/* ---- the month's lines ------------------------------------------------- */

typedef struct tax {
  int64_t txval, iamt, camt, samt;
} tax;

typedef struct line {
  int64_t rate; /* percent, scale 2 */
  tax t;
  int64_t qty; /* scale 3 */
  const char *hsn, *desc, *uqc;
} line;

typedef struct rate_sum {
  int64_t rate;
  tax t;
} rate_sum;

typedef struct inv {
  const char *id, *num, *ctin, *cname, *pos;
  int32_t date;
  int64_t val;
  int section;
  int first, n; /* its lines */
  rate_sum *rates;
  int nrates;
} inv;

typedef struct hsn_row {
  int b2b;
  const char *hsn, *desc, *uqc;
  int64_t rate, qty;
  tax t;
} hsn_row;

typedef struct b2cs_row {
  const char *pos;
  int inter;
  int64_t rate;
  tax t;
} b2cs_row;

typedef struct gstr1 {
  arena *a;
  const char *gstin, *state;
  inv *invs;
  int ninv;
  line *lines;
  int nlines;
  hsn_row *hsn;
  int nhsn;
  b2cs_row *b2cs;
  int nb2cs;
  const char *warn[GSTR1_WARN_MAX];
  int nwarn, more_warn;
} gstr1;

static void tax_add(tax *a, const tax *b) {
  a->txval += b->txval;
  a->iamt += b->iamt;
  a->camt += b->camt;
  a->samt += b->samt;
}

static void warn(gstr1 *g, const char *msg) {
  if (g->nwarn >= GSTR1_WARN_MAX) {
    g->more_warn++;
    return;
  }
  g->warn[g->nwarn++] = msg;
}

/* The first HSN_DESC_MAX characters of s (UTF-8). */
static const char *short_desc(arena *a, const char *s) {
  size_t i = 0, chars = 0;
  while (s[i]) {
    if (((unsigned char)s[i] & 0xC0) != 0x80 && chars++ == HSN_DESC_MAX) break;
    i++;
  }
  return arena_strndup(a, s, i);
}

static int load(gstr1 *g, biz_ctx *c, int32_t from, int32_t to, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_date(from), db_date(to),
                db_int(GSTR1_MAX_LINES + 1)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT i.id, i.invoice_number, i.invoice_date, "
               "coalesce(i.place_of_supply, c.state_code, ''), i.total_amount, "
               "c.gstin, c.full_name, it.gst_rate, it.taxable_value, "
               "it.igst_amount, it.cgst_amount, it.sgst_amount, "
               "coalesce(it.hsn_code, p.hsn_code, ''), coalesce(it.description, "
               "p.name, ''), coalesce(p.unit, ''), it.quantity FROM invoices i "
               "JOIN customers c ON c.profile_id = i.profile_id AND c.id = "
               "i.customer_id JOIN invoice_items it ON it.profile_id = "
               "i.profile_id AND it.invoice_id = i.id LEFT JOIN products p ON "
               "p.profile_id = it.profile_id AND p.id = it.product_id WHERE "
               "i.profile_id = $1 AND i.invoice_date >= $2 AND i.invoice_date < "
               "$3 AND i.status NOT IN ('draft', 'cancelled') AND "
               "i.invoice_number IS NOT NULL ORDER BY i.invoice_date, "
               "i.invoice_number, i.id, it.line_no, it.id LIMIT $4",
               v, 4, &r, &err))
    return biz_db_fail(e, &err);
  int n = db_res_rows(r);
  if (n > GSTR1_MAX_LINES) {
    db_res_free(r);
    return biz_fail(e, E_TOO_LARGE,
                    "the month has more than %d invoice lines; export it with "
                    "the portal's own tools",
                    GSTR1_MAX_LINES);
  }
  g->lines = arena_alloc(g->a, sizeof *g->lines * (size_t)(n ? n : 1));
  g->invs = arena_alloc(g->a, sizeof *g->invs * (size_t)(n ? n : 1));
  for (int i = 0; i < n; i++) {
    const char *id = db_res_text(r, i, 0);
    inv *cur = g->ninv ? &g->invs[g->ninv - 1] : NULL;
    if (!cur || strcmp(cur->id, id)) {
      cur = &g->invs[g->ninv++];
      memset(cur, 0, sizeof *cur);
      cur->id = arena_strdup(g->a, id);
      cur->num = arena_strdup(g->a, db_res_text(r, i, 1));
      cur->date = db_res_date(r, i, 2);
      cur->pos = arena_strdup(g->a, db_res_text(r, i, 3));
      if (!*cur->pos) cur->pos = g->state;
      cur->val = db_res_dec(r, i, 4, MONEY_SCALE);
      cur->ctin = db_res_isnull(r, i, 5) ? NULL : arena_strdup(g->a, db_res_text(r, i, 5));
      if (cur->ctin && !*cur->ctin) cur->ctin = NULL;
      cur->cname = arena_strdup(g->a, db_res_text(r, i, 6));
      cur->first = g->nlines;
    }
    line *l = &g->lines[g->nlines++];
    cur->n++;
    l->rate = db_res_dec(r, i, 7, 2);
    l->t.txval = db_res_dec(r, i, 8, MONEY_SCALE);
    l->t.iamt = db_res_dec(r, i, 9, MONEY_SCALE);
    l->t.camt = db_res_dec(r, i, 10, MONEY_SCALE);
    l->t.samt = db_res_dec(r, i, 11, MONEY_SCALE);
    l->hsn = arena_strdup(g->a, db_res_text(r, i, 12));
    l->desc = short_desc(g->a, db_res_text(r, i, 13));
    l->uqc = uqc_of(db_res_text(r, i, 14), l->hsn);
    l->qty = db_res_dec(r, i, 15, 3);
    if (!*l->hsn)
      warn(g, arena_printf(g->a, "invoice %s: a line (%s) has no HSN code",
                           cur->num, l->desc));
  }
  db_res_free(r);
  return 0;
}

static void classify(gstr1 *g) {
  int32_t new_from = 0;
  date_parse(B2CL_NEW_FROM, &new_from);
  for (int i = 0; i < g->ninv; i++) {
    inv *v = &g->invs[i];
    int inter = strcmp(v->pos, g->state) != 0;
    int64_t limit = v->date >= new_from ? B2CL_LIMIT_NEW : B2CL_LIMIT_OLD;
    v->section = v->ctin                      ? SEC_B2B
                 : inter && v->val > limit    ? SEC_B2CL
                                              : SEC_B2CS;
    /* Rate-wise sums of the invoice's lines, in the order rates appear. */
    v->rates = arena_alloc(g->a, sizeof *v->rates * (size_t)v->n);
    for (int k = v->first; k < v->first + v->n; k++) {
      const line *l = &g->lines[k];
      int j = 0;
      while (j < v->nrates && v->rates[j].rate != l->rate) j++;
      if (j == v->nrates) {
        memset(&v->rates[j], 0, sizeof v->rates[j]);
        v->rates[j].rate = l->rate;
        v->nrates++;
      }
      tax_add(&v->rates[j].t, &l->t);
      /* HSN summary. */
      int b2b = v->section == SEC_B2B, h = 0;
      while (h < g->nhsn &&
             (g->hsn[h].b2b != b2b || strcmp(g->hsn[h].hsn, l->hsn) ||
              strcmp(g->hsn[h].uqc, l->uqc) || g->hsn[h].rate != l->rate))
        h++;
      if (h == g->nhsn) {
        hsn_row *row = &g->hsn[g->nhsn++];
        memset(row, 0, sizeof *row);
        row->b2b = b2b;
        row->hsn = l->hsn;
        row->desc = l->desc;
        row->uqc = l->uqc;
        row->rate = l->rate;
      }
      if (strcmp(l->uqc, "NA")) g->hsn[h].qty += l->qty;
      tax_add(&g->hsn[h].t, &l->t);
    }
    if (v->section != SEC_B2CS) continue;
    for (int j = 0; j < v->nrates; j++) {
      int b = 0;
      while (b < g->nb2cs && (strcmp(g->b2cs[b].pos, v->pos) || g->b2cs[b].rate != v->rates[j].rate))
        b++;
      if (b == g->nb2cs) {
        b2cs_row *row = &g->b2cs[g->nb2cs++];
        memset(row, 0, sizeof *row);
        row->pos = v->pos;
        row->inter = inter;
        row->rate = v->rates[j].rate;
      }
      tax_add(&g->b2cs[b].t, &v->rates[j].t);
    }
  }
}

/* ---- ordering ------------------------------------------------------------ */

static int by_ctin(const void *pa, const void *pb) {
  const inv *a = *(inv *const *)pa, *b = *(inv *const *)pb;
  int c = strcmp(a->ctin, b->ctin);
  if (c) return c;
  if (a->date != b->date) return a->date < b->date ? -1 : 1;
  return strcmp(a->num, b->num);
}

static int by_pos(const void *pa, const void *pb) {
  const inv *a = *(inv *const *)pa, *b = *(inv *const *)pb;
  int c = strcmp(a->pos, b->pos);
  if (c) return c;
  if (a->date != b->date) return a->date < b->date ? -1 : 1;
  return strcmp(a->num, b->num);
}

static int b2cs_cmp(const void *pa, const void *pb) {
  const b2cs_row *a = pa, *b = pb;
  int c = strcmp(a->pos, b->pos);
  if (c) return c;
  return a->rate < b->rate ? -1 : a->rate > b->rate;
}

static int hsn_cmp(const void *pa, const void *pb) {
  const hsn_row *a = pa, *b = pb;
  if (a->b2b != b->b2b) return a->b2b ? -1 : 1;
  int c = strcmp(a->hsn, b->hsn);
  if (c) return c;
  c = strcmp(a->uqc, b->uqc);
  if (c) return c;
  return a->rate < b->rate ? -1 : a->rate > b->rate;
}

/* The invoices of section sec, sorted by cmp. */
static inv **pick(gstr1 *g, int sec, int (*cmp)(const void *, const void *), int *n) {
  inv **out = arena_alloc(g->a, sizeof *out * (size_t)(g->ninv ? g->ninv : 1));
  *n = 0;
  for (int i = 0; i < g->ninv; i++)
    if (g->invs[i].section == sec) out[(*n)++] = &g->invs[i];
  qsort(out, (size_t)*n, sizeof *out, cmp);
  return out;
}

/* ---- writing -------------------------------------------------------------- */

/* A rate as the portal writes it: "18", "0.25", "1.5". */
static const char *rate_text(arena *a, int64_t rate) {
  char t[DEC_MAX_TEXT];
  dec_format(rate, 2, t);
  size_t n = strlen(t);
  while (n > 0 && t[n - 1] == '0') n--;
  if (n > 0 && t[n - 1] == '.') n--;
  return arena_strndup(a, t, n);
}

static void money(json_obj *o, const char *key, int64_t paise) {
  json_obj_dec(o, key, paise, MONEY_SCALE);
}

/* dd-mm-yyyy (the JSON's idt). */
static void idt(int32_t days, char out[16]) {
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, 16, "%02u-%02u-%04lld", d % 100, m % 100, (long long)y);
}

/* dd-Mon-yyyy (the offline tool's CSV dates). */
static void csv_date(int32_t days, char out[16]) {
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, 16, "%02u-%s-%04lld", d % 100, mon[(m - 1) % 12], (long long)y);
}

static void itm_det(json_obj *items, int num, const rate_sum *rs, int with_cgst,
                    arena *a) {
  json_obj it, det;
  json_obj_nest(items, NULL, &it);
  json_obj_int(&it, "num", num);
  json_obj_nest(&it, "itm_det", &det);
  json_obj_raw(&det, "rt", rate_text(a, rs->rate));
  money(&det, "txval", rs->t.txval);
  money(&det, "iamt", rs->t.iamt);
  if (with_cgst) {
    money(&det, "camt", rs->t.camt);
    money(&det, "samt", rs->t.samt);
  }
  money(&det, "csamt", 0);
  json_obj_close(&det);
  json_obj_close(&it);
}

/* A plain decimal number ("-0.50", "1234"): safe in a spreadsheet. */
static int csv_number(const char *s) {
  const char *p = s + (*s == '-');
  if (!*p) return 0;
  int dots = 0;
  for (; *p; p++) {
    if (*p == '.') dots++;
    else if (*p < '0' || *p > '9') return 0;
  }
  return dots <= 1;
}

/* CSV: a field, quoted when it holds a comma, quote or line break. Text
 * that a spreadsheet would take for a formula (a customer's name from
 * WhatsApp starting with = + - @, a tab or a carriage return) gets a
 * leading apostrophe, which spreadsheets show as text; numbers are left
 * as they are. */
static void csv(buf *b, const char *s, int last) {
  int formula = *s && strchr("=+-@\t\r", *s) && !csv_number(s);
  if (strpbrk(s, ",\"\r\n")) {
    buf_putc(b, '"');
    if (formula) buf_putc(b, '\'');
    for (; *s; s++) {
      if (*s == '"') buf_putc(b, '"');
      buf_putc(b, *s);
    }
    buf_putc(b, '"');
  } else {
    if (formula) buf_putc(b, '\'');
    buf_puts(b, s);
  }
  buf_puts(b, last ? "\r\n" : ",");
}

static void csv_money(buf *b, int64_t paise, int last) {
  char t[DEC_MAX_TEXT];
  dec_format(paise, MONEY_SCALE, t);
  csv(b, t, last);
}

static const char *pos_text(arena *a, const char *pos) {
  return arena_printf(a, "%s-%s", pos, state_name(pos));
}

static void write_b2b(gstr1 *g, json_obj *root, buf *cb) {
  int n;
  inv **v = pick(g, SEC_B2B, by_ctin, &n);
  json_obj arr, party, invs, one, items;
  json_obj_arr(root, "b2b", &arr);
  buf_puts(cb,
           "GSTIN/UIN of Recipient,Receiver Name,Invoice Number,Invoice date,"
           "Invoice Value,Place Of Supply,Reverse Charge,Applicable % of Tax "
           "Rate,Invoice Type,E-Commerce GSTIN,Rate,Taxable Value,Cess Amount\r\n");
  for (int i = 0; i < n; i++) {
    if (i == 0 || strcmp(v[i]->ctin, v[i - 1]->ctin)) {
      json_obj_nest(&arr, NULL, &party);
      json_obj_str(&party, "ctin", v[i]->ctin);
      json_obj_arr(&party, "inv", &invs);
    }
    char d[16], cd[16], val[DEC_MAX_TEXT];
    idt(v[i]->date, d);
    csv_date(v[i]->date, cd);
    dec_format(v[i]->val, MONEY_SCALE, val);
    json_obj_nest(&invs, NULL, &one);
    json_obj_str(&one, "inum", v[i]->num);
    json_obj_str(&one, "idt", d);
    money(&one, "val", v[i]->val);
    json_obj_str(&one, "pos", v[i]->pos);
    json_obj_str(&one, "rchrg", "N");
    json_obj_str(&one, "inv_typ", "R");
    json_obj_arr(&one, "itms", &items);
    for (int j = 0; j < v[i]->nrates; j++) {
      itm_det(&items, j + 1, &v[i]->rates[j], 1, g->a);
      csv(cb, v[i]->ctin, 0);
      csv(cb, v[i]->cname, 0);
      csv(cb, v[i]->num, 0);
      csv(cb, cd, 0);
      csv(cb, val, 0);
      csv(cb, pos_text(g->a, v[i]->pos), 0);
      csv(cb, "N", 0);
      csv(cb, "", 0);
      csv(cb, "Regular B2B", 0);
      csv(cb, "", 0);
      csv(cb, rate_text(g->a, v[i]->rates[j].rate), 0);
      csv_money(cb, v[i]->rates[j].t.txval, 0);
      csv(cb, "", 1);
    }
    json_obj_close(&items);
    json_obj_close(&one);
    if (i + 1 == n || strcmp(v[i]->ctin, v[i + 1]->ctin)) {
      json_obj_close(&invs);
      json_obj_close(&party);
    }
  }
  json_obj_close(&arr);
}

static void write_b2cl(gstr1 *g, json_obj *root, buf *cb) {
  int n;
  inv **v = pick(g, SEC_B2CL, by_pos, &n);
  json_obj arr, group, invs, one, items;
  json_obj_arr(root, "b2cl", &arr);
  buf_puts(cb,
           "Invoice Number,Invoice date,Invoice Value,Place Of Supply,"
           "Applicable % of Tax Rate,Rate,Taxable Value,Cess Amount,"
           "E-Commerce GSTIN\r\n");
  for (int i = 0; i < n; i++) {
    if (i == 0 || strcmp(v[i]->pos, v[i - 1]->pos)) {
      json_obj_nest(&arr, NULL, &group);
      json_obj_str(&group, "pos", v[i]->pos);
      json_obj_arr(&group, "inv", &invs);
    }
    char d[16], cd[16], val[DEC_MAX_TEXT];
    idt(v[i]->date, d);
    csv_date(v[i]->date, cd);
    dec_format(v[i]->val, MONEY_SCALE, val);
    json_obj_nest(&invs, NULL, &one);
    json_obj_str(&one, "inum", v[i]->num);
    json_obj_str(&one, "idt", d);
    money(&one, "val", v[i]->val);
    json_obj_arr(&one, "itms", &items);
    for (int j = 0; j < v[i]->nrates; j++) {
      itm_det(&items, j + 1, &v[i]->rates[j], 0, g->a);
      csv(cb, v[i]->num, 0);
      csv(cb, cd, 0);
      csv(cb, val, 0);
      csv(cb, pos_text(g->a, v[i]->pos), 0);
      csv(cb, "", 0);
      csv(cb, rate_text(g->a, v[i]->rates[j].rate), 0);
      csv_money(cb, v[i]->rates[j].t.txval, 0);
      csv(cb, "", 0);
      csv(cb, "", 1);
    }
    json_obj_close(&items);
    json_obj_close(&one);
    if (i + 1 == n || strcmp(v[i]->pos, v[i + 1]->pos)) {
      json_obj_close(&invs);
      json_obj_close(&group);
    }
  }
  json_obj_close(&arr);
}

static void write_b2cs(gstr1 *g, json_obj *root, buf *cb) {
  qsort(g->b2cs, (size_t)g->nb2cs, sizeof *g->b2cs, b2cs_cmp);
  json_obj arr, row;
  json_obj_arr(root, "b2cs", &arr);
  buf_puts(cb,
           "Type,Place Of Supply,Applicable % of Tax Rate,Rate,Taxable Value,"
           "Cess Amount,E-Commerce GSTIN\r\n");
  for (int i = 0; i < g->nb2cs; i++) {
    const b2cs_row *b = &g->b2cs[i];
    json_obj_nest(&arr, NULL, &row);
    json_obj_str(&row, "sply_ty", b->inter ? "INTER" : "INTRA");
    json_obj_str(&row, "pos", b->pos);
    json_obj_str(&row, "typ", "OE");
    json_obj_raw(&row, "rt", rate_text(g->a, b->rate));
    money(&row, "txval", b->t.txval);
    if (b->inter) {
      money(&row, "iamt", b->t.iamt);
    } else {
      money(&row, "camt", b->t.camt);
      money(&row, "samt", b->t.samt);
    }
    money(&row, "csamt", 0);
    json_obj_close(&row);
    csv(cb, "OE", 0);
    csv(cb, pos_text(g->a, b->pos), 0);
    csv(cb, "", 0);
    csv(cb, rate_text(g->a, b->rate), 0);
    csv_money(cb, b->t.txval, 0);
    csv(cb, "", 0);
    csv(cb, "", 1);
  }
  json_obj_close(&arr);
}

static void write_hsn(gstr1 *g, json_obj *hsn, int b2b, buf *cb) {
  json_obj arr, row;
  json_obj_arr(hsn, b2b ? "hsn_b2b" : "hsn_b2c", &arr);
  buf_puts(cb,
           "HSN,Description,UQC,Total Quantity,Total Value,Rate,Taxable Value,"
           "Integrated Tax Amount,Central Tax Amount,State/UT Tax Amount,Cess "
           "Amount\r\n");
  int num = 0;
  for (int i = 0; i < g->nhsn; i++) {
    const hsn_row *h = &g->hsn[i];
    if (h->b2b != b2b) continue;
    int64_t total = h->t.txval + h->t.iamt + h->t.camt + h->t.samt;
    char q[DEC_MAX_TEXT];
    dec_format(h->qty, 3, q);
    json_obj_nest(&arr, NULL, &row);
    json_obj_int(&row, "num", ++num);
    json_obj_str(&row, "hsn_sc", h->hsn);
    json_obj_str(&row, "desc", h->desc);
    json_obj_str(&row, "uqc", h->uqc);
    json_obj_dec(&row, "qty", h->qty, 3);
    json_obj_raw(&row, "rt", rate_text(g->a, h->rate));
    money(&row, "txval", h->t.txval);
    money(&row, "iamt", h->t.iamt);
    money(&row, "camt", h->t.camt);
    money(&row, "samt", h->t.samt);
    money(&row, "csamt", 0);
    json_obj_close(&row);
    csv(cb, h->hsn, 0);
    csv(cb, h->desc, 0);
    csv(cb, arena_printf(g->a, "%s-%s", h->uqc, uqc_name(h->uqc)), 0);
    csv(cb, q, 0);
    csv_money(cb, total, 0);
    csv(cb, rate_text(g->a, h->rate), 0);
    csv_money(cb, h->t.txval, 0);
    csv_money(cb, h->t.iamt, 0);
    csv_money(cb, h->t.camt, 0);
    csv_money(cb, h->t.samt, 0);
    csv(cb, "", 1);
  }
  json_obj_close(&arr);
}

/* ---- the operation ------------------------------------------------------------- */

static int parse_month(const char *s, int *y, int *m) {
  if (strlen(s) != 7 || s[4] != '-') return -1;
  for (int i = 0; i < 7; i++)
    if (i != 4 && (s[i] < '0' || s[i] > '9')) return -1;
  *y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
  *m = (s[5] - '0') * 10 + (s[6] - '0');
  return *m >= 1 && *m <= 12 && *y >= 2017 && *y <= 9998 ? 0 : -1;
}

int op_gstr1_export(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"month", NULL};
  const char *month = NULL;
  int y, m;
  if (arg_only(e, args, known) ||
      arg_text(e, c->a, args, "month", 7, 1, &month))
    return -1;
  if (parse_month(month, &y, &m))
    return biz_fail(e, E_OP_INVALID,
                    "month must be YYYY-MM, from 2017-07 (GST began in July 2017)");
  if (y == 2017 && m < 7)
    return biz_fail(e, E_OP_INVALID,
                    "month must be YYYY-MM, from 2017-07 (GST began in July 2017)");
  int32_t from = (int32_t)days_from_civil(y, (unsigned)m, 1);
  int32_t to = (int32_t)days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1u : (unsigned)m + 1, 1);

  gstr1 g;
  memset(&g, 0, sizeof g);
  g.a = c->a;
  db_val p[] = {db_uuid(c->profile_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT gst_number, coalesce(state_code, substr(gst_number, 1, 2)) "
               "FROM profiles WHERE id = $1",
               p, 1, &r, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(r) == 0 || db_res_isnull(r, 0, 0) || !*db_res_text(r, 0, 0)) {
    db_res_free(r);
    return biz_fail(e, E_OP_CONFLICT,
                    "the business has no GSTIN: set profiles.gst_number to "
                    "export GSTR-1");
  }
  g.gstin = arena_strdup(c->a, db_res_text(r, 0, 0));
  g.state = arena_strdup(c->a, db_res_text(r, 0, 1));
  db_res_free(r);
  if (load(&g, c, from, to, e)) return -1;
  g.hsn = arena_alloc(c->a, sizeof *g.hsn * (size_t)(g.nlines ? g.nlines : 1));
  g.b2cs = arena_alloc(c->a, sizeof *g.b2cs * (size_t)(g.nlines ? g.nlines : 1));
  classify(&g);
  qsort(g.hsn, (size_t)g.nhsn, sizeof *g.hsn, hsn_cmp);

  buf cb2b, cb2cl, cb2cs, chb, chc;
  buf_init(&cb2b, GSTR1_CSV_MAX);
  buf_init(&cb2cl, GSTR1_CSV_MAX);
  buf_init(&cb2cs, GSTR1_CSV_MAX);
  buf_init(&chb, GSTR1_CSV_MAX);
  buf_init(&chc, GSTR1_CSV_MAX);
  int rc = -1;
  char fp[16];
  snprintf(fp, sizeof fp, "%02d%04d", m % 100, y % 10000);
  int32_t new_from = 0;
  date_parse(B2CL_NEW_FROM, &new_from);
  int counts[3] = {0, 0, 0};
  for (int i = 0; i < g.ninv; i++) counts[g.invs[i].section]++;

  json_obj root, ret, hsn, csvs, cnt, w;
  json_obj_open(&root, out);
  json_obj_str(&root, "month", month);
  json_obj_nest(&root, "gstr1", &ret);
  json_obj_str(&ret, "gstin", g.gstin);
  json_obj_str(&ret, "fp", fp);
  write_b2b(&g, &ret, &cb2b);
  write_b2cl(&g, &ret, &cb2cl);
  write_b2cs(&g, &ret, &cb2cs);
  json_obj_nest(&ret, "hsn", &hsn);
  write_hsn(&g, &hsn, 1, &chb);
  write_hsn(&g, &hsn, 0, &chc);
  json_obj_close(&hsn);
  json_obj_close(&ret);
  if (cb2b.len >= cb2b.max || cb2cl.len >= cb2cl.max || cb2cs.len >= cb2cs.max ||
      chb.len >= chb.max || chc.len >= chc.max) {
    biz_fail(e, E_TOO_LARGE, "the export is too large");
    goto out;
  }
  json_obj_nest(&root, "csv", &csvs);
  json_obj_str(&csvs, "b2b", buf_cstr(&cb2b));
  json_obj_str(&csvs, "b2cl", buf_cstr(&cb2cl));
  json_obj_str(&csvs, "b2cs", buf_cstr(&cb2cs));
  json_obj_str(&csvs, "hsn_b2b", buf_cstr(&chb));
  json_obj_str(&csvs, "hsn_b2c", buf_cstr(&chc));
  json_obj_close(&csvs);
  json_obj_nest(&root, "invoices", &cnt);
  json_obj_int(&cnt, "b2b", counts[SEC_B2B]);
  json_obj_int(&cnt, "b2cl", counts[SEC_B2CL]);
  json_obj_int(&cnt, "b2cs", counts[SEC_B2CS]);
  json_obj_close(&cnt);
  money(&root, "b2cl_limit", to > new_from ? B2CL_LIMIT_NEW : B2CL_LIMIT_OLD);
  json_obj_arr(&root, "warnings", &w);
  for (int i = 0; i < g.nwarn; i++) json_obj_str(&w, NULL, g.warn[i]);
  if (g.more_warn)
    json_obj_str(&w, NULL, arena_printf(c->a, "and %d more", g.more_warn));
  json_obj_close(&w);
  if (json_obj_close(&root)) {
    biz_fail(e, E_TOO_LARGE, "the export is too large");
    goto out;
  }
  rc = 0;
out:
  buf_free(&cb2b);
  buf_free(&cb2cl);
  buf_free(&cb2cs);
  buf_free(&chb);
  buf_free(&chc);
  return rc;
}
