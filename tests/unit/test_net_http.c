/* test_net_http.c - the outgoing HTTP client (src/net/http_client.c)
 * against local fake servers (tests/fakes/fake_server.h).
 *
 * Each test starts its own fake on 127.0.0.1, so what the client sent can
 * be compared byte for byte with what arrived. Retries are checked through
 * the policy's sleep callback, which records each wait instead of sleeping,
 * so backoff and Retry-After are asserted exactly and the tests stay fast.
 * Proxy variables are cleared first: the requests must reach the fakes
 * directly, except in the one test that sets a proxy on purpose. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "fakes/fake_server.h"
#include "net/http_client.h"

static fake_server *start_fake(void) {
  fake_server *fs = fake_server_start();
  assert_non_null(fs);
  assert_true(fake_server_port(fs) > 0);
  return fs;
}

static char *url_of(const fake_server *fs, const char *path) {
  static _Thread_local char u[512];
  snprintf(u, sizeof u, "%s%s", fake_server_url(fs), path);
  return u;
}

/* A port on 127.0.0.1 that nothing listens on: bound, noted, closed. */
static int closed_port(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s >= 0);
  struct sockaddr_in sin = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  assert_int_equal(bind(s, (struct sockaddr *)&sin, sizeof sin), 0);
  socklen_t len = sizeof sin;
  assert_int_equal(getsockname(s, (struct sockaddr *)&sin, &len), 0);
  close(s);
  return ntohs(sin.sin_port);
}

/* The sleep callback of the retry tests: records, never sleeps. */
typedef struct sleeps {
  long ms[16];
  int n;
} sleeps;

static void record_sleep(void *ctx, long ms) {
  sleeps *s = ctx;
  if (s->n < 16) s->ms[s->n] = ms;
  s->n++;
}

static net_retry_policy policy_with(sleeps *s) {
  net_retry_policy p = {.max_attempts = 3,
                        .base_backoff_ms = 100,
                        .max_backoff_ms = 5000,
                        .sleep_ms = record_sleep,
                        .sleep_ctx = s};
  return p;
}

/* ---- requests arrive as sent; answers come back as given ---- */

static void echo_handler(void *ctx, const fake_request *req,
                         fake_response *resp) {
  (void)ctx;
  resp->status = 201;
  fake_response_header(resp, "X-Request-Id", "req-42");
  fake_response_header(resp, "X-Other", "not asked for");
  fake_response_header(resp, "Content-Type", "text/plain");
  fake_response_body(resp, req->method, strlen(req->method));
  fake_response_body(resp, " ", 1);
  fake_response_body(resp, req->target, strlen(req->target));
}

static void test_get(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  const net_header hdrs[] = {{"Authorization", "Bearer abc.def"},
                             {"X-Trace", "a, b ;c"},
                             {"X-Empty", ""}};
  const char *keep[] = {"x-request-id", "Content-Type", "X-Missing"};
  net_req req = {.url = url_of(fs, "/v1/items?name=a%20b&x=1"),
                 .headers = hdrs,
                 .n_headers = 3,
                 .keep_headers = keep,
                 .n_keep = 3};
  net_result res;
  assert_int_equal(net_request(&req, &res), 0);
  assert_int_equal(res.err, NET_OK);
  assert_int_equal(res.status, 201);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(buf_cstr(&res.body), "GET /v1/items?name=a%20b&x=1");
  assert_int_equal(res.n_headers, 2);
  assert_string_equal(net_result_header(&res, "X-REQUEST-ID"), "req-42");
  assert_string_equal(net_result_header(&res, "content-type"), "text/plain");
  assert_null(net_result_header(&res, "X-Other"));
  assert_null(net_result_header(&res, "X-Missing"));

  assert_int_equal(fake_server_count(fs), 1);
  const fake_request *r = fake_server_request(fs, 0);
  assert_string_equal(r->method, "GET");
  assert_string_equal(r->path, "/v1/items");
  assert_string_equal(r->query, "name=a%20b&x=1");
  assert_string_equal(fake_request_header(r, "Authorization"),
                      "Bearer abc.def");
  assert_string_equal(fake_request_header(r, "X-Trace"), "a, b ;c");
  assert_non_null(fake_request_header(r, "X-Empty"));
  assert_string_equal(fake_request_header(r, "X-Empty"), "");
  assert_string_equal(fake_request_header(r, "User-Agent"),
                      "munshi/" MUNSHI_VERSION);
  assert_null(fake_request_header(r, "Content-Type"));
  assert_int_equal(r->body_len, 0);
  net_result_free(&res);
  fake_server_stop(fs);
}

