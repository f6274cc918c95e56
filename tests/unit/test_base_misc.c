/* test_base_misc.c - the arena, capped buffers, the API error table and
 * response helpers, and the log line format (src/base/arena.c, buf.c,
 * api.c, log.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/api.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/url.h"

/* ---- arena ------------------------------------------------------------ */

static void test_arena(void **state) {
  (void)state;
  arena *a = arena_new();
  for (size_t n = 0; n < 3000; n += 7) {
    unsigned char *p = arena_alloc(a, n);
    assert_non_null(p);
    assert_int_equal((uintptr_t)p % 16, 0);
    for (size_t i = 0; i < n; i++) assert_int_equal(p[i], 0);
    memset(p, 0xee, n);
  }
  /* A big one-off and more small ones after it. */
  char *big = arena_alloc(a, 1 << 20);
  big[(1 << 20) - 1] = 'x';
  char *s = arena_strdup(a, "hello");
  assert_string_equal(s, "hello");
  assert_null(arena_strdup(a, NULL));
  assert_string_equal(arena_strndup(a, "hello", 3), "hel");
  assert_string_equal(arena_printf(a, "%s-%d", "x", 42), "x-42");
  char longer[5000];
  memset(longer, 'q', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  assert_string_equal(arena_printf(a, "%s", longer), longer);
  arena_reset(a);
  unsigned char *p = arena_alloc(a, 100);
  for (int i = 0; i < 100; i++) assert_int_equal(p[i], 0);
  arena_free(a);
  arena_free(NULL);
}

/* Runs fn in a child process; returns the signal that ended it, or 0 when
 * it exited normally. */
static int dies_by(void (*fn)(size_t), size_t n) {
  fflush(NULL);
  pid_t pid = fork();
  assert_true(pid >= 0);
  if (pid == 0) {
    fclose(stderr); /* the expected "out of memory" line is noise here */
    fn(n);
    _exit(0);
  }
  int st;
  assert_int_equal(waitpid(pid, &st, 0), pid);
  return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

static void alloc_huge(size_t n) {
  arena *a = arena_new();
  volatile unsigned char *p = arena_alloc(a, n);
  p[0] = 1; /* not reached: the arena refuses */
  arena_free(a);
}

static void strndup_huge(size_t n) {
  arena *a = arena_new();
  (void)arena_strndup(a, "x", n);
  arena_free(a);
}

/* Regression: a size near SIZE_MAX wrapped in the alignment rounding into a
 * tiny block, and the memset of n bytes then wrote far past it. Now such a
 * size aborts as an out-of-memory does, before anything is written. */
static void test_arena_huge(void **state) {
  (void)state;
  size_t sizes[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 15, SIZE_MAX - 16,
                    SIZE_MAX / 2 + 1, (size_t)1 << 62};
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    assert_int_equal(dies_by(alloc_huge, sizes[i]), SIGABRT);
    assert_int_equal(dies_by(strndup_huge, sizes[i]), SIGABRT);
  }
  /* An ordinary large request still works. */
  assert_int_equal(dies_by(alloc_huge, (size_t)1 << 24), 0);
}

/* ---- url ---------------------------------------------------------------- */

static void test_url(void **state) {
  (void)state;
  arena *a = arena_new();
  assert_string_equal(url_unescape(a, "a%20b+c%2B", 10), "a b c+");
  assert_null(url_unescape(a, "%2", 2));
  assert_null(url_unescape(a, "ab%", 3));
  assert_null(url_unescape(a, "%zz", 3));
  assert_null(url_unescape(a, "%00", 3)); /* no NUL smuggled into C strings */
  assert_string_equal(url_unescape(a, "%41", 3), "A");
  const char *v;
  assert_int_equal(url_query_get(a, "x=1&access_token=abc%2Edef&y=", "access_token", &v), 1);
  assert_string_equal(v, "abc.def");
  assert_int_equal(url_query_get(a, "x=1", "access_token", &v), 0);
  assert_null(v);
  assert_int_equal(url_query_get(a, "t=1&t=2", "t", &v), -1);
  assert_int_equal(url_query_get(a, "t=%zz", "t", &v), -1);
  assert_int_equal(url_query_get(a, "", "t", &v), 0);
  assert_int_equal(url_query_get(a, "t", "t", &v), 1);
  assert_string_equal(v, "");
  arena_free(a);
}

/* ---- bearer and SQLSTATE mapping ---------------------------------------- */

static void test_bearer_sqlstate(void **state) {
  (void)state;
  arena *a = arena_new();
  assert_string_equal(api_bearer(a, "Bearer abc"), "abc");
  assert_string_equal(api_bearer(a, "bearer \t abc  "), "abc");
  assert_null(api_bearer(a, "Bearer "));
  assert_null(api_bearer(a, "Bearerabc"));
  assert_null(api_bearer(a, "Basic abc"));
  assert_null(api_bearer(a, NULL));
  arena_free(a);
  assert_int_equal(api_error_for_sqlstate("23505"), E_UNIQUE);
  assert_int_equal(api_error_for_sqlstate("23503"), E_FOREIGN_KEY);
  assert_int_equal(api_error_for_sqlstate("23502"), E_NOT_NULL);
  assert_int_equal(api_error_for_sqlstate("23514"), E_CHECK);
  assert_int_equal(api_error_for_sqlstate("22P02"), E_BAD_VALUE);
  assert_int_equal(api_error_for_sqlstate("40001"), E_UNAVAILABLE);
  assert_int_equal(api_error_for_sqlstate("40P01"), E_UNAVAILABLE);
  assert_int_equal(api_error_for_sqlstate("08006"), E_UNAVAILABLE);
  assert_int_equal(api_error_for_sqlstate("58030"), E_DB);
  assert_int_equal(api_error_for_sqlstate(""), E_DB);
  assert_int_equal(api_error_get(E_UNAVAILABLE)->status, 503);
  assert_true(api_sqlstate_retryable("40001") && api_sqlstate_retryable("40P01"));
  assert_false(api_sqlstate_retryable("08006") || api_sqlstate_retryable("23505"));
}

/* ---- buf -------------------------------------------------------------- */

static void test_buf(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  assert_string_equal(buf_cstr(&b), "");
  assert_int_equal(buf_puts(&b, "ab"), 0);
  assert_int_equal(buf_putc(&b, 'c'), 0);
  assert_int_equal(buf_printf(&b, "%d", 123), 0);
  assert_string_equal(buf_cstr(&b), "abc123");
  assert_int_equal(b.len, 6);
  char big[1000];
  memset(big, 'z', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  assert_int_equal(buf_printf(&b, "[%s]", big), 0);
  assert_int_equal(b.len, 6 + 2 + 999);
  assert_int_equal(b.data[b.len], '\0');
  buf_reset(&b);
  assert_int_equal(b.len, 0);
  assert_string_equal(buf_cstr(&b), "");
  buf_puts(&b, "keep");
  char *stolen = buf_steal(&b);
  assert_string_equal(stolen, "keep");
  free(stolen);
  assert_null(b.data);
  assert_int_equal(b.len, 0);
  stolen = buf_steal(&b);
  assert_string_equal(stolen, "");
  free(stolen);
  buf_free(&b);
  buf_free(NULL);

  /* The cap: an append that would pass it fails and changes nothing. */
  buf_init(&b, 8);
  assert_int_equal(buf_puts(&b, "12345678"), 0);
  assert_int_equal(buf_putc(&b, '9'), -1);
  assert_int_equal(buf_printf(&b, "%s", "x"), -1);
  assert_string_equal(buf_cstr(&b), "12345678");
  buf_reset(&b);
  assert_int_equal(buf_printf(&b, "%s", big), -1);
  assert_int_equal(b.len, 0);
  assert_int_equal(buf_append(&b, "", 0), 0);
  buf_free(&b);
}

/* ---- api -------------------------------------------------------------- */

static json *parse_body(arena *a, const api_resp *r) {
  json *v = NULL;
  json_error err;
  if (json_parse(a, r->body.data, r->body.len, &v, &err))
    fail_msg("error body is not JSON: %s (%s)", buf_cstr(&r->body),
             err.message);
  return v;
}

static const char *str_of(const json *o, const char *key) {
  json *v = json_get(o, key);
  if (!v) fail_msg("no %s", key);
  return v->type == JSON_STRING ? v->str : NULL;
}

static void test_error_table(void **state) {
  (void)state;
  for (int e = 0; e < E__COUNT; e++) {
    const api_error_def *d = api_error_get((api_error)e);
    assert_non_null(d->code);
    assert_non_null(d->message);
    assert_true(d->status >= 400 && d->status <= 599);
    assert_true(strlen(d->code) > 0);
    assert_int_equal(d->gotrue, e >= E_AUTH_BAD_JSON && e <= E_AUTH_RATE_LIMIT);
  }
  const api_error_def *d = api_error_get(E_USE_OPERATION);
  assert_int_equal(d->status, 405);
  assert_string_equal(d->code, "MU002");
  d = api_error_get(E_READ_ONLY_COLUMN);
  assert_int_equal(d->status, 400);
  assert_string_equal(d->code, "MU001");
  d = api_error_get(E_NO_FILTER);
  assert_string_equal(d->code, "21000");
  d = api_error_get(E_NO_TABLE);
  assert_int_equal(d->status, 404);
  assert_string_equal(d->code, "PGRST205");
  d = api_error_get(E_UNIQUE);
  assert_int_equal(d->status, 409);
  assert_string_equal(d->code, "23505");
  d = api_error_get(E_BAD_RANGE);
  assert_int_equal(d->status, 416);
  d = api_error_get(E_AUTH_BAD_LOGIN);
  assert_int_equal(d->status, 400);
  assert_string_equal(d->code, "invalid_grant");
  assert_string_equal(d->message, "Invalid login credentials");
  d = api_error_get(E_AUTH_BAD_TOKEN);
  assert_int_equal(d->status, 403);
  assert_string_equal(d->code, "bad_jwt");
  d = api_error_get(E_AUTH_RATE_LIMIT);
  assert_int_equal(d->status, 429);
  d = api_error_get(E_AUTH_EMAIL_TAKEN);
  assert_int_equal(d->status, 422);
  assert_string_equal(d->code, "user_already_exists");
  /* Out of range falls back to the internal error. */
  assert_ptr_equal(api_error_get((api_error)9999), api_error_get(E_INTERNAL));
  assert_ptr_equal(api_error_get((api_error)-1), api_error_get(E_INTERNAL));
}

static void test_resp(void **state) {
  (void)state;
  api_resp r;
  api_resp_init(&r);
  assert_int_equal(r.status, 200);
  assert_non_null(strstr(r.content_type, "application/json"));
  assert_int_equal(r.nheaders, 0);
  assert_int_equal(r.body.max, 0);
  for (int i = 0; i < API_MAX_HEADERS; i++)
    assert_int_equal(api_header(&r, "X-N", "v"), 0);
  assert_int_equal(api_header(&r, "X-Over", "v"), -1);
  assert_int_equal(r.nheaders, API_MAX_HEADERS);
  api_resp_free(&r);
  api_resp_free(NULL);
}

static void test_fail_postgrest(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  api_resp_init(&r);
  buf_puts(&r.body, "[{\"half\":\"written");
  api_header(&r, "Content-Range", "0-9/*");
  r.content_type = "text/csv";

  assert_int_equal(api_fail(&r, E_NO_TABLE, NULL, NULL, NULL), -1);
  assert_int_equal(r.status, 404);
  assert_int_equal(r.nheaders, 0);
  assert_non_null(strstr(r.content_type, "application/json"));
  json *v = parse_body(a, &r);
  assert_int_equal(v->n, 4);
  assert_string_equal(str_of(v, "code"), "PGRST205");
  assert_string_equal(str_of(v, "message"), api_error_get(E_NO_TABLE)->message);
  assert_int_equal(json_get(v, "details")->type, JSON_NULL);
  assert_int_equal(json_get(v, "hint")->type, JSON_NULL);

  /* Strings are escaped, so hostile text cannot break the body. */
  assert_int_equal(api_fail(&r, E_NO_COLUMN, "column \"x\\\" does not exist",
                            "line1\nline2\x01", "try \"id\""),
                   -1);
  assert_int_equal(r.status, 400);
  v = parse_body(a, &r);
  assert_string_equal(str_of(v, "code"), "42703");
  assert_string_equal(str_of(v, "message"), "column \"x\\\" does not exist");
  assert_string_equal(str_of(v, "details"), "line1\nline2\x01");
  assert_string_equal(str_of(v, "hint"), "try \"id\"");

  assert_int_equal(api_failf(&r, E_BAD_VALUE,
                             "invalid input syntax for type "
                             "%s: \"%s\"",
                             "uuid", "nope"),
                   -1);
  v = parse_body(a, &r);
  assert_string_equal(str_of(v, "code"), "22P02");
  assert_string_equal(str_of(v, "message"),
                      "invalid input syntax for type uuid: \"nope\"");

  /* A long formatted message is cut, not overflowed. */
  char longer[2000];
  memset(longer, 'y', sizeof longer - 1);
  longer[sizeof longer - 1] = '\0';
  api_failf(&r, E_BAD_QUERY, "%s", longer);
  v = parse_body(a, &r);
  assert_true(strlen(str_of(v, "message")) < 512);

  /* A capped body still gets the whole error. */
  api_resp_free(&r);
  api_resp_init(&r);
  r.body.max = 4;
  api_fail(&r, E_INTERNAL, NULL, NULL, NULL);
  assert_int_equal(r.status, 500);
  parse_body(a, &r);

  api_resp_free(&r);
  arena_free(a);
}

static void test_fail_gotrue(void **state) {
  (void)state;
  arena *a = arena_new();
  api_resp r;
  api_resp_init(&r);
  assert_int_equal(api_fail(&r, E_AUTH_BAD_LOGIN, NULL, "ignored", NULL), -1);
  assert_int_equal(r.status, 400);
  json *v = parse_body(a, &r);
  assert_string_equal(str_of(v, "error"), "invalid_grant");
  assert_string_equal(str_of(v, "error_code"), "invalid_grant");
  assert_string_equal(str_of(v, "error_description"),
                      "Invalid login credentials");
  assert_string_equal(str_of(v, "msg"), "Invalid login credentials");
  int64_t code;
  assert_int_equal(json_int64(json_get(v, "code"), &code), 0);
  assert_int_equal(code, 400);
  assert_null(json_get(v, "details"));

  api_fail(&r, E_AUTH_WEAK_PASSWORD, NULL, NULL, NULL);
  assert_int_equal(r.status, 422);
  v = parse_body(a, &r);
  assert_string_equal(str_of(v, "error_code"), "weak_password");

  api_failf(&r, E_AUTH_VALIDATION, "%s is required", "email");
  v = parse_body(a, &r);
  assert_string_equal(str_of(v, "msg"), "email is required");
  assert_string_equal(str_of(v, "error_code"), "validation_failed");

  api_resp_free(&r);
  arena_free(a);
}

/* ---- log -------------------------------------------------------------- */

/* Runs fn with stderr sent to a pipe and returns what it wrote. */
static char *capture_stderr(void (*fn)(void)) {
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  int saved = dup(STDERR_FILENO);
  dup2(fds[1], STDERR_FILENO);
  close(fds[1]);
  fn();
  dup2(saved, STDERR_FILENO);
  close(saved);
  static char out[16384];
  size_t n = 0;
  ssize_t r;
  while (n < sizeof out - 1 &&
         (r = read(fds[0], out + n, sizeof out - 1 - n)) > 0)
    n += (size_t)r;
  out[n] = '\0';
  close(fds[0]);
  return out;
}

static void log_some(void) {
  log_set_level(LOG_INFO);
  log_debug("hidden %d", 1);
  log_info("hello %s", "world");
  log_warn("two\nlines\r\x01");
  log_set_level(LOG_ERROR);
  log_warn("hidden too");
  log_error("bad");
}

static void log_long(void) {
  log_set_level(LOG_INFO);
  char big[5000];
  memset(big, 'm', sizeof big - 1);
  big[sizeof big - 1] = '\0';
  log_info("%s", big);
}

static void assert_prefix(const char *line, const char *level) {
  /* "2026-11-24T20:00:00.123Z INFO " */
  assert_true(strlen(line) > 25);
  for (int i = 0; i < 23; i++) {
    if (i == 4 || i == 7)
      assert_int_equal(line[i], '-');
    else if (i == 10)
      assert_int_equal(line[i], 'T');
    else if (i == 13 || i == 16)
      assert_int_equal(line[i], ':');
    else if (i == 19)
      assert_int_equal(line[i], '.');
    else
      assert_true(line[i] >= '0' && line[i] <= '9');
  }
  assert_int_equal(line[23], 'Z');
  assert_int_equal(line[24], ' ');
  assert_memory_equal(line + 25, level, strlen(level));
}

static void test_log(void **state) {
  (void)state;
  log_level l;
  assert_int_equal(log_level_from_name("debug", &l), 0);
  assert_int_equal(l, LOG_DEBUG);
  assert_int_equal(log_level_from_name("WARN", &l), 0);
  assert_int_equal(l, LOG_WARN);
  assert_int_equal(log_level_from_name("error", &l), 0);
  assert_int_equal(l, LOG_ERROR);
  assert_int_equal(log_level_from_name("info", &l), 0);
  assert_int_equal(l, LOG_INFO);
  assert_int_equal(log_level_from_name("loud", &l), -1);
  assert_int_equal(log_level_from_name(NULL, &l), -1);

  char *out = capture_stderr(log_some);
  char *lines[8];
  int n = 0;
  for (char *p = out; *p && n < 8;) {
    lines[n++] = p;
    char *nl = strchr(p, '\n');
    assert_non_null(nl);
    *nl = '\0';
    p = nl + 1;
  }
  assert_int_equal(n, 3);
  assert_prefix(lines[0], "INFO ");
  assert_string_equal(lines[0] + 30, "hello world");
  assert_prefix(lines[1], "WARN ");
  assert_string_equal(lines[1] + 30, "two\\nlines\\r?");
  assert_prefix(lines[2], "ERROR ");
  assert_string_equal(lines[2] + 31, "bad");

  out = capture_stderr(log_long);
  size_t len = strlen(out);
  assert_true(len < 2200);
  assert_int_equal(out[len - 1], '\n');
  assert_memory_equal(out + len - 4, "...", 3);
  assert_ptr_equal(strchr(out, '\n'), out + len - 1); /* one line */
  log_set_level(LOG_INFO);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_arena),
      cmocka_unit_test(test_arena_huge),
      cmocka_unit_test(test_url),
      cmocka_unit_test(test_bearer_sqlstate),
      cmocka_unit_test(test_buf),
      cmocka_unit_test(test_error_table),
      cmocka_unit_test(test_resp),
      cmocka_unit_test(test_fail_postgrest),
      cmocka_unit_test(test_fail_gotrue),
      cmocka_unit_test(test_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
