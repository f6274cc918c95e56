/* intent.c - the offline rules that pick an action (see intent.h).
 *
 * Each action has phrases in English, Hinglish and Devanagari; the first
 * rule in the order below whose phrases occur wins. The order settles the
 * overlaps of everyday speech: "where is my order" is tracking, not an
 * order; "kitna baki hai" is the balance, not a price; "remind all
 * debtors" is the reminder command, not the debtors list; a bare product
 * name asks its price. Phrases of five letters or more also match with a
 * typo (agent_word_match). */
#include "chat/agent/intent.h"

#include <string.h>

static const char *const intent_names[AGENT_N_INTENTS] = {
    "greet",         "help",         "thanks",
    "price",         "availability", "order",
    "confirm_order", "cancel_order", "balance",
    "last_invoice",  "pay",          "track",
    "handover",      "fallback",     "owner_sales_today",
    "owner_debtors", "owner_stock",  "owner_remind_all",
};

const char *agent_intent_name(agent_intent i) {
  return i >= 0 && i < AGENT_N_INTENTS ? intent_names[i] : "fallback";
}

int agent_intent_from_name(const char *s) {
  for (int i = 0; s && i < AGENT_N_INTENTS; i++)
    if (!strcmp(s, intent_names[i])) return i;
  return -1;
}

int agent_intent_is_owner(agent_intent i) {
  return i >= AGENT_OWNER_SALES_TODAY && i <= AGENT_OWNER_REMIND_ALL;
}

#define L(...) ((const char *const[]){__VA_ARGS__, NULL})

/* A keyword of five letters or more also matches with a typo ("pirce",
 * "balanse"); shorter ones only exactly or as plurals, so that "rice" is
 * never "price". */
static int any(const agent_tokens *tk, const char *const *phrases) {
  for (int i = 0; phrases[i]; i++) {
    int fuzzy = agent_utf8_len(phrases[i]) >= 5 && !strchr(phrases[i], ' ');
    if (agent_has_phrase(tk, phrases[i], fuzzy, NULL)) return 1;
  }
  return 0;
}

/* Short answers are matched exactly: "na" and "ha" are too short to
 * guess at. */
static const char *const confirm_words[] = {
    "yes",   "y",     "yeah",  "yep",  "haan",    "han",     "haa",
    "ha",    "hanji", "ok",    "okay", "okk",     "confirm", "confirmed",
    "sure",  "done",  "theek", "thik", "chalega", "bilkul",  "pakka",
    "हाँ",    "हां",    "हा",    "जी",   "ठीक",     "पक्का",    "ओके",
    "बिल्कुल", "कन्फर्म", NULL};

static const char *const cancel_words[] = {
    "no",       "nahi",     "nahin", "nhi",  "na",   "cancel", "mat",
    "rehne do", "rahne do", "nope",  "dont", "stop", "रद्द",    "नहीं",
    "नही",      "मत",       "कैंसल",   "ना",   NULL};

