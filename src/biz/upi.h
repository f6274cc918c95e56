/* upi.h - the upi://pay link of a payment request (NPCI's UPI linking
 * specification), which any UPI app opens with the payee and amount filled
 * in: on an invoice (its QR code), in the agent's "pay" reply, in the
 * caption of a sent invoice. */
#ifndef MUNSHI_BIZ_UPI_H
#define MUNSHI_BIZ_UPI_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

/* Appends upi://pay?pa=…&pn=…&am=…&cu=INR&tn=…[&tr=…] to b: pa the payee's
 * VPA, pn the payee's name, am the amount in rupees with two decimals
 * (left out when paise <= 0, so the payer types it), tn a note shown to the
 * payer, tr the transaction reference (an invoice number; NULL or "" to
 * leave it out). Every value is percent-encoded (all but RFC 3986's
 * unreserved characters, so a space is %20 and UTF-8 names survive); pn
 * and tn go through biz_text_clean first, so a name cannot carry a bidi
 * override that makes a UPI app show a different payee. */
/* Copies the n bytes at s into dst (room for n + 1 bytes; NUL-terminated)
 * without the characters that make a text show other than it reads: the
 * bidi embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069)
 * and marks (U+200E, U+200F, U+061C), which can print an address reversed
 * or a payee's name as another; C0 controls, DEL and C1 controls. A tab,
 * and a newline unless keep_newlines, becomes a space. Other bytes,
 * invalid UTF-8 included, are copied as they are. Returns dst's length. */
size_t biz_text_clean(char *dst, const char *s, size_t n, int keep_newlines);

void biz_upi_link(buf *b, const char *vpa, const char *name, int64_t paise,
                  const char *note, const char *ref);

#endif
