/* api.c - the one table of errors that leave the process, and the response
 * helpers handlers use (see api.h).
 *
 * Keeping every status, code and default message in one array means a
 * client sees the same answer for the same fault wherever it happens, and a
 * reviewer can check the whole error surface on one screen. Two shapes are
 * written: PostgREST's {code, message, details, hint} for /rest, and
 * GoTrue's for /auth. The GoTrue body carries both the old fields
 * (error, error_description) and the new ones (error_code, msg, code),
 * because supabase-js versions read one set or the other. */
#include "base/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/json.h"

#define JSON_CONTENT_TYPE "application/json; charset=utf-8"

static const api_error_def errors[] = {
    /* PostgREST-shaped */
    [E_NOT_FOUND_ROUTE] = {404, "PGRST125",
                           "Invalid path specified in request URL", 0},
    [E_NO_TABLE] = {404, "PGRST205",
                    "Could not find the table in the schema cache", 0},
    [E_NO_COLUMN] = {400, "42703", "column does not exist", 0},
    [E_BAD_QUERY] = {400, "PGRST100", "Could not parse the request query", 0},
    [E_BAD_JSON] = {400, "PGRST102", "Empty or invalid json", 0},
    [E_BAD_VALUE] = {400, "22P02", "invalid input syntax", 0},
    [E_BAD_RANGE] = {416, "PGRST103", "Requested range not satisfiable", 0},
    [E_NOT_ONE] = {406, "PGRST116",
                   "Cannot coerce the result to a single JSON object", 0},
    [E_UNIQUE] = {409, "23505",
                  "duplicate key value violates unique constraint", 0},
    [E_FOREIGN_KEY] = {409, "23503",
                       "insert or update violates foreign key constraint", 0},
    [E_NOT_NULL] = {400, "23502", "null value violates not-null constraint", 0},
    [E_CHECK] = {400, "23514", "new row violates check constraint", 0},
    [E_JWT] = {401, "PGRST301", "JWT could not be decoded", 0},
    [E_JWT_EXPIRED] = {401, "PGRST303", "JWT expired", 0},
    [E_NO_AUTH] = {401, "PGRST302", "Anonymous access is disabled", 0},
    [E_FORBIDDEN] = {403, "42501", "permission denied", 0},
    [E_READ_ONLY_COLUMN] = {400, "MU001",
                            "column is derived and cannot be written", 0},
    [E_USE_OPERATION] = {405, "MU002",
                         "table is written by business operations; use "
                         "/rest/v1/rpc",
                         0},
    [E_NO_FILTER] = {400, "21000", "UPDATE and DELETE require a filter", 0},
    [E_TOO_LARGE] = {413, "PGRST413", "Payload too large", 0},
    [E_URI_TOO_LONG] = {414, "PGRST414", "URI too long", 0},
    [E_METHOD] = {405, "PGRST117", "Unsupported HTTP method", 0},
    [E_DB] = {500, "XX000", "database error", 0},
    [E_UNAVAILABLE] = {503, "PGRST000", "Could not connect to the database", 0},
    [E_INTERNAL] = {500, "MU000", "internal error", 0},
    /* GoTrue-shaped */
    [E_AUTH_BAD_JSON] = {400, "bad_json",
                         "Could not parse request body as JSON", 1},
    [E_AUTH_VALIDATION] = {400, "validation_failed", "Invalid request", 1},
    [E_AUTH_WEAK_PASSWORD] = {422, "weak_password",
                              "Password should be at least 8 characters.", 1},
    [E_AUTH_EMAIL_TAKEN] = {422, "user_already_exists",
                            "User already registered", 1},
    [E_AUTH_BAD_LOGIN] = {400, "invalid_grant", "Invalid login credentials", 1},
    [E_AUTH_BAD_REFRESH] = {400, "invalid_grant", "Invalid Refresh Token", 1},
    [E_AUTH_BAD_GRANT] = {400, "unsupported_grant_type",
                          "Unsupported grant type", 1},
    [E_AUTH_NO_TOKEN] = {401, "no_authorization",
                         "This endpoint requires a Bearer token", 1},
    [E_AUTH_BAD_TOKEN] = {403, "bad_jwt", "invalid JWT", 1},
    [E_AUTH_RATE_LIMIT] = {429, "over_request_rate_limit",
                           "Request rate limit reached", 1},
    [E_HEADERS_TOO_LARGE] = {431, "PGRST431", "Request header fields too large", 0},
    [E_OP_UNKNOWN] = {404, "PGRST202", "Could not find the operation", 0},
    [E_OP_INVALID] = {400, "MU400", "Invalid arguments", 0},
    [E_OP_NOT_FOUND] = {404, "MU404", "Not found", 0},
    [E_OP_CONFLICT] = {409, "MU409", "The operation conflicts with the current state", 0},
    [E_IDEM_MISMATCH] = {422, "MU422",
                         "Idempotency-Key was already used with another request", 0},
    [E_IDEM_IN_FLIGHT] = {409, "MU410",
                          "A request with this Idempotency-Key is in progress; retry", 0},
    [E_PROVIDER_REFUSED] = {422, "MU422P",
                            "The provider refused the request", 0},
    [E_PROVIDER_DOWN] = {502, "MU502",
                         "The provider failed or could not be reached", 0},
};

