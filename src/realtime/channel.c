/* channel.c - Phoenix channels of one WebSocket (see channel.h).
 *
 * What the server answers follows what realtime-js expects of Supabase's
 * server (/work/shared/realtime-protocol.md): a join is answered with the
 * bindings echoed and an integer id each, then a "Subscribed to
 * PostgreSQL" system message; a refused join with status error and a
 * reason; a token that expires (or an expired access_token push) ends the
 * channel with a system error and phx_close. A change goes to a channel
 * only when its token could read the row through /rest/v1 (rt_visible).
 *
 * Reconnects: the server knows what a client received from its
 * heartbeats. realtime-js sends heartbeat N+1 only after the reply to N
 * arrived (else it reconnects), so everything queued before the reply to N
 * was received once N+1 comes in: `acked` moves to the position that was
 * current when the previous reply was queued. A dropped socket parks its
 * channels with that position, and a rejoin replays from it: a change may
 * come twice, none is skipped. */
#include "realtime/channel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/timeutil.h"

typedef struct rt_binding {
  long id;
  unsigned ops;            /* RT_INSERT | RT_UPDATE | RT_DELETE */
  const rest_table *table; /* NULL: every table */
  rt_filter *filter;       /* NULL: every row */
} rt_binding;

struct rt_chan {
  rt_chan *next;
  arena *a;
  const char *topic;
  const char *name;     /* topic without "realtime:" */
  const char *join_ref; /* JSON text */
  api_principal who;
  int64_t exp_s;        /* 0: the token has no exp */
  int nb;
  rt_binding *b;
  const char *bkey; /* the bindings as sent, one per line (the park key's tail) */
  rt_pos from; /* live changes after this one */
};

struct rt_sess {
  rt_env *env;
  phx_vsn vsn;
  rt_chan *chans;
  int nchans;
  char owner[64]; /* what the socket counts against ("" nothing) */
  char *apikey;
  rt_pos acked;     /* the client is known to have everything up to here */
  rt_pos reply_pos; /* seen when the last heartbeat reply was queued */
  rt_send_fn send;
  rt_close_req_fn close;
  void *cls;
  buf out; /* the frame being written */
};

static int64_t now_s(const rt_env *e) {
  return e->now_s ? e->now_s() : time_now_us() / 1000000;
}

rt_sess *rt_sess_new(rt_env *env, phx_vsn vsn, const char *remote,
                     const char *apikey, rt_send_fn send, rt_close_req_fn close,
                     void *cls) {
  rt_sess *s = xcalloc(1, sizeof *s);
  s->env = env;
  s->vsn = vsn;
  s->send = send;
  s->close = close;
  s->cls = cls;
  s->apikey = apikey && *apikey ? xstrdup(apikey) : NULL;
  s->acked = s->reply_pos = env->seen;
  buf_init(&s->out, 0);
  snprintf(s->owner, sizeof s->owner, "a:%.60s", remote ? remote : "-");
  if (env->owner_take && env->owner_take(env->cls, s->owner)) {
    free(s->apikey);
    free(s);
    return NULL;
  }
  return s;
}

/* Who, where and what: a rejoin must match all of it to pick up a parked
 * channel (in ch's arena). */
static const char *park_key(rt_chan *ch) {
  return arena_printf(ch->a, "%d\n%s\n%s\n%s\n%s", (int)ch->who.role, ch->who.sub,
                      ch->who.session_id, ch->topic, ch->bkey);
}

static void chan_free(rt_chan *ch) {
  if (ch) arena_free(ch->a);
}

static rt_pos pos_max(rt_pos a, rt_pos b) { return rt_pos_cmp(a, b) >= 0 ? a : b; }

void rt_sess_free(rt_sess *s, int park) {
  if (!s) return;
  rt_chan *ch = s->chans;
  while (ch) {
    rt_chan *next = ch->next;
    if (park && s->env->park)
      s->env->park(s->env->cls, park_key(ch), pos_max(s->acked, ch->from));
    chan_free(ch);
    ch = next;
  }
  if (s->owner[0] && s->env->owner_drop) s->env->owner_drop(s->env->cls, s->owner);
  buf_free(&s->out);
  free(s->apikey);
  free(s);
}

