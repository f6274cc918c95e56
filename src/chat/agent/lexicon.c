/* lexicon.c - product names and their synonyms (see lexicon.h).
 *
 * The dictionary below holds the kirana shop's staples as people name them
 * on WhatsApp in the three scripts. A group joins a product when one of
 * its phrases is in the product's name, so the books decide which products
 * exist and the dictionary only adds ways to call them. */
#include "chat/agent/lexicon.h"

#include <string.h>

#include "chat/agent/qty.h"

#define ALIAS_WORDS 4

/* Synonym groups: each row ends with NULL. */
static const char *const groups[][14] = {
    {"atta", "aata", "aatta", "wheat flour", "gehun ka atta", "gehu ka atta",
     "gehun atta", "chakki atta", "आटा", "गेहूं का आटा", "गेहूँ का आटा", "गेहूं आटा",
     NULL},
    {"rice", "chawal", "chaawal", "chaval", "chawel", "चावल", "basmati",
     "बासमती", NULL},
    {"oil", "tel", "तेल", "cooking oil", "refined oil", NULL},
    {"sugar", "cheeni", "chini", "shakkar", "चीनी", "शक्कर", NULL},
    {"salt", "namak", "नमक", NULL},
    {"dal", "daal", "dhal", "lentil", "lentils", "दाल", NULL},
    {"tea", "chai", "chai patti", "चाय", "चायपत्ती", "चाय पत्ती", NULL},
    {"milk", "doodh", "dudh", "दूध", NULL},
    {"ghee", "ghi", "घी", NULL},
    {"besan", "gram flour", "बेसन", NULL},
    {"maida", "refined flour", "मैदा", NULL},
    {"soap", "sabun", "साबुन", NULL},
    {"biscuit", "biscuits", "बिस्कुट", NULL},
    {"mustard", "sarson", "sarso", "सरसों", NULL},
    {"poha", "chura", "पोहा", NULL},
    {"suji", "sooji", "rava", "semolina", "सूजी", NULL},
};
#define N_GROUPS (sizeof groups / sizeof groups[0])

/* Words of product names that do not tell products apart. */
static const char *const dull_words[] = {
    "of",   "and", "the",  "with",   "pure",  "fresh", "premium", "special",
    "best", "new", "pack", "packet", "pouch", "bag",   "box",     "loose",
    "ka",   "ki",  "ke",   "का",     "की",    "के",     NULL};

/* Words of messages that are everyday words or the rules' keywords: they
 * name a product only when they equal one of its words, never by a typo
 * ("rate" is not "date"). */
static const char *const common_words[] = {
    "rate",     "rates",   "price",     "prices", "stock",  "order",
    "orders",   "bill",    "pay",       "track",  "send",   "sent",
    "bhejo",    "bhej",    "hai",       "kya",    "what",   "have",
    "need",     "want",    "with",      "more",   "some",   "much",
    "many",     "today",   "total",     "dena",   "dedo",   "kitna",
    "kitne",    "kitni",   "chahiye",   "please", "thanks", "hello",
    "namaste",  "cancel",  "confirm",   "haan",   "nahi",   "balance",
    "hisaab",   "hisab",   "baki",      "baaki",  "where",  "when",
    "delivery", "invoice", "help",      "human",  "remind", "sales",
    "bikri",    "debtors", "available", "milega", "dijiye", "batao",
    "there",    "this",    "that",      NULL};

static int in_null_list(const char *w, const char *const *list) {
  for (int i = 0; list[i]; i++)
    if (!strcmp(w, list[i])) return 1;
  return 0;
}

typedef struct alias {
  const char *w[ALIAS_WORDS];
  int nw;
  int full; /* the product's whole name */
} alias;

typedef struct prod {
  alias *al;
  int n, cap;
} prod;

struct agent_catalog {
  prod *p;
  int n;
};

static void add_alias(arena *a, prod *p, const char *const *w, int nw,
                      int full) {
  if (nw < 1 || nw > ALIAS_WORDS) return;
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 8;
    alias *na = arena_alloc(a, sizeof *na * (size_t)cap);
    if (p->n) memcpy(na, p->al, sizeof *na * (size_t)p->n);
    p->al = na;
    p->cap = cap;
  }
  alias *x = &p->al[p->n++];
  memset(x, 0, sizeof *x);
  for (int i = 0; i < nw; i++) x->w[i] = arena_strdup(a, w[i]);
  x->nw = nw;
  x->full = full;
}

