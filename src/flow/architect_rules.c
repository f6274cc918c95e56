/* architect_rules.c - the offline drafter (architect.h): the owner's words
 * in English, Hinglish or Devanagari to a blueprint, without a model.
 *
 * The prompt is folded (base/textfold) and cut into words and numbers;
 * then a few readers fill slots, each marking the words it used so that a
 * number is read once: times ("9 pm", "raat 10 baje", "9:30"), waits ("after
 * 3 days", "5 din baad", a bare "after 7" taking the unit of the wait before
 * it), days of the month ("1st", "1 tarikh"), weekdays, and amounts with a
 * comparison ("above 50000", "more than 1 lakh", "1.5 lakh se zyada"),
 * converted to exact paise. The topic (what the owner wants done) decides
 * the trigger, who gets the message and its text, with the fields of the
 * records the trigger names ({{ customer.full_name }}, …). When a slot the
 * topic needs is missing the answer is a question, never a guess. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/textfold.h"
#include "flow/architect.h"

/* ---- words ----------------------------------------------------------- */

#define TOK_MAX 160
#define TOK_LEN 48

enum { TK_WORD, TK_NUM, TK_TIME };

typedef struct tok {
  char s[TOK_LEN];
  int kind;
  int64_t milli; /* TK_NUM: value in thousandths; -1 when not exact */
  int hh, mm;    /* TK_TIME */
} tok;

typedef struct toks {
  tok t[TOK_MAX];
  int n;
  unsigned char used[TOK_MAX];
  int deva_letters, latin_letters;
} toks;

static int utf8_len(unsigned char c) {
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) return 2;
  if ((c & 0xF0) == 0xE0) return 3;
  return 4;
}

static int is_digit(char c) {
  return c >= '0' && c <= '9';
}

/* "1,00,000" and "50,000": a comma followed by 2 or 3 digits and then no
 * digit separates groups inside the number. */
static int group_comma(const char *s, size_t i, size_t n) {
  size_t k = i + 1, d = 0;
  while (k < n && is_digit(s[k])) k++, d++;
  return d == 2 || d == 3;
}

static void tok_finish(toks *tk, size_t len) {
  tok *t = &tk->t[tk->n];
  t->s[len] = 0;
  if (t->kind == TK_NUM) {
    /* Exact: at most three decimals and fifteen digits, else no number. */
    int64_t v = 0;
    int dec = -1, digits = 0, ok = 1;
    for (size_t i = 0; i < len; i++) {
      if (t->s[i] == '.') {
        dec = 0;
        continue;
      }
      if (++digits > 15 || (dec >= 0 && ++dec > 3)) ok = 0;
      if (ok) v = v * 10 + (t->s[i] - '0');
    }
    for (int d = dec < 0 ? 0 : dec; ok && d < 3; d++) v *= 10;
    t->milli = ok ? v : -1;
  }
  tk->n++;
}

/* Letters of any script and digits make words; ASCII punctuation, ₹,
 * quotes, dashes, the danda and emoji separate them. "9:30" is one time
 * token; a '.' between digits and a grouping ',' stay in the number. */
static void tokenize(const char *f, size_t n, toks *tk) {
  memset(tk, 0, sizeof *tk);
  size_t len = 0;
  int cls = -1; /* kind of the token being built, -1: none */
  for (size_t i = 0; i < n && tk->n < TOK_MAX;) {
    unsigned char c = (unsigned char)f[i];
    int k = utf8_len(c);
    if (i + (size_t)k > n) break;
    int kind = -1; /* -1 separator, -2 dropped */
    char digit = 0;
    unsigned char b1 = k > 1 ? (unsigned char)f[i + 1] : 0;
    unsigned char b2 = k > 2 ? (unsigned char)f[i + 2] : 0;
    if (is_digit((char)c)) {
      kind = TK_NUM, digit = (char)c;
    } else if (c >= 'a' && c <= 'z') {
      kind = TK_WORD;
      tk->latin_letters++;
    } else if ((c == '\'' ||
                (k == 3 && c == 0xE2 && b1 == 0x80 && b2 == 0x99)) &&
               cls == TK_WORD) {
      kind = -2; /* "today's" reads as "todays" */
    } else if (c == '.' && cls == TK_NUM && i + 1 < n && is_digit(f[i + 1]) &&
               !memchr(tk->t[tk->n].s, '.', len)) {
      if (len + 1 < TOK_LEN) tk->t[tk->n].s[len++] = '.';
      i++;
      continue;
    } else if (c == ',' && cls == TK_NUM && group_comma(f, i, n)) {
      i++;
      continue;
    } else if (c == ':' && cls == TK_NUM && len >= 1 && len <= 2 && i + 2 < n &&
               f[i + 1] >= '0' && f[i + 1] <= '5' && is_digit(f[i + 2]) &&
               !(i + 3 < n && is_digit(f[i + 3]))) {
      tok *t = &tk->t[tk->n];
      int h = 0;
      for (size_t d = 0; d < len; d++)
        h = h * 10 + (t->s[d] == '.' ? 0 : t->s[d] - '0');
      t->hh = h, t->mm = (f[i + 1] - '0') * 10 + (f[i + 2] - '0');
      memcpy(t->s + len, f + i, 3);
      len += 3;
      t->s[len] = 0;
      t->kind = TK_TIME;
      tk->n++;
      len = 0, cls = -1;
      i += 3;
      continue;
    } else if (k == 3 && c == 0xE0 && b1 == 0xA5 && b2 >= 0xA6 && b2 <= 0xAF) {
      kind = TK_NUM, digit = (char)('0' + (b2 - 0xA6)); /* Devanagari digit */
    } else if (k == 3 && c == 0xE0 && (b1 == 0xA4 || b1 == 0xA5)) {
      if (b1 == 0xA4 && b2 == 0xBC)
        kind = -2; /* nukta: "ज़्यादा" and "ज्यादा" read the same */
      else if (b1 == 0xA5 && (b2 == 0xA4 || b2 == 0xA5))
        kind = -1; /* danda */
      else
        kind = TK_WORD, tk->deva_letters++;
    } else if (k == 3 && c == 0xE2 && b1 == 0x80 &&
               (b2 == 0x8C || b2 == 0x8D)) {
      kind = -2; /* joiners inside a word */
    } else if (c >= 0xC3 && c != 0xE2 && c != 0xF0) {
      kind = TK_WORD; /* letters of other scripts */
    }
    if (kind == -2) {
      i += (size_t)k;
      continue;
    }
    if (kind != cls && cls != -1) {
      tok_finish(tk, len);
      len = 0;
      if (tk->n >= TOK_MAX) break;
    }
    cls = kind;
    if (kind == TK_NUM) {
      tk->t[tk->n].kind = TK_NUM;
      if (len + 1 < TOK_LEN) tk->t[tk->n].s[len++] = digit;
    } else if (kind == TK_WORD) {
      tk->t[tk->n].kind = TK_WORD;
      if (len + (size_t)k < TOK_LEN) {
        memcpy(tk->t[tk->n].s + len, f + i, (size_t)k);
        len += (size_t)k;
      }
    }
    i += (size_t)k;
  }
  if (cls != -1 && tk->n < TOK_MAX) tok_finish(tk, len);
}

static int word_is(const toks *tk, int i, const char *w) {
  return i >= 0 && i < tk->n && tk->t[i].kind == TK_WORD &&
         !strcmp(tk->t[i].s, w);
}
static int word_in(const toks *tk, int i, const char *const *list) {
  if (i < 0 || i >= tk->n || tk->t[i].kind != TK_WORD) return 0;
  for (int k = 0; list[k]; k++)
    if (!strcmp(tk->t[i].s, list[k])) return 1;
  return 0;
}
/* The index of the first word of the prompt in list, or -1. */
static int find_any(const toks *tk, const char *const *list) {
  for (int i = 0; i < tk->n; i++)
    if (word_in(tk, i, list)) return i;
  return -1;
}
static int has_any(const toks *tk, const char *const *list) {
  return find_any(tk, list) >= 0;
}
/* The index where the space-separated words of p occur in a row, or -1. */
static int find_phrase(const toks *tk, const char *p) {
  char w[8][TOK_LEN];
  int nw = 0;
  for (const char *s = p; *s && nw < 8;) {
    while (*s == ' ') s++;
    size_t l = strcspn(s, " ");
    if (!l) break;
    snprintf(w[nw++], TOK_LEN, "%.*s", (int)l, s);
    s += l;
  }
  for (int i = 0; i + nw <= tk->n; i++) {
    int k = 0;
    while (k < nw && word_is(tk, i + k, w[k])) k++;
    if (k == nw) return i;
  }
  return -1;
}
static int has_phrase_in(const toks *tk, const char *const *list) {
  for (int k = 0; list[k]; k++)
    if (find_phrase(tk, list[k]) >= 0) return 1;
  return 0;
}
static int is_int(const toks *tk, int i, int lo, int hi) {
  if (i < 0 || i >= tk->n || tk->t[i].kind != TK_NUM || tk->used[i]) return 0;
  int64_t m = tk->t[i].milli;
  return m >= 0 && m % 1000 == 0 && m / 1000 >= lo && m / 1000 <= hi;
}
static int ival(const toks *tk, int i) {
  return (int)(tk->t[i].milli / 1000);
}

/* ---- vocabulary ------------------------------------------------------ */

#define L(name, ...) static const char *const name[] = {__VA_ARGS__, NULL}

L(w_owner, "me", "mujhe", "mujhko", "muje", "mujhe", "owner", "myself",
  "hamein", "humein", "hume", "hamko", "humko", "mere", "malik", "maalik", "मुझे",
  "मुझको", "मालिक", "हमें");
L(w_customer, "customer", "customers", "customer's", "grahak", "graahak",
  "grahakon", "client", "clients", "buyer", "buyers", "party", "customerko",
  "ग्राहक", "ग्राहकों", "ग्राहको");
L(w_them, "them", "him", "her", "unko", "usko", "unhe", "unhein", "use", "उन्हें",
  "उसे", "उनको", "उसको");
L(w_remind, "remind", "reminder", "reminders", "reminding", "yaad", "dilao",
  "dilana", "dilaye", "dilaiye", "याद", "रिमाइंडर");
