/* rest.c - the /rest/v1 handler: who may call, which table, which method,
 * and the limits every answer is held to.
 *
 * A request goes: role check -> table -> Prefer/Accept -> query_parse (names
 * checked, values typed) -> rest_read (GET, HEAD) or rest_insert (POST) or
 * rest_update_delete (PATCH, DELETE). Those build SQL through sql.c with
 * tenancy on every statement, and render rows with rest_render.c. Errors are
 * PostgREST's shape (rest_errors.c). */
#include "rest/rest.h"

#include <string.h>

#include "jobs/worker.h"
#include "rest/rest_int.h"

/* Set once at start (rest_set_limits), read by every worker after. */
static size_t max_response = REST_DEFAULT_MAX_RESPONSE;
static int64_t max_rows = REST_DEFAULT_MAX_ROWS;

void rest_set_limits(size_t response_bytes, int64_t rows) {
  max_response = response_bytes ? response_bytes : REST_DEFAULT_MAX_RESPONSE;
  max_rows = rows > 0 ? rows : REST_DEFAULT_MAX_ROWS;
}

size_t rest_max_response(void) { return max_response; }
int64_t rest_max_rows(void) { return max_rows; }

static void read_prefs(const api_req *req, rest_prefs *p) {
  memset(p, 0, sizeof *p);
  const char *h = req->header(req, "prefer");
  if (h) {
    if (strstr(h, "return=representation")) p->representation = 1;
    if (strstr(h, "count=exact") || strstr(h, "count=planned") ||
        strstr(h, "count=estimated"))
      p->count = 1;
  }
  const char *acc = req->header(req, "accept");
  if (acc && strstr(acc, "application/vnd.pgrst.object+json")) p->object = 1;
}

/* What is refused before the query string is read: no sign-in, no such
 * table, an unknown method, an upsert. */
static int check_request(const api_req *req, const rest_table **table,
                         api_resp *resp) {
  if (req->who.role != ROLE_AUTHENTICATED && req->who.role != ROLE_SERVICE)
    return api_fail(resp, E_NO_AUTH,
                    "permission denied: sign in and send the access token as "
                    "Authorization: Bearer <token>",
                    NULL, NULL);
  *table = schema_table(req->path, strlen(req->path));
  if (!*table)
    return api_failf(resp, E_NO_TABLE,
                     "Could not find the table 'public.%.64s' in the schema "
                     "cache",
                     req->path);
  const char *m = req->method;
  if (strcmp(m, "GET") && strcmp(m, "HEAD") && strcmp(m, "POST") &&
      strcmp(m, "PATCH") && strcmp(m, "DELETE"))
    return api_failf(resp, E_METHOD, "method %.16s is not supported on tables",
                     m);
  const char *pref = req->header(req, "prefer");
  if (pref && strstr(pref, "resolution="))
    return api_fail(resp, E_BAD_QUERY,
                    "upsert (Prefer: resolution=...) is not supported", NULL,
                    NULL);
  return 0;
}

int rest_handle(db *d, api_req *req, api_resp *resp) {
  const rest_table *t = NULL;
  if (check_request(req, &t, resp)) return 0;
  rest_prefs pf;
  read_prefs(req, &pf);
  rest_query q;
  query_error qe;
  if (query_parse(req->a, t, req->query, &q, &qe)) {
    rest_fail_query(resp, &qe);
    return 0;
  }
  const char *m = req->method;
  if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
    rest_read(d, req, &q, &pf, resp);
  else if (!strcmp(m, "POST"))
    rest_insert(d, req, &q, &pf, resp);
  else
    rest_update_delete(d, req, &q, &pf, !strcmp(m, "DELETE"), resp);
  /* A committed write may have made work (a customer.created event, an
   * activated workflow): the idle workers look now, not at their next
   * poll (measured: p99 event → workflow run 523 ms before, ~30 ms after). */
  if (strcmp(m, "GET") && strcmp(m, "HEAD") && resp->status < 300)
    jobs_wake();
  if (pf.object && resp->status < 300 && resp->body.len)
    resp->content_type = "application/vnd.pgrst.object+json; charset=utf-8";
  return 0;
}
