/* ws.c - the WebSocket thread: one epoll loop owns every upgraded socket,
 * so an idle socket costs its buffers and no thread.
 *
 * libwslay does the framing (masking, fragments, control frames, the close
 * handshake, the cap on a message's size); channel.c does the Phoenix
 * protocol. Three things wake the loop: a socket is readable or writable,
 * the eventfd (a socket handed over by the HTTP layer, changes queued by
 * the feed thread, a stop), and a one-second tick (tokens that expire,
 * sockets that went silent).
 *
 * Changes: the hub calls rt_ws_deliver on the feed thread; it only queues
 * a reference and wakes the loop, which fans the change out to every
 * session in order and then flushes each socket that got frames. A socket
 * whose unsent frames pass max_queue bytes is a client too slow to keep
 * up: it is dropped (its channels are parked, so a reconnect replays what
 * it missed) rather than letting it hold memory without bound. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <wslay/wslay.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/url.h"
#include "realtime/server_int.h"

/* A client that sent nothing (not even a heartbeat, every 25 s in
 * realtime-js) for this long is gone. */
#define WS_IDLE_US (60LL * 1000000)
/* Changes queued for the thread at most; past it the oldest are dropped
 * and every channel told (the loop is far behind). */
#define WS_MAX_QUEUED 200000
#define WS_MAX_EVENTS 256

typedef struct ws_conn ws_conn;
struct ws_conn {
  rt_ws *w;
  int fd;
  wslay_event_context_ptr ctx;
  rt_sess *sess;
  char *extra; /* bytes read by libmicrohttpd past the handshake */
  size_t extra_len, extra_off;
  char *query, *remote;
  rt_close_fn close_fn;
  void *close_cls;
  unsigned events;   /* registered with epoll */
  int dirty;         /* frames queued since the last flush */
  int dead;          /* to be freed at the end of this round */
  int park;          /* park its channels when freed */
  int server_closed; /* we sent or queued a close */
  int draining;      /* close handshake done: reading what is left */
  int64_t drain_until_us;
  int64_t last_rx_us;
  ws_conn *prev, *next;
};

struct rt_ws {
  rt_server *srv;
  pthread_t thread;
  int started;
  int epfd, evfd;
  rt_sink *sink;
  rt_env env;
  db *d; /* for replays, opened when first needed */
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  ws_conn *pending;
  rt_change **q;
  size_t qn, qcap;
  int gap;
  int stopping;
  int close_all;
  int nconns_total; /* adopted and not yet freed, pending included */
  /* thread only */
  ws_conn *conns;
};

static void wake(rt_ws *w) {
  uint64_t one = 1;
  ssize_t r = write(w->evfd, &one, sizeof one);
  (void)r; /* a full counter already wakes the loop */
}

/* ---- wslay callbacks ---------------------------------------------------- */

