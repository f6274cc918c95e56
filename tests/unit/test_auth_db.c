/* test_auth_db.c - the /auth/v1 endpoints against a real database, driven
 * through auth_handle with hand-built requests (no HTTP server), on SQLite
 * or PostgreSQL as argv[1] says. Each test uses its own email addresses and
 * client addresses, so tests do not depend on each other or on running in a
 * fresh database; "nothing was written" is checked by counting every auth
 * table before and after. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

/* First: its helpers name a local "auth", which would shadow our type. */
#include "testutil.h"

#include "auth/auth.h"
#include "auth/jwt.h"
#include "base/arena.h"
#include "base/crypto.h"
#include "base/json.h"
#include "base/uuid.h"
#include "db/db.h"

static db *g_db;
static auth *g_auth;
static const uint8_t SECRET[] = "auth-db-test-secret-0123456789abcdef";
/* Small limits, so the tests reach them quickly; signups are many here
 * and come from few addresses, so their limit is out of the way except in
 * test_signup_limit, which makes its own auth. */
#define RATE_LIMIT 3
#define ADDR_LIMIT 6
#define BACKOFF 30

/* The limiters' clock, which the tests move by hand. */
static int64_t g_clock = 1000000;
static int64_t fake_clock(void) {
  return g_clock;
}

/* A unique tag per run, so emails never collide with an earlier run on a
 * database that outlived it. */
static char g_run[9];

/* ---------------------------------------------------------------------------
 * Requests */

typedef struct call {
  arena *a;
  api_resp resp;
  json *body; /* parsed response body, NULL when empty or not JSON */
} call;

typedef struct hdrs {
  const char *authorization;
  const char *user_agent;
} hdrs;

static const char *get_header(const api_req *r, const char *name) {
  const hdrs *h = r->http;
  if (!h) return NULL;
  if (strcasecmp(name, "authorization") == 0) return h->authorization;
  if (strcasecmp(name, "user-agent") == 0) return h->user_agent;
  return NULL;
}

/* Runs one request; the caller frees with call_done. bearer may be NULL. */
static void call_run(call *c, const char *method, const char *path,
                     const char *query, const char *body, const char *bearer,
                     const char *remote) {
  c->a = arena_new();
  api_resp_init(&c->resp);
  hdrs *h = arena_alloc(c->a, sizeof *h);
  h->authorization = bearer ? arena_printf(c->a, "Bearer %s", bearer) : NULL;
  h->user_agent = "test_auth_db";
  api_req req = {
      .a = c->a,
      .method = method,
      .path = path,
      .query = query ? query : "",
      .body = body ? body : "",
      .body_len = body ? strlen(body) : 0,
      .remote = remote ? remote : "127.0.0.1",
      .header = get_header,
      .http = h,
  };
  assert_int_equal(auth_handle(g_auth, g_db, &req, &c->resp), 0);
  c->body = NULL;
  if (c->resp.body.len) {
    json_error err;
    assert_int_equal(
        json_parse(c->a, c->resp.body.data, c->resp.body.len, &c->body, &err),
        0);
  }
}

static void call_done(call *c) {
  api_resp_free(&c->resp);
  arena_free(c->a);
}

/* A string member of the response body (or of a nested object). */
static const char *str_at(const json *o, const char *key) {
  const json *v = json_get(o, key);
  assert_non_null(v);
  assert_int_equal(v->type, JSON_STRING);
  return v->str;
}

static void assert_error(const call *c, int status, const char *code) {
  if (c->resp.status != status)
    fprintf(stderr, "status %d body %s\n", c->resp.status,
            buf_cstr(&c->resp.body));
  assert_int_equal(c->resp.status, status);
  assert_non_null(c->body);
  assert_string_equal(str_at(c->body, "error_code"), code);
}

static char *email(arena *a, const char *who) {
  return arena_printf(a, "%s.%s@example.com", who, g_run);
}

/* The run's random tag as 8 digits: WhatsApp numbers must be real phone
 * numbers (E.164), and each run needs its own. */
static char *run_digits(arena *a) {
  char *d = arena_strdup(a, g_run);
  for (char *p = d; *p; p++) *p = (char)('0' + (unsigned char)*p % 10);
  return d;
}

