/* rpc.c - /rest/v1/rpc/<operation> (see rpc.h): checks what only HTTP has
 * (the caller's role, the method, the body's JSON, the Idempotency-Key
 * header) and hands the operation to biz_run, the one entry point every
 * caller of business operations uses. */
#include "rest/rpc.h"

#include <string.h>

#include "biz/biz.h"
#include "biz/run.h"
#include "jobs/worker.h"

int rpc_handle(db *d, api_req *req, api_resp *resp) {
  if (req->who.role != ROLE_AUTHENTICATED)
    return api_fail(resp,
                    req->who.role == ROLE_SERVICE ? E_FORBIDDEN : E_NO_AUTH,
                    "operations act for a business: sign in as its owner and "
                    "send the access token as Authorization: Bearer <token>",
                    NULL, NULL),
           0;
  if (!biz_op_find(req->path))
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
  biz_call call = {.op = req->path,
                   .profile_id = req->who.sub,
                   .args = args,
                   .idem_key = req->header(req, "idempotency-key"),
                   .a = req->a};
  /* A write operation writes events: wake the idle workers after its
   * commit (see rest.c). */
  if (biz_run(d, &call, resp) == 0) {
    const biz_op *op = biz_op_find(req->path);
    if (op && op->writes) jobs_wake();
  }
  return 0;
}
