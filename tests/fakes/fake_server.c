/* fake_server.c - local fake HTTP servers for tests (see fake_server.h).
 *
 * libmicrohttpd runs one thread per connection, so a handler that stalls
 * (to test a client's timeout) holds up only its own connection. Stalls
 * wait on the server's condition variable, which fake_server_stop
 * broadcasts, so stopping never waits for a long delay to run out. The raw
 * request target is taken from the URI-log callback, which libmicrohttpd
 * calls before anything else and before it decodes the path, because a
 * test must see exactly what the client sent. */
#include "fake_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"

typedef struct queued {
  fake_response *resp;
  struct queued *next;
} queued;

struct fake_server {
  struct MHD_Daemon *mhd;
  int port;
  char url[64];
  char *cert_pem; /* TLS only */
  char *key_pem;

  pthread_mutex_t mu;
  pthread_cond_t cv; /* a request arrived, or the server is stopping */
  bool stopping;
  fake_handler handler;
  void *handler_ctx;
  queued *head, *tail;
  fake_request **reqs;
  size_t n_reqs, cap_reqs;
};

/* Per connection: from the URI-log callback until the request completes. */
typedef struct conn_state {
  char *target;
  buf body;
  bool started; /* the headers-only first call has been seen */
  bool too_large;
} conn_state;

/* ---- requests ---- */

const char *fake_request_header(const fake_request *r, const char *name) {
  for (size_t i = 0; i < r->n_headers; i++)
    if (strcasecmp(r->headers[i].name, name) == 0) return r->headers[i].value;
  return NULL;
}

static void request_free(fake_request *r) {
  if (!r) return;
  free(r->method);
  free(r->target);
  free(r->path);
  free(r->query);
  for (size_t i = 0; i < r->n_headers; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  free(r->headers);
  free(r->body);
  free(r);
}

static enum MHD_Result collect_header(void *cls, enum MHD_ValueKind kind,
                                      const char *key, const char *value) {
  (void)kind;
  fake_request *r = cls;
  r->headers = xrealloc(r->headers, (r->n_headers + 1) * sizeof *r->headers);
  r->headers[r->n_headers].name = xstrdup(key);
  r->headers[r->n_headers].value = xstrdup(value ? value : "");
  r->n_headers++;
  return MHD_YES;
}

/* ---- responses ---- */

fake_response *fake_response_new(int status) {
  fake_response *r = xcalloc(1, sizeof *r);
  r->status = status;
  buf_init(&r->body, 0);
  return r;
}

static void response_clear(fake_response *r) {
  for (size_t i = 0; i < r->n_headers; i++) {
    free(r->headers[i].name);
    free(r->headers[i].value);
  }
  r->n_headers = 0;
  buf_free(&r->body);
}

void fake_response_free(fake_response *r) {
  if (!r) return;
  response_clear(r);
  free(r);
}

void fake_response_header(fake_response *r, const char *name,
                          const char *value) {
  if (r->n_headers >= FAKE_MAX_HEADERS) {
    fprintf(stderr, "fake_server: more than %d response headers\n",
            FAKE_MAX_HEADERS);
    abort();
  }
  r->headers[r->n_headers].name = xstrdup(name);
  r->headers[r->n_headers].value = xstrdup(value);
  r->n_headers++;
}

void fake_response_body(fake_response *r, const void *data, size_t len) {
  buf_append(&r->body, data, len); /* no cap: the test wrote it */
}

void fake_response_json(fake_response *r, const char *json) {
  fake_response_header(r, "Content-Type", "application/json");
  fake_response_body(r, json, strlen(json));
}

/* ---- the server ---- */

static void *uri_logger(void *cls, const char *uri, struct MHD_Connection *c) {
  (void)cls;
  (void)c;
  conn_state *st = xcalloc(1, sizeof *st);
  st->target = xstrdup(uri ? uri : "");
  buf_init(&st->body, FAKE_MAX_BODY);
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
  free(st->target);
  free(st);
  *con_cls = NULL;
}

static fake_request *record(fake_server *fs, struct MHD_Connection *conn,
                            const char *method, conn_state *st) {
  fake_request *r = xcalloc(1, sizeof *r);
  r->method = xstrdup(method);
  r->target = xstrdup(st->target);
  const char *q = strchr(st->target, '?');
  r->path =
      q ? xstrndup(st->target, (size_t)(q - st->target)) : xstrdup(st->target);
  r->query = xstrdup(q ? q + 1 : "");
  MHD_get_connection_values(conn, MHD_HEADER_KIND, collect_header, r);
  r->body_len = st->body.len;
  r->body = xmalloc(st->body.len + 1);
  if (st->body.len) memcpy(r->body, st->body.data, st->body.len);
  r->body[st->body.len] = '\0';

  pthread_mutex_lock(&fs->mu);
  if (fs->n_reqs == fs->cap_reqs) {
    fs->cap_reqs = fs->cap_reqs ? fs->cap_reqs * 2 : 16;
    fs->reqs = xrealloc(fs->reqs, fs->cap_reqs * sizeof *fs->reqs);
  }
  fs->reqs[fs->n_reqs++] = r;
  pthread_cond_broadcast(&fs->cv);
  pthread_mutex_unlock(&fs->mu);
  return r;
}

typedef struct chunk_src {
  char *data;
  size_t len;
} chunk_src;

static ssize_t chunk_reader(void *cls, uint64_t pos, char *out, size_t max) {
  chunk_src *c = cls;
  if (pos >= c->len) return MHD_CONTENT_READER_END_OF_STREAM;
  size_t n = c->len - (size_t)pos;
  if (n > max) n = max;
  if (n > 1024) n = 1024; /* several chunks, as a real server would */
  memcpy(out, c->data + pos, n);
  return (ssize_t)n;
}

static void chunk_free(void *cls) {
  chunk_src *c = cls;
  free(c->data);
  free(c);
}

static void stall(fake_server *fs, long ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&fs->mu);
  while (!fs->stopping &&
         pthread_cond_timedwait(&fs->cv, &fs->mu, &until) != ETIMEDOUT) {
  }
  pthread_mutex_unlock(&fs->mu);
}

