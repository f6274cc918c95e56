/* http_client.h - outgoing HTTP(S) requests: the one door to libcurl.
 *
 * Everything munshi sends to another server (WhatsApp, Telegram,
 * Shiprocket, payment providers, an LLM) goes through net_request, so the
 * rules live in one place: connect and total timeouts, a cap on the response
 * size, TLS verification always on, only http and https (redirects included,
 * and redirects not followed unless asked), proxies taken from the
 * environment as libcurl reads them (http_proxy, https_proxy, all_proxy,
 * no_proxy), and no signals, since callers are worker threads. Nothing else
 * in the tree includes <curl/curl.h>.
 *
 * A call answers 0 whenever an HTTP response came back, whatever its status
 * (a 500 is the server's answer, not a transport failure), and -1 when none
 * did; then res->err says why, as a stable code with net_strerror. Only the
 * method, the host and the status or error name are ever logged: URLs can
 * carry tokens in their path (Telegram's /bot<token>/) and headers and
 * bodies carry credentials, so none of them reach a log.
 *
 * Each thread keeps one libcurl handle between calls, so consecutive
 * requests to the same host reuse the connection (and the TLS session). */
#ifndef MUNSHI_NET_HTTP_CLIENT_H
#define MUNSHI_NET_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Defaults for the fields of net_req left 0. */
#define NET_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define NET_DEFAULT_TIMEOUT_MS 30000L
#define NET_DEFAULT_MAX_RESPONSE ((size_t)4 * 1024 * 1024)
#define NET_MAX_REDIRECTS 5L
/* At most this many response headers can be asked for. */
#define NET_MAX_KEEP_HEADERS 16

/* Stable codes: they go into logs and stored statuses. Never renumber. */
typedef enum net_error {
  NET_OK = 0,
  NET_ETIMEOUT = 1,  /* connect or total timeout passed */
  NET_ECONNECT = 2,  /* refused, unreachable, host or proxy not resolved */
  NET_ETLS = 3,      /* handshake failed, certificate not trusted */
  NET_ETOOLARGE = 4, /* the response body passed max_response */
  NET_EURL = 5,      /* not a URL, or a scheme other than http/https */
  NET_EBROKEN = 6,   /* connection dropped mid-exchange, or no answer */
  NET_EBADREQ = 7,   /* the request itself is invalid (method, header) */
  NET_EOTHER = 8,
  NET_EBLOCKED = 9,  /* guard_private: the host is a forbidden address */
} net_error;

/* A short fixed English phrase, e.g. "timed out"; never NULL. */
const char *net_strerror(net_error e);
/* A stable lower-case name for logs and stored statuses, e.g. "timeout". */
const char *net_error_name(net_error e);

typedef struct net_header {
  const char *name;
  const char *value;
} net_header;

typedef struct net_req {
  const char *method;        /* "GET" when NULL; upper-case letters only */
  const char *url;           /* http:// or https:// only */
  const net_header *headers; /* sent as given, in this order */
  size_t n_headers;
  const void *body; /* may be NULL with body_len 0 */
  size_t body_len;
  long connect_timeout_ms; /* 0: NET_DEFAULT_CONNECT_TIMEOUT_MS */
  long timeout_ms;         /* whole exchange; 0: NET_DEFAULT_TIMEOUT_MS */
  size_t max_response;     /* body bytes; 0: NET_DEFAULT_MAX_RESPONSE */
  /* Names of the response headers to keep (case-insensitive). */
  const char *const *keep_headers;
  size_t n_keep;
  int follow_redirects; /* 0 (default): a 3xx is returned as it is */
  /* CA certificates (PEM text) to trust for this request instead of the
   * CA bundle libcurl was built with; NULL for that bundle. For a private
   * CA and for tests. Verification itself can never be turned off. */
  const char *ca_pem;
  /* For URLs that come from someone's data (a workflow's http_request):
   * refuse hosts that resolve to loopback, private, link-local, multicast
   * or metadata addresses (net/ssrf.h) with NET_EBLOCKED. The host is
   * resolved here, every address checked, the connection pinned to them
   * and every socket's address checked again; no proxy is used. */
  int guard_private;
  /* With guard_private: "host:port,..." reachable all the same (a local
   * test server, an intranet service the operator trusts). */
  const char *guard_allow;
} net_req;

