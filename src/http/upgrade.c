/* upgrade.c - the WebSocket handshake (see upgrade.h).
 *
 * libmicrohttpd sends the 101 and then, on the connection's own thread,
 * calls on_upgraded with the socket and the bytes it already read past the
 * headers; from then on the connection is suspended as far as its loops
 * are concerned and the socket is realtime's. The socket is released only
 * through MHD_upgrade_action(urh, CLOSE) (close_upgraded), never close(2).
 * Upgraded sockets still count against libmicrohttpd's connection limits
 * (in all and per address). */
#include "http/upgrade.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/url.h"

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

int upgrade_accept(const char *key, char out[UPGRADE_ACCEPT_LEN + 1]) {
  /* The key is base64 of 16 random bytes: 22 characters and "==". */
  size_t n = strlen(key);
  if (n != 24 || key[22] != '=' || key[23] != '=') return -1;
  for (size_t i = 0; i < 22; i++) {
    char c = key[i];
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
          (c >= '0' && c <= '9') || c == '+' || c == '/'))
      return -1;
  }
  char in[24 + sizeof WS_GUID];
  memcpy(in, key, 24);
  memcpy(in + 24, WS_GUID, sizeof WS_GUID - 1);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int mdlen = 0;
  if (!EVP_Digest(in, 24 + sizeof WS_GUID - 1, md, &mdlen, EVP_sha1(), NULL) ||
      mdlen != 20)
    return -1;
  /* 20 bytes are 28 characters of base64 with one '='. */
  if (EVP_EncodeBlock((unsigned char *)out, md, 20) != UPGRADE_ACCEPT_LEN) return -1;
  out[UPGRADE_ACCEPT_LEN] = '\0';
  return 0;
}

/* 1 when the comma-separated header value v lists token (any case). */
static int has_token(const char *v, const char *token) {
  size_t tl = strlen(token);
  while (v && *v) {
    while (*v == ' ' || *v == '\t' || *v == ',') v++;
    const char *end = v;
    while (*end && *end != ',') end++;
    const char *e = end;
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    if ((size_t)(e - v) == tl && !strncasecmp(v, token, tl)) return 1;
    v = end;
  }
  return 0;
}

void upgrade_ws_route(const route_ctx *rc, api_req *req, api_resp *resp) {
  const char *up = req->header(req, "upgrade");
  const char *conn = req->header(req, "connection");
  const char *ver = req->header(req, "sec-websocket-version");
  const char *key = req->header(req, "sec-websocket-key");
  if (!up || !has_token(up, "websocket") || !conn || !has_token(conn, "upgrade")) {
    api_fail(resp, E_BAD_QUERY, "this is a WebSocket endpoint",
             "send Upgrade: websocket and Connection: Upgrade", NULL);
    return;
  }
  /* An upgrade request has no body (RFC 6455 4.1: a GET); bytes after its
   * headers are the first frames, so a body here would be read as frames,
   * or a smuggled request. */
  const char *cl = req->header(req, "content-length");
  if ((cl && strcmp(cl, "0")) || req->header(req, "transfer-encoding") ||
      req->body_len) {
    api_fail(resp, E_BAD_QUERY, "a WebSocket upgrade request carries no body",
             "send no Content-Length or Transfer-Encoding", NULL);
    api_header(resp, "Connection", "close");
    return;
  }
  if (!ver || strcmp(ver, "13")) {
    api_fail(resp, E_BAD_QUERY, "unsupported WebSocket version",
             "Sec-WebSocket-Version must be 13", NULL);
    api_header(resp, "Sec-WebSocket-Version", "13");
    return;
  }
  char *accept = arena_alloc(req->a, UPGRADE_ACCEPT_LEN + 1);
  if (!key || upgrade_accept(key, accept)) {
    api_fail(resp, E_BAD_QUERY, "Sec-WebSocket-Key must be 16 bytes in base64",
             NULL, NULL);
    return;
  }
  const char *vsn = NULL, *apikey = NULL;
  if (url_query_get(req->a, req->query, "vsn", &vsn) < 0 ||
      (vsn && strcmp(vsn, "1.0.0") && strcmp(vsn, "2.0.0"))) {
    api_fail(resp, E_BAD_QUERY, "vsn must be 1.0.0 or 2.0.0 (given once)", NULL,
             NULL);
    return;
  }
  if (url_query_get(req->a, req->query, "apikey", &apikey) < 0) {
    api_fail(resp, E_BAD_QUERY, "apikey is malformed or given more than once",
             NULL, NULL);
    return;
  }
  if (!apikey || !*apikey) apikey = req->header(req, "apikey");
  if (!apikey || !*apikey) {
    api_fail(resp, E_NO_AUTH,
             "No API key found in request: send the anon key as the apikey "
             "query parameter",
             NULL, NULL);
    return;
  }
  api_principal who;
  if (auth_verify_or_reply(rc->au, req->a, apikey, &who, resp)) return;
  if (!rc->rt) {
    api_fail(resp, E_UNAVAILABLE, "realtime is not running on this server", NULL,
             NULL);
    return;
  }
  resp->status = 101;
  api_header(resp, "Upgrade", "websocket");
  api_header(resp, "Sec-WebSocket-Accept", accept);
}

