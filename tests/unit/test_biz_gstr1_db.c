/* test_biz_gstr1_db.c - gstr1_export (biz/gstr1.c) on SQLite and PostgreSQL:
 * a month of invoices written with plain SQL (registered and unregistered
 * customers, intra- and inter-state, an inter-state invoice above the B2CL
 * limit and one exactly at it, a large intra-state one, a service, a line
 * without HSN, a draft, a cancelled invoice, the months around, another
 * business) and the export compared field by field: every section's JSON
 * in the offline tool's shape, money as the literal text of the JSON
 * numbers (never through a double), the CSV text line by line with the
 * tool's headers; and the refusals. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "base/arena.h"
#include "base/dec.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "biz/biz.h"
#include "db/db.h"
#include "testutil.h"

#define PA "01900000-0000-7000-8000-00000000000a"
#define PB "01900000-0000-7000-8000-00000000000b"

typedef struct fx {
  db *d;
  arena *a;
} fx;

static db_err err;
static int uid;

#define OK(call)                                                    \
  do {                                                              \
    if ((call) != 0)                                                \
      fail_msg("%s failed: [%s] %s", #call, err.code, err.message); \
  } while (0)

static int64_t dec(const char *s, int scale) {
  int64_t v;
  if (dec_parse(s, strlen(s), scale, &v)) fail_msg("bad decimal %s", s);
  return v;
}

static const char *id(arena *a, int n) {
  (void)uid;
  return arena_printf(a, "01900000-0000-7000-8000-%012d", n);
}

static void business(db *d, const char *pid, const char *email, const char *gstin,
                     const char *state) {
  db_val u[] = {db_uuid(pid), db_text(email)};
  OK(db_query(d, "INSERT INTO auth_users (id, email, encrypted_password) VALUES ($1, $2, 'x')",
              u, 2, NULL, &err));
  db_val p[] = {db_uuid(pid), gstin ? db_text(gstin) : db_null(), db_text(state)};
  OK(db_query(d,
              "INSERT INTO profiles (id, business_name, gst_number, state_code) "
              "VALUES ($1, 'Shop', $2, $3)",
              p, 3, NULL, &err));
}

static void customer(db *d, const char *pid, const char *cid, const char *name,
                     const char *gstin, const char *state) {
  db_val v[] = {db_uuid(pid), db_uuid(cid), db_text(name),
                gstin ? db_text(gstin) : db_null(), db_text(state)};
  OK(db_query(d,
              "INSERT INTO customers (profile_id, id, full_name, gstin, state_code) "
              "VALUES ($1, $2, $3, $4, $5)",
              v, 5, NULL, &err));
}

static void product(db *d, const char *pid, const char *prid, const char *name,
                    const char *hsn, const char *unit) {
  db_val v[] = {db_uuid(pid), db_uuid(prid), db_text(name), db_text(hsn), db_text(unit)};
  OK(db_query(d,
              "INSERT INTO products (profile_id, id, name, hsn_code, unit) VALUES "
              "($1, $2, $3, $4, $5)",
              v, 5, NULL, &err));
}

static void invoice(db *d, const char *pid, const char *iid, const char *cid,
                    const char *number, const char *date, const char *status,
                    const char *pos, const char *total) {
  int32_t day;
  if (date_parse(date, &day)) fail_msg("bad date %s", date);
  db_val v[] = {db_uuid(pid), db_uuid(iid), db_uuid(cid),
                number ? db_text(number) : db_null(), db_date(day), db_text(status),
                pos ? db_text(pos) : db_null(), db_money(dec(total, 2))};
  OK(db_query(d,
              "INSERT INTO invoices (profile_id, id, customer_id, invoice_number, "
              "invoice_date, status, place_of_supply, total_amount, balance_due) "
              "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)",
              v, 8, NULL, &err));
}

static int line_no;
static void item(fx *f, const char *pid, const char *iid, const char *prid,
                 const char *desc, const char *qty, const char *rate,
                 const char *txval, const char *igst, const char *cgst,
                 const char *sgst) {
  db_val v[] = {db_uuid(pid),
                db_uuid(id(f->a, 900000 + ++line_no)),
                db_uuid(iid),
                prid ? db_uuid(prid) : db_null(),
                db_int(line_no),
                desc ? db_text(desc) : db_null(),
                db_dec(dec(qty, 3), 3),
                db_dec(dec(rate, 2), 2),
                db_money(dec(txval, 2)),
                db_money(dec(igst, 2)),
                db_money(dec(cgst, 2)),
                db_money(dec(sgst, 2))};
  OK(db_query(f->d,
              "INSERT INTO invoice_items (profile_id, id, invoice_id, product_id, "
              "line_no, description, quantity, gst_rate, taxable_value, "
              "igst_amount, cgst_amount, sgst_amount, hsn_code) VALUES ($1, $2, "
              "$3, $4, $5, $6, $7, $8, $9, $10, $11, $12, (SELECT hsn_code FROM "
              "products WHERE profile_id = $1 AND id = $4))",
              v, 12, NULL, &err));
}

/* Ids. */
#define CR1 id(f->a, 1)
#define CR2 id(f->a, 2)
#define CU1 id(f->a, 3)
#define CU2 id(f->a, 4)
#define CBX id(f->a, 5)
#define P1 id(f->a, 11)
#define P2 id(f->a, 12)
#define P3 id(f->a, 13)
#define PBX id(f->a, 14)

