/* json.c - a strict RFC 8259 parser that keeps numbers as text, and a
 * compact writer (see json.h).
 *
 * Request bodies come from anyone, so the parser decides early and exactly
 * what it accepts: valid UTF-8 only (no overlong forms, no encoded
 * surrogates, nothing past U+10FFFF), no \u0000, no lone surrogate escapes,
 * no duplicate keys, no more than JSON_MAX_DEPTH levels of nesting, and
 * nothing after the value but whitespace. Anything it lets through can be
 * stored in PostgreSQL text and written back as valid JSON. Nodes and
 * decoded strings live in the caller's arena; the parser itself allocates
 * nothing else, so a failed parse is cleaned up with the arena. Duplicate
 * keys are found through a per-object hash once an object grows past a few
 * members, so a hostile body with many keys stays linear. */
#include "base/json.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/timeutil.h"

typedef struct parser {
  arena *a;
  const unsigned char *s;
  size_t len;
  size_t pos;
  json_error *err;
} parser;

static int fail(parser *p, size_t at, const char *msg) {
  if (p->err) {
    p->err->offset = at;
    snprintf(p->err->message, sizeof p->err->message, "%s", msg);
  }
  return -1;
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->s[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static json *node(parser *p, json_type t) {
  json *v = arena_alloc(p->a, sizeof *v);
  v->type = t;
  return v;
}

/* ---- strings ---------------------------------------------------------- */

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  for (int i = 0; i < 4; i++) {
    unsigned char c = s[i];
    unsigned d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return -1;
    v = v << 4 | d;
  }
  *out = v;
  return 0;
}

static size_t put_utf8(char *o, unsigned cp) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | cp >> 6);
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | cp >> 12);
    o[1] = (char)(0x80 | (cp >> 6 & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | cp >> 18);
  o[1] = (char)(0x80 | (cp >> 12 & 0x3F));
  o[2] = (char)(0x80 | (cp >> 6 & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

/* Length of the well-formed UTF-8 sequence at s[0..n) that starts with a
 * non-ASCII byte, or 0 when it is ill-formed. The ranges are those of the
 * Unicode standard's table of well-formed byte sequences: they exclude
 * overlong forms, UTF-16 surrogates and code points past U+10FFFF. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF; /* range of the second byte */
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (n < need) return 0;
  if (s[1] < lo || s[1] > hi) return 0;
  for (size_t i = 2; i < need; i++)
    if (s[i] < 0x80 || s[i] > 0xBF) return 0;
  return need;
}

int utf8_valid(const char *s, size_t n) {
  const unsigned char *u = (const unsigned char *)s;
  for (size_t i = 0; i < n;) {
    if (u[i] == 0) return 0;
    if (u[i] < 0x80) {
      i++;
      continue;
    }
    size_t len = utf8_seq(u + i, n - i);
    if (!len) return 0;
    i += len;
  }
  return 1;
}

/* Parses the string whose opening quote is at p->pos. The decoded text is
 * never longer than the raw text between the quotes, so the first pass only
 * finds the closing quote to size the arena copy. */
static int parse_string(parser *p, const char **out, size_t *out_len) {
  const unsigned char *s = p->s;
  size_t start = p->pos + 1, end = start;
  while (end < p->len && s[end] != '"') {
    if (s[end] == '\\') end++;
    end++;
  }
  if (end >= p->len) return fail(p, p->pos, "unterminated string");

  char *o = arena_alloc(p->a, end - start + 1);
  size_t olen = 0;
  size_t i = start;
  while (i < end) {
    unsigned char c = s[i];
    if (c == '\\') {
      size_t esc = i;
      unsigned char e = s[i + 1];
      i += 2;
      switch (e) {
        case '"':
          o[olen++] = '"';
          continue;
        case '\\':
          o[olen++] = '\\';
          continue;
        case '/':
          o[olen++] = '/';
          continue;
        case 'b':
          o[olen++] = '\b';
          continue;
        case 'f':
          o[olen++] = '\f';
          continue;
        case 'n':
          o[olen++] = '\n';
          continue;
        case 'r':
          o[olen++] = '\r';
          continue;
        case 't':
          o[olen++] = '\t';
          continue;
        case 'u':
          break;
        default:
          return fail(p, esc, "invalid escape in string");
      }
      unsigned cp;
      if (end - i < 4 || hex4(s + i, &cp))
        return fail(p, esc, "invalid \\u escape in string");
      i += 4;
      if (cp == 0) return fail(p, esc, "\\u0000 is not allowed in strings");
      if (cp >= 0xDC00 && cp <= 0xDFFF)
        return fail(p, esc, "lone low surrogate in string");
      if (cp >= 0xD800 && cp <= 0xDBFF) {
        unsigned lo;
        if (end - i < 6 || s[i] != '\\' || s[i + 1] != 'u' ||
            hex4(s + i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF)
          return fail(p, esc, "lone high surrogate in string");
        i += 6;
        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
      }
      olen += put_utf8(o + olen, cp);
    } else if (c < 0x20) {
      return fail(p, i, "unescaped control character in string");
    } else if (c < 0x80) {
      o[olen++] = (char)c;
      i++;
    } else {
      size_t k = utf8_seq(s + i, end - i);
      if (!k) return fail(p, i, "invalid UTF-8 in string");
      memcpy(o + olen, s + i, k);
      olen += k;
      i += k;
    }
  }
  o[olen] = '\0';
  p->pos = end + 1;
  *out = o;
  *out_len = olen;
  return 0;
}

/* ---- numbers and literals --------------------------------------------- */

static bool digit_at(const parser *p, size_t i) {
  return i < p->len && p->s[i] >= '0' && p->s[i] <= '9';
}

static int parse_number(parser *p, json **out) {
  size_t start = p->pos, i = start;
  if (i < p->len && p->s[i] == '-') i++;
  if (!digit_at(p, i)) return fail(p, i, "invalid number");
  if (p->s[i] == '0') {
    i++;
    if (digit_at(p, i)) return fail(p, i, "leading zero in number");
  } else {
    while (digit_at(p, i)) i++;
  }
  if (i < p->len && p->s[i] == '.') {
    i++;
    if (!digit_at(p, i)) return fail(p, i, "digit expected after '.'");
    while (digit_at(p, i)) i++;
  }
  if (i < p->len && (p->s[i] == 'e' || p->s[i] == 'E')) {
    i++;
    if (i < p->len && (p->s[i] == '+' || p->s[i] == '-')) i++;
    if (!digit_at(p, i)) return fail(p, i, "digit expected in exponent");
    while (digit_at(p, i)) i++;
  }
  json *v = node(p, JSON_NUMBER);
  v->str = arena_strndup(p->a, (const char *)p->s + start, i - start);
  v->len = i - start;
  p->pos = i;
  *out = v;
  return 0;
}

static int parse_literal(parser *p, const char *word, json_type t, json **out) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0)
    return fail(p, p->pos, "unexpected character");
  p->pos += n;
  *out = node(p, t);
  return 0;
}

/* ---- containers ------------------------------------------------------- */

/* Members of an array or object while it is being read. The arrays double
 * as they fill and become the node's own arrays at the end. */
typedef struct members {
  size_t n, cap;
  json **items;
  const char **keys;
  size_t *klens;
  uint64_t *hashes;
  uint32_t *slots; /* index + 1 into keys, 0 = empty; NULL while small */
  size_t nslots;
} members;

/* Below this many keys a linear scan is cheaper than hashing. */
#define LINEAR_KEYS 16

static uint64_t hash_key(const char *k, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)k[i];
    h *= 0x100000001b3ULL;
  }
  return h;
}