typedef struct handover {
  rt_server *rt;
  char *query, *remote;
  void **slot;
} handover;

void upgrade_forget(void *slot_value) {
  handover *h = slot_value;
  if (!h) return;
  free(h->query);
  free(h->remote);
  free(h);
}

static void close_upgraded(void *cls) {
  MHD_upgrade_action(cls, MHD_UPGRADE_ACTION_CLOSE);
}

static void on_upgraded(void *cls, struct MHD_Connection *c, void *con_cls,
                        const char *extra, size_t extra_len, MHD_socket sock,
                        struct MHD_UpgradeResponseHandle *urh) {
  (void)c;
  (void)con_cls;
  handover *h = cls;
  *h->slot = NULL; /* ours now; the request is still alive here */
  rt_ws_adopt(h->rt, sock, extra, extra_len, h->query, h->remote,
              close_upgraded, urh);
  upgrade_forget(h);
}

static enum MHD_Result refuse(struct MHD_Connection *conn) {
  api_resp r;
  api_resp_init(&r);
  api_fail(&r, E_BAD_QUERY, "a WebSocket upgrade needs HTTP/1.1",
           "send the upgrade request as HTTP/1.1", NULL);
  size_t len = r.body.len;
  char *data = buf_steal(&r.body);
  api_resp_free(&r);
  struct MHD_Response *mr =
      MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
  if (!mr) {
    free(data);
    return MHD_NO;
  }
  MHD_add_response_header(mr, "Content-Type", "application/json; charset=utf-8");
  MHD_add_response_header(mr, "Connection", "close");
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_BAD_REQUEST, mr);
  MHD_destroy_response(mr);
  return ret;
}

enum MHD_Result upgrade_send(struct MHD_Connection *conn, const api_resp *resp,
                             rt_server *rt, const char *query,
                             const char *remote, void **slot) {
  handover *h = xcalloc(1, sizeof *h);
  h->rt = rt;
  h->query = xstrdup(query ? query : "");
  h->remote = xstrdup(remote ? remote : "-");
  h->slot = slot;
  struct MHD_Response *mr = MHD_create_response_for_upgrade(on_upgraded, h);
  if (!mr) {
    upgrade_forget(h);
    return MHD_NO;
  }
  for (int i = 0; i < resp->nheaders; i++)
    MHD_add_response_header(mr, resp->headers[i].name, resp->headers[i].value);
  *slot = h;
  enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_SWITCHING_PROTOCOLS, mr);
  MHD_destroy_response(mr);
  if (ret != MHD_YES) {
    *slot = NULL;
    upgrade_forget(h);
    /* libmicrohttpd refuses to switch protocols on HTTP/1.0 (an upgrade
     * needs 1.1): answer why rather than closing without a byte. */
    ret = refuse(conn);
  }
  return ret;
}
