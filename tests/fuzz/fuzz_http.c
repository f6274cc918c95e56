/* fuzz_http.c - libFuzzer target for what the HTTP layer parses out of a
 * request before any handler runs: the trusted-proxy list and
 * X-Forwarded-For (first line: the list; each further line: one header
 * value), the route table's matcher and the static-file lookup (the whole
 * input as a path). Nothing may crash, leak or read out of bounds, and the
 * chosen client address is always an address or the peer. */
#include <arpa/inet.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/arena.h"
#include "http/proxy.h"
#include "http/route.h"
#include "http/static.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = malloc(size + 1);
  if (!text) return 0;
  memcpy(text, data, size);
  text[size] = '\0';
  size_t len = strlen(text); /* up to an embedded NUL, as C strings go */

  /* As a path. */
  arena *a = arena_new();
  api_req req = {0};
  req.a = a;
  req.method = "GET";
  req.path = text;
  req.query = "";
  api_resp resp;
  api_resp_init(&resp);
  (void)route_match(http_routes, http_routes_count, &req, &resp);
  (void)static_find(text);
  api_resp_free(&resp);
  arena_free(a);

  /* As a proxy list and X-Forwarded-For values. */
  const char *xff[8];
  size_t n = 0;
  char *nl = memchr(text, '\n', len);
  if (nl) {
    *nl = '\0';
    char *p = nl + 1;
    while (p && n < 8) {
      xff[n++] = p;
      p = strchr(p, '\n');
      if (p) *p++ = '\0';
    }
  }
  proxy_list l;
  char err[128];
  if (proxy_list_parse(text, &l, err, sizeof err) == 0) {
    char out[PROXY_ADDR_MAX];
    proxy_client(&l, "127.0.0.1", xff, n, out);
    unsigned char buf[16];
    if (strcmp(out, "127.0.0.1") && inet_pton(AF_INET, out, buf) != 1 &&
        inet_pton(AF_INET6, out, buf) != 1)
      abort(); /* a made-up client address */
  }
  free(text);
  return 0;
}