L(w_dues, "overdue", "unpaid", "due", "dues", "pending", "baki", "baaki",
  "bakaya", "udhaar", "udhar", "outstanding", "owe", "owes", "debt", "debts",
  "debtors", "credit", "बकाया", "बाकी", "उधार");
L(w_invoice, "invoice", "invoices", "bill", "bills", "challan", "order",
  "orders", "बिल", "इनवॉइस", "चालान", "ऑर्डर");
L(w_payment, "payment", "payments", "paisa", "paise", "pay", "paid", "bhugtan",
  "bhugtaan", "bhuktan", "upi", "भुगतान", "पेमेंट", "पैसे");
L(w_thank, "thank", "thanks", "thankyou", "thanku", "dhanyavaad", "dhanyavad",
  "dhanyawad", "dhanyawaad", "shukriya", "shukria", "धन्यवाद", "शुक्रिया");
L(w_sales, "sales", "sale", "bikri", "bikree", "revenue", "kamai", "turnover",
  "hisaab", "hisab", "बिक्री", "सेल", "हिसाब");
/* "not paid", "hasn't paid", "nahi diya": an unpaid invoice, said with a
 * negation the single words of w_dues do not catch. */
L(p_unpaid, "not paid", "not been paid", "isnt paid", "hasnt paid",
  "havent paid", "hasnt been paid", "not yet paid", "nahi diya", "nahi kiya",
  "nahi chukaya", "nahi aaya", "नहीं दिया", "नहीं चुकाया");
L(w_gst, "gst", "जीएसटी");
L(w_stock, "stock", "inventory", "maal", "saman", "samaan", "स्टॉक", "माल");
L(w_low, "low", "kam", "khatam", "finish", "finished", "short", "shortage",
  "runs", "running", "below", "कम", "खत्म");
L(w_welcome, "welcome", "swagat", "swaagat", "स्वागत");
L(w_new, "new", "naya", "naye", "nayi", "joins", "joined", "added", "signs",
  "registers", "नया", "नए", "नई");
L(w_feedback, "feedback", "review", "reviews", "rating", "ratings", "rai",
  "raay", "राय", "फीडबैक");
L(w_delivery, "delivered", "delivery", "deliver", "delivers", "shipment",
  "shipped", "pahunch", "pahuncha", "pahunche", "pahunchne", "pahunchta",
  "डिलीवर", "डिलीवरी", "पहुंचे", "पहुंचा", "पहुँचे");
/* A shipment's stages other than the delivery itself: naming one asks
 * for the customer to be told as the parcel moves (T_SHIP_TRACK). */
L(w_pickup, "picked", "pickup", "pick", "pickedup", "dispatched", "dispatch",
  "uthaya", "uthaaya", "utha", "पिक", "पिकअप", "रवाना");
L(p_transit, "in transit", "on the way", "on its way", "raaste mein",
  "raste mein", "रास्ते में", "ट्रांजिट");
L(w_transit, "transit");
L(p_ofd, "out for delivery", "delivery ke liye nikle", "delivery ke liye nikla",
  "delivery ke liye nikal", "delivery ke liye nikle", "delivery par nikla",
  "डिलीवरी के लिए निकले", "डिलीवरी के लिए निकला", "डिलीवरी के लिए निकल",
  "आउट फॉर डिलीवरी");
/* The delivery itself, said as a verb ("delivered", "pahunch jaye"), not
 * the noun inside "out for delivery". */
L(w_delivered, "delivered", "deliver", "delivers", "pahunch", "pahuncha",
  "pahunche", "pahunchne", "pahunchta", "pahunchega", "डिलीवर", "पहुंचे",
  "पहुंचा", "पहुँचे", "पहुंच", "पहुँच");
L(p_delivered, "delivery ho", "delivery hone", "डिलीवरी हो", "डिलीवरी होने");
L(w_cancel, "cancel", "cancelled", "canceled", "cancels", "radd", "रद्द");
L(w_product, "product", "products", "item", "items", "प्रोडक्ट");
L(w_message, "message", "messages", "msg", "texts", "writes", "likhe");
L(w_issue, "issue", "issued", "created", "create", "raise", "raised", "new",
  "generated", "banao", "bane", "banta", "banaya", "naya", "made", "sent");
L(w_everyone, "everyone", "all", "sab", "sabko", "sabhi", "har", "each", "सब",
  "सबको", "सभी");
L(w_manual, "manually", "manual", "click", "demand");

L(w_daily, "daily", "everyday", "roz", "rozana", "roj", "nightly", "रोज",
  "रोजाना", "प्रतिदिन");
L(p_daily, "every day", "each day", "har din", "har roz", "every night",
  "every morning", "every evening", "every afternoon", "हर दिन");
L(w_weekly, "weekly", "saptahik");
L(p_weekly, "every week", "each week", "har hafte", "har hafta", "har week",
  "हर हफ्ते");
L(w_monthly, "monthly", "mahine", "mahina", "mahinon", "महीने", "महीना");
L(p_monthly, "every month", "each month", "of the month", "of every month",
  "har month", "har mahine");

L(w_morning, "morning", "subah", "savere", "sawere", "सुबह");
L(w_afternoon, "afternoon", "dopahar", "dopehar", "दोपहर");
L(w_evening, "evening", "shaam", "sham", "शाम");
L(w_night, "night", "tonight", "raat", "rat", "रात");
L(w_baje, "baje", "bje", "baaje", "बजे");

L(w_after, "after", "later", "baad", "bad", "बाद", "aur", "then", "phir");
L(w_due_ref, "overdue", "due", "deadline", "duedate");
L(w_before, "before", "pehle", "pahle", "पहले");
L(w_more, "more", "another", "further", "extra", "zyada");

L(w_gt, "above", "over", "more", "greater", "exceeds", "exceeding", "exceed",
  "beyond", "bigger", "larger", "higher", "zyada", "jyada", "zyaada", "jyaada",
  "adhik", "upar", "ooper", "ज्यादा", "अधिक", "ऊपर");
L(w_ge, "least", "minimum");
L(w_lt, "below", "under", "less", "smaller", "lower", "kam", "neeche", "niche",
  "कम", "नीचे");
L(w_rupee, "rs", "rupees", "rupee", "rupaye", "rupay", "inr", "रुपये", "रुपए");

L(w_today, "today", "todays", "aaj", "aj", "आज");
L(w_yesterday, "yesterday", "yesterdays", "kal", "कल");
L(w_week, "week", "weeks", "weekly", "hafte", "hafta", "हफ्ते");
L(w_month, "month", "months", "monthly", "mahine", "mahina", "महीने");

/* Hindi words a Latin-letter prompt is written with. */
L(w_hinglish, "hai", "ho", "ko", "ki", "ka", "ke", "se", "mujhe", "bhejo",
  "bhej", "bhejna", "bhejdo", "bhejiye", "bhejein", "jab", "bhi", "aaye",
  "aaya", "aayi", "roz", "raat", "subah", "shaam", "baje", "din", "baad", "aaj",
  "bikri", "dhanyavaad", "dhanyavad", "shukriya", "grahak", "karo", "batao",
  "bata", "dena", "yaad", "dilao", "naya", "nayi", "par", "pe", "agar", "wala",
  "mahine", "hafte", "tarikh", "zyada", "jyada", "maal", "khatam", "unko",
  "usko", "sabko", "har", "kar", "lakh", "kripya");

typedef enum { LANG_EN, LANG_HINGLISH, LANG_HI } lang_t;

static lang_t detect_lang(const toks *tk) {
  if (tk->deva_letters > tk->latin_letters) return LANG_HI;
  int h = 0;
  for (int i = 0; i < tk->n; i++) h += word_in(tk, i, w_hinglish);
  return h >= 2 ? LANG_HINGLISH : LANG_EN;
}

/* ---- slots ----------------------------------------------------------- */

#define MAX_WAITS 4

typedef struct wait_slot {
  int at; /* token index, for order */
  int64_t secs;
  char unit; /* 'm' 'h' 'd' 'w' */
  int count;
  int more; /* "3 more days", "aur 2 din": after the wait before it */
} wait_slot;

typedef struct slots {
  lang_t lang;
  int has_time, hh, mm;
  int time_defaulted;
  int sched;    /* 0 none, 1 daily, 2 weekly, 3 monthly */
  unsigned dow; /* bit 0 Sunday .. 6 Saturday */
  int dom;
  wait_slot waits[MAX_WAITS];
  int nwaits;
  int has_amount;
  const char *cmp; /* ">" ">=" "<" */
  int64_t paise;
  int to_owner, to_customer, them;
  const char *quoted;
} slots;

static int64_t unit_secs(char u) {
  return u == 'm' ? 60 : u == 'h' ? 3600 : u == 'd' ? 86400 : 7 * 86400;
}

L(u_min, "minute", "minutes", "min", "mins", "minat", "मिनट");
L(u_hour, "hour", "hours", "hr", "hrs", "ghanta", "ghante", "ghanton", "घंटे",
  "घंटा");
L(u_day, "day", "days", "din", "dino", "dinon", "दिन");
L(u_week, "week", "weeks", "hafta", "hafte", "hafton", "हफ्ते", "हफ्ता");

static char unit_at(const toks *tk, int i) {
  if (word_in(tk, i, u_min)) return 'm';
  if (word_in(tk, i, u_hour)) return 'h';
  if (word_in(tk, i, u_day)) return 'd';
  if (word_in(tk, i, u_week)) return 'w';
  if (word_is(tk, i, "d")) return 'd';
  if (word_is(tk, i, "h")) return 'h';
  if (word_is(tk, i, "w")) return 'w';
  return 0;
}

