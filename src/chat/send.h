/* send.h - what munshi sends to WhatsApp's Cloud API and Telegram's Bot API
 * for one outbound message, and what their answers mean.
 *
 * Pure functions: no database, no network (the outbox, outbox.c, does the
 * claiming, the HTTP call and the bookkeeping). Three steps:
 *
 *   chat_message_from_row  the unified_messages row (message_type, content,
 *                          metadata) → a chat_message, checked against the
 *                          providers' limits (3 buttons, titles of 20
 *                          characters, 4096 characters of text)
 *   chat_send_build        chat_message + channel → method, URL, headers and
 *                          JSON body of the provider request
 *   chat_send_parse        the provider's answer → sent (with its message
 *                          id), retry (with the wait it asked for) or failed
 *                          (with {code, title, message} for the message row)
 *
 * Which errors are retried is decided here only (docs/chat.md, "Outbox"):
 * transport failures, 5xx, HTTP 429, WhatsApp's rate limits (4, 80007,
 * 130429, 131056) and its temporary errors (1, 2, 131000, 131016, 133004),
 * Telegram's 429 (honouring parameters.retry_after); everything else (131047
 * outside the 24-hour window, 131026 undeliverable, 190 bad token, other
 * 4xx, Telegram 400/401/403/404) fails the message at once. */
#ifndef MUNSHI_CHAT_SEND_H
#define MUNSHI_CHAT_SEND_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "chat/store.h"
#include "net/http_client.h"

#define CHAT_MAX_BUTTONS 3
#define CHAT_BUTTON_TITLE_MAX 20 /* characters (code points) */
#define CHAT_BUTTON_ID_MAX 64    /* bytes: Telegram's callback_data limit */
#define CHAT_TEXT_MAX 4096       /* characters, both providers */
#define CHAT_TEMPLATE_MAX_PARAMS 20

/* How long a send whose answer was lost (a response timeout, a dropped
 * connection) waits before it is tried again: a status webhook that shows
 * the first try arrived settles it meanwhile. */
#define CHAT_SEND_UNSURE_WAIT_MS 60000L

typedef enum {
  CHAT_MSG_TEXT,
  CHAT_MSG_BUTTONS,  /* WhatsApp interactive reply buttons; Telegram inline keyboard */
  CHAT_MSG_TEMPLATE, /* WhatsApp template; Telegram: the text */
  CHAT_MSG_DOCUMENT  /* a document by link, the text as its caption */
} chat_msg_kind;

typedef struct chat_button {
  const char *id;
  const char *title;
} chat_button;

/* One message to send; strings live in the arena given to the reader. */
typedef struct chat_message {
  chat_msg_kind kind;
  const char *text; /* body, button prompt, caption; "" when none */
  chat_button buttons[CHAT_MAX_BUTTONS];
  int n_buttons;
  const char *tpl_name;     /* template: as approved in Meta's manager */
  const char *tpl_language; /* template: e.g. "en", "hi"; "" when not given */
  const char *tpl_params[CHAT_TEMPLATE_MAX_PARAMS]; /* body parameters */
  int n_params;
  int has_template; /* metadata named a template (also for a text message:
                       the one to use when the window is closed) */
  const char *doc_link, *doc_filename;
  /* A document made at send time ({"document":{"source","ref","filename"}}):
   * the registered source (chat.h chat_set_document_source) renders ref. */
  const char *doc_source, *doc_ref;
  /* Filled by the outbox before chat_send_build: the rendered bytes (sent
   * to Telegram as a file) and WhatsApp's media id of their upload. */
  const void *doc_data;
  size_t doc_len;
  const char *doc_media_id;
  /* munshi's message id, sent to WhatsApp as biz_opaque_callback_data, which
   * Meta echoes in the status webhooks of the message; NULL for none. */
  const char *ref;
} chat_message;

/* Reads a unified_messages row: message_type ("text", "interactive",
 * "template", "document"; NULL/"" is text), content and metadata (JSON
 * object text; NULL is {}), by the conventions of store.h chat_out:
 * {"buttons":[{"id","title"}]}, {"template":{"name","language","params"}},
 * {"document":{"link","filename"}} (a document by URL) or
 * {"document":{"source","ref","filename"}} (a document rendered at send
 * time: source 1..32 of [a-z0-9_], ref 1..128 printable bytes, filename
 * 1..128 bytes without '/', '\\', '"' or control characters). Returns 0, or -1 with a sentence in why
 * when the row cannot be sent as it is (then it never will be). */
int chat_message_from_row(arena *a, const char *message_type,
                          const char *content, const char *metadata,
                          chat_message *m, char *why, size_t whylen);

/* Turns m into the template a closed WhatsApp window needs: name and
 * language as given (language "" → the channel's templates list, else
 * "en"); the body parameters: m's own when it named the template, else
 * the text (none when the channel lists the template with "params": 0).
 * templates is the channel's JSON array text. */
