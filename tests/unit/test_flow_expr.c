/* test_flow_expr.c - the workflows' expression language (src/flow/expr*.c).
 *
 * Evaluated against a test environment whose names and functions stand in
 * for env.c's records and reports, at a fixed clock (2026-12-01 21:00 IST).
 * Money must be exact, every error must say what and where in words an
 * owner reads, and hostile input must stop at the caps, not crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "flow/expr.h"

/* 2026-12-01T15:30:00Z = 21:00 in India. */
#define NOW_US (1796139000LL * 1000000LL)
/* 2026-11-25T00:00+05:30 = 2026-11-24T18:30Z. */
#define T_IST_MIDNIGHT_2026_11_25 (1795545000LL * 1000000LL)

static const char *RECORDS =
    "{\"invoice\": {\"total_amount\": 11800.00, \"status\": \"issued\","
    " \"due_date\": \"2026-11-25\", \"invoice_number\": \"INV-0007\","
    " \"issued_at\": \"2026-11-20T04:30:00+00:00\", \"paid\": false,"
    " \"items\": [{\"sku\": \"A1\", \"qty\": 2}, {\"sku\": \"B2\", \"qty\": "
    "1.5}],"
    " \"tags\": [\"gold\", \"north\"], \"tiny\": 0.0000001},"
    " \"customer\": {\"full_name\": \"Asha Rao\", \"total_debt\": 2500.5,"
    " \"phone\": null, \"created_at\": \"2026-12-01T00:00:00+05:30\"},"
    " \"debtors\": {\"count\": 3, \"text\": \"3 debtors\"}}";

static arena *A;
static json *ROOT;
static json *BIG;  /* a list of 20000 numbers */
static char *LONG; /* 60000 bytes of text */

static int t_lookup(void *arg, arena *a, const char *name, expr_val *out,
                    char *err, size_t errlen) {
  (void)arg, (void)a;
  if (!strcmp(name, "broken")) {
    snprintf(err, errlen, "the record could not be read");
    return -1;
  }
  if (!strcmp(name, "big")) return expr_from_json(BIG, out);
  if (!strcmp(name, "long")) {
    memset(out, 0, sizeof *out);
    out->t = EV_STR;
    out->s = LONG;
    out->n = strlen(LONG);
    return 0;
  }
  if (!strcmp(name, "nullptr_text")) { /* an environment's empty text */
    memset(out, 0, sizeof *out);
    out->t = EV_STR;
    return 0;
  }
  if (!strcmp(name, "bad_scale")) {
    memset(out, 0, sizeof *out);
    out->t = EV_NUM;
    out->num = 1;
    out->scale = 9;
    return 0;
  }
  if (!strcmp(name, "nothing")) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  const json *j = json_get(ROOT, name);
  if (!j) return 1;
  return expr_from_json(j, out);
}

static int t_call(void *arg, arena *a, const char *name, const expr_val *args,
                  int nargs, expr_val *out, char *err, size_t errlen) {
  (void)arg;
  memset(out, 0, sizeof *out);
  if (!strcmp(name, "sales_summary")) {
    if (nargs != 1 || args[0].t != EV_STR) {
      snprintf(err, errlen, "sales_summary() takes a period such as 'today'");
      return -1;
    }
    out->t = EV_STR;
    out->s =
        arena_printf(a, "Sales %.*s: 4 invoices", (int)args[0].n, args[0].s);
    out->n = strlen(out->s);
    return 0;
  }
  if (!strcmp(name, "debtors"))
    return expr_from_json(json_get(ROOT, "debtors"), out);
  return 1;
}

static expr_env ENV = {NULL, t_lookup, t_call, NOW_US, 19800};

static int setup(void **state) {
  (void)state;
  A = arena_new();
  json_error je;
  if (json_parse(A, RECORDS, strlen(RECORDS), &ROOT, &je)) {
    fprintf(stderr, "fixture: %s at %zu\n", je.message, je.offset);
    return -1;
  }
  buf b;
  buf_init(&b, 0);
  buf_putc(&b, '[');
  for (int i = 0; i < 20000; i++) buf_printf(&b, "%s%d", i ? "," : "", i);
  buf_putc(&b, ']');
  int rc = json_parse(A, b.data, b.len, &BIG, &je);
  buf_free(&b);
  LONG = arena_alloc(A, 60001);
  memset(LONG, 'x', 60000);
  return rc;
}

static int teardown(void **state) {
  (void)state;
  arena_free(A);
  return 0;
}

