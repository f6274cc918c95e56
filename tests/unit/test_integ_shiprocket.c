/* test_integ_shiprocket.c - the pure half of the Shiprocket client
 * (integrations/shiprocket.c): the order body, each answer's parser, the
 * tracking webhook and tracking answer, and the status mapping with its
 * never-backwards rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "integrations/shiprocket.h"

static arena *A;
static char why[400];

static int setup(void **state) {
  (void)state;
  A = arena_new();
  why[0] = 0;
  return 0;
}
static int teardown(void **state) {
  (void)state;
  arena_free(A);
  return 0;
}

static json *parse(const char *text) {
  json *v = NULL;
  json_error je;
  if (json_parse(A, text, strlen(text), &v, &je)) fail_msg("not JSON: %s", je.message);
  return v;
}

/* The text of member key of o, numbers as their literal. */
static const char *member(const json *o, const char *key) {
  const json *v = json_get(o, key);
  if (!v) return NULL;
  return v->type == JSON_STRING || v->type == JSON_NUMBER ? v->str : json_to_text(A, v);
}

static int64_t ist(const char *s) {
  int64_t t;
  char text[64];
  snprintf(text, sizeof text, "%s+05:30", s);
  assert_int_equal(ts_parse(text, &t), 0);
  return t;
}

/* ---- the order -------------------------------------------------------------- */

static void test_build_order(void **state) {
  (void)state;
  sr_line lines[] = {
      {"Atta 5kg", "ATTA5", "1101", 2000, 25000, 0, 500},
      {"Ghee \"pure\"", NULL, NULL, 1500, 60000, 1000, 1200},
  };
  sr_order o = {.channel_order_id = "0190b5a4-0000-7000-8000-000000000001",
                .order_date = "2026-12-02 00:00",
                .pickup_location = "Home",
                .name = "Asha Patil",
                .address = "12 MG Road",
                .city = "Pune",
                .pincode = "411001",
                .state = "Maharashtra",
                .email = NULL,
                .phone = "9812345678",
                .cod = 1,
                .sub_total = 145551,
                .length = 2000, .breadth = 1550, .height = 1000, .weight = 1250,
                .lines = lines,
                .n_lines = 2};
  buf b;
  buf_init(&b, 0);
  assert_int_equal(sr_build_order(&b, &o), 0);
  json *v = parse(buf_cstr(&b));
  assert_string_equal(member(v, "order_id"), o.channel_order_id);
  assert_string_equal(member(v, "payment_method"), "COD");
  assert_string_equal(member(v, "billing_country"), "India");
  assert_string_equal(member(v, "billing_email"), "");
  assert_string_equal(member(v, "sub_total"), "1455.51");
  assert_string_equal(member(v, "length"), "20.00");
  assert_string_equal(member(v, "breadth"), "15.50");
  assert_string_equal(member(v, "weight"), "1.250");
  assert_int_equal(json_get(v, "shipping_is_billing")->type, JSON_TRUE);
  json *items = json_get(v, "order_items");
  assert_int_equal(items->n, 2);
  assert_string_equal(member(items->items[0], "units"), "2");
  assert_string_equal(member(items->items[0], "selling_price"), "250.00");
  assert_string_equal(member(items->items[0], "tax"), "5.00");
  assert_string_equal(member(items->items[0], "hsn"), "1101");
  /* 1.5 units of 600.00 less 10.00: one unit of 900.00, discount 10.00,
   * the quantity in the name, the name as SKU when there is none. */
  assert_string_equal(member(items->items[1], "units"), "1");
  assert_string_equal(member(items->items[1], "selling_price"), "900.00");
  assert_string_equal(member(items->items[1], "discount"), "10.00");
  assert_string_equal(member(items->items[1], "name"), "Ghee \"pure\" (1.500)");
  assert_string_equal(member(items->items[1], "sku"), "Ghee \"pure\"");
  assert_null(json_get(items->items[1], "hsn"));
  buf_free(&b);
}

