/* rpc.h - /rest/v1/rpc/<operation>: the business operations over HTTP, in
 * PostgREST's shape (POST a JSON object of arguments, get JSON back). Each
 * write runs in one transaction with its Idempotency-Key record and is
 * retried when the database reports a serialization failure or deadlock. */
#ifndef MUNSHI_REST_RPC_H
#define MUNSHI_REST_RPC_H

#include "base/api.h"
#include "db/db.h"

/* req->path is the operation name. The response is set either way. */
int rpc_handle(db *d, api_req *req, api_resp *resp);

#endif
