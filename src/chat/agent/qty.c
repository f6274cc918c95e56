/* qty.c - numbers, units and order lines (see qty.h).
 *
 * People write the quantity before the product ("2 kg atta", "दो किलो
 * चावल") or after it ("atta 2 kg"). Taking the nearest number on either
 * side would give "atta 2 kg rice 3 kg" to the wrong products, so the
 * message's first product decides the style: a number before it means
 * every product's number comes before it, and the other side is only a
 * fallback. Hindi number words count only next to a unit or a product,
 * because "do" is also the verb in "bhej do". */
#include "chat/agent/qty.h"

#include <string.h>

#define QTY_MAX 1000000000000LL /* thousandths: a billion units */

static const struct {
  const char *w;
  agent_unit u;
} units[] = {
    {"kg", AGENT_UNIT_KG},         {"kgs", AGENT_UNIT_KG},
    {"kilo", AGENT_UNIT_KG},       {"kilos", AGENT_UNIT_KG},
    {"kilogram", AGENT_UNIT_KG},   {"kilograms", AGENT_UNIT_KG},
    {"किलो", AGENT_UNIT_KG},       {"केजी", AGENT_UNIT_KG},
    {"g", AGENT_UNIT_G},           {"gm", AGENT_UNIT_G},
    {"gms", AGENT_UNIT_G},         {"gram", AGENT_UNIT_G},
    {"grams", AGENT_UNIT_G},       {"gramme", AGENT_UNIT_G},
    {"ग्राम", AGENT_UNIT_G},        {"l", AGENT_UNIT_L},
    {"ltr", AGENT_UNIT_L},         {"ltrs", AGENT_UNIT_L},
    {"litre", AGENT_UNIT_L},       {"litres", AGENT_UNIT_L},
    {"liter", AGENT_UNIT_L},       {"liters", AGENT_UNIT_L},
    {"लीटर", AGENT_UNIT_L},        {"लिटर", AGENT_UNIT_L},
    {"ml", AGENT_UNIT_ML},         {"मिली", AGENT_UNIT_ML},
    {"pc", AGENT_UNIT_PIECE},      {"pcs", AGENT_UNIT_PIECE},
    {"piece", AGENT_UNIT_PIECE},   {"pieces", AGENT_UNIT_PIECE},
    {"nag", AGENT_UNIT_PIECE},     {"नग", AGENT_UNIT_PIECE},
    {"bag", AGENT_UNIT_PIECE},     {"bags", AGENT_UNIT_PIECE},
    {"bori", AGENT_UNIT_PIECE},    {"boriya", AGENT_UNIT_PIECE},
    {"बोरी", AGENT_UNIT_PIECE},    {"बैग", AGENT_UNIT_PIECE},
    {"packet", AGENT_UNIT_PIECE},  {"packets", AGENT_UNIT_PIECE},
    {"pkt", AGENT_UNIT_PIECE},     {"pkts", AGENT_UNIT_PIECE},
    {"pack", AGENT_UNIT_PIECE},    {"packs", AGENT_UNIT_PIECE},
    {"पैकेट", AGENT_UNIT_PIECE},     {"box", AGENT_UNIT_PIECE},
    {"boxes", AGENT_UNIT_PIECE},   {"bottle", AGENT_UNIT_PIECE},
    {"bottles", AGENT_UNIT_PIECE}, {"बोतल", AGENT_UNIT_PIECE},
    {"dabba", AGENT_UNIT_PIECE},   {"डिब्बा", AGENT_UNIT_PIECE},
    {"unit", AGENT_UNIT_PIECE},    {"units", AGENT_UNIT_PIECE},
    {"nos", AGENT_UNIT_PIECE},     {"dozen", AGENT_UNIT_DOZEN},
    {"dozens", AGENT_UNIT_DOZEN},  {"darjan", AGENT_UNIT_DOZEN},
    {"दर्जन", AGENT_UNIT_DOZEN},
};

