/* args.h - typed reading of an operation's JSON arguments, with errors that
 * name the argument (internal to biz/). Each returns 0, or -1 having filled
 * e with E_OP_INVALID. "required" 0 lets the argument be absent or null, in
 * which case *present (when given) is 0 and the output is untouched. */
#ifndef MUNSHI_BIZ_ARGS_H
#define MUNSHI_BIZ_ARGS_H

#include <stdint.h>

#include "biz/biz.h"

/* Refuses arguments not in the NULL-terminated list (typos should not be
 * silently ignored in money operations). */
int arg_only(biz_err *e, const json *args, const char *const *known);
int arg_uuid(biz_err *e, const json *args, const char *name, int required,
             char out[37], int *present);
/* A decimal with at most scale places, as a JSON number or string. */
int arg_dec(biz_err *e, const json *args, const char *name, int scale,
            int required, int64_t *out, int *present);
/* A string of 1..maxlen bytes of valid UTF-8 (arena copy). */
int arg_text(biz_err *e, arena *a, const json *args, const char *name,
             size_t maxlen, int required, const char **out);
int arg_date(biz_err *e, const json *args, const char *name, int required,
             int32_t *out, int *present);
int arg_ts(biz_err *e, const json *args, const char *name, int required,
           int64_t *out, int *present);
int arg_bool(biz_err *e, const json *args, const char *name, int *out,
             int *present);

#endif
