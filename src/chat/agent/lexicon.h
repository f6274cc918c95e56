/* lexicon.h - which of the business's products a message names.
 *
 * A product is known by its own name (and each distinctive word of it:
 * "Basmati Rice 5kg" is also "basmati" and "rice") and by the synonyms of
 * the built-in dictionary that its name matches: a product whose name says
 * "atta" is also "aata", "wheat flour", "gehun ka atta", "आटा" and
 * "गेहूं का आटा"; one that says "rice" is also "chawal" and "चावल". Words
 * match loosely (agent_word_match: plurals, small typos). Pure: the caller
 * passes the product names it read from the books. */
#ifndef MUNSHI_CHAT_AGENT_LEXICON_H
#define MUNSHI_CHAT_AGENT_LEXICON_H

#include "base/arena.h"
#include "chat/agent/text.h"

#define AGENT_MENTIONS_MAX 16

typedef struct agent_catalog agent_catalog;

/* Builds the aliases of n product names (folded, tokenized) in a. */
agent_catalog *agent_catalog_new(arena *a, const char *const *names, int n);
int agent_catalog_size(const agent_catalog *c);

/* A product named in a message: tokens [start, end) name product index
 * `product` (an index into the names given to agent_catalog_new). */
typedef struct agent_mention {
  int product;
  int start, end;
  int score; /* higher is a closer match */
} agent_mention;

/* Finds the products named in tk, left to right, longest match first, at
 * most max; returns how many. A word that is a number or a unit is never
 * taken for a product. */
int agent_find_products(const agent_catalog *c, const agent_tokens *tk,
                        agent_mention *out, int max);

/* The product one name (a product's name as an LLM or a person wrote it)
 * stands for: its index, or -1 when none matches. */
int agent_catalog_lookup(const agent_catalog *c, const char *name);

#endif
