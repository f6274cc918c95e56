/* server_int.h - (internal) the realtime server's state shared by
 * server.c (start, stop, counters, reconnect parking) and ws.c (the
 * WebSocket thread). The SSE streams may use the counters too. */
#ifndef MUNSHI_REALTIME_SERVER_INT_H
#define MUNSHI_REALTIME_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>

#include "realtime/channel.h"
#include "realtime/feed.h"
#include "realtime/realtime.h"
#include "realtime/sse.h"

typedef struct rt_ws rt_ws;

typedef struct rt_owner {
  char key[64];
  int n;  /* sockets */
  int nb; /* postgres_changes bindings */
} rt_owner;

typedef struct rt_parked {
  char *key;
  rt_pos acked;
  int64_t until_us; /* monotonic */
} rt_parked;

struct rt_server {
  rt_config cfg; /* with the defaults filled in */
  char *db_url;
  rt_hub *hub;
  rt_feed *feed;
  rt_ws *ws;
  rt_sses *sse; /* the SSE streams (sse.c) */
  _Atomic int nsockets; /* WebSockets and SSE streams open */
  pthread_mutex_t mu;   /* owners and parked */
  rt_owner *owners;
  int nowners, owners_cap;
  rt_parked *parked;
  int nparked, parked_cap;
};

/* Takes one of the process's max_sockets slots: 0, or -1 when full. */
int rt_server_slot_take(rt_server *s);
void rt_server_slot_drop(rt_server *s);
/* Counts one socket against owner ("u:<sub>", "a:<address>"): 0, or -1
 * at max_sockets_per_user. */
int rt_server_owner_take(rt_server *s, const char *owner);
void rt_server_owner_drop(rt_server *s, const char *owner);
/* Counts n bindings against owner: 0, or -1 past max_bindings_user. */
int rt_server_bind_take(rt_server *s, const char *owner, int n);
void rt_server_bind_drop(rt_server *s, const char *owner, int n);
/* Reconnect parking (see channel.h), for window_s seconds. */
void rt_server_park(rt_server *s, const char *key, rt_pos acked);
int rt_server_unpark(rt_server *s, const char *key, rt_pos *acked);

/* The WebSocket thread (ws.c). */
int rt_ws_start(rt_server *s, rt_ws **out, char *err, size_t errlen);
void rt_ws_stop(rt_ws *w); /* closes what is left; accepts NULL */
/* The hub's sink of the WebSocket thread. */
void rt_ws_deliver(void *cls, rt_change *c);
void rt_ws_gap(void *cls);

#endif
