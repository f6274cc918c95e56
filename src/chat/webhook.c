/* webhook.c - PLACEHOLDER owned by the "inbound" work: the provider webhooks
 * (chat.h). Answers 501 until it lands. */
#include "chat/chat.h"

static void not_yet(api_req *req, api_resp *resp) {
  (void)req;
  api_fail(resp, E_UNAVAILABLE, "webhooks are not ready", NULL, NULL);
}

void chat_whatsapp_verify(db *d, api_req *req, api_resp *resp) {
  (void)d;
  not_yet(req, resp);
}
void chat_whatsapp_webhook(db *d, api_req *req, api_resp *resp) {
  (void)d;
  not_yet(req, resp);
}
void chat_telegram_webhook(db *d, api_req *req, api_resp *resp) {
  (void)d;
  not_yet(req, resp);
}
