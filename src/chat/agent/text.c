/* text.c - words, numbers and the language of a message (see text.h).
 *
 * The message is folded once (base/textfold: lower case, NFC) and then
 * walked code point by code point. A word is a run of letters of any
 * script or a run of digits; Devanagari's own digits are read as ASCII
 * ones, so "२ किलो" is the number 2 and a unit. Punctuation, symbols and
 * emoji separate words. Numbers are exact decimals in thousandths (the
 * unit of quantities in the books), never floating point. */
#include "chat/agent/text.h"

#include <stdlib.h>
#include <string.h>

#include "base/dec.h"
#include "base/textfold.h"

/* Decodes the code point at s (valid UTF-8: it comes from textfold) and
 * returns its length in bytes. */
static int utf8_next(const char *s, uint32_t *cp) {
  const unsigned char *u = (const unsigned char *)s;
  if (u[0] < 0x80) {
    *cp = u[0];
    return 1;
  }
  if ((u[0] & 0xE0) == 0xC0 && u[1]) {
    *cp = ((uint32_t)(u[0] & 0x1F) << 6) | (u[1] & 0x3F);
    return 2;
  }
  if ((u[0] & 0xF0) == 0xE0 && u[1] && u[2]) {
    *cp = ((uint32_t)(u[0] & 0x0F) << 12) | ((uint32_t)(u[1] & 0x3F) << 6) |
          (u[2] & 0x3F);
    return 3;
  }
  if ((u[0] & 0xF8) == 0xF0 && u[1] && u[2] && u[3]) {
    *cp = ((uint32_t)(u[0] & 0x07) << 18) | ((uint32_t)(u[1] & 0x3F) << 12) |
          ((uint32_t)(u[2] & 0x3F) << 6) | (u[3] & 0x3F);
    return 4;
  }
  /* Defensive: not reached with textfold's output. */
  *cp = 0xFFFD;
  return 1;
}

size_t agent_utf8_len(const char *s) {
  size_t n = 0;
  for (; *s; s++)
    if (((unsigned char)*s & 0xC0) != 0x80) n++;
  return n;
}

enum { C_SEP, C_LETTER, C_DIGIT, C_SKIP };

static int classify(uint32_t cp, char *digit) {
  if (cp >= '0' && cp <= '9') {
    *digit = (char)cp;
    return C_DIGIT;
  }
  if (cp >= 0x0966 && cp <= 0x096F) { /* Devanagari digits */
    *digit = (char)('0' + (cp - 0x0966));
    return C_DIGIT;
  }
  if (cp >= 'a' && cp <= 'z') return C_LETTER;
  if (cp < 0x80) return C_SEP;
  /* Joiners inside a Devanagari word: dropped, the word goes on. */
  if (cp == 0x200C || cp == 0x200D) return C_SKIP;
  if (cp <= 0xBF) return C_SEP;                   /* Latin-1 punctuation */
  if (cp == 0x0964 || cp == 0x0965) return C_SEP; /* danda */
  if (cp >= 0x2000 && cp <= 0x2BFF) return C_SEP; /* punctuation, ₹, arrows */
  if (cp >= 0x3000 && cp <= 0x303F) return C_SEP;
  if (cp >= 0xFE00 && cp <= 0xFE0F) return C_SKIP; /* variation selectors */
  if (cp >= 0xFF00 && cp <= 0xFF0F) return C_SEP;
  if (cp >= 0x1F000) return C_SEP; /* emoji */
  return C_LETTER;
}

static void finish(agent_tokens *out, size_t len) {
  agent_token *t = &out->t[out->n];
  t->s[len] = '\0';
  if (t->is_num) {
    int64_t v;
    /* "1.2345" has more decimals than a quantity holds: a word, not a
     * number (nothing is rounded). */
    if (dec_parse(t->s, len, QTY_SCALE, &v) == 0 && v >= 0)
      t->num = v;
    else
      t->is_num = 0;
  }
  out->n++;
}

int agent_tokenize(const char *text, size_t n, agent_tokens *out) {
  memset(out, 0, sizeof *out);
  if (!text) return 0;
  if (n > AGENT_TEXT_MAX) {
    n = AGENT_TEXT_MAX;
    /* Cut at a code point's start, so the rest is still valid UTF-8. */
    while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80) n--;
  }
  size_t flen;
  char *f = textfold(text, n, &flen);
  if (!f) return -1;
  int cls = C_SEP; /* class of the word being built */
  size_t len = 0;
  int dot = 0;
  for (size_t i = 0; i < flen && out->n < AGENT_TOKENS_MAX;) {
    uint32_t cp;
    int k = utf8_next(f + i, &cp);
    char digit = 0;
    int c = classify(cp, &digit);
    /* "2.5": a dot between digits belongs to the number. */
    if (cp == '.' && cls == C_DIGIT && !dot && i + 1 < flen) {
      uint32_t nx;
      char nd = 0;
      utf8_next(f + i + 1, &nx);
      if (classify(nx, &nd) == C_DIGIT && len + 1 < AGENT_TOKEN_MAX) {
        out->t[out->n].s[len++] = '.';
        dot = 1;
        i += (size_t)k;
        continue;
      }
    }
    if (c == C_SKIP) {
      i += (size_t)k;
      continue;
    }
    if (c != cls && cls != C_SEP) {
      finish(out, len);
      len = 0;
      dot = 0;
      if (out->n >= AGENT_TOKENS_MAX) break;
    }
    cls = c;
    if (c == C_DIGIT) {
      out->t[out->n].is_num = 1;
      if (len + 1 < AGENT_TOKEN_MAX) out->t[out->n].s[len++] = digit;
    } else if (c == C_LETTER) {
      /* A word too long is cut at a code point's boundary. */
      if (len + (size_t)k < AGENT_TOKEN_MAX) {
        memcpy(out->t[out->n].s + len, f + i, (size_t)k);
        len += (size_t)k;
      }
    }
    i += (size_t)k;
  }
  if (cls != C_SEP && out->n < AGENT_TOKENS_MAX) finish(out, len);
  free(f);
  return 0;
}

