/* upi.h - the upi://pay link of a payment request (NPCI's UPI linking
 * specification), which any UPI app opens with the payee and amount filled
 * in: on an invoice (its QR code), in the agent's "pay" reply, in the
 * caption of a sent invoice. */
#ifndef MUNSHI_BIZ_UPI_H
#define MUNSHI_BIZ_UPI_H

#include <stdint.h>

#include "base/buf.h"

/* Appends upi://pay?pa=…&pn=…&am=…&cu=INR&tn=…[&tr=…] to b: pa the payee's
 * VPA, pn the payee's name, am the amount in rupees with two decimals
 * (left out when paise <= 0, so the payer types it), tn a note shown to the
 * payer, tr the transaction reference (an invoice number; NULL or "" to
 * leave it out). Every value is percent-encoded (all but RFC 3986's
 * unreserved characters, so a space is %20 and UTF-8 names survive). */
void biz_upi_link(buf *b, const char *vpa, const char *name, int64_t paise,
                  const char *note, const char *ref);

#endif
