/* feed.c - the feed thread of one process: reads the changes the capture
 * triggers recorded (realtime_changes), in order, renders each as a REST
 * read would (render.c, change.c) and hands it to the hub; and purges the
 * changes older than the window.
 *
 * It wakes when a commit may have added changes: the db layer's commit
 * listener (db_on_commit) tells it of every commit of this process that
 * wrote; on PostgreSQL also a notification on munshi_realtime (LISTEN, on
 * the thread's own connection), which the feed of another munshi process
 * sends once per round in which it found changes after a commit of its own
 * process (one NOTIFY per round, not per write: see capture.c for why the
 * writers do not notify); and every 250 ms at worst, for writers it cannot
 * hear (psql, another process on the same SQLite file).
 *
 * Order. Changes are delivered in seq order. On SQLite one writer at a time
 * makes seq the commit order. On PostgreSQL seq is taken as the trigger
 * runs, inside the writing transaction, so two transactions can commit in
 * the other order than their seqs; but two writes of the same row are
 * ordered by the row's lock (the second can only write after the first
 * committed, so it takes a larger seq), so seq order keeps every row's
 * changes in order. Ordering by (txid, seq), as the events outbox does,
 * would not: a transaction that got its id first can update a row after a
 * younger one did, and would be delivered before it.
 *
 * The feed must not pass a seq that a transaction still running may own.
 * It reads the sequence's last value L, and then takes a transaction id N
 * of its own (pg_current_xact_id, in a transaction committed without a
 * flush): every transaction that took a seq up to L had its id before L
 * was read (the trigger runs after its row was written, which gave the
 * transaction its id), so its id is below N. Once the oldest running
 * transaction is younger than N (pg_snapshot_xmin), all of them have
 * finished: the changes up to L are final, and are delivered; until then
 * the feed waits, however long the transaction takes. So a transaction that
 * commits late is waited for, never skipped. It costs one transaction id
 * per round that found new changes, none when idle. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "realtime/feed.h"
#include "realtime/rt_int.h"

#define FEED_IDLE_MS 250   /* longest sleep without a wake-up */
#define FEED_SLICE_MS 50   /* how often a waiting thread checks stop */
#define FEED_SETTLE_MS 5   /* retry of a PostgreSQL round not yet final */
#define FEED_PAGE 500      /* changes read per query */
#define FEED_PURGE_US (1000 * 1000LL) /* purge at most once a second */
#define FEED_RETRY_MS 1000 /* after a database error */

struct rt_feed {
  char *url;
  rt_hub *hub;
  int64_t window_us;
  db *d;
  int pg;
  pthread_t th;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int kicked, stop; /* under mu */
  int efd;          /* PostgreSQL: eventfd the commit listener writes */
  int64_t cursor;   /* seq of the last change handed to the hub */
  /* PostgreSQL: a round waiting to become final (see the top). */
  int pending;
  int64_t pend_last, pend_xid;
  int64_t next_purge_us;
};

/* ---- waking ------------------------------------------------------------- */

static void feed_kick(void *cls) {
  rt_feed *f = cls;
  pthread_mutex_lock(&f->mu);
  f->kicked = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  if (f->efd >= 0) {
    uint64_t one = 1;
    ssize_t w = write(f->efd, &one, sizeof one); /* full counter: awake anyway */
    (void)w;
  }
}

/* Takes the kick flag (and empties the eventfd). */
static int take_kick(rt_feed *f) {
  if (f->efd >= 0) {
    uint64_t n;
    ssize_t r = read(f->efd, &n, sizeof n); /* non-blocking */
    (void)r;
  }
  pthread_mutex_lock(&f->mu);
  int k = f->kicked;
  f->kicked = 0;
  pthread_mutex_unlock(&f->mu);
  return k;
}

static int feed_stopping(rt_feed *f) {
  pthread_mutex_lock(&f->mu);
  int s = f->stop;
  pthread_mutex_unlock(&f->mu);
  return s;
}

