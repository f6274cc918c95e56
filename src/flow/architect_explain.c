/* architect_explain.c - a blueprint told in plain words (architect.h).
 *
 * Any graph, the offline drafter's or a model's, is walked from its
 * trigger: what starts it, then each step in the order the edges take,
 * branches of a condition as "if …" and "otherwise …". Conditions the
 * drafter writes are said in words ("the invoice is still unpaid", "the
 * payment is above ₹50000"); any other is quoted as written. The owner
 * reads this before activating the draft, so it says only what the graph
 * does. */
#include <stdio.h>
#include <string.h>

#include "flow/architect.h"
#include "flow/blueprint.h"

static const struct {
  const char *event, *words;
} event_words[] = {
    {"invoice.created", "an invoice is created"},
    {"invoice.issued", "an invoice is issued"},
    {"invoice.paid", "an invoice is fully paid"},
    {"invoice.cancelled", "an invoice is cancelled"},
    {"payment.received", "a payment is received"},
    {"customer.created", "a new customer is added"},
    {"product.created", "a new product is added"},
    {"stock.low", "a product's stock falls to its low-stock level"},
    {"message.received", "a message comes in"},
    {"shipment.updated", "a shipment's status changes"},
};

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
static void cron_words(buf *b, const char *cron, const char *tz) {
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
  static const char *const dn[8] = {"Sunday",   "Monday", "Tuesday",
                                    "Wednesday", "Thursday", "Friday",
                                    "Saturday", "Sunday"};
  if (n == 5 && all_digits(f[0], strlen(f[0])) &&
      all_digits(f[1], strlen(f[1])) && !strcmp(f[3], "*")) {
    int m = 0, h = 0;
    for (char *p = f[0]; *p; p++) m = m * 10 + (*p - '0');
    for (char *p = f[1]; *p; p++) h = h * 10 + (*p - '0');
    int h12 = h % 12 ? h % 12 : 12;
    const char *ap = h < 12 ? "am" : "pm";
    if (!strcmp(f[2], "*") && !strcmp(f[4], "*")) {
      buf_printf(b, "Every day at %d:%02d %s", h12, m, ap);
    } else if (!strcmp(f[2], "*")) {
      buf_puts(b, "Every ");
      int k = 0;
      for (char *p = f[4]; *p; p++)
        if (*p >= '0' && *p <= '7') buf_printf(b, "%s%s", k++ ? ", " : "", dn[*p - '0']);
      buf_printf(b, " at %d:%02d %s", h12, m, ap);
    } else if (!strcmp(f[4], "*") && all_digits(f[2], strlen(f[2]))) {
      buf_printf(b, "On day %s of every month at %d:%02d %s", f[2], h12, m, ap);
    } else {
      buf_printf(b, "On the schedule \"%s\"", cron);
    }
  } else {
    buf_printf(b, "On the schedule \"%s\"", cron);
  }
  buf_printf(b, " (%s time)", tz && *tz ? tz : "Asia/Kolkata");
}

static void trigger_words(buf *b, const json *node) {
  const json *p = json_get(node, "params");
  const char *ev = str_param(node, "event"), *cron = str_param(node, "cron");
  if (ev) {
    for (size_t i = 0; i < sizeof event_words / sizeof event_words[0]; i++)
      if (!strcmp(ev, event_words[i].event)) {
        buf_printf(b, "When %s", event_words[i].words);
        return;
      }
    buf_printf(b, "When the event %s happens", ev);
  } else if (cron) {
    cron_words(b, cron, str_param(node, "timezone"));
  } else if (json_get(p, "webhook")) {
    buf_puts(b, "When its webhook URL is called");
  } else {
    buf_puts(b, "When you run it");
  }
}

/* "a op n" of a known field in words; 0 when it is not one. */
static int clause_words(buf *b, const char *c, size_t n) {
  static const struct {
    const char *clause, *words;
  } fixed[] = {
      {"invoice.balance_due > 0", "the invoice is still unpaid"},
      {"invoice.status != 'paid'", "the invoice is still unpaid"},
      {"invoice.status != 'cancelled'", ""},
      {"shipment.status == 'delivered'", "the shipment is delivered"},
      {"shipment.status = 'delivered'", "the shipment is delivered"},
  };
  for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
    if (strlen(fixed[i].clause) == n && !memcmp(c, fixed[i].clause, n)) {
      buf_puts(b, fixed[i].words);
      return 1;
    }
  static const struct {
    const char *field, *words;
  } fields[] = {
      {"invoice.total_amount", "the invoice total"},
      {"invoice.balance_due", "the amount due on the invoice"},
      {"payment.amount_received", "the payment"},
      {"customer.total_debt", "the customer's dues"},
  };
  static const struct {
    const char *op, *words;
  } ops[] = {{" >= ", "is at least"}, {" <= ", "is at most"},
             {" > ", "is above"},     {" < ", "is below"}};
  for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
    size_t fl = strlen(fields[f].field);
    if (n <= fl || memcmp(c, fields[f].field, fl)) continue;
    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
      size_t ol = strlen(ops[o].op);
      if (n > fl + ol && !memcmp(c + fl, ops[o].op, ol)) {
        buf_printf(b, "%s %s ₹%.*s", fields[f].words, ops[o].words,
                   (int)(n - fl - ol), c + fl + ol);
        return 1;
      }
    }
  }
  return 0;
}

