/* url.c - percent-decoding and query-string lookup (see url.h). */
#include "base/url.h"

#include <string.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

char *url_unescape(arena *a, const char *s, size_t n) {
  char *out = arena_alloc(a, n + 1);
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c == '%') {
      if (i + 2 >= n) return NULL;
      int h = hexval(s[i + 1]), l = hexval(s[i + 2]);
      if (h < 0 || l < 0) return NULL;
      c = (char)(h * 16 + l);
      if (c == '\0') return NULL;
      i += 2;
    } else if (c == '+') {
      c = ' ';
    } else if (c == '\0') {
      return NULL;
    }
    out[j++] = c;
  }
  out[j] = '\0';
  return out;
}

int url_query_get(arena *a, const char *qs, const char *key, const char **val) {
  int found = 0;
  *val = NULL;
  const char *p = qs ? qs : "";
  while (*p) {
    const char *end = strchr(p, '&');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n) {
      const char *eq = memchr(p, '=', n);
      size_t klen = eq ? (size_t)(eq - p) : n;
      char *k = url_unescape(a, p, klen);
      if (!k) return -1;
      if (strcmp(k, key) == 0) {
        if (found) return -1;
        const char *v = eq ? url_unescape(a, eq + 1, n - klen - 1) : "";
        if (!v) return -1;
        *val = v;
        found = 1;
      }
    }
    p += n;
    if (*p == '&') p++;
  }
  return found;
}
