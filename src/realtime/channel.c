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

typedef struct ix_bucket ix_bucket;
typedef struct ix_ent {
  rt_chan *ch;
  ix_bucket *b;
  struct ix_ent *prev, *next;
} ix_ent;

struct rt_chan {
  rt_chan *next;
  rt_sess *s;
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
  char owner[64]; /* its bindings count against ("": the service role) */
  ix_ent *ix;     /* its places in env->idx */
  int nix;
  /* A replay is being read elsewhere: live changes wait here. */
  int replaying;
  int held_lost; /* more than CHAN_MAX_HELD came meanwhile */
  rt_change **held;
  int nheld, held_cap;
};

/* Live changes held per channel while its replay is read; past it the
 * newest are dropped and the client is told some were missed. */
#define CHAN_MAX_HELD 10000

struct rt_sess {
  rt_env *env;
  phx_vsn vsn;
  rt_chan *chans;
  int nchans;
  /* What the socket counts against (the per-user cap): each user its
   * channels read as, or its address while it has none. */
  char addr[64];
  int addr_counted;
  struct sess_user {
    char key[64];
    int nch;
  } *users;
  int nusers, users_cap;
  int nbind; /* bindings on all its channels */
  int freeing;  /* going: nothing is counted again */
  int swapping; /* a channel is being replaced: the address waits */
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
  snprintf(s->addr, sizeof s->addr, "a:%.60s", remote ? remote : "-");
  if (env->owner_take && env->owner_take(env->cls, s->addr)) {
    free(s->apikey);
    free(s);
    return NULL;
  }
  s->addr_counted = 1;
  return s;
}

/* ---- the index ----------------------------------------------------------- */

struct ix_bucket {
  ix_bucket *hnext;
  const rest_table *table; /* NULL: channels watching every table */
  ix_ent *head;
  char tenant[40]; /* a profile id, or "*" for the service role */
};

struct rt_index {
  ix_bucket **tab;
  size_t cap, n;
};

rt_index *rt_index_new(void) {
  rt_index *ix = xcalloc(1, sizeof *ix);
  ix->cap = 256;
  ix->tab = xcalloc(ix->cap, sizeof *ix->tab);
  return ix;
}

void rt_index_free(rt_index *ix) {
  if (!ix) return;
  for (size_t i = 0; i < ix->cap; i++)
    while (ix->tab[i]) {
      ix_bucket *b = ix->tab[i];
      ix->tab[i] = b->hnext;
      free(b);
    }
  free(ix->tab);
  free(ix);
}

static size_t ix_hash(const char *tenant, const rest_table *t) {
  uint64_t h = 1469598103934665603ULL;
  for (const char *p = tenant; *p; p++) h = (h ^ (uint8_t)*p) * 1099511628211ULL;
  h ^= (uint64_t)(uintptr_t)t;
  h *= 1099511628211ULL;
  return (size_t)(h ^ (h >> 29));
}

static ix_bucket **ix_slot(rt_index *ix, const char *tenant, const rest_table *t) {
  ix_bucket **pp = &ix->tab[ix_hash(tenant, t) & (ix->cap - 1)];
  while (*pp && ((*pp)->table != t || strcmp((*pp)->tenant, tenant)))
    pp = &(*pp)->hnext;
  return pp;
}

static void ix_grow(rt_index *ix) {
  size_t ncap = ix->cap * 2;
  ix_bucket **nt = xcalloc(ncap, sizeof *nt);
  for (size_t i = 0; i < ix->cap; i++)
    while (ix->tab[i]) {
      ix_bucket *b = ix->tab[i];
      ix->tab[i] = b->hnext;
      size_t h = ix_hash(b->tenant, b->table) & (ncap - 1);
      b->hnext = nt[h];
      nt[h] = b;
    }
  free(ix->tab);
  ix->tab = nt;
  ix->cap = ncap;
}

/* The tenant key of a principal: NULL for one that reads nothing (anon),
 * whose channels need no place in the index. */
static const char *ix_tenant(const api_principal *who) {
  if (who->role == ROLE_SERVICE) return "*";
  if (who->role == ROLE_AUTHENTICATED && who->sub[0]) return who->sub;
  return NULL;
}