static int number_word(const toks *tk, int i) {
  static const struct {
    const char *w;
    int v;
  } nw[] = {{"a", 1},      {"an", 1},    {"one", 1},   {"ek", 1},
            {"two", 2},    {"do", 2},    {"three", 3}, {"teen", 3},
            {"four", 4},   {"char", 4},  {"chaar", 4}, {"five", 5},
            {"paanch", 5}, {"panch", 5}, {"six", 6},   {"chhe", 6},
            {"seven", 7},  {"saat", 7},  {"eight", 8}, {"aath", 8},
            {"nine", 9},   {"nau", 9},   {"ten", 10},  {"das", 10},
            {"एक", 1},     {"दो", 2},    {"तीन", 3},   {"चार", 4},
            {"पांच", 5},    {"सात", 7},   {"दस", 10}};
  for (size_t k = 0; k < sizeof nw / sizeof nw[0]; k++)
    if (word_is(tk, i, nw[k].w)) return nw[k].v;
  return 0;
}

static void add_wait(slots *s, int at, int count, char unit, int more) {
  if (s->nwaits >= MAX_WAITS || count <= 0) return;
  wait_slot *w = &s->waits[s->nwaits++];
  w->at = at, w->count = count, w->unit = unit, w->more = more;
  w->secs = (int64_t)count * unit_secs(unit);
}

static void read_times(toks *tk, slots *s) {
  int mod = 0; /* 1 morning, 2 afternoon, 3 evening, 4 night */
  if (has_any(tk, w_morning)) mod = 1;
  if (has_any(tk, w_afternoon)) mod = 2;
  if (has_any(tk, w_evening)) mod = 3;
  if (has_any(tk, w_night)) mod = 4;
  for (int i = 0; i < tk->n && !s->has_time; i++) {
    int h = -1, m = 0, ampm = 0, end = i;
    if (tk->t[i].kind == TK_TIME) {
      h = tk->t[i].hh, m = tk->t[i].mm;
    } else if (is_int(tk, i, 0, 23) &&
               (word_is(tk, i + 1, "am") || word_is(tk, i + 1, "pm") ||
                (word_is(tk, i + 1, "a") && word_is(tk, i + 2, "m")) ||
                (word_is(tk, i + 1, "p") && word_is(tk, i + 2, "m")) ||
                word_in(tk, i + 1, w_baje) || word_is(tk, i + 1, "oclock") ||
                (word_is(tk, i + 1, "o") && word_is(tk, i + 2, "clock")) ||
                (word_is(tk, i - 1, "at") && !unit_at(tk, i + 1)))) {
      h = ival(tk, i);
    } else {
      continue;
    }
    if (word_is(tk, end + 1, "am") || word_is(tk, end + 1, "pm")) {
      ampm = tk->t[end + 1].s[0] == 'a' ? 1 : 2;
      tk->used[++end] = 1;
    } else if ((word_is(tk, end + 1, "a") || word_is(tk, end + 1, "p")) &&
               word_is(tk, end + 2, "m")) {
      ampm = tk->t[end + 1].s[0] == 'a' ? 1 : 2;
      tk->used[end + 1] = tk->used[end + 2] = 1;
      end += 2;
    } else if (word_in(tk, end + 1, w_baje) || word_is(tk, end + 1, "oclock")) {
      tk->used[++end] = 1;
    }
    if (h > 23 || m > 59 || (ampm && (h < 1 || h > 12))) continue;
    if (ampm == 1)
      h = h % 12;
    else if (ampm == 2)
      h = h % 12 + 12;
    else if (mod == 1)
      h = h % 12;
    else if ((mod == 2 || mod == 3) && h < 12)
      h += 12;
    else if (mod == 4)
      h = h == 12 ? 0 : (h <= 4 ? h : (h < 12 ? h + 12 : h));
    tk->used[i] = 1;
    s->has_time = 1, s->hh = h, s->mm = m;
  }
  if (!s->has_time && find_phrase(tk, "midnight") >= 0)
    s->has_time = 1, s->hh = 0, s->mm = 0;
  if (!s->has_time && (find_phrase(tk, "noon") >= 0))
    s->has_time = 1, s->hh = 12, s->mm = 0;
}

static void read_waits(toks *tk, slots *s) {
  for (int i = 0; i < tk->n; i++) {
    /* "3 more days": the unit one word further */
    int gap = word_in(tk, i + 1, w_more) && unit_at(tk, i + 2) ? 1 : 0;
    char u = unit_at(tk, i + 1 + gap);
    if (!u) continue;
    int more = gap || word_in(tk, i - 1, w_more);
    if (is_int(tk, i, 1, 365)) {
      add_wait(s, i, ival(tk, i), u, more);
    } else if (number_word(tk, i) && !tk->used[i]) {
      add_wait(s, i, number_word(tk, i), u, more);
    } else if ((word_is(tk, i, "next") || word_is(tk, i, "agle") ||
                word_is(tk, i, "agla")) &&
               u == 'd') {
      add_wait(s, i, 1, 'd', 0);
    } else {
      continue;
    }
    for (int k = 0; k <= 1 + gap; k++) tk->used[i + k] = 1;
  }
  /* "after 7" with no unit: the unit of the wait before it. */
  for (int i = 0; i < tk->n; i++) {
    if (!is_int(tk, i, 1, 365) || s->nwaits == 0) continue;
    if (!(word_in(tk, i - 1, w_after) || word_in(tk, i + 1, w_after))) continue;
    char u = 0;
    for (int k = 0; k < s->nwaits; k++)
      if (s->waits[k].at < i) u = s->waits[k].unit;
    if (!u) continue;
    add_wait(s, i, ival(tk, i), u,
             word_in(tk, i + 1, w_more) || word_in(tk, i - 1, w_more));
    tk->used[i] = 1;
  }
  /* in order of the words */
  for (int a = 1; a < s->nwaits; a++)
    for (int b = a; b > 0 && s->waits[b].at < s->waits[b - 1].at; b--) {
      wait_slot t = s->waits[b];
      s->waits[b] = s->waits[b - 1];
      s->waits[b - 1] = t;
    }
}

L(w_days0, "sunday", "sundays", "ravivar", "raviwar", "itvaar", "itwar",
  "रविवार");
L(w_days1, "monday", "mondays", "somvar", "somwar", "सोमवार");
L(w_days2, "tuesday", "tuesdays", "mangalvar", "mangalwar", "मंगलवार");
L(w_days3, "wednesday", "wednesdays", "budhvar", "budhwar", "बुधवार");
L(w_days4, "thursday", "thursdays", "guruvar", "guruwar", "brihaspativar",
  "गुरुवार");
L(w_days5, "friday", "fridays", "shukravar", "shukrawar", "शुक्रवार");
L(w_days6, "saturday", "saturdays", "shanivar", "shaniwar", "शनिवार");

static void read_schedule(toks *tk, slots *s) {
  const char *const *days[7] = {w_days0, w_days1, w_days2, w_days3,
                                w_days4, w_days5, w_days6};
  for (int d = 0; d < 7; d++)
    if (has_any(tk, days[d])) s->dow |= 1u << d;
  if (find_phrase(tk, "weekdays") >= 0 || find_phrase(tk, "weekday") >= 0)
    s->dow |= 0x3E;
  /* day of the month */
  for (int i = 0; i < tk->n && !s->dom; i++) {
    if (is_int(tk, i, 1, 31) &&
        (word_is(tk, i + 1, "st") || word_is(tk, i + 1, "nd") ||
         word_is(tk, i + 1, "rd") || word_is(tk, i + 1, "th") ||
         word_is(tk, i + 1, "tarikh") || word_is(tk, i + 1, "tareekh") ||
         word_is(tk, i + 1, "tarik") || word_is(tk, i + 1, "तारीख") ||
         word_is(tk, i + 1, "date"))) {
      s->dom = ival(tk, i);
      tk->used[i] = tk->used[i + 1] = 1;
    }
  }
  if (!s->dom && (find_phrase(tk, "first of") >= 0 ||
                  find_phrase(tk, "pehli tarikh") >= 0 ||
                  find_phrase(tk, "pahli tarikh") >= 0 ||
                  find_phrase(tk, "start of") >= 0))
    s->dom = 1;
  if (has_any(tk, w_monthly) || has_phrase_in(tk, p_monthly) || s->dom)
    s->sched = 3, s->dom = s->dom ? s->dom : 1;
  else if (s->dow || has_any(tk, w_weekly) || has_phrase_in(tk, p_weekly))
    s->sched = 2, s->dow = s->dow ? s->dow : 1u << 1;
  else if (has_any(tk, w_daily) || has_phrase_in(tk, p_daily))
    s->sched = 1;
}

static void read_amount(toks *tk, slots *s) {
  for (int i = 0; i < tk->n && !s->has_amount; i++) {
    if (tk->t[i].kind != TK_NUM || tk->used[i] || tk->t[i].milli < 0) continue;
    int64_t mult = 1;
    int j = i + 1;
    if (word_is(tk, j, "lakh") || word_is(tk, j, "lakhs") ||
        word_is(tk, j, "lac") || word_is(tk, j, "lacs") ||
        word_is(tk, j, "l") || word_is(tk, j, "लाख"))
      mult = 100000, j++;
    else if (word_is(tk, j, "k") || word_is(tk, j, "thousand") ||
             word_is(tk, j, "hazar") || word_is(tk, j, "hazaar") ||
             word_is(tk, j, "hajar") || word_is(tk, j, "हजार"))
      mult = 1000, j++;
    else if (word_is(tk, j, "crore") || word_is(tk, j, "crores") ||
             word_is(tk, j, "cr") || word_is(tk, j, "करोड"))
      mult = 10000000, j++;
    while (word_in(tk, j, w_rupee)) j++;
    const char *cmp = NULL;
    /* English puts the comparison before the number ("more than rs 5000"),
     * Hindi after it ("5000 se zyada"). */
    for (int b = i - 1; b >= 0 && b >= i - 4 && !cmp; b--) {
      if (word_in(tk, b, w_ge))
        cmp = ">=";
      else if (word_in(tk, b, w_gt))
        cmp = ">";
      else if (word_in(tk, b, w_lt))
        cmp = "<";
      else if (!(word_in(tk, b, w_rupee) || word_is(tk, b, "than") ||
                 word_is(tk, b, "of") || word_is(tk, b, "is") ||
                 word_is(tk, b, "at") || word_is(tk, b, "the") ||
                 word_is(tk, b, "than")))
        break;
    }
    for (int f = j; f < tk->n && f <= j + 2 && !cmp; f++) {
      if (word_is(tk, f, "or") &&
          (word_is(tk, f + 1, "more") || word_is(tk, f + 1, "above")))
        cmp = ">=";
      else if (word_in(tk, f, w_gt))
        cmp = ">";
      else if (word_in(tk, f, w_lt))
        cmp = "<";
      else if (!(word_is(tk, f, "se") || word_is(tk, f, "से")))
        break;
    }
    if (!cmp) continue;
    int64_t m = tk->t[i].milli;
    if (m > INT64_MAX / mult / 10) continue;
    int64_t v = m * mult;
    if (v % 10) continue; /* less than a paisa */
    s->has_amount = 1, s->cmp = cmp, s->paise = v / 10;
    tk->used[i] = 1;
  }
}

