/* test_integ_db_invoice_pdf.c - the GST invoice as a PDF
 * (src/integrations/invoice_pdf.c, pdf.c) and rpc/invoice_upi, on SQLite and
 * PostgreSQL.
 *
 * Invoices are made through the real business operations (create_invoice,
 * cancel_invoice), one within the supplier's state (CGST + SGST) and one to
 * another state (IGST) for a customer whose name is in Devanagari. Each PDF
 * is read back with poppler's pdftotext, which must show every Rule 46
 * particular with the amounts worked out by hand below; it is rendered to PNG
 * with pdftoppm into <build>/test-output/invoices/ (kept for a human to look
 * at, never committed) and zbarimg must decode its QR code to exactly the
 * UPI link of the amount due. Drafts, cancelled invoices, another business's
 * invoice, bad ids, and many threads rendering at once (the font machinery
 * is per thread; the ASan run checks it) are covered too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "base/arena.h"
#include "base/ident.h"
#include "base/json.h"
#include "biz/run.h"
#include "biz/upi.h"
#include "integrations/integrations.h"
#include "integrations/pdf.h"
#include "testutil.h"

typedef struct fx {
  db *d;
  char url[4096];
  char biz[37], other[37];
  char cust_in[37], cust_out[37], rice[37], tumbler[37];
  char gstin_biz[16], gstin_cust[16];
} fx;

static char outdir[512];

static void sql(db *d, const char *text, const db_val *v, int n) {
  db_err err;
  if (db_query(d, text, v, n, NULL, &err))
    fail_msg("%s: [%s] %s", text, err.code, err.message);
}

static void gstin(const char *first14, char out[16]) {
  memcpy(out, first14, 14);
  out[14] = gstin_check_char(first14);
  out[15] = 0;
}

/* Runs a business operation for biz; returns the answer's "id" (or the
 * status when not 200) in a. */
static json *op(db *d, arena *a, const char *biz, const char *name,
                const char *args) {
  json *j, *ans = NULL;
  json_error je;
  if (json_parse(a, args, strlen(args), &j, &je)) fail_msg("bad args %s", args);
  biz_call call = {.op = name, .profile_id = biz, .args = j, .a = a};
  api_resp resp;
  api_resp_init(&resp);
  biz_run(d, &call, &resp);
  if (resp.status != 200)
    fail_msg("%s answered %d: %s", name, resp.status, buf_cstr(&resp.body));
  json_parse(a, resp.body.data, resp.body.len, &ans, &je);
  api_resp_free(&resp);
  return ans;
}

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  test_tenant(f->d, "27", f->biz);
  test_tenant(f->d, "27", f->other);
  gstin("27AAPFU0939F1Z", f->gstin_biz);
  gstin("27AAACR5055K1Z", f->gstin_cust);
  db_val p[] = {db_uuid(f->biz), db_text(f->gstin_biz)};
  sql(f->d,
      "UPDATE profiles SET business_name = 'Sharma Traders', gst_number = $2, "
      "address = '12 MG Road, Pune 411001', upi_id = 'sharma@okaxis', "
      "invoice_prefix = 'ST' WHERE id = $1",
      p, 2);
  uuid_v7(f->cust_in);
  uuid_v7(f->cust_out);
  uuid_v7(f->rice);
  uuid_v7(f->tumbler);
  db_val c1[] = {db_uuid(f->biz), db_uuid(f->cust_in), db_text(f->gstin_cust)};
  sql(f->d,
      "INSERT INTO customers (profile_id, id, full_name, gstin, state_code, "
      "address, city, pincode, phone_number) VALUES ($1, $2, 'Ramesh Kumar', "
      "$3, '27', '4 Station Road', 'Nashik', '422001', '+919812345678')",
      c1, 3);
  db_val c2[] = {db_uuid(f->biz), db_uuid(f->cust_out)};
  sql(f->d,
      "INSERT INTO customers (profile_id, id, full_name, state_code, "
      "address, city, pincode, phone_number) VALUES ($1, $2, "
      "'रमेश कुमार', '29', '7 Residency Road', 'Bengaluru', '560025', "
      "'+919876543210')",
      c2, 2);
  /* Money, rates and stock bound as decimals: the backends store them
   * differently (numeric vs scaled INTEGER). */
  db_val r[] = {db_uuid(f->biz),     db_uuid(f->rice),   db_uuid(f->tumbler),
                db_dec(500, 2),      db_money(12000),    db_dec(1800, 2),
                db_money(25050),     db_dec(1000000, 3)};
  sql(f->d,
      "INSERT INTO products (profile_id, id, name, hsn_code, unit, gst_rate, "
      "base_price, current_stock) VALUES ($1, $2, 'Basmati Rice', '1006', "
      "'kg', $4, $5, $8), ($1, $3, 'Steel Tumbler', '7323', 'pcs', $6, $7, "
      "$8)",
      r, 8);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  test_db_close(f->d);
  free(f);
  return 0;
}

