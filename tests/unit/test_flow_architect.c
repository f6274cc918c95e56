/* test_flow_architect.c - the Architect without a database: the prompt set
 * of the offline drafter (English, Hinglish and Devanagari, each with the
 * graph it must produce: trigger, waits, conditions with exact amounts,
 * recipients and the fields of its texts; and the ambiguous prompts that
 * must give a question), every draft checked by bp_parse (blueprint.c),
 * the plain
 * explanation, the LLM path's request, answers and repairs, and the dry
 * walk of a rehearsal over test-only node types. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "flow/architect.h"
#include "flow/blueprint.h"
#include "flow/node.h"
#include "flow/rehearse.h"

/* ---- the prompt set -------------------------------------------------- */

#define UNPAID "invoice.balance_due > 0 and invoice.status != 'cancelled'"
/* "overdue", "before the due date": waits on the due date */
#define DUE "date(coalesce(invoice.due_date, invoice.invoice_date))"

typedef struct want {
  const char *prompt;
  const char *lang;
  /* The nodes in order, each "type(main param)": a trigger's event or
   * cron, a wait's for, a condition's if, a send's to, a for_each's over.
   * NULL: the answer must be a question. */
  const char *shape;
  /* Fields (or words) the message texts must hold, '|'-separated. */
  const char *fields;
} want;

