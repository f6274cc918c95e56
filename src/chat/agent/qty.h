/* qty.h - quantities and units in a message: "2 bags of rice and 3 oil",
 * "2 kg atta bhej do", "दो किलो चावल", "500 g sugar", "dedh kilo dal".
 *
 * Quantities are exact thousandths of the product's unit (2.5 kg = 2500),
 * as the books keep them; nothing passes through floating point, and a
 * quantity that cannot be said exactly in the product's unit (0.5 g of a
 * product sold by the kg) is not taken. Pure. */
#ifndef MUNSHI_CHAT_AGENT_QTY_H
#define MUNSHI_CHAT_AGENT_QTY_H

#include <stdint.h>

#include "chat/agent/lexicon.h"
#include "chat/agent/text.h"

/* Kinds of units; a product's unit (products.unit) is read the same way. */
typedef enum {
  AGENT_UNIT_NONE = 0,
  AGENT_UNIT_KG,
  AGENT_UNIT_G,
  AGENT_UNIT_L,
  AGENT_UNIT_ML,
  AGENT_UNIT_PIECE, /* pcs, bag, packet, box, bottle...: counted */
  AGENT_UNIT_DOZEN,
} agent_unit;

/* The unit a word names (kg, kilo, किलो, gm, ltr, bags, bori, packet,
 * dozen...), or AGENT_UNIT_NONE. *canon (may be NULL) gets a short
 * English name ("kg", "g", "l", "ml", "pcs", "dozen"). */
agent_unit agent_unit_of(const char *word, const char **canon);

/* The value of a number word ("do", "teen", "दो", "aadha", "dedh", "two"),
 * in thousandths; 0 when the word is not one. */
int64_t agent_number_word(const char *word);

/* Converts n said in unit `said` to thousandths of the product's unit
 * `product_unit` (a products.unit text: "kg", "g", "pcs", "litre"...).
 * Returns 0, or -1 when the units do not convert or the result is not a
 * whole number of thousandths. */
int agent_qty_convert(int64_t n, agent_unit said, const char *product_unit,
                      int64_t *out);

/* One line of an order: the product (index in the catalog) and its
 * quantity in thousandths of the product's unit. has_qty is 0 when the
 * message named no quantity for it (the caller decides: 1 unit). */
typedef struct agent_line {
  int product;
  int64_t qty;
  int has_qty;
} agent_line;

/* Reads the order lines of tk, one per product mention (m[0..nm), from
 * agent_find_products): the number before the mention ("2 kg atta", "3
 * oil", "दो किलो चावल") or else right after it ("atta 2 kg"), each number
 * used once. units[i] is the products.unit of product i (NULL: pieces).
 * Lines of the same product are added up. Returns the number of lines. */
int agent_read_lines(const agent_tokens *tk, const agent_mention *m, int nm,
                     const char *const *units, agent_line *out, int max);

#endif
