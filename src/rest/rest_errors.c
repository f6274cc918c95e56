/* rest_errors.c - the answers of /rest/v1 when something is refused or
 * fails: a query error as parsed, a database error mapped through the one
 * SQLSTATE table (api_error_for_sqlstate), "not one row" for object
 * requests, and "too large" when a response passes its cap. Every function
 * here sets the response and returns -1, so a caller can `return` it. */
#include <stdio.h>

#include "base/log.h"
#include "rest/rest_int.h"

int rest_fail_query(api_resp *resp, const query_error *e) {
  return api_fail(resp, e->code, e->message, e->details[0] ? e->details : NULL,
                  NULL);
}

/* Constraint messages are safe to show; other database errors are logged
 * and answered without their text. */
int rest_fail_db(api_resp *resp, const db_err *e) {
  api_error code = api_error_for_sqlstate(e->code);
  switch (code) {
    case E_FOREIGN_KEY:
      return api_fail(resp, code, e->message,
                      "the referenced row does not exist in your business", NULL);
    case E_UNAVAILABLE:
      return api_fail(resp, code, "the database is busy or unreachable; retry",
                      NULL, NULL);
    case E_DB:
      log_error("rest: database error %s: %s", e->code, e->message);
      return api_fail(resp, code, NULL, NULL, NULL);
    default:
      return api_fail(resp, code, e->message, NULL, NULL);
  }
}

int rest_not_one(api_resp *resp, int n) {
  char details[64];
  snprintf(details, sizeof details, "The result contains %d rows", n);
  return api_fail(resp, E_NOT_ONE,
                  "JSON object requested, multiple (or no) rows returned",
                  details, NULL);
}

int rest_too_big(api_resp *resp, const char *advice) {
  char msg[320];
  snprintf(msg, sizeof msg,
           "the response would be larger than %zu bytes (MUNSHI_MAX_RESPONSE): "
           "%s",
           rest_max_response(), advice);
  return api_fail(resp, E_TOO_LARGE, msg, NULL, advice);
}