static void read_recipients(const toks *tk, slots *s) {
  for (int i = 0; i < tk->n; i++) {
    if (word_in(tk, i, w_owner)) s->to_owner = 1;
    if (word_in(tk, i, w_customer)) s->to_customer = 1;
    if (word_in(tk, i, w_them)) s->them = 1;
  }
  /* "tell me" spelled out: "me" is also an English word inside "let me
   * know"; both mean the owner. */
}

static const char *find_bytes(const char *h, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (!memcmp(h + i, needle, k)) return h + i;
  return NULL;
}

/* The text between the first pair of double quotes (straight or curly),
 * taken as the message the owner wants sent, as written; *qs and *qe get
 * the bytes it spans, quotes included, so its words are not read as the
 * owner's instructions. */
static const char *read_quoted(arena *a, const char *p, size_t n, size_t *qs,
                               size_t *qe) {
  static const char *const open[] = {"\"", "\xE2\x80\x9C", NULL};
  static const char *const close[] = {"\"", "\xE2\x80\x9D", NULL};
  for (int q = 0; open[q]; q++) {
    const char *s = find_bytes(p, n, open[q]);
    if (!s) continue;
    s += strlen(open[q]);
    const char *e = find_bytes(s, n - (size_t)(s - p), close[q]);
    if (!e || e - s < 2) continue;
    *qs = (size_t)(s - p) - strlen(open[q]);
    *qe = (size_t)(e - p) + strlen(close[q]);
    return arena_strndup(a, s, (size_t)(e - s));
  }
  return NULL;
}

/* ---- the graph ------------------------------------------------------- */

typedef struct gb {
  arena *a;
  buf nodes, edges;
  json_obj na, ea;
  const char *last;      /* the node the next one follows */
  const char *last_when; /* the branch of that edge ("true" after a check) */
  int count[8];
} gb;

enum { ID_WAIT, ID_CHECK, ID_SEND, ID_EACH };

static const char *gb_id(gb *g, int kind) {
  static const char *const base[] = {"wait", "check", "send", "each"};
  int n = ++g->count[kind];
  return n == 1 ? base[kind] : arena_printf(g->a, "%s_%d", base[kind], n);
}

static void gb_init(gb *g, arena *a) {
  memset(g, 0, sizeof *g);
  g->a = a;
  buf_init(&g->nodes, 1 << 20);
  buf_init(&g->edges, 1 << 20);
  json_arr_open(&g->na, &g->nodes);
  json_arr_open(&g->ea, &g->edges);
}

/* Adds node id of type with params (JSON object text) after the last. */
static void gb_add(gb *g, const char *id, const char *type,
                   const char *params) {
  json_obj o;
  json_obj_nest(&g->na, NULL, &o);
  json_obj_str(&o, "id", id);
  json_obj_str(&o, "type", type);
  json_obj_raw(&o, "params", params);
  json_obj_close(&o);
  if (g->last) {
    json_obj e;
    json_obj_nest(&g->ea, NULL, &e);
    json_obj_str(&e, "from", g->last);
    json_obj_str(&e, "to", id);
    if (g->last_when) json_obj_str(&e, "when", g->last_when);
    json_obj_close(&e);
  }
  g->last = id;
  g->last_when = !strcmp(type, "condition") ? "true" : NULL;
}

static const char *params1(arena *a, const char *k1, const char *v1,
                           const char *k2, const char *v2) {
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, k1, v1);
  if (k2) json_obj_str(&o, k2, v2);
  json_obj_close(&o);
  const char *r = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return r;
}

static void gb_trigger_event(gb *g, const char *ev) {
  gb_add(g, "trigger", "trigger", params1(g->a, "event", ev, NULL, NULL));
}
static void gb_trigger_cron(gb *g, const slots *s) {
  char cron[64];
  if (s->sched == 3) {
    snprintf(cron, sizeof cron, "%d %d %d * *", s->mm, s->hh, s->dom);
  } else if (s->sched == 2) {
    char d[32] = "";
    size_t l = 0;
    for (int k = 0; k < 7; k++)
      if (s->dow & (1u << k))
        l += (size_t)snprintf(d + l, sizeof d - l, "%s%d", l ? "," : "", k);
    snprintf(cron, sizeof cron, "%d %d * * %s", s->mm, s->hh, d);
  } else {
    snprintf(cron, sizeof cron, "%d %d * * *", s->mm, s->hh);
  }
  gb_add(g, "trigger", "trigger",
         params1(g->a, "cron", cron, "timezone", "Asia/Kolkata"));
}
static void gb_trigger_flag(gb *g, const char *flag) {
  gb_add(g, "trigger", "trigger", arena_printf(g->a, "{\"%s\":true}", flag));
}
static const char *dur_text(arena *a, int64_t secs) {
  if (secs % 86400 == 0) return arena_printf(a, "%" PRId64 "d", secs / 86400);
  if (secs % 3600 == 0) return arena_printf(a, "%" PRId64 "h", secs / 3600);
  return arena_printf(a, "%" PRId64 "m", secs / 60);
}
static void gb_wait(gb *g, int64_t secs) {
  if (secs <= 0) return;
  gb_add(g, gb_id(g, ID_WAIT), "wait",
         params1(g->a, "for", dur_text(g->a, secs), NULL, NULL));
}
static void gb_wait_until(gb *g, const char *expr) {
  gb_add(g, gb_id(g, ID_WAIT), "wait", params1(g->a, "until", expr, NULL, NULL));
}
static void gb_check(gb *g, const char *expr) {
  gb_add(g, gb_id(g, ID_CHECK), "condition",
         params1(g->a, "if", expr, NULL, NULL));
}
static void gb_send(gb *g, const char *to, const char *text) {
  gb_add(g, gb_id(g, ID_SEND), "send_message",
         params1(g->a, "to", to, "text", text));
}
static void gb_each(gb *g, const char *over) {
  gb_add(g, gb_id(g, ID_EACH), "for_each",
         params1(g->a, "over", over, NULL, NULL));
}

/* Paise as an expression's number, in rupees: 15000000 -> "150000",
 * 5000050 -> "50000.50". */
static const char *rupees(arena *a, int64_t paise) {
  if (paise % 100 == 0) return arena_printf(a, "%" PRId64, paise / 100);
  return arena_printf(a, "%" PRId64 ".%02d", paise / 100, (int)(paise % 100));
}

/* ---- texts ----------------------------------------------------------- */

enum {
  M_REMIND,
  M_REMIND_OWNER,
  M_THANK_PAY,
  M_THANK_INV,
  M_WELCOME,
  M_FEEDBACK,
  M_PAY_OWNER,
  M_INV_OWNER,
  M_INV_CUSTOMER,
  M_CANCEL_OWNER,
  M_PAID_OWNER,
  M_LOW_STOCK,
  M_NEW_PRODUCT,
  M_MESSAGE_OWNER,
  M_DEBT_REMIND,
  M_NEW_CUSTOMER_OWNER,
  M_DELIVERED_OWNER,
  M_SHIP_PICKED,
  M_SHIP_TRANSIT,
  M_SHIP_OFD,
  M_SHIP_DELIVERED,
  M_SHIP_OWNER,
  M__N
};

/* [kind][lang]: English, Hinglish, Hindi. {days}: the wait of an
 * escalation, in words. */