static int setup(void **state) {
  fx *f = test_malloc(sizeof *f);
  f->d = test_db_open_migrated(NULL);
  f->a = arena_new();
  db *d = f->d;
  line_no = 0;
  business(d, PA, "a@example.com", "29AABCS1429B1Z1", "29");
  business(d, PB, "b@example.com", NULL, "29");
  /* Names as WhatsApp might give them: a spreadsheet must not take them
   * for formulas (the CSV writes them as text). */
  customer(d, PA, CR1, "=Ramesh Traders, Pune", "27AAACR5055K1Z7", "27");
  customer(d, PA, CR2, "@Bengaluru Stores", "29AAGCB7383J1Z4", "29");
  customer(d, PA, CU1, "Priya (Mumbai)", NULL, "27");
  customer(d, PA, CU2, "Walk-in", NULL, "29");
  customer(d, PB, CBX, "Other's customer", NULL, "29");
  product(d, PA, P1, "Laptop", "8471", "pcs");
  product(d, PA, P2, "Basmati rice 25 kg bag premium quality", "1006", "Kg");
  product(d, PA, P3, "Repair service", "998314", "hour");
  product(d, PB, PBX, "Other's product", "8471", "pcs");

  /* B2B inter-state, two rates (18% on two lines). */
  invoice(d, PA, id(f->a, 101), CR1, "INV-001", "2026-11-03", "pending", "27", "14490.00");
  item(f, PA, id(f->a, 101), P1, "Laptop", "2", "18", "10000.00", "1800.00", "0", "0");
  item(f, PA, id(f->a, 101), P2, NULL, "40", "5", "2000.00", "100.00", "0", "0");
  item(f, PA, id(f->a, 101), P1, "Laptop bag", "1", "18", "500.00", "90.00", "0", "0");
  /* B2B intra-state, with a line that has no HSN. */
  invoice(d, PA, id(f->a, 102), CR2, "INV-002", "2026-11-05", "paid", "29", "1230.00");
  item(f, PA, id(f->a, 102), P1, "Laptop", "1", "18", "1000.00", "0", "90.00", "90.00");
  item(f, PA, id(f->a, 102), NULL, "Loose item", "1", "0", "50.00", "0", "0", "0");
  /* Unregistered, inter-state, above ₹1,00,000: B2CL. */
  invoice(d, PA, id(f->a, 103), CU1, "INV-003", "2026-11-10", "partially_paid", "27",
          "118000.00");
  item(f, PA, id(f->a, 103), P1, "Laptop", "1", "18", "100000.00", "18000.00", "0", "0");
  /* Unregistered, inter-state, exactly ₹1,00,000: B2CS. */
  invoice(d, PA, id(f->a, 104), CU1, "INV-004", "2026-11-11", "pending", "27", "100000.00");
  item(f, PA, id(f->a, 104), P1, "Laptop", "1", "18", "84745.76", "15254.24", "0", "0");
  /* Unregistered, intra-state, large: B2CS; with a service. */
  invoice(d, PA, id(f->a, 105), CU2, "INV-005", "2026-11-30", "pending", NULL, "251180.00");
  item(f, PA, id(f->a, 105), P2, NULL, "1000.5", "5", "238095.24", "0", "5952.38", "5952.38");
  item(f, PA, id(f->a, 105), P3, NULL, "3", "18", "1000.00", "0", "90.00", "90.00");
  /* Not in the export: a draft, a cancelled one, October, December,
   * another business. */
  invoice(d, PA, id(f->a, 106), CU2, NULL, "2026-11-12", "draft", "29", "500.00");
  item(f, PA, id(f->a, 106), P1, "Laptop", "1", "0", "500.00", "0", "0", "0");
  invoice(d, PA, id(f->a, 107), CR1, "INV-006", "2026-11-13", "cancelled", "27", "700.00");
  item(f, PA, id(f->a, 107), P1, "Laptop", "1", "0", "700.00", "0", "0", "0");
  invoice(d, PA, id(f->a, 108), CR1, "INV-000", "2026-10-31", "pending", "27", "800.00");
  item(f, PA, id(f->a, 108), P1, "Laptop", "1", "0", "800.00", "0", "0", "0");
  invoice(d, PA, id(f->a, 109), CR1, "INV-008", "2026-12-01", "pending", "27", "900.00");
  item(f, PA, id(f->a, 109), P1, "Laptop", "1", "0", "900.00", "0", "0", "0");
  invoice(d, PB, id(f->a, 110), CBX, "B-001", "2026-11-15", "pending", "29", "999.00");
  item(f, PB, id(f->a, 110), PBX, "Other", "1", "0", "999.00", "0", "0", "0");
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  test_db_close(f->d);
  arena_free(f->a);
  test_free(f);
  return 0;
}

