/* stream.h - answers that stay open: the server-sent event stream of the
 * live feed (GET /realtime/v1/sse), on libmicrohttpd's callback responses.
 *
 * A stream holds no thread: when it has nothing to send its connection is
 * suspended, and realtime wakes it (MHD_resume_connection) when bytes are
 * queued. The server keeps the open streams in an http_streams so that it
 * can end them before libmicrohttpd stops (which must not find a suspended
 * connection). */
#ifndef MUNSHI_HTTP_STREAM_H
#define MUNSHI_HTTP_STREAM_H

#include "base/api.h"
#include "http/route.h"

/* A handler that queued its own answer on the connection (a stream) sets
 * resp->status to this: the server then sends nothing more. */
#define HTTP_RESP_QUEUED 0

typedef struct http_streams http_streams;

http_streams *http_streams_new(void);
/* Ends every open stream and resumes its connection, and refuses new ones;
 * the server calls it before MHD_stop_daemon. */
void http_streams_stop(http_streams *hs);
/* After the daemon has stopped (every stream closed). Accepts NULL. */
void http_streams_free(http_streams *hs);

/* GET /realtime/v1/sse?tables=…[&last_event_id=…][&access_token=…]: opens a
 * stream of the caller's changes (realtime.h rt_sse_open) and queues it as
 * the answer (resp->status = HTTP_RESP_QUEUED), or answers the error. */
void http_sse_handle(const route_ctx *rc, api_req *req, api_resp *resp);

#endif
