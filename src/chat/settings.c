/* settings.c - the chat module's settings (chat.h chat_configure). Set once
 * by main before any thread reads them. */
#include <stdio.h>

#include "biz/biz.h"
#include "chat/chat.h"

static struct {
  char wa[512], tg[512], wa_secret[256], llm_url[512], llm_key[512],
      llm_model[128];
} store = {"https://graph.facebook.com/v21.0", "https://api.telegram.org", "",
           "", "", ""};

static chat_settings current = {store.wa, store.tg, store.wa_secret,
                                store.llm_url, store.llm_key, store.llm_model,
                                8000, 300};

#define SET(dst, src) snprintf(dst, sizeof dst, "%s", (src) ? (src) : "")

void chat_configure(const chat_settings *s) {
  SET(store.wa, s->whatsapp_api_url);
  SET(store.tg, s->telegram_api_url);
  SET(store.wa_secret, s->whatsapp_app_secret);
  SET(store.llm_url, s->llm_url);
  SET(store.llm_key, s->llm_key);
  SET(store.llm_model, s->llm_model);
  current.llm_timeout_ms = s->llm_timeout_ms > 0 ? s->llm_timeout_ms : 8000;
  current.outbox_lease_s = s->outbox_lease_s > 0 ? s->outbox_lease_s : 300;
  /* With a shared app, a WhatsApp channel may leave its app_secret out. */
  biz_channels_configure(store.wa_secret[0] != '\0');
}

const chat_settings *chat_settings_get(void) { return &current; }
