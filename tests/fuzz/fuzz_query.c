/* fuzz_query.c - libFuzzer target for the PostgREST query-string parser:
 * any bytes, parsed against every table, must never crash or leak. */
#include <stddef.h>
#include <stdint.h>

#include "rest/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fuzz_query_parse((const char *)data, size);
  return 0;
}
