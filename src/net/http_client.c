/* http_client.c - outgoing HTTP(S) on libcurl (see http_client.h).
 *
 * libcurl is set up once per process (pthread_once) and used through one
 * easy handle per thread, kept in a thread key: curl_easy_reset clears the
 * options between calls but keeps the handle's connection cache, DNS cache
 * and TLS sessions, which is what makes a second call to the same host
 * cheap. Options are set afresh on every call, so nothing of one request
 * leaks into the next.
 *
 * What is deliberately left at libcurl's default: proxies. libcurl reads
 * http_proxy (lower case only, against "httpoxy"), https_proxy/HTTPS_PROXY,
 * all_proxy and no_proxy from the environment for every new connection
 * unless CURLOPT_PROXY is set, so this file never sets CURLOPT_PROXY or
 * CURLOPT_NOPROXY. */
#include "net/http_client.h"

#include <curl/curl.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "net/ssrf.h"

#define NET_DEFAULT_ATTEMPTS 3
#define NET_DEFAULT_BASE_BACKOFF_MS 500L
#define NET_DEFAULT_MAX_BACKOFF_MS 30000L
#define NET_MAX_METHOD 16

static pthread_once_t net_once = PTHREAD_ONCE_INIT;
static pthread_key_t net_key;
static CURLcode net_init_rc = CURLE_FAILED_INIT;

static void handle_free(void *p) {
  curl_easy_cleanup(p);
}

static void net_init(void) {
  net_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (pthread_key_create(&net_key, handle_free) != 0)
    net_init_rc = CURLE_FAILED_INIT;
}

/* This thread's handle, reset for a new request; NULL if libcurl failed. */
static CURL *thread_handle(void) {
  pthread_once(&net_once, net_init);
  if (net_init_rc != CURLE_OK) return NULL;
  CURL *h = pthread_getspecific(net_key);
  if (h) {
    curl_easy_reset(h);
    return h;
  }
  h = curl_easy_init();
  if (h && pthread_setspecific(net_key, h) != 0) {
    curl_easy_cleanup(h);
    h = NULL;
  }
  return h;
}

void net_thread_cleanup(void) {
  pthread_once(&net_once, net_init);
  if (net_init_rc != CURLE_OK) return;
  CURL *h = pthread_getspecific(net_key);
  if (!h) return;
  pthread_setspecific(net_key, NULL);
  curl_easy_cleanup(h);
}

static const struct {
  const char *name;
  const char *text;
} net_errors[] = {
    [NET_OK] = {"ok", "no error"},
    [NET_ETIMEOUT] = {"timeout", "timed out"},
    [NET_ECONNECT] = {"connect",
                      "could not connect (refused, unreachable or "
                      "name not resolved)"},
    [NET_ETLS] = {"tls", "TLS handshake or certificate verification failed"},
    [NET_ETOOLARGE] = {"too_large", "response larger than allowed"},
    [NET_EURL] = {"bad_url", "not an http or https URL"},
    [NET_EBROKEN] = {"broken", "connection closed before a complete answer"},
    [NET_EBADREQ] = {"bad_request", "invalid request (method or header)"},
    [NET_EOTHER] = {"other", "request failed"},
    [NET_EBLOCKED] = {"blocked",
                      "the address is not allowed (loopback, private, "
                      "link-local, multicast or metadata)"},
};

const char *net_strerror(net_error e) {
  if ((unsigned)e >= sizeof net_errors / sizeof net_errors[0])
    return "unknown error";
  return net_errors[e].text;
}

const char *net_error_name(net_error e) {
  if ((unsigned)e >= sizeof net_errors / sizeof net_errors[0]) return "unknown";
  return net_errors[e].name;
}

static net_error map_curl(CURLcode c) {
  switch (c) {
    case CURLE_OK:
      return NET_OK;
    case CURLE_OPERATION_TIMEDOUT:
      return NET_ETIMEOUT;
    case CURLE_COULDNT_CONNECT:
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
      return NET_ECONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_SHUTDOWN_FAILED:
    case CURLE_USE_SSL_FAILED:
      return NET_ETLS;
    case CURLE_FILESIZE_EXCEEDED:
      return NET_ETOOLARGE;
    case CURLE_URL_MALFORMAT:
    case CURLE_UNSUPPORTED_PROTOCOL:
      return NET_EURL;
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
      return NET_EBROKEN;
    default:
      return NET_EOTHER;
  }
}