agent_unit agent_unit_of(const char *word, const char **canon) {
  static const char *const names[] = {"", "kg", "g", "l", "ml", "pcs", "dozen"};
  for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
    if (!strcmp(word, units[i].w)) {
      if (canon) *canon = names[units[i].u];
      return units[i].u;
    }
  return AGENT_UNIT_NONE;
}

static const struct {
  const char *w;
  int64_t v;
} number_words[] = {
    {"ek", 1000},       {"do", 2000},     {"teen", 3000},  {"char", 4000},
    {"chaar", 4000},    {"paanch", 5000}, {"panch", 5000}, {"chhe", 6000},
    {"chah", 6000},     {"saat", 7000},   {"aath", 8000},  {"nau", 9000},
    {"das", 10000},     {"one", 1000},    {"two", 2000},   {"three", 3000},
    {"four", 4000},     {"five", 5000},   {"six", 6000},   {"seven", 7000},
    {"eight", 8000},    {"nine", 9000},   {"ten", 10000},  {"half", 500},
    {"aadha", 500},     {"adha", 500},    {"dedh", 1500},  {"derh", 1500},
    {"dhai", 2500},     {"dhaai", 2500},  {"एक", 1000},    {"दो", 2000},
    {"तीन", 3000},      {"चार", 4000},    {"पांच", 5000},   {"पाँच", 5000},
    {"छह", 6000},       {"छः", 6000},     {"सात", 7000},   {"आठ", 8000},
    {"नौ", 9000},       {"दस", 10000},    {"आधा", 500},    {"डेढ़", 1500},
    {"डेढ\u093c", 1500}, {"ढाई", 2500},
};

int64_t agent_number_word(const char *word) {
  for (size_t i = 0; i < sizeof number_words / sizeof number_words[0]; i++)
    if (!strcmp(word, number_words[i].w)) return number_words[i].v;
  return 0;
}

static agent_unit product_unit_kind(const char *pu) {
  if (!pu || !*pu) return AGENT_UNIT_PIECE;
  agent_unit u = agent_unit_of(pu, NULL);
  if (u == AGENT_UNIT_NONE) {
    /* products.unit is free text: "Kg", "KG", "Litre" are folded here
     * by their ASCII letters. */
    char low[24];
    size_t i = 0;
    for (; pu[i] && i + 1 < sizeof low; i++)
      low[i] = (pu[i] >= 'A' && pu[i] <= 'Z') ? (char)(pu[i] + 32) : pu[i];
    low[i] = '\0';
    u = agent_unit_of(low, NULL);
  }
  return u == AGENT_UNIT_NONE || u == AGENT_UNIT_DOZEN ? AGENT_UNIT_PIECE : u;
}

int agent_qty_convert(int64_t n, agent_unit said, const char *product_unit,
                      int64_t *out) {
  if (n <= 0 || n > QTY_MAX) return -1;
  agent_unit pu = product_unit_kind(product_unit);
  int64_t v = n;
  if (said == AGENT_UNIT_DOZEN) {
    v = n * 12; /* n <= 10^12: no overflow */
    said = AGENT_UNIT_PIECE;
  }
  if (said == AGENT_UNIT_NONE || said == pu) {
    /* the product's own unit */
  } else if ((said == AGENT_UNIT_KG && pu == AGENT_UNIT_G) ||
             (said == AGENT_UNIT_L && pu == AGENT_UNIT_ML)) {
    v = n * 1000;
  } else if ((said == AGENT_UNIT_G && pu == AGENT_UNIT_KG) ||
             (said == AGENT_UNIT_ML && pu == AGENT_UNIT_L)) {
    if (n % 1000) return -1; /* finer than a thousandth of the unit */
    v = n / 1000;
  } else if (said == AGENT_UNIT_PIECE) {
    /* "2 bags of rice" of rice sold by the kg: the bag's size is not in
     * the books, so the count is taken in the product's own unit. */
  } else {
    return -1; /* litres of atta */
  }
  if (v <= 0 || v > QTY_MAX) return -1;
  *out = v;
  return 0;
}