static char *signup_body(arena *a, const char *mail, const char *pw,
                         const char *business, const char *whatsapp) {
  return arena_printf(
      a,
      "{\"email\":\"%s\",\"password\":\"%s\",\"data\":{\"business_name\":"
      "\"%s\",\"whatsapp_number\":%s%s%s,\"gst_number\":null},"
      "\"gotrue_meta_security\":{},\"code_challenge\":null}",
      mail, pw, business, whatsapp ? "\"" : "", whatsapp ? whatsapp : "null",
      whatsapp ? "\"" : "");
}

/* Tokens of a successful session answer, copied into arena a. */
typedef struct session {
  char *access, *refresh, *user_id;
} session;

static session take_session(arena *a, const call *c) {
  if (c->resp.status != 200)
    fprintf(stderr, "status %d body %s\n", c->resp.status,
            buf_cstr(&c->resp.body));
  assert_int_equal(c->resp.status, 200);
  session s;
  s.access = arena_strdup(a, str_at(c->body, "access_token"));
  s.refresh = arena_strdup(a, str_at(c->body, "refresh_token"));
  assert_string_equal(str_at(c->body, "token_type"), "bearer");
  const json *user = json_get(c->body, "user");
  assert_non_null(user);
  s.user_id = arena_strdup(a, str_at(user, "id"));
  return s;
}

static session signup(arena *a, const char *mail, const char *pw) {
  call c;
  call_run(&c, "POST", "signup", NULL, signup_body(a, mail, pw, "Shop", NULL),
           NULL, "10.0.0.1");
  session s = take_session(a, &c);
  call_done(&c);
  return s;
}

static void login(call *c, arena *a, const char *mail, const char *pw,
                  const char *remote) {
  call_run(c, "POST", "token", "grant_type=password",
           arena_printf(a, "{\"email\":\"%s\",\"password\":\"%s\"}", mail, pw),
           NULL, remote);
}

static void refresh(call *c, arena *a, const char *token) {
  call_run(c, "POST", "token", "grant_type=refresh_token",
           arena_printf(a, "{\"refresh_token\":\"%s\"}", token), NULL, NULL);
}

/* ---------------------------------------------------------------------------
 * Database helpers */

static int64_t count(const char *sql, const char *arg) {
  db_res *r = NULL;
  db_err err;
  db_val p = db_text(arg ? arg : "");
  if (db_query(g_db, sql, &p, arg ? 1 : 0, &r, &err)) {
    fprintf(stderr, "%s: %s %s\n", sql, err.code, err.message);
    fail();
  }
  int64_t n = db_res_int(r, 0, 0);
  db_res_free(r);
  return n;
}

typedef struct counts {
  int64_t users, profiles, sessions, tokens;
} counts;

static counts count_all(void) {
  counts c = {
      count("SELECT count(*) FROM auth_users", NULL),
      count("SELECT count(*) FROM profiles", NULL),
      count("SELECT count(*) FROM auth_sessions", NULL),
      count("SELECT count(*) FROM auth_refresh_tokens", NULL),
  };
  return c;
}

static void assert_counts_equal(counts a, counts b) {
  assert_int_equal(a.users, b.users);
  assert_int_equal(a.profiles, b.profiles);
  assert_int_equal(a.sessions, b.sessions);
  assert_int_equal(a.tokens, b.tokens);
}

/* ---------------------------------------------------------------------------
 * Tests */

