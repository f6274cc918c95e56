/* architect.h - the Architect: a blueprint drafted from the owner's words.
 *
 * Two drafters answer the same shape. The offline one (architect_rules.c)
 * reads English, Hinglish (Hindi in Latin letters) and Devanagari for the
 * automations small businesses ask for again and again - remind on unpaid
 * invoices and escalate, thank on payment, a daily sales summary, low-stock
 * alerts, welcome a new customer, feedback after delivery - and fills a
 * small set of slots (trigger, schedule, waits, amounts, recipients, the
 * message) from which it builds the graph. The LLM one (architect_llm.c)
 * asks an OpenAI-compatible model for the graph and repairs what is simple
 * to repair (edges of a linear list, trigger event names). Either answers a
 * question instead when the words do not say enough ("remind them").
 *
 * Nothing here checks the graph against the node table: the caller runs
 * bp_parse on every draft and never saves one that fails (architect.c). */
#ifndef MUNSHI_FLOW_ARCHITECT_H
#define MUNSHI_FLOW_ARCHITECT_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

/* Bytes of a prompt that are read; the rest is ignored. */
#define ARCH_PROMPT_MAX 2000

typedef struct arch_draft {
  const char *question; /* set: the prompt is ambiguous; nothing else is */
  const char *name;
  const char *nodes;       /* JSON array text */
  const char *edges;       /* JSON array text */
  const char *explanation; /* plain words, for the owner */
  const char *lang;        /* "en" | "hinglish" | "hi": the prompt's */
} arch_draft;

/* The offline drafter. Fills out (all in a) with a draft or a question.
 * Returns 0, or -1 when the prompt is not valid UTF-8 or empty. */
int arch_draft_rules(arena *a, const char *prompt, size_t n, arch_draft *out);

/* The language a prompt is written in: "en", "hinglish" or "hi". */
const char *arch_prompt_lang(const char *prompt, size_t n);

/* A plain explanation of any graph (nodes and edges as parsed JSON
 * arrays), walking it from the trigger: what starts it, each step, and
 * that a draft does nothing until activated. lang as in arch_draft. */
const char *arch_explain(arena *a, const json *nodes, const json *edges,
                         const char *lang);

/* The LLM drafter's request body (OpenAI chat completions with two tools,
 * draft_workflow and ask_question, one required). */
void arch_llm_request(buf *b, const char *model, const char *prompt);

/* Reads the model's answer (a tool call, or content holding the JSON of
 * the graph), repairs simple faults and fills out: nodes/edges/name, or
 * question. repairs gets a short note of what was repaired ("" none).
 * Returns 0, or -1 with why when there is nothing usable in the answer.
 * The graph is not checked here (bp_parse is the caller's). */
int arch_llm_parse(arena *a, const char *body, size_t len, arch_draft *out,
                   const char **repairs, char *why, size_t whylen);

/* Repairs a graph a model wrote, in place where it can: node types and
 * trigger event names spelled another way are mapped to ours, missing ids
 * given, edges written {source,target} read as {from,to}, and a node list
 * with no edges at all chained in order (the edge out of a condition
 * taking its "true" branch). Writes the repaired nodes and edges as JSON
 * text. note lists what was done ("" nothing). */
int arch_repair(arena *a, const json *nodes, const json *edges,
                const char **nodes_out, const char **edges_out,
                const char **note);

/* Sends the request to url (…/chat/completions appended as the chat agent
 * does) and parses the answer. 0, or -1 with why. */
int arch_llm_draft(arena *a, const char *url, const char *key,
                   const char *model, long timeout_ms, const char *prompt,
                   arch_draft *out, const char **repairs, char *why,
                   size_t whylen);

#endif