/* Runs a shell command; its standard output in a. */
static const char *run(arena *a, const char *cmd) {
  FILE *p = popen(cmd, "r");
  if (!p) fail_msg("popen %s", cmd);
  buf b;
  buf_init(&b, 0);
  char chunk[4096];
  size_t n;
  while ((n = fread(chunk, 1, sizeof chunk, p)) > 0) buf_append(&b, chunk, n);
  int st = pclose(p);
  if (st != 0) fail_msg("%s exited %d", cmd, st);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* Renders invoice id, writes it to <outdir>/<name>.pdf and a PNG of page 1,
 * and answers pdftotext's text (layout kept, so a row reads as a row). */
static const char *render(fx *f, arena *a, const char *id, const char *name,
                          const char **pdf_path) {
  buf out;
  buf_init(&out, 0);
  const char *fn = NULL;
  api_error code;
  char why[256];
  if (integ_invoice_pdf(f->d, a, f->biz, id, &out, &fn, &code, why, sizeof why))
    fail_msg("integ_invoice_pdf: %s", why);
  assert_true(out.len > 1000);
  assert_memory_equal(out.data, "%PDF-", 5);
  assert_non_null(fn);
  const char *path = arena_printf(a, "%s/%s-%s.pdf", outdir, test_backend(), name);
  FILE *w = fopen(path, "wb");
  if (!w) fail_msg("cannot write %s", path);
  fwrite(out.data, 1, out.len, w);
  fclose(w);
  buf_free(&out);
  run(a, arena_printf(a, "pdftoppm -r 110 -png -f 1 -l 1 -singlefile '%s' '%s/%s-%s'",
                      path, outdir, test_backend(), name));
  if (pdf_path) *pdf_path = path;
  return run(a, arena_printf(a, "pdftotext -layout '%s' -", path));
}

#define HAS(text, s)                                                  \
  do {                                                                \
    if (!strstr((text), (s))) fail_msg("the PDF lacks \"%s\"", (s)); \
  } while (0)
#define HASNT(text, s)                                              \
  do {                                                              \
    if (strstr((text), (s))) fail_msg("the PDF has \"%s\"", (s)); \
  } while (0)

static void test_intra_state(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  /* 2.5 kg rice at 120.00 = 300.00, 5%: CGST 7.50 + SGST 7.50;
   * 3 tumblers at 250.50 = 751.50 - 51.50 off = 700.00, 18%: 63.00 + 63.00.
   * Taxable 1,000.00, tax 141.00, total 1,141.00 (no round-off). */
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a,
                              "{\"customer_id\":\"%s\",\"notes\":\"Thank you\","
                              "\"items\":[{\"product_id\":\"%s\",\"quantity\":2.5},"
                              "{\"product_id\":\"%s\",\"quantity\":3,"
                              "\"discount\":51.50}]}",
                              f->cust_in, f->rice, f->tumbler));
  const char *id = json_get(inv, "id")->str;
  const char *num = json_get(inv, "invoice_number")->str;
  const char *t = render(f, a, id, "intra", NULL);
  HAS(t, "TAX INVOICE");
  HAS(t, "ORIGINAL FOR RECIPIENT");
  HAS(t, "Sharma Traders");
  HAS(t, "12 MG Road, Pune 411001");
  HAS(t, f->gstin_biz);
  HAS(t, "Maharashtra (27)");
  HAS(t, arena_printf(a, "Invoice No.: %s", num));
  HAS(t, "Invoice Date: ");
  HAS(t, "Place of Supply: Maharashtra (27)");
  HAS(t, "Reverse Charge: No");
  HAS(t, "Ramesh Kumar");
  HAS(t, "4 Station Road, Nashik - 422001");
  HAS(t, arena_printf(a, "GSTIN: %s", f->gstin_cust));
  HAS(t, "Basmati Rice");
  HAS(t, "1006");
  HAS(t, "7323");
  HAS(t, "2.5");
  HAS(t, "kg");
  HAS(t, "120.00");
  HAS(t, "250.50");
  HAS(t, "51.50");
  HAS(t, "300.00");
  HAS(t, "700.00");
  HAS(t, "7.50");
  HAS(t, "63.00");
  HAS(t, "CGST");
  HAS(t, "SGST");
  HASNT(t, "IGST");
  HAS(t, "1,000.00");
  HAS(t, "1,141.00");
  HAS(t, "Round off");
  HAS(t, "Rupees One Thousand One Hundred Forty-One Only");
  HAS(t, "Authorised Signatory");
  HAS(t, "Thank you");
  HAS(t, "Scan to pay");
  HAS(t, "sharma@okaxis");
  arena_free(a);
}