static int filler(const char *w) {
  static const char *const f[] = {"of", "ka", "ki",   "ke",   "x",  "का",
                                  "की", "के",  "wala", "wali", "se", NULL};
  for (int i = 0; f[i]; i++)
    if (!strcmp(w, f[i])) return 1;
  return 0;
}

/* The number at tk[j] that may be used (digits, or a number word), or 0. */
static int64_t number_at(const agent_tokens *tk, int j, const int *used) {
  if (j < 0 || j >= tk->n || used[j]) return 0;
  if (tk->t[j].is_num) return tk->t[j].num;
  return agent_number_word(tk->t[j].s);
}

/* Looks before tokens [start..): "[num] [unit] [fillers] product". */
static int look_back(const agent_tokens *tk, int start, const int *used,
                     int *num_at, agent_unit *unit) {
  int j = start - 1;
  *unit = AGENT_UNIT_NONE;
  while (j >= 0 && filler(tk->t[j].s) && !tk->t[j].is_num) j--;
  if (j >= 0 && !tk->t[j].is_num) {
    agent_unit u = agent_unit_of(tk->t[j].s, NULL);
    if (u != AGENT_UNIT_NONE) {
      *unit = u;
      j--;
    }
  }
  if (number_at(tk, j, used) > 0) {
    *num_at = j;
    return 1;
  }
  return 0;
}

/* Looks after tokens [..end): "product [fillers] num [unit]"; a number
 * word only with its unit. */
static int look_ahead(const agent_tokens *tk, int end, const int *used,
                      int *num_at, agent_unit *unit) {
  int j = end;
  *unit = AGENT_UNIT_NONE;
  if (j < tk->n && tk->t[j].s[0] == '-') j++;
  if (number_at(tk, j, used) <= 0) return 0;
  agent_unit u =
      j + 1 < tk->n ? agent_unit_of(tk->t[j + 1].s, NULL) : AGENT_UNIT_NONE;
  if (!tk->t[j].is_num && u == AGENT_UNIT_NONE) return 0;
  *unit = u;
  *num_at = j;
  return 1;
}

int agent_read_lines(const agent_tokens *tk, const agent_mention *m, int nm,
                     const char *const *units_of, agent_line *out, int max) {
  int used[AGENT_TOKENS_MAX] = {0};
  int found[AGENT_MENTIONS_MAX] = {0};
  int64_t q[AGENT_MENTIONS_MAX] = {0};
  if (nm > AGENT_MENTIONS_MAX) nm = AGENT_MENTIONS_MAX;
  /* The style of the message, from its first product. */
  int before = 1;
  if (nm > 0) {
    int at;
    agent_unit u;
    if (!look_back(tk, m[0].start, used, &at, &u) &&
        look_ahead(tk, m[0].end, used, &at, &u))
      before = 0;
  }
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < nm; i++) {
      if (found[i]) continue;
      int at;
      agent_unit u;
      int back = (pass == 0) == before;
      int ok = back ? look_back(tk, m[i].start, used, &at, &u)
                    : look_ahead(tk, m[i].end, used, &at, &u);
      if (!ok) continue;
      const char *pu = units_of ? units_of[m[i].product] : NULL;
      int64_t v;
      if (agent_qty_convert(number_at(tk, at, used), u, pu, &v)) continue;
      used[at] = 1;
      found[i] = 1;
      q[i] = v;
    }
  int n = 0;
  for (int i = 0; i < nm; i++) {
    int k = 0;
    while (k < n && out[k].product != m[i].product) k++;
    if (k < n) {
      /* The same product twice: one line of the sum. */
      int64_t add = found[i] ? q[i] : 1000;
      if (!out[k].has_qty) out[k].qty = 1000;
      if (out[k].qty + add <= QTY_MAX) out[k].qty += add;
      out[k].has_qty = 1;
      continue;
    }
    if (n == max) break;
    out[n++] = (agent_line){m[i].product, found[i] ? q[i] : 0, found[i]};
  }
  return n;
}
