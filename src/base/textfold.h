/* textfold.h - Unicode-aware lower-casing for case-insensitive matching.
 *
 * textfold() maps every code point to its simple lower-case form (Unicode's
 * one-to-one mapping, as PostgreSQL's lower() does under a UTF-8 libc or
 * ICU locale: 'É' -> 'é', 'Ö' -> 'ö', 'İ' -> 'i', 'ẞ' -> 'ß', while 'ß'
 * stays 'ß' and is not expanded to "ss") and puts the result in Unicode
 * normalisation form C, so "É" typed precomposed and "E" + U+0301 compare
 * equal. Scripts without case (Devanagari) pass through, normalised. The
 * mapping is utf8proc's, not a table of our own. */
#ifndef MUNSHI_BASE_TEXTFOLD_H
#define MUNSHI_BASE_TEXTFOLD_H

#include <stddef.h>

/* Folds the n bytes at s. Returns a NUL-terminated string the caller frees
 * with free(), its length in *out_len; or NULL when s is not valid UTF-8
 * (or memory ran out). */
char *textfold(const char *s, size_t n, size_t *out_len);

#endif
