/* test_base_json.c - the strict JSON parser and writer (src/base/json.c).
 *
 * Most cases here are inputs a hostile or sloppy client could send: the
 * parser must refuse each one with an offset, never crash, and everything it
 * accepts must write back to text that parses to the same thing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

static arena *A;

static int setup(void **state) {
  (void)state;
  A = arena_new();
  return 0;
}

static int teardown(void **state) {
  (void)state;
  arena_free(A);
  return 0;
}

static json *parse_n(const char *s, size_t n) {
  json *v = NULL;
  json_error err;
  if (json_parse(A, s, n, &v, &err)) return NULL;
  return v;
}

static json *parse(const char *s) {
  return parse_n(s, strlen(s));
}

static int fails_at(const char *s, size_t n, size_t *offset) {
  json *v = NULL;
  json_error err = {0};
  if (json_parse(A, s, n, &v, &err) == 0) return 0;
  if (offset) *offset = err.offset;
  return err.message[0] != '\0';
}

static void assert_refused(const char *s) {
  if (!fails_at(s, strlen(s), NULL)) fail_msg("accepted: %s", s);
}

static void assert_refused_n(const char *s, size_t n) {
  if (!fails_at(s, n, NULL)) fail_msg("accepted %zu bytes", n);
}

/* Writes v compactly and compares with want. */
static void assert_writes(const json *v, const char *want) {
  buf b;
  buf_init(&b, 0);
  assert_int_equal(json_write(&b, v), 0);
  assert_string_equal(buf_cstr(&b), want);
  buf_free(&b);
}

static void assert_roundtrip(const char *in, const char *want) {
  json *v = parse(in);
  if (!v) fail_msg("refused: %s", in);
  assert_writes(v, want);
}

static void test_scalars(void **state) {
  (void)state;
  json *v = parse("null");
  assert_non_null(v);
  assert_int_equal(v->type, JSON_NULL);
  assert_int_equal(parse(" true ")->type, JSON_TRUE);
  assert_int_equal(parse("\tfalse\r\n")->type, JSON_FALSE);
  v = parse("\"hi\"");
  assert_int_equal(v->type, JSON_STRING);
  assert_string_equal(v->str, "hi");
  assert_int_equal(v->len, 2);
  v = parse("-12.50e+3");
  assert_int_equal(v->type, JSON_NUMBER);
  assert_string_equal(v->str, "-12.50e+3");
  assert_int_equal(v->len, 9);

  assert_refused("nul");
  assert_refused("True");
  assert_refused("nulls");
  assert_refused("undefined");
  assert_refused("");
  assert_refused("   ");
  assert_refused("'a'");
}

static void test_numbers(void **state) {
  (void)state;
  const char *good[] = {"0",
                        "-0",
                        "1",
                        "123",
                        "1.5",
                        "-1.5",
                        "0.001",
                        "1e5",
                        "1E5",
                        "1e+5",
                        "1e-5",
                        "-0.0e0",
                        "10",
                        "9007199254740993",
                        "123456789012345678901234567890.123456789"};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
    json *v = parse(good[i]);
    if (!v) fail_msg("refused number %s", good[i]);
    assert_int_equal(v->type, JSON_NUMBER);
    assert_string_equal(v->str, good[i]); /* kept as literal text */
  }
  const char *bad[] = {"01",    "-01",     "00",       "1.",    ".5",
                       "+1",    "1e",      "1e+",      "--1",   "-",
                       "0x1",   "1.e5",    "Infinity", "NaN",   "-Infinity",
                       "1_000", "1,5",     "1 2",      "0.5.5", "1ee5",
                       "1e5.5", "\xd9\xa1"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_refused(bad[i]);
}