/* Adds a phrase (space-separated, folded already) as an alias. */
static void add_phrase(arena *a, prod *p, const char *phrase) {
  agent_tokens *tk = arena_alloc(a, sizeof *tk);
  if (agent_tokenize(phrase, strlen(phrase), tk) || tk->n > ALIAS_WORDS) return;
  const char *w[ALIAS_WORDS];
  for (int i = 0; i < tk->n; i++) w[i] = tk->t[i].s;
  add_alias(a, p, w, tk->n, 0);
}

agent_catalog *agent_catalog_new(arena *a, const char *const *names, int n) {
  agent_catalog *c = arena_alloc(a, sizeof *c);
  c->n = n > 0 ? n : 0;
  c->p = arena_alloc(a, sizeof *c->p * (size_t)(c->n ? c->n : 1));
  /* One scratch token list, reused for every name. */
  agent_tokens *tk = arena_alloc(a, sizeof *tk);
  for (int i = 0; i < c->n; i++) {
    prod *p = &c->p[i];
    if (!names[i] || agent_tokenize(names[i], strlen(names[i]), tk)) continue;
    const char *words[AGENT_TOKENS_MAX];
    int nw = 0;
    for (int k = 0; k < tk->n; k++) {
      const char *w = tk->t[k].s;
      if (tk->t[k].is_num || agent_unit_of(w, NULL)) continue;
      words[nw++] = w;
    }
    add_alias(a, p, words, nw, 1);
    for (int k = 0; k < nw; k++)
      if (agent_utf8_len(words[k]) >= 3 && !in_null_list(words[k], dull_words))
        add_alias(a, p, &words[k], 1, 0);
    for (size_t g = 0; g < N_GROUPS; g++) {
      int hit = 0;
      for (int k = 0; groups[g][k] && !hit; k++)
        hit = agent_has_phrase(tk, groups[g][k], 0, NULL);
      if (!hit) continue;
      for (int k = 0; groups[g][k]; k++) add_phrase(a, p, groups[g][k]);
    }
  }
  return c;
}

int agent_catalog_size(const agent_catalog *c) {
  return c ? c->n : 0;
}

/* Score of alias x at tk[i...], 0 when it does not match there. */
static int alias_score(const alias *x, const agent_tokens *tk, int i) {
  if (i + x->nw > tk->n) return 0;
  int sum = 0;
  for (int j = 0; j < x->nw; j++) {
    const agent_token *t = &tk->t[i + j];
    if (t->is_num) return 0;
    int m = agent_word_match(t->s, x->w[j]);
    if (m && m < 3 && in_null_list(t->s, common_words)) m = 0;
    if (!m) return 0;
    sum += m;
  }
  /* More words first, then closer words, then the product's full name. */
  return x->nw * 100 + sum * 10 + (x->full ? 5 : 0);
}

int agent_find_products(const agent_catalog *c, const agent_tokens *tk,
                        agent_mention *out, int max) {
  int n = 0;
  if (!c) return 0;
  for (int i = 0; i < tk->n && n < max;) {
    const agent_token *t = &tk->t[i];
    if (t->is_num || agent_unit_of(t->s, NULL)) {
      i++;
      continue;
    }
    int best = 0, bp = -1, bw = 0;
    for (int p = 0; p < c->n; p++)
      for (int k = 0; k < c->p[p].n; k++) {
        int s = alias_score(&c->p[p].al[k], tk, i);
        if (s > best) {
          best = s;
          bp = p;
          bw = c->p[p].al[k].nw;
        }
      }
    if (bp < 0) {
      i++;
      continue;
    }
    out[n++] = (agent_mention){bp, i, i + bw, best};
    i += bw;
  }
  return n;
}

int agent_catalog_lookup(const agent_catalog *c, const char *name) {
  agent_tokens tk;
  agent_mention m[1];
  if (!c || !name || agent_tokenize(name, strlen(name), &tk)) return -1;
  return agent_find_products(c, &tk, m, 1) == 1 ? m[0].product : -1;
}