/* The value of src as message text. */
static const char *ev(const char *src) {
  static char out[4096];
  expr_val v;
  char err[256] = "";
  if (expr_eval(A, src, strlen(src), &ENV, &v, err, sizeof err))
    fail_msg("%s: %s", src, err);
  buf b;
  buf_init(&b, 0);
  assert_int_equal(expr_format(&v, 19800, &b), 0);
  snprintf(out, sizeof out, "%s", buf_cstr(&b));
  buf_free(&b);
  return out;
}

static void is(const char *src, const char *want) {
  const char *got = ev(src);
  if (strcmp(got, want)) fail_msg("%s: got '%s', want '%s'", src, got, want);
}

static expr_val val(const char *src) {
  expr_val v;
  char err[256] = "";
  if (expr_eval(A, src, strlen(src), &ENV, &v, err, sizeof err))
    fail_msg("%s: %s", src, err);
  return v;
}

static void fails(const char *src, const char *want) {
  expr_val v;
  char err[256] = "";
  if (expr_eval(A, src, strlen(src), &ENV, &v, err, sizeof err) == 0)
    fail_msg("%s: accepted, want error '%s'", src, want);
  if (!strstr(err, want)) fail_msg("%s: error '%s', want '%s'", src, err, want);
  assert_int_equal(v.t, EV_NULL);
}

static void truth(const char *src, int want) {
  expr_val v = val(src);
  if (expr_truthy(&v) != want)
    fail_msg("%s: %s, want %s", src, want ? "false" : "true",
             want ? "true" : "false");
}

static void test_precedence(void **state) {
  (void)state;
  is("1 + 2 * 3", "7");
  is("(1 + 2) * 3", "9");
  is("10 - 4 - 3", "3");
  is("2 * 3 % 4", "2");
  is("-2 * 3", "-6");
  is("- -2", "2");
  is("-(2 + 3)", "-5");
  is("1 + 2 == 3", "true");
  is("1 < 2 and 2 < 1", "false");
  is("true or false and false", "true"); /* and binds tighter */
  is("(true or false) and false", "false");
  is("not 1 == 2", "true");
  is("not true or true", "true");
  is("!false && !(1 > 2)", "true");
  is("1 = 1", "true");
  is("1 != 1 || 2 >= 2", "true");
  is("'a' + 'b' + 'c'", "abc");
  is("TRUE and Null == null", "true");
}

static void test_exact_money(void **state) {
  (void)state;
  is("0.1 + 0.2", "0.3");
  truth("0.1 + 0.2 == 0.3", 1);
  truth("10000.00 > 9999.99", 1);
  truth("10000 == 10000.000", 1);
  truth("0.000001 > 0", 1);
  is("10000.00 + 0.5", "10000.50");
  is("1180.00 * 0.18", "212.4000");
  is("100.00 * 1.18", "118.0000");
  is("99999999999.99 + 0.01", "100000000000.00");
  is("invoice.total_amount", "11800.00");
  is("invoice.total_amount * 2", "23600.00");
  truth("invoice.total_amount > 10000 and customer.total_debt > 0", 1);
  is("customer.total_debt - 0.5", "2500.0");
  is("1.5 % 1", "0.5");
  is("-7 % 3", "-1");
  /* Exact at any scale: 123456789012.345678 needs no double. */
  is("123456789012.345678 + 0.000001", "123456789012.345679");
  /* The comparison is exact where the scaled values do not fit together. */
  truth("9223372036854775807 > 9223372036854.775807", 1);
  truth("-9223372036854775807 < 0.000001", 1);
}

static void test_overflow(void **state) {
  (void)state;
  fails("9223372036854775807 + 1", "number too large at 21");
  fails("-9223372036854775807 - 2", "number too large");
  fails("9223372036854775807 * 2", "number too large");
  fails("99999999999999999999", "number too large at 1");
  fails("9223372036854.775807 + 9223372036854775807", "number too large");
  fails("-(-9223372036854775807 - 1)", "number too large");
  fails("1.1234567", "too many decimals");
  is("1.1234560000", "1.123456");
  fails("invoice.tiny", "not exact to 6 decimals");
  fails("1 / 0", "division by zero at 3");
  fails("1 % 0.0", "division by zero");
  fails("3d / 0", "division by zero");
}

static void test_division(void **state) {
  (void)state;
  is("10 / 4", "2.5000");
  is("1 / 3", "0.3333");
  is("2 / 3", "0.6667"); /* half away from zero */
  is("-2 / 3", "-0.6667");
  is("10000.00 / 3", "3333.3333");
  is("1 / 8", "0.1250");
  is("0.00005 / 1", "0.0001"); /* 0.00005 rounds up at 4 places */
  is("-0.00005 / 1", "-0.0001");
  is("0.00004 / 1", "0.0000");
  is("9223372036854775807 / 9223372036854775807", "1.0000");
  is("round(10 / 3, 2)", "3.33");
  is("round(2.5)", "3");
  is("round(-2.5)", "-3");
  is("round(2.345, 2)", "2.35");
  is("round(7, 2)", "7.00");
  fails("round(1, 7)", "round()'s places");
}

