/* rpc.c - runs a business operation for an HTTP request (see rpc.h). */
#include "rest/rpc.h"

#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "biz/biz.h"
#include "biz/idempotency.h"

#define RPC_ATTEMPTS 4

static int reply_biz_error(api_resp *resp, const biz_err *e) {
  if (e->code == E_DB) log_error("rpc: database error %s: %s", e->db.code, e->db.message);
  return api_fail(resp, e->code, e->code == E_DB ? NULL : e->message,
                  e->details[0] ? e->details : NULL, NULL);
}

/* Serialization failures and deadlocks (PostgreSQL), busy (SQLite): the
 * whole transaction may simply be run again. */
static int retryable(const db_err *err) { return api_sqlstate_retryable(err->code); }

/* Records a 4xx answer under the key in a transaction of its own (the
 * operation's was rolled back). Best effort: if another request with the
 * same key stored first, that answer stands. */
static void store_refusal(db *d, const api_req *req, const char *key,
                          const biz_op *op, const char *body, size_t body_len,
                          const api_resp *resp) {
  db_err err;
  if (db_begin(d, 1, &err)) return;
  if (idem_store(d, req->who.sub, key, op->name, body, body_len, resp->status,
                 buf_cstr(&resp->body), &err) ||
      db_commit(d, &err))
    db_rollback(d);
}

int rpc_handle(db *d, api_req *req, api_resp *resp) {
  if (req->who.role != ROLE_AUTHENTICATED)
    return api_fail(resp,
                    req->who.role == ROLE_SERVICE ? E_FORBIDDEN : E_NO_AUTH,
                    "operations act for a business: sign in as its owner and "
                    "send the access token as Authorization: Bearer <token>",
                    NULL, NULL),
           0;
  const biz_op *op = biz_op_find(req->path);
  if (!op)
    return api_failf(resp, E_OP_UNKNOWN,
                     "Could not find the function public.%.64s in the schema "
                     "cache",
                     req->path),
           0;
  if (strcmp(req->method, "POST"))
    return api_fail(resp, E_METHOD, "operations are called with POST", NULL,
                    NULL),
           0;
  json *args;
  json_error je;
  const char *body = req->body_len ? req->body : "{}";
  size_t body_len = req->body_len ? req->body_len : 2;
  if (json_parse(req->a, body, body_len, &args, &je))
    return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                     je.message, je.offset),
           0;
  const char *key = op->writes ? req->header(req, "idempotency-key") : NULL;
  if (key && !idem_key_valid(key))
    return api_fail(resp, E_OP_INVALID,
                    "Idempotency-Key must be 1 to 255 printable characters",
                    NULL, NULL),
           0;
  if (key) {
    /* The request is identified by its arguments, not their spelling: the
     * parsed JSON written back compactly (whitespace does not count). */
    buf canon;
    buf_init(&canon, 0);
    json_write(&canon, args);
    body = arena_strndup(req->a, canon.data ? canon.data : "{}", canon.len);
    body_len = canon.len;
    buf_free(&canon);
  }

  buf out;
  buf_init(&out, 0);
  biz_ctx c = {.d = d, .a = req->a, .profile_id = req->who.sub};
  biz_err e;
  db_err err;
  for (int attempt = 1;; attempt++) {
    memset(&e, 0, sizeof e);
    buf_reset(&out);
    c.now_us = time_now_us();
    if (db_begin(d, op->writes, &err)) {
      if (retryable(&err) && attempt < RPC_ATTEMPTS) continue;
      biz_db_fail(&e, &err);
      reply_biz_error(resp, &e);
      break;
    }
    if (key) {
      idem_state st;
      int status;
      buf stored;
      buf_init(&stored, 0);
      if (idem_lookup(d, req->who.sub, key, op->name, body, body_len, &st,
                      &status, &stored, &err)) {
        db_rollback(d);
        buf_free(&stored);
        if (retryable(&err) && attempt < RPC_ATTEMPTS) continue;
        biz_db_fail(&e, &err);
        reply_biz_error(resp, &e);
        break;
      }
      if (st != IDEM_NEW) {
        db_rollback(d);
        if (st == IDEM_MISMATCH) {
          api_fail(resp, E_IDEM_MISMATCH, NULL,
                   "send a new Idempotency-Key for a different request", NULL);
        } else {
          resp->status = status;
          buf_reset(&resp->body);
          buf_append(&resp->body, stored.data, stored.len);
          api_header(resp, "Idempotent-Replayed", "true");
        }
        buf_free(&stored);
        break;
      }
      buf_free(&stored);
    }
    if (op->fn(&c, args, &out, &e)) {
      db_rollback(d);
      if (e.code == E_UNAVAILABLE && retryable(&e.db) && attempt < RPC_ATTEMPTS)
        continue;
      reply_biz_error(resp, &e);
      /* A refusal is the answer to this key too: the same request replays
       * it, another request with the key is refused. Server-side failures
       * (5xx) are not kept, so a retry can still succeed. */
      if (key && resp->status < 500) store_refusal(d, req, key, op, body, body_len, resp);
      break;
    }
    if (key && idem_store(d, req->who.sub, key, op->name, body, body_len, 200,
                          buf_cstr(&out), &err)) {
      db_rollback(d);
      /* Another request with this key committed first: the next attempt
       * finds its answer and replays it. */
      if ((retryable(&err) || !strcmp(err.code, "23505")) &&
          attempt < RPC_ATTEMPTS)
        continue;
      if (!strcmp(err.code, "23505")) {
        api_fail(resp, E_IDEM_IN_FLIGHT, NULL, NULL, NULL);
      } else {
        biz_db_fail(&e, &err);
        reply_biz_error(resp, &e);
      }
      break;
    }
    if (db_commit(d, &err)) {
      if (retryable(&err) && attempt < RPC_ATTEMPTS) continue;
      biz_db_fail(&e, &err);
      reply_biz_error(resp, &e);
      break;
    }
    resp->status = 200;
    buf_free(&resp->body);
    resp->body = out;
    buf_init(&out, 0);
    break;
  }
  buf_free(&out);
  return 0;
}
