/* rpc.c - the workflow operations under /rest/v1/rpc (flow.h flow_rpc):
 * the same rules as the business operations (rest/rpc.c) — a signed-in
 * owner, POST, a JSON object of arguments, PostgREST's error shape — checked
 * here once; each operation lives with the part it belongs to
 * (rpc_int.h). */
#include <string.h>

#include "flow/flow.h"
#include "flow/rpc_int.h"

static const struct {
  const char *name;
  flow_rpc_fn fn;
} ops[] = {
    {"activate_workflow", flow_rpc_activate},
    {"deactivate_workflow", flow_rpc_deactivate},
    {"run_workflow", flow_rpc_run},
    {"cancel_run", flow_rpc_cancel},
    {"retry_run", flow_rpc_retry},
    {"draft_workflow", flow_rpc_draft},
    {"rehearse_workflow", flow_rpc_rehearse},
};
#define N_OPS (sizeof ops / sizeof ops[0])

static flow_rpc_fn find(const char *op) {
  if (!op) return NULL;
  for (size_t i = 0; i < N_OPS; i++)
    if (!strcmp(op, ops[i].name)) return ops[i].fn;
  return NULL;
}

int flow_rpc_known(const char *op) { return find(op) != NULL; }

void flow_rpc_db_fail(api_resp *resp, const db_err *e) {
  api_error code = api_error_for_sqlstate(e->code);
  api_fail(resp, code, e->message[0] ? e->message : "database error", NULL,
           NULL);
}

void flow_rpc(db *d, const char *op, api_req *req, api_resp *resp) {
  flow_rpc_fn fn = find(op);
  if (!fn) {
    api_fail(resp, E_NOT_FOUND_ROUTE, "no such operation", NULL, NULL);
    return;
  }
  json *args;
  if (api_op_args(req, resp, &args)) return;
  fn(d, req, args, resp);
}