static void test_signup_ok(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "alice");
  char *upper = arena_strdup(a, mail);
  upper[0] = 'A'; /* stored lower-cased */
  char *wa = arena_printf(a, "+9198%s", run_digits(a));
  counts before = count_all();
  call c;
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, upper, "correct horse", "Alice Traders", wa), NULL,
           "10.0.0.1");
  session s = take_session(a, &c);
  const json *user = json_get(c.body, "user");
  assert_string_equal(str_at(user, "email"), mail);
  assert_string_equal(str_at(user, "aud"), "authenticated");
  assert_string_equal(str_at(user, "role"), "authenticated");
  assert_non_null(str_at(user, "email_confirmed_at"));
  assert_non_null(str_at(user, "created_at"));
  const json *meta = json_get(user, "user_metadata");
  assert_string_equal(str_at(meta, "business_name"), "Alice Traders");
  const json *exp_in = json_get(c.body, "expires_in");
  assert_non_null(exp_in);
  assert_string_equal(exp_in->str, "3600");
  assert_non_null(json_get(c.body, "expires_at"));
  char canon[UUID_STR_LEN + 1];
  assert_int_equal(uuid_normalize(s.user_id, canon), 0);
  call_done(&c);

  /* The profile row, one session and one refresh token were written. */
  counts after = count_all();
  assert_int_equal(after.users, before.users + 1);
  assert_int_equal(after.profiles, before.profiles + 1);
  assert_int_equal(after.sessions, before.sessions + 1);
  assert_int_equal(after.tokens, before.tokens + 1);
  assert_int_equal(count("SELECT count(*) FROM profiles WHERE business_name = "
                         "'Alice Traders' AND whatsapp_number = $1",
                         wa),
                   1);
  /* The password is stored as an Argon2id hash, never as given. */
  assert_int_equal(count("SELECT count(*) FROM auth_users WHERE email = $1 AND "
                         "encrypted_password LIKE '$argon2id$%'",
                         mail),
                   1);

  /* The access token is a user token for this user. */
  api_principal who;
  api_resp resp;
  api_resp_init(&resp);
  assert_int_equal(auth_verify_or_reply(g_auth, a, s.access, &who, &resp), 0);
  assert_int_equal(who.role, ROLE_AUTHENTICATED);
  assert_string_equal(who.sub, s.user_id);
  assert_string_equal(who.email, mail);
  assert_int_equal(strlen(who.session_id), UUID_STR_LEN);
  api_resp_free(&resp);
  arena_free(a);
}

static void test_signup_weak_password(void **state) {
  (void)state;
  arena *a = arena_new();
  counts before = count_all();
  call c;
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "weak"), "short", "X", NULL), NULL, NULL);
  assert_error(&c, 422, "weak_password");
  call_done(&c);
  /* Seven characters (some of them multi-byte) is still too short. */
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "weak"),
                       "\xe0\xa4\x95\xe0\xa4\x96"
                       "abcde",
                       "X", NULL),
           NULL, NULL);
  assert_error(&c, 422, "weak_password");
  call_done(&c);
  /* Missing or non-string password. */
  call_run(&c, "POST", "signup", NULL,
           arena_printf(a, "{\"email\":\"%s\"}", email(a, "weak")), NULL, NULL);
  assert_error(&c, 400, "validation_failed");
  call_done(&c);
  call_run(&c, "POST", "signup", NULL,
           arena_printf(a, "{\"email\":\"%s\",\"password\":12345678}",
                        email(a, "weak")),
           NULL, NULL);
  assert_error(&c, 400, "validation_failed");
  call_done(&c);
  assert_counts_equal(before, count_all());
  arena_free(a);
}

static void test_signup_taken(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "taken");
  char *wa = arena_printf(a, "+9197%s", run_digits(a));
  call c;
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, mail, "password-one", "First", wa), NULL, NULL);
  take_session(a, &c);
  call_done(&c);

  counts before = count_all();
  /* Same email in another case. */
  char *upper = arena_strdup(a, mail);
  for (char *p = upper; *p && *p != '@'; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, upper, "password-two", "Second", NULL), NULL, NULL);
  assert_error(&c, 422, "user_already_exists");
  call_done(&c);
  /* Another email, same WhatsApp number. */
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "taken2"), "password-two", "Second", wa),
           NULL, NULL);
  assert_error(&c, 422, "validation_failed");
  assert_non_null(strstr(str_at(c.body, "msg"), "WhatsApp"));
  call_done(&c);
  assert_counts_equal(before, count_all());
  assert_int_equal(count("SELECT count(*) FROM profiles WHERE business_name = "
                         "'Second'",
                         NULL),
                   0);
  arena_free(a);
}