static void test_post_bytes(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_response *fr = fake_response_new(200);
  fake_response_json(fr, "{\"ok\":true}");
  fake_server_enqueue(fs, fr);
  fake_server_enqueue_simple(fs, 204, NULL, NULL);

  /* Binary, NULs included, and long enough that libcurl would otherwise
   * ask for 100-continue. */
  static unsigned char body[70000];
  for (size_t i = 0; i < sizeof body; i++) body[i] = (unsigned char)(i * 7);
  const net_header hdrs[] = {{"Content-Type", "application/octet-stream"},
                             {"X-Api-Key", "k-123"}};
  net_req req = {.method = "POST",
                 .url = url_of(fs, "/upload"),
                 .headers = hdrs,
                 .n_headers = 2,
                 .body = body,
                 .body_len = sizeof body};
  net_result res;
  assert_int_equal(net_request(&req, &res), 0);
  assert_int_equal(res.status, 200);
  assert_string_equal(buf_cstr(&res.body), "{\"ok\":true}");
  net_result_free(&res);

  const fake_request *r = fake_server_request(fs, 0);
  assert_non_null(r);
  assert_string_equal(r->method, "POST");
  assert_string_equal(r->target, "/upload");
  assert_int_equal(r->body_len, sizeof body);
  assert_memory_equal(r->body, body, sizeof body);
  assert_string_equal(fake_request_header(r, "Content-Type"),
                      "application/octet-stream");
  assert_string_equal(fake_request_header(r, "Content-Length"), "70000");
  assert_string_equal(fake_request_header(r, "X-Api-Key"), "k-123");
  assert_null(fake_request_header(r, "Expect"));

  /* A body with no Content-Type from the caller gets none (libcurl would
   * call it a form). */
  net_req req2 = {.method = "POST",
                  .url = url_of(fs, "/text"),
                  .body = "a=b&c",
                  .body_len = 5};
  assert_int_equal(net_request(&req2, &res), 0);
  assert_int_equal(res.status, 204);
  assert_int_equal(res.body.len, 0);
  net_result_free(&res);
  r = fake_server_request(fs, 1);
  assert_null(fake_request_header(r, "Content-Type"));
  assert_int_equal(r->body_len, 5);
  assert_memory_equal(r->body, "a=b&c", 5);
  fake_server_stop(fs);
}

static void test_methods(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  const char *methods[] = {"PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"};
  for (size_t i = 0; i < 5; i++) {
    net_req req = {.method = methods[i],
                   .url = url_of(fs, "/m"),
                   .body = i < 2 ? "{}" : NULL,
                   .body_len = i < 2 ? 2 : 0};
    net_result res;
    assert_int_equal(net_request(&req, &res), 0);
    assert_int_equal(res.status, 201);
    const fake_request *r = fake_server_request(fs, i);
    assert_string_equal(r->method, methods[i]);
    assert_int_equal(r->body_len, i < 2 ? 2 : 0);
    if (strcmp(methods[i], "HEAD") == 0) assert_int_equal(res.body.len, 0);
    net_result_free(&res);
  }
  /* PUT with no body still says Content-Length: 0. */
  net_req put = {.method = "PUT", .url = url_of(fs, "/empty")};
  net_result res;
  assert_int_equal(net_request(&put, &res), 0);
  net_result_free(&res);
  assert_string_equal(
      fake_request_header(fake_server_request(fs, 5), "Content-Length"), "0");

  /* A method that is not a plain upper-case token is not sent. */
  const char *bad[] = {"get", "GET /x HTTP/1.1\r\nX:", "", "POST\n"};
  for (size_t i = 0; i < 4; i++) {
    net_req req = {.method = bad[i], .url = url_of(fs, "/m")};
    assert_int_equal(net_request(&req, &res), -1);
    assert_int_equal(res.err, NET_EBADREQ);
    net_result_free(&res);
  }
  assert_int_equal(fake_server_count(fs), 6);
  fake_server_stop(fs);
}

