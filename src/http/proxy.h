/* proxy.h - which peers are trusted reverse proxies, and the client address
 * behind them (X-Forwarded-For).
 *
 * The list comes from MUNSHI_TRUSTED_PROXIES: IPv4 and IPv6 addresses and
 * CIDR blocks, comma-separated ("127.0.0.1, 10.0.0.0/8, fd00::/8"). When
 * the peer is not in it, X-Forwarded-For is ignored: anyone can send the
 * header, and believing it would let a client pick the address that rate
 * limits count. */
#ifndef MUNSHI_HTTP_PROXY_H
#define MUNSHI_HTTP_PROXY_H

#include <stddef.h>
#include <stdint.h>

#define PROXY_MAX_NETS 64
#define PROXY_ADDR_MAX 46 /* INET6_ADDRSTRLEN */

typedef struct proxy_net {
  uint8_t addr[16]; /* IPv4 as IPv4-mapped IPv6 */
  int bits;         /* prefix length over the 128 bits */
} proxy_net;

typedef struct proxy_list {
  int n;
  proxy_net nets[PROXY_MAX_NETS];
} proxy_list;

/* Parses spec (NULL or "" is the empty list). Returns 0, or -1 with a
 * message naming the bad entry in err. */
int proxy_list_parse(const char *spec, proxy_list *out, char *err,
                     size_t errlen);

/* 1 when the address text ip is in the list; 0 otherwise (also when ip is
 * not an address). */
int proxy_trusted(const proxy_list *l, const char *ip);

/* Writes the client address to out (PROXY_ADDR_MAX bytes): the peer, unless
 * the peer is trusted and xff (the X-Forwarded-For values in order, each
 * "a, b, c") names someone; then the right-most address that is not itself
 * a trusted proxy (or the left-most, when all are). An entry that is not an
 * IP address stops the walk there and the peer is used: a forged or garbled
 * header never yields a made-up address. */
void proxy_client(const proxy_list *l, const char *peer,
                  const char *const *xff, size_t nxff, char *out);

#endif
