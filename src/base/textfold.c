/* textfold.c - lower-case and NFC through utf8proc (see textfold.h). */
#include "base/textfold.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

static utf8proc_int32_t lower_cp(utf8proc_int32_t cp, void *data) {
  (void)data;
  return utf8proc_tolower(cp);
}

char *textfold(const char *s, size_t n, size_t *out_len) {
  int ascii = 1;
  for (size_t i = 0; i < n && ascii; i++) ascii = (unsigned char)s[i] < 0x80;
  if (ascii) {
    /* ASCII is its own NFC: lower-case it without utf8proc's work. */
    char *out = malloc(n + 1);
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++)
      out[i] = (s[i] >= 'A' && s[i] <= 'Z') ? (char)(s[i] + 32) : s[i];
    out[n] = '\0';
    *out_len = n;
    return out;
  }
  if (n > (size_t)PTRDIFF_MAX) return NULL;
  /* The custom mapping runs on each code point before the composition, so
   * a decomposed capital and its precomposed form fold alike. */
  utf8proc_uint8_t *out = NULL;
  utf8proc_ssize_t len = utf8proc_map_custom(
      (const utf8proc_uint8_t *)s, (utf8proc_ssize_t)n, &out,
      UTF8PROC_STABLE | UTF8PROC_COMPOSE, lower_cp, NULL);
  if (len < 0) return NULL;
  *out_len = (size_t)len;
  return (char *)out;
}