static void test_signup_bad_input(void **state) {
  (void)state;
  arena *a = arena_new();
  counts before = count_all();
  struct {
    const char *body;
    int status;
    const char *code;
  } cases[] = {
      {"{not json", 400, "bad_json"},
      {"", 400, "bad_json"},
      {"[1,2]", 400, "bad_json"},
      {"\"x\"", 400, "bad_json"},
      {"{\"email\":\"a@b.co\",\"email\":\"c@d.co\",\"password\":\"12345678\"}",
       400, "bad_json"},
      {"{\"password\":\"12345678\"}", 400, "validation_failed"},
      {"{\"email\":42,\"password\":\"12345678\"}", 400, "validation_failed"},
      {"{\"email\":\"no-at-sign\",\"password\":\"12345678\"}", 400,
       "validation_failed"},
      {"{\"email\":\"a@@b.co\",\"password\":\"12345678\"}", 400,
       "validation_failed"},
      {"{\"email\":\"a@nodot\",\"password\":\"12345678\"}", 400,
       "validation_failed"},
      {"{\"email\":\"a b@x.co\",\"password\":\"12345678\"}", 400,
       "validation_failed"},
      {"{\"email\":\"bad-data@x.co\",\"password\":\"12345678\",\"data\":[]}",
       400, "validation_failed"},
      {"{\"email\":\"bad-data@x.co\",\"password\":\"12345678\",\"data\":"
       "{\"business_name\":5}}",
       400, "validation_failed"},
      {"{\"email\":\"bad-data@x.co\",\"password\":\"12345678\",\"data\":"
       "{\"business_name\":{\"nested\":true}}}",
       400, "validation_failed"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    call c;
    call_run(&c, "POST", "signup", NULL, cases[i].body, NULL, NULL);
    assert_error(&c, cases[i].status, cases[i].code);
    call_done(&c);
  }
  /* user_metadata over its cap (it rides in every access token). */
  char *pad = arena_alloc(a, 3001);
  memset(pad, 'm', 3000);
  call c0;
  call_run(&c0, "POST", "signup", NULL,
           arena_printf(a,
                        "{\"email\":\"%s\",\"password\":\"12345678\","
                        "\"data\":{\"note\":\"%s\"}}",
                        email(a, "bigmeta"), pad),
           NULL, NULL);
  assert_error(&c0, 400, "validation_failed");
  call_done(&c0);
  /* A password over the cap is refused before it is hashed. */
  char *huge = arena_alloc(a, 2001);
  memset(huge, 'p', 2000);
  call c;
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "huge"), huge, "X", NULL), NULL, NULL);
  assert_int_equal(c.resp.status, 422);
  call_done(&c);
  assert_counts_equal(before, count_all());
  arena_free(a);
}

static void test_login(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "login");
  session s = signup(a, mail, "open sesame");
  call c;
  login(&c, a, mail, "open sesame", "10.1.0.1");
  session s2 = take_session(a, &c);
  assert_string_equal(s2.user_id, s.user_id);
  assert_string_not_equal(s2.refresh, s.refresh);
  assert_non_null(str_at(json_get(c.body, "user"), "last_sign_in_at"));
  call_done(&c);
  /* Each sign-in is a new session. */
  assert_int_equal(
      count("SELECT count(*) FROM auth_sessions WHERE user_id = $1", s.user_id),
      2);
  /* Email case does not matter. */
  char *upper = arena_strdup(a, mail);
  upper[0] = 'L';
  login(&c, a, upper, "open sesame", "10.1.0.1");
  assert_int_equal(c.resp.status, 200);
  call_done(&c);

  /* Wrong password and unknown email give the same answer. */
  login(&c, a, mail, "open sesame!", "10.1.0.2");
  assert_error(&c, 400, "invalid_grant");
  char *wrong = arena_strdup(a, buf_cstr(&c.resp.body));
  call_done(&c);
  login(&c, a, email(a, "nobody"), "open sesame", "10.1.0.3");
  assert_error(&c, 400, "invalid_grant");
  assert_string_equal(buf_cstr(&c.resp.body), wrong);
  call_done(&c);
  assert_non_null(strstr(wrong, "Invalid login credentials"));

  /* Missing fields, bad JSON, unknown grant types. */
  call_run(&c, "POST", "token", "grant_type=password", "{\"email\":1}", NULL,
           "10.1.0.4");
  assert_error(&c, 400, "validation_failed");
  call_done(&c);
  call_run(&c, "POST", "token", "grant_type=password", "{", NULL, "10.1.0.4");
  assert_error(&c, 400, "bad_json");
  call_done(&c);
  call_run(&c, "POST", "token", "", "{}", NULL, "10.1.0.4");
  assert_error(&c, 400, "unsupported_grant_type");
  call_done(&c);
  call_run(&c, "POST", "token", "grant_type=magic", "{}", NULL, "10.1.0.4");
  assert_error(&c, 400, "unsupported_grant_type");
  call_done(&c);
  call_run(&c, "POST", "token", "grant_type=password&grant_type=x", "{}", NULL,
           "10.1.0.4");
  assert_error(&c, 400, "unsupported_grant_type");
  call_done(&c);
  /* Percent-encoding in the query is understood. */
  call_run(
      &c, "POST", "token", "grant_type=pass%77ord",
      arena_printf(a, "{\"email\":\"%s\",\"password\":\"open sesame\"}", mail),
      NULL, "10.1.0.4");
  assert_int_equal(c.resp.status, 200);
  call_done(&c);
  arena_free(a);
}