static void test_header_injection_refused(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  const net_header bad[][1] = {{{"X-A", "ok\r\nX-Injected: 1"}},
                               {{"X-A", "ok\nX-Injected: 1"}},
                               {{"X A", "v"}},
                               {{"X-A:", "v"}},
                               {{"", "v"}}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    net_req req = {.url = url_of(fs, "/h"), .headers = bad[i], .n_headers = 1};
    net_result res;
    assert_int_equal(net_request(&req, &res), -1);
    assert_int_equal(res.err, NET_EBADREQ);
    net_result_free(&res);
  }
  /* A length with no body behind it is refused, not read from NULL. */
  net_req nobody = {.method = "POST", .url = url_of(fs, "/h"), .body_len = 5};
  net_result res;
  assert_int_equal(net_request(&nobody, &res), -1);
  assert_int_equal(res.err, NET_EBADREQ);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 0);
  fake_server_stop(fs);
}

/* ---- limits ---- */

static void big_handler(void *ctx, const fake_request *req,
                        fake_response *resp) {
  (void)req;
  resp->chunked = *(int *)ctx;
  for (int i = 0; i < 100; i++) fake_response_body(resp, "0123456789", 10);
}

static void test_response_cap(void **state) {
  (void)state;
  for (int chunked = 0; chunked <= 1; chunked++) {
    fake_server *fs = start_fake();
    fake_server_set_handler(fs, big_handler, &chunked);
    net_req req = {.url = url_of(fs, "/big"), .max_response = 999};
    net_result res;
    assert_int_equal(net_request(&req, &res), -1);
    assert_int_equal(res.err, NET_ETOOLARGE);
    assert_int_equal(res.body.len, 0); /* nothing of it handed back */
    assert_null(res.body.data);
    net_result_free(&res);

    /* Exactly at the cap is allowed. */
    req.max_response = 1000;
    assert_int_equal(net_request(&req, &res), 0);
    assert_int_equal(res.status, 200);
    assert_int_equal(res.body.len, 1000);
    net_result_free(&res);
    fake_server_stop(fs);
  }
}

static void test_total_timeout(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_response *fr = fake_response_new(200);
  fr->delay_ms = 5000; /* stop cuts this short */
  fake_server_enqueue(fs, fr);
  net_req req = {.url = url_of(fs, "/slow"), .timeout_ms = 300};
  net_result res;
  int64_t t0 = time_mono_us();
  assert_int_equal(net_request(&req, &res), -1);
  int64_t took_ms = (time_mono_us() - t0) / 1000;
  assert_int_equal(res.err, NET_ETIMEOUT);
  assert_int_equal(res.status, 0);
  assert_true(took_ms >= 250 && took_ms < 2000);
  assert_string_equal(net_error_name(res.err), "timeout");
  net_result_free(&res);
  int64_t s0 = time_mono_us();
  fake_server_stop(fs);
  assert_true(time_mono_us() - s0 < 2000000);
}

static void test_connect_refused(void **state) {
  (void)state;
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", closed_port());
  net_req req = {.url = u, .connect_timeout_ms = 2000};
  net_result res;
  assert_int_equal(net_request(&req, &res), -1);
  assert_int_equal(res.err, NET_ECONNECT);
  assert_int_equal(res.status, 0);
  assert_true(strlen(res.message) > 0);
  net_result_free(&res);
}

static void test_bad_urls(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  char ftp[128], noscheme[128];
  snprintf(ftp, sizeof ftp, "ftp://127.0.0.1:%d/x", fake_server_port(fs));
  snprintf(noscheme, sizeof noscheme, "127.0.0.1:%d/x", fake_server_port(fs));
  const char *urls[] = {ftp,
                        noscheme,
                        "file:///etc/passwd",
                        "gopher://127.0.0.1/",
                        "dict://127.0.0.1/",
                        "",
                        "http://",
                        "not a url",
                        NULL};
  for (size_t i = 0; i < sizeof urls / sizeof urls[0]; i++) {
    net_req req = {.url = urls[i]};
    net_result res;
    assert_int_equal(net_request(&req, &res), -1);
    if (res.err != NET_EURL)
      fail_msg("%s: %s", urls[i] ? urls[i] : "(null)", net_error_name(res.err));
    net_result_free(&res);
  }
  assert_int_equal(fake_server_count(fs), 0);
  fake_server_stop(fs);
}

