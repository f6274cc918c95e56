/* test_http_static.c - the files compiled in from web/ (src/http/static.c):
 * the landing page is there, "/" and "/dir/" mean index.html, nothing
 * climbs out, Content-Type by extension, ETag and 304, 405 on a file asked
 * with another method. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "http/static.h"

static const char *inm;
static const char *lookup(const api_req *r, const char *name) {
  (void)r;
  return strcmp(name, "if-none-match") ? NULL : inm;
}

static int serve(const char *method, const char *path, api_resp *resp) {
  api_req req = {0};
  req.method = method;
  req.path = path;
  req.query = "";
  req.header = lookup;
  api_resp_init(resp);
  static_serve(&req, resp);
  return resp->status;
}

static const char *hdr(const api_resp *r, const char *name) {
  for (int i = 0; i < r->nheaders; i++)
    if (!strcmp(r->headers[i].name, name)) return r->headers[i].value;
  return NULL;
}

static void test_find(void **state) {
  (void)state;
  const web_file *idx = static_find("/index.html");
  assert_non_null(idx);
  assert_ptr_equal(static_find("/"), idx);
  assert_true(idx->len > 100);
  assert_non_null(strstr((const char *)idx->data, "munshi"));
  assert_int_equal(idx->etag[0], '"');
  assert_null(static_find("/nope.html"));
  assert_null(static_find("index.html"));
  assert_null(static_find(""));
  assert_null(static_find(NULL));
  assert_null(static_find("/../index.html"));
  assert_null(static_find("/x/../index.html"));
  assert_null(static_find("/.."));
  assert_null(static_find("/\\index.html"));
  assert_null(static_find("/index.html/"));
}

static void test_types(void **state) {
  (void)state;
  assert_string_equal(static_content_type("/a.html"), "text/html; charset=utf-8");
  assert_string_equal(static_content_type("/a/b.CSS"), "text/css; charset=utf-8");
  assert_string_equal(static_content_type("/app.js"),
                      "text/javascript; charset=utf-8");
  assert_string_equal(static_content_type("/i.svg"), "image/svg+xml");
  assert_string_equal(static_content_type("/x"), "application/octet-stream");
  assert_string_equal(static_content_type("/v1.2/readme"),
                      "application/octet-stream");
}

static void test_serve(void **state) {
  (void)state;
  api_resp r;
  inm = NULL;
  assert_int_equal(serve("GET", "/", &r), 200);
  assert_string_equal(r.content_type, "text/html; charset=utf-8");
  const web_file *idx = static_find("/index.html");
  assert_int_equal(r.body.len, idx->len);
  assert_string_equal(hdr(&r, "ETag"), idx->etag);
  api_resp_free(&r);

  inm = idx->etag;
  assert_int_equal(serve("GET", "/", &r), 304);
  assert_int_equal(r.body.len, 0);
  api_resp_free(&r);
  char list[128];
  snprintf(list, sizeof list, "\"other\", W/%s", idx->etag);
  inm = list;
  assert_int_equal(serve("HEAD", "/index.html", &r), 304);
  api_resp_free(&r);
  inm = "\"stale\"";
  assert_int_equal(serve("GET", "/", &r), 200);
  api_resp_free(&r);

  inm = NULL;
  assert_int_equal(serve("POST", "/", &r), 405);
  assert_string_equal(hdr(&r, "Allow"), "GET, HEAD");
  api_resp_free(&r);
  assert_int_equal(serve("POST", "/missing", &r), 404);
  api_resp_free(&r);
  assert_int_equal(serve("GET", "/../../etc/passwd", &r), 404);
  api_resp_free(&r);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_find),
      cmocka_unit_test(test_types),
      cmocka_unit_test(test_serve),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
