/* sse.c - the changes of the live feed as server-sent events (see sse.h and
 * docs/realtime.md).
 *
 * A stream is a hub sink and a byte queue. The hub calls deliver() on the
 * feed thread for each change of the stream's tenant; deliver keeps the
 * changes of the watched tables that pass their filter and that the caller
 * may read (rt_visible), formats each as one event (id = position, event =
 * INSERT/UPDATE/DELETE, data = the postgres_changes data object) and wakes
 * the HTTP layer, which drains the queue with rt_sse_read. Nothing blocks:
 * a client that reads too slowly for max_queue bytes gets an error event and
 * the end of its stream, and resumes with Last-Event-ID.
 *
 * Resuming (Last-Event-ID) never runs on the HTTP worker that opens the
 * stream: rt_sses_open queues the greeting at once (so the client has its
 * answer) and puts the stream in line for the replay thread, which owns a
 * database connection of its own. At most max_replays resumes replay at a
 * time; the rest wait their turn in order (holding nothing but their
 * greeting and keep-alives). A replay runs in steps: each reads one page
 * of (cursor, head] and appends its events to the stream's queue while
 * they fit under max_queue; when the queue is full the stream is parked
 * until the reader has drained half of it, so a resume of any size costs
 * at most max_queue bytes and never ends as too slow. The steps of the
 * running replays take turns, so one large resume does not starve others.
 *
 * Live changes during a replay: the sink is attached when the replay
 * starts, before the head is read; the changes it gets are held (only the
 * ones the stream wants) and queued after the replayed ones, each position
 * at most once (positions only grow), so nothing falls between the two.
 * When the held ones would pass max_queue bytes they are dropped and the
 * replay instead reads on to the hub's new head: the database has them.
 *
 * Locks, always in this order: the hub's (around deliver) or x->mu (the
 * timer, the replay queue, closing), then st->mu, then whatever wake takes
 * (libmicrohttpd's resume). wake is only called under st->mu, and
 * rt_sse_close sets closed under it, so no wake can reach a connection the
 * HTTP layer is done with. rt_sse_close during a replay step running
 * on the stream leaves the freeing to the replay thread. */
#include "realtime/sse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "realtime/server_int.h"

#define SSE_MAX_QUEUE ((size_t)4 << 20)
#define SSE_KEEPALIVE_MS 15000
#define SSE_MAX_TABLES 32
#define SSE_TICK_MS 250
/* Changes held while a resume replays (and max_queue bytes of them); past
 * either the held ones are dropped and the replay reads on from the
 * database instead. */
#define SSE_MAX_HELD 100000
/* Resumes replaying at once; the others wait their turn. */
#define SSE_MAX_REPLAYS 4
/* One replay step: at most this many events, over at most this many
 * positions (a step over other tenants' or tables' rows stays short). */
#define SSE_STEP_EVENTS 500
#define SSE_STEP_SPAN 5000
/* An empty queue keeps at most this much memory. */
#define SSE_KEEP_BYTES 16384
/* What a client is told to wait before reconnecting (EventSource's retry). */
#define SSE_RETRY_MS 2000

struct rt_sses {
  rt_hub *hub;
  char *db_url;
  size_t max_queue;
  int64_t keepalive_us;
  int max_tables;
  pthread_mutex_t mu; /* the list, count, stop */
  pthread_cond_t cv;
  rt_sse *head;
  int count;
  int stop;
  pthread_t timer;
  /* Replays (under mu): the waiting resumes in order, the running ones
   * that can take a step, and how many have started and not finished. */
  int max_replays;
  rt_sse *wait_head, *wait_tail;
  rt_sse *run_head, *run_tail;
  int active;
  pthread_t replayer;
  pthread_cond_t rcv;     /* the replay thread: work, or stop */
  db *d; /* the replay thread's own connection, opened when first needed */
};

/* Where a stream is in the replay queue (x->mu). */
typedef enum {
  RS_NONE,     /* not replaying (a new stream, or the replay is done) */
  RS_WAITING,  /* in x->wait_*: not started */
  RS_RUNNABLE, /* in x->run_*: started, can take a step */
  RS_RUNNING,  /* the replay thread is taking a step */
  RS_PARKED    /* started, its queue is full: the reader kicks it */
} sse_rstate;

typedef struct sse_watch {
  const rest_table *t;
  rt_filter *f;
} sse_watch;

