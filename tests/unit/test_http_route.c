/* test_http_route.c - the route table's dispatcher (src/http/route.c) with
 * a table of the test's own: named segments and a trailing "*", 404 and
 * 405 with Allow, the access levels (public, API key, user, webhook), the
 * token from an access_token query parameter on the rows that allow it
 * (and only there), a bad token refused rather than taken as anonymous, and
 * the catch-all row that never turns a 405 into something else. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "http/route.h"

static const uint8_t SECRET[] = "route-test-secret-0123456789abcdef-xyz";
#define SECRET_LEN (sizeof SECRET - 1)

/* What the last handler saw. */
static struct {
  const char *name;
  api_role role;
  char sub[37];
  char p1[64], p2[64];
} seen;

static void remember(const char *name, api_req *req) {
  seen.name = name;
  seen.role = req->who.role;
  snprintf(seen.sub, sizeof seen.sub, "%s", req->who.sub);
  const char *a = api_param(req, "provider"), *b = api_param(req, "id");
  const char *star = api_param(req, "*");
  snprintf(seen.p1, sizeof seen.p1, "%s", a ? a : star ? star : "");
  snprintf(seen.p2, sizeof seen.p2, "%s", b ? b : "");
}

#define HANDLER(n)                                                       \
  static void h_##n(const route_ctx *rc, api_req *req, api_resp *resp) { \
    (void)rc;                                                            \
    (void)resp;                                                          \
    remember(#n, req);                                                   \
  }
HANDLER(health)
HANDLER(hook)
HANDLER(feed)
HANDLER(items)
HANDLER(files)
HANDLER(mine)
HANDLER(fallback)

static const route table[] = {
    {ROUTE_GET | ROUTE_HEAD, "/health", h_health, ROUTE_PUBLIC, 0, 0},
    {ROUTE_POST, "/webhooks/:provider/:id", h_hook, ROUTE_WEBHOOK, 0, 0},
    {ROUTE_GET, "/realtime/v1/sse", h_feed, ROUTE_USER, ROUTE_TOKEN_IN_QUERY, 0},
    {ROUTE_GET | ROUTE_POST, "/api/items", h_items, ROUTE_APIKEY, 0, 0},
    {ROUTE_GET, "/api/mine", h_mine, ROUTE_USER, 0, 0},
    {ROUTE_ANY, "/files/*", h_files, ROUTE_PUBLIC, 0, 0},
    {ROUTE_ANY, "/*", h_fallback, ROUTE_PUBLIC, ROUTE_FALLBACK, 0},
};

static const char *hdr_authz, *hdr_apikey;

static const char *lookup(const api_req *r, const char *name) {
  (void)r;
  if (!strcmp(name, "authorization")) return hdr_authz;
  if (!strcmp(name, "apikey")) return hdr_apikey;
  return NULL;
}

static auth *au;

static int setup(void **state) {
  (void)state;
  auth_config ac = {.secret = SECRET, .secret_len = SECRET_LEN,
                    .access_ttl_s = 3600, .hash_concurrency = 1,
                    .login_fails = 5};
  au = auth_new(&ac);
  return au ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  auth_free(au);
  return 0;
}

static db *no_db(void *cls, api_resp *resp) {
  (void)cls;
  api_fail(resp, E_UNAVAILABLE, NULL, NULL, NULL);
  return NULL;
}

/* Runs one request through the table; returns the status. */
static int call(const char *method, const char *path, const char *query,
                api_resp *resp, arena *a) {
  memset(&seen, 0, sizeof seen);
  api_req req = {0};
  req.a = a;
  req.method = method;
  req.path = path;
  req.query = query ? query : "";
  req.body = "";
  req.header = lookup;
  route_ctx rc = {.au = au, .get_db = no_db, .db_cls = NULL};
  api_resp_init(resp);
  route_dispatch(&rc, table, sizeof table / sizeof table[0], &req, resp);
  return resp->status;
}

static const char *key(const char *role, arena *a) {
  buf b;
  buf_init(&b, 0);
  assert_int_equal(auth_api_key(au, role, &b), 0);
  const char *k = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return k;
}

static const char *user_token(arena *a, const uint8_t *secret, size_t n) {
  char payload[512];
  long long now = (long long)time(NULL);
  snprintf(payload, sizeof payload,
           "{\"sub\":\"0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee\",\"role\":"
           "\"authenticated\",\"aud\":\"authenticated\",\"iat\":%lld,\"exp\":"
           "%lld,\"email\":\"u@example.com\",\"session_id\":"
           "\"0190aaaa-bbbb-7ccc-8ddd-ffffffffffff\"}",
           now, now + 600);
  buf b;
  buf_init(&b, 0);
  assert_int_equal(jwt_sign(secret, n, payload, &b), 0);
  const char *t = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return t;
}

