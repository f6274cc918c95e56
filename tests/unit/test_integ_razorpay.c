/* test_integ_razorpay.c - Razorpay's wire formats (integrations/razorpay.c):
 * the webhook signature (right, wrong, upper-case hex, missing, another
 * body), the events munshi acts on and what it refuses in them (fractions,
 * exponents, strings or negatives for paise, another currency, bad ids),
 * the payment link request body, the link and list answers, the error
 * shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/crypto.h"
#include "base/json.h"
#include "integrations/razorpay.h"

static void hex_sig(const char *secret, const char *body, char out[65]) {
  uint8_t mac[32];
  hmac_sha256(secret, strlen(secret), body, strlen(body), mac);
  hex_encode(mac, 32, out);
}

static void test_signature(void **state) {
  (void)state;
  const char *body = "{\"event\":\"payment.captured\"}";
  char sig[65];
  hex_sig("s3cret", body, sig);
  assert_true(rzp_signature_ok("s3cret", body, strlen(body), sig));
  /* Hex in capitals is the same MAC. */
  char up[65];
  for (int i = 0; i < 65; i++)
    up[i] = (char)(sig[i] >= 'a' && sig[i] <= 'f' ? sig[i] - 32 : sig[i]);
  assert_true(rzp_signature_ok("s3cret", body, strlen(body), up));
  assert_false(rzp_signature_ok("other", body, strlen(body), sig));
  assert_false(rzp_signature_ok("s3cret", body, strlen(body) - 1, sig));
  assert_false(rzp_signature_ok("s3cret", body, strlen(body), NULL));
  assert_false(rzp_signature_ok("", body, strlen(body), sig));
  assert_false(rzp_signature_ok(NULL, body, strlen(body), sig));
  sig[63] = 0; /* one digit short */
  assert_false(rzp_signature_ok("s3cret", body, strlen(body), sig));
  assert_false(rzp_signature_ok("s3cret", body, strlen(body), "sha256=abc"));
}

#define LINK_PAID                                                           \
  "{\"entity\":\"event\",\"event\":\"payment_link.paid\",\"payload\":{"     \
  "\"payment_link\":{\"entity\":{\"id\":\"plink_Ab1\",\"reference_id\":"   \
  "\"mu0123\",\"status\":\"paid\",\"amount\":150000,\"amount_paid\":"      \
  "150000}},\"payment\":{\"entity\":{\"id\":\"pay_Xy9\",\"amount\":"       \
  "%s,\"currency\":\"%s\",\"method\":\"upi\",\"created_at\":1764633600,"   \
  "\"notes\":{\"munshi_reference\":\"mu0123\"}}}}}"

static int parse_paid(arena *a, const char *amount, const char *cur,
                      rzp_event *ev, char *why) {
  char body[1024];
  snprintf(body, sizeof body, LINK_PAID, amount, cur);
  return rzp_event_parse(a, body, strlen(body), ev, why, 128);
}

static void test_link_paid(void **state) {
  (void)state;
  arena *a = arena_new();
  rzp_event ev;
  char why[128];
  assert_int_equal(parse_paid(a, "150000", "INR", &ev, why), 0);
  assert_int_equal(ev.kind, RZP_EV_LINK_PAID);
  assert_string_equal(ev.link_id, "plink_Ab1");
  assert_string_equal(ev.link_reference, "mu0123");
  assert_string_equal(ev.payment_id, "pay_Xy9");
  assert_string_equal(ev.payment_method, "upi");
  assert_int_equal(ev.payment_amount, 150000);
  assert_int_equal(ev.link_amount_paid, 150000);
  assert_int_equal(ev.payment_created_s, 1764633600);
  /* Paise are integers: no fraction, exponent, string, negative, zero. */
  const char *bad[] = {"1500.5", "1.5e5", "\"150000\"", "-1", "0",
                       "1e2", "100000000000000", "null"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(parse_paid(a, bad[i], "INR", &ev, why), -1);
    assert_non_null(strstr(why, "amount"));
    assert_null(ev.payment_id);
  }
  assert_int_equal(parse_paid(a, "150000", "USD", &ev, why), -1);
  assert_non_null(strstr(why, "INR"));
  arena_free(a);
}