static const json *run(fx *f, const char *prof, const char *args, biz_err *e) {
  json *in = NULL, *res = NULL;
  json_error je;
  if (json_parse(f->a, args, strlen(args), &in, &je)) fail_msg("bad args %s", args);
  biz_ctx c = {.d = f->d, .a = f->a, .profile_id = prof, .now_us = time_now_us()};
  buf out;
  buf_init(&out, 0);
  memset(e, 0, sizeof *e);
  const biz_op *op = biz_op_find("gstr1_export");
  assert_non_null(op);
  assert_int_equal(op->writes, 0);
  int rc = op->fn(&c, in, &out, e);
  if (rc) {
    buf_free(&out);
    return NULL;
  }
  if (json_parse(f->a, buf_cstr(&out), out.len, &res, &je))
    fail_msg("answer is not JSON (%s): %s", je.message, buf_cstr(&out));
  buf_free(&out);
  return res;
}

/* The member at a path of keys and array indexes ("0".."9"). */
static const json *at(const json *v, const char *const *path) {
  for (; *path && v; path++) {
    if (v->type == JSON_ARRAY) {
      size_t i = (size_t)strtol(*path, NULL, 10);
      v = i < v->n ? v->items[i] : NULL;
    } else {
      v = json_get(v, *path);
    }
  }
  return v;
}
#define AT(v, ...) at((v), (const char *const[]){__VA_ARGS__, NULL})

/* The literal text of a string or number at the path. */
static const char *txt(const json *v) {
  if (!v) return "(absent)";
  assert_true(v->type == JSON_STRING || v->type == JSON_NUMBER);
  return v->str;
}
#define T(v, ...) txt(AT((v), __VA_ARGS__))
#define N(v, ...) (AT((v), __VA_ARGS__) ? AT((v), __VA_ARGS__)->n : (size_t)-1)