static enum MHD_Result send_response(struct MHD_Connection *conn,
                                     fake_response *fr) {
  struct MHD_Response *mr;
  if (fr->chunked) {
    chunk_src *c = xcalloc(1, sizeof *c);
    c->len = fr->body.len;
    c->data = buf_steal(&fr->body);
    mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, chunk_reader,
                                           c, chunk_free);
    if (!mr) chunk_free(c);
  } else {
    size_t len = fr->body.len;
    char *data = buf_steal(&fr->body);
    mr = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!mr) free(data);
  }
  if (!mr) return MHD_NO;
  for (size_t i = 0; i < fr->n_headers; i++)
    MHD_add_response_header(mr, fr->headers[i].name, fr->headers[i].value);
  enum MHD_Result ret = MHD_queue_response(conn, (unsigned)fr->status, mr);
  MHD_destroy_response(mr);
  return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
                              const char *url, const char *method,
                              const char *version, const char *upload_data,
                              size_t *upload_data_size, void **con_cls) {
  (void)url;
  (void)version;
  fake_server *fs = cls;
  conn_state *st = *con_cls;
  if (!st) return MHD_NO; /* the URI-log callback always runs first */
  if (*upload_data_size) {
    if (buf_append(&st->body, upload_data, *upload_data_size))
      st->too_large = true;
    *upload_data_size = 0;
    return MHD_YES;
  }
  /* The first call (headers only) and the last (body complete) both come
   * here with no data; answer on the last, which for a bodiless request
   * is the second call. */
  if (!st->started) {
    st->started = true;
    return MHD_YES;
  }

  const fake_request *req = record(fs, conn, method, st);

  fake_response *fr = NULL;
  fake_handler h;
  void *hctx;
  pthread_mutex_lock(&fs->mu);
  if (fs->head) {
    queued *q = fs->head;
    fs->head = q->next;
    if (!fs->head) fs->tail = NULL;
    fr = q->resp;
    free(q);
  }
  h = fs->handler;
  hctx = fs->handler_ctx;
  pthread_mutex_unlock(&fs->mu);

  if (!fr) {
    fr = fake_response_new(200);
    if (h) {
      h(hctx, req, fr);
    } else {
      fr->status = 500;
      fake_response_body(fr, "fake_server: no response scripted\n", 34);
    }
  }
  if (st->too_large) {
    response_clear(fr);
    fr->status = 413;
  }
  if (fr->delay_ms > 0) stall(fs, fr->delay_ms);
  enum MHD_Result ret = fr->drop ? MHD_NO : send_response(conn, fr);
  fake_response_free(fr);
  return ret;
}

