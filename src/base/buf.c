/* buf.c - growable byte buffer with a cap (see buf.h). */
#include "base/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

void buf_init(buf *b, size_t max) {
  b->data = NULL;
  b->len = b->cap = 0;
  b->max = max;
}

void buf_free(buf *b) {
  if (!b) return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

void buf_reset(buf *b) {
  b->len = 0;
  if (b->data) b->data[0] = '\0';
}

static int grow(buf *b, size_t extra) {
  size_t need = b->len + extra + 1;
  if (need < b->len) return -1;
  if (b->max && need - 1 > b->max) return -1;
  if (need <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  b->data = xrealloc(b->data, cap);
  b->cap = cap;
  return 0;
}

int buf_append(buf *b, const void *p, size_t n) {
  if (grow(b, n)) return -1;
  if (n) memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return 0;
}

int buf_puts(buf *b, const char *s) { return buf_append(b, s, strlen(s)); }

int buf_putc(buf *b, char c) { return buf_append(b, &c, 1); }

int buf_vprintf(buf *b, const char *fmt, va_list ap) {
  char small[256];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(small, sizeof small, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -1;
  if ((size_t)n < sizeof small) return buf_append(b, small, (size_t)n);
  if (grow(b, (size_t)n)) return -1;
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
  b->len += (size_t)n;
  return 0;
}

int buf_printf(buf *b, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rc = buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

const char *buf_cstr(const buf *b) { return b->data ? b->data : ""; }

char *buf_steal(buf *b) {
  char *p = b->data ? b->data : xstrdup("");
  b->data = NULL;
  b->len = b->cap = 0;
  return p;
}
