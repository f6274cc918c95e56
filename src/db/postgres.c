/* postgres.c - the PostgreSQL backend of db.h, on libpq.
 *
 * Every parameter travels as text with no declared type, so the server
 * infers each one's type from where it stands in the statement (a money
 * value bound next to a numeric(14,2) column becomes numeric): the program
 * never spells out PostgreSQL types, and the same SQL text runs on SQLite.
 * Decimals are formatted from their scaled integers, never through floating
 * point. Statements are prepared once per connection under generated names
 * and cached by SQL text; results wrap the PGresult without copying. The
 * session runs with TimeZone UTC and ISO dates, which is what the readers in
 * db.c parse. A connection found broken before a statement is reset once,
 * but never inside a transaction: the work done before the break is gone,
 * and only the caller can redo it.
 *
 * BEGIN is not sent on its own: db_begin only notes it, and it goes out
 * with the transaction's first statement — in one pipeline (libpq's
 * pipeline mode) with the execution of a prepared statement, or in front
 * of the text of a simple-protocol one — so a transaction costs one round
 * trip less. A transaction in which nothing ran commits or rolls back
 * without a word to the server. */
#include <inttypes.h>
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/dec.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "db/db_int.h"

struct pg {
  struct db base;
  PGconn *conn;
  struct stmt_cache cache; /* SQL text -> statement number, as a pointer */
  unsigned next_id;
  unsigned execs; /* statements run since the cache was last cleared */
  int in_tx;
  int begin_pending; /* BEGIN noted, to go with the next statement */
  int plan_mode;     /* PG_PLAN_*: the session's plan_cache_mode */
  int tx_plan_mode;  /* what it was when the transaction began (a rollback
                        undoes a SET made inside) */
  int wrote;         /* a write ran in the open transaction (db_on_commit) */
};

struct pg_res {
  struct db_res base;
  PGresult *res;
  int64_t changes;
};

/* Room for the text of any non-text parameter: a timestamp (32), a
 * decimal (DEC_MAX_TEXT), an int64 (20), a date (10). */
#define PG_PARAM_TEXT 40
struct param_text {
  char s[PG_PARAM_TEXT];
};
#define PG_PARAMS_ON_STACK 16
#define PG_PIPE_MAX 2 /* commands sent ahead of a statement: BEGIN, SET */

/* plan_cache_mode of the session, as pg_session_setup and db_query_fixed
 * set it (PG_PLAN_UNKNOWN after a SET was undone by a rollback we could
 * not follow). */
#define PG_PLAN_UNKNOWN (-1)
#define PG_PLAN_AUTO 0
#define PG_PLAN_GENERIC 1
static const char *const plan_set[] = {
    "SET plan_cache_mode = auto",
    "SET plan_cache_mode = force_generic_plan"};

/* ---- errors ---- */

static int pg_fail(struct pg *p, const PGresult *r, db_err *err) {
  const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
  const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  if (!msg || !*msg) msg = PQerrorMessage(p->conn);
  /* A lost connection reads as 08006 whatever the server said last
   * (57P01 when an administrator ended the session, say): for the caller
   * it is one condition. */
  if (PQstatus(p->conn) == CONNECTION_BAD)
    state = "08006";
  else if (!state || !*state)
    state = "XX000";
  return db_err_set(err, state, "%s", msg);
}

/* 1 when r is the answer to a statement that wrote rows. */
static int pg_is_write(const PGresult *r) {
  const char *tag = PQcmdStatus((PGresult *)r);
  return !strncmp(tag, "INSERT", 6) || !strncmp(tag, "UPDATE", 6) ||
         !strncmp(tag, "DELETE", 6) || !strncmp(tag, "MERGE", 5);
}

/* After a statement went through: the commit listeners hear of a write at
 * once when it committed on its own, or at the COMMIT of its transaction. */
static void pg_note_write(struct pg *p, const PGresult *r) {
  if (!pg_is_write(r)) return;
  if (p->in_tx)
    p->wrote = 1;
  else
    db_commit_fire();
}

