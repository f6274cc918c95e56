/* buf.h - a growable byte buffer with an optional size cap.
 *
 * Every buffer that outside input can grow is given a cap (like curl's
 * dynbuf): an append that would pass it fails with -1 and leaves the buffer
 * as it was, so the caller can answer "too large" instead of eating memory.
 * The content is always NUL-terminated for convenience (the NUL is not
 * counted in len). */
#ifndef MUNSHI_BASE_BUF_H
#define MUNSHI_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

typedef struct buf {
  char *data; /* NULL until the first append */
  size_t len;
  size_t cap;
  size_t max; /* 0: no cap */
} buf;

void buf_init(buf *b, size_t max);
/* Frees the content; the buffer may be reused after buf_init. Accepts NULL. */
void buf_free(buf *b);
void buf_reset(buf *b); /* len = 0, keeps the memory */
int buf_append(buf *b, const void *p, size_t n); /* 0, or -1 over the cap */
int buf_puts(buf *b, const char *s);
int buf_putc(buf *b, char c);
int buf_printf(buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int buf_vprintf(buf *b, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* The content as a C string ("" when empty); valid until the next append. */
const char *buf_cstr(const buf *b);
/* Hands the content over to the caller (who frees it) and empties b. */
char *buf_steal(buf *b);

#endif
