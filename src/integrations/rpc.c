/* rpc.c - the operations of this module under /rest/v1/rpc (integrations.h
 * integ_rpc): one table, {name, handler}. Each handler gets the parsed
 * arguments of a signed-in owner and answers itself. These operations talk
 * to outside services, so none runs inside one long transaction: each
 * writes its steps in short transactions of its own (a provider call is
 * never made while a database lock is held). */
#include <string.h>

#include "base/json.h"
#include "integrations/integ_int.h"

static const integ_op ops[] = {
    {"create_shipment", integ_op_create_shipment},
    {"track_shipment", integ_op_track_shipment},
    {"invoice_upi", integ_op_invoice_upi},
    {"create_payment_link", op_create_payment_link},
    {NULL, NULL},
};

static const integ_op *find(const char *op) {
  for (const integ_op *o = ops; op && o->name; o++)
    if (!strcmp(o->name, op)) return o;
  return NULL;
}

int integ_rpc_known(const char *op) { return find(op) != NULL; }

void integ_rpc(db *d, const char *op, api_req *req, api_resp *resp) {
  const integ_op *o = find(op);
  json *args;
  if (!o) {
    api_failf(resp, E_OP_UNKNOWN,
              "Could not find the function public.%.64s in the schema cache",
              op ? op : "");
    return;
  }
  if (api_op_args(req, resp, &args)) return;
  o->fn(d, req, args, resp);
}