static void slots_insert(members *m, size_t idx) {
  size_t mask = m->nslots - 1;
  size_t j = (size_t)m->hashes[idx] & mask;
  while (m->slots[j]) j = (j + 1) & mask;
  m->slots[j] = (uint32_t)(idx + 1);
}

static void slots_rebuild(parser *p, members *m, size_t want) {
  m->nslots = want;
  m->slots = arena_alloc(p->a, want * sizeof *m->slots);
  for (size_t i = 0; i < m->n; i++) slots_insert(m, i);
}

static bool key_seen(const members *m, const char *k, size_t kl, uint64_t h) {
  if (!m->slots) {
    for (size_t i = 0; i < m->n; i++)
      if (m->klens[i] == kl && memcmp(m->keys[i], k, kl) == 0) return true;
    return false;
  }
  size_t mask = m->nslots - 1;
  for (size_t j = (size_t)h & mask; m->slots[j]; j = (j + 1) & mask) {
    size_t i = m->slots[j] - 1;
    if (m->hashes[i] == h && m->klens[i] == kl &&
        memcmp(m->keys[i], k, kl) == 0)
      return true;
  }
  return false;
}

static void *grow_copy(arena *a, const void *old, size_t used, size_t size) {
  void *p = arena_alloc(a, size);
  if (used) memcpy(p, old, used);
  return p;
}

