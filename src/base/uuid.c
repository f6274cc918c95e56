/* uuid.c - UUID version 7 generation and validation (see uuid.h).
 *
 * Ids are time-ordered so new rows land at the right edge of a B-tree index
 * (RFC 9562, section 5.7). Within one process the ids must also keep
 * increasing when many are made in the same millisecond or the wall clock
 * steps back, so the 12 bits of rand_a and the top 14 bits of rand_b hold a
 * counter (the RFC's "fixed-length dedicated counter", method 1). Each new
 * millisecond reseeds the counter at a random value with its top bit clear,
 * leaving room for 2^25 more ids before it would run out; if it ever does,
 * the timestamp is advanced by one millisecond, which the RFC permits. The
 * remaining 48 bits are fresh randomness for every id. A mutex guards the
 * (millisecond, counter) pair because request threads call this at once. */
#include "base/uuid.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "base/crypto.h"
#include "base/timeutil.h"

#define COUNTER_BITS 26
#define COUNTER_MAX ((1u << COUNTER_BITS) - 1)

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_ms;
static uint32_t counter;

void uuid_v7(char out[UUID_STR_LEN + 1]) {
  uint8_t rnd[10]; /* 4 for a counter seed, 6 for the tail */
  random_bytes(rnd, sizeof rnd);
  uint32_t seed = ((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 |
                   (uint32_t)rnd[2] << 8 | rnd[3]) &
                  (COUNTER_MAX >> 1);
  uint64_t now = (uint64_t)(time_now_us() / 1000);

  pthread_mutex_lock(&gen_lock);
  if (now > last_ms) {
    last_ms = now;
    counter = seed;
  } else if (counter < COUNTER_MAX) {
    counter++; /* same millisecond, or the clock went back */
  } else {
    last_ms++;
    counter = seed;
  }
  uint64_t ms = last_ms;
  uint32_t ctr = counter;
  pthread_mutex_unlock(&gen_lock);

  uint8_t u[16];
  for (int i = 0; i < 6; i++) u[i] = (uint8_t)(ms >> (40 - 8 * i));
  /* ctr: high 12 bits -> rand_a, low 14 bits -> top of rand_b. */
  u[6] = (uint8_t)(0x70 | (ctr >> 22 & 0x0F));
  u[7] = (uint8_t)(ctr >> 14);
  u[8] = (uint8_t)(0x80 | (ctr >> 8 & 0x3F)); /* variant 10 */
  u[9] = (uint8_t)ctr;
  memcpy(u + 10, rnd + 4, 6);

  char hex[33];
  hex_encode(u, 16, hex);
  memcpy(out, hex, 8);
  out[8] = '-';
  memcpy(out + 9, hex + 8, 4);
  out[13] = '-';
  memcpy(out + 14, hex + 12, 4);
  out[18] = '-';
  memcpy(out + 19, hex + 16, 4);
  out[23] = '-';
  memcpy(out + 24, hex + 20, 12);
  out[36] = '\0';
}

int uuid_normalize(const char *s, char out[UUID_STR_LEN + 1]) {
  if (!s) return -1;
  char tmp[UUID_STR_LEN + 1];
  for (int i = 0; i < UUID_STR_LEN; i++) {
    char c = s[i];
    /* A short string fails here at its NUL, before we read past it. */
    if (i == 8 || i == 13 || i == 18 || i == 23) {
      if (c != '-') return -1;
    } else {
      if (c >= 'A' && c <= 'F') c = (char)(c - 'A' + 'a');
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return -1;
    }
    tmp[i] = c;
  }
  if (s[UUID_STR_LEN] != '\0') return -1;
  tmp[UUID_STR_LEN] = '\0';
  memcpy(out, tmp, sizeof tmp);
  return 0;
}