static void test_redirects(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  /* Not followed by default: the 302 is the answer. */
  fake_response *fr = fake_response_new(302);
  fake_response_header(fr, "Location", url_of(fs, "/there"));
  fake_server_enqueue(fs, fr);
  const char *keep[] = {"Location"};
  net_req req = {.url = url_of(fs, "/here"), .keep_headers = keep, .n_keep = 1};
  net_result res;
  assert_int_equal(net_request(&req, &res), 0);
  assert_int_equal(res.status, 302);
  assert_string_equal(net_result_header(&res, "location"),
                      url_of(fs, "/there"));
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 1);

  /* Followed when asked, and only the final response's headers are kept. */
  fr = fake_response_new(302);
  fake_response_header(fr, "Location", "/there");
  fake_server_enqueue(fs, fr);
  fake_server_enqueue_simple(fs, 200, "text/plain", "arrived");
  req.follow_redirects = 1;
  assert_int_equal(net_request(&req, &res), 0);
  assert_int_equal(res.status, 200);
  assert_string_equal(buf_cstr(&res.body), "arrived");
  assert_null(net_result_header(&res, "Location"));
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 3);
  assert_string_equal(fake_server_request(fs, 2)->path, "/there");

  /* A redirect to another scheme is refused even when following. */
  fr = fake_response_new(302);
  fake_response_header(fr, "Location", "file:///etc/passwd");
  fake_server_enqueue(fs, fr);
  assert_int_equal(net_request(&req, &res), -1);
  assert_int_equal(res.err, NET_EURL);
  net_result_free(&res);
  fake_server_stop(fs);
}

/* ---- TLS ---- */

static void test_https_to_plain_port(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  char u[64];
  snprintf(u, sizeof u, "https://127.0.0.1:%d/x", fake_server_port(fs));
  net_req req = {.url = u, .timeout_ms = 5000};
  net_result res;
  assert_int_equal(net_request(&req, &res), -1);
  if (res.err != NET_ETLS && res.err != NET_ECONNECT)
    fail_msg("got %s: %s", net_error_name(res.err), res.message);
  assert_int_equal(res.body.len, 0);
  net_result_free(&res);
  fake_server_stop(fs);
}

static void test_tls_verification(void **state) {
  (void)state;
  fake_server *fs = fake_server_start_tls();
  assert_non_null(fs);
  fake_server_set_handler(fs, echo_handler, NULL);
  assert_memory_equal(fake_server_url(fs), "https://", 8);

  /* A certificate nobody vouches for is refused, and nothing is sent. */
  net_req req = {.url = url_of(fs, "/secure")};
  net_result res;
  assert_int_equal(net_request(&req, &res), -1);
  assert_int_equal(res.err, NET_ETLS);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 0);

  /* The same server, its certificate trusted: the refusal above was the
   * verification, not a broken server. */
  req.ca_pem = fake_server_ca_pem(fs);
  assert_int_equal(net_request(&req, &res), 0);
  assert_int_equal(res.status, 201);
  assert_string_equal(buf_cstr(&res.body), "GET /secure");
  net_result_free(&res);

  /* Trusted, but the name does not match (localhost is not in it). */
  char u[64];
  snprintf(u, sizeof u, "https://localhost:%d/secure", fake_server_port(fs));
  req.url = u;
  assert_int_equal(net_request(&req, &res), -1);
  assert_int_equal(res.err, NET_ETLS);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 1);
  fake_server_stop(fs);
}

/* ---- proxies from the environment ---- */

