/* upgrade.h - the WebSocket opening handshake on libmicrohttpd's HTTP
 * Upgrade (RFC 6455 section 4.2), for /realtime/v1/websocket.
 *
 * The route handler checks the request (Upgrade and Connection headers,
 * version 13, a key of 16 bytes, vsn, a valid apikey) and answers either an
 * error in our shape or status 101 with the Upgrade and
 * Sec-WebSocket-Accept headers set. server.c sends a 101 answer with
 * upgrade_send instead of a plain response; once libmicrohttpd has sent it,
 * the socket is handed to the realtime module (rt_ws_adopt), which owns it
 * until it asks us to close it. */
#ifndef MUNSHI_HTTP_UPGRADE_H
#define MUNSHI_HTTP_UPGRADE_H

#include <microhttpd.h>

#include "base/api.h"
#include "http/route.h"
#include "realtime/realtime.h"

/* The route of GET /realtime/v1/websocket (ROUTE_PUBLIC: it reads the
 * apikey from the query itself, where browsers put it). */
void upgrade_ws_route(const route_ctx *rc, api_req *req, api_resp *resp);

/* Sec-WebSocket-Accept for a key: base64(SHA-1(key + the RFC's GUID));
 * out holds 29 bytes. 0, or -1 when the key is not 16 bytes in base64. */
#define UPGRADE_ACCEPT_LEN 28
int upgrade_accept(const char *key, char out[UPGRADE_ACCEPT_LEN + 1]);

/* Queues the 101 answer resp on conn. The hand-over state lives in *slot
 * until libmicrohttpd calls back with the socket; if the connection ends
 * before that, the caller frees it with upgrade_forget(*slot) when the
 * request completes. */
enum MHD_Result upgrade_send(struct MHD_Connection *conn, const api_resp *resp,
                             rt_server *rt, const char *query,
                             const char *remote, void **slot);
void upgrade_forget(void *slot_value); /* accepts NULL */

#endif
