/* chat.h - the chat module's entry points: what the HTTP layer and the
 * workers call. One inbox for WhatsApp and Telegram (docs/chat.md):
 *
 *   webhook (webhook.c) ─ verify signature, store the raw payload ─► 200
 *   inbound poller (inbound.c) ─ parse (whatsapp.c, telegram.c), session,
 *       unified_messages row (once per provider message id), statuses,
 *       a message.received event
 *   agent consumer (agent/) ─ on message.received: decide one action, act
 *       on the books through biz_run, queue the reply (store.h chat_enqueue)
 *   outbox poller (outbox.c) ─ send through the provider's API (net/),
 *       retry, rate limit, 24-hour window and templates
 *
 * Provider code is split like curl's TLS backends: whatsapp.c and
 * telegram.c parse what the provider sends and build what munshi sends,
 * pure functions with no database and no network, fuzzed. */
#ifndef MUNSHI_CHAT_CHAT_H
#define MUNSHI_CHAT_CHAT_H

#include "base/api.h"
#include "base/buf.h"
#include "biz/events.h"
#include "db/db.h"

/* Settings, from config.h (main passes them once, before serving). The
 * strings are copied. */
typedef struct chat_settings {
  const char *whatsapp_api_url; /* e.g. https://graph.facebook.com/v21.0 */
  const char *telegram_api_url; /* e.g. https://api.telegram.org */
  const char *whatsapp_app_secret; /* the shared Meta app's; "" none */
  const char *llm_url, *llm_key, *llm_model; /* "" url: rules only */
  int llm_timeout_ms;
  int outbox_lease_s; /* a sender's claim on a batch; 0: 300 */
} chat_settings;
void chat_configure(const chat_settings *s);
/* The settings in force (defaults until chat_configure). */
const chat_settings *chat_settings_get(void);

/* ---- HTTP (called by http/routes.c; ROUTE_WEBHOOK rows) -------------------- */

/* GET /webhooks/whatsapp/:id - Meta's verification handshake. */
void chat_whatsapp_verify(db *d, api_req *req, api_resp *resp);
/* POST /webhooks/whatsapp/:id and POST /webhooks/whatsapp (no :id: the
 * shared app, MUNSHI_WHATSAPP_APP_SECRET). */
void chat_whatsapp_webhook(db *d, api_req *req, api_resp *resp);
/* POST /webhooks/telegram/:id */
void chat_telegram_webhook(db *d, api_req *req, api_resp *resp);

/* /rest/v1/rpc/<op> for the chat operations (send_message, set_bot_active,
 * connect_telegram, link_owner_telegram, connect_whatsapp, send_invoice):
 * 1 when op is one of them. */
int chat_rpc_known(const char *op);
/* Runs it for req->who (a signed-in owner), as rest/rpc.c does for the
 * business operations. */
void chat_rpc(db *d, const char *op, api_req *req, api_resp *resp);

/* ---- documents made at send time ---------------------------------------------- */

/* Renders the document `ref` of kind `source` (e.g. "invoice" and an
 * invoice id) of business profile_id into out, and sets *filename (in a,
 * or static; may be left NULL: the message's own filename is used).
 * Called by the outbox outside any transaction, on the outbox's connection,
 * once per send attempt, from several threads at once. Returns 0; -1 when
 * the document cannot be made (no such invoice, a draft): the message fails
 * with why; -2 when it cannot be made now (e.g. the database is busy): the
 * message is tried again later, as after a provider outage. */
typedef int (*chat_document_fn)(void *cls, db *d, arena *a,
                                const char *profile_id, const char *source,
                                const char *ref, buf *out,
                                const char **filename, char *why,
                                size_t whylen);
/* Registers the one document source (main, before serving; both `serve`
 * and `worker` must, since either may send). NULL unregisters. A message
 * whose document names a source while none is registered fails with
 * "document_unavailable". */
void chat_set_document_source(chat_document_fn fn, void *cls);
/* 1 when a source is registered (rpc/send_invoice refuses otherwise). */
int chat_document_source_set(void);
/* Calls the registered source (document.c); -1 with why when there is none. */
int chat_document_render(db *d, arena *a, const char *profile_id,
                         const char *source, const char *ref, buf *out,
                         const char **filename, char *why, size_t whylen);

/* ---- background work (registered in main.c) ---------------------------------- */

/* jobs_poller: processes stored webhooks. */
int chat_inbound_poll(void *arg, db *d, const char *worker, db_err *err);
/* jobs_poller: sends queued messages. */
int chat_outbox_poll(void *arg, db *d, const char *worker, db_err *err);
/* jobs_consumer "chat.agent": answers message.received events. */
int chat_agent_handle(void *arg, db *d, const event_row *ev, int attempts,
                      db_err *err);

#endif