static void test_proxy_from_env(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  setenv("http_proxy", fake_server_url(fs), 1);
  net_req req = {.url = "http://api.example.invalid/v1/ping?a=1"};
  net_result res;
  int rc = net_request(&req, &res);
  unsetenv("http_proxy");
  assert_int_equal(rc, 0);
  assert_int_equal(res.status, 201);
  net_result_free(&res);
  /* The proxy got the absolute URL; the name was never resolved here. */
  const fake_request *r = fake_server_request(fs, 0);
  assert_non_null(r);
  assert_string_equal(r->target, "http://api.example.invalid/v1/ping?a=1");
  assert_string_equal(fake_request_header(r, "Host"), "api.example.invalid");

  /* A proxy that is down is an error of its own... */
  char dead[64];
  snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
  net_req direct = {.url = url_of(fs, "/direct")};
  setenv("http_proxy", dead, 1);
  rc = net_request(&direct, &res);
  assert_int_equal(rc, -1);
  assert_int_equal(res.err, NET_ECONNECT);
  net_result_free(&res);
  /* ...and no_proxy sends a request around it, straight to the fake. No
   * name is looked up anywhere in this test: it stays on this machine. */
  setenv("no_proxy", "127.0.0.1", 1);
  rc = net_request(&direct, &res);
  unsetenv("http_proxy");
  unsetenv("no_proxy");
  assert_int_equal(rc, 0);
  assert_int_equal(res.status, 201);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 2);
  assert_string_equal(fake_server_request(fs, 1)->target, "/direct");
  fake_server_stop(fs);
}

/* ---- retries ---- */

static void test_retry_503_then_ok(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_enqueue_simple(fs, 503, "text/plain", "busy");
  fake_server_enqueue_simple(fs, 200, "text/plain", "done");
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  net_req req = {
      .method = "POST", .url = url_of(fs, "/op"), .body = "x", .body_len = 1};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.attempts, 2);
  assert_string_equal(buf_cstr(&res.body), "done");
  net_result_free(&res);
  assert_int_equal(s.n, 1);
  assert_true(s.ms[0] >= 50 && s.ms[0] <= 100); /* half to all of base */
  assert_int_equal(fake_server_count(fs), 2);
  assert_memory_equal(fake_server_request(fs, 1)->body, "x", 1);
  fake_server_stop(fs);
}

static void test_retry_exhausted_backoff(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  for (int i = 0; i < 4; i++) fake_server_enqueue_simple(fs, 502, NULL, "bad");
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  p.max_attempts = 4;
  p.max_backoff_ms = 300;
  net_req req = {.url = url_of(fs, "/op")};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 502); /* the last answer, as it was */
  assert_string_equal(buf_cstr(&res.body), "bad");
  assert_int_equal(res.attempts, 4);
  net_result_free(&res);
  assert_int_equal(s.n, 3);
  assert_true(s.ms[0] >= 50 && s.ms[0] <= 100);
  assert_true(s.ms[1] >= 100 && s.ms[1] <= 200);
  assert_true(s.ms[2] >= 150 && s.ms[2] <= 300); /* 400, capped at 300 */
  assert_int_equal(fake_server_count(fs), 4);
  fake_server_stop(fs);
}

static void test_retry_after_seconds(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_response *fr = fake_response_new(429);
  fake_response_header(fr, "Retry-After", "2");
  fake_server_enqueue(fs, fr);
  fr = fake_response_new(503);
  fake_response_header(fr, "Retry-After", "120"); /* over the cap */
  fake_server_enqueue(fs, fr);
  fake_server_enqueue_simple(fs, 200, NULL, "ok");
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  net_req req = {.url = url_of(fs, "/limited")};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.attempts, 3);
  net_result_free(&res);
  assert_int_equal(s.n, 2);
  assert_int_equal(s.ms[0], 2000);
  assert_int_equal(s.ms[1], 5000);
  fake_server_stop(fs);
}

static void test_retry_after_full_keep_list(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_response *fr = fake_response_new(503);
  fake_response_header(fr, "Retry-After", "3");
  fake_response_header(fr, "H7", "seven");
  fake_server_enqueue(fs, fr);
  fr = fake_response_new(200);
  fake_response_header(fr, "H15", "fifteen");
  fake_server_enqueue(fs, fr);
  /* As many names as a caller may ask for, Retry-After not among them:
   * the retry helper still sees it. */
  char names[NET_MAX_KEEP_HEADERS][8];
  const char *keep[NET_MAX_KEEP_HEADERS + 1];
  for (int i = 0; i < NET_MAX_KEEP_HEADERS; i++) {
    snprintf(names[i], sizeof names[i], "h%d", i);
    keep[i] = names[i];
  }
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  net_req req = {.url = url_of(fs, "/k"),
                 .keep_headers = keep,
                 .n_keep = NET_MAX_KEEP_HEADERS};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 200);
  assert_string_equal(net_result_header(&res, "h15"), "fifteen");
  assert_null(net_result_header(&res, "h7")); /* that was the 503's */
  net_result_free(&res);
  assert_int_equal(s.n, 1);
  assert_int_equal(s.ms[0], 3000);

  /* One name more than allowed is the caller's mistake, and nothing is
   * sent. */
  keep[NET_MAX_KEEP_HEADERS] = "one-too-many";
  req.n_keep = NET_MAX_KEEP_HEADERS + 1;
  assert_int_equal(net_request(&req, &res), -1);
  assert_int_equal(res.err, NET_EBADREQ);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), 2);
  fake_server_stop(fs);
}

