/* expr.c - the workflows' expression language: tokenizer, recursive-descent
 * parser to a small tree in the caller's arena, and the evaluator (see
 * expr.h for the grammar and the promises).
 *
 * Safety comes from the shape, not from checks sprinkled later: the parser
 * counts its own nesting (parentheses, brackets, calls, unary operators)
 * and stops at EXPR_MAX_DEPTH, and chains such as `a or b or c …` or
 * `a + b + c …` become one node with a list of operands instead of a
 * left-deep tree, so evaluation recursion is bounded by the parse depth
 * whatever the source's length. Every node evaluated, every list element
 * compared and every kilobyte of text built costs a step, and an
 * evaluation stops at EXPR_MAX_STEPS. Error messages are for owners: they
 * say what went wrong in plain words and where ("at 5" is the fifth byte
 * of the expression, or of the template for a `{{ }}` hole). */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "flow/expr.h"
#include "flow/expr_int.h"

/* ---- tokens -------------------------------------------------------------- */

enum {
  T_END,
  T_NUM,
  T_STR,
  T_DUR,
  T_NAME,
  T_AND,
  T_OR,
  T_NOT,
  T_IN,
  T_TRUE,
  T_FALSE,
  T_NULL,
  T_LP,
  T_RP,
  T_LB,
  T_RB,
  T_COMMA,
  T_DOT,
  T_PLUS,
  T_MINUS,
  T_STAR,
  T_SLASH,
  T_PCT,
  T_EQ,
  T_NE,
  T_LT,
  T_LE,
  T_GT,
  T_GE
};

typedef struct token {
  int k;
  size_t off;    /* in the source */
  const char *s; /* T_NUM, T_NAME: the text; T_STR: the decoded value */
  size_t n;
  int64_t us; /* T_DUR */
} token;

/* ---- the tree ------------------------------------------------------------ */

enum {
  N_LIT,   /* v */
  N_NAME,  /* name */
  N_CALL,  /* name(kids) */
  N_LIST,  /* [kids] */
  N_POST,  /* kids[0] then steps: member names or index expressions */
  N_NEG,   /* -kids[0] */
  N_NOT,   /* not kids[0] */
  N_CMP,   /* kids[0] op kids[1] */
  N_ARITH, /* kids[0] ops[0] kids[1] ops[1] kids[2] … */
  N_AND,   /* kids[0] and kids[1] and … */
  N_OR
};

typedef struct enode enode;
typedef struct post_step {
  const char *name; /* member; NULL for an index */
  enode *index;
  size_t off;
} post_step;

struct enode {
  int kind;
  size_t off;
  expr_val v;
  const char *name; /* NUL-terminated */
  enode **kids;
  int nkids;
  int *ops;
  post_step *steps;
  int nsteps;
};

typedef struct parser {
  arena *a;
  const char *src;
  size_t n, pos;
  size_t base; /* added to offsets in messages (template holes) */
  token tok;
  int depth;
  int failed;
  char *err;
  size_t errlen;
} parser;

__attribute__((format(printf, 3, 4))) static int perr(parser *p, size_t off,
                                                      const char *fmt, ...) {
  if (p->failed) return -1;
  p->failed = 1;
  char msg[200];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(p->err, p->errlen, "%s at %zu", msg, p->base + off + 1);
  return -1;
}

static int is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

static int word_is(const char *s, size_t n, const char *w) {
  size_t wn = strlen(w);
  if (n != wn) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != w[i]) return 0;
  }
  return 1;
}

/* A quoted string at p->pos: its decoded value. Escapes: \\ \' \" \n \t. */
static int lex_string(parser *p, token *t) {
  char q = p->src[p->pos];
  size_t start = p->pos++;
  size_t i = p->pos;
  int escapes = 0;
  while (i < p->n && p->src[i] != q) {
    if (p->src[i] == '\\') {
      escapes = 1;
      i++;
    }
    i++;
  }
  if (i >= p->n) return perr(p, start, "text started here is not closed");
  if (!escapes) {
    t->s = p->src + p->pos;
    t->n = i - p->pos;
  } else {
    char *d = arena_alloc(p->a, i - p->pos + 1);
    size_t dn = 0;
    for (size_t k = p->pos; k < i; k++) {
      char c = p->src[k];
      if (c == '\\') {
        c = p->src[++k];
        if (c == 'n')
          c = '\n';
        else if (c == 't')
          c = '\t';
        else if (c != '\\' && c != '\'' && c != '"')
          return perr(p, k - 1, "unknown escape '\\%c' in text", c);
      }
      d[dn++] = c;
    }
    t->s = d;
    t->n = dn;
  }
  p->pos = i + 1;
  t->k = T_STR;
  return 0;
}

static int lex(parser *p) {
  token *t = &p->tok;
  memset(t, 0, sizeof *t);
  while (p->pos < p->n && (p->src[p->pos] == ' ' || p->src[p->pos] == '\t' ||
                           p->src[p->pos] == '\n' || p->src[p->pos] == '\r'))
    p->pos++;
  t->off = p->pos;
  if (p->pos >= p->n) {
    t->k = T_END;
    return 0;
  }
  const char *s = p->src;
  char c = s[p->pos];
  char c2 = p->pos + 1 < p->n ? s[p->pos + 1] : '\0';
  if (is_digit(c)) {
    size_t i = p->pos;
    while (i < p->n && is_digit(s[i])) i++;
    if (i + 1 < p->n && s[i] == '.' && is_digit(s[i + 1])) {
      i++;
      while (i < p->n && is_digit(s[i])) i++;
    }
    size_t end = i;
    if (i < p->n && is_alpha(s[i])) {
      /* 3d, 2h, 30m, 45s, 1w: a duration literal. */
      size_t u = i;
      while (i < p->n && (is_alpha(s[i]) || is_digit(s[i]))) i++;
      int len = (int)(i - p->pos > 40 ? 40 : i - p->pos);
      if (i - u != 1 || !strchr("smhdw", s[u]) ||
          memchr(s + p->pos, '.', end - p->pos))
        return perr(p, p->pos,
                    "'%.*s' is not a number or a duration (like 30m, 2h, 3d)",
                    len, s + p->pos);
      if (expr_duration_parse(s + p->pos, i - p->pos, &t->us))
        return perr(p, p->pos, "duration '%.*s' is longer than 366 days", len,
                    s + p->pos);
      t->k = T_DUR;
      p->pos = i;
      return 0;
    }
    t->k = T_NUM;
    t->s = s + p->pos;
    t->n = end - p->pos;
    p->pos = end;
    return 0;
  }
  if (is_alpha(c)) {
    size_t i = p->pos;
    while (i < p->n && (is_alpha(s[i]) || is_digit(s[i]))) i++;
    t->s = s + p->pos;
    t->n = i - p->pos;
    p->pos = i;
    static const struct {
      const char *w;
      int k;
    } kw[] = {{"and", T_AND},  {"or", T_OR},     {"not", T_NOT},
              {"in", T_IN},    {"true", T_TRUE}, {"false", T_FALSE},
              {"null", T_NULL}};
    t->k = T_NAME;
    for (size_t k = 0; k < sizeof kw / sizeof kw[0]; k++)
      if (word_is(t->s, t->n, kw[k].w)) t->k = kw[k].k;
    return 0;
  }
  if (c == '\'' || c == '"') return lex_string(p, t);
  int k = -1, len = 1;
  switch (c) {
    case '(':
      k = T_LP;
      break;
    case ')':
      k = T_RP;
      break;
    case '[':
      k = T_LB;
      break;
    case ']':
      k = T_RB;
      break;
    case ',':
      k = T_COMMA;
      break;
    case '.':
      k = T_DOT;
      break;
    case '+':
      k = T_PLUS;
      break;
    case '-':
      k = T_MINUS;
      break;
    case '*':
      k = T_STAR;
      break;
    case '/':
      k = T_SLASH;
      break;
    case '%':
      k = T_PCT;
      break;
    case '=':
      k = T_EQ, len = c2 == '=' ? 2 : 1;
      break;
    case '!':
      k = c2 == '=' ? T_NE : T_NOT, len = c2 == '=' ? 2 : 1;
      break;
    case '<':
      k = c2 == '=' ? T_LE : T_LT, len = c2 == '=' ? 2 : 1;
      break;
    case '>':
      k = c2 == '=' ? T_GE : T_GT, len = c2 == '=' ? 2 : 1;
      break;
    case '&':
      if (c2 == '&') k = T_AND, len = 2;
      break;
    case '|':
      if (c2 == '|') k = T_OR, len = 2;
      break;
    default:
      break;
  }
  if (k < 0) {
    if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
      return perr(p, p->pos, "unexpected '%c'", c);
    return perr(p, p->pos, "unexpected character");
  }
  t->k = k;
  p->pos += (size_t)len;
  return 0;
}

