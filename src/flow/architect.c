/* architect.c - STUB (issue 8, helper "architect" replaces it). */
#include "flow/rpc_int.h"

void flow_rpc_draft(db *d, api_req *req, const json *args, api_resp *resp) {
  (void)d, (void)req, (void)args;
  api_fail(resp, E_OP_INVALID, "not built yet", NULL, NULL);
}