static void test_phone_state(void **state) {
  (void)state;
  assert_string_equal(sr_phone10(A, "+919812345678"), "9812345678");
  assert_string_equal(sr_phone10(A, "098123 45678"), "9812345678");
  assert_null(sr_phone10(A, "+91 12345"));
  assert_null(sr_phone10(A, NULL));
  assert_string_equal(sr_state_name("27"), "Maharashtra");
  assert_string_equal(sr_state_name("07"), "Delhi");
  assert_string_equal(sr_state_name("38"), "Ladakh");
  assert_null(sr_state_name("25"));
  assert_null(sr_state_name("99"));
  assert_null(sr_state_name(NULL));
}

/* ---- answers ---------------------------------------------------------------- */

#define P(s) (s), strlen(s)

static void test_login(void **state) {
  (void)state;
  const char *t;
  assert_int_equal(sr_parse_login(A, P("{\"id\":1,\"token\":\"eyJ.a.b\"}"), &t, why, sizeof why), 0);
  assert_string_equal(t, "eyJ.a.b");
  assert_int_equal(sr_parse_login(A, P("{\"token\":\"\"}"), &t, why, sizeof why), -1);
  assert_int_equal(sr_parse_login(A, P("{\"token\":\"a b\"}"), &t, why, sizeof why), -1);
  assert_int_equal(sr_parse_login(A, P("{\"token\":5}"), &t, why, sizeof why), -1);
  assert_int_equal(sr_parse_login(A, P("[]"), &t, why, sizeof why), -1);
  assert_true(why[0] != 0);
}

static void test_order(void **state) {
  (void)state;
  const char *o, *s;
  assert_int_equal(sr_parse_order(A, P("{\"order_id\":16161616,\"shipment_id\":\"15151515\",\"status\":\"NEW\"}"), &o, &s, why, sizeof why), 0);
  assert_string_equal(o, "16161616");
  assert_string_equal(s, "15151515");
  assert_int_equal(sr_parse_order(A, P("{\"order_id\":1.5,\"shipment_id\":2}"), &o, &s, why, sizeof why), -1);
  assert_int_equal(sr_parse_order(A, P("{\"order_id\":-1,\"shipment_id\":2}"), &o, &s, why, sizeof why), -1);
  assert_int_equal(sr_parse_order(A, P("{\"order_id\":1}"), &o, &s, why, sizeof why), -1);
}

static void test_order_search(void **state) {
  (void)state;
  const char *o = NULL, *s = NULL;
  int found = -1;
  const char *body =
      "{\"data\":[{\"id\":1,\"channel_order_id\":\"other\",\"status\":\"NEW\",\"shipments\":[{\"id\":2}]},"
      "{\"id\":3,\"channel_order_id\":\"mine\",\"status\":\"CANCELED\",\"shipments\":[{\"id\":4}]},"
      "{\"id\":5,\"channel_order_id\":\"mine\",\"status\":\"NEW\",\"shipments\":[{\"id\":6}]}]}";
  assert_int_equal(sr_parse_order_search(A, P(body), "mine", &found, &o, &s, why, sizeof why), 0);
  assert_int_equal(found, 1);
  assert_string_equal(o, "5");
  assert_string_equal(s, "6");
  assert_int_equal(sr_parse_order_search(A, P("{\"data\":[]}"), "mine", &found, &o, &s, why, sizeof why), 0);
  assert_int_equal(found, 0);
  assert_int_equal(sr_parse_order_search(A, P("{\"data\":{}}"), "mine", &found, &o, &s, why, sizeof why), -1);
  /* Ours, but without a shipment: not something to go on with. */
  assert_int_equal(sr_parse_order_search(A, P("{\"data\":[{\"id\":5,\"channel_order_id\":\"mine\"}]}"), "mine", &found, &o, &s, why, sizeof why), -1);
}

