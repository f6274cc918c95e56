/* architect_explain.c - a blueprint told in plain words (architect.h).
 *
 * Any graph, the offline drafter's or a model's, is walked from its
 * trigger: what starts it, then each step in the order the edges take,
 * the branches of a condition as "if …" and "if not (…)". Conditions the
 * drafter writes are said in words ("the invoice is still unpaid", "the
 * payment is above ₹50000"); any other is quoted as written. The owner
 * reads this before activating the draft, so it says only what the graph
 * does, in the language the owner wrote in (English, Hinglish, Hindi). */
#include <stdio.h>
#include <string.h>

#include "flow/architect.h"
#include "flow/blueprint.h"

enum { EN, HG, HI }; /* the languages, as arch_draft.lang names them */

static int lang_index(const char *lang) {
  if (lang && !strcmp(lang, "hinglish")) return HG;
  if (lang && !strcmp(lang, "hi")) return HI;
  return EN;
}

static const struct {
  const char *event, *words[3];
} event_words[] = {
    {"invoice.created", {"an invoice is created", "invoice bane", "बिल बने"}},
    {"invoice.issued",
     {"an invoice is issued", "invoice jaari ho", "बिल जारी हो"}},
    {"invoice.paid",
     {"an invoice is fully paid", "invoice poora chuke", "बिल पूरा चुके"}},
    {"invoice.cancelled",
     {"an invoice is cancelled", "invoice radd ho", "बिल रद्द हो"}},
    {"payment.received", {"a payment is received", "payment aaye", "भुगतान आए"}},
    {"customer.created",
     {"a new customer is added", "naya customer jude", "नया ग्राहक जुड़े"}},
    {"product.created",
     {"a new product is added", "naya product jude", "नया प्रोडक्ट जुड़े"}},
    {"stock.low",
     {"a product's stock falls to its low-stock level",
      "kisi product ka stock kam ho", "किसी प्रोडक्ट का स्टॉक कम हो"}},
    {"message.received", {"a message comes in", "message aaye", "संदेश आए"}},
    {"shipment.updated",
     {"a shipment's status changes", "shipment ka status badle",
      "शिपमेंट का स्टेटस बदले"}},
};

enum {
  P_WHEN,
  P_WHEN_EVENT,
  P_WEBHOOK,
  P_MANUAL,
  P_DAILY,
  P_WEEKLY,
  P_MONTHLY,
  P_SCHEDULE,
  P_TZ,
  P_THEN,
  P_IF,
  P_IFNOT,
  P_SEND,
  P_FOREACH,
  P_STOP,
  P_DRAFT,
  P_NO_TRIGGER,
  P_CUSTOMER,
  P_OWNER,
  P_WAIT,
  P_WAIT_UNTIL,
  P_CALL,
  P_TEMPLATE,
  P__N
};
/* %s holes in the order the code fills them. */
static const char *const phrase[P__N][3] = {
    [P_WHEN] = {"When %s", "Jab %s", "जब %s"},
    [P_WHEN_EVENT] = {"When the event %s happens", "Jab %s event aaye",
                      "जब %s इवेंट आए"},
    [P_WEBHOOK] = {"When its webhook URL is called",
                   "Jab iska webhook URL bulaya jaye",
                   "जब इसका वेबहुक URL बुलाया जाए"},
    [P_MANUAL] = {"When you run it", "Jab aap ise chalayein", "जब आप इसे चलाएँ"},
    [P_DAILY] = {"Every day at %s", "Roz %s baje", "रोज़ %s बजे"},
    [P_WEEKLY] = {"Every %s at %s", "Har %s %s baje", "हर %s %s बजे"},
    [P_MONTHLY] = {"On day %s of every month at %s",
                   "Har mahine ki %s tarikh ko %s baje",
                   "हर महीने की %s तारीख को %s बजे"},
    [P_SCHEDULE] = {"On the schedule \"%s\"", "Schedule \"%s\" par",
                    "शेड्यूल \"%s\" पर"},
    [P_TZ] = {" (%s time)", " (%s samay)", " (%s समय)"},
    [P_THEN] = {"; then ", "; phir ", "; फिर "},
    [P_IF] = {"if ", "agar ", "अगर "},
    [P_IFNOT] = {"if not (", "agar nahi (", "अगर नहीं ("},
    [P_SEND] = {"send %s a WhatsApp message", "%s ko WhatsApp message bhejo",
                "%s को WhatsApp संदेश भेजो"},
    [P_FOREACH] = {"for %s", "%s ke liye", "%s के लिए"},
    [P_STOP] = {"stop", "ruk jao", "रुक जाओ"},
    [P_DRAFT] = {". It is saved as a draft: nothing runs until you activate "
                 "it.",
                 ". Yeh draft hai: jab tak aap ise activate nahi karte, kuch "
                 "nahi chalega.",
                 "। यह ड्राफ़्ट है: जब तक आप इसे चालू नहीं करते, कुछ नहीं "
                 "चलेगा।"},
    [P_NO_TRIGGER] = {"This graph has no trigger.",
                      "Is graph mein koi trigger nahi hai.",
                      "इस ग्राफ़ में कोई ट्रिगर नहीं है।"},
    [P_CUSTOMER] = {"the customer", "customer", "ग्राहक"},
    [P_OWNER] = {"you (the owner)", "aap (owner)", "आप (मालिक)"},
    [P_WAIT] = {"wait %s", "%s ruko", "%s रुको"},
    [P_WAIT_UNTIL] = {"wait until %s", "%s tak ruko", "%s तक रुको"},
    [P_CALL] = {"call %s", "%s ko call karo", "%s को कॉल करो"},
    [P_TEMPLATE] = {" (outside WhatsApp's 24-hour window: the approved "
                    "template \"%s\")",
                    " (WhatsApp ki 24 ghante ki window ke baahar: approved "
                    "template \"%s\")",
                    " (WhatsApp की 24 घंटे की विंडो के बाहर: मंज़ूर टेम्पलेट "
                    "\"%s\")"},
};

