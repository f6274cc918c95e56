/* jwt.c - HS256 JSON Web Tokens: signing and strict verification.
 *
 * A token is the only thing standing between the internet and a tenant's
 * books, so verification is deliberately narrow: a bounded length, exactly
 * three base64url segments, a header that says HS256 and nothing we would
 * have to understand, a MAC compared in constant time over its base64url
 * text (so the unused low bits of the last character cannot be flipped to
 * make a "different" token that still verifies), and only then a look at
 * the claims, whose exp must lie in the future and whose nbf, if any, in the
 * past. Algorithm confusion ("none", HS512, RS256 with our secret as a
 * public key) is impossible because the header is never used to choose. */
#include "auth/jwt.h"

#include <string.h>

#include "base/crypto.h"

/* The one header we write; the verifier accepts any equivalent object. */
static const char JWT_HEADER[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

/* 32-byte MAC in base64url without padding. */
#define SIG_B64_LEN 43

int jwt_sign(const uint8_t *key, size_t klen, const char *payload, buf *out) {
  size_t start = out->len;
  uint8_t mac[32];
  if (b64url_encode(out, JWT_HEADER, sizeof JWT_HEADER - 1)) goto fail;
  if (buf_putc(out, '.')) goto fail;
  if (b64url_encode(out, payload, strlen(payload))) goto fail;
  hmac_sha256(key, klen, out->data + start, out->len - start, mac);
  if (buf_putc(out, '.')) goto fail;
  if (b64url_encode(out, mac, sizeof mac)) goto fail;
  return 0;
fail:
  /* Leave the buffer as we found it, as buf.h promises for one append. */
  out->len = start;
  if (out->data) out->data[start] = '\0';
  return -1;
}

/* Decodes one base64url segment and parses it as a JSON object. */
static int decode_object(arena *a, const char *s, size_t n, json **out) {
  if (n == 0) return -1;
  uint8_t *raw = arena_alloc(a, n * 3 / 4 + 4);
  long m = b64url_decode(s, n, raw);
  if (m <= 0) return -1;
  json_error err;
  json *v;
  if (json_parse(a, (const char *)raw, (size_t)m, &v, &err)) return -1;
  if (v->type != JSON_OBJECT) return -1;
  *out = v;
  return 0;
}

static int str_is(const json *v, const char *s) {
  return v && v->type == JSON_STRING && v->len == strlen(s) &&
         memcmp(v->str, s, v->len) == 0;
}

/* Only alg, typ and kid may appear: anything else ("crit", "jku", "x5u",
 * "b64") asks for processing we do not do, and RFC 7515 says a verifier
 * must then refuse rather than ignore. */
static jwt_status check_header(const json *h) {
  const json *alg = json_get(h, "alg");
  if (!alg) return JWT_BAD_ALG;
  if (!str_is(alg, "HS256")) return JWT_BAD_ALG;
  for (size_t i = 0; i < h->n; i++) {
    const char *k = h->keys[i];
    const json *v = h->items[i];
    if (strcmp(k, "alg") == 0) continue;
    if (strcmp(k, "typ") == 0) {
      if (!str_is(v, "JWT") && !str_is(v, "jwt")) return JWT_MALFORMED;
      continue;
    }
    if (strcmp(k, "kid") == 0) {
      if (v->type != JSON_STRING) return JWT_MALFORMED;
      continue;
    }
    return JWT_MALFORMED;
  }
  return JWT_OK;
}

/* NumericDate claims in microseconds; RFC 7519 allows fractions, which
 * json_decimal converts exactly. Returns 0, 1 when absent, -1 when not a
 * number of that form. */
static int claim_time_us(const json *claims, const char *name, int64_t *us) {
  const json *v = json_get(claims, name);
  if (!v) return 1;
  if (v->type != JSON_NUMBER) return -1;
  if (json_decimal(v, 6, us)) return -1;
  return 0;
}

jwt_status jwt_verify(arena *a, const uint8_t *key, size_t klen,
                      const char *token, int64_t now_s, json **claims) {
  *claims = NULL;
  if (!token) return JWT_MALFORMED;
  size_t len = strnlen(token, JWT_MAX_LEN + 1);
  if (len == 0 || len > JWT_MAX_LEN) return JWT_MALFORMED;

  const char *dot1 = memchr(token, '.', len);
  if (!dot1) return JWT_MALFORMED;
  const char *dot2 = memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token));
  if (!dot2) return JWT_MALFORMED;
  const char *sig = dot2 + 1;
  size_t sig_len = len - (size_t)(sig - token);
  if (memchr(sig, '.', sig_len)) return JWT_MALFORMED; /* JWE has five */

  json *header;
  if (decode_object(a, token, (size_t)(dot1 - token), &header))
    return JWT_MALFORMED;
  jwt_status st = check_header(header);
  if (st != JWT_OK) return st;

  /* The MAC is checked before the payload is even decoded: nothing an
   * attacker wrote reaches the JSON parser past the small header. */
  uint8_t mac[32];
  hmac_sha256(key, klen, token, (size_t)(dot2 - token), mac);
  buf expect;
  buf_init(&expect, 64);
  int rc = b64url_encode(&expect, mac, sizeof mac);
  int ok = rc == 0 && expect.len == SIG_B64_LEN && sig_len == SIG_B64_LEN &&
           ct_equal(expect.data, sig, SIG_B64_LEN);
  buf_free(&expect);
  if (!ok) return JWT_BAD_SIG;

  json *payload;
  if (decode_object(a, dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload))
    return JWT_MALFORMED;

  int64_t now_us = now_s * 1000000;
  int64_t exp_us, nbf_us;
  rc = claim_time_us(payload, "exp", &exp_us);
  if (rc < 0) return JWT_MALFORMED;
  if (rc > 0 || exp_us <= now_us) return JWT_EXPIRED;
  rc = claim_time_us(payload, "nbf", &nbf_us);
  if (rc < 0) return JWT_MALFORMED;
  if (rc == 0 && nbf_us > now_us) return JWT_NOT_YET_VALID;

  *claims = payload;
  return JWT_OK;
}

/* Messages in the manner of PostgREST's, since they reach API clients. */
const char *jwt_strerror(jwt_status s) {
  switch (s) {
    case JWT_OK:
      return "JWT valid";
    case JWT_MALFORMED:
      return "JWT could not be decoded";
    case JWT_BAD_ALG:
      return "Wrong or unsupported encoding algorithm";
    case JWT_BAD_SIG:
      return "JWT cryptographic operation failed";
    case JWT_EXPIRED:
      return "JWT expired";
    case JWT_NOT_YET_VALID:
      return "JWT not yet valid";
  }
  return "JWT invalid";
}