static void imf_date(time_t t, char *out, size_t n) {
  struct tm tm;
  gmtime_r(&t, &tm);
  strftime(out, n, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void test_retry_after_date(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  char date[64];
  imf_date(time(NULL) + 4, date, sizeof date);
  fake_response *fr = fake_response_new(503);
  fake_response_header(fr, "Retry-After", date);
  fake_server_enqueue(fs, fr);
  fake_server_enqueue_simple(fs, 200, NULL, "ok");
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  /* The caller also asked for Retry-After itself: it is still seen. */
  const char *keep[] = {"Retry-After"};
  net_req req = {.url = url_of(fs, "/d"), .keep_headers = keep, .n_keep = 1};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 200);
  net_result_free(&res);
  assert_int_equal(s.n, 1);
  /* Four seconds ahead at the time of writing; whole seconds, and a second
   * may have ticked over since. */
  if (s.ms[0] < 2000 || s.ms[0] > 4000) fail_msg("waited %ld ms", s.ms[0]);
  assert_int_equal(s.ms[0] % 1000, 0);
  fake_server_stop(fs);
}

static void test_retry_after_parse(void **state) {
  (void)state;
  long ms = -1;
  /* 2026-10-21 07:28:00 UTC */
  const int64_t now = 1792567680;
  assert_int_equal(net_retry_after_ms("0", now, &ms), 0);
  assert_int_equal(ms, 0);
  assert_int_equal(net_retry_after_ms(" 17 ", now, &ms), 0);
  assert_int_equal(ms, 17000);
  assert_int_equal(
      net_retry_after_ms("Wed, 21 Oct 2026 07:28:30 GMT", now, &ms), 0);
  assert_int_equal(ms, 30000);
  /* The obsolete forms HTTP still asks recipients to accept. */
  assert_int_equal(
      net_retry_after_ms("Wednesday, 21-Oct-26 07:29:00 GMT", now, &ms), 0);
  assert_int_equal(ms, 60000);
  assert_int_equal(net_retry_after_ms("Wed Oct 21 07:28:05 2026", now, &ms), 0);
  assert_int_equal(ms, 5000);
  /* In the past: no wait. */
  assert_int_equal(
      net_retry_after_ms("Tue, 20 Oct 2026 07:28:00 GMT", now, &ms), 0);
  assert_int_equal(ms, 0);
  /* Huge values saturate instead of overflowing. */
  assert_int_equal(net_retry_after_ms("99999999999999999999999", now, &ms), 0);
  assert_true(ms > 0);
  ms = 123;
  assert_int_equal(net_retry_after_ms("soon", now, &ms), -1);
  assert_int_equal(net_retry_after_ms("12s", now, &ms), -1);
  assert_int_equal(net_retry_after_ms("-5", now, &ms), -1);
  assert_int_equal(net_retry_after_ms("", now, &ms), -1);
  assert_int_equal(net_retry_after_ms(NULL, now, &ms), -1);
  assert_int_equal(ms, 123);
}

static void test_no_retry_on_4xx(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_enqueue_simple(fs, 400, "application/json", "{\"e\":1}");
  fake_server_enqueue_simple(fs, 200, NULL, "never");
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  net_req req = {.url = url_of(fs, "/bad")};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 400);
  assert_int_equal(res.attempts, 1);
  assert_string_equal(buf_cstr(&res.body), "{\"e\":1}");
  net_result_free(&res);
  assert_int_equal(s.n, 0);
  assert_int_equal(fake_server_count(fs), 1);

  /* 500 is retried only when the policy says so. */
  fake_server_reset(fs);
  fake_server_enqueue_simple(fs, 500, NULL, NULL);
  fake_server_enqueue_simple(fs, 200, NULL, NULL);
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 500);
  net_result_free(&res);
  fake_server_reset(fs);
  fake_server_enqueue_simple(fs, 500, NULL, NULL);
  fake_server_enqueue_simple(fs, 200, NULL, NULL);
  p.retry_on_500 = 1;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 200);
  assert_int_equal(res.attempts, 2);
  net_result_free(&res);

  /* only_unprocessed: a 502 may have been acted on, so it is not retried;
   * a 503 says it was not. */
  fake_server_reset(fs);
  fake_server_enqueue_simple(fs, 502, NULL, NULL);
  p.only_unprocessed = 1;
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 502);
  assert_int_equal(res.attempts, 1);
  net_result_free(&res);
  fake_server_reset(fs);
  fake_server_enqueue_simple(fs, 503, NULL, NULL);
  fake_server_enqueue_simple(fs, 201, NULL, NULL);
  assert_int_equal(net_request_retry(&req, &p, &res), 0);
  assert_int_equal(res.status, 201);
  net_result_free(&res);
  fake_server_stop(fs);
}