/* Sleeps until a commit, the stop, or ms passed (SQLite). */
static void wait_kick(rt_feed *f, int ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_nsec += (long)ms * 1000000L;
  until.tv_sec += until.tv_nsec / 1000000000L;
  until.tv_nsec %= 1000000000L;
  pthread_mutex_lock(&f->mu);
  while (!f->kicked && !f->stop)
    if (pthread_cond_timedwait(&f->cv, &f->mu, &until) == ETIMEDOUT) break;
  f->kicked = 0;
  pthread_mutex_unlock(&f->mu);
}

/* Waits for a commit of this process, a notification from another, the
 * stop, or ms (PostgreSQL). -1: the connection broke. */
static int wait_notify(rt_feed *f, int ms, db_err *err) {
  for (int waited = 0; waited < ms && !feed_stopping(f);) {
    int slice = ms - waited < FEED_SLICE_MS ? ms - waited : FEED_SLICE_MS;
    int rc = db_wait_notify(f->d, slice, f->efd, err);
    if (rc) return rc < 0 ? -1 : 0;
    waited += slice;
  }
  return 0;
}

/* ---- reading ------------------------------------------------------------ */

static int64_t max64(int64_t a, int64_t b) { return a > b ? a : b; }

/* A hole after the cursor is normal on PostgreSQL (a rolled-back
 * transaction's seqs); it is a loss only when the purge deleted past the
 * cursor. Then the sinks are told, and the feed goes on after the hole. */
static int check_gap(rt_feed *f, int64_t first_seen, db_err *err) {
  if (first_seen <= f->cursor + 1) return 0;
  int64_t purged;
  if (rt_purged_upto(f->d, &purged, err)) return -1;
  if (purged > f->cursor) {
    log_warn("realtime: the feed fell behind the window; changes %lld..%lld "
             "were purged before it read them",
             (long long)f->cursor + 1, (long long)purged);
    f->cursor = purged;
    rt_hub_gap(f->hub);
  }
  return 0;
}

/* Publishes the changes after the cursor, up to `upto` (INT64_MAX: all). */
static int deliver(rt_feed *f, int64_t upto, db_err *err) {
  db_kind kind = db_kind_of(f->d);
  for (;;) {
    db_val p[2] = {db_int(f->cursor), db_int(upto)};
    db_res *r = NULL;
    if (db_query(f->d,
                 "SELECT " RT_CHANGE_COLUMNS " FROM realtime_changes WHERE seq "
                 "> $1 AND seq <= $2 ORDER BY seq LIMIT 500",
                 p, 2, &r, err))
      return -1;
    int n = db_res_rows(r);
    if (n && check_gap(f, db_res_int(r, 0, 0), err)) {
      db_res_free(r);
      return -1;
    }
    for (int i = 0; i < n; i++) {
      int64_t seq = db_res_int(r, i, 0);
      if (seq <= f->cursor) continue; /* purged past by check_gap */
      rt_change *c = rt_change_from_row(kind, r, i);
      if (c) {
        rt_hub_publish(f->hub, c);
        rt_change_unref(c);
      }
      f->cursor = seq;
    }
    db_res_free(r);
    if (n < FEED_PAGE) return 0;
  }
}

static int pg_last_seq(rt_feed *f, int64_t *last, db_err *err) {
  db_res *r = NULL;
  if (db_query(f->d,
               "SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM "
               "realtime_changes_seq",
               NULL, 0, &r, err))
    return -1;
  *last = db_res_int(r, 0, 0);
  db_res_free(r);
  return 0;
}

/* A transaction id newer than every transaction that already holds a seq
 * up to the last value read before (see the top). Committed without waiting
 * for the flush: nothing it did needs to survive a crash. */
static int pg_fresh_xid(rt_feed *f, int64_t *xid, db_err *err) {
  db_res *r = NULL;
  if (db_begin(f->d, 1, err)) return -1;
  if (db_query(f->d,
               "SELECT set_config('synchronous_commit', 'off', true), "
               "pg_current_xact_id()::text::bigint",
               NULL, 0, &r, err)) {
    db_rollback(f->d);
    return -1;
  }
  *xid = db_res_int(r, 0, 1);
  db_res_free(r);
  return db_commit(f->d, err);
}