static const want prompts[] = {
    /* remind on unpaid invoices, and escalate */
    {"when an invoice is 3 days overdue, remind the customer; after 7, tell me",
     "en",
     "trigger(invoice.issued) > wait(" DUE " + 3d) > condition(" UNPAID
     ") > send_message(customer) > wait(" DUE " + 7d) > condition(" UNPAID
     ") > send_message(owner)",
     "{{ customer.full_name }}|{{ invoice.invoice_number }}|{{ "
     "invoice.total_amount }}|{{ invoice.balance_due }}|7 days after its due "
     "date"},
    {"remind customers 3 days before the due date", "en",
     "trigger(invoice.issued) > wait(" DUE " - 3d) > condition(" UNPAID
     ") > send_message(customer)",
     "{{ invoice.balance_due }}"},
    {"due date se 2 din pehle customer ko yaad dilao", "hinglish",
     "trigger(invoice.issued) > wait(" DUE " - 2d) > condition(" UNPAID
     ") > send_message(customer)",
     "{{ customer.full_name }} ji"},
    {"remind customers about unpaid invoices after 2 days and again after 3 "
     "more days tell me",
     "en",
     "trigger(invoice.issued) > wait(2d) > condition(" UNPAID
     ") > send_message(customer) > wait(3d) > condition(" UNPAID
     ") > send_message(owner)",
     "{{ invoice.invoice_number }}|5 days"},
    {"remind me when an invoice is unpaid for 10 days", "en",
     "trigger(invoice.issued) > wait(10d) > condition(" UNPAID
     ") > send_message(owner)",
     "{{ invoice.invoice_number }}|{{ customer.full_name }}|10 days"},
    {"5 din baad yaad dilao agar bill baki ho", "hinglish",
     "trigger(invoice.issued) > wait(5d) > condition(" UNPAID
     ") > send_message(customer)",
     "{{ customer.full_name }} ji|{{ invoice.balance_due }}|Kripya"},
    {"bill ke 3 din baad customer ko yaad dilao aur 7 din baad mujhe batao",
     "hinglish",
     "trigger(invoice.issued) > wait(3d) > condition(" UNPAID
     ") > send_message(customer) > wait(4d) > condition(" UNPAID
     ") > send_message(owner)",
     "{{ invoice.invoice_number }}|7 din"},
    {"बिल के 3 दिन बाद ग्राहक को याद दिलाओ", "hi",
     "trigger(invoice.issued) > wait(3d) > condition(" UNPAID
     ") > send_message(customer)",
     "{{ customer.full_name }} जी|{{ invoice.balance_due }}"},
    {"har somvar subah 10 baje sab udhaar walon ko yaad dilao", "hinglish",
     "trigger(0 10 * * 1) > for_each(debtors) > send_message(customer)",
     "{{ customer.total_debt }}|{{ business.business_name }}"},
    /* thank on payment */
    {"jab bhi payment aaye customer ko dhanyavaad bhejo", "hinglish",
     "trigger(payment.received) > send_message(customer)",
     "Dhanyavaad {{ customer.full_name }}|{{ payment.amount_received }}"},
    {"जब भी भुगतान आए ग्राहक को धन्यवाद भेजो", "hi",
     "trigger(payment.received) > send_message(customer)",
     "धन्यवाद {{ customer.full_name }}|{{ payment.amount_received }}"},
    {"when someone pays more than 50k thank them", "en",
     "trigger(payment.received) > condition(payment.amount_received > 50000) "
     "> send_message(customer)",
     "Thank you {{ customer.full_name }}|{{ payment.amount_received }}"},
    {"thank the customer when an invoice is fully paid", "en",
     "trigger(invoice.paid) > send_message(customer)",
     "{{ invoice.invoice_number }}|fully paid"},
    /* sales summaries and other reports on a schedule */
    {"roz raat 10 baje mujhe aaj ki bikri bhejo", "hinglish",
     "trigger(0 22 * * *) > send_message(owner)",
     "Aaj ki bikri|{{ sales_summary('today') }}"},
    {"रोज़ रात 10 बजे मुझे आज की बिक्री भेजो", "hi",
     "trigger(0 22 * * *) > send_message(owner)",
     "आज की बिक्री|{{ sales_summary('today') }}"},
    {"send me today's sales at 9 pm", "en",
     "trigger(0 21 * * *) > send_message(owner)",
     "{{ sales_summary('today') }}"},
    {"at 9:30 pm every day send me today's sales", "en",
     "trigger(30 21 * * *) > send_message(owner)",
     "{{ sales_summary('today') }}"},
    {"roz subah 9 baje mujhe kal ki bikri bhejo", "hinglish",
     "trigger(0 9 * * *) > send_message(owner)",
     "{{ sales_summary('yesterday') }}"},
    {"every Monday at 10 am send me this week's sales", "en",
     "trigger(0 10 * * 1) > send_message(owner)",
     "{{ sales_summary('week') }}"},
    {"every friday 6 pm send me the weekly sales report", "en",
     "trigger(0 18 * * 5) > send_message(owner)",
     "{{ sales_summary('week') }}"},
    {"on the 1st of every month at 9 am send me the month's sales", "en",
     "trigger(0 9 1 * *) > send_message(owner)",
     "{{ sales_summary('month') }}"},
    {"har mahine 1 tarikh ko subah 11 baje mujhe mahine ki bikri bhejo",
     "hinglish", "trigger(0 11 1 * *) > send_message(owner)",
     "{{ sales_summary('month') }}"},
    {"on the 31st of every month at 6 pm send me the sales", "en",
     "trigger(0 18 31 * *) > send_message(owner)",
     "{{ sales_summary('month') }}"},
    {"send me GST collected every month on the 5th at 11 am", "en",
     "trigger(0 11 5 * *) > send_message(owner)",
     "{{ gst_collected('month') }}"},
    {"every Monday at 10 am send me the list of debtors", "en",
     "trigger(0 10 * * 1) > send_message(owner)", "{{ debtors() }}"},
    {"every day at 8 pm send me the low stock list", "en",
     "trigger(0 20 * * *) > send_message(owner)", "{{ stock_low() }}"},
    /* conditions on amounts, exact */
    {"tell me when a payment above 50000 comes", "en",
     "trigger(payment.received) > condition(payment.amount_received > 50000) "
     "> send_message(owner)",
     "{{ payment.amount_received }}|{{ customer.full_name }}"},
    {"agar 1.5 lakh se zyada ka bill bane to mujhe batao", "hinglish",
     "trigger(invoice.issued) > condition(invoice.total_amount > 150000) > "
     "send_message(owner)",
     "{{ invoice.invoice_number }}|{{ invoice.total_amount }}"},
    {"when an invoice of more than 1 lakh is issued, notify me", "en",
     "trigger(invoice.issued) > condition(invoice.total_amount > 100000) > "
     "send_message(owner)",
     "{{ invoice.invoice_number }}"},
    {"bill 1,00,000 se upar ho to mujhe batao", "hinglish",
     "trigger(invoice.issued) > condition(invoice.total_amount > 100000) > "
     "send_message(owner)",
     "{{ invoice.total_amount }}"},
    {"alert me for payments over ₹50,000.50", "en",
     "trigger(payment.received) > condition(payment.amount_received > "
     "50000.50) > send_message(owner)",
     "{{ payment.amount_received }}"},
    {"when a payment of less than 1000 comes tell me", "en",
     "trigger(payment.received) > condition(payment.amount_received < 1000) > "
     "send_message(owner)",
     "{{ payment.amount_received }}"},
    /* low stock */
    {"when stock is low tell me", "en",
     "trigger(stock.low) > send_message(owner)",
     "{{ product.name }}|{{ product.current_stock }}"},
    {"jab maal kam ho jaye mujhe batao", "hinglish",
     "trigger(stock.low) > send_message(owner)", "{{ product.name }}"},
    /* welcome a new customer */
    {"welcome every new customer", "en",
     "trigger(customer.created) > send_message(customer)",
     "{{ customer.full_name }}|{{ business.business_name }}"},
    {"naye grahak ka swagat karo", "hinglish",
     "trigger(customer.created) > send_message(customer)",
     "swagat|{{ customer.full_name }}"},
    {"send \"Thanks for shopping with us!\" to every new customer", "en",
     "trigger(customer.created) > send_message(customer)",
     "Thanks for shopping with us!"},
    /* feedback after delivery */
    {"after delivery ask the customer for feedback", "en",
     "trigger(shipment.updated) > condition(trigger.status == 'delivered') > "
     "send_message(customer)",
     "{{ customer.full_name }}|feedback"},
    {"delivery ke 2 din baad customer se feedback maango", "hinglish",
     "trigger(shipment.updated) > condition(trigger.status == 'delivered') > "
     "wait(2d) > send_message(customer)",
     "{{ customer.full_name }} ji"},
    /* other events */
    {"when an invoice is created send it to the customer", "en",
     "trigger(invoice.issued) > send_message(customer)",
     "{{ invoice.invoice_number }}|{{ invoice.total_amount }}"},
    {"tell me when an invoice is cancelled", "en",
     "trigger(invoice.cancelled) > send_message(owner)",
     "{{ invoice.invoice_number }}"},
    {"notify me whenever a customer sends a message", "en",
     "trigger(message.received) > send_message(owner)",
     "{{ message.content }}"},
    /* said other ways */
    {"Send a thank you message whenever a customer pays", "en",
     "trigger(payment.received) > send_message(customer)",
     "{{ payment.amount_received }}"},
    {"if invoice is not paid in 15 days tell me", "en",
     "trigger(invoice.issued) > wait(15d) > condition(" UNPAID
     ") > send_message(owner)",
     "15 days"},
    {"agar bill 10 din tak nahi chukaya to mujhe batao", "hinglish",
     "trigger(invoice.issued) > wait(10d) > condition(" UNPAID
     ") > send_message(owner)",
     "10 din"},
    {"remind customers with dues above 10000 every monday at 11 am", "en",
     "trigger(0 11 * * 1) > for_each(debtors) > condition(customer.total_debt "
     "> 10000) > send_message(customer)",
     "{{ customer.total_debt }}"},
    {"when a shipment is delivered tell me", "en",
     "trigger(shipment.updated) > condition(trigger.status == 'delivered') > "
     "send_message(owner)",
     "{{ shipment.awb_number }}|{{ customer.full_name }}"},
    {"delivery ke baad mujhe aur customer dono ko batao", "hinglish",
     "trigger(shipment.updated) > condition(trigger.status == 'delivered') > "
     "send_message(customer) > send_message(owner)",
     "pahunch gaya|Delivery ho gayi"},
    {"notify me of every new order", "en",
     "trigger(invoice.issued) > send_message(owner)",
     "{{ invoice.invoice_number }}"},
    {"har roz shaam 7 baje aaj ka hisaab bhejo", "hinglish",
     "trigger(0 19 * * *) > send_message(owner)",
     "{{ sales_summary('today') }}"},
    {"send weekly sales report every sunday evening at 8", "en",
     "trigger(0 20 * * 0) > send_message(owner)",
     "{{ sales_summary('week') }}"},
    {"when I click, remind everyone who owes money", "en",
     "trigger(manual) > for_each(debtors) > send_message(customer)",
     "{{ customer.total_debt }}"},
    /* ambiguous: a question, nothing drafted */
    {"remind them", "en", NULL, NULL},
    {"send a reminder", "en", NULL, NULL},
    {"yaad dilao", NULL, NULL, NULL},
    {"remind customers about unpaid bills", "en", NULL, NULL},
    {"send me the sales report", "en", NULL, NULL},
    {"hello", NULL, NULL, NULL},
    {"tell me", "en", NULL, NULL},
    {"create an invoice every month for rent of 5000", "en", NULL, NULL},
    {"send a good morning message to all customers every day at 8 am", "en",
     NULL, NULL},
};
#define N_PROMPTS (sizeof prompts / sizeof prompts[0])

