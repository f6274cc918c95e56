/* router.h - maps a request's path to its handler (internal to http/). */
#ifndef MUNSHI_HTTP_ROUTER_H
#define MUNSHI_HTTP_ROUTER_H

#include "auth/auth.h"
#include "base/api.h"
#include "db/db.h"

typedef struct router_ctx {
  auth *au;
  db *(*get_db)(void *cls, api_resp *resp); /* NULL: error already set */
  void *db_cls;
} router_ctx;

/* Serves req (whose path is the full URL path); fills resp. */
void router_dispatch(const router_ctx *rc, api_req *req, api_resp *resp);

#endif