static int pg_oldest_running(rt_feed *f, int64_t *xmin, db_err *err) {
  db_res *r = NULL;
  if (db_query(f->d,
               "SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint",
               NULL, 0, &r, err))
    return -1;
  *xmin = db_res_int(r, 0, 0);
  db_res_free(r);
  return 0;
}

/* One PostgreSQL round. *settling = 1 when changes wait for transactions
 * to finish (the caller retries soon); *found = 1 when it found new
 * changes. */
static int pg_round(rt_feed *f, int *settling, int *found, db_err *err) {
  *settling = 0;
  *found = 0;
  for (int rounds = 0; rounds < 64; rounds++) {
    if (!f->pending) {
      int64_t last;
      if (pg_last_seq(f, &last, err)) return -1;
      if (last <= f->cursor) return 0;
      *found = 1;
      if (pg_fresh_xid(f, &f->pend_xid, err)) return -1;
      f->pend_last = last;
      f->pending = 1;
    }
    int64_t xmin;
    if (pg_oldest_running(f, &xmin, err)) return -1;
    if (xmin <= f->pend_xid) {
      *settling = 1;
      return 0;
    }
    if (deliver(f, f->pend_last, err)) return -1;
    /* The rest of the round is a hole: rolled back, or purged (a gap). */
    if (f->cursor < f->pend_last && check_gap(f, f->pend_last + 1, err))
      return -1;
    f->cursor = max64(f->cursor, f->pend_last);
    f->pending = 0;
  }
  return 0;
}

/* ---- purging ------------------------------------------------------------ */

/* Deletes the changes older than the window. Its end is found along seq
 * (the first change young enough to keep), which follows time (closely on
 * PostgreSQL, where created_at is the moment of the write), so no index on
 * created_at is needed: the scan passes only the rows it deletes. The
 * newest change is always kept, so that SQLite's max + 1 never hands a
 * position out twice. */
static int purge(rt_feed *f, db_err *err) {
  int64_t now = time_now_us();
  if (now < f->next_purge_us) return 0;
  f->next_purge_us = now + FEED_PURGE_US;
  db_val cut = db_ts(now - f->window_us);
  db_res *r = NULL;
  if (db_query(f->d,
               "SELECT (SELECT seq FROM realtime_changes WHERE created_at >= $1 "
               "ORDER BY seq LIMIT 1), (SELECT max(seq) FROM realtime_changes), "
               "(SELECT purged_seq FROM realtime_state WHERE id = 1)",
               &cut, 1, &r, err))
    return -1;
  int64_t upto = db_res_isnull(r, 0, 0) ? db_res_int(r, 0, 1) - 1
                                        : db_res_int(r, 0, 0) - 1;
  int64_t newest = db_res_int(r, 0, 1), purged = db_res_int(r, 0, 2);
  db_res_free(r);
  if (upto >= newest) upto = newest - 1;
  if (upto <= purged) return 0;
  db_val p = db_int(upto);
  if (db_begin(f->d, 1, err)) return -1;
  if (db_query(f->d,
               "UPDATE realtime_state SET purged_seq = $1 WHERE id = 1 AND "
               "purged_seq < $1",
               &p, 1, NULL, err) ||
      db_query(f->d, "DELETE FROM realtime_changes WHERE seq <= $1", &p, 1,
               NULL, err)) {
    db_rollback(f->d);
    return -1;
  }
  return db_commit(f->d, err);
}

/* ---- the thread --------------------------------------------------------- */

static int feed_connect(rt_feed *f, db_err *err) {
  db_close(f->d);
  f->d = NULL;
  f->pending = 0;
  if (db_open(f->url, &f->d, err)) return -1;
  f->pg = db_kind_of(f->d) == DB_POSTGRES;
  if (f->pg && db_listen(f->d, RT_NOTIFY_CHANNEL, err)) return -1;
  return 0;
}

/* Where the feed starts: after every change committed so far (changes of
 * transactions still running at this moment whose seq is already below it
 * are not published: the feed publishes what commits after it started). */
