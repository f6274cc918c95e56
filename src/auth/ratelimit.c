/* ratelimit.c - attempt counters with exponential backoff in a fixed-size
 * hash table.
 *
 * Keys are reduced to a keyed 64-bit SipHash (libsodium's crypto_shorthash
 * with a key drawn at start), so the table holds no emails or addresses and
 * an attacker cannot choose keys that collide. A key may live in any of
 * PROBE consecutive slots. When all are taken, an idle one is reused first,
 * then the one with the fewest attempts (the oldest among equals): a flood
 * of fresh keys, each with one attempt, then pushes out other fresh keys
 * and not the counter of someone who is being made to wait. Memory is
 * fixed; the price is that an attacker who owns very many addresses can
 * still push a counter out, and is then slowed only by the other counters
 * and by the cost of each hash. One mutex guards the table; each operation
 * touches at most PROBE slots under it. */
#include "auth/ratelimit.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define PROBE 8
#define SLOTS_MAX ((size_t)1 << 24)

typedef struct slot {
  uint64_t id;    /* 0: empty */
  int64_t last_s; /* when the last attempt was charged */
  int count;      /* attempts charged since the key last started over */
} slot;

struct ratelimit {
  pthread_mutex_t mu;
  ratelimit_policy p;
  size_t mask;
  slot *slots;
  unsigned char hkey[crypto_shorthash_KEYBYTES];
};

static ratelimit_policy policy_clean(const ratelimit_policy *in) {
  ratelimit_policy p = *in;
  if (p.free < 1) p.free = 1;
  if (p.backoff_s < 1) p.backoff_s = 1;
  if (p.max_s < p.backoff_s) p.max_s = p.backoff_s;
  /* A key must outlive its longest wait, or waiting it out would also
   * wipe its record and give back every free attempt. */
  if (p.window_s < 2 * p.max_s) p.window_s = 2 * p.max_s;
  return p;
}

ratelimit *ratelimit_new(const ratelimit_policy *p, size_t slots) {
  if (!p || sodium_init() < 0) return NULL;
  size_t n = 16;
  if (slots == 0) slots = 4096;
  while (n < slots && n < SLOTS_MAX) n <<= 1;
  ratelimit *rl = xcalloc(1, sizeof *rl);
  pthread_mutex_init(&rl->mu, NULL);
  rl->p = policy_clean(p);
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

static int idle(const ratelimit *rl, const slot *s, int64_t now_s) {
  return now_s - s->last_s >= rl->p.window_s;
}

/* A slot for a new key: an empty or idle one, else the one with the fewest
 * attempts, the oldest among equals. */
static slot *claim(ratelimit *rl, uint64_t id, int64_t now_s) {
  slot *victim = NULL;
  for (size_t j = 0; j < PROBE; j++) {
    slot *s = &rl->slots[(id + j) & rl->mask];
    if (s->id == 0 || idle(rl, s, now_s)) {
      victim = s;
      break;
    }
    if (!victim || s->count < victim->count ||
        (s->count == victim->count && s->last_s < victim->last_s))
      victim = s;
  }
  victim->id = id;
  victim->last_s = now_s;
  victim->count = 0;
  return victim;
}

/* How long a key with count attempts must wait after its last one:
 * nothing within its free attempts, then backoff_s, doubling, capped. */
static int64_t wait_s(const ratelimit_policy *p, int count) {
  if (count < p->free) return 0;
  int64_t w = p->backoff_s;
  for (int k = count - p->free; k > 0 && w < p->max_s; k--) w *= 2;
  return w < p->max_s ? w : p->max_s;
}

int ratelimit_take(ratelimit *rl, const char *key, int64_t now_s,
                   int *retry_after_s) {
  uint64_t id = key_id(rl, key);
  int rc = 0;
  pthread_mutex_lock(&rl->mu);
  slot *s = find(rl, id);
  if (s && idle(rl, s, now_s)) s->count = 0;
  if (!s) s = claim(rl, id, now_s);
  int64_t until = s->last_s + wait_s(&rl->p, s->count);
  if (s->count >= rl->p.free && now_s < until) {
    rc = -1;
    if (retry_after_s) *retry_after_s = (int)(until - now_s);
  } else {
    s->count++;
    s->last_s = now_s;
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

int ratelimit_count(ratelimit *rl, const char *key) {
  uint64_t id = key_id(rl, key);
  pthread_mutex_lock(&rl->mu);
  slot *s = find(rl, id);
  int n = s ? s->count : 0;
  pthread_mutex_unlock(&rl->mu);
  return n;
}
