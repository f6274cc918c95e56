/* testutil.h - fresh databases for tests, on either backend (header only).
 *
 * A test program that touches a database runs twice (CMake registers each
 * test_*_db* program with argv[1] = "sqlite" and "postgres"), so every test
 * gets its database from here: test_db_open makes a new, empty one (a temp
 * file for SQLite; a new database on the cluster named by
 * MUNSHI_TEST_PG_URL for PostgreSQL, see tests/with-pg.sh) and
 * test_db_close removes it again. PostgreSQL tests never skip quietly: with
 * no MUNSHI_TEST_PG_URL the program stops with an error. cmocka's setup
 * functions get no argv, so main stores the backend with
 * test_backend_from_args and they read it with test_backend(). Everything is
 * static inline, so a test includes what it uses without unused-function
 * warnings. */
#ifndef MUNSHI_TESTS_TESTUTIL_H
#define MUNSHI_TESTS_TESTUTIL_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/uuid.h"
#include "db/db.h"

#define TEST_DB_MAX_OPEN 16

struct test_db_entry {
  db *d; /* NULL: free slot */
  int postgres;
  char path[64]; /* SQLite file */
  char name[64]; /* PostgreSQL database */
};

struct test_db_state {
  char backend[16];
  char url[1024]; /* of the database opened last */
  unsigned counter;
  struct test_db_entry open[TEST_DB_MAX_OPEN];
};

static inline struct test_db_state *test_db_state(void) {
  static struct test_db_state s;
  return &s;
}

static inline void test_die(const char *what, const char *detail) {
  fprintf(stderr, "\n*** test setup failed: %s%s%s\n", what, detail ? ": " : "",
          detail ? detail : "");
  fflush(stderr);
  exit(1);
}

/* Reads argv[1] ("sqlite" or "postgres"), remembers it and returns it. */
static inline const char *test_backend_from_args(int argc, char **argv) {
  if (argc < 2 || (strcmp(argv[1], "sqlite") && strcmp(argv[1], "postgres")))
    test_die("give the backend as the first argument", "sqlite or postgres");
  snprintf(test_db_state()->backend, sizeof test_db_state()->backend, "%s",
           argv[1]);
  return test_db_state()->backend;
}

static inline const char *test_backend(void) {
  const char *b = test_db_state()->backend;
  if (!*b) test_die("no backend set", "call test_backend_from_args in main");
  return b;
}

/* The URL of the database test_db_open made last (for more connections
 * to it, or for a server started by the test). */
static inline const char *test_db_url(void) {
  return test_db_state()->url;
}

static inline unsigned test_random(void) {
  unsigned r = 0;
  int fd = open("/dev/urandom", O_RDONLY);
  if (fd >= 0) {
    if (read(fd, &r, sizeof r) != (ssize_t)sizeof r) r = 0;
    close(fd);
  }
  return r ^ (unsigned)time(NULL);
}

/* url with its database name replaced by name, into out. */
static inline void test_url_with_db(const char *url, const char *name,
                                    char *out, size_t outsz) {
  const char *hostpart = strstr(url, "://");
  if (!hostpart) test_die("MUNSHI_TEST_PG_URL is not a postgres:// URL", url);
  hostpart += 3;
  size_t end = strcspn(hostpart, "/?"); /* end of host part */
  const char *rest = hostpart + end;
  if (*rest == '/') rest += strcspn(rest, "?"); /* skip the old name */
  int n = snprintf(out, outsz, "%.*s/%s%s", (int)(hostpart + end - url), url, name,
                   rest);
  if (n < 0 || (size_t)n >= outsz) test_die("database URL too long", url);
}

static inline db *test_admin_open(const char **url_out) {
  const char *url = getenv("MUNSHI_TEST_PG_URL");
  if (!url || !*url)
    test_die("MUNSHI_TEST_PG_URL is not set",
             "run PostgreSQL tests through tests/with-pg.sh");
  db *a;
  db_err err;
  if (db_open(url, &a, &err))
    test_die("cannot connect to PostgreSQL", err.message);
  if (url_out) *url_out = url;
  return a;
}

/* A connection to a new, empty database of backend ("sqlite" or
 * "postgres"; NULL: the one from argv). Never returns NULL: a test that
 * cannot get its database stops the program. */
