/* server.c - libmicrohttpd glue (see server.h).
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in, once per chunk of body, and once more with no
 * data when the body is complete; we answer on that last call. The raw URI
 * (with its still-encoded query string, which PostgREST syntax needs
 * verbatim) is captured by the URI-log callback, which runs first.
 *
 * A route flagged ROUTE_OFFLOAD is not run on the worker: the connection is
 * suspended, the request (kept in the connection state with its arena) goes
 * to the offload pool, and the pool thread resumes the connection when the
 * answer is ready; libmicrohttpd then calls the handler once more and the
 * answer is sent from there. The log line names the client address, the
 * method and the path, never the query string: it can hold customer data
 * and access tokens. */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "http/deadline.h"
#include "http/offload.h"
#include "http/proxy.h"
#include "http/route.h"
#include "http/stream.h"
#include "http/upgrade.h"

/* Request line and headers share this much per connection; past it
 * libmicrohttpd answers 414/431 by itself (with its own HTML body). Below
 * it we answer in our error shape: headers over HTTP_MAX_HEADERS get 431,
 * query strings over QUERY_MAX_LEN get 414. */
#define HTTP_CONN_MEMORY (128 * 1024)
#define HTTP_MAX_HEADERS (16 * 1024)
#define HTTP_MAX_XFF 8 /* X-Forwarded-For headers read; more are ignored */
/* The operations pool: on SQLite enough threads that a group commit
 * carries dozens of operations (they wait, they do not compute), a queue
 * for bursts. On PostgreSQL each thread runs its operations on its own
 * connection, and operations of one business meet on the same rows (its
 * invoice series, its best-selling products): more sessions than cores
 * only queue on those row locks and share the CPU with the server's
 * backends, so one per core, at least two (docs/performance.md: on 2 cores
 * 2 threads did ~1,800 invoices/s, 4 ~1,250, 16 ~900). Each thread keeps a
 * database connection (mind PostgreSQL's max_connections). */
#define HTTP_OPS_THREADS 16
#define HTTP_OPS_THREADS_PG_MIN 2
#define HTTP_OPS_QUEUE 512
/* ROUTE_RENDER rows: two renders at a time (the machine's cores, at most),
 * and a queue for a burst of them; beyond that, the busy answer. */
#define HTTP_RENDER_THREADS 2
#define HTTP_RENDER_QUEUE 64

static int ops_threads(const http_config *cfg) {
  if (cfg->ops_threads > 0) return cfg->ops_threads;
  if (!strncmp(cfg->db_url, "sqlite:", 7)) return HTTP_OPS_THREADS;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  return cores > HTTP_OPS_THREADS_PG_MIN ? (int)cores : HTTP_OPS_THREADS_PG_MIN;
}

struct http_server {
  struct MHD_Daemon *mhd;
  http_config cfg;
  route_ctx rc;
  char *db_url;
  int port;
  proxy_list proxies;
  offload *pool;
  offload *ops_pool; /* ROUTE_OPS rows */
  offload *render_pool; /* ROUTE_RENDER rows */
  deadline *dl;
  http_streams *streams; /* open SSE answers */
};

enum { PHASE_NONE, PHASE_QUEUED, PHASE_DONE };

typedef struct conn_state {
  http_server *s;
  struct MHD_Connection *conn;
  char *uri;   /* raw request target */
  const char *path; /* decoded path (libmicrohttpd's, lives as long) */
  int started; /* the headers call has been seen */
  int too_large;
  buf body;
  int64_t t0;
  /* The exchange, kept here so an offloaded request outlives the call. */
  api_req req;
  api_resp resp;
  int have_exchange;
  const route *route;
  offload_job job;
  _Atomic int phase;
  char remote[PROXY_ADDR_MAX];
  int upgraded; /* answered 101: the socket goes to realtime */
  void *upgrade; /* upgrade.h's hand-over, until libmicrohttpd takes it */
} conn_state;

/* One database connection per worker (and offload) thread, closed when the
 * thread exits. */
