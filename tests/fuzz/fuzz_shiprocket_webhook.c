/* fuzz_shiprocket_webhook.c - libFuzzer target for Shiprocket's tracking
 * parsers (integrations/shiprocket.c): the webhook body, and the tracking
 * answer of GET /courier/track/awb/<awb>, which feed the same update.
 *
 * Any bytes must either be refused with a reason, or give an update whose
 * AWB is 1..40 letters, digits or '-', whose status ids are -1 or within
 * 0..100000, and whose scans (at most SR_MAX_SCANS) are newest first, with
 * texts that are valid UTF-8 within their columns' caps. A violated
 * property aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "integrations/shiprocket.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_shiprocket_webhook: %s\n", what);
    abort();
  }
}

static void text(const char *s, size_t cap, const char *what) {
  check(s != NULL, what);
  size_t n = strlen(s);
  check(n <= cap && utf8_valid(s, n), what);
}

static void update(const sr_track *t) {
  size_t n = strlen(t->awb);
  check(n >= 1 && n <= 40 &&
            strspn(t->awb, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                           "abcdefghijklmnopqrstuvwxyz-") == n,
        "awb");
  check(t->code >= -1 && t->code <= 100000, "status id");
  check(t->n_scans <= SR_MAX_SCANS, "scan count");
  if (t->courier_name) text(t->courier_name, 200, "courier name");
  for (size_t i = 0; i < t->n_scans; i++) {
    const sr_scan *s = &t->scans[i];
    if (i) check(t->scans[i - 1].at_us >= s->at_us, "scans newest first");
    check(s->code >= -1 && s->code <= 100000, "scan status id");
    text(s->status, 200, "scan status");
    text(s->activity, 1000, "scan activity");
    text(s->location, 200, "scan location");
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  sr_track t;
  char why[300];
  why[0] = 0;
  if (sr_parse_webhook(a, (const char *)data, size, &t, why, sizeof why))
    check(why[0] != 0, "webhook refused without a reason");
  else
    update(&t);
  why[0] = 0;
  if (sr_parse_tracking(a, (const char *)data, size, "A1", &t, why, sizeof why))
    check(why[0] != 0, "tracking refused without a reason");
  else
    update(&t);
  arena_free(a);
  return 0;
}
