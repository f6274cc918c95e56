/* ledger.c - shared pieces of the business operations (see ledger.h). */
#include "biz/ledger.h"

#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/events.h"

int ledger_profile(biz_ctx *c, profile_info *p, biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "SELECT state_code, invoice_prefix, allow_negative_stock FROM "
          "profiles WHERE id = $1",
          v, 1, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "the business profile does not exist");
  } else {
    snprintf(p->state_code, sizeof p->state_code, "%s", db_res_text(r, 0, 0));
    snprintf(p->prefix, sizeof p->prefix, "%s", db_res_text(r, 0, 1));
    p->allow_negative_stock = db_res_bool(r, 0, 2);
  }
  db_res_free(r);
  return rc;
}

int ledger_debt_add(biz_ctx *c, const char *customer_id, int64_t delta,
                    int64_t *debt, char state[3], biz_err *e) {
  db_val v[] = {db_money(delta), db_ts(c->now_us), db_uuid(c->profile_id),
                db_uuid(customer_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(c->d,
                     "UPDATE customers SET total_debt = total_debt + $1, "
                     "updated_at = $2 WHERE profile_id = $3 AND id = $4 "
                     "RETURNING total_debt, state_code",
                     v, 4, &r, &err))
    return biz_db_fail(e, &err);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = biz_fail(e, E_OP_NOT_FOUND, "customer %s not found", customer_id);
  } else {
    if (debt) *debt = db_res_dec(r, 0, 0, 2);
    if (state) snprintf(state, 3, "%s", db_res_text(r, 0, 1));
  }
  db_res_free(r);
  return rc;
}

int ledger_event(biz_ctx *c, const char *type, const char *entity_type,
                 const char *entity_id, const char *payload, biz_err *e) {
  db_err err;
  if (event_emit(c->d, c->profile_id, type, entity_type, entity_id, payload,
                 NULL, &err))
    return biz_db_fail(e, &err);
  return 0;
}

static int stock_low_event(biz_ctx *c, const char *product_id, const char *name,
                           int64_t now, int64_t threshold, biz_err *e) {
  buf p;
  buf_init(&p, 0);
  char s[DEC_MAX_TEXT], t[DEC_MAX_TEXT];
  dec_format(now, 3, s);
  dec_format(threshold, 3, t);
  buf_printf(&p, "{\"product_id\":\"%s\",\"name\":", product_id);
  json_write_str(&p, name, strlen(name));
  buf_printf(&p, ",\"current_stock\":%s,\"low_stock_threshold\":%s}", s, t);
  int rc = ledger_event(c, "stock.low", "product", product_id, buf_cstr(&p), e);
  buf_free(&p);
  return rc;
}

static int not_enough_stock(biz_err *e, const char *product_id, const char *name,
                            int64_t now, int64_t delta) {
  char have[DEC_MAX_TEXT], want[DEC_MAX_TEXT];
  dec_format(now - delta, 3, have);
  dec_format(-delta, 3, want);
  biz_fail(e, E_OP_CONFLICT, "not enough stock of \"%s\": %s in stock, %s needed",
           name, have, want);
  snprintf(e->details, sizeof e->details, "product_id %s", product_id);
  return -1;
}

