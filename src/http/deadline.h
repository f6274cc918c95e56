/* deadline.h - an absolute deadline for a request's headers.
 *
 * libmicrohttpd's connection timeout counts idle time, so a client that
 * sends one byte of its headers every few seconds is never timed out, and a
 * thousand of them hold a thousand connections. Here each connection gets a
 * deadline when it opens and again after each answer; it is lifted when the
 * headers are complete. A sweeper thread shuts down (shutdown(2), not
 * close) the socket of any connection past its deadline; libmicrohttpd then
 * sees the end of the stream and closes the connection itself.
 *
 * The socket stays valid while the sweeper may touch it: a connection is
 * removed (deadline_remove, under the same lock the sweeper holds) from
 * libmicrohttpd's "connection closed" notification, which runs before the
 * library closes the descriptor. */
#ifndef MUNSHI_HTTP_DEADLINE_H
#define MUNSHI_HTTP_DEADLINE_H

#include <stdint.h>

typedef struct deadline deadline;
typedef struct deadline_conn deadline_conn;

/* timeout_us: how long headers may take. Returns NULL when the sweeper
 * thread cannot start. */
deadline *deadline_new(int64_t timeout_us);
/* Stops the sweeper and frees; connections still listed are freed too
 * (their sockets are left alone). Accepts NULL. */
void deadline_free(deadline *d);

/* Starts watching socket fd, with the deadline running. */
deadline_conn *deadline_add(deadline *d, int fd);
/* Headers are in: no deadline until deadline_arm. Accepts NULL. */
void deadline_clear(deadline_conn *c);
/* The next request's headers are due within the timeout from now. */
void deadline_arm(deadline *d, deadline_conn *c);
/* Stops watching and frees c (before its socket is closed). Accepts NULL. */
void deadline_remove(deadline *d, deadline_conn *c);

/* Sockets shut down so far (for tests and logs). */
long deadline_cut_count(deadline *d);

#endif