static const char *const texts[M__N][3] = {
    [M_REMIND] =
        {"Namaste {{ customer.full_name }}, a reminder that invoice {{ "
         "invoice.invoice_number }} of ₹{{ invoice.total_amount }} is still "
         "unpaid: ₹{{ invoice.balance_due }} is due. Please pay at your "
         "earliest convenience.",
         "Namaste {{ customer.full_name }} ji, aapka invoice {{ "
         "invoice.invoice_number }} (₹{{ invoice.total_amount }}) ka ₹{{ "
         "invoice.balance_due }} abhi baaki hai. Kripya jaldi bhugtan karein.",
         "नमस्ते {{ customer.full_name }} जी, आपके बिल {{ "
         "invoice.invoice_number }} (₹{{ invoice.total_amount }}) का ₹{{ "
         "invoice.balance_due }} अभी बाकी है। कृपया जल्दी भुगतान करें।"},
    [M_REMIND_OWNER] =
        {"Invoice {{ invoice.invoice_number }} of {{ customer.full_name }} is "
         "still unpaid {days}: ₹{{ invoice.balance_due }} due.",
         "{{ customer.full_name }} ka invoice {{ invoice.invoice_number }} "
         "{days} bhi baaki hai: ₹{{ invoice.balance_due }}.",
         "{{ customer.full_name }} का बिल {{ invoice.invoice_number }} {days} "
         "भी बाकी है: ₹{{ invoice.balance_due }}।"},
    [M_THANK_PAY] =
        {"Thank you {{ customer.full_name }}! We have received your payment "
         "of ₹{{ payment.amount_received }}.",
         "Dhanyavaad {{ customer.full_name }} ji! Aapka ₹{{ "
         "payment.amount_received }} ka payment mil gaya hai.",
         "धन्यवाद {{ customer.full_name }} जी! आपका ₹{{ "
         "payment.amount_received }} का भुगतान मिल गया है।"},
    [M_THANK_INV] =
        {"Thank you {{ customer.full_name }}! Invoice {{ "
         "invoice.invoice_number }} of ₹{{ invoice.total_amount }} is now "
         "fully paid.",
         "Dhanyavaad {{ customer.full_name }} ji! Invoice {{ "
         "invoice.invoice_number }} (₹{{ invoice.total_amount }}) ka poora "
         "bhugtan ho gaya hai.",
         "धन्यवाद {{ customer.full_name }} जी! बिल {{ invoice.invoice_number "
         "}} (₹{{ invoice.total_amount }}) का पूरा भुगतान हो गया है।"},
    [M_WELCOME] =
        {"Welcome to {{ business.business_name }}, {{ customer.full_name }}! "
         "Message us here any time for prices, orders and your bills.",
         "{{ business.business_name }} mein aapka swagat hai, {{ "
         "customer.full_name }} ji! Rate, order ya bill ke liye yahin message "
         "karein.",
         "{{ business.business_name }} में आपका स्वागत है, {{ "
         "customer.full_name }} जी! दाम, ऑर्डर या बिल के लिए यहीं संदेश भेजें।"},
    [M_FEEDBACK] =
        {"Namaste {{ customer.full_name }}, your order has been delivered. "
         "How was it? Please reply with your feedback.",
         "Namaste {{ customer.full_name }} ji, aapka order pahunch gaya hai. "
         "Kaisa laga? Apni raay zaroor bhejein.",
         "नमस्ते {{ customer.full_name }} जी, आपका ऑर्डर पहुंच गया है। कैसा "
         "लगा? अपनी राय ज़रूर भेजें।"},
    [M_PAY_OWNER] =
        {"Payment received: ₹{{ payment.amount_received }} from {{ "
         "customer.full_name }} ({{ payment.payment_mode }}).",
         "Payment aaya: {{ customer.full_name }} se ₹{{ "
         "payment.amount_received }} ({{ payment.payment_mode }}).",
         "भुगतान आया: {{ customer.full_name }} से ₹{{ "
         "payment.amount_received }} ({{ payment.payment_mode }})।"},
    [M_INV_OWNER] =
        {"Invoice {{ invoice.invoice_number }} of ₹{{ invoice.total_amount }} "
         "issued to {{ customer.full_name }}.",
         "{{ customer.full_name }} ko invoice {{ invoice.invoice_number }} "
         "(₹{{ invoice.total_amount }}) bana.",
         "{{ customer.full_name }} को बिल {{ invoice.invoice_number }} (₹{{ "
         "invoice.total_amount }}) बना।"},
    [M_INV_CUSTOMER] =
        {"Namaste {{ customer.full_name }}, your invoice {{ "
         "invoice.invoice_number }} of ₹{{ invoice.total_amount }} is ready.",
         "Namaste {{ customer.full_name }} ji, aapka invoice {{ "
         "invoice.invoice_number }} (₹{{ invoice.total_amount }}) taiyaar hai.",
         "नमस्ते {{ customer.full_name }} जी, आपका बिल {{ "
         "invoice.invoice_number }} (₹{{ invoice.total_amount }}) तैयार है।"},
    [M_CANCEL_OWNER] =
        {"Invoice {{ invoice.invoice_number }} of {{ customer.full_name }} "
         "(₹{{ invoice.total_amount }}) was cancelled.",
         "{{ customer.full_name }} ka invoice {{ invoice.invoice_number }} "
         "(₹{{ invoice.total_amount }}) radd hua.",
         "{{ customer.full_name }} का बिल {{ invoice.invoice_number }} (₹{{ "
         "invoice.total_amount }}) रद्द हुआ।"},
    [M_PAID_OWNER] =
        {"Invoice {{ invoice.invoice_number }} of {{ customer.full_name }} "
         "(₹{{ invoice.total_amount }}) is fully paid.",
         "{{ customer.full_name }} ka invoice {{ invoice.invoice_number }} "
         "(₹{{ invoice.total_amount }}) poora chuka diya gaya.",
         "{{ customer.full_name }} का बिल {{ invoice.invoice_number }} (₹{{ "
         "invoice.total_amount }}) पूरा चुका दिया गया।"},
    [M_LOW_STOCK] =
        {"Low stock: {{ product.name }} has {{ product.current_stock }} {{ "
         "product.unit }} left.",
         "Stock kam hai: {{ product.name }} sirf {{ product.current_stock }} "
         "{{ product.unit }} bacha hai.",
         "स्टॉक कम है: {{ product.name }} सिर्फ़ {{ product.current_stock }} "
         "{{ product.unit }} बचा है।"},
    [M_NEW_PRODUCT] =
        {"New product added: {{ product.name }} at ₹{{ product.base_price }}.",
         "Naya product juda: {{ product.name }}, ₹{{ product.base_price }}.",
         "नया प्रोडक्ट जुड़ा: {{ product.name }}, ₹{{ product.base_price }}।"},
    [M_MESSAGE_OWNER] =
        {"New message from {{ customer.full_name }}: {{ message.content }}",
         "{{ customer.full_name }} ka naya message: {{ message.content }}",
         "{{ customer.full_name }} का नया संदेश: {{ message.content }}"},
    [M_DEBT_REMIND] =
        {"Namaste {{ customer.full_name }}, ₹{{ customer.total_debt }} is due "
         "on your account with {{ business.business_name }}. Please pay at "
         "your earliest convenience.",
         "Namaste {{ customer.full_name }} ji, {{ business.business_name }} "
         "mein aapka ₹{{ customer.total_debt }} baaki hai. Kripya jaldi "
         "bhugtan karein.",
         "नमस्ते {{ customer.full_name }} जी, {{ business.business_name }} में "
         "आपका ₹{{ customer.total_debt }} बाकी है। कृपया जल्दी भुगतान करें।"},
    [M_DELIVERED_OWNER] =
        {"Delivered: shipment {{ shipment.awb_number }} ({{ "
         "shipment.courier_name }}) to {{ customer.full_name }}.",
         "Delivery ho gayi: shipment {{ shipment.awb_number }} ({{ "
         "shipment.courier_name }}) {{ customer.full_name }} ko.",
         "डिलीवरी हो गई: शिपमेंट {{ shipment.awb_number }} ({{ "
         "shipment.courier_name }}) {{ customer.full_name }} को।"},
    [M_NEW_CUSTOMER_OWNER] =
        {"New customer: {{ customer.full_name }} ({{ customer.phone_number "
         "}}).",
         "Naya grahak: {{ customer.full_name }} ({{ customer.phone_number }}).",
         "नया ग्राहक: {{ customer.full_name }} ({{ customer.phone_number }})।"},
    /* A shipment's progress told to the customer. The shipment's fields
     * come from the event (trigger.*): the row may have moved on by the
     * time the step runs, the event says what happened. */
    [M_SHIP_PICKED] =
        {"Namaste {{ customer.full_name }}, your order has been picked up by "
         "{{ trigger.courier_name }}. AWB {{ trigger.awb_number }}; track it "
         "at {{ trigger.tracking_url }}",
         "Namaste {{ customer.full_name }} ji, aapka order {{ "
         "trigger.courier_name }} ne utha liya hai. AWB {{ trigger.awb_number "
         "}}; track karein: {{ trigger.tracking_url }}",
         "नमस्ते {{ customer.full_name }} जी, आपका ऑर्डर {{ "
         "trigger.courier_name }} ने उठा लिया है। AWB {{ trigger.awb_number "
         "}}; ट्रैक करें: {{ trigger.tracking_url }}"},
    [M_SHIP_TRANSIT] =
        {"Namaste {{ customer.full_name }}, your order (AWB {{ "
         "trigger.awb_number }}) is on its way.",
         "Namaste {{ customer.full_name }} ji, aapka order (AWB {{ "
         "trigger.awb_number }}) raaste mein hai.",
         "नमस्ते {{ customer.full_name }} जी, आपका ऑर्डर (AWB {{ "
         "trigger.awb_number }}) रास्ते में है।"},
    [M_SHIP_OFD] =
        {"Namaste {{ customer.full_name }}, your order (AWB {{ "
         "trigger.awb_number }}) is out for delivery today.",
         "Namaste {{ customer.full_name }} ji, aapka order (AWB {{ "
         "trigger.awb_number }}) aaj delivery ke liye nikal chuka hai.",
         "नमस्ते {{ customer.full_name }} जी, आपका ऑर्डर (AWB {{ "
         "trigger.awb_number }}) आज डिलीवरी के लिए निकल चुका है।"},
    [M_SHIP_DELIVERED] =
        {"Namaste {{ customer.full_name }}, your order (AWB {{ "
         "trigger.awb_number }}) has been delivered. Thank you for shopping "
         "with {{ business.business_name }}!",
         "Namaste {{ customer.full_name }} ji, aapka order (AWB {{ "
         "trigger.awb_number }}) pahunch gaya hai. {{ business.business_name "
         "}} se kharidne ke liye dhanyavaad!",
         "नमस्ते {{ customer.full_name }} जी, आपका ऑर्डर (AWB {{ "
         "trigger.awb_number }}) पहुंच गया है। {{ business.business_name }} "
         "से खरीदने के लिए धन्यवाद!"},
    [M_SHIP_OWNER] =
        {"Shipment {{ trigger.awb_number }} of {{ customer.full_name }}: {{ "
         "trigger.status }}.",
         "{{ customer.full_name }} ka shipment {{ trigger.awb_number }}: {{ "
         "trigger.status }}.",
         "{{ customer.full_name }} का शिपमेंट {{ trigger.awb_number }}: {{ "
         "trigger.status }}।"},
};

/* The WhatsApp template each message to a customer falls back on outside
 * the 24-hour window (send_message's `template`): the name the owner gives
 * it in WhatsApp Manager and its parameters, in order. */
