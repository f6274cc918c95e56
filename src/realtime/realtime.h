/* realtime.h - the live feed: Supabase Realtime's Phoenix channels on a
 * WebSocket (/realtime/v1/websocket), and the same changes as server-sent
 * events (/realtime/v1/sse). See docs/realtime.md.
 *
 * main starts one rt_server per process (after the migrations): it starts
 * the feed thread (changes from the database, change.h) and the WebSocket
 * thread, which owns every upgraded socket in one epoll loop, so idle
 * sockets cost memory and no thread. The HTTP layer does the HTTP part
 * (the Upgrade handshake, the SSE response) and hands over the rest
 * through the functions below; realtime knows nothing of libmicrohttpd. */
#ifndef MUNSHI_REALTIME_REALTIME_H
#define MUNSHI_REALTIME_REALTIME_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/api.h"
#include "realtime/change.h"

typedef struct rt_server rt_server;

typedef struct rt_config {
  const char *db_url;
  auth *au;               /* verifies access tokens (joins, refreshes) */
  int max_sockets;        /* WebSockets + SSE streams in all; 0: 10000 */
  int max_sockets_per_user; /* per user (sub) or per address for anon; 0: 100 */
  int max_channels;       /* channels joined per socket; 0: 100 */
  int max_bindings;       /* postgres_changes bindings per channel; 0: 100 */
  size_t max_frame;       /* bytes of one received message; 0: 64 KiB */
  size_t max_queue;       /* bytes queued unsent per socket before it is
                           * closed as too slow; 0: 4 MiB */
  int window_s;           /* how long changes are kept for a reconnect; 0: 120 */
  size_t max_queue_total; /* bytes queued unsent on all sockets together;
                           * past it the sockets with the most are closed
                           * (slowest first); 0: 256 MiB */
  int max_bindings_socket; /* bindings on all channels of a socket; 0: 500 */
  int max_bindings_user;  /* bindings on all sockets of one user (anon: of
                           * one address); 0: 1000 */
} rt_config;

/* Starts the feed and the WebSocket thread. 0, or -1 with a message. */
int rt_start(const rt_config *cfg, rt_server **out, char *err, size_t errlen);
/* Closes every socket (a close frame each) and stream, stops the threads.
 * Accepts NULL. */
void rt_stop(rt_server *s);
rt_hub *rt_server_hub(rt_server *s);

/* ---- WebSocket -------------------------------------------------------- */

/* The HTTP layer calls this once the 101 answer has been sent and the
 * socket is ours: fd is the connected socket (non-blocking is set here),
 * extra the bytes already read past the handshake, query the request's raw
 * query string (apikey, vsn), remote the client address. close_fn is
 * called exactly once, from the WebSocket thread, when realtime is done
 * with the socket; it must release it (libmicrohttpd's upgrade close) and
 * not block. Returns 0; on -1 (full, or shutting down) realtime has
 * already called close_fn. */
typedef void (*rt_close_fn)(void *cls);
int rt_ws_adopt(rt_server *s, int fd, const char *extra, size_t extra_len,
                const char *query, const char *remote, rt_close_fn close_fn,
                void *close_cls);

/* Closes every WebSocket (a close frame each, 1001) and returns once each
 * close_fn has been called; sockets handed over later are refused. The
 * HTTP layer calls it before stopping libmicrohttpd, which must not stop
 * with an upgraded connection still open. Accepts NULL. */
void rt_ws_close_all(rt_server *s);

/* ---- server-sent events ----------------------------------------------- */

typedef struct rt_sse rt_sse;
/* Opens a stream for an authenticated caller: tables is the comma-separated
 * list from ?tables= (each may carry a filter as table:col=op.value, see
 * docs/realtime.md), last_event_id the Last-Event-ID header (NULL: none).
 * wake is called (from any thread) when the stream has bytes to read;
 * it must not block. Returns 0, or -1 with resp set to the error. */
int rt_sse_open(rt_server *s, const api_principal *who, const char *tables,
                const char *last_event_id, void (*wake)(void *), void *wake_cls,
                rt_sse **out, api_resp *resp);
/* Copies up to max bytes of the stream into out: >0 bytes, 0 when nothing
 * is ready (wake will be called), -1 when the stream has ended. */
long rt_sse_read(rt_sse *st, char *out, size_t max);
/* The HTTP layer is done with the stream (client gone or server stopping). */
void rt_sse_close(rt_sse *st);

#endif
