/* document.c - the one source of documents made at send time (chat.h
 * chat_set_document_source). The chat module cannot include the module that
 * renders invoices (integrations/ sits beside chat, not below it), so main
 * registers a function here and the outbox calls it for a message whose
 * metadata names {"document":{"source","ref","filename"}}: the bytes are
 * made when the message goes out, never stored in the database. */
#include <stdatomic.h>
#include <stdio.h>

#include "chat/chat.h"

/* Set once before the server and workers start; read by every sender
 * thread, hence atomics rather than a lock. */
static _Atomic(chat_document_fn) source_fn;
static _Atomic(void *) source_cls;

void chat_set_document_source(chat_document_fn fn, void *cls) {
  atomic_store(&source_cls, cls);
  atomic_store(&source_fn, fn);
}

int chat_document_source_set(void) { return atomic_load(&source_fn) != NULL; }

int chat_document_render(db *d, arena *a, const char *profile_id,
                         const char *source, const char *ref, buf *out,
                         const char **filename, char *why, size_t whylen) {
  chat_document_fn fn = atomic_load(&source_fn);
  *filename = NULL;
  if (!fn) {
    snprintf(why, whylen,
             "no document source is registered in this server for \"%.32s\"",
             source);
    return -1;
  }
  return fn(atomic_load(&source_cls), d, a, profile_id, source, ref, out,
            filename, why, whylen);
}