struct rt_sse {
  rt_sses *x;
  rt_sse *prev, *next; /* in x's list, under x->mu */
  arena *a;
  api_principal who;
  sse_watch *watch;
  int nwatch;
  rt_sink *sink;
  void (*wake)(void *);
  void *wake_cls;
  pthread_mutex_t mu; /* everything below */
  buf q;
  size_t off;          /* bytes of q already read */
  int64_t queued_us;   /* monotonic time bytes were last queued */
  int want_wake;       /* the reader found nothing: wake on the next bytes */
  int ended;           /* no bytes after the queue drains */
  int closed;          /* the HTTP layer is done: never wake again */
  int replaying;       /* changes are held, not queued */
  int gap_pending;     /* the hub skipped changes during the replay */
  int parked;          /* the replay waits for the reader to drain */
  int held_over;       /* held changes were dropped: read on from the db */
  size_t need;         /* bytes the parked replay's next event needs */
  rt_change **held;
  int nheld, capheld;
  size_t held_bytes;
  int have_last;
  rt_pos last;         /* the newest position queued or passed over */
  /* The replay (rstate, rnext, closing under x->mu; the rest is the
   * replay thread's alone). */
  sse_rstate rstate;
  rt_sse *rnext;
  int closing;         /* closed during a step: the replay thread frees it */
  int64_t rcur;        /* replayed up to this seq */
  int64_t rtarget;     /* replaying up to this seq (a hub head) */
  int lost_told;       /* a gap was told for the purge */
  const rest_table **rtables; /* the watched tables, once each */
  int nrtables;
  /* The server's caps this stream counts against (rt_sse_open). */
  rt_server *srv;
  char owner[64];
};

/* ---- formatting ------------------------------------------------------- */

int rt_sse_event(buf *b, const char *id, const char *event, const char *data,
                 size_t data_len) {
  int rc = 0;
  if (id) rc |= buf_printf(b, "id: %s\n", id);
  if (event) rc |= buf_printf(b, "event: %s\n", event);
  /* A line break inside data would end the field: each line gets its own
   * "data: " (the client joins them with "\n"). JSON as we write it has
   * none, so this is the defensive path. */
  size_t i = 0;
  for (;;) {
    size_t j = i;
    while (j < data_len && data[j] != '\n' && data[j] != '\r') j++;
    rc |= buf_puts(b, "data: ");
    rc |= buf_append(b, data + i, j - i);
    rc |= buf_putc(b, '\n');
    if (j >= data_len) break;
    if (data[j] == '\r' && j + 1 < data_len && data[j + 1] == '\n') j++;
    i = j + 1;
  }
  rc |= buf_putc(b, '\n');
  return rc ? -1 : 0;
}

int rt_sse_split_tables(const char *s, const char **starts, size_t *lens,
                        int max) {
  int n = 0, depth = 0, quoted = 0;
  const char *start = s;
  for (const char *p = s;; p++) {
    char ch = *p;
    if (quoted) {
      if (ch == '\0') return -1;
      if (ch == '\\' && p[1]) p++;
      else if (ch == '"') quoted = 0;
      continue;
    }
    if (ch == '"') quoted = 1;
    else if (ch == '(') depth++;
    else if (ch == ')') {
      if (--depth < 0) return -1;
    } else if (ch == '\0' || (ch == ',' && depth == 0)) {
      if (ch == '\0' && depth) return -1;
      if (p == start || n >= max) return -1;
      starts[n] = start;
      lens[n] = (size_t)(p - start);
      n++;
      if (ch == '\0') break;
      start = p + 1;
    }
  }
  return n;
}

/* ---- the queue (all under st->mu) ----------------------------------- */

static void wake_locked(rt_sse *st) {
  if (st->want_wake && !st->closed && st->wake) {
    st->want_wake = 0;
    st->wake(st->wake_cls);
  }
}

/* An event the client must see even when the queue is full: the error
 * that ends a stream, a gap. Small and fixed, so the cap may be passed by
 * that much. */
static void queue_notice_locked(rt_sse *st, const char *event,
                                const char *data) {
  if (rt_sse_event(&st->q, NULL, event, data, strlen(data)))
    log_error("realtime: sse: cannot queue a %s event", event);
  st->queued_us = time_mono_us();
  wake_locked(st);
}

static void end_locked(rt_sse *st, const char *code, const char *message) {
  if (st->ended) return;
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "code", code);
  json_obj_str(&o, "message", message);
  json_obj_close(&o);
  queue_notice_locked(st, "error", buf_cstr(&b));
  buf_free(&b);
  st->ended = 1;
  wake_locked(st);
}

