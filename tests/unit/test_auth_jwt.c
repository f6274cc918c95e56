/* test_auth_jwt.c - HS256 signing and the ways a forged or stale token must
 * fail: every case here is an attack seen in the wild (alg "none", algorithm
 * swaps, re-signed payloads, flipped padding bits, expired or never-expiring
 * tokens, oversized input), so each gets its own test. The last tests check
 * how auth_verify_or_reply turns a token into a principal or a PostgREST
 * error, and the API keys. No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/crypto.h"

static const uint8_t KEY[] = "test-secret-that-is-long-enough-0123456789";
#define KLEN (sizeof KEY - 1)
#define NOW 1700000000LL

/* Signs payload with KEY into a fresh C string owned by the arena. */
static char *sign(arena *a, const char *payload) {
  buf b;
  buf_init(&b, 0);
  assert_int_equal(jwt_sign(KEY, KLEN, payload, &b), 0);
  char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* header.payload.signature assembled by hand, signed with key (NULL: the
 * signature segment is sig_text as given). */
static char *forge(arena *a, const char *header, const char *payload,
                   const uint8_t *key, size_t klen, const char *sig_text) {
  buf b;
  buf_init(&b, 0);
  b64url_encode(&b, header, strlen(header));
  buf_putc(&b, '.');
  b64url_encode(&b, payload, strlen(payload));
  if (key) {
    uint8_t mac[32];
    hmac_sha256(key, klen, b.data, b.len, mac);
    buf_putc(&b, '.');
    b64url_encode(&b, mac, sizeof mac);
  } else {
    buf_putc(&b, '.');
    buf_puts(&b, sig_text);
  }
  char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

static jwt_status verify(arena *a, const char *tok, json **claims) {
  return jwt_verify(a, KEY, KLEN, tok, NOW, claims);
}

static const char GOOD[] =
    "{\"sub\":\"0190b7a0-0000-7000-8000-000000000001\",\"role\":"
    "\"authenticated\",\"exp\":1700003600,\"iat\":1700000000}";
static const char HS256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static void test_round_trip(void **state) {
  (void)state;
  arena *a = arena_new();
  char *tok = sign(a, GOOD);
  json *claims = NULL;
  assert_int_equal(verify(a, tok, &claims), JWT_OK);
  assert_non_null(claims);
  json *role = json_get(claims, "role");
  assert_non_null(role);
  assert_string_equal(role->str, "authenticated");
  /* A hand-made token with the same parts verifies too: the verifier does
   * not depend on our exact header text. */
  char *tok2 =
      forge(a, "{\"typ\":\"JWT\",\"alg\":\"HS256\"}", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, tok2, &claims), JWT_OK);
  /* jwt_sign appends to what is already in the buffer. */
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, "Bearer ");
  assert_int_equal(jwt_sign(KEY, KLEN, GOOD, &b), 0);
  assert_int_equal(verify(a, buf_cstr(&b) + 7, &claims), JWT_OK);
  buf_free(&b);
  arena_free(a);
}

static void test_tampered_payload(void **state) {
  (void)state;
  arena *a = arena_new();
  char *tok = sign(a, GOOD);
  /* Swap the payload for one claiming service_role, keep the signature. */
  char *evil = forge(a, HS256, "{\"role\":\"service_role\",\"exp\":1700003600}",
                     KEY, KLEN, NULL);
  const char *sig = strrchr(tok, '.');
  char *mix =
      arena_printf(a, "%.*s%s", (int)(strrchr(evil, '.') - evil), evil, sig);
  json *claims = (json *)1;
  assert_int_equal(verify(a, mix, &claims), JWT_BAD_SIG);
  assert_null(claims);
  /* One character of the payload changed. */
  char *p = arena_strdup(a, tok);
  char *mid = strchr(p, '.') + 5;
  *mid = *mid == 'A' ? 'B' : 'A';
  assert_int_equal(verify(a, p, &claims), JWT_BAD_SIG);
  arena_free(a);
}

