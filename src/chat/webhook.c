/* webhook.c - the provider webhooks (chat.h): verify, store, answer.
 *
 * The order is the point. A POST's signature is checked first, over the
 * raw bytes and in constant time, before anything parses the body: an
 * unsigned body costs one HMAC and is answered 401 with nothing stored.
 * A signed body is then checked for shape by the same parser the worker
 * uses (a signed body that is not a webhook is answered 400, nothing
 * stored), written as one row of chat_inbound (inbound.h) and answered 200;
 * the worker does the rest, so the answer does not wait for sessions,
 * customers or events, and a provider's redelivery is harmless.
 *
 * Which secret: POST /webhooks/whatsapp/:id uses the channel's app secret,
 * or the shared MUNSHI_WHATSAPP_APP_SECRET when the channel has none; POST
 * /webhooks/whatsapp (one Meta app for many businesses) uses the shared
 * one and the worker routes each change by its phone_number_id; Telegram
 * sends the channel's webhook_secret back in a header. Nothing here logs a
 * secret or a message's text. */
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/json.h"
#include "base/log.h"
#include "base/url.h"
#include "chat/chat.h"
#include "chat/inbound.h"
#include "chat/store.h"
#include "chat/telegram.h"
#include "chat/whatsapp.h"
#include "jobs/worker.h"

static const char *header(const api_req *req, const char *name) {
  return req->header ? req->header(req, name) : NULL;
}

/* Two secrets compared in constant time whatever their lengths: their
 * digests are. An empty expected secret matches nothing. */
static int secret_equal(const char *want, const char *got) {
  if (!want || !*want || !got) return 0;
  uint8_t a[32], b[32];
  sha256(want, strlen(want), a);
  sha256(got, strlen(got), b);
  return ct_equal(a, b, 32);
}

/* X-Hub-Signature-256: "sha256=" and 64 hex digits of HMAC-SHA256(body). */
static int signature_ok(const char *secret, const api_req *req) {
  const char *sig = header(req, "X-Hub-Signature-256");
  if (!secret || !*secret || !sig || strncmp(sig, "sha256=", 7) ||
      strlen(sig + 7) != 64)
    return 0;
  char got[65];
  for (int i = 0; i < 64; i++) {
    char ch = sig[7 + i];
    if (ch >= 'A' && ch <= 'F') ch = (char)(ch - 'A' + 'a');
    got[i] = ch;
  }
  got[64] = 0;
  uint8_t mac[32];
  char want[65];
  hmac_sha256(secret, strlen(secret), req->body, req->body_len, mac);
  hex_encode(mac, 32, want);
  return ct_equal(want, got, 64);
}

static int too_large(const api_req *req, api_resp *resp) {
  if (req->body_len <= CHAT_WEBHOOK_MAX_BODY) return 0;
  api_failf(resp, E_TOO_LARGE, "a webhook body has at most %d bytes",
            CHAT_WEBHOOK_MAX_BODY);
  return 1;
}

static void received(api_resp *resp) {
  resp->status = 200;
  buf_puts(&resp->body, "{\"received\":true}");
  jobs_wake();
}

static void db_failed(api_resp *resp, const db_err *err, const char *what) {
  log_warn("chat: %s: [%s] %s", what, err->code, err->message);
  api_fail(resp, api_error_for_sqlstate(err->code), NULL, NULL, NULL);
}

/* The channel of the URL's :id, of platform; answers 404 (or 503) and
 * returns -1 when there is none. */
static int channel_or_reply(db *d, api_req *req, api_resp *resp,
                            chat_platform platform, chat_channel *ch) {
  const char *id = api_param(req, "id");
  int found = 0;
  db_err err = {0};
  if (!id || chat_channel_load(d, req->a, NULL, id, ch, &found, &err)) {
    if (id) {
      db_failed(resp, &err, "loading a webhook's channel");
      return -1;
    }
  }
  if (!found || ch->platform != platform) {
    api_fail(resp, E_OP_NOT_FOUND, "no such channel", NULL, NULL);
    return -1;
  }
  return 0;
}

