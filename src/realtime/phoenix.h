/* phoenix.h - the frames of the Phoenix channel protocol that realtime-js
 * speaks, parsed and written; nothing here touches a socket or a channel.
 *
 * Two serializations, chosen per socket by the `vsn` query parameter:
 * 2.0.0 sends arrays [join_ref, ref, topic, event, payload]; 1.0.0 (and a
 * missing vsn) sends objects {topic, event, payload, ref, join_ref}, and the
 * server's object frames leave join_ref out. Refs are opaque to the server:
 * they are kept as the JSON text the client sent (a string, a number or
 * null) and echoed byte for byte, because the client compares them with
 * ===. See /work/shared/realtime-protocol.md and docs/realtime.md. */
#ifndef MUNSHI_REALTIME_PHOENIX_H
#define MUNSHI_REALTIME_PHOENIX_H

#include <stddef.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"

typedef enum { PHX_V1 = 1, PHX_V2 = 2 } phx_vsn;

/* Longest topic, event and ref the server accepts (bytes). */
#define PHX_MAX_TOPIC 256
#define PHX_MAX_EVENT 64
#define PHX_MAX_REF 64

/* The vsn query value: "1.0.0" (or NULL) and "2.0.0"; 0 for others. */
phx_vsn phx_vsn_parse(const char *vsn);

typedef struct phx_msg {
  const char *join_ref; /* JSON text ("null", "\"6\"", "6"), never NULL */
  const char *ref;      /* JSON text, never NULL */
  const char *topic;    /* decoded */
  const char *event;    /* decoded */
  const json *payload;  /* any JSON value (a JSON null when absent in v1) */
} phx_msg;

/* Parses one text frame. Returns 0, or -1 with a short reason in err (what
 * was wrong, never the client's bytes). Memory comes from a. */
int phx_parse(arena *a, phx_vsn v, const char *text, size_t n, phx_msg *out,
              char *err, size_t errlen);

/* Appends one frame. join_ref and ref are JSON texts (NULL: null); topic and
 * event plain text; payload JSON text. 0, or -1 when b's cap is passed. */
int phx_write(buf *b, phx_vsn v, const char *join_ref, const char *ref,
              const char *topic, const char *event, const char *payload);

/* ---- phx_join ---------------------------------------------------------- */

/* One entry of config.postgres_changes as the client sent it. */
typedef struct phx_binding {
  const json *params; /* the whole object, echoed back in the reply */
  const char *event;  /* "*", "INSERT", "UPDATE", "DELETE" (any case) */
  const char *schema; /* NULL when absent */
  const char *table;  /* NULL when absent (every table of the schema) */
  const char *filter; /* NULL or "" when absent */
} phx_binding;

typedef struct phx_join {
  const char *access_token; /* NULL when absent */
  int nbindings;
  phx_binding *bindings;
} phx_join;

/* Reads a phx_join payload: its access_token and config.postgres_changes
 * (other config, broadcast and presence, is ignored). Checks shapes only
 * (objects and strings where the protocol has them, at most max_bindings
 * entries); tables and filters are checked by the channel. 0, or -1 with a
 * reason for the client in err. */
int phx_parse_join(arena *a, const json *payload, int max_bindings,
                   phx_join *out, char *err, size_t errlen);

/* The reply's echo of one binding: its params with "id": id added (an id
 * the client sent is replaced). */
int phx_write_binding_echo(buf *b, const json *params, long id);

/* A stable id for a binding, > 0 (realtime-js drops ids that are falsy):
 * a hash of its params, so a rejoin with the same binding gets the same id,
 * as Supabase's phash2 does. */
long phx_binding_id(const json *params);

#endif
