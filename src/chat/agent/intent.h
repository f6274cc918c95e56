/* intent.h - the agent's actions and the rules that pick one from a
 * message (offline: keywords in the three scripts, no network).
 *
 * The names are the ones stored in metadata.agent.action and offered to an
 * LLM as tools (llm.c), so they are part of the API: append only. */
#ifndef MUNSHI_CHAT_AGENT_INTENT_H
#define MUNSHI_CHAT_AGENT_INTENT_H

#include "chat/agent/text.h"

typedef enum {
  AGENT_GREET,
  AGENT_HELP,
  AGENT_THANKS,
  AGENT_PRICE,
  AGENT_AVAILABILITY,
  AGENT_ORDER,
  AGENT_CONFIRM_ORDER,
  AGENT_CANCEL_ORDER,
  AGENT_BALANCE,
  AGENT_LAST_INVOICE,
  AGENT_PAY,
  AGENT_TRACK,
  AGENT_HANDOVER,
  AGENT_FALLBACK,
  AGENT_OWNER_SALES_TODAY,
  AGENT_OWNER_DEBTORS,
  AGENT_OWNER_STOCK,
  AGENT_OWNER_REMIND_ALL,
  AGENT_N_INTENTS
} agent_intent;

/* "greet", "price", "owner_remind_all"...; and back (-1 when unknown). */
const char *agent_intent_name(agent_intent i);
int agent_intent_from_name(const char *s);
/* 1 for the owner_* commands. */
int agent_intent_is_owner(agent_intent i);

/* What the rules know besides the words. */
typedef struct agent_facts {
  int from_owner;   /* the message came from the owner's phone or chat */
  int has_pending;  /* an order waits for a yes or a no */
  int n_products;   /* products the message names (lexicon) */
  int has_quantity; /* a number or number word next to a product */
} agent_facts;

/* Picks the action for a message. Owner commands only when from_owner; a
 * yes or no only means confirm_order / cancel_order while an order is
 * pending. */
agent_intent agent_classify(const agent_tokens *tk, const agent_facts *f);

#endif