static void test_tampered_signature(void **state) {
  (void)state;
  arena *a = arena_new();
  char *tok = sign(a, GOOD);
  size_t n = strlen(tok);
  json *claims;
  /* Every position of the signature, including the last character whose
   * low bits are padding: flipping those must not give a second valid
   * spelling of the same MAC. */
  const char *sig = strrchr(tok, '.') + 1;
  for (size_t i = (size_t)(sig - tok); i < n; i++) {
    char *t = arena_strdup(a, tok);
    t[i] = t[i] == 'A' ? 'B' : 'A';
    assert_int_not_equal(verify(a, t, &claims), JWT_OK);
  }
  char *last = arena_strdup(a, tok);
  last[n - 1] = (char)(last[n - 1] ^ 1);
  assert_int_not_equal(verify(a, last, &claims), JWT_OK);
  /* Truncated and extended signatures. */
  assert_int_not_equal(verify(a, arena_strndup(a, tok, n - 1), &claims),
                       JWT_OK);
  assert_int_not_equal(verify(a, arena_printf(a, "%sA", tok), &claims), JWT_OK);
  arena_free(a);
}

static void test_alg_none(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  const char *payload = "{\"role\":\"service_role\",\"exp\":1700003600}";
  /* The classic: alg none and an empty signature. */
  char *t1 =
      forge(a, "{\"alg\":\"none\",\"typ\":\"JWT\"}", payload, NULL, 0, "");
  assert_int_equal(verify(a, t1, &claims), JWT_BAD_ALG);
  /* alg none with a (valid HS256) signature still refused. */
  char *t2 = forge(a, "{\"alg\":\"none\"}", payload, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t2, &claims), JWT_BAD_ALG);
  /* Case games and a missing alg. */
  char *t3 = forge(a, "{\"alg\":\"None\"}", payload, NULL, 0, "");
  assert_int_equal(verify(a, t3, &claims), JWT_BAD_ALG);
  char *t4 = forge(a, "{\"alg\":\"hs256\"}", payload, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t4, &claims), JWT_BAD_ALG);
  char *t5 = forge(a, "{\"typ\":\"JWT\"}", payload, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t5, &claims), JWT_BAD_ALG);
  /* The literal "xxx.yyy." form. */
  assert_int_not_equal(verify(a, "xxx.yyy.", &claims), JWT_OK);
  arena_free(a);
}