static void test_awb(void **state) {
  (void)state;
  sr_awb w;
  assert_int_equal(sr_parse_awb(A, P("{\"awb_assign_status\":1,\"response\":{\"data\":{\"courier_company_id\":10,\"awb_code\":\"19041424751540\",\"courier_name\":\"Delhivery Surface\"}}}"), &w, why, sizeof why), 0);
  assert_string_equal(w.awb, "19041424751540");
  assert_string_equal(w.courier_name, "Delhivery Surface");
  assert_string_equal(w.courier_id, "10");
  assert_int_equal(sr_parse_awb(A, P("{\"awb_assign_status\":0,\"response\":{\"data\":{\"awb_assign_error\":\"Courier not serviceable\"}}}"), &w, why, sizeof why), -1);
  assert_non_null(strstr(why, "Courier not serviceable"));
  assert_int_equal(sr_parse_awb(A, P("{\"awb_assign_status\":1,\"response\":{\"data\":{\"awb_code\":\"a b\"}}}"), &w, why, sizeof why), -1);
}

static void test_pickup_label(void **state) {
  (void)state;
  int64_t at;
  assert_int_equal(sr_parse_pickup(A, P("{\"pickup_status\":1,\"response\":{\"pickup_scheduled_date\":\"2026-12-03 10:00:00\"}}"), &at, why, sizeof why), 0);
  assert_true(at == ist("2026-12-03 10:00:00"));
  assert_int_equal(sr_parse_pickup(A, P("{\"pickup_status\":1,\"response\":{}}"), &at, why, sizeof why), 0);
  assert_true(at == 0);
  assert_int_equal(sr_parse_pickup(A, P("{\"pickup_status\":0,\"message\":\"Already in pickup queue\"}"), &at, why, sizeof why), -1);
  assert_non_null(strstr(why, "Already in pickup queue"));
  const char *u;
  assert_int_equal(sr_parse_label(A, P("{\"label_created\":1,\"label_url\":\"https://x.example/l.pdf\"}"), &u, why, sizeof why), 0);
  assert_string_equal(u, "https://x.example/l.pdf");
  assert_int_equal(sr_parse_label(A, P("{\"label_created\":1,\"label_url\":\"javascript:alert(1)\"}"), &u, why, sizeof why), -1);
  assert_int_equal(sr_parse_label(A, P("{\"label_created\":0,\"label_url\":\"\"}"), &u, why, sizeof why), -1);
}

static void test_error(void **state) {
  (void)state;
  const char *m, *e;
  sr_parse_error(A, P("{\"message\":\"Oops! Invalid Data.\",\"errors\":{\"billing_pincode\":[\"Not serviceable.\"]},\"status_code\":422}"), &m, &e);
  assert_string_equal(m, "Oops! Invalid Data.");
  assert_string_equal(e, "{\"billing_pincode\":[\"Not serviceable.\"]}");
  sr_parse_error(A, P("<html>bad gateway</html>"), &m, &e);
  assert_string_equal(m, "");
  assert_null(e);
  sr_parse_error(A, P("{\"message\":\"x\",\"errors\":[]}"), &m, &e);
  assert_null(e);
}

/* ---- tracking --------------------------------------------------------------- */

static const char WEBHOOK[] =
    "{\"awb\":\"19041424751540\",\"courier_name\":\"Delhivery Surface\","
    "\"current_status\":\"IN TRANSIT\",\"current_status_id\":20,"
    "\"shipment_status\":\"IN TRANSIT\",\"shipment_status_id\":18,"
    "\"current_timestamp\":\"23 05 2023 11:43:52\",\"order_id\":\"1373900_150876814\","
    "\"sr_order_id\":348456385,\"etd\":\"2023-05-23 15:40:19\","
    "\"scans\":[{\"date\":\"2023-05-19 11:59:16\",\"status\":\"X-UCI\","
    "\"activity\":\"Manifested - Manifest uploaded\",\"location\":\"Chomu (Rajasthan)\","
    "\"sr-status\":\"5\",\"sr-status-label\":\"MANIFEST GENERATED\"},"
    "{\"date\":\"2023-05-19 15:32:17\",\"status\":\"X-PPOM\",\"activity\":\"In Transit - "
    "Shipment picked up\",\"location\":\"Chomu (Rajasthan)\",\"sr-status\":\"42\","
    "\"sr-status-label\":\"PICKED UP\"},{\"date\":\"NA\",\"activity\":\"undated\"}],"
    "\"is_return\":0,\"channel_id\":3422553}";

