/* request.c - what every auth endpoint does with a request before and after
 * its own work: parse the JSON body and its string members, check and
 * lower-case an email address, count characters of a password, name the
 * client for the limiters, and answer a rate limit or a database failure in
 * GoTrue's shape. Also the two one-line ways the endpoints run SQL. */
#include "auth/auth_int.h"

#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"

int64_t auth_now_s(void) {
  return time_now_us() / 1000000;
}

int64_t auth_limit_now_s(const auth *au) {
  return au->limit_clock_s ? au->limit_clock_s() : auth_now_s();
}

int auth_body_or_reply(api_req *req, api_resp *resp, json **out) {
  json_error err;
  if (json_parse(req->a, req->body, req->body_len, out, &err))
    return api_failf(resp, E_AUTH_BAD_JSON,
                     "Could not parse request body as JSON: %s at byte %zu",
                     err.message, err.offset);
  if ((*out)->type != JSON_OBJECT)
    return api_fail(resp, E_AUTH_BAD_JSON, "Request body must be a JSON object",
                    NULL, NULL);
  return 0;
}

int auth_get_str(const json *o, const char *key, const json **out) {
  const json *v = json_get(o, key);
  *out = NULL;
  if (!v || v->type == JSON_NULL) return 0;
  if (v->type != JSON_STRING) return -1;
  *out = v;
  return 1;
}

/* This is not RFC 5322 (nobody's mail server accepts all of that); it is
 * "one @, something on each side, a dotted domain, nothing that breaks a
 * header", as GoTrue checks it. */
char *auth_email_normalize(arena *a, const json *v) {
  if (v->len < 3 || v->len > EMAIL_MAX) return NULL;
  const char *at = memchr(v->str, '@', v->len);
  if (!at || memchr(at + 1, '@', v->len - (size_t)(at + 1 - v->str)))
    return NULL;
  size_t local = (size_t)(at - v->str), dom = v->len - local - 1;
  if (local == 0 || local > 64 || dom < 3) return NULL;
  char *out = arena_strndup(a, v->str, v->len);
  for (size_t i = 0; i < v->len; i++) {
    unsigned char c = (unsigned char)out[i];
    if (c <= ' ' || c == 0x7f || strchr("()<>[],;:\\\"", c)) return NULL;
    if (c >= 'A' && c <= 'Z') out[i] = (char)(c - 'A' + 'a');
  }
  const char *d = out + local + 1;
  if (!strchr(d, '.') || d[0] == '.' || d[dom - 1] == '.' || strstr(d, ".."))
    return NULL;
  return out;
}

/* A Devanagari password of 8 letters is 8 long. The JSON parser has
 * already refused invalid UTF-8. */
size_t auth_utf8_chars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

/* The HTTP layer has already resolved a trusted proxy's X-Forwarded-For
 * into req->remote, so this is the client, not the proxy, when the proxy is
 * configured as trusted (docs/deploy.md). */
const char *auth_remote(const api_req *req) {
  return req->remote ? req->remote : "";
}

int auth_rate_limited(api_req *req, api_resp *resp, const char *what,
                      int retry_after) {
  api_failf(resp, E_AUTH_RATE_LIMIT, "Too many %s; try again in %d seconds",
            what, retry_after);
  api_header(resp, "Retry-After", arena_printf(req->a, "%d", retry_after));
  return -1;
}

/* The database's own message holds no bound values, so it may be logged. */
int auth_db_fail(api_resp *resp, const char *what, const db_err *err) {
  log_error("auth: %s failed: %s %s", what, err->code, err->message);
  if (strncmp(err->code, "08", 2) == 0)
    return api_fail(resp, E_UNAVAILABLE, NULL, NULL, NULL);
  return api_fail(resp, E_DB, NULL, NULL, NULL);
}

int auth_db_exists(db *d, const char *sql, const db_val *p, int n,
                   db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, p, n, &r, err)) return -1;
  int found = db_res_rows(r) > 0;
  db_res_free(r);
  return found;
}

int64_t auth_db_run(db *d, const char *sql, const db_val *p, int n,
                    db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, p, n, &r, err)) return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  return changed;
}
