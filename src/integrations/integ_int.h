/* integ_int.h - what the parts of the integrations module share (private
 * to src/integrations/). */
#ifndef MUNSHI_INTEGRATIONS_INTEG_INT_H
#define MUNSHI_INTEGRATIONS_INTEG_INT_H

#include "base/api.h"
#include "base/json.h"
#include "db/db.h"
#include "integrations/integrations.h"

/* An operation under /rest/v1/rpc: args is the parsed JSON object of a
 * signed-in owner (req->who.sub is the business). It sets resp. */
typedef void (*integ_op_fn)(db *d, api_req *req, const json *args,
                            api_resp *resp);
typedef struct integ_op {
  const char *name;
  integ_op_fn fn;
} integ_op;

/* rpc/invoice_upi {invoice_id} -> {invoice_id, upi_link, amount_due,
 * reference, qr_svg} (invoice_pdf.c). */
void integ_op_invoice_upi(db *d, api_req *req, const json *args,
                          api_resp *resp);
/* ---- payments (paylink.c, paywebhook.c) ---- */
void op_create_payment_link(db *d, api_req *req, const json *args,
                            api_resp *resp);
/* shipment.c */
void integ_op_create_shipment(db *d, api_req *req, const json *args,
                              api_resp *resp);
void integ_op_track_shipment(db *d, api_req *req, const json *args,
                             api_resp *resp);

#endif