static void too_slow_locked(rt_sse *st) {
  end_locked(st, "slow_client",
             "the stream was read too slowly and has ended; reconnect with "
             "Last-Event-ID to resume");
}

static void gap_locked(rt_sse *st) {
  queue_notice_locked(
      st, "gap",
      "{\"message\":\"some changes could not be delivered (they are older "
      "than the realtime window); read the current rows again\"}");
}

static int watched(const rt_sse *st, const rt_change *c) {
  for (int i = 0; i < st->nwatch; i++)
    if (st->watch[i].t == c->table &&
        (!st->watch[i].f || rt_filter_match(st->watch[i].f, c)))
      return 1;
  return 0;
}

/* Formats c into b when the stream wants it. Positions at or before the
 * last one seen are passed over (the overlap of replay and live). Returns
 * 1 when an event was written, 0 when not, -1 when b is full. */
static int format_change(rt_sse *st, buf *b, const rt_change *c) {
  if (st->have_last && rt_pos_cmp(c->pos, st->last) <= 0) return 0;
  st->have_last = 1;
  st->last = c->pos;
  if (!watched(st, c) || !rt_visible(&st->who, c)) return 0;
  char id[RT_POS_TEXT];
  rt_pos_format(c->pos, id);
  return rt_sse_event(b, id, rt_op_name(c->op), c->data, c->data_len) ? -1
                                                                     : 1;
}

static void queue_change_locked(rt_sse *st, const rt_change *c) {
  if (st->ended) return;
  size_t pending = st->q.len - st->off;
  if (pending + c->data_len + 128 > st->x->max_queue) {
    too_slow_locked(st);
    return;
  }
  if (format_change(st, &st->q, c) > 0) {
    st->queued_us = time_mono_us();
    wake_locked(st);
  }
}

/* ---- the hub's callbacks (feed thread) ------------------------------- */

static void drop_held_locked(rt_sse *st) {
  for (int i = 0; i < st->nheld; i++) rt_change_unref(st->held[i]);
  st->nheld = 0;
  st->held_bytes = 0;
}

static void deliver(void *cls, rt_change *c) {
  rt_sse *st = cls;
  pthread_mutex_lock(&st->mu);
  if (st->ended || st->closed) goto out;
  if (st->replaying) {
    /* Only what the stream would send is worth its memory. */
    if (st->held_over || !watched(st, c) || !rt_visible(&st->who, c))
      goto out;
    if (st->nheld >= SSE_MAX_HELD ||
        st->held_bytes + c->data_len > st->x->max_queue) {
      /* The replay reads these from the database instead. */
      drop_held_locked(st);
      st->held_over = 1;
      goto out;
    }
    if (st->nheld == st->capheld) {
      st->capheld = st->capheld ? st->capheld * 2 : 64;
      st->held = xrealloc(st->held, (size_t)st->capheld * sizeof *st->held);
    }
    st->held[st->nheld++] = rt_change_ref(c);
    st->held_bytes += c->data_len;
    goto out;
  }
  queue_change_locked(st, c);
out:
  pthread_mutex_unlock(&st->mu);
}

static void gap(void *cls) {
  rt_sse *st = cls;
  pthread_mutex_lock(&st->mu);
  if (st->replaying)
    st->gap_pending = 1;
  else if (!st->ended && !st->closed)
    gap_locked(st);
  pthread_mutex_unlock(&st->mu);
}

/* ---- the timer thread --------------------------------------------------- */

static void tick_locked(rt_sse *st, int64_t mono_us, int64_t wall_s) {
  if (st->ended || st->closed) return;
  if (st->who.exp_s && wall_s >= st->who.exp_s) {
    const api_error_def *e = api_error_get(E_JWT_EXPIRED);
    end_locked(st, e->code, "JWT expired: sign in again and reconnect");
    return;
  }
  if (mono_us - st->queued_us >= st->x->keepalive_us) {
    /* A comment: EventSource ignores it, proxies see bytes. */
    if (buf_puts(&st->q, ": keep-alive\n\n"))
      log_error("realtime: sse: cannot queue a keep-alive");
    st->queued_us = mono_us;
    wake_locked(st);
  }
}

