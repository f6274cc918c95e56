/* llm.h - the optional LLM that chooses the agent's action.
 *
 * With MUNSHI_LLM_URL set, the agent asks an OpenAI-compatible chat
 * completions endpoint (POST <url>/chat/completions; a URL that already
 * ends in /chat/completions is used as it is) which of its actions fits a
 * message: every action is offered as a tool (a function with a JSON
 * schema of its parameters) and the model must call one. The agent takes
 * the tool's name and arguments, checks them against the books, and builds
 * the reply itself: the model never writes a word or a number of it. Any
 * failure (timeout, HTTP error, no tool call, arguments that do not check)
 * sends the message back to the offline rules. */
#ifndef MUNSHI_CHAT_AGENT_LLM_H
#define MUNSHI_CHAT_AGENT_LLM_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

/* One earlier message of the conversation. */
typedef struct agent_turn {
  int from_customer; /* 1: "user", 0: "assistant" */
  const char *text;
} agent_turn;

typedef struct agent_llm_in {
  const char *model;
  const char *business;        /* the shop's name, for the system prompt */
  const char *const *products; /* the product names the shop sells */
  int n_products;
  const agent_turn *history; /* oldest first */
  int n_history;
  const char *text; /* the message to answer */
  int from_owner;   /* offer the owner_* commands too */
} agent_llm_in;

/* Writes the request body (model, messages, tools, tool_choice
 * "required") to b. */
void agent_llm_request(buf *b, const agent_llm_in *in);

/* Reads a chat completions answer: the first tool call's function name
 * and its arguments (the "arguments" string parsed as a JSON object, in
 * a). Returns 0, or -1 when the body is not such an answer. */
int agent_llm_parse(arena *a, const char *body, size_t len, const char **name,
                    const json **args);

/* Sends the request to url with "Authorization: Bearer key" (none when
 * key is empty) and timeout_ms, and parses the answer. Returns 0, or -1
 * (with a short reason in why) on any failure. */
int agent_llm_choose(arena *a, const char *url, const char *key,
                     long timeout_ms, const agent_llm_in *in, const char **name,
                     const json **args, char *why, size_t whylen);

#endif
