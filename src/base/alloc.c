/* alloc.c - allocation wrappers that abort on out-of-memory (see alloc.h). */
#include "base/alloc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Noreturn void xoom(size_t n) {
  fprintf(stderr, "munshi: out of memory allocating %zu bytes\n", n);
  abort();
}

void *xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) xoom(n);
  return p;
}

void *xcalloc(size_t count, size_t size) {
  void *p = calloc(count ? count : 1, size ? size : 1);
  if (!p) xoom(count * size);
  return p;
}

void *xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) xoom(n);
  return q;
}

char *xstrdup(const char *s) {
  if (!s) return NULL;
  return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *p = xmalloc(len + 1);
  memcpy(p, s, len);
  p[len] = '\0';
  return p;
}