static int pg_ok(const PGresult *r) {
  if (!r) return 0;
  ExecStatusType st = PQresultStatus(r);
  return st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK;
}

/* Follows the server's transaction state while the connection is good
 * (a caller may BEGIN through db_exec too); once it breaks, the last known
 * state is what decides whether a reset is safe. */
static void pg_track_tx(struct pg *p) {
  if (PQstatus(p->conn) != CONNECTION_OK) return;
  PGTransactionStatusType t = PQtransactionStatus(p->conn);
  p->in_tx = t == PQTRANS_INTRANS || t == PQTRANS_INERROR;
}

/* Runs SQL without parameters through the simple protocol (several
 * statements allowed); 0 or -1 with err filled. */
static int pg_simple(struct pg *p, const char *sql, db_err *err) {
  PGresult *r = PQexec(p->conn, sql);
  pg_track_tx(p);
  int ok = pg_ok(r);
  if (!ok) pg_fail(p, r, err);
  PQclear(r);
  return ok ? 0 : -1;
}

/* NOTICEs ("relation already exists, skipping", "there is no transaction
 * in progress") would otherwise go to stderr; they are expected here. */
static void pg_notice(void *arg, const char *msg) {
  (void)arg;
  log_debug("postgres: %.200s", msg);
}

/* plan_cache_mode: every statement is prepared once per connection, and
 * PostgreSQL switches a prepared statement to a generic plan after five
 * runs, made with the statistics of that moment. A connection that starts
 * while invoices is empty keeps a plan that scans it, and the server got
 * slower the longer it ran (436 → 183 invoices/s). Forcing custom plans
 * kept the plans right but planned every statement at every run, which
 * halved a GET of one row (32,700 → 17,300/s). So sessions run with the
 * default (auto), and every PG_REPREPARE_EVERY statements a connection
 * drops its prepared statements (between transactions), so that each plan
 * is made again from the statistics of now. The statements whose plan
 * cannot go wrong (by key, see db_query_fixed) switch the session to
 * generic plans: the SET rides in the same pipeline as the statement, and
 * only when the mode changes. */
#define PG_REPREPARE_EVERY 20000
static int pg_session_setup(struct pg *p, db_err *err) {
  p->plan_mode = PG_PLAN_AUTO;
  return pg_simple(p,
                   "SET TimeZone = 'UTC'; SET DateStyle = 'ISO, YMD';"
                   "SET client_encoding = 'UTF8';"
                   "SET plan_cache_mode = auto",
                   err);
}

/* Before a statement: a connection that broke since the last one is
 * reset, unless a transaction was open on it. */
static int pg_ensure(struct pg *p, db_err *err) {
  if (PQstatus(p->conn) == CONNECTION_OK) return 0;
  if (p->in_tx)
    return db_err_set(err, "08006",
                      "connection to the database lost inside a transaction");
  log_warn("postgres: connection lost, reconnecting");
  PQreset(p->conn);
  /* A new session knows none of the old prepared statements. */
  stmt_cache_clear(&p->cache, NULL, NULL);
  if (PQstatus(p->conn) != CONNECTION_OK)
    return db_err_set(err, "08006", "%s", PQerrorMessage(p->conn));
  return pg_session_setup(p, err);
}

/* ---- statements ---- */

static const char *pg_param(const db_val *v, struct param_text *t) {
  switch (v->type) {
    case DBT_NULL:
      return NULL;
    case DBT_TEXT:
    case DBT_JSON:
    case DBT_UUID:
      return v->s;
    case DBT_INT:
      snprintf(t->s, sizeof t->s, "%" PRId64, v->i);
      return t->s;
    case DBT_BOOL:
      return v->i ? "true" : "false";
    case DBT_TS:
      ts_format(v->i, t->s);
      return t->s;
    case DBT_DATE:
      date_format((int32_t)v->i, t->s);
      return t->s;
    case DBT_DEC:
      dec_format(v->i, v->scale, t->s);
      return t->s;
  }
  return NULL;
}