static const struct {
  int kind;
  const char *name;
  const char *params[4];
} templates[] = {
    {M_REMIND,
     "payment_reminder",
     {"{{ customer.full_name }}", "{{ invoice.invoice_number }}",
      "{{ invoice.total_amount }}", "{{ invoice.balance_due }}"}},
    {M_THANK_PAY,
     "payment_thanks",
     {"{{ customer.full_name }}", "{{ payment.amount_received }}"}},
    {M_THANK_INV,
     "invoice_paid_thanks",
     {"{{ customer.full_name }}", "{{ invoice.invoice_number }}",
      "{{ invoice.total_amount }}"}},
    {M_WELCOME,
     "welcome_customer",
     {"{{ customer.full_name }}", "{{ business.business_name }}"}},
    {M_FEEDBACK, "delivery_feedback", {"{{ customer.full_name }}"}},
    {M_INV_CUSTOMER,
     "invoice_ready",
     {"{{ customer.full_name }}", "{{ invoice.invoice_number }}",
      "{{ invoice.total_amount }}"}},
    {M_DEBT_REMIND,
     "dues_reminder",
     {"{{ customer.full_name }}", "{{ customer.total_debt }}",
      "{{ business.business_name }}"}},
    {M_SHIP_PICKED,
     "shipment_picked_up",
     {"{{ customer.full_name }}", "{{ trigger.courier_name }}",
      "{{ trigger.awb_number }}", "{{ trigger.tracking_url }}"}},
    {M_SHIP_TRANSIT,
     "shipment_in_transit",
     {"{{ customer.full_name }}", "{{ trigger.awb_number }}"}},
    {M_SHIP_OFD,
     "shipment_out_for_delivery",
     {"{{ customer.full_name }}", "{{ trigger.awb_number }}"}},
    {M_SHIP_DELIVERED,
     "shipment_delivered",
     {"{{ customer.full_name }}", "{{ trigger.awb_number }}",
      "{{ business.business_name }}"}},
};

/* A message to the customer: the text, and the template WhatsApp takes
 * when the customer has not written for 24 hours (none for a text the
 * owner wrote: its template cannot be guessed). */
static void gb_send_customer(gb *g, const char *text, int kind,
                             const char *lang) {
  int t = -1;
  for (size_t i = 0; kind >= 0 && i < sizeof templates / sizeof templates[0];
       i++)
    if (templates[i].kind == kind) t = (int)i;
  if (t < 0) {
    gb_send(g, "customer", text);
    return;
  }
  buf b;
  buf_init(&b, 0);
  json_obj o, tp, ps;
  json_obj_open(&o, &b);
  json_obj_str(&o, "to", "customer");
  json_obj_str(&o, "text", text);
  json_obj_nest(&o, "template", &tp);
  json_obj_str(&tp, "name", templates[t].name);
  json_obj_str(&tp, "language", lang);
  json_obj_arr(&tp, "params", &ps);
  for (int k = 0; k < 4 && templates[t].params[k]; k++)
    json_obj_str(&ps, NULL, templates[t].params[k]);
  json_obj_close(&ps);
  json_obj_close(&tp);
  json_obj_close(&o);
  gb_add(g, gb_id(g, ID_SEND), "send_message",
         arena_strdup(g->a, buf_cstr(&b)));
  buf_free(&b);
}

static const char *period_label[4][3] = {
    {"Today's sales", "Aaj ki bikri", "आज की बिक्री"},
    {"Yesterday's sales", "Kal ki bikri", "कल की बिक्री"},
    {"Sales of the last 7 days", "Pichhle 7 din ki bikri",
     "पिछले 7 दिन की बिक्री"},
    {"This month's sales", "Is mahine ki bikri", "इस महीने की बिक्री"},
};
static const char *const period_arg[4] = {"today", "yesterday", "week",
                                          "month"};

/* ---- questions ------------------------------------------------------- */

enum { Q_WHAT, Q_REMIND_WHO, Q_REMIND_WHEN, Q_REPORT_WHEN, Q__N };
static const char *const questions[Q__N][3] = {
    [Q_WHAT] =
        {"What should start this workflow, and what should it do? For "
         "example: \"when a payment comes, thank the customer\" or "
         "\"send me today's sales every day at 9 pm\".",
         "Yeh workflow kab chale aur kya kare? Jaise: \"jab bhi payment "
         "aaye customer ko dhanyavaad bhejo\" ya \"roz raat 9 baje mujhe "
         "aaj ki bikri bhejo\".",
         "यह वर्कफ़्लो कब चले और क्या करे? जैसे: \"जब भी भुगतान आए ग्राहक "
         "को धन्यवाद भेजो\" या \"रोज़ रात 9 बजे मुझे आज की बिक्री भेजो\"।"},
    [Q_REMIND_WHO] =
        {"Remind whom, about what, and when? For example: \"when an invoice "
         "is 3 days overdue, remind the customer; after 7, tell me\".",
         "Kise, kis baare mein aur kab yaad dilana hai? Jaise: \"invoice ke 3 "
         "din baad customer ko yaad dilao, 7 din baad mujhe batao\".",
         "किसे, किस बारे में और कब याद दिलाना है? जैसे: \"बिल के 3 दिन बाद "
         "ग्राहक को याद दिलाओ, 7 दिन बाद मुझे बताओ\"।"},
    [Q_REMIND_WHEN] =
        {"After how many days should the reminder go? For example: \"3 days "
         "after the invoice is issued\".",
         "Kitne din baad yaad dilana hai? Jaise: \"invoice ke 3 din baad\".",
         "कितने दिन बाद याद दिलाना है? जैसे: \"बिल के 3 दिन बाद\"।"},
    [Q_REPORT_WHEN] =
        {"When should I send it? For example: \"every day at 9 pm\" or "
         "\"every Monday at 10 am\".",
         "Kab bhejna hai? Jaise: \"roz raat 9 baje\" ya \"har somvar subah 10 "
         "baje\".",
         "कब भेजना है? जैसे: \"रोज़ रात 9 बजे\" या \"हर सोमवार सुबह 10 बजे\"।"},
};

/* ---- drafting -------------------------------------------------------- */

typedef enum {
  T_NONE,
  T_LOW_STOCK,
  T_REPORT,
  T_FEEDBACK,
  T_WELCOME,
  T_REMIND,
  T_THANK,
  T_NOTIFY,
  T_SHIP_TRACK
} topic_t;

typedef struct drafter {
  arena *a;
  toks tk;
  slots s;
  lang_t lang;
  gb g;
  const char *name;
  int question;
} drafter;

static const char *msg(drafter *d, int kind) {
  return texts[kind][d->lang];
}
static const char *text_or_quoted(drafter *d, int kind) {
  if (d->s.quoted) {
    const char *q = d->s.quoted;
    d->s.quoted = NULL; /* the first message only */
    return q;
  }
  return msg(d, kind);
}

static void send_customer(drafter *d, int kind) {
  int quoted = d->s.quoted != NULL;
  const char *text = text_or_quoted(d, kind);
  gb_send_customer(&d->g, text, quoted ? -1 : kind,
                   d->lang == LANG_HI ? "hi" : "en");
}

static const char *amount_expr(drafter *d, const char *field) {
  if (!d->s.has_amount) return NULL;
  return arena_printf(d->a, "%s %s %s", field, d->s.cmp,
                      rupees(d->a, d->s.paise));
}
static const char *and_expr(drafter *d, const char *a, const char *b) {
  if (!a) return b;
  if (!b) return a;
  return arena_printf(d->a, "%s and %s", a, b);
}

static const char *ask(drafter *d, int q) {
  d->question = 1;
  return questions[q][d->lang];
}

static const char *when_words(drafter *d) {
  static const char *const dn[7] = {"Sunday",    "Monday",   "Tuesday",
                                    "Wednesday", "Thursday", "Friday",
                                    "Saturday"};
  int h12 = d->s.hh % 12 ? d->s.hh % 12 : 12;
  const char *ap = d->s.hh < 12 ? "am" : "pm";
  if (d->s.sched == 3)
    return arena_printf(d->a, "on day %d of every month at %d:%02d %s",
                        d->s.dom, h12, d->s.mm, ap);
  if (d->s.sched == 2) {
    buf b;
    buf_init(&b, 0);
    int k = 0;
    for (int i = 0; i < 7; i++)
      if (d->s.dow & (1u << i)) buf_printf(&b, "%s%s", k++ ? ", " : "", dn[i]);
    const char *r = arena_printf(d->a, "every %s at %d:%02d %s", buf_cstr(&b),
                                 h12, d->s.mm, ap);
    buf_free(&b);
    return r;
  }
  return arena_printf(d->a, "every day at %d:%02d %s", h12, d->s.mm, ap);
}

static const char *wait_words(drafter *d, int64_t secs) {
  const char *u = secs % 86400 == 0  ? "day"
                  : secs % 3600 == 0 ? "hour"
                                     : "minute";
  int64_t n = secs / (secs % 86400 == 0 ? 86400 : secs % 3600 == 0 ? 3600 : 60);
  if (d->lang == LANG_HINGLISH) {
    const char *hu = u[0] == 'd' ? "din" : u[0] == 'h' ? "ghante" : "minute";
    return arena_printf(d->a, "%" PRId64 " %s", n, hu);
  }
  if (d->lang == LANG_HI) {
    const char *hu = u[0] == 'd' ? "दिन" : u[0] == 'h' ? "घंटे" : "मिनट";
    return arena_printf(d->a, "%" PRId64 " %s", n, hu);
  }
  return arena_printf(d->a, "%" PRId64 " %s%s", n, u, n == 1 ? "" : "s");
}

/* A duration for a name, in English words. */
static const char *name_dur(drafter *d, int64_t secs) {
  lang_t l = d->lang;
  d->lang = LANG_EN;
  const char *r = wait_words(d, secs);
  d->lang = l;
  return r;
}

/* tmpl with "{days}" replaced by days. */
static const char *with_days(drafter *d, const char *tmpl, const char *days) {
  const char *m = strstr(tmpl, "{days}");
  if (!m) return tmpl;
  return arena_printf(d->a, "%.*s%s%s", (int)(m - tmpl), tmpl, days, m + 6);
}

static const char *unpaid =
    "invoice.balance_due > 0 and invoice.status != 'cancelled'";

/* The time a wait waits until: the invoice's due date (its date when it
 * has none) moved by secs. */
static const char *due_expr(drafter *d, int64_t secs) {
  const char *base = "date(coalesce(invoice.due_date, invoice.invoice_date))";
  if (secs == 0) return base;
  return arena_printf(d->a, "%s %c %s", base, secs < 0 ? '-' : '+',
                      dur_text(d->a, secs < 0 ? -secs : secs));
}

/* "7 days after it was issued", "7 days after its due date", "3 days
 * before its due date" (ref 0, 1, 2), in the prompt's language. */
