/* test_flow_blueprint.c - a workflow's graph, parsed and checked
 * (src/flow/blueprint.c): the issue's example parses; every fault is named
 * by its node and parameter; edges come back sorted by their node; bp_next
 * follows branches; the API error carries the node and parameter. The
 * database side (versions, activation, the REST hook) is
 * test_flow_bpstore_db.c and tests/api/workflow_blueprints.test.mjs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/api.h"
#include "flow/blueprint.h"
#include "flow/cron.h"

/* Test texts are written with ' for " so they read as JSON does. */
static const char *q(arena *a, const char *s) {
  char *t = arena_strdup(a, s);
  for (char *p = t; *p; p++)
    if (*p == '\'') *p = '"';
  return t;
}

static int parse(arena *a, const char *text, blueprint *bp, bp_error *e) {
  return bp_parse_text(a, q(a, text), bp, e);
}

static void test_issue_example(void **state) {
  (void)state;
  arena *a = arena_new();
  blueprint bp;
  bp_error e;
  /* The example's condition holds 'paid' in single quotes: built by hand. */
  const char *text =
      "{\"name\": \"Remind unpaid after 3 days\", \"nodes\": [{\"id\": \"t\", "
      "\"type\": \"trigger\", \"params\": {\"event\": \"invoice.issued\"}}, "
      "{\"id\": \"w\", \"type\": \"wait\", \"params\": {\"for\": \"3d\"}}, "
      "{\"id\": \"c\", \"type\": \"condition\", \"params\": {\"if\": "
      "\"invoice.status != 'paid'\"}}, {\"id\": \"s\", \"type\": "
      "\"send_message\", \"params\": {\"to\": \"customer\", \"text\": "
      "\"Namaste {{ customer.full_name }}, invoice {{ invoice.invoice_number "
      "}} of \xe2\x82\xb9{{ invoice.total_amount }} is due.\"}}], \"edges\": "
      "[{\"from\": \"t\", \"to\": \"w\"}, {\"from\": \"w\", \"to\": \"c\"}, "
      "{\"from\": \"c\", \"to\": \"s\", \"when\": \"true\"}]}";
  int rc = bp_parse_text(a, text, &bp, &e);
  if (rc) fail_msg("%s (node '%s', param '%s')", e.message, e.node, e.param);
  assert_string_equal(bp.name, "Remind unpaid after 3 days");
  assert_int_equal(bp.nnodes, 4);
  assert_int_equal(bp.nedges, 3);
  assert_int_equal(bp.trigger, 0);
  assert_int_equal(bp.kind, BP_TRIGGER_EVENT);
  assert_string_equal(bp.event, "invoice.issued");
  assert_null(bp.cron);
  assert_int_equal(bp_find(&bp, "c"), 2);
  assert_int_equal(bp_find(&bp, "zz"), -1);
  int next[4];
  assert_int_equal(bp_next(&bp, 0, NULL, next, 4), 1);
  assert_int_equal(next[0], 1);
  assert_int_equal(bp_next(&bp, 2, "true", next, 4), 1);
  assert_int_equal(next[0], 3);
  assert_int_equal(bp_next(&bp, 2, "false", next, 4), 0);
  assert_int_equal(bp_next(&bp, 3, NULL, next, 4), 0);
  assert_string_equal(bp_trigger_kind_name(bp.kind), "event");
  arena_free(a);
}