static const char *header_of(const api_resp *r, const char *name) {
  for (int i = 0; i < r->nheaders; i++)
    if (!strcmp(r->headers[i].name, name)) return r->headers[i].value;
  return NULL;
}

static void test_match_params(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  hdr_authz = hdr_apikey = NULL;
  assert_int_equal(call("GET", "/health", NULL, &r, a), 200);
  assert_string_equal(seen.name, "health");
  api_resp_free(&r);

  assert_int_equal(call("POST", "/webhooks/whatsapp/42", NULL, &r, a), 200);
  assert_string_equal(seen.name, "hook");
  assert_string_equal(seen.p1, "whatsapp");
  assert_string_equal(seen.p2, "42");
  assert_int_equal(seen.role, ROLE_NONE);
  api_resp_free(&r);

  /* A named segment is one non-empty segment, no more. */
  assert_int_equal(call("POST", "/webhooks/whatsapp/42/x", NULL, &r, a), 200);
  assert_string_equal(seen.name, "fallback");
  api_resp_free(&r);
  assert_int_equal(call("POST", "/webhooks//42", NULL, &r, a), 200);
  assert_string_equal(seen.name, "fallback");
  api_resp_free(&r);

  /* A trailing star takes the rest, even nothing. */
  assert_int_equal(call("DELETE", "/files/a/b/c.txt", NULL, &r, a), 200);
  assert_string_equal(seen.name, "files");
  assert_string_equal(seen.p1, "a/b/c.txt");
  api_resp_free(&r);
  assert_int_equal(call("GET", "/files/", NULL, &r, a), 200);
  assert_string_equal(seen.name, "files");
  assert_string_equal(seen.p1, "");
  api_resp_free(&r);
  arena_free(a);
}

static void test_404_405(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  hdr_authz = hdr_apikey = NULL;
  /* Known path, wrong method: 405 with Allow, even with a catch-all row. */
  assert_int_equal(call("POST", "/health", NULL, &r, a), 405);
  assert_null(seen.name);
  assert_string_equal(header_of(&r, "Allow"), "GET, HEAD");
  assert_non_null(strstr(buf_cstr(&r.body), "PGRST117"));
  api_resp_free(&r);
  assert_int_equal(call("GET", "/webhooks/telegram/1", NULL, &r, a), 405);
  assert_string_equal(header_of(&r, "Allow"), "POST");
  api_resp_free(&r);
  assert_int_equal(call("PATCH", "/api/items", NULL, &r, a), 405);
  assert_string_equal(header_of(&r, "Allow"), "GET, POST");
  api_resp_free(&r);

  /* A table without the catch-all: unknown paths are 404. */
  api_req req = {0};
  req.a = a;
  req.method = "GET";
  req.path = "/nowhere";
  req.query = "";
  api_resp_init(&r);
  assert_null(route_match(table, 5, &req, &r));
  assert_int_equal(r.status, 404);
  assert_non_null(strstr(buf_cstr(&r.body), "PGRST125"));
  api_resp_free(&r);
  arena_free(a);
}

static void test_access(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  const char *anon = key("anon", a), *service = key("service_role", a);
  const char *user = user_token(a, SECRET, SECRET_LEN);
  static const uint8_t other[] = "another-secret-0123456789abcdef-0123";
  const char *forged = user_token(a, other, sizeof other - 1);

  /* API key rows: nothing is refused; the anon key is enough. */
  hdr_authz = hdr_apikey = NULL;
  assert_int_equal(call("GET", "/api/items", NULL, &r, a), 401);
  assert_null(seen.name);
  api_resp_free(&r);
  hdr_apikey = anon;
  assert_int_equal(call("GET", "/api/items", NULL, &r, a), 200);
  assert_int_equal(seen.role, ROLE_ANON);
  api_resp_free(&r);
  /* The bearer token wins over the apikey. */
  hdr_authz = arena_printf(a, "Bearer %s", user);
  assert_int_equal(call("GET", "/api/items", NULL, &r, a), 200);
  assert_int_equal(seen.role, ROLE_AUTHENTICATED);
  assert_string_equal(seen.sub, "0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee");
  api_resp_free(&r);

  /* A bad token is refused, never taken as anonymous. */
  hdr_authz = arena_printf(a, "Bearer %s", forged);
  assert_int_equal(call("GET", "/api/items", NULL, &r, a), 401);
  assert_null(seen.name);
  api_resp_free(&r);
  hdr_authz = "Basic abc";
  assert_int_equal(call("GET", "/api/items", NULL, &r, a), 401);
  assert_null(seen.name);
  api_resp_free(&r);

  /* User rows: the anon key is not enough; a user or the service key is. */
  hdr_authz = NULL;
  hdr_apikey = anon;
  assert_int_equal(call("GET", "/api/mine", NULL, &r, a), 401);
  assert_null(seen.name);
  api_resp_free(&r);
  hdr_authz = arena_printf(a, "Bearer %s", service);
  assert_int_equal(call("GET", "/api/mine", NULL, &r, a), 200);
  assert_int_equal(seen.role, ROLE_SERVICE);
  api_resp_free(&r);

  /* Webhook and public rows never read credentials: even a forged token
   * leaves the caller unidentified, for the handler to check. */
  hdr_authz = arena_printf(a, "Bearer %s", forged);
  assert_int_equal(call("POST", "/webhooks/x/1", NULL, &r, a), 200);
  assert_int_equal(seen.role, ROLE_NONE);
  api_resp_free(&r);
  arena_free(a);
}

