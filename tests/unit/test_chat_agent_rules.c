/* test_chat_agent_rules.c - the agent's pure text functions (src/chat/agent):
 * the language of a message, the product names (synonyms in three scripts,
 * plurals, typos), quantities and units, the intent rules, the number
 * formats and templates of the replies, agent_state and the LLM's request
 * and answer. No database. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "biz/upi.h"
#include "chat/agent/intent.h"
#include "chat/agent/lexicon.h"
#include "chat/agent/llm.h"
#include "chat/agent/qty.h"
#include "chat/agent/reply.h"
#include "chat/agent/state.h"
#include "chat/agent/text.h"

/* The shop of these tests. */
enum { ATTA, RICE, OIL, SUGAR, MUSTARD_OIL };
static const char *const names[] = {"Wheat Atta 10kg", "Basmati Rice",
                                    "Sunflower Oil", "Sugar", "Mustard Oil"};
static const char *const units[] = {"kg", "kg", "l", "kg", "l"};
#define NP 5

static agent_catalog *cat(arena *a) {
  return agent_catalog_new(a, names, NP);
}

static agent_tokens tk;

static const agent_tokens *toks(const char *s) {
  assert_int_equal(agent_tokenize(s, strlen(s), &tk), 0);
  return &tk;
}

/* ---- language
 * ----------------------------------------------------------------- */

static void test_language(void **state) {
  (void)state;
  static const struct {
    const char *text;
    agent_lang lang;
  } cases[] = {
      {"rice ka rate kya hai", AGENT_LANG_HINGLISH},
      {"mera hisaab bhejo", AGENT_LANG_HINGLISH},
      {"2 kg atta bhej do", AGENT_LANG_HINGLISH},
      {"aaj ki bikri", AGENT_LANG_HINGLISH},
      {"Haan bhai", AGENT_LANG_HINGLISH},
      {"What is the price of rice?", AGENT_LANG_EN},
      {"2 bags of rice and 3 oil", AGENT_LANG_EN},
      {"I want to talk to a person", AGENT_LANG_EN},
      {"चावल का दाम क्या है", AGENT_LANG_HI},
      {"दो किलो चावल भेजो", AGENT_LANG_HI},
      {"मेरा हिसाब", AGENT_LANG_HI},
      {"rice का दाम क्या है", AGENT_LANG_HI},
      {"ok", AGENT_LANG_UNKNOWN},
      {"2", AGENT_LANG_UNKNOWN},
      {"", AGENT_LANG_UNKNOWN},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    agent_lang l = agent_detect_lang(toks(cases[i].text));
    if (l != cases[i].lang)
      fail_msg("\"%s\": %s, wanted %s", cases[i].text, agent_lang_name(l),
               agent_lang_name(cases[i].lang));
  }
  assert_int_equal(agent_lang_from_name("hinglish"), AGENT_LANG_HINGLISH);
  assert_int_equal(agent_lang_from_name("fr"), AGENT_LANG_UNKNOWN);
}

/* ---- words
 * -------------------------------------------------------------------- */

static void test_tokens(void **state) {
  (void)state;
  const agent_tokens *t = toks("2kg ATTA, २.५ किलो!! 1.2345 x");
  assert_int_equal(t->n, 7);
  assert_true(t->t[0].is_num);
  assert_int_equal(t->t[0].num, 2000);
  assert_string_equal(t->t[1].s, "kg");
  assert_string_equal(t->t[2].s, "atta");
  assert_true(t->t[3].is_num); /* Devanagari digits */
  assert_int_equal(t->t[3].num, 2500);
  assert_string_equal(t->t[4].s, "किलो");
  /* Four decimals are not a quantity: a word, nothing rounded. */
  assert_false(t->t[5].is_num);
  /* Invalid UTF-8: nothing. */
  agent_tokens bad;
  assert_int_equal(agent_tokenize("\xff\xfe", 2, &bad), -1);
  assert_int_equal(bad.n, 0);
  /* A long message is read up to the caps. */
  char big[5000];
  for (size_t i = 0; i < sizeof big - 1; i++) big[i] = i % 3 ? 'a' : ' ';
  big[sizeof big - 1] = 0;
  assert_int_equal(agent_tokenize(big, strlen(big), &bad), 0);
  assert_true(bad.n <= AGENT_TOKENS_MAX);

  assert_int_equal(agent_edit_distance("chawal", "chaval", 2), 1);
  assert_int_equal(agent_edit_distance("गेहूं", "गेहूँ", 2), 1);
  assert_int_equal(agent_edit_distance("abc", "xyzuvw", 2), 3);
  assert_int_equal(agent_word_match("rice", "rice"), 3);
  assert_int_equal(agent_word_match("bags", "bag"), 2);
  assert_int_equal(agent_word_match("batteries", "battery"), 2);
  assert_int_equal(agent_word_match("basmti", "basmati"), 1);
  assert_int_equal(agent_word_match("price", "rice"), 0);
  assert_int_equal(agent_word_match("tal", "tel"), 0); /* short: exact only */
}