/* A key and a self-signed certificate for 127.0.0.1, both in PEM. */
static int make_cert(char **cert_pem, char **key_pem) {
  int rc = -1;
  EVP_PKEY *pkey = NULL;
  X509 *x = NULL;
  X509_EXTENSION *ext = NULL;
  BIO *cb = NULL, *kb = NULL;

  pkey = EVP_EC_gen("P-256");
  x = X509_new();
  if (!pkey || !x) goto out;
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), (long)time(NULL));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  X509_gmtime_adj(X509_getm_notAfter(x), 86400);
  X509_set_pubkey(x, pkey);
  X509_NAME *name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             (const unsigned char *)"munshi fake", -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, x, x, NULL, NULL, 0);
  ext = X509V3_EXT_conf_nid(NULL, &v3, NID_subject_alt_name, "IP:127.0.0.1");
  if (!ext || !X509_add_ext(x, ext, -1)) goto out;
  if (!X509_sign(x, pkey, EVP_sha256())) goto out;

  cb = BIO_new(BIO_s_mem());
  kb = BIO_new(BIO_s_mem());
  if (!cb || !kb || !PEM_write_bio_X509(cb, x) ||
      !PEM_write_bio_PrivateKey(kb, pkey, NULL, NULL, 0, NULL, NULL))
    goto out;
  char *p;
  long n = BIO_get_mem_data(cb, &p);
  *cert_pem = xstrndup(p, (size_t)n);
  n = BIO_get_mem_data(kb, &p);
  *key_pem = xstrndup(p, (size_t)n);
  rc = 0;
out:
  BIO_free(cb);
  BIO_free(kb);
  X509_EXTENSION_free(ext);
  X509_free(x);
  EVP_PKEY_free(pkey);
  return rc;
}

static fake_server *start(bool tls) {
  fake_server *fs = xcalloc(1, sizeof *fs);
  pthread_mutex_init(&fs->mu, NULL);
  pthread_cond_init(&fs->cv, NULL);

  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_ERROR_LOG;
  if (tls) {
    if (!MHD_is_feature_supported(MHD_FEATURE_TLS) ||
        make_cert(&fs->cert_pem, &fs->key_pem)) {
      fake_server_stop(fs);
      return NULL;
    }
    flags |= MHD_USE_TLS;
  }
  struct sockaddr_in sin;
  memset(&sin, 0, sizeof sin);
  sin.sin_family = AF_INET;
  sin.sin_port = 0; /* the OS picks a free port */
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);

  if (tls) {
    fs->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, fs, MHD_OPTION_SOCK_ADDR, &sin,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, fs,
        MHD_OPTION_NOTIFY_COMPLETED, completed, fs,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_HTTPS_MEM_KEY,
        fs->key_pem, MHD_OPTION_HTTPS_MEM_CERT, fs->cert_pem, MHD_OPTION_END);
  } else {
    fs->mhd = MHD_start_daemon(
        flags, 0, NULL, NULL, handle, fs, MHD_OPTION_SOCK_ADDR, &sin,
        MHD_OPTION_URI_LOG_CALLBACK, uri_logger, fs,
        MHD_OPTION_NOTIFY_COMPLETED, completed, fs,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30, MHD_OPTION_END);
  }
  if (!fs->mhd) {
    fake_server_stop(fs);
    return NULL;
  }
  const union MHD_DaemonInfo *di =
      MHD_get_daemon_info(fs->mhd, MHD_DAEMON_INFO_BIND_PORT);
  fs->port = di ? di->port : 0;
  if (fs->port <= 0) {
    fake_server_stop(fs);
    return NULL;
  }
  snprintf(fs->url, sizeof fs->url, "%s://127.0.0.1:%d", tls ? "https" : "http",
           fs->port);
  return fs;
}