/* Executes sql as a cached prepared statement; returns the PGresult of
 * the execution, or of the PREPARE when that failed (NULL only when libpq
 * is out of memory or lost the connection). */
static PGresult *pg_exec_cached(struct pg *p, const char *sql, int n,
                                const char *const *vals) {
  uintptr_t id = (uintptr_t)stmt_cache_get(&p->cache, sql);
  char name[24];
  if (!id) {
    if (stmt_cache_full(&p->cache)) {
      /* DEALLOCATE fails inside an aborted transaction; then keep the
       * cache and run this one statement unprepared. */
      db_err ignored;
      if (pg_simple(p, "DEALLOCATE ALL", &ignored) == 0)
        stmt_cache_clear(&p->cache, NULL, NULL);
      else
        return PQexecParams(p->conn, sql, n, NULL, vals, NULL, NULL, 0);
    }
    id = ++p->next_id;
    snprintf(name, sizeof name, "s%u", (unsigned)id);
    PGresult *r = PQprepare(p->conn, name, sql, 0, NULL);
    if (!pg_ok(r)) return r; /* the caller reports the error */
    PQclear(r);
    stmt_cache_put(&p->cache, sql, (void *)id);
  }
  snprintf(name, sizeof name, "s%u", (unsigned)id);
  return PQexecPrepared(p->conn, name, n, vals, NULL, NULL, 0);
}

/* The commands of pre[0..npre) (BEGIN, SET: no parameters, no rows) and
 * the execution of prepared statement `name`, in one pipeline: one round
 * trip. Returns the result that tells the outcome — the first command's
 * that failed, else the statement's — as PQexecPrepared would (NULL when
 * the connection is lost). */
static PGresult *pg_pipeline(struct pg *p, const char *const *pre, int npre,
                             const char *name, int n, const char *const *vals) {
  if (!PQenterPipelineMode(p->conn)) return NULL;
  PGresult *res[PG_PIPE_MAX + 1] = {NULL};
  int sent = 1;
  for (int i = 0; i < npre && sent; i++)
    sent = PQsendQueryParams(p->conn, pre[i], 0, NULL, NULL, NULL, NULL, 0);
  if (sent && PQsendQueryPrepared(p->conn, name, n, vals, NULL, NULL, 0) &&
      PQpipelineSync(p->conn)) {
    /* Each command's result and a NULL after it, then the sync; a lost
     * connection ends the loop early. */
    int got = 0, nulls = 0;
    for (int guard = 0; guard < 4 * (PG_PIPE_MAX + 2); guard++) {
      PGresult *r = PQgetResult(p->conn);
      if (!r) {
        if (++nulls > npre + 1 || PQstatus(p->conn) != CONNECTION_OK) break;
        continue;
      }
      if (PQresultStatus(r) == PGRES_PIPELINE_SYNC) {
        PQclear(r);
        break;
      }
      if (got <= npre)
        res[got++] = r;
      else
        PQclear(r);
    }
  }
  PQexitPipelineMode(p->conn);
  PGresult *out = NULL;
  for (int i = 0; i <= npre; i++) {
    if (!out && (i == npre || !pg_ok(res[i])))
      out = res[i];
    else
      PQclear(res[i]);
  }
  return out;
}

/* ---- results ---- */

static const struct db_res_ops pg_res_ops;

static const struct pg_res *PGR(const db_res *r) {
  return (const struct pg_res *)r;
}

static int pg_res_rows(const db_res *r) {
  return PQntuples(PGR(r)->res);
}
static int pg_res_cols(const db_res *r) {
  return PQnfields(PGR(r)->res);
}
static int64_t pg_res_changes(const db_res *r) {
  return PGR(r)->changes;
}

static const char *pg_res_colname(const db_res *r, int col) {
  return PQfname(PGR(r)->res, col);
}

