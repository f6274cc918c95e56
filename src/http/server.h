/* server.h - the HTTP front: libmicrohttpd with an epoll thread pool, one
 * database connection per worker thread, request bodies capped, every
 * answer JSON with CORS headers so a browser front end can call us. */
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
} http_config;

typedef struct http_server http_server;

/* Starts serving; returns 0 and the server, or -1 with a message in err. */
int http_start(const http_config *cfg, http_server **out, char *err,
               size_t errlen);
/* The port actually bound (useful with port 0). */
int http_port(const http_server *s);
/* Stops accepting, waits for the workers, closes their connections. */
void http_stop(http_server *s);

#endif
