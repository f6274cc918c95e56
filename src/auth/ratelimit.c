/* ratelimit.c - failed-login counters in a fixed-size hash table.
 *
 * Keys are reduced to a keyed 64-bit SipHash (libsodium's crypto_shorthash
 * with a key drawn at start), so the table holds no emails or addresses and
 * an attacker cannot choose keys that collide. A key may live in any of
 * PROBE consecutive slots; when all are taken, the one whose window started
 * longest ago is reused. Memory is therefore fixed, and the price is that a
 * flood of distinct keys can push an old counter out early: an attacker who
 * controls that many addresses can guess faster, but is still slowed by the
 * per-address counters and by the cost of each hash. One mutex guards the
 * table; each operation touches at most PROBE slots under it. */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define PROBE 8

typedef struct slot {
  uint64_t id;     /* 0: empty */
  int64_t start_s; /* when the key's current window began */
  int count;
} slot;

struct ratelimit {
  pthread_mutex_t mu;
  int limit;
  int window_s;
  size_t mask;
  slot *slots;
  unsigned char hkey[crypto_shorthash_KEYBYTES];
};

ratelimit *ratelimit_new(int limit, int window_s, size_t slots) {
  if (sodium_init() < 0) return NULL;
  size_t n = 16;
  if (slots == 0) slots = 4096;
  while (n < slots && n < ((size_t)1 << 24)) n <<= 1;
  ratelimit *rl = xcalloc(1, sizeof *rl);
  pthread_mutex_init(&rl->mu, NULL);
  rl->limit = limit < 1 ? 1 : limit;
  rl->window_s = window_s < 1 ? 1 : window_s;
  rl->mask = n - 1;
  rl->slots = xcalloc(n, sizeof *rl->slots);
  crypto_shorthash_keygen(rl->hkey);
  return rl;
}

void ratelimit_free(ratelimit *rl) {
  if (!rl) return;
  pthread_mutex_destroy(&rl->mu);
  free(rl->slots);
  free(rl);
}

static uint64_t key_id(const ratelimit *rl, const char *key) {
  unsigned char h[crypto_shorthash_BYTES];
  crypto_shorthash(h, (const unsigned char *)key, strlen(key), rl->hkey);
  uint64_t id;
  memcpy(&id, h, sizeof id);
  return id ? id : 1; /* 0 marks an empty slot */
}

/* The slot holding id, or NULL. Caller holds the mutex. */
static slot *find(ratelimit *rl, uint64_t id) {
  for (size_t j = 0; j < PROBE; j++) {
    slot *s = &rl->slots[(id + j) & rl->mask];
    if (s->id == id) return s;
  }
  return NULL;
}

static int expired(const ratelimit *rl, const slot *s, int64_t now_s) {
  return s->start_s + rl->window_s <= now_s;
}

/* A slot for a new key: an empty or expired one, else the oldest. */
static slot *claim(ratelimit *rl, uint64_t id, int64_t now_s) {
  slot *victim = NULL;
  for (size_t j = 0; j < PROBE; j++) {
    slot *s = &rl->slots[(id + j) & rl->mask];
    if (s->id == 0 || expired(rl, s, now_s)) {
      victim = s;
      break;
    }
    if (!victim || s->start_s < victim->start_s) victim = s;
  }
  victim->id = id;
  victim->start_s = now_s;
  victim->count = 0;
  return victim;
}

int ratelimit_take(ratelimit *rl, const char *key, int64_t now_s,
                   int *retry_after_s) {
  uint64_t id = key_id(rl, key);
  int rc = 0;
  pthread_mutex_lock(&rl->mu);
  slot *s = find(rl, id);
  if (s && expired(rl, s, now_s)) {
    s->start_s = now_s;
    s->count = 0;
  }
  if (!s) s = claim(rl, id, now_s);
  if (s->count >= rl->limit) {
    rc = -1;
    if (retry_after_s) {
      int64_t left = s->start_s + rl->window_s - now_s;
      *retry_after_s = left < 1 ? 1 : (int)left;
    }
  } else {
    s->count++;
  }
  pthread_mutex_unlock(&rl->mu);
  return rc;
}

void ratelimit_refund(ratelimit *rl, const char *key) {
  uint64_t id = key_id(rl, key);
  pthread_mutex_lock(&rl->mu);
  slot *s = find(rl, id);
  if (s && s->count > 0) s->count--;
  pthread_mutex_unlock(&rl->mu);
}

void ratelimit_reset(ratelimit *rl, const char *key) {
  uint64_t id = key_id(rl, key);
  pthread_mutex_lock(&rl->mu);
  slot *s = find(rl, id);
  if (s) memset(s, 0, sizeof *s);
  pthread_mutex_unlock(&rl->mu);
}