static const char *pg_res_text(const db_res *r, int row, int col) {
  const PGresult *res = PGR(r)->res;
  return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

static int pg_res_native_int(const db_res *r, int row, int col, int64_t *out) {
  (void)r, (void)row, (void)col, (void)out;
  return 0; /* everything arrives as text */
}

static void pg_res_free(db_res *r) {
  struct pg_res *q = (struct pg_res *)r;
  PQclear(q->res);
  free(q);
}

static const struct db_res_ops pg_res_ops = {
    .rows = pg_res_rows,
    .cols = pg_res_cols,
    .colname = pg_res_colname,
    .changes = pg_res_changes,
    .text = pg_res_text,
    .native_int = pg_res_native_int,
    .free = pg_res_free,
};

static int64_t pg_changes(PGresult *r) {
  /* PQcmdTuples counts the rows of a SELECT too; db.h (and SQLite) only
   * count rows written. */
  if (!strncmp(PQcmdStatus(r), "SELECT", 6)) return 0;
  const char *t = PQcmdTuples(r);
  return *t ? (int64_t)strtoll(t, NULL, 10) : 0;
}

/* ---- operations ---- */

static int pg_query_mode(db *d, int want, const char *sql, const db_val *params,
                         int n, db_res **out, db_err *err) {
  struct pg *p = (struct pg *)d;
  if (pg_ensure(p, err)) return -1;
  struct param_text small_t[PG_PARAMS_ON_STACK];
  const char *small_v[PG_PARAMS_ON_STACK];
  struct param_text *texts = small_t;
  const char **vals = small_v;
  if (n > PG_PARAMS_ON_STACK) {
    texts = xmalloc((size_t)n * sizeof *texts);
    vals = xmalloc((size_t)n * sizeof *vals);
  }
  int ret = -1;
  for (int k = 0; k < n; k++) {
    if (params[k].type == DBT_DEC &&
        (params[k].scale < 0 || params[k].scale > 18)) {
      db_err_set(err, "XX000", "bad decimal scale %d", params[k].scale);
      goto out;
    }
    if ((unsigned)params[k].type > DBT_DEC) {
      db_err_set(err, "XX000", "unknown parameter type %d",
                 (int)params[k].type);
      goto out;
    }
    vals[k] = pg_param(&params[k], &texts[k]);
  }
  PGresult *r;
  /* Between transactions (BEGIN not sent yet counts), now and then: plans
   * made again from today's statistics (see pg_session_setup). */
  if (++p->execs >= PG_REPREPARE_EVERY && !p->in_tx) {
    db_err ignored;
    p->execs = 0;
    if (pg_simple(p, "DEALLOCATE ALL", &ignored) == 0)
      stmt_cache_clear(&p->cache, NULL, NULL);
  }
  uintptr_t id = (uintptr_t)stmt_cache_get(&p->cache, sql);
  int set = p->plan_mode != want;
  if (id && (p->begin_pending || set)) {
    const char *pre[PG_PIPE_MAX];
    int npre = 0, in_tx = p->in_tx || p->begin_pending;
    if (p->begin_pending) pre[npre++] = "BEGIN";
    if (set) pre[npre++] = plan_set[want];
    char name[24];
    snprintf(name, sizeof name, "s%u", (unsigned)id);
    p->begin_pending = 0;
    r = pg_pipeline(p, pre, npre, name, n, vals);
    /* Outside a transaction the SET shares the statement's implicit one
     * and fails with it; inside, a rollback undoes it (pg_rollback). */
    if (set) p->plan_mode = pg_ok(r) || in_tx ? want : PG_PLAN_UNKNOWN;
  } else {
    /* A statement not yet prepared on this connection (rare: once per
     * connection and text): BEGIN and SET on their own first. */
    if (p->begin_pending) {
      p->begin_pending = 0;
      if (pg_simple(p, "BEGIN", err)) goto out;
    }
    if (set) {
      if (pg_simple(p, plan_set[want], err)) {
        p->plan_mode = PG_PLAN_UNKNOWN;
        goto out;
      }
      p->plan_mode = want;
    }
    r = pg_exec_cached(p, sql, n, vals);
  }
  pg_track_tx(p);
  if (!pg_ok(r)) {
    const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    /* 26000: our prepared statement is gone (someone ran DEALLOCATE, or a
     * pooler swapped the session). Outside a transaction nothing was done,
     * so forget the cache and try once more. */
    if (state && !strcmp(state, "26000") && !p->in_tx) {
      PQclear(r);
      stmt_cache_clear(&p->cache, NULL, NULL);
      r = pg_exec_cached(p, sql, n, vals);
      pg_track_tx(p);
    }
    if (!pg_ok(r)) {
      pg_fail(p, r, err);
      PQclear(r);
      goto out;
    }
  }
  pg_note_write(p, r);
  if (out) {
    struct pg_res *q = xmalloc(sizeof *q);
    q->base.magic = DB_RES_MAGIC;
    q->base.ops = &pg_res_ops;
    q->res = r;
    q->changes = pg_changes(r);
    *out = &q->base;
  } else {
    PQclear(r);
  }
  ret = 0;
out:
  if (texts != small_t) {
    free(texts);
    free(vals);
  }
  return ret;
}

static int pg_query(db *d, const char *sql, const db_val *params, int n,
                    db_res **out, db_err *err) {
  return pg_query_mode(d, PG_PLAN_AUTO, sql, params, n, out, err);
}

static int pg_query_fixed(db *d, const char *sql, const db_val *params, int n,
                          db_res **out, db_err *err) {
  return pg_query_mode(d, PG_PLAN_GENERIC, sql, params, n, out, err);
}

static int pg_exec(db *d, const char *sql, db_err *err) {
  struct pg *p = (struct pg *)d;
  if (pg_ensure(p, err)) return -1;
  /* Scripts (migrations, DDL) may write anything: counted as a write. */
  p->wrote = 1;
  if (!p->begin_pending) {
    int rc = pg_simple(p, sql, err);
    if (!rc && !p->in_tx) {
      p->wrote = 0;
      db_commit_fire();
    }
    return rc;
  }
  /* The simple protocol takes several statements in one message; one that
   * fails after BEGIN leaves the transaction open and failed, as it would
   * after a BEGIN of its own. */
  p->begin_pending = 0;
  size_t len = strlen(sql);
  char *both = xmalloc(len + 8);
  memcpy(both, "BEGIN; ", 7);
  memcpy(both + 7, sql, len + 1);
  int rc = pg_simple(p, both, err);
  free(both);
  return rc;
}

static int pg_begin(db *d, int write, db_err *err) {
  struct pg *p = (struct pg *)d;
  (void)write; /* row locks are taken by the writes themselves */
  if (p->begin_pending) return 0;
  /* Inside a transaction the server only warns, as it always did. */
  if (p->in_tx) return pg_simple(p, "BEGIN", err);
  /* A connection found broken is reset now, while that is safe. */
  if (pg_ensure(p, err)) return -1;
  p->begin_pending = 1;
  p->tx_plan_mode = p->plan_mode;
  return 0;
}

static int pg_commit(db *d, db_err *err) {
  struct pg *p = (struct pg *)d;
  if (p->begin_pending) { /* nothing ran: nothing to commit */
    p->begin_pending = 0;
    return 0;
  }
  PGresult *r = PQexec(p->conn, "COMMIT");
  p->in_tx = 0; /* over, whether COMMIT worked or not */
  int wrote = p->wrote;
  p->wrote = 0;
  int ret = 0;
  if (!pg_ok(r)) {
    p->plan_mode = PG_PLAN_UNKNOWN;
    ret = pg_fail(p, r, err);
  } else if (!strcmp(PQcmdStatus(r), "ROLLBACK")) {
    p->plan_mode = p->tx_plan_mode;
    /* COMMIT of a transaction in which a statement failed "succeeds" by
     * rolling back; the caller must not believe its writes were kept. */
    ret = db_err_set(err, "25P02",
                     "the transaction was rolled back after an error");
  } else if (wrote) {
    db_commit_fire();
  }
  PQclear(r);
  return ret;
}

static void pg_rollback(db *d) {
  struct pg *p = (struct pg *)d;
  int was_in_tx = p->in_tx;
  p->wrote = 0;
  p->in_tx = 0; /* whatever happens: a broken session has no tx left */
  if (p->begin_pending) { /* nothing was sent */
    p->begin_pending = 0;
    return;
  }
  if (was_in_tx) p->plan_mode = p->tx_plan_mode; /* a SET inside is undone */
  if (PQstatus(p->conn) != CONNECTION_OK) return;
  PQclear(PQexec(p->conn, "ROLLBACK"));
  pg_track_tx(p);
}

static void pg_close(db *d) {
  struct pg *p = (struct pg *)d;
  stmt_cache_free(&p->cache, NULL, NULL);
  PQfinish(p->conn);
  free(p);
}

/* ---- notifications ---- */

static int pg_listen(db *d, const char *channel, db_err *err) {
  struct pg *p = (struct pg *)d;
  if (pg_ensure(p, err)) return -1;
  char sql[96];
  snprintf(sql, sizeof sql, "LISTEN %s", channel); /* checked by db.c */
  return pg_simple(p, sql, err);
}

/* Drains the notifications libpq has read; how many there were. */
static int pg_drain(struct pg *p) {
  int n = 0;
  PGnotify *nt;
  while ((nt = PQnotifies(p->conn))) {
    PQfreemem(nt);
    n++;
  }
  return n;
}

static int pg_wait_notify(db *d, int timeout_ms, int wake_fd, db_err *err) {
  struct pg *p = (struct pg *)d;
  if (PQstatus(p->conn) != CONNECTION_OK)
    return db_err_set(err, "08006", "connection to the database lost");
  if (pg_drain(p)) return 1;
  struct pollfd pfd[2] = {{.fd = PQsocket(p->conn), .events = POLLIN},
                          {.fd = wake_fd, .events = POLLIN}};
  if (pfd[0].fd < 0) return db_err_set(err, "08006", "no socket");
  int rc = poll(pfd, wake_fd >= 0 ? 2 : 1, timeout_ms);
  if (rc <= 0) return 0; /* timeout, or EINTR: the caller waits again */
  if (pfd[0].revents) {
    if (!PQconsumeInput(p->conn))
      return db_err_set(err, "08006", "%s", PQerrorMessage(p->conn));
    if (pg_drain(p)) return 1;
  }
  return wake_fd >= 0 && pfd[1].revents ? 2 : 0;
}

static const struct db_ops pg_ops = {
    .close = pg_close,
    .exec = pg_exec,
    .query = pg_query,
    .query_fixed = pg_query_fixed,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .listen = pg_listen,
    .wait_notify = pg_wait_notify,
};

int db_pg_open(const char *url, db **out, db_err *err) {
  PGconn *conn = PQconnectdb(url);
  if (!conn) return db_err_set(err, "08006", "out of memory connecting");
  if (PQstatus(conn) != CONNECTION_OK) {
    db_err_set(err, "08006", "%s", PQerrorMessage(conn));
    PQfinish(conn);
    return -1;
  }
  PQsetNoticeProcessor(conn, pg_notice, NULL);
  struct pg *p = xcalloc(1, sizeof *p);
  p->base.magic = DB_MAGIC;
  p->base.kind = DB_POSTGRES;
  p->base.ops = &pg_ops;
  p->conn = conn;
  stmt_cache_init(&p->cache, DB_STMT_CACHE_MAX);
  if (pg_session_setup(p, err)) {
    pg_close(&p->base);
    return -1;
  }
  *out = &p->base;
  return 0;
}
