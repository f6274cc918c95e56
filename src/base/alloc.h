/* alloc.h - allocation wrappers that abort on out-of-memory.
 *
 * Small internal allocations have no sensible recovery path, so they go
 * through these wrappers (as Redis's zmalloc does) and the process aborts with
 * a message instead of limping on. Buffers that outside input can grow carry
 * their own caps (see buf.h), so input alone cannot drive us here. */
#ifndef MUNSHI_BASE_ALLOC_H
#define MUNSHI_BASE_ALLOC_H

#include <stddef.h>

/* Reports that n bytes could not be had and aborts. For callers that
 * refuse a size before asking malloc (an arena, a size that would wrap). */
_Noreturn void xoom(size_t n);

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
/* Returns a copy of s (NULL when s is NULL); the caller frees it. */
char *xstrdup(const char *s);
/* Copies at most n bytes of s and terminates the copy; the caller frees it. */
char *xstrndup(const char *s, size_t n);

#endif