static void test_durations_and_times(void **state) {
  (void)state;
  is("3d", "3 days");
  is("1w", "7 days");
  is("2h + 30m", "2 hours 30 minutes");
  is("90s", "1 minute 30 seconds");
  is("1d + 2h + 3m", "1 day 2 hours");
  is("3d * 2", "6 days");
  is("2 * 90m", "3 hours");
}

static void test_durations_math(void **state) {
  (void)state;
  is("3d * 2", "6 days");
  is("0.5 * 1d", "12 hours");
  is("1d / 4", "6 hours");
  is("3d / 1d", "3.0000");
  is("-2h", "-2 hours");
  is("days(1.5)", "1 day 12 hours");
  is("hours(2)", "2 hours");
  truth("3d > 2d", 1);
  truth("72h == 3d", 1);
  truth("0s", 0);
  fails("400d", "longer than 366 days");
  fails("3x", "not a number or a duration");
  fails("1.5h", "not a number or a duration");
  fails("3d > 2", "cannot compare a duration with a number");
  fails("now() + 3", "use a duration");
}

static void test_dates(void **state) {
  (void)state;
  is("now()", "01 Dec 2026, 9:00 PM");
  is("now", "01 Dec 2026, 9:00 PM");
  is("today()", "01 Dec 2026, 12:00 AM");
  is("now() + 3h", "02 Dec 2026, 12:00 AM");
  is("now() - 9h", "01 Dec 2026, 12:00 PM");
  is("now() - today()", "21 hours");
  /* A date alone is the business's day: 25 Nov in India. */
  truth("invoice.due_date < today()", 1);
  truth("today() > invoice.due_date", 1);
  truth("invoice.due_date == '2026-11-25'", 1);
  is("now() - invoice.due_date", "6 days 21 hours");
  truth("now() - invoice.due_date > 3d", 1);
  truth("now() - invoice.due_date > 7d", 0);
  is("date(invoice.issued_at)", "20 Nov 2026, 12:00 AM");
  is("invoice.issued_at + 1d", "21 Nov 2026, 10:00 AM");
  is("date('2026-02-28') + 1d", "01 Mar 2026, 12:00 AM");
  is("date('2028-02-28') + 1d", "29 Feb 2028, 12:00 AM");
  truth("customer.created_at >= today()", 1);
  truth("customer.created_at == today()", 1);
  truth("'2026-12-01T18:30:00Z' > today()", 1);
  is("date(now()) + 13h + 5m", "01 Dec 2026, 1:05 PM");
  fails("today() < 'soon'", "'soon' is not a date or time");
  fails("date('2026-02-30')", "date() needs a date");
  fails("now() - 3", "cannot subtract a time and a number");
  is("now() - 1d - date('2026-11-30')", "21 hours");
}

static void test_strings(void **state) {
  (void)state;
  is("'Namaste ' + customer.full_name", "Namaste Asha Rao");
  is("\"it's\"", "it's");
  is("'a\\'b\\\\c\\n'", "a'b\\c\n");
  is("upper('abc é')", "ABC é");
  is("lower(customer.full_name)", "asha rao");
  is("len('नमस्ते')", "6");
  is("len(invoice.items)", "2");
  is("invoice.items.length", "2");
  is("customer.full_name.length", "8");
  truth("contains(customer.full_name, 'Rao')", 1);
  truth("contains(invoice.tags, 'gold')", 1);
  truth("contains(invoice.tags, 'silver')", 0);
  truth("'Asha' < 'Ravi'", 1);
  truth("'b' > 'abc'", 1);
  is("'Total: ' + invoice.total_amount", "Total: 11800.00");
  /* Text that is a decimal is a number next to a number. */
  is("'500' + 100", "600");
  is("100 - '0.50'", "99.50");
  is("'12.5' * 2", "25.0");
  is("'10' + '20'", "1020"); /* two texts join */
  is("'Total: ' + 5", "Total: 5");
  fails("'abc' - 1", "cannot subtract text and a number");
  is("coalesce(customer.phone, nothing, 'no phone')", "no phone");
  is("coalesce(customer.full_name, 'x')", "Asha Rao");
  is("min(3, 1.5, 2)", "1.5");
  is("max(3d, 2h)", "3 days");
  is("max(today(), invoice.issued_at)", "01 Dec 2026, 12:00 AM");
  truth("'500' == 500.0", 1);
  truth("'' ", 0);
  fails("'abc", "text started here is not closed at 1");
  fails("'a\\qb'", "unknown escape");
  fails("upper(1)", "upper() needs text");
}

