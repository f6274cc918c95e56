/* ssrf.c - forbidden address ranges for guarded requests (ssrf.h). */
#include "net/ssrf.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* a (host order) within net/bits. */
static int in4(uint32_t a, uint32_t net, int bits) {
  uint32_t mask = bits ? ~(uint32_t)0 << (32 - bits) : 0;
  return (a & mask) == (net & mask);
}

static int v4_forbidden(uint32_t a) {
  static const struct {
    uint32_t net;
    int bits;
  } bad[] = {
      {0x00000000u, 8},  /* "this network" */
      {0x0A000000u, 8},  /* 10/8 private */
      {0x64400000u, 10}, /* 100.64/10 carrier-grade NAT */
      {0x7F000000u, 8},  /* loopback */
      {0xA9FE0000u, 16}, /* 169.254/16 link-local, cloud metadata */
      {0xAC100000u, 12}, /* 172.16/12 private */
      {0xC0000000u, 24}, /* 192.0.0/24 protocol assignments */
      {0xC0000200u, 24}, /* 192.0.2/24 documentation */
      {0xC0A80000u, 16}, /* 192.168/16 private */
      {0xC6120000u, 15}, /* 198.18/15 benchmarking */
      {0xC6336400u, 24}, /* 198.51.100/24 documentation */
      {0xCB007100u, 24}, /* 203.0.113/24 documentation */
      {0xE0000000u, 4},  /* multicast */
      {0xF0000000u, 4},  /* reserved, broadcast */
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    if (in4(a, bad[i].net, bad[i].bits)) return 1;
  return 0;
}

static int v6_forbidden(const unsigned char *b) {
  static const unsigned char zero[16] = {0};
  /* ::ffff:a.b.c.d (mapped), ::a.b.c.d (compatible), 64:ff9b::/96 (NAT64)
   * reach the IPv4 address inside: judged as that address. */
  static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  static const unsigned char nat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  if (!memcmp(b, mapped, 12) || !memcmp(b, nat64, 12) || !memcmp(b, zero, 12)) {
    uint32_t a = (uint32_t)b[12] << 24 | (uint32_t)b[13] << 16 |
                 (uint32_t)b[14] << 8 | b[15];
    return v4_forbidden(a);
  }
  if (b[0] == 0xff) return 1;                       /* multicast */
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return 1; /* fe80::/10 link-local */
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return 1; /* fec0::/10 site-local */
  if ((b[0] & 0xfe) == 0xfc) return 1;              /* fc00::/7 unique-local */
  if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0x0d && b[3] == 0xb8)
    return 1; /* 2001:db8::/32 documentation */
  if (b[0] == 0x01 && !memcmp(b + 1, zero, 7)) return 1; /* 100::/64 discard */
  return 0;
}

/* The family and the address are copied out of sa rather than read through
 * a cast pointer: a sockaddr_in filled as such and read as a sockaddr is an
 * aliasing violation the optimiser may act on (it did: at -O2 the family
 * read as 0 and every address was refused). */
int net_addr_forbidden(const struct sockaddr *sa) {
  if (!sa) return 1;
  sa_family_t family;
  memcpy(&family, (const char *)sa + offsetof(struct sockaddr, sa_family),
         sizeof family);
  if (family == AF_INET) {
    struct in_addr a;
    memcpy(&a, (const char *)sa + offsetof(struct sockaddr_in, sin_addr),
           sizeof a);
    return v4_forbidden(ntohl(a.s_addr));
  }
  if (family == AF_INET6) {
    struct in6_addr a;
    memcpy(&a, (const char *)sa + offsetof(struct sockaddr_in6, sin6_addr),
           sizeof a);
    return v6_forbidden(a.s6_addr);
  }
  return 1;
}

int net_addr_text_forbidden(const char *text) {
  struct in_addr a4;
  struct in6_addr a6;
  if (inet_pton(AF_INET, text, &a4) == 1) return v4_forbidden(ntohl(a4.s_addr));
  if (inet_pton(AF_INET6, text, &a6) == 1) return v6_forbidden(a6.s6_addr);
  return 1;
}

int net_host_allowed(const char *list, const char *host, long port) {
  if (!list || !*list || !host) return 0;
  size_t hlen = strlen(host);
  const char *p = list;
  while (*p) {
    const char *end = strchr(p, ',');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    while (n && (*p == ' ' || *p == '\t')) p++, n--;
    while (n && (p[n - 1] == ' ' || p[n - 1] == '\t')) n--;
    /* the port is after the last ':' */
    const char *colon = NULL;
    for (size_t i = n; i > 0; i--)
      if (p[i - 1] == ':') {
        colon = p + i - 1;
        break;
      }
    if (colon) {
      const char *h = p;
      size_t hl = (size_t)(colon - p);
      if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') h++, hl -= 2;
      long pt = 0;
      int digits = 0;
      for (const char *q = colon + 1; q < p + n && digits < 6; q++, digits++) {
        if (*q < '0' || *q > '9') {
          digits = 0;
          break;
        }
        pt = pt * 10 + (*q - '0');
      }
      if (digits && digits == (int)(p + n - colon - 1) && pt == port &&
          hl == hlen && !strncasecmp(h, host, hl))
        return 1;
    }
    if (!end) break;
    p = end + 1;
  }
  return 0;
}