void chat_message_as_template(arena *a, chat_message *m, const char *name,
                              const char *language, const char *templates);

/* Where and as whom to send. */
typedef struct chat_send_target {
  chat_platform platform;
  const char *base_url;        /* chat_settings_get()'s, no trailing slash */
  const char *phone_number_id; /* WhatsApp */
  const char *access_token;    /* WhatsApp */
  const char *bot_token;       /* Telegram */
  const char *to;              /* wa_id (digits) or the Telegram chat id */
} chat_send_target;

/* A provider request. The URL of a Telegram request holds the bot token,
 * and authorization the WhatsApp token: log neither. */
typedef struct chat_http {
  const char *method;        /* "POST" */
  const char *url;           /* in the arena */
  const char *authorization; /* "Bearer <token>" or NULL */
  const char *content_type;  /* NULL: application/json */
  const char *body;          /* JSON or multipart bytes, in the arena */
  size_t body_len;
} chat_http;

/* The largest document munshi sends (WhatsApp takes 100 MB, Telegram's
 * sendDocument 50 MB; an invoice is far below either). */
#define CHAT_DOC_MAX ((size_t)16 * 1024 * 1024)

/* One part of a multipart/form-data body (RFC 7578): a field when filename
 * is NULL, else a file with its content type. */
typedef struct chat_part {
  const char *name;
  const char *filename;     /* NULL: a plain field */
  const char *content_type; /* files only; NULL: application/octet-stream */
  const void *data;
  size_t len;
} chat_part;

/* Appends the multipart/form-data body of parts to b, delimited by
 * boundary (1..70 of [A-Za-z0-9'()+_,-./:=?], RFC 2046). A filename is
 * written quoted with '"', '\\', CR and LF replaced by '_' (the name
 * inside the provider's own message is kept as given). Returns 0; -1 when
 * the boundary is invalid or occurs in a part's data (pick another: the
 * body would be cut there) or b's cap is reached. */
int chat_multipart_build(buf *b, const char *boundary, const chat_part *parts,
                         int n);

/* The WhatsApp media upload of a document (POST <base>/<phone_number_id>/
 * media, multipart: messaging_product=whatsapp, type=<mime>, file). A
 * random boundary is drawn here. Returns 0, or -1 with why. */
int chat_media_build(arena *a, const chat_send_target *t, const char *filename,
                     const char *mime, const void *data, size_t len,
                     chat_http *out, char *why, size_t whylen);


/* Builds the request that sends m to t. Returns 0, or -1 with why (a
 * missing credential, a kind the platform cannot carry). A document from a
 * source needs, on WhatsApp, m->doc_media_id (sent as document.id) and, on
 * Telegram, m->doc_data (sendDocument as multipart/form-data). */
int chat_send_build(arena *a, const chat_send_target *t, const chat_message *m,
                    chat_http *out, char *why, size_t whylen);

typedef enum {
  CHAT_SEND_SENT,   /* provider_id is set */
  CHAT_SEND_RETRY,  /* transient: try again after retry_after_ms (or backoff) */
  CHAT_SEND_FAILED  /* permanent: code/title/message say why */
} chat_send_outcome;

typedef struct chat_send_result {
  chat_send_outcome outcome;
  /* WhatsApp: the wamid; Telegram: "<chat id>:<message id>", as the
   * inbound side stores Telegram's ids. */
  char provider_id[192];
  /* The provider's error code as text ("131047", "429"), or munshi's own
   * name for a local one ("timeout", "http_503", "bad_response"). */
  char code[32];
  char title[128];
  char message[512];
  long retry_after_ms; /* the wait the provider asked for; -1: none */
} chat_send_result;

/* Reads the provider's answer: HTTP status, body, and the Retry-After
 * header's value (NULL when absent). to is the chat id the request went to
 * (Telegram's provider id falls back on it). */
void chat_send_parse(chat_platform p, const char *to, long status,
                     const char *body, size_t body_len,
                     const char *retry_after, chat_send_result *r);
/* Reads the upload's answer: {"id":"<media id>"} → CHAT_SEND_SENT with the
 * id in provider_id; errors are classed as chat_send_parse does. */
void chat_media_parse(long status, const char *body, size_t body_len,
                      const char *retry_after, chat_send_result *r);
/* The outcome of a call that got no answer (net_request returned -1):
 * timeouts, refused or broken connections and TLS failures are retried; a
 * bad URL or request, or an oversized answer, fails the message. */
void chat_send_transport(net_error e, chat_send_result *r);
/* A permanent local failure (window closed, bad message, ...). */
void chat_send_fail(chat_send_result *r, const char *code, const char *title,
                    const char *message);

/* Writes r's error as the JSON object {"code","title","message"} stored in
 * unified_messages.error. Returns 0 or -1 past b's cap. */
int chat_send_error_json(const chat_send_result *r, buf *b);

#endif
