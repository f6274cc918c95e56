/* url.h - percent-decoding and query-string lookup: the one decoder of
 * URL-encoded text (PostgREST query strings, GoTrue form bodies and query
 * parameters, realtime's access_token). */
#ifndef MUNSHI_BASE_URL_H
#define MUNSHI_BASE_URL_H

#include <stddef.h>

#include "base/arena.h"

/* Percent-decodes s[0..n) into a ('+' is a space, as in forms). NULL when
 * an escape is broken or the text holds or decodes to a NUL byte. */
char *url_unescape(arena *a, const char *s, size_t n);

/* The decoded value of key in a query string "a=1&b=2" (no '?'). Returns 1
 * and sets *val, 0 when absent, -1 when the string is malformed or names key
 * twice (two values would be a question we refuse to guess the answer to). */
int url_query_get(arena *a, const char *qs, const char *key, const char **val);

#endif