static void test_sections(void **state) {
  fx *f = *state;
  biz_err e;
  const json *r = run(f, PA, "{\"month\":\"2026-11\"}", &e);
  if (!r) fail_msg("export failed: %s", e.message);
  const json *g = AT(r, "gstr1");
  assert_string_equal(T(g, "gstin"), "29AABCS1429B1Z1");
  assert_string_equal(T(g, "fp"), "112026");
  /* B2B: by recipient GSTIN, rate-wise items. */
  assert_int_equal(N(g, "b2b"), 2);
  assert_string_equal(T(g, "b2b", "0", "ctin"), "27AAACR5055K1Z7");
  assert_int_equal(N(g, "b2b", "0", "inv"), 1);
  const json *i1 = AT(g, "b2b", "0", "inv", "0");
  assert_string_equal(T(i1, "inum"), "INV-001");
  assert_string_equal(T(i1, "idt"), "03-11-2026");
  assert_string_equal(T(i1, "val"), "14490.00");
  assert_string_equal(T(i1, "pos"), "27");
  assert_string_equal(T(i1, "rchrg"), "N");
  assert_string_equal(T(i1, "inv_typ"), "R");
  assert_int_equal(N(i1, "itms"), 2);
  assert_string_equal(T(i1, "itms", "0", "num"), "1");
  assert_string_equal(T(i1, "itms", "0", "itm_det", "rt"), "18");
  assert_string_equal(T(i1, "itms", "0", "itm_det", "txval"), "10500.00");
  assert_string_equal(T(i1, "itms", "0", "itm_det", "iamt"), "1890.00");
  assert_string_equal(T(i1, "itms", "0", "itm_det", "camt"), "0.00");
  assert_string_equal(T(i1, "itms", "0", "itm_det", "csamt"), "0.00");
  assert_string_equal(T(i1, "itms", "1", "itm_det", "rt"), "5");
  assert_string_equal(T(i1, "itms", "1", "itm_det", "txval"), "2000.00");
  assert_string_equal(T(i1, "itms", "1", "itm_det", "iamt"), "100.00");
  const json *i2 = AT(g, "b2b", "1", "inv", "0");
  assert_string_equal(T(g, "b2b", "1", "ctin"), "29AAGCB7383J1Z4");
  assert_string_equal(T(i2, "inum"), "INV-002");
  assert_string_equal(T(i2, "val"), "1230.00");
  assert_string_equal(T(i2, "itms", "0", "itm_det", "camt"), "90.00");
  assert_string_equal(T(i2, "itms", "0", "itm_det", "samt"), "90.00");
  assert_string_equal(T(i2, "itms", "0", "itm_det", "iamt"), "0.00");
  assert_string_equal(T(i2, "itms", "1", "itm_det", "rt"), "0");
  assert_string_equal(T(i2, "itms", "1", "itm_det", "txval"), "50.00");
  /* B2CL: only INV-003 (INV-004 is exactly at the limit). */
  assert_int_equal(N(g, "b2cl"), 1);
  assert_string_equal(T(g, "b2cl", "0", "pos"), "27");
  assert_int_equal(N(g, "b2cl", "0", "inv"), 1);
  const json *i3 = AT(g, "b2cl", "0", "inv", "0");
  assert_string_equal(T(i3, "inum"), "INV-003");
  assert_string_equal(T(i3, "idt"), "10-11-2026");
  assert_string_equal(T(i3, "val"), "118000.00");
  assert_string_equal(T(i3, "itms", "0", "itm_det", "txval"), "100000.00");
  assert_string_equal(T(i3, "itms", "0", "itm_det", "iamt"), "18000.00");
  assert_null(AT(i3, "itms", "0", "itm_det", "camt"));
  /* B2CS: by place of supply and rate. */
  assert_int_equal(N(g, "b2cs"), 3);
  assert_string_equal(T(g, "b2cs", "0", "sply_ty"), "INTER");
  assert_string_equal(T(g, "b2cs", "0", "pos"), "27");
  assert_string_equal(T(g, "b2cs", "0", "typ"), "OE");
  assert_string_equal(T(g, "b2cs", "0", "rt"), "18");
  assert_string_equal(T(g, "b2cs", "0", "txval"), "84745.76");
  assert_string_equal(T(g, "b2cs", "0", "iamt"), "15254.24");
  assert_null(AT(g, "b2cs", "0", "camt"));
  assert_string_equal(T(g, "b2cs", "1", "sply_ty"), "INTRA");
  assert_string_equal(T(g, "b2cs", "1", "pos"), "29");
  assert_string_equal(T(g, "b2cs", "1", "rt"), "5");
  assert_string_equal(T(g, "b2cs", "1", "txval"), "238095.24");
  assert_string_equal(T(g, "b2cs", "1", "camt"), "5952.38");
  assert_string_equal(T(g, "b2cs", "1", "samt"), "5952.38");
  assert_null(AT(g, "b2cs", "1", "iamt"));
  assert_string_equal(T(g, "b2cs", "2", "rt"), "18");
  assert_string_equal(T(g, "b2cs", "2", "txval"), "1000.00");
  /* HSN, split B2B / B2C, by HSN, UQC and rate. */
  const json *hb = AT(g, "hsn", "hsn_b2b"), *hc = AT(g, "hsn", "hsn_b2c");
  assert_int_equal(hb->n, 3);
  assert_string_equal(T(hb, "0", "hsn_sc"), "");
  assert_string_equal(T(hb, "0", "uqc"), "OTH");
  assert_string_equal(T(hb, "1", "num"), "2");
  assert_string_equal(T(hb, "1", "hsn_sc"), "1006");
  assert_string_equal(T(hb, "1", "uqc"), "KGS");
  assert_string_equal(T(hb, "1", "qty"), "40.000");
  assert_string_equal(T(hb, "1", "desc"), "Basmati rice 25 kg bag premium");
  assert_string_equal(T(hb, "2", "hsn_sc"), "8471");
  assert_string_equal(T(hb, "2", "uqc"), "PCS");
  assert_string_equal(T(hb, "2", "qty"), "4.000");
  assert_string_equal(T(hb, "2", "rt"), "18");
  assert_string_equal(T(hb, "2", "txval"), "11500.00");
  assert_string_equal(T(hb, "2", "iamt"), "1890.00");
  assert_string_equal(T(hb, "2", "camt"), "90.00");
  assert_string_equal(T(hb, "2", "samt"), "90.00");
  assert_int_equal(hc->n, 3);
  assert_string_equal(T(hc, "0", "hsn_sc"), "1006");
  assert_string_equal(T(hc, "0", "qty"), "1000.500");
  assert_string_equal(T(hc, "0", "txval"), "238095.24");
  assert_string_equal(T(hc, "1", "hsn_sc"), "8471");
  assert_string_equal(T(hc, "1", "qty"), "2.000");
  assert_string_equal(T(hc, "1", "txval"), "184745.76");
  assert_string_equal(T(hc, "1", "iamt"), "33254.24");
  assert_string_equal(T(hc, "2", "hsn_sc"), "998314");
  assert_string_equal(T(hc, "2", "uqc"), "NA");
  assert_string_equal(T(hc, "2", "qty"), "0.000");
  /* Counts, the limit, the warning about the line without HSN. */
  assert_string_equal(T(r, "invoices", "b2b"), "2");
  assert_string_equal(T(r, "invoices", "b2cl"), "1");
  assert_string_equal(T(r, "invoices", "b2cs"), "2");
  assert_string_equal(T(r, "b2cl_limit"), "100000.00");
  assert_int_equal(N(r, "warnings"), 1);
  assert_non_null(strstr(T(r, "warnings", "0"), "INV-002"));

  /* CSV, line by line. */
  assert_string_equal(
      T(r, "csv", "b2b"),
      "GSTIN/UIN of Recipient,Receiver Name,Invoice Number,Invoice date,"
      "Invoice Value,Place Of Supply,Reverse Charge,Applicable % of Tax Rate,"
      "Invoice Type,E-Commerce GSTIN,Rate,Taxable Value,Cess Amount\r\n"
      "27AAACR5055K1Z7,\"'=Ramesh Traders, Pune\",INV-001,03-Nov-2026,14490.00,"
      "27-Maharashtra,N,,Regular B2B,,18,10500.00,\r\n"
      "27AAACR5055K1Z7,\"'=Ramesh Traders, Pune\",INV-001,03-Nov-2026,14490.00,"
      "27-Maharashtra,N,,Regular B2B,,5,2000.00,\r\n"
      "29AAGCB7383J1Z4,'@Bengaluru Stores,INV-002,05-Nov-2026,1230.00,"
      "29-Karnataka,N,,Regular B2B,,18,1000.00,\r\n"
      "29AAGCB7383J1Z4,'@Bengaluru Stores,INV-002,05-Nov-2026,1230.00,"
      "29-Karnataka,N,,Regular B2B,,0,50.00,\r\n");
  assert_string_equal(
      T(r, "csv", "b2cl"),
      "Invoice Number,Invoice date,Invoice Value,Place Of Supply,Applicable % "
      "of Tax Rate,Rate,Taxable Value,Cess Amount,E-Commerce GSTIN\r\n"
      "INV-003,10-Nov-2026,118000.00,27-Maharashtra,,18,100000.00,,\r\n");
  assert_string_equal(
      T(r, "csv", "b2cs"),
      "Type,Place Of Supply,Applicable % of Tax Rate,Rate,Taxable Value,Cess "
      "Amount,E-Commerce GSTIN\r\n"
      "OE,27-Maharashtra,,18,84745.76,,\r\n"
      "OE,29-Karnataka,,5,238095.24,,\r\n"
      "OE,29-Karnataka,,18,1000.00,,\r\n");
  assert_string_equal(
      T(r, "csv", "hsn_b2c"),
      "HSN,Description,UQC,Total Quantity,Total Value,Rate,Taxable Value,"
      "Integrated Tax Amount,Central Tax Amount,State/UT Tax Amount,Cess "
      "Amount\r\n"
      "1006,Basmati rice 25 kg bag premium,KGS-KILOGRAMS,1000.500,250000.00,5,"
      "238095.24,0.00,5952.38,5952.38,\r\n"
      "8471,Laptop,PCS-PIECES,2.000,218000.00,18,184745.76,33254.24,0.00,0.00,\r\n"
      "998314,Repair service,NA-NA,0.000,1180.00,18,1000.00,0.00,90.00,90.00,\r\n");
}