static void test_inter_state_devanagari_qr(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  /* 10 kg rice = 1,200.00 at 5% IGST 60.00; 1 tumbler 250.50 at 18% IGST
   * 45.09 (45.09 exactly). Taxable 1,450.50 + 105.09 = 1,555.59, rounded
   * to 1,556.00 with a round-off of 0.41. */
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a,
                              "{\"customer_id\":\"%s\",\"items\":["
                              "{\"product_id\":\"%s\",\"quantity\":10},"
                              "{\"product_id\":\"%s\",\"quantity\":1}]}",
                              f->cust_out, f->rice, f->tumbler));
  const char *id = json_get(inv, "id")->str;
  const char *num = json_get(inv, "invoice_number")->str;
  /* A part payment: the QR asks for what is still due. */
  op(f->d, a, f->biz, "record_payment",
     arena_printf(a,
                  "{\"customer_id\":\"%s\",\"invoice_id\":\"%s\","
                  "\"amount_received\":500,\"payment_mode\":\"cash\"}",
                  f->cust_out, id));
  const char *pdf;
  const char *t = render(f, a, id, "inter", &pdf);
  HAS(t, "रमेश कुमार");
  HAS(t, "Place of Supply: Karnataka (29)");
  HAS(t, "Karnataka (29)");
  HAS(t, "GSTIN: unregistered");
  HAS(t, "7 Residency Road, Bengaluru - 560025");
  HAS(t, "IGST");
  HASNT(t, "CGST");
  HAS(t, "1,200.00");
  HAS(t, "60.00");
  HAS(t, "45.09");
  HAS(t, "105.09");
  HAS(t, "1,450.50");
  HAS(t, "0.41");
  HAS(t, "1,556.00");
  HAS(t, "Rupees One Thousand Five Hundred Fifty-Six Only");
  HAS(t, "1,056.00"); /* the balance due */
  /* The QR decodes to exactly the UPI link of the amount due. */
  buf want;
  buf_init(&want, 0);
  biz_upi_link(&want, "sharma@okaxis", "Sharma Traders", 105600,
               arena_printf(a, "Invoice %s", num), num);
  const char *png = arena_printf(a, "%s/%s-inter.png", outdir, test_backend());
  const char *got =
      run(a, arena_printf(a, "zbarimg --quiet --raw '%s' 2>/dev/null", png));
  size_t gl = strlen(got);
  while (gl && (got[gl - 1] == '\n' || got[gl - 1] == '\r')) gl--;
  if (gl != want.len || memcmp(got, want.data, gl))
    fail_msg("QR decodes to \"%.*s\", want \"%s\"", (int)gl, got,
             buf_cstr(&want));
  /* The link is on the page in text too (pdftotext without layout keeps
   * a wrapped link's pieces in order). */
  const char *raw = run(a, arena_printf(a, "pdftotext '%s' -", pdf));
  buf flat;
  buf_init(&flat, 0);
  for (const char *c = raw; *c; c++)
    if (*c != '\n') buf_putc(&flat, *c);
  HAS(buf_cstr(&flat), buf_cstr(&want));
  buf_free(&flat);
  buf_free(&want);
  arena_free(a);
}

