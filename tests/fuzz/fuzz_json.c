/* fuzz_json.c - libFuzzer target for the JSON parser and writer.
 *
 * Any bytes must either be refused with an offset inside the input, or
 * parse to a tree whose compact text parses again and writes back
 * byte-for-byte the same (the writer's output is a fixed point). The exact
 * number readers run on every number met, since they sit on the money path.
 * A violated property aborts, so libFuzzer keeps the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/dec.h"
#include "base/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_json: %s\n", what);
    abort();
  }
}

/* Every accepted number must give the same answer from json_decimal and
 * from dec_format's round trip. */
static void walk_numbers(const json *v) {
  if (v->type == JSON_NUMBER) {
    int64_t i, d;
    if (json_int64(v, &i) == 0) {
      check(json_decimal(v, 0, &d) == 0 && d == i, "int64 vs decimal");
    }
    for (int scale = 0; scale <= 3; scale++) {
      if (json_decimal(v, scale, &d) != 0) continue;
      char text[DEC_MAX_TEXT];
      int n = dec_format(d, scale, text);
      int64_t back;
      check(n > 0 && dec_parse(text, (size_t)n, scale, &back) == 0 && back == d,
            "decimal round trip");
    }
    return;
  }
  if (v->type == JSON_ARRAY || v->type == JSON_OBJECT)
    for (size_t i = 0; i < v->n; i++) walk_numbers(v->items[i]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  arena *a = arena_new();
  json *v = NULL;
  json_error err;
  if (json_parse(a, (const char *)data, size, &v, &err) != 0) {
    check(err.offset <= size, "error offset outside the input");
    check(err.message[0] != '\0', "error without a message");
    arena_free(a);
    return 0;
  }
  walk_numbers(v);

  buf out1, out2;
  buf_init(&out1, 0);
  buf_init(&out2, 0);
  check(json_write(&out1, v) == 0, "write failed");
  json *w = NULL;
  check(json_parse(a, out1.data, out1.len, &w, &err) == 0,
        "written text does not parse");
  check(json_write(&out2, w) == 0, "second write failed");
  check(out1.len == out2.len && memcmp(out1.data, out2.data, out1.len) == 0,
        "second write differs");
  /* Compact output never needs more bytes than the input spent. */
  check(out1.len <= size, "written text longer than the input");
  buf_free(&out1);
  buf_free(&out2);
  arena_free(a);
  return 0;
}
