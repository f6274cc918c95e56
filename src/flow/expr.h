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
 * time; a string that is a decimal compares with a number. `+` with text
 * on either side joins the two as message text. `==`/`!=` with null are
 * always allowed; ordering null is an error (coalesce gives a default).
 * Member access: an object's key (a missing key, or any member of null, is
 * null), a list's [i] ([-1] the last; out of range: null) and `.length`.
 * `in` looks in a list (by ==), a record's keys or text. Division keeps
 * EXPR_DIV_SCALE decimals, rounded half away from zero; a product keeps
 * the sum of its operands' scales up to EXPR_MAX_SCALE (then rounds). Any
 * result that does not fit is "number too large", never wrapped. Builtins:
 * now(), today() (also as bare names), date(x) (the business day holding
 * a time or an ISO text), days(n), hours(n), minutes(n), upper(s),
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
  int b;          /* EV_BOOL */
  int64_t num;    /* EV_NUM */
  int scale;      /* EV_NUM, 0..EXPR_MAX_SCALE */
  const char *s;  /* EV_STR, in the arena or the source */
  size_t n;
  int64_t us;     /* EV_TIME, EV_DUR */
  const json *j;  /* EV_JSON */
} expr_val;

/* What names and functions mean: supplied by the caller (env.h). Both
 * callbacks return 0 with *out set, 1 when the name is unknown (the
 * evaluator then reports "unknown name 'x'"), -1 with a message in err. A
 * member of an EV_JSON value (`invoice.total_amount`) is looked up by the
 * evaluator in the JSON itself: numbers keep their exact text, strings
 * stay strings (see expr_from_json). */
typedef struct expr_env {
  void *arg;
  int (*lookup)(void *arg, arena *a, const char *name, expr_val *out,
                char *err, size_t errlen);
  int (*call)(void *arg, arena *a, const char *name, const expr_val *args,
              int nargs, expr_val *out, char *err, size_t errlen);
  int64_t now_us;    /* now() */
  int tz_offset_s;   /* today(), date(): the business's day (IST: 19800) */
} expr_env;

/* Evaluates src[0..n). Returns 0 with *out, or -1 with a message for the
 * owner in err ("unknown name 'invoise' at 1", "cannot compare text with
 * number"). Never more than EXPR_MAX_STEPS steps. */
int expr_eval(arena *a, const char *src, size_t n, const expr_env *env,
              expr_val *out, char *err, size_t errlen);
/* Syntax only (for validating a blueprint when it is saved): 0 or -1 with
 * err. Names are not resolved. */
int expr_check(arena *a, const char *src, size_t n, char *err, size_t errlen);
/* The truth of a value: false, null, 0, "", [] and {} are false. */
int expr_truthy(const expr_val *v);

/* Renders a template: text with `{{ expr }}` holes, each replaced by its
 * value as text (expr_format). Returns 0 or -1 with err naming the hole. */
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

/* A duration "30s", "30m", "2h", "3d", "1w" (one number and one unit) to
 * microseconds: 0, or -1 when malformed or above 366 days. */
int expr_duration_parse(const char *s, size_t n, int64_t *us);

#endif