static int retry_after(const call *c) {
  for (int i = 0; i < c->resp.nheaders; i++)
    if (strcasecmp(c->resp.headers[i].name, "Retry-After") == 0)
      return (int)strtol(c->resp.headers[i].value, NULL, 10);
  return -1;
}

static void test_rate_limit(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "ratelimit");
  signup(a, mail, "right password");
  call c;
  /* An attacker at one address uses up the free failures for this email. */
  for (int i = 0; i < RATE_LIMIT; i++) {
    login(&c, a, mail, "wrong password", "10.2.0.1");
    assert_error(&c, 400, "invalid_grant");
    call_done(&c);
  }
  /* There, even the right password is not checked now. */
  login(&c, a, mail, "right password", "10.2.0.1");
  assert_error(&c, 429, "over_request_rate_limit");
  assert_int_equal(retry_after(&c), BACKOFF);
  call_done(&c);
  /* Regression (finding 2): the owner at another address is not locked
   * out by the attacker's failures. */
  login(&c, a, mail, "right password", "10.2.9.9");
  assert_int_equal(c.resp.status, 200);
  call_done(&c);
  /* After the wait, one more guess; a further failure doubles the wait. */
  g_clock += BACKOFF - 1;
  login(&c, a, mail, "wrong password", "10.2.0.1");
  assert_error(&c, 429, "over_request_rate_limit");
  assert_int_equal(retry_after(&c), 1);
  call_done(&c);
  g_clock += 1;
  login(&c, a, mail, "wrong password", "10.2.0.1");
  assert_error(&c, 400, "invalid_grant");
  call_done(&c);
  login(&c, a, mail, "wrong password", "10.2.0.1");
  assert_error(&c, 429, "over_request_rate_limit");
  assert_int_equal(retry_after(&c), 2 * BACKOFF);
  call_done(&c);

  /* Per address: failures against different emails add up ... */
  for (int i = 0; i < ADDR_LIMIT; i++) {
    login(&c, a, email(a, arena_printf(a, "ghost%d", i)), "whatever1",
          "10.2.2.2");
    assert_error(&c, 400, "invalid_grant");
    call_done(&c);
  }
  char *other = email(a, "ratelimit-other");
  signup(a, other, "right password");
  login(&c, a, other, "right password", "10.2.2.2");
  assert_error(&c, 429, "over_request_rate_limit");
  assert_true(retry_after(&c) > 0);
  call_done(&c);
  /* ... but that user can still sign in from elsewhere. */
  login(&c, a, other, "right password", "10.2.2.3");
  assert_int_equal(c.resp.status, 200);
  call_done(&c);

  /* A success clears the email's failures at that address. */
  char *third = email(a, "ratelimit-reset");
  signup(a, third, "right password");
  for (int round = 0; round < 2; round++) {
    for (int i = 0; i < RATE_LIMIT - 1; i++) {
      login(&c, a, third, "wrong password", "10.2.3.1");
      assert_error(&c, 400, "invalid_grant");
      call_done(&c);
    }
    login(&c, a, third, "right password", "10.2.3.1");
    assert_int_equal(c.resp.status, 200);
    call_done(&c);
  }
  arena_free(a);
}

/* Regression (findings 1 and 6): signups are limited per address, and
 * every attempt counts, also one answered "already registered". */