static void test_format_money(void **state) {
  (void)state;
  is("format_money(123456.5)", "1,23,456.50");
  is("format_money(invoice.total_amount)", "11,800.00");
  is("format_money(0)", "0.00");
  is("format_money(999)", "999.00");
  is("format_money(1000)", "1,000.00");
  is("format_money(100000)", "1,00,000.00");
  is("format_money(12345678.125)", "1,23,45,678.13");
  is("format_money(-1234567)", "-12,34,567.00");
  is("format_money('2500.5')", "2,500.50");
  is("format_money(92233720368547758.07)", "92,23,37,20,36,85,47,758.07");
  fails("format_money(now())", "format_money() needs a number");
}

static void test_members_and_lists(void **state) {
  (void)state;
  is("invoice.items[0].sku", "A1");
  is("invoice.items[1].qty", "1.5");
  is("invoice.items[-1].sku", "B2");
  is("invoice['invoice_number']", "INV-0007");
  is("invoice.items[5]", "");
  is("invoice.no_such_field", "");
  is("nothing.deeper.still", "");
  is("debtors().count", "3");
  truth("debtors().count > 2", 1);
  truth("invoice.status in ['issued', 'overdue']", 1);
  truth("invoice.status not in ['issued', 'overdue']", 0);
  truth("'paid' in ['issued', 'overdue']", 0);
  truth("2 in [1, 2.0, 3]", 1);
  truth("'gold' in invoice.tags", 1);
  truth("'sku' in invoice.items[0]", 1);
  truth("'Rao' in customer.full_name", 1);
  truth("'aab' in 'aaab'", 1);
  truth("'abab' in 'abaabab'", 1);
  truth("'aba' in 'abba'", 0);
  truth("'' in 'abc'", 1);
  truth("'abcd' in 'abc'", 0);
  truth("'xxxx' in long", 1);
  truth("'xxy' in long", 0);
  truth("1 in ['1x', null, true]", 0);
  truth("9000 in big", 1);
  is("[1, 'a', 2d, null]", "[1,\"a\",172800,null]");
  is("len([])", "0");
  truth("[]", 0);
  truth("[1] == [1]", 1);
  truth("invoice.paid", 0);
  truth("invoice.paid == false", 1);
  truth("invoice != null", 1);
  truth("invoice == 1", 0);
  fails("invoice.items.sku", "a list has no field 'sku'");
  fails("invoice.items['x']",
        "a position in a list is a whole number, not text");
  fails("invoice.total_amount[0]", "cannot take [a number] of a number");
  fails("invoice.items[0.5]", "whole number");
  fails("3.x", "a number has no field 'x' at 3");
  fails("invoice.", "expected a field name");
  /* Regression (fuzz): an operator after '.' is not a field name. */
  fails("invoice.&&", "expected a field name after '.' at 9");
  fails("invoice.||x", "expected a field name");
  fails("invoice.!", "expected a field name");
  is("invoice.in", "");
  is("invoice.NULL", "");
  fails("(3).x", "a number has no field 'x'");
  fails("1 in 2", "'in' needs a list");
}

static void test_unknown_names(void **state) {
  (void)state;
  fails("invoise.total_amount > 10", "unknown name 'invoise' at 1");
  fails("invoice.total_amount > custmer.total_debt",
        "unknown name 'custmer' at 24");
  fails("salse_summary('today')", "unknown function 'salse_summary' at 1");
  is("sales_summary('today')", "Sales today: 4 invoices");
  fails("sales_summary(1)", "takes a period");
  fails("broken", "the record could not be read at 1");
  /* What the environment answers is checked before it is used. */
  is("nullptr_text + 'x'", "x");
  truth("nullptr_text in 'abc'", 1);
  is("upper(nullptr_text)", "");
  fails("bad_scale + 1", "more than 6 decimals at 1");
  fails("len()", "len() takes 1 argument, not 0");
  fails("len(1, 2)", "len() takes 1 argument, not 2");
  fails("round()", "round() takes 1 to 2 arguments");
}

static void test_type_errors(void **state) {
  (void)state;
  fails("invoice.status > 5", "cannot compare text with a number at 16");
  fails("customer.phone > 0", "a value is missing");
  fails("true + 1", "cannot add true/false and a number");
  fails("invoice - 1", "cannot subtract a record and a number");
  fails("-'x'", "cannot negate text");
  fails("true < false", "cannot compare");
  fails("1 < 2 < 3", "use 'and' to join two comparisons");
}