/* ---- language ---------------------------------------------------------------
 */

/* Hindi words as people write them in Latin letters: function words and
 * the shop's verbs. Any of them marks a message as Hinglish. */
static const char *const hinglish_words[] = {
    "hai",    "hain",    "kya",      "ka",       "ki",        "ke",
    "ko",     "se",      "mein",     "mera",     "meri",      "mere",
    "mujhe",  "hum",     "aap",      "aapka",    "apna",      "bhej",
    "bhejo",  "bhejdo",  "bhejiye",  "chahiye",  "kitna",     "kitne",
    "kitni",  "haan",    "haa",      "nahi",     "nahin",     "nhi",
    "aaj",    "kal",     "hisaab",   "hisab",    "paise",     "paisa",
    "bhai",   "ji",      "karo",     "kar",      "kab",       "kahan",
    "kaha",   "bhav",    "daam",     "batao",    "bataiye",   "dijiye",
    "dena",   "dene",    "dedo",     "wala",     "wali",      "theek",
    "thik",   "accha",   "acha",     "bikri",    "kisne",     "raha",
    "rahi",   "namaste", "namaskar", "shukriya", "dhanyavad", "dhanyawad",
    "chawal", "aata",    "tel",      "baki",     "baaki",     "udhar",
    "udhaar", "abhi",    "jaldi",    "kaise",    "kaun",      "koi",
    "insaan", "aadmi",   "baat",     "hoga",     "milega",    "mil",
    "bolo",   "karna",   "karni",    "diya",     "de",        "lena",
    "chini",  "cheeni",  "namak",    "daal",     "bori",      "kilo",
    "ek",     "teen",    "chaar",    "paanch",   "aadha",     "dedh",
    "dhai",   "yaad",    "dilao",    "dila",     "pahuncha",  "aayega",
};

/* English words that Hinglish rarely uses; neutral ones ("hi", "ok",
 * "rice", "order") are left out on purpose. */
static const char *const english_words[] = {
    "the",    "is",      "are",     "what",      "what's", "how",    "much",
    "please", "my",      "your",    "send",      "want",   "need",   "price",
    "of",     "and",     "can",     "you",       "i",      "me",     "do",
    "does",   "have",    "thanks",  "thank",     "where",  "when",   "who",
    "owes",   "balance", "today",   "sales",     "stock",  "yes",    "no",
    "cost",   "it",      "a",       "an",        "to",     "for",    "with",
    "would",  "like",    "hello",   "available", "person", "human",  "talk",
    "pay",    "invoice", "last",    "bill",      "track",  "help",   "bags",
    "all",    "remind",  "debtors", "everyone",  "order",  "status",
};

static int in_list(const char *w, const char *const *list, size_t n) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(w, list[i])) return 1;
  return 0;
}

static int is_devanagari(const char *s) {
  /* U+0900..U+097F is E0 A4 80 .. E0 A5 BF. */
  const unsigned char *u = (const unsigned char *)s;
  return u[0] == 0xE0 && (u[1] == 0xA4 || u[1] == 0xA5);
}

agent_lang agent_detect_lang(const agent_tokens *tk) {
  int deva = 0, latin = 0, hing = 0, eng = 0;
  for (int i = 0; i < tk->n; i++) {
    const char *w = tk->t[i].s;
    if (tk->t[i].is_num) continue;
    if (is_devanagari(w)) {
      deva++;
      continue;
    }
    if (w[0] >= 'a' && w[0] <= 'z') latin++;
    if (in_list(w, hinglish_words,
                sizeof hinglish_words / sizeof hinglish_words[0]))
      hing++;
    else if (in_list(w, english_words,
                     sizeof english_words / sizeof english_words[0]))
      eng++;
  }
  if (deva > 0 && deva >= latin) return AGENT_LANG_HI;
  /* "do" is English and Hindi ("bhej do"): Hinglish wins a tie. */
  if (hing > 0 && hing >= eng) return AGENT_LANG_HINGLISH;
  if (eng > 0) return AGENT_LANG_EN;
  if (deva > 0) return AGENT_LANG_HI;
  return AGENT_LANG_UNKNOWN;
}

