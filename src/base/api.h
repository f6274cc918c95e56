/* api.h - one API exchange, as handlers see it, and the one table of errors.
 *
 * The HTTP layer fills an api_req from libmicrohttpd and sends the api_resp
 * back; handlers in auth/ and rest/ never see HTTP-library types. Every error
 * that leaves the process comes from the api_error table below, so a status,
 * its code and its message are decided in one place. Handlers that fail call
 * api_fail(...) and return -1: the response is then already set (the
 * "..._or_reply" contract of Redis). */
#ifndef MUNSHI_BASE_API_H
#define MUNSHI_BASE_API_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

/* Who is calling, from a verified JWT (or none). */
typedef enum { ROLE_NONE, ROLE_ANON, ROLE_AUTHENTICATED, ROLE_SERVICE } api_role;

typedef struct api_principal {
  api_role role;
  char sub[37];        /* user id (= profile id) for ROLE_AUTHENTICATED */
  char session_id[37]; /* auth session of the access token, or "" */
  char email[256];
  /* The token's exp claim (seconds since the epoch); 0: none. A stream that
   * outlives its request (SSE, WebSocket) ends when it passes. */
  int64_t exp_s;
} api_principal;

/* Longer query strings are answered 414 by the HTTP layer; the REST query
 * parser holds to the same limit. */
#define QUERY_MAX_LEN 8192

#define API_MAX_PARAMS 4

typedef struct api_req {
  arena *a;              /* memory of this request, freed after the reply */
  const char *method;    /* "GET", "POST", ... */
  const char *path;      /* the path after the prefix, e.g. "customers" */
  const char *query;     /* raw query string without '?', never NULL */
  const char *body;      /* NUL-terminated, never NULL */
  size_t body_len;
  const char *remote;    /* client address as text */
  api_principal who;
  /* Named segments of the matched route (":id" of "/webhooks/:provider/:id",
   * "*" for a trailing star), set by the HTTP layer; see api_param. */
  int nparams;
  struct { const char *name, *value; } params[API_MAX_PARAMS];
  /* Header lookup (case-insensitive name); NULL when absent. */
  const char *(*header)(const struct api_req *r, const char *name);
  void *http; /* owned by the HTTP layer */
} api_req;

#define API_MAX_HEADERS 8

typedef struct api_resp {
  int status;
  const char *content_type; /* default "application/json; charset=utf-8" */
  buf body;
  int nheaders;
  struct { const char *name, *value; } headers[API_MAX_HEADERS];
} api_resp;

