/* password.h - Argon2id password hashes with bounded concurrency.
 *
 * Each hash or check takes about 64 MiB and tens of milliseconds on purpose,
 * so a burst of logins must not be allowed to run them all at once: a
 * counting semaphore lets `concurrency` of them run and queues the rest.
 * Hashes are libsodium's self-describing "$argon2id$v=19$m=...,t=...,p=..."
 * strings, so the cost can be raised later without breaking old ones. */
#ifndef MUNSHI_AUTH_PASSWORD_H
#define MUNSHI_AUTH_PASSWORD_H

#include <stddef.h>

#define PW_HASH_MAX 128   /* crypto_pwhash_STRBYTES, NUL included */
#define PW_MAX_BYTES 1024 /* longer passwords are refused, not hashed */

typedef struct pw_hasher pw_hasher;

/* concurrency < 1 means 1. Returns NULL if libsodium cannot start. */
pw_hasher *pw_hasher_new(int concurrency);
void pw_hasher_free(pw_hasher *h); /* accepts NULL */

/* Hashes pw[0..n) into out. Returns 0, or -1 (out of memory, n too big). */
int pw_hash(pw_hasher *h, const char *pw, size_t n, char out[PW_HASH_MAX]);
/* 1 when pw[0..n) matches the stored hash, 0 when not (also when the hash
 * is not one we can read). */
int pw_verify(pw_hasher *h, const char *hash, const char *pw, size_t n);

#endif