fake_server *fake_server_start(void) {
  return start(false);
}
fake_server *fake_server_start_tls(void) {
  return start(true);
}

void fake_server_reset(fake_server *fs) {
  pthread_mutex_lock(&fs->mu);
  for (size_t i = 0; i < fs->n_reqs; i++) request_free(fs->reqs[i]);
  fs->n_reqs = 0;
  queued *q = fs->head;
  fs->head = fs->tail = NULL;
  pthread_mutex_unlock(&fs->mu);
  while (q) {
    queued *next = q->next;
    fake_response_free(q->resp);
    free(q);
    q = next;
  }
}

void fake_server_stop(fake_server *fs) {
  if (!fs) return;
  pthread_mutex_lock(&fs->mu);
  fs->stopping = true;
  pthread_cond_broadcast(&fs->cv);
  pthread_mutex_unlock(&fs->mu);
  if (fs->mhd) MHD_stop_daemon(fs->mhd);
  fake_server_reset(fs);
  free(fs->reqs);
  free(fs->cert_pem);
  free(fs->key_pem);
  pthread_cond_destroy(&fs->cv);
  pthread_mutex_destroy(&fs->mu);
  free(fs);
}

int fake_server_port(const fake_server *fs) {
  return fs->port;
}
const char *fake_server_url(const fake_server *fs) {
  return fs->url;
}
const char *fake_server_ca_pem(const fake_server *fs) {
  return fs->cert_pem;
}

void fake_server_set_handler(fake_server *fs, fake_handler h, void *ctx) {
  pthread_mutex_lock(&fs->mu);
  fs->handler = h;
  fs->handler_ctx = ctx;
  pthread_mutex_unlock(&fs->mu);
}

void fake_server_enqueue(fake_server *fs, fake_response *r) {
  queued *q = xcalloc(1, sizeof *q);
  q->resp = r;
  pthread_mutex_lock(&fs->mu);
  if (fs->tail)
    fs->tail->next = q;
  else
    fs->head = q;
  fs->tail = q;
  pthread_mutex_unlock(&fs->mu);
}

void fake_server_enqueue_simple(fake_server *fs, int status,
                                const char *content_type, const char *body) {
  fake_response *r = fake_response_new(status);
  if (content_type) fake_response_header(r, "Content-Type", content_type);
  if (body) fake_response_body(r, body, strlen(body));
  fake_server_enqueue(fs, r);
}

size_t fake_server_count(fake_server *fs) {
  pthread_mutex_lock(&fs->mu);
  size_t n = fs->n_reqs;
  pthread_mutex_unlock(&fs->mu);
  return n;
}

const fake_request *fake_server_request(fake_server *fs, size_t i) {
  pthread_mutex_lock(&fs->mu);
  const fake_request *r = i < fs->n_reqs ? fs->reqs[i] : NULL;
  pthread_mutex_unlock(&fs->mu);
  return r;
}

int fake_server_wait(fake_server *fs, size_t n, long timeout_ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  int rc = 0;
  pthread_mutex_lock(&fs->mu);
  while (fs->n_reqs < n) {
    if (pthread_cond_timedwait(&fs->cv, &fs->mu, &until) == ETIMEDOUT) {
      rc = fs->n_reqs >= n ? 0 : -1;
      break;
    }
  }
  pthread_mutex_unlock(&fs->mu);
  return rc;
}