static const char *main_param(const json *n, const char *type) {
  const json *p = json_get(n, "params");
  const char *k = "over";
  if (!strcmp(type, "trigger"))
    k = json_get(p, "event")    ? "event"
        : json_get(p, "cron")   ? "cron"
        : json_get(p, "manual") ? "manual"
                                : "webhook";
  else if (!strcmp(type, "wait"))
    k = json_get(p, "for") ? "for" : "until";
  else if (!strcmp(type, "condition"))
    k = "if";
  else if (!strcmp(type, "send_message"))
    k = "to";
  const json *v = json_get(p, k);
  return v && v->type == JSON_STRING ? v->str : k;
}

/* The shape of a draft as the table writes it, and the texts of its sends;
 * also checks that the edges chain the nodes in order (the drafter's
 * graphs are linear) with "true" out of each condition. */
static void shape_of(arena *a, const arch_draft *d, buf *shape, buf *texts) {
  json *n, *e;
  json_error je;
  assert_int_equal(json_parse(a, d->nodes, strlen(d->nodes), &n, &je), 0);
  assert_int_equal(json_parse(a, d->edges, strlen(d->edges), &e, &je), 0);
  assert_int_equal(n->type, JSON_ARRAY);
  assert_int_equal(e->n + 1, n->n);
  for (size_t i = 0; i < n->n; i++) {
    const char *type = json_get(n->items[i], "type")->str;
    buf_printf(shape, "%s%s(%s)", i ? " > " : "", type,
               main_param(n->items[i], type));
    const json *t = json_get(json_get(n->items[i], "params"), "text");
    if (t) buf_printf(texts, "%s\n", t->str);
    if (i == 0) continue;
    const json *edge = e->items[i - 1];
    assert_string_equal(json_get(edge, "from")->str,
                        json_get(n->items[i - 1], "id")->str);
    assert_string_equal(json_get(edge, "to")->str,
                        json_get(n->items[i], "id")->str);
    const json *when = json_get(edge, "when");
    const char *prev = json_get(n->items[i - 1], "type")->str;
    if (!strcmp(prev, "condition"))
      assert_string_equal(when->str, "true");
    else
      assert_null(when);
  }
}

