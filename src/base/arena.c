/* arena.c - a region allocator: a chain of blocks, bump allocation inside
 * each, all freed at once. Large requests get a block of their own. */
#include "base/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"

#define ARENA_BLOCK 8192
#define ARENA_ALIGN 16
/* Far above any request (bodies are capped at a few MiB), far below where
 * size arithmetic could wrap. */
#define ARENA_MAX_ALLOC ((size_t)1 << 40)

typedef struct block {
  struct block *next;
  size_t size; /* usable bytes after the header */
  size_t used;
  _Alignas(ARENA_ALIGN) unsigned char data[];
} block;

struct arena {
  block *head; /* current block; the first block is last in the chain */
};

static block *block_new(size_t size) {
  block *b = xmalloc(sizeof(block) + size);
  b->next = NULL;
  b->size = size;
  b->used = 0;
  return b;
}

arena *arena_new(void) {
  arena *a = xmalloc(sizeof *a);
  a->head = block_new(ARENA_BLOCK);
  return a;
}

void arena_free(arena *a) {
  if (!a) return;
  block *b = a->head;
  while (b) {
    block *next = b->next;
    free(b);
    b = next;
  }
  free(a);
}

void arena_reset(arena *a) {
  block *b = a->head;
  while (b->next) {
    block *next = b->next;
    free(b);
    b = next;
  }
  b->used = 0;
  a->head = b;
}

void *arena_alloc(arena *a, size_t n) {
  /* A size near SIZE_MAX would wrap in the rounding below (and in the
   * block header added to it) into a tiny block that the memset then runs
   * past: no arena serves such a request, so it ends like any other
   * failed allocation. */
  if (n > ARENA_MAX_ALLOC) xoom(n);
  size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
  block *b = a->head;
  if (b->size - b->used < need) {
    size_t size = need > ARENA_BLOCK / 2 ? need : ARENA_BLOCK;
    block *nb = block_new(size);
    if (size == need && b->size - b->used > ARENA_BLOCK / 4) {
      /* A big one-off: keep filling the current block afterwards. */
      nb->next = b->next;
      b->next = nb;
      nb->used = need;
      memset(nb->data, 0, need);
      return nb->data;
    }
    nb->next = b;
    a->head = b = nb;
  }
  void *p = b->data + b->used;
  b->used += need;
  memset(p, 0, n);
  return p;
}

char *arena_strndup(arena *a, const char *s, size_t n) {
  if (n >= ARENA_MAX_ALLOC) xoom(n); /* n + 1 must not wrap */
  char *p = arena_alloc(a, n + 1);
  memcpy(p, s, n);
  p[n] = '\0';
  return p;
}

char *arena_strdup(arena *a, const char *s) {
  return s ? arena_strndup(a, s, strlen(s)) : NULL;
}

char *arena_vprintf(arena *a, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) n = 0;
  char *p = arena_alloc(a, (size_t)n + 1);
  vsnprintf(p, (size_t)n + 1, fmt, ap);
  return p;
}

char *arena_printf(arena *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *p = arena_vprintf(a, fmt, ap);
  va_end(ap);
  return p;
}
