/* password.c - Argon2id through libsodium, behind a counting semaphore.
 *
 * crypto_pwhash_str at the INTERACTIVE limits costs 64 MiB per call; with
 * 2 slots a flood of logins can cost at most 128 MiB and two cores, and the
 * rest wait their turn instead of pushing the box into swap. The semaphore
 * is a mutex and a condition variable rather than a POSIX sem_t so that it
 * behaves the same on every platform we might build on. */
#include "auth/password.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

struct pw_hasher {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int free_slots;
};

_Static_assert(PW_HASH_MAX == crypto_pwhash_STRBYTES, "hash buffer size");

pw_hasher *pw_hasher_new(int concurrency) {
  /* sodium_init is idempotent and thread-safe; it picks the fastest
   * implementation for this CPU. */
  if (sodium_init() < 0) return NULL;
  pw_hasher *h = xcalloc(1, sizeof *h);
  pthread_mutex_init(&h->mu, NULL);
  pthread_cond_init(&h->cv, NULL);
  h->free_slots = concurrency < 1 ? 1 : concurrency;
  return h;
}

void pw_hasher_free(pw_hasher *h) {
  if (!h) return;
  pthread_cond_destroy(&h->cv);
  pthread_mutex_destroy(&h->mu);
  free(h);
}

static void slot_take(pw_hasher *h) {
  pthread_mutex_lock(&h->mu);
  while (h->free_slots == 0) pthread_cond_wait(&h->cv, &h->mu);
  h->free_slots--;
  pthread_mutex_unlock(&h->mu);
}

static void slot_give(pw_hasher *h) {
  pthread_mutex_lock(&h->mu);
  h->free_slots++;
  pthread_cond_signal(&h->cv);
  pthread_mutex_unlock(&h->mu);
}

int pw_hash(pw_hasher *h, const char *pw, size_t n, char out[PW_HASH_MAX]) {
  if (n > PW_MAX_BYTES) return -1;
  slot_take(h);
  int rc = crypto_pwhash_str(out, pw, (unsigned long long)n,
                             crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE);
  slot_give(h);
  return rc == 0 ? 0 : -1;
}

int pw_verify(pw_hasher *h, const char *hash, const char *pw, size_t n) {
  if (n > PW_MAX_BYTES || !hash) return 0;
  /* libsodium reads the hash as a C string of at most STRBYTES; a stored
   * value that does not fit cannot be one of ours. */
  if (strnlen(hash, PW_HASH_MAX) >= PW_HASH_MAX) return 0;
  slot_take(h);
  int rc = crypto_pwhash_str_verify(hash, pw, (unsigned long long)n);
  slot_give(h);
  return rc == 0;
}
