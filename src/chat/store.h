/* store.h - the chat module's rows: channels, conversations (sessions) and
 * queued outbound messages, shared by the inbound path (webhooks), the
 * outbox, the agent and later the workflows.
 *
 * Everything here runs on the caller's connection and inside the caller's
 * transaction when one is open, so a caller makes "log the inbound message,
 * queue the reply" one commit. None of it begins or commits. After a commit
 * that queued a message, call jobs_wake() so the outbox sends it now rather
 * than at the workers' next poll. docs/chat.md describes the tables. */
#ifndef MUNSHI_CHAT_STORE_H
#define MUNSHI_CHAT_STORE_H

#include <stdint.h>

#include "base/arena.h"
#include "db/db.h"

typedef enum { CHAT_WHATSAPP, CHAT_TELEGRAM } chat_platform;

/* A channels row, secrets included (never write them to a log). Strings
 * live in the arena given to the loader; absent ones are "". */
typedef struct chat_channel {
  char profile_id[37];
  char id[37];
  chat_platform platform;
  const char *name;
  const char *phone_number_id;      /* WhatsApp */
  const char *display_phone_number; /* WhatsApp */
  const char *access_token;         /* WhatsApp: the Graph API bearer */
  const char *app_secret;           /* WhatsApp: signs the webhooks */
  const char *verify_token;         /* WhatsApp: the GET handshake */
  const char *bot_token;            /* Telegram */
  const char *webhook_secret;       /* Telegram: X-Telegram-Bot-Api-Secret-Token */
  const char *templates;            /* JSON array text */
  const char *default_template;
  int rate_limit_per_s;             /* 0: the provider's default */
  const char *owner_chat_id;        /* Telegram: the owner's linked chat */
  int is_active;
  /* WhatsApp: rpc/connect_whatsapp proved with the token that the number
   * is this business's (required on the shared webhook route). */
  int verified;
} chat_channel;

/* Loads the channel id (any business when profile_id is NULL). *found is 0
 * when there is none (an id that is not a UUID is simply not found). */
int chat_channel_load(db *d, arena *a, const char *profile_id, const char *id,
                      chat_channel *out, int *found, db_err *err);
/* Loads the WhatsApp channel of Meta's phone_number_id. */
int chat_channel_by_phone_number_id(db *d, arena *a, const char *pnid,
                                    chat_channel *out, int *found,
                                    db_err *err);
/* The business's first active channel of platform (oldest), for a message
 * that names none. */
int chat_channel_first(db *d, arena *a, const char *profile_id,
                       chat_platform platform, chat_channel *out, int *found,
                       db_err *err);

/* A sessions row. */
typedef struct chat_session {
  char profile_id[37];
  char id[37];
  char channel_id[37];
  char customer_id[37]; /* "" when not linked */
  chat_platform platform;
  char contact_id[65];  /* wa_id, Meta's user id, or the Telegram chat id */
  int is_bot_active;
  int is_open;
  int64_t last_inbound_at; /* µs, 0 when the contact never wrote */
  const char *agent_state; /* JSON object text, in the arena */
} chat_session;

/* What is known of a contact when a message arrives or is sent. */
typedef struct chat_contact {
  const char *contact_id; /* required, 1..64 characters */
  const char *name;       /* profile name; NULL when unknown */
  const char *phone;      /* E.164 when known (WhatsApp: "+" wa_id) */
} chat_contact;

/* Finds the session of (channel, contact) or creates it. A new session is
 * linked to the business's customer whose phone_number equals the contact's
 * phone; when there is none (or no phone is known), a customer is created,
 * named from the contact's name (else its phone, else "Telegram <id>"),
 * with a customer.created event. An existing session gets contact_name
 * refreshed when a name is given. Concurrent callers for one contact end on
 * the same row (ON CONFLICT). *created (may be NULL) says whether the
 * session is new. */
int chat_session_get_or_create(db *d, arena *a, const chat_channel *ch,
                               const chat_contact *who, chat_session *out,
                               int *created, db_err *err);
/* Loads a session of the business by id. */
int chat_session_load(db *d, arena *a, const char *profile_id, const char *id,
                      chat_session *out, int *found, db_err *err);

/* WhatsApp's customer-service window: free text may go to a contact who
 * wrote within the last 24 hours. Telegram has none (always open). */
#define CHAT_WINDOW_US (24LL * 3600 * 1000000)
int chat_window_open(const chat_session *s, int64_t now_us);

/* An outbound message to queue. */
typedef struct chat_out {
  const char *session_id;
  const char *sender;       /* "agent" | "owner" | "workflow" */
  const char *message_type; /* "text" (default), "interactive", "template",
                             * "document" */
  const char *content;      /* the text as the inbox shows it */
  /* JSON object text, NULL for {}: {"agent": {...}} (the agent's decision),
   * {"buttons": [{"id", "title"}]} (interactive), {"template": {"name",
   * "language", "params": [...]}}, {"document": {"link", "filename"}}. */
  const char *metadata;
  const char *reply_to;     /* the inbound message an agent reply answers */
} chat_out;

/* Queues an outbound message of session s (status 'queued') and its outbox
 * row, in the caller's transaction. *dup (may be NULL) is 1 and nothing is
 * written when reply_to was answered already (a redelivered event). */
int chat_enqueue(db *d, const chat_session *s, const chat_out *m,
                 char id_out[37], int *dup, db_err *err);

#endif