void net_result_init(net_result *res) {
  memset(res, 0, sizeof *res);
  buf_init(&res->body, 0);
}

static void kept_clear(net_result *res) {
  for (size_t i = 0; i < res->n_headers; i++) {
    free(res->headers[i].name);
    free(res->headers[i].value);
  }
  res->n_headers = 0;
}

void net_result_free(net_result *res) {
  if (!res) return;
  kept_clear(res);
  buf_free(&res->body);
}

const char *net_result_header(const net_result *res, const char *name) {
  for (size_t i = 0; i < res->n_headers; i++)
    if (strcasecmp(res->headers[i].name, name) == 0)
      return res->headers[i].value;
  return NULL;
}

/* State the libcurl callbacks share during one transfer. */
typedef struct xfer {
  const net_req *req;
  const char *extra_keep; /* one more header to keep (the retry helper's) */
  net_result *res;
  bool too_large;
  bool guard;   /* check the address of every socket opened */
  const char *allow; /* guard_allow, matched by address here */
  bool blocked; /* a socket was refused */
} xfer;

/* guard_private's last check: the address libcurl is about to connect to,
 * whatever brought it there (a pinned name, a literal, a redirect). */
static curl_socket_t on_open_socket(void *ud, curlsocktype purpose,
                                    struct curl_sockaddr *addr) {
  xfer *x = ud;
  (void)purpose;
  if (x->guard && net_addr_forbidden(&addr->addr)) {
    char ip[INET6_ADDRSTRLEN] = "";
    long port = 0;
    if (addr->family == AF_INET) {
      const struct sockaddr_in *s4 = (const void *)&addr->addr;
      inet_ntop(AF_INET, &s4->sin_addr, ip, sizeof ip);
      port = ntohs(s4->sin_port);
    } else if (addr->family == AF_INET6) {
      const struct sockaddr_in6 *s6 = (const void *)&addr->addr;
      inet_ntop(AF_INET6, &s6->sin6_addr, ip, sizeof ip);
      port = ntohs(s6->sin6_port);
    }
    if (!ip[0] || !net_host_allowed(x->allow, ip, port)) {
      x->blocked = true;
      return CURL_SOCKET_BAD;
    }
  }
  return socket(addr->family, addr->socktype, addr->protocol);
}

/* Resolves host, refuses a forbidden address, and pins host:port to the
 * addresses checked (*pin, for CURLOPT_RESOLVE). 0, or -1 with res set. */
static int guard_resolve(const char *host, long port, struct curl_slist **pin,
                         net_result *res) {
  char name[256];
  size_t hl = strlen(host);
  /* CURLUPART_HOST gives IPv6 literals in brackets */
  if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') {
    host++;
    hl -= 2;
  }
  if (hl == 0 || hl >= sizeof name) {
    res->err = NET_EURL;
    snprintf(res->message, sizeof res->message, "bad host");
    return -1;
  }
  memcpy(name, host, hl);
  name[hl] = '\0';
  struct addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof hints);
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  int g = getaddrinfo(name, NULL, &hints, &ai);
  if (g != 0 || !ai) {
    res->err = NET_ECONNECT;
    snprintf(res->message, sizeof res->message, "could not resolve host");
    return -1;
  }
  buf line;
  buf_init(&line, 4096);
  buf_printf(&line, "%s:%ld:", name, port);
  int rc = 0, n = 0;
  for (struct addrinfo *p = ai; p; p = p->ai_next) {
    if (net_addr_forbidden(p->ai_addr)) {
      rc = -1;
      break;
    }
    char t[INET6_ADDRSTRLEN];
    const void *src = p->ai_family == AF_INET
        ? (const void *)&((struct sockaddr_in *)(void *)p->ai_addr)->sin_addr
        : (const void *)&((struct sockaddr_in6 *)(void *)p->ai_addr)->sin6_addr;
    if (!inet_ntop(p->ai_family, src, t, sizeof t)) continue;
    buf_printf(&line, p->ai_family == AF_INET6 ? "%s[%s]" : "%s%s",
               n ? "," : "", t);
    n++;
  }
  freeaddrinfo(ai);
  if (rc) {
    res->err = NET_EBLOCKED;
    snprintf(res->message, sizeof res->message,
             "the host resolves to an address that is not allowed");
  } else if (!n) {
    rc = -1;
    res->err = NET_ECONNECT;
    snprintf(res->message, sizeof res->message, "could not resolve host");
  } else {
    struct curl_slist *s = curl_slist_append(NULL, buf_cstr(&line));
    if (!s) {
      rc = -1;
      res->err = NET_EOTHER;
      snprintf(res->message, sizeof res->message, "out of memory");
    }
    *pin = s;
  }
  buf_free(&line);
  return rc;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  if (buf_append(&x->res->body, p, len)) {
    /* Returning less than len makes libcurl stop with CURLE_WRITE_ERROR. */
    x->too_large = true;
    return 0;
  }
  return len;
}

static bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

/* Called once per header line, the status lines included, for every
 * response of the transfer (100 Continue, followed redirects). */
static size_t on_header(char *p, size_t size, size_t n, void *ud) {
  xfer *x = ud;
  size_t len = size * n;
  if (len >= 5 && memcmp(p, "HTTP/", 5) == 0) {
    kept_clear(x->res); /* only the final response's headers count */
    return len;
  }
  const char *colon = memchr(p, ':', len);
  if (!colon || colon == p || is_ows(p[0])) return len; /* folded, blank */
  size_t nlen = (size_t)(colon - p);
  size_t n_want = x->req->n_keep + (x->extra_keep ? 1 : 0);
  for (size_t i = 0; i < n_want; i++) {
    const char *want =
        i < x->req->n_keep ? x->req->keep_headers[i] : x->extra_keep;
    if (strlen(want) != nlen || strncasecmp(want, p, nlen) != 0) continue;
    const char *v = colon + 1;
    const char *end = p + len;
    while (v < end && is_ows(*v)) v++;
    while (end > v && (is_ows(end[-1]) || end[-1] == '\r' || end[-1] == '\n'))
      end--;
    char *value = xstrndup(v, (size_t)(end - v));
    net_result *res = x->res;
    size_t k = 0;
    while (k < res->n_headers && strcasecmp(res->headers[k].name, want) != 0)
      k++;
    if (k < res->n_headers) {
      free(res->headers[k].value);
      res->headers[k].value = value;
    } else {
      res->headers[k].name = xstrdup(want);
      res->headers[k].value = value;
      res->n_headers++;
    }
    break;
  }
  return len;
}

static bool tchar(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
      (c >= '0' && c <= '9'))
    return true;
  return c && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A header that would let the caller's data forge another header, or that
 * libcurl would read as an instruction ("Name;"), is refused. */
static bool header_ok(const net_header *h) {
  if (!h->name || !h->value || !*h->name) return false;
  for (const char *s = h->name; *s; s++)
    if (!tchar((unsigned char)*s)) return false;
  for (const unsigned char *s = (const unsigned char *)h->value; *s; s++)
    if (*s == '\r' || *s == '\n' || (*s < 0x20 && *s != '\t') || *s == 0x7f)
      return false;
  return true;
}

static bool has_header(const net_req *req, const char *name) {
  for (size_t i = 0; i < req->n_headers; i++)
    if (strcasecmp(req->headers[i].name, name) == 0) return true;
  return false;
}

static void fail(net_result *res, net_error e, const char *detail) {
  res->err = e;
  snprintf(res->message, sizeof res->message, "%s", detail ? detail : "");
}