static ssize_t recv_cb(wslay_event_context_ptr ctx, uint8_t *data, size_t len,
                       int flags, void *user) {
  (void)flags;
  ws_conn *c = user;
  if (c->extra_off < c->extra_len) {
    size_t n = c->extra_len - c->extra_off;
    if (n > len) n = len;
    memcpy(data, c->extra + c->extra_off, n);
    c->extra_off += n;
    return (ssize_t)n;
  }
  ssize_t r;
  do r = recv(c->fd, data, len, 0);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  if (r == 0) {
    wslay_event_set_error(ctx, WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return r;
}

static ssize_t send_cb(wslay_event_context_ptr ctx, const uint8_t *data,
                       size_t len, int flags, void *user) {
  (void)flags;
  ws_conn *c = user;
  ssize_t r;
  do r = send(c->fd, data, len, MSG_NOSIGNAL);
  while (r < 0 && errno == EINTR);
  if (r < 0) {
    wslay_event_set_error(ctx, errno == EAGAIN || errno == EWOULDBLOCK
                                   ? WSLAY_ERR_WOULDBLOCK
                                   : WSLAY_ERR_CALLBACK_FAILURE);
    return -1;
  }
  return r;
}

static void on_msg(wslay_event_context_ptr ctx,
                   const struct wslay_event_on_msg_recv_arg *arg, void *user) {
  (void)ctx;
  ws_conn *c = user;
  c->last_rx_us = time_mono_us();
  /* Binary frames (realtime-js's broadcasts in vsn 2) are not served and
   * are ignored, as are pongs; wslay answers pings and closes itself. */
  if (arg->opcode == WSLAY_TEXT_FRAME && c->sess && !c->dead)
    rt_sess_on_text(c->sess, (const char *)arg->msg, arg->msg_length);
}

/* ---- session callbacks ---------------------------------------------------- */

static int sess_send(void *cls, const char *text, size_t n) {
  ws_conn *c = cls;
  if (c->dead || c->server_closed || c->draining) return -1;
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, n};
  if (wslay_event_queue_msg(c->ctx, &m)) return -1;
  c->dirty = 1;
  if (wslay_event_get_queued_msg_length(c->ctx) > c->w->srv->cfg.max_queue) {
    log_info("realtime: %s too slow (over %zu bytes queued); dropped",
             c->remote, c->w->srv->cfg.max_queue);
    c->dead = 1;
    c->park = 1;
    return -1;
  }
  return 0;
}

static void sess_close(void *cls, int code, const char *reason) {
  ws_conn *c = cls;
  if (c->dead || c->server_closed) return;
  c->server_closed = 1;
  wslay_event_queue_close(c->ctx, (uint16_t)code, (const uint8_t *)reason,
                          strlen(reason));
  c->dirty = 1;
}

/* ---- env hooks ------------------------------------------------------------- */

static int env_owner_take(void *cls, const char *owner) {
  return rt_server_owner_take(((rt_ws *)cls)->srv, owner);
}
static void env_owner_drop(void *cls, const char *owner) {
  rt_server_owner_drop(((rt_ws *)cls)->srv, owner);
}
static void env_park(void *cls, const char *key, rt_pos acked) {
  rt_server_park(((rt_ws *)cls)->srv, key, acked);
}
static int env_unpark(void *cls, const char *key, rt_pos *acked) {
  return rt_server_unpark(((rt_ws *)cls)->srv, key, acked);
}

typedef struct replay_ctx {
  rt_sess *s;
  rt_chan *ch;
} replay_ctx;

static int replay_one(void *cls, rt_change *c) {
  replay_ctx *r = cls;
  rt_sess_deliver_to(r->s, r->ch, c);
  return 0;
}

/* A rejoin's missed changes, read from the database on this thread: the
 * loop waits for it, which is why the window is short. */
static int env_replay(void *cls, rt_sess *s, rt_chan *ch, rt_pos after) {
  rt_ws *w = cls;
  db_err err;
  if (!w->d && db_open(w->srv->db_url, &w->d, &err)) {
    log_warn("realtime: replay: cannot open the database: %s", err.message);
    return -1;
  }
  const rest_table *tables[64];
  int n = rt_chan_tables(ch, tables, 64);
  replay_ctx r = {s, ch};
  int rc = rt_replay(w->d, rt_chan_who(ch), after, w->env.seen, n ? tables : NULL,
                     n, replay_one, &r, &err);
  if (rc < 0) {
    log_warn("realtime: replay failed: %s", err.message);
    db_close(w->d); /* a broken connection is reopened next time */
    w->d = NULL;
  }
  return rc;
}

/* ---- the loop ---------------------------------------------------------------- */

static void conn_free(rt_ws *w, ws_conn *c) {
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  rt_sess_free(c->sess, c->park);
  if (c->ctx) wslay_event_context_free(c->ctx);
  /* The socket is libmicrohttpd's: it closes it. */
  c->close_fn(c->close_cls);
  rt_server_slot_drop(w->srv);
  free(c->extra);
  free(c->query);
  free(c->remote);
  free(c);
  pthread_mutex_lock(&w->mu);
  w->nconns_total--;
  pthread_cond_broadcast(&w->cv);
  pthread_mutex_unlock(&w->mu);
}

/* The peer is gone (or broke the protocol): free the socket this round.
 * Unless we were the ones closing, its channels are parked for a
 * reconnect. */
static void conn_lost(ws_conn *c) {
  c->dead = 1;
  c->park = !c->server_closed;
}

/* wslay has sent its close frame and is done. Closing the socket now, with
 * bytes of the peer still unread (a frame past the size cap, say), would
 * make the kernel answer with a reset that can destroy the close frame in
 * flight; so stop writing and read until the peer closes too, for a
 * moment at most. */
static void conn_linger(rt_ws *w, ws_conn *c) {
  if (!wslay_event_get_close_sent(c->ctx)) {
    conn_lost(c);
    return;
  }
  c->park = !c->server_closed;
  shutdown(c->fd, SHUT_WR);
  c->draining = 1;
  c->drain_until_us = time_mono_us() + 2000000;
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
  epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
  c->events = EPOLLIN;
}

static void conn_drain(ws_conn *c) {
  char scratch[4096];
  for (;;) {
    ssize_t r = recv(c->fd, scratch, sizeof scratch, 0);
    if (r > 0) continue;
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;
  }
  c->dead = 1; /* the peer closed: park stays as conn_linger set it */
}

/* Sends what can be sent and sets the epoll interest from what wslay
 * wants; a socket wslay is done with lingers, then goes. */
static void conn_update(rt_ws *w, ws_conn *c) {
  if (c->dead || c->draining) return;
  if (wslay_event_want_write(c->ctx) && wslay_event_send(c->ctx)) {
    conn_lost(c);
    return;
  }
  c->dirty = 0;
  int rd = wslay_event_want_read(c->ctx), wr = wslay_event_want_write(c->ctx);
  if (!rd && !wr) {
    conn_linger(w, c);
    return;
  }
  unsigned ev = (rd ? EPOLLIN : 0) | (wr ? EPOLLOUT : 0);
  if (ev != c->events) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
  }
}