static void *timer_main(void *arg) {
  rt_sses *x = arg;
  pthread_mutex_lock(&x->mu);
  while (!x->stop) {
    int64_t mono = time_mono_us();
    int64_t wall_s = time_now_us() / 1000000;
    for (rt_sse *st = x->head; st; st = st->next) {
      pthread_mutex_lock(&st->mu);
      tick_locked(st, mono, wall_s);
      pthread_mutex_unlock(&st->mu);
    }
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_nsec += (long)SSE_TICK_MS * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
      ts.tv_sec++;
      ts.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&x->cv, &x->mu, &ts);
  }
  pthread_mutex_unlock(&x->mu);
  return NULL;
}

/* ---- the replay thread ------------------------------------------------ */

/* The replay's reads go through the queue only while they fit. */
static int queue_has_room_locked(const rt_sse *st, size_t more) {
  size_t pending = st->q.len - st->off;
  /* An empty queue takes any one event, however large. */
  return pending == 0 || pending + more + 128 <= st->x->max_queue;
}

/* A parked replay may go on: the reader drained half the queue, and room
 * for what stopped it. */
static int kickable_locked(const rt_sse *st) {
  size_t half = st->x->max_queue / 2;
  return queue_has_room_locked(st, st->need > half ? st->need : half);
}

typedef struct step_ctx {
  rt_sse *st;
  int64_t next;  /* the seq the step has read up to */
  int n;         /* events taken */
  int stopped;   /* fn asked rt_replay to stop */
  int full;      /* because the queue is full */
} step_ctx;

static int step_one(void *cls, rt_change *c) {
  step_ctx *r = cls;
  rt_sse *st = r->st;
  pthread_mutex_lock(&st->mu);
  if (st->ended || !queue_has_room_locked(st, c->data_len)) {
    /* Not taken: the next step reads it again. */
    r->next = c->pos.seq - 1;
    r->stopped = 1;
    r->full = !st->ended;
    st->need = c->data_len;
  } else {
    r->next = c->pos.seq;
    if (format_change(st, &st->q, c) > 0) {
      st->queued_us = time_mono_us();
      wake_locked(st);
    }
    if (++r->n >= SSE_STEP_EVENTS) r->stopped = 1;
  }
  pthread_mutex_unlock(&st->mu);
  return r->stopped;
}

typedef enum { STEP_MORE, STEP_PARK, STEP_DONE } step_result;

static void replay_failed(rt_sses *x, rt_sse *st, const db_err *err) {
  log_error("realtime: sse: replay failed: %s", err->message);
  /* Perhaps the connection broke: the next step opens a new one. */
  db_close(x->d);
  x->d = NULL;
  pthread_mutex_lock(&st->mu);
  end_locked(st, "unavailable",
             "the changes since Last-Event-ID cannot be read now; reconnect "
             "with Last-Event-ID to retry");
  pthread_mutex_unlock(&st->mu);
}

/* The held changes go into the queue while they fit; when all went, the
 * stream is live. */
static step_result finish_locked(rt_sse *st) {
  if (st->gap_pending) {
    gap_locked(st);
    st->gap_pending = 0;
  }
  int i = 0;
  for (; i < st->nheld; i++) {
    rt_change *c = st->held[i];
    if (!queue_has_room_locked(st, c->data_len)) {
      st->need = c->data_len;
      break;
    }
    if (format_change(st, &st->q, c) > 0) {
      st->queued_us = time_mono_us();
      wake_locked(st);
    }
    st->held_bytes -= c->data_len;
    rt_change_unref(c);
  }
  if (i && i < st->nheld)
    memmove(st->held, st->held + i,
            (size_t)(st->nheld - i) * sizeof *st->held);
  st->nheld -= i;
  if (st->nheld) return STEP_PARK;
  free(st->held);
  st->held = NULL;
  st->capheld = 0;
  st->held_bytes = 0;
  st->replaying = 0;
  return STEP_DONE;
}

