/* route.h - the route table: which handler serves which method and path,
 * and who may call it.
 *
 * A route is one row {methods, pattern, handler, access, flags}. Patterns
 * are literal segments, ":name" segments (one non-empty segment, readable
 * by the handler as api_param(req, "name")) and an optional trailing "*"
 * (the rest of the path, possibly empty, as api_param(req, "*")). Rows are
 * tried in order; the first whose pattern and method match wins. A path that
 * some row matches with another method is answered 405 with Allow; a path no
 * row matches, 404. A module adds its endpoints by adding rows to the table
 * in http/routes.c (see docs/architecture.md). */
#ifndef MUNSHI_HTTP_ROUTE_H
#define MUNSHI_HTTP_ROUTE_H

#include <stddef.h>

#include "auth/auth.h"
#include "base/api.h"
#include "db/db.h"

/* Methods a row answers; ROUTE_ANY also takes methods not listed here. */
enum {
  ROUTE_GET = 1 << 0,
  ROUTE_HEAD = 1 << 1,
  ROUTE_POST = 1 << 2,
  ROUTE_PUT = 1 << 3,
  ROUTE_PATCH = 1 << 4,
  ROUTE_DELETE = 1 << 5,
  ROUTE_OTHER = 1 << 6,
  ROUTE_ANY = 0x7f
};

/* Who may call. The dispatcher enforces it before the handler runs. */
typedef enum {
  ROUTE_PUBLIC,  /* anyone; credentials are not read (the handler may) */
  ROUTE_APIKEY,  /* the anon key at least (apikey or Authorization) */
  ROUTE_USER,    /* a signed-in user's access token, or the service key */
  ROUTE_WEBHOOK  /* anyone here; the handler checks the provider signature */
} route_access;

/* Row flags. */
enum {
  /* The token may come from an access_token query parameter, for browser
   * EventSource and WebSocket clients that cannot set headers. */
  ROUTE_TOKEN_IN_QUERY = 1 << 0,
  /* Slow (password hashing, later LLM calls): runs on the offload pool, not
   * on an HTTP worker; a full queue answers 429 (the row's busy error). */
  ROUTE_OFFLOAD = 1 << 1,
  /* A catch-all (the static files): taken only for paths no other row
   * matches, so a known path with a wrong method stays 405. */
  ROUTE_FALLBACK = 1 << 2,
  /* Business operations: run on the operations pool (its threads mostly
   * wait for their turn in a group commit, biz/run.h), so that many of them
   * can wait together and share one commit instead of being limited to the
   * few HTTP workers; a full queue answers the row's busy error. */
  ROUTE_OPS = 1 << 3,
  /* CPU-bound rendering (invoice PDFs): runs on a small pool of its own, so
   * that neither the HTTP workers (health, REST) nor the offload pool
   * (sign-ins) wait behind a flood of it; a full queue answers the row's
   * busy error. */
  ROUTE_RENDER = 1 << 4
};

/* What handlers get besides the request. A module whose handlers need state
 * of their own adds a field here and sets it in server.c. */
typedef struct route_ctx {
  auth *au;
  /* The calling thread's database connection; NULL with resp set (503). */
  db *(*get_db)(void *cls, api_resp *resp);
  void *db_cls;
  struct rt_server *rt; /* realtime (the WebSocket route), or NULL */
  struct http_streams *streams; /* open SSE answers (http/stream.h) */
} route_ctx;

/* A handler fills resp (api_fail for errors). */
typedef void (*route_fn)(const route_ctx *rc, api_req *req, api_resp *resp);

typedef struct route {
  unsigned methods;
  const char *pattern;
  route_fn fn;
  route_access access;
  unsigned flags;
  api_error busy; /* ROUTE_OFFLOAD rows: the 429 error when the pool is full */
} route;

/* The ROUTE_* bit of a method name (ROUTE_OTHER for unknown ones). */
unsigned route_method_bit(const char *method);

/* Finds the row for req->method and req->path, fills req->params, and
 * returns it; or returns NULL with resp set to 404, or to 405 with an Allow
 * header (allocated in req->a). */
const route *route_match(const route *table, size_t n, api_req *req,
                         api_resp *resp);

/* Identifies the caller as the row's access asks (req->who), refuses with
 * resp set when not allowed, else calls the handler. A token that is present
 * but invalid is refused, never taken as anonymous. */
void route_call(const route_ctx *rc, const route *r, api_req *req,
                api_resp *resp);

/* route_match, then route_call. */
void route_dispatch(const route_ctx *rc, const route *table, size_t n,
                    api_req *req, api_resp *resp);

/* The application's table (http/routes.c). */
extern const route http_routes[];
extern const size_t http_routes_count;

#endif
