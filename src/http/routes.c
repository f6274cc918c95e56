/* routes.c - the application's route table: every endpoint munshi serves,
 * one row each, and the small adapters that turn a matched row into a call
 * of the module that answers it. A new module adds its rows here (webhooks:
 * {ROUTE_POST, "/webhooks/:provider/:id", ..., ROUTE_WEBHOOK}; realtime:
 * {ROUTE_GET, "/realtime/v1/sse", ..., ROUTE_USER, ROUTE_TOKEN_IN_QUERY});
 * the catch-all "/" row of static files stays last. */
#include <string.h>

#include "chat/chat.h"
#include "demo/demo.h"
#include "flow/flow.h"
#include "http/route.h"
#include "http/static.h"
#include "http/stream.h"
#include "http/webconfig.h"
#include "http/upgrade.h"
#include "integrations/integrations.h"
#include "rest/rest.h"
#include "rest/rpc.h"

static void health(const route_ctx *rc, api_req *req, api_resp *resp) {
  (void)rc;
  (void)req;
  buf_puts(&resp->body, "{\"status\":\"ok\",\"version\":\"" MUNSHI_VERSION "\"}");
}

/* auth/ reads the endpoint name from req->path ("signup", "token", ...). */
static void auth_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  db *d = rc->get_db(rc->db_cls, resp);
  if (!d) return;
  static const char prefix[] = "/auth/v1/";
  if (!strncmp(req->path, prefix, sizeof prefix - 1))
    req->path += sizeof prefix - 1;
  auth_handle(rc->au, d, req, resp);
}

static void rpc_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  db *d = rc->get_db(rc->db_cls, resp);
  if (!d) return;
  req->path = api_param(req, "op");
  if (chat_rpc_known(req->path))
    chat_rpc(d, req->path, req, resp);
  else if (flow_rpc_known(req->path))
    flow_rpc(d, req->path, req, resp);
  else if (integ_rpc_known(req->path))
    integ_rpc(d, req->path, req, resp);
  else if (demo_rpc_known(req->path))
    demo_rpc(d, req->path, req, resp);
  else
    rpc_handle(d, req, resp);
}

/* Webhooks: the chat module checks the provider's signature itself. */
#define WEBHOOK_ROUTE(name, fn)                                          \
  static void name(const route_ctx *rc, api_req *req, api_resp *resp) { \
    db *d = rc->get_db(rc->db_cls, resp);                               \
    if (!d) return;                                                     \
    fn(d, req, resp);                                                   \
  }
WEBHOOK_ROUTE(wa_verify_route, chat_whatsapp_verify)
WEBHOOK_ROUTE(wa_webhook_route, chat_whatsapp_webhook)
WEBHOOK_ROUTE(tg_webhook_route, chat_telegram_webhook)
WEBHOOK_ROUTE(wf_webhook_route, flow_webhook)
WEBHOOK_ROUTE(rzp_webhook_route, integ_razorpay_webhook)

/* An invoice as a PDF (integrations/invoice_pdf.c). */
static void invoice_pdf_route(const route_ctx *rc, api_req *req,
                              api_resp *resp) {
  db *d = rc->get_db(rc->db_cls, resp);
  if (!d) return;
  integ_invoice_pdf_serve(d, req, resp);
}
WEBHOOK_ROUTE(sr_webhook_route, integ_shiprocket_webhook)

static void rest_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  db *d = rc->get_db(rc->db_cls, resp);
  if (!d) return;
  req->path = api_param(req, "table");
  rest_handle(d, req, resp);
}

/* The dashboard's settings: the anon key, and whether anyone has signed up. */
static void config_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  db *d = rc->get_db(rc->db_cls, resp);
  if (!d) return;
  webconfig_serve(rc->au, d, req, resp);
}

static void static_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  (void)rc;
  static_serve(req, resp);
}

/* The endpoints that hash a password with Argon2id run on the offload pool,
 * so that a burst of them cannot take every HTTP worker. */
#define SLOW ROUTE_OFFLOAD, E_AUTH_RATE_LIMIT

const route http_routes[] = {
    {ROUTE_GET | ROUTE_HEAD, "/health", health, ROUTE_PUBLIC, 0, 0},
    {ROUTE_POST, "/auth/v1/signup", auth_route, ROUTE_PUBLIC, SLOW},
    {ROUTE_POST, "/auth/v1/token", auth_route, ROUTE_PUBLIC, SLOW},
    {ROUTE_PUT, "/auth/v1/user", auth_route, ROUTE_PUBLIC, SLOW},
    {ROUTE_ANY, "/auth/v1/*", auth_route, ROUTE_PUBLIC, 0, 0},
    {ROUTE_ANY, "/rest/v1/rpc/:op", rpc_route, ROUTE_APIKEY, ROUTE_OPS, E_UNAVAILABLE},
    {ROUTE_ANY, "/rest/v1/:table", rest_route, ROUTE_APIKEY, 0, 0},
    {ROUTE_GET, "/webhooks/whatsapp/:id", wa_verify_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/whatsapp/:id", wa_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/whatsapp", wa_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/telegram/:id", tg_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/workflows/:token", wf_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/razorpay/:id", rzp_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/razorpay", rzp_webhook_route, ROUTE_WEBHOOK, 0, 0},
    /* Shiprocket's panel refuses URLs with "shiprocket", "sr" or "kr" in
     * them: /webhooks/courier is the same endpoint under a name it takes. */
    {ROUTE_POST, "/webhooks/shiprocket/:id", sr_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/shiprocket", sr_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/courier/:id", sr_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_POST, "/webhooks/courier", sr_webhook_route, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_GET | ROUTE_HEAD, "/config.js", config_route, ROUTE_PUBLIC, 0, 0},
    /* A WebSocket: the handshake is checked here, the socket handed to
     * realtime (http/upgrade.h). */
    {ROUTE_GET, "/realtime/v1/websocket", upgrade_ws_route, ROUTE_PUBLIC, 0, 0},
    {ROUTE_GET, "/realtime/v1/sse", http_sse_handle, ROUTE_USER, ROUTE_TOKEN_IN_QUERY, 0},
    {ROUTE_GET, "/invoices/:file", invoice_pdf_route, ROUTE_USER, ROUTE_TOKEN_IN_QUERY | ROUTE_RENDER, E_UNAVAILABLE},
    /* Last: any other path is a file of web/ or 404 (static_serve answers
     * 405 itself for a file asked with the wrong method). */
    {ROUTE_ANY, "/*", static_route, ROUTE_PUBLIC, ROUTE_FALLBACK, 0},
};

const size_t http_routes_count = sizeof http_routes / sizeof http_routes[0];
