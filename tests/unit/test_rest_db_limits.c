/* test_rest_db_limits.c - what /rest/v1 answers are held to, and how ilike
 * folds, on SQLite and PostgreSQL (argv[1]), through rest_handle in process.
 *
 * A select list that repeats a column is refused; a read returns at most
 * the row cap, with Content-Range saying which part (and 206 with a count);
 * reads that take several pages return every row once, in a stable order;
 * an answer past the response cap is refused with 413 and advice to page,
 * and a write whose answer is refused leaves nothing behind. ilike folds
 * Unicode case the same way on both databases (accented Latin, Turkish
 * names, Devanagari, German ß, decomposed accents), keeping LIKE escapes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>

#include "testutil.h"

#include "base/api.h"
#include "base/json.h"
#include "base/textfold.h"
#include "db/db.h"
#include "rest/rest.h"

struct fixture {
  db *d;
  arena *a;
  api_principal who;
};

/* The headers of the request being made: name, value, ... NULL. */
static const char **req_headers;

static const char *header_of(const api_req *r, const char *name) {
  (void)r;
  for (int i = 0; req_headers && req_headers[i]; i += 2)
    if (!strcasecmp(req_headers[i], name)) return req_headers[i + 1];
  return NULL;
}

typedef struct answer {
  int status;
  json *body;           /* parsed, or NULL */
  char range[64];       /* Content-Range, or "" */
  char message[512];    /* of an error */
  size_t len;           /* bytes of the body */
} answer;

static answer call(struct fixture *f, const char *method, const char *table,
                   const char *query, const char *body, const char **headers) {
  api_req req = {0};
  api_resp resp;
  api_resp_init(&resp);
  req.a = f->a;
  req.method = method;
  req.path = table;
  req.query = query;
  req.body = body ? body : "";
  req.body_len = strlen(req.body);
  req.remote = "test";
  req.who = f->who;
  req.header = header_of;
  req_headers = headers;
  rest_handle(f->d, &req, &resp);
  answer a;
  memset(&a, 0, sizeof a);
  a.status = resp.status;
  a.len = resp.body.len;
  json_error je;
  if (resp.body.len)
    json_parse(f->a, resp.body.data, resp.body.len, &a.body, &je);
  for (int i = 0; i < resp.nheaders; i++)
    if (!strcmp(resp.headers[i].name, "Content-Range"))
      snprintf(a.range, sizeof a.range, "%s", resp.headers[i].value);
  const json *m = a.body && a.body->type == JSON_OBJECT
                      ? json_get(a.body, "message")
                      : NULL;
  if (m && m->type == JSON_STRING)
    snprintf(a.message, sizeof a.message, "%s", m->str);
  api_resp_free(&resp);
  return a;
}

static int nrows(const answer *a) {
  assert_non_null(a->body);
  assert_int_equal(a->body->type, JSON_ARRAY);
  return (int)a->body->n;
}

static const char *code_of(const answer *a) {
  const json *c = a->body ? json_get(a->body, "code") : NULL;
  return c && c->type == JSON_STRING ? c->str : "";
}

static int setup(void **state) {
  struct fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->d = test_db_open_migrated(NULL);
  f->a = arena_new();
  f->who.role = ROLE_AUTHENTICATED;
  test_tenant(f->d, NULL, f->who.sub);
  rest_set_limits(0, 0);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fixture *f = *state;
  rest_set_limits(0, 0);
  arena_free(f->a);
  test_db_close(f->d);
  free(f);
  return 0;
}

/* Inserts n customers named "<prefix> NNN", each with `notes` bytes of
 * notes (0: none). */
static void add_customers(struct fixture *f, const char *prefix, int n,
                          size_t notes) {
  buf b;
  buf_init(&b, 0);
  char *pad = calloc(1, notes + 1);
  memset(pad, 'n', notes);
  buf_putc(&b, '[');
  for (int i = 0; i < n; i++)
    buf_printf(&b, "%s{\"full_name\":\"%s %03d\"%s%s%s}", i ? "," : "", prefix,
               i, notes ? ",\"notes\":\"" : "", notes ? pad : "",
               notes ? "\"" : "");
  buf_putc(&b, ']');
  answer a = call(f, "POST", "customers", "", buf_cstr(&b), NULL);
  assert_int_equal(a.status, 201);
  free(pad);
  buf_free(&b);
}