/* A kept response header; both strings are owned by the result. */
typedef struct net_kept_header {
  char *name; /* as the caller spelled it in keep_headers */
  char *value;
} net_kept_header;

typedef struct net_result {
  long status;   /* HTTP status; 0 when no response arrived */
  net_error err; /* NET_OK when the call returned 0 */
  /* Kept headers: one entry per asked name that was present (the last
   * occurrence wins), from the final response only. */
  net_kept_header headers[NET_MAX_KEEP_HEADERS + 1]; /* + Retry-After */
  size_t n_headers;
  /* The body; empty when the call failed (never a truncated body). */
  buf body;
  int attempts; /* how many times the request was sent (retry helper) */
  /* Detail of a failure for the caller (libcurl's words: it may name the
   * host, never the path, headers or body); may be "". */
  char message[256];
} net_result;

/* Prepares res for a call. net_request and net_request_retry do this
 * themselves; call it when a result may be freed without having been used. */
void net_result_init(net_result *res);
/* Frees what a call put in res. Accepts NULL and may be called twice. */
void net_result_free(net_result *res);
/* The value of a kept header (case-insensitive name), or NULL. */
const char *net_result_header(const net_result *res, const char *name);

/* Sends one request and waits for the answer. res is initialised here (any
 * earlier content is not freed: pass a fresh or freed result) and must be
 * freed with net_result_free whatever the outcome. Returns 0 when a
 * response arrived (any status), -1 otherwise with res->err set. */
int net_request(const net_req *req, net_result *res);

/* When to try again; zero fields take the defaults in brackets. */
typedef struct net_retry_policy {
  int max_attempts;     /* all sends, the first included [3] */
  long base_backoff_ms; /* wait before the 2nd attempt, doubling after [500] */
  long max_backoff_ms;  /* cap of any wait, Retry-After included [30000] */
  int retry_on_500;     /* 500 is retried too (502, 503, 504, 429 always) */
  /* Retry only failures where the request surely was not processed:
   * connect errors, 429 and 503. For requests that must not happen twice
   * and carry no idempotency key. */
  int only_unprocessed;
  /* Waits ms milliseconds; NULL sleeps. Tests pass a recorder. */
  void (*sleep_ms)(void *ctx, long ms);
  void *sleep_ctx;
} net_retry_policy;

/* net_request, tried again on timeouts, connect errors, broken connections,
 * 429, 502, 503, 504 (and 500 when asked), waiting between attempts an
 * exponential backoff with jitter (between half and all of
 * base * 2^(attempt-1), capped by max_backoff_ms), or what the response's
 * Retry-After says (seconds or an HTTP date), capped by max_backoff_ms.
 * It sends the same request again, so use it for requests that are
 * idempotent or carry an idempotency key. res holds the last attempt's
 * outcome (a final 503 returns 0 with status 503) and res->attempts the
 * count; Retry-After is always among the kept headers. policy may be NULL
 * for the defaults. */
int net_request_retry(const net_req *req, const net_retry_policy *policy,
                      net_result *res);

/* The wait a Retry-After value asks for, in milliseconds, given the current
 * time in seconds since the epoch: delta-seconds ("120") or an HTTP date
 * ("Wed, 21 Oct 2026 07:28:00 GMT"); a date in the past gives 0. Returns
 * 0, or -1 when the value is neither form. Not capped. */
int net_retry_after_ms(const char *value, int64_t now_s, long *out_ms);

/* Frees this thread's libcurl handle (and its idle connections) now rather
 * than at thread exit. Optional; the next request opens a new one. */
void net_thread_cleanup(void);

#endif