/* ---- the lexicon
 * -------------------------------------------------------------- */

static int product_of(agent_catalog *c, const char *text) {
  agent_mention m[AGENT_MENTIONS_MAX];
  int n = agent_find_products(c, toks(text), m, AGENT_MENTIONS_MAX);
  return n >= 1 ? m[0].product : -1;
}

static void test_lexicon(void **state) {
  (void)state;
  arena *a = arena_new();
  agent_catalog *c = cat(a);
  static const struct {
    const char *text;
    int product;
  } cases[] = {
      {"atta", ATTA},
      {"aata", ATTA},
      {"ATTA ka rate", ATTA},
      {"wheat flour price", ATTA},
      {"gehun ka atta bhejo", ATTA},
      {"गेहूं का आटा", ATTA},
      {"गेहूँ का आटा चाहिए", ATTA},
      {"आटा", ATTA},
      {"attaa", ATTA},
      {"chawal", RICE},
      {"chaawal kitne ka hai", RICE},
      {"चावल", RICE},
      {"rice", RICE},
      {"rices", RICE},
      {"basmti rice", RICE},
      {"basmati", RICE},
      {"sugar", SUGAR},
      {"cheeni", SUGAR},
      {"चीनी", SUGAR},
      {"sugars", SUGAR},
      {"suger", SUGAR},
      {"mustard oil", MUSTARD_OIL},
      {"sarson ka tel", MUSTARD_OIL},
      {"sunflower oil", OIL},
      {"price", -1},
      {"rate kya hai", -1},
      {"hello", -1},
      {"2 kg", -1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int p = product_of(c, cases[i].text);
    if (p != cases[i].product)
      fail_msg("\"%s\": product %d, wanted %d", cases[i].text, p,
               cases[i].product);
  }
  /* "oil" alone is a product whose name says oil. */
  int p = product_of(c, "oil");
  assert_true(p == OIL || p == MUSTARD_OIL);
  assert_int_equal(product_of(c, "tel"), p);
  assert_int_equal(product_of(c, "तेल"), p);
  /* Two products in one message. */
  agent_mention m[AGENT_MENTIONS_MAX];
  assert_int_equal(agent_find_products(c, toks("atta aur chawal"), m, 16), 2);
  assert_int_equal(m[0].product, ATTA);
  assert_int_equal(m[1].product, RICE);
  assert_int_equal(agent_catalog_lookup(c, "Basmati Rice"), RICE);
  assert_int_equal(agent_catalog_lookup(c, "caviar"), -1);
  /* An empty shop names nothing. */
  agent_catalog *none = agent_catalog_new(a, NULL, 0);
  assert_int_equal(agent_find_products(none, toks("atta"), m, 16), 0);
  arena_free(a);
}

/* ---- quantities
 * --------------------------------------------------------------- */

typedef struct want_line {
  int product;
  int64_t qty; /* 0: no quantity said */
} want_line;

static void check_lines(agent_catalog *c, const char *text, const want_line *w,
                        int nw) {
  agent_mention m[AGENT_MENTIONS_MAX];
  agent_line l[AGENT_MENTIONS_MAX];
  int nm = agent_find_products(c, toks(text), m, AGENT_MENTIONS_MAX);
  int n = agent_read_lines(&tk, m, nm, units, l, AGENT_MENTIONS_MAX);
  if (n != nw) fail_msg("\"%s\": %d lines, wanted %d", text, n, nw);
  for (int i = 0; i < n; i++) {
    if (l[i].product != w[i].product || l[i].qty != w[i].qty ||
        l[i].has_qty != (w[i].qty > 0))
      fail_msg("\"%s\" line %d: product %d qty %lld, wanted %d qty %lld", text,
               i, l[i].product, (long long)l[i].qty, w[i].product,
               (long long)w[i].qty);
  }
}

#define LINES(text, ...)                                       \
  do {                                                         \
    const want_line w_[] = {__VA_ARGS__};                      \
    check_lines(c, text, w_, (int)(sizeof w_ / sizeof w_[0])); \
  } while (0)

static void test_quantities(void **state) {
  (void)state;
  arena *a = arena_new();
  agent_catalog *c = cat(a);
  LINES("2 bags of rice and 3 sugar", {RICE, 2000}, {SUGAR, 3000});
  LINES("2 kg atta bhej do", {ATTA, 2000});
  LINES("2kg atta", {ATTA, 2000});
  LINES("2.5 kg atta", {ATTA, 2500});
  LINES("दो किलो चावल", {RICE, 2000});
  LINES("ढाई किलो आटा भेजो", {ATTA, 2500});
  LINES("२ किलो चीनी", {SUGAR, 2000});
  LINES("dedh kilo cheeni", {SUGAR, 1500});
  LINES("teen kilo chawal aur do kilo atta", {RICE, 3000}, {ATTA, 2000});
  LINES("500 g sugar", {SUGAR, 500});
  LINES("250 gm cheeni", {SUGAR, 250});
  LINES("1 litre mustard oil", {MUSTARD_OIL, 1000});
  LINES("500 ml sunflower oil", {OIL, 500});
  LINES("atta 2 kg, rice 3 kg", {ATTA, 2000}, {RICE, 3000});
  LINES("atta 5", {ATTA, 5000});
  LINES("atta bhej do", {ATTA, 0});
  LINES("send atta and sugar", {ATTA, 0}, {SUGAR, 0});
  LINES("I want 5 kg sugar", {SUGAR, 5000});
  LINES("1 dozen sugar", {SUGAR, 12000});
  LINES("2 kg atta and 3 kg atta", {ATTA, 5000});
  /* Not exact in the product's unit: no quantity rather than a rounded
   * one. */
  LINES("0.5 g sugar", {SUGAR, 0});
  LINES("2 litre atta", {ATTA, 0});
  LINES("1.2345 kg atta", {ATTA, 0});

  int64_t v;
  assert_int_equal(agent_qty_convert(2000, AGENT_UNIT_KG, "g", &v), 0);
  assert_int_equal(v, 2000000);
  assert_int_equal(agent_qty_convert(1500, AGENT_UNIT_NONE, "Kg", &v), 0);
  assert_int_equal(v, 1500);
  assert_int_equal(agent_qty_convert(0, AGENT_UNIT_NONE, "kg", &v), -1);
  assert_int_equal(agent_number_word("paanch"), 5000);
  assert_int_equal(agent_number_word("आधा"), 500);
  assert_int_equal(agent_number_word("atta"), 0);
  const char *canon;
  assert_int_equal(agent_unit_of("किलो", &canon), AGENT_UNIT_KG);
  assert_string_equal(canon, "kg");
  arena_free(a);
}

/* ---- intents
 * ------------------------------------------------------------------ */

static agent_intent classify(agent_catalog *c, const char *text, int pending,
                             int owner) {
  agent_mention m[AGENT_MENTIONS_MAX];
  agent_line l[AGENT_MENTIONS_MAX];
  int nm = agent_find_products(c, toks(text), m, AGENT_MENTIONS_MAX);
  int n = agent_read_lines(&tk, m, nm, units, l, AGENT_MENTIONS_MAX);
  agent_facts f = {
      .from_owner = owner, .has_pending = pending, .n_products = nm};
  for (int i = 0; i < n; i++) f.has_quantity |= l[i].has_qty;
  return agent_classify(&tk, &f);
}

static void test_intents(void **state) {
  (void)state;
  arena *a = arena_new();
  agent_catalog *c = cat(a);
  static const struct {
    const char *text;
    int pending, owner;
    agent_intent want;
  } cases[] = {
      {"hi", 0, 0, AGENT_GREET},
      {"Hello!", 0, 0, AGENT_GREET},
      {"Namaste ji", 0, 0, AGENT_GREET},
      {"नमस्ते", 0, 0, AGENT_GREET},
      {"good morning", 0, 0, AGENT_GREET},
      {"help", 0, 0, AGENT_HELP},
      {"menu", 0, 0, AGENT_HELP},
      {"मदद", 0, 0, AGENT_HELP},
      {"thanks", 0, 0, AGENT_THANKS},
      {"thank you!", 0, 0, AGENT_THANKS},
      {"shukriya", 0, 0, AGENT_THANKS},
      {"धन्यवाद", 0, 0, AGENT_THANKS},
      {"rice price", 0, 0, AGENT_PRICE},
      {"rice ka rate kya hai", 0, 0, AGENT_PRICE},
      {"What is the price of atta?", 0, 0, AGENT_PRICE},
      {"how much is sugar", 0, 0, AGENT_PRICE},
      {"चावल का दाम क्या है", 0, 0, AGENT_PRICE},
      {"चीनी कितने की है", 0, 0, AGENT_PRICE},
      {"atta", 0, 0, AGENT_PRICE},
      {"price list", 0, 0, AGENT_PRICE},
      {"rate batao", 0, 0, AGENT_PRICE},
      {"2 kg atta ka rate kya hai", 0, 0, AGENT_PRICE},
      {"price of 5 kg sugar", 0, 0, AGENT_PRICE},
      {"do you have 2 kg sugar", 0, 0, AGENT_AVAILABILITY},
      {"3 sugar", 0, 0, AGENT_ORDER},
      {"I need 2 kg atta, what is the price", 0, 0, AGENT_ORDER},
      {"is atta available?", 0, 0, AGENT_AVAILABILITY},
      {"atta milega?", 0, 0, AGENT_AVAILABILITY},
      {"do you have sugar", 0, 0, AGENT_AVAILABILITY},
      {"क्या आटा उपलब्ध है", 0, 0, AGENT_AVAILABILITY},
      {"2 bags of rice and 3 sugar", 0, 0, AGENT_ORDER},
      {"2 kg atta bhej do", 0, 0, AGENT_ORDER},
      {"दो किलो चावल भेजो", 0, 0, AGENT_ORDER},
      {"send atta", 0, 0, AGENT_ORDER},
      {"I want 5 kg sugar", 0, 0, AGENT_ORDER},
      {"cheeni chahiye", 0, 0, AGENT_ORDER},
      {"order karna hai", 0, 0, AGENT_ORDER},
      {"haan", 1, 0, AGENT_CONFIRM_ORDER},
      {"Haan / Yes", 1, 0, AGENT_CONFIRM_ORDER},
      {"yes", 1, 0, AGENT_CONFIRM_ORDER},
      {"ok", 1, 0, AGENT_CONFIRM_ORDER},
      {"confirm", 1, 0, AGENT_CONFIRM_ORDER},
      {"हाँ", 1, 0, AGENT_CONFIRM_ORDER},
      {"हां जी", 1, 0, AGENT_CONFIRM_ORDER},
      {"theek hai", 1, 0, AGENT_CONFIRM_ORDER},
      {"Nahi / No", 1, 0, AGENT_CANCEL_ORDER},
      {"no", 1, 0, AGENT_CANCEL_ORDER},
      {"nahi chahiye", 1, 0, AGENT_CANCEL_ORDER},
      {"नहीं", 1, 0, AGENT_CANCEL_ORDER},
      {"cancel the order", 0, 0, AGENT_CANCEL_ORDER},
      {"yes", 0, 0, AGENT_FALLBACK},
      {"2 kg sugar", 1, 0, AGENT_ORDER},
      {"mera hisaab bhejo", 0, 0, AGENT_BALANCE},
      {"what is my balance", 0, 0, AGENT_BALANCE},
      {"kitna baki hai", 0, 0, AGENT_BALANCE},
      {"मेरा हिसाब", 0, 0, AGENT_BALANCE},
      {"how much do I owe", 0, 0, AGENT_BALANCE},
      {"last bill", 0, 0, AGENT_LAST_INVOICE},
      {"send my invoice", 0, 0, AGENT_LAST_INVOICE},
      {"पिछला बिल", 0, 0, AGENT_LAST_INVOICE},
      {"how do I pay", 0, 0, AGENT_PAY},
      {"payment kaise karu", 0, 0, AGENT_PAY},
      {"upi link bhejo", 0, 0, AGENT_PAY},
      {"भुगतान कैसे करें", 0, 0, AGENT_PAY},
      {"where is my order", 0, 0, AGENT_TRACK},
      {"order kab aayega", 0, 0, AGENT_TRACK},
      {"track my delivery", 0, 0, AGENT_TRACK},
      {"मेरा ऑर्डर कहाँ है", 0, 0, AGENT_TRACK},
      {"I want to talk to a person", 0, 0, AGENT_HANDOVER},
      {"kisi insaan se baat karni hai", 0, 0, AGENT_HANDOVER},
      {"मालिक से बात करनी है", 0, 0, AGENT_HANDOVER},
      {"asdfgh", 0, 0, AGENT_FALLBACK},
      {"the weather is nice", 0, 0, AGENT_FALLBACK},
      {"sales today", 0, 1, AGENT_OWNER_SALES_TODAY},
      {"aaj ki bikri", 0, 1, AGENT_OWNER_SALES_TODAY},
      {"आज की बिक्री", 0, 1, AGENT_OWNER_SALES_TODAY},
      {"who owes me", 0, 1, AGENT_OWNER_DEBTORS},
      {"kisne paise dene hai", 0, 1, AGENT_OWNER_DEBTORS},
      {"बकाया किसका है", 0, 1, AGENT_OWNER_DEBTORS},
      {"stock of rice", 0, 1, AGENT_OWNER_STOCK},
      {"chawal ka stock", 0, 1, AGENT_OWNER_STOCK},
      {"remind all debtors", 0, 1, AGENT_OWNER_REMIND_ALL},
      {"sabko yaad dilao", 0, 1, AGENT_OWNER_REMIND_ALL},
      /* The owner's phone can still order like anyone. */
      {"2 kg atta", 0, 1, AGENT_ORDER},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    agent_intent got =
        classify(c, cases[i].text, cases[i].pending, cases[i].owner);
    if (got != cases[i].want)
      fail_msg("\"%s\" (pending %d, owner %d): %s, wanted %s", cases[i].text,
               cases[i].pending, cases[i].owner, agent_intent_name(got),
               agent_intent_name(cases[i].want));
  }
  /* A customer's "sales today" is no command. */
  assert_false(agent_intent_is_owner(classify(c, "sales today", 0, 0)));
  assert_false(agent_intent_is_owner(classify(c, "remind all debtors", 0, 0)));
  for (int i = 0; i < AGENT_N_INTENTS; i++)
    assert_int_equal(agent_intent_from_name(agent_intent_name(i)), i);
  assert_int_equal(agent_intent_from_name("launch_rockets"), -1);
  arena_free(a);
}

/* ---- replies
 * ------------------------------------------------------------------ */

static void test_formats(void **state) {
  (void)state;
  char m[AGENT_MONEY_MAX], q[32], r[16], d[24];
  agent_money(123450, m);
  assert_string_equal(m, "₹1,234.50");
  agent_money(12345600, m);
  assert_string_equal(m, "₹1,23,456.00");
  agent_money(1000000000000LL, m);
  assert_string_equal(m, "₹10,00,00,00,000.00");
  agent_money(5, m);
  assert_string_equal(m, "₹0.05");
  agent_money(99900, m);
  assert_string_equal(m, "₹999.00");
  agent_money(-1200, m);
  assert_string_equal(m, "-₹12.00");
  agent_qty_text(2000, q);
  assert_string_equal(q, "2");
  agent_qty_text(2500, q);
  assert_string_equal(q, "2.5");
  agent_qty_text(250, q);
  assert_string_equal(q, "0.25");
  agent_qty_text(1, q);
  assert_string_equal(q, "0.001");
  agent_rate_text(500, r);
  assert_string_equal(r, "5%");
  agent_rate_text(1250, r);
  assert_string_equal(r, "12.5%");
  agent_rate_text(25, r);
  assert_string_equal(r, "0.25%");
  agent_date_text(20788, d); /* 2026-12-01 */
  assert_string_equal(d, "1 Dec 2026");

  buf b;
  buf_init(&b, 0);
  biz_upi_link(&b, "shop@upi", "Ram & Sons", 123450, "Dues of Sita", NULL);
  assert_string_equal(buf_cstr(&b),
                      "upi://pay?pa=shop%40upi&pn=Ram%20%26%20"
                      "Sons&am=1234.50&cu=INR&tn=Dues%20of%20Sita");
  buf_reset(&b);
  /* with the invoice's reference, a UTF-8 name, and no amount */
  biz_upi_link(&b, "shop@upi", "\xe0\xa4\xb0\xe0\xa4\xbe\xe0\xa4\xae", 0,
               "Invoice INV/26-27/0001", "INV/26-27/0001");
  assert_string_equal(buf_cstr(&b),
                      "upi://pay?pa=shop%40upi&pn=%E0%A4%B0%E0%A4%BE%E0%A4%AE"
                      "&cu=INR&tn=Invoice%20INV%2F26-27%2F0001"
                      "&tr=INV%2F26-27%2F0001");
  buf_reset(&b);
  /* A bidi override (U+202E) or isolate (U+2066..U+2069), a mark, or a
   * control character in the payee's name or the note never reaches the
   * link: a UPI app would show "Ram Sons" spoofed as another payee. */
  biz_upi_link(&b, "shop@upi", "Ram\xe2\x80\xae Sons\xe2\x81\xa6\x01",
               100, "Dues\xe2\x80\x8f\xe2\x81\xa9 of\nSita\x7f", NULL);
  assert_string_equal(buf_cstr(&b), "upi://pay?pa=shop%40upi&pn=Ram%20Sons"
                                    "&am=1.00&cu=INR&tn=Dues%20of%20Sita");
  buf_reset(&b);
  {
    /* biz_text_clean: every listed character goes, the rest stays (the
     * Devanagari, an invalid byte, a newline when kept). */
    static const char in[] =
        "a\xe2\x80\xaa\xe2\x80\xab\xe2\x80\xac\xe2\x80\xad\xe2\x80\xae"
        "b\xe2\x81\xa6\xe2\x81\xa7\xe2\x81\xa8\xe2\x81\xa9" "c\xe2\x80\x8e"
        "\xd8\x9c\xc2\x85\x1b[0m\td\ne\xe0\xa4\xb0\xe2\x80\xa9\xff";
    char out[sizeof in];
    size_t n = biz_text_clean(out, in, sizeof in - 1, 1);
    assert_string_equal(out, "abc[0m d\ne\xe0\xa4\xb0\xe2\x80\xa9\xff");
    assert_int_equal(n, strlen(out));
    biz_text_clean(out, in, sizeof in - 1, 0);
    assert_string_equal(out, "abc[0m d e\xe0\xa4\xb0\xe2\x80\xa9\xff");
    /* a sequence cut at the end of the input is copied, not overrun */
    biz_text_clean(out, "x\xe2\x80", 3, 0);
    assert_string_equal(out, "x\xe2\x80");
  }

  /* No template holds a number of its own: every digit of a reply comes
   * from the books through a hole. */
  for (int msg = 0; msg < R_N_MESSAGES; msg++)
    for (int l = 0; l < AGENT_LANGS; l++) {
      buf_reset(&b);
      agent_say(&b, (agent_lang)l, (agent_msg)msg, NULL, 0);
      assert_true(b.len > 0 || msg == R_N_MESSAGES);
      agent_tokens t;
      assert_int_equal(agent_tokenize(b.data, b.len, &t), 0);
      for (int k = 0; k < t.n; k++)
        if (t.t[k].is_num)
          fail_msg("message %d language %d holds the number %s", msg, l,
                   t.t[k].s);
    }
  const char *args[] = {"Atta", "₹40.00", "5%", "₹42.00", "kg"};
  buf_reset(&b);
  agent_say(&b, AGENT_LANG_HI, R_PRICE_LINE, args, 5);
  assert_string_equal(buf_cstr(&b),
                      "Atta का दाम: ₹40.00 + 5% जीएसटी = ₹42.00 प्रति kg");
  buf_reset(&b);
  agent_say(&b, AGENT_LANG_UNKNOWN, R_PRICE_LINE, args, 5);
  assert_string_equal(buf_cstr(&b), "Atta: ₹40.00 + 5% GST = ₹42.00 per kg");
  buf_free(&b);
}

/* ---- memory and the LLM
 * ------------------------------------------------------- */

static void test_state(void **state) {
  (void)state;
  arena *a = arena_new();
  agent_state s;
  agent_state_read(a,
                   "{\"lang\":\"hi\",\"fallbacks\":1,\"pending\":[{"
                   "\"product_id\":\"0190A000-0000-7000-8000-000000000001\","
                   "\"quantity\":\"2.500\"},{\"product_id\":\"x\","
                   "\"quantity\":1},{\"product_id\":"
                   "\"0190a000-0000-7000-8000-000000000002\",\"quantity\":3}],"
                   "\"other\":true}",
                   &s);
  assert_int_equal(s.lang, AGENT_LANG_HI);
  assert_int_equal(s.fallbacks, 1);
  assert_int_equal(s.n_pending, 2);
  assert_string_equal(s.pending[0].product_id,
                      "0190a000-0000-7000-8000-000000000001");
  assert_int_equal(s.pending[0].qty, 2500);
  assert_int_equal(s.pending[1].qty, 3000);
  buf b;
  buf_init(&b, 0);
  agent_state_write(&b, &s);
  assert_string_equal(buf_cstr(&b),
                      "{\"lang\":\"hi\",\"fallbacks\":1,\"pending\":[{"
                      "\"product_id\":\"0190a000-0000-7000-8000-000000000001\","
                      "\"quantity\":\"2.500\"},{\"product_id\":"
                      "\"0190a000-0000-7000-8000-000000000002\",\"quantity\":"
                      "\"3.000\"}]}");
  agent_state_read(a, "not json", &s);
  assert_int_equal(s.n_pending, 0);
  assert_int_equal(s.lang, AGENT_LANG_UNKNOWN);
  buf_free(&b);
  arena_free(a);
}

static void test_llm_shapes(void **state) {
  (void)state;
  arena *a = arena_new();
  agent_turn h[] = {{1, "hi"}, {0, "Hello!"}};
  agent_llm_in in = {.model = "gpt-test",
                     .business = "Sharma Kirana",
                     .products = names,
                     .n_products = NP,
                     .history = h,
                     .n_history = 2,
                     .text = "2 kg atta"};
  buf b;
  buf_init(&b, 0);
  agent_llm_request(&b, &in);
  json *j;
  json_error je;
  assert_int_equal(json_parse(a, b.data, b.len, &j, &je), 0);
  assert_string_equal(json_get(j, "model")->str, "gpt-test");
  assert_string_equal(json_get(j, "tool_choice")->str, "required");
  const json *msgs = json_get(j, "messages");
  assert_int_equal(msgs->n, 4);
  assert_string_equal(json_get(msgs->items[3], "content")->str, "2 kg atta");
  const json *tools = json_get(j, "tools");
  /* The owner's commands only for the owner. */
  assert_int_equal(tools->n, AGENT_OWNER_SALES_TODAY);
  in.from_owner = 1;
  buf_reset(&b);
  agent_llm_request(&b, &in);
  assert_int_equal(json_parse(a, b.data, b.len, &j, &je), 0);
  assert_int_equal(json_get(j, "tools")->n, AGENT_N_INTENTS);

  const char *name;
  const json *args;
  const char *ans =
      "{\"id\":\"c1\",\"choices\":[{\"index\":0,\"message\":{\"role\":"
      "\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_1\","
      "\"type\":\"function\",\"function\":{\"name\":\"order\",\"arguments\":"
      "\"{\\\"items\\\":[{\\\"product\\\":\\\"atta\\\",\\\"quantity\\\":2}]}\"}"
      "}]},\"finish_reason\":\"tool_calls\"}]}";
  assert_int_equal(agent_llm_parse(a, ans, strlen(ans), &name, &args), 0);
  assert_string_equal(name, "order");
  assert_int_equal(json_get(args, "items")->n, 1);
  const char *noargs =
      "{\"choices\":[{\"message\":{\"tool_calls\":[{"
      "\"function\":{\"name\":\"balance\",\"arguments\":\"\"}}]}}]}";
  assert_int_equal(agent_llm_parse(a, noargs, strlen(noargs), &name, &args), 0);
  assert_string_equal(name, "balance");
  const char *text_only =
      "{\"choices\":[{\"message\":{\"content\":\"Atta is "
      "Rs 40\"}}]}";
  assert_int_equal(
      agent_llm_parse(a, text_only, strlen(text_only), &name, &args), -1);
  assert_int_equal(agent_llm_parse(a, "<html>", 6, &name, &args), -1);
  const char *badargs =
      "{\"choices\":[{\"message\":{\"tool_calls\":[{"
      "\"function\":{\"name\":\"order\",\"arguments\":\"[1\"}}]}}]}";
  assert_int_equal(agent_llm_parse(a, badargs, strlen(badargs), &name, &args),
                   -1);
  buf_free(&b);
  arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_language), cmocka_unit_test(test_tokens),
      cmocka_unit_test(test_lexicon),  cmocka_unit_test(test_quantities),
      cmocka_unit_test(test_intents),  cmocka_unit_test(test_formats),
      cmocka_unit_test(test_state),    cmocka_unit_test(test_llm_shapes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