/* ---- select= ---------------------------------------------------------- */

static void test_repeated_select_refused(void **state) {
  struct fixture *f = *state;
  static const char *cases[] = {
      "select=full_name,full_name",
      "select=a:full_name,b:full_name", /* an alias makes no copy */
      "select=*,notes",                 /* once through *, once by name */
      "select=id,invoices(id,id)",      /* inside an embed */
      "select=id,invoices(id),invoices(total_amount)",
      "select=x:full_name,x:notes", /* one key for two outputs */
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    answer a = call(f, "GET", "customers", cases[i], NULL, NULL);
    assert_int_equal(a.status, 400);
    assert_string_equal(code_of(&a), "PGRST100");
  }
  answer a = call(f, "GET", "customers", "select=full_name,full_name", NULL,
                  NULL);
  assert_non_null(strstr(a.message, "customers.full_name"));
  /* The request of the report: one column 256 times. */
  buf q;
  buf_init(&q, 0);
  buf_puts(&q, "select=");
  for (int i = 0; i < 256; i++) buf_puts(&q, i ? ",notes" : "notes");
  a = call(f, "GET", "customers", buf_cstr(&q), NULL, NULL);
  assert_int_equal(a.status, 400);
  assert_non_null(strstr(a.message, "customers.notes"));
  buf_free(&q);
  /* Distinct columns and aliases still work. */
  a = call(f, "GET", "customers", "select=n:full_name,id,invoices(id)", NULL,
           NULL);
  assert_int_equal(a.status, 200);
}

/* ---- the row cap ------------------------------------------------------ */

