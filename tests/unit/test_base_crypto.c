/* test_base_crypto.c - hashes, MACs, base64url and randomness
 * (src/base/crypto.c), against the published test vectors of FIPS 180-2,
 * RFC 4231 and RFC 4648. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"

static void assert_hex(const uint8_t *d, size_t n, const char *want) {
  char hex[129];
  assert_true(n * 2 < sizeof hex);
  hex_encode(d, n, hex);
  assert_string_equal(hex, want);
}

static void test_sha256(void **state) {
  (void)state;
  uint8_t h[32];
  sha256("abc", 3, h);
  assert_hex(
      h, 32,
      "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  sha256("", 0, h);
  assert_hex(
      h, 32,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  sha256(NULL, 0, h);
  assert_hex(
      h, 32,
      "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const char *m = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
  sha256(m, strlen(m), h);
  assert_hex(
      h, 32,
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

/* RFC 4231, test cases 1-4, 6 and 7 (case 5 is a truncated MAC). */
static void test_hmac_rfc4231(void **state) {
  (void)state;
  uint8_t key[131], mac[32];

  memset(key, 0x0b, 20);
  hmac_sha256(key, 20, "Hi There", 8, mac);
  assert_hex(
      mac, 32,
      "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");

  hmac_sha256("Jefe", 4, "what do ya want for nothing?", 28, mac);
  assert_hex(
      mac, 32,
      "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");

  uint8_t data[50];
  memset(key, 0xaa, 20);
  memset(data, 0xdd, 50);
  hmac_sha256(key, 20, data, 50, mac);
  assert_hex(
      mac, 32,
      "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");

  for (int i = 0; i < 25; i++) key[i] = (uint8_t)(i + 1);
  memset(data, 0xcd, 50);
  hmac_sha256(key, 25, data, 50, mac);
  assert_hex(
      mac, 32,
      "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");

  memset(key, 0xaa, 131);
  const char *m6 = "Test Using Larger Than Block-Size Key - Hash Key First";
  hmac_sha256(key, 131, m6, strlen(m6), mac);
  assert_hex(
      mac, 32,
      "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");

  const char *m7 =
      "This is a test using a larger than block-size key and a larger than "
      "block-size data. The key needs to be hashed before being used by the "
      "HMAC algorithm.";
  hmac_sha256(key, 131, m7, strlen(m7), mac);
  assert_hex(
      mac, 32,
      "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");

  /* An empty key and message are legal (and JWT code must not crash). */
  hmac_sha256(NULL, 0, NULL, 0, mac);
  assert_hex(
      mac, 32,
      "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
}

static void test_ct_equal(void **state) {
  (void)state;
  assert_int_equal(ct_equal("abcdef", "abcdef", 6), 1);
  assert_int_equal(ct_equal("abcdef", "abcdeg", 6), 0);
  assert_int_equal(ct_equal("xbcdef", "abcdef", 6), 0);
  assert_int_equal(ct_equal("a", "b", 0), 1);
  uint8_t a[32] = {0}, b[32] = {0};
  assert_int_equal(ct_equal(a, b, 32), 1);
  b[31] = 0x80;
  assert_int_equal(ct_equal(a, b, 32), 0);
}

static void assert_b64(const char *in, const char *want) {
  buf b;
  buf_init(&b, 0);
  assert_int_equal(b64url_encode(&b, in, strlen(in)), 0);
  assert_string_equal(buf_cstr(&b), want);
  uint8_t out[64];
  long n = b64url_decode(want, strlen(want), out);
  assert_int_equal(n, (long)strlen(in));
  assert_memory_equal(out, in, (size_t)n);
  buf_free(&b);
}

static void assert_b64_refused(const char *s) {
  uint8_t out[64];
  if (b64url_decode(s, strlen(s), out) != -1) fail_msg("decoded %s", s);
}

static void test_b64url_vectors(void **state) {
  (void)state;
  /* RFC 4648 section 10, without padding. */
  assert_b64("", "");
  assert_b64("f", "Zg");
  assert_b64("fo", "Zm8");
  assert_b64("foo", "Zm9v");
  assert_b64("foob", "Zm9vYg");
  assert_b64("fooba", "Zm9vYmE");
  assert_b64("foobar", "Zm9vYmFy");
  /* The URL alphabet: 62 is '-', 63 is '_'. */
  assert_b64("\xfb\xff\xbf", "-_-_");
  assert_b64("{\"alg\":\"HS256\",\"typ\":\"JWT\"}",
             "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9");
}

static void test_b64url_strict(void **state) {
  (void)state;
  assert_b64_refused("Zg=="); /* padding */
  assert_b64_refused("Zm8=");
  assert_b64_refused("Zm9v+w"); /* standard alphabet */
  assert_b64_refused("Zm9v/w");
  assert_b64_refused("Zm9 v");
  assert_b64_refused("Zm9v\n");
  assert_b64_refused("Z"); /* n % 4 == 1 */
  assert_b64_refused("Zm9vY");
  assert_b64_refused("Zh"); /* non-zero leftover bits */
  assert_b64_refused("Zm9");
  assert_b64_refused("Zm9vYh");
  assert_b64_refused("\xc3\xa9\xc3\xa9");
  uint8_t out[8];
  assert_int_equal(b64url_decode("Zm9vYmFy", 0, out), 0);
  assert_int_equal(b64url_decode("Zm9vYmFy!!", 8, out), 6); /* length bound */
}

static void test_b64url_roundtrip(void **state) {
  (void)state;
  uint8_t in[300], out[300 * 3 / 4 + 300];
  buf b;
  buf_init(&b, 0);
  for (size_t n = 0; n < sizeof in; n++) {
    random_bytes(in, n);
    buf_reset(&b);
    assert_int_equal(b64url_encode(&b, in, n), 0);
    assert_int_equal(b.len, (n * 4 + 2) / 3);
    for (size_t i = 0; i < b.len; i++) {
      char c = b.data[i];
      assert_true((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                  (c >= '0' && c <= '9') || c == '-' || c == '_');
    }
    long m = b64url_decode(b.data, b.len, out);
    assert_int_equal(m, (long)n);
    assert_memory_equal(out, in, n);
  }
  buf_free(&b);

  /* A capped buffer refuses and stays as it was. */
  buf_init(&b, 6);
  buf_puts(&b, "x.");
  assert_int_equal(b64url_encode(&b, "foobar", 6), -1);
  assert_string_equal(buf_cstr(&b), "x.");
  assert_int_equal(b64url_encode(&b, "foo", 3), 0);
  assert_string_equal(buf_cstr(&b), "x.Zm9v");
  buf_free(&b);
}

static void test_random(void **state) {
  (void)state;
  uint8_t a[32], b[32], zero[32] = {0};
  random_bytes(a, sizeof a);
  random_bytes(b, sizeof b);
  assert_memory_not_equal(a, b, sizeof a);
  assert_memory_not_equal(a, zero, sizeof a);
  random_bytes(a, 0);
  /* Every byte value shows up over 64 KiB. */
  static uint8_t big[65536];
  random_bytes(big, sizeof big);
  int seen[256] = {0};
  for (size_t i = 0; i < sizeof big; i++) seen[big[i]] = 1;
  for (int i = 0; i < 256; i++) assert_true(seen[i]);
}

static void test_hex(void **state) {
  (void)state;
  char out[9];
  hex_encode("\x00\x01\xab\xff", 4, out);
  assert_string_equal(out, "0001abff");
  hex_encode("", 0, out);
  assert_string_equal(out, "");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_sha256),
      cmocka_unit_test(test_hmac_rfc4231),
      cmocka_unit_test(test_ct_equal),
      cmocka_unit_test(test_b64url_vectors),
      cmocka_unit_test(test_b64url_strict),
      cmocka_unit_test(test_b64url_roundtrip),
      cmocka_unit_test(test_random),
      cmocka_unit_test(test_hex),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