static void test_other_events(void **state) {
  (void)state;
  arena *a = arena_new();
  rzp_event ev;
  char why[128];
  const char *cap =
      "{\"event\":\"payment.captured\",\"payload\":{\"payment\":{\"entity\":"
      "{\"id\":\"pay_C1\",\"amount\":500,\"currency\":\"INR\",\"method\":"
      "\"netbanking\",\"notes\":{\"munshi_reference\":\"muABC\"}}}}}";
  assert_int_equal(rzp_event_parse(a, cap, strlen(cap), &ev, why, sizeof why), 0);
  assert_int_equal(ev.kind, RZP_EV_PAYMENT_CAPTURED);
  assert_string_equal(ev.payment_reference, "muABC");
  assert_null(ev.link_reference);
  /* Without munshi's notes the reference is simply absent. */
  const char *cap2 =
      "{\"event\":\"payment.captured\",\"payload\":{\"payment\":{\"entity\":"
      "{\"id\":\"pay_C2\",\"amount\":500,\"notes\":[]}}}}";
  assert_int_equal(rzp_event_parse(a, cap2, strlen(cap2), &ev, why, sizeof why), 0);
  assert_null(ev.payment_reference);
  const char *ref =
      "{\"event\":\"refund.processed\",\"payload\":{\"refund\":{\"entity\":"
      "{\"id\":\"rfnd_R1\",\"payment_id\":\"pay_C1\",\"amount\":250,"
      "\"currency\":\"INR\",\"created_at\":1764633601}}}}";
  assert_int_equal(rzp_event_parse(a, ref, strlen(ref), &ev, why, sizeof why), 0);
  assert_int_equal(ev.kind, RZP_EV_REFUND_PROCESSED);
  assert_string_equal(ev.refund_id, "rfnd_R1");
  assert_string_equal(ev.refund_payment_id, "pay_C1");
  assert_int_equal(ev.refund_amount, 250);
  assert_null(ev.payment_id); /* no payment entity: none */
  assert_null(ev.payment_reference);
  /* With the refunded payment's entity (as Razorpay sends it): its
   * reference, id and amount, which find the business and let an early
   * refund record its payment first. */
  const char *refp =
      "{\"event\":\"refund.processed\",\"payload\":{\"refund\":{\"entity\":"
      "{\"id\":\"rfnd_R2\",\"payment_id\":\"pay_C1\",\"amount\":250}},"
      "\"payment\":{\"entity\":{\"id\":\"pay_C1\",\"amount\":900,"
      "\"method\":\"upi\",\"notes\":{\"munshi_reference\":\"muR\"}}}}}";
  assert_int_equal(rzp_event_parse(a, refp, strlen(refp), &ev, why, sizeof why), 0);
  assert_string_equal(ev.payment_id, "pay_C1");
  assert_string_equal(ev.payment_reference, "muR");
  assert_int_equal(ev.payment_amount, 900);
  assert_int_equal(ev.refund_amount, 250);
  /* Another payment's entity is not taken (nor its reference). */
  const char *refo =
      "{\"event\":\"refund.processed\",\"payload\":{\"refund\":{\"entity\":"
      "{\"id\":\"rfnd_R3\",\"payment_id\":\"pay_C1\",\"amount\":250}},"
      "\"payment\":{\"entity\":{\"id\":\"pay_OTHER\",\"amount\":900,"
      "\"notes\":{\"munshi_reference\":\"muR\"}}}}}";
  assert_int_equal(rzp_event_parse(a, refo, strlen(refo), &ev, why, sizeof why), 0);
  assert_null(ev.payment_id);
  assert_null(ev.payment_reference);
  const char *exp =
      "{\"event\":\"payment_link.expired\",\"payload\":{\"payment_link\":"
      "{\"entity\":{\"id\":\"plink_E\",\"reference_id\":\"muE\",\"status\":"
      "\"expired\"}}}}";
  assert_int_equal(rzp_event_parse(a, exp, strlen(exp), &ev, why, sizeof why), 0);
  assert_int_equal(ev.kind, RZP_EV_LINK_EXPIRED);
  /* An event munshi does not act on: only its name is read. */
  const char *other = "{\"event\":\"order.paid\",\"payload\":42}";
  assert_int_equal(rzp_event_parse(a, other, strlen(other), &ev, why, sizeof why), 0);
  assert_int_equal(ev.kind, RZP_EV_OTHER);
  assert_string_equal(ev.event, "order.paid");
  /* Refused. */
  const char *bad[] = {
      "",
      "[]",
      "{\"event\":1}",
      "{\"event\":\"payment.captured\"}",
      "{\"event\":\"payment.captured\",\"payload\":{\"payment\":{\"entity\":"
      "{\"id\":\"pay with space\",\"amount\":1}}}}",
      "{\"event\":\"refund.processed\",\"payload\":{\"refund\":{\"entity\":"
      "{\"id\":\"rfnd_1\",\"amount\":1}}}}",
      "{\"event\":\"payment_link.paid\",\"payload\":{\"payment_link\":"
      "{\"entity\":{\"id\":\"plink_1\",\"reference_id\":\"\"}},\"payment\":"
      "{\"entity\":{\"id\":\"pay_1\",\"amount\":1}}}}",
      "{\"event\":\"payment_link.paid\",\"payload\":{\"payment_link\":"
      "{\"entity\":{\"id\":\"plink_1\",\"reference_id\":"
      "\"0123456789012345678901234567890123456789X\"}},\"payment\":"
      "{\"entity\":{\"id\":\"pay_1\",\"amount\":1}}}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    why[0] = 0;
    assert_int_equal(rzp_event_parse(a, bad[i], strlen(bad[i]), &ev, why, sizeof why), -1);
    assert_true(why[0] != 0);
  }
  arena_free(a);
}

