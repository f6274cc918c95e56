/* fake_server.h - local HTTP servers that stand in for other people's APIs
 * in tests (WhatsApp, Telegram, Shiprocket, an LLM, or plain HTTP).
 *
 * A fake listens on 127.0.0.1 on a port the OS picks and records every
 * request it gets, byte for byte, so a test can assert on exactly what the
 * code under test sent. What it answers comes, in this order, from a queue
 * of scripted responses (fake_server_enqueue), from a handler callback
 * (fake_server_set_handler), or else a 500 "no response scripted", so an
 * unexpected call fails loudly rather than hanging.
 *
 * Requests are served on libmicrohttpd's threads, one per connection, so a
 * handler may run concurrently with the test and with itself; the recorded
 * requests and the queue are guarded inside. See tests/fakes/README.md. */
#ifndef MUNSHI_TESTS_FAKE_SERVER_H
#define MUNSHI_TESTS_FAKE_SERVER_H

#include <stddef.h>

#include "base/buf.h"

#define FAKE_MAX_HEADERS 32
/* Request bodies past this are refused with 413 (and still recorded, cut). */
#define FAKE_MAX_BODY ((size_t)16 * 1024 * 1024)

typedef struct fake_server fake_server;

typedef struct fake_header {
  char *name; /* as it arrived (case kept) */
  char *value;
} fake_header;

/* One request as it arrived; owned by the server, valid until
 * fake_server_reset or fake_server_stop. */
typedef struct fake_request {
  char *method;
  char *target;         /* the raw request target, "/a/b?x=1" (not decoded) */
  char *path;           /* the part before '?', not decoded */
  char *query;          /* the part after '?' ("" when none), not decoded */
  fake_header *headers; /* in arrival order, duplicates kept */
  size_t n_headers;
  char *body; /* NUL-terminated for convenience; may hold NULs */
  size_t body_len;
} fake_request;

/* The value of the first header called name (case-insensitive), or NULL. */
const char *fake_request_header(const fake_request *r, const char *name);

/* What to answer. Build one with the fake_response_* calls. */
typedef struct fake_response {
  int status;
  fake_header headers[FAKE_MAX_HEADERS];
  size_t n_headers;
  buf body;
  long delay_ms; /* wait this long before answering (stop cuts it short) */
  int chunked;   /* send the body chunked, without a Content-Length */
  int drop;      /* close the connection without any answer */
} fake_response;

/* A new response with this status and no body; the caller owns it until it
 * is handed to fake_server_enqueue. */
fake_response *fake_response_new(int status);
void fake_response_free(fake_response *r); /* accepts NULL */
/* Adds a header (copied); past FAKE_MAX_HEADERS the test aborts. */
void fake_response_header(fake_response *r, const char *name,
                          const char *value);
/* Appends to the body (copied). */
void fake_response_body(fake_response *r, const void *data, size_t len);
/* Sets a JSON body and "Content-Type: application/json". */
void fake_response_json(fake_response *r, const char *json);

/* Fills resp (status 200, empty, already initialised) for req. Runs on a
 * server thread; ctx is what was passed to fake_server_set_handler. */
typedef void (*fake_handler)(void *ctx, const fake_request *req,
                             fake_response *resp);

/* Starts a fake on 127.0.0.1 with an OS-chosen port; NULL on failure. */
fake_server *fake_server_start(void);
/* The same over HTTPS, with a fresh self-signed certificate for 127.0.0.1
 * (EC P-256, valid one day); fake_server_ca_pem gives the certificate to
 * trust. NULL on failure, e.g. a libmicrohttpd built without TLS. */
fake_server *fake_server_start_tls(void);
/* Stops the server (stalled answers are cut short) and frees everything,
 * queued responses and recorded requests included. Accepts NULL. */
void fake_server_stop(fake_server *fs);

int fake_server_port(const fake_server *fs);
/* "http://127.0.0.1:PORT" (or https), no trailing slash; owned by fs. */
const char *fake_server_url(const fake_server *fs);
/* The certificate of a TLS fake in PEM (NULL for a plain one). */
const char *fake_server_ca_pem(const fake_server *fs);

/* The handler for requests the queue does not answer (NULL: none). Set it
 * before sending requests; ctx must stay valid while the server runs. */
void fake_server_set_handler(fake_server *fs, fake_handler h, void *ctx);
/* Appends r to the queue of scripted responses; fs takes r over. Each
 * request takes the first queued response. */
void fake_server_enqueue(fake_server *fs, fake_response *r);
/* Shorthand: a response with status, Content-Type and body text (either
 * may be NULL). */
void fake_server_enqueue_simple(fake_server *fs, int status,
                                const char *content_type, const char *body);

/* How many requests have arrived so far. */
size_t fake_server_count(fake_server *fs);
/* The i-th request received (0 first), or NULL if there is none yet. */
const fake_request *fake_server_request(fake_server *fs, size_t i);
/* Waits until at least n requests have arrived or timeout_ms passes;
 * returns 0 when they have, -1 on timeout. For code that sends from a
 * background thread. */
int fake_server_wait(fake_server *fs, size_t n, long timeout_ms);
/* Forgets recorded requests and queued responses (the handler stays). */
void fake_server_reset(fake_server *fs);

#endif