int rt_sess_channels(const rt_sess *s) { return s->nchans; }
const api_principal *rt_chan_who(const rt_chan *ch) { return &ch->who; }

int rt_chan_tables(const rt_chan *ch, const rest_table **out, int max) {
  int n = 0;
  for (int i = 0; i < ch->nb; i++) {
    if (!ch->b[i].table) return 0;
    int dup = 0;
    for (int j = 0; j < n; j++) dup |= out[j] == ch->b[i].table;
    if (!dup && n < max) out[n++] = ch->b[i].table;
  }
  return n;
}

/* ---- writing frames ------------------------------------------------------ */

static int emit(rt_sess *s, const char *join_ref, const char *ref,
                const char *topic, const char *event, const char *payload) {
  buf_reset(&s->out);
  if (phx_write(&s->out, s->vsn, join_ref, ref, topic, event, payload)) return -1;
  return s->send(s->cls, s->out.data, s->out.len);
}

static void reply(rt_sess *s, const phx_msg *m, const char *status,
                  const char *response) {
  buf p;
  buf_init(&p, 0);
  buf_puts(&p, "{\"status\":");
  json_write_str(&p, status, strlen(status));
  buf_puts(&p, ",\"response\":");
  buf_puts(&p, response);
  buf_putc(&p, '}');
  emit(s, m->join_ref, m->ref, m->topic, "phx_reply", buf_cstr(&p));
  buf_free(&p);
}

static void reply_error(rt_sess *s, const phx_msg *m, const char *reason) {
  buf r;
  buf_init(&r, 0);
  buf_puts(&r, "{\"reason\":");
  json_write_str(&r, reason, strlen(reason));
  buf_putc(&r, '}');
  reply(s, m, "error", buf_cstr(&r));
  buf_free(&r);
}

static void system_msg(rt_sess *s, rt_chan *ch, const char *status,
                       const char *extension, const char *message) {
  buf p;
  buf_init(&p, 0);
  json_obj o;
  json_obj_open(&o, &p);
  json_obj_str(&o, "message", message);
  json_obj_str(&o, "status", status);
  json_obj_str(&o, "extension", extension);
  json_obj_str(&o, "channel", ch->name);
  json_obj_close(&o);
  emit(s, ch->join_ref, NULL, ch->topic, "system", buf_cstr(&p));
  buf_free(&p);
}

static void unlink_chan(rt_sess *s, rt_chan *ch) {
  for (rt_chan **pp = &s->chans; *pp; pp = &(*pp)->next)
    if (*pp == ch) {
      *pp = ch->next;
      s->nchans--;
      return;
    }
}

/* Ends a channel from the server's side: system error, phx_close. */
static void end_chan(rt_sess *s, rt_chan *ch, const char *message) {
  system_msg(s, ch, "error", "system", message);
  emit(s, ch->join_ref, ch->join_ref, ch->topic, "phx_close", "{}");
  unlink_chan(s, ch);
  chan_free(ch);
}

static rt_chan *find_chan(rt_sess *s, const char *topic) {
  for (rt_chan *ch = s->chans; ch; ch = ch->next)
    if (!strcmp(ch->topic, topic)) return ch;
  return NULL;
}

/* ---- tokens -------------------------------------------------------------- */

int64_t rt_token_exp(const char *token) {
  const char *d1 = strchr(token, '.');
  const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
  if (!d2 || d2 - d1 - 1 > 8192) return 0;
  size_t n = (size_t)(d2 - d1 - 1);
  uint8_t *raw = xmalloc(n * 3 / 4 + 3);
  long len = b64url_decode(d1 + 1, n, raw);
  int64_t exp = 0;
  arena *a = arena_new();
  json *claims;
  json_error je;
  if (len > 0 && !json_parse(a, (const char *)raw, (size_t)len, &claims, &je)) {
    const json *e = json_get(claims, "exp");
    if (e && e->type == JSON_NUMBER && json_int64(e, &exp)) exp = 0;
  }
  arena_free(a);
  free(raw);
  return exp;
}