static int start_cursor(rt_feed *f, db_err *err) {
  int64_t purged, last = 0;
  if (rt_purged_upto(f->d, &purged, err)) return -1;
  if (f->pg) {
    if (pg_last_seq(f, &last, err)) return -1;
  } else {
    db_res *r = NULL;
    if (db_query(f->d, "SELECT coalesce(max(seq), 0) FROM realtime_changes",
                 NULL, 0, &r, err))
      return -1;
    last = db_res_int(r, 0, 0);
    db_res_free(r);
  }
  f->cursor = max64(purged, last);
  return 0;
}

/* Tells the feeds of the other munshi processes on this database that
 * there are changes (see the top). */
static int pg_tell_others(rt_feed *f, db_err *err) {
  return db_query(f->d, "SELECT pg_notify('" RT_NOTIFY_CHANNEL "', '')", NULL,
                  0, NULL, err);
}

static void *feed_main(void *arg) {
  rt_feed *f = arg;
  db_err err;
  int broken = 0, local = 1, owed = 0;
  while (!feed_stopping(f)) {
    if (broken) {
      wait_kick(f, FEED_RETRY_MS);
      if (feed_stopping(f)) break;
      if (feed_connect(f, &err)) {
        log_warn("realtime: feed cannot reconnect: %s", err.message);
        continue;
      }
      broken = 0;
    }
    int settling = 0, found = 0, rc;
    if (f->pg) {
      rc = pg_round(f, &settling, &found, &err);
      /* Changes found after a commit of this process: the other processes
       * cannot hear that commit, so they are told (once the round is
       * final, so that they find the changes deliverable). */
      owed |= found && local;
      if (!rc && owed && !settling) {
        rc = pg_tell_others(f, &err);
        owed = 0;
      }
    } else {
      rc = deliver(f, INT64_MAX, &err);
    }
    if (!rc) rc = purge(f, &err);
    if (rc) {
      log_warn("realtime: feed: %s (%s)", err.message, err.code);
      broken = 1;
      continue;
    }
    if (f->pg) {
      /* A commit of this process during the round: go again at once. */
      local = take_kick(f);
      if (!local) {
        if (wait_notify(f, settling ? FEED_SETTLE_MS : FEED_IDLE_MS, &err)) {
          log_warn("realtime: feed lost its connection: %s", err.message);
          broken = 1;
        }
        local = take_kick(f);
      }
    } else {
      wait_kick(f, FEED_IDLE_MS);
    }
  }
  return NULL;
}

int rt_feed_start(const char *db_url, rt_hub *hub, int window_s, rt_feed **out,
                  char *errbuf, size_t errlen) {
  *out = NULL;
  rt_feed *f = xcalloc(1, sizeof *f);
  f->url = xstrdup(db_url);
  f->hub = hub;
  f->window_us = (int64_t)(window_s > 0 ? window_s : 120) * 1000000LL;
  f->efd = -1;
  pthread_mutex_init(&f->mu, NULL);
  pthread_cond_init(&f->cv, NULL);
  db_err err;
  if (feed_connect(f, &err) || start_cursor(f, &err)) {
    snprintf(errbuf, errlen, "realtime feed: %s", err.message);
    goto fail;
  }
  rt_hub_set_head(hub, (rt_pos){0, f->cursor});
  if (f->pg && (f->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) < 0) {
    snprintf(errbuf, errlen, "realtime feed: eventfd failed");
    goto fail;
  }
  if (db_on_commit(feed_kick, f)) {
    snprintf(errbuf, errlen, "realtime feed: too many commit listeners");
    goto fail;
  }
  if (pthread_create(&f->th, NULL, feed_main, f)) {
    db_on_commit_remove(feed_kick, f);
    snprintf(errbuf, errlen, "realtime feed: cannot start its thread");
    goto fail;
  }
  *out = f;
  return 0;
fail:
  if (f->efd >= 0) close(f->efd);
  db_close(f->d);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f->url);
  free(f);
  return -1;
}

void rt_feed_stop(rt_feed *f) {
  if (!f) return;
  db_on_commit_remove(feed_kick, f);
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_cond_signal(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->th, NULL);
  if (f->efd >= 0) close(f->efd);
  db_close(f->d);
  pthread_mutex_destroy(&f->mu);
  pthread_cond_destroy(&f->cv);
  free(f->url);
  free(f);
}