static void test_prompt_set(void **state) {
  (void)state;
  int drafts = 0, questions = 0;
  for (size_t i = 0; i < N_PROMPTS; i++) {
    const want *w = &prompts[i];
    arena *a = arena_new();
    arch_draft d;
    assert_int_equal(arch_draft_rules(a, w->prompt, strlen(w->prompt), &d), 0);
    if (w->lang && strcmp(d.lang, w->lang))
      fail_msg("%s: lang %s", w->prompt, d.lang);
    if (!w->shape) {
      if (!d.question)
        fail_msg("%s: a draft, not a question: %s", w->prompt, d.nodes);
      assert_null(d.nodes);
      questions++;
      arena_free(a);
      continue;
    }
    if (d.question) fail_msg("%s: a question: %s", w->prompt, d.question);
    assert_non_null(d.name);
    assert_non_null(d.explanation);
    buf shape, texts;
    buf_init(&shape, 0);
    buf_init(&texts, 0);
    shape_of(a, &d, &shape, &texts);
    if (strcmp(buf_cstr(&shape), w->shape))
      fail_msg("%s\n  got  %s\n  want %s", w->prompt, buf_cstr(&shape),
               w->shape);
    for (const char *f = w->fields; f && *f;) {
      size_t l = strcspn(f, "|");
      char one[128];
      snprintf(one, sizeof one, "%.*s", (int)l, f);
      if (!strstr(buf_cstr(&texts), one))
        fail_msg("%s: the texts lack \"%s\":\n%s", w->prompt, one,
                 buf_cstr(&texts));
      f += l + (f[l] == '|');
    }
    /* every draft is a valid blueprint */
    json *n, *e;
    json_error je;
    blueprint bp;
    bp_error be;
    assert_int_equal(json_parse(a, d.nodes, strlen(d.nodes), &n, &je), 0);
    assert_int_equal(json_parse(a, d.edges, strlen(d.edges), &e, &je), 0);
    if (bp_parse(a, d.name, n, e, &bp, &be))
      fail_msg("%s: bp_parse refused the draft: node '%s' param '%s': %s",
               w->prompt, be.node, be.param, be.message);
    buf_free(&shape);
    buf_free(&texts);
    drafts++;
    arena_free(a);
  }
  assert_true(drafts >= 25);
  assert_true(questions >= 5);
}

/* The shipment's stages told to the customer: one switch on the EVENT's
 * status (trigger.status: the row may have moved on when a late event is
 * handled), a branch per stage named with its own text and WhatsApp
 * template, and no branch (nothing sent) for a stage not named. */