/* One step of st's replay, on the replay thread, with no lock held. */
static step_result replay_step(rt_sses *x, rt_sse *st) {
  db_err err;
  memset(&err, 0, sizeof err);
  if (!st->sink) {
    /* The start: attached before the head is read (hub.c says why). */
    st->sink = rt_hub_attach(x->hub,
                             st->who.role == ROLE_SERVICE ? NULL : st->who.sub,
                             deliver, gap, st);
    st->rtarget = rt_hub_head(x->hub).seq;
    if (st->rcur > st->rtarget) {
      /* An id from the future (another database, one restored from a
       * backup): go live from the head, or the stream would pass over
       * every change up to that id. */
      st->rcur = st->rtarget;
      pthread_mutex_lock(&st->mu);
      st->last = (rt_pos){0, st->rtarget};
      pthread_mutex_unlock(&st->mu);
    }
  }
  pthread_mutex_lock(&st->mu);
  int ended = st->ended;
  st->need = 0;
  int room = queue_has_room_locked(st, 0);
  pthread_mutex_unlock(&st->mu);
  if (ended) return STEP_DONE;
  if (!room) return STEP_PARK;

  if (st->rcur < st->rtarget) {
    if (!x->d && db_open(x->db_url, &x->d, &err)) {
      x->d = NULL;
      replay_failed(x, st, &err);
      return STEP_DONE;
    }
    rt_pos from = {0, st->rcur};
    /* An empty range first: it only says whether the purge has passed
     * the cursor, so that the gap is told before the events after it. */
    int lost = rt_replay(x->d, &st->who, from, from, st->rtables, st->nrtables,
                         step_one, NULL, &err);
    if (lost < 0) {
      replay_failed(x, st, &err);
      return STEP_DONE;
    }
    if (lost && !st->lost_told) {
      st->lost_told = 1;
      pthread_mutex_lock(&st->mu);
      gap_locked(st);
      pthread_mutex_unlock(&st->mu);
    }
    int64_t upto = st->rtarget - st->rcur > SSE_STEP_SPAN
                       ? st->rcur + SSE_STEP_SPAN
                       : st->rtarget;
    step_ctx r = {st, upto, 0, 0, 0};
    if (rt_replay(x->d, &st->who, from, (rt_pos){0, upto}, st->rtables,
                  st->nrtables, step_one, &r, &err) < 0) {
      replay_failed(x, st, &err);
      return STEP_DONE;
    }
    st->rcur = r.next;
    if (st->rcur < st->rtarget) return r.full ? STEP_PARK : STEP_MORE;
  }

  /* Read up to the target: go live, unless live changes were dropped
   * meanwhile; then the database has them, up to the hub's new head. */
  pthread_mutex_lock(&st->mu);
  step_result res;
  if (st->ended) {
    res = STEP_DONE;
  } else if (st->held_over) {
    drop_held_locked(st);
    st->held_over = 0;
    res = STEP_MORE;
  } else {
    res = finish_locked(st);
  }
  pthread_mutex_unlock(&st->mu);
  if (res == STEP_MORE) st->rtarget = rt_hub_head(x->hub).seq;
  return res;
}

/* The rest of rt_sse_close: on the closer's thread, or on the replay
 * thread when the close came during a step. */
static void sse_free(rt_sse *st);
static void close_finish(rt_sse *st) {
  /* After this deliver is not running and never runs again. */
  if (st->sink) rt_hub_detach(st->x->hub, st->sink);
  if (st->srv) {
    if (st->owner[0]) rt_server_owner_drop(st->srv, st->owner);
    rt_server_slot_drop(st->srv);
  }
  sse_free(st);
}

/* The replay lists (x->mu). */
static void run_push(rt_sses *x, rt_sse *st) {
  st->rstate = RS_RUNNABLE;
  st->rnext = NULL;
  if (x->run_tail) x->run_tail->rnext = st;
  else x->run_head = st;
  x->run_tail = st;
}

static rt_sse *list_pop(rt_sse **head, rt_sse **tail) {
  rt_sse *st = *head;
  if (st) {
    *head = st->rnext;
    if (!*head) *tail = NULL;
    st->rnext = NULL;
  }
  return st;
}

static void list_remove(rt_sse **head, rt_sse **tail, rt_sse *st) {
  rt_sse *prev = NULL;
  for (rt_sse *p = *head; p; prev = p, p = p->rnext) {
    if (p != st) continue;
    if (prev) prev->rnext = p->rnext;
    else *head = p->rnext;
    if (*tail == p) *tail = prev;
    p->rnext = NULL;
    return;
  }
}