static const char *tok_desc(const token *t, char *b, size_t bn) {
  switch (t->k) {
    case T_END:
      return "the end";
    case T_NUM:
    case T_NAME:
      snprintf(b, bn, "'%.*s'", (int)(t->n > 40 ? 40 : t->n), t->s);
      return b;
    case T_STR:
      return "text";
    case T_DUR:
      return "a duration";
    default:
      return "this";
  }
}

static int unexpected(parser *p) {
  char b[64];
  const token *t = &p->tok;
  if (t->k == T_END) return perr(p, t->off, "expression ends too early");
  if (t->k == T_NUM || t->k == T_NAME || t->k == T_STR || t->k == T_DUR)
    return perr(p, t->off, "unexpected %s", tok_desc(t, b, sizeof b));
  if (t->s) /* a keyword */
    return perr(p, t->off, "unexpected '%.*s'", (int)t->n, t->s);
  size_t len = 1;
  while (t->off + len < p->n && len < 2 && strchr("=&|", p->src[t->off + len]))
    len++;
  return perr(p, t->off, "unexpected '%.*s'", (int)len, p->src + t->off);
}

static enode *node(parser *p, int kind, size_t off) {
  enode *e = arena_alloc(p->a, sizeof *e);
  e->kind = kind;
  e->off = off;
  return e;
}

/* A growable list of children while parsing; copied to the arena at the
 * end (the source cap bounds how many there can be). */
typedef struct kidlist {
  enode **v;
  int *ops;
  int n, cap;
} kidlist;

static void kids_push(parser *p, kidlist *l, enode *e, int op) {
  if (l->n == l->cap) {
    int cap = l->cap ? l->cap * 2 : 4;
    enode **v = arena_alloc(p->a, (size_t)cap * sizeof *v);
    int *ops = arena_alloc(p->a, (size_t)cap * sizeof *ops);
    if (l->n) {
      memcpy(v, l->v, (size_t)l->n * sizeof *v);
      memcpy(ops, l->ops, (size_t)l->n * sizeof *ops);
    }
    l->v = v, l->ops = ops, l->cap = cap;
  }
  l->v[l->n] = e;
  l->ops[l->n] = op;
  l->n++;
}

static enode *parse_expr(parser *p);

static int enter(parser *p) {
  if (++p->depth > EXPR_MAX_DEPTH) {
    perr(p, p->tok.off, "expression nested too deeply (at most %d levels)",
         EXPR_MAX_DEPTH);
    return -1;
  }
  return 0;
}

static int expect(parser *p, int k, const char *what) {
  if (p->tok.k != k) {
    if (p->tok.k == T_END)
      return perr(p, p->tok.off, "expected %s but the expression ends", what);
    char b[64];
    return perr(p, p->tok.off, "expected %s, not %s", what,
                p->tok.k == T_NAME || p->tok.k == T_NUM
                    ? tok_desc(&p->tok, b, sizeof b)
                    : "this");
  }
  return lex(p);
}

static enode *parse_primary(parser *p) {
  token t = p->tok;
  enode *e;
  switch (t.k) {
    case T_NUM: {
      e = node(p, N_LIT, t.off);
      e->v.t = EV_NUM;
      int rc = xnum_parse(t.s, t.n, &e->v.num, &e->v.scale);
      if (rc == -2) {
        perr(p, t.off, "too many decimals in %.*s (at most %d)",
             (int)(t.n > 40 ? 40 : t.n), t.s, EXPR_MAX_SCALE);
        return NULL;
      }
      if (rc) {
        perr(p, t.off, "number too large");
        return NULL;
      }
      return lex(p) ? NULL : e;
    }
    case T_STR:
      e = node(p, N_LIT, t.off);
      e->v.t = EV_STR;
      e->v.s = t.s;
      e->v.n = t.n;
      if (t.n > EXPR_MAX_STRING) {
        perr(p, t.off, "text too long");
        return NULL;
      }
      return lex(p) ? NULL : e;
    case T_DUR:
      e = node(p, N_LIT, t.off);
      e->v.t = EV_DUR;
      e->v.us = t.us;
      return lex(p) ? NULL : e;
    case T_TRUE:
    case T_FALSE:
      e = node(p, N_LIT, t.off);
      e->v.t = EV_BOOL;
      e->v.b = t.k == T_TRUE;
      return lex(p) ? NULL : e;
    case T_NULL:
      e = node(p, N_LIT, t.off);
      e->v.t = EV_NULL;
      return lex(p) ? NULL : e;
    case T_NAME: {
      if (lex(p)) return NULL;
      if (p->tok.k == T_LP) {
        e = node(p, N_CALL, t.off);
        e->name = arena_strndup(p->a, t.s, t.n);
        if (lex(p)) return NULL;
        kidlist l = {0};
        if (p->tok.k != T_RP) {
          for (;;) {
            if (l.n == EXPR_MAX_ARGS) {
              perr(p, p->tok.off, "too many arguments to %s (at most %d)",
                   e->name, EXPR_MAX_ARGS);
              return NULL;
            }
            enode *arg = parse_expr(p);
            if (!arg) return NULL;
            kids_push(p, &l, arg, 0);
            if (p->tok.k != T_COMMA) break;
            if (lex(p)) return NULL;
          }
        }
        if (expect(p, T_RP, "')' after the arguments")) return NULL;
        e->kids = l.v;
        e->nkids = l.n;
        return e;
      }
      e = node(p, N_NAME, t.off);
      e->name = arena_strndup(p->a, t.s, t.n);
      return e;
    }
    case T_LP:
      if (lex(p)) return NULL;
      e = parse_expr(p);
      if (!e || expect(p, T_RP, "')'")) return NULL;
      return e;
    case T_LB: {
      if (lex(p)) return NULL;
      e = node(p, N_LIST, t.off);
      kidlist l = {0};
      if (p->tok.k != T_RB) {
        for (;;) {
          enode *el = parse_expr(p);
          if (!el) return NULL;
          kids_push(p, &l, el, 0);
          if (p->tok.k != T_COMMA) break;
          if (lex(p)) return NULL;
        }
      }
      if (expect(p, T_RB, "']' to close the list")) return NULL;
      e->kids = l.v;
      e->nkids = l.n;
      return e;
    }
    default:
      unexpected(p);
      return NULL;
  }
}

