/* integrations.h - munshi and the outside services a shop uses: Shiprocket
 * for shipments, Razorpay and UPI for payments, and the GST invoice as a
 * PDF (docs/integrations.md). What the HTTP layer, the workers and main
 * call.
 *
 * This module sits beside rest/chat/flow: it uses the business operations
 * (biz), the background jobs, the outgoing HTTP client (net) and the
 * database, and nothing above them. Credentials live in the `integrations`
 * table (one row per provider per business, secrets write-only over REST);
 * integ_creds_load reads them on the server side.
 *
 *   rpc/create_shipment, rpc/track_shipment   shipment.c + shiprocket.c
 *   POST /webhooks/shiprocket[/<integration id>]   shipment.c
 *   rpc/create_payment_link                   paylink.c + razorpay.c
 *   POST /webhooks/razorpay[/<integration id>]     paywebhook.c
 *   GET /invoices/<id>.pdf                    invoice_pdf.c + pdf.c
 *   job "integ.track"                         the tracking schedule */
#ifndef MUNSHI_INTEGRATIONS_INTEGRATIONS_H
#define MUNSHI_INTEGRATIONS_INTEGRATIONS_H

#include <stdint.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "db/db.h"
#include "jobs/jobs.h"

/* Settings from config.h (main passes them once, before serving). The
 * strings are copied. The razorpay_* account is the deployment's shared
 * one ("" when there is none). */
typedef struct integ_settings {
  const char *shiprocket_api_url; /* MUNSHI_SHIPROCKET_API_URL */
  const char *razorpay_api_url;   /* MUNSHI_RAZORPAY_API_URL */
  const char *razorpay_key_id, *razorpay_key_secret, *razorpay_webhook_secret;
  int track_every_s; /* the tracking schedule; 0: 1800 */
} integ_settings;
void integ_configure(const integ_settings *s);
/* The settings in force (defaults until integ_configure). */
const integ_settings *integ_settings_get(void);

/* ---- credentials ---------------------------------------------------------------- */

/* An integrations row as the server reads it, secrets included. Strings
 * are from the caller's arena; an unset column is NULL. */
typedef struct integ_creds {
  char id[37], profile_id[37];
  const char *provider; /* "shiprocket" | "razorpay" */
  const char *email, *password, *webhook_token, *pickup_location;
  const char *key_id, *key_secret, *webhook_secret;
  int is_active;
  int64_t updated_at; /* µs: a changed row makes cached tokens stale */
} integ_creds;

/* The business's integration of provider. *found is 0 when it has none. */
int integ_creds_load(db *d, arena *a, const char *profile_id,
                     const char *provider, integ_creds *out, int *found,
                     db_err *err);
/* An integration by its id alone (webhook URLs name it so), of provider.
 * *found is 0 when there is none (or it is of another provider). */
int integ_creds_by_id(db *d, arena *a, const char *id, const char *provider,
                      integ_creds *out, int *found, db_err *err);

/* ---- HTTP (http/routes.c) ------------------------------------------------------ */

/* /rest/v1/rpc/<op> for the operations of this module: 1 when op is one. */
int integ_rpc_known(const char *op);
/* Runs it for req->who, with the rules of rest/rpc.c: a signed-in owner,
 * POST, a JSON object body, PostgREST's error shape. */
void integ_rpc(db *d, const char *op, api_req *req, api_resp *resp);

/* ---- the invoice as a PDF (invoice_pdf.c + pdf.c) ------------------------ */

/* Renders invoice_id of the business profile_id as a PDF (the Rule 46 tax
 * invoice; a draft marked DRAFT, a cancelled one CANCELLED) and appends it
 * to out (at most 16 MiB more). *filename gets a file name for it in a
 * ("INV-26-27-0001.pdf": the invoice number with '/' as '-'; a draft:
 * "draft-<id>.pdf"). 0, or -1 with *code (E_BAD_VALUE for an id that is no
 * uuid, E_OP_NOT_FOUND for no such invoice of this business, a database
 * error, E_INTERNAL when rendering failed) and why. Reads with one
 * statement, then draws for milliseconds: call it outside a transaction,
 * so that no lock is held meanwhile. Safe from many threads at once, each
 * with its own connection. */
int integ_invoice_pdf(db *d, arena *a, const char *profile_id,
                      const char *invoice_id, buf *out, const char **filename,
                      api_error *code, char *why, size_t whylen);
/* GET /invoices/:file with file = "<invoice id>.pdf", for the signed-in
 * owner (req->who): the PDF inline, or a 404 / 400 / 401 in PostgREST's
 * shape. */
void integ_invoice_pdf_serve(db *d, api_req *req, api_resp *resp);
/* ---- payments (paylink.c, paywebhook.c, razorpay.c) ---------------------------- */

/* POST /webhooks/razorpay/:id (the integration's webhook_secret) and POST
 * /webhooks/razorpay (no :id: MUNSHI_RAZORPAY_WEBHOOK_SECRET, the shared
 * account). Verifies X-Razorpay-Signature before reading anything, dedupes
 * on x-razorpay-event-id, records payments and refunds once (biz
 * record_payment / record_refund with the provider's ids). */
void integ_razorpay_webhook(db *d, api_req *req, api_resp *resp);
/* ---- shipments (shipment.c, shiprocket.c) ------------------------------------ */

/* POST /webhooks/shiprocket[/:id] and its alias /webhooks/courier[/:id]
 * (Shiprocket's panel refuses webhook URLs that contain "shiprocket",
 * "kartrocket", "sr" or "kr"): a tracking update, the x-api-key header
 * checked in constant time against the integration's webhook_token. */
void integ_shiprocket_webhook(db *d, api_req *req, api_resp *resp);

/* The tracking job: polls Shiprocket for up to INTEG_TRACK_BATCH open
 * shipments that heard nothing for half the interval, each with its own
 * business's credentials. main lists {INTEG_TRACK_KIND, integ_track_job}
 * among the job kinds and calls integ_track_schedule once the database is
 * migrated (it keeps an existing schedule's next run). */
#define INTEG_TRACK_KIND "integ.track"
#define INTEG_TRACK_BATCH 50
int integ_track_job(void *arg, db *d, const jobs_job *job, db_err *err);
int integ_track_schedule(db *d, db_err *err);

#endif