static const char *unpaid_since(drafter *d, int64_t secs, int ref) {
  static const char *const f[3][3] = {
      {"%s after it was issued", "issue hone ke %s baad", "जारी होने के %s बाद"},
      {"%s after its due date", "due date ke %s baad", "नियत तारीख के %s बाद"},
      {"%s before its due date", "due date se %s pehle", "नियत तारीख से %s पहले"}};
  const char *fmt = f[ref][d->lang], *h = strstr(fmt, "%s");
  return arena_printf(d->a, "%.*s%s%s", (int)(h - fmt), fmt,
                      wait_words(d, secs), h + 2);
}

/* The reminder on unpaid invoices: after the first wait the customer (or
 * the owner, when only the owner is named), after a later one the owner. */
static void draft_remind(drafter *d) {
  slots *s = &d->s;
  const toks *tk = &d->tk;
  int object =
      has_any(tk, w_invoice) || has_any(tk, w_dues) || has_any(tk, w_payment);
  int debtors_sweep =
      s->sched && (has_any(tk, w_everyone) || find_phrase(tk, "debtors") >= 0 ||
                   has_any(tk, w_dues));
  if (!object) {
    d->name = ask(d, Q_REMIND_WHO);
    return;
  }
  if (s->sched || has_any(tk, w_manual)) {
    if (!debtors_sweep && !has_any(tk, w_manual)) {
      d->name = ask(d, Q_REMIND_WHO);
      return;
    }
    /* Everyone who owes, on a schedule or when the owner runs it. */
    if (s->sched) {
      if (!s->has_time)
        s->has_time = 1, s->hh = 10, s->mm = 0, s->time_defaulted = 1;
      gb_trigger_cron(&d->g, s);
    } else {
      gb_trigger_flag(&d->g, "manual");
    }
    gb_each(&d->g, "debtors");
    const char *c = amount_expr(d, "customer.total_debt");
    if (c) gb_check(&d->g, c);
    send_customer(d, M_DEBT_REMIND);
    d->name = s->has_amount
                  ? arena_printf(d->a, "Remind debtors with dues %s ₹%s",
                                 s->cmp, rupees(d->a, s->paise))
                  : "Remind everyone who owes money";
    return;
  }
  if (s->nwaits == 0) {
    d->name = ask(d, Q_REMIND_WHEN);
    return;
  }
  int cust = s->to_customer || s->them || !s->to_owner;
  int owner = s->to_owner;
  /* Waits count from the invoice's issue, unless one says "more". */
  int64_t at[MAX_WAITS];
  int n = s->nwaits;
  for (int i = 0; i < n; i++) at[i] = s->waits[i].secs;
  for (int i = 1; i < n; i++)
    if (s->waits[i].more || at[i] <= at[i - 1]) at[i] += at[i - 1];
  /* "3 days overdue", "before the due date": the waits count from the
   * invoice's due date (its date when it has none), waits until a time;
   * otherwise from the issue, waits for a duration. */
  int due = has_any(tk, w_due_ref);
  int before = due && has_any(tk, w_before);
  gb_trigger_event(&d->g, "invoice.issued");
  if (due)
    gb_wait_until(&d->g, due_expr(d, before ? -at[0] : at[0]));
  else
    gb_wait(&d->g, at[0]);
  gb_check(&d->g, and_expr(d, unpaid, amount_expr(d, "invoice.total_amount")));
  if (cust) send_customer(d, M_REMIND);
  int64_t last = n >= 2 && cust ? at[n - 1] : at[0];
  const char *when =
      unpaid_since(d, last, due ? (before && last == at[0] ? 2 : 1) : 0);
  if (owner && cust && n >= 2) {
    if (due)
      gb_wait_until(&d->g, due_expr(d, at[n - 1]));
    else
      gb_wait(&d->g, at[n - 1] - at[0]);
    gb_check(&d->g, unpaid);
    gb_send(&d->g, "owner", with_days(d, msg(d, M_REMIND_OWNER), when));
  } else if (owner) {
    gb_send(&d->g, "owner", with_days(d, msg(d, M_REMIND_OWNER), when));
  }
  if (cust && owner && n >= 2)
    d->name =
        arena_printf(d->a, "Remind unpaid invoices after %s, tell me after %s",
                     name_dur(d, at[0]), name_dur(d, at[n - 1]));
  else
    d->name = arena_printf(d->a, "Remind %s of unpaid invoices after %s",
                           cust ? "customers" : "me", name_dur(d, at[0]));
}

static void draft_report(drafter *d, int report) {
  slots *s = &d->s;
  const toks *tk = &d->tk;
  if (!s->sched && s->has_time) s->sched = 1;
  if (!s->sched) {
    d->name = ask(d, Q_REPORT_WHEN);
    return;
  }
  int period = s->sched == 3 ? 3 : s->sched == 2 ? 2 : 0;
  if (has_any(tk, w_today))
    period = 0;
  else if (has_any(tk, w_yesterday))
    period = 1;
  else if (has_any(tk, w_month) && s->sched != 1)
    period = 3;
  else if (has_any(tk, w_week) && s->sched != 1)
    period = 2;
  if (!s->has_time) {
    s->has_time = 1, s->time_defaulted = 1;
    s->hh = period == 0 ? 21 : 9, s->mm = 0;
  }
  gb_trigger_cron(&d->g, s);
  const char *text;
  static const char *const gst_label[3] = {"GST collected", "GST jama hua",
                                           "जमा जीएसटी"};
  static const char *const debt_label[3] = {"Customers who owe you money",
                                            "Kiska kitna baaki hai",
                                            "किसका कितना बाकी है"};
  static const char *const stock_label[3] = {
      "Products running low", "Kam stock wale products", "कम स्टॉक वाले प्रोडक्ट"};
  if (report == 1) {
    const char *p = period == 1 ? "today" : period_arg[period];
    text = arena_printf(d->a, "%s (%s): {{ gst_collected('%s') }}",
                        gst_label[d->lang], p, p);
    d->name = arena_printf(d->a, "GST collected, %s", when_words(d));
  } else if (report == 2) {
    text = arena_printf(d->a, "%s:\n{{ debtors() }}", debt_label[d->lang]);
    d->name = arena_printf(d->a, "Debtors list, %s", when_words(d));
  } else if (report == 3) {
    text = arena_printf(d->a, "%s:\n{{ stock_low() }}", stock_label[d->lang]);
    d->name = arena_printf(d->a, "Low stock list, %s", when_words(d));
  } else {
    text = arena_printf(d->a, "%s:\n{{ sales_summary('%s') }}",
                        period_label[period][d->lang], period_arg[period]);
    d->name = arena_printf(d->a, "Sales summary (%s), %s", period_arg[period],
                           when_words(d));
  }
  if (d->s.quoted)
    text = arena_printf(d->a, "%s\n%s", text_or_quoted(d, 0), text);
  gb_send(&d->g, "owner", text);
}

/* An event, maybe an amount check and a wait, then the message(s). */
static void draft_event(drafter *d, const char *event, const char *amount_field,
                        int cust_kind, int owner_kind, int default_owner,
                        const char *name) {
  slots *s = &d->s;
  gb_trigger_event(&d->g, event);
  if (amount_field && s->has_amount)
    gb_check(&d->g, amount_expr(d, amount_field));
  if (s->nwaits) gb_wait(&d->g, s->waits[0].secs);
  int cust = cust_kind >= 0 && (s->to_customer || (s->them && !s->to_owner) ||
                                (!s->to_owner && !default_owner));
  int owner = owner_kind >= 0 && (s->to_owner || (!cust && default_owner));
  if (!cust && !owner) cust = cust_kind >= 0, owner = !cust;
  if (cust) send_customer(d, cust_kind);
  if (owner) gb_send(&d->g, "owner", text_or_quoted(d, owner_kind));
  d->name = s->has_amount
                ? arena_printf(d->a, "%s %s ₹%s", name,
                               !strcmp(s->cmp, "<") ? "below" : "above",
                               rupees(d->a, s->paise))
                : name;
}

/* The shipment's stages the owner named, each told to the customer (or the
 * owner, when only the owner is named) as a shipment.updated event reaches
 * it: a switch on the EVENT's status (trigger.status), not the row's, so a
 * late event never speaks of a newer stage; other statuses send nothing.
 * "picked up, out for delivery and delivered" -> three branches. */
static void draft_ship_track(drafter *d) {
  const toks *tk = &d->tk;
  static const struct {
    const char *status, *name;
    int kind;
  } stage[] = {{"picked_up", "picked up", M_SHIP_PICKED},
               {"in_transit", "in transit", M_SHIP_TRANSIT},
               {"out_for_delivery", "out for delivery", M_SHIP_OFD},
               {"delivered", "delivered", M_SHIP_DELIVERED}};
  int want[4];
  want[0] = has_any(tk, w_pickup);
  want[1] = has_phrase_in(tk, p_transit) || has_any(tk, w_transit);
  want[2] = has_phrase_in(tk, p_ofd);
  want[3] = has_any(tk, w_delivered) || has_phrase_in(tk, p_delivered);
  int owner = d->s.to_owner && !d->s.to_customer && !d->s.them;
  gb_trigger_event(&d->g, "shipment.updated");
  buf b;
  buf_init(&b, 0);
  json_obj o, cases;
  json_obj_open(&o, &b);
  json_obj_str(&o, "on", "trigger.status");
  json_obj_nest(&o, "cases", &cases);
  for (int i = 0; i < 4; i++)
    if (want[i]) json_obj_str(&cases, stage[i].status, stage[i].status);
  json_obj_close(&cases);
  json_obj_close(&o);
  gb_add(&d->g, "status", "switch", arena_strdup(d->a, buf_cstr(&b)));
  buf_free(&b);
  buf names;
  buf_init(&names, 0);
  int k = 0, n = want[0] + want[1] + want[2] + want[3];
  for (int i = 0; i < 4; i++) {
    if (!want[i]) continue;
    d->g.last = "status";
    d->g.last_when = stage[i].status;
    if (owner)
      gb_send(&d->g, "owner", msg(d, M_SHIP_OWNER));
    else
      send_customer(d, stage[i].kind);
    buf_printf(&names, "%s%s", k == 0 ? "" : k == n - 1 ? " and " : ", ",
               stage[i].name);
    k++;
  }
  d->name = arena_printf(d->a, "Tell %s when a shipment is %s",
                         owner ? "me" : "the customer", buf_cstr(&names));
  buf_free(&names);
}

