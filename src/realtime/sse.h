/* sse.h - realtime's side of the server-sent event streams
 * (GET /realtime/v1/sse): internal to realtime/ and its tests.
 *
 * One rt_sses per process holds every open stream: it owns one replay
 * thread with a database connection of its own (Last-Event-ID resumes,
 * read a page at a time into each stream's queue as the client drains it,
 * a few at once, the rest in line) and one timer thread that writes the
 * keep-alive comment of idle streams and ends the streams whose token has
 * expired. A stream is a hub sink of its own (attached for its tenant) and
 * a byte queue that the HTTP layer drains with rt_sse_read; it never has a
 * thread, and opening one never touches the database.
 *
 * server.c (rt_start) makes the rt_sses after the hub (rt_server.sse) and
 * frees it in rt_stop, after the HTTP server has stopped (so every stream
 * is closed) and before the feed and the hub go. rt_sse_open (realtime.h)
 * counts each stream against the server's socket caps. */
#ifndef MUNSHI_REALTIME_SSE_H
#define MUNSHI_REALTIME_SSE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "realtime/change.h"
#include "realtime/realtime.h"

typedef struct rt_sses rt_sses;

typedef struct rt_sse_config {
  rt_hub *hub;
  const char *db_url;  /* for the replay of Last-Event-ID; copied */
  size_t max_queue;    /* bytes queued unread per stream before it is ended
                        * as too slow; 0: 4 MiB */
  int keepalive_ms;    /* a comment after this long without bytes; 0: 15 s */
  int max_tables;      /* entries of ?tables=; 0: 32 */
} rt_sse_config;

/* Starts the timer thread. NULL when it cannot (message in err). */
rt_sses *rt_sses_new(const rt_sse_config *cfg, char *err, size_t errlen);
/* Stops the timer thread. Every stream must be closed already (the HTTP
 * server stopped first). Accepts NULL. */
void rt_sses_free(rt_sses *x);
/* Streams open now (for tests). */
int rt_sses_count(rt_sses *x);
/* Resumes replaying now, and waiting their turn (for tests). */
void rt_sses_replays(rt_sses *x, int *active, int *waiting);

/* rt_sse_open of realtime.h on an rt_sses, without the server's caps. */
int rt_sses_open(rt_sses *x, const api_principal *who, const char *tables,
                 const char *last_event_id, void (*wake)(void *),
                 void *wake_cls, rt_sse **out, api_resp *resp);

/* Appends one event to b: "id: <id>\nevent: <event>\n" (each line only when
 * given), the data split into "data: " lines at its line breaks, and the
 * blank line that ends the event. -1 when b's cap is reached. */
int rt_sse_event(buf *b, const char *id, const char *event, const char *data,
                 size_t data_len);

/* Splits the value of ?tables= into its entries: at commas outside
 * parentheses and double quotes, so "a:id=in.(1,2),b" is two entries. Fills
 * starts/lens with up to max entries; returns their number, or -1 when there
 * are more than max, an entry is empty, or a parenthesis or quote is left
 * open. */
int rt_sse_split_tables(const char *s, const char **starts, size_t *lens,
                        int max);

#endif