static void test_webhook(void **state) {
  (void)state;
  sr_track t;
  assert_int_equal(sr_parse_webhook(A, P(WEBHOOK), &t, why, sizeof why), 0);
  assert_string_equal(t.awb, "19041424751540");
  assert_string_equal(t.courier_name, "Delhivery Surface");
  assert_int_equal(t.code, 18); /* shipment_status_id, not current_status_id */
  assert_true(t.etd_us == ist("2023-05-23 15:40:19"));
  assert_int_equal(t.n_scans, 2); /* the undated one is dropped */
  assert_true(t.scans[0].at_us == ist("2023-05-19 15:32:17")); /* newest first */
  assert_int_equal(t.scans[0].code, 42);
  assert_string_equal(t.scans[0].activity, "In Transit - Shipment picked up");
  assert_int_equal(t.scans[1].code, 5);
  /* A numeric AWB is taken as its digits. */
  assert_int_equal(sr_parse_webhook(A, P("{\"awb\":1234567890,\"shipment_status_id\":7}"), &t, why, sizeof why), 0);
  assert_string_equal(t.awb, "1234567890");
  assert_int_equal(t.n_scans, 0);
  static const char *const bad[] = {
      "", "null", "[]", "{}", "{\"awb\":\"\"}", "{\"awb\":\"has space\"}",
      "{\"awb\":{}}", "{\"awb\":\"1\",\"scans\":{}}", "{\"awb\":1.5}",
      "{\"awb\":\"1\",\"awb\":\"2\"}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    assert_int_equal(sr_parse_webhook(A, P(bad[i]), &t, why, sizeof why), -1);
    assert_true(why[0] != 0);
  }
}

static void test_webhook_caps(void **state) {
  (void)state;
  /* A long activity is cut on a character boundary at 1000 bytes. */
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, "{\"awb\":\"A1\",\"scans\":[{\"date\":\"2026-01-01 10:00:00\",\"activity\":\"");
  for (int i = 0; i < 600; i++) buf_puts(&b, "\xe0\xa4\x95"); /* क: 3 bytes */
  buf_puts(&b, "\"}]}");
  sr_track t;
  assert_int_equal(sr_parse_webhook(A, b.data, b.len, &t, why, sizeof why), 0);
  assert_int_equal(strlen(t.scans[0].activity), 999);
  buf_free(&b);
}

static void test_tracking(void **state) {
  (void)state;
  const char *body =
      "{\"tracking_data\":{\"track_status\":1,\"shipment_status\":7,"
      "\"shipment_track\":[{\"awb_code\":\"141123221084922\",\"courier_name\":\"Xpressbees Surface\"}],"
      "\"shipment_track_activities\":[{\"date\":\"2022-07-19 08:57:00\",\"status\":\"OFD\","
      "\"activity\":\"Out for Delivery\",\"location\":\"MADANPALLI\",\"sr-status\":\"17\"},"
      "{\"date\":\"2022-07-19 11:37:00\",\"status\":\"DLVD\",\"activity\":\"Delivered\","
      "\"location\":\"MADANPALLI\",\"sr-status\":\"7\"},{\"date\":\"2022-07-18 09:51:00\","
      "\"activity\":\"Pending Manifest\",\"sr-status\":\"NA\"}],"
      "\"track_url\":\"https://shiprocket.co//tracking/141123221084922\",\"etd\":\"2022-07-20 19:28:00\"}}";
  sr_track t;
  assert_int_equal(sr_parse_tracking(A, P(body), "141123221084922", &t, why, sizeof why), 0);
  assert_int_equal(t.code, 7);
  assert_string_equal(t.courier_name, "Xpressbees Surface");
  assert_string_equal(t.track_url, "https://shiprocket.co//tracking/141123221084922");
  assert_int_equal(t.n_scans, 3);
  assert_string_equal(t.scans[0].activity, "Delivered");
  assert_string_equal(t.scans[2].activity, "Pending Manifest");
  assert_int_equal(t.scans[2].code, -1); /* "NA" */
  assert_int_equal(sr_parse_tracking(A, P("{\"tracking_data\":{\"track_status\":0,\"error\":\"no activities\"}}"), "1", &t, why, sizeof why), 0);
  assert_int_equal(t.code, -1);
  assert_int_equal(t.n_scans, 0);
  assert_int_equal(sr_parse_tracking(A, P("{\"message\":\"404 Not Found\"}"), "1", &t, why, sizeof why), -1);
}