static void test_strings(void **state) {
  (void)state;
  json *v = parse("\"a\\\"b\\\\c\\/d\\b\\f\\n\\r\\t\"");
  assert_non_null(v);
  assert_string_equal(v->str, "a\"b\\c/d\b\f\n\r\t");

  v = parse("\"caf\\u00e9 \\u20AC\"");
  assert_non_null(v);
  assert_string_equal(v->str, "caf\xc3\xa9 \xe2\x82\xac");

  /* A surrogate pair becomes one 4-byte character. */
  v = parse("\"\\ud83d\\ude00\"");
  assert_non_null(v);
  assert_int_equal(v->len, 4);
  assert_memory_equal(v->str, "\xf0\x9f\x98\x80", 4);
  v = parse("\"\\uDBFF\\uDFFF\""); /* U+10FFFF */
  assert_non_null(v);
  assert_memory_equal(v->str, "\xf4\x8f\xbf\xbf", 4);

  /* Raw UTF-8 passes through unchanged. */
  v = parse(
      "\"\xe0\xa4\xae\xe0\xa5\x81\xe0\xa4\x82\xe0\xa4\xb6\xe0\xa5\x80 "
      "\xf0\x9f\x98\x80 \xef\xbf\xbf \xf4\x8f\xbf\xbf\"");
  assert_non_null(v);
  assert_int_equal(v->len, 15 + 1 + 4 + 1 + 3 + 1 + 4);

  assert_refused("\"\\u0000\"");
  assert_refused("\"a\\u0000b\"");
  assert_refused("\"\\ud83d\"");        /* lone high */
  assert_refused("\"\\ude00\"");        /* lone low */
  assert_refused("\"\\ud83dx\"");       /* high then text */
  assert_refused("\"\\ud83d\\u0041\""); /* high then non-surrogate */
  assert_refused("\"\\ud83d\\ud83d\""); /* high then high */
  assert_refused("\"\\ud83d\\ude0\"");  /* short second escape */
  assert_refused("\"\\u12\"");
  assert_refused("\"\\u12g4\"");
  assert_refused("\"\\x41\"");
  assert_refused("\"\\U0041\"");
  assert_refused("\"\\'\"");
  assert_refused("\"tab\there\"");
  assert_refused("\"nl\nhere\"");
  assert_refused("\"\x1f\"");
  assert_refused("\"unterminated");
  assert_refused("\"ends in backslash\\");
  assert_refused("\"ends in backslash\\\"");
  assert_refused_n("\"a\0b\"", 5);
}