static void test_link_request(void **state) {
  (void)state;
  arena *a = arena_new();
  buf b;
  buf_init(&b, 0);
  rzp_link_req r = {.amount = 123456,
                    .reference_id = "mu0190",
                    .description = "Invoice INV/26-27/0001",
                    .customer_name = "Asha \"A\" Rao",
                    .customer_contact = "+919800000001",
                    .expire_by_s = 1765000000};
  assert_int_equal(rzp_link_request(&b, &r), 0);
  json *j;
  json_error je;
  assert_int_equal(json_parse(a, b.data, b.len, &j, &je), 0);
  int64_t v;
  assert_int_equal(json_int64(json_get(j, "amount"), &v), 0);
  assert_int_equal(v, 123456);
  assert_string_equal(json_get(j, "currency")->str, "INR");
  assert_string_equal(json_get(j, "reference_id")->str, "mu0190");
  assert_string_equal(json_get(json_get(j, "customer"), "name")->str, "Asha \"A\" Rao");
  assert_null(json_get(json_get(j, "customer"), "email"));
  assert_int_equal(json_get(json_get(j, "notify"), "sms")->type, JSON_FALSE);
  assert_string_equal(json_get(json_get(j, "notes"), "munshi_reference")->str, "mu0190");
  assert_int_equal(json_int64(json_get(j, "expire_by"), &v), 0);
  assert_int_equal(v, 1765000000);
  buf_free(&b);
  arena_free(a);
}

static void test_link_answers(void **state) {
  (void)state;
  arena *a = arena_new();
  char why[128];
  rzp_link l;
  const char *one =
      "{\"id\":\"plink_Q\",\"short_url\":\"https://rzp.io/i/Q\",\"status\":"
      "\"created\",\"reference_id\":\"mu1\",\"amount\":1000,\"amount_paid\":0,"
      "\"expire_by\":1765000000}";
  assert_int_equal(rzp_link_parse(a, one, strlen(one), &l, why, sizeof why), 0);
  assert_string_equal(l.id, "plink_Q");
  assert_string_equal(l.short_url, "https://rzp.io/i/Q");
  assert_int_equal(l.amount, 1000);
  assert_int_equal(l.expire_by_s, 1765000000);
  const char *nourl = "{\"id\":\"plink_Q\"}";
  assert_int_equal(rzp_link_parse(a, nourl, strlen(nourl), &l, why, sizeof why), -1);
  const char *frac = "{\"id\":\"plink_Q\",\"short_url\":\"u\",\"amount\":10.5}";
  assert_int_equal(rzp_link_parse(a, frac, strlen(frac), &l, why, sizeof why), -1);
  int found;
  char list[512];
  snprintf(list, sizeof list, "{\"payment_links\":[{\"id\":\"plink_A\",\"short_url\":\"a\",\"reference_id\":\"mu2\"},%s]}", one);
  assert_int_equal(rzp_link_list_find(a, list, strlen(list), "mu1", &l, &found, why, sizeof why), 0);
  assert_int_equal(found, 1);
  assert_string_equal(l.id, "plink_Q");
  assert_int_equal(rzp_link_list_find(a, list, strlen(list), "mu", &l, &found, why, sizeof why), 0);
  assert_int_equal(found, 0);
  assert_int_equal(rzp_link_list_find(a, "{}", 2, "mu1", &l, &found, why, sizeof why), -1);
  rzp_error e;
  const char *err =
      "{\"error\":{\"code\":\"BAD_REQUEST_ERROR\",\"description\":\"The amount "
      "must be atleast INR 1.00\",\"field\":\"amount\",\"source\":"
      "\"business\",\"step\":\"payment_initiation\",\"reason\":"
      "\"input_validation_failed\",\"metadata\":{}}}";
  assert_int_equal(rzp_error_parse(a, err, strlen(err), &e), 0);
  assert_string_equal(e.code, "BAD_REQUEST_ERROR");
  assert_string_equal(e.field, "amount");
  assert_string_equal(e.reason, "input_validation_failed");
  assert_int_equal(rzp_error_parse(a, "{\"error\":{}}", 12, &e), -1);
  assert_int_equal(rzp_error_parse(a, "<html>", 6, &e), -1);
  arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signature),    cmocka_unit_test(test_link_paid),
      cmocka_unit_test(test_other_events), cmocka_unit_test(test_link_request),
      cmocka_unit_test(test_link_answers),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