static void test_shipment_stages(void **state) {
  (void)state;
  static const struct {
    const char *prompt, *lang;
    const char *cases; /* the switch's case values, in order, '|'-separated */
    const char *to, *words, *explained;
  } t[] = {
      {"tell the customer on WhatsApp when the shipment is picked up, out "
       "for delivery and delivered",
       "en", "picked_up|out_for_delivery|delivered", "customer",
       "picked up by {{ trigger.courier_name }}|is out for delivery today|has "
       "been delivered",
       "the shipment is out for delivery"},
      {"shipment pick up hone par, out for delivery aur deliver hone par "
       "customer ko WhatsApp pe batao",
       "hinglish", "picked_up|out_for_delivery|delivered", "customer",
       "utha liya hai|delivery ke liye nikal|pahunch gaya hai",
       "shipment delivery ke liye nikla ho"},
      {"जब शिपमेंट पिकअप हो, डिलीवरी के लिए निकले और डिलीवर हो जाए तो ग्राहक "
       "को WhatsApp पर बताओ",
       "hi", "picked_up|out_for_delivery|delivered", "customer",
       "उठा लिया है|डिलीवरी के लिए निकल चुका है|पहुंच गया है",
       "शिपमेंट डिलीवरी के लिए निकला हो"},
      {"tell me when an order is out for delivery", "en", "out_for_delivery",
       "owner", "{{ trigger.status }}", "out for delivery"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    arena *a = arena_new();
    arch_draft d;
    assert_int_equal(
        arch_draft_rules(a, t[i].prompt, strlen(t[i].prompt), &d), 0);
    if (d.question) fail_msg("%s: a question: %s", t[i].prompt, d.question);
    assert_string_equal(d.lang, t[i].lang);
    json *n, *e;
    json_error je;
    assert_int_equal(json_parse(a, d.nodes, strlen(d.nodes), &n, &je), 0);
    assert_int_equal(json_parse(a, d.edges, strlen(d.edges), &e, &je), 0);
    blueprint bp;
    bp_error be;
    if (bp_parse(a, d.name, n, e, &bp, &be))
      fail_msg("%s: bp_parse refused: %s %s: %s", t[i].prompt, be.node,
               be.param, be.message);
    /* trigger > switch(trigger.status) > one send per case */
    const json *tr = json_get(n->items[0], "params");
    assert_string_equal(json_get(tr, "event")->str, "shipment.updated");
    const json *sw = n->items[1];
    assert_string_equal(json_get(sw, "type")->str, "switch");
    const json *swp = json_get(sw, "params");
    assert_string_equal(json_get(swp, "on")->str, "trigger.status");
    const json *cases = json_get(swp, "cases");
    size_t k = 0;
    for (const char *c = t[i].cases; *c; k++) {
      size_t l = strcspn(c, "|");
      char one[64];
      snprintf(one, sizeof one, "%.*s", (int)l, c);
      if (k >= cases->n) fail_msg("%s: no case %s", t[i].prompt, one);
      assert_string_equal(cases->keys[k], one);
      assert_string_equal(cases->items[k]->str, one);
      /* the edge for that case leads to a send, which ends its path */
      const json *edge = e->items[k + 1];
      assert_string_equal(json_get(edge, "from")->str, "status");
      assert_string_equal(json_get(edge, "when")->str, one);
      const json *send = n->items[k + 2];
      assert_string_equal(json_get(send, "id")->str,
                          json_get(edge, "to")->str);
      assert_string_equal(json_get(send, "type")->str, "send_message");
      const json *sp = json_get(send, "params");
      assert_string_equal(json_get(sp, "to")->str, t[i].to);
      if (!strcmp(t[i].to, "customer"))
        assert_string_equal(
            json_get(json_get(sp, "template"), "name")->str,
            arena_printf(a, "shipment_%s", one));
      /* never the row's status */
      assert_null(strstr(json_get(sp, "text")->str, "shipment."));
      c += l + (c[l] == '|');
    }
    assert_int_equal(cases->n, k);
    assert_int_equal(n->n, k + 2);
    assert_int_equal(e->n, k + 1);
    for (const char *f = t[i].words; *f;) {
      size_t l = strcspn(f, "|");
      char one[160];
      snprintf(one, sizeof one, "%.*s", (int)l, f);
      if (!strstr(d.nodes, one))
        fail_msg("%s: the texts lack \"%s\": %s", t[i].prompt, one, d.nodes);
      f += l + (f[l] == '|');
    }
    if (!strstr(d.explanation, t[i].explained))
      fail_msg("%s: explanation lacks \"%s\": %s", t[i].prompt,
               t[i].explained, d.explanation);
    arena_free(a);
  }
  /* a delivery alone, or feedback, stays what it was */
  static const char *const same[] = {
      "after delivery ask the customer for feedback",
      "when a shipment is delivered tell me"};
  for (size_t i = 0; i < sizeof same / sizeof same[0]; i++) {
    arena *a = arena_new();
    arch_draft d;
    assert_int_equal(arch_draft_rules(a, same[i], strlen(same[i]), &d), 0);
    assert_non_null(d.nodes);
    assert_null(strstr(d.nodes, "\"switch\""));
    assert_non_null(strstr(d.nodes, "trigger.status == 'delivered'"));
    arena_free(a);
  }
}

/* Amounts are exact paise written as rupees: no rounding anywhere. */
static void test_amounts(void **state) {
  (void)state;
  static const struct {
    const char *prompt, *cond;
  } t[] = {
      {"tell me about payments above 2 crore",
       "payment.amount_received > 20000000"},
      {"tell me about payments above 1.25 lakh",
       "payment.amount_received > 125000"},
      {"tell me about payments of at least 500",
       "payment.amount_received >= 500"},
      {"10000 se kam ka payment aaye to mujhe batao",
       "payment.amount_received < 10000"},
      {"tell me about payments above rs 99.99",
       "payment.amount_received > 99.99"},
      {"tell me about payments over 2.5k", "payment.amount_received > 2500"},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    arena *a = arena_new();
    arch_draft d;
    assert_int_equal(arch_draft_rules(a, t[i].prompt, strlen(t[i].prompt), &d),
                     0);
    if (!d.nodes || !strstr(d.nodes, t[i].cond))
      fail_msg("%s: want %s in %s", t[i].prompt, t[i].cond,
               d.nodes ? d.nodes : d.question);
    arena_free(a);
  }
  /* A fraction of a paisa is no amount: no condition is drafted. */
  arena *a = arena_new();
  arch_draft d;
  const char *p = "tell me about payments above 0.001";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(d.nodes);
  assert_null(strstr(d.nodes, "condition"));
  arena_free(a);
}

static void test_bad_prompts(void **state) {
  (void)state;
  arena *a = arena_new();
  arch_draft d;
  assert_int_equal(arch_draft_rules(a, "", 0, &d), -1);
  assert_int_equal(arch_draft_rules(a, "  !! ", 5, &d), -1);
  assert_int_equal(arch_draft_rules(a, "\xff\xfe", 2, &d), -1);
  /* a long prompt is read up to ARCH_PROMPT_MAX bytes, cut on a code point */
  buf b;
  buf_init(&b, 0);
  buf_puts(&b, "send me today's sales at 9 pm ");
  while (b.len < ARCH_PROMPT_MAX + 100) buf_puts(&b, "बिक्री ");
  assert_int_equal(arch_draft_rules(a, b.data, b.len, &d), 0);
  assert_non_null(d.nodes);
  buf_free(&b);
  arena_free(a);
}

static void test_explanation(void **state) {
  (void)state;
  arena *a = arena_new();
  arch_draft d;
  const char *p =
      "when an invoice is 3 days overdue, remind the customer; after 7, tell "
      "me";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  const char *parts[] = {"When an invoice is issued",
                         "wait until 3 days after the invoice's due date",
                         "if the invoice is still unpaid",
                         "send the customer",
                         "wait until 7 days after the invoice's due date",
                         "send you (the owner)",
                         "nothing runs until you activate it"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++)
    if (!strstr(d.explanation, parts[i]))
      fail_msg("explanation lacks \"%s\": %s", parts[i], d.explanation);
  assert_true(strstr(d.explanation, "until 3 days") <
              strstr(d.explanation, "until 7 days"));
  /* the customer's message falls back on a WhatsApp template, the owner's not
   */
  assert_non_null(strstr(d.explanation,
                         "outside WhatsApp's 24-hour window: the approved "
                         "template \"payment_reminder\""));
  assert_non_null(
      strstr(d.nodes,
             "\"template\":{\"name\":\"payment_reminder\",\"language\":\"en\","
             "\"params\":[\"{{ customer.full_name }}\",\"{{ "
             "invoice.invoice_number }}\","
             "\"{{ invoice.total_amount }}\",\"{{ invoice.balance_due }}\"]}"));
  {
    const char *first = strstr(d.nodes, "\"template\"");
    assert_null(strstr(first + 1, "\"template\""));
  }
  p = "send \"Thanks for shopping with us!\" to every new customer";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_null(strstr(d.nodes, "template"));
  p = "जब भी भुगतान आए ग्राहक को धन्यवाद भेजो";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(
      strstr(d.nodes, "\"name\":\"payment_thanks\",\"language\":\"hi\""));
  /* waits counted from the issue, when no due date is named */
  p = "remind customers about unpaid invoices after 2 days and again after 3 "
      "more days tell me";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(strstr(d.explanation, "wait 2 days; then if the invoice"));
  assert_non_null(strstr(d.explanation, "wait 3 days; then if the invoice"));
  assert_non_null(strstr(d.explanation, "5 days after it was issued"));
  p = "roz raat 10 baje mujhe aaj ki bikri bhejo";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  /* told in the owner's language */
  assert_non_null(strstr(d.explanation, "Roz 10:00 pm baje"));
  assert_non_null(
      strstr(d.explanation, "aap (owner) ko WhatsApp message bhejo"));
  assert_non_null(strstr(d.explanation, "Yeh draft hai"));
  p = "बिल के 3 दिन बाद ग्राहक को याद दिलाओ";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(strstr(d.explanation,
                         "जब बिल जारी हो, 3 दिन रुको; फिर अगर बिल अभी बाकी हो, "
                         "ग्राहक को WhatsApp संदेश भेजो"));
  p = "send me the sales every monday";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(strstr(d.explanation, "Every Monday at 9:00 am"));
  assert_non_null(
      strstr(d.explanation, "No time was given, so I chose 9:00 am"));
  p = "tell me when a payment above 50000 comes";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(strstr(d.explanation, "if the payment is above ₹50000"));
  p = "on the 31st of every month at 6 pm send me the sales";
  assert_int_equal(arch_draft_rules(a, p, strlen(p), &d), 0);
  assert_non_null(strstr(d.explanation,
                         "On day 31 of every month at 6:00 pm (months without "
                         "that day are skipped)"));
  /* a graph the drafter did not write: conditions quoted, branches told */
  json *n, *e;
  json_error je;
  const char *nodes =
      "[{\"id\":\"t\",\"type\":\"trigger\",\"params\":{\"webhook\":true}},"
      "{\"id\":\"c\",\"type\":\"condition\",\"params\":{\"if\":\"trigger.x == "
      "1\"}},"
      "{\"id\":\"a\",\"type\":\"stop\",\"params\":{}},"
      "{\"id\":\"b\",\"type\":\"send_message\",\"params\":{\"to\":\"+"
      "919812345678\",\"text\":\"x\"}}]";
  const char *edges =
      "[{\"from\":\"t\",\"to\":\"c\"},{\"from\":\"c\",\"to\":\"a\",\"when\":"
      "\"true\"},"
      "{\"from\":\"c\",\"to\":\"b\",\"when\":\"false\"}]";
  assert_int_equal(json_parse(a, nodes, strlen(nodes), &n, &je), 0);
  assert_int_equal(json_parse(a, edges, strlen(edges), &e, &je), 0);
  const char *x = arch_explain(a, n, e, "en");
  assert_non_null(strstr(x, "When its webhook URL is called"));
  assert_non_null(strstr(x, "if trigger.x == 1, stop"));
  assert_non_null(strstr(x, "if not (trigger.x == 1), send +919812345678"));
  arena_free(a);
}

/* ---- the LLM path ---------------------------------------------------- */

static void test_llm_request(void **state) {
  (void)state;
  arena *a = arena_new();
  buf b;
  buf_init(&b, 0);
  arch_llm_request(&b, "m-1", "send me today's sales at 9 pm");
  json *j;
  json_error je;
  assert_int_equal(json_parse(a, b.data, b.len, &j, &je), 0);
  assert_string_equal(json_get(j, "model")->str, "m-1");
  assert_string_equal(json_get(j, "tool_choice")->str, "required");
  const json *tools = json_get(j, "tools");
  assert_int_equal(tools->n, 2);
  assert_string_equal(
      json_get(json_get(tools->items[0], "function"), "name")->str,
      "draft_workflow");
  assert_string_equal(
      json_get(json_get(tools->items[1], "function"), "name")->str,
      "ask_question");
  const json *msgs = json_get(j, "messages");
  assert_int_equal(msgs->n, 2);
  const char *sys = json_get(msgs->items[0], "content")->str;
  for (int i = 0; bp_trigger_events[i]; i++)
    assert_non_null(strstr(sys, bp_trigger_events[i]));
  assert_string_equal(json_get(msgs->items[1], "content")->str,
                      "send me today's sales at 9 pm");
  buf_free(&b);
  arena_free(a);
}

static const char *completion(arena *a, const char *name, const char *args) {
  buf b;
  buf_init(&b, 0);
  buf_puts(&b,
           "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"tool_calls\":"
           "[{\"id\":\"c1\",\"type\":\"function\",\"function\":{\"name\":");
  json_write_str(&b, name, strlen(name));
  buf_puts(&b, ",\"arguments\":");
  json_write_str(&b, args, strlen(args));
  buf_puts(&b, "}}]}}]}");
  const char *r = arena_strdup(a, b.data);
  buf_free(&b);
  return r;
}

static void test_llm_answers(void **state) {
  (void)state;
  arena *a = arena_new();
  arch_draft d;
  const char *rep;
  char why[128];
  /* a good graph: taken as written */
  const char *good =
      "{\"name\":\"Thanks\",\"nodes\":[{\"id\":\"t\",\"type\":\"trigger\","
      "\"params\":{\"event\":\"payment.received\"}},{\"id\":\"s\",\"type\":"
      "\"send_message\",\"params\":{\"to\":\"customer\",\"text\":\"Thank "
      "you\"}}],"
      "\"edges\":[{\"from\":\"t\",\"to\":\"s\"}]}";
  const char *body = completion(a, "draft_workflow", good);
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), 0);
  assert_string_equal(d.name, "Thanks");
  assert_string_equal(rep, "");
  assert_non_null(strstr(d.nodes, "\"payment.received\""));
  assert_string_equal(d.edges, "[{\"from\":\"t\",\"to\":\"s\"}]");
  /* repaired: no edges, an event and a type spelled otherwise */
  const char *linear =
      "{\"name\":\"R\",\"nodes\":[{\"id\":\"t\",\"type\":\"trigger\","
      "\"params\":"
      "{\"event\":\"Invoice_Overdue\"}},{\"id\":\"w\",\"type\":\"delay\","
      "\"params\":{\"for\":\"3d\"}},{\"id\":\"c\",\"type\":\"condition\","
      "\"params\":{\"if\":\"invoice.balance_due > "
      "0\"}},{\"type\":\"send_message\","
      "\"params\":{\"to\":\"customer\",\"text\":\"Pay\"}}]}";
  body = completion(a, "draft_workflow", linear);
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), 0);
  assert_non_null(strstr(d.nodes, "\"event\":\"invoice.issued\""));
  assert_non_null(strstr(d.nodes, "{\"id\":\"w\",\"type\":\"wait\""));
  assert_non_null(strstr(d.nodes, "{\"id\":\"n4\",\"type\":\"send_message\""));
  assert_string_equal(
      d.edges,
      "[{\"from\":\"t\",\"to\":\"w\"},{\"from\":\"w\",\"to\":\"c\"},"
      "{\"from\":\"c\",\"to\":\"n4\",\"when\":\"true\"}]");
  assert_non_null(strstr(rep, "chained"));
  assert_non_null(strstr(rep, "Invoice_Overdue read as invoice.issued"));
  /* {source, target} edges */
  const char *st =
      "{\"name\":\"S\",\"nodes\":[{\"id\":\"a\",\"type\":\"trigger\","
      "\"params\":"
      "{\"manual\":true}},{\"id\":\"b\",\"type\":\"stop\",\"params\":{}}],"
      "\"edges\":[{\"source\":\"a\",\"target\":\"b\"}]}";
  body = completion(a, "draft_workflow", st);
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), 0);
  assert_string_equal(d.edges, "[{\"from\":\"a\",\"to\":\"b\"}]");
  /* a question */
  body = completion(a, "ask_question", "{\"question\":\"Remind whom?\"}");
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), 0);
  assert_string_equal(d.question, "Remind whom?");
  /* content with the graph in a fence */
  const char *fenced =
      "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"```"
      "json\\n"
      "{\\\"name\\\":\\\"X\\\",\\\"nodes\\\":[{\\\"id\\\":\\\"t\\\","
      "\\\"type\\\":"
      "\\\"trigger\\\",\\\"params\\\":{\\\"manual\\\":true}}],\\\"edges\\\":[]}"
      "\\n```\"}}]}";
  assert_int_equal(
      arch_llm_parse(a, fenced, strlen(fenced), &d, &rep, why, sizeof why), 0);
  assert_string_equal(d.name, "X");
  assert_string_equal(d.edges, "[]");
  /* nothing usable */
  const char *bad[] = {
      "not json",
      "{\"choices\":[]}",
      "{\"choices\":[{\"message\":{\"content\":\"I cannot help with "
      "that.\"}}]}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    assert_int_equal(
        arch_llm_parse(a, bad[i], strlen(bad[i]), &d, &rep, why, sizeof why),
        -1);
  body = completion(a, "price", "{}");
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), -1);
  body = completion(a, "draft_workflow",
                    "{\"name\":\"x\",\"nodes\":[{\"id\":\"t\"}]}");
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), -1);
  body = completion(a, "draft_workflow", "{\"name\":\"x\",\"nodes\":[]}");
  assert_int_equal(
      arch_llm_parse(a, body, strlen(body), &d, &rep, why, sizeof why), -1);
  arena_free(a);
}

