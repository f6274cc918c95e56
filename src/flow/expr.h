/* expr.h - the workflows' expression language: conditions such as
 * `invoice.total_amount > 10000 and customer.total_debt > 0`, computed
 * values of a `set` node, and `{{ … }}` holes in message texts.
 *
 * Small and safe by construction: no loops, no assignment, no recursion a
 * source can drive past EXPR_MAX_DEPTH, every evaluation bounded in steps
 * (EXPR_MAX_STEPS) and in memory (the caller's arena, strings capped at
 * EXPR_MAX_STRING). Numbers are exact decimals (int64 mantissa, scale
 * 0..EXPR_MAX_SCALE): money never passes through a double. Times are UTC
 * microseconds, durations microseconds; `now() - invoice.due_date > 3d`
 * works. Names at the root (`invoice`, `customer`, a node's id) and
 * function calls (`sales_summary('today')`) are resolved by the caller's
 * environment (env.h); the evaluator itself knows no database.
 *
 * Grammar (lowest precedence first):
 *   expr    := or
 *   or      := and ('or' and)*            also ||
 *   and     := not ('and' not)*           also &&
 *   not     := 'not' not | cmp            also !
 *   cmp     := add (('=='|'!='|'<'|'<='|'>'|'>='|'in') add)?
 *   add     := mul (('+'|'-') mul)*
 *   mul     := unary (('*'|'/'|'%') unary)*
 *   unary   := '-' unary | postfix
 *   postfix := primary ('.' name | '[' expr ']')*
 *   primary := number | 'string' | "string" | duration (3d, 2h, 30m, 45s,
 *              1w) | true | false | null | name | name '(' args ')' |
 *              '(' expr ')' | '[' list ']'
 * `=` is accepted for `==`, `x not in list` for `not (x in list)`;
 * keywords are case-insensitive. Strings compare byte-wise; a string that
 * is an ISO date or timestamp compares with (and subtracts from) a time, a
 * date alone or a timestamp without an offset meaning the business's local
 * time; a string that is a decimal compares and computes with a number.
 * Otherwise `+` with text on either side joins the two as message text.
 * `==`/`!=` with null are always allowed; ordering null is an error (coalesce
 * gives a default). Member access: an object's key (a missing key, or any
 * member of null, is null), a list's [i] ([-1] the last; out of range: null)
 * and `.length`. `in` looks in a list (by ==), a record's keys or text.
 * Division keeps EXPR_DIV_SCALE decimals, rounded half away from zero; a
 * product keeps the sum of its operands' scales up to EXPR_MAX_SCALE (then
 * rounds). Any result that does not fit is "number too large", never wrapped.
 * Builtins: now(), today() (also as bare names), date(x) (the business day
 * holding a time or an ISO text), days(n), hours(n), minutes(n), upper(s),
 * lower(s), len(x), round(x[, n]), min(a, …), max(a, …), coalesce(a, b,
 * …), format_money(x) ("1,23,456.50", Indian grouping), contains(s|list,
 * t). Error messages name the byte ("at 5": the fifth byte, 1-based; in a
 * template, of the template). Work over large text or JSON costs a step
 * per kilobyte, so time and memory stay bounded by the step cap. */
#ifndef MUNSHI_FLOW_EXPR_H
#define MUNSHI_FLOW_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

#define EXPR_MAX_SOURCE 4096  /* bytes of one expression */
#define EXPR_MAX_DEPTH 32     /* nesting of the parse */
#define EXPR_MAX_STEPS 10000  /* evaluation steps */
#define EXPR_MAX_STRING 65536 /* bytes of any string value */
#define EXPR_MAX_SCALE 6
#define EXPR_DIV_SCALE 4
#define EXPR_MAX_ARGS 8
#define EXPR_MAX_RENDER 262144 /* bytes one template may render to */

typedef enum {
  EV_NULL,
  EV_BOOL,
  EV_NUM,  /* exact decimal: num / 10^scale */
  EV_STR,  /* UTF-8, s[0..n) */
  EV_TIME, /* us: microseconds since the epoch, UTC */
  EV_DUR,  /* us: microseconds */
  EV_JSON  /* j: a JSON object or array (a record, a report, a list) */
} expr_type;

typedef struct expr_val {
  expr_type t;
  int b;         /* EV_BOOL */
  int64_t num;   /* EV_NUM */
  int scale;     /* EV_NUM, 0..EXPR_MAX_SCALE */
  const char *s; /* EV_STR, in the arena or the source */
  size_t n;
  int64_t us;    /* EV_TIME, EV_DUR */
  const json *j; /* EV_JSON */
} expr_val;

