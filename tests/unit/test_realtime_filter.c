/* test_realtime_filter.c - subscription filters (src/realtime/filter.c)
 * and the pieces of a change that need no database: positions, the data
 * object, the tenancy rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "realtime/change.h"

#define P1 "0190a000-0000-7000-8000-000000000001"
#define P2 "0190a000-0000-7000-8000-000000000002"
#define INV "0190a000-0000-7000-8000-0000000000aa"
#define CUST "0190a000-0000-7000-8000-0000000000cc"

static const rest_table *tab(const char *name) {
  return schema_table(name, strlen(name));
}

static const char INVOICE_ROW[] =
    "{\"profile_id\":\"" P1 "\",\"id\":\"" INV "\",\"customer_id\":\"" CUST
    "\",\"invoice_number\":\"INV-7\",\"invoice_date\":\"2026-11-30\","
    "\"due_date\":null,\"place_of_supply\":\"29\",\"status\":\"paid\","
    "\"subtotal\":1000.00,\"cgst_amount\":25.00,\"sgst_amount\":25.00,"
    "\"igst_amount\":0.00,\"round_off\":0.00,\"total_amount\":1050.00,"
    "\"amount_paid\":1050.00,\"balance_due\":0.00,\"notes\":\"a, b\","
    "\"cancel_reason\":null,\"issued_at\":\"2026-11-30T10:00:00.000000+00:00\","
    "\"cancelled_at\":null,\"created_at\":\"2026-11-30T09:00:00.000000+00:00\","
    "\"updated_at\":\"2026-11-30T10:00:00.000000+00:00\"}";

static rt_change *invoice(rt_op op) {
  return rt_change_new((rt_pos){0, 7}, tab("invoices"), op, P1, INV,
                       1796032800000000LL, op == RT_DELETE ? NULL : INVOICE_ROW,
                       op == RT_INSERT ? NULL : INVOICE_ROW);
}

/* Parses text against invoices and matches it with the invoice above. */
static int matches(const char *text) {
  arena *a = arena_new();
  rt_filter *f = NULL;
  char err[200];
  int rc = rt_filter_parse(a, tab("invoices"), text, &f, err, sizeof err);
  if (rc) fail_msg("%s: %s", text, err);
  rt_change *c = invoice(RT_UPDATE);
  int m = rt_filter_match(f, c);
  rt_change_unref(c);
  arena_free(a);
  return m;
}

/* The parse error of text (must fail). */
static const char *refused(const char *table, const char *text) {
  static char err[200];
  arena *a = arena_new();
  rt_filter *f = NULL;
  err[0] = '\0';
  int rc = rt_filter_parse(a, tab(table), text, &f, err, sizeof err);
  arena_free(a);
  if (rc != -1) fail_msg("%s was accepted", text);
  assert_true(err[0] != '\0');
  return err;
}

static void test_operators_by_type(void **state) {
  (void)state;
  assert_true(matches(NULL));
  assert_true(matches(""));
  assert_true(matches("status=eq.paid"));
  assert_false(matches("status=eq.Paid"));
  assert_true(matches("status=neq.draft"));
  assert_false(matches("status=neq.paid"));
  /* money: exact decimals, not text and not floating point */
  assert_true(matches("total_amount=eq.1050"));
  assert_true(matches("total_amount=eq.1050.00"));
  assert_true(matches("total_amount=eq.1050.000"));
  assert_true(matches("total_amount=gt.999.99"));
  assert_false(matches("total_amount=gt.1050"));
  assert_true(matches("total_amount=gte.1050"));
  assert_true(matches("total_amount=lt.1050.01"));
  assert_true(matches("total_amount=lte.1050.00"));
  assert_false(matches("total_amount=lt.1050"));
  assert_true(matches("balance_due=eq.0"));
  /* text order is byte order */
  assert_true(matches("invoice_number=gt.INV-10"));
  /* dates and times as times */
  assert_true(matches("invoice_date=eq.2026-11-30"));
  assert_true(matches("invoice_date=lt.2026-12-01"));
  assert_true(matches("issued_at=eq.2026-11-30T15:30:00+05:30"));
  assert_true(matches("issued_at=gt.2026-11-30T09:59:59.999999Z"));
  /* uuids case-blind */
  assert_true(matches("customer_id=eq.0190A000-0000-7000-8000-0000000000CC"));
  /* null matches nothing */
  assert_false(matches("due_date=eq.2026-11-30"));
  assert_false(matches("due_date=neq.2026-11-30"));
  assert_false(matches("cancel_reason=neq.x"));
}

