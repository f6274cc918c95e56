/* reply.c - the agent's texts and number formats (see reply.h).
 *
 * One row per message, one column per language: English, Hinglish (Hindi
 * in Latin letters, as customers write it), Hindi in Devanagari. A test
 * (test_chat_agent_rules) checks that no template holds a digit. */
#include "chat/agent/reply.h"

#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"

static const char *const texts[R_N_MESSAGES][AGENT_LANGS] = {
    [R_GREET] =
        {"Hello! This is {1}. I can tell you prices and stock, take your "
         "order, tell you your balance and last bill, send a payment link and "
         "track your delivery.",
         "Namaste! {1} mein aapka swagat hai. Main rate aur stock bata sakta "
         "hoon, order le sakta hoon, aapka hisaab aur bill bata sakta hoon, "
         "payment link bhej sakta hoon aur delivery track kar sakta hoon.",
         "नमस्ते! {1} में आपका स्वागत है। मैं दाम और स्टॉक बता सकता हूँ, "
         "ऑर्डर ले सकता हूँ, आपका हिसाब और बिल बता सकता हूँ, भुगतान लिंक भेज "
         "सकता हूँ और डिलीवरी ट्रैक कर सकता हूँ।"},
    [R_HELP] =
        {"You can ask: \"rice price\", \"is atta available\", \"send atta and "
         "oil\", \"my balance\", \"last bill\", \"how to pay\", \"where is my "
         "order\", or \"talk to a person\".",
         "Aap pooch sakte hain: \"rice ka rate\", \"atta milega\", \"atta aur "
         "tel bhejo\", \"mera hisaab\", \"last bill\", \"payment kaise "
         "karein\", "
         "\"order kahan hai\", ya \"kisi insaan se baat karni hai\".",
         "आप पूछ सकते हैं: \"चावल का दाम\", \"आटा मिलेगा\", \"आटा और तेल "
         "भेजो\", \"मेरा हिसाब\", \"आखिरी बिल\", \"भुगतान कैसे करें\", \"ऑर्डर "
         "कहाँ है\", या \"किसी व्यक्ति से बात करनी है\"।"},
    [R_THANKS] = {"You're welcome! Happy to help.",
                  "Koi baat nahi, dhanyavaad!", "आपका धन्यवाद! सेवा में हाज़िर।"},
    [R_PRICE_LINE] = {"{1}: {2} + {3} GST = {4} per {5}",
                      "{1} ka rate: {2} + {3} GST = {4} per {5}",
                      "{1} का दाम: {2} + {3} जीएसटी = {4} प्रति {5}"},
    [R_PRICE_LINE_NOGST] = {"{1}: {2} per {5}", "{1} ka rate: {2} per {5}",
                            "{1} का दाम: {2} प्रति {5}"},
    [R_PRICE_LIST] = {"Our prices:", "Hamare rate:", "हमारे दाम:"},
    [R_AVAIL_YES] = {"Yes, {1} is in stock: {2} {3} available.",
                     "Haan, {1} available hai: {2} {3} stock mein hai.",
                     "हाँ, {1} उपलब्ध है: {2} {3} स्टॉक में है।"},
    [R_AVAIL_NO] = {"Sorry, {1} is out of stock right now.",
                    "Maaf kijiye, {1} abhi stock mein nahi hai.",
                    "माफ़ कीजिए, {1} अभी स्टॉक में नहीं है।"},
    [R_ORDER_HEAD] = {"Your order:", "Aapka order:", "आपका ऑर्डर:"},
    [R_ORDER_LINE] = {"- {1} {2} {3}: {4}", "- {1} {2} {3}: {4}",
                      "- {1} {2} {3}: {4}"},
    [R_ORDER_TOTAL] = {"Total {1} (with GST). Shall I confirm the order?",
                       "Total {1} (GST ke saath). Order confirm karein?",
                       "कुल {1} (जीएसटी सहित)। ऑर्डर पक्का करें?"},
    [R_ORDER_WHICH] = {"What would you like to order? Tell me the product and "
                       "how much.",
                       "Kya order karna hai? Product aur kitna chahiye, "
                       "batayein.",
                       "क्या ऑर्डर करना है? सामान और कितना चाहिए, बताइए।"},
    [R_CONFIRMED] = {"Order confirmed. Invoice {1}, total {2}. Thank you!",
                     "Order pakka ho gaya. Bill {1}, total {2}. Dhanyavaad!",
                     "ऑर्डर पक्का हो गया। बिल {1}, कुल {2}। धन्यवाद!"},
    [R_NOTHING_PENDING] = {"There is no order waiting to be confirmed.",
                           "Abhi koi order confirm hone ke liye nahi hai.",
                           "अभी पक्का करने के लिए कोई ऑर्डर नहीं है।"},
    [R_CANCELLED] = {"Okay, I have dropped that order.",
                     "Theek hai, order cancel kar diya.",
                     "ठीक है, ऑर्डर रद्द कर दिया।"},
    [R_ORDER_FAILED] = {"Sorry, the order could not be booked: {1}",
                        "Maaf kijiye, order nahi ban paya: {1}",
                        "माफ़ कीजिए, ऑर्डर नहीं बन पाया: {1}"},
    [R_BALANCE_DUE] = {"Your balance due is {1}.", "Aapka baaki {1} hai.",
                       "आपका बकाया {1} है।"},
    [R_BALANCE_NONE] = {"You have no dues. Thank you!",
                        "Aapka koi baaki nahi hai. Dhanyavaad!",
                        "आपका कोई बकाया नहीं है। धन्यवाद!"},
    [R_BALANCE_CREDIT] = {"You have no dues, and {1} in advance with us.",
                          "Aapka koi baaki nahi hai, {1} advance jama hai.",
                          "आपका कोई बकाया नहीं है, {1} अग्रिम जमा है।"},
    [R_NO_ACCOUNT] = {"I could not find your account with us yet.",
                      "Aapka khata abhi hamare paas nahi mila.",
                      "आपका खाता अभी हमारे पास नहीं मिला।"},
    [R_LAST_INVOICE] = {"Your last invoice is {1} of {2}: total {3}, due {4}.",
                        "Aapka last bill {1}, {2} ka: total {3}, baaki {4}.",
                        "आपका आखिरी बिल {1}, {2} का: कुल {3}, बकाया {4}।"},
    [R_NO_INVOICE] = {"You have no invoices yet.",
                      "Abhi tak koi bill nahi hai.", "अभी तक कोई बिल नहीं है।"},
    [R_PAY_LINK] = {"Please pay {1} by UPI: {2}",
                    "Kripya {1} UPI se bhejiye: {2}",
                    "कृपया {1} यूपीआई से भेजिए: {2}"},
    [R_PAY_NOTHING] = {"You have nothing to pay right now.",
                       "Abhi aapko kuch nahi dena hai.",
                       "अभी आपको कुछ नहीं देना है।"},
    [R_PAY_NO_UPI] = {"Your due is {1}. Please ask the shop how to pay.",
                      "Aapka baaki {1} hai. Payment ka tareeka dukaan se "
                      "poochiye.",
                      "आपका बकाया {1} है। भुगतान का तरीका दुकान से पूछिए।"},
    [R_TRACK] = {"Your order {1}: {2}.", "Aapka order {1}: {2}.",
                 "आपका ऑर्डर {1}: {2}।"},
    [R_TRACK_COURIER] = {" Courier {1}, AWB {2}.", " Courier {1}, AWB {2}.",
                         " कूरियर {1}, AWB {2}।"},
    [R_TRACK_LINK] = {" Track it here: {1}", " Yahan track karein: {1}",
                      " यहाँ ट्रैक करें: {1}"},
    [R_TRACK_SCAN] = {" Latest update: {1} ({2}).",
                       " Taaza update: {1} ({2}).",
                       " ताज़ा अपडेट: {1} ({2})।"},
    [R_NOT_SHIPPED] = {"Your order {1} has not shipped yet.",
                       "Aapka order {1} abhi ship nahi hua hai.",
                       "आपका ऑर्डर {1} अभी भेजा नहीं गया है।"},
    [R_HANDOVER] = {"Sure, a person from the shop will answer you here soon.",
                    "Zaroor, dukaan se koi aapko yahin jaldi jawab dega.",
                    "ज़रूर, दुकान से कोई व्यक्ति आपको यहीं जल्द जवाब देगा।"},
    [R_FALLBACK] = {"Sorry, I did not understand. I can help with prices, "
                    "orders, your balance, payment and delivery.",
                    "Maaf kijiye, samajh nahi aaya. Main rate, order, hisaab, "
                    "payment aur delivery mein madad kar sakta hoon.",
                    "माफ़ कीजिए, समझ नहीं आया। मैं दाम, ऑर्डर, हिसाब, भुगतान और "
                    "डिलीवरी में मदद कर सकता हूँ।"},
    [R_UNKNOWN_PRODUCT] = {"Sorry, I could not find that product.",
                           "Maaf kijiye, yeh product nahi mila.",
                           "माफ़ कीजिए, यह सामान नहीं मिला।"},
    [R_OWNER_SALES] = {"Sales today: {1} invoices, total {2}. Payments "
                       "received: {3}.",
                       "Aaj ki bikri: {1} bill, total {2}. Payment aaya: {3}.",
                       "आज की बिक्री: {1} बिल, कुल {2}। भुगतान आया: {3}।"},
    [R_OWNER_DEBTORS_HEAD] = {"Customers with dues:", "Jinka baaki hai:",
                              "जिनका बकाया है:"},
    [R_OWNER_DEBTOR_LINE] = {"- {1}: {2}", "- {1}: {2}", "- {1}: {2}"},
    [R_OWNER_NO_DEBTORS] = {"Nobody owes you money.", "Kisi ka baaki nahi hai.",
                            "किसी का बकाया नहीं है।"},
    [R_OWNER_STOCK_LINE] = {"- {1}: {2} {3}", "- {1}: {2} {3}",
                            "- {1}: {2} {3}"},
    [R_OWNER_REMINDED] = {"Reminders queued: {1}. Not sent: {2} (no chat, or "
                          "the chat window is closed and no template is set).",
                          "Reminder bheje: {1}. Nahi bheje: {2} (chat nahi, ya "
                          "window band hai aur template nahi hai).",
                          "रिमाइंडर भेजे: {1}। नहीं भेजे: {2} (चैट नहीं, या "
                          "विंडो बंद है और टेम्पलेट नहीं है)।"},
    [R_REMINDER] = {"Hello {1}, a reminder from {2}: your balance due is {3}.",
                    "Namaste {1}, {2} se yaad dilana: aapka baaki {3} hai.",
                    "नमस्ते {1}, {2} से याद दिलाना: आपका बकाया {3} है।"},
    [R_OWNER_NOTE] =
        {"{1} ({2}) asked for a person: \"{3}\"",
         "{1} ({2}) kisi insaan se baat karna chahte hain: \"{3}\"",
         "{1} ({2}) किसी व्यक्ति से बात करना चाहते हैं: \"{3}\""},
};