static pthread_key_t db_key;
static pthread_once_t db_key_once = PTHREAD_ONCE_INIT;

static void db_key_free(void *p) { db_close(p); }
static void db_key_init(void) { pthread_key_create(&db_key, db_key_free); }

static db *thread_db(void *cls, api_resp *resp) {
  http_server *s = cls;
  db *d = pthread_getspecific(db_key);
  if (d) return d;
  db_err err;
  if (db_open(s->db_url, &d, &err)) {
    log_error("http: cannot open the database: %s", err.message);
    api_fail(resp, E_UNAVAILABLE, "the database is unreachable; retry", NULL,
             NULL);
    return NULL;
  }
  pthread_setspecific(db_key, d);
  return d;
}

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c) {
  http_server *s = cls;
  conn_state *st = xcalloc(1, sizeof *st);
  st->s = s;
  st->conn = c;
  st->uri = xstrdup(uri);
  st->t0 = time_mono_us();
  /* The cap also holds for chunked bodies, which carry no Content-Length. */
  buf_init(&st->body, s->cfg.max_body);
  return st;
}

static deadline_conn *conn_deadline(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci ? ci->socket_context : NULL;
}

static void exchange_free(conn_state *st) {
  if (!st->have_exchange) return;
  api_resp_free(&st->resp);
  arena_free(st->req.a);
  st->have_exchange = 0;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  http_server *s = cls;
  (void)toe;
  conn_state *st = *con_cls;
  /* The next request's headers are due from now on; an upgraded socket
   * sends no more requests and must not be cut by the sweeper. */
  if (!st || !st->upgraded) deadline_arm(s->dl, conn_deadline(c));
  if (!st) return;
  upgrade_forget(st->upgrade);
  exchange_free(st);
  buf_free(&st->body);
  free(st->uri);
  free(st);
  *con_cls = NULL;
}

static void notify_conn(void *cls, struct MHD_Connection *c,
                        void **socket_context,
                        enum MHD_ConnectionNotificationCode code) {
  http_server *s = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    *socket_context = ci ? deadline_add(s->dl, ci->connect_fd) : NULL;
  } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
    /* libmicrohttpd closes the socket after this returns. */
    deadline_remove(s->dl, *socket_context);
    *socket_context = NULL;
  }
}

static const char *lookup_header(const api_req *r, const char *name) {
  return MHD_lookup_connection_value(r->http, MHD_HEADER_KIND, name);
}

/* What the headers call learns from all the headers at once. */
typedef struct header_scan {
  size_t bytes;
  int n_cl;
  int cl_differ;
  const char *cl;
  int te;
  size_t nxff;
  const char *xff[HTTP_MAX_XFF];
} header_scan;

static enum MHD_Result scan_header(void *cls, enum MHD_ValueKind kind,
                                   const char *key, const char *value) {
  (void)kind;
  header_scan *h = cls;
  h->bytes += strlen(key) + (value ? strlen(value) : 0) + 4;
  if (!strcasecmp(key, "Content-Length")) {
    if (h->n_cl && (!value || !h->cl || strcmp(value, h->cl))) h->cl_differ = 1;
    if (!h->n_cl) h->cl = value;
    h->n_cl++;
  } else if (!strcasecmp(key, "Transfer-Encoding")) {
    h->te = 1;
  } else if (!strcasecmp(key, "X-Forwarded-For") && h->nxff < HTTP_MAX_XFF) {
    h->xff[h->nxff++] = value;
  }
  return MHD_YES;
}

static void add_cors(struct MHD_Response *resp) {
  MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
  MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                          "Content-Range, Range, Location");
}

static enum MHD_Result send_resp(struct MHD_Connection *conn, api_resp *r) {
  struct MHD_Response *mr;
  if (r->body.len) {
    size_t len = r->body.len;
    char *data = buf_steal(&r->body);
    mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
  } else {
    mr = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  }
  if (!mr) return MHD_NO;
  if (r->status != 204 && r->status != 304)
    MHD_add_response_header(mr, "Content-Type",
                            r->content_type ? r->content_type
                                            : "application/json; charset=utf-8");
  for (int i = 0; i < r->nheaders; i++)
    MHD_add_response_header(mr, r->headers[i].name, r->headers[i].value);
  add_cors(mr);
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)r->status, mr);
  MHD_destroy_response(mr);
  return ret;
}

