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
 * Resuming: the sink is attached first, and changes it gets while the
 * replay of (Last-Event-ID, head] reads the database are held; then the
 * replayed events are queued, then the held ones, each position at most
 * once (positions only grow), so nothing falls between the two.
 *
 * Locks, always in this order: the hub's (around deliver) or x->mu (the
 * timer), then st->mu, then whatever wake takes (libmicrohttpd's resume).
 * wake is only called under st->mu, and rt_sse_close sets closed under it,
 * so no wake can reach a connection the HTTP layer is done with. */
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
/* Changes held while a resume replays; past it the stream ends as too
 * slow (the client resumes again from what it got). */
#define SSE_MAX_HELD 100000
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
  pthread_mutex_t db_mu; /* the replay connection */
  db *d;
};

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
  rt_change **held;
  int nheld, capheld;
  int have_last;
  rt_pos last;         /* the newest position queued or passed over */
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

static void deliver(void *cls, rt_change *c) {
  rt_sse *st = cls;
  pthread_mutex_lock(&st->mu);
  if (st->ended || st->closed) goto out;
  if (st->replaying) {
    if (st->nheld >= SSE_MAX_HELD) {
      too_slow_locked(st);
      goto out;
    }
    if (st->nheld == st->capheld) {
      st->capheld = st->capheld ? st->capheld * 2 : 64;
      st->held = xrealloc(st->held, (size_t)st->capheld * sizeof *st->held);
    }
    st->held[st->nheld++] = rt_change_ref(c);
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

rt_sses *rt_sses_new(const rt_sse_config *cfg, char *err, size_t errlen) {
  rt_sses *x = xcalloc(1, sizeof *x);
  x->hub = cfg->hub;
  x->db_url = xstrdup(cfg->db_url ? cfg->db_url : "");
  x->max_queue = cfg->max_queue ? cfg->max_queue : SSE_MAX_QUEUE;
  x->keepalive_us =
      (int64_t)(cfg->keepalive_ms > 0 ? cfg->keepalive_ms : SSE_KEEPALIVE_MS) *
      1000;
  x->max_tables = cfg->max_tables > 0 ? cfg->max_tables : SSE_MAX_TABLES;
  pthread_mutex_init(&x->mu, NULL);
  pthread_mutex_init(&x->db_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&x->cv, &ca);
  pthread_condattr_destroy(&ca);
  if (pthread_create(&x->timer, NULL, timer_main, x)) {
    snprintf(err, errlen, "realtime: cannot start the SSE timer thread");
    pthread_cond_destroy(&x->cv);
    pthread_mutex_destroy(&x->mu);
    pthread_mutex_destroy(&x->db_mu);
    free(x->db_url);
    free(x);
    return NULL;
  }
  return x;
}

void rt_sses_free(rt_sses *x) {
  if (!x) return;
  pthread_mutex_lock(&x->mu);
  x->stop = 1;
  int left = x->count;
  pthread_cond_signal(&x->cv);
  pthread_mutex_unlock(&x->mu);
  pthread_join(x->timer, NULL);
  if (left)
    /* Defensive: the HTTP server closes every stream before realtime
     * stops; a stream still open keeps its memory rather than risk a
     * use after free. */
    log_error("realtime: %d SSE stream(s) still open at shutdown", left);
  db_close(x->d);
  pthread_cond_destroy(&x->cv);
  pthread_mutex_destroy(&x->mu);
  pthread_mutex_destroy(&x->db_mu);
  free(x->db_url);
  free(x);
}

int rt_sses_count(rt_sses *x) {
  pthread_mutex_lock(&x->mu);
  int n = x->count;
  pthread_mutex_unlock(&x->mu);
  return n;
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

typedef struct replay_ctx {
  rt_sse *st;
  buf *b;
  int full;
} replay_ctx;

static int replay_one(void *cls, rt_change *c) {
  replay_ctx *r = cls;
  if (r->full) return 0;
  /* The stream is not visible to the hub's thread yet for this part: its
   * mutex only guards last against nothing, but keep the rule. */
  pthread_mutex_lock(&r->st->mu);
  if (r->b->len + c->data_len + 128 > r->st->x->max_queue ||
      format_change(r->st, r->b, c) < 0)
    r->full = 1;
  pthread_mutex_unlock(&r->st->mu);
  return 0;
}

/* Replays (after, upto] into b. 0, 1 (some were purged), -1 (db error,
 * resp set). */
static int replay(rt_sses *x, rt_sse *st, rt_pos after, rt_pos upto, buf *b,
                  int *full, api_resp *resp) {
  const rest_table **ts = arena_alloc(st->a, (size_t)st->nwatch * sizeof *ts);
  int nts = 0;
  for (int i = 0; i < st->nwatch; i++) {
    int dup = 0;
    for (int j = 0; j < nts; j++) dup |= ts[j] == st->watch[i].t;
    if (!dup) ts[nts++] = st->watch[i].t;
  }
  replay_ctx r = {st, b, 0};
  db_err err;
  memset(&err, 0, sizeof err);
  int rc;
  pthread_mutex_lock(&x->db_mu);
  if (!x->d && db_open(x->db_url, &x->d, &err)) {
    x->d = NULL;
    rc = -1;
  } else {
    rc = rt_replay(x->d, &st->who, after, upto, ts, nts, replay_one, &r, &err);
    if (rc < 0) {
      /* Perhaps the connection broke: the next resume opens a new one. */
      db_close(x->d);
      x->d = NULL;
    }
  }
  pthread_mutex_unlock(&x->db_mu);
  if (rc < 0) {
    log_error("realtime: sse: replay failed: %s", err.message);
    api_fail(resp, E_UNAVAILABLE,
             "the changes since Last-Event-ID cannot be read now; retry",
             NULL, NULL);
    return -1;
  }
  *full = r.full;
  return rc;
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
  buf rb;
  buf_init(&rb, 0);
  if (parse_watch(x, st, tables, resp)) goto fail;
  if (resume && rt_pos_parse(last_event_id, &after)) {
    api_fail(resp, E_BAD_QUERY,
             "Last-Event-ID is not an event id of this stream (txid.seq)",
             NULL, NULL);
    goto fail;
  }

  /* The greeting: how long EventSource waits before reconnecting, and a
   * first line so the client knows the stream is open. */
  buf_printf(&st->q, ": munshi realtime\nretry: %d\n\n", SSE_RETRY_MS);
  st->replaying = resume;
  st->sink = rt_hub_attach(x->hub,
                           who->role == ROLE_SERVICE ? NULL : who->sub,
                           deliver, gap, st);
  if (resume) {
    rt_pos upto = rt_hub_head(x->hub);
    int full = 0;
    st->have_last = 1;
    st->last = after;
    int rc = replay(x, st, after, upto, &rb, &full, resp);
    if (rc < 0) {
      rt_hub_detach(x->hub, st->sink);
      goto fail;
    }
    pthread_mutex_lock(&st->mu);
    if (rc == 1 || st->gap_pending) gap_locked(st);
    if (buf_append(&st->q, rb.data ? rb.data : "", rb.len)) too_slow_locked(st);
    if (full) too_slow_locked(st);
    if (rt_pos_cmp(upto, st->last) > 0) st->last = upto;
    for (int i = 0; i < st->nheld; i++) {
      queue_change_locked(st, st->held[i]);
      rt_change_unref(st->held[i]);
    }
    st->nheld = 0;
    free(st->held);
    st->held = NULL;
    st->capheld = 0;
    st->replaying = 0;
    pthread_mutex_unlock(&st->mu);
  }
  buf_free(&rb);

  pthread_mutex_lock(&x->mu);
  st->next = x->head;
  if (x->head) x->head->prev = st;
  x->head = st;
  x->count++;
  pthread_mutex_unlock(&x->mu);
  *out = st;
  return 0;

fail:
  buf_free(&rb);
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
  } else if (st->ended) {
    n = -1;
  } else {
    st->want_wake = 1;
    n = 0;
  }
  pthread_mutex_unlock(&st->mu);
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
  pthread_mutex_unlock(&x->mu);
  pthread_mutex_lock(&st->mu);
  st->closed = 1;
  pthread_mutex_unlock(&st->mu);
  /* After this deliver is not running and never runs again. */
  rt_hub_detach(x->hub, st->sink);
  if (st->srv) {
    if (st->owner[0]) rt_server_owner_drop(st->srv, st->owner);
    rt_server_slot_drop(st->srv);
  }
  sse_free(st);
}
