/* fuzz_telegram.c - libFuzzer target for the Telegram Update parser
 * (chat/telegram.c).
 *
 * Any bytes must either be refused with a reason, or parse into an update
 * of a known kind where a message or a button press has a chat id (and a
 * message its message id) in canonical decimal, a known type, text, and
 * metadata that is a JSON object. A violated property aborts. */
#include <inttypes.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/json.h"
#include "chat/telegram.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_telegram: %s\n", what);
    abort();
  }
}

/* Canonical decimal: what strtoll reads back and prints the same. */
static void decimal(const char *s, const char *what) {
  check(s && *s, what);
  char *end;
  long long v = strtoll(s, &end, 10);
  char back[32];
  snprintf(back, sizeof back, "%lld", v);
  check(*end == 0 && !strcmp(back, s), what);
}

static const char *const TYPES[] = {"text",  "image",    "document",
                                    "audio", "video",    "location",
                                    "contacts", "button", "unsupported"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  tg_update u;
  char why[200];
  if (tg_parse(a, (const char *)data, size, &u, why, sizeof why)) {
    check(why[0] != 0, "refused without a reason");
    arena_free(a);
    return 0;
  }
  check(u.update_id >= 0, "update_id");
  if (u.kind != TG_OTHER) {
    decimal(u.chat_id, "chat id");
    if (u.kind != TG_CALLBACK) decimal(u.message_id, "message id");
    if (u.message_id) decimal(u.message_id, "message id");
    if (u.kind == TG_CALLBACK)
      check(u.callback_id && *u.callback_id && !strcmp(u.type, "button"),
            "callback");
    check(u.text != NULL, "text");
    int known = 0;
    for (size_t t = 0; t < sizeof TYPES / sizeof *TYPES; t++)
      known |= !strcmp(u.type, TYPES[t]);
    check(known, "type");
    json *v = NULL;
    json_error je;
    check(json_parse(a, u.metadata, strlen(u.metadata), &v, &je) == 0 &&
              v->type == JSON_OBJECT,
          "metadata");
  }
  arena_free(a);
  return 0;
}