static enode *parse_postfix(parser *p) {
  enode *base = parse_primary(p);
  if (!base || (p->tok.k != T_DOT && p->tok.k != T_LB)) return base;
  enode *e = node(p, N_POST, base->off);
  e->kids = arena_alloc(p->a, sizeof *e->kids);
  e->kids[0] = base;
  e->nkids = 1;
  int cap = 0;
  while (p->tok.k == T_DOT || p->tok.k == T_LB) {
    post_step st = {0};
    st.off = p->tok.off;
    if (p->tok.k == T_DOT) {
      if (lex(p)) return NULL;
      /* Any word names a member, keywords included (`x.in`); `&&`, `||`
       * and `!` are T_AND, T_OR and T_NOT too but have no text. */
      if (p->tok.s &&
          (p->tok.k == T_NAME || (p->tok.k >= T_AND && p->tok.k <= T_NULL))) {
        st.name = arena_strndup(p->a, p->tok.s, p->tok.n);
        st.off = p->tok.off;
      } else if (p->tok.k == T_NUM) {
        perr(p, p->tok.off, "use [%.*s] for a position in a list",
             (int)(p->tok.n > 20 ? 20 : p->tok.n), p->tok.s);
        return NULL;
      } else {
        perr(p, p->tok.off, "expected a field name after '.'");
        return NULL;
      }
      if (lex(p)) return NULL;
    } else {
      if (lex(p)) return NULL;
      st.index = parse_expr(p);
      if (!st.index || expect(p, T_RB, "']'")) return NULL;
    }
    if (e->nsteps == cap) {
      cap = cap ? cap * 2 : 4;
      post_step *ns = arena_alloc(p->a, (size_t)cap * sizeof *ns);
      if (e->nsteps) memcpy(ns, e->steps, (size_t)e->nsteps * sizeof *ns);
      e->steps = ns;
    }
    e->steps[e->nsteps++] = st;
  }
  return e;
}

static enode *parse_unary(parser *p) {
  if (p->tok.k == T_MINUS) {
    size_t off = p->tok.off;
    if (enter(p) || lex(p)) return NULL;
    enode *k = parse_unary(p);
    if (!k) return NULL;
    p->depth--;
    /* A negative literal is folded into one literal (no step to run). */
    if (k->kind == N_LIT && k->v.t == EV_NUM && k->v.num != INT64_MIN) {
      k->v.num = -k->v.num;
      k->off = off;
      return k;
    }
    enode *e = node(p, N_NEG, off);
    e->kids = arena_alloc(p->a, sizeof *e->kids);
    e->kids[0] = k;
    e->nkids = 1;
    return e;
  }
  return parse_postfix(p);
}

static enode *parse_chain(parser *p, int level);

static int level_op(int level, int k) {
  if (level == 0) return k == T_PLUS || k == T_MINUS;
  return k == T_STAR || k == T_SLASH || k == T_PCT;
}

/* level 0: + -, level 1: * / %; each a flat chain. */
static enode *parse_chain(parser *p, int level) {
  enode *first = level == 0 ? parse_chain(p, 1) : parse_unary(p);
  if (!first || !level_op(level, p->tok.k)) return first;
  enode *e = node(p, N_ARITH, first->off);
  kidlist l = {0};
  kids_push(p, &l, first, 0);
  while (level_op(level, p->tok.k)) {
    int op = p->tok.k;
    size_t off = p->tok.off;
    if (lex(p)) return NULL;
    enode *k = level == 0 ? parse_chain(p, 1) : parse_unary(p);
    if (!k) return NULL;
    kids_push(p, &l, k, op);
    /* The operator's own position, for its error messages. */
    l.ops[l.n - 1] = op | (int)(off << 8);
  }
  e->kids = l.v;
  e->ops = l.ops;
  e->nkids = l.n;
  return e;
}

static int is_cmp(int k) {
  return k == T_EQ || k == T_NE || k == T_LT || k == T_LE || k == T_GT ||
         k == T_GE || k == T_IN;
}

static enode *parse_cmp(parser *p) {
  enode *l = parse_chain(p, 0);
  if (!l) return NULL;
  /* `not in`: x not in [..] */
  int negate_in = 0;
  size_t off = p->tok.off;
  if (p->tok.k == T_NOT) {
    parser save = *p;
    if (lex(p)) return NULL;
    if (p->tok.k != T_IN) {
      *p = save;
      return l;
    }
    negate_in = 1;
  }
  if (!is_cmp(p->tok.k)) return l;
  int op = p->tok.k;
  if (lex(p)) return NULL;
  enode *r = parse_chain(p, 0);
  if (!r) return NULL;
  if (is_cmp(p->tok.k)) {
    perr(p, p->tok.off, "use 'and' to join two comparisons");
    return NULL;
  }
  enode *e = node(p, N_CMP, off);
  e->kids = arena_alloc(p->a, 2 * sizeof *e->kids);
  e->kids[0] = l;
  e->kids[1] = r;
  e->nkids = 2;
  e->v.t = EV_BOOL;
  e->v.b = negate_in;
  e->ops = arena_alloc(p->a, sizeof *e->ops);
  e->ops[0] = op;
  return e;
}

static enode *parse_not(parser *p) {
  if (p->tok.k == T_NOT) {
    size_t off = p->tok.off;
    if (enter(p) || lex(p)) return NULL;
    enode *k = parse_not(p);
    if (!k) return NULL;
    p->depth--;
    enode *e = node(p, N_NOT, off);
    e->kids = arena_alloc(p->a, sizeof *e->kids);
    e->kids[0] = k;
    e->nkids = 1;
    return e;
  }
  return parse_cmp(p);
}

static enode *parse_logic(parser *p, int tk) {
  enode *first = tk == T_OR ? parse_logic(p, T_AND) : parse_not(p);
  if (!first || p->tok.k != tk) return first;
  enode *e = node(p, tk == T_OR ? N_OR : N_AND, first->off);
  kidlist l = {0};
  kids_push(p, &l, first, 0);
  while (p->tok.k == tk) {
    if (lex(p)) return NULL;
    enode *k = tk == T_OR ? parse_logic(p, T_AND) : parse_not(p);
    if (!k) return NULL;
    kids_push(p, &l, k, 0);
  }
  e->kids = l.v;
  e->nkids = l.n;
  return e;
}

static enode *parse_expr(parser *p) {
  if (enter(p)) return NULL;
  enode *e = parse_logic(p, T_OR);
  p->depth--;
  return e;
}

static enode *parse_all(arena *a, const char *src, size_t n, size_t base,
                        char *err, size_t errlen) {
  parser p = {0};
  p.a = a, p.src = src, p.n = n, p.base = base, p.err = err, p.errlen = errlen;
  if (n > EXPR_MAX_SOURCE) {
    snprintf(err, errlen, "expression longer than %d bytes", EXPR_MAX_SOURCE);
    return NULL;
  }
  if (memchr(src, '\0', n)) {
    snprintf(err, errlen, "expression holds a NUL byte");
    return NULL;
  }
  if (lex(&p)) return NULL;
  if (p.tok.k == T_END) {
    snprintf(err, errlen, "expression is empty");
    return NULL;
  }
  enode *e = parse_expr(&p);
  if (!e) return NULL;
  if (p.tok.k != T_END) {
    unexpected(&p);
    return NULL;
  }
  return e;
}

int expr_check(arena *a, const char *src, size_t n, char *err, size_t errlen) {
  return parse_all(a, src, n, 0, err, errlen) ? 0 : -1;
}

static const char *const BUILTINS[] = {
    "now",     "today", "date",     "days",         "hours",
    "minutes", "upper", "lower",    "len",          "round",
    "min",     "max",   "coalesce", "format_money", "contains"};

int expr_is_builtin(const char *name) {
  for (size_t i = 0; i < sizeof BUILTINS / sizeof BUILTINS[0]; i++)
    if (!strcmp(name, BUILTINS[i])) return 1;
  return 0;
}

typedef struct names_walk {
  expr_name_fn fn;
  void *arg;
  size_t base;
} names_walk;