typedef struct walk {
  const json *nodes, *edges;
  unsigned char seen[BP_MAX_NODES];
  buf *b;
  int steps;
  int lang;
} walk;

/* Appends phrase p with up to two string arguments (a fixed table: the
 * format is ours, never the graph's). */
static void say(walk *w, int p, const char *a1, const char *a2) {
  const char *f = phrase[p][w->lang];
  const char *h1 = strstr(f, "%s");
  if (!h1) {
    buf_puts(w->b, f);
    return;
  }
  buf_append(w->b, f, (size_t)(h1 - f));
  buf_puts(w->b, a1 ? a1 : "");
  const char *rest = h1 + 2, *h2 = strstr(rest, "%s");
  if (!h2) {
    buf_puts(w->b, rest);
    return;
  }
  buf_append(w->b, rest, (size_t)(h2 - rest));
  buf_puts(w->b, a2 ? a2 : "");
  buf_puts(w->b, h2 + 2);
}

static const char *str_param(const json *node, const char *key) {
  const json *v = json_get(json_get(node, "params"), key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

static int all_digits(const char *s, size_t n) {
  if (!n) return 0;
  for (size_t i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

/* The cron forms the drafter writes, in words; others quoted. */
static void cron_words(walk *w, const char *cron, const char *tz) {
  char f[5][32];
  int n = 0;
  for (const char *s = cron; *s && n < 5;) {
    while (*s == ' ') s++;
    size_t l = strcspn(s, " ");
    if (!l || l >= sizeof f[0]) break;
    memcpy(f[n], s, l);
    f[n++][l] = 0;
    s += l;
  }
  static const char *const dn[3][8] = {
      {"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday",
       "Saturday", "Sunday"},
      {"Ravivar", "Somvar", "Mangalvar", "Budhvar", "Guruvar", "Shukravar",
       "Shanivar", "Ravivar"},
      {"रविवार", "सोमवार", "मंगलवार", "बुधवार", "गुरुवार", "शुक्रवार", "शनिवार",
       "रविवार"}};
  int done = 0;
  if (n == 5 && all_digits(f[0], strlen(f[0])) && strlen(f[0]) <= 2 &&
      all_digits(f[1], strlen(f[1])) && strlen(f[1]) <= 2 &&
      !strcmp(f[3], "*")) {
    int m = 0, h = 0;
    for (char *p = f[0]; *p; p++) m = m * 10 + (*p - '0');
    for (char *p = f[1]; *p; p++) h = h * 10 + (*p - '0');
    char at[32];
    snprintf(at, sizeof at, "%d:%02d %s", h % 12 ? h % 12 : 12, m % 60,
             h < 12 ? "am" : "pm");
    if (!strcmp(f[2], "*") && !strcmp(f[4], "*")) {
      say(w, P_DAILY, at, NULL);
      done = 1;
    } else if (!strcmp(f[2], "*")) {
      buf days;
      buf_init(&days, 0);
      int k = 0, ok = 1;
      for (char *p = f[4]; *p; p++) {
        if (*p >= '0' && *p <= '7')
          buf_printf(&days, "%s%s", k++ ? ", " : "", dn[w->lang][*p - '0']);
        else if (*p != ',')
          ok = 0;
      }
      if (ok && k) {
        say(w, P_WEEKLY, buf_cstr(&days), at);
        done = 1;
      }
      buf_free(&days);
    } else if (!strcmp(f[4], "*") && all_digits(f[2], strlen(f[2]))) {
      say(w, P_MONTHLY, f[2], at);
      /* cron skips the months without that day */
      static const char *const skip[3] = {
          " (months without that day are skipped)",
          " (jin mahino mein yeh tarikh nahi, unmein nahi)",
          " (जिन महीनों में यह तारीख नहीं, उनमें नहीं)"};
      if (strlen(f[2]) == 2 && strcmp(f[2], "29") >= 0) buf_puts(w->b, skip[w->lang]);
      done = 1;
    }
  }
  if (!done) say(w, P_SCHEDULE, cron, NULL);
  say(w, P_TZ, tz && *tz ? tz : "Asia/Kolkata", NULL);
}

static void trigger_words(walk *w, const json *node) {
  const json *p = json_get(node, "params");
  const char *ev = str_param(node, "event"), *cron = str_param(node, "cron");
  if (ev) {
    for (size_t i = 0; i < sizeof event_words / sizeof event_words[0]; i++)
      if (!strcmp(ev, event_words[i].event)) {
        say(w, P_WHEN, event_words[i].words[w->lang], NULL);
        return;
      }
    say(w, P_WHEN_EVENT, ev, NULL);
  } else if (cron) {
    cron_words(w, cron, str_param(node, "timezone"));
  } else if (json_get(p, "webhook")) {
    say(w, P_WEBHOOK, NULL, NULL);
  } else {
    say(w, P_MANUAL, NULL, NULL);
  }
}

/* "a op n" of a known field in words; 0 when it is not one. */
static int clause_words(walk *w, buf *b, const char *c, size_t n) {
  static const struct {
    const char *clause, *words[3];
  } fixed[] = {
      {"invoice.balance_due > 0",
       {"the invoice is still unpaid", "invoice abhi baaki ho",
        "बिल अभी बाकी हो"}},
      {"invoice.status != 'paid'",
       {"the invoice is still unpaid", "invoice abhi baaki ho",
        "बिल अभी बाकी हो"}},
      {"invoice.status != 'cancelled'", {"", "", ""}},
      {"shipment.status == 'delivered'",
       {"the shipment is delivered", "shipment pahunch gaya ho",
        "शिपमेंट पहुंच गया हो"}},
      /* the event's status (shipment.updated's payload) */
      {"trigger.status == 'delivered'",
       {"the shipment is delivered", "shipment pahunch gaya ho",
        "शिपमेंट पहुंच गया हो"}},
      {"trigger.status == 'picked_up'",
       {"the shipment is picked up", "shipment pick up ho gaya ho",
        "शिपमेंट पिक अप हो गया हो"}},
      {"trigger.status == 'in_transit'",
       {"the shipment is in transit", "shipment raaste mein ho",
        "शिपमेंट रास्ते में हो"}},
      {"trigger.status == 'out_for_delivery'",
       {"the shipment is out for delivery",
        "shipment delivery ke liye nikla ho",
        "शिपमेंट डिलीवरी के लिए निकला हो"}},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strlen(fixed[i].clause) == n && !memcmp(c, fixed[i].clause, n)) {
      buf_puts(b, fixed[i].words[w->lang]);
      return 1;
    }
  static const struct {
    const char *field, *words[3];
  } fields[] = {
      {"invoice.total_amount",
       {"the invoice total", "invoice ki raqam", "बिल की रकम"}},
      {"invoice.balance_due",
       {"the amount due on the invoice", "invoice ka baaki", "बिल का बाकी"}},
      {"payment.amount_received", {"the payment", "payment", "भुगतान"}},
      {"customer.total_debt",
       {"the customer's dues", "customer ka udhaar", "ग्राहक का उधार"}},
  };
  static const struct {
    const char *op, *words[3];
  } ops[] = {
      {" >= ",
       {"%s is at least ₹%s", "%s kam se kam ₹%s ho", "%s कम से कम ₹%s हो"}},
      {" <= ",
       {"%s is at most ₹%s", "%s zyada se zyada ₹%s ho",
        "%s ज़्यादा से ज़्यादा ₹%s हो"}},
      {" > ", {"%s is above ₹%s", "%s ₹%s se zyada ho", "%s ₹%s से ज़्यादा हो"}},
      {" < ", {"%s is below ₹%s", "%s ₹%s se kam ho", "%s ₹%s से कम हो"}}};
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
    size_t fl = strlen(fields[f].field);
    if (n <= fl || memcmp(c, fields[f].field, fl)) continue;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
      size_t ol = strlen(ops[o].op);
      if (n > fl + ol && !memcmp(c + fl, ops[o].op, ol)) {
        const char *fmt = ops[o].words[w->lang];
        const char *h1 = strstr(fmt, "%s"), *h2 = strstr(h1 + 2, "%s");
        buf_append(b, fmt, (size_t)(h1 - fmt));
        buf_puts(b, fields[f].words[w->lang]);
        buf_append(b, h1 + 2, (size_t)(h2 - h1 - 2));
        buf_append(b, c + fl + ol, n - fl - ol);
        buf_puts(b, h2 + 2);
        return 1;
      }
    }
  }
  return 0;
}

static void condition_words(walk *w, const char *expr) {
  static const char *const and_word[3] = {" and ", " aur ", " और "};
  int k = 0;
  for (const char *s = expr; *s;) {
    const char *e = strstr(s, " and ");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    buf one;
    buf_init(&one, 0);
    if (!clause_words(w, &one, s, n)) buf_printf(&one, "%.*s", (int)n, s);
    if (one.len)
      buf_printf(w->b, "%s%s", k++ ? and_word[w->lang] : "", buf_cstr(&one));
    buf_free(&one);
    s += n;
    if (e) s += 5;
  }
  if (!k) buf_puts(w->b, expr);
}

static const char *recipient_words(walk *w, const char *to) {
  if (!to) return "?";
  if (!strcmp(to, "customer")) return phrase[P_CUSTOMER][w->lang];
  if (!strcmp(to, "owner")) return phrase[P_OWNER][w->lang];
  return to;
}

static const char *over_words(walk *w, const char *over) {
  static const struct {
    const char *over, *words[3];
  } t[] = {
      {"debtors",
       {"each customer who owes you money", "har udhaar wale customer",
        "हर उधार वाले ग्राहक"}},
      {"customers", {"each customer", "har customer", "हर ग्राहक"}},
      {"overdue_invoices",
       {"each overdue invoice", "har overdue invoice", "हर बकाया बिल"}},
      {"low_stock_products",
       {"each product running low", "har kam stock wale product",
        "हर कम स्टॉक वाले प्रोडक्ट"}},
  };
  for (size_t i = 0; over && i < sizeof t / sizeof t[0]; i++)
    if (!strcmp(over, t[i].over)) return t[i].words[w->lang];
  return over ? over : "?";
}

/* The wait the drafter writes on an invoice's due date (its date when it
 * has none), as architect_rules.c spells it. */
#define DUE_BASE "date(coalesce(invoice.due_date, invoice.invoice_date))"

/* "3d" as "3 days" ("3 din", "3 दिन") into out; "" when it is not one
 * number and one unit. */
static void duration_words(walk *w, const char *f, char *out, size_t cap) {
  static const char *const units[3][5][2] = {
      {{"second", "seconds"}, {"minute", "minutes"}, {"hour", "hours"},
       {"day", "days"}, {"week", "weeks"}},
      {{"second", "second"}, {"minute", "minute"}, {"ghanta", "ghante"},
       {"din", "din"}, {"hafta", "hafte"}},
      {{"सेकंड", "सेकंड"}, {"मिनट", "मिनट"}, {"घंटा", "घंटे"}, {"दिन", "दिन"},
       {"हफ्ता", "हफ्ते"}}};
  size_t l = strlen(f);
  const char *kinds = "smhdw";
  const char *k = l >= 2 ? strchr(kinds, f[l - 1]) : NULL;
  out[0] = 0;
  if (k && *k && all_digits(f, l - 1) && l < 12) {
    int one = l == 2 && f[0] == '1';
    snprintf(out, cap, "%.*s %s", (int)(l - 1), f,
             units[w->lang][k - kinds][one ? 0 : 1]);
  }
}

static void wait_words(walk *w, const json *node) {
  const char *f = str_param(node, "for"), *u = str_param(node, "until");
  if (f) {
    char t[64];
    duration_words(w, f, t, sizeof t);
    say(w, P_WAIT, t[0] ? t : f, NULL);
  } else if (u && !strncmp(u, DUE_BASE, strlen(DUE_BASE))) {
    /* the drafter's waits on the due date */
    static const char *const due[3][3] = {
        {"wait until the invoice's due date (its date if it has none)",
         "invoice ki due date (na ho to invoice ki tarikh) tak ruko",
         "बिल की नियत तारीख (न हो तो बिल की तारीख) तक रुको"},
        {"wait until %s after the invoice's due date (its date if it has "
         "none)",
         "invoice ki due date (na ho to invoice ki tarikh) ke %s baad tak "
         "ruko",
         "बिल की नियत तारीख (न हो तो बिल की तारीख) के %s बाद तक रुको"},
        {"wait until %s before the invoice's due date (its date if it has "
         "none)",
         "invoice ki due date (na ho to invoice ki tarikh) se %s pehle tak "
         "ruko",
         "बिल की नियत तारीख (न हो तो बिल की तारीख) से %s पहले तक रुको"}};
    const char *rest = u + strlen(DUE_BASE);
    int dir = !*rest ? 0 : !strncmp(rest, " + ", 3) ? 1
                       : !strncmp(rest, " - ", 3) ? 2 : -1;
    char amount[64] = "";
    if (dir > 0) duration_words(w, rest + 3, amount, sizeof amount);
    if (dir < 0 || (dir > 0 && !amount[0])) {
      say(w, P_WAIT_UNTIL, u, NULL);
    } else {
      const char *fmt = due[dir][w->lang], *h = strstr(fmt, "%s");
      if (h) {
        buf_append(w->b, fmt, (size_t)(h - fmt));
        buf_puts(w->b, amount);
        buf_puts(w->b, h + 2);
      } else {
        buf_puts(w->b, fmt);
      }
    }
  } else {
    say(w, P_WAIT_UNTIL, u ? u : "?", NULL);
  }
}

static int node_index(const walk *w, const char *id) {
  for (size_t i = 0; i < w->nodes->n && i < BP_MAX_NODES; i++) {
    const json *v = json_get(w->nodes->items[i], "id");
    if (v && v->type == JSON_STRING && !strcmp(v->str, id)) return (int)i;
  }
  return -1;
}

static void walk_from(walk *w, int i, int depth);

static void step_words(walk *w, int i) {
  const json *node = w->nodes->items[i];
  const json *t = json_get(node, "type");
  const char *type = t && t->type == JSON_STRING ? t->str : "";
  if (!strcmp(type, "condition") || !strcmp(type, "switch")) {
    /* said on its edges: "if …, " */
  } else if (!strcmp(type, "wait")) {
    wait_words(w, node);
  } else if (!strcmp(type, "send_message")) {
    const char *text = str_param(node, "text");
    const json *tpl = json_get(json_get(node, "params"), "template");
    const json *tname = json_get(tpl, "name");
    say(w, P_SEND, recipient_words(w, str_param(node, "to")), NULL);
    if (text) buf_printf(w->b, ": \"%s\"", text);
    if (tname && tname->type == JSON_STRING)
      say(w, P_TEMPLATE, tname->str, NULL);
  } else if (!strcmp(type, "for_each")) {
    say(w, P_FOREACH, over_words(w, str_param(node, "over")), NULL);
  } else if (!strcmp(type, "stop")) {
    say(w, P_STOP, NULL, NULL);
  } else if (!strcmp(type, "http_request")) {
    say(w, P_CALL, str_param(node, "url") ? str_param(node, "url") : "URL",
        NULL);
  } else {
    buf_puts(w->b, type);
    const json *p = json_get(node, "params");
    if (p && p->type == JSON_OBJECT && p->n) {
      arena *a = arena_new();
      buf_printf(w->b, " %s", json_to_text(a, p));
      arena_free(a);
    }
  }
}

/* Describes what follows node i (already described). */
static void walk_next(walk *w, int i, int depth) {
  const json *from_id = json_get(w->nodes->items[i], "id");
  if (!from_id || from_id->type != JSON_STRING || !w->edges) return;
  const json *t = json_get(w->nodes->items[i], "type");
  int cond = t && t->type == JSON_STRING && !strcmp(t->str, "condition");
  const char *expr = cond ? str_param(w->nodes->items[i], "if") : NULL;
  /* A switch's branch is said as the condition "on == case value". */
  int sw = t && t->type == JSON_STRING && !strcmp(t->str, "switch");
  const char *on = sw ? str_param(w->nodes->items[i], "on") : NULL;
  const json *cases = sw ? json_get(json_get(w->nodes->items[i], "params"),
                                    "cases")
                         : NULL;
  int branches = 0;
  for (size_t k = 0; k < w->edges->n; k++) {
    const json *e = w->edges->items[k];
    const json *f = json_get(e, "from"), *to = json_get(e, "to"),
               *when = json_get(e, "when");
    if (!f || !to || f->type != JSON_STRING || to->type != JSON_STRING ||
        strcmp(f->str, from_id->str))
      continue;
    int j = node_index(w, to->str);
    if (j < 0 || w->seen[j]) continue;
    /* The separator before a condition's node was said already. */
    if (!(cond || sw) || branches++) {
      if (w->steps++)
        say(w, P_THEN, NULL, NULL);
      else
        buf_puts(w->b, ", ");
    }
    if (cond && when && when->type == JSON_STRING) {
      int yes = !strcmp(when->str, "true");
      say(w, yes ? P_IF : P_IFNOT, NULL, NULL);
      condition_words(w, expr ? expr : "?");
      buf_puts(w->b, yes ? ", " : "), ");
    } else if (sw && on && when && when->type == JSON_STRING &&
               cases && cases->type == JSON_OBJECT &&
               json_get(cases, when->str) &&
               json_get(cases, when->str)->type == JSON_STRING) {
      arena *a = arena_new();
      say(w, P_IF, NULL, NULL);
      condition_words(w, arena_printf(a, "%s == '%s'", on,
                                      json_get(cases, when->str)->str));
      buf_puts(w->b, ", ");
      arena_free(a);
    } else if (when && when->type == JSON_STRING) {
      buf_printf(w->b, "\"%s\": ", when->str);
    }
    walk_from(w, j, depth + 1);
  }
}

static void walk_from(walk *w, int i, int depth) {
  if (depth > BP_MAX_NODES || w->seen[i]) return;
  w->seen[i] = 1;
  step_words(w, i);
  walk_next(w, i, depth);
}

const char *arch_explain(arena *a, const json *nodes, const json *edges,
                         const char *lang) {
  buf b;
  buf_init(&b, 1 << 20);
  walk w;
  memset(&w, 0, sizeof w);
  w.nodes = nodes, w.edges = edges && edges->type == JSON_ARRAY ? edges : NULL;
  w.b = &b;
  w.lang = lang_index(lang);
  int trig = -1;
  for (size_t i = 0;
       nodes && nodes->type == JSON_ARRAY && i < nodes->n && i < BP_MAX_NODES;
       i++) {
    const json *t = json_get(nodes->items[i], "type");
    if (t && t->type == JSON_STRING && !strcmp(t->str, "trigger")) {
      trig = (int)i;
      break;
    }
  }
  if (trig < 0) {
    say(&w, P_NO_TRIGGER, NULL, NULL);
  } else {
    trigger_words(&w, nodes->items[trig]);
    w.seen[trig] = 1;
    walk_next(&w, trig, 0);
    say(&w, P_DRAFT, NULL, NULL);
  }
  const char *r = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return r;
}