static void test_signup_limit(void **state) {
  (void)state;
  auth_config cfg = {
      .secret = SECRET,
      .secret_len = sizeof SECRET - 1,
      .signups_per_addr = 3,
      .backoff_s = BACKOFF,
      .limit_clock_s = fake_clock,
  };
  auth *strict = auth_new(&cfg);
  assert_non_null(strict);
  auth *saved = g_auth;
  g_auth = strict;
  arena *a = arena_new();
  char *mail = email(a, "signup-limit");
  call c;
  call_run(&c, "POST", "signup", NULL, signup_body(a, mail, "pass word 1",
                                                   "Shop", NULL),
           NULL, "10.3.0.1");
  take_session(a, &c);
  call_done(&c);
  call_run(&c, "POST", "signup", NULL, signup_body(a, mail, "pass word 1",
                                                   "Shop", NULL),
           NULL, "10.3.0.1");
  assert_error(&c, 422, "user_already_exists");
  call_done(&c);
  call_run(&c, "POST", "signup", NULL, "{", NULL, "10.3.0.1");
  assert_error(&c, 400, "bad_json");
  call_done(&c);
  /* The fourth attempt is refused before anything is looked up. */
  counts before = count_all();
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "signup-limit2"), "pass word 1", "S", NULL),
           NULL, "10.3.0.1");
  assert_error(&c, 429, "over_request_rate_limit");
  assert_int_equal(retry_after(&c), BACKOFF);
  call_done(&c);
  call_run(&c, "POST", "signup", NULL, signup_body(a, mail, "x", "S", NULL),
           NULL, "10.3.0.1");
  assert_error(&c, 429, "over_request_rate_limit");
  call_done(&c);
  assert_counts_equal(before, count_all());
  /* Another address is not affected; the first may go on after the wait. */
  call_run(&c, "POST", "signup", NULL, signup_body(a, mail, "pass word 1",
                                                   "Shop", NULL),
           NULL, "10.3.0.2");
  assert_error(&c, 422, "user_already_exists");
  call_done(&c);
  g_clock += BACKOFF;
  call_run(&c, "POST", "signup", NULL,
           signup_body(a, email(a, "signup-limit2"), "pass word 1", "S", NULL),
           NULL, "10.3.0.1");
  take_session(a, &c);
  call_done(&c);
  g_auth = saved;
  auth_free(strict);
  arena_free(a);
}

static void test_refresh_rotation(void **state) {
  (void)state;
  arena *a = arena_new();
  session s = signup(a, email(a, "refresh"), "refresh me please");
  call c;
  refresh(&c, a, s.refresh);
  session s2 = take_session(a, &c);
  call_done(&c);
  assert_string_not_equal(s2.refresh, s.refresh);
  assert_string_equal(s2.user_id, s.user_id);
  /* The new access token belongs to the same session. */
  api_principal w1, w2;
  api_resp r;
  api_resp_init(&r);
  assert_int_equal(auth_verify_or_reply(g_auth, a, s.access, &w1, &r), 0);
  assert_int_equal(auth_verify_or_reply(g_auth, a, s2.access, &w2, &r), 0);
  assert_string_equal(w1.session_id, w2.session_id);
  api_resp_free(&r);

  refresh(&c, a, s2.refresh);
  session s3 = take_session(a, &c);
  call_done(&c);

  /* The first token again: refused, and the whole session is revoked, so
   * the newest token (s3) no longer works either. */
  refresh(&c, a, s.refresh);
  assert_error(&c, 400, "invalid_grant");
  assert_non_null(strstr(str_at(c.body, "msg"), "Already Used"));
  call_done(&c);
  refresh(&c, a, s3.refresh);
  assert_error(&c, 400, "invalid_grant");
  call_done(&c);
  assert_int_equal(count("SELECT count(*) FROM auth_refresh_tokens WHERE "
                         "user_id = $1 AND revoked = false",
                         s.user_id),
                   0);

  /* Unknown and malformed tokens. */
  refresh(&c, a, "not-a-token");
  assert_error(&c, 400, "invalid_grant");
  assert_non_null(strstr(str_at(c.body, "msg"), "Not Found"));
  call_done(&c);
  call_run(&c, "POST", "token", "grant_type=refresh_token", "{}", NULL, NULL);
  assert_error(&c, 400, "validation_failed");
  call_done(&c);
  call_run(&c, "POST", "token", "grant_type=refresh_token",
           "{\"refresh_token\":7}", NULL, NULL);
  assert_error(&c, 400, "validation_failed");
  call_done(&c);
  arena_free(a);
}