/* Each bad graph and the node and parameter it must be blamed on. */
static const struct {
  const char *text, *node, *param, *says;
} bad[] = {
    {"{'nodes': {}}", "", "nodes", "array"},
    {"{'nodes': []}", "", "nodes", "trigger"},
    {"{'name': '', 'nodes': [{'id': 't', 'type': 'trigger', 'params': "
     "{'manual': true}}]}",
     "", "name", "name"},
    {"{'nodes': [{'id': 'a b', 'type': 'trigger'}]}", "", "nodes[0]", "id"},
    {"{'nodes': [{'type': 'trigger'}]}", "", "nodes[0]", "id"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 't', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 't'}]}",
     "t", "id", "unique"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'x', 'type': 'teleport'}]}",
     "x", "type", "unknown node type"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'x', 'type': 'stop', 'parms': {}}]}",
     "x", "parms", "unknown member"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': []}]}", "t",
     "params", "object"},
    {"{'nodes': [{'id': 's', 'type': 'stop'}]}", "", "nodes", "trigger"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'u', 'type': 'trigger', 'params': {'manual': true}}]}",
     "u", "type", "exactly one trigger"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {}}]}", "t", "event",
     "exactly one"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'event': "
     "'invoice.eaten'}}]}",
     "t", "event", "invoice.eaten"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'event': 7}}]}", "t",
     "event", "unknown event"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'event': "
     "'invoice.paid', 'manual': true}}]}",
     "t", "", "exactly one"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'webhook': "
     "'yes'}}]}",
     "t", "webhook", "true"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': "
     "false}}]}",
     "t", "manual", "true"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true, "
     "'timezone': 'UTC'}}]}",
     "t", "timezone", "only with cron"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true, "
     "'colour': 'red'}}]}",
     "t", "colour", "unknown trigger parameter"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'cron': 5}}]}", "t",
     "cron", "five fields"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'cron': 'every "
     "day'}}]}",
     "t", "cron", ""},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}}],"
     " 'edges': {}}",
     "", "edges", "array"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 'q', 'to': 's'}]}",
     "", "edges[0].from", "'q'"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'to': 's'}]}",
     "", "edges[0].from", "no from"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 'q'}]}",
     "t", "edges[0].to", "'q'"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 's', "
     "'weight': 1}]}",
     "", "edges[0]", "unknown member"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 's'}, "
     "{'from': 's', 'to': 't'}]}",
     "s", "edges[1].to", "into the trigger"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 's', "
     "'when': 'true'}]}",
     "t", "edges[0].when", "takes no when"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'c', 'type': 'condition', 'params': {'if': 'true'}}, {'id': "
     "'s', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 'c'}, {'from': "
     "'c', 'to': 's'}]}",
     "c", "edges[1].when", "\"true\" or \"false\""},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'c', 'type': 'condition', 'params': {'if': 'true'}}, {'id': "
     "'s', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 'c'}, {'from': "
     "'c', 'to': 's', 'when': 'maybe'}]}",
     "c", "edges[1].when", "maybe"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'w', 'type': 'switch', 'params': {'on': 'x', 'cases': ['a', "
     "'b']}}, {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': "
     "'w'}, {'from': 'w', 'to': 's', 'when': 'c'}]}",
     "w", "edges[1].when", "cases"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'stop'}], 'edges': [{'from': 't', 'to': 's'}, "
     "{'from': 't', 'to': 's'}]}",
     "t", "edges[1]", "twice"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'a', 'type': 'set'}, {'id': 'b', 'type': 'set'}], 'edges': "
     "[{'from': 't', 'to': 'a'}, {'from': 'a', 'to': 'b'}, {'from': 'b', "
     "'to': 'a'}]}",
     "a", "", "cycle"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'a', 'type': 'set'}, {'id': 'b', 'type': 'set'}], 'edges': "
     "[{'from': 't', 'to': 'a'}, {'from': 'b', 'to': 'b'}]}",
     "b", "", "cycle"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'a', 'type': 'set'}, {'id': 'lost', 'type': 'stop'}], 'edges': "
     "[{'from': 't', 'to': 'a'}]}",
     "lost", "", "no edge leads"},
    /* Each node's params through its type's rules (src/flow/nodes.c). */
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'w', 'type': 'wait', 'params': {'for': '3 fortnights'}}],"
     " 'edges': [{'from': 't', 'to': 'w'}]}",
     "w", "for", "duration"},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 'c', 'type': 'condition', 'params': {'if': '1 +'}}],"
     " 'edges': [{'from': 't', 'to': 'c', 'when': 'true'}]}",
     "c", "if", ""},
    {"{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'manual': true}},"
     " {'id': 's', 'type': 'send_message', 'params': {'to': 'customer'}}],"
     " 'edges': [{'from': 't', 'to': 's'}]}",
     "s", "text", "required"},
    {"{'name': 3, 'nodes': []}", "", "name", "string"},
    {"[1]", "", "", "object"},
    {"{'nodes': ", "", "", "not JSON"},
};

static void test_errors_name_node_and_param(void **state) {
  (void)state;
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    arena *a = arena_new();
    blueprint bp;
    bp_error e;
    int rc = parse(a, bad[i].text, &bp, &e);
    if (rc != -1) fail_msg("case %zu parsed: %s", i, bad[i].text);
    if (strcmp(e.node, bad[i].node) || strcmp(e.param, bad[i].param) ||
        !strstr(e.message, bad[i].says) || !e.message[0])
      fail_msg("case %zu: got node '%s' param '%s' message '%s'; want node "
               "'%s' param '%s' saying '%s'",
               i, e.node, e.param, e.message, bad[i].node, bad[i].param,
               bad[i].says);
    arena_free(a);
  }
}

