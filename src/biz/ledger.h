/* ledger.h - pieces the operations share (internal to biz/): the profile's
 * settings, the customer's debt, stock movements, and rows as JSON. Every
 * function runs inside the caller's transaction and returns 0 or -1 with e
 * filled. */
#ifndef MUNSHI_BIZ_LEDGER_H
#define MUNSHI_BIZ_LEDGER_H

#include "biz/biz.h"

typedef struct profile_info {
  char state_code[3]; /* "" when the business has not set it */
  char prefix[8];
  int allow_negative_stock;
} profile_info;

int ledger_profile(biz_ctx *c, profile_info *p, biz_err *e);

/* Adds delta paise to the customer's total_debt (taking its row lock) and
 * returns the new debt and the customer's state code ("" when none).
 * E_OP_NOT_FOUND when the customer is not one of this business's. */
int ledger_debt_add(biz_ctx *c, const char *customer_id, int64_t delta,
                    int64_t *debt, char state[3], biz_err *e);

/* Moves stock of a product by delta thousandths and writes the movement
 * (reason: opening, invoice, cancellation, adjustment). Refuses (409,
 * naming the product) to go below zero unless allow_negative. Emits
 * stock.low when the stock falls to or below the threshold from above. */
int ledger_stock_move(biz_ctx *c, const char *product_id, int64_t delta,
                      const char *reason, const char *note,
                      const char *ref_type, const char *ref_id,
                      int allow_negative, int64_t *balance, biz_err *e);

/* Allocates min(balance, *left) of payment_id to the open invoice
 * invoice_id: moves its amount_paid, balance_due and status, writes the
 * payment_allocations row, emits invoice.paid when it is paid in full, and
 * appends {invoice_id, invoice_number, amount, status} to allocs (a comma
 * before all but the first, counted in *nalloc). *left goes down by the
 * amount. 409 when the invoice is not open. */
int ledger_allocate(biz_ctx *c, const char *payment_id, const char *invoice_id,
                    int64_t balance, int64_t *left, buf *allocs, int *nalloc,
                    biz_err *e);

/* Applies the customer's credit — money of its payments not allocated to a
 * live invoice, oldest payment first — to its open invoices, oldest first,
 * by the allocation rules of payments. Call after an invoice is issued or
 * a paid one cancelled, under the customer's row lock. */
int ledger_apply_credit(biz_ctx *c, const char *customer_id, biz_err *e);

/* A change of one product's stock, in thousandths. */
typedef struct stock_delta {
  char product_id[37];
  int64_t delta;
} stock_delta;

#define LEDGER_STOCK_MANY_MAX 500

/* ledger_stock_move for n products at once, whatever n is, with the same
 * checks and stock.low events: on SQLite in two statements (one UPDATE of
 * the products, one INSERT of the movements), on PostgreSQL in one (the
 * products' locks are the hottest of the books; see ledger.c). m must be sorted
 * by product_id and hold each product once. */
int ledger_stock_many(biz_ctx *c, const stock_delta *m, int n,
                      const char *reason, const char *ref_type,
                      const char *ref_id, int allow_negative, biz_err *e);

/* A column of a row to render: name and type as in db.h. */
typedef struct out_col {
  const char *name;
  db_type type;
  int scale;
} out_col;

/* Appends row `row` of r as a JSON object: column i of r is cols[i]. */
void ledger_row_json(buf *out, const db_res *r, int row, const out_col *cols,
                     int n);
/* Appends values v[0..n) as a JSON object, each rendered as
 * ledger_row_json renders a cell of that column: the answer of a row just
 * written, without reading it back. */
void ledger_vals_json(buf *out, const db_val *v, const out_col *cols, int n);
/* "a, b, c" for a SELECT list, in the arena. */
const char *ledger_col_list(arena *a, const out_col *cols, int n);

/* Writes the event with a JSON snapshot of the entity. */
int ledger_event(biz_ctx *c, const char *type, const char *entity_type,
                 const char *entity_id, const char *payload, biz_err *e);

#endif
