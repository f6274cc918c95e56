/* call.h - the one in-process call of the API's data endpoints, for callers
 * inside the program (the demo) and the tests: a request to
 * /rest/v1/<table> or /rest/v1/rpc/<op> for a principal the caller already
 * knows, without HTTP, answered by the same handlers HTTP reaches. */
#ifndef MUNSHI_REST_CALL_H
#define MUNSHI_REST_CALL_H

#include "base/api.h"
#include "db/db.h"

typedef struct rest_call_req {
  const api_principal *who;
  const char *method;  /* "GET", "POST", ... */
  const char *path;    /* "customers" or "rpc/create_invoice" */
  const char *query;   /* without '?'; NULL: none */
  const char *body;    /* NULL: none */
  /* Request headers (case-insensitive name; NULL when absent). cls is
   * handed back as the request's http field. May be NULL: no headers. */
  const char *(*header)(const api_req *r, const char *name);
  void *cls;
} rest_call_req;

/* Runs the request with memory from a and sets resp. Returns resp->status. */
int rest_call(db *d, arena *a, const rest_call_req *c, api_resp *resp);

#endif