/* ---- statuses --------------------------------------------------------------- */

static void test_status_map(void **state) {
  (void)state;
  assert_string_equal(sr_status_for_code(42), "picked_up");
  assert_string_equal(sr_status_for_code(6), "in_transit");
  assert_string_equal(sr_status_for_code(18), "in_transit");
  assert_string_equal(sr_status_for_code(17), "out_for_delivery");
  assert_string_equal(sr_status_for_code(21), "undelivered");
  assert_string_equal(sr_status_for_code(7), "delivered");
  assert_string_equal(sr_status_for_code(9), "rto");
  assert_string_equal(sr_status_for_code(10), "rto_delivered");
  assert_string_equal(sr_status_for_code(8), "cancelled");
  assert_string_equal(sr_status_for_code(12), "lost");
  assert_null(sr_status_for_code(13)); /* pickup error: no move */
  assert_null(sr_status_for_code(-1));
  assert_null(sr_status_for_code(999));
}

static void test_never_backwards(void **state) {
  (void)state;
  assert_true(sr_status_may_move("pickup_scheduled", "picked_up"));
  assert_true(sr_status_may_move("pickup_scheduled", "delivered"));
  assert_true(sr_status_may_move("in_transit", "out_for_delivery"));
  assert_true(sr_status_may_move("out_for_delivery", "undelivered"));
  assert_true(sr_status_may_move("undelivered", "out_for_delivery")); /* re-attempt */
  assert_true(sr_status_may_move("undelivered", "rto"));
  assert_true(sr_status_may_move("in_transit", "cancelled"));
  assert_true(sr_status_may_move("shipped by hand", "in_transit"));
  assert_false(sr_status_may_move("in_transit", "picked_up"));
  assert_false(sr_status_may_move("in_transit", "in_transit"));
  assert_false(sr_status_may_move("out_for_delivery", "in_transit"));
  assert_false(sr_status_may_move("delivered", "in_transit"));
  assert_false(sr_status_may_move("delivered", "rto"));
  assert_false(sr_status_may_move("rto", "in_transit"));
  assert_false(sr_status_may_move("rto", "delivered"));
  assert_false(sr_status_may_move("cancelled", "picked_up"));
  assert_false(sr_status_may_move("lost", "delivered"));
  assert_false(sr_status_may_move("pending", "nonsense"));
  assert_true(sr_status_final("rto_delivered"));
  assert_false(sr_status_final("undelivered"));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_build_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_phone_state, setup, teardown),
      cmocka_unit_test_setup_teardown(test_login, setup, teardown),
      cmocka_unit_test_setup_teardown(test_order, setup, teardown),
      cmocka_unit_test_setup_teardown(test_order_search, setup, teardown),
      cmocka_unit_test_setup_teardown(test_awb, setup, teardown),
      cmocka_unit_test_setup_teardown(test_pickup_label, setup, teardown),
      cmocka_unit_test_setup_teardown(test_error, setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook, setup, teardown),
      cmocka_unit_test_setup_teardown(test_webhook_caps, setup, teardown),
      cmocka_unit_test_setup_teardown(test_tracking, setup, teardown),
      cmocka_unit_test_setup_teardown(test_status_map, setup, teardown),
      cmocka_unit_test_setup_teardown(test_never_backwards, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