static void *replay_main(void *arg) {
  rt_sses *x = arg;
  pthread_mutex_lock(&x->mu);
  while (!x->stop) {
    while (x->active < x->max_replays && x->wait_head) {
      run_push(x, list_pop(&x->wait_head, &x->wait_tail));
      x->active++;
    }
    rt_sse *st = list_pop(&x->run_head, &x->run_tail);
    if (!st) {
      pthread_cond_wait(&x->rcv, &x->mu);
      continue;
    }
    st->rstate = RS_RUNNING;
    pthread_mutex_unlock(&x->mu);
    step_result r = replay_step(x, st);
    pthread_mutex_lock(&x->mu);
    if (st->closing) {
      /* Closed during the step: the closer left the rest to us. */
      st->rstate = RS_NONE;
      x->active--;
      pthread_mutex_unlock(&x->mu);
      close_finish(st);
      pthread_mutex_lock(&x->mu);
      continue;
    }
    if (r == STEP_PARK) {
      /* Parked only while the queue is still full; the reader kicks it
       * (rt_sse_read) once it has drained half. */
      pthread_mutex_lock(&st->mu);
      if (kickable_locked(st)) r = STEP_MORE;
      else st->parked = 1;
      pthread_mutex_unlock(&st->mu);
    }
    if (r == STEP_MORE) {
      run_push(x, st);
    } else if (r == STEP_PARK) {
      st->rstate = RS_PARKED;
    } else {
      st->rstate = RS_NONE;
      x->active--;
    }
  }
  pthread_mutex_unlock(&x->mu);
  return NULL;
}

