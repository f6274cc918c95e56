/* fuzz_flow_blueprint.c - libFuzzer target for the blueprint check
 * (src/flow/blueprint.c): any bytes as a blueprint's JSON must never crash,
 * leak or read out of bounds; a graph that passes keeps the promises the
 * engine relies on (one trigger in range, every edge between nodes in
 * range, edges grouped by their node, no node beyond the caps), and a
 * refusal always says something and renders as an API error. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/api.h"
#include "base/arena.h"
#include "flow/blueprint.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  arena *a = arena_new();
  blueprint bp;
  bp_error e;
  if (bp_parse_text(a, text, &bp, &e) == 0) {
    if (bp.nnodes < 1 || bp.nnodes > BP_MAX_NODES) abort();
    if (bp.nedges < 0 || bp.nedges > BP_MAX_EDGES) abort();
    if (bp.trigger < 0 || bp.trigger >= bp.nnodes) abort();
    for (int k = 0; k < bp.nedges; k++) {
      const bp_edge *g = &bp.edges[k];
      if (g->from < 0 || g->from >= bp.nnodes || g->to < 0 ||
          g->to >= bp.nnodes || g->to == bp.trigger)
        abort();
      if (k && bp.edges[k - 1].from > g->from) abort();
    }
    for (int i = 0; i < bp.nnodes; i++) {
      int next[BP_MAX_EDGES];
      int n = bp_next(&bp, i, NULL, next, BP_MAX_EDGES);
      for (int j = 0; j < n; j++)
        if (next[j] < 0 || next[j] >= bp.nnodes) abort();
      if (bp_find(&bp, bp.nodes[i].id) != i) abort();
    }
  } else {
    if (!e.message[0]) abort();
    api_resp r;
    api_resp_init(&r);
    bp_error_reply(&e, &r);
    if (r.status != 400) abort();
    api_resp_free(&r);
  }
  arena_free(a);
  free(text);
  return 0;
}
