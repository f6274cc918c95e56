/* rpc_int.h - the workflow operations under /rest/v1/rpc, each in the file
 * of the part it belongs to; rpc.c checks the caller, the method and the
 * JSON arguments once and calls one of these with args an object and
 * req->who.sub the business. Each sets resp (PostgREST's error shape on
 * failure). */
#ifndef MUNSHI_FLOW_RPC_INT_H
#define MUNSHI_FLOW_RPC_INT_H

#include "base/api.h"
#include "base/json.h"
#include "db/db.h"

typedef void (*flow_rpc_fn)(db *d, api_req *req, const json *args,
                            api_resp *resp);

/* bpstore.c: {id} */
void flow_rpc_activate(db *d, api_req *req, const json *args, api_resp *resp);
void flow_rpc_deactivate(db *d, api_req *req, const json *args,
                         api_resp *resp);
/* engine.c: {id, input}, {run_id}, {run_id, from_step} */
void flow_rpc_run(db *d, api_req *req, const json *args, api_resp *resp);
void flow_rpc_cancel(db *d, api_req *req, const json *args, api_resp *resp);
void flow_rpc_retry(db *d, api_req *req, const json *args, api_resp *resp);
/* architect.c: {prompt} */
void flow_rpc_draft(db *d, api_req *req, const json *args, api_resp *resp);
/* rehearse.c: {id, last_n} */
void flow_rpc_rehearse(db *d, api_req *req, const json *args,
                       api_resp *resp);

/* Shared by them: a database error as the API answers it. */
void flow_rpc_db_fail(api_resp *resp, const db_err *e);

#endif
