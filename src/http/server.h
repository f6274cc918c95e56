/* server.h - the HTTP front: libmicrohttpd with an epoll thread pool, one
 * database connection per worker thread, request bodies capped, every
 * answer JSON with CORS headers so a browser front end can call us. Slow
 * routes run on a small offload pool; connections are limited in number
 * (in all and per address) and must send their headers within a deadline. */
#ifndef MUNSHI_HTTP_SERVER_H
#define MUNSHI_HTTP_SERVER_H

#include <stddef.h>

#include "auth/auth.h"

typedef struct http_config {
  const char *listen; /* IPv4 or IPv6 address */
  int port;
  int threads;
  size_t max_body;
  const char *db_url;
  auth *au;
  /* Peers whose X-Forwarded-For is believed (see http/proxy.h); NULL or "":
   * none. */
  const char *trusted_proxies;
  int max_conns;        /* open connections in all; 0: libmicrohttpd's */
  int max_conns_per_ip; /* from one address; 0: no limit */
  int header_timeout_ms; /* request line + headers due within; 0: 10 s */
  int offload_threads;  /* threads of the offload pool; 0: 2 */
  int offload_queue;    /* jobs waiting beyond those running (0: none) */
  int ops_threads;      /* threads of the operations pool; 0: by backend */
  int ops_queue;        /* operations waiting beyond those; 0: HTTP_OPS_QUEUE */
  struct rt_server *rt; /* realtime: WebSockets are handed to it; NULL: none */
} http_config;

typedef struct http_server http_server;

/* Starts serving; returns 0 and the server, or -1 with a message in err. */
int http_start(const http_config *cfg, http_server **out, char *err,
               size_t errlen);
/* The port actually bound (useful with port 0). */
int http_port(const http_server *s);
/* Stops accepting, finishes the offloaded requests, waits for the workers,
 * closes their connections. Accepts NULL. */
void http_stop(http_server *s);

#endif