static void test_size_caps(void **state) {
  (void)state;
  arena *a = arena_new();
  buf b;
  buf_init(&b, 0);
  /* A chain of BP_MAX_NODES nodes is fine; one more is refused. */
  for (int n = BP_MAX_NODES; n <= BP_MAX_NODES + 1; n++) {
    buf_reset(&b);
    buf_puts(&b, "{\"nodes\": [{\"id\": \"n0\", \"type\": \"trigger\", "
                 "\"params\": {\"manual\": true}}");
    for (int i = 1; i < n; i++)
      buf_printf(&b, ", {\"id\": \"n%d\", \"type\": \"set\"}", i);
    buf_puts(&b, "], \"edges\": [");
    for (int i = 1; i < n; i++)
      buf_printf(&b, "%s{\"from\": \"n%d\", \"to\": \"n%d\"}", i > 1 ? "," : "",
                 i - 1, i);
    buf_puts(&b, "]}");
    blueprint bp;
    bp_error e;
    int rc = bp_parse_text(a, buf_cstr(&b), &bp, &e);
    if (n == BP_MAX_NODES) {
      if (rc) fail_msg("%s", e.message);
      assert_int_equal(bp.nnodes, BP_MAX_NODES);
    } else {
      assert_int_equal(rc, -1);
      assert_string_equal(e.param, "nodes");
      assert_non_null(strstr(e.message, "at most"));
    }
  }
  /* Too many edges. */
  buf_reset(&b);
  buf_puts(&b, "{\"nodes\": [{\"id\": \"t\", \"type\": \"trigger\", "
               "\"params\": {\"manual\": true}}], \"edges\": [");
  for (int i = 0; i <= BP_MAX_EDGES; i++)
    buf_printf(&b, "%s{\"from\": \"t\", \"to\": \"t\"}", i ? "," : "");
  buf_puts(&b, "]}");
  blueprint bp;
  bp_error e;
  assert_int_equal(bp_parse_text(a, buf_cstr(&b), &bp, &e), -1);
  assert_string_equal(e.param, "edges");
  buf_free(&b);
  arena_free(a);
}

/* Edges come back grouped by their node in the order written; a switch
 * follows the edge of the case it took, and "default". */
static void test_branches_and_order(void **state) {
  (void)state;
  arena *a = arena_new();
  blueprint bp;
  bp_error e;
  int rc = parse(a,
                 "{'nodes': [{'id': 't', 'type': 'trigger', 'params': "
                 "{'webhook': true}}, {'id': 'sw', 'type': 'switch', 'params':"
                 " {'on': 'input.kind', 'cases': {'gold': 1, 'silver': 2}}},"
                 " {'id': 'g', 'type': 'set'}, {'id': 's', 'type': 'set'},"
                 " {'id': 'd', 'type': 'stop'}, {'id': 'e', 'type': 'stop'}],"
                 " 'edges': [{'from': 'sw', 'to': 's', 'when': 'silver'},"
                 " {'from': 't', 'to': 'sw'}, {'from': 'sw', 'to': 'g', "
                 "'when': 'gold'}, {'from': 'g', 'to': 'e'}, {'from': 'sw', "
                 "'to': 'd', 'when': 'default'}, {'from': 's', 'to': 'e'}]}",
                 &bp, &e);
  if (rc) fail_msg("%s (node '%s', param '%s')", e.message, e.node, e.param);
  assert_int_equal(bp.kind, BP_TRIGGER_WEBHOOK);
  for (int k = 1; k < bp.nedges; k++)
    assert_true(bp.edges[k - 1].from <= bp.edges[k].from);
  int next[8], sw = bp_find(&bp, "sw");
  assert_int_equal(bp_next(&bp, sw, "gold", next, 8), 1);
  assert_int_equal(next[0], bp_find(&bp, "g"));
  assert_int_equal(bp_next(&bp, sw, "default", next, 8), 1);
  assert_int_equal(next[0], bp_find(&bp, "d"));
  assert_int_equal(bp_next(&bp, sw, "bronze", next, 8), 0);
  /* Without a branch every edge is followed, in the order written. */
  assert_int_equal(bp_next(&bp, sw, NULL, next, 8), 3);
  assert_int_equal(next[0], bp_find(&bp, "s"));
  assert_int_equal(next[1], bp_find(&bp, "g"));
  assert_int_equal(next[2], bp_find(&bp, "d"));
  /* cap is respected */
  assert_int_equal(bp_next(&bp, sw, NULL, next, 2), 2);
  /* Two paths meeting again (a diamond) is not a cycle. */
  assert_int_equal(bp_next(&bp, bp_find(&bp, "s"), NULL, next, 8), 1);
  assert_int_equal(next[0], bp_find(&bp, "e"));
  arena_free(a);
}