/* Visits the tree; its depth is bounded by the parse's. */
static int visit_names(const names_walk *w, const enode *e) {
  int rc;
  if (e->kind == N_NAME && strcmp(e->name, "now") && strcmp(e->name, "today") &&
      (rc = w->fn(w->arg, e->name, 0, w->base + e->off + 1)))
    return rc;
  if (e->kind == N_CALL && !expr_is_builtin(e->name) &&
      (rc = w->fn(w->arg, e->name, 1, w->base + e->off + 1)))
    return rc;
  for (int i = 0; i < e->nkids; i++)
    if ((rc = visit_names(w, e->kids[i]))) return rc;
  for (int i = 0; i < e->nsteps; i++)
    if (e->steps[i].index && (rc = visit_names(w, e->steps[i].index)))
      return rc;
  return 0;
}

int expr_names(arena *a, const char *src, size_t n, expr_name_fn fn, void *arg,
               char *err, size_t errlen) {
  enode *e = parse_all(a, src, n, 0, err, errlen);
  if (!e) return -1;
  names_walk w = {fn, arg, 0};
  return visit_names(&w, e);
}

/* ---- values -------------------------------------------------------------- */

static const char *type_name(const expr_val *v) {
  switch (v->t) {
    case EV_NULL:
      return "nothing (null)";
    case EV_BOOL:
      return "true/false";
    case EV_NUM:
      return "a number";
    case EV_STR:
      return "text";
    case EV_TIME:
      return "a time";
    case EV_DUR:
      return "a duration";
    case EV_JSON:
      return v->j && v->j->type == JSON_ARRAY ? "a list" : "a record";
  }
  return "a value";
}

int expr_truthy(const expr_val *v) {
  switch (v->t) {
    case EV_NULL:
      return 0;
    case EV_BOOL:
      return v->b != 0;
    case EV_NUM:
      return v->num != 0;
    case EV_STR:
      return v->n != 0;
    case EV_TIME:
      return 1;
    case EV_DUR:
      return v->us != 0;
    case EV_JSON:
      return v->j && v->j->n != 0;
  }
  return 0;
}

typedef struct ectx {
  arena *a;
  const expr_env *env;
  size_t base;
  int steps;
  char *err;
  size_t errlen;
  size_t at; /* the node being evaluated, for the step cap's message */
} ectx;

__attribute__((format(printf, 3, 4))) static int eerr(ectx *c, size_t off,
                                                      const char *fmt, ...) {
  char msg[240];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->errlen, "%s at %zu", msg, c->base + off + 1);
  return -1;
}

static int step(ectx *c, size_t off, int cost) {
  c->steps += cost;
  if (c->steps > EXPR_MAX_STEPS)
    return eerr(c, off, "expression takes too many steps (at most %d)",
                EXPR_MAX_STEPS);
  return 0;
}

/* Work proportional to data (text compared, JSON written) costs a step per
 * kilobyte, so a few nodes over large records stay bounded too. */
static int cost(ectx *c, size_t bytes) {
  return bytes >= 1024 ? step(c, c->at, (int)(bytes / 1024)) : 0;
}

static int tz(const ectx *c) {
  return c->env ? c->env->tz_offset_s : 0;
}

static void set_num(expr_val *v, int64_t num, int scale) {
  memset(v, 0, sizeof *v);
  v->t = EV_NUM;
  v->num = num;
  v->scale = scale;
}
static void set_bool(expr_val *v, int b) {
  memset(v, 0, sizeof *v);
  v->t = EV_BOOL;
  v->b = b != 0;
}
static void set_time(expr_val *v, expr_type t, int64_t us) {
  memset(v, 0, sizeof *v);
  v->t = t;
  v->us = us;
}
static void set_str(expr_val *v, const char *s, size_t n) {
  memset(v, 0, sizeof *v);
  v->t = EV_STR;
  v->s = s;
  v->n = n;
}

/* A string as a time, when it spells one. */
static int str_time(const ectx *c, const expr_val *v, int64_t *us) {
  return v->t == EV_STR ? xtime_parse(v->s, v->n, tz(c), us) : -1;
}
static int str_num(const expr_val *v, int64_t *num, int *scale) {
  return v->t == EV_STR && xnum_parse(v->s, v->n, num, scale) == 0 ? 0 : -1;
}

static int add64(int64_t a, int64_t b, int64_t *r) {
  if ((b > 0 && a > INT64_MAX - b) || (b < 0 && a < INT64_MIN - b)) return -1;
  *r = a + b;
  return 0;
}

/* Orders a and b: 0 with *cmp, 1 when they are of kinds that do not
 * compare, -1 on an error already reported. */
static int order(ectx *c, const expr_val *a, const expr_val *b, int *cmp) {
  int64_t x, y;
  int sx;
  if (a->t == EV_NUM && b->t == EV_NUM) {
    *cmp = xnum_cmp(a->num, a->scale, b->num, b->scale);
    return 0;
  }
  if (a->t == EV_NUM && str_num(b, &x, &sx) == 0) {
    *cmp = xnum_cmp(a->num, a->scale, x, sx);
    return 0;
  }
  if (b->t == EV_NUM && str_num(a, &x, &sx) == 0) {
    *cmp = xnum_cmp(x, sx, b->num, b->scale);
    return 0;
  }
  if ((a->t == EV_TIME && b->t == EV_TIME) ||
      (a->t == EV_DUR && b->t == EV_DUR)) {
    *cmp = a->us < b->us ? -1 : a->us > b->us;
    return 0;
  }
  if (a->t == EV_TIME && str_time(c, b, &y) == 0) {
    *cmp = a->us < y ? -1 : a->us > y;
    return 0;
  }
  if (b->t == EV_TIME && str_time(c, a, &x) == 0) {
    *cmp = x < b->us ? -1 : x > b->us;
    return 0;
  }
  if (a->t == EV_STR && b->t == EV_STR) {
    size_t n = a->n < b->n ? a->n : b->n;
    if (cost(c, n)) return -1;
    int r = n ? memcmp(a->s, b->s, n) : 0;
    if (r == 0) r = a->n < b->n ? -1 : a->n > b->n;
    *cmp = r < 0 ? -1 : r > 0;
    return 0;
  }
  if (a->t == EV_BOOL && b->t == EV_BOOL) {
    *cmp = (a->b != 0) - (b->b != 0);
    return 0;
  }
  return 1;
}

/* Equality: null equals only null; records and lists by their JSON text. */
static int equal(ectx *c, const expr_val *a, const expr_val *b, int *eq) {
  if (a->t == EV_NULL || b->t == EV_NULL) {
    *eq = a->t == b->t;
    return 0;
  }
  if (a->t == EV_JSON && b->t == EV_JSON) {
    const char *x = json_to_text(c->a, a->j), *y = json_to_text(c->a, b->j);
    if (cost(c, strlen(x) + strlen(y))) return -1;
    *eq = strcmp(x, y) == 0;
    return 0;
  }
  int cmp;
  int rc = order(c, a, b, &cmp);
  if (rc == 0) *eq = cmp == 0;
  return rc;
}

/* A value as a JSON node (for list literals). */
static json *val_json(arena *a, const expr_val *v) {
  if (v->t == EV_JSON) return (json *)v->j;
  json *j = arena_alloc(a, sizeof *j);
  buf b;
  switch (v->t) {
    case EV_NULL:
      j->type = JSON_NULL;
      break;
    case EV_BOOL:
      j->type = v->b ? JSON_TRUE : JSON_FALSE;
      break;
    case EV_STR:
      j->type = JSON_STRING;
      j->str = v->s;
      j->len = v->n;
      break;
    case EV_NUM:
    case EV_DUR:
    case EV_TIME:
      buf_init(&b, 64);
      expr_to_json(v, &b);
      if (v->t == EV_TIME) {
        j->type = JSON_STRING; /* without the quotes */
        j->str = b.len >= 2 ? arena_strndup(a, b.data + 1, b.len - 2) : "";
        j->len = b.len >= 2 ? b.len - 2 : 0;
      } else {
        j->type = JSON_NUMBER;
        j->str = arena_strndup(a, buf_cstr(&b), b.len);
        j->len = b.len;
      }
      buf_free(&b);
      break;
    case EV_JSON:
      break;
  }
  return j;
}