_Static_assert(sizeof errors / sizeof errors[0] == E__COUNT,
               "every api_error needs a row in the table");

const api_error_def *api_error_get(api_error e) {
  if ((unsigned)e >= E__COUNT) e = E_INTERNAL; /* defensive */
  return &errors[e];
}

void api_resp_init(api_resp *r) {
  r->status = 200;
  r->content_type = JSON_CONTENT_TYPE;
  buf_init(&r->body, 0);
  r->nheaders = 0;
}

void api_resp_free(api_resp *r) {
  if (!r) return;
  buf_free(&r->body);
  r->nheaders = 0;
}

int api_header(api_resp *r, const char *name, const char *value) {
  if (r->nheaders >= API_MAX_HEADERS) return -1;
  r->headers[r->nheaders].name = name;
  r->headers[r->nheaders].value = value;
  r->nheaders++;
  return 0;
}

/* Writes "key":<string or null>. */
static void put_field(buf *b, const char *key, const char *val) {
  buf_putc(b, '"');
  buf_puts(b, key);
  buf_puts(b, "\":");
  if (val)
    json_write_str(b, val, strlen(val));
  else
    buf_puts(b, "null");
}

int api_fail(api_resp *r, api_error e, const char *message, const char *details,
             const char *hint) {
  const api_error_def *d = api_error_get(e);
  if (!message) message = d->message;
  r->status = d->status;
  r->content_type = JSON_CONTENT_TYPE;
  r->nheaders = 0;
  /* The body may have been capped for a large answer; an error must fit. */
  r->body.max = 0;
  buf_reset(&r->body);
  buf *b = &r->body;
  buf_putc(b, '{');
  if (d->gotrue) {
    put_field(b, "error", d->code);
    buf_putc(b, ',');
    put_field(b, "error_description", message);
    buf_putc(b, ',');
    put_field(b, "error_code", d->code);
    buf_putc(b, ',');
    put_field(b, "msg", message);
    buf_printf(b, ",\"code\":%d", d->status);
  } else {
    put_field(b, "code", d->code);
    buf_putc(b, ',');
    put_field(b, "message", message);
    buf_putc(b, ',');
    put_field(b, "details", details);
    buf_putc(b, ',');
    put_field(b, "hint", hint);
  }
  buf_putc(b, '}');
  return -1;
}

int api_failf(api_resp *r, api_error e, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return api_fail(r, e, msg, NULL, NULL);
}

api_error api_error_for_sqlstate(const char *c) {
  if (!c || !c[0]) return E_DB;
  if (!strcmp(c, "23505")) return E_UNIQUE;
  if (!strcmp(c, "23503")) return E_FOREIGN_KEY;
  if (!strcmp(c, "23502")) return E_NOT_NULL;
  if (!strcmp(c, "23514")) return E_CHECK;
  if (!strncmp(c, "22", 2)) return E_BAD_VALUE;
  if (api_sqlstate_retryable(c) || !strncmp(c, "08", 2)) return E_UNAVAILABLE;
  return E_DB;
}

int api_sqlstate_retryable(const char *c) {
  return c && (!strcmp(c, "40001") || !strcmp(c, "40P01"));
}

const char *api_bearer(arena *a, const char *h) {
  if (!h || strncasecmp(h, "bearer", 6) != 0 || (h[6] != ' ' && h[6] != '\t'))
    return NULL;
  h += 6;
  while (*h == ' ' || *h == '\t') h++;
  size_t n = strlen(h);
  while (n && (h[n - 1] == ' ' || h[n - 1] == '\t')) n--;
  if (n == 0) return NULL;
  return arena_strndup(a, h, n);
}

const char *api_param(const api_req *r, const char *name) {
  for (int i = 0; i < r->nparams; i++)
    if (!strcmp(r->params[i].name, name)) return r->params[i].value;
  return NULL;
}

int api_op_args(api_req *req, api_resp *resp, json **args) {
  if (req->who.role != ROLE_AUTHENTICATED)
    return api_fail(resp,
                    req->who.role == ROLE_SERVICE ? E_FORBIDDEN : E_NO_AUTH,
                    "operations act for a business: sign in as its owner and "
                    "send the access token as Authorization: Bearer <token>",
                    NULL, NULL);
  if (strcmp(req->method, "POST"))
    return api_fail(resp, E_METHOD, "operations are called with POST", NULL,
                    NULL);
  json_error je;
  const char *body = req->body_len ? req->body : "{}";
  size_t body_len = req->body_len ? req->body_len : 2;
  if (json_parse(req->a, body, body_len, args, &je))
    return api_failf(resp, E_BAD_JSON, "Empty or invalid json: %s at byte %zu",
                     je.message, je.offset);
  if ((*args)->type != JSON_OBJECT)
    return api_fail(resp, E_OP_INVALID, "the arguments must be a JSON object",
                    NULL, NULL);
  return 0;
}