const char *agent_lang_name(agent_lang l) {
  switch (l) {
    case AGENT_LANG_HINGLISH:
      return "hinglish";
    case AGENT_LANG_HI:
      return "hi";
    case AGENT_LANG_EN:
      return "en";
    default:
      return "unknown";
  }
}

agent_lang agent_lang_from_name(const char *s) {
  if (!s) return AGENT_LANG_UNKNOWN;
  if (!strcmp(s, "en")) return AGENT_LANG_EN;
  if (!strcmp(s, "hinglish")) return AGENT_LANG_HINGLISH;
  if (!strcmp(s, "hi")) return AGENT_LANG_HI;
  return AGENT_LANG_UNKNOWN;
}

/* ---- fuzzy words
 * -------------------------------------------------------------- */

#define EDIT_MAX_CP 64

static int decode_all(const char *s, uint32_t *cp, int cap) {
  int n = 0;
  while (*s) {
    if (n == cap) return -1;
    s += utf8_next(s, &cp[n++]);
  }
  return n;
}

int agent_edit_distance(const char *a, const char *b, int max) {
  uint32_t x[EDIT_MAX_CP], y[EDIT_MAX_CP];
  int n = decode_all(a, x, EDIT_MAX_CP), m = decode_all(b, y, EDIT_MAX_CP);
  if (n < 0 || m < 0) return max + 1;
  if (abs(n - m) > max) return max + 1;
  int prev[EDIT_MAX_CP + 1], cur[EDIT_MAX_CP + 1];
  for (int j = 0; j <= m; j++) prev[j] = j;
  for (int i = 1; i <= n; i++) {
    cur[0] = i;
    int best = cur[0];
    for (int j = 1; j <= m; j++) {
      int v = prev[j - 1] + (x[i - 1] != y[j - 1]);
      if (prev[j] + 1 < v) v = prev[j] + 1;
      if (cur[j - 1] + 1 < v) v = cur[j - 1] + 1;
      cur[j] = v;
      if (v < best) best = v;
    }
    if (best > max) return max + 1; /* every path is already too long */
    memcpy(prev, cur, sizeof(int) * (size_t)(m + 1));
  }
  return prev[m] > max ? max + 1 : prev[m];
}

static int ends_with(const char *w, size_t wl, const char *suf) {
  size_t sl = strlen(suf);
  return wl >= sl && !memcmp(w + wl - sl, suf, sl);
}

/* word == key + "s", key + "es", or key "y" -> "ies". */
static int is_plural(const char *w, const char *k) {
  size_t wl = strlen(w), kl = strlen(k);
  if (kl < 2 || !(k[0] >= 'a' && k[0] <= 'z')) return 0;
  if (wl == kl + 1 && w[kl] == 's' && !memcmp(w, k, kl)) return 1;
  if (wl == kl + 2 && ends_with(w, wl, "es") && !memcmp(w, k, kl)) return 1;
  if (k[kl - 1] == 'y' && wl == kl + 2 && ends_with(w, wl, "ies") &&
      !memcmp(w, k, kl - 1))
    return 1;
  return 0;
}

int agent_word_match(const char *word, const char *key) {
  if (!strcmp(word, key)) return 3;
  if (is_plural(word, key)) return 2;
  size_t kl = agent_utf8_len(key), wl = agent_utf8_len(word);
  size_t shorter = kl < wl ? kl : wl;
  if (shorter < 4) return 0;
  /* Typos keep the first letter far more often than not, and asking for
   * it keeps "rice" from being "price". */
  uint32_t a, b;
  utf8_next(word, &a);
  utf8_next(key, &b);
  if (a != b) return 0;
  int allowed = shorter >= 8 ? 2 : 1;
  /* A typo of the plural ("ricess") is still the word. */
  return agent_edit_distance(word, key, allowed) <= allowed ? 1 : 0;
}

int agent_has_phrase(const agent_tokens *tk, const char *phrase, int fuzzy,
                     int *at) {
  char words[8][AGENT_TOKEN_MAX];
  int nw = 0;
  const char *p = phrase;
  while (*p && nw < 8) {
    while (*p == ' ') p++;
    size_t l = strcspn(p, " ");
    if (!l) break;
    if (l >= AGENT_TOKEN_MAX) l = AGENT_TOKEN_MAX - 1;
    memcpy(words[nw], p, l);
    words[nw][l] = '\0';
    nw++;
    p += strcspn(p, " ");
  }
  if (!nw) return 0;
  for (int i = 0; i + nw <= tk->n; i++) {
    int ok = 1;
    for (int j = 0; j < nw && ok; j++) {
      const char *w = tk->t[i + j].s;
      ok = fuzzy ? agent_word_match(w, words[j]) > 0 : !strcmp(w, words[j]);
    }
    if (ok) {
      if (at) *at = i;
      return 1;
    }
  }
  return 0;
}