/* Verifies token: 0 with *who and *exp, or -1 with a reason for the
 * client in why (the auth layer's own message). */
static int check_token(rt_sess *s, arena *a, const char *token,
                       api_principal *who, int64_t *exp, char *why,
                       size_t whylen) {
  api_resp r;
  api_resp_init(&r);
  int rc = auth_verify_or_reply(s->env->au, a, token, who, &r);
  if (rc) {
    json *body;
    json_error je;
    const json *msg = NULL;
    if (!json_parse(a, buf_cstr(&r.body), r.body.len, &body, &je))
      msg = json_get(body, "message");
    snprintf(why, whylen, "%s%s",
             r.status == 401 && strstr(buf_cstr(&r.body), "PGRST303")
                 ? "Token has expired: "
                 : "Invalid token: ",
             msg && msg->type == JSON_STRING ? msg->str : "refused");
  } else {
    *exp = rt_token_exp(token);
    if (*exp && *exp <= now_s(s->env)) {
      snprintf(why, whylen, "Token has expired");
      rc = -1;
    }
  }
  api_resp_free(&r);
  return rc;
}

/* The token a join or refresh names: access_token unless it is absent or a
 * publishable sb_ key (which carries no claims), else the URL's apikey. */
static const char *pick_token(rt_sess *s, const char *access_token) {
  if (access_token && *access_token && strncmp(access_token, "sb_", 3))
    return access_token;
  return s->apikey;
}

/* ---- join ------------------------------------------------------------------ */

static unsigned ops_of(const char *event) {
  if (!strcmp(event, "*")) return RT_INSERT | RT_UPDATE | RT_DELETE;
  if (!strcasecmp(event, "INSERT")) return RT_INSERT;
  if (!strcasecmp(event, "UPDATE")) return RT_UPDATE;
  if (!strcasecmp(event, "DELETE")) return RT_DELETE;
  return 0;
}

/* Counts the socket against the user who joins (the per-user cap), once. */
static int take_owner(rt_sess *s, const api_principal *who, char *why,
                      size_t whylen) {
  char next[64];
  if (who->role == ROLE_AUTHENTICATED)
    snprintf(next, sizeof next, "u:%s", who->sub);
  else if (who->role == ROLE_SERVICE)
    next[0] = '\0'; /* the server's own key: not capped */
  else
    return 0;
  if (!strncmp(s->owner, "u:", 2) || (!s->owner[0] && !next[0])) return 0;
  if (next[0] && s->env->owner_take && s->env->owner_take(s->env->cls, next)) {
    snprintf(why, whylen, "too many realtime connections for this user");
    return -1;
  }
  if (s->owner[0] && s->env->owner_drop) s->env->owner_drop(s->env->cls, s->owner);
  snprintf(s->owner, sizeof s->owner, "%s", next);
  return 0;
}

