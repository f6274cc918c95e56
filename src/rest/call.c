/* call.c - the in-process call of /rest/v1 (see call.h). */
#include "rest/call.h"

#include <string.h>

#include "rest/rest.h"
#include "rest/rpc.h"

static const char *no_header(const api_req *r, const char *name) {
  (void)r;
  (void)name;
  return NULL;
}

int rest_call(db *d, arena *a, const rest_call_req *c, api_resp *resp) {
  api_req req;
  memset(&req, 0, sizeof req);
  req.a = a;
  req.method = c->method;
  req.query = c->query ? c->query : "";
  req.body = c->body ? c->body : "";
  req.body_len = strlen(req.body);
  req.remote = "local";
  req.who = *c->who;
  req.header = c->header ? c->header : no_header;
  req.http = c->cls;
  if (!strncmp(c->path, "rpc/", 4)) {
    req.path = c->path + 4;
    rpc_handle(d, &req, resp);
  } else {
    req.path = c->path;
    rest_handle(d, &req, resp);
  }
  return resp->status;
}
