/* migrations.h - the SQL of each backend's migrations, compiled in from
 * src/db/migrations/<backend>/NNNN_name.sql (see cmake/embed_migrations.cmake).
 * Each array ends with a zero entry. */
#ifndef MUNSHI_DB_MIGRATIONS_H
#define MUNSHI_DB_MIGRATIONS_H

struct migration {
  int version;
  const char *name;
  const char *sql;
};

extern const struct migration migrations_sqlite[];
extern const struct migration migrations_postgres[];

#endif