void agent_say(buf *b, agent_lang l, agent_msg m, const char *const *args,
               int n) {
  if (m < 0 || m >= R_N_MESSAGES) return;
  if (l < 0 || l >= AGENT_LANGS) l = AGENT_LANG_EN;
  const char *t = texts[m][l];
  if (!t) t = texts[m][AGENT_LANG_EN];
  while (*t) {
    if (t[0] == '{' && t[1] >= '1' && t[1] <= '9' && t[2] == '}') {
      int k = t[1] - '1';
      if (k < n && args[k]) buf_puts(b, args[k]);
      t += 3;
      continue;
    }
    buf_putc(b, *t++);
  }
}

/* ---- numbers
 * -------------------------------------------------------------------- */

void agent_money(int64_t paise, char out[AGENT_MONEY_MAX]) {
  /* |INT64_MIN| does not fit: money never comes near it (GST_MONEY_MAX). */
  int neg = paise < 0;
  uint64_t v = neg ? (uint64_t)0 - (uint64_t)paise : (uint64_t)paise;
  uint64_t rupees = v / 100, p = v % 100;
  char digits[24];
  int nd = snprintf(digits, sizeof digits, "%llu", (unsigned long long)rupees);
  /* Indian grouping: the last three digits, then pairs (12,34,567). */
  char grouped[40];
  int g = 0;
  for (int i = 0; i < nd; i++) {
    int left = nd - i; /* digits from here to the end */
    if (i > 0 && (left == 3 || (left > 3 && (left - 3) % 2 == 0)))
      grouped[g++] = ',';
    grouped[g++] = digits[i];
  }
  grouped[g] = '\0';
  /* 19 digits and 6 commas at most: always fits. */
  snprintf(out, AGENT_MONEY_MAX, "%s₹%.30s.%02u", neg ? "-" : "", grouped,
           (unsigned)p);
}

void agent_qty_text(int64_t q, char out[32]) {
  int neg = q < 0;
  uint64_t v = neg ? (uint64_t)0 - (uint64_t)q : (uint64_t)q;
  uint64_t whole = v / 1000;
  unsigned frac = (unsigned)(v % 1000);
  if (!frac) {
    snprintf(out, 32, "%s%llu", neg ? "-" : "", (unsigned long long)whole);
    return;
  }
  char f[4];
  snprintf(f, sizeof f, "%03u", frac);
  int fl = 3;
  while (fl > 0 && f[fl - 1] == '0') fl--;
  snprintf(out, 32, "%s%llu.%.*s", neg ? "-" : "", (unsigned long long)whole,
           fl, f);
}

void agent_rate_text(int64_t r, char out[16]) {
  char q[32];
  /* Hundredths as thousandths: the same shortest form, one place less. */
  agent_qty_text(r * 10, q);
  snprintf(out, 16, "%.14s%%", q);
}

void agent_date_text(int32_t days, char out[24]) {
  static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  int64_t y;
  unsigned m, d;
  civil_from_days(days, &y, &m, &d);
  snprintf(out, 24, "%u %s %lld", d, mon[(m - 1) % 12], (long long)y);
}
