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
/* Which channels may see a change: channels listed under (tenant, table),
 * so a change visits only the channels of its own tenant (and the service
 * role's) that watch its table, never every socket. */
typedef struct rt_index rt_index;
rt_index *rt_index_new(void);
void rt_index_free(rt_index *ix); /* after every session is gone */

/* What every session of a process shares (ws.c owns it). The hooks may be
 * NULL: no per-user cap, no reconnect parking, no replay. */
typedef struct rt_env {
  auth *au;
  int max_channels;         /* per socket */
  int max_bindings;         /* per channel */
  int max_bindings_socket;  /* on all channels of a socket; 0: no cap */
  rt_index *idx;            /* NULL: rt_env_deliver finds nothing */
  int64_t (*now_s)(void);   /* NULL: the wall clock */
  /* The newest change the WebSocket thread has handed to the sessions: a
   * channel joined now gets the changes after it. */
  rt_pos seen;
  /* Sockets per owner ("a:<address>" before a user joins, "u:<sub>"
   * after): take returns 0, or -1 when the owner is at its cap. */
  int (*owner_take)(void *cls, const char *owner);
  void (*owner_drop)(void *cls, const char *owner);
  /* Bindings per owner (the channel's principal: "u:<sub>", or the
   * address for anon; the service role is not capped): take returns 0,
   * or -1 when n more would pass the cap. */
  int (*bind_take)(void *cls, const char *owner, int n);
  void (*bind_drop)(void *cls, const char *owner, int n);
  /* Reconnect: a channel whose socket dropped is parked under its key with
   * the position up to which the client is known to have received; a join
   * with the same key claims it (1, *acked set) within the window. */
  void (*park)(void *cls, const char *key, rt_pos acked);
  int (*unpark)(void *cls, const char *key, rt_pos *acked);
  /* Sends (through rt_sess_deliver_to) what the channel missed after
   * `after`, up to seen. 0; 1 when some changes were already purged; -1;
   * or RT_REPLAY_LATER: it will be read elsewhere and delivered later, then
   * rt_chan_replayed called; until then the channel's live changes are
   * held (in order, bounded). replay_cancel: the channel is going before
   * that happened. RT_REPLAY_BUSY: not replayed (too many at once). */
  int (*replay)(void *cls, rt_sess *s, rt_chan *ch, rt_pos after);
  void (*replay_cancel)(void *cls, rt_chan *ch);
  void *cls;
} rt_env;

#define RT_REPLAY_LATER 2
#define RT_REPLAY_BUSY 3
#define RT_REPLAY_CUT 4 /* rt_chan_replayed: too many to replay, cut short */

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
/* A change to every channel of every session of env that may see it,
 * through env->idx: the cost is the channels of the change's tenant (and
 * the service role's) watching its table, whatever the number of sockets. */
void rt_env_deliver(rt_env *env, const rt_change *c);
/* The same for one channel, without the position check (replay). */
void rt_sess_deliver_to(rt_sess *s, rt_chan *ch, const rt_change *c);
/* A replay that answered RT_REPLAY_LATER is in (its changes already sent
 * through rt_sess_deliver_to): rc as replay's (0, 1, -1, RT_REPLAY_CUT);
 * the changes held meanwhile go out now. */
void rt_chan_replayed(rt_sess *s, rt_chan *ch, int rc);
/* The position a channel's live changes start after (its join's). */
rt_pos rt_chan_from(const rt_chan *ch);

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