static void test_bad_utf8(void **state) {
  (void)state;
  const char *bad[] = {
      "\"\xc0\x80\"",                 /* overlong NUL */
      "\"\xc1\xbf\"",                 /* overlong ASCII */
      "\"\xe0\x80\x80\"",             /* overlong 3-byte */
      "\"\xe0\x9f\xbf\"",             /* overlong 3-byte, top */
      "\"\xf0\x80\x80\x80\"",         /* overlong 4-byte */
      "\"\xf0\x8f\xbf\xbf\"",         /* overlong 4-byte, top */
      "\"\xed\xa0\x80\"",             /* U+D800 encoded */
      "\"\xed\xbf\xbf\"",             /* U+DFFF encoded */
      "\"\xed\xa0\xbd\xed\xb8\x80\"", /* CESU-8 pair */
      "\"\xf4\x90\x80\x80\"",         /* U+110000 */
      "\"\xf5\x80\x80\x80\"",
      "\"\xf8\x88\x80\x80\x80\"", /* 5-byte form */
      "\"\xfe\"",
      "\"\xff\"",
      "\"\x80\"", /* lone continuation */
      "\"\xbf\"",
      "\"\xe2\x82\"", /* truncated */
      "\"\xf0\x9f\x98\"",
      "\"\xc3\"",
      "\"\xc3\x28\"", /* bad continuation */
      "\"\xe2\x28\xa1\"",
      "\"\xf0\x9f\x28\x80\"",
      "\xef\xbb\xbf{}", /* byte order mark */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (!fails_at(bad[i], strlen(bad[i]), NULL))
      fail_msg("accepted bad UTF-8 case %zu", i);
  /* Keys are strings too. */
  assert_refused("{\"\xc0\x80\":1}");
  /* Bad UTF-8 outside a string is simply an unexpected character. */
  assert_refused("[\xc3\xa9]");
  /* The edges of each valid range still pass. */
  const char *good[] = {"\"\xc2\x80\"",         "\"\xdf\xbf\"",
                        "\"\xe0\xa0\x80\"",     "\"\xed\x9f\xbf\"",
                        "\"\xee\x80\x80\"",     "\"\xf0\x90\x80\x80\"",
                        "\"\xf4\x8f\xbf\xbf\"", "\"\x7f\""};
  for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
    if (!parse(good[i])) fail_msg("refused good UTF-8 case %zu", i);
}

static char *nested(int depth, char open, char close) {
  char *s = malloc((size_t)depth * 2 + 1);
  for (int i = 0; i < depth; i++) {
    s[i] = open;
    s[depth * 2 - 1 - i] = close;
  }
  s[depth * 2] = '\0';
  return s;
}

static void test_depth(void **state) {
  (void)state;
  char *s = nested(JSON_MAX_DEPTH, '[', ']');
  json *v = parse(s);
  assert_non_null(v);
  free(s);
  int d = 0;
  while (v->type == JSON_ARRAY && v->n) {
    v = v->items[0];
    d++;
  }
  assert_int_equal(d, JSON_MAX_DEPTH - 1);

  s = nested(JSON_MAX_DEPTH + 1, '[', ']');
  size_t off = 0;
  assert_true(fails_at(s, strlen(s), &off));
  assert_int_equal(off, JSON_MAX_DEPTH);
  free(s);

  /* Far too deep must fail cleanly, not exhaust the stack. */
  s = nested(1000000, '[', ']');
  assert_true(fails_at(s, strlen(s), NULL));
  free(s);
  size_t n = 200000;
  s = malloc(n * 5 + 1);
  for (size_t i = 0; i < n; i++) memcpy(s + i * 5, "{\"a\":", 5);
  s[n * 5] = '\0';
  assert_true(fails_at(s, n * 5, NULL));
  free(s);

  /* Objects and arrays count alike. */
  buf b;
  buf_init(&b, 0);
  for (int i = 0; i < JSON_MAX_DEPTH / 2; i++) buf_puts(&b, "{\"k\":[");
  for (int i = 0; i < JSON_MAX_DEPTH / 2; i++) buf_puts(&b, "]}");
  assert_non_null(parse(buf_cstr(&b)));
  buf_reset(&b);
  for (int i = 0; i < JSON_MAX_DEPTH / 2; i++) buf_puts(&b, "{\"k\":[");
  buf_puts(&b, "{}");
  for (int i = 0; i < JSON_MAX_DEPTH / 2; i++) buf_puts(&b, "]}");
  assert_null(parse(buf_cstr(&b)));
  buf_free(&b);
}

static void test_objects(void **state) {
  (void)state;
  json *v = parse("{ \"a\" : 1 , \"b\":[true,null,\"x\"], \"c\":{} ,\"\":2}");
  assert_non_null(v);
  assert_int_equal(v->type, JSON_OBJECT);
  assert_int_equal(v->n, 4);
  assert_string_equal(v->keys[0], "a");
  assert_string_equal(v->keys[3], "");
  assert_string_equal(json_get(v, "a")->str, "1");
  json *b = json_get(v, "b");
  assert_int_equal(b->type, JSON_ARRAY);
  assert_int_equal(b->n, 3);
  assert_int_equal(b->items[0]->type, JSON_TRUE);
  assert_int_equal(b->items[1]->type, JSON_NULL);
  assert_string_equal(b->items[2]->str, "x");
  assert_int_equal(json_get(v, "c")->type, JSON_OBJECT);
  assert_int_equal(json_get(v, "c")->n, 0);
  assert_string_equal(json_get(v, "")->str, "2");
  assert_null(json_get(v, "z"));
  assert_null(json_get(v, "A"));
  assert_null(json_get(b, "a"));
  assert_null(json_get(NULL, "a"));
  assert_null(json_get(v, NULL));

  v = parse("[]");
  assert_int_equal(v->type, JSON_ARRAY);
  assert_int_equal(v->n, 0);
  v = parse("[ [ ] , { } ]");
  assert_int_equal(v->n, 2);

  assert_refused("{\"a\":1,}");
  assert_refused("[1,]");
  assert_refused("[,1]");
  assert_refused("[1 2]");
  assert_refused("{\"a\" 1}");
  assert_refused("{\"a\":}");
  assert_refused("{a:1}");
  assert_refused("{'a':1}");
  assert_refused("{1:1}");
  assert_refused("{\"a\":1");
  assert_refused("[1");
  assert_refused("[");
  assert_refused("{");
  assert_refused("]");
  assert_refused("}");
  assert_refused("{\"a\":1}}");
  assert_refused("[1]]");
  assert_refused("[1] /* c */");
  assert_refused("// c\n[1]");
  assert_refused("[1,\n# c\n2]");
}

static void test_duplicates(void **state) {
  (void)state;
  size_t off = 0;
  const char *s = "{\"a\":1,\"b\":2,\"a\":3}";
  assert_true(fails_at(s, strlen(s), &off));
  assert_int_equal(off, 13);
  /* Escapes are decoded before comparing. */
  assert_refused("{\"a\":1,\"\\u0061\":2}");
  assert_refused("{\"\xc3\xa9\":1,\"\\u00e9\":2}");
  /* Same key in different objects is fine. */
  assert_non_null(parse("{\"a\":{\"a\":1},\"b\":{\"a\":2}}"));
  /* Keys that share a prefix are different keys. */
  assert_non_null(parse("{\"a\":1,\"ab\":2,\"b\":3,\"A\":4}"));

  /* Many keys (past the hashed threshold), then a duplicate of each. */
  buf b;
  buf_init(&b, 0);
  const int nkeys = 5000;
  buf_putc(&b, '{');
  for (int i = 0; i < nkeys; i++)
    buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
  buf_putc(&b, '}');
  json *v = parse(buf_cstr(&b));
  assert_non_null(v);
  assert_int_equal(v->n, nkeys);
  assert_string_equal(json_get(v, "k4999")->str, "4999");
  assert_string_equal(json_get(v, "k0")->str, "0");
  assert_string_equal(json_get(v, "k2500")->str, "2500");
  for (int dup = 0; dup < nkeys; dup += 499) {
    b.len--; /* drop '}' */
    char key[32];
    snprintf(key, sizeof key, ",\"k%d\":0}", dup);
    size_t mark = b.len;
    buf_puts(&b, key);
    size_t off2 = 0;
    assert_true(fails_at(b.data, b.len, &off2));
    assert_int_equal(off2, mark + 1);
    b.len = mark;
    buf_putc(&b, '}');
  }
  buf_free(&b);
}

static void test_trailing(void **state) {
  (void)state;
  size_t off = 0;
  assert_true(fails_at("1 2", 3, &off));
  assert_int_equal(off, 2);
  assert_true(fails_at("{} x", 4, &off));
  assert_int_equal(off, 3);
  assert_refused("[1],");
  assert_refused("\"a\"\"b\"");
  assert_refused("truefalse");
  assert_refused_n("{}\0", 3);
  assert_non_null(parse(" \n\t\r{} \n\t\r"));
  /* Only the given length is read: the NUL-terminated tail is ignored. */
  assert_non_null(parse_n("[1]garbage", 3));
  assert_true(fails_at("[1]garbage", 2, NULL));
}

static void test_error_offsets(void **state) {
  (void)state;
  size_t off = 0;
  assert_true(fails_at("[1,2,x]", 7, &off));
  assert_int_equal(off, 5);
  assert_true(fails_at("{\"a\":\"\\q\"}", 10, &off));
  assert_int_equal(off, 6);
  assert_true(fails_at("[\"ok\", \"\xff\"]", 11, &off));
  assert_int_equal(off, 8);
  assert_true(fails_at("[1,", 3, &off));
  assert_int_equal(off, 3);
  json_error err;
  json *v;
  assert_int_equal(json_parse(A, "[01]", 4, &v, &err), -1);
  assert_int_equal(err.offset, 2);
  assert_true(strlen(err.message) > 0);
  assert_int_equal(json_parse(A, NULL, 0, &v, &err), -1);
  /* A NULL error struct is allowed. */
  assert_int_equal(json_parse(A, "[", 1, &v, NULL), -1);
}

static void test_int64(void **state) {
  (void)state;
  int64_t x = 7;
  assert_int_equal(json_int64(parse("42"), &x), 0);
  assert_int_equal(x, 42);
  assert_int_equal(json_int64(parse("-0"), &x), 0);
  assert_int_equal(x, 0);
  assert_int_equal(json_int64(parse("-17"), &x), 0);
  assert_int_equal(x, -17);
  assert_int_equal(json_int64(parse("9223372036854775807"), &x), 0);
  assert_true(x == INT64_MAX);
  assert_int_equal(json_int64(parse("-9223372036854775808"), &x), 0);
  assert_true(x == INT64_MIN);
  x = 7;
  assert_int_equal(json_int64(parse("9223372036854775808"), &x), -1);
  assert_int_equal(json_int64(parse("-9223372036854775809"), &x), -1);
  assert_int_equal(json_int64(parse("99999999999999999999999"), &x), -1);
  assert_int_equal(json_int64(parse("1.0"), &x), -1);
  assert_int_equal(json_int64(parse("1.5"), &x), -1);
  assert_int_equal(json_int64(parse("1e3"), &x), -1);
  assert_int_equal(json_int64(parse("\"1\""), &x), -1);
  assert_int_equal(json_int64(parse("true"), &x), -1);
  assert_int_equal(json_int64(NULL, &x), -1);
  assert_int_equal(x, 7); /* untouched on failure */
}

static void test_decimal(void **state) {
  (void)state;
  int64_t x = 0;
  assert_int_equal(json_decimal(parse("12.5"), 2, &x), 0);
  assert_int_equal(x, 1250);
  assert_int_equal(json_decimal(parse("12"), 2, &x), 0);
  assert_int_equal(x, 1200);
  assert_int_equal(json_decimal(parse("0.49"), 2, &x), 0);
  assert_int_equal(x, 49);
  assert_int_equal(json_decimal(parse("0.50"), 2, &x), 0);
  assert_int_equal(x, 50);
  assert_int_equal(json_decimal(parse("-0.50"), 2, &x), 0);
  assert_int_equal(x, -50);
  assert_int_equal(json_decimal(parse("1.500"), 2, &x), 0);
  assert_int_equal(x, 150);
  assert_int_equal(json_decimal(parse("2.5"), 3, &x), 0);
  assert_int_equal(x, 2500);
  assert_int_equal(json_decimal(parse("92233720368547758.07"), 2, &x), 0);
  assert_true(x == INT64_MAX);
  assert_int_equal(json_decimal(parse("-92233720368547758.08"), 2, &x), 0);
  assert_true(x == INT64_MIN);
  x = 9;
  assert_int_equal(json_decimal(parse("92233720368547758.08"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("92233720368547759"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("0.499"), 2, &x), -1); /* no rounding */
  assert_int_equal(json_decimal(parse("0.005"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("1.5001"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("1e2"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("1.5E0"), 2, &x), -1);
  assert_int_equal(json_decimal(parse("\"12.5\""), 2, &x), -1);
  assert_int_equal(json_decimal(parse("null"), 2, &x), -1);
  assert_int_equal(x, 9);
}

static void test_write_str(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  assert_int_equal(json_write_str(&b, "a\"b\\c/d\b\f\n\r\t\x01\x1f\x7f", 15),
                   0);
  assert_string_equal(buf_cstr(&b),
                      "\"a\\\"b\\\\c/d\\b\\f\\n\\r\\t\\u0001\\u001f\x7f\"");
  buf_reset(&b);
  assert_int_equal(json_write_str(&b, "x\0y", 3), 0);
  assert_string_equal(buf_cstr(&b), "\"x\\u0000y\"");
  buf_reset(&b);
  assert_int_equal(json_write_str(&b, "caf\xc3\xa9 \xf0\x9f\x98\x80", 10), 0);
  assert_string_equal(buf_cstr(&b), "\"caf\xc3\xa9 \xf0\x9f\x98\x80\"");
  buf_reset(&b);
  /* Invalid UTF-8 from storage is replaced, so the output stays JSON. */
  assert_int_equal(json_write_str(&b,
                                  "a\xff"
                                  "b\xed\xa0\x80"
                                  "c\xe2\x82",
                                  9),
                   0);
  assert_string_equal(buf_cstr(&b),
                      "\"a\xef\xbf\xbd"
                      "b\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                      "c\xef\xbf\xbd\xef\xbf\xbd\"");
  assert_non_null(parse(buf_cstr(&b)));
  buf_reset(&b);
  assert_int_equal(json_write_str(&b, "", 0), 0);
  assert_string_equal(buf_cstr(&b), "\"\"");
  buf_free(&b);

  /* Over the cap: -1 and the buffer as it was. */
  buf_init(&b, 10);
  buf_puts(&b, "ab");
  assert_int_equal(json_write_str(&b, "0123456789", 10), -1);
  assert_int_equal(b.len, 2);
  assert_string_equal(buf_cstr(&b), "ab");
  assert_int_equal(json_write_str(&b, "\n\n\n\n", 4), -1);
  assert_string_equal(buf_cstr(&b), "ab");
  assert_int_equal(json_write_str(&b, "\n\n", 2), 0);
  assert_string_equal(buf_cstr(&b), "ab\"\\n\\n\"");
  buf_free(&b);
}

static void test_write_obj(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  json_obj o, in;
  json_obj_open(&o, &b);
  json_obj_str(&o, "id", "a\"b");
  json_obj_str(&o, "none", NULL);
  json_obj_int(&o, "n", -9000000000LL);
  json_obj_bool(&o, "t", 1);
  json_obj_bool(&o, "f", 0);
  json_obj_null(&o, "z");
  json_obj_ts(&o, "at", 0);
  json_obj_nest(&o, "meta", &in);
  json_obj_str(&in, "k\n", "v");
  json_obj_raw(&in, "list", "[\"x\"]");
  assert_int_equal(json_obj_close(&in), 0);
  json_obj_nest(&o, "empty", &in);
  assert_int_equal(json_obj_close(&in), 0);
  assert_int_equal(json_obj_close(&o), 0);
  assert_string_equal(buf_cstr(&b),
                      "{\"id\":\"a\\\"b\",\"none\":null,\"n\":-9000000000,"
                      "\"t\":true,\"f\":false,\"z\":null,"
                      "\"at\":\"1970-01-01T00:00:00.000000+00:00\",\"meta\":{\"k\\n\":\"v\","
                      "\"list\":[\"x\"]},\"empty\":{}}");
  assert_non_null(parse(buf_cstr(&b)));
  buf_free(&b);

  /* Over the cap: the failure sticks, and an inner one reaches the outer. */
  buf_init(&b, 24);
  json_obj_open(&o, &b);
  json_obj_nest(&o, "inner", &in);
  json_obj_str(&in, "long", "0123456789abcdef");
  json_obj_str(&in, "after", "x");
  assert_int_equal(json_obj_close(&in), -1);
  assert_int_equal(json_obj_close(&o), -1);
  buf_free(&b);
}

/* Arrays, nested both ways, with exact decimals and dates. */
static void test_write_arr(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  json_obj o, arr, el, inner;
  json_obj_open(&o, &b);
  json_obj_arr(&o, "rows", &arr);
  json_obj_nest(&arr, NULL, &el);
  json_obj_dec(&el, "amount", 123450, 2);
  json_obj_dec(&el, "neg", -5, 2);
  json_obj_date(&el, "on", 0);
  assert_int_equal(json_obj_close(&el), 0);
  json_obj_str(&arr, NULL, "x");
  json_obj_int(&arr, NULL, 7);
  json_obj_arr(&arr, NULL, &inner);
  assert_int_equal(json_obj_close(&inner), 0);
  assert_int_equal(json_obj_close(&arr), 0);
  json_obj_arr(&o, "none", &arr);
  assert_int_equal(json_obj_close(&arr), 0);
  assert_int_equal(json_obj_close(&o), 0);
  assert_string_equal(buf_cstr(&b),
                      "{\"rows\":[{\"amount\":1234.50,\"neg\":-0.05,"
                      "\"on\":\"1970-01-01\"},\"x\",7,[]],\"none\":[]}");
  assert_non_null(parse(buf_cstr(&b)));
  buf_free(&b);

  /* A failure inside an array element reaches the root. */
  buf_init(&b, 20);
  json_obj_open(&o, &b);
  json_obj_arr(&o, "a", &arr);
  json_obj_nest(&arr, NULL, &el);
  json_obj_dec(&el, "long", 123456789012LL, 2);
  assert_int_equal(json_obj_close(&el), -1);
  assert_int_equal(json_obj_close(&arr), -1);
  assert_int_equal(json_obj_close(&o), -1);
  buf_free(&b);
}

static void test_write(void **state) {
  (void)state;
  assert_roundtrip(
      " { \"a\" : [ 1 , -2.5e+3 , true , false , null ] , "
      "\"b\" : { } , \"c\" : [ ] , \"d\" : \"\\u00e9\\n\" } ",
      "{\"a\":[1,-2.5e+3,true,false,null],\"b\":{},\"c\":[],"
      "\"d\":\"\xc3\xa9\\n\"}");
  assert_roundtrip("\"\\/\"", "\"/\"");
  assert_roundtrip("\"\\u001F\"", "\"\\u001f\"");
  assert_roundtrip("0", "0");
  assert_roundtrip("[[[[]]]]", "[[[[]]]]");
  assert_roundtrip("{\"\\\"k\":1}", "{\"\\\"k\":1}");
  assert_roundtrip("123456789012345678901234567890",
                   "123456789012345678901234567890");

  /* Writing into a capped buffer that is too small leaves it untouched. */
  json *v = parse("[\"aaaaaaaaaa\",\"bbbbbbbbbb\"]");
  buf b;
  buf_init(&b, 16);
  buf_puts(&b, "x");
  assert_int_equal(json_write(&b, v), -1);
  assert_string_equal(buf_cstr(&b), "x");
  assert_int_equal(json_write(&b, NULL), -1);
  buf_free(&b);

  /* A hand-built tree writes too. */
  json s = {.type = JSON_STRING, .str = "v", .len = 1};
  json *items[] = {&s};
  const char *keys[] = {"k"};
  json o = {.type = JSON_OBJECT, .n = 1, .items = items, .keys = keys};
  assert_writes(&o, "{\"k\":\"v\"}");
}

static void test_type_names(void **state) {
  (void)state;
  assert_string_equal(json_type_name(JSON_NULL), "null");
  assert_string_equal(json_type_name(JSON_TRUE), "boolean");
  assert_string_equal(json_type_name(JSON_FALSE), "boolean");
  assert_string_equal(json_type_name(JSON_NUMBER), "number");
  assert_string_equal(json_type_name(JSON_STRING), "string");
  assert_string_equal(json_type_name(JSON_ARRAY), "array");
  assert_string_equal(json_type_name(JSON_OBJECT), "object");
}

/* A large mixed document: parse, write, re-parse, and write the same. */
static void test_large_roundtrip(void **state) {
  (void)state;
  buf in;
  buf_init(&in, 0);
  buf_putc(&in, '[');
  for (int i = 0; i < 20000; i++) {
    buf_printf(&in,
               "%s{\"id\":%d,\"name\":\"n\\u00e9%d\\ud83d\\ude00\","
               "\"amt\":%d.%02d,\"tags\":[\"a\",null,true]}",
               i ? "," : "", i, i, i, i % 100);
  }
  buf_putc(&in, ']');
  json *v = parse_n(in.data, in.len);
  assert_non_null(v);
  assert_int_equal(v->n, 20000);
  int64_t amt;
  assert_int_equal(json_decimal(json_get(v->items[1234], "amt"), 2, &amt), 0);
  assert_int_equal(amt, 123434);
  buf out1, out2;
  buf_init(&out1, 0);
  buf_init(&out2, 0);
  assert_int_equal(json_write(&out1, v), 0);
  json *w = parse_n(out1.data, out1.len);
  assert_non_null(w);
  assert_int_equal(json_write(&out2, w), 0);
  assert_int_equal(out1.len, out2.len);
  assert_memory_equal(out1.data, out2.data, out1.len);
  buf_free(&in);
  buf_free(&out1);
  buf_free(&out2);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_scalars, setup, teardown),
      cmocka_unit_test_setup_teardown(test_numbers, setup, teardown),
      cmocka_unit_test_setup_teardown(test_strings, setup, teardown),
      cmocka_unit_test_setup_teardown(test_bad_utf8, setup, teardown),
      cmocka_unit_test_setup_teardown(test_depth, setup, teardown),
      cmocka_unit_test_setup_teardown(test_objects, setup, teardown),
      cmocka_unit_test_setup_teardown(test_duplicates, setup, teardown),
      cmocka_unit_test_setup_teardown(test_trailing, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error_offsets, setup, teardown),
      cmocka_unit_test_setup_teardown(test_int64, setup, teardown),
      cmocka_unit_test_setup_teardown(test_decimal, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_str, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_obj, setup, teardown),
      cmocka_unit_test_setup_teardown(test_write_arr, setup, teardown),
      cmocka_unit_test_setup_teardown(test_type_names, setup, teardown),
      cmocka_unit_test_setup_teardown(test_large_roundtrip, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