static void test_syntax_errors(void **state) {
  (void)state;
  char err[256];
  struct {
    const char *src, *want;
  } cases[] = {
      {"", "expression is empty"},
      {"   ", "expression is empty"},
      {"1 +", "expression ends too early"},
      {"(1 + 2", "expected ')' but the expression ends"},
      {"[1, 2", "expected ']' to close the list"},
      {"1 2", "unexpected '2' at 3"},
      {"a ^ b", "unexpected '^' at 3"},
      {"f(1,)", "unexpected ')' at 5"},
      {"a..b", "expected a field name after '.' at 3"},
      {"a.0", "use [0]"},
      {"1 ==", "expression ends too early"},
      {"x = = y", "unexpected '=' at 5"},
      {"f(1,2,3,4,5,6,7,8,9)", "too many arguments"},
      {"a &  b", "unexpected '&'"},
      {"\x01", "unexpected character at 1"},
      {"a not b", "unexpected 'not' at 3"},
      {"a and or b", "unexpected 'or' at 7"},
      {"in", "unexpected 'in' at 1"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    err[0] = '\0';
    if (expr_check(A, cases[i].src, strlen(cases[i].src), err, sizeof err) == 0)
      fail_msg("accepted '%s'", cases[i].src);
    if (!strstr(err, cases[i].want))
      fail_msg("'%s': error '%s', want '%s'", cases[i].src, err, cases[i].want);
  }
  assert_int_equal(expr_check(A, "invoise.x > 3 and f(2)", 22, err, sizeof err),
                   0);
  /* A NUL byte inside the given length. */
  assert_int_equal(expr_check(A, "1\0 + 2", 6, err, sizeof err), -1);
}

static void test_caps(void **state) {
  (void)state;
  char *src = malloc(EXPR_MAX_SOURCE + 16);
  char err[256];
  expr_val v;
  /* Deep parentheses stop at the depth cap, not the stack. */
  size_t n = 0;
  for (int i = 0; i < 2000; i++) src[n++] = '(';
  src[n++] = '1';
  for (int i = 0; i < 2000; i++) src[n++] = ')';
  assert_int_equal(expr_eval(A, src, n, &ENV, &v, err, sizeof err), -1);
  assert_non_null(strstr(err, "nested too deeply"));
  /* Within the cap it works. */
  n = 0;
  for (int i = 0; i < 20; i++) src[n++] = '(';
  src[n++] = '1';
  for (int i = 0; i < 20; i++) src[n++] = ')';
  assert_int_equal(expr_eval(A, src, n, &ENV, &v, err, sizeof err), 0);
  /* So do unary chains and nested calls and lists. */
  const char *deep[] = {"-", "not ", "!", "[", "len(", "x["};
  for (size_t k = 0; k < sizeof deep / sizeof deep[0]; k++) {
    n = 0;
    while (n + 8 < EXPR_MAX_SOURCE) {
      memcpy(src + n, deep[k], strlen(deep[k]));
      n += strlen(deep[k]);
    }
    src[n++] = '1';
    assert_int_equal(expr_eval(A, src, n, &ENV, &v, err, sizeof err), -1);
    if (!strstr(err, "nested too deeply")) fail_msg("%s…: %s", deep[k], err);
  }
  /* A long `or` chain is flat: evaluated without deep recursion. */
  n = 0;
  src[n++] = '0';
  while (n + 8 < EXPR_MAX_SOURCE) {
    memcpy(src + n, " or 0", 5);
    n += 5;
  }
  assert_int_equal(expr_eval(A, src, n, &ENV, &v, err, sizeof err), 0);
  assert_int_equal(v.t, EV_BOOL);
  assert_int_equal(v.b, 0);
  n = 0;
  src[n++] = '1';
  while (n + 8 < EXPR_MAX_SOURCE) {
    memcpy(src + n, "+1", 2);
    n += 2;
  }
  assert_int_equal(expr_eval(A, src, n, &ENV, &v, err, sizeof err), 0);
  assert_int_equal(v.num, (int64_t)(n + 1) / 2);
  /* Source cap. */
  memset(src, ' ', EXPR_MAX_SOURCE + 1);
  src[0] = '1';
  assert_int_equal(
      expr_eval(A, src, EXPR_MAX_SOURCE + 1, &ENV, &v, err, sizeof err), -1);
  assert_non_null(strstr(err, "longer than 4096 bytes"));
  free(src);
  /* Steps: membership over a long list stops at the cap. */
  fails("-1 in big", "too many steps");
  fails("-1 in big or -2 in big", "too many steps");
  /* Strings: the cap holds however text is built. */
  fails("long + long", "text longer than 65536 bytes");
  fails("long + 'x' + long", "text longer than 65536 bytes");
  is("len(long + 'abc')", "60003");
  /* Building a lot of text costs steps, so memory stays bounded too. */
  n = 0;
  char *s2 = malloc(EXPR_MAX_SOURCE);
  n += (size_t)snprintf(s2, EXPR_MAX_SOURCE, "len(long + '')");
  while (n + 24 < EXPR_MAX_SOURCE)
    n += (size_t)snprintf(s2 + n, EXPR_MAX_SOURCE - n, "+len(long+'')");
  assert_int_equal(expr_eval(A, s2, n, &ENV, &v, err, sizeof err), -1);
  assert_non_null(strstr(err, "too many steps"));
  /* Work over large text is charged by the kilobyte: len(long) is ~60
   * steps, so two hundred of them pass the cap. */
  free(s2);
  n = 0;
  s2 = malloc(EXPR_MAX_SOURCE);
  n += (size_t)snprintf(s2, EXPR_MAX_SOURCE, "len(long)");
  for (int i = 0; i < 199; i++)
    n += (size_t)snprintf(s2 + n, EXPR_MAX_SOURCE - n, "+len(long)");
  assert_int_equal(expr_eval(A, s2, n, &ENV, &v, err, sizeof err), -1);
  assert_non_null(strstr(err, "too many steps"));
  free(s2);
  is("len(long) + len(long)", "120000");
}

static void render_is(const char *tmpl, const char *want) {
  buf b;
  buf_init(&b, 0);
  char err[256] = "";
  if (expr_render(A, tmpl, strlen(tmpl), &ENV, &b, err, sizeof err))
    fail_msg("%s: %s", tmpl, err);
  if (strcmp(buf_cstr(&b), want))
    fail_msg("%s: got '%s', want '%s'", tmpl, buf_cstr(&b), want);
  buf_free(&b);
  assert_int_equal(expr_template_check(A, tmpl, strlen(tmpl), err, sizeof err),
                   0);
}

static void render_fails(const char *tmpl, const char *want) {
  buf b;
  buf_init(&b, 0);
  char err[256] = "";
  if (expr_render(A, tmpl, strlen(tmpl), &ENV, &b, err, sizeof err) == 0)
    fail_msg("%s: rendered '%s', want error", tmpl, buf_cstr(&b));
  if (!strstr(err, want))
    fail_msg("%s: error '%s', want '%s'", tmpl, err, want);
  buf_free(&b);
}

static void test_templates(void **state) {
  (void)state;
  render_is(
      "Namaste {{ customer.full_name }}, invoice {{ invoice.invoice_number }} "
      "of ₹{{ invoice.total_amount }} is due.",
      "Namaste Asha Rao, invoice INV-0007 of ₹11800.00 is due.");
  render_is("no holes", "no holes");
  render_is("", "");
  render_is("{{1+1}}{{2}}", "22");
  render_is("{{ '{{' }} and {{ \"}}\" }}", "{{ and }}");
  render_is("a } b }} c", "a } b }} c");
  render_is("Due {{ invoice.due_date }}; sent {{ now() }}",
            "Due 2026-11-25; sent 01 Dec 2026, 9:00 PM");
  render_is("{{ customer.phone }}|", "|");
  render_is("₹{{ format_money(invoice.total_amount * 10) }}", "₹1,18,000.00");
  render_is("{{ sales_summary('today') }}", "Sales today: 4 invoices");
  render_fails("Hi {{ customer.full_name", "'{{' at 4 is not closed");
  render_fails("Hi {{ 'x }}", "is not closed");
  render_fails("Hi {{ invoise.total }}",
               "in {{ invoise.total }}: unknown name 'invoise' at 7");
  render_fails("Hi {{ }}", "expression is empty");
  render_fails("{{ 1 + }}", "expression ends too early");
  char err[256];
  assert_int_equal(expr_template_check(A, "{{ a +* b }}", 12, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "unexpected '*' at 7"));
  /* The caller's buffer cap is honoured. */
  buf b;
  buf_init(&b, 8);
  assert_int_equal(expr_render(A, "{{ customer.full_name }} and more", 33, &ENV,
                               &b, err, sizeof err),
                   -1);
  assert_non_null(strstr(err, "too long"));
  assert_int_equal(b.max, 8); /* the caller's cap is back */
  buf_free(&b);
  /* Without a cap of its own, a template still renders to at most
   * EXPR_MAX_RENDER bytes: five holes of 60000 bytes are too many. */
  buf_init(&b, 0);
  const char *five = "{{long}}{{long}}{{long}}{{long}}{{long}}";
  assert_int_equal(
      expr_render(A, five, strlen(five), &ENV, &b, err, sizeof err), -1);
  assert_non_null(strstr(err, "too long"));
  assert_int_equal(b.max, 0);
  buf_reset(&b);
  assert_int_equal(expr_render(A, five, 32, &ENV, &b, err, sizeof err), 0);
  assert_int_equal(b.len, 240000);
  buf_free(&b);
  /* A template is at most EXPR_MAX_STRING bytes. */
  char *big = malloc(EXPR_MAX_STRING + 2);
  memset(big, 'a', EXPR_MAX_STRING + 1);
  buf_init(&b, 0);
  assert_int_equal(
      expr_render(A, big, EXPR_MAX_STRING + 1, &ENV, &b, err, sizeof err), -1);
  assert_non_null(strstr(err, "template longer than"));
  assert_int_equal(
      expr_template_check(A, big, EXPR_MAX_STRING + 1, err, sizeof err), -1);
  buf_free(&b);
  free(big);
}

static void test_format_and_json(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  expr_val v;
  memset(&v, 0, sizeof v);
  v.t = EV_TIME;
  v.us = NOW_US;
  assert_int_equal(expr_format(&v, 19800, &b), 0);
  assert_string_equal(buf_cstr(&b), "01 Dec 2026, 9:00 PM");
  buf_reset(&b);
  assert_int_equal(expr_format(&v, 0, &b), 0);
  assert_string_equal(buf_cstr(&b), "01 Dec 2026, 3:30 PM");
  buf_reset(&b);
  v.us = NOW_US - 15 * 3600LL * 1000000; /* 06:00 IST */
  expr_format(&v, 19800, &b);
  assert_string_equal(buf_cstr(&b), "01 Dec 2026, 6:00 AM");
  buf_reset(&b);
  v.us = NOW_US - 8 * 3600LL * 1000000 - 59 * 60LL * 1000000; /* 12:01 */
  expr_format(&v, 19800, &b);
  assert_string_equal(buf_cstr(&b), "01 Dec 2026, 12:01 PM");
  buf_reset(&b);
  assert_int_equal(expr_to_json(&v, &b), 0);
  assert_string_equal(buf_cstr(&b), "\"2026-12-01T06:31:00.000000+00:00\"");
  buf_reset(&b);
  v = val("1d + 1s");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "86401");
  buf_reset(&b);
  v = val("1s / 4");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "0.250000");
  buf_reset(&b);
  v = val("invoice.total_amount");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "11800.00");
  buf_reset(&b);
  v = val("'a\"b'");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "\"a\\\"b\"");
  buf_reset(&b);
  v = val("invoice.items[0]");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "{\"sku\":\"A1\",\"qty\":2}");
  buf_reset(&b);
  expr_format(&v, 19800, &b);
  assert_string_equal(buf_cstr(&b), "{\"sku\":\"A1\",\"qty\":2}");
  buf_reset(&b);
  v = val("null");
  expr_to_json(&v, &b);
  assert_string_equal(buf_cstr(&b), "null");
  buf_free(&b);
  /* Numbers from JSON keep their digits; exponents and excess decimals are
   * refused rather than rounded. */
  const char *nums[] = {"1e3", "0.1234567", "99999999999999999999"};
  for (size_t i = 0; i < 3; i++) {
    json *j;
    json_error je;
    assert_int_equal(json_parse(A, nums[i], strlen(nums[i]), &j, &je), 0);
    assert_int_equal(expr_from_json(j, &v), -1);
  }
  json *j;
  json_error je;
  assert_int_equal(json_parse(A, "-0.500", 6, &j, &je), 0);
  assert_int_equal(expr_from_json(j, &v), 0);
  assert_int_equal(v.num, -500);
  assert_int_equal(v.scale, 3);
}

