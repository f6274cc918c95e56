/* ssrf.h - which addresses a request built from someone's data may reach.
 *
 * A URL an owner (or a model drafting for an owner) writes must not turn
 * munshi into a way into the machine or its network: loopback, private
 * (RFC 1918, unique-local), carrier-grade NAT, link-local (cloud metadata
 * at 169.254.169.254 and fd00:ec2::254), multicast, broadcast and the
 * reserved ranges are refused, IPv4 mapped or translated into IPv6 alike.
 * http_client.c applies this to requests with net_req.guard_private set:
 * it resolves the host itself, refuses when any address is forbidden,
 * pins the connection to the addresses it checked (so a DNS answer that
 * changes in between cannot slip in) and checks again the address of
 * every socket libcurl opens. */
#ifndef MUNSHI_NET_SSRF_H
#define MUNSHI_NET_SSRF_H

#include <sys/socket.h>

/* 1 when sa (AF_INET or AF_INET6) is one a guarded request may not reach;
 * any other family is forbidden too. */
int net_addr_forbidden(const struct sockaddr *sa);
/* The same for an address in text ("10.0.0.1", "::1"); 1 also when text
 * is not an IP address. */
int net_addr_text_forbidden(const char *text);
/* 1 when host:port is in list, a comma-separated "host:port" list (IPv6
 * hosts in brackets, "[::1]:8080"); host compares case-insensitively.
 * NULL or "" lists nothing. */
int net_host_allowed(const char *list, const char *host, long port);

#endif
