/* crypto.h - HMAC-SHA256, SHA-256, base64url, hex, randomness and
 * constant-time comparison: the pieces JWTs and webhook signatures share. */
#ifndef MUNSHI_BASE_CRYPTO_H
#define MUNSHI_BASE_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

void sha256(const void *msg, size_t n, uint8_t out[32]);
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t n,
                 uint8_t out[32]);
/* 1 when equal; the time taken does not depend on where they differ. */
int ct_equal(const void *a, const void *b, size_t n);
/* Fills out with cryptographically secure random bytes. */
void random_bytes(void *out, size_t n);
/* base64url without padding (RFC 4648 section 5), as JWTs use it. */
int b64url_encode(buf *b, const void *in, size_t n);
/* Decodes s[0..n) into out (room for n*3/4+3 bytes); returns the decoded
 * length or -1 on a character outside the alphabet or padding. */
long b64url_decode(const char *s, size_t n, uint8_t *out);
/* Lower-case hex of in[0..n) into out (2n+1 bytes, NUL-terminated). */
void hex_encode(const void *in, size_t n, char *out);

#endif
