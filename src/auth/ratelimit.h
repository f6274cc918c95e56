/* ratelimit.h - counts failed logins per key (an email, a client address)
 * in fixed windows, in bounded memory.
 *
 * The caller charges an attempt before the slow password check and refunds
 * it when the check succeeds, so a burst of concurrent guesses is counted
 * as it arrives rather than after each has spent a hash. */
#ifndef MUNSHI_AUTH_RATELIMIT_H
#define MUNSHI_AUTH_RATELIMIT_H

#include <stddef.h>
#include <stdint.h>

typedef struct ratelimit ratelimit;

/* limit attempts per window_s seconds per key; slots bounds the memory
 * (rounded up to a power of two; 0 means 4096). limit < 1 means 1. */
ratelimit *ratelimit_new(int limit, int window_s, size_t slots);
void ratelimit_free(ratelimit *rl); /* accepts NULL */

/* Charges one attempt to key. Returns 0 when allowed, or -1 when the key
 * already has `limit` attempts in its window; then *retry_after_s (may be
 * NULL) gets the seconds until the window ends, and nothing is charged. */
int ratelimit_take(ratelimit *rl, const char *key, int64_t now_s,
                   int *retry_after_s);
/* Gives back one attempt charged by ratelimit_take (a success). */
void ratelimit_refund(ratelimit *rl, const char *key);
/* Forgets the key's attempts. */
void ratelimit_reset(ratelimit *rl, const char *key);

#endif