static void members_push(parser *p, members *m, bool keyed, json *v,
                         const char *k, size_t kl, uint64_t h) {
  if (m->n == m->cap) {
    size_t cap = m->cap ? m->cap * 2 : 4;
    m->items = grow_copy(p->a, m->items, m->n * sizeof *m->items,
                         cap * sizeof *m->items);
    if (keyed) {
      m->keys = grow_copy(p->a, m->keys, m->n * sizeof *m->keys,
                          cap * sizeof *m->keys);
      m->klens = grow_copy(p->a, m->klens, m->n * sizeof *m->klens,
                           cap * sizeof *m->klens);
      m->hashes = grow_copy(p->a, m->hashes, m->n * sizeof *m->hashes,
                            cap * sizeof *m->hashes);
    }
    m->cap = cap;
  }
  m->items[m->n] = v;
  if (keyed) {
    m->keys[m->n] = k;
    m->klens[m->n] = kl;
    m->hashes[m->n] = h;
  }
  m->n++;
  if (!keyed) return;
  if (m->slots && m->n * 2 > m->nslots) {
    slots_rebuild(p, m, m->nslots * 2);
  } else if (m->slots) {
    slots_insert(m, m->n - 1);
  } else if (m->n >= LINEAR_KEYS) {
    slots_rebuild(p, m, LINEAR_KEYS * 4);
  }
}

static int parse_value(parser *p, int depth, json **out);

static int parse_array(parser *p, int depth, json **out) {
  members m = {0};
  p->pos++; /* '[' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == ']') {
    p->pos++;
    goto done;
  }
  for (;;) {
    json *v;
    if (parse_value(p, depth, &v)) return -1;
    members_push(p, &m, false, v, NULL, 0, 0);
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, p->pos, "unterminated array");
    unsigned char c = p->s[p->pos++];
    if (c == ']') break;
    if (c != ',') return fail(p, p->pos - 1, "',' or ']' expected");
  }
done:;
  json *a = node(p, JSON_ARRAY);
  a->n = m.n;
  a->items = m.items;
  *out = a;
  return 0;
}

static int parse_object(parser *p, int depth, json **out) {
  members m = {0};
  p->pos++; /* '{' */
  skip_ws(p);
  if (p->pos < p->len && p->s[p->pos] == '}') {
    p->pos++;
    goto done;
  }
  for (;;) {
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != '"')
      return fail(p, p->pos, "string key expected");
    size_t key_at = p->pos;
    const char *k;
    size_t kl;
    if (parse_string(p, &k, &kl)) return -1;
    uint64_t h = hash_key(k, kl);
    if (key_seen(&m, k, kl, h)) return fail(p, key_at, "duplicate key");
    skip_ws(p);
    if (p->pos >= p->len || p->s[p->pos] != ':')
      return fail(p, p->pos, "':' expected");
    p->pos++;
    json *v;
    if (parse_value(p, depth, &v)) return -1;
    members_push(p, &m, true, v, k, kl, h);
    skip_ws(p);
    if (p->pos >= p->len) return fail(p, p->pos, "unterminated object");
    unsigned char c = p->s[p->pos++];
    if (c == '}') break;
    if (c != ',') return fail(p, p->pos - 1, "',' or '}' expected");
  }
done:;
  json *o = node(p, JSON_OBJECT);
  o->n = m.n;
  o->items = m.items;
  o->keys = m.keys;
  *out = o;
  return 0;
}

/* depth counts the containers around the value; recursion is bounded by
 * JSON_MAX_DEPTH, so the C stack is never at the mercy of the input. */
static int parse_value(parser *p, int depth, json **out) {
  skip_ws(p);
  if (p->pos >= p->len) return fail(p, p->pos, "unexpected end of input");
  unsigned char c = p->s[p->pos];
  switch (c) {
    case '{':
    case '[':
      if (depth >= JSON_MAX_DEPTH) return fail(p, p->pos, "nesting too deep");
      return c == '{' ? parse_object(p, depth + 1, out)
                      : parse_array(p, depth + 1, out);
    case '"': {
      const char *s;
      size_t n;
      if (parse_string(p, &s, &n)) return -1;
      json *v = node(p, JSON_STRING);
      v->str = s;
      v->len = n;
      *out = v;
      return 0;
    }
    case 't':
      return parse_literal(p, "true", JSON_TRUE, out);
    case 'f':
      return parse_literal(p, "false", JSON_FALSE, out);
    case 'n':
      return parse_literal(p, "null", JSON_NULL, out);
    default:
      if (c == '-' || (c >= '0' && c <= '9')) return parse_number(p, out);
      return fail(p, p->pos, "unexpected character");
  }
}

