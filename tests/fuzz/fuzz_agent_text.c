/* fuzz_agent_text.c - libFuzzer target for the agent's pure text functions
 * (src/chat/agent): any bytes, read as a customer's message, as a stored
 * agent_state and as an LLM's answer, must never crash, leak or read out
 * of bounds, and what the rules produce must stay inside their caps. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "biz/upi.h"
#include "chat/agent/intent.h"
#include "chat/agent/lexicon.h"
#include "chat/agent/llm.h"
#include "chat/agent/qty.h"
#include "chat/agent/reply.h"
#include "chat/agent/state.h"
#include "chat/agent/text.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const names[] = {"Wheat Atta 10kg", "Basmati Rice",
                                    "Mustard Oil", "Sugar", "चाय पत्ती"};
static const char *const units[] = {"kg", "kg", "l", "g", "pcs"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  arena *a = arena_new();
  agent_catalog *cat = agent_catalog_new(a, names, 5);

  agent_tokens *tk = arena_alloc(a, sizeof *tk);
  agent_tokenize(text, size, tk);
  if (tk->n > AGENT_TOKENS_MAX) abort();
  agent_lang lang = agent_detect_lang(tk);
  agent_mention m[AGENT_MENTIONS_MAX];
  int nm = agent_find_products(cat, tk, m, AGENT_MENTIONS_MAX);
  agent_line l[AGENT_MENTIONS_MAX];
  int nl = agent_read_lines(tk, m, nm, units, l, AGENT_MENTIONS_MAX);
  agent_facts f = {.from_owner = size & 1, .has_pending = (size >> 1) & 1,
                   .n_products = nm};
  for (int i = 0; i < nl; i++) {
    if (l[i].product < 0 || l[i].product >= 5) abort();
    if (l[i].has_qty && l[i].qty <= 0) abort();
    f.has_quantity |= l[i].has_qty;
  }
  agent_intent in = agent_classify(tk, &f);
  if (agent_intent_is_owner(in) && !f.from_owner) abort();
  agent_catalog_lookup(cat, text);

  /* The message as the text of a reply's hole, in every language. */
  buf b;
  buf_init(&b, 0);
  const char *args[] = {text, text, text};
  agent_say(&b, lang, (agent_msg)(size % R_N_MESSAGES), args, 3);
  biz_upi_link(&b, text, text, (int64_t)size * 101, text, text);
  buf_free(&b);

  /* The bytes as a stored state (written back and read again) and as an
   * LLM's answer. */
  agent_state st;
  agent_state_read(a, text, &st);
  buf w;
  buf_init(&w, 0);
  agent_state_write(&w, &st);
  agent_state st2;
  agent_state_read(a, buf_cstr(&w), &st2);
  if (st2.n_pending != st.n_pending) abort();
  buf_free(&w);
  const char *name;
  const json *jargs;
  agent_llm_parse(a, text, size, &name, &jargs);

  arena_free(a);
  free(text);
  return 0;
}