/* ---- the rehearsal walk over test-only node types -------------------- */

static int effects_made;

static int run_trigger(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  json_write(&r->output, c->env->trigger);
  r->outcome = NODE_DONE;
  return 0;
}
static int run_wait(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  r->outcome = NODE_WAITING;
  r->wake_at = c->now_us + 3LL * 86400 * 1000000;
  return 0;
}
/* true when the trigger's amount is above 100 */
static int run_cond(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  int64_t v = 0;
  json_int64(json_get(c->env->trigger, "amount"), &v);
  r->branch = v > 100 ? "true" : "false";
  buf_printf(&r->output, "{\"result\":%s}", v > 100 ? "true" : "false");
  r->outcome = NODE_DONE;
  return 0;
}
static int run_send(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)e;
  const char *to = c->env->item ? json_to_text(c->a, c->env->item) : "customer";
  if (!c->dry_run) effects_made++;
  buf_puts(&r->input, "{\"text\":\"hello\"}");
  buf_puts(&r->output, "{\"would\":\"send\",\"to\":");
  json_write_str(&r->output, to, strlen(to));
  buf_puts(&r->output, ",\"text\":\"hello\"}");
  r->outcome = NODE_DONE;
  return 0;
}
static int run_each(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  buf_puts(&r->items, "[\"a\",\"b\",\"c\"]");
  r->outcome = NODE_DONE;
  return 0;
}
static int run_fail(flow_step_ctx *c, flow_step_result *r, db_err *e) {
  (void)c, (void)e;
  return flow_step_fail(r, NODE_FAILED, "boom");
}