static void test_in_lists(void **state) {
  (void)state;
  assert_true(matches("status=in.(draft,paid)"));
  assert_false(matches("status=in.(draft,issued)"));
  assert_false(matches("status=in.()"));
  assert_true(matches("notes=in.(\"a, b\",c)"));
  assert_true(matches("notes=in.(\"x\\\"y\",\"a, b\")"));
  assert_true(matches("customer_id=in.(" P1 "," CUST ")"));
  assert_true(matches("total_amount=in.(1,1050.00)"));
  assert_true(matches("notes=eq.\"a, b\""));
}

static void test_refusals(void **state) {
  (void)state;
  refused("invoices", "status");
  refused("invoices", "status=paid");
  refused("invoices", "status=like.paid");
  refused("invoices", "nope=eq.1");
  refused("invoices", "total_amount=eq.abc");
  refused("invoices", "total_amount=eq.10.555");
  refused("invoices", "invoice_date=eq.yesterday");
  refused("invoices", "customer_id=eq.42");
  refused("invoices", "status=in.(a,b");
  refused("invoices", "status=in.(\"a,b)");
  refused("invoices", "status=in.(a\"b\"c)");
  /* secrets and hidden columns cannot be filtered (nor named back) */
  const char *e = refused("channels", "access_token=eq.abc");
  assert_non_null(strstr(e, "access_token"));
  assert_null(strstr(e, "abc"));
  refused("workflow_blueprints", "webhook_token=eq.x");
  refused("events", "seq=gt.1");
  refused("unified_messages", "metadata=eq.{}");
  /* the message never echoes the value or odd bytes */
  e = refused("invoices", "st\"<x>=eq.secret-value");
  assert_null(strstr(e, "secret-value"));
  assert_null(strstr(e, "<x>"));
  /* too many values */
  char big[2000] = "status=in.(";
  for (int i = 0; i < 101; i++) strcat(big, i ? ",a" : "a");
  strcat(big, ")");
  refused("invoices", big);
}

static void test_delete_matches_old_row(void **state) {
  (void)state;
  arena *a = arena_new();
  rt_filter *f;
  char err[100];
  assert_int_equal(rt_filter_parse(a, tab("invoices"), "status=eq.paid", &f,
                                   err, sizeof err), 0);
  rt_change *d = invoice(RT_DELETE), *i = invoice(RT_INSERT);
  assert_true(rt_filter_match(f, d));
  assert_true(rt_filter_match(f, i));
  /* a filter of another table never matches */
  rt_change *p = rt_change_new((rt_pos){0, 9}, tab("payments"), RT_INSERT, P1,
                               INV, 0, "{\"status\":\"paid\"}", NULL);
  assert_non_null(p);
  assert_false(rt_filter_match(f, p));
  rt_change_unref(p);
  rt_change_unref(d);
  rt_change_unref(i);
  arena_free(a);
}