static void test_other_algs(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  const char *algs[] = {"HS384", "HS512", "RS256", "ES256", "PS256", "EdDSA"};
  for (size_t i = 0; i < sizeof algs / sizeof algs[0]; i++) {
    char *h = arena_printf(a, "{\"alg\":\"%s\",\"typ\":\"JWT\"}", algs[i]);
    char *t = forge(a, h, GOOD, KEY, KLEN, NULL);
    assert_int_equal(verify(a, t, &claims), JWT_BAD_ALG);
  }
  /* alg must be a string, not an array of candidates. */
  char *t = forge(a, "{\"alg\":[\"HS256\"]}", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_BAD_ALG);
  /* Header extensions we do not implement are refused, not ignored. */
  t = forge(a, "{\"alg\":\"HS256\",\"crit\":[\"exp\"]}", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  t = forge(a, "{\"alg\":\"HS256\",\"jku\":\"http://evil\"}", GOOD, KEY, KLEN,
            NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  t = forge(a, "{\"alg\":\"HS256\",\"kid\":\"k1\"}", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_OK);
  /* Duplicate alg keys (the second saying none) are refused by the JSON
   * parser, so a lenient reader downstream cannot see a different alg. */
  t = forge(a, "{\"alg\":\"HS256\",\"alg\":\"none\"}", GOOD, KEY, KLEN, NULL);
  assert_int_not_equal(verify(a, t, &claims), JWT_OK);
  arena_free(a);
}

static void test_other_secret(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  static const uint8_t other[] = "another-secret-entirely-0123456789abcdef";
  char *t = forge(a, HS256, GOOD, other, sizeof other - 1, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_BAD_SIG);
  /* A prefix of the right secret is another secret. */
  t = forge(a, HS256, GOOD, KEY, KLEN - 1, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_BAD_SIG);
  arena_free(a);
}

static void test_expiry(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  char *t = sign(a, "{\"role\":\"anon\",\"exp\":1699999999}");
  assert_int_equal(verify(a, t, &claims), JWT_EXPIRED);
  /* exp equal to now is already expired (RFC 7519: "on or after"). */
  t = sign(a, "{\"role\":\"anon\",\"exp\":1700000000}");
  assert_int_equal(verify(a, t, &claims), JWT_EXPIRED);
  t = sign(a, "{\"role\":\"anon\",\"exp\":1700000001}");
  assert_int_equal(verify(a, t, &claims), JWT_OK);
  /* Fractional NumericDate is allowed by the RFC. */
  t = sign(a, "{\"role\":\"anon\",\"exp\":1700000000.5}");
  assert_int_equal(verify(a, t, &claims), JWT_OK);
  /* A token that never expires is not accepted. */
  t = sign(a, "{\"role\":\"anon\"}");
  assert_int_equal(verify(a, t, &claims), JWT_EXPIRED);
  /* exp of the wrong type. */
  t = sign(a, "{\"role\":\"anon\",\"exp\":\"1800000000\"}");
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  t = sign(a, "{\"role\":\"anon\",\"exp\":null}");
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  /* nbf in the future. */
  t = sign(a, "{\"role\":\"anon\",\"exp\":1800000000,\"nbf\":1700000100}");
  assert_int_equal(verify(a, t, &claims), JWT_NOT_YET_VALID);
  t = sign(a, "{\"role\":\"anon\",\"exp\":1800000000,\"nbf\":1700000000}");
  assert_int_equal(verify(a, t, &claims), JWT_OK);
  arena_free(a);
}

static void test_garbage(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  const char *bad[] = {
      "",
      ".",
      "..",
      "...",
      "a",
      "a.b",
      "a.b.c.d",
      "a.b.c",
      "eyJhbGciOiJIUzI1NiJ9",
      "eyJhbGciOiJIUzI1NiJ9..",
      "eyJhbGciOiJIUzI1NiJ9.e30",
      "eyJhbGciOiJIUzI1NiJ9.e30.",
      "!!!.???.***",
      "eyJhbGciOiJIUzI1NiJ9=.e30.AAAA",
      "eyJhbGciOiJIUzI1NiJ9 .e30.AAAA",
      "Bearer x.y.z",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_not_equal(verify(a, bad[i], &claims), JWT_OK);
  assert_int_equal(verify(a, NULL, &claims), JWT_MALFORMED);
  /* Header that is JSON but not an object, or not JSON at all. */
  char *t = forge(a, "[\"HS256\"]", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  t = forge(a, "{\"alg\":\"HS256\"", GOOD, KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  /* A correctly signed payload that is not an object. */
  t = forge(a, HS256, "[1,2,3]", KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  t = forge(a, HS256, "{\"exp\":1800000000,}", KEY, KLEN, NULL);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  /* Five segments: a JWE, which we do not accept. */
  t = arena_printf(a, "%s.AAAA.AAAA", sign(a, GOOD));
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  arena_free(a);
}

static void test_overlong(void **state) {
  (void)state;
  arena *a = arena_new();
  json *claims;
  /* A correctly signed token just over the cap is refused unread. */
  buf p;
  buf_init(&p, 0);
  buf_puts(&p, "{\"exp\":1800000000,\"pad\":\"");
  for (int i = 0; i < JWT_MAX_LEN; i++) buf_putc(&p, 'x');
  buf_puts(&p, "\"}");
  char *t = sign(a, buf_cstr(&p));
  assert_true(strlen(t) > JWT_MAX_LEN);
  assert_int_equal(verify(a, t, &claims), JWT_MALFORMED);
  buf_free(&p);
  /* A long one under the cap is fine. */
  buf_init(&p, 0);
  buf_puts(&p, "{\"exp\":1800000000,\"pad\":\"");
  for (int i = 0; i < JWT_MAX_LEN / 2; i++) buf_putc(&p, 'x');
  buf_puts(&p, "\"}");
  t = sign(a, buf_cstr(&p));
  assert_int_equal(verify(a, t, &claims), JWT_OK);
  buf_free(&p);
  arena_free(a);
}

static void test_strerror(void **state) {
  (void)state;
  for (int s = JWT_OK; s <= JWT_NOT_YET_VALID; s++)
    assert_non_null(jwt_strerror((jwt_status)s));
  assert_string_equal(jwt_strerror(JWT_EXPIRED), "JWT expired");
}

static auth *new_auth(void) {
  auth_config cfg = {.secret = KEY, .secret_len = KLEN};
  auth *au = auth_new(&cfg);
  assert_non_null(au);
  return au;
}

/* Runs auth_verify_or_reply; returns its result, status in *status. */
static int principal_of(auth *au, arena *a, const char *tok, api_principal *who,
                        int *status, char **body) {
  api_resp r;
  api_resp_init(&r);
  int rc = auth_verify_or_reply(au, a, tok, who, &r);
  *status = r.status;
  *body = arena_strdup(a, buf_cstr(&r.body));
  api_resp_free(&r);
  return rc;
}

static void test_api_keys(void **state) {
  (void)state;
  arena *a = arena_new();
  auth *au = new_auth();
  api_principal who;
  int status;
  char *body;
  buf k;
  buf_init(&k, 0);
  assert_int_equal(auth_api_key(au, "anon", &k), 0);
  assert_int_equal(principal_of(au, a, buf_cstr(&k), &who, &status, &body), 0);
  assert_int_equal(who.role, ROLE_ANON);
  assert_string_equal(who.sub, "");
  buf_reset(&k);
  assert_int_equal(auth_api_key(au, "service_role", &k), 0);
  assert_int_equal(principal_of(au, a, buf_cstr(&k), &who, &status, &body), 0);
  assert_int_equal(who.role, ROLE_SERVICE);
  /* The keys live ten years. */
  json *claims;
  assert_int_equal(
      jwt_verify(a, KEY, KLEN, buf_cstr(&k), NOW + 9LL * 365 * 86400, &claims),
      JWT_OK);
  buf_reset(&k);
  assert_int_equal(auth_api_key(au, "authenticated", &k), -1);
  assert_int_equal(auth_api_key(au, "postgres", &k), -1);
  buf_free(&k);
  auth_free(au);
  auth_free(NULL);
  arena_free(a);
}

static void test_principal(void **state) {
  (void)state;
  arena *a = arena_new();
  auth *au = new_auth();
  api_principal who;
  int status;
  char *body;
  /* A user token: sub, session and email are copied (sub canonicalised). */
  char *t = sign(a,
                 "{\"sub\":\"0190B7A0-0000-7000-8000-000000000001\","
                 "\"role\":\"authenticated\",\"aud\":\"authenticated\","
                 "\"session_id\":\"0190b7a0-0000-7000-8000-0000000000aa\","
                 "\"email\":\"a@b.co\",\"exp\":99999999999}");
  assert_int_equal(principal_of(au, a, t, &who, &status, &body), 0);
  assert_int_equal(who.role, ROLE_AUTHENTICATED);
  assert_string_equal(who.sub, "0190b7a0-0000-7000-8000-000000000001");
  assert_string_equal(who.session_id, "0190b7a0-0000-7000-8000-0000000000aa");
  assert_string_equal(who.email, "a@b.co");
  /* authenticated without a uuid sub, or an unknown role: PGRST301. */
  const char *bad[] = {
      "{\"role\":\"authenticated\",\"exp\":99999999999}",
      "{\"role\":\"authenticated\",\"sub\":\"admin\",\"exp\":99999999999}",
      "{\"role\":\"postgres\",\"exp\":99999999999}",
      "{\"role\":\"supabase_admin\",\"exp\":99999999999}",
      "{\"exp\":99999999999}",
      "{\"role\":[\"anon\"],\"exp\":99999999999}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(principal_of(au, a, sign(a, bad[i]), &who, &status, &body),
                     -1);
    assert_int_equal(status, 401);
    assert_non_null(strstr(body, "PGRST301"));
    assert_int_equal(who.role, ROLE_NONE);
  }
  /* Expired: PGRST303 "JWT expired". */
  t = sign(a, "{\"role\":\"anon\",\"exp\":1000}");
  assert_int_equal(principal_of(au, a, t, &who, &status, &body), -1);
  assert_int_equal(status, 401);
  assert_non_null(strstr(body, "PGRST303"));
  assert_non_null(strstr(body, "JWT expired"));
  /* Forged: alg none, other secret, garbage. */
  t = forge(a, "{\"alg\":\"none\"}",
            "{\"role\":\"service_role\",\"exp\":99999999999}", NULL, 0, "");
  assert_int_equal(principal_of(au, a, t, &who, &status, &body), -1);
  assert_int_equal(status, 401);
  assert_non_null(strstr(body, "PGRST301"));
  assert_int_equal(principal_of(au, a, "garbage", &who, &status, &body), -1);
  assert_int_equal(status, 401);
  assert_int_equal(principal_of(au, a, NULL, &who, &status, &body), -1);
  auth_free(au);
  arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_round_trip),
      cmocka_unit_test(test_tampered_payload),
      cmocka_unit_test(test_tampered_signature),
      cmocka_unit_test(test_alg_none),
      cmocka_unit_test(test_other_algs),
      cmocka_unit_test(test_other_secret),
      cmocka_unit_test(test_expiry),
      cmocka_unit_test(test_garbage),
      cmocka_unit_test(test_overlong),
      cmocka_unit_test(test_strerror),
      cmocka_unit_test(test_api_keys),
      cmocka_unit_test(test_principal),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
