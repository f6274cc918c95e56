/* inbound.h - the inbound side of the chat module, between the webhook
 * handlers (webhook.c), the worker that processes what they stored
 * (inbound.c, chat.h chat_inbound_poll) and the outbox.
 *
 * A verified webhook body is stored as one row of chat_inbound and
 * answered 200; a worker claims batches of rows under a lease and turns
 * each into sessions, unified_messages rows, status changes and
 * message.received events, once per provider message id however often
 * and in whatever order the provider delivers. docs/chat.md ("Inbound:
 * webhooks and processing") says how. */
#ifndef MUNSHI_CHAT_INBOUND_H
#define MUNSHI_CHAT_INBOUND_H

#include <stddef.h>
#include <stdint.h>

#include "chat/store.h"
#include "db/db.h"

/* Largest webhook body accepted (413 above it). Meta's batches and
 * Telegram's updates are a few KiB. */
#define CHAT_WEBHOOK_MAX_BODY (256 * 1024)
/* Payloads a worker claims and processes in one transaction. Small enough
 * that the transaction holds SQLite's one write lock only a few
 * milliseconds: the webhooks' own INSERTs wait behind it, and with 200 a
 * batch set their p99 (docs/performance.md). */
#define CHAT_INBOUND_BATCH 50
/* Attempts before a payload is set aside as 'failed'. */
#define CHAT_INBOUND_MAX_ATTEMPTS 5

/* chat_inbound_poll's arg (may be NULL: the defaults). */
typedef struct chat_inbound_opts {
  int batch; /* payloads per claim, 1..1000; 0: CHAT_INBOUND_BATCH */
} chat_inbound_opts;

/* Stores a verified body[0..len) as one chat_inbound row (autocommit: one
 * short INSERT). channel_id is the channel of the URL, NULL for the shared
 * WhatsApp route. update_id: Telegram's (a second copy of an update still
 * waiting is not stored again), -1 for none. *stored (may be NULL) is 0
 * when it was such a copy. The caller then answers 200 and calls
 * jobs_wake(). */
int chat_inbound_store(db *d, chat_platform platform, const char *channel_id,
                       int64_t update_id, const char *body, size_t len,
                       int *stored, db_err *err);

/* Applies the WhatsApp statuses kept for (profile, channel, provider
 * message id) because they arrived before any message had that id, and
 * deletes them. The outbox calls it right after it stored a message's
 * provider id, on the same connection (inside its transaction or just
 * after its commit; it begins and commits nothing). Statuses move the
 * message monotonically (sent < failed < delivered < read). Returns 0 (also
 * when nothing was pending) or -1 with err. */
int chat_statuses_apply_pending(db *d, const char *profile_id,
                                const char *channel_id,
                                const char *provider_message_id, db_err *err);

#endif