static void test_manual_and_canvas_members(void **state) {
  (void)state;
  arena *a = arena_new();
  blueprint bp;
  bp_error e;
  int rc = parse(a,
                 "{'name': 'x', 'nodes': [{'id': 't', 'type': 'trigger', "
                 "'params': {'manual': true}, 'position': {'x': 1, 'y': 2}, "
                 "'label': 'Start'}, {'id': 'end', 'type': 'stop', 'params': "
                 "null}], 'edges': [{'from': 't', 'to': 'end', 'when': null}]}",
                 &bp, &e);
  if (rc) fail_msg("%s (node '%s', param '%s')", e.message, e.node, e.param);
  assert_int_equal(bp.kind, BP_TRIGGER_MANUAL);
  assert_int_equal(bp.nodes[1].params->type, JSON_OBJECT);
  assert_int_equal((int)bp.nodes[1].params->n, 0);
  assert_null(bp.edges[0].when);
  arena_free(a);
}

/* A cron trigger: the schedule and the zone are checked by cron.h. The
 * happy path needs the real cron parser; until it is there only the
 * refusals can be shown. */
static void test_cron_trigger(void **state) {
  (void)state;
  arena *a = arena_new();
  blueprint bp;
  bp_error e;
  cron_spec spec;
  char err[128];
  int cron_built = cron_parse("0 21 * * *", &spec, err, sizeof err) == 0;
  int rc = parse(a,
                 "{'nodes': [{'id': 't', 'type': 'trigger', 'params': "
                 "{'cron': '0 21 * * *'}}]}",
                 &bp, &e);
  if (cron_built) {
    if (rc) fail_msg("%s (node '%s', param '%s')", e.message, e.node, e.param);
    assert_int_equal(bp.kind, BP_TRIGGER_CRON);
    assert_string_equal(bp.cron, "0 21 * * *");
    assert_string_equal(bp.timezone, CRON_DEFAULT_TZ);
    rc = parse(a,
               "{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'cron': "
               "'30 9 * * mon', 'timezone': 'UTC'}}]}",
               &bp, &e);
    if (rc) fail_msg("%s", e.message);
    assert_string_equal(bp.timezone, "UTC");
  } else {
    assert_int_equal(rc, -1);
    assert_string_equal(e.node, "t");
    assert_string_equal(e.param, "cron");
  }
  rc = parse(a,
             "{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'cron': "
             "'0 21 * * *', 'timezone': 'Mars/Olympus'}}]}",
             &bp, &e);
  assert_int_equal(rc, -1);
  assert_string_equal(e.node, "t");
  assert_string_equal(e.param, cron_built ? "timezone" : "cron");
  rc = parse(a,
             "{'nodes': [{'id': 't', 'type': 'trigger', 'params': {'cron': "
             "'61 * * * *'}}]}",
             &bp, &e);
  assert_int_equal(rc, -1);
  assert_string_equal(e.param, "cron");
  arena_free(a);
}

static void test_error_reply(void **state) {
  (void)state;
  api_resp r;
  api_resp_init(&r);
  bp_error e = {"c", "if", "the condition does not parse"};
  bp_error_reply(&e, &r);
  assert_int_equal(r.status, 400);
  const char *body = buf_cstr(&r.body);
  assert_non_null(strstr(body, "\"code\":\"MU400\""));
  assert_non_null(strstr(body, "the condition does not parse"));
  assert_non_null(strstr(body, "node 'c', parameter 'if'"));
  bp_error g = {"", "nodes", "a blueprint needs at least a trigger node"};
  bp_error_reply(&g, &r);
  assert_non_null(strstr(buf_cstr(&r.body), "\"details\":\"parameter 'nodes'\""));
  api_resp_free(&r);
}

static void test_events_known(void **state) {
  (void)state;
  assert_true(bp_event_known("invoice.paid"));
  assert_true(bp_event_known("shipment.updated"));
  assert_false(bp_event_known("invoice"));
  assert_false(bp_event_known(NULL));
  assert_string_equal(bp_trigger_kind_name(BP_TRIGGER_CRON), "cron");
  assert_string_equal(bp_trigger_kind_name(BP_TRIGGER_WEBHOOK), "webhook");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_issue_example),
      cmocka_unit_test(test_errors_name_node_and_param),
      cmocka_unit_test(test_size_caps),
      cmocka_unit_test(test_branches_and_order),
      cmocka_unit_test(test_manual_and_canvas_members),
      cmocka_unit_test(test_cron_trigger),
      cmocka_unit_test(test_error_reply),
      cmocka_unit_test(test_events_known),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
