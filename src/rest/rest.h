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

#endif
