/* server.c - libmicrohttpd glue (see server.h).
 *
 * libmicrohttpd calls the access handler several times per request: once
 * when the headers are in, once per chunk of body, and once more with no
 * data when the body is complete; we answer on that last call. The raw URI
 * (with its still-encoded query string, which PostgREST syntax needs
 * verbatim) is captured by the URI-log callback, which runs first. */
#include "http/server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "http/router.h"
#include "rest/query.h"

/* Request line and headers share this much per connection; past it
 * libmicrohttpd answers 414/431 by itself (with its own HTML body). Below
 * it we answer in our error shape: headers over HTTP_MAX_HEADERS get 431,
 * query strings over QUERY_MAX_LEN get 414. */
#define HTTP_CONN_MEMORY (128 * 1024)
#define HTTP_MAX_HEADERS (16 * 1024)

struct http_server {
  struct MHD_Daemon *mhd;
  http_config cfg;
  router_ctx rc;
  char *db_url;
  int port;
};

typedef struct conn_state {
  char *uri;   /* raw request target */
  int started; /* the headers call has been seen */
  int too_large;
  buf body;
  int64_t t0;
} conn_state;

/* One database connection per worker thread, closed when it exits. */
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
  (void)c;
  conn_state *st = xcalloc(1, sizeof *st);
  st->uri = xstrdup(uri);
  st->t0 = time_mono_us();
  /* The cap also holds for chunked bodies, which carry no Content-Length. */
  buf_init(&st->body, s->cfg.max_body);
  return st;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls,
                      enum MHD_RequestTerminationCode toe) {
  (void)cls;
  (void)c;
  (void)toe;
  conn_state *st = *con_cls;
  if (!st) return;
  buf_free(&st->body);
  free(st->uri);
  free(st);
  *con_cls = NULL;
}

static const char *lookup_header(const api_req *r, const char *name) {
  return MHD_lookup_connection_value(r->http, MHD_HEADER_KIND, name);
}

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value) {
  (void)kind;
  size_t *total = cls;
  *total += strlen(key) + (value ? strlen(value) : 0) + 4;
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
  if (r->status != 204)
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

static enum MHD_Result send_error(struct MHD_Connection *conn, api_error e,
                                  const char *msg) {
  api_resp r;
  api_resp_init(&r);
  api_fail(&r, e, msg, NULL, NULL);
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
                          "GET, HEAD, POST, PATCH, DELETE, OPTIONS");
  MHD_add_response_header(
      mr, "Access-Control-Allow-Headers",
      "authorization, apikey, content-type, prefer, range, range-unit, "
      "accept, accept-profile, content-profile, x-client-info, "
      "idempotency-key");
  MHD_add_response_header(mr, "Access-Control-Max-Age", "86400");
  enum MHD_Result ret = MHD_queue_response(conn, 204, mr);
  MHD_destroy_response(mr);
  return ret;
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
    size_t hbytes = 0;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_header, &hbytes);
    if (hbytes > HTTP_MAX_HEADERS)
      return send_error(conn, E_HEADERS_TOO_LARGE, NULL);
    const char *q = strchr(st->uri, '?');
    if (q && strlen(q + 1) > QUERY_MAX_LEN)
      return send_error(conn, E_URI_TOO_LONG, NULL);
    const char *cl =
        MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    if (cl) {
      char *end;
      unsigned long long n = strtoull(cl, &end, 10);
      if (*end || n > s->cfg.max_body) {
        /* Answer before reading the body; libmicrohttpd then closes. */
        return send_error(conn, E_TOO_LARGE, NULL);
      }
    }
    return MHD_YES;
  }
  if (*upload_size) {
    if (!st->too_large && buf_append(&st->body, upload, *upload_size))
      st->too_large = 1;
    *upload_size = 0;
    return MHD_YES;
  }
  if (!strcmp(method, "OPTIONS")) return preflight(conn);
  if (st->too_large) return send_error(conn, E_TOO_LARGE, NULL);

  const char *q = strchr(st->uri, '?');
  api_req req = {0};
  api_resp resp;
  api_resp_init(&resp);
  req.a = arena_new();
  req.method = method;
  req.path = url;
  req.query = q ? q + 1 : "";
  req.body = buf_cstr(&st->body);
  req.body_len = st->body.len;
  req.header = lookup_header;
  req.http = conn;
  char addr[INET6_ADDRSTRLEN] = "-";
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
  if (ci && ci->client_addr) {
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
      inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, addr,
                sizeof addr);
    else if (sa->sa_family == AF_INET6)
      inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, addr,
                sizeof addr);
  }
  req.remote = addr;

  router_dispatch(&s->rc, &req, &resp);
  /* The query string is left out of the log: it can hold customer data. */
  log_debug("%s %s %d %lldus", method, url, resp.status,
            (long long)(time_mono_us() - st->t0));
  enum MHD_Result ret = send_resp(conn, &resp);
  api_resp_free(&resp);
  arena_free(req.a);
  return ret;
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

int http_start(const http_config *cfg, http_server **out, char *err,
               size_t errlen) {
  pthread_once(&db_key_once, db_key_init);
  http_server *s = xcalloc(1, sizeof *s);
  s->cfg = *cfg;
  s->db_url = xstrdup(cfg->db_url);
  s->rc.au = cfg->au;
  s->rc.get_db = thread_db;
  s->rc.db_cls = s;

  struct sockaddr_in sin;
  struct sockaddr_in6 sin6;
  struct sockaddr *sa;
  unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG;
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
    free(s->db_url);
    free(s);
    return -1;
  }
  s->mhd = MHD_start_daemon(
      flags, (uint16_t)cfg->port, NULL, NULL, handle, s,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
      MHD_OPTION_SOCK_ADDR, sa,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned)cfg->threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONN_MEMORY,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
      MHD_OPTION_URI_LOG_CALLBACK, uri_logger, s,
      MHD_OPTION_NOTIFY_COMPLETED, completed, s,
      MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
      MHD_OPTION_END);
  if (!s->mhd) {
    snprintf(err, errlen, "cannot listen on %s:%d (in use, or not allowed)",
             cfg->listen, cfg->port);
    free(s->db_url);
    free(s);
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
  MHD_stop_daemon(s->mhd);
  free(s->db_url);
  free(s);
}
