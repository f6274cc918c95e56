/* words.h - an amount of money in English words with Indian numbering
 * (thousand, lakh, crore), as a GST invoice states its total: "Rupees One
 * Lakh Twenty-Three Thousand Four Hundred Fifty-Six and Fifty Paise Only".
 * Also the amount in figures with Indian digit grouping ("1,23,456.50").
 * Pure functions on integer paise. */
#ifndef MUNSHI_BIZ_WORDS_H
#define MUNSHI_BIZ_WORDS_H

#include <stdint.h>

#include "base/buf.h"

/* Appends the words of paise (0 <= paise <= GST_MONEY_MAX) to b:
 * "Rupees <words> Only", "Rupees <words> and <n> Paise Only", "Rupees Zero
 * Only"; no rupees but paise: "<n> Paise Only" ("Fifty Paise Only").
 * Crores above ninety-nine are themselves counted in lakh and thousand
 * ("Twelve Thousand Three Hundred Forty-Five Crore"), as Indian usage has no
 * larger unit. Returns 0, or -1 (b unchanged) when paise is out of range or
 * b's cap is reached. */
int biz_amount_words(buf *b, int64_t paise);

/* Appends paise as rupees with two decimals and Indian grouping: the last
 * three digits, then groups of two ("12,34,567.89", "-1,000.00"). */
void biz_amount_indian(buf *b, int64_t paise);

#endif