/* An error answered before the body is read. close: also end the
 * connection, because what follows on it cannot be trusted to be a body
 * or a next request. */
static enum MHD_Result send_error(struct MHD_Connection *conn, api_error e,
                                  const char *msg, int close) {
  api_resp r;
  api_resp_init(&r);
  api_fail(&r, e, msg, NULL, NULL);
  if (close) api_header(&r, "Connection", "close");
  enum MHD_Result ret = send_resp(conn, &r);
  api_resp_free(&r);
  return ret;
}

static enum MHD_Result preflight(struct MHD_Connection *conn) {
  struct MHD_Response *mr =
      MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
  if (!mr) return MHD_NO;
  add_cors(mr);
  MHD_add_response_header(mr, "Access-Control-Allow-Methods",
                          "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
  MHD_add_response_header(
      mr, "Access-Control-Allow-Headers",
      "authorization, apikey, content-type, prefer, range, range-unit, "
      "accept, accept-profile, content-profile, x-client-info, "
      "idempotency-key, if-none-match");
  MHD_add_response_header(mr, "Access-Control-Max-Age", "86400");
  enum MHD_Result ret = MHD_queue_response(conn, 204, mr);
  MHD_destroy_response(mr);
  return ret;
}

/* The peer's address as text. */
static void peer_addr(struct MHD_Connection *conn, char *out, size_t n) {
  snprintf(out, n, "-");
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (!ci || !ci->client_addr) return;
  const struct sockaddr *sa = ci->client_addr;
  if (sa->sa_family == AF_INET)
    inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out,
              (socklen_t)n);
  else if (sa->sa_family == AF_INET6)
    inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out,
              (socklen_t)n);
}

static enum MHD_Result finish(conn_state *st) {
  if (st->resp.status == HTTP_RESP_QUEUED) {
    /* The handler queued a stream of its own. */
    log_debug("%s %s %s stream", st->remote, st->req.method, st->path);
    exchange_free(st);
    return MHD_YES;
  }
  log_debug("%s %s %s %d %lldus", st->remote, st->req.method, st->path,
            st->resp.status, (long long)(time_mono_us() - st->t0));
  if (st->resp.status == 101) {
    st->upgraded = 1;
    enum MHD_Result ret = upgrade_send(st->conn, &st->resp, st->s->cfg.rt,
                                       st->req.query, st->remote, &st->upgrade);
    exchange_free(st);
    return ret;
  }
  enum MHD_Result ret = send_resp(st->conn, &st->resp);
  exchange_free(st);
  return ret;
}

static void run_offloaded(offload_job *j) {
  conn_state *st =
      (conn_state *)(void *)((char *)j - offsetof(conn_state, job));
  route_call(&st->s->rc, st->route, &st->req, &st->resp);
  atomic_store(&st->phase, PHASE_DONE);
  /* After this the worker may send and free st at any moment. */
  MHD_resume_connection(st->conn);
}

