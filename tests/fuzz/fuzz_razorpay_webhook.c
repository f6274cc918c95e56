/* fuzz_razorpay_webhook.c - libFuzzer target for the Razorpay webhook
 * parser (integrations/razorpay.c rzp_event_parse) and the signature check.
 *
 * Any bytes must either be refused with a reason, or parse into an event
 * whose acted-on fields hold what the parser promises: Razorpay ids of
 * [A-Za-z0-9_] within 64 bytes, positive paise within numeric(14,2), a
 * reference of at most 40 characters. The signature check accepts the
 * MAC of the bytes and refuses it with one digit changed. A violated property aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/crypto.h"
#include "integrations/razorpay.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_razorpay_webhook: %s\n", what);
    abort();
  }
}

static void id(const char *s, const char *what) {
  check(s != NULL, what);
  size_t n = strlen(s);
  check(n >= 1 && n <= RZP_ID_MAX, what);
  for (size_t i = 0; i < n; i++)
    check((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '_',
          what);
}

static void paise(int64_t v, const char *what) {
  check(v > 0 && v <= RZP_AMOUNT_MAX, what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  rzp_event ev;
  char why[128];
  why[0] = 0;
  const char *body = (const char *)data;
  if (rzp_event_parse(a, body, size, &ev, why, sizeof why)) {
    check(why[0] != 0, "a refusal without a reason");
  } else {
    check(ev.event != NULL, "no event name");
    switch (ev.kind) {
      case RZP_EV_LINK_PAID:
      case RZP_EV_LINK_PARTIAL:
        id(ev.link_id, "link id");
        check(ev.link_reference && strlen(ev.link_reference) <= RZP_REFERENCE_MAX,
              "link reference");
        /* fall through */
      case RZP_EV_PAYMENT_CAPTURED:
        id(ev.payment_id, "payment id");
        paise(ev.payment_amount, "payment amount");
        check(!ev.payment_reference ||
                  strlen(ev.payment_reference) <= RZP_REFERENCE_MAX,
              "payment reference");
        break;
      case RZP_EV_LINK_EXPIRED:
      case RZP_EV_LINK_CANCELLED:
        id(ev.link_id, "link id");
        break;
      case RZP_EV_REFUND_PROCESSED:
        id(ev.refund_id, "refund id");
        id(ev.refund_payment_id, "refunded payment id");
        paise(ev.refund_amount, "refund amount");
        break;
      default:
        break;
    }
  }
  /* The MAC of the bytes is accepted, and one digit changed is not. */
  uint8_t mac[32];
  char sig[65];
  hmac_sha256("fuzz-secret", 11, data, size, mac);
  hex_encode(mac, 32, sig);
  check(rzp_signature_ok("fuzz-secret", data, size, sig), "the MAC refused");
  sig[size % 64] = sig[size % 64] == '0' ? '1' : '0';
  check(!rzp_signature_ok("fuzz-secret", data, size, sig), "a wrong MAC taken");
  arena_free(a);
  return 0;
}