void chat_whatsapp_verify(db *d, api_req *req, api_resp *resp) {
  chat_channel ch;
  if (channel_or_reply(d, req, resp, CHAT_WHATSAPP, &ch)) return;
  const char *mode = NULL, *token = NULL, *challenge = NULL;
  if (url_query_get(req->a, req->query, "hub.mode", &mode) != 1 ||
      url_query_get(req->a, req->query, "hub.verify_token", &token) != 1 ||
      url_query_get(req->a, req->query, "hub.challenge", &challenge) != 1 ||
      strcmp(mode, "subscribe") || !secret_equal(ch.verify_token, token)) {
    api_fail(resp, E_FORBIDDEN, "verification failed", NULL, NULL);
    return;
  }
  /* The challenge goes back as the bare body; only what Meta sends
   * (digits) and similar tokens, so the answer cannot carry markup. */
  size_t n = strlen(challenge);
  if (n == 0 || n > 256 || strspn(challenge,
                                  "0123456789abcdefghijklmnopqrstuvwxyz"
                                  "ABCDEFGHIJKLMNOPQRSTUVWXYZ-_.") != n) {
    api_fail(resp, E_BAD_VALUE, "hub.challenge must be a short token", NULL,
             NULL);
    return;
  }
  resp->status = 200;
  resp->content_type = "text/plain; charset=utf-8";
  buf_puts(&resp->body, challenge);
}

void chat_whatsapp_webhook(db *d, api_req *req, api_resp *resp) {
  if (too_large(req, resp)) return;
  const char *shared = chat_settings_get()->whatsapp_app_secret;
  chat_channel ch;
  const char *channel_id = NULL, *secret = shared;
  if (api_param(req, "id")) {
    if (channel_or_reply(d, req, resp, CHAT_WHATSAPP, &ch)) return;
    channel_id = ch.id;
    if (*ch.app_secret) secret = ch.app_secret;
  }
  if (!secret || !*secret) {
    api_fail(resp, E_NO_AUTH, "no app secret is configured for this webhook",
             NULL, NULL);
    return;
  }
  if (!signature_ok(secret, req)) {
    api_fail(resp, E_NO_AUTH, "missing or wrong X-Hub-Signature-256", NULL,
             NULL);
    return;
  }
  wa_payload p;
  char why[200];
  if (wa_parse(req->a, req->body, req->body_len, &p, why, sizeof why)) {
    api_fail(resp, E_BAD_JSON, why, NULL, NULL);
    return;
  }
  db_err err = {0};
  if (chat_inbound_store(d, CHAT_WHATSAPP, channel_id, -1, req->body,
                         req->body_len, NULL, &err)) {
    db_failed(resp, &err, "storing a whatsapp webhook");
    return;
  }
  received(resp);
}

void chat_telegram_webhook(db *d, api_req *req, api_resp *resp) {
  if (too_large(req, resp)) return;
  chat_channel ch;
  if (channel_or_reply(d, req, resp, CHAT_TELEGRAM, &ch)) return;
  if (!secret_equal(ch.webhook_secret,
                    header(req, "X-Telegram-Bot-Api-Secret-Token"))) {
    api_fail(resp, E_NO_AUTH, "missing or wrong X-Telegram-Bot-Api-Secret-Token",
             NULL, NULL);
    return;
  }
  tg_update u;
  char why[200];
  if (tg_parse(req->a, req->body, req->body_len, &u, why, sizeof why)) {
    api_fail(resp, E_BAD_JSON, why, NULL, NULL);
    return;
  }
  db_err err = {0};
  if (chat_inbound_store(d, CHAT_TELEGRAM, ch.id, u.update_id, req->body,
                         req->body_len, NULL, &err)) {
    db_failed(resp, &err, "storing a telegram update");
    return;
  }
  received(resp);
}
