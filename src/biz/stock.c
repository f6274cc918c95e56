/* stock.c - adjust_stock (counted stock, damage, purchases) through the
 * stock movement ledger, and the hooks for customers and products created
 * through /rest/v1 (their events, a product's opening stock). */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/uuid.h"
#include "biz/args.h"
#include "biz/ledger.h"

int op_adjust_stock(biz_ctx *c, const json *args, buf *out, biz_err *e) {
  static const char *const known[] = {"product_id", "delta", "reason", NULL};
  char product_id[37];
  int64_t delta, balance;
  const char *reason = NULL;
  profile_info prof;
  if (arg_only(e, args, known) ||
      arg_uuid(e, args, "product_id", 1, product_id, NULL) ||
      arg_dec(e, args, "delta", 3, 1, &delta, NULL) ||
      arg_text(e, c->a, args, "reason", 500, 1, &reason))
    return -1;
  if (delta == 0) return biz_fail(e, E_OP_INVALID, "delta must not be 0");
  if (ledger_profile(c, &prof, e) ||
      ledger_stock_move(c, product_id, delta, "adjustment", reason, NULL, NULL,
                        prof.allow_negative_stock, &balance, e))
    return -1;
  char d[DEC_MAX_TEXT], b[DEC_MAX_TEXT];
  dec_format(delta, 3, d);
  dec_format(balance, 3, b);
  buf_printf(out, "{\"product_id\":\"%s\",\"delta\":%s,\"current_stock\":%s,"
                  "\"reason\":",
             product_id, d, b);
  json_write_str(out, reason, strlen(reason));
  buf_putc(out, '}');
  return 0;
}

int biz_after_insert(biz_ctx *c, const char *table, const json *row,
                     biz_err *e) {
  const json *id = json_get(row, "id");
  if (!id || id->type != JSON_STRING)
    return biz_fail(e, E_INTERNAL, "inserted row has no id");
  buf p;
  buf_init(&p, 0);
  json_write(&p, row);
  int rc = 0;
  if (!strcmp(table, "customers")) {
    rc = ledger_event(c, "customer.created", "customer", id->str, buf_cstr(&p), e);
  } else if (!strcmp(table, "products")) {
    rc = ledger_event(c, "product.created", "product", id->str, buf_cstr(&p), e);
    const json *stock = json_get(row, "current_stock");
    int64_t opening = 0;
    if (!rc && stock && stock->type == JSON_NUMBER &&
        json_decimal(stock, 3, &opening) == 0 && opening != 0) {
      /* The opening stock is the ledger's first line, so stock always
       * equals the sum of its movements. */
      db_err err;
      char mid[37];
      uuid_v7(mid);
      db_val m[] = {db_uuid(c->profile_id), db_uuid(mid), db_uuid(id->str),
                    db_dec(opening, 3), db_ts(c->now_us)};
      if (db_query(c->d,
                   "INSERT INTO stock_movements (profile_id, id, product_id, "
                   "quantity_delta, balance_after, reason, created_at) VALUES "
                   "($1, $2, $3, $4, $4, 'opening', $5)",
                   m, 5, NULL, &err))
        rc = biz_db_fail(e, &err);
    }
  }
  buf_free(&p);
  return rc;
}
