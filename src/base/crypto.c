/* crypto.c - SHA-256, HMAC-SHA256, randomness, constant-time comparison,
 * base64url and hex (see crypto.h).
 *
 * The primitives come from libcrypto and libsodium; this file only pins the
 * choices down so JWT signing and webhook verification cannot get them
 * subtly different. A failure inside a primitive means the library is
 * broken, so it aborts instead of handing back an unsigned token. The
 * base64url decoder is strict on purpose: one signature must have exactly
 * one text form, so it refuses padding, foreign characters, impossible
 * lengths and non-zero leftover bits. */
#include "base/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>

static void crypto_die(const char *what) {
  fprintf(stderr, "munshi: %s failed\n", what);
  abort();
}

/* OpenSSL wants a non-NULL pointer even for empty input. */
static const unsigned char empty[1];

void sha256(const void *msg, size_t n, uint8_t out[32]) {
  unsigned int len = 0;
  if (!EVP_Digest(msg ? msg : empty, n, out, &len, EVP_sha256(), NULL) ||
      len != 32)
    crypto_die("SHA-256");
}

void hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                 uint8_t out[32]) {
  unsigned int len = 0;
  if (klen > 0x7fffffff) crypto_die("HMAC key length");
  if (!HMAC(EVP_sha256(), key ? key : empty, (int)klen, msg ? msg : empty, n,
            out, &len) ||
      len != 32)
    crypto_die("HMAC-SHA256");
}

int ct_equal(const void *a, const void *b, size_t n) {
  if (n == 0) return 1;
  return CRYPTO_memcmp(a, b, n) == 0;
}

static pthread_once_t sodium_once = PTHREAD_ONCE_INIT;

static void sodium_setup(void) {
  if (sodium_init() < 0) crypto_die("sodium_init");
}

void random_bytes(void *out, size_t n) {
  pthread_once(&sodium_once, sodium_setup);
  randombytes_buf(out, n);
}

/* ---- base64url -------------------------------------------------------- */

static const char b64_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int b64url_encode(buf *b, const void *in, size_t n) {
  const uint8_t *s = in;
  size_t mark = b->len;
  char q[4];
  size_t i = 0;
  for (; i + 3 <= n; i += 3) {
    uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
    q[0] = b64_alphabet[v >> 18];
    q[1] = b64_alphabet[v >> 12 & 63];
    q[2] = b64_alphabet[v >> 6 & 63];
    q[3] = b64_alphabet[v & 63];
    if (buf_append(b, q, 4)) goto fail;
  }
  size_t rest = n - i;
  if (rest) {
    uint32_t v = (uint32_t)s[i] << 16;
    if (rest == 2) v |= (uint32_t)s[i + 1] << 8;
    q[0] = b64_alphabet[v >> 18];
    q[1] = b64_alphabet[v >> 12 & 63];
    q[2] = b64_alphabet[v >> 6 & 63];
    if (buf_append(b, q, rest + 1)) goto fail;
  }
  return 0;
fail:
  b->len = mark;
  if (b->data) b->data[mark] = '\0';
  return -1;
}

static int b64_value(unsigned char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '-') return 62;
  if (c == '_') return 63;
  return -1;
}

long b64url_decode(const char *s, size_t n, uint8_t *out) {
  if (n % 4 == 1) return -1; /* one char carries only 6 of 8 bits */
  size_t o = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < n; i++) {
    int v = b64_value((unsigned char)s[i]);
    if (v < 0) return -1;
    acc = acc << 6 | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (uint8_t)(acc >> bits);
      acc &= (1u << bits) - 1;
    }
  }
  if (acc != 0) return -1; /* leftover bits must be zero (RFC 4648 3.5) */
  return (long)o;
}

void hex_encode(const void *in, size_t n, char *out) {
  static const char hexd[] = "0123456789abcdef";
  const uint8_t *s = in;
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hexd[s[i] >> 4];
    out[2 * i + 1] = hexd[s[i] & 15];
  }
  out[2 * n] = '\0';
}
