/* test_http_proxy.c - the trusted proxy list and the client address behind
 * it (src/http/proxy.c): IPv4 and IPv6 addresses and CIDR blocks, bad
 * entries refused with their text, and X-Forwarded-For believed only from a
 * trusted peer, read right to left past the trusted hops. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "http/proxy.h"

static void test_parse(void **state) {
  (void)state;
  proxy_list l;
  char err[200];
  assert_int_equal(proxy_list_parse(NULL, &l, err, sizeof err), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(proxy_list_parse("", &l, err, sizeof err), 0);
  assert_int_equal(l.n, 0);
  assert_int_equal(
      proxy_list_parse(" 127.0.0.1, 10.0.0.0/8 ,fd00::/8,::1,, 192.168.1.7/32",
                       &l, err, sizeof err),
      0);
  assert_int_equal(l.n, 5);

  const char *bad[] = {"10.0.0.0/33", "::/129",      "1.2.3",    "10.0.0.0/",
                       "10.0.0.0/x",  "example.com", "1.2.3.4/-1", "[::1]/64",
                       "1.2.3.4/0008"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_equal(proxy_list_parse(bad[i], &l, err, sizeof err), -1);
    assert_non_null(strstr(err, "trusted proxies"));
  }
  assert_int_equal(proxy_list_parse("127.0.0.1, nope", &l, err, sizeof err), -1);
  assert_non_null(strstr(err, "nope"));
}

static void test_trusted(void **state) {
  (void)state;
  proxy_list l;
  char err[200];
  assert_int_equal(proxy_list_parse("10.1.0.0/16, 192.168.5.5, 2001:db8::/32, "
                                    "172.16.0.0/12",
                                    &l, err, sizeof err),
                   0);
  assert_true(proxy_trusted(&l, "10.1.200.3"));
  assert_false(proxy_trusted(&l, "10.2.0.1"));
  assert_true(proxy_trusted(&l, "192.168.5.5"));
  assert_false(proxy_trusted(&l, "192.168.5.6"));
  assert_true(proxy_trusted(&l, "172.31.255.255"));
  assert_false(proxy_trusted(&l, "172.32.0.0"));
  assert_true(proxy_trusted(&l, "2001:db8:1::5"));
  assert_false(proxy_trusted(&l, "2001:db9::5"));
  /* A dual-stack socket's mapped IPv4 peer matches the IPv4 entry. */
  assert_true(proxy_trusted(&l, "::ffff:10.1.0.9"));
  assert_false(proxy_trusted(&l, "garbage"));
  assert_false(proxy_trusted(&l, NULL));
  /* An IPv4 block does not swallow IPv6 addresses and back. */
  assert_int_equal(proxy_list_parse("0.0.0.0/0", &l, err, sizeof err), 0);
  assert_true(proxy_trusted(&l, "8.8.8.8"));
  assert_false(proxy_trusted(&l, "2001:db8::1"));
  assert_int_equal(proxy_list_parse("::/0", &l, err, sizeof err), 0);
  assert_true(proxy_trusted(&l, "2001:db8::1"));
}

static const char *pick(const proxy_list *l, const char *peer,
                        const char *const *xff, size_t n) {
  static char out[PROXY_ADDR_MAX];
  proxy_client(l, peer, xff, n, out);
  return out;
}

static void test_client(void **state) {
  (void)state;
  proxy_list l;
  char err[200];
  assert_int_equal(proxy_list_parse("127.0.0.1, 10.0.0.0/8", &l, err, sizeof err),
                   0);
  const char *one[] = {"203.0.113.7"};
  /* Untrusted peer: the header is ignored. */
  assert_string_equal(pick(&l, "198.51.100.1", one, 1), "198.51.100.1");
  /* Trusted peer: the address it names. */
  assert_string_equal(pick(&l, "127.0.0.1", one, 1), "203.0.113.7");
  /* No header: the peer. */
  assert_string_equal(pick(&l, "127.0.0.1", NULL, 0), "127.0.0.1");
  /* Right-most untrusted: what the client wrote on the left is not
   * believed, the trusted hops on the right are skipped. */
  const char *chain[] = {"1.1.1.1, 203.0.113.9, 10.0.0.5 ,10.2.3.4"};
  assert_string_equal(pick(&l, "10.9.9.9", chain, 1), "203.0.113.9");
  /* Several headers are one list, in order. */
  const char *split[] = {"1.1.1.1, 203.0.113.9", "10.0.0.5"};
  assert_string_equal(pick(&l, "127.0.0.1", split, 2), "203.0.113.9");
  /* All trusted: the left-most. */
  const char *inner[] = {"10.0.0.1, 10.0.0.2"};
  assert_string_equal(pick(&l, "127.0.0.1", inner, 1), "10.0.0.1");
  /* Garbage where the client would be: the peer, not a made-up address. */
  const char *junk[] = {"1.1.1.1, <script>, 10.0.0.2"};
  assert_string_equal(pick(&l, "127.0.0.1", junk, 1), "127.0.0.1");
  /* Ports and brackets as some proxies write them; IPv6 clients. */
  const char *ports[] = {"[2001:db8::7]:443, 203.0.113.4:5555"};
  assert_string_equal(pick(&l, "127.0.0.1", ports, 1), "203.0.113.4");
  const char *v6[] = {"2001:db8::7"};
  assert_string_equal(pick(&l, "127.0.0.1", v6, 1), "2001:db8::7");
  /* A mapped IPv4 peer is written as IPv4. */
  assert_string_equal(pick(&l, "::ffff:198.51.100.2", NULL, 0), "198.51.100.2");
  /* Empty entries are skipped. */
  const char *empty[] = {" , 203.0.113.1 ,, "};
  assert_string_equal(pick(&l, "127.0.0.1", empty, 1), "203.0.113.1");
  /* With no list, nobody is trusted. */
  proxy_list none;
  assert_int_equal(proxy_list_parse(NULL, &none, err, sizeof err), 0);
  assert_string_equal(pick(&none, "127.0.0.1", one, 1), "127.0.0.1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_parse),
      cmocka_unit_test(test_trusted),
      cmocka_unit_test(test_client),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
