/* architect.c - rpc/draft_workflow {prompt}: a blueprint drafted from the
 * owner's words, checked, and saved as an inactive draft (architect.h).
 *
 * With an LLM configured (flow_settings llm_url) the model drafts first;
 * its graph is repaired where that is simple and checked with bp_parse
 * like any other; when the model fails or its graph does not pass, the
 * offline drafter answers instead and the answer says so (source "rules",
 * llm_error). A question (the prompt is ambiguous) saves nothing. A draft
 * that fails bp_parse is never saved: from the offline drafter that is a
 * bug, answered as an internal error. */
#include <stdio.h>
#include <string.h>

#include "flow/architect.h"
#include "flow/blueprint.h"
#include "flow/bpstore.h"
#include "flow/flow.h"
#include "flow/rpc_int.h"

#define DRAFT_TRIES 3 /* transactions retried on 40001 / 40P01 */

/* Parses a draft's graph and checks it: 0, or -1 with be. */
static int draft_check(arena *a, const arch_draft *dr, json **nodes,
                       json **edges, bp_error *be) {
  json_error je;
  memset(be, 0, sizeof *be);
  if (!dr->nodes || !dr->edges ||
      json_parse(a, dr->nodes, strlen(dr->nodes), nodes, &je) ||
      json_parse(a, dr->edges, strlen(dr->edges), edges, &je)) {
    snprintf(be->message, sizeof be->message, "the graph is not JSON");
    return -1;
  }
  blueprint bp;
  return bp_parse(a, dr->name, *nodes, *edges, &bp, be);
}

static void reply_question(api_resp *resp, const char *question,
                           const char *source, const char *llm_error) {
  json_obj o;
  json_obj_open(&o, &resp->body);
  json_obj_str(&o, "question", question);
  json_obj_str(&o, "source", source);
  if (llm_error) json_obj_str(&o, "llm_error", llm_error);
  json_obj_close(&o);
  resp->status = 200;
}

void flow_rpc_draft(db *d, api_req *req, const json *args, api_resp *resp) {
  arena *a = req->a;
  const json *p = json_get(args, "prompt");
  if (!p || p->type != JSON_STRING) {
    api_fail(resp, E_OP_INVALID,
             "prompt is required: the workflow in your own words", NULL,
             "e.g. {\"prompt\": \"send me today's sales at 9 pm\"}");
    return;
  }
  size_t start = 0;
  while (start < p->len && (p->str[start] == ' ' || p->str[start] == '\t' ||
                            p->str[start] == '\n' || p->str[start] == '\r'))
    start++;
  if (start == p->len) {
    api_fail(resp, E_OP_INVALID, "prompt is empty", NULL, NULL);
    return;
  }
  if (p->len > ARCH_PROMPT_MAX) {
    api_failf(resp, E_OP_INVALID, "prompt is longer than %d bytes",
              ARCH_PROMPT_MAX);
    return;
  }
  const char *prompt = p->str;
  arch_draft dr;
  memset(&dr, 0, sizeof dr);
  const char *source = "rules", *llm_error = NULL, *repairs = NULL;
  json *nodes = NULL, *edges = NULL;
  bp_error be;

  const flow_settings *fs = flow_settings_get();
  if (fs && fs->llm_url && *fs->llm_url) {
    char why[256] = "";
    long tmo = fs->llm_timeout_ms > 0 ? fs->llm_timeout_ms : 8000;
    if (arch_llm_draft(a, fs->llm_url, fs->llm_key, fs->llm_model, tmo, prompt,
                       &dr, &repairs, why, sizeof why)) {
      llm_error = arena_printf(a, "the model could not be used: %s", why);
    } else if (dr.question) {
      reply_question(resp, dr.question, "llm", NULL);
      return;
    } else if (draft_check(a, &dr, &nodes, &edges, &be)) {
      llm_error =
          arena_printf(a, "the model's graph was refused: %s%s%s%s%s",
                       be.message, be.node[0] ? " (node " : "", be.node,
                       be.param[0] ? ", " : "", be.param[0] ? be.param : "");
      if (be.node[0]) llm_error = arena_printf(a, "%s)", llm_error);
    } else {
      source = "llm";
      dr.explanation =
          arch_explain(a, nodes, edges, arch_prompt_lang(prompt, p->len));
    }
  }
  if (!strcmp(source, "rules")) {
    repairs = NULL;
    if (arch_draft_rules(a, prompt, p->len, &dr)) {
      api_fail(resp, E_OP_INVALID, "prompt must be readable text", NULL, NULL);
      return;
    }
    if (dr.question) {
      reply_question(resp, dr.question, source, llm_error);
      return;
    }
    if (draft_check(a, &dr, &nodes, &edges, &be)) {
      /* The offline drafter wrote a graph that does not pass: a bug here,
       * never saved. */
      api_failf(resp, E_INTERNAL,
                "the drafted workflow did not validate (%s%s%s%s): please "
                "report this prompt",
                be.node, be.node[0] ? ": " : "", be.param[0] ? be.param : "",
                be.message);
      return;
    }
  }

  char id[37] = "";
  db_err err;
  memset(&err, 0, sizeof err);
  int rc = -1;
  for (int attempt = 0; attempt < DRAFT_TRIES; attempt++) {
    memset(&be, 0, sizeof be);
    memset(&err, 0, sizeof err);
    if (db_begin(d, 1, &err)) break;
    rc = flow_blueprint_create(d, a, req->who.sub, req->who.sub, dr.name,
                               prompt, dr.explanation, dr.nodes, dr.edges, id,
                               &be, &err);
    if (rc == 0 && db_commit(d, &err) == 0) break;
    if (rc == 0) rc = -1; /* the commit failed: the transaction is over */
    db_rollback(d);
    if (!api_sqlstate_retryable(err.code)) break;
  }
  if (rc) {
    if (!err.code[0] && be.message[0])
      bp_error_reply(&be, resp);
    else
      flow_rpc_db_fail(resp, &err);
    return;
  }
  json_obj o;
  json_obj_open(&o, &resp->body);
  json_obj_str(&o, "id", id);
  json_obj_str(&o, "name", dr.name);
  json_obj_raw(&o, "nodes", json_to_text(a, nodes));
  json_obj_raw(&o, "edges", json_to_text(a, edges));
  json_obj_str(&o, "explanation", dr.explanation);
  json_obj_bool(&o, "is_active", 0);
  json_obj_str(&o, "source", source);
  if (repairs && *repairs) json_obj_str(&o, "repairs", repairs);
  if (llm_error) json_obj_str(&o, "llm_error", llm_error);
  json_obj_close(&o);
  resp->status = 200;
}