static void test_empty_and_refusals(void **state) {
  fx *f = *state;
  biz_err e;
  /* A month without invoices: empty sections, headers only. */
  const json *r = run(f, PA, "{\"month\":\"2026-09\"}", &e);
  assert_non_null(r);
  assert_int_equal(N(r, "gstr1", "b2b"), 0);
  assert_int_equal(N(r, "gstr1", "b2cl"), 0);
  assert_int_equal(N(r, "gstr1", "b2cs"), 0);
  assert_int_equal(N(r, "gstr1", "hsn", "hsn_b2b"), 0);
  assert_string_equal(T(r, "gstr1", "fp"), "092026");
  assert_non_null(strstr(T(r, "csv", "b2cs"), "Type,Place Of Supply"));
  /* Before August 2024 the B2CL limit was ₹2,50,000. */
  r = run(f, PA, "{\"month\":\"2024-07\"}", &e);
  assert_string_equal(T(r, "b2cl_limit"), "250000.00");
  /* Refusals. */
  const char *bad[] = {"{}", "{\"month\":null}", "{\"month\":\"2026-13\"}",
                       "{\"month\":\"2026-1\"}", "{\"month\":\"2026-00\"}",
                       "{\"month\":\"26-11\"}", "{\"month\":\"2017-06\"}",
                       "{\"month\":202611}", "{\"month\":\"2026-11\",\"x\":1}",
                       "{\"month\":\"2026-11-01\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    if (run(f, PA, bad[i], &e)) fail_msg("%s: expected a refusal", bad[i]);
    assert_int_equal(e.code, E_OP_INVALID);
  }
  /* A business without a GSTIN files no GSTR-1. */
  assert_null(run(f, PB, "{\"month\":\"2026-11\"}", &e));
  assert_int_equal(e.code, E_OP_CONFLICT);
  assert_non_null(strstr(e.message, "GSTIN"));
}

int main(int argc, char **argv) {
  const char *backend = test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_sections, setup, teardown),
      cmocka_unit_test_setup_teardown(test_empty_and_refusals, setup, teardown),
  };
  char name[64];
  snprintf(name, sizeof name, "biz_gstr1_%s", backend);
  return cmocka_run_group_tests_name(name, tests, NULL, NULL);
}
