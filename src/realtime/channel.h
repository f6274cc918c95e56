/* channel.h - (internal) the Phoenix side of one WebSocket: its channels,
 * their postgres_changes bindings, tokens, heartbeats, and the fan-out of a
 * change to the bindings that match it. No sockets here: the session hands
 * each frame to write to a send callback and asks the WebSocket layer to
 * close through another, so tests drive it with plain strings.
 *
 * All of it runs on the one WebSocket thread (ws.c), which owns every
 * session; nothing here locks. */
#ifndef MUNSHI_REALTIME_CHANNEL_H
#define MUNSHI_REALTIME_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "base/api.h"
#include "realtime/change.h"
#include "realtime/phoenix.h"

typedef struct rt_sess rt_sess;
typedef struct rt_chan rt_chan;

/* What every session of a process shares (ws.c owns it). The hooks may be
 * NULL: no per-user cap, no reconnect parking, no replay. */
typedef struct rt_env {
  auth *au;
  int max_channels;         /* per socket */
  int max_bindings;         /* per channel */
  int64_t (*now_s)(void);   /* NULL: the wall clock */
  /* The newest change the WebSocket thread has handed to the sessions: a
   * channel joined now gets the changes after it. */
  rt_pos seen;
  /* Sockets per owner ("a:<address>" before a user joins, "u:<sub>"
   * after): take returns 0, or -1 when the owner is at its cap. */
  int (*owner_take)(void *cls, const char *owner);
  void (*owner_drop)(void *cls, const char *owner);
  /* Reconnect: a channel whose socket dropped is parked under its key with
   * the position up to which the client is known to have received; a join
   * with the same key claims it (1, *acked set) within the window. */
  void (*park)(void *cls, const char *key, rt_pos acked);
  int (*unpark)(void *cls, const char *key, rt_pos *acked);
  /* Sends (through rt_sess_deliver_to) what the channel missed after
   * `after`, up to seen. 0; 1 when some changes were already purged; -1. */
  int (*replay)(void *cls, rt_sess *s, rt_chan *ch, rt_pos after);
  void *cls;
} rt_env;

/* Queues one text frame on the socket; returns 0, or -1 when the socket
 * cannot take it (it is then being closed). */
typedef int (*rt_send_fn)(void *cls, const char *text, size_t n);
/* Asks for the socket to be closed with a close frame (code, reason). */
typedef void (*rt_close_req_fn)(void *cls, int code, const char *reason);

/* A new session for a socket from `remote`, speaking vsn, whose URL gave
 * apikey (NULL: none; the token a join without access_token uses). NULL
 * when remote is at its socket cap (nothing to undo). */
rt_sess *rt_sess_new(rt_env *env, phx_vsn vsn, const char *remote,
                     const char *apikey, rt_send_fn send, rt_close_req_fn close,
                     void *cls);
/* The socket is gone. park: it dropped without a phx_leave, so its
 * channels are parked for a reconnect (not when the server closed it).
 * Accepts NULL. */
void rt_sess_free(rt_sess *s, int park);

/* One text frame from the client. */
void rt_sess_on_text(rt_sess *s, const char *text, size_t n);
/* A change from the feed: sent to every channel of the session with a
 * binding that matches it and whose token may read the row. */
void rt_sess_deliver(rt_sess *s, const rt_change *c);
/* The same for one channel, without the position check (replay). */
void rt_sess_deliver_to(rt_sess *s, rt_chan *ch, const rt_change *c);
/* The feed skipped changes: every channel is told with a system message. */
void rt_sess_gap(rt_sess *s);
/* Ends channels whose token has expired (a system error, then phx_close). */
void rt_sess_tick(rt_sess *s);
/* Joined channels (for tests and caps). */
int rt_sess_channels(const rt_sess *s);

/* For the replay hook: the channel's principal and its tables (NULL in
 * *tables when a binding watches every table; n set to 0 then). */
const api_principal *rt_chan_who(const rt_chan *ch);
int rt_chan_tables(const rt_chan *ch, const rest_table **out, int max);

/* The exp claim of a token already verified (0 when absent or unreadable). */
int64_t rt_token_exp(const char *token);

#endif
