/* upi.c - builds upi://pay links (upi.h). */
#include "biz/upi.h"

#include <stdio.h>

/* Percent-encodes everything but RFC 3986's unreserved characters. */
static void pct(buf *b, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
    if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
        (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.' ||
        *p == '~') {
      buf_putc(b, (char)*p);
    } else {
      buf_putc(b, '%');
      buf_putc(b, hex[*p >> 4]);
      buf_putc(b, hex[*p & 15]);
    }
  }
}

void biz_upi_link(buf *b, const char *vpa, const char *name, int64_t paise,
                  const char *note, const char *ref) {
  buf_puts(b, "upi://pay?pa=");
  pct(b, vpa);
  buf_puts(b, "&pn=");
  pct(b, name);
  if (paise > 0) {
    char am[32];
    snprintf(am, sizeof am, "%lld.%02lld", (long long)(paise / 100),
             (long long)(paise % 100));
    buf_puts(b, "&am=");
    buf_puts(b, am);
  }
  buf_puts(b, "&cu=INR&tn=");
  pct(b, note);
  if (ref && *ref) {
    buf_puts(b, "&tr=");
    pct(b, ref);
  }
}
