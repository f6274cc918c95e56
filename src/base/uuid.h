/* uuid.h - UUID version 7 (time-ordered) generation and validation. */
#ifndef MUNSHI_BASE_UUID_H
#define MUNSHI_BASE_UUID_H

#define UUID_STR_LEN 36

/* Writes a new UUIDv7 in canonical lower-case form and a NUL. */
void uuid_v7(char out[UUID_STR_LEN + 1]);
/* Checks that s is a UUID in 8-4-4-4-12 hex form (either case) and writes
 * its canonical lower-case form to out. Returns 0 or -1. */
int uuid_normalize(const char *s, char out[UUID_STR_LEN + 1]);

#endif