static void test_draft_and_cancelled(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  json *d = op(f->d, a, f->biz, "create_invoice",
               arena_printf(a,
                            "{\"customer_id\":\"%s\",\"draft\":true,\"items\":["
                            "{\"product_id\":\"%s\",\"quantity\":1}]}",
                            f->cust_in, f->rice));
  const char *t = render(f, a, json_get(d, "id")->str, "draft", NULL);
  HAS(t, "DRAFT");
  HAS(t, "not a tax invoice");
  HASNT(t, "ORIGINAL FOR RECIPIENT");
  HASNT(t, "TAX INVOICE");
  HASNT(t, "Scan to pay");
  json *c = op(f->d, a, f->biz, "create_invoice",
               arena_printf(a,
                            "{\"customer_id\":\"%s\",\"items\":["
                            "{\"product_id\":\"%s\",\"quantity\":1}]}",
                            f->cust_in, f->rice));
  const char *cid = json_get(c, "id")->str;
  op(f->d, a, f->biz, "cancel_invoice",
     arena_printf(a, "{\"invoice_id\":\"%s\",\"reason\":\"wrong rate\"}", cid));
  t = render(f, a, cid, "cancelled", NULL);
  HAS(t, "CANCELLED");
  HAS(t, "wrong rate");
  HASNT(t, "Scan to pay");
  arena_free(a);
}

static void test_refusals(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a,
                              "{\"customer_id\":\"%s\",\"items\":["
                              "{\"product_id\":\"%s\",\"quantity\":1}]}",
                              f->cust_in, f->rice));
  const char *id = json_get(inv, "id")->str;
  buf out;
  buf_init(&out, 0);
  const char *fn = NULL;
  api_error code = E__COUNT;
  char why[256];
  /* Another business cannot see it. */
  assert_int_equal(integ_invoice_pdf(f->d, a, f->other, id, &out, &fn, &code,
                                     why, sizeof why),
                   -1);
  assert_int_equal(code, E_OP_NOT_FOUND);
  assert_int_equal((int)out.len, 0);
  assert_int_equal(integ_invoice_pdf(f->d, a, f->biz, "not-a-uuid", &out, &fn,
                                     &code, why, sizeof why),
                   -1);
  assert_int_equal(code, E_BAD_VALUE);
  char none[37];
  uuid_v7(none);
  assert_int_equal(
      integ_invoice_pdf(f->d, a, f->biz, none, &out, &fn, &code, why, sizeof why),
      -1);
  assert_int_equal(code, E_OP_NOT_FOUND);
  /* The file name: the number with '/' as '-'. */
  assert_int_equal(
      integ_invoice_pdf(f->d, a, f->biz, id, &out, &fn, &code, why, sizeof why),
      0);
  char want[64];
  snprintf(want, sizeof want, "%s.pdf", json_get(inv, "invoice_number")->str);
  for (char *c = want; *c; c++)
    if (*c == '/') *c = '-';
  assert_string_equal(fn, want);
  buf_free(&out);
  arena_free(a);
}


/* A long invoice runs over pages: the table's header row is repeated on
 * each, long descriptions wrap, nothing is lost at a break, and the totals
 * and words come after the last line. */