static void test_user(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "user");
  session s = signup(a, mail, "who am i really");
  call c;
  call_run(&c, "GET", "user", NULL, NULL, s.access, NULL);
  assert_int_equal(c.resp.status, 200);
  assert_string_equal(str_at(c.body, "id"), s.user_id);
  assert_string_equal(str_at(c.body, "email"), mail);
  assert_string_equal(
      str_at(json_get(c.body, "user_metadata"), "business_name"), "Shop");
  call_done(&c);

  call_run(&c, "GET", "user", NULL, NULL, NULL, NULL);
  assert_error(&c, 401, "no_authorization");
  call_done(&c);

  /* A payload edited to another user, signature kept. */
  char *t = arena_strdup(a, s.access);
  char *p = strchr(t, '.') + 10;
  *p = *p == 'A' ? 'B' : 'A';
  call_run(&c, "GET", "user", NULL, NULL, t, NULL);
  assert_error(&c, 403, "bad_jwt");
  call_done(&c);

  /* Not a user token: the anon key. */
  buf key;
  buf_init(&key, 0);
  assert_int_equal(auth_api_key(g_auth, "anon", &key), 0);
  call_run(&c, "GET", "user", NULL, NULL, buf_cstr(&key), NULL);
  assert_error(&c, 403, "bad_jwt");
  call_done(&c);
  buf_free(&key);

  /* An expired token for this very user. */
  buf tok;
  buf_init(&tok, 0);
  char *claims = arena_printf(
      a,
      "{\"sub\":\"%s\",\"role\":\"authenticated\",\"aud\":\"authenticated\","
      "\"exp\":1000,\"iat\":900}",
      s.user_id);
  assert_int_equal(jwt_sign(SECRET, sizeof SECRET - 1, claims, &tok), 0);
  call_run(&c, "GET", "user", NULL, NULL, buf_cstr(&tok), NULL);
  assert_error(&c, 403, "bad_jwt");
  call_done(&c);
  buf_free(&tok);

  /* A valid token for a user that does not exist. */
  char ghost[UUID_STR_LEN + 1];
  uuid_v7(ghost);
  buf_init(&tok, 0);
  claims = arena_printf(a,
                        "{\"sub\":\"%s\",\"role\":\"authenticated\","
                        "\"exp\":9999999999}",
                        ghost);
  assert_int_equal(jwt_sign(SECRET, sizeof SECRET - 1, claims, &tok), 0);
  call_run(&c, "GET", "user", NULL, NULL, buf_cstr(&tok), NULL);
  assert_int_equal(c.resp.status, 403);
  call_done(&c);
  buf_free(&tok);

  /* Wrong method, unknown endpoint. */
  call_run(&c, "POST", "user", NULL, "{}", s.access, NULL);
  assert_int_equal(c.resp.status, 405);
  call_done(&c);
  call_run(&c, "GET", "signup", NULL, NULL, NULL, NULL);
  assert_int_equal(c.resp.status, 405);
  call_done(&c);
  call_run(&c, "GET", "settings/../user", NULL, NULL, s.access, NULL);
  assert_int_equal(c.resp.status, 404);
  call_done(&c);
  arena_free(a);
}

