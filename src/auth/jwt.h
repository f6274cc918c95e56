/* jwt.h - HS256 JSON Web Tokens: signing and strict verification.
 *
 * Verification accepts only {"alg":"HS256"} headers (so "none" and every
 * other algorithm are refused), compares the MAC in constant time, and
 * checks "exp" (and "nbf" when present) against the given clock. */
#ifndef MUNSHI_AUTH_JWT_H
#define MUNSHI_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

typedef enum {
  JWT_OK = 0,
  JWT_MALFORMED,     /* not three base64url parts of JSON */
  JWT_BAD_ALG,       /* alg other than HS256 (including "none") */
  JWT_BAD_SIG,       /* signature does not match the secret */
  JWT_EXPIRED,       /* exp missing or not after now */
  JWT_NOT_YET_VALID, /* nbf after now */
} jwt_status;

/* Tokens longer than this are refused before any decoding. */
#define JWT_MAX_LEN 8192

/* Appends header.payload.signature for the JSON object text payload. */
int jwt_sign(const uint8_t *key, size_t klen, const char *payload, buf *out);
/* Verifies token; on JWT_OK *claims is the payload object (in arena a). */
jwt_status jwt_verify(arena *a, const uint8_t *key, size_t klen,
                      const char *token, int64_t now_s, json **claims);
const char *jwt_strerror(jwt_status s);

#endif