static void test_positions(void **state) {
  (void)state;
  char s[RT_POS_TEXT];
  rt_pos p = {0, 1234567890123LL}, q;
  rt_pos_format(p, s);
  assert_string_equal(s, "0.1234567890123");
  assert_int_equal(rt_pos_parse(s, &q), 0);
  assert_int_equal(rt_pos_cmp(p, q), 0);
  assert_true(rt_pos_cmp((rt_pos){0, 1}, (rt_pos){0, 2}) < 0);
  assert_true(rt_pos_cmp((rt_pos){1, 0}, (rt_pos){0, 2}) > 0);
  assert_int_equal(rt_pos_parse("12", &q), -1);
  assert_int_equal(rt_pos_parse("-1.2", &q), -1);
  assert_int_equal(rt_pos_parse("1.2x", &q), -1);
  assert_int_equal(rt_pos_parse("1.", &q), -1);
  assert_int_equal(rt_pos_parse(".1", &q), -1);
  assert_int_equal(rt_pos_parse("1.99999999999999999999", &q), -1);
  assert_int_equal(rt_pos_parse(NULL, &q), -1);
  assert_string_equal(rt_op_name(RT_INSERT), "INSERT");
  assert_string_equal(rt_op_name(RT_UPDATE), "UPDATE");
  assert_string_equal(rt_op_name(RT_DELETE), "DELETE");
}

static void test_change_data(void **state) {
  (void)state;
  rt_change *c = invoice(RT_INSERT);
  assert_non_null(c);
  assert_non_null(strstr(c->data, "\"schema\":\"public\",\"table\":\"invoices\""));
  assert_non_null(strstr(c->data, "\"commit_timestamp\":\"2026-11-30T10:00:00.000Z\""));
  assert_non_null(strstr(c->data, "\"type\":\"INSERT\""));
  assert_non_null(strstr(c->data, "{\"name\":\"total_amount\",\"type\":\"numeric\"}"));
  assert_non_null(strstr(c->data, "\"record\":{\"profile_id\""));
  assert_null(strstr(c->data, "old_record"));
  assert_non_null(strstr(c->data, "\"errors\":null}"));
  assert_int_equal(c->data_len, strlen(c->data));
  rt_change *k = rt_change_ref(c);
  rt_change_unref(c);
  rt_change_unref(k);
  rt_change_unref(NULL);
  /* hidden columns are not listed among the columns */
  rt_change *e = rt_change_new((rt_pos){0, 1}, tab("events"), RT_INSERT, P1,
                               INV, 0, "{}", NULL);
  assert_null(strstr(e->data, "\"seq\""));
  rt_change_unref(e);
  /* a record that is not an object is refused */
  assert_null(rt_change_new((rt_pos){0, 1}, tab("events"), RT_INSERT, P1, INV,
                            0, "[1]", NULL));
  assert_null(rt_change_new((rt_pos){0, 1}, tab("events"), RT_INSERT, P1, INV,
                            0, "{", NULL));
}

static void test_visible(void **state) {
  (void)state;
  rt_change *c = invoice(RT_INSERT);
  api_principal svc = {.role = ROLE_SERVICE}, anon = {.role = ROLE_ANON},
                none = {.role = ROLE_NONE}, own = {.role = ROLE_AUTHENTICATED},
                other = {.role = ROLE_AUTHENTICATED};
  strcpy(own.sub, P1);
  strcpy(other.sub, P2);
  assert_true(rt_visible(&svc, c));
  assert_true(rt_visible(&own, c));
  assert_false(rt_visible(&other, c));
  assert_false(rt_visible(&anon, c));
  assert_false(rt_visible(&none, c));
  assert_false(rt_visible(NULL, c));
  api_principal nosub = {.role = ROLE_AUTHENTICATED};
  assert_false(rt_visible(&nosub, c));
  rt_change_unref(c);
  /* the profile row is its own tenant */
  rt_change *p = rt_change_new((rt_pos){0, 2}, tab("profiles"), RT_UPDATE, P1,
                               P1, 0, "{}", "{}");
  assert_true(rt_visible(&own, p));
  assert_false(rt_visible(&other, p));
  rt_change_unref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_operators_by_type),
      cmocka_unit_test(test_in_lists),
      cmocka_unit_test(test_refusals),
      cmocka_unit_test(test_delete_matches_old_row),
      cmocka_unit_test(test_positions),
      cmocka_unit_test(test_change_data),
      cmocka_unit_test(test_visible),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