/* The headers are in: checks that must come before any body is read. */
static enum MHD_Result headers_in(http_server *s, conn_state *st,
                                  struct MHD_Connection *conn) {
  deadline_clear(conn_deadline(conn));
  header_scan h;
  memset(&h, 0, sizeof h);
  MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_header, &h);
  char peer[PROXY_ADDR_MAX];
  peer_addr(conn, peer, sizeof peer);
  proxy_client(&s->proxies, peer, h.xff, h.nxff, st->remote);
  if (h.bytes > HTTP_MAX_HEADERS)
    return send_error(conn, E_HEADERS_TOO_LARGE, NULL, 0);
  const char *q = strchr(st->uri, '?');
  if (q && strlen(q + 1) > QUERY_MAX_LEN)
    return send_error(conn, E_URI_TOO_LONG, NULL, 0);
  /* Two framings of one body are how a second request is smuggled past
   * whoever reads the first framing: refuse, and close the connection so
   * the rest of the bytes are never read as a request. */
  if (h.cl_differ || (h.n_cl && h.te))
    return send_error(conn, E_BAD_QUERY,
                      h.te ? "Content-Length and Transfer-Encoding together"
                           : "conflicting Content-Length headers",
                      1);
  if (h.cl) {
    char *end;
    unsigned long long n = strtoull(h.cl, &end, 10);
    if (end == h.cl || *end || n > s->cfg.max_body)
      /* Answer before reading the body, and close. */
      return send_error(conn, E_TOO_LARGE, NULL, 1);
  }
  return MHD_YES;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload,
                              size_t *upload_size, void **con_cls) {
  (void)version;
  http_server *s = cls;
  conn_state *st = *con_cls;
  if (!st) return MHD_NO; /* the URI logger always runs first */
  if (!st->started) {
    st->started = 1;
    return headers_in(s, st, conn);
  }
  if (atomic_load(&st->phase) == PHASE_DONE) return finish(st);
  if (atomic_load(&st->phase) == PHASE_QUEUED) return MHD_YES; /* defensive */
  if (*upload_size) {
    if (!st->too_large && buf_append(&st->body, upload, *upload_size))
      st->too_large = 1;
    *upload_size = 0;
    return MHD_YES;
  }
  if (!strcmp(method, "OPTIONS")) return preflight(conn);
  if (st->too_large) return send_error(conn, E_TOO_LARGE, NULL, 1);

  const char *q = strchr(st->uri, '?');
  api_req *req = &st->req;
  memset(req, 0, sizeof *req);
  api_resp_init(&st->resp);
  st->have_exchange = 1;
  req->a = arena_new();
  req->method = method;
  req->path = url;
  req->query = q ? q + 1 : "";
  req->body = buf_cstr(&st->body);
  req->body_len = st->body.len;
  req->header = lookup_header;
  req->http = conn;
  req->remote = st->remote;
  st->path = url;

  const route *r = route_match(http_routes, http_routes_count, req, &st->resp);
  if (r && (r->flags & (ROUTE_OFFLOAD | ROUTE_OPS | ROUTE_RENDER))) {
    offload *pool = r->flags & ROUTE_OPS      ? s->ops_pool
                    : r->flags & ROUTE_RENDER ? s->render_pool
                                              : s->pool;
    if (offload_reserve(pool)) {
      api_fail(&st->resp, r->busy,
               "Too many requests of this kind in progress; retry shortly",
               NULL, NULL);
      api_header(&st->resp, "Retry-After", "1");
      return finish(st);
    }
    st->route = r;
    st->job.run = run_offloaded;
    atomic_store(&st->phase, PHASE_QUEUED);
    MHD_suspend_connection(conn);
    offload_push(pool, &st->job);
    return MHD_YES;
  }
  if (r) route_call(&s->rc, r, req, &st->resp);
  return finish(st);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  (void)cls;
  char line[512];
  /* The format comes from libmicrohttpd, not from a request. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
  vsnprintf(line, sizeof line, fmt, ap);
#pragma GCC diagnostic pop
  size_t n = strlen(line);
  while (n && line[n - 1] == '\n') line[--n] = '\0';
  log_debug("libmicrohttpd: %s", line);
}

static void server_free(http_server *s) {
  offload_free(s->pool);
  offload_free(s->ops_pool);
  offload_free(s->render_pool);
  deadline_free(s->dl);
  http_streams_free(s->streams);
  free(s->db_url);
  free(s);
}

int http_start(const http_config *cfg, http_server **out, char *err,
               size_t errlen) {
  pthread_once(&db_key_once, db_key_init);
  http_server *s = xcalloc(1, sizeof *s);
  s->cfg = *cfg;
  s->db_url = xstrdup(cfg->db_url);
  s->rc.au = cfg->au;
  s->rc.get_db = thread_db;
  s->rc.db_cls = s;
  s->streams = http_streams_new();
  s->rc.rt = cfg->rt;
  s->rc.streams = s->streams;
  if (proxy_list_parse(cfg->trusted_proxies, &s->proxies, err, errlen)) {
    server_free(s);
    return -1;
  }
  int header_ms = cfg->header_timeout_ms > 0 ? cfg->header_timeout_ms : 10000;
  s->dl = deadline_new((int64_t)header_ms * 1000);
  s->pool = s->dl ? offload_new(cfg->offload_threads > 0 ? cfg->offload_threads : 2,
                                cfg->offload_queue >= 0 ? cfg->offload_queue : 0,
                                err, errlen)
                  : NULL;
  if (!s->pool) {
    if (!s->dl) snprintf(err, errlen, "cannot start the header sweeper");
    server_free(s);
    return -1;
  }
  s->ops_pool = offload_new(ops_threads(cfg),
                            cfg->ops_queue > 0 ? cfg->ops_queue : HTTP_OPS_QUEUE,
                            err, errlen);
  if (!s->ops_pool) {
    server_free(s);
    return -1;
  }
  s->render_pool =
      offload_new(HTTP_RENDER_THREADS, HTTP_RENDER_QUEUE, err, errlen);
  if (!s->render_pool) {
    server_free(s);
    return -1;
  }

  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  struct sockaddr *sa;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_ALLOW_UPGRADE;
  memset(&sin, 0, sizeof sin);
  memset(&sin6, 0, sizeof sin6);
  if (inet_pton(AF_INET, cfg->listen, &sin.sin_addr) == 1) {
    sin.sin_family = AF_INET;
    sin.sin_port = htons((uint16_t)cfg->port);
    sa = (struct sockaddr *)&sin;
  } else if (inet_pton(AF_INET6, cfg->listen, &sin6.sin6_addr) == 1) {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons((uint16_t)cfg->port);
    sa = (struct sockaddr *)&sin6;
    flags |= MHD_USE_IPv6;
  } else {
    snprintf(err, errlen, "--listen: \"%s\" is not an IP address", cfg->listen);
    server_free(s);
    return -1;
  }
  /* The idle timeout stays as a backstop for slow bodies and idle
   * keep-alive; the header deadline is the sweeper's. */
  struct MHD_OptionItem limits[3];
  int nl = 0;
  if (cfg->max_conns > 0)
    limits[nl++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
                                           (intptr_t)cfg->max_conns, NULL};
  if (cfg->max_conns_per_ip > 0)
    limits[nl++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                                           (intptr_t)cfg->max_conns_per_ip, NULL};
  limits[nl] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
  s->mhd = MHD_start_daemon(
      flags, (uint16_t)cfg->port, NULL, NULL, handle, s,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
      MHD_OPTION_SOCK_ADDR, sa,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_URI_LOG_CALLBACK, uri_logger, s,
      MHD_OPTION_NOTIFY_COMPLETED, completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, notify_conn, s,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
      MHD_OPTION_ARRAY, limits,
      MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "cannot listen on %s:%d (in use, or not allowed)",
             cfg->listen, cfg->port);
    server_free(s);
    return -1;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
  s->port = di ? di->port : cfg->port;
  *out = s;
  return 0;
}

int http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s) {
  if (!s) return;
  /* Stop taking connections, then let the pool answer (and resume) every
   * offloaded request: libmicrohttpd must not be stopped with a connection
   * still suspended. */
  MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
  offload_stop(s->pool);
  offload_stop(s->ops_pool);
  offload_stop(s->render_pool);
  /* Streams end, and their suspended connections are resumed. */
  http_streams_stop(s->streams);
  /* libmicrohttpd must not stop with an upgraded socket still open. */
  rt_ws_close_all(s->cfg.rt);
  MHD_stop_daemon(s->mhd);
  if (lfd != MHD_INVALID_SOCKET) close(lfd);
  server_free(s);
}