static void conn_io(rt_ws *w, ws_conn *c, unsigned ev) {
  if (c->dead) return;
  if (c->draining) {
    conn_drain(c);
    return;
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    /* A failed read with a close frame to send (wslay queues one for a
     * protocol error) still gets to send it. */
    if (wslay_event_recv(c->ctx) && !wslay_event_want_write(c->ctx)) {
      conn_lost(c);
      return;
    }
  }
  conn_update(w, c);
}

static void adopt(rt_ws *w, ws_conn *c) {
  struct wslay_event_callbacks cb = {recv_cb, send_cb, NULL, NULL, NULL, NULL, on_msg};
  c->w = w;
  c->last_rx_us = time_mono_us();
  int fl = fcntl(c->fd, F_GETFL, 0);
  if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
      wslay_event_context_server_init(&c->ctx, &cb, c)) {
    c->ctx = NULL;
    c->dead = 1;
  } else {
    wslay_event_config_set_max_recv_msg_length(c->ctx, w->srv->cfg.max_frame);
  }
  c->next = w->conns;
  if (w->conns) w->conns->prev = c;
  w->conns = c;
  if (c->dead) return;
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, c->fd, &e)) {
    c->dead = 1;
    return;
  }
  c->events = EPOLLIN;
  arena *a = arena_new();
  const char *vsn = NULL, *apikey = NULL;
  url_query_get(a, c->query, "vsn", &vsn);
  url_query_get(a, c->query, "apikey", &apikey);
  phx_vsn v = phx_vsn_parse(vsn);
  c->sess = v ? rt_sess_new(&w->env, v, c->remote, apikey, sess_send, sess_close, c)
              : NULL;
  arena_free(a);
  if (!c->sess)
    sess_close(c, 1008, v ? "too many connections from this address"
                          : "vsn must be 1.0.0 or 2.0.0");
  /* Bytes that came with the handshake are a frame already. */
  if (c->extra_len) conn_io(w, c, EPOLLIN);
  else conn_update(w, c);
}

