/* auth.c - the auth object and the /auth/v1 routes (a GoTrue subset).
 *
 * The answers copy GoTrue's shapes closely enough that @supabase/supabase-js
 * works unchanged: a session is {access_token, token_type, expires_in,
 * expires_at, refresh_token, user}, errors are {error, error_description}.
 * This file holds what the endpoints share at run time (the JWT secret, the
 * password hasher, the attempt limiters) and sends each request to its
 * endpoint; auth_int.h lists the files that do the work. */
#include "auth/auth_int.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/url.h"

/* Slots per limiter table: 8192 * 24 bytes, about 200 KiB each. */
#define LIMIT_SLOTS 8192

static int or_default(int v, int dflt) {
  return v > 0 ? v : dflt;
}

/* The three limiters share the waits and differ in free attempts. */
static void limiters_new(auth *au, const auth_config *cfg) {
  ratelimit_policy p = {
      .backoff_s = or_default(cfg->backoff_s, 30),
      .max_s = or_default(cfg->backoff_max_s, 900),
      .window_s = or_default(cfg->limit_window_s, 3600),
  };
  p.free = or_default(cfg->login_fails, 5);
  au->rl_login = ratelimit_new(&p, LIMIT_SLOTS);
  p.free = or_default(cfg->login_addr_fails, 20);
  au->rl_addr = ratelimit_new(&p, LIMIT_SLOTS);
  p.free = or_default(cfg->signups_per_addr, 10);
  au->rl_signup = ratelimit_new(&p, LIMIT_SLOTS);
  au->limit_clock_s = cfg->limit_clock_s;
}

auth *auth_new(const auth_config *cfg) {
  if (!cfg || !cfg->secret || cfg->secret_len == 0) return NULL;
  auth *au = xcalloc(1, sizeof *au);
  au->magic = AUTH_MAGIC;
  au->secret = xmalloc(cfg->secret_len);
  memcpy(au->secret, cfg->secret, cfg->secret_len);
  au->secret_len = cfg->secret_len;
  au->access_ttl_s = or_default(cfg->access_ttl_s, 3600);
  au->pw = pw_hasher_new(or_default(cfg->hash_concurrency, 2));
  limiters_new(au, cfg);
  pthread_mutex_init(&au->dummy_mu, NULL);
  if (!au->pw || !au->rl_login || !au->rl_addr || !au->rl_signup) {
    auth_free(au);
    return NULL;
  }
  return au;
}

void auth_free(auth *au) {
  if (!au) return;
  pw_hasher_free(au->pw);
  ratelimit_free(au->rl_login);
  ratelimit_free(au->rl_addr);
  ratelimit_free(au->rl_signup);
  pthread_mutex_destroy(&au->dummy_mu);
  /* The secret signs every token; do not leave it in freed memory. */
  explicit_bzero(au->secret, au->secret_len);
  free(au->secret);
  explicit_bzero(au, sizeof *au);
  free(au);
}

static int token_route(auth *au, db *d, api_req *req, api_resp *resp) {
  const char *grant;
  int rc = url_query_get(req->a, req->query, "grant_type", &grant);
  if (rc < 0)
    return api_fail(resp, E_AUTH_BAD_GRANT, "Malformed query string", NULL,
                    NULL);
  if (rc > 0 && strcmp(grant, "password") == 0)
    return auth_grant_password(au, d, req, resp);
  if (rc > 0 && strcmp(grant, "refresh_token") == 0)
    return auth_grant_refresh(au, d, req, resp);
  return api_fail(resp, E_AUTH_BAD_GRANT, NULL, NULL, NULL);
}

/* Handlers follow the _or_reply contract (-1: the error is set); the
 * response is complete either way, so auth_handle itself always says 0. */
static int route(auth *au, db *d, api_req *req, api_resp *resp) {
  static const struct {
    const char *path, *method;
    int (*run)(auth *, db *, api_req *, api_resp *);
  } routes[] = {
      {"signup", "POST", auth_signup},
      {"token", "POST", token_route},
      {"user", "GET", auth_get_user},
      {"logout", "POST", auth_logout},
  };
  const char *path = req->path ? req->path : "";
  const char *m = req->method ? req->method : "";
  for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
    if (strcmp(path, routes[i].path)) continue;
    if (strcmp(m, routes[i].method))
      return api_fail(resp, E_METHOD, NULL, NULL, NULL);
    return routes[i].run(au, d, req, resp);
  }
  return api_failf(resp, E_NOT_FOUND_ROUTE, "No auth endpoint /auth/v1/%.64s",
                   path);
}

int auth_handle(auth *au, db *d, api_req *req, api_resp *resp) {
  assert(au && au->magic == AUTH_MAGIC);
  (void)route(au, d, req, resp);
  return 0;
}