static void test_logout(void **state) {
  (void)state;
  arena *a = arena_new();
  char *mail = email(a, "logout");
  session s1 = signup(a, mail, "goodbye for now");
  call c;
  login(&c, a, mail, "goodbye for now", "10.3.0.1");
  session s2 = take_session(a, &c);
  call_done(&c);

  call_run(&c, "POST", "logout", NULL, NULL, NULL, NULL);
  assert_error(&c, 401, "no_authorization");
  call_done(&c);
  call_run(&c, "POST", "logout", "scope=sideways", NULL, s1.access, NULL);
  assert_error(&c, 400, "validation_failed");
  call_done(&c);

  /* Local: only the first session ends. */
  call_run(&c, "POST", "logout", NULL, NULL, s1.access, NULL);
  assert_int_equal(c.resp.status, 204);
  assert_int_equal(c.resp.body.len, 0);
  call_done(&c);
  refresh(&c, a, s1.refresh);
  assert_error(&c, 400, "invalid_grant");
  call_done(&c);
  call_run(&c, "GET", "user", NULL, NULL, s1.access, NULL);
  assert_error(&c, 403, "bad_jwt");
  call_done(&c);
  call_run(&c, "GET", "user", NULL, NULL, s2.access, NULL);
  assert_int_equal(c.resp.status, 200);
  call_done(&c);

  /* Global: every session of the user ends. */
  login(&c, a, mail, "goodbye for now", "10.3.0.1");
  session s3 = take_session(a, &c);
  call_done(&c);
  call_run(&c, "POST", "logout", "scope=global", NULL, s3.access, NULL);
  assert_int_equal(c.resp.status, 204);
  call_done(&c);
  refresh(&c, a, s2.refresh);
  assert_error(&c, 400, "invalid_grant");
  call_done(&c);
  assert_int_equal(
      count("SELECT count(*) FROM auth_sessions WHERE user_id = $1",
            s1.user_id),
      0);
  /* Logging out twice is harmless. */
  call_run(&c, "POST", "logout", NULL, NULL, s3.access, NULL);
  assert_int_equal(c.resp.status, 204);
  call_done(&c);
  arena_free(a);
}

/* Two clients present the same refresh token at the same moment, each on
 * its own connection: exactly one may get a new session. */
typedef struct racer {
  db *d;
  const char *token;
  int status;
} racer;

static void *race(void *arg) {
  racer *r = arg;
  arena *a = arena_new();
  api_resp resp;
  api_resp_init(&resp);
  api_req req = {
      .a = a,
      .method = "POST",
      .path = "token",
      .query = "grant_type=refresh_token",
      .body = arena_printf(a, "{\"refresh_token\":\"%s\"}", r->token),
      .remote = "10.4.0.1",
      .header = get_header,
  };
  req.body_len = strlen(req.body);
  auth_handle(g_auth, r->d, &req, &resp);
  r->status = resp.status;
  api_resp_free(&resp);
  arena_free(a);
  return NULL;
}

static void test_refresh_race(void **state) {
  (void)state;
  arena *a = arena_new();
  db *d2;
  db_err err;
  assert_int_equal(db_open(test_db_url(), &d2, &err), 0);
  for (int round = 0; round < 5; round++) {
    session s = signup(a, email(a, arena_printf(a, "race%d", round)),
                       "run run run run");
    racer r[2] = {{g_db, s.refresh, 0}, {d2, s.refresh, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) pthread_create(&t[i], NULL, race, &r[i]);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    int ok = (r[0].status == 200) + (r[1].status == 200);
    assert_int_equal(ok, 1);
    assert_true(r[0].status == 400 || r[1].status == 400);
  }
  db_close(d2);
  arena_free(a);
}

/* ---------------------------------------------------------------------------
 * Setup */

static int setup(void **state) {
  (void)state;
  g_db = test_db_open_migrated(NULL);
  auth_config cfg = {
      .secret = SECRET,
      .secret_len = sizeof SECRET - 1,
      .hash_concurrency = 2,
      .login_fails = RATE_LIMIT,
      .login_addr_fails = ADDR_LIMIT,
      .signups_per_addr = 100000,
      .backoff_s = BACKOFF,
      .backoff_max_s = 8 * BACKOFF,
      .limit_clock_s = fake_clock,
  };
  g_auth = auth_new(&cfg);
  uint8_t r[4];
  random_bytes(r, sizeof r);
  hex_encode(r, sizeof r, g_run);
  return g_auth ? 0 : -1;
}

static int teardown(void **state) {
  (void)state;
  auth_free(g_auth);
  test_db_close(g_db);
  return 0;
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signup_ok),
      cmocka_unit_test(test_signup_weak_password),
      cmocka_unit_test(test_signup_taken),
      cmocka_unit_test(test_signup_bad_input),
      cmocka_unit_test(test_login),
      cmocka_unit_test(test_rate_limit),
      cmocka_unit_test(test_signup_limit),
      cmocka_unit_test(test_refresh_rotation),
      cmocka_unit_test(test_refresh_race),
      cmocka_unit_test(test_user),
      cmocka_unit_test(test_logout),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