static topic_t read_topic(drafter *d, int *report) {
  const toks *tk = &d->tk;
  *report = 0;
  int sales = has_any(tk, w_sales), gst = has_any(tk, w_gst);
  int stock = has_any(tk, w_stock), low = has_any(tk, w_low);
  if (stock && low) {
    if (d->s.sched || (d->s.has_time && !d->s.nwaits)) *report = 3;
    return *report ? T_REPORT : T_LOW_STOCK;
  }
  if (sales) return T_REPORT;
  if (gst) return (*report = 1), T_REPORT;
  /* "tell the customer when it is picked up, out for delivery and
   * delivered": the shipment's stages, not a request for feedback */
  if (!has_any(tk, w_feedback) && !d->s.sched &&
      (has_any(tk, w_pickup) || has_phrase_in(tk, p_ofd) ||
       has_phrase_in(tk, p_transit) || has_any(tk, w_transit)))
    return T_SHIP_TRACK;
  /* a delivery told to the owner is news, not a request for feedback */
  if (has_any(tk, w_feedback) ||
      (has_any(tk, w_delivery) && (!d->s.to_owner || d->s.to_customer)))
    return T_FEEDBACK;
  if (has_any(tk, w_delivery)) return T_NOTIFY;
  if (has_any(tk, w_welcome)) return T_WELCOME;
  if (has_any(tk, w_remind)) return T_REMIND;
  /* "send me the list of debtors every Monday": a report to the owner. */
  if (has_any(tk, w_dues) && (d->s.sched || d->s.has_time) && d->s.to_owner &&
      !d->s.to_customer)
    return (*report = 2), T_REPORT;
  if ((has_any(tk, w_dues) || has_phrase_in(tk, p_unpaid)) &&
      !has_any(tk, w_thank) && (d->s.nwaits || d->s.sched))
    return T_REMIND;
  if (has_any(tk, w_thank)) return T_THANK;
  return T_NOTIFY;
}

static void draft(drafter *d) {
  const toks *tk = &d->tk;
  int report;
  topic_t t = read_topic(d, &report);
  int inv = has_any(tk, w_invoice), pay = has_any(tk, w_payment);
  switch (t) {
    case T_LOW_STOCK:
      draft_event(d, "stock.low", NULL, -1, M_LOW_STOCK, 1, "Low stock alert");
      return;
    case T_REPORT:
      draft_report(d, report);
      return;
    case T_FEEDBACK: {
      slots *s = &d->s;
      gb_trigger_event(&d->g, "shipment.updated");
      gb_check(&d->g, "trigger.status == 'delivered'");
      if (s->nwaits) gb_wait(&d->g, s->waits[0].secs);
      send_customer(d, M_FEEDBACK);
      if (s->to_owner) gb_send(&d->g, "owner", msg(d, M_DELIVERED_OWNER));
      d->name = s->nwaits
                    ? arena_printf(d->a, "Ask for feedback %s after delivery",
                                   name_dur(d, s->waits[0].secs))
                    : "Ask for feedback after delivery";
      return;
    }
    case T_WELCOME:
      draft_event(d, "customer.created", NULL, M_WELCOME, M_NEW_CUSTOMER_OWNER,
                  0, "Welcome new customers");
      return;
    case T_REMIND:
      draft_remind(d);
      return;
    case T_THANK:
      if (inv && has_any(tk, w_payment) &&
          !(find_phrase(tk, "paid") >= 0 || find_phrase(tk, "fully") >= 0))
        inv = 0;
      if (inv)
        draft_event(d, "invoice.paid", "invoice.total_amount", M_THANK_INV, -1,
                    0, "Thank customers when an invoice is paid");
      else
        draft_event(d, "payment.received", "payment.amount_received",
                    M_THANK_PAY, -1, 0, "Thank customers for payments");
      return;
    case T_SHIP_TRACK:
      draft_ship_track(d);
      return;
    case T_NOTIFY:
    case T_NONE:
      break;
  }
  /* Something happened: tell someone. A schedule here is an action the
   * drafter cannot make ("create an invoice every month", "a good morning
   * message every day"): asked, never guessed. */
  if (d->s.sched) {
    d->name = ask(d, Q_WHAT);
    return;
  }
  int is_new = has_any(tk, w_new);
  if (has_any(tk, w_delivery)) {
    gb_trigger_event(&d->g, "shipment.updated");
    gb_check(&d->g, "trigger.status == 'delivered'");
    gb_send(&d->g, "owner", text_or_quoted(d, M_DELIVERED_OWNER));
    d->name = "Tell me when an order is delivered";
  } else if (inv && has_any(tk, w_cancel)) {
    draft_event(d, "invoice.cancelled", "invoice.total_amount", -1,
                M_CANCEL_OWNER, 1, "Tell me when an invoice is cancelled");
  } else if (inv && find_phrase(tk, "paid") >= 0) {
    draft_event(d, "invoice.paid", "invoice.total_amount", M_THANK_INV,
                M_PAID_OWNER, 1, "Tell me when an invoice is paid");
  } else if (pay) {
    draft_event(d, "payment.received", "payment.amount_received", M_THANK_PAY,
                M_PAY_OWNER, 1, "Tell me about payments");
  } else if (inv &&
             (has_any(tk, w_issue) || d->s.has_amount || d->s.to_customer)) {
    draft_event(d, "invoice.issued", "invoice.total_amount", M_INV_CUSTOMER,
                M_INV_OWNER, !d->s.to_customer,
                d->s.to_customer && !d->s.to_owner
                    ? "Send new invoices to customers"
                    : "Tell me about new invoices");
  } else if (has_any(tk, w_customer) && is_new) {
    draft_event(d, "customer.created", NULL, M_WELCOME, M_NEW_CUSTOMER_OWNER, 1,
                d->s.to_customer && !d->s.to_owner
                    ? "Welcome new customers"
                    : "Tell me about new customers");
  } else if (has_any(tk, w_product) && is_new) {
    draft_event(d, "product.created", NULL, -1, M_NEW_PRODUCT, 1,
                "Tell me about new products");
  } else if (has_any(tk, w_message) &&
             (has_any(tk, w_customer) || d->s.to_owner)) {
    draft_event(d, "message.received", NULL, -1, M_MESSAGE_OWNER, 1,
                "Tell me about new messages");
  } else {
    d->name = ask(d, Q_WHAT);
  }
}

static const char *lang_name(lang_t l) {
  return l == LANG_HI ? "hi" : l == LANG_HINGLISH ? "hinglish" : "en";
}

const char *arch_prompt_lang(const char *prompt, size_t n) {
  if (!prompt) return "en";
  if (n > ARCH_PROMPT_MAX) {
    n = ARCH_PROMPT_MAX;
    while (n > 0 && ((unsigned char)prompt[n] & 0xC0) == 0x80) n--;
  }
  size_t flen;
  char *f = textfold(prompt, n, &flen);
  if (!f) return "en";
  toks *tk = malloc(sizeof *tk);
  const char *r = "en";
  if (tk) {
    tokenize(f, flen, tk);
    r = lang_name(detect_lang(tk));
    free(tk);
  }
  free(f);
  return r;
}

int arch_draft_rules(arena *a, const char *prompt, size_t n, arch_draft *out) {
  memset(out, 0, sizeof *out);
  if (!prompt) return -1;
  if (n > ARCH_PROMPT_MAX) {
    n = ARCH_PROMPT_MAX;
    while (n > 0 && ((unsigned char)prompt[n] & 0xC0) == 0x80) n--;
  }
  drafter *d = arena_alloc(a, sizeof *d);
  d->a = a;
  size_t qs = 0, qe = 0;
  d->s.quoted = read_quoted(a, prompt, n, &qs, &qe);
  char *words = arena_strndup(a, prompt, n);
  if (d->s.quoted) memset(words + qs, ' ', qe - qs);
  size_t flen;
  char *f = textfold(words, n, &flen);
  if (!f) return -1;
  tokenize(f, flen, &d->tk);
  free(f);
  if (d->tk.n == 0) return -1;
  d->lang = detect_lang(&d->tk);
  read_times(&d->tk, &d->s);
  read_waits(&d->tk, &d->s);
  read_schedule(&d->tk, &d->s);
  read_amount(&d->tk, &d->s);
  read_recipients(&d->tk, &d->s);
  gb_init(&d->g, a);
  draft(d);
  json_obj_close(&d->g.na);
  json_obj_close(&d->g.ea);
  out->lang = lang_name(d->lang);
  if (d->question) {
    out->question = d->name;
  } else {
    out->name = d->name;
    out->nodes = arena_strdup(a, buf_cstr(&d->g.nodes));
    out->edges = arena_strdup(a, buf_cstr(&d->g.edges));
    json *jn, *je;
    json_error jerr;
    if (!json_parse(a, out->nodes, strlen(out->nodes), &jn, &jerr) &&
        !json_parse(a, out->edges, strlen(out->edges), &je, &jerr)) {
      const char *ex = arch_explain(a, jn, je, out->lang);
      static const char *const note[3] = {
          " (No time was given, so I chose %s; change it if you like.)",
          (" (Samay nahi bataya tha, isliye %s rakha hai; chahein to badal "
           "dein.)"),
          " (समय नहीं बताया था, इसलिए %s रखा है; चाहें तो बदल दें।)"};
      if (d->s.time_defaulted) {
        const char *at =
            arena_printf(a, "%d:%02d %s", d->s.hh % 12 ? d->s.hh % 12 : 12,
                         d->s.mm, d->s.hh < 12 ? "am" : "pm");
        const char *h = strstr(note[d->lang], "%s");
        ex = arena_printf(a, "%s%.*s%s%s", ex, (int)(h - note[d->lang]),
                          note[d->lang], at, h + 2);
      }
      out->explanation = ex;
    }
  }
  buf_free(&d->g.nodes);
  buf_free(&d->g.edges);
  return 0;
}
