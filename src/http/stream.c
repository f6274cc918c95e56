/* stream.c - the SSE answer on libmicrohttpd (see stream.h).
 *
 * The response is a callback response of unknown size (chunked). Its
 * reader copies what realtime has queued; when nothing is queued it
 * suspends the connection and returns 0, and realtime's wake resumes it.
 * A wake that comes between "nothing queued" and the suspend is not lost:
 * libmicrohttpd remembers a resume of a connection that is not suspended
 * and then skips the next suspend, so the reader simply runs once more.
 * While suspended a connection neither times out nor notices that the
 * client left; the keep-alive comment realtime queues every 15 s finds a
 * dead client out.
 *
 * Lifetime: libmicrohttpd frees the response when the connection is done
 * and calls stream_free, which closes the realtime stream (after which it
 * never wakes us again) and forgets the connection. http_streams_stop
 * runs under the same lock, so it never resumes a connection that is gone. */
#include "http/stream.h"

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/url.h"
#include "realtime/realtime.h"

/* Bytes handed to libmicrohttpd per read (one chunk). */
#define STREAM_BLOCK 16384

typedef struct http_stream {
  http_streams *hs;
  struct http_stream *prev, *next; /* under hs->mu */
  struct MHD_Connection *conn;
  rt_sse *sse;
  _Atomic int stopping;
} http_stream;

struct http_streams {
  pthread_mutex_t mu;
  http_stream *head;
  int stopped;
};

http_streams *http_streams_new(void) {
  http_streams *hs = xcalloc(1, sizeof *hs);
  pthread_mutex_init(&hs->mu, NULL);
  return hs;
}

void http_streams_stop(http_streams *hs) {
  if (!hs) return;
  pthread_mutex_lock(&hs->mu);
  hs->stopped = 1;
  for (http_stream *s = hs->head; s; s = s->next) {
    atomic_store(&s->stopping, 1);
    MHD_resume_connection(s->conn);
  }
  pthread_mutex_unlock(&hs->mu);
}

void http_streams_free(http_streams *hs) {
  if (!hs) return;
  pthread_mutex_destroy(&hs->mu);
  free(hs);
}

/* realtime has bytes (called under the stream's lock, never after
 * rt_sse_close). */
static void stream_wake(void *cls) {
  http_stream *s = cls;
  MHD_resume_connection(s->conn);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
  (void)pos;
  http_stream *s = cls;
  if (atomic_load(&s->stopping)) return MHD_CONTENT_READER_END_OF_STREAM;
  long n = rt_sse_read(s->sse, out, max);
  if (n > 0) return (ssize_t)n;
  if (n < 0) return MHD_CONTENT_READER_END_OF_STREAM;
  MHD_suspend_connection(s->conn);
  return 0;
}

static void stream_unlink(http_stream *s) {
  http_streams *hs = s->hs;
  pthread_mutex_lock(&hs->mu);
  if (s->prev) s->prev->next = s->next;
  else hs->head = s->next;
  if (s->next) s->next->prev = s->prev;
  pthread_mutex_unlock(&hs->mu);
}

static void stream_free(void *cls) {
  http_stream *s = cls;
  stream_unlink(s);
  rt_sse_close(s->sse);
  free(s);
}

void http_sse_handle(const route_ctx *rc, api_req *req, api_resp *resp) {
  if (!rc->rt || !rc->streams) {
    api_fail(resp, E_UNAVAILABLE, "the live feed is not running", NULL, NULL);
    return;
  }
  const char *tables = NULL, *last = NULL;
  if (url_query_get(req->a, req->query, "tables", &tables) < 0) {
    api_fail(resp, E_BAD_QUERY, "tables= is malformed or given twice", NULL,
             NULL);
    return;
  }
  /* EventSource resends the last id it saw as a header when it reconnects;
   * the query parameter is for a client that starts a new EventSource. */
  last = req->header ? req->header(req, "last-event-id") : NULL;
  if (!last) {
    const char *q;
    int got = url_query_get(req->a, req->query, "last_event_id", &q);
    if (got < 0) {
      api_fail(resp, E_BAD_QUERY, "last_event_id is malformed or given twice",
               NULL, NULL);
      return;
    }
    if (got > 0) last = q;
  }

  http_stream *s = xcalloc(1, sizeof *s);
  s->hs = rc->streams;
  s->conn = req->http;
  pthread_mutex_lock(&s->hs->mu);
  if (s->hs->stopped) {
    pthread_mutex_unlock(&s->hs->mu);
    free(s);
    api_fail(resp, E_UNAVAILABLE, "the server is stopping", NULL, NULL);
    return;
  }
  s->next = s->hs->head;
  if (s->next) s->next->prev = s;
  s->hs->head = s;
  pthread_mutex_unlock(&s->hs->mu);

  if (rt_sse_open(rc->rt, &req->who, tables, last, stream_wake, s, &s->sse,
                  resp)) {
    stream_unlink(s);
    free(s);
    return;
  }
  struct MHD_Response *mr = MHD_create_response_from_callback(
      MHD_SIZE_UNKNOWN, STREAM_BLOCK, stream_read, s, stream_free);
  if (!mr) {
    stream_free(s);
    api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    return;
  }
  MHD_add_response_header(mr, "Content-Type", "text/event-stream; charset=utf-8");
  MHD_add_response_header(mr, "Cache-Control", "no-cache");
  /* nginx would otherwise hold the events back in its buffer. */
  MHD_add_response_header(mr, "X-Accel-Buffering", "no");
  MHD_add_response_header(mr, "Access-Control-Allow-Origin", "*");
  enum MHD_Result ok = MHD_queue_response(req->http, 200, mr);
  /* From here libmicrohttpd owns the stream (stream_free when done). */
  MHD_destroy_response(mr);
  if (ok != MHD_YES) {
    api_fail(resp, E_INTERNAL, NULL, NULL, NULL);
    return;
  }
  resp->status = HTTP_RESP_QUEUED;
}
