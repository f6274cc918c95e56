/* reply.h - what the agent says, in the customer's language, and how it
 * writes numbers: money as "₹1,234.50" (Indian digit grouping past a
 * thousand: "₹1,23,456.00"), quantities as "2", "2.5", "0.25", GST rates
 * as "5%", dates as "1 Dec 2026", UPI payment links.
 *
 * The texts are templates with {1}..{9} holes filled with values the
 * caller formatted from the books; no template holds a digit of its own,
 * so every number in a reply is one the caller put there. Pure. */
#ifndef MUNSHI_CHAT_AGENT_REPLY_H
#define MUNSHI_CHAT_AGENT_REPLY_H

#include <stdint.h>

#include "base/buf.h"
#include "chat/agent/text.h"

#define AGENT_MONEY_MAX 40

/* Writes paise as "₹1,234.50" ("-₹12.00" below zero). */
void agent_money(int64_t paise, char out[AGENT_MONEY_MAX]);
/* Thousandths as the shortest exact decimal: 2000 "2", 2500 "2.5". */
void agent_qty_text(int64_t thousandths, char out[32]);
/* Hundredths of a percent as "5%", "12.5%", "0.25%". */
void agent_rate_text(int64_t hundredths, char out[16]);
/* Days since 1970-01-01 as "1 Dec 2026". */
void agent_date_text(int32_t days, char out[24]);

/* The messages. */
typedef enum {
  R_GREET, /* {1} business name */
  R_HELP,
  R_THANKS,
  R_PRICE_LINE,       /* {1} product {2} base {3} rate {4} with GST {5} unit */
  R_PRICE_LINE_NOGST, /* {1} product {2} price {5} unit */
  R_PRICE_LIST,       /* heading of the price list */
  R_AVAIL_YES,        /* {1} product {2} stock {3} unit */
  R_AVAIL_NO,         /* {1} product */
  R_ORDER_HEAD,
  R_ORDER_LINE,  /* {1} qty {2} unit {3} product {4} line total */
  R_ORDER_TOTAL, /* {1} total */
  R_ORDER_WHICH,
  R_CONFIRMED, /* {1} invoice number {2} total */
  R_NOTHING_PENDING,
  R_CANCELLED,
  R_ORDER_FAILED, /* {1} the books' reason */
  R_BALANCE_DUE,  /* {1} amount */
  R_BALANCE_NONE,
  R_BALANCE_CREDIT, /* {1} amount */
  R_NO_ACCOUNT,
  R_LAST_INVOICE, /* {1} number {2} date {3} total {4} due */
  R_NO_INVOICE,
  R_PAY_LINK, /* {1} amount {2} link */
  R_PAY_NOTHING,
  R_PAY_NO_UPI,    /* {1} amount */
  R_TRACK,         /* {1} invoice number {2} status */
  R_TRACK_COURIER, /* {1} courier {2} AWB */
  R_TRACK_LINK,    /* {1} url */
  R_NOT_SHIPPED,   /* {1} invoice number */
  R_HANDOVER,
  R_FALLBACK,
  R_UNKNOWN_PRODUCT,
  R_OWNER_SALES, /* {1} count {2} total {3} payments */
  R_OWNER_DEBTORS_HEAD,
  R_OWNER_DEBTOR_LINE, /* {1} name {2} amount */
  R_OWNER_NO_DEBTORS,
  R_OWNER_STOCK_LINE, /* {1} product {2} stock {3} unit */
  R_OWNER_REMINDED,   /* {1} queued {2} skipped */
  R_REMINDER,         /* {1} customer {2} business {3} amount */
  R_OWNER_NOTE,       /* {1} customer {2} contact {3} their words */
  R_TRACK_SCAN,       /* {1} latest scan's activity {2} its location */
  R_N_MESSAGES
} agent_msg;

/* Appends message m in language l (unknown: English) with args[0..n) in
 * its holes {1}..{n} (a hole with no argument is left empty). */
void agent_say(buf *b, agent_lang l, agent_msg m, const char *const *args,
               int n);

#endif