static void condition_words(buf *b, const char *expr) {
  int k = 0;
  for (const char *s = expr; *s;) {
    const char *e = strstr(s, " and ");
    size_t n = e ? (size_t)(e - s) : strlen(s);
    buf w;
    buf_init(&w, 0);
    if (!clause_words(&w, s, n)) buf_printf(&w, "%.*s", (int)n, s);
    if (w.len) buf_printf(b, "%s%s", k++ ? " and " : "", buf_cstr(&w));
    buf_free(&w);
    s += n;
    if (e) s += 5;
  }
  if (!k) buf_puts(b, expr);
}

static const char *recipient_words(const char *to) {
  if (!to) return "someone";
  if (!strcmp(to, "customer")) return "the customer";
  if (!strcmp(to, "owner")) return "you (the owner)";
  return to;
}

static const char *over_words(const char *over) {
  if (!over) return "each item";
  if (!strcmp(over, "debtors")) return "each customer who owes you money";
  if (!strcmp(over, "customers")) return "each customer";
  if (!strcmp(over, "overdue_invoices")) return "each overdue invoice";
  if (!strcmp(over, "low_stock_products")) return "each product running low";
  return over;
}

static void wait_words(buf *b, const json *node) {
  const char *f = str_param(node, "for"), *u = str_param(node, "until");
  if (f) {
    size_t l = strlen(f);
    const char *unit = NULL;
    if (l >= 2) {
      switch (f[l - 1]) {
      case 's': unit = "second"; break;
      case 'm': unit = "minute"; break;
      case 'h': unit = "hour"; break;
      case 'd': unit = "day"; break;
      case 'w': unit = "week"; break;
      }
    }
    if (unit && all_digits(f, l - 1))
      buf_printf(b, "wait %.*s %s%s", (int)(l - 1), f, unit,
                 (l == 2 && f[0] == '1') ? "" : "s");
    else
      buf_printf(b, "wait %s", f);
  } else if (u) {
    buf_printf(b, "wait until %s", u);
  } else {
    buf_puts(b, "wait");
  }
}

typedef struct walk {
  const json *nodes, *edges;
  unsigned char seen[BP_MAX_NODES];
  buf *b;
  int steps;
} walk;

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
  buf *b = w->b;
  if (!strcmp(type, "condition")) {
    /* said on its edges: "if …, " */
  } else if (!strcmp(type, "wait")) {
    wait_words(b, node);
  } else if (!strcmp(type, "send_message")) {
    const char *text = str_param(node, "text");
    buf_printf(b, "send %s a WhatsApp message", recipient_words(str_param(node, "to")));
    if (text) buf_printf(b, ": \"%s\"", text);
  } else if (!strcmp(type, "for_each")) {
    buf_printf(b, "for %s", over_words(str_param(node, "over")));
  } else if (!strcmp(type, "stop")) {
    buf_puts(b, "stop");
  } else if (!strcmp(type, "http_request")) {
    buf_printf(b, "call %s", str_param(node, "url") ? str_param(node, "url") : "a URL");
  } else {
    buf_printf(b, "%s", type);
    const json *p = json_get(node, "params");
    if (p && p->type == JSON_OBJECT && p->n) {
      arena *a = arena_new();
      buf_printf(b, " %s", json_to_text(a, p));
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
    if (!cond || branches++) buf_puts(w->b, w->steps++ ? "; then " : ", ");
    if (cond && when && when->type == JSON_STRING) {
      int yes = !strcmp(when->str, "true");
      buf_puts(w->b, yes ? "if " : "if not (");
      condition_words(w->b, expr ? expr : "the condition holds");
      buf_puts(w->b, yes ? ", " : "), ");
    } else if (when && when->type == JSON_STRING) {
      buf_printf(w->b, "when it is \"%s\", ", when->str);
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
  (void)lang; /* the explanation is in English for now */
  buf b;
  buf_init(&b, 1 << 20);
  walk w;
  memset(&w, 0, sizeof w);
  w.nodes = nodes, w.edges = edges && edges->type == JSON_ARRAY ? edges : NULL;
  w.b = &b;
  int trig = -1;
  for (size_t i = 0; nodes && nodes->type == JSON_ARRAY && i < nodes->n &&
                     i < BP_MAX_NODES;
       i++) {
    const json *t = json_get(nodes->items[i], "type");
    if (t && t->type == JSON_STRING && !strcmp(t->str, "trigger")) {
      trig = (int)i;
      break;
    }
  }
  if (trig < 0) {
    buf_puts(&b, "This graph has no trigger.");
  } else {
    trigger_words(&b, nodes->items[trig]);
    w.seen[trig] = 1;
    walk_next(&w, trig, 0);
    buf_puts(&b, ". It is saved as a draft: nothing runs until you activate "
                 "it.");
  }
  const char *r = arena_strdup(a, buf_cstr(&b));
  buf_free(&b);
  return r;
}