#define SETOPT(h, opt, val)                                  \
  do {                                                       \
    if (curl_easy_setopt((h), (opt), (val)) != CURLE_OK) {   \
      fail(res, NET_EOTHER, "libcurl refused option " #opt); \
      goto out;                                              \
    }                                                        \
  } while (0)

/* net_request, keeping extra_keep (may be NULL) as well as the caller's
 * headers. */
static int do_request(const net_req *req, const char *extra_keep,
                      net_result *res) {
  int rc = -1;
  struct curl_slist *hdrs = NULL, *pin = NULL;
  CURLU *url = NULL;
  char *port = NULL;
  char *host = NULL;
  char *scheme = NULL;
  const char *method = req->method ? req->method : "GET";
  xfer x = {.req = req, .extra_keep = extra_keep, .res = res};

  net_result_init(res);
  res->attempts = 1;
  buf_init(&res->body,
           req->max_response ? req->max_response : NET_DEFAULT_MAX_RESPONSE);

  size_t mlen = strlen(method);
  if (mlen == 0 || mlen > NET_MAX_METHOD) {
    fail(res, NET_EBADREQ, "invalid method");
    goto out;
  }
  for (size_t i = 0; i < mlen; i++) {
    if (method[i] < 'A' || method[i] > 'Z') {
      fail(res, NET_EBADREQ, "invalid method");
      goto out;
    }
  }
  if (req->n_keep > NET_MAX_KEEP_HEADERS) {
    fail(res, NET_EBADREQ, "too many response headers asked for");
    goto out;
  }
  if (req->body_len && !req->body) {
    fail(res, NET_EBADREQ, "body_len without a body");
    goto out;
  }

  /* The URL is parsed here, not guessed at by libcurl: no scheme, or one
   * other than http/https, is refused before anything is sent. */
  url = curl_url();
  if (!url) {
    fail(res, NET_EOTHER, "out of memory");
    goto out;
  }
  if (!req->url || curl_url_set(url, CURLUPART_URL, req->url, 0) != CURLUE_OK ||
      curl_url_get(url, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(url, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
    fail(res, NET_EURL, "not a valid absolute URL");
    goto out;
  }
  if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
    fail(res, NET_EURL, "only http and https URLs are allowed");
    goto out;
  }
  if (req->guard_private) {
    if (curl_url_get(url, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) !=
        CURLUE_OK) {
      fail(res, NET_EURL, "not a valid absolute URL");
      goto out;
    }
    long pnum = strtol(port, NULL, 10);
    const char *bare = host;
    char unb[256];
    size_t hl = strlen(host);
    if (hl >= 2 && hl < sizeof unb && host[0] == '[' && host[hl - 1] == ']') {
      memcpy(unb, host + 1, hl - 2);
      unb[hl - 2] = '\0';
      bare = unb;
    }
    x.allow = req->guard_allow;
    /* An allowed host is reached as it resolves; with redirects followed,
     * every other connection is still checked (by address). */
    x.guard = !net_host_allowed(req->guard_allow, bare, pnum) ||
              req->follow_redirects;
    if (!net_host_allowed(req->guard_allow, bare, pnum)) {
      if (guard_resolve(host, pnum, &pin, res)) {
        log_warn("net: %s %s refused: %s", method, host,
                 net_error_name(res->err));
        goto out;
      }
    }
  }

  for (size_t i = 0; i < req->n_headers; i++) {
    if (!header_ok(&req->headers[i])) {
      fail(res, NET_EBADREQ, "invalid request header");
      goto out;
    }
    /* "Name:" with nothing after it would tell libcurl to drop its own
     * header of that name; "Name;" is how an empty value is sent. */
    buf line;
    buf_init(&line, 0);
    if (req->headers[i].value[0])
      buf_printf(&line, "%s: %s", req->headers[i].name, req->headers[i].value);
    else
      buf_printf(&line, "%s;", req->headers[i].name);
    struct curl_slist *n = curl_slist_append(hdrs, buf_cstr(&line));
    buf_free(&line);
    if (!n) {
      fail(res, NET_EOTHER, "out of memory");
      goto out;
    }
    hdrs = n;
  }
  /* libcurl would add "Expect: 100-continue" to large bodies (a wasted
   * round trip, and some APIs answer 417) and a form Content-Type to any
   * body; the caller says what the body is, or nothing is said. */
  const char *drop[] = {"Expect:", "Content-Type:"};
  for (size_t i = 0; i < 2; i++) {
    if (i == 1 && has_header(req, "Content-Type")) break;
    struct curl_slist *n = curl_slist_append(hdrs, drop[i]);
    if (!n) {
      fail(res, NET_EOTHER, "out of memory");
      goto out;
    }
    hdrs = n;
  }

  CURL *h = thread_handle();
  if (!h) {
    fail(res, NET_EOTHER, "libcurl could not be initialised");
    goto out;
  }
  char errbuf[CURL_ERROR_SIZE];
  errbuf[0] = '\0';
  SETOPT(h, CURLOPT_CURLU, url);
  SETOPT(h, CURLOPT_ERRORBUFFER, errbuf);
  SETOPT(h, CURLOPT_NOSIGNAL, 1L);
  SETOPT(h, CURLOPT_NOPROGRESS, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
  SETOPT(h, CURLOPT_PROTOCOLS_STR, "http,https");
  SETOPT(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
  SETOPT(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
  SETOPT(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
  SETOPT(h, CURLOPT_SSL_VERIFYPEER, 1L);
  SETOPT(h, CURLOPT_SSL_VERIFYHOST, 2L);
  if (req->ca_pem) {
    struct curl_blob blob = {.data = (void *)req->ca_pem,
                             .len = strlen(req->ca_pem),
                             .flags = CURL_BLOB_COPY};
    SETOPT(h, CURLOPT_CAINFO_BLOB, &blob);
  }
  SETOPT(h, CURLOPT_CONNECTTIMEOUT_MS,
         req->connect_timeout_ms > 0 ? req->connect_timeout_ms
                                     : NET_DEFAULT_CONNECT_TIMEOUT_MS);
  SETOPT(h, CURLOPT_TIMEOUT_MS,
         req->timeout_ms > 0 ? req->timeout_ms : NET_DEFAULT_TIMEOUT_MS);
  /* A Content-Length over the cap is refused before the body is read;
   * a chunked body is stopped by on_body when it passes the cap. */
  SETOPT(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)res->body.max);
  SETOPT(h, CURLOPT_FOLLOWLOCATION, req->follow_redirects ? 1L : 0L);
  SETOPT(h, CURLOPT_MAXREDIRS, NET_MAX_REDIRECTS);
  SETOPT(h, CURLOPT_USERAGENT, "munshi/" MUNSHI_VERSION);
  SETOPT(h, CURLOPT_HTTPHEADER, hdrs);
  SETOPT(h, CURLOPT_WRITEFUNCTION, on_body);
  SETOPT(h, CURLOPT_WRITEDATA, &x);
  SETOPT(h, CURLOPT_HEADERFUNCTION, on_header);
  SETOPT(h, CURLOPT_HEADERDATA, &x);
  if (req->guard_private) {
    if (pin) SETOPT(h, CURLOPT_RESOLVE, pin);
    SETOPT(h, CURLOPT_PROXY, ""); /* the pinned address is the one reached */
  }
  if (x.guard) {
    SETOPT(h, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    SETOPT(h, CURLOPT_OPENSOCKETDATA, &x);
  }

  bool has_body = req->body_len > 0;
  bool wants_length = !strcmp(method, "POST") || !strcmp(method, "PUT") ||
                      !strcmp(method, "PATCH");
  if (!strcmp(method, "HEAD")) {
    SETOPT(h, CURLOPT_NOBODY, 1L);
  } else if (!strcmp(method, "GET") && !has_body) {
    SETOPT(h, CURLOPT_HTTPGET, 1L);
  } else {
    if (has_body || wants_length) {
      /* Not copied: the body outlives the transfer, which ends here. */
      SETOPT(h, CURLOPT_POSTFIELDS, has_body ? req->body : (const void *)"");
      SETOPT(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }
    if (strcmp(method, "POST") != 0) SETOPT(h, CURLOPT_CUSTOMREQUEST, method);
  }

  CURLcode cc = curl_easy_perform(h);
  long status = 0;
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  res->status = status;
  /* The handle stays with the thread; nothing may point into this frame. */
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, NULL);
  curl_easy_setopt(h, CURLOPT_CURLU, NULL);

  if (cc == CURLE_OK) {
    rc = 0;
    log_debug("net: %s %s -> %ld", method, host, status);
    goto out;
  }
  if (x.too_large) {
    fail(res, NET_ETOOLARGE, "response body over the cap");
  } else if (x.blocked) {
    fail(res, NET_EBLOCKED, "the address is not allowed");
  } else {
    fail(res, map_curl(cc), errbuf[0] ? errbuf : curl_easy_strerror(cc));
  }
  log_warn("net: %s %s failed: %s (status %ld)", method, host,
           net_error_name(res->err), status);

out:
  if (rc != 0) {
    /* Never hand back part of a body as if it were the answer. */
    buf_free(&res->body);
    kept_clear(res);
  }
  curl_slist_free_all(hdrs);
  curl_slist_free_all(pin);
  curl_free(port);
  curl_free(host);
  curl_free(scheme);
  curl_url_cleanup(url);
  return rc;
}

int net_request(const net_req *req, net_result *res) {
  return do_request(req, NULL, res);
}

/* ---- retries ---- */

int net_retry_after_ms(const char *value, int64_t now_s, long *out_ms) {
  if (!value) return -1;
  while (is_ows(*value)) value++;
  if (*value >= '0' && *value <= '9') {
    /* delta-seconds: digits only; anything huge saturates, the caller caps */
    int64_t s = 0;
    const char *p = value;
    for (; *p >= '0' && *p <= '9'; p++)
      if (s < 100000000) s = s * 10 + (*p - '0');
    while (is_ows(*p)) p++;
    if (*p) return -1;
    *out_ms = (long)(s * 1000);
    return 0;
  }
  /* An HTTP date; curl_getdate takes IMF-fixdate and the obsolete forms. */
  time_t t = curl_getdate(value, NULL);
  if (t == (time_t)-1) return -1;
  int64_t d = (int64_t)t - now_s;
  if (d < 0) d = 0;
  if (d > 100000000) d = 100000000;
  *out_ms = (long)(d * 1000);
  return 0;
}

static bool status_retryable(long status, const net_retry_policy *p) {
  if (status == 429 || status == 503) return true;
  if (p->only_unprocessed) return false;
  if (status == 502 || status == 504) return true;
  return status == 500 && p->retry_on_500;
}

static bool error_retryable(net_error e, const net_retry_policy *p) {
  if (e == NET_ECONNECT) return true;
  if (p->only_unprocessed) return false;
  return e == NET_ETIMEOUT || e == NET_EBROKEN;
}

static void real_sleep(void *ctx, long ms) {
  (void)ctx;
  struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* Jitter needs no secrecy, only that threads do not march in step. */
static uint64_t jitter_next(void) {
  static _Thread_local uint64_t s;
  if (!s) s = (uint64_t)time_mono_us() ^ (uint64_t)(uintptr_t)&s;
  s ^= s << 13;
  s ^= s >> 7;
  s ^= s << 17;
  return s;
}

int net_request_retry(const net_req *req, const net_retry_policy *policy,
                      net_result *res) {
  net_retry_policy p = {0};
  if (policy) p = *policy;
  if (p.max_attempts <= 0) p.max_attempts = NET_DEFAULT_ATTEMPTS;
  if (p.base_backoff_ms <= 0) p.base_backoff_ms = NET_DEFAULT_BASE_BACKOFF_MS;
  if (p.max_backoff_ms <= 0) p.max_backoff_ms = NET_DEFAULT_MAX_BACKOFF_MS;
  if (!p.sleep_ms) p.sleep_ms = real_sleep;

  /* Retry-After must be seen whether or not the caller asked for it. */
  const char *extra = "Retry-After";
  for (size_t i = 0; i < req->n_keep; i++)
    if (strcasecmp(req->keep_headers[i], extra) == 0) extra = NULL;

  int rc = -1;
  for (int attempt = 1;; attempt++) {
    rc = do_request(req, extra, res);
    res->attempts = attempt;
    bool again = rc == 0 ? status_retryable(res->status, &p)
                         : error_retryable(res->err, &p);
    if (!again || attempt >= p.max_attempts) break;

    long wait = -1;
    if (rc == 0) {
      long ra;
      const char *v = net_result_header(res, "Retry-After");
      if (v && net_retry_after_ms(v, time_now_us() / 1000000, &ra) == 0)
        wait = ra;
    }
    if (wait < 0) {
      /* Equal jitter: at least half the exponential step, at most all. */
      long step = p.base_backoff_ms;
      for (int i = 1; i < attempt && step < p.max_backoff_ms; i++) step *= 2;
      if (step > p.max_backoff_ms) step = p.max_backoff_ms;
      long half = step / 2;
      wait = half + (long)(jitter_next() % (uint64_t)(step - half + 1));
    }
    if (wait > p.max_backoff_ms) wait = p.max_backoff_ms;
    if (rc == 0)
      log_info("net: attempt %d of %d got status %ld; retrying in %ld ms",
               attempt, p.max_attempts, res->status, wait);
    else
      log_info("net: attempt %d of %d failed (%s); retrying in %ld ms", attempt,
               p.max_attempts, net_error_name(res->err), wait);
    net_result_free(res);
    p.sleep_ms(p.sleep_ctx, wait);
  }
  return rc;
}