agent_intent agent_classify(const agent_tokens *tk, const agent_facts *f) {
  if (f->from_owner) {
    if (any(tk, L("remind", "reminder", "reminders", "yaad", "याद", "रिमाइंडर")))
      return AGENT_OWNER_REMIND_ALL;
    if (any(tk, L("who owes", "owes", "owe me", "debtors", "debtor", "udhar",
                  "udhaar", "kisne", "kis ne", "paise dene", "dues", "बकाया",
                  "उधार", "किसने", "देनदार")))
      return AGENT_OWNER_DEBTORS;
    if (any(tk, L("sales", "sale", "bikri", "becha", "revenue", "galla",
                  "बिक्री", "सेल", "गल्ला")))
      return AGENT_OWNER_SALES_TODAY;
    if (any(tk, L("stock", "inventory", "maal", "स्टॉक", "माल")))
      return AGENT_OWNER_STOCK;
  }
  if (f->has_pending && any(tk, cancel_words)) return AGENT_CANCEL_ORDER;
  if (f->has_pending && f->n_products == 0 && any(tk, confirm_words))
    return AGENT_CONFIRM_ORDER;
  if (any(tk, L("cancel", "कैंसल", "रद्द"))) return AGENT_CANCEL_ORDER;
  if (any(tk, L("human", "person", "real person", "owner", "manager", "malik",
                "call me", "talk to", "speak to", "insaan", "aadmi",
                "baat karni", "baat karo", "baat karna", "customer care",
                "इंसान", "आदमी", "मालिक", "व्यक्ति", "बात करनी", "बात करना")))
    return AGENT_HANDOVER;
  if (any(tk, L("track", "tracking", "shipment", "shipped", "delivery",
                "deliver", "delivered", "dispatch", "dispatched", "courier",
                "kab aayega", "kab ayega", "kab milega", "kahan hai",
                "kaha hai", "where is", "where's", "status", "डिलीवरी",
                "कब आएगा", "कब मिलेगा", "कहाँ है", "कहां है", "ट्रैक")))
    return AGENT_TRACK;
  if (any(tk, L("pay", "payment", "upi", "qr", "gpay", "phonepe", "paytm",
                "bhugtan", "भुगतान", "पेमेंट", "पे")))
    return AGENT_PAY;
  if (any(tk,
          L("balance", "due", "dues", "owe", "outstanding", "hisaab", "hisab",
            "baki", "baaki", "bakaya", "udhar", "udhaar", "statement",
            "kitna dena", "बकाया", "हिसाब", "बाकी", "उधार", "कितना देना")))
    return AGENT_BALANCE;
  if (any(tk, L("invoice", "bill", "receipt", "challan", "बिल", "चालान",
                "इनवॉइस", "रसीद")))
    return AGENT_LAST_INVOICE;
  const char *const *order_words =
      L("order", "bhej", "bhejo", "bhejdo", "bhejiye", "bhejna", "chahiye",
        "want", "need", "send", "buy", "dena", "dedo", "de do", "dijiye",
        "lena", "book", "mangana", "mangwana", "भेज", "भेजो", "भेजिए", "भेजें",
        "भेज दो", "चाहिए", "दीजिए", "दे दो", "ऑर्डर", "मंगाना");
  const char *const *price_words =
      L("price", "rate", "cost", "kitna", "kitne", "kitni", "bhav", "bhaav",
        "daam", "dam", "mrp", "how much", "price list", "rate list", "दाम",
        "भाव", "कीमत", "रेट", "कितने", "कितना", "कितनी", "मूल्य");
  const char *const *avail_words =
      L("available", "availability", "in stock", "stock", "hai kya", "milega",
        "milta", "mil jayega", "do you have", "have", "उपलब्ध", "मिलेगा", "स्टॉक",
        "है क्या");
  if (f->n_products > 0) {
    /* "2 kg atta ka rate" asks a price; "2 kg atta" or "2 kg atta bhej
     * do" orders. */
    if (any(tk, order_words)) return AGENT_ORDER;
    if (any(tk, price_words)) return AGENT_PRICE;
    if (any(tk, avail_words)) return AGENT_AVAILABILITY;
    return f->has_quantity ? AGENT_ORDER : AGENT_PRICE;
  }
  if (any(tk, price_words)) return AGENT_PRICE;
  if (any(tk, L("order", "ऑर्डर"))) return AGENT_ORDER;
  if (any(tk, L("thanks", "thank", "thx", "ty", "shukriya", "dhanyavad",
                "dhanyawad", "dhanyavaad", "धन्यवाद", "शुक्रिया", "ok", "okay",
                "great", "badhiya", "बढ़िया")))
    return AGENT_THANKS;
  if (any(tk, L("help", "menu", "madad", "options", "what can you do", "सहायता",
                "मदद")))
    return AGENT_HELP;
  if (any(tk, L("hi", "hii", "hiii", "hello", "helo", "hey", "namaste",
                "namaskar", "namastey", "good morning", "good evening",
                "good afternoon", "salaam", "salam", "ram ram", "नमस्ते",
                "नमस्कार", "प्रणाम", "राम राम", "हेलो", "हाय")))
    return AGENT_GREET;
  return AGENT_FALLBACK;
}
