/* upi.c - builds upi://pay links (upi.h). */
#include "biz/upi.h"

#include <stdio.h>

#include "base/alloc.h"
#include <stdlib.h>
#include <string.h>

size_t biz_text_clean(char *dst, const char *s, size_t n, int keep_newlines) {
  const unsigned char *p = (const unsigned char *)s;
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = p[i];
    if (c == '\n' && keep_newlines) {
      dst[o++] = '\n';
      i++;
    } else if (c == '\t' || c == '\n') {
      dst[o++] = ' ';
      i++;
    } else if (c < 0x20 || c == 0x7f) {
      i++;
    } else if (c == 0xc2 && i + 1 < n && p[i + 1] >= 0x80 && p[i + 1] <= 0x9f) {
      i += 2; /* C1 control */
    } else if (c == 0xd8 && i + 1 < n && p[i + 1] == 0x9c) {
      i += 2; /* U+061C arabic letter mark */
    } else if (c == 0xe2 && i + 2 < n &&
               ((p[i + 1] == 0x80 &&
                 (p[i + 2] == 0x8e || p[i + 2] == 0x8f ||
                  (p[i + 2] >= 0xaa && p[i + 2] <= 0xae))) ||
                (p[i + 1] == 0x81 && p[i + 2] >= 0xa6 && p[i + 2] <= 0xa9))) {
      i += 3; /* U+200E/F, U+202A-E, U+2066-9 */
    } else {
      dst[o++] = (char)c;
      i++;
    }
  }
  dst[o] = '\0';
  return o;
}

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

/* pct of s after biz_text_clean (newlines as spaces). */
static void pct_clean(buf *b, const char *s) {
  size_t n = s ? strlen(s) : 0;
  char small[256];
  char *t = n < sizeof small ? small : xmalloc(n + 1);
  biz_text_clean(t, s ? s : "", n, 0);
  pct(b, t);
  if (t != small) free(t);
}

void biz_upi_link(buf *b, const char *vpa, const char *name, int64_t paise,
                  const char *note, const char *ref) {
  buf_puts(b, "upi://pay?pa=");
  pct(b, vpa);
  buf_puts(b, "&pn=");
  pct_clean(b, name);
  if (paise > 0) {
    char am[32];
    snprintf(am, sizeof am, "%lld.%02lld", (long long)(paise / 100),
             (long long)(paise % 100));
    buf_puts(b, "&am=");
    buf_puts(b, am);
  }
  buf_puts(b, "&cu=INR&tn=");
  pct_clean(b, note);
  if (ref && *ref) {
    buf_puts(b, "&tr=");
    pct(b, ref);
  }
}
