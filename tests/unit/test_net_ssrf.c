/* test_net_ssrf.c - the SSRF guard of outgoing requests (net/ssrf.c and
 * net_req.guard_private in net/http_client.c).
 *
 * The address ranges are checked one by one (IPv4, IPv6, IPv4 inside
 * IPv6); then real requests to a local fake: a guarded request to
 * 127.0.0.1, to "localhost", to the loopback written as one decimal
 * number, to [::1] is refused before anything is sent (the fake counts
 * nothing), the allow-list lets the one host:port through, and a redirect
 * from an allowed host to another loopback port is refused at connect. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakes/fake_server.h"
#include "net/http_client.h"
#include "net/ssrf.h"

static void test_ranges(void **state) {
  (void)state;
  static const char *const bad[] = {
      "127.0.0.1",   "127.255.0.9",    "10.1.2.3",        "172.16.0.1",
      "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
      "0.0.0.0",     "224.0.0.1",      "239.255.255.250", "255.255.255.255",
      "::1",         "::",             "fe80::1",         "fc00::1",
      "fd00:ec2::254", "ff02::1",      "::ffff:127.0.0.1", "::ffff:10.0.0.1",
      "::ffff:169.254.169.254", "64:ff9b::a00:1", "not an address", "",
      "198.18.0.1",  "fec0::1"};
  static const char *const good[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1",
                                     "100.128.0.1", "169.253.1.1",
                                     "2606:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808", "11.0.0.1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (!net_addr_text_forbidden(bad[i])) fail_msg("%s was allowed", bad[i]);
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (net_addr_text_forbidden(good[i])) fail_msg("%s was refused", good[i]);
}

static void test_allow_list(void **state) {
  (void)state;
  const char *l = "127.0.0.1:8080, [::1]:9000,Example.COM:443";
  assert_true(net_host_allowed(l, "127.0.0.1", 8080));
  assert_false(net_host_allowed(l, "127.0.0.1", 8081));
  assert_true(net_host_allowed(l, "::1", 9000));
  assert_true(net_host_allowed(l, "example.com", 443));
  assert_false(net_host_allowed(l, "example.com", 80));
  assert_false(net_host_allowed(l, "127.0.0.2", 8080));
  assert_false(net_host_allowed(NULL, "127.0.0.1", 8080));
  assert_false(net_host_allowed("", "127.0.0.1", 8080));
  assert_false(net_host_allowed("127.0.0.1:80x", "127.0.0.1", 80));
  assert_false(net_host_allowed("127.0.0.1", "127.0.0.1", 80));
}

static int get(const char *url, const char *allow, int follow, long *status,
               net_error *e) {
  net_req req = {.url = url, .guard_private = 1, .guard_allow = allow,
                 .follow_redirects = follow, .timeout_ms = 5000};
  net_result res;
  int rc = net_request(&req, &res);
  *status = res.status;
  *e = res.err;
  net_result_free(&res);
  return rc;
}

static void test_requests(void **state) {
  (void)state;
  unsetenv("http_proxy");
  unsetenv("HTTPS_PROXY");
  unsetenv("https_proxy");
  unsetenv("all_proxy");
  unsetenv("ALL_PROXY");
  fake_server *fs = fake_server_start();
  assert_non_null(fs);
  int port = fake_server_port(fs);
  char url[128], allow[64];
  long st;
  net_error e;

  /* Refused before anything is sent, however the loopback is written. */
  const char *forms[] = {"127.0.0.1", "localhost", "2130706433", "[::1]",
                         "0x7f.1", "[::ffff:127.0.0.1]"};
  for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
    snprintf(url, sizeof url, "http://%s:%d/x", forms[i], port);
    assert_int_equal(get(url, NULL, 0, &st, &e), -1);
    if (e != NET_EBLOCKED) fail_msg("%s: %s", url, net_error_name(e));
  }
  assert_int_equal(fake_server_count(fs), 0);
  assert_string_equal(net_error_name(NET_EBLOCKED), "blocked");

  /* The allow-list opens exactly its host:port. */
  snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/ok", port);
  fake_server_enqueue_simple(fs, 200, "text/plain", "fine");
  assert_int_equal(get(url, allow, 0, &st, &e), 0);
  assert_int_equal(st, 200);
  assert_int_equal(fake_server_count(fs), 1);
  snprintf(allow, sizeof allow, "127.0.0.1:%d", port + 1);
  assert_int_equal(get(url, allow, 0, &st, &e), -1);
  assert_int_equal(e, NET_EBLOCKED);
  assert_int_equal(fake_server_count(fs), 1);

  /* A redirect from an allowed host to another loopback port is refused
   * when the socket is opened. */
  fake_server *other = fake_server_start();
  assert_non_null(other);
  char loc[128];
  snprintf(loc, sizeof loc, "http://127.0.0.1:%d/inner",
           fake_server_port(other));
  fake_response *r = fake_response_new(302);
  fake_response_header(r, "Location", loc);
  fake_server_enqueue(fs, r);
  snprintf(allow, sizeof allow, "127.0.0.1:%d", port);
  assert_int_equal(get(url, allow, 1, &st, &e), -1);
  assert_int_equal(e, NET_EBLOCKED);
  assert_int_equal(fake_server_count(other), 0);

  /* Unguarded, the same request is sent: the guard is what refused. */
  net_req plain = {.url = loc};
  net_result res;
  fake_server_enqueue_simple(other, 200, "text/plain", "inner");
  assert_int_equal(net_request(&plain, &res), 0);
  net_result_free(&res);
  assert_int_equal(fake_server_count(other), 1);

  fake_server_stop(other);
  fake_server_stop(fs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_ranges),
      cmocka_unit_test(test_allow_list),
      cmocka_unit_test(test_requests),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