static void chan_index(rt_chan *ch) {
  rt_index *ix = ch->s->env->idx;
  const char *tenant = ix_tenant(&ch->who);
  if (!ix || !tenant || !ch->nb) return;
  /* A channel with a binding on every table is listed once under NULL;
   * else once per table it watches: a change finds it at most once. */
  const rest_table **tables = xcalloc((size_t)ch->nb, sizeof *tables);
  int n = 0, all = 0;
  for (int i = 0; i < ch->nb && !all; i++) {
    if (!ch->b[i].table) all = 1;
    int dup = 0;
    for (int j = 0; j < n; j++) dup |= tables[j] == ch->b[i].table;
    if (!dup) tables[n++] = ch->b[i].table;
  }
  if (all) tables[0] = NULL, n = 1;
  ch->ix = xcalloc((size_t)n, sizeof *ch->ix);
  ch->nix = n;
  for (int i = 0; i < n; i++) {
    if (ix->n >= ix->cap) ix_grow(ix);
    ix_bucket **pp = ix_slot(ix, tenant, tables[i]);
    if (!*pp) {
      ix_bucket *b = xcalloc(1, sizeof *b);
      b->table = tables[i];
      snprintf(b->tenant, sizeof b->tenant, "%s", tenant);
      *pp = b;
      ix->n++;
    }
    ix_ent *e = &ch->ix[i];
    e->ch = ch;
    e->b = *pp;
    e->next = e->b->head;
    if (e->next) e->next->prev = e;
    e->b->head = e;
  }
  free(tables);
}

static void chan_unindex(rt_chan *ch) {
  rt_index *ix = ch->s->env->idx;
  for (int i = 0; i < ch->nix; i++) {
    ix_ent *e = &ch->ix[i];
    if (e->prev) e->prev->next = e->next;
    else e->b->head = e->next;
    if (e->next) e->next->prev = e->prev;
    if (!e->b->head) { /* the last of its bucket */
      ix_bucket **pp = ix_slot(ix, e->b->tenant, e->b->table);
      *pp = e->b->hnext;
      free(e->b);
      ix->n--;
    }
  }
  free(ch->ix);
  ch->ix = NULL;
  ch->nix = 0;
}

/* ---- what a socket counts against ------------------------------------- */

/* The owner a channel's bindings count against: its user, the socket's
 * address for anon, nothing for the service role. */
static void chan_owner(const rt_sess *s, const api_principal *who, char out[64]) {
  if (who->role == ROLE_AUTHENTICATED && who->sub[0])
    snprintf(out, 64, "u:%s", who->sub);
  else if (who->role == ROLE_SERVICE)
    out[0] = '\0';
  else
    snprintf(out, 64, "%s", s->addr);
}

/* Takes n bindings against key and, for a user the socket does not count
 * against yet, one socket (the socket then stops counting against its
 * address). 0, or -1 with a reason and nothing taken. */
static int owner_acquire(rt_sess *s, const char *key, int n, char *why,
                         size_t whylen) {
  rt_env *e = s->env;
  if (!key[0]) return 0;
  if (e->bind_take && e->bind_take(e->cls, key, n)) {
    snprintf(why, whylen, "too many postgres_changes bindings for this %s",
             key[0] == 'u' ? "user" : "address");
    return -1;
  }
  if (key[0] != 'u') return 0;
  for (int i = 0; i < s->nusers; i++)
    if (!strcmp(s->users[i].key, key)) {
      s->users[i].nch++;
      return 0;
    }
  if (e->owner_take && e->owner_take(e->cls, key)) {
    if (e->bind_drop) e->bind_drop(e->cls, key, n);
    snprintf(why, whylen, "too many realtime connections for this user");
    return -1;
  }
  if (s->nusers == s->users_cap) {
    s->users_cap = s->users_cap ? 2 * s->users_cap : 2;
    s->users = xrealloc(s->users, (size_t)s->users_cap * sizeof *s->users);
  }
  snprintf(s->users[s->nusers].key, sizeof s->users[0].key, "%s", key);
  s->users[s->nusers++].nch = 1;
  if (s->addr_counted) {
    if (e->owner_drop) e->owner_drop(e->cls, s->addr);
    s->addr_counted = 0;
  }
  return 0;
}

/* A socket with no user's channel counts against its address again, and
 * is closed when the address is at its cap. */
static void addr_recount(rt_sess *s) {
  rt_env *e = s->env;
  if (s->nusers || s->addr_counted || s->freeing || s->swapping) return;
  if (e->owner_take && e->owner_take(e->cls, s->addr)) {
    s->close(s->cls, 1008, "too many connections from this address");
    return;
  }
  s->addr_counted = 1;
}

/* Gives back what owner_acquire took. A socket left with no user's
 * channel counts against its address again, and is closed when the
 * address is at its cap. */
