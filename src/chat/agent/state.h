/* state.h - the agent's memory of a conversation, kept in
 * sessions.agent_state (a JSON object) and written in the transaction that
 * queues the reply:
 *
 *   {"lang": "en" | "hinglish" | "hi",        the language last seen
 *    "fallbacks": N,                          fallbacks in a row
 *    "pending": [{"product_id", "quantity"}], an order awaiting yes or no
 *    "order_id": "<uuid>"}                    that order's id
 *
 * quantity is an exact decimal string in the product's unit ("2.500").
 * Unknown members are dropped; a malformed state reads as empty. Pure. */
#ifndef MUNSHI_CHAT_AGENT_STATE_H
#define MUNSHI_CHAT_AGENT_STATE_H

#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "chat/agent/text.h"

#define AGENT_PENDING_MAX 16

typedef struct agent_pending {
  char product_id[37];
  int64_t qty; /* thousandths */
} agent_pending;

typedef struct agent_state {
  agent_lang lang; /* AGENT_LANG_UNKNOWN when never seen */
  int fallbacks;
  agent_pending pending[AGENT_PENDING_MAX];
  int n_pending;
  /* The pending order's own id, made when it is proposed: its invoice's
   * Idempotency-Key, so two "yes" taps handled at once (by two workers)
   * make one invoice. "" when there is none. */
  char order_id[37];
} agent_state;

/* Reads text (NULL or "" is the empty state). Never fails: what cannot be
 * read is left out. */
void agent_state_read(arena *a, const char *text, agent_state *out);
/* Writes s as JSON to b. */
void agent_state_write(buf *b, const agent_state *s);

#endif
