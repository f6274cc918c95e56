/* test_sqlite_filemode.c - a new SQLite database, and its -wal and -shm
 * files, are created readable by their owner only (0600), whatever the
 * umask lets through (src/db/sqlite.c); an existing file keeps its mode. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db/db.h"

static int mode_of(const char *path) {
  struct stat st;
  if (stat(path, &st)) return -1;
  return (int)(st.st_mode & 0777);
}

static void test_new_file_private(void **state) {
  (void)state;
  char dir[] = "/tmp/munshi-mode.XXXXXX";
  assert_non_null(mkdtemp(dir));
  mode_t old = umask(022); /* the usual: would give 0644 */
  char url[256], path[200], wal[210], shm[210];
  snprintf(path, sizeof path, "%s/books.db", dir);
  snprintf(wal, sizeof wal, "%s-wal", path);
  snprintf(shm, sizeof shm, "%s-shm", path);
  snprintf(url, sizeof url, "sqlite:%s", path);
  db *d;
  db_err err;
  assert_int_equal(db_open(url, &d, &err), 0);
  /* A write makes the WAL and shared-memory files. */
  assert_int_equal(db_exec(d, "CREATE TABLE t (x INTEGER)", &err), 0);
  assert_int_equal(db_exec(d, "INSERT INTO t VALUES (1)", &err), 0);
  assert_int_equal(mode_of(path), 0600);
  assert_int_equal(mode_of(wal), 0600);
  assert_int_equal(mode_of(shm), 0600);
  db_close(d);

  /* A file the operator made (and chmod-ed) is left as it is. */
  char other[200], ourl[256];
  snprintf(other, sizeof other, "%s/shared.db", dir);
  int fd = open(other, O_CREAT | O_WRONLY, 0640);
  assert_true(fd >= 0);
  close(fd);
  chmod(other, 0640);
  snprintf(ourl, sizeof ourl, "sqlite:%s", other);
  assert_int_equal(db_open(ourl, &d, &err), 0);
  db_close(d);
  assert_int_equal(mode_of(other), 0640);
  umask(old);

  char cmd[300];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  assert_int_equal(system(cmd), 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_new_file_private),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