/* Errors that leave the process. Append only: codes are part of the API. */
typedef enum {
  /* PostgREST-shaped ({code, message, details, hint}) */
  E_NOT_FOUND_ROUTE,   /* 404 PGRST125 */
  E_NO_TABLE,          /* 404 PGRST205 (42P01 in older PostgREST) */
  E_NO_COLUMN,         /* 400 42703 */
  E_BAD_QUERY,         /* 400 PGRST100 */
  E_BAD_JSON,          /* 400 PGRST102 */
  E_BAD_VALUE,         /* 400 22P02 invalid input syntax */
  E_BAD_RANGE,         /* 416 PGRST103 */
  E_NOT_ONE,           /* 406 PGRST116 */
  E_UNIQUE,            /* 409 23505 */
  E_FOREIGN_KEY,       /* 409 23503 */
  E_NOT_NULL,          /* 400 23502 */
  E_CHECK,             /* 400 23514 */
  E_JWT,               /* 401 PGRST301 */
  E_JWT_EXPIRED,       /* 401 PGRST303 */
  E_NO_AUTH,           /* 401 PGRST302 anonymous access */
  E_FORBIDDEN,         /* 403 42501 (row-level security) */
  E_READ_ONLY_COLUMN,  /* 400 MU001 derived column */
  E_USE_OPERATION,     /* 405 MU002 table written by business operations */
  E_NO_FILTER,         /* 400 21000 UPDATE/DELETE requires a WHERE clause */
  E_TOO_LARGE,         /* 413 PGRST413 */
  E_URI_TOO_LONG,      /* 414 PGRST414 */
  E_METHOD,            /* 405 PGRST117 */
  E_DB,                /* 500 the database failed */
  E_UNAVAILABLE,       /* 503 PGRST000 cannot reach the database */
  E_INTERNAL,          /* 500 */
  /* GoTrue-shaped ({error, error_description}) */
  E_AUTH_BAD_JSON,       /* 400 bad_json */
  E_AUTH_VALIDATION,     /* 400/422 validation_failed */
  E_AUTH_WEAK_PASSWORD,  /* 422 weak_password */
  E_AUTH_EMAIL_TAKEN,    /* 422 user_already_exists */
  E_AUTH_BAD_LOGIN,      /* 400 invalid_grant: Invalid login credentials */
  E_AUTH_BAD_REFRESH,    /* 400 invalid_grant: Invalid Refresh Token */
  E_AUTH_BAD_GRANT,      /* 400 unsupported_grant_type */
  E_AUTH_NO_TOKEN,       /* 401 no_authorization */
  E_AUTH_BAD_TOKEN,      /* 403 bad_jwt */
  E_AUTH_RATE_LIMIT,     /* 429 over_request_rate_limit */
  E_HEADERS_TOO_LARGE,   /* 431 PGRST431 (PostgREST-shaped) */
  /* Business operations (/rest/v1/rpc/NAME), PostgREST-shaped */
  E_OP_UNKNOWN,          /* 404 PGRST202 no such operation */
  E_OP_INVALID,          /* 400 MU400 an argument is missing or wrong */
  E_OP_NOT_FOUND,        /* 404 MU404 a named row does not exist (here) */
  E_OP_CONFLICT,         /* 409 MU409 the state forbids it (stock, status) */
  E_IDEM_MISMATCH,       /* 422 MU422 Idempotency-Key reused with another body */
  E_IDEM_IN_FLIGHT,      /* 409 MU410 the same key is being processed */
  /* Outside services (src/integrations): the provider answered with an
   * error (its words in details; a 422's field errors as a JSON object in
   * hint), or could not be reached / answered nonsense. */
  E_PROVIDER_REFUSED,    /* 422 MU422P the provider refused the request */
  E_PROVIDER_DOWN,       /* 502 MU502 the provider failed or is unreachable */
  E__COUNT
} api_error;

typedef struct api_error_def {
  int status;
  const char *code;    /* PostgREST code, or GoTrue error_code */
  const char *message; /* default message */
  int gotrue;          /* 1: GoTrue error shape */
} api_error_def;

const api_error_def *api_error_get(api_error e);

void api_resp_init(api_resp *r);
void api_resp_free(api_resp *r); /* accepts NULL */
/* Adds a header; name and value must live as long as the response (use the
 * request arena). Returns -1 when the table is full. */
int api_header(api_resp *r, const char *name, const char *value);

/* Replaces the response with the error e. message (NULL: the table's
 * default), details and hint are optional. Always returns -1. */
int api_fail(api_resp *r, api_error e, const char *message, const char *details,
             const char *hint);
/* The API error for a database error's SQLSTATE: 23505 unique, 23503
 * foreign key, 23502 not null, 23514 check, class 22 bad value; 40001,
 * 40P01 and class 08 (serialization, deadlock, connection) are
 * E_UNAVAILABLE (503, retry); anything else is E_DB (500). The one mapping
 * every layer uses. */
api_error api_error_for_sqlstate(const char *sqlstate);
/* 1 when a transaction that failed with sqlstate may simply be run again:
 * a serialization failure (40001) or a deadlock (40P01). */
int api_sqlstate_retryable(const char *sqlstate);

/* The token of an Authorization header value "Bearer <token>" (scheme
 * case-insensitive, spaces or tabs after it, trailing blanks dropped),
 * copied into a; NULL when the value is not of that form. The one parser
 * of the header. */
const char *api_bearer(arena *a, const char *authorization);

/* The value of the route segment named name (without the ':'), or NULL. */
const char *api_param(const api_req *r, const char *name);

/* api_fail with a printf-style message. */
int api_failf(api_resp *r, api_error e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The checks every module's /rest/v1/rpc operations share: a signed-in
 * owner (the service role and anonymous callers are refused), POST, and a
 * body that is a JSON object (empty: {}). 0 with *args set, or -1 with
 * resp answered. */
struct json;
int api_op_args(api_req *req, api_resp *resp, struct json **args);

#endif