/* What names and functions mean: supplied by the caller (env.h). Both
 * callbacks return 0 with *out set, 1 when the name is unknown (the
 * evaluator then reports "unknown name 'x'"), -1 with a message in err. A
 * member of an EV_JSON value (`invoice.total_amount`) is looked up by the
 * evaluator in the JSON itself: numbers keep their exact text, strings
 * stay strings (see expr_from_json). */
typedef struct expr_env {
  void *arg;
  int (*lookup)(void *arg, arena *a, const char *name, expr_val *out, char *err,
                size_t errlen);
  int (*call)(void *arg, arena *a, const char *name, const expr_val *args,
              int nargs, expr_val *out, char *err, size_t errlen);
  int64_t now_us;  /* now() */
  int tz_offset_s; /* today(), date(): the business's day (IST: 19800) */
} expr_env;

/* Evaluates src[0..n). Returns 0 with *out, or -1 with a message for the
 * owner in err ("unknown name 'invoise' at 1", "cannot compare text with
 * number"). Never more than EXPR_MAX_STEPS steps. */
int expr_eval(arena *a, const char *src, size_t n, const expr_env *env,
              expr_val *out, char *err, size_t errlen);
/* Syntax only (for validating a blueprint when it is saved): 0 or -1 with
 * err. Names are not resolved. */
int expr_check(arena *a, const char *src, size_t n, char *err, size_t errlen);
/* The names an expression reads at its root and the functions it calls
 * that are not builtins, for checking a blueprint when it is saved (so an
 * `invoise` is found then, not when the step runs). fn gets each with
 * is_call and its 1-based byte offset (in the template, for a template);
 * a nonzero answer stops the walk and is returned. -1 with err on a syntax
 * error (fn may return -1 too, having written its own message). */
typedef int (*expr_name_fn)(void *arg, const char *name, int is_call,
                            size_t at);
int expr_names(arena *a, const char *src, size_t n, expr_name_fn fn, void *arg,
               char *err, size_t errlen);
int expr_template_names(arena *a, const char *tmpl, size_t n, expr_name_fn fn,
                        void *arg, char *err, size_t errlen);
/* 1 when name is a builtin function (now, len, format_money, …). */
int expr_is_builtin(const char *name);
/* The truth of a value: false, null, 0, "", [] and {} are false. */
int expr_truthy(const expr_val *v);

/* Renders a template: text with `{{ expr }}` holes, each replaced by its
 * value as text (expr_format), appended to out (at most EXPR_MAX_RENDER
 * bytes, or out's own cap). Returns 0 or -1 with err naming the hole; on
 * an error out may hold part of the text. The template is at most
 * EXPR_MAX_STRING bytes. */
int expr_render(arena *a, const char *tmpl, size_t n, const expr_env *env,
                buf *out, char *err, size_t errlen);
/* Syntax of every hole of a template. */
int expr_template_check(arena *a, const char *tmpl, size_t n, char *err,
                        size_t errlen);

/* A value as message text: numbers as written ("1180.00"), times as IST
 * "01 Dec 2026, 9:00 PM", durations as "3 days", JSON as its text
 * (reports come formatted from the environment already). */
int expr_format(const expr_val *v, int tz_offset_s, buf *out);
/* A value as JSON (numbers exact, times ISO 8601 UTC, durations as
 * seconds). */
int expr_to_json(const expr_val *v, buf *out);
/* A JSON value as an expression value: a number keeps its literal digits
 * (more than EXPR_MAX_SCALE decimals or out of range: -1). */
int expr_from_json(const json *j, expr_val *out);

/* A value as a time: EV_TIME, or text that is an ISO date or timestamp
 * (a bare date or a timestamp without an offset in the business's offset
 * tz_offset_s). 0, or -1 for anything else. For `wait until`. */
int expr_as_time(const expr_val *v, int tz_offset_s, int64_t *us);
/* A number (or text that is a decimal) as an integer at scale: exact, so
 * 12.5 at scale 2 is 1250 and 12.345 at scale 2 is -1 (never rounded), as
 * is anything out of range. For amounts a node moves (paise: scale 2). */
int expr_as_decimal(const expr_val *v, int scale, int64_t *out);

/* A duration "30s", "30m", "2h", "3d", "1w" (one number and one unit) to
 * microseconds: 0, or -1 when malformed or above 366 days. */
int expr_duration_parse(const char *s, size_t n, int64_t *us);

#endif