static void test_token_in_query(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  const char *user = user_token(a, SECRET, SECRET_LEN);
  static const uint8_t other[] = "another-secret-0123456789abcdef-0123";
  const char *forged = user_token(a, other, sizeof other - 1);
  hdr_authz = hdr_apikey = NULL;

  /* Where the row allows it, access_token carries the token. */
  assert_int_equal(call("GET", "/realtime/v1/sse",
                        arena_printf(a, "x=1&access_token=%s", user), &r, a),
                   200);
  assert_string_equal(seen.name, "feed");
  assert_int_equal(seen.role, ROLE_AUTHENTICATED);
  api_resp_free(&r);
  /* Without it, the user row refuses. */
  assert_int_equal(call("GET", "/realtime/v1/sse", "x=1", &r, a), 401);
  api_resp_free(&r);
  /* A bad one is refused. */
  assert_int_equal(call("GET", "/realtime/v1/sse",
                        arena_printf(a, "access_token=%s", forged), &r, a),
                   401);
  assert_null(seen.name);
  api_resp_free(&r);
  assert_int_equal(call("GET", "/realtime/v1/sse", "access_token=", &r, a), 401);
  api_resp_free(&r);
  /* Twice, or beside an Authorization header: refused, not guessed. */
  assert_int_equal(call("GET", "/realtime/v1/sse",
                        arena_printf(a, "access_token=%s&access_token=%s",
                                     user, user),
                        &r, a),
                   401);
  api_resp_free(&r);
  hdr_authz = arena_printf(a, "Bearer %s", user);
  assert_int_equal(call("GET", "/realtime/v1/sse",
                        arena_printf(a, "access_token=%s", user), &r, a),
                   401);
  api_resp_free(&r);

  /* Rows without the flag do not read the query for a token. */
  hdr_authz = NULL;
  assert_int_equal(call("GET", "/api/mine",
                        arena_printf(a, "access_token=%s", user), &r, a),
                   401);
  assert_null(seen.name);
  api_resp_free(&r);
  arena_free(a);
}

static void test_method_bits(void **state) {
  (void)state;
  assert_int_equal(route_method_bit("GET"), ROUTE_GET);
  assert_int_equal(route_method_bit("DELETE"), ROUTE_DELETE);
  assert_int_equal(route_method_bit("get"), ROUTE_OTHER);
  assert_int_equal(route_method_bit("BREW"), ROUTE_OTHER);
  assert_int_equal(route_method_bit(NULL), ROUTE_OTHER);
}

/* The application's own table: the rows the issue lists are there, the
 * hashing auth routes are offloaded, and the catch-all is last. */
static void test_app_table(void **state) {
  (void)state;
  assert_true(http_routes_count >= 5);
  const route *last = &http_routes[http_routes_count - 1];
  assert_string_equal(last->pattern, "/*");
  assert_true(last->flags & ROUTE_FALLBACK);
  int offloaded = 0;
  for (size_t i = 0; i < http_routes_count; i++)
    if (http_routes[i].flags & ROUTE_OFFLOAD) {
      offloaded++;
      assert_int_equal(strncmp(http_routes[i].pattern, "/auth/v1/", 9), 0);
      assert_int_equal(http_routes[i].busy, E_AUTH_RATE_LIMIT);
    }
  assert_int_equal(offloaded, 3);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_match_params),
      cmocka_unit_test(test_404_405),
      cmocka_unit_test(test_access),
      cmocka_unit_test(test_token_in_query),
      cmocka_unit_test(test_method_bits),
      cmocka_unit_test(test_app_table),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
