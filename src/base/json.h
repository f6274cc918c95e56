/* json.h - a strict JSON parser that keeps numbers as text, and a writer.
 *
 * We do not use a JSON library that turns numbers into doubles: money must
 * never pass through floating point, so a number keeps its literal text and
 * is converted exactly by the reader that knows its type (json_int64,
 * json_decimal). The parser follows RFC 8259 strictly: valid UTF-8 only, no
 * trailing commas, no comments, no NUL in strings (\u0000 is refused, as
 * PostgreSQL text cannot hold it), nesting limited to JSON_MAX_DEPTH,
 * duplicate object keys refused. All nodes live in the caller's arena. */
#ifndef MUNSHI_BASE_JSON_H
#define MUNSHI_BASE_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "base/buf.h"

#define JSON_MAX_DEPTH 64

typedef enum {
  JSON_NULL,
  JSON_FALSE,
  JSON_TRUE,
  JSON_NUMBER,
  JSON_STRING,
  JSON_ARRAY,
  JSON_OBJECT
} json_type;

typedef struct json json;
struct json {
  json_type type;
  /* JSON_STRING: the decoded UTF-8 value; JSON_NUMBER: the literal text. */
  const char *str;
  size_t len;     /* bytes in str */
  size_t n;       /* JSON_ARRAY / JSON_OBJECT: number of members */
  json **items;   /* members (values), in document order */
  const char **keys; /* JSON_OBJECT: keys, parallel to items */
};

typedef struct json_error {
  size_t offset; /* byte offset of the error in the input */
  char message[96];
} json_error;

/* Parses text[0..len) as one JSON value (whitespace around it allowed).
 * Returns 0 and sets *out, or -1 and fills err. Memory comes from a. */
int json_parse(arena *a, const char *text, size_t len, json **out,
               json_error *err);

/* Member of an object by key, or NULL (also when o is not an object). */
json *json_get(const json *o, const char *key);
/* Member key of o when it is an object, else NULL. */
json *json_get_obj(const json *o, const char *key);
/* v written back as compact JSON text, in the arena (never NULL). */
const char *json_to_text(arena *a, const json *v);

/* Exact conversions of a JSON_NUMBER; -1 when the number is not of that
 * form (a fraction for an integer, more decimals than scale, any exponent,
 * or out of int64 range). json_decimal
 * gives the value times 10^scale: json_decimal("12.5", 2) = 1250. */
int json_int64(const json *v, int64_t *out);
int json_decimal(const json *v, int scale, int64_t *out);

/* Writes s[0..n) as a JSON string literal, quotes included, escaping as
 * RFC 8259 requires. Returns 0 or -1 when the buffer cap is passed. */
int json_write_str(buf *b, const char *s, size_t n);
/* Typed values as JSON, shared by every module that answers with rows: an
 * exact decimal as a number with exactly scale places ("1234.50"), a
 * timestamp and a date as strings in their canonical forms (timeutil.h). */
int json_write_dec(buf *b, int64_t v, int scale);
int json_write_ts(buf *b, int64_t t_us);
int json_write_date(buf *b, int32_t days);
/* An object (or array) written member by member, for answers built from
 * C values: json_obj_open writes '{', each member its comma, escaped key and
 * value, json_obj_close the '}'. json_arr_open starts an array instead: its
 * elements are written with the same calls and a NULL key, and
 * json_obj_close writes the ']'. A failed write (the buffer's cap) is
 * remembered, so the caller checks json_obj_close once; the buffer then
 * holds a partial document and should be replaced. json_obj_nest and
 * json_obj_arr open an object or an array as a member (or, with a NULL
 * key, an element) of another; closing it passes any failure on to the
 * outer one. This is the one writer of JSON built from C values (auth's
 * answers, the reports); rows read from the database are rendered by the
 * json_write_* functions above. */
typedef struct json_obj {
  buf *b;
  struct json_obj *parent;
  int n;      /* members written */
  int err;    /* a write failed */
  char close; /* '}' or ']' */
} json_obj;
void json_obj_open(json_obj *o, buf *b);
void json_arr_open(json_obj *a, buf *b);
void json_obj_nest(json_obj *o, const char *key, json_obj *inner);
void json_obj_arr(json_obj *o, const char *key, json_obj *inner);
void json_obj_str(json_obj *o, const char *key, const char *s); /* NULL: null */
void json_obj_int(json_obj *o, const char *key, int64_t v);
void json_obj_bool(json_obj *o, const char *key, int v);
void json_obj_null(json_obj *o, const char *key);
void json_obj_ts(json_obj *o, const char *key, int64_t t_us);
void json_obj_date(json_obj *o, const char *key, int32_t days);
/* An exact decimal: v in units of 10^-scale, as json_write_dec. */
void json_obj_dec(json_obj *o, const char *key, int64_t v, int scale);
/* A member whose value is text that is already JSON (a constant, or a
 * value this program wrote or parsed itself); never text from a request. */
void json_obj_raw(json_obj *o, const char *key, const char *json_text);
int json_obj_close(json_obj *o);
/* Writes the value back as compact JSON text. */
int json_write(buf *b, const json *v);
/* 1 when s[0..n) is well-formed UTF-8 without NUL bytes, else 0. */
int utf8_valid(const char *s, size_t n);
/* The name of a type, for error messages ("string", "number", ...). */
const char *json_type_name(json_type t);

#endif