static int eval(ectx *c, const enode *e, expr_val *out);

static int from_json_or_err(ectx *c, const json *j, size_t off,
                            const char *what, expr_val *out) {
  if (expr_from_json(j, out))
    return eerr(c, off, "%s holds a number that is not exact to %d decimals",
                what, EXPR_MAX_SCALE);
  return 0;
}

static size_t utf8_len(const char *s, size_t n) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) k++;
  return k;
}

static int member(ectx *c, const expr_val *v, const post_step *st,
                  expr_val *out) {
  if (v->t == EV_NULL) { /* customer.name when there is no customer */
    memset(out, 0, sizeof *out);
    return 0;
  }
  if (v->t == EV_JSON && v->j->type == JSON_OBJECT) {
    const json *m = json_get(v->j, st->name);
    if (!m) {
      memset(out, 0, sizeof *out);
      return 0;
    }
    return from_json_or_err(c, m, st->off, st->name, out);
  }
  if (strcmp(st->name, "length") == 0) {
    if (v->t == EV_JSON) {
      set_num(out, (int64_t)v->j->n, 0);
      return 0;
    }
    if (v->t == EV_STR) {
      if (cost(c, v->n)) return -1;
      set_num(out, (int64_t)utf8_len(v->s, v->n), 0);
      return 0;
    }
  }
  return eerr(c, st->off, "%s has no field '%s'", type_name(v), st->name);
}

static int index_of(ectx *c, const expr_val *v, const expr_val *ix, size_t off,
                    expr_val *out) {
  if (v->t == EV_NULL) {
    memset(out, 0, sizeof *out);
    return 0;
  }
  if (v->t == EV_JSON && v->j->type == JSON_OBJECT && ix->t == EV_STR) {
    char *key = arena_strndup(c->a, ix->s, ix->n);
    const json *m = json_get(v->j, key);
    if (!m) {
      memset(out, 0, sizeof *out);
      return 0;
    }
    return from_json_or_err(c, m, off, "that field", out);
  }
  if (v->t == EV_JSON && v->j->type == JSON_ARRAY) {
    if (ix->t != EV_NUM || ix->scale != 0)
      return eerr(c, off, "a position in a list is a whole number, not %s",
                  type_name(ix));
    int64_t i = ix->num, n = (int64_t)v->j->n;
    if (i < 0) i += n; /* [-1]: the last */
    if (i < 0 || i >= n) {
      memset(out, 0, sizeof *out);
      return 0;
    }
    return from_json_or_err(c, v->j->items[i], off, "that element", out);
  }
  return eerr(c, off, "cannot take [%s] of %s", type_name(ix), type_name(v));
}

static int too_large(ectx *c, size_t off) {
  return eerr(c, off, "number too large");
}

/* Text + anything: the two values as message text, joined. */
static int concat(ectx *c, const expr_val *a, const expr_val *b, size_t off,
                  expr_val *out) {
  buf bb;
  buf_init(&bb, EXPR_MAX_STRING);
  int rc = 0;
  if (expr_format(a, tz(c), &bb) || expr_format(b, tz(c), &bb)) {
    buf_free(&bb);
    return eerr(c, off, "text longer than %d bytes", EXPR_MAX_STRING);
  }
  /* Memory is a budget too: each kilobyte of text built costs a step. */
  if (step(c, off, (int)(bb.len / 1024)))
    rc = -1;
  else
    set_str(out, arena_strndup(c->a, buf_cstr(&bb), bb.len), bb.len);
  buf_free(&bb);
  return rc;
}

static int arith(ectx *c, int op, const expr_val *a, const expr_val *b,
                 size_t off, expr_val *out) {
  int64_t r, x;
  int rs;
  const char *opn = op == T_PLUS    ? "add"
                    : op == T_MINUS ? "subtract"
                    : op == T_STAR  ? "multiply"
                    : op == T_SLASH ? "divide"
                                    : "take the remainder of";
  /* Text that is a decimal is a number next to a number (a webhook's
   * "amount": "500" plus 100 is 600, not "500100"). */
  expr_val na = *a, nb = *b;
  if (na.t == EV_NUM && str_num(&nb, &x, &rs) == 0) set_num(&nb, x, rs);
  if (nb.t == EV_NUM && str_num(&na, &x, &rs) == 0) set_num(&na, x, rs);
  a = &na, b = &nb;
  if (a->t == EV_NUM && b->t == EV_NUM) {
    int rc;
    switch (op) {
      case T_PLUS:
        rc = xnum_add(a->num, a->scale, b->num, b->scale, &r, &rs);
        break;
      case T_MINUS:
        rc = xnum_sub(a->num, a->scale, b->num, b->scale, &r, &rs);
        break;
      case T_STAR:
        rc = xnum_mul(a->num, a->scale, b->num, b->scale, &r, &rs);
        break;
      case T_SLASH:
        if (b->num == 0) return eerr(c, off, "division by zero");
        rs = EXPR_DIV_SCALE;
        rc = xnum_div(a->num, a->scale, b->num, b->scale, rs, &r);
        break;
      default:
        if (b->num == 0) return eerr(c, off, "division by zero");
        rc = xnum_mod(a->num, a->scale, b->num, b->scale, &r, &rs);
        break;
    }
    if (rc) return too_large(c, off);
    set_num(out, r, rs);
    return 0;
  }
  /* Times and durations; text that spells a time counts as one. */
  expr_val ta = *a, tb = *b;
  if (ta.t == EV_STR && (tb.t == EV_TIME || tb.t == EV_DUR) &&
      str_time(c, &ta, &x) == 0)
    set_time(&ta, EV_TIME, x);
  if (tb.t == EV_STR && (ta.t == EV_TIME || (ta.t == EV_DUR && op == T_PLUS)) &&
      str_time(c, &tb, &x) == 0)
    set_time(&tb, EV_TIME, x);
  if (op == T_PLUS && (ta.t == EV_STR || tb.t == EV_STR))
    return concat(c, &ta, &tb, off, out);
  expr_type ka = ta.t, kb = tb.t;
  if ((op == T_PLUS || op == T_MINUS) &&
      ((ka == EV_TIME && kb == EV_DUR) || (ka == EV_DUR && kb == EV_DUR) ||
       (ka == EV_DUR && kb == EV_TIME && op == T_PLUS))) {
    int64_t y = op == T_MINUS ? -tb.us : tb.us;
    if (tb.us == INT64_MIN || add64(ta.us, y, &r))
      return eerr(c, off, "time out of range");
    set_time(out, ka == EV_DUR && kb == EV_DUR ? EV_DUR : EV_TIME, r);
    return 0;
  }
  if (op == T_MINUS && ka == EV_TIME && kb == EV_TIME) {
    if (add64(ta.us, -tb.us, &r)) return eerr(c, off, "time out of range");
    set_time(out, EV_DUR, r);
    return 0;
  }
  if (op == T_STAR &&
      ((ka == EV_DUR && kb == EV_NUM) || (ka == EV_NUM && kb == EV_DUR))) {
    const expr_val *d = ka == EV_DUR ? &ta : &tb, *n = ka == EV_DUR ? &tb : &ta;
    if (xnum_mul(d->us, 0, n->num, n->scale, &r, &rs))
      return eerr(c, off, "duration too long");
    set_time(out, EV_DUR, xnum_round(r, rs, 0));
    return 0;
  }
  if (op == T_SLASH && ka == EV_DUR && (kb == EV_NUM || kb == EV_DUR)) {
    int64_t dn = kb == EV_NUM ? tb.num : tb.us;
    int ds = kb == EV_NUM ? tb.scale : 0;
    if (dn == 0) return eerr(c, off, "division by zero");
    if (kb == EV_NUM) {
      if (xnum_div(ta.us, 0, dn, ds, 0, &r))
        return eerr(c, off, "duration too long");
      set_time(out, EV_DUR, r);
    } else {
      if (xnum_div(ta.us, 0, dn, 0, EXPR_DIV_SCALE, &r))
        return too_large(c, off);
      set_num(out, r, EXPR_DIV_SCALE);
    }
    return 0;
  }
  if ((ka == EV_TIME || kb == EV_TIME) && (ka == EV_NUM || kb == EV_NUM))
    return eerr(c, off,
                "cannot %s a time and a number: use a duration such as 3d or "
                "days(n)",
                opn);
  return eerr(c, off, "cannot %s %s and %s", opn, type_name(a), type_name(b));
}