static void test_retry_transport_errors(void **state) {
  (void)state;
  /* Connect refused every time: all attempts made, the error kept. */
  char u[64];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/x", closed_port());
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  net_req req = {.url = u};
  net_result res;
  assert_int_equal(net_request_retry(&req, &p, &res), -1);
  assert_int_equal(res.err, NET_ECONNECT);
  assert_int_equal(res.attempts, 3);
  assert_int_equal(s.n, 2);
  net_result_free(&res);

  /* A dropped connection, then an answer. */
  fake_server *fs = start_fake();
  fake_response *fr = fake_response_new(200);
  fr->drop = 1;
  fake_server_enqueue(fs, fr);
  fake_server_enqueue_simple(fs, 200, NULL, "second");
  s.n = 0;
  net_req req2 = {.url = url_of(fs, "/drop")};
  assert_int_equal(net_request_retry(&req2, &p, &res), 0);
  assert_string_equal(buf_cstr(&res.body), "second");
  assert_int_equal(res.attempts, 2);
  net_result_free(&res);

  /* The same drop without retries is a broken exchange. On a new
   * connection, that is: libcurl itself sends a request once more when a
   * connection it reused turns out to be closed, which is why this thread's
   * handle (and its idle connection) is dropped first. */
  net_thread_cleanup();
  fr = fake_response_new(200);
  fr->drop = 1;
  fake_server_enqueue(fs, fr);
  size_t before = fake_server_count(fs);
  assert_int_equal(net_request(&req2, &res), -1);
  assert_int_equal(res.err, NET_EBROKEN);
  net_result_free(&res);
  assert_int_equal(fake_server_count(fs), before + 1);

  /* A bad URL is not worth a second try. */
  s.n = 0;
  net_req req3 = {.url = "ftp://127.0.0.1/"};
  assert_int_equal(net_request_retry(&req3, &p, &res), -1);
  assert_int_equal(res.err, NET_EURL);
  assert_int_equal(res.attempts, 1);
  assert_int_equal(s.n, 0);
  net_result_free(&res);
  fake_server_stop(fs);
}

/* ---- secrets stay out of the log ---- */

static void test_no_secrets_in_log(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_enqueue_simple(fs, 200, NULL, "fine");
  fake_server_enqueue_simple(fs, 503, NULL, "busy");
  char path[] = "/tmp/munshi_net_log_XXXXXX";
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  int saved = dup(STDERR_FILENO);
  dup2(fd, STDERR_FILENO);
  log_set_level(LOG_DEBUG);

  const net_header hdrs[] = {{"Authorization", "Bearer TOKEN-AAAA"}};
  net_req req = {.method = "POST",
                 .url = url_of(fs, "/botSECRET-BBBB/send?key=SECRET-CCCC"),
                 .headers = hdrs,
                 .n_headers = 1,
                 .body = "{\"otp\":\"SECRET-DDDD\"}",
                 .body_len = 21};
  net_result res;
  int rc1 = net_request(&req, &res);
  net_result_free(&res);
  sleeps s = {0};
  net_retry_policy p = policy_with(&s);
  p.max_attempts = 2;
  fake_server_enqueue_simple(fs, 503, NULL, "busy");
  int rc2 = net_request_retry(&req, &p, &res);
  net_result_free(&res);
  char u[80];
  snprintf(u, sizeof u, "http://127.0.0.1:%d/botSECRET-EEEE", closed_port());
  req.url = u;
  int rc3 = net_request(&req, &res);
  net_result_free(&res);

  log_set_level(LOG_INFO);
  dup2(saved, STDERR_FILENO);
  close(saved);
  char text[8192];
  ssize_t n = pread(fd, text, sizeof text - 1, 0);
  close(fd);
  unlink(path);
  assert_true(n > 0);
  text[n] = '\0';
  assert_int_equal(rc1, 0);
  assert_int_equal(rc2, 0);
  assert_int_equal(rc3, -1);
  if (strstr(text, "TOKEN") || strstr(text, "SECRET") || strstr(text, "/bot"))
    fail_msg("a secret reached the log:\n%s", text);
  /* What is logged: method, host, status. */
  assert_non_null(strstr(text, "POST 127.0.0.1 -> 200"));
  assert_non_null(strstr(text, "failed: connect"));
  fake_server_stop(fs);
}