static void deliver_all(rt_ws *w, rt_change **q, size_t n, int gap) {
  if (gap)
    for (ws_conn *c = w->conns; c; c = c->next)
      if (c->sess && !c->dead) rt_sess_gap(c->sess);
  for (size_t i = 0; i < n; i++) {
    w->env.seen = q[i]->pos;
    for (ws_conn *c = w->conns; c; c = c->next)
      if (c->sess && !c->dead) rt_sess_deliver(c->sess, q[i]);
    rt_change_unref(q[i]);
  }
}

static void tick(rt_ws *w, int64_t now) {
  for (ws_conn *c = w->conns; c; c = c->next) {
    if (c->dead || !c->sess) continue;
    if (c->draining) {
      if (now > c->drain_until_us) c->dead = 1;
      continue;
    }
    rt_sess_tick(c->sess);
    if (now - c->last_rx_us > WS_IDLE_US && !c->server_closed) {
      /* Silent for two heartbeats: treat as dropped (it may reconnect). */
      c->dead = 1;
      c->park = 1;
    }
  }
}

static void *loop(void *arg) {
  rt_ws *w = arg;
  struct epoll_event evs[WS_MAX_EVENTS];
  int64_t next_tick = time_mono_us() + 1000000;
  size_t cap = 0;
  rt_change **batch = NULL;
  for (;;) {
    int64_t now = time_mono_us();
    int timeout = next_tick > now ? (int)((next_tick - now) / 1000) + 1 : 0;
    int n = epoll_wait(w->epfd, evs, WS_MAX_EVENTS, timeout);
    for (int i = 0; i < n; i++) {
      if (!evs[i].data.ptr) {
        uint64_t v;
        ssize_t r = read(w->evfd, &v, sizeof v);
        (void)r;
        continue;
      }
      conn_io(w, evs[i].data.ptr, evs[i].events);
    }
    /* Take what the other threads left. */
    pthread_mutex_lock(&w->mu);
    ws_conn *pend = w->pending;
    w->pending = NULL;
    size_t qn = w->qn;
    int gap = w->gap;
    if (qn) {
      rt_change **t = w->q;
      size_t tc = w->qcap;
      w->q = batch, w->qcap = cap;
      batch = t, cap = tc;
      w->qn = 0;
    }
    w->gap = 0;
    int stopping = w->stopping, close_all = w->close_all;
    pthread_mutex_unlock(&w->mu);

    while (pend) {
      ws_conn *c = pend;
      pend = c->next;
      c->next = c->prev = NULL;
      adopt(w, c);
    }
    deliver_all(w, batch, qn, gap);
    now = time_mono_us();
    if (now >= next_tick) {
      tick(w, now);
      next_tick = now + 1000000;
    }
    if (close_all || stopping)
      for (ws_conn *c = w->conns; c; c = c->next) {
        if (c->dead) continue;
        sess_close(c, 1001, "server shutting down");
        conn_update(w, c); /* one try to send the close frame */
        c->dead = 1;
        c->park = 0;
      }
    ws_conn *c = w->conns;
    while (c) {
      ws_conn *next = c->next;
      if (c->dirty && !c->dead) conn_update(w, c);
      if (c->dead) conn_free(w, c);
      c = next;
    }
    if (stopping) break;
  }
  free(batch);
  return NULL;
}

/* ---- from the other threads ------------------------------------------------- */

void rt_ws_deliver(void *cls, rt_change *c) {
  rt_ws *w = cls;
  pthread_mutex_lock(&w->mu);
  int was_empty = w->qn == 0;
  if (w->qn == WS_MAX_QUEUED) {
    rt_change_unref(w->q[0]);
    memmove(w->q, w->q + 1, (w->qn - 1) * sizeof *w->q);
    w->qn--;
    w->gap = 1;
  }
  if (w->qn == w->qcap) {
    w->qcap = w->qcap ? 2 * w->qcap : 256;
    w->q = xrealloc(w->q, w->qcap * sizeof *w->q);
  }
  w->q[w->qn++] = rt_change_ref(c);
  pthread_mutex_unlock(&w->mu);
  if (was_empty) wake(w);
}