static inline db *test_db_open(const char *backend) {
  struct test_db_state *s = test_db_state();
  if (!backend) backend = test_backend();
  struct test_db_entry *e = NULL;
  for (int i = 0; i < TEST_DB_MAX_OPEN && !e; i++)
    if (!s->open[i].d) e = &s->open[i];
  if (!e) test_die("too many test databases open", NULL);
  memset(e, 0, sizeof *e);
  db_err err;
  db *d = NULL;
  if (!strcmp(backend, "sqlite")) {
    snprintf(e->path, sizeof e->path, "/tmp/munshi_t_XXXXXX");
    int fd = mkstemp(e->path);
    if (fd < 0) test_die("mkstemp", e->path);
    close(fd);
    snprintf(s->url, sizeof s->url, "sqlite:%s", e->path);
  } else if (!strcmp(backend, "postgres")) {
    const char *admin_url;
    db *a = test_admin_open(&admin_url);
    snprintf(e->name, sizeof e->name, "munshi_t_%ld_%u_%08x", (long)getpid(),
             s->counter++, test_random());
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", e->name);
    if (db_exec(a, sql, &err)) test_die("CREATE DATABASE", err.message);
    db_close(a);
    test_url_with_db(admin_url, e->name, s->url, sizeof s->url);
    e->postgres = 1;
  } else {
    test_die("unknown backend", backend);
  }
  if (db_open(s->url, &d, &err))
    test_die("cannot open the test database", err.message);
  e->d = d;
  return d;
}

/* A fresh database with every migration applied. */
static inline db *test_db_open_migrated(const char *backend) {
  db *d = test_db_open(backend);
  db_err err;
  if (db_migrate(d, NULL, &err)) test_die("migrations failed", err.message);
  return d;
}

/* Closes d and, when test_db_open made it, removes its database. Other
 * connections to that database must be closed already on SQLite; on
 * PostgreSQL they are cut off. Accepts NULL. */
static inline void test_db_close(db *d) {
  if (!d) return;
  struct test_db_state *s = test_db_state();
  struct test_db_entry *e = NULL;
  for (int i = 0; i < TEST_DB_MAX_OPEN && !e; i++)
    if (s->open[i].d == d) e = &s->open[i];
  db_close(d);
  if (!e) return;
  if (e->postgres) {
    db *a = test_admin_open(NULL);
    char sql[128];
    db_err err;
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)",
             e->name);
    if (db_exec(a, sql, &err))
      fprintf(stderr, "warning: cannot drop %s: %s\n", e->name, err.message);
    db_close(a);
  } else {
    char p[80];
    unlink(e->path);
    snprintf(p, sizeof p, "%s-wal", e->path);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", e->path);
    unlink(p);
  }
  e->d = NULL;
}

/* A tenant for the tests: a user and its business profile, made with SQL
 * (no password hashing), with the given GST state code (NULL: none). The
 * new id goes to id; the user's email is <id>@example.com. */
static inline void test_tenant(db *d, const char *state_code, char id[37]) {
  uuid_v7(id);
  char email[64];
  snprintf(email, sizeof email, "%s@example.com", id);
  db_val u[] = {db_uuid(id), db_text(email)};
  db_val p[] = {db_uuid(id), state_code ? db_text(state_code) : db_null()};
  db_err err;
  if (db_query(d,
               "INSERT INTO auth_users (id, email, encrypted_password) "
               "VALUES ($1, $2, 'x')",
               u, 2, NULL, &err) ||
      db_query(d,
               "INSERT INTO profiles (id, business_name, state_code) VALUES "
               "($1, 'Test Shop', $2)",
               p, 2, NULL, &err))
    test_die("cannot create a test tenant", err.message);
}

/* The usual fixture of a test of the database: a fresh migrated database
 * of the backend from argv, its URL (for more connections) and one tenant.
 * For cmocka's setup and teardown. */
typedef struct test_fixture {
  db *d;
  char url[4096];
  char profile[37];
} test_fixture;

static inline int test_fixture_setup(void **state) {
  test_fixture *f = calloc(1, sizeof *f);
  if (!f) return -1;
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  test_tenant(f->d, NULL, f->profile);
  *state = f;
  return 0;
}

static inline int test_fixture_teardown(void **state) {
  test_fixture *f = *state;
  test_db_close(f->d);
  free(f);
  return 0;
}

/* The integer sql answers (row 0, column 0), with arg as its one text
 * parameter, or no parameter when arg is NULL. Stops the test program when
 * the statement fails. */
static inline int64_t test_count(db *d, const char *sql, const char *arg) {
  db_val p[] = {db_text(arg)};
  db_res *r = NULL;
  db_err err;
  if (db_query(d, sql, p, arg ? 1 : 0, &r, &err)) test_die(sql, err.message);
  int64_t v = db_res_int(r, 0, 0);
  db_res_free(r);
  return v;
}

#endif
