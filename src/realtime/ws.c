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
 * it missed) rather than letting it hold memory without bound. What wslay
 * queues by itself (a pong per ping) counts too: past max_queue the socket
 * is not read until it has taken its bytes, and only frames of the
 * protocol (not pings) count as signs of life, so a client that pings and
 * never reads goes quiet and is dropped as idle. Over all sockets,
 * max_queue_total bounds what slow readers hold: past it the sockets with
 * the most queued go first.
 *
 * The fan-out goes through the channel index (channel.h): a change costs
 * the channels of its own tenant watching its table, not every socket.
 *
 * Replays (a channel rejoined within the window) are read by a worker
 * thread on its own database connection, one read per socket for the
 * channels it rejoined in one round, bounded in rows; the channel's live
 * changes wait until the replay is in, so the client gets them in order,
 * and the loop never waits for the database. */
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
/* ... and at most this many bytes of them (a change of a wide row is big). */
#define WS_MAX_QUEUED_BYTES ((size_t)128 << 20)
#define WS_MAX_EVENTS 256
/* Replay requests waiting for the worker at most; a rejoin past it is told
 * it was not replayed. */
#define WS_MAX_REPLAYS 64
/* Changes one replay delivers at most (past it: cut short, and said). */
#define WS_REPLAY_MAX_ROWS 20000
#define WS_REPLAY_MAX_BYTES ((size_t)32 << 20)

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
  size_t qlen; /* wslay's queued bytes, as last counted in queued_total */
  ws_conn *prev, *next;
};

/* One replay: the channels of one socket and principal that rejoined in
 * one round. The worker reads who, after, upto and tables only; chans is
 * the loop's (NULL where a channel went meanwhile). */
typedef struct rreq rreq;
struct rreq {
  rreq *next;          /* rpend, or the worker's queues */
  rreq *inext, *iprev; /* inflight (the loop's) */
  rt_sess *sess;
  api_principal who;
  int n;
  rt_chan **chans;
  rt_pos *after, *upto; /* per channel */
  const rest_table **tables; /* per channel: NULL every table */
  const rest_table ***tlist; /* per channel: its tables (NULL: all) */
  int *ntl;
  /* results (the worker's until done) */
  int rc;
  rt_change **res;
  int *res_chan;
  int nres, res_cap;
  size_t res_bytes;
};

struct rt_ws {
  rt_server *srv;
  pthread_t thread;
  int started;
  int epfd, evfd;
  rt_sink *sink;
  rt_env env;
  db *d; /* the replay worker's, opened when first needed */
  _Atomic int stop_flag;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  /* under mu */
  ws_conn *pending;
  rt_change **q;
  size_t qn, qcap, qbytes;
  int gap;
  int stopping;
  int close_all;
  int nconns_total; /* adopted and not yet freed, pending included */
  /* thread only */
  ws_conn *conns;
  size_t queued_total; /* wslay's queued bytes over every socket */
  rreq *rpend;         /* replays asked this round, newest first */
  rreq *inflight;      /* submitted to the worker and not back yet */
  int ninflight;
  /* the replay worker */
  pthread_t rthread;
  int rstarted;
  pthread_mutex_t rmu;
  pthread_cond_t rcv;
  rreq *rq, *rq_tail; /* to read (under rmu) */
  rreq *rdone;        /* read (under rmu), newest first */
  int rstop;
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
  /* Over its queue (pongs it does not read, say): read nothing more until
   * it has taken its bytes. */
  if (wslay_event_get_queued_msg_length(ctx) > c->w->srv->cfg.max_queue) {
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
  }
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
  /* Pings and pongs are no sign of life: wslay answers a ping by itself,
   * so a client could ping forever and read nothing. realtime-js sends a
   * heartbeat (a text frame) every 25 s. */
  if (arg->opcode != WSLAY_PING && arg->opcode != WSLAY_PONG)
    c->last_rx_us = time_mono_us();
  /* Binary frames (realtime-js's broadcasts in vsn 2) are not served and
   * are ignored, as are pongs; wslay answers pings and closes itself. */
  if (arg->opcode == WSLAY_TEXT_FRAME && c->sess && !c->dead)
    rt_sess_on_text(c->sess, (const char *)arg->msg, arg->msg_length);
}

/* ---- session callbacks ---------------------------------------------------- */