static void owner_release(rt_sess *s, const char *key, int n) {
  rt_env *e = s->env;
  if (!key[0]) return;
  if (e->bind_drop) e->bind_drop(e->cls, key, n);
  if (key[0] != 'u') return;
  for (int i = 0; i < s->nusers; i++)
    if (!strcmp(s->users[i].key, key)) {
      if (--s->users[i].nch > 0) return;
      if (e->owner_drop) e->owner_drop(e->cls, key);
      s->users[i] = s->users[--s->nusers];
      break;
    }
  addr_recount(s);
}

/* Who, where and what: a rejoin must match all of it to pick up a parked
 * channel (in ch's arena). */
static const char *park_key(rt_chan *ch) {
  return arena_printf(ch->a, "%d\n%s\n%s\n%s\n%s", (int)ch->who.role, ch->who.sub,
                      ch->who.session_id, ch->topic, ch->bkey);
}

static void chan_free(rt_chan *ch) {
  if (!ch) return;
  for (int i = 0; i < ch->nheld; i++) rt_change_unref(ch->held[i]);
  free(ch->held);
  arena_free(ch->a);
}

static rt_pos pos_max(rt_pos a, rt_pos b) { return rt_pos_cmp(a, b) >= 0 ? a : b; }

static void unlink_chan(rt_sess *s, rt_chan *ch) {
  for (rt_chan **pp = &s->chans; *pp; pp = &(*pp)->next)
    if (*pp == ch) {
      *pp = ch->next;
      s->nchans--;
      return;
    }
}

/* Takes a joined channel off the session, the index and the counts. */
static void chan_remove(rt_sess *s, rt_chan *ch) {
  if (ch->replaying && s->env->replay_cancel) s->env->replay_cancel(s->env->cls, ch);
  unlink_chan(s, ch);
  chan_unindex(ch);
  s->nbind -= ch->nb;
  owner_release(s, ch->owner, ch->nb);
  chan_free(ch);
}

