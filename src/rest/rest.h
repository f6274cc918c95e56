/* rest.h - /rest/v1: a PostgREST subset over the schema's tables.
 *
 * req->path is the table name; the query string carries select=, filters,
 * order=, limit/offset; Range, Prefer and Accept headers as PostgREST reads
 * them. Tenancy is enforced on every statement from req->who. */
#ifndef MUNSHI_REST_REST_H
#define MUNSHI_REST_REST_H

#include "base/api.h"
#include "db/db.h"

/* Serves one request; the response is set either way. Returns 0. */
int rest_handle(db *d, api_req *req, api_resp *resp);

#endif