static void test_many_pages(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  buf items;
  buf_init(&items, 0);
  for (int i = 1; i <= 80; i++)
    buf_printf(&items,
               "%s{\"product_id\":\"%s\",\"quantity\":1,"
               "\"description\":\"Line %d %s\"}",
               i > 1 ? "," : "", i % 2 ? f->rice : f->tumbler, i,
               i % 10 ? "" : "with a description long enough to wrap over "
                             "two lines of its narrow column, and चावल");
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a, "{\"customer_id\":\"%s\",\"items\":[%s]}",
                              f->cust_in, buf_cstr(&items)));
  buf_free(&items);
  const char *pdf;
  const char *t = render(f, a, json_get(inv, "id")->str, "long", &pdf);
  const char *info = run(a, arena_printf(a, "pdfinfo '%s'", pdf));
  const char *pages = strstr(info, "Pages:");
  assert_non_null(pages);
  long np = strtol(pages + 6, NULL, 10);
  assert_true(np >= 2);
  /* The header row on every page that has lines. */
  int heads = 0;
  for (const char *c = t; (c = strstr(c, "Description")); c++) heads++;
  assert_true(heads >= 2);
  for (int i = 1; i <= 80; i++) {
    char want[32];
    snprintf(want, sizeof want, "Line %d", i);
    HAS(t, want);
  }
  HAS(t, arena_printf(a, "page %ld", np));
  /* 40 x 120.00 at 5% + 40 x 250.50 at 18%: taxable 4,800.00 + 10,020.00
   * = 14,820.00; tax 240.00 + 40 x 45.10 (CGST and SGST 22.545 -> 22.55) =
   * 240.00 + 1,804.00 = 2,044.00; total 16,864.00. */
  HAS(t, "14,820.00");
  HAS(t, "16,864.00");
  HAS(t, "Rupees Sixteen Thousand Eight Hundred Sixty-Four Only");
  arena_free(a);
}

/* The most lines an invoice may have (INVOICE_MAX_LINES), each a product
 * whose name is 990 bytes of Devanagari with no space: Pango's cost of
 * wrapping one long unbroken text grows faster than its length, and such an
 * invoice took 5 s of CPU (15 s under ASan) on an HTTP thread. A cell is now
 * cut at PDF_CELL_MAX bytes, so the shaping work per row is bounded: the
 * bytes handed to Pango stay under what the whole names would be. And bidi
 * overrides/isolates and control characters in the customer's name and
 * address never reach the PDF: "daoR lliH" inside U+202E..U+202C would
 * print as "Hill Road". */
static void test_long_lines_and_bidi(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  char cust[37], prod[37];
  uuid_v7(cust);
  uuid_v7(prod);
  db_val c[] = {db_uuid(f->biz), db_uuid(cust)};
  sql(f->d,
      "INSERT INTO customers (profile_id, id, full_name, state_code, "
      "address, city, pincode, phone_number) VALUES ($1, $2, "
      "'Asha\x01 Rao\xe2\x81\xa6', '27', "
      "'9 \xe2\x80\xae""daoR lliH\xe2\x80\xac Lane', 'Pune', '411002', "
      "'+919812345679')",
      c, 2);
  buf name;
  buf_init(&name, 0);
  for (int i = 0; i < 110; i++) buf_puts(&name, "\xe0\xa4\xaa\xe0\xa5\x8d\xe0\xa4\xb0");
  db_val pv[] = {db_uuid(f->biz), db_uuid(prod), db_text(buf_cstr(&name)),
                 db_dec(1800, 2), db_money(101), db_dec(1000000, 3)};
  sql(f->d,
      "INSERT INTO products (profile_id, id, name, hsn_code, unit, gst_rate, "
      "base_price, current_stock) VALUES ($1, $2, $3, '6204', 'pcs', $4, $5, "
      "$6)",
      pv, 6);
  size_t name_len = name.len;
  buf_free(&name);
  buf items;
  buf_init(&items, 0);
  enum { LINES = 500 };
  for (int i = 0; i < LINES; i++)
    buf_printf(&items, "%s{\"product_id\":\"%s\",\"quantity\":1}",
               i ? "," : "", prod);
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a, "{\"customer_id\":\"%s\",\"items\":[%s]}",
                              cust, buf_cstr(&items)));
  buf_free(&items);
  const char *id = json_get(inv, "id")->str;

  buf out;
  buf_init(&out, 0);
  const char *fn = NULL;
  api_error code;
  char why[256];
  struct timespec t0, t1;
  size_t before = pdf_text_bytes();
  clock_gettime(CLOCK_MONOTONIC, &t0);
  if (integ_invoice_pdf(f->d, a, f->biz, id, &out, &fn, &code, why, sizeof why))
    fail_msg("integ_invoice_pdf: %s", why);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  size_t shaped = pdf_text_bytes() - before;
  double secs = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
  print_message("500 long lines: %zu bytes shaped, %.2f s\n", shaped, secs);
  buf_free(&out);
  /* Per row: the cut name and twelve short cells (well under 200 bytes),
   * plus the header and totals; the whole names alone would be 495,000. */
  assert_true(shaped < (size_t)LINES * (PDF_CELL_MAX + 3 + 200) + 50000);
  assert_true(shaped < (size_t)LINES * name_len);
  /* A fence far above the fixed cost (0.7 s; a few s under ASan) for a
   * machine shared with other jobs. */
  assert_true(secs < 30);

  const char *t = render(f, a, id, "long-names", NULL);
  HAS(t, "\xe2\x80\xa6"); /* the ellipsis of a cut name */
  HAS(t, "9 daoR lliH Lane");
  HASNT(t, "Hill Road");
  HAS(t, "Asha Rao");
  HASNT(t, "\xe2\x80\xae");
  HASNT(t, "\xe2\x81\xa6");
  HASNT(t, "\x01");
  arena_free(a);
}