static void on_join(rt_sess *s, const phx_msg *m) {
  char why[256];
  arena *a = arena_new();
  rt_chan *ch = arena_alloc(a, sizeof *ch);
  ch->a = a;
  phx_join j;
  if (phx_parse_join(a, m->payload, s->env->max_bindings, &j, why, sizeof why))
    goto refuse;
  const char *token = pick_token(s, j.access_token);
  if (!token) {
    snprintf(why, sizeof why, "no token: send the apikey in the URL or an access_token");
    goto refuse;
  }
  if (check_token(s, a, token, &ch->who, &ch->exp_s, why, sizeof why)) goto refuse;
  rt_chan *old = find_chan(s, m->topic);
  if (!old && s->nchans >= s->env->max_channels) {
    snprintf(why, sizeof why, "too many channels on this connection (at most %d)",
             s->env->max_channels);
    goto refuse;
  }
  ch->topic = arena_strdup(a, m->topic);
  ch->name = !strncmp(ch->topic, "realtime:", 9) ? ch->topic + 9 : ch->topic;
  ch->join_ref = arena_strdup(a, strcmp(m->join_ref, "null") ? m->join_ref : m->ref);
  ch->nb = j.nbindings;
  ch->b = arena_alloc(a, (j.nbindings ? (size_t)j.nbindings : 1) * sizeof *ch->b);
  buf key;
  buf_init(&key, 0);
  for (int i = 0; i < j.nbindings; i++) {
    const phx_binding *pb = &j.bindings[i];
    rt_binding *b = &ch->b[i];
    b->ops = ops_of(pb->event);
    if (!b->ops) {
      snprintf(why, sizeof why, "event must be *, INSERT, UPDATE or DELETE");
      goto refuse_key;
    }
    if (pb->schema && strcmp(pb->schema, "public") && strcmp(pb->schema, "*")) {
      snprintf(why, sizeof why, "schema must be public");
      goto refuse_key;
    }
    if (pb->table && *pb->table && strcmp(pb->table, "*")) {
      b->table = schema_table(pb->table, strlen(pb->table));
      if (!b->table) {
        snprintf(why, sizeof why, "unknown table \"%.128s\"", pb->table);
        goto refuse_key;
      }
    }
    if (pb->filter && *pb->filter) {
      if (!b->table) {
        snprintf(why, sizeof why, "a filter needs a table");
        goto refuse_key;
      }
      char ferr[200];
      if (rt_filter_parse(a, b->table, pb->filter, &b->filter, ferr, sizeof ferr)) {
        snprintf(why, sizeof why, "invalid filter: %s", ferr);
        goto refuse_key;
      }
    }
    b->id = phx_binding_id(pb->params);
    const char *txt = json_to_text(a, pb->params);
    for (int k = 0; k < i; k++) {
      /* Two different bindings with one id would each get the other's
       * events: make it unique (equal params keep equal ids). */
      if (ch->b[k].id != b->id || !strcmp(txt, json_to_text(a, j.bindings[k].params)))
        continue;
      b->id = b->id % 0x7ffffff + 1;
      k = -1;
    }
    json_write(&key, pb->params);
    buf_putc(&key, '\n');
  }
  if (take_owner(s, &ch->who, why, sizeof why)) goto refuse_key;
  ch->bkey = arena_strndup(a, buf_cstr(&key), key.len);
  buf_free(&key);

  if (old) { /* a join of a topic already joined replaces it */
    unlink_chan(s, old);
    chan_free(old);
  }
  ch->from = s->env->seen;
  ch->next = s->chans;
  s->chans = ch;
  s->nchans++;

  buf resp;
  buf_init(&resp, 0);
  buf_puts(&resp, "{\"postgres_changes\":[");
  for (int i = 0; i < ch->nb; i++) {
    if (i) buf_putc(&resp, ',');
    phx_write_binding_echo(&resp, j.bindings[i].params, ch->b[i].id);
  }
  buf_puts(&resp, "]}");
  reply(s, m, "ok", buf_cstr(&resp));
  buf_free(&resp);
  if (ch->nb) system_msg(s, ch, "ok", "postgres_changes", "Subscribed to PostgreSQL");

  rt_pos acked;
  if (s->env->unpark && s->env->unpark(s->env->cls, park_key(ch), &acked) == 1 &&
      s->env->replay) {
    int rc = s->env->replay(s->env->cls, s, ch, acked);
    if (rc == 1)
      system_msg(s, ch, "error", "postgres_changes",
                 "some changes were missed while disconnected (older than the "
                 "reconnect window)");
    else if (rc < 0)
      system_msg(s, ch, "error", "postgres_changes",
                 "changes missed while disconnected could not be read");
  }
  return;

refuse_key:
  buf_free(&key);
refuse:
  reply_error(s, m, why);
  arena_free(a);
}

/* ---- the other events ----------------------------------------------------- */

static void on_access_token(rt_sess *s, rt_chan *ch, const phx_msg *m) {
  const json *t = json_get(m->payload, "access_token");
  if (!t || t->type != JSON_STRING) return;
  const char *token = pick_token(s, t->str);
  if (!token || token == s->apikey) return; /* sb_ keys carry no claims */
  char why[256];
  api_principal who;
  int64_t exp = 0;
  arena *a = arena_new();
  /* The channel reads as the new token's principal from now on, whoever
   * it names: realtime-js joins before its token callback has answered
   * and sends the signed-in user's token right after, as an access_token
   * push on the anon key's channel. */
  if (check_token(s, a, token, &who, &exp, why, sizeof why) ||
      take_owner(s, &who, why, sizeof why)) {
    end_chan(s, ch, why);
  } else {
    ch->who = who;
    ch->exp_s = exp;
  }
  arena_free(a);
}