int ledger_stock_move(biz_ctx *c, const char *product_id, int64_t delta,
                      const char *reason, const char *note,
                      const char *ref_type, const char *ref_id,
                      int allow_negative, int64_t *balance, biz_err *e) {
  db_val v[] = {db_dec(delta, 3), db_ts(c->now_us), db_uuid(c->profile_id),
                db_uuid(product_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(c->d,
                     "UPDATE products SET current_stock = current_stock + $1, "
                     "updated_at = $2 WHERE profile_id = $3 AND id = $4 "
                     "RETURNING current_stock, low_stock_threshold, name, unit",
                     v, 4, &r, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return biz_fail(e, E_OP_NOT_FOUND, "product %s not found", product_id);
  }
  int64_t now = db_res_dec(r, 0, 0, 3);
  int has_threshold = !db_res_isnull(r, 0, 1);
  int64_t threshold = has_threshold ? db_res_dec(r, 0, 1, 3) : 0;
  char name[200];
  snprintf(name, sizeof name, "%s", db_res_text(r, 0, 2));
  db_res_free(r);
  if (now < 0 && !allow_negative && delta < 0)
    return not_enough_stock(e, product_id, name, now, delta);
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  db_val m[] = {db_uuid(c->profile_id), db_uuid(id), db_uuid(product_id),
                db_dec(delta, 3), db_dec(now, 3), db_text(reason),
                note ? db_text(note) : db_null(),
                ref_type ? db_text(ref_type) : db_null(),
                ref_id ? db_uuid(ref_id) : db_null(), db_ts(c->now_us)};
  if (db_query_fixed(
          c->d,
          "INSERT INTO stock_movements (profile_id, id, product_id, "
          "quantity_delta, balance_after, reason, note, ref_type, ref_id, "
          "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
          m, 10, NULL, &err))
    return biz_db_fail(e, &err);
  if (has_threshold && now <= threshold && now - delta > threshold &&
      stock_low_event(c, product_id, name, now, threshold, e))
    return -1;
  if (balance) *balance = now;
  return 0;
}

/* The products' UPDATE of ledger_stock_many on SQLite: one statement, whose
 * text depends only on n (so a handful of texts reach the statement cache).
 * One writer at a time: no lock order to keep. */
static const char *stock_update_sql(arena *a, int n) {
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, "UPDATE products SET current_stock = current_stock + CASE products.id");
  for (int i = 0; i < n; i++)
    buf_printf(&b, " WHEN $%d THEN CAST($%d AS numeric)", 3 + 2 * i, 4 + 2 * i);
  buf_puts(&b, " END, updated_at = $2 WHERE profile_id = $1 AND id IN (");
  for (int i = 0; i < n; i++) buf_printf(&b, "%s$%d", i ? ", " : "", 3 + 2 * i);
  buf_puts(&b,
           ") RETURNING products.id, products.current_stock, "
           "products.low_stock_threshold, products.name");
  const char *sql = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return sql;
}

static const char *movements_sql(arena *a, int n) {
  buf b;
  buf_init(&b, 0);
  buf_puts(&b,
           "INSERT INTO stock_movements (profile_id, id, product_id, "
           "quantity_delta, balance_after, reason, note, ref_type, ref_id, "
           "created_at) VALUES ");
  for (int i = 0; i < n; i++) {
    int k = 6 + 4 * i;
    buf_printf(&b, "%s($1, $%d, $%d, $%d, $%d, $2, NULL, $3, $4, $5)",
               i ? ", " : "", k, k + 1, k + 2, k + 3);
  }
  const char *sql = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return sql;
}

/* ledger_stock_many on PostgreSQL: lock, UPDATE and the movements in one
 * statement, so the product rows — the hottest of the books — are held
 * for one round trip less. The rows are locked first in id order (biz.h):
 * an UPDATE alone locks them in the order its scan meets them, which
 * follows where each row's newest version happens to lie, so two invoices
 * of the same products could lock them crosswise and deadlock. FOR NO KEY
 * UPDATE, the lock the UPDATE itself takes: FOR UPDATE would also wait
 * for the key-share locks other transactions' invoice_items and
 * stock_movements rows take on the product through their foreign keys,
 * and two invoices that wrote their items first would deadlock.
 * $1 profile, $2 time, $3 reason, $4 ref_type, $5 ref_id, then per product
 * its id, delta and the new movement's id. The checks (enough stock,
 * stock.low) run after it on the RETURNING rows; a refusal rolls the
 * whole transaction back, movements included. */
static const char *stock_pg_sql(arena *a, int n) {
  buf b;
  buf_init(&b, 0);
  buf_puts(
      &b,
      "WITH l AS (SELECT id FROM products WHERE profile_id = $1 AND id IN (");
  for (int i = 0; i < n; i++) buf_printf(&b, "%s$%d", i ? ", " : "", 6 + 3 * i);
  buf_puts(&b,
           ") ORDER BY id FOR NO KEY UPDATE), u AS (UPDATE products SET "
           "current_stock = current_stock + CASE products.id");
  for (int i = 0; i < n; i++)
    buf_printf(&b, " WHEN $%d THEN CAST($%d AS numeric)", 6 + 3 * i, 7 + 3 * i);
  buf_puts(&b,
           " END, updated_at = $2 FROM l WHERE products.profile_id = $1 "
           "AND products.id = l.id RETURNING products.id, "
           "products.current_stock, products.low_stock_threshold, "
           "products.name), m AS (INSERT INTO stock_movements (profile_id, "
           "id, product_id, quantity_delta, balance_after, reason, note, "
           "ref_type, ref_id, created_at) SELECT $1, d.mid, u.id, "
           "d.delta, u.current_stock, CAST($3 AS text), NULL, CAST($4 AS "
           "text), CAST($5 AS uuid), $2 FROM u JOIN (VALUES ");
  for (int i = 0; i < n; i++)
    buf_printf(&b,
               "%s(CAST($%d AS uuid), CAST($%d AS numeric), CAST($%d AS uuid))",
               i ? ", " : "", 6 + 3 * i, 7 + 3 * i, 8 + 3 * i);
  buf_puts(&b,
           ") AS d (pid, delta, mid) ON d.pid = u.id) SELECT id, "
           "current_stock, low_stock_threshold, name FROM u");
  const char *sql = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return sql;
}

int ledger_stock_many(biz_ctx *c, const stock_delta *m, int n,
                      const char *reason, const char *ref_type,
                      const char *ref_id, int allow_negative, biz_err *e) {
  if (n <= 0) return 0;
  if (n > LEDGER_STOCK_MANY_MAX)
    return biz_fail(e, E_OP_INVALID, "at most %d products at once",
                    LEDGER_STOCK_MANY_MAX);
  int pg = db_kind_of(c->d) == DB_POSTGRES;
  /* The movements' values: $1 profile, $2 reason, $3 ref_type, $4 ref_id,
   * $5 time, then id, product, delta, balance per product (SQLite; on
   * PostgreSQL the statement below takes its own order). */
  db_val *mv = arena_alloc(c->a, sizeof *mv * (size_t)(5 + 4 * n));
  mv[0] = db_uuid(c->profile_id);
  mv[1] = db_text(reason);
  mv[2] = ref_type ? db_text(ref_type) : db_null();
  mv[3] = ref_id ? db_uuid(ref_id) : db_null();
  mv[4] = db_ts(c->now_us);
  db_res *r = NULL;
  db_err err;
  int qrc;
  if (pg) {
    db_val *v = arena_alloc(c->a, sizeof *v * (size_t)(5 + 3 * n));
    v[0] = mv[0];
    v[1] = mv[4];
    v[2] = mv[1];
    v[3] = mv[2];
    v[4] = mv[3];
    for (int i = 0; i < n; i++) {
      char *id = arena_alloc(c->a, UUID_STR_LEN + 1);
      uuid_v7(id);
      v[5 + 3 * i] = db_uuid(m[i].product_id);
      v[6 + 3 * i] = db_dec(m[i].delta, 3);
      v[7 + 3 * i] = db_uuid(id);
    }
    qrc = db_query_fixed(c->d, stock_pg_sql(c->a, n), v, 5 + 3 * n, &r, &err);
  } else {
    db_val *v = arena_alloc(c->a, sizeof *v * (size_t)(2 + 2 * n));
    v[0] = db_uuid(c->profile_id);
    v[1] = db_ts(c->now_us);
    for (int i = 0; i < n; i++) {
      v[2 + 2 * i] = db_uuid(m[i].product_id);
      v[3 + 2 * i] = db_dec(m[i].delta, 3);
    }
    qrc =
        db_query_fixed(c->d, stock_update_sql(c->a, n), v, 2 + 2 * n, &r, &err);
  }
  if (qrc) return biz_db_fail(e, &err);
  int rc = 0;
  /* In the order of m (sorted by the caller), not of RETURNING. */
  for (int i = 0; i < n && !rc; i++) {
    int row = -1;
    for (int k = 0; k < db_res_rows(r) && row < 0; k++)
      if (!strcmp(db_res_text(r, k, 0), m[i].product_id)) row = k;
    if (row < 0) {
      rc = biz_fail(e, E_OP_NOT_FOUND, "product %s not found", m[i].product_id);
      break;
    }
    int64_t now = db_res_dec(r, row, 1, 3);
    const char *name = db_res_text(r, row, 3);
    if (now < 0 && !allow_negative && m[i].delta < 0) {
      rc = not_enough_stock(e, m[i].product_id, name, now, m[i].delta);
      break;
    }
    char *id = arena_alloc(c->a, UUID_STR_LEN + 1);
    uuid_v7(id);
    mv[5 + 4 * i] = db_uuid(id);
    mv[6 + 4 * i] = db_uuid(m[i].product_id);
    mv[7 + 4 * i] = db_dec(m[i].delta, 3);
    mv[8 + 4 * i] = db_dec(now, 3);
    if (!db_res_isnull(r, row, 2)) {
      int64_t threshold = db_res_dec(r, row, 2, 3);
      if (now <= threshold && now - m[i].delta > threshold)
        rc = stock_low_event(c, m[i].product_id, name, now, threshold, e);
    }
  }
  db_res_free(r);
  if (rc || pg) return rc;
  if (db_query_fixed(c->d, movements_sql(c->a, n), mv, 5 + 4 * n, NULL, &err))
    return biz_db_fail(e, &err);
  return 0;
}

void ledger_row_json(buf *out, const db_res *r, int row, const out_col *cols,
                     int n) {
  buf_putc(out, '{');
  for (int i = 0; i < n; i++) {
    if (i) buf_putc(out, ',');
    json_write_str(out, cols[i].name, strlen(cols[i].name));
    buf_putc(out, ':');
    if (db_res_isnull(r, row, i)) {
      buf_puts(out, "null");
      continue;
    }
    switch (cols[i].type) {
      case DBT_DEC:
        json_write_dec(out, db_res_dec(r, row, i, cols[i].scale), cols[i].scale);
        break;
      case DBT_INT:
        buf_printf(out, "%lld", (long long)db_res_int(r, row, i));
        break;
      case DBT_BOOL:
        buf_puts(out, db_res_bool(r, row, i) ? "true" : "false");
        break;
      case DBT_TS:
        json_write_ts(out, db_res_ts(r, row, i));
        break;
      case DBT_DATE:
        json_write_date(out, db_res_date(r, row, i));
        break;
      case DBT_JSON:
        buf_puts(out, db_res_text(r, row, i));
        break;
      default: {
        const char *s = db_res_text(r, row, i);
        json_write_str(out, s, strlen(s));
      }
    }
  }
  buf_putc(out, '}');
}

void ledger_vals_json(buf *out, const db_val *v, const out_col *cols, int n) {
  buf_putc(out, '{');
  for (int i = 0; i < n; i++) {
    if (i) buf_putc(out, ',');
    json_write_str(out, cols[i].name, strlen(cols[i].name));
    buf_putc(out, ':');
    if (v[i].type == DBT_NULL) {
      buf_puts(out, "null");
      continue;
    }
    switch (cols[i].type) {
      case DBT_DEC:
        json_write_dec(out, v[i].i, cols[i].scale);
        break;
      case DBT_INT:
        buf_printf(out, "%lld", (long long)v[i].i);
        break;
      case DBT_BOOL:
        buf_puts(out, v[i].i ? "true" : "false");
        break;
      case DBT_TS:
        json_write_ts(out, v[i].i);
        break;
      case DBT_DATE:
        json_write_date(out, (int32_t)v[i].i);
        break;
      case DBT_JSON:
        buf_puts(out, v[i].s);
        break;
      default:
        json_write_str(out, v[i].s, strlen(v[i].s));
    }
  }
  buf_putc(out, '}');
}

const char *ledger_col_list(arena *a, const out_col *cols, int n) {
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < n; i++) {
    if (i) buf_puts(&b, ", ");
    buf_puts(&b, cols[i].name);
  }
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* ---- allocation and credit ---------------------------------------------- */

int ledger_allocate(biz_ctx *c, const char *payment_id, const char *invoice_id,
                    int64_t balance, int64_t *left, buf *allocs, int *nalloc,
                    biz_err *e) {
  int64_t amt = balance < *left ? balance : *left;
  if (amt <= 0) return 0;
  int paid = amt == balance;
  db_val u[] = {db_money(amt), db_text(paid ? "paid" : "partially_paid"),
                db_ts(c->now_us), db_uuid(c->profile_id), db_uuid(invoice_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(
          c->d,
          "UPDATE invoices SET amount_paid = amount_paid + $1, "
          "balance_due = balance_due - $1, status = $2, updated_at = $3 "
          "WHERE profile_id = $4 AND id = $5 AND status IN ('pending', "
          "'partially_paid') RETURNING invoice_number",
          u, 5, &r, &err))
    return biz_db_fail(e, &err);
  if (db_res_rows(r) != 1) {
    db_res_free(r);
    return biz_fail(e, E_OP_CONFLICT, "invoice %s is not open", invoice_id);
  }
  char number[40];
  snprintf(number, sizeof number, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  char id[UUID_STR_LEN + 1];
  uuid_v7(id);
  db_val a[] = {db_uuid(c->profile_id), db_uuid(id), db_uuid(payment_id),
                db_uuid(invoice_id), db_money(amt), db_ts(c->now_us)};
  if (db_query_fixed(
          c->d,
          "INSERT INTO payment_allocations (profile_id, id, payment_id, "
          "invoice_id, amount, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
          a, 6, NULL, &err))
    return biz_db_fail(e, &err);
  char money[DEC_MAX_TEXT];
  dec_format(amt, 2, money);
  buf_printf(allocs, "%s{\"invoice_id\":\"%s\",\"invoice_number\":",
             *nalloc ? "," : "", invoice_id);
  json_write_str(allocs, number, strlen(number));
  buf_printf(allocs, ",\"amount\":%s,\"status\":\"%s\"}", money,
             paid ? "paid" : "partially_paid");
  (*nalloc)++;
  *left -= amt;
  if (paid) {
    char p[256];
    snprintf(p, sizeof p,
             "{\"invoice_id\":\"%s\",\"payment_id\":\"%s\",\"amount\":%s}",
             invoice_id, payment_id, money);
    if (ledger_event(c, "invoice.paid", "invoice", invoice_id, p, e)) return -1;
  }
  return 0;
}


/* The customer's payments with money not allocated to a live invoice nor
 * refunded, oldest first. Allocations to cancelled invoices count as free
 * again: cancelling a paid invoice turns what was paid on it into credit. */
static int free_payments(biz_ctx *c, const char *customer_id, db_res **r,
                         biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
  db_err err;
  if (db_query(c->d,
               "SELECT p.id, p.amount_received - COALESCE((SELECT SUM(a.amount) "
               "FROM payment_allocations a JOIN invoices i ON i.profile_id = "
               "a.profile_id AND i.id = a.invoice_id WHERE a.profile_id = "
               "p.profile_id AND a.payment_id = p.id AND i.status <> "
               "'cancelled'), 0) - COALESCE((SELECT SUM(f.amount) FROM refunds "
               "f WHERE f.profile_id = p.profile_id AND f.customer_id = "
               "p.customer_id AND f.payment_id = p.id), 0) FROM payments p "
               "WHERE p.profile_id = $1 AND p.customer_id = $2 ORDER BY "
               "p.received_at, p.id",
               v, 2, r, &err))
    return biz_db_fail(e, &err);
  return 0;
}

/* Refunds that named no payment: they came out of the customer's credit
 * (refund.c), taken here from the newest payments' free money. */
static int unnamed_refunds(biz_ctx *c, const char *customer_id, int64_t *sum,
                           biz_err *e) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
  db_res *r = NULL;
  db_err err;
  if (db_query(c->d,
               "SELECT SUM(amount) FROM refunds WHERE profile_id = $1 AND "
               "customer_id = $2 AND payment_id IS NULL",
               v, 2, &r, &err))
    return biz_db_fail(e, &err);
  *sum = db_res_rows(r) == 1 && !db_res_isnull(r, 0, 0) ? db_res_dec(r, 0, 0, 2)
                                                        : 0;
  db_res_free(r);
  return 0;
}

int ledger_apply_credit(biz_ctx *c, const char *customer_id, biz_err *e) {
  db_res *pay = NULL, *inv = NULL;
  db_err err;
  int64_t unnamed = 0;
  int rc = free_payments(c, customer_id, &pay, e);
  if (rc || (rc = unnamed_refunds(c, customer_id, &unnamed, e))) goto out;
  int np = db_res_rows(pay);
  int64_t *free_money = arena_alloc(c->a, sizeof *free_money * (size_t)(np + 1));
  for (int i = 0; i < np; i++) free_money[i] = db_res_dec(pay, i, 1, 2);
  for (int i = np - 1; i >= 0 && unnamed > 0; i--) {
    int64_t x = free_money[i] < unnamed ? free_money[i] : unnamed;
    if (x <= 0) continue;
    free_money[i] -= x;
    unnamed -= x;
  }
  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
  if (db_query(c->d,
               "SELECT id, balance_due FROM invoices WHERE profile_id = $1 "
               "AND customer_id = $2 AND status IN ('pending', "
               "'partially_paid') ORDER BY invoice_date, issued_at, "
               "invoice_number",
               v, 2, &inv, &err)) {
    rc = biz_db_fail(e, &err);
    goto out;
  }
  buf allocs; /* ledger_allocate describes each part; not needed here */
  buf_init(&allocs, 0);
  int nalloc = 0, p = 0;
  int64_t left = 0;
  for (int i = 0; i < db_res_rows(inv) && !rc; i++) {
    int64_t balance = db_res_dec(inv, i, 1, 2);
    const char *inv_id = db_res_text(inv, i, 0);
    while (balance > 0 && !rc) {
      while (left <= 0 && p < np) left = free_money[p++];
      if (left <= 0) goto done; /* no credit left */
      int64_t before = left;
      rc = ledger_allocate(c, db_res_text(pay, p - 1, 0), inv_id, balance,
                           &left, &allocs, &nalloc, e);
      balance -= before - left;
    }
  }
done:
  buf_free(&allocs);
out:
  db_res_free(pay);
  db_res_free(inv);
  return rc;
}
