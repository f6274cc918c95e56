/* biz.h - the business operations: what a shop runs its books on.
 *
 * Each operation takes its arguments as a parsed JSON object and writes its
 * answer as JSON text. It runs INSIDE a write transaction the caller opened
 * (rest/rpc.c does that, together with Idempotency-Key handling and retries
 * on serialization failures), so an operation never begins or commits: an
 * error anywhere rolls back everything it did, events included.
 *
 * Locking order, so concurrent operations on PostgreSQL cannot deadlock:
 * the customer row first (every change to a customer's ledger updates
 * customers.total_debt, which takes its row lock), then invoices by
 * (invoice_date, issued_at, invoice_number), then products by id, and the
 * invoice series last (every invoice of a business takes that one row, so
 * it is held the shortest time). Row locks are held until COMMIT, so an
 * operation takes the hot ones (products, series) as late as it can:
 * create_invoice on PostgreSQL writes the invoice row before the stock and
 * its number last (invoice.c). */
#ifndef MUNSHI_BIZ_BIZ_H
#define MUNSHI_BIZ_BIZ_H

#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "db/db.h"

typedef struct biz_ctx {
  db *d;
  arena *a;               /* memory of this call */
  const char *profile_id; /* the business (tenant) the call acts for */
  int64_t now_us;         /* the clock, fixed for the whole call */
  int from_provider;      /* biz_call.from_provider: provider ids allowed */
} biz_ctx;

typedef struct biz_err {
  api_error code;
  char message[256];
  char details[256];
  db_err db; /* set when code is E_DB/E_UNAVAILABLE or a constraint error */
} biz_err;

typedef int (*biz_op_fn)(biz_ctx *c, const json *args, buf *out, biz_err *e);

typedef struct biz_op {
  const char *name;
  biz_op_fn fn;
  int writes; /* 1: write transaction + Idempotency-Key; 0: read */
} biz_op;

/* The operation called name, or NULL. */
const biz_op *biz_op_find(const char *name);

/* Fills e and returns -1. */
int biz_fail(biz_err *e, api_error code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Maps a database error (constraint codes to their API errors). */
int biz_db_fail(biz_err *e, const db_err *err);

/* The operations (invoice.c, payment.c, stock.c, reports.c). */
int op_create_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_issue_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_cancel_invoice(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_record_payment(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_record_refund(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_adjust_stock(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_customer_statement(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_sales_summary(biz_ctx *c, const json *args, buf *out, biz_err *e);
int op_debtors(biz_ctx *c, const json *args, buf *out, biz_err *e);
/* gstr1.c: {month: "YYYY-MM"} → GSTR-1's B2B, B2CL, B2CS and HSN sections
 * (the offline tool's JSON and CSV). */
int op_gstr1_export(biz_ctx *c, const json *args, buf *out, biz_err *e);

/* 1 when s is a provider's id as payments/refunds keep it (Razorpay's
 * pay_…, rfnd_…): 1 to 64 letters, digits and '_'. */
int biz_provider_id_ok(const char *s);

/* What create_invoice would bill for args, without writing anything: the
 * same checks and the same arithmetic (prices, discounts, GST by place of
 * supply), so a caller can weigh an invoice before making it (a workflow's
 * money cap). Reads only; no transaction needed. */
int biz_invoice_total(biz_ctx *c, const json *args, int64_t *total,
                      biz_err *e);

/* The columns of a row a client writes through /rest/v1, as name/value
 * pairs the check may change or add to (up to cap). */
typedef struct biz_fields {
  const char **names;
  db_val *vals;
  int n, cap;
} biz_fields;

/* Checks and normalises what a client writes to profiles, customers and
 * products: phone numbers to E.164, GSTINs (format, state, check
 * character; the state code follows the GSTIN), state codes, HSN codes,
 * invoice prefixes. insert: 1 for a new row. */
int biz_check_fields(arena *a, const char *table, biz_fields *f, int insert,
                     biz_err *e);

/* Channels (checked by biz_check_fields too): what each platform needs, the
 * formats of ids and tokens, templates, and a webhook_secret made for a
 * Telegram channel that has none. shared_app_secret: 1 when the server
 * verifies WhatsApp webhooks with one shared Meta app's secret
 * (MUNSHI_WHATSAPP_APP_SECRET), so a channel may leave app_secret out. Set
 * once at start, before serving. */
void biz_channels_configure(int shared_app_secret);

/* A clear message for a unique violation (err) on table, or NULL when the
 * database's own is as good. It names no other business. */
const char *biz_conflict_message(const char *table, const db_err *err);

/* Hooks for rows created through /rest/v1 (customers, products): write the
 * customer.created / product.created event and, for a product with an
 * opening stock, its first stock movement. Inside the insert's transaction.
 * row is the new row as a JSON object. */
int biz_after_insert(biz_ctx *c, const char *table, const json *row,
                     biz_err *e);

#endif