/* Brings queued_total up to date with what wslay holds for c. */
static void q_acct(ws_conn *c) {
  size_t n = c->ctx ? wslay_event_get_queued_msg_length(c->ctx) : 0;
  c->w->queued_total = c->w->queued_total - c->qlen + n;
  c->qlen = n;
}

static int sess_send(void *cls, const char *text, size_t n) {
  ws_conn *c = cls;
  if (c->dead || c->server_closed || c->draining) return -1;
  struct wslay_event_msg m = {WSLAY_TEXT_FRAME, (const uint8_t *)text, n};
  if (wslay_event_queue_msg(c->ctx, &m)) return -1;
  c->dirty = 1;
  q_acct(c);
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
  q_acct(c);
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

static int env_bind_take(void *cls, const char *owner, int n) {
  return rt_server_bind_take(((rt_ws *)cls)->srv, owner, n);
}
static void env_bind_drop(void *cls, const char *owner, int n) {
  rt_server_bind_drop(((rt_ws *)cls)->srv, owner, n);
}

/* ---- replays ------------------------------------------------------------------ */

static void rreq_free(rreq *r) {
  for (int i = 0; i < r->nres; i++) rt_change_unref(r->res[i]);
  free(r->res);
  free(r->res_chan);
  for (int i = 0; i < r->n; i++) free(r->tlist[i]);
  free(r->tlist);
  free(r->ntl);
  free(r->chans);
  free(r->after);
  free(r->upto);
  free(r);
}

/* A rejoin's missed changes: asked now, read by the worker once this
 * round's I/O is done (so the channels a reconnect rejoins together are one
 * read), delivered by the loop when they are in. */
static int env_replay(void *cls, rt_sess *s, rt_chan *ch, rt_pos after) {
  rt_ws *w = cls;
  const api_principal *who = rt_chan_who(ch);
  rreq *r = w->rpend;
  if (!r || r->sess != s || r->who.role != who->role || strcmp(r->who.sub, who->sub)) {
    int queued = w->ninflight;
    for (rreq *p = w->rpend; p; p = p->next) queued++;
    if (queued >= WS_MAX_REPLAYS) return RT_REPLAY_BUSY;
    r = xcalloc(1, sizeof *r);
    r->sess = s;
    r->who = *who;
    r->next = w->rpend;
    w->rpend = r;
  }
  int max = w->env.max_channels > 0 ? w->env.max_channels : 1;
  if (r->n >= max) return RT_REPLAY_BUSY;
  if (!r->chans) {
    r->chans = xcalloc((size_t)max, sizeof *r->chans);
    r->after = xcalloc((size_t)max, sizeof *r->after);
    r->upto = xcalloc((size_t)max, sizeof *r->upto);
    r->tlist = xcalloc((size_t)max, sizeof *r->tlist);
    r->ntl = xcalloc((size_t)max, sizeof *r->ntl);
  }
  const rest_table *tables[64];
  int nt = rt_chan_tables(ch, tables, 64);
  int i = r->n++;
  r->chans[i] = ch;
  r->after[i] = after;
  r->upto[i] = rt_chan_from(ch);
  r->ntl[i] = nt;
  if (nt) {
    r->tlist[i] = xcalloc((size_t)nt, sizeof *r->tlist[i]);
    memcpy(r->tlist[i], tables, (size_t)nt * sizeof *tables);
  }
  return RT_REPLAY_LATER;
}

static void env_replay_cancel(void *cls, rt_chan *ch) {
  rt_ws *w = cls;
  for (int k = 0; k < 2; k++)
    for (rreq *r = k ? w->inflight : w->rpend; r; r = k ? r->inext : r->next)
      for (int i = 0; i < r->n; i++)
        if (r->chans[i] == ch) r->chans[i] = NULL;
}

typedef struct rread {
  rt_ws *w;
  rreq *r;
} rread;

static int table_in(const rreq *r, int i, const rest_table *t) {
  if (!r->ntl[i]) return 1;
  for (int k = 0; k < r->ntl[i]; k++)
    if (r->tlist[i][k] == t) return 1;
  return 0;
}

/* On the worker: keeps a change for each channel of the request that may
 * want it (the loop applies bindings and filters when it sends). */
static int rread_one(void *cls, rt_change *c) {
  rread *rr = cls;
  rreq *r = rr->r;
  if (atomic_load(&rr->w->stop_flag)) return 1;
  for (int i = 0; i < r->n; i++) {
    if (rt_pos_cmp(c->pos, r->after[i]) <= 0 || rt_pos_cmp(c->pos, r->upto[i]) > 0 ||
        !table_in(r, i, c->table))
      continue;
    /* More than the socket may queue would only get it dropped as slow. */
    size_t max_bytes = rr->w->srv->cfg.max_queue / 2;
    if (max_bytes > WS_REPLAY_MAX_BYTES) max_bytes = WS_REPLAY_MAX_BYTES;
    if (r->nres >= WS_REPLAY_MAX_ROWS || r->res_bytes > max_bytes) {
      r->rc = RT_REPLAY_CUT;
      return 1;
    }
    if (r->nres == r->res_cap) {
      r->res_cap = r->res_cap ? 2 * r->res_cap : 64;
      r->res = xrealloc(r->res, (size_t)r->res_cap * sizeof *r->res);
      r->res_chan = xrealloc(r->res_chan, (size_t)r->res_cap * sizeof *r->res_chan);
    }
    r->res[r->nres] = rt_change_ref(c);
    r->res_chan[r->nres++] = i;
    r->res_bytes += c->data_len + 96; /* the frame around it */
  }
  return 0;
}

static void replay_read(rt_ws *w, rreq *r) {
  db_err err;
  if (!w->d && db_open(w->srv->db_url, &w->d, &err)) {
    log_warn("realtime: replay: cannot open the database: %s", err.message);
    r->rc = -1;
    return;
  }
  rt_pos after = r->after[0], upto = r->upto[0];
  int all = 0;
  const rest_table **tables = xcalloc(64, sizeof *tables);
  int nt = 0;
  for (int i = 0; i < r->n; i++) {
    if (rt_pos_cmp(r->after[i], after) < 0) after = r->after[i];
    if (rt_pos_cmp(r->upto[i], upto) > 0) upto = r->upto[i];
    if (!r->ntl[i]) all = 1;
    for (int k = 0; k < r->ntl[i] && !all; k++) {
      int dup = 0;
      for (int j = 0; j < nt; j++) dup |= tables[j] == r->tlist[i][k];
      if (!dup && nt < 64) tables[nt++] = r->tlist[i][k];
    }
  }
  rread rr = {w, r};
  int rc = rt_replay(w->d, &r->who, after, upto, all ? NULL : tables, all ? 0 : nt,
                     rread_one, &rr, &err);
  free(tables);
  if (rc < 0) {
    log_warn("realtime: replay failed: %s", err.message);
    db_close(w->d); /* a broken connection is reopened next time */
    w->d = NULL;
    r->rc = -1;
  } else if (!r->rc) {
    r->rc = rc;
  }
}

static void *replay_worker(void *arg) {
  rt_ws *w = arg;
  pthread_mutex_lock(&w->rmu);
  for (;;) {
    while (!w->rq && !w->rstop) pthread_cond_wait(&w->rcv, &w->rmu);
    if (w->rstop) break;
    rreq *r = w->rq;
    w->rq = r->next;
    if (!w->rq) w->rq_tail = NULL;
    pthread_mutex_unlock(&w->rmu);
    replay_read(w, r);
    pthread_mutex_lock(&w->rmu);
    r->next = w->rdone;
    w->rdone = r;
    wake(w);
  }
  pthread_mutex_unlock(&w->rmu);
  return NULL;
}

/* The loop hands this round's replay requests to the worker. */
static void replay_submit(rt_ws *w) {
  rreq *list = NULL; /* oldest first */
  while (w->rpend) {
    rreq *r = w->rpend;
    w->rpend = r->next;
    r->next = list;
    list = r;
  }
  while (list) {
    rreq *r = list;
    list = r->next;
    r->next = NULL;
    r->inext = w->inflight;
    if (r->inext) r->inext->iprev = r;
    w->inflight = r;
    w->ninflight++;
    pthread_mutex_lock(&w->rmu);
    if (w->rq_tail) w->rq_tail->next = r;
    else w->rq = r;
    w->rq_tail = r;
    pthread_cond_signal(&w->rcv);
    pthread_mutex_unlock(&w->rmu);
  }
}

/* The loop delivers what the worker read: each change to its channel (if
 * still there), then the channels' held live changes. */
static void replay_finish(rt_ws *w) {
  pthread_mutex_lock(&w->rmu);
  rreq *done = w->rdone;
  w->rdone = NULL;
  pthread_mutex_unlock(&w->rmu);
  rreq *list = NULL; /* oldest first */
  while (done) {
    rreq *r = done;
    done = r->next;
    r->next = list;
    list = r;
  }
  while (list) {
    rreq *r = list;
    list = r->next;
    if (r->iprev) r->iprev->inext = r->inext;
    else w->inflight = r->inext;
    if (r->inext) r->inext->iprev = r->iprev;
    w->ninflight--;
    for (int k = 0; k < r->nres; k++) {
      rt_chan *ch = r->chans[r->res_chan[k]];
      if (ch) rt_sess_deliver_to(r->sess, ch, r->res[k]);
    }
    for (int i = 0; i < r->n; i++)
      if (r->chans[i]) rt_chan_replayed(r->sess, r->chans[i], r->rc);
    rreq_free(r);
  }
}

/* ---- the loop ---------------------------------------------------------------- */

static void conn_free(rt_ws *w, ws_conn *c) {
  if (c->prev) c->prev->next = c->next;
  else w->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  epoll_ctl(w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
  rt_sess_free(c->sess, c->park);
  w->queued_total -= c->qlen;
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
  q_acct(c);
  int rd = wslay_event_want_read(c->ctx), wr = wslay_event_want_write(c->ctx);
  if (!rd && !wr) {
    conn_linger(w, c);
    return;
  }
  /* Over its queue: not read until it has taken its bytes (recv_cb). */
  if (c->qlen > w->srv->cfg.max_queue) rd = 0;
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
  if ((ev & (EPOLLHUP | EPOLLERR)) && c->qlen > w->srv->cfg.max_queue) {
    /* Gone while its reads were paused: nothing more to read or send. */
    conn_lost(c);
    return;
  }
  if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
    /* A failed read with a close frame to send (wslay queues one for a
     * protocol error) still gets to send it. */
    int rc = wslay_event_recv(c->ctx);
    q_acct(c); /* pongs */
    if (rc && !wslay_event_want_write(c->ctx)) {
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
  size_t i = 0;
  for (; i < n; i++) {
    /* A stop does not wait for a backlog. */
    if (!(i & 63) && atomic_load(&w->stop_flag)) break;
    w->env.seen = q[i]->pos;
    rt_env_deliver(&w->env, q[i]);
    rt_change_unref(q[i]);
  }
  for (; i < n; i++) rt_change_unref(q[i]);
}

/* Slow readers over max_queue_total together: the sockets with the most
 * queued are dropped (parked, so a reconnect replays) until under it. */
static void shed(rt_ws *w) {
  size_t cap = w->srv->cfg.max_queue_total, gone = 0;
  while (w->queued_total - gone > cap) {
    ws_conn *big = NULL;
    for (ws_conn *c = w->conns; c; c = c->next)
      if (!c->dead && (!big || c->qlen > big->qlen)) big = c;
    if (!big || !big->qlen) break;
    log_info("realtime: %s dropped: %zu bytes queued on all sockets (over %zu)",
             big->remote, w->queued_total, cap);
    big->dead = 1;
    big->park = 1;
    gone += big->qlen;
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
      w->qbytes = 0;
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
    replay_submit(w);
    replay_finish(w);
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
    for (c = w->conns; c; c = c->next)
      if (c->dirty && !c->dead) conn_update(w, c);
    shed(w);
    c = w->conns;
    while (c) {
      ws_conn *next = c->next;
      if (c->dead) conn_free(w, c);
      c = next;
    }
    if (stopping) break;
  }
  free(batch);
  return NULL;
}

/* ---- from the other threads ------------------------------------------------- */

/* What a queued change holds, about (its texts and their parse). */
static size_t change_cost(const rt_change *c) {
  return 256 + c->data_len + 2 * (c->record_len + c->old_record_len);
}

void rt_ws_deliver(void *cls, rt_change *c) {
  rt_ws *w = cls;
  size_t cost = change_cost(c);
  pthread_mutex_lock(&w->mu);
  int was_empty = w->qn == 0;
  if (w->qn == WS_MAX_QUEUED || w->qbytes + cost > WS_MAX_QUEUED_BYTES) {
    /* Far behind: drop the oldest quarter at once (not one per change). */
    size_t k = 0, freed = 0;
    while (k < w->qn && (k < w->qn / 4 + 1 || w->qbytes - freed + cost >
                                                  WS_MAX_QUEUED_BYTES * 3 / 4)) {
      freed += change_cost(w->q[k]);
      rt_change_unref(w->q[k++]);
    }
    memmove(w->q, w->q + k, (w->qn - k) * sizeof *w->q);
    w->qn -= k;
    w->qbytes -= freed;
    w->gap = 1;
  }
  if (w->qn == w->qcap) {
    w->qcap = w->qcap ? 2 * w->qcap : 256;
    w->q = xrealloc(w->q, w->qcap * sizeof *w->q);
  }
  w->q[w->qn++] = rt_change_ref(c);
  w->qbytes += cost;
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
  atomic_store(&w->stop_flag, 1); /* no backlog to deliver to closing sockets */
  pthread_mutex_lock(&w->mu);
  w->close_all = 1;
  pthread_mutex_unlock(&w->mu);
  wake(w);
  pthread_mutex_lock(&w->mu);
  while (w->nconns_total > 0 && w->started) pthread_cond_wait(&w->cv, &w->mu);
  pthread_mutex_unlock(&w->mu);
}

/* Stops the replay worker and frees what it had (after the loop ended). */
static void replay_stop(rt_ws *w) {
  if (w->rstarted) {
    pthread_mutex_lock(&w->rmu);
    w->rstop = 1;
    pthread_cond_signal(&w->rcv);
    pthread_mutex_unlock(&w->rmu);
    pthread_join(w->rthread, NULL);
    w->rstarted = 0;
  }
  for (int k = 0; k < 3; k++) {
    rreq *r = k == 0 ? w->rq : k == 1 ? w->rdone : w->rpend;
    while (r) {
      rreq *next = r->next;
      rreq_free(r);
      r = next;
    }
  }
  w->rq = w->rq_tail = w->rdone = w->rpend = w->inflight = NULL;
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
  w->env.replay_cancel = env_replay_cancel;
  w->env.bind_take = env_bind_take;
  w->env.bind_drop = env_bind_drop;
  w->env.max_bindings_socket = s->cfg.max_bindings_socket;
  w->env.idx = rt_index_new();
  w->env.cls = w;
  pthread_mutex_init(&w->rmu, NULL);
  pthread_cond_init(&w->rcv, NULL);
  w->env.seen = rt_hub_head(s->hub);
  w->epfd = epoll_create1(EPOLL_CLOEXEC);
  w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
  if (w->epfd < 0 || w->evfd < 0 || epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &e)) {
    snprintf(err, errlen, "realtime: cannot create the event loop: %s", strerror(errno));
    goto fail;
  }
  if (pthread_create(&w->rthread, NULL, replay_worker, w)) {
    snprintf(err, errlen, "realtime: cannot start the replay thread");
    goto fail;
  }
  w->rstarted = 1;
  if (pthread_create(&w->thread, NULL, loop, w)) {
    snprintf(err, errlen, "realtime: cannot start the WebSocket thread");
    goto fail;
  }
  w->started = 1;
  w->sink = rt_hub_attach(s->hub, NULL, rt_ws_deliver, rt_ws_gap, w);
  *out = w;
  return 0;
fail:
  replay_stop(w);
  if (w->epfd >= 0) close(w->epfd);
  if (w->evfd >= 0) close(w->evfd);
  rt_index_free(w->env.idx);
  pthread_cond_destroy(&w->rcv);
  pthread_mutex_destroy(&w->rmu);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
  return -1;
}

void rt_ws_stop(rt_ws *w) {
  if (!w) return;
  rt_hub_detach(w->srv->hub, w->sink);
  atomic_store(&w->stop_flag, 1);
  pthread_mutex_lock(&w->mu);
  w->stopping = 1;
  pthread_mutex_unlock(&w->mu);
  wake(w);
  pthread_join(w->thread, NULL);
  replay_stop(w);
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
  rt_index_free(w->env.idx);
  close(w->epfd);
  close(w->evfd);
  pthread_cond_destroy(&w->rcv);
  pthread_mutex_destroy(&w->rmu);
  pthread_cond_destroy(&w->cv);
  pthread_mutex_destroy(&w->mu);
  free(w);
}