/* Whether t[0..m) occurs in s[0..n): Knuth-Morris-Pratt, so the time is
 * linear in n + m whatever the text (a naive search of 64 KB of "aaa…"
 * for "aaa…b" would take billions of comparisons). */
static int find_text(arena *a, const char *s, size_t n, const char *t,
                     size_t m) {
  if (m == 0) return 1;
  if (m > n) return 0;
  size_t *fail = arena_alloc(a, m * sizeof *fail);
  fail[0] = 0;
  for (size_t i = 1, k = 0; i < m; i++) {
    while (k > 0 && t[i] != t[k]) k = fail[k - 1];
    if (t[i] == t[k]) k++;
    fail[i] = k;
  }
  for (size_t i = 0, k = 0; i < n; i++) {
    while (k > 0 && s[i] != t[k]) k = fail[k - 1];
    if (s[i] == t[k]) k++;
    if (k == m) return 1;
  }
  return 0;
}

static int in_op(ectx *c, const expr_val *x, const expr_val *set, size_t off,
                 int *found) {
  *found = 0;
  if (set->t == EV_NULL) return 0;
  if (set->t == EV_STR) {
    if (x->t != EV_STR)
      return eerr(c, off, "only text can be looked for in text, not %s",
                  type_name(x));
    if (x->n == 0) {
      *found = 1;
      return 0;
    }
    if (cost(c, set->n + x->n)) return -1;
    *found = find_text(c->a, set->s, set->n, x->s, x->n);
    return 0;
  }
  if (set->t == EV_JSON && set->j->type == JSON_OBJECT) {
    if (x->t != EV_STR)
      return eerr(c, off, "a record's fields are named by text, not %s",
                  type_name(x));
    if (step(c, off, (int)set->j->n / 8)) return -1;
    char *key = arena_strndup(c->a, x->s, x->n);
    *found = json_get(set->j, key) != NULL;
    return 0;
  }
  if (set->t == EV_JSON) {
    for (size_t i = 0; i < set->j->n; i++) {
      if (step(c, off, 1)) return -1;
      expr_val el;
      int eq = 0;
      if (expr_from_json(set->j->items[i], &el)) continue;
      /* Elements of another kind are simply not equal here. */
      int rc = equal(c, x, &el, &eq);
      if (rc < 0) return -1;
      if (rc == 0 && eq) {
        *found = 1;
        break;
      }
    }
    return 0;
  }
  return eerr(c, off,
              "'in' needs a list, a record or text on its right, not %s",
              type_name(set));
}

static int compare(ectx *c, const enode *e, expr_val *out) {
  expr_val a, b;
  if (eval(c, e->kids[0], &a) || eval(c, e->kids[1], &b)) return -1;
  int op = e->ops[0], r;
  if (op == T_IN) {
    if (in_op(c, &a, &b, e->off, &r)) return -1;
    set_bool(out, e->v.b ? !r : r);
    return 0;
  }
  if (op == T_EQ || op == T_NE) {
    int rc = equal(c, &a, &b, &r);
    if (rc == 1) {
      /* Lists and records differ from everything but their own kind. */
      if (a.t == EV_JSON || b.t == EV_JSON)
        r = 0;
      else
        return eerr(c, e->off, "cannot compare %s with %s", type_name(&a),
                    type_name(&b));
    } else if (rc) {
      return -1;
    }
    set_bool(out, op == T_EQ ? r : !r);
    return 0;
  }
  int rc = order(c, &a, &b, &r);
  if (rc < 0) return -1;
  if (rc || a.t == EV_BOOL) {
    if (a.t == EV_NULL || b.t == EV_NULL)
      return eerr(c, e->off,
                  "cannot compare %s with %s (a value is missing: "
                  "coalesce(x, 0) gives a default)",
                  type_name(&a), type_name(&b));
    if (a.t == EV_STR && b.t == EV_TIME)
      return eerr(c, e->off, "'%.*s' is not a date or time",
                  (int)(a.n > 40 ? 40 : a.n), a.s);
    if (b.t == EV_STR && a.t == EV_TIME)
      return eerr(c, e->off, "'%.*s' is not a date or time",
                  (int)(b.n > 40 ? 40 : b.n), b.s);
    return eerr(c, e->off, "cannot compare %s with %s", type_name(&a),
                type_name(&b));
  }
  switch (op) {
    case T_LT:
      set_bool(out, r < 0);
      break;
    case T_LE:
      set_bool(out, r <= 0);
      break;
    case T_GT:
      set_bool(out, r > 0);
      break;
    default:
      set_bool(out, r >= 0);
      break;
  }
  return 0;
}

/* ---- builtins ------------------------------------------------------------ */

static int want_args(ectx *c, const enode *e, int lo, int hi) {
  if (e->nkids < lo || e->nkids > hi) {
    if (lo == hi)
      return eerr(c, e->off, "%s() takes %d argument%s, not %d", e->name, lo,
                  lo == 1 ? "" : "s", e->nkids);
    return eerr(c, e->off, "%s() takes %d to %d arguments, not %d", e->name, lo,
                hi, e->nkids);
  }
  return 0;
}

static int want_num(ectx *c, const enode *e, const expr_val *v, int64_t *num,
                    int *scale) {
  if (v->t == EV_NUM) {
    *num = v->num, *scale = v->scale;
    return 0;
  }
  if (str_num(v, num, scale) == 0) return 0;
  return eerr(c, e->off, "%s() needs a number, not %s", e->name, type_name(v));
}

static int fmt_money(ectx *c, const enode *e, const expr_val *v,
                     expr_val *out) {
  int64_t num;
  int scale;
  if (want_num(c, e, v, &num, &scale)) return -1;
  int64_t p;
  if (scale <= 2) {
    if (xnum_rescale(num, scale, 2, &p)) return too_large(c, e->off);
  } else {
    p = xnum_round(num, scale, 2);
  }
  uint64_t m = p < 0 ? 0 - (uint64_t)p : (uint64_t)p;
  char digits[24];
  int nd =
      snprintf(digits, sizeof digits, "%llu", (unsigned long long)(m / 100));
  char res[48];
  size_t k = 0;
  if (p < 0) res[k++] = '-';
  /* Indian grouping: the last three digits, then pairs: 12,34,567. */
  for (int i = 0; i < nd; i++) {
    int left = nd - i;
    if (i > 0 && (left == 3 || (left > 3 && (left - 3) % 2 == 0)))
      res[k++] = ',';
    res[k++] = digits[i];
  }
  k += (size_t)snprintf(res + k, sizeof res - k, ".%02u", (unsigned)(m % 100));
  set_str(out, arena_strndup(c->a, res, k), k);
  return 0;
}

