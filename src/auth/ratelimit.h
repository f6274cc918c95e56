/* ratelimit.h - counts attempts per key (an email at an address, an
 * address) in bounded memory, and makes a key that has used up its free
 * attempts wait, twice as long after each further one.
 *
 * This is backoff, not lockout: a key is never refused for longer than
 * max_s, and once it has waited it may try again. A key with no attempt
 * for window_s seconds starts over. The caller charges an attempt before
 * the slow work (a password hash) and refunds or resets it when the
 * attempt turns out to be good, so a burst of concurrent guesses is
 * counted as it arrives rather than after each has spent a hash. Time is
 * passed in by the caller (whole seconds), so tests drive their own clock. */
#ifndef MUNSHI_AUTH_RATELIMIT_H
#define MUNSHI_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

typedef struct ratelimit_policy {
  int free;      /* attempts a key makes without waiting; < 1 means 1 */
  int backoff_s; /* the first wait; each further attempt doubles it */
  int max_s;     /* cap on one wait */
  int window_s;  /* a key idle this long is forgotten; raised to 2 * max_s */
} ratelimit_policy;

/* slots bounds the memory (rounded up to a power of two, at most 2^24;
 * 0 means 4096). Returns NULL when libsodium cannot start. */
ratelimit *ratelimit_new(const ratelimit_policy *p, size_t slots);
void ratelimit_free(ratelimit *rl); /* accepts NULL */

/* Charges one attempt to key at now_s. Returns 0 when allowed, or -1 when
 * the key must still wait; then *retry_after_s (may be NULL) gets the
 * seconds left (at least 1), and nothing is charged. */
int ratelimit_take(ratelimit *rl, const char *key, int64_t now_s,
                   int *retry_after_s);
/* Gives back one attempt charged by ratelimit_take (it was good). */
void ratelimit_refund(ratelimit *rl, const char *key);
/* Forgets the key's attempts. */
void ratelimit_reset(ratelimit *rl, const char *key);
/* The attempts now charged to key (0 when unknown); for tests and logs. */
int ratelimit_count(ratelimit *rl, const char *key);

#endif