int json_parse(arena *a, const char *text, size_t len, json **out,
               json_error *err) {
  parser p = {.a = a, .s = (const unsigned char *)text, .len = len, .err = err};
  json *v;
  if (!text) return fail(&p, 0, "no input");
  if (parse_value(&p, 0, &v)) return -1;
  skip_ws(&p);
  if (p.pos != p.len) return fail(&p, p.pos, "trailing characters after value");
  *out = v;
  return 0;
}

/* ---- access ----------------------------------------------------------- */

json *json_get(const json *o, const char *key) {
  if (!o || o->type != JSON_OBJECT || !key) return NULL;
  for (size_t i = 0; i < o->n; i++)
    if (strcmp(o->keys[i], key) == 0) return o->items[i];
  return NULL;
}

json *json_get_obj(const json *o, const char *key) {
  json *v = json_get(o, key);
  return v && v->type == JSON_OBJECT ? v : NULL;
}

const char *json_to_text(arena *a, const json *v) {
  buf b;
  buf_init(&b, 0);
  json_write(&b, v);
  const char *s = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return s;
}

/* Exponents are refused outright: an exact reading of them is rarely what a
 * client meant for money, and refusing keeps the rule easy to state. */
static bool has_any(const json *v, const char *chars) {
  for (size_t i = 0; i < v->len; i++)
    if (strchr(chars, v->str[i])) return true;
  return false;
}

int json_int64(const json *v, int64_t *out) {
  if (!v || v->type != JSON_NUMBER || has_any(v, ".eE")) return -1;
  return dec_parse(v->str, v->len, 0, out);
}

int json_decimal(const json *v, int scale, int64_t *out) {
  if (!v || v->type != JSON_NUMBER || has_any(v, "eE")) return -1;
  return dec_parse(v->str, v->len, scale, out);
}

/* ---- writing ---------------------------------------------------------- */

static int write_str(buf *b, const char *str, size_t n) {
  static const char hexd[] = "0123456789abcdef";
  const unsigned char *s = (const unsigned char *)str;
  size_t run = 0; /* start of the bytes that need no escaping */
  if (buf_putc(b, '"')) return -1;
  size_t i = 0;
  while (i < n) {
    unsigned char c = s[i];
    char esc[8];
    size_t elen = 0, adv = 1;
    if (c == '"' || c == '\\') {
      esc[0] = '\\';
      esc[1] = (char)c;
      elen = 2;
    } else if (c < 0x20) {
      esc[0] = '\\';
      elen = 2;
      switch (c) {
        case '\b':
          esc[1] = 'b';
          break;
        case '\f':
          esc[1] = 'f';
          break;
        case '\n':
          esc[1] = 'n';
          break;
        case '\r':
          esc[1] = 'r';
          break;
        case '\t':
          esc[1] = 't';
          break;
        default:
          memcpy(esc + 1, "u00", 3);
          esc[4] = hexd[c >> 4];
          esc[5] = hexd[c & 15];
          elen = 6;
      }
    } else if (c >= 0x80) {
      adv = utf8_seq(s + i, n - i);
      if (!adv) {
        /* Text from storage may not be UTF-8; U+FFFD keeps the output
         * valid JSON instead of passing the bad byte on. */
        memcpy(esc, "\xEF\xBF\xBD", 3);
        elen = 3;
        adv = 1;
      }
    }
    if (elen) {
      if (i > run && buf_append(b, s + run, i - run)) return -1;
      if (buf_append(b, esc, elen)) return -1;
      run = i + adv;
    }
    i += adv;
  }
  if (i > run && buf_append(b, s + run, i - run)) return -1;
  return buf_putc(b, '"');
}

/* A failed write leaves the buffer as it was, so the caller can still
 * replace it with an error body. */
static void rollback(buf *b, size_t mark) {
  b->len = mark;
  if (b->data) b->data[mark] = '\0';
}

int json_write_str(buf *b, const char *s, size_t n) {
  size_t mark = b->len;
  if (write_str(b, s, n)) {
    rollback(b, mark);
    return -1;
  }
  return 0;
}