/* ---- rpc/invoice_upi ------------------------------------------------------ */

static const char *no_header(const api_req *r, const char *name) {
  (void)r;
  (void)name;
  return NULL;
}

static int upi_call(fx *f, arena *a, const char *biz, const char *body,
                    json **ans) {
  api_req req = {.a = a, .method = "POST", .path = "invoice_upi", .query = "",
                 .body = body, .body_len = strlen(body), .remote = "test",
                 .header = no_header};
  req.who.role = ROLE_AUTHENTICATED;
  snprintf(req.who.sub, sizeof req.who.sub, "%s", biz);
  api_resp resp;
  api_resp_init(&resp);
  assert_true(integ_rpc_known("invoice_upi"));
  integ_rpc(f->d, "invoice_upi", &req, &resp);
  json_error je;
  *ans = NULL;
  json_parse(a, resp.body.data, resp.body.len, ans, &je);
  int st = resp.status;
  api_resp_free(&resp);
  return st;
}

static void test_invoice_upi(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a,
                              "{\"customer_id\":\"%s\",\"items\":["
                              "{\"product_id\":\"%s\",\"quantity\":1}]}",
                              f->cust_in, f->tumbler));
  const char *id = json_get(inv, "id")->str;
  const char *num = json_get(inv, "invoice_number")->str;
  json *ans;
  assert_int_equal(upi_call(f, a, f->biz,
                            arena_printf(a, "{\"invoice_id\":\"%s\"}", id), &ans),
                   200);
  /* 250.50 + 18% (22.545 -> 22.55 CGST and SGST each) = 295.60, rounded to
   * 296.00. */
  assert_string_equal(json_get(ans, "amount_due")->str, "296.00");
  assert_string_equal(json_get(ans, "reference")->str, num);
  buf want;
  buf_init(&want, 0);
  biz_upi_link(&want, "sharma@okaxis", "Sharma Traders", 29600,
               arena_printf(a, "Invoice %s", num), num);
  assert_string_equal(json_get(ans, "upi_link")->str, buf_cstr(&want));
  const char *svg = json_get(ans, "qr_svg")->str;
  assert_true(!strncmp(svg, "<svg ", 5));
  assert_non_null(strstr(svg, "<path "));
  /* The SVG's QR decodes to the link too. */
  if (!system("command -v rsvg-convert >/dev/null 2>&1")) {
    const char *sp = arena_printf(a, "%s/%s-upi.svg", outdir, test_backend());
    FILE *w = fopen(sp, "w");
    fputs(svg, w);
    fclose(w);
    const char *got = run(
        a, arena_printf(a, "rsvg-convert -w 300 '%s' -o '%s.png' && zbarimg "
                           "--quiet --raw '%s.png' 2>/dev/null", sp, sp, sp));
    HAS(got, buf_cstr(&want));
  }
  buf_free(&want);
  /* Refusals. */
  assert_int_equal(upi_call(f, a, f->other,
                            arena_printf(a, "{\"invoice_id\":\"%s\"}", id), &ans),
                   404);
  assert_int_equal(upi_call(f, a, f->biz, "{\"invoice_id\":\"x\"}", &ans), 400);
  assert_int_equal(upi_call(f, a, f->biz, "{}", &ans), 400);
  assert_int_equal(
      upi_call(f, a, f->biz,
               arena_printf(a, "{\"invoice_id\":\"%s\",\"x\":1}", id), &ans),
      400);
  /* Paid in full: nothing is due. */
  op(f->d, a, f->biz, "record_payment",
     arena_printf(a,
                  "{\"customer_id\":\"%s\",\"invoice_id\":\"%s\","
                  "\"amount_received\":296,\"payment_mode\":\"upi\"}",
                  f->cust_in, id));
  assert_int_equal(upi_call(f, a, f->biz,
                            arena_printf(a, "{\"invoice_id\":\"%s\"}", id), &ans),
                   409);
  /* No UPI id: refused with a clear message. */
  db_val p[] = {db_uuid(f->biz)};
  sql(f->d, "UPDATE profiles SET upi_id = NULL WHERE id = $1", p, 1);
  json *inv2 = op(f->d, a, f->biz, "create_invoice",
                  arena_printf(a,
                               "{\"customer_id\":\"%s\",\"items\":["
                               "{\"product_id\":\"%s\",\"quantity\":1}]}",
                               f->cust_in, f->tumbler));
  assert_int_equal(
      upi_call(f, a, f->biz,
               arena_printf(a, "{\"invoice_id\":\"%s\"}",
                            json_get(inv2, "id")->str),
               &ans),
      409);
  assert_non_null(strstr(json_get(ans, "message")->str, "UPI"));
  sql(f->d, "UPDATE profiles SET upi_id = 'sharma@okaxis' WHERE id = $1", p, 1);
  arena_free(a);
}