void rt_sess_free(rt_sess *s, int park) {
  if (!s) return;
  s->freeing = 1;
  while (s->chans) {
    rt_chan *ch = s->chans;
    if (park && s->env->park)
      s->env->park(s->env->cls, park_key(ch), pos_max(s->acked, ch->from));
    chan_remove(s, ch);
  }
  if (s->addr_counted && s->env->owner_drop) s->env->owner_drop(s->env->cls, s->addr);
  free(s->users);
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

/* Ends a channel from the server's side: system error, phx_close. */
static void end_chan(rt_sess *s, rt_chan *ch, const char *message) {
  system_msg(s, ch, "error", "system", message);
  emit(s, ch->join_ref, ch->join_ref, ch->topic, "phx_close", "{}");
  chan_remove(s, ch);
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

static void replay_notice(rt_sess *s, rt_chan *ch, int rc) {
  const char *msg =
      rc == 1 ? "some changes were missed while disconnected (older than the "
                "reconnect window)"
      : rc == RT_REPLAY_BUSY ? "changes missed while disconnected were not "
                               "replayed: the server is busy with other replays"
      : rc == RT_REPLAY_CUT ? "some changes were missed while disconnected (too "
                              "many to replay)"
      : rc < 0 ? "changes missed while disconnected could not be read"
               : NULL;
  if (msg) system_msg(s, ch, "error", "postgres_changes", msg);
}

static void on_join(rt_sess *s, const phx_msg *m) {
  char why[256];
  arena *a = arena_new();
  rt_chan *ch = arena_alloc(a, sizeof *ch);
  memset(ch, 0, sizeof *ch);
  ch->a = a;
  ch->s = s;
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
  int cap = s->env->max_bindings_socket;
  if (cap && s->nbind - (old ? old->nb : 0) + ch->nb > cap) {
    snprintf(why, sizeof why,
             "too many postgres_changes bindings on this connection (at most %d)",
             cap);
    goto refuse_key;
  }
  /* A join of a topic already joined replaces it (its counts go first;
   * the socket goes back on its address only if the new one is no user's). */
  if (old) {
    s->swapping = 1;
    chan_remove(s, old);
    s->swapping = 0;
  }
  chan_owner(s, &ch->who, ch->owner);
  int refused = owner_acquire(s, ch->owner, ch->nb, why, sizeof why);
  addr_recount(s);
  if (refused) goto refuse_key;
  ch->bkey = arena_strndup(a, buf_cstr(&key), key.len);
  buf_free(&key);

  s->nbind += ch->nb;
  ch->from = s->env->seen;
  ch->next = s->chans;
  s->chans = ch;
  s->nchans++;
  chan_index(ch);

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
    if (rc == RT_REPLAY_LATER)
      ch->replaying = 1;
    else
      replay_notice(s, ch, rc);
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
  char owner[64] = "";
  int bad = check_token(s, a, token, &who, &exp, why, sizeof why);
  if (!bad) chan_owner(s, &who, owner);
  if (bad) {
    end_chan(s, ch, why);
  } else if (strcmp(owner, ch->owner)) {
    /* The counts follow the principal: the new one's first (refused: the
     * channel ends), then the old one's go. */
    if (owner_acquire(s, owner, ch->nb, why, sizeof why)) {
      end_chan(s, ch, why);
    } else {
      chan_unindex(ch);
      char old[64];
      memcpy(old, ch->owner, sizeof old);
      memcpy(ch->owner, owner, sizeof owner);
      ch->who = who;
      ch->exp_s = exp;
      chan_index(ch);
      owner_release(s, old, ch->nb);
    }
  } else {
    /* The same owner; the tenant (the index key) is the same too, but
     * the role may not be (a user's key for the same sub). */
    chan_unindex(ch);
    ch->who = who;
    ch->exp_s = exp;
    chan_index(ch);
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
    chan_remove(s, ch);
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
  /* Every matching binding's id goes out (max_bindings keeps the list
   * bounded): realtime-js routes the event to a callback by these ids. */
  buf p;
  buf_init(&p, 0);
  int any = 0;
  for (int i = 0; i < ch->nb; i++) {
    const rt_binding *b = &ch->b[i];
    if (!(b->ops & c->op) || (b->table && b->table != c->table)) continue;
    if (b->filter && !rt_filter_match(b->filter, c)) continue;
    buf_printf(&p, "%s%ld", any ? "," : "{\"ids\":[", b->id);
    any = 1;
  }
  if (any) {
    buf_puts(&p, "],\"data\":");
    buf_append(&p, c->data, c->data_len);
    buf_putc(&p, '}');
    emit(s, NULL, NULL, ch->topic, "postgres_changes", buf_cstr(&p));
  }
  buf_free(&p);
}

/* A live change for one channel: sent, or held while a replay is read. */
static void chan_offer(rt_sess *s, rt_chan *ch, const rt_change *c) {
  if (rt_pos_cmp(c->pos, ch->from) <= 0) return;
  if (!ch->replaying) {
    rt_sess_deliver_to(s, ch, c);
    return;
  }
  if (ch->nheld >= CHAN_MAX_HELD) {
    ch->held_lost = 1;
    return;
  }
  if (ch->nheld == ch->held_cap) {
    ch->held_cap = ch->held_cap ? 2 * ch->held_cap : 16;
    ch->held = xrealloc(ch->held, (size_t)ch->held_cap * sizeof *ch->held);
  }
  ch->held[ch->nheld++] = rt_change_ref((rt_change *)c);
}

rt_pos rt_chan_from(const rt_chan *ch) { return ch->from; }

void rt_chan_replayed(rt_sess *s, rt_chan *ch, int rc) {
  ch->replaying = 0;
  replay_notice(s, ch, rc ? rc : ch->held_lost ? RT_REPLAY_CUT : 0);
  for (int i = 0; i < ch->nheld; i++) {
    rt_sess_deliver_to(s, ch, ch->held[i]);
    rt_change_unref(ch->held[i]);
  }
  free(ch->held);
  ch->held = NULL;
  ch->nheld = ch->held_cap = 0;
  ch->held_lost = 0;
}

void rt_env_deliver(rt_env *env, const rt_change *c) {
  rt_index *ix = env->idx;
  if (!ix) return;
  const char *tenants[2] = {c->profile_id[0] ? c->profile_id : NULL, "*"};
  const rest_table *tables[2] = {c->table, NULL};
  for (int i = 0; i < 2; i++) {
    if (!tenants[i]) continue;
    for (int j = 0; j < 2; j++) {
      ix_bucket *b = *ix_slot(ix, tenants[i], tables[j]);
      for (ix_ent *e = b ? b->head : NULL; e; e = e->next)
        chan_offer(e->ch->s, e->ch, c);
    }
  }
}

void rt_sess_deliver(rt_sess *s, const rt_change *c) {
  for (rt_chan *ch = s->chans; ch; ch = ch->next) chan_offer(s, ch, c);
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
