/* testcall.h - calling the API's handlers in process, as the HTTP layer
 * would: a POST (or any method) to /rest/v1/<table> or /rest/v1/rpc/<op>
 * for a signed-in tenant, the answer parsed: rest_call (rest/call.h), the
 * one in-process call, with the answer parsed. Header-only, like testutil.h. */
#ifndef MUNSHI_TESTS_TESTCALL_H
#define MUNSHI_TESTS_TESTCALL_H

#include <string.h>

#include "base/api.h"
#include "base/json.h"
#include "db/db.h"
#include "rest/call.h"

/* Runs one request and returns its status; *answer is the parsed body (in
 * a) or NULL. rpc: 1 for an operation, 0 for a table. header answers the
 * request's headers (may return NULL for all). */
static inline int test_call(db *d, arena *a, const api_principal *who,
                            int rpc, const char *method, const char *path,
                            const char *query, const char *body,
                            const char *(*header)(const api_req *, const char *),
                            json **answer) {
  api_resp resp;
  api_resp_init(&resp);
  rest_call_req c = {.who = who,
                     .method = method,
                     .path = rpc ? arena_printf(a, "rpc/%s", path) : path,
                     .query = query,
                     .body = body,
                     .header = header};
  rest_call(d, a, &c, &resp);
  json_error je;
  *answer = NULL;
  if (resp.body.len) json_parse(a, resp.body.data, resp.body.len, answer, &je);
  int status = resp.status;
  api_resp_free(&resp);
  return status;
}

#endif
