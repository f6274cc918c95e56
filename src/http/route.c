/* route.c - matching a request against the route table, and checking who is
 * calling (see route.h).
 *
 * The caller's token is Authorization: Bearer <jwt>, else the apikey header
 * (supabase-js sends both; the apikey alone means the anon role), else, on
 * rows flagged ROUTE_TOKEN_IN_QUERY, the access_token query parameter. The
 * query string never reaches a log (server.c logs the path only), so a token
 * there stays out of the logs too. */
#include "http/route.h"

#include <string.h>

#include "base/url.h"

static const struct {
  const char *name;
  unsigned bit;
} methods[] = {{"GET", ROUTE_GET},     {"HEAD", ROUTE_HEAD},
               {"POST", ROUTE_POST},   {"PUT", ROUTE_PUT},
               {"PATCH", ROUTE_PATCH}, {"DELETE", ROUTE_DELETE}};

unsigned route_method_bit(const char *method) {
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (method && !strcmp(method, methods[i].name)) return methods[i].bit;
  return ROUTE_OTHER;
}

/* Matches path against pattern. On a match returns 1 and, when req is not
 * NULL, fills req->params (values copied into req->a). */
static int match(const char *pattern, const char *path, api_req *req) {
  const char *p = pattern, *s = path;
  int np = 0;
  while (*p) {
    if (p[0] == '*' && p[1] == '\0') {
      if (req) {
        if (np >= API_MAX_PARAMS) return 0; /* defensive: table error */
        req->params[np].name = "*";
        req->params[np].value = arena_strndup(req->a, s, strlen(s));
        np++;
      }
      goto done;
    }
    if (*p == ':') {
      const char *name = p + 1;
      const char *pe = strchr(p, '/');
      size_t nl = pe ? (size_t)(pe - name) : strlen(name);
      const char *se = strchr(s, '/');
      size_t sl = se ? (size_t)(se - s) : strlen(s);
      if (sl == 0) return 0;
      if (req) {
        if (np >= API_MAX_PARAMS) return 0;
        req->params[np].name = arena_strndup(req->a, name, nl);
        req->params[np].value = arena_strndup(req->a, s, sl);
        np++;
      }
      p = name + nl;
      s += sl;
      continue;
    }
    if (*p != *s) return 0;
    p++;
    s++;
  }
  if (*s) return 0;
done:
  if (req) req->nparams = np;
  return 1;
}

const route *route_match(const route *table, size_t n, api_req *req,
                         api_resp *resp) {
  unsigned bit = route_method_bit(req->method);
  unsigned allow = 0;
  for (size_t i = 0; i < n; i++) {
    if (!match(table[i].pattern, req->path, NULL)) continue;
    if ((table[i].flags & ROUTE_FALLBACK) && allow) continue;
    if (table[i].methods & bit) {
      match(table[i].pattern, req->path, req);
      return &table[i];
    }
    allow |= table[i].methods;
  }
  if (!allow) {
    api_failf(resp, E_NOT_FOUND_ROUTE, "no route for %.16s %.128s",
              req->method, req->path);
    return NULL;
  }
  buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
    if (allow & methods[i].bit) {
      if (b.len) buf_puts(&b, ", ");
      buf_puts(&b, methods[i].name);
    }
  const char *allow_text = arena_strndup(req->a, buf_cstr(&b), b.len);
  buf_free(&b);
  api_failf(resp, E_METHOD, "%.16s is not allowed on %.128s; use %s",
            req->method, req->path, allow_text);
  api_header(resp, "Allow", allow_text);
  return NULL;
}

/* Fills req->who from the headers (and the query when the row allows).
 * Returns -1 with resp set when a token is present but not valid. */
static int identify(const route_ctx *rc, const route *r, api_req *req,
                    api_resp *resp) {
  memset(&req->who, 0, sizeof req->who);
  const char *authz = req->header ? req->header(req, "authorization") : NULL;
  const char *apikey = req->header ? req->header(req, "apikey") : NULL;
  const char *token = NULL;
  if (authz) {
    token = api_bearer(req->a, authz);
    if (!token)
      return api_fail(resp, E_JWT, "Authorization must be \"Bearer <token>\"",
                      NULL, NULL);
  }
  if (r->flags & ROUTE_TOKEN_IN_QUERY) {
    const char *qt;
    int got = url_query_get(req->a, req->query, "access_token", &qt);
    if (got < 0)
      return api_fail(resp, E_JWT,
                      "access_token is malformed or given more than once",
                      NULL, NULL);
    if (got > 0) {
      if (token)
        return api_fail(resp, E_JWT,
                        "give the token once: Authorization or access_token",
                        NULL, NULL);
      if (!*qt) return api_fail(resp, E_JWT, "access_token is empty", NULL, NULL);
      token = qt;
    }
  }
  if (apikey && (!token || strcmp(apikey, token))) {
    api_principal key;
    if (auth_verify_or_reply(rc->au, req->a, apikey, &key, resp)) return -1;
    if (!token) {
      req->who = key;
      return 0;
    }
  }
  if (!token) return 0;
  return auth_verify_or_reply(rc->au, req->a, token, &req->who, resp);
}

void route_call(const route_ctx *rc, const route *r, api_req *req,
                api_resp *resp) {
  switch (r->access) {
  case ROUTE_PUBLIC:
  case ROUTE_WEBHOOK:
    memset(&req->who, 0, sizeof req->who);
    break;
  case ROUTE_APIKEY:
    if (identify(rc, r, req, resp)) return;
    if (req->who.role == ROLE_NONE) {
      api_fail(resp, E_NO_AUTH,
               "No API key found in request: send the anon key as the apikey "
               "header",
               NULL, NULL);
      return;
    }
    break;
  case ROUTE_USER:
    if (identify(rc, r, req, resp)) return;
    if (req->who.role != ROLE_AUTHENTICATED && req->who.role != ROLE_SERVICE) {
      api_fail(resp, E_NO_AUTH,
               "sign in and send the access token as Authorization: Bearer "
               "<token>",
               NULL, NULL);
      return;
    }
    break;
  }
  r->fn(rc, req, resp);
}

void route_dispatch(const route_ctx *rc, const route *table, size_t n,
                    api_req *req, api_resp *resp) {
  const route *r = route_match(table, n, req, resp);
  if (r) route_call(rc, r, req, resp);
}
