/* text.h - the agent's view of a message: folded words, numbers, and the
 * language it is written in (English, Hindi in Latin letters, Devanagari).
 *
 * Everything here is pure (no database, no network) and bounded: a message
 * is cut to AGENT_TEXT_MAX bytes and AGENT_TOKENS_MAX words before anything
 * looks at it, so a long or hostile message costs no more than a short one.
 * The rules (intent.c), the lexicon (lexicon.c) and the quantity reader
 * (qty.c) all work on the agent_tokens made here. */
#ifndef MUNSHI_CHAT_AGENT_TEXT_H
#define MUNSHI_CHAT_AGENT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#define AGENT_TEXT_MAX 2000 /* bytes of a message that are read */
#define AGENT_TOKENS_MAX 80 /* words of a message that are read */
#define AGENT_TOKEN_MAX 64  /* bytes of one word (longer ones are cut) */

typedef struct agent_token {
  char s[AGENT_TOKEN_MAX]; /* folded (lower case, NFC), NUL-terminated */
  int is_num;              /* digits, maybe with a '.' and decimals */
  int64_t num;             /* is_num: the value in thousandths (2.5 = 2500) */
} agent_token;

typedef struct agent_tokens {
  agent_token t[AGENT_TOKENS_MAX];
  int n;
} agent_tokens;

/* Splits text into words: runs of letters (any script) and of digits, cut
 * where letters meet digits ("2kg" is "2" "kg"); Devanagari digits become
 * ASCII ones; a '.' between digits stays in the number. Everything is
 * folded with base/textfold. Invalid UTF-8 gives no words (out->n = 0) and
 * -1; otherwise 0. */
int agent_tokenize(const char *text, size_t n, agent_tokens *out);

typedef enum {
  AGENT_LANG_UNKNOWN = -1, /* no sign either way ("ok", "2 rice") */
  AGENT_LANG_EN = 0,
  AGENT_LANG_HINGLISH = 1, /* Hindi in Latin letters */
  AGENT_LANG_HI = 2,       /* Devanagari */
} agent_lang;
#define AGENT_LANGS 3

/* The language of a message: Devanagari when most of its letters are,
 * Hinglish when it has Hindi words written in Latin letters ("kya",
 * "hai", "bhejo"...), English when it has English words, else unknown. */
agent_lang agent_detect_lang(const agent_tokens *tk);
/* "en", "hinglish", "hi"; and back (unknown names give AGENT_LANG_UNKNOWN). */
const char *agent_lang_name(agent_lang l);
agent_lang agent_lang_from_name(const char *s);

/* Levenshtein distance in code points of two UTF-8 words, or max + 1 when
 * it is larger than max (the work stops early). Words past 64 code points
 * compare as "far". */
int agent_edit_distance(const char *a, const char *b, int max);

/* How well a word of a message matches a word of a name or keyword: 0 no
 * match, 3 equal, 2 a plural of it ("bags", "boxes", "batteries"), 1 a
 * small typo (one edit for words of 4-7 code points, two from 8). Words of
 * fewer than 4 code points match only exactly or as plurals. */
int agent_word_match(const char *word, const char *key);

/* 1 when the words of phrase (space-separated, already folded) occur in tk
 * in a row, each matched by agent_word_match (exactly when fuzzy is 0);
 * *at gets the first word's index (may be NULL). */
int agent_has_phrase(const agent_tokens *tk, const char *phrase, int fuzzy,
                     int *at);

/* Number of code points of a UTF-8 string. */
size_t agent_utf8_len(const char *s);

#endif