static const flow_node_type t_trigger = {"trigger", NODE_TRIGGER, NULL,
                                         run_trigger};
static const flow_node_type t_wait = {"wait", NODE_WAIT, NULL, run_wait};
static const flow_node_type t_cond = {"condition", NODE_BRANCHES, NULL,
                                      run_cond};
static const flow_node_type t_send = {"send_message", NODE_EFFECT, NULL,
                                      run_send};
static const flow_node_type t_each = {"for_each", NODE_FOREACH, NULL, run_each};
static const flow_node_type t_fail = {"http_request", NODE_EFFECT, NULL,
                                      run_fail};

static const json *pj(arena *a, const char *s) {
  json *j;
  json_error je;
  assert_int_equal(json_parse(a, s, strlen(s), &j, &je), 0);
  return j;
}

static const json *rehearse(arena *a, const blueprint *bp,
                            const char *trigger) {
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  flow_rehearse_walk(NULL, a, "p", "bp", 1, bp, pj(a, trigger), 1000000, &o);
  assert_int_equal(json_obj_close(&o), 0);
  const json *r = pj(a, b.data);
  buf_free(&b);
  return r;
}

static void test_rehearse_walk(void **state) {
  (void)state;
  arena *a = arena_new();
  const json *empty = pj(a, "{}"), *w3 = pj(a, "{\"for\":\"3d\"}");
  /* t > w > c -(true)> s ; c -(false)> x */
  bp_node nodes[] = {{"t", "trigger", empty, &t_trigger},
                     {"w", "wait", w3, &t_wait},
                     {"c", "condition", empty, &t_cond},
                     {"s", "send_message", empty, &t_send},
                     {"x", "http_request", empty, &t_fail}};
  bp_edge edges[] = {
      {0, 1, NULL}, {1, 2, NULL}, {2, 3, "true"}, {2, 4, "false"}};
  blueprint bp = {.name = "n",
                  .nodes = nodes,
                  .nnodes = 5,
                  .edges = edges,
                  .nedges = 4,
                  .trigger = 0,
                  .kind = BP_TRIGGER_MANUAL};
  effects_made = 0;
  const json *r = rehearse(a, &bp, "{\"amount\":500}");
  const json *steps = json_get(r, "steps");
  assert_int_equal(steps->n, 4);
  assert_string_equal(json_get(steps->items[1], "status")->str, "would_wait");
  assert_string_equal(json_get(steps->items[1], "would")->str, "would wait 3d");
  assert_string_equal(json_get(steps->items[2], "branch")->str, "true");
  assert_string_equal(json_get(steps->items[3], "node_id")->str, "s");
  assert_string_equal(json_get(steps->items[3], "would")->str,
                      "would send \"hello\" to customer");
  assert_string_equal(json_get(json_get(steps->items[3], "input"), "text")->str,
                      "hello");
  assert_int_equal(json_get(r, "would")->n, 1);
  assert_string_equal(json_get(r, "outcome")->str, "completed");
  assert_int_equal(effects_made, 0);
  /* the false branch: the failing node, and the outcome says so */
  r = rehearse(a, &bp, "{\"amount\":5}");
  steps = json_get(r, "steps");
  assert_int_equal(steps->n, 4);
  assert_string_equal(json_get(steps->items[3], "node_id")->str, "x");
  assert_string_equal(json_get(steps->items[3], "error")->str, "boom");
  assert_string_equal(json_get(r, "outcome")->str, "failed");
  assert_int_equal(json_get(r, "would")->n, 0);
  /* for_each: the branch once per item, each in its own scope */
  bp_node n2[] = {{"t", "trigger", empty, &t_trigger},
                  {"f", "for_each", empty, &t_each},
                  {"s", "send_message", empty, &t_send}};
  bp_edge e2[] = {{0, 1, NULL}, {1, 2, NULL}};
  blueprint bp2 = {.name = "n",
                   .nodes = n2,
                   .nnodes = 3,
                   .edges = e2,
                   .nedges = 2,
                   .trigger = 0,
                   .kind = BP_TRIGGER_MANUAL};
  r = rehearse(a, &bp2, "{}");
  steps = json_get(r, "steps");
  assert_int_equal(steps->n, 5);
  assert_int_equal(json_get(r, "would")->n, 3);
  assert_string_equal(json_get(steps->items[4], "scope")->str, "f#2");
  assert_string_equal(json_get(r, "would")->items[2]->str,
                      "would send \"hello\" to \"c\"");
  /* a node type that cannot run is a failed step, not a crash */
  static const flow_node_type t_norun = {"set", 0, NULL, NULL};
  bp_node n3[] = {{"t", "trigger", empty, &t_trigger},
                  {"v", "set", empty, &t_norun}};
  bp_edge e3[] = {{0, 1, NULL}};
  blueprint bp3 = {.name = "n",
                   .nodes = n3,
                   .nnodes = 2,
                   .edges = e3,
                   .nedges = 1,
                   .trigger = 0,
                   .kind = BP_TRIGGER_MANUAL};
  r = rehearse(a, &bp3, "{}");
  assert_string_equal(json_get(r, "outcome")->str, "failed");
  assert_int_equal(effects_made, 0);
  arena_free(a);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_prompt_set),    cmocka_unit_test(test_amounts),
      cmocka_unit_test(test_shipment_stages),
      cmocka_unit_test(test_bad_prompts),   cmocka_unit_test(test_explanation),
      cmocka_unit_test(test_llm_request),   cmocka_unit_test(test_llm_answers),
      cmocka_unit_test(test_rehearse_walk),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