static void test_conversions(void **state) {
  (void)state;
  int64_t x;
  expr_val v = val("invoice.total_amount");
  assert_int_equal(expr_as_decimal(&v, 2, &x), 0);
  assert_int_equal(x, 1180000);
  assert_int_equal(expr_as_decimal(&v, 0, &x), 0);
  assert_int_equal(x, 11800);
  v = val("12.345");
  assert_int_equal(expr_as_decimal(&v, 2, &x), -1); /* never rounded */
  assert_int_equal(expr_as_decimal(&v, 3, &x), 0);
  assert_int_equal(x, 12345);
  v = val("12.340");
  assert_int_equal(expr_as_decimal(&v, 2, &x), 0);
  assert_int_equal(x, 1234);
  v = val("'-2500.5'");
  assert_int_equal(expr_as_decimal(&v, 2, &x), 0);
  assert_int_equal(x, -250050);
  v = val("9223372036854775807");
  assert_int_equal(expr_as_decimal(&v, 2, &x), -1);
  v = val("'abc'");
  assert_int_equal(expr_as_decimal(&v, 2, &x), -1);
  v = val("3d");
  assert_int_equal(expr_as_decimal(&v, 2, &x), -1);
  v = val("now() + 1h");
  assert_int_equal(expr_as_time(&v, 19800, &x), 0);
  assert_int_equal(x, NOW_US + 3600LL * 1000000);
  v = val("invoice.due_date");
  assert_int_equal(expr_as_time(&v, 19800, &x), 0);
  assert_int_equal(x, T_IST_MIDNIGHT_2026_11_25);
  v = val("'2026-12-01T10:00:00Z'");
  assert_int_equal(expr_as_time(&v, 19800, &x), 0);
  assert_int_equal(x, NOW_US - 5 * 3600LL * 1000000 - 1800LL * 1000000);
  v = val("'tomorrow'");
  assert_int_equal(expr_as_time(&v, 19800, &x), -1);
  v = val("1");
  assert_int_equal(expr_as_time(&v, 19800, &x), -1);
}