void rt_sess_on_text(rt_sess *s, const char *text, size_t n) {
  arena *a = arena_new();
  phx_msg m;
  char why[128];
  if (phx_parse(a, s->vsn, text, n, &m, why, sizeof why)) {
    char reason[160];
    snprintf(reason, sizeof reason, "bad frame: %s", why);
    s->close(s->cls, 1007, reason);
    goto out;
  }
  if (!strcmp(m.topic, "phoenix")) {
    if (!strcmp(m.event, "heartbeat")) {
      s->acked = s->reply_pos;
      s->reply_pos = s->env->seen;
      reply(s, &m, "ok", "{}");
    } else {
      reply_error(s, &m, "unknown event on topic phoenix");
    }
    goto out;
  }
  if (!strcmp(m.event, "phx_join")) {
    on_join(s, &m);
    goto out;
  }
  rt_chan *ch = find_chan(s, m.topic);
  if (!ch) {
    if (strcmp(m.event, "broadcast") && strcmp(m.event, "presence"))
      reply_error(s, &m, "unmatched topic");
    goto out;
  }
  if (!strcmp(m.event, "phx_leave")) {
    reply(s, &m, "ok", "{}");
    emit(s, ch->join_ref, ch->join_ref, ch->topic, "phx_close", "{}");
    unlink_chan(s, ch);
    chan_free(ch);
  } else if (!strcmp(m.event, "access_token")) {
    on_access_token(s, ch, &m);
  }
  /* broadcast and presence are not served; their frames are ignored. */
out:
  arena_free(a);
}

/* ---- fan-out ----------------------------------------------------------------- */

void rt_sess_deliver_to(rt_sess *s, rt_chan *ch, const rt_change *c) {
  if (!rt_visible(&ch->who, c)) return;
  char ids[256];
  size_t n = 0;
  int any = 0;
  ids[0] = '\0';
  for (int i = 0; i < ch->nb; i++) {
    const rt_binding *b = &ch->b[i];
    if (!(b->ops & c->op) || (b->table && b->table != c->table)) continue;
    if (b->filter && !rt_filter_match(b->filter, c)) continue;
    if (n + 24 >= sizeof ids) break; /* defensive: max_bindings keeps it short */
    n += (size_t)snprintf(ids + n, sizeof ids - n, "%s%ld", any ? "," : "", b->id);
    any = 1;
  }
  if (!any) return;
  buf p;
  buf_init(&p, 0);
  buf_printf(&p, "{\"ids\":[%s],\"data\":", ids);
  buf_append(&p, c->data, c->data_len);
  buf_putc(&p, '}');
  emit(s, NULL, NULL, ch->topic, "postgres_changes", buf_cstr(&p));
  buf_free(&p);
}

void rt_sess_deliver(rt_sess *s, const rt_change *c) {
  for (rt_chan *ch = s->chans; ch; ch = ch->next)
    if (rt_pos_cmp(c->pos, ch->from) > 0) rt_sess_deliver_to(s, ch, c);
}

void rt_sess_gap(rt_sess *s) {
  for (rt_chan *ch = s->chans; ch; ch = ch->next)
    system_msg(s, ch, "error", "postgres_changes",
               "some changes were missed: the server fell behind the database");
}

void rt_sess_tick(rt_sess *s) {
  int64_t now = now_s(s->env);
  rt_chan *ch = s->chans;
  while (ch) {
    rt_chan *next = ch->next;
    if (ch->exp_s && ch->exp_s <= now) {
      char msg[96];
      snprintf(msg, sizeof msg, "Token has expired %lld seconds ago",
               (long long)(now - ch->exp_s));
      end_chan(s, ch, msg);
    }
    ch = next;
  }
}
