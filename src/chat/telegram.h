/* telegram.h - what the Telegram Bot API posts to our webhook (one Update
 * per request), parsed into a plain C struct: no database, no network,
 * fuzzed (tests/fuzz/fuzz_telegram.c).
 *
 * The inbox handles three kinds of update: message, edited_message and
 * callback_query (a press of an inline keyboard button). Any other kind
 * (channel posts, membership changes, ...) parses as TG_OTHER: valid, and
 * acknowledged without effect. Ids are kept as decimal text: the chat id
 * is the session's contact id, and "<chat id>:<message id>" the provider
 * message id. */
#ifndef MUNSHI_CHAT_TELEGRAM_H
#define MUNSHI_CHAT_TELEGRAM_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

typedef enum { TG_OTHER, TG_MESSAGE, TG_EDITED, TG_CALLBACK } tg_kind;

typedef struct tg_update {
  int64_t update_id;
  tg_kind kind;
  const char *chat_id;    /* decimal; TG_OTHER: NULL */
  /* The message (edited: the one edited; callback: the message whose
   * button was pressed, NULL when Telegram did not include it). */
  const char *message_id;
  const char *from_id;    /* decimal, NULL when absent (channel posts) */
  const char *name;       /* "first last" of the sender (or the chat's title) */
  const char *username;   /* NULL when none */
  int64_t date;           /* seconds since the epoch, 0 when absent */
  /* text, image, document, audio, video, location, contacts, button
   * (callback_query), or unsupported (stickers, polls, ...). */
  const char *type;
  const char *text;       /* text or caption; callback: its data; "" none */
  const char *metadata;   /* JSON object text */
  const char *callback_id; /* TG_CALLBACK: for answerCallbackQuery */
} tg_update;

/* Parses one Update. Returns 0 and fills out (strings in a), or -1 with a
 * short reason in why (never quoting the body) when the body is not JSON,
 * has no integer update_id, or a message/callback lacks what the inbox
 * needs (chat id, message id, callback id). */
int tg_parse(arena *a, const char *body, size_t len, tg_update *out,
             char *why, size_t whylen);

#endif