typedef struct seen {
  char text[512];
  int stop_at; /* stop (return 7) at this call, 0: never */
  int calls;
} seen;

static int note_name(void *arg, const char *name, int is_call, size_t at) {
  seen *s = arg;
  size_t n = strlen(s->text);
  snprintf(s->text + n, sizeof s->text - n, "%s%s%s@%zu", n ? " " : "", name,
           is_call ? "()" : "", at);
  return ++s->calls == s->stop_at ? 7 : 0;
}

static void test_names(void **state) {
  (void)state;
  char err[256];
  seen s = {"", 0, 0};
  const char *src =
      "invoise.total > 10 and sales_summary(x[y.z]) != len(now) "
      "or today() in [customer, item.a]";
  assert_int_equal(
      expr_names(A, src, strlen(src), note_name, &s, err, sizeof err), 0);
  assert_string_equal(
      s.text, "invoise@1 sales_summary()@24 x@38 y@40 customer@73 item@83");
  seen t = {"", 2, 0};
  assert_int_equal(
      expr_names(A, src, strlen(src), note_name, &t, err, sizeof err), 7);
  assert_string_equal(t.text, "invoise@1 sales_summary()@24");
  seen u = {"", 0, 0};
  assert_int_equal(expr_names(A, "1 +", 3, note_name, &u, err, sizeof err), -1);
  assert_non_null(strstr(err, "ends too early"));
  const char *tmpl =
      "Hi {{ customer.full_name }}, {{ format_money(invoce.total) }} {{ x }}";
  seen v = {"", 0, 0};
  assert_int_equal(expr_template_names(A, tmpl, strlen(tmpl), note_name, &v,
                                       err, sizeof err),
                   0);
  assert_string_equal(v.text, "customer@7 invoce@46 x@66");
  assert_true(expr_is_builtin("format_money"));
  assert_false(expr_is_builtin("sales_summary"));
}