static int write_value(buf *b, const json *v) {
  switch (v->type) {
    case JSON_NULL:
      return buf_puts(b, "null");
    case JSON_FALSE:
      return buf_puts(b, "false");
    case JSON_TRUE:
      return buf_puts(b, "true");
    case JSON_NUMBER:
      return buf_append(b, v->str, v->len);
    case JSON_STRING:
      return write_str(b, v->str, v->len);
    case JSON_ARRAY:
      if (buf_putc(b, '[')) return -1;
      for (size_t i = 0; i < v->n; i++) {
        if (i && buf_putc(b, ',')) return -1;
        if (write_value(b, v->items[i])) return -1;
      }
      return buf_putc(b, ']');
    case JSON_OBJECT:
      if (buf_putc(b, '{')) return -1;
      for (size_t i = 0; i < v->n; i++) {
        if (i && buf_putc(b, ',')) return -1;
        if (write_str(b, v->keys[i], strlen(v->keys[i]))) return -1;
        if (buf_putc(b, ':')) return -1;
        if (write_value(b, v->items[i])) return -1;
      }
      return buf_putc(b, '}');
  }
  return -1;
}

int json_write(buf *b, const json *v) {
  size_t mark = b->len;
  if (!v || write_value(b, v)) {
    rollback(b, mark);
    return -1;
  }
  return 0;
}

const char *json_type_name(json_type t) {
  switch (t) {
    case JSON_NULL:
      return "null";
    case JSON_FALSE:
    case JSON_TRUE:
      return "boolean";
    case JSON_NUMBER:
      return "number";
    case JSON_STRING:
      return "string";
    case JSON_ARRAY:
      return "array";
    case JSON_OBJECT:
      return "object";
  }
  return "unknown";
}

int json_write_dec(buf *b, int64_t v, int scale) {
  char t[DEC_MAX_TEXT];
  int n = dec_format(v, scale, t);
  if (n < 0) return -1;
  return buf_append(b, t, (size_t)n);
}

int json_write_ts(buf *b, int64_t t_us) {
  char t[TS_TEXT_LEN + 1];
  ts_format(t_us, t);
  return json_write_str(b, t, strlen(t));
}

int json_write_date(buf *b, int32_t days) {
  char t[11];
  date_format(days, t);
  return json_write_str(b, t, strlen(t));
}

/* ---- objects member by member --------------------------------------- */

static void obj_start(json_obj *o, buf *b, char open, char close) {
  o->b = b;
  o->parent = NULL;
  o->n = 0;
  o->close = close;
  o->err = buf_putc(b, open) != 0;
}

void json_obj_open(json_obj *o, buf *b) { obj_start(o, b, '{', '}'); }

void json_arr_open(json_obj *a, buf *b) { obj_start(a, b, '[', ']'); }

/* The separator and (in an object) the key of the next member. */
static void obj_key(json_obj *o, const char *key) {
  if (o->n++ && buf_putc(o->b, ',')) o->err = 1;
  if (key && (write_str(o->b, key, strlen(key)) || buf_putc(o->b, ':')))
    o->err = 1;
}

void json_obj_nest(json_obj *o, const char *key, json_obj *inner) {
  obj_key(o, key);
  json_obj_open(inner, o->b);
  inner->parent = o;
}

void json_obj_arr(json_obj *o, const char *key, json_obj *inner) {
  obj_key(o, key);
  json_arr_open(inner, o->b);
  inner->parent = o;
}

void json_obj_date(json_obj *o, const char *key, int32_t days) {
  obj_key(o, key);
  if (json_write_date(o->b, days)) o->err = 1;
}

void json_obj_dec(json_obj *o, const char *key, int64_t v, int scale) {
  obj_key(o, key);
  if (json_write_dec(o->b, v, scale)) o->err = 1;
}

void json_obj_str(json_obj *o, const char *key, const char *s) {
  obj_key(o, key);
  if (s ? write_str(o->b, s, strlen(s)) : buf_puts(o->b, "null")) o->err = 1;
}

void json_obj_int(json_obj *o, const char *key, int64_t v) {
  obj_key(o, key);
  if (buf_printf(o->b, "%lld", (long long)v)) o->err = 1;
}

void json_obj_bool(json_obj *o, const char *key, int v) {
  obj_key(o, key);
  if (buf_puts(o->b, v ? "true" : "false")) o->err = 1;
}

void json_obj_null(json_obj *o, const char *key) {
  obj_key(o, key);
  if (buf_puts(o->b, "null")) o->err = 1;
}

void json_obj_ts(json_obj *o, const char *key, int64_t t_us) {
  obj_key(o, key);
  if (json_write_ts(o->b, t_us)) o->err = 1;
}

void json_obj_raw(json_obj *o, const char *key, const char *json_text) {
  obj_key(o, key);
  if (buf_puts(o->b, json_text)) o->err = 1;
}

int json_obj_close(json_obj *o) {
  if (buf_putc(o->b, o->close)) o->err = 1;
  if (o->parent && o->err) o->parent->err = 1;
  return o->err ? -1 : 0;
}
