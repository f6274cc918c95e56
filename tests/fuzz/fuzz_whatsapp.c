/* fuzz_whatsapp.c - libFuzzer target for the WhatsApp webhook parser
 * (chat/whatsapp.c).
 *
 * Any bytes must either be refused with a reason, or parse into changes
 * whose every message has an id, a sender that fits a session's contact
 * id, a known type, text, and metadata that is a JSON object; and whose
 * statuses are of the four kinds, with an error object exactly when
 * failed. A violated property aborts, so libFuzzer keeps the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "chat/whatsapp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_whatsapp: %s\n", what);
    abort();
  }
}

static void is_object(arena *a, const char *text, const char *what) {
  json *v = NULL;
  json_error je;
  check(text && json_parse(a, text, strlen(text), &v, &je) == 0 &&
            v->type == JSON_OBJECT,
        what);
}

static const char *const TYPES[] = {"text",     "interactive", "button",
                                    "image",    "document",    "audio",
                                    "video",    "location",    "contacts",
                                    "reaction", "unsupported"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  wa_payload p;
  char why[200];
  if (wa_parse(a, (const char *)data, size, &p, why, sizeof why)) {
    check(why[0] != 0, "refused without a reason");
    arena_free(a);
    return 0;
  }
  size_t items = 0;
  for (size_t i = 0; i < p.n_changes; i++) {
    const wa_change *c = &p.changes[i];
    check(c->phone_number_id && *c->phone_number_id, "change without a number");
    items += c->n_messages + c->n_statuses;
    for (size_t j = 0; j < c->n_messages; j++) {
      const wa_message *m = &c->messages[j];
      check(m->id && *m->id && strlen(m->id) <= WA_MAX_ID, "message id");
      check(m->from && *m->from && strlen(m->from) <= WA_MAX_CONTACT,
            "message sender");
      check(m->text != NULL, "message text");
      int known = 0;
      for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++)
        known |= !strcmp(m->type, TYPES[t]);
      check(known, "message type");
      is_object(a, m->metadata, "message metadata");
    }
    for (size_t j = 0; j < c->n_statuses; j++) {
      const wa_status *s = &c->statuses[j];
      check(s->id && *s->id, "status id");
      check(wa_status_rank(s->status) > 0, "status kind");
      check(!strcmp(s->status, "failed") == (s->error != NULL), "status error");
      if (s->error) is_object(a, s->error, "status error object");
    }
  }
  check(items <= WA_MAX_ITEMS, "item cap");
  arena_free(a);
  return 0;
}
