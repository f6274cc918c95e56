/* rest.h - /rest/v1: a PostgREST subset over the schema's tables.
 *
 * req->path is the table name; the query string carries select=, filters,
 * order=, limit/offset; Range, Prefer and Accept headers as PostgREST reads
 * them. Tenancy is enforced on every statement from req->who. */
#ifndef MUNSHI_REST_REST_H
#define MUNSHI_REST_REST_H

#include <stddef.h>
#include <stdint.h>

#include "base/api.h"
#include "base/json.h"
#include "biz/biz.h"
#include "db/db.h"

#define REST_DEFAULT_MAX_RESPONSE ((size_t)4 << 20) /* bytes of one answer */
#define REST_DEFAULT_MAX_ROWS 1000                  /* rows of one read */

/* Serves one request; the response is set either way. Returns 0. */
int rest_handle(db *d, api_req *req, api_resp *resp);

/* Sets the caps every answer is held to (0: the default): a response body
 * larger than response_bytes is refused with 413, and a read returns at
 * most `rows` rows (a larger limit or Range is clamped, as PostgREST's
 * db-max-rows). Call before serving; not thread-safe against requests. */
void rest_set_limits(size_t response_bytes, int64_t rows);

/* A table's hooks around the writes clients make through /rest/v1, for a
 * module above rest that keeps rules of its own on a table (the workflow
 * module on workflow_blueprints). rest knows nothing of what they do. Both
 * run inside the write's transaction, so a hook's own statements commit or
 * roll back with the row; a hook that fails sets resp and returns -1, and
 * the whole request is rolled back (nothing written, every row of a bulk
 * insert included).
 *
 * before runs for each row of a POST (current NULL, insert 1) and for each
 * row a PATCH matches (insert 0; current is that row as it is, every
 * readable column, as JSON), after the body's checks and the server's
 * columns: fields holds the columns the statement writes, which the hook
 * may change or add to (columns of the table only, written as given, even
 * read-only ones). A PATCH on a table with a before hook is run row by row,
 * each row's UPDATE with its own fields. after_insert runs for each row a
 * POST inserted, with the row as written (every readable column). */
typedef int (*rest_write_hook)(db *d, arena *a, const api_principal *who,
                               int insert, const json *current,
                               biz_fields *fields, api_resp *resp);
typedef int (*rest_insert_hook)(db *d, arena *a, const api_principal *who,
                                const json *row, api_resp *resp);
/* Registers the hooks of table (either may be NULL; a second call for the
 * same table replaces them). Call before serving; not thread-safe against
 * requests. At most 8 tables. */
void rest_set_write_hook(const char *table, rest_write_hook before,
                         rest_insert_hook after_insert);

#endif