static void test_duration_parse(void **state) {
  (void)state;
  struct {
    const char *s;
    int64_t secs;
  } ok[] = {{"30s", 30},         {"30m", 1800},           {"2h", 7200},
            {"3d", 259200},      {"1w", 604800},          {"5 days", 432000},
            {" 2 hours ", 7200}, {"366d", 366 * 86400LL}, {"0s", 0}};
  for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
    int64_t us = -1;
    if (expr_duration_parse(ok[i].s, strlen(ok[i].s), &us))
      fail_msg("refused '%s'", ok[i].s);
    assert_int_equal(us, ok[i].secs * 1000000);
  }
  const char *bad[] = {"",
                       "3",
                       "d",
                       "3x",
                       "-3d",
                       "1.5h",
                       "367d",
                       "53w",
                       "3dd",
                       "3 d s",
                       "99999999999999999999s",
                       "3D"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int64_t us = 42;
    if (expr_duration_parse(bad[i], strlen(bad[i]), &us) == 0)
      fail_msg("accepted '%s'", bad[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_precedence),
      cmocka_unit_test(test_exact_money),
      cmocka_unit_test(test_overflow),
      cmocka_unit_test(test_division),
      cmocka_unit_test(test_durations_and_times),
      cmocka_unit_test(test_durations_math),
      cmocka_unit_test(test_dates),
      cmocka_unit_test(test_strings),
      cmocka_unit_test(test_format_money),
      cmocka_unit_test(test_members_and_lists),
      cmocka_unit_test(test_unknown_names),
      cmocka_unit_test(test_type_errors),
      cmocka_unit_test(test_syntax_errors),
      cmocka_unit_test(test_caps),
      cmocka_unit_test(test_templates),
      cmocka_unit_test(test_format_and_json),
      cmocka_unit_test(test_duration_parse),
      cmocka_unit_test(test_conversions),
      cmocka_unit_test(test_names),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