rt_sses *rt_sses_new(const rt_sse_config *cfg, char *err, size_t errlen) {
  rt_sses *x = xcalloc(1, sizeof *x);
  x->hub = cfg->hub;
  x->db_url = xstrdup(cfg->db_url ? cfg->db_url : "");
  x->max_queue = cfg->max_queue ? cfg->max_queue : SSE_MAX_QUEUE;
  x->keepalive_us =
      (int64_t)(cfg->keepalive_ms > 0 ? cfg->keepalive_ms : SSE_KEEPALIVE_MS) *
      1000;
  x->max_tables = cfg->max_tables > 0 ? cfg->max_tables : SSE_MAX_TABLES;
  x->max_replays = SSE_MAX_REPLAYS;
  pthread_mutex_init(&x->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&x->cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_cond_init(&x->rcv, NULL);
  if (pthread_create(&x->timer, NULL, timer_main, x)) {
    snprintf(err, errlen, "realtime: cannot start the SSE timer thread");
    goto fail;
  }
  if (pthread_create(&x->replayer, NULL, replay_main, x)) {
    snprintf(err, errlen, "realtime: cannot start the SSE replay thread");
    pthread_mutex_lock(&x->mu);
    x->stop = 1;
    pthread_cond_signal(&x->cv);
    pthread_mutex_unlock(&x->mu);
    pthread_join(x->timer, NULL);
    goto fail;
  }
  return x;
fail:
  pthread_cond_destroy(&x->cv);
  pthread_cond_destroy(&x->rcv);
  pthread_mutex_destroy(&x->mu);
  free(x->db_url);
  free(x);
  return NULL;
}

void rt_sses_free(rt_sses *x) {
  if (!x) return;
  pthread_mutex_lock(&x->mu);
  x->stop = 1;
  int left = x->count;
  pthread_cond_signal(&x->cv);
  pthread_cond_signal(&x->rcv);
  pthread_mutex_unlock(&x->mu);
  pthread_join(x->timer, NULL);
  pthread_join(x->replayer, NULL);
  if (left)
    /* Defensive: the HTTP server closes every stream before realtime
     * stops; a stream still open keeps its memory rather than risk a
     * use after free. */
    log_error("realtime: %d SSE stream(s) still open at shutdown", left);
  db_close(x->d);
  pthread_cond_destroy(&x->cv);
  pthread_cond_destroy(&x->rcv);
  pthread_mutex_destroy(&x->mu);
  free(x->db_url);
  free(x);
}

int rt_sses_count(rt_sses *x) {
  pthread_mutex_lock(&x->mu);
  int n = x->count;
  pthread_mutex_unlock(&x->mu);
  return n;
}

void rt_sses_replays(rt_sses *x, int *active, int *waiting) {
  pthread_mutex_lock(&x->mu);
  *active = x->active;
  int n = 0;
  for (rt_sse *st = x->wait_head; st; st = st->rnext) n++;
  *waiting = n;
  pthread_mutex_unlock(&x->mu);
}

/* ---- opening ------------------------------------------------------------ */

static int parse_watch(rt_sses *x, rt_sse *st, const char *tables,
                       api_resp *resp) {
  if (!tables || !*tables)
    return api_fail(resp, E_BAD_QUERY,
                    "name the tables to watch: tables=invoices,payments "
                    "(each may carry a filter: invoices:status=eq.paid)",
                    NULL, NULL);
  const char **starts = arena_alloc(st->a, (size_t)x->max_tables * sizeof *starts);
  size_t *lens = arena_alloc(st->a, (size_t)x->max_tables * sizeof *lens);
  int n = rt_sse_split_tables(tables, starts, lens, x->max_tables);
  if (n < 0)
    return api_failf(resp, E_BAD_QUERY,
                     "tables= must be up to %d comma-separated entries "
                     "table or table:filter, none empty, parentheses and "
                     "quotes closed",
                     x->max_tables);
  st->watch = arena_alloc(st->a, (size_t)n * sizeof *st->watch);
  st->nwatch = n;
  for (int i = 0; i < n; i++) {
    const char *e = starts[i];
    const char *colon = memchr(e, ':', lens[i]);
    size_t nl = colon ? (size_t)(colon - e) : lens[i];
    const rest_table *t = schema_table(e, nl);
    if (!t)
      return api_failf(resp, E_NO_TABLE,
                       "Could not find the table 'public.%.*s' to watch",
                       (int)(nl > 64 ? 64 : nl), e);
    st->watch[i].t = t;
    st->watch[i].f = NULL;
    if (colon) {
      const char *ftext =
          arena_strndup(st->a, colon + 1, lens[i] - nl - 1);
      char ferr[256];
      if (rt_filter_parse(st->a, t, ftext, &st->watch[i].f, ferr, sizeof ferr))
        return api_failf(resp, E_BAD_QUERY, "bad filter for %s: %s", t->name,
                         ferr);
    }
  }
  return 0;
}

/* The tables a replay reads, each once. */
static void replay_tables(rt_sse *st) {
  st->rtables = arena_alloc(st->a, (size_t)st->nwatch * sizeof *st->rtables);
  st->nrtables = 0;
  for (int i = 0; i < st->nwatch; i++) {
    int dup = 0;
    for (int j = 0; j < st->nrtables; j++) dup |= st->rtables[j] == st->watch[i].t;
    if (!dup) st->rtables[st->nrtables++] = st->watch[i].t;
  }
}

static void sse_free(rt_sse *st) {
  for (int i = 0; i < st->nheld; i++) rt_change_unref(st->held[i]);
  free(st->held);
  buf_free(&st->q);
  pthread_mutex_destroy(&st->mu);
  arena_free(st->a);
  free(st);
}

int rt_sses_open(rt_sses *x, const api_principal *who, const char *tables,
                 const char *last_event_id, void (*wake)(void *),
                 void *wake_cls, rt_sse **out, api_resp *resp) {
  *out = NULL;
  if (who->role != ROLE_AUTHENTICATED && who->role != ROLE_SERVICE)
    return api_fail(resp, E_NO_AUTH,
                    "sign in: a stream shows the rows your token can read",
                    NULL, NULL);
  rt_sse *st = xcalloc(1, sizeof *st);
  st->x = x;
  st->a = arena_new();
  st->who = *who;
  st->wake = wake;
  st->wake_cls = wake_cls;
  pthread_mutex_init(&st->mu, NULL);
  buf_init(&st->q, 0);
  st->queued_us = time_mono_us();
  rt_pos after = {0, 0};
  int resume = last_event_id && *last_event_id;
  if (parse_watch(x, st, tables, resp)) goto fail;
  if (resume && rt_pos_parse(last_event_id, &after)) {
    api_fail(resp, E_BAD_QUERY,
             "Last-Event-ID is not an event id of this stream (txid.seq)",
             NULL, NULL);
    goto fail;
  }

  /* The greeting: how long EventSource waits before reconnecting, and a
   * first line so the client knows the stream is open. A resume is
   * answered with it at once; its replay waits its turn on the replay
   * thread (see the top of this file). */
  buf_printf(&st->q, ": munshi realtime\nretry: %d\n\n", SSE_RETRY_MS);
  if (resume) {
    replay_tables(st);
    st->replaying = 1;
    /* Positions are seqs (change.h: txid is always 0). */
    st->have_last = 1;
    st->last = (rt_pos){0, after.seq};
    st->rcur = after.seq;
  } else {
    st->sink = rt_hub_attach(x->hub,
                             who->role == ROLE_SERVICE ? NULL : who->sub,
                             deliver, gap, st);
  }

  pthread_mutex_lock(&x->mu);
  st->next = x->head;
  if (x->head) x->head->prev = st;
  x->head = st;
  x->count++;
  if (resume) {
    st->rstate = RS_WAITING;
    if (x->wait_tail) x->wait_tail->rnext = st;
    else x->wait_head = st;
    x->wait_tail = st;
    pthread_cond_signal(&x->rcv);
  }
  pthread_mutex_unlock(&x->mu);
  *out = st;
  return 0;

fail:
  sse_free(st);
  return -1;
}

/* A stream counts as a socket: against the process's max_sockets and, for
 * a user, against max_sockets_per_user, as the WebSockets do (the service
 * role is not capped per user). */
int rt_sse_open(rt_server *s, const api_principal *who, const char *tables,
                const char *last_event_id, void (*wake)(void *),
                void *wake_cls, rt_sse **out, api_resp *resp) {
  *out = NULL;
  char owner[64] = "";
  if (rt_server_slot_take(s)) {
    api_fail(resp, E_UNAVAILABLE,
             "too many realtime connections on this server; retry later",
             NULL, NULL);
    api_header(resp, "Retry-After", "5");
    return -1;
  }
  if (who->role == ROLE_AUTHENTICATED) {
    snprintf(owner, sizeof owner, "u:%s", who->sub);
    if (rt_server_owner_take(s, owner)) {
      rt_server_slot_drop(s);
      api_fail(resp, E_UNAVAILABLE,
               "too many realtime connections for this user; close one", NULL,
               NULL);
      return -1;
    }
  }
  if (rt_sses_open(s->sse, who, tables, last_event_id, wake, wake_cls, out,
                   resp)) {
    if (owner[0]) rt_server_owner_drop(s, owner);
    rt_server_slot_drop(s);
    return -1;
  }
  (*out)->srv = s;
  memcpy((*out)->owner, owner, sizeof owner);
  return 0;
}

/* ---- reading and closing -------------------------------------------- */

long rt_sse_read(rt_sse *st, char *out, size_t max) {
  long n;
  int kick = 0;
  pthread_mutex_lock(&st->mu);
  size_t avail = st->q.len - st->off;
  if (avail) {
    size_t k = avail < max ? avail : max;
    memcpy(out, st->q.data + st->off, k);
    st->off += k;
    if (st->off == st->q.len) {
      st->off = 0;
      if (st->q.cap > SSE_KEEP_BYTES) {
        buf_free(&st->q);
        buf_init(&st->q, 0);
      } else {
        buf_reset(&st->q);
      }
    } else if (st->off > SSE_KEEP_BYTES && st->off > st->q.len / 2) {
      memmove(st->q.data, st->q.data + st->off, st->q.len - st->off);
      st->q.len -= st->off;
      st->q.data[st->q.len] = '\0';
      st->off = 0;
    }
    n = (long)k;
    if (st->parked && kickable_locked(st)) {
      st->parked = 0;
      kick = 1;
    }
  } else if (st->ended) {
    n = -1;
  } else {
    st->want_wake = 1;
    n = 0;
  }
  pthread_mutex_unlock(&st->mu);
  if (kick) {
    /* The replay was parked on a full queue: its turn again. Only this
     * reader clears parked, and only a parked stream is RS_PARKED. */
    rt_sses *x = st->x;
    pthread_mutex_lock(&x->mu);
    if (st->rstate == RS_PARKED) {
      run_push(x, st);
      pthread_cond_signal(&x->rcv);
    }
    pthread_mutex_unlock(&x->mu);
  }
  return n;
}

void rt_sse_close(rt_sse *st) {
  if (!st) return;
  rt_sses *x = st->x;
  pthread_mutex_lock(&x->mu);
  if (st->prev) st->prev->next = st->next;
  else x->head = st->next;
  if (st->next) st->next->prev = st->prev;
  x->count--;
  /* Never woken again from here on (set before a replay step can see
   * closing and free the stream). */
  pthread_mutex_lock(&st->mu);
  st->closed = 1;
  pthread_mutex_unlock(&st->mu);
  /* Out of the replay queue. A step running on it is not waited for (it
   * may be waiting on the database, and this is an HTTP worker): the
   * replay thread finishes the close after the step. */
  int deferred = st->rstate == RS_RUNNING;
  if (deferred) {
    st->closing = 1;
  } else if (st->rstate == RS_WAITING) {
    list_remove(&x->wait_head, &x->wait_tail, st);
  } else if (st->rstate == RS_RUNNABLE || st->rstate == RS_PARKED) {
    list_remove(&x->run_head, &x->run_tail, st);
    x->active--;
    pthread_cond_signal(&x->rcv); /* a waiting resume may start */
  }
  if (!deferred) st->rstate = RS_NONE;
  pthread_mutex_unlock(&x->mu);
  if (!deferred) close_finish(st);
}
