/* fuzz_flow_architect.c - libFuzzer target for the Architect's pure parts
 * (src/flow/architect*.c): any bytes, read as the owner's prompt and as a
 * model's answer, must never crash, leak or read out of bounds; a draft
 * is always JSON (nodes and edges arrays, linear, within the caps) and
 * can be explained. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "flow/architect.h"
#include "flow/blueprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_graph(arena *a, const char *nodes, const char *edges) {
  json *n, *e;
  json_error je;
  if (json_parse(a, nodes, strlen(nodes), &n, &je) || n->type != JSON_ARRAY ||
      json_parse(a, edges, strlen(edges), &e, &je) || e->type != JSON_ARRAY)
    abort();
  if (n->n > BP_MAX_NODES || e->n > BP_MAX_EDGES) abort();
  if (!arch_explain(a, n, e, "en")) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  const char *text = (const char *)data;
  arch_draft d;
  if (arch_draft_rules(a, text, size, &d) == 0) {
    if (d.question) {
      if (d.nodes || !*d.question) abort();
    } else {
      if (!d.name || !d.nodes || !d.edges || !d.explanation) abort();
      check_graph(a, d.nodes, d.edges);
    }
  }
  const char *rep;
  char why[128];
  if (arch_llm_parse(a, text, size, &d, &rep, why, sizeof why) == 0 &&
      !d.question)
    check_graph(a, d.nodes, d.edges);
  arena_free(a);
  return 0;
}
