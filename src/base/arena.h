/* arena.h - a region allocator: memory of one request, freed in one call.
 *
 * Everything parsed or built for one HTTP request (JSON trees, query plans,
 * SQL text) comes from the request's arena and is released together by
 * arena_free(), as h2o does with req->pool. Allocation aborts on OOM. */
#ifndef MUNSHI_BASE_ARENA_H
#define MUNSHI_BASE_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

arena *arena_new(void);
/* Frees the arena and all memory taken from it. Accepts NULL. */
void arena_free(arena *a);
/* Releases everything taken from the arena but keeps its first block. */
void arena_reset(arena *a);
/* Returns n bytes aligned for any type; zeroed. */
void *arena_alloc(arena *a, size_t n);
char *arena_strdup(arena *a, const char *s);
/* Copies exactly n bytes of s (which must hold them; unlike strndup it does
 * not stop at a NUL) and terminates the copy. */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

#endif
