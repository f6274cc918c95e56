/* webconfig.c - GET /config.js (see webconfig.h). A script, not JSON, so the
 * page can load it with a plain <script> before supabase-js and the app,
 * without a round trip of its own. Never cached: first_run changes with the
 * first sign-up, and the key with the server's secret. */
#include "http/webconfig.h"

#include <string.h>

static int has_users(db *d) {
  db_res *r = NULL;
  db_err e;
  if (db_query(d, "SELECT 1 FROM auth_users LIMIT 1", NULL, 0, &r, &e))
    return 1; /* unknown: do not claim the installation is new */
  int n = db_res_rows(r);
  db_res_free(r);
  return n > 0;
}

void webconfig_serve(auth *au, db *d, const api_req *req, api_resp *resp) {
  if (strcmp(req->method, "GET") && strcmp(req->method, "HEAD")) {
    api_failf(resp, E_METHOD, "%.16s is not allowed on /config.js; use GET, HEAD",
              req->method);
    api_header(resp, "Allow", "GET, HEAD");
    return;
  }
  buf key;
  buf_init(&key, 0);
  if (auth_api_key(au, "anon", &key)) {
    buf_free(&key);
    api_failf(resp, E_INTERNAL, "the anon key could not be made");
    return;
  }
  int first_run = d ? !has_users(d) : 0;
  resp->status = 200;
  resp->content_type = "text/javascript; charset=utf-8";
  api_header(resp, "Cache-Control", "no-store");
  api_header(resp, "X-Content-Type-Options", "nosniff");
  /* The key is a JWT: base64url and dots only, nothing to escape. */
  buf_puts(&resp->body, "window.MUNSHI_CONFIG = {\"anon_key\": \"");
  buf_puts(&resp->body, buf_cstr(&key));
  buf_puts(&resp->body, "\", \"first_run\": ");
  buf_puts(&resp->body, first_run ? "true" : "false");
  buf_puts(&resp->body, "};\n");
  buf_free(&key);
}