/* ---- many threads at once ------------------------------------------------- */

#define THREADS 4
#define ROUNDS 12

typedef struct worker {
  fx *f;
  const char *id;
  size_t sizes[ROUNDS];
  char err[256];
} worker;

static void *work(void *arg) {
  worker *w = arg;
  db *d;
  db_err err;
  if (db_open(w->f->url, &d, &err)) {
    snprintf(w->err, sizeof w->err, "open: %.200s", err.message);
    return NULL;
  }
  for (int i = 0; i < ROUNDS && !w->err[0]; i++) {
    arena *a = arena_new();
    buf out;
    buf_init(&out, 0);
    const char *fn;
    api_error code;
    char why[256];
    if (integ_invoice_pdf(d, a, w->f->biz, w->id, &out, &fn, &code, why,
                          sizeof why))
      snprintf(w->err, sizeof w->err, "render: %.200s", why);
    else if (out.len < 1000 || memcmp(out.data, "%PDF-", 5) ||
             !strstr(out.data + out.len - 8, "%%EOF"))
      snprintf(w->err, sizeof w->err, "not a whole PDF (%zu bytes)", out.len);
    w->sizes[i] = out.len;
    buf_free(&out);
    arena_free(a);
  }
  db_close(d);
  return NULL;
}

static void test_concurrent(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  json *inv = op(f->d, a, f->biz, "create_invoice",
                 arena_printf(a,
                              "{\"customer_id\":\"%s\",\"items\":["
                              "{\"product_id\":\"%s\",\"quantity\":2}]}",
                              f->cust_out, f->rice));
  worker w[THREADS];
  pthread_t th[THREADS];
  for (int i = 0; i < THREADS; i++) {
    memset(&w[i], 0, sizeof w[i]);
    w[i].f = f;
    w[i].id = json_get(inv, "id")->str;
    assert_int_equal(pthread_create(&th[i], NULL, work, &w[i]), 0);
  }
  for (int i = 0; i < THREADS; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < THREADS; i++) {
    if (w[i].err[0]) fail_msg("thread %d: %s", i, w[i].err);
    /* The same invoice gives the same document, whatever the thread (the
     * sizes match; the bytes may differ only in the creation time). */
    for (int r = 0; r < ROUNDS; r++)
      assert_true(w[i].sizes[r] == w[0].sizes[0]);
  }
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const char *dir = getenv("MUNSHI_TEST_OUTPUT");
  snprintf(outdir, sizeof outdir, "%s/invoices", dir && *dir ? dir : "test-output");
  mkdir(dir && *dir ? dir : "test-output", 0755);
  mkdir(outdir, 0755);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_intra_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_inter_state_devanagari_qr, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_draft_and_cancelled, setup, teardown),
      cmocka_unit_test_setup_teardown(test_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_many_pages, setup, teardown),
      cmocka_unit_test_setup_teardown(test_long_lines_and_bidi, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_invoice_upi, setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
