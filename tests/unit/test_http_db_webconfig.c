/* test_http_db_webconfig.c - GET /config.js (http/webconfig.c) on a real
 * database, SQLite or PostgreSQL as argv[1] says: a new installation (no
 * account) says first_run true, so the dashboard greets its first visitor
 * with sign-up; once anyone has signed up it says false; the anon key it
 * gives is a valid anon key of this server; other methods are 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "testutil.h"

#include "auth/auth.h"
#include "base/api.h"
#include "base/arena.h"
#include "http/webconfig.h"

static const uint8_t SECRET[] = "webconfig-test-secret-0123456789abcdef";

static auth *new_auth(void) {
  auth_config ac = {.secret = SECRET, .secret_len = sizeof SECRET - 1};
  auth *au = auth_new(&ac);
  assert_non_null(au);
  return au;
}

/* Serves one request; the body in out (a C string). Returns the status. */
static int serve(auth *au, db *d, const char *method, char *out, size_t cap) {
  arena *a = arena_new();
  api_req req = {.a = a, .method = method, .path = "/config.js", .query = "",
                 .body = "", .remote = "127.0.0.1"};
  api_resp resp;
  api_resp_init(&resp);
  webconfig_serve(au, d, &req, &resp);
  int st = resp.status;
  snprintf(out, cap, "%s", buf_cstr(&resp.body));
  if (st == 200) assert_string_equal(resp.content_type, "text/javascript; charset=utf-8");
  api_resp_free(&resp);
  arena_free(a);
  return st;
}

static void test_first_run_then_not(void **state) {
  (void)state;
  db *d = test_db_open_migrated(NULL);
  auth *au = new_auth();
  char body[2048];
  assert_int_equal(serve(au, d, "GET", body, sizeof body), 200);
  assert_non_null(strstr(body, "\"first_run\": true"));
  /* The key is this server's anon key: the same bytes auth_api_key gives. */
  buf k;
  buf_init(&k, 0);
  assert_int_equal(auth_api_key(au, "anon", &k), 0);
  char want[1024];
  snprintf(want, sizeof want, "window.MUNSHI_CONFIG = {\"anon_key\": \"%s\", "
           "\"first_run\": true};\n", buf_cstr(&k));
  assert_string_equal(body, want);
  buf_free(&k);

  char id[37];
  test_tenant(d, NULL, id);
  assert_int_equal(serve(au, d, "GET", body, sizeof body), 200);
  assert_non_null(strstr(body, "\"first_run\": false"));
  assert_null(strstr(body, "true"));
  auth_free(au);
  test_db_close(d);
}

static void test_methods_and_no_db(void **state) {
  (void)state;
  auth *au = new_auth();
  char body[2048];
  assert_int_equal(serve(au, NULL, "POST", body, sizeof body), 405);
  assert_non_null(strstr(body, "PGRST117"));
  /* Without a database nothing is claimed: not a new installation. */
  assert_int_equal(serve(au, NULL, "HEAD", body, sizeof body), 200);
  assert_non_null(strstr(body, "\"first_run\": false"));
  auth_free(au);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_first_run_then_not),
      cmocka_unit_test(test_methods_and_no_db),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
