/* whatsapp.h - what the WhatsApp Cloud API posts to our webhook, parsed
 * into plain C structs: no database, no network, fuzzed
 * (tests/fuzz/fuzz_whatsapp.c).
 *
 * A webhook body is {"object": "whatsapp_business_account", "entry": [{
 * "changes": [{"field": "messages", "value": {...}}]}]}: several entries,
 * each with several changes, each with its number's metadata and any of
 * contacts[], messages[] and statuses[]. wa_parse flattens that into one
 * list of changes of field "messages" (other fields, such as template
 * status updates, are valid and skipped). Each message carries what the
 * inbox needs: the provider id (wamid), the sender's key (wa_id, or the
 * user id Meta sends for a contact without one), the contact's profile
 * name, a normalised type, the text the agent reads and the rest as a JSON
 * object (media ids, caption, coordinates, the reply it answers).
 * Statuses carry the wamid of our outbound message, the status and, when
 * failed, the provider's error as {"code", "title", "message"}. */
#ifndef MUNSHI_CHAT_WHATSAPP_H
#define MUNSHI_CHAT_WHATSAPP_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"

/* Most messages plus statuses in one body: Meta batches at most a few
 * hundred; more is not a webhook. */
#define WA_MAX_ITEMS 1000
/* Longest id we keep (wamid, wa_id, user id, phone_number_id). */
#define WA_MAX_ID 256
/* Longest contact key (sessions.contact_id holds 64). */
#define WA_MAX_CONTACT 64

typedef struct wa_message {
  const char *id;       /* wamid */
  const char *from;     /* the contact key: wa_id, else Meta's user id */
  const char *wa_id;    /* digits, NULL when Meta sent only a user id */
  const char *name;     /* the contact's profile name, NULL when unknown */
  int64_t timestamp;    /* seconds since the epoch, 0 when absent */
  /* text, interactive, button, image, document, audio, video, location,
   * contacts, reaction, or unsupported (stickers, system messages, types
   * this parser does not know: the original type is in the metadata). */
  const char *type;
  const char *text;     /* what the agent reads; "" when none */
  const char *metadata; /* JSON object text */
} wa_message;

typedef struct wa_status {
  const char *id;           /* wamid of our outbound message */
  const char *status;       /* sent | delivered | read | failed */
  const char *recipient_id; /* may be NULL */
  int64_t timestamp;        /* seconds, 0 when absent */
  const char *error;        /* failed: JSON {"code","title","message"}; else NULL */
  /* What munshi sent as biz_opaque_callback_data: its own message id, so a
   * status can find a message whose wamid was never stored (the process
   * died while the send was in flight). NULL when absent. */
  const char *callback_data;
} wa_status;

typedef struct wa_change {
  const char *phone_number_id;
  const char *display_phone_number; /* NULL when absent */
  wa_message *messages;
  size_t n_messages;
  wa_status *statuses;
  size_t n_statuses;
} wa_change;

typedef struct wa_payload {
  wa_change *changes;
  size_t n_changes;
} wa_payload;

/* Parses a webhook body. Returns 0 and fills out (everything in a), or -1
 * with a short reason in why (safe to log and to answer: it never quotes
 * the body) when the body is not JSON or not a WhatsApp webhook of the
 * shape above. Statuses of kinds other than the four are skipped. */
int wa_parse(arena *a, const char *body, size_t len, wa_payload *out,
             char *why, size_t whylen);

/* Rank of a message status for monotonic updates: queued 0 < sent 10 <
 * failed 15 < delivered 20 < read 30; -1 for anything else. A status moves
 * a message only to a higher rank, so a late "delivered" never overwrites
 * "read". */
int wa_status_rank(const char *status);

#endif