/* ---- threads: one handle each, all at once ---- */

typedef struct thread_arg {
  fake_server *fs;
  int ok;
} thread_arg;

static void *worker(void *p) {
  thread_arg *a = p;
  for (int i = 0; i < 20; i++) {
    char path[64];
    snprintf(path, sizeof path, "/t/%d", i);
    net_req req = {.url = url_of(a->fs, path)};
    net_result res;
    if (net_request(&req, &res) == 0 && res.status == 201) a->ok++;
    net_result_free(&res);
  }
  return NULL;
}

static void test_threads(void **state) {
  (void)state;
  fake_server *fs = start_fake();
  fake_server_set_handler(fs, echo_handler, NULL);
  pthread_t t[4];
  thread_arg a[4];
  for (int i = 0; i < 4; i++) {
    a[i] = (thread_arg){.fs = fs};
    assert_int_equal(pthread_create(&t[i], NULL, worker, &a[i]), 0);
  }
  for (int i = 0; i < 4; i++) {
    pthread_join(t[i], NULL);
    assert_int_equal(a[i].ok, 20);
  }
  assert_int_equal(fake_server_count(fs), 80);
  assert_int_equal(fake_server_wait(fs, 80, 10), 0);
  assert_int_equal(fake_server_wait(fs, 81, 50), -1);
  fake_server_stop(fs);
}

static void test_strerror(void **state) {
  (void)state;
  for (int e = NET_OK; e <= NET_EOTHER; e++) {
    assert_non_null(net_strerror((net_error)e));
    assert_non_null(net_error_name((net_error)e));
  }
  assert_string_equal(net_error_name(NET_ETLS), "tls");
  assert_string_equal(net_strerror((net_error)99), "unknown error");
}

int main(void) {
  const char *proxies[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                           "all_proxy",  "ALL_PROXY",   "no_proxy",
                           "NO_PROXY",   "HTTP_PROXY"};
  for (size_t i = 0; i < sizeof proxies / sizeof proxies[0]; i++)
    unsetenv(proxies[i]);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_get),
      cmocka_unit_test(test_post_bytes),
      cmocka_unit_test(test_methods),
      cmocka_unit_test(test_header_injection_refused),
      cmocka_unit_test(test_response_cap),
      cmocka_unit_test(test_total_timeout),
      cmocka_unit_test(test_connect_refused),
      cmocka_unit_test(test_bad_urls),
      cmocka_unit_test(test_redirects),
      cmocka_unit_test(test_https_to_plain_port),
      cmocka_unit_test(test_tls_verification),
      cmocka_unit_test(test_proxy_from_env),
      cmocka_unit_test(test_retry_503_then_ok),
      cmocka_unit_test(test_retry_exhausted_backoff),
      cmocka_unit_test(test_retry_after_seconds),
      cmocka_unit_test(test_retry_after_full_keep_list),
      cmocka_unit_test(test_retry_after_date),
      cmocka_unit_test(test_retry_after_parse),
      cmocka_unit_test(test_no_retry_on_4xx),
      cmocka_unit_test(test_retry_transport_errors),
      cmocka_unit_test(test_no_secrets_in_log),
      cmocka_unit_test(test_threads),
      cmocka_unit_test(test_strerror),
  };
  int rc = cmocka_run_group_tests(tests, NULL, NULL);
  net_thread_cleanup();
  return rc;
}