void rt_ws_gap(void *cls) {
  rt_ws *w = cls;
  pthread_mutex_lock(&w->mu);
  w->gap = 1;
  pthread_mutex_unlock(&w->mu);
  wake(w);
}

int rt_ws_adopt(rt_server *s, int fd, const char *extra, size_t extra_len,
                const char *query, const char *remote, rt_close_fn close_fn,
                void *close_cls) {
  rt_ws *w = s ? s->ws : NULL;
  if (!w || rt_server_slot_take(s)) {
    close_fn(close_cls);
    return -1;
  }
  ws_conn *c = xcalloc(1, sizeof *c);
  c->fd = fd;
  if (extra_len) {
    c->extra = xmalloc(extra_len);
    memcpy(c->extra, extra, extra_len);
    c->extra_len = extra_len;
  }
  c->query = xstrdup(query ? query : "");
  c->remote = xstrdup(remote ? remote : "-");
  c->close_fn = close_fn;
  c->close_cls = close_cls;
  pthread_mutex_lock(&w->mu);
  int refused = w->stopping || w->close_all;
  if (!refused) {
    c->next = w->pending;
    w->pending = c;
    w->nconns_total++;
  }
  pthread_mutex_unlock(&w->mu);
  if (refused) {
    rt_server_slot_drop(s);
    free(c->extra);
    free(c->query);
    free(c->remote);
    free(c);
    close_fn(close_cls);
    return -1;
  }
  wake(w);
  return 0;
}

void rt_ws_close_all(rt_server *s) {
  rt_ws *w = s ? s->ws : NULL;
  if (!w) return;
  pthread_mutex_lock(&w->mu);
  w->close_all = 1;
  pthread_mutex_unlock(&w->mu);
  wake(w);
  pthread_mutex_lock(&w->mu);
  while (w->nconns_total > 0 && w->started) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

int rt_ws_start(rt_server *s, rt_ws **out, char *err, size_t errlen) {
  rt_ws *w = xcalloc(1, sizeof *w);
  w->srv = s;
  pthread_mutex_init(&w->mu, NULL);
  pthread_cond_init(&w->cv, NULL);
  w->env.au = s->cfg.au;
  w->env.max_channels = s->cfg.max_channels;
  w->env.max_bindings = s->cfg.max_bindings;
  w->env.owner_take = env_owner_take;
  w->env.owner_drop = env_owner_drop;
  w->env.park = env_park;
  w->env.unpark = env_unpark;
  w->env.replay = env_replay;
  w->env.cls = w;
  w->env.seen = rt_hub_head(s->hub);
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
  if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &e)) {
    snprintf(err, errlen, "realtime: cannot create the event loop: %s", strerror(errno));
    goto fail;
  }
  if (pthread_create(&w->thread, NULL, loop, w)) {
    snprintf(err, errlen, "realtime: cannot start the WebSocket thread");
    goto fail;
  }
  w->started = 1;
  w->sink = rt_hub_attach(s->hub, NULL, rt_ws_deliver, rt_ws_gap, w);
  *out = w;
  return 0;
fail:
  if (w->epfd >= 0) close(w->epfd);
  if (w->evfd >= 0) close(w->evfd);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
  return -1;
}

void rt_ws_stop(rt_ws *w) {
  if (!w) return;
  rt_hub_detach(w->srv->hub, w->sink);
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_mutex_unlock(&w->mu);
  wake(w);
  pthread_join(w->thread, NULL);
  /* Adopted after the loop's last round: never registered. */
  while (w->pending) {
    ws_conn *c = w->pending;
    w->pending = c->next;
    c->close_fn(c->close_cls);
    rt_server_slot_drop(w->srv);
    free(c->extra);
    free(c->query);
    free(c->remote);
    free(c);
  }
  for (size_t i = 0; i < w->qn; i++) rt_change_unref(w->q[i]);
  free(w->q);
  db_close(w->d);
  close(w->epfd);
  close(w->evfd);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