static int case_map(ectx *c, const enode *e, const expr_val *v, int up,
                    expr_val *out) {
  if (v->t == EV_NULL) {
    set_str(out, "", 0);
    return 0;
  }
  if (v->t != EV_STR)
    return eerr(c, e->off, "%s() needs text, not %s", e->name, type_name(v));
  if (step(c, e->off, (int)(v->n / 1024))) return -1;
  char *d = arena_alloc(c->a, v->n + 1);
  for (size_t i = 0; i < v->n; i++) {
    char ch = v->s[i];
    if (up && ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (!up && ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
    d[i] = ch;
  }
  set_str(out, d, v->n);
  return 0;
}

/* 0 done, 1 not a builtin, -1 error. */
static int builtin(ectx *c, const enode *e, const expr_val *av, expr_val *out) {
  const char *f = e->name;
  int64_t num, t;
  int scale;
  if (!strcmp(f, "now") || !strcmp(f, "today")) {
    if (want_args(c, e, 0, 0)) return -1;
    int64_t now = c->env ? c->env->now_us : 0;
    set_time(out, EV_TIME, f[0] == 'n' ? now : xtime_day_start(now, tz(c)));
    return 0;
  }
  if (!strcmp(f, "date")) {
    if (want_args(c, e, 1, 1)) return -1;
    if (av[0].t == EV_TIME)
      t = av[0].us;
    else if (str_time(c, &av[0], &t))
      return eerr(c, e->off, "date() needs a date like '2026-12-01', not %s",
                  type_name(&av[0]));
    set_time(out, EV_TIME, xtime_day_start(t, tz(c)));
    return 0;
  }
  if (!strcmp(f, "days") || !strcmp(f, "hours") || !strcmp(f, "minutes")) {
    if (want_args(c, e, 1, 1) || want_num(c, e, &av[0], &num, &scale))
      return -1;
    int64_t unit = f[0] == 'd' ? 86400 : f[0] == 'h' ? 3600 : 60;
    int64_t r;
    int rs;
    if (xnum_mul(num, scale, unit * EXPR_US_PER_SEC, 0, &r, &rs))
      return eerr(c, e->off, "duration too long");
    set_time(out, EV_DUR, xnum_round(r, rs, 0));
    return 0;
  }
  if (!strcmp(f, "upper") || !strcmp(f, "lower")) {
    if (want_args(c, e, 1, 1)) return -1;
    return case_map(c, e, &av[0], f[0] == 'u', out);
  }
  if (!strcmp(f, "len")) {
    if (want_args(c, e, 1, 1)) return -1;
    if (av[0].t == EV_STR && cost(c, av[0].n)) return -1;
    if (av[0].t == EV_STR)
      set_num(out, (int64_t)utf8_len(av[0].s, av[0].n), 0);
    else if (av[0].t == EV_JSON)
      set_num(out, (int64_t)av[0].j->n, 0);
    else if (av[0].t == EV_NULL)
      set_num(out, 0, 0);
    else
      return eerr(c, e->off, "len() needs text or a list, not %s",
                  type_name(&av[0]));
    return 0;
  }
  if (!strcmp(f, "round")) {
    if (want_args(c, e, 1, 2) || want_num(c, e, &av[0], &num, &scale))
      return -1;
    int64_t places = 0;
    if (e->nkids == 2) {
      if (av[1].t != EV_NUM || av[1].scale != 0 || av[1].num < 0 ||
          av[1].num > EXPR_MAX_SCALE)
        return eerr(c, e->off, "round()'s places are a whole number 0 to %d",
                    EXPR_MAX_SCALE);
      places = av[1].num;
    }
    int64_t r;
    if (scale >= places)
      r = xnum_round(num, scale, (int)places);
    else if (xnum_rescale(num, scale, (int)places, &r))
      return too_large(c, e->off);
    set_num(out, r, (int)places);
    return 0;
  }
  if (!strcmp(f, "min") || !strcmp(f, "max")) {
    if (want_args(c, e, 1, EXPR_MAX_ARGS)) return -1;
    int best = 0, mx = f[1] == 'a';
    for (int i = 1; i < e->nkids; i++) {
      int cmp, rc = order(c, &av[i], &av[best], &cmp);
      if (rc < 0) return -1;
      if (rc || av[i].t == EV_BOOL)
        return eerr(c, e->off, "%s() cannot compare %s with %s", f,
                    type_name(&av[i]), type_name(&av[best]));
      if (mx ? cmp > 0 : cmp < 0) best = i;
    }
    *out = av[best];
    return 0;
  }
  if (!strcmp(f, "coalesce")) {
    if (want_args(c, e, 1, EXPR_MAX_ARGS)) return -1;
    memset(out, 0, sizeof *out);
    for (int i = 0; i < e->nkids; i++)
      if (av[i].t != EV_NULL) {
        *out = av[i];
        break;
      }
    return 0;
  }
  if (!strcmp(f, "format_money")) {
    if (want_args(c, e, 1, 1)) return -1;
    return fmt_money(c, e, &av[0], out);
  }
  if (!strcmp(f, "contains")) {
    if (want_args(c, e, 2, 2)) return -1;
    int found;
    if (av[0].t != EV_STR && av[0].t != EV_JSON && av[0].t != EV_NULL)
      return eerr(c, e->off, "contains() looks in text or a list, not %s",
                  type_name(&av[0]));
    if (in_op(c, &av[1], &av[0], e->off, &found)) return -1;
    set_bool(out, found);
    return 0;
  }
  return 1;
}

/* A value from the environment, checked before it is used: text has a
 * pointer (even when empty) and a length within the cap, a number a scale
 * the arithmetic knows, JSON a node. */
static int sane(ectx *c, size_t off, expr_val *v) {
  if (v->t == EV_STR && !v->s) v->s = "", v->n = 0;
  if (v->t == EV_STR && v->n > EXPR_MAX_STRING)
    return eerr(c, off, "text longer than %d bytes", EXPR_MAX_STRING);
  if (v->t == EV_NUM && (v->scale < 0 || v->scale > EXPR_MAX_SCALE))
    return eerr(c, off, "a number with more than %d decimals", EXPR_MAX_SCALE);
  if (v->t == EV_JSON && !v->j) v->t = EV_NULL;
  if ((unsigned)v->t > (unsigned)EV_JSON)
    return eerr(c, off, "internal error: unknown value");
  return 0;
}

static int call(ectx *c, const enode *e, expr_val *out) {
  expr_val av[EXPR_MAX_ARGS];
  for (int i = 0; i < e->nkids; i++)
    if (eval(c, e->kids[i], &av[i])) return -1;
  int rc = builtin(c, e, av, out);
  if (rc <= 0) return rc;
  if (c->env && c->env->call) {
    char msg[200] = "";
    rc = c->env->call(c->env->arg, c->a, e->name, av, e->nkids, out, msg,
                      sizeof msg);
    if (rc == 0) return sane(c, e->off, out);
    if (rc < 0) return eerr(c, e->off, "%s", msg[0] ? msg : "function failed");
  }
  return eerr(c, e->off, "unknown function '%s'", e->name);
}

static int eval(ectx *c, const enode *e, expr_val *out) {
  c->at = e->off;
  if (step(c, e->off, 1)) return -1;
  switch (e->kind) {
    case N_LIT:
      *out = e->v;
      return 0;
    case N_NAME: {
      int rc = 1;
      char msg[200] = "";
      if (c->env && c->env->lookup)
        rc = c->env->lookup(c->env->arg, c->a, e->name, out, msg, sizeof msg);
      if (rc == 0) return sane(c, e->off, out);
      if (rc < 0) return eerr(c, e->off, "%s", msg[0] ? msg : "lookup failed");
      if (!strcmp(e->name, "now") || !strcmp(e->name, "today")) {
        enode f = *e;
        f.nkids = 0;
        return builtin(c, &f, NULL, out);
      }
      return eerr(c, e->off, "unknown name '%s'", e->name);
    }
    case N_CALL:
      return call(c, e, out);
    case N_LIST: {
      json *j = arena_alloc(c->a, sizeof *j);
      j->type = JSON_ARRAY;
      j->n = (size_t)e->nkids;
      j->items = arena_alloc(
          c->a, (size_t)(e->nkids ? e->nkids : 1) * sizeof *j->items);
      for (int i = 0; i < e->nkids; i++) {
        expr_val v;
        if (eval(c, e->kids[i], &v)) return -1;
        j->items[i] = val_json(c->a, &v);
      }
      memset(out, 0, sizeof *out);
      out->t = EV_JSON;
      out->j = j;
      return 0;
    }
    case N_POST: {
      expr_val v;
      if (eval(c, e->kids[0], &v)) return -1;
      for (int i = 0; i < e->nsteps; i++) {
        const post_step *st = &e->steps[i];
        expr_val nv;
        if (step(c, st->off, 1)) return -1;
        if (st->name) {
          if (member(c, &v, st, &nv)) return -1;
        } else {
          expr_val ix;
          if (eval(c, st->index, &ix) || index_of(c, &v, &ix, st->off, &nv))
            return -1;
        }
        v = nv;
      }
      *out = v;
      return 0;
    }
    case N_NEG: {
      expr_val v;
      if (eval(c, e->kids[0], &v)) return -1;
      if (v.t == EV_NUM) {
        if (v.num == INT64_MIN) return too_large(c, e->off);
        v.num = -v.num;
      } else if (v.t == EV_DUR) {
        if (v.us == INT64_MIN) return eerr(c, e->off, "duration too long");
        v.us = -v.us;
      } else {
        return eerr(c, e->off, "cannot negate %s", type_name(&v));
      }
      *out = v;
      return 0;
    }
    case N_NOT: {
      expr_val v;
      if (eval(c, e->kids[0], &v)) return -1;
      set_bool(out, !expr_truthy(&v));
      return 0;
    }
    case N_CMP:
      return compare(c, e, out);
    case N_ARITH: {
      expr_val acc;
      if (eval(c, e->kids[0], &acc)) return -1;
      for (int i = 1; i < e->nkids; i++) {
        expr_val r, nv;
        if (eval(c, e->kids[i], &r)) return -1;
        int op = e->ops[i] & 0xff;
        size_t off = (size_t)(e->ops[i] >> 8);
        if (arith(c, op, &acc, &r, off, &nv)) return -1;
        acc = nv;
      }
      *out = acc;
      return 0;
    }
    case N_AND:
    case N_OR: {
      int want = e->kind == N_OR; /* the value that ends the chain early */
      for (int i = 0; i < e->nkids; i++) {
        expr_val v;
        if (eval(c, e->kids[i], &v)) return -1;
        if (expr_truthy(&v) == want) {
          set_bool(out, want);
          return 0;
        }
      }
      set_bool(out, !want);
      return 0;
    }
  }
  return eerr(c, e->off, "internal error: unknown node");
}

static int eval_at(arena *a, const char *src, size_t n, size_t base,
                   const expr_env *env, expr_val *out, char *err,
                   size_t errlen) {
  memset(out, 0, sizeof *out);
  enode *e = parse_all(a, src, n, base, err, errlen);
  if (!e) return -1;
  ectx c = {a, env, base, 0, err, errlen, 0};
  if (eval(&c, e, out)) {
    memset(out, 0, sizeof *out);
    return -1;
  }
  return 0;
}

int expr_eval(arena *a, const char *src, size_t n, const expr_env *env,
              expr_val *out, char *err, size_t errlen) {
  return eval_at(a, src, n, 0, env, out, err, errlen);
}

/* ---- templates ----------------------------------------------------------- */

/* The end of the hole whose content starts at i: the offset of its "}}",
 * skipping quoted text so `{{ '}}' }}` works; or n when unterminated. */
static size_t hole_end(const char *t, size_t i, size_t n) {
  while (i < n) {
    char ch = t[i];
    if (ch == '\'' || ch == '"') {
      i++;
      while (i < n && t[i] != ch) i += t[i] == '\\' ? 2 : 1;
      if (i >= n) return n;
      i++;
      continue;
    }
    if (ch == '}' && i + 1 < n && t[i + 1] == '}') return i;
    i++;
  }
  return n;
}

/* Walks the template: for each hole, parse-only (check: env and out
 * unused) or evaluate and append. The output may grow by at most
 * EXPR_MAX_RENDER bytes (or the caller's own cap, if smaller), so a
 * template of many holes over large records stays bounded. */
static int walk(arena *a, const char *tmpl, size_t n, const expr_env *env,
                buf *out, int check, const names_walk *names, char *err,
                size_t errlen) {
  if (n > EXPR_MAX_STRING) {
    snprintf(err, errlen, "template longer than %d bytes", EXPR_MAX_STRING);
    return -1;
  }
  size_t saved_max = 0;
  if (!check) {
    saved_max = out->max;
    size_t lim = out->len + EXPR_MAX_RENDER;
    if (!out->max || out->max > lim) out->max = lim;
  }
  int rc = 0;
  size_t i = 0;
  while (i < n) {
    const char *open = NULL;
    for (size_t k = i; k + 1 < n; k++)
      if (tmpl[k] == '{' && tmpl[k + 1] == '{') {
        open = tmpl + k;
        break;
      }
    size_t lit_end = open ? (size_t)(open - tmpl) : n;
    if (!check && lit_end > i && buf_append(out, tmpl + i, lit_end - i)) {
      snprintf(err, errlen, "message text too long");
      rc = -1;
      goto out;
    }
    if (!open) break;
    size_t start = lit_end + 2;
    size_t end = hole_end(tmpl, start, n);
    if (end >= n) {
      snprintf(err, errlen, "'{{' at %zu is not closed with '}}'", lit_end + 1);
      rc = -1;
      goto out;
    }
    char msg[256];
    if (check) {
      enode *e =
          parse_all(a, tmpl + start, end - start, start, msg, sizeof msg);
      rc = e ? 0 : -1;
      if (e && names) {
        names_walk w = *names;
        w.base = start;
        if ((rc = visit_names(&w, e))) goto out;
      }
    } else {
      expr_val v;
      rc = eval_at(a, tmpl + start, end - start, start, env, &v, msg,
                   sizeof msg);
      if (rc == 0 && expr_format(&v, env ? env->tz_offset_s : 0, out)) {
        snprintf(err, errlen, "message text too long");
        rc = -1;
        goto out;
      }
    }
    if (rc) {
      size_t hn = end - start;
      const char *h = tmpl + start;
      while (hn && (*h == ' ')) h++, hn--;
      while (hn && h[hn - 1] == ' ') hn--;
      snprintf(err, errlen, "in {{ %.*s%s }}: %s", (int)(hn > 40 ? 40 : hn), h,
               hn > 40 ? "…" : "", msg);
      goto out;
    }
    i = end + 2;
  }
out:
  if (!check) out->max = saved_max;
  return rc;
}

int expr_render(arena *a, const char *tmpl, size_t n, const expr_env *env,
                buf *out, char *err, size_t errlen) {
  return walk(a, tmpl, n, env, out, 0, NULL, err, errlen);
}

int expr_template_check(arena *a, const char *tmpl, size_t n, char *err,
                        size_t errlen) {
  return walk(a, tmpl, n, NULL, NULL, 1, NULL, err, errlen);
}

int expr_template_names(arena *a, const char *tmpl, size_t n, expr_name_fn fn,
                        void *arg, char *err, size_t errlen) {
  names_walk w = {fn, arg, 0};
  return walk(a, tmpl, n, NULL, NULL, 1, &w, err, errlen);
}