static void test_row_cap(void **state) {
  struct fixture *f = *state;
  add_customers(f, "Cap", 12, 0);
  rest_set_limits(0, 5);
  answer a = call(f, "GET", "customers", "select=id", NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(nrows(&a), 5);
  assert_string_equal(a.range, "0-4/*");
  static const char *counted[] = {"Prefer", "count=exact", NULL};
  a = call(f, "GET", "customers", "select=id", NULL, counted);
  assert_int_equal(a.status, 206);
  assert_string_equal(a.range, "0-4/12");
  /* A larger limit is clamped, as PostgREST's db-max-rows does. */
  a = call(f, "GET", "customers", "select=id&limit=100", NULL, NULL);
  assert_int_equal(nrows(&a), 5);
  static const char *ranged[] = {"Range", "0-99", NULL};
  a = call(f, "GET", "customers", "select=id", NULL, ranged);
  assert_int_equal(nrows(&a), 5);
  a = call(f, "GET", "customers", "select=id&offset=10", NULL, NULL);
  assert_int_equal(nrows(&a), 2);
  assert_string_equal(a.range, "10-11/*");
  a = call(f, "GET", "customers", "select=id&limit=3", NULL, NULL);
  assert_int_equal(nrows(&a), 3);
  /* HEAD counts the same rows and sends none. */
  a = call(f, "HEAD", "customers", "select=id", NULL, counted);
  assert_int_equal(a.status, 206);
  assert_string_equal(a.range, "0-4/12");
  assert_int_equal(a.len, 0);
}

/* Reads of several pages return each row once, in a stable order. */
static void test_pages_partition_rows(void **state) {
  struct fixture *f = *state;
  add_customers(f, "Page", 130, 0);
  /* A small response cap makes the pages small too. */
  rest_set_limits(16 * 1024, 1000);
  answer a = call(f, "GET", "customers", "select=id,full_name", NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(nrows(&a), 130);
  assert_string_equal(a.range, "0-129/*");
  for (size_t i = 1; i < a.body->n; i++) {
    const char *prev = json_get(a.body->items[i - 1], "id")->str;
    const char *cur = json_get(a.body->items[i], "id")->str;
    assert_true(strcmp(prev, cur) < 0); /* unordered reads come in id order */
  }
  a = call(f, "GET", "customers", "select=full_name&order=full_name.desc&offset=3",
           NULL, NULL);
  assert_int_equal(nrows(&a), 127);
  assert_string_equal(json_get(a.body->items[0], "full_name")->str,
                      "Page 126");
  assert_string_equal(json_get(a.body->items[126], "full_name")->str,
                      "Page 000");
}

/* ---- the response cap ------------------------------------------------- */

static void test_response_cap(void **state) {
  struct fixture *f = *state;
  add_customers(f, "Big", 20, 20000);
  rest_set_limits(64 * 1024, 1000);
  answer a = call(f, "GET", "customers", "select=full_name,notes", NULL, NULL);
  assert_int_equal(a.status, 413);
  assert_string_equal(code_of(&a), "PGRST413");
  assert_non_null(strstr(a.message, "65536 bytes"));
  assert_non_null(strstr(a.message, "limit"));
  assert_non_null(strstr(a.message, "Range"));
  /* The refusal was made before the whole answer existed: it never held
   * more than the cap. */
  assert_true(a.len < 1024);
  a = call(f, "GET", "customers", "select=full_name,notes&limit=2", NULL,
           NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(nrows(&a), 2);
  /* Without the big column the same rows fit. */
  a = call(f, "GET", "customers", "select=full_name", NULL, NULL);
  assert_int_equal(a.status, 200);
  assert_int_equal(nrows(&a), 20);
  /* An object of one row past the cap is refused too. */
  rest_set_limits(8 * 1024, 1000);
  static const char *object[] = {"Accept", "application/vnd.pgrst.object+json",
                                 NULL};
  a = call(f, "GET", "customers", "full_name=eq.Big%20001", NULL, object);
  assert_int_equal(a.status, 413);
}

/* A write whose answer is too large is taken back. */
static void test_write_answer_cap(void **state) {
  struct fixture *f = *state;
  rest_set_limits(32 * 1024, 1000);
  static const char *rep[] = {"Prefer", "return=representation", NULL};
  char *pad = calloc(1, 20001);
  memset(pad, 'w', 20000);
  buf b;
  buf_init(&b, 0);
  buf_printf(&b, "[{\"full_name\":\"W1\",\"notes\":\"%s\"},"
                 "{\"full_name\":\"W2\",\"notes\":\"%s\"}]", pad, pad);
  answer a = call(f, "POST", "customers", "", buf_cstr(&b), rep);
  assert_int_equal(a.status, 413);
  assert_non_null(strstr(a.message, "return=representation"));
  a = call(f, "GET", "customers", "select=id&full_name=like.W*", NULL, NULL);
  assert_int_equal(nrows(&a), 0);
  /* Without representation the same rows are written. */
  a = call(f, "POST", "customers", "", buf_cstr(&b), NULL);
  assert_int_equal(a.status, 201);
  /* A PATCH whose returned rows are too large is taken back as well. */
  buf_reset(&b);
  buf_printf(&b, "{\"address\":\"%s\"}", pad);
  a = call(f, "PATCH", "customers", "full_name=like.W*", buf_cstr(&b), rep);
  assert_int_equal(a.status, 413);
  a = call(f, "GET", "customers", "select=id&full_name=like.W*&address=is.null",
           NULL, NULL);
  assert_int_equal(nrows(&a), 2);
  buf_free(&b);
  free(pad);
}

/* ---- ilike ------------------------------------------------------------ */

static const char *fold_names[] = {
    "ÉCOLE Shiksha",       "öztürk traders",      "राम किराना",
    "Ram किराना Store",    "Straße Laden",        "STRASSE Depot",
    "E\xcc\x81" "cole Two", /* E + U+0301, decomposed */
    "100% ÖKO",            "1000 ÖKO",            "İstanbul Çay",
};

/* The names (sorted, joined with '|') that full_name=ilike.<pat> finds;
 * pat is already percent-encoded. */
static const char *ilike(struct fixture *f, const char *pat) {
  char *q = arena_printf(f->a, "select=full_name&order=full_name&full_name=ilike.%s",
                         pat);
  answer a = call(f, "GET", "customers", q, NULL, NULL);
  if (a.status != 200) fail_msg("ilike.%s: %d %s", pat, a.status, a.message);
  buf b;
  buf_init(&b, 0);
  for (size_t i = 0; i < a.body->n; i++)
    buf_printf(&b, "%s%s", i ? "|" : "",
               json_get(a.body->items[i], "full_name")->str);
  char *s = arena_strdup(f->a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

static void test_ilike_folds_unicode(void **state) {
  struct fixture *f = *state;
  buf b;
  buf_init(&b, 0);
  buf_putc(&b, '[');
  for (size_t i = 0; i < sizeof fold_names / sizeof fold_names[0]; i++) {
    buf_printf(&b, "%s{\"full_name\":", i ? "," : "");
    json_write_str(&b, fold_names[i], strlen(fold_names[i]));
    buf_putc(&b, '}');
  }
  buf_putc(&b, ']');
  answer a = call(f, "POST", "customers", "", buf_cstr(&b), NULL);
  assert_int_equal(a.status, 201);
  buf_free(&b);

  /* 'ÉCOLE' ilike '%école%', the decomposed É as well (both sides NFC). */
  const char *ecole = "E\xcc\x81" "cole Two|ÉCOLE Shiksha";
  assert_string_equal(ilike(f, "*%C3%A9cole*"), ecole);
  assert_string_equal(ilike(f, "*%C3%89COLE*"), ecole);
  /* 'ÖZTÜRK' vs 'öztürk' */
  assert_string_equal(ilike(f, "%C3%96ZT%C3%9CRK*"), "öztürk traders");
  /* Devanagari has no case: exact text matches, mixed with Latin too. */
  assert_string_equal(ilike(f, "*%E0%A4%95%E0%A4%BF%E0%A4%B0%E0%A4%BE%E0%A4%A8%E0%A4%BE*"),
                      "Ram किराना Store|राम किराना");
  assert_string_equal(ilike(f, "rAM%20%E0%A4%95%E0%A4%BF%E0%A4%B0%E0%A4%BE%E0%A4%A8%E0%A4%BE*"),
                      "Ram किराना Store");
  /* ß is its own lower case and is not "ss" on either database
   * (PostgreSQL's lower() maps one character to one). */
  assert_string_equal(ilike(f, "stra%C3%9Fe*"), "Straße Laden");
  assert_string_equal(ilike(f, "STRASSE*"), "STRASSE Depot");
  /* İ lowers to i on both. */
  assert_string_equal(ilike(f, "istanbul*"), "İstanbul Çay");
  assert_string_equal(ilike(f, "*%C3%A7ay"), "İstanbul Çay");
  /* An escaped % is a literal percent sign, after folding too. */
  assert_string_equal(ilike(f, "100%5C%25%20%C3%B6ko"), "100% ÖKO");
  assert_string_equal(ilike(f, "100*%20%C3%B6ko"), "100% ÖKO|1000 ÖKO");
  assert_string_equal(ilike(f, "100_%20%C3%B6ko"), "100% ÖKO|1000 ÖKO");
  assert_string_equal(ilike(f, "100%5C_%20%C3%B6ko"), "");
  /* like stays case-sensitive. */
  answer l = call(f, "GET", "customers",
                  "select=full_name&full_name=like.*%C3%A9cole*", NULL, NULL);
  assert_int_equal(nrows(&l), 0);
}

/* textfold itself: lower case and NFC through utf8proc. */
static void test_textfold(void **state) {
  (void)state;
  static const struct {
    const char *in, *out;
  } cases[] = {
      {"ÉCOLE", "école"},
      {"E\xcc\x81" "COLE", "école"},
      {"ÖZTÜRK", "öztürk"},
      {"Straße", "straße"},
      {"\xe1\xba\x9e", "ß"}, /* capital sharp s */
      {"ΣΟΦΟΣ", "σοφοσ"},
      {"राम KIRANA", "राम kirana"},
      {"plain ASCII 100%_\\", "plain ascii 100%_\\"},
      {"", ""},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    size_t len;
    char *got = textfold(cases[i].in, strlen(cases[i].in), &len);
    assert_non_null(got);
    assert_string_equal(got, cases[i].out);
    assert_int_equal(len, strlen(cases[i].out));
    free(got);
  }
  size_t len;
  assert_null(textfold("\xff\xfe", 2, &len));
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_textfold),
      cmocka_unit_test_setup_teardown(test_repeated_select_refused, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_row_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pages_partition_rows, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_response_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_answer_cap, setup, teardown),
      cmocka_unit_test_setup_teardown(test_ilike_folds_unicode, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
