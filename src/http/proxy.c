/* proxy.c - trusted proxies and X-Forwarded-For (see proxy.h).
 *
 * Every address is kept as 16 bytes, IPv4 as ::ffff:a.b.c.d, so one prefix
 * compare serves both families and a dual-stack socket's mapped peer
 * matches a plain IPv4 entry. */
#include "http/proxy.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

/* Parses an address (IPv4 or IPv6, optionally "[v6]", "v4:port" or
 * "[v6]:port" as some proxies write) in s[0..n). Returns 0 and the 16
 * bytes, whether it is IPv4, and its text; -1 when it is not an address. */
static int parse_addr(const char *s, size_t n, uint8_t out[16], int *v4,
                      char *text) {
  char tmp[64];
  while (n && (*s == ' ' || *s == '\t')) s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
  if (n == 0 || n >= sizeof tmp) return -1;
  if (s[0] == '[') {
    const char *close = memchr(s, ']', n);
    if (!close) return -1;
    size_t after = n - (size_t)(close - s) - 1;
    if (after && close[1] != ':') return -1;
    n = (size_t)(close - s) - 1;
    s++;
  }
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  struct in_addr a4;
  struct in6_addr a6;
  char *colon = strchr(tmp, ':');
  if (colon && !strchr(colon + 1, ':') && strchr(tmp, '.')) *colon = '\0';
  if (inet_pton(AF_INET, tmp, &a4) == 1) {
    memset(out, 0, 10);
    out[10] = out[11] = 0xff;
    memcpy(out + 12, &a4, 4);
    *v4 = 1;
  } else if (inet_pton(AF_INET6, tmp, &a6) == 1) {
    memcpy(out, &a6, 16);
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    *v4 = !memcmp(out, mapped, 12);
  } else {
    return -1;
  }
  if (text) {
    if (*v4)
      inet_ntop(AF_INET, out + 12, text, PROXY_ADDR_MAX);
    else
      inet_ntop(AF_INET6, out, text, PROXY_ADDR_MAX);
  }
  return 0;
}

int proxy_list_parse(const char *spec, proxy_list *out, char *err,
                     size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!spec) return 0;
  const char *p = spec;
  while (*p) {
    const char *e = strchr(p, ',');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    const char *slash = memchr(p, '/', n);
    size_t an = slash ? (size_t)(slash - p) : n;
    int blank = 1;
    for (size_t i = 0; i < n; i++)
      if (p[i] != ' ' && p[i] != '\t') blank = 0;
    if (!blank) {
      proxy_net net;
      int v4;
      if (out->n >= PROXY_MAX_NETS) {
        snprintf(err, errlen, "trusted proxies: more than %d entries",
                 PROXY_MAX_NETS);
        return -1;
      }
      if (parse_addr(p, an, net.addr, &v4, NULL) || (slash && p[0] == '['))
        goto bad;
      int max = v4 ? 32 : 128;
      int bits = max;
      if (slash) {
        const char *b = slash + 1, *be = p + n;
        while (b < be && *b == ' ') b++;
        while (be > b && be[-1] == ' ') be--;
        if (b == be || be - b > 3) goto bad;
        bits = 0;
        for (; b < be; b++) {
          if (*b < '0' || *b > '9') goto bad;
          bits = bits * 10 + (*b - '0');
        }
        if (bits > max) goto bad;
      }
      net.bits = v4 ? bits + 96 : bits;
      /* Clear the host bits so the compare is a plain prefix compare. */
      for (int i = 0; i < 16; i++) {
        int keep = net.bits - i * 8;
        if (keep >= 8) continue;
        net.addr[i] &= keep <= 0 ? 0 : (uint8_t)(0xff << (8 - keep));
      }
      out->nets[out->n++] = net;
    }
    if (!e) break;
    p = e + 1;
    continue;
  bad:
    snprintf(err, errlen,
             "trusted proxies: \"%.*s\" is not an IP address or CIDR block",
             (int)(n > 60 ? 60 : n), p);
    return -1;
  }
  return 0;
}

static int in_list(const proxy_list *l, const uint8_t a[16]) {
  for (int i = 0; i < l->n; i++) {
    const proxy_net *net = &l->nets[i];
    int full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(a, net->addr, (size_t)full)) continue;
    if (rest && ((a[full] ^ net->addr[full]) & (uint8_t)(0xff << (8 - rest))))
      continue;
    return 1;
  }
  return 0;
}

int proxy_trusted(const proxy_list *l, const char *ip) {
  uint8_t a[16];
  int v4;
  if (!ip || parse_addr(ip, strlen(ip), a, &v4, NULL)) return 0;
  return in_list(l, a);
}

void proxy_client(const proxy_list *l, const char *peer,
                  const char *const *xff, size_t nxff, char *out) {
  uint8_t a[16];
  int v4;
  snprintf(out, PROXY_ADDR_MAX, "%s", peer ? peer : "-");
  /* The peer's own text, with a mapped IPv4 written as IPv4. */
  if (!peer || parse_addr(peer, strlen(peer), a, &v4, out)) return;
  if (!in_list(l, a)) return;
  char last[PROXY_ADDR_MAX] = "";
  /* Right to left over all the values, the last header's last entry first. */
  for (size_t h = nxff; h-- > 0;) {
    const char *v = xff[h];
    if (!v) continue;
    const char *end = v + strlen(v);
    while (end > v) {
      const char *start = end;
      while (start > v && start[-1] != ',') start--;
      size_t n = (size_t)(end - start);
      int blank = 1;
      for (size_t i = 0; i < n; i++)
        if (start[i] != ' ' && start[i] != '\t') blank = 0;
      if (!blank) {
        char text[PROXY_ADDR_MAX];
        if (parse_addr(start, n, a, &v4, text)) return; /* garbled: the peer */
        if (!in_list(l, a)) {
          memcpy(out, text, sizeof text);
          return;
        }
        memcpy(last, text, sizeof text);
      }
      end = start > v ? start - 1 : v;
    }
  }
  if (last[0]) memcpy(out, last, PROXY_ADDR_MAX);
}
