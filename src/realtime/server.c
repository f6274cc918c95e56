/* server.c - one realtime server per process (see realtime.h): starts the
 * hub, the feed thread and the WebSocket thread, and keeps what they share:
 * the socket counts behind the caps and the channels parked for a
 * reconnect. Counts and parked channels are short arrays searched in
 * order: a process serves thousands of sockets, and each is touched once
 * per connect and join, never per change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "realtime/server_int.h"

/* Parked channels kept at most; past it the oldest goes first. */
#define RT_MAX_PARKED 20000

static void defaults(rt_config *c) {
  if (c->max_sockets <= 0) c->max_sockets = 10000;
  if (c->max_sockets_per_user <= 0) c->max_sockets_per_user = 100;
  if (c->max_channels <= 0) c->max_channels = 100;
  if (c->max_bindings <= 0) c->max_bindings = 100;
  if (!c->max_frame) c->max_frame = 64 * 1024;
  if (!c->max_queue) c->max_queue = 4 * 1024 * 1024;
  if (c->window_s <= 0) c->window_s = 120;
  if (!c->max_queue_total) c->max_queue_total = (size_t)256 << 20;
  if (c->max_bindings_socket <= 0) c->max_bindings_socket = 500;
  if (c->max_bindings_user <= 0) c->max_bindings_user = 1000;
}

int rt_start(const rt_config *cfg, rt_server **out, char *err, size_t errlen) {
  rt_server *s = xcalloc(1, sizeof *s);
  s->cfg = *cfg;
  defaults(&s->cfg);
  s->db_url = xstrdup(cfg->db_url);
  s->cfg.db_url = s->db_url;
  pthread_mutex_init(&s->mu, NULL);
  s->hub = rt_hub_new();
  rt_sse_config sc = {s->hub, s->db_url, s->cfg.max_queue, 0, 0};
  if (!(s->sse = rt_sses_new(&sc, err, errlen))) goto fail;
  /* The feed first: it sets the hub's head to the database's newest
   * change, which is where the WebSocket thread's positions start (a
   * channel parked before any change was seen resumes from there, not from
   * the start of the window). No socket exists yet: HTTP starts after. */
  if (rt_feed_start(s->db_url, s->hub, s->cfg.window_s, &s->feed, err, errlen))
    goto fail;
  if (rt_ws_start(s, &s->ws, err, errlen)) goto fail;
  *out = s;
  return 0;
fail:
  rt_stop(s);
  return -1;
}

void rt_stop(rt_server *s) {
  if (!s) return;
  /* The WebSocket thread detaches its sink first, so the feed never calls
   * into a stopped thread; the feed stops before the hub goes. */
  rt_ws_stop(s->ws);
  /* The HTTP server has closed every stream (their sinks are detached). */
  rt_sses_free(s->sse);
  rt_feed_stop(s->feed);
  rt_hub_free(s->hub);
  for (int i = 0; i < s->nparked; i++) free(s->parked[i].key);
  free(s->parked);
  free(s->owners);
  pthread_mutex_destroy(&s->mu);
  free(s->db_url);
  free(s);
}

rt_hub *rt_server_hub(rt_server *s) { return s->hub; }

int rt_server_slot_take(rt_server *s) {
  if (atomic_fetch_add(&s->nsockets, 1) >= s->cfg.max_sockets) {
    atomic_fetch_sub(&s->nsockets, 1);
    return -1;
  }
  return 0;
}

void rt_server_slot_drop(rt_server *s) { atomic_fetch_sub(&s->nsockets, 1); }

/* The owner's entry (under mu), made when absent. */
static rt_owner *owner_get(rt_server *s, const char *owner) {
  for (int i = 0; i < s->nowners; i++)
    if (!strcmp(s->owners[i].key, owner)) return &s->owners[i];
  if (s->nowners == s->owners_cap) {
    s->owners_cap = s->owners_cap ? 2 * s->owners_cap : 64;
    s->owners = xrealloc(s->owners, (size_t)s->owners_cap * sizeof *s->owners);
  }
  rt_owner *o = &s->owners[s->nowners++];
  memset(o, 0, sizeof *o);
  snprintf(o->key, sizeof o->key, "%s", owner);
  return o;
}

/* Forgets an entry with nothing counted (under mu). */
static void owner_put(rt_server *s, rt_owner *o) {
  if (o->n <= 0 && o->nb <= 0) *o = s->owners[--s->nowners];
}

int rt_server_owner_take(rt_server *s, const char *owner) {
  pthread_mutex_lock(&s->mu);
  rt_owner *o = owner_get(s, owner);
  int rc = o->n >= s->cfg.max_sockets_per_user ? -1 : 0;
  if (!rc) o->n++;
  owner_put(s, o);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void rt_server_owner_drop(rt_server *s, const char *owner) {
  pthread_mutex_lock(&s->mu);
  rt_owner *o = owner_get(s, owner);
  o->n--;
  owner_put(s, o);
  pthread_mutex_unlock(&s->mu);
}

int rt_server_bind_take(rt_server *s, const char *owner, int n) {
  pthread_mutex_lock(&s->mu);
  rt_owner *o = owner_get(s, owner);
  int rc = o->nb + n > s->cfg.max_bindings_user ? -1 : 0;
  if (!rc) o->nb += n;
  owner_put(s, o);
  pthread_mutex_unlock(&s->mu);
  return rc;
}

void rt_server_bind_drop(rt_server *s, const char *owner, int n) {
  pthread_mutex_lock(&s->mu);
  rt_owner *o = owner_get(s, owner);
  o->nb -= n;
  owner_put(s, o);
  pthread_mutex_unlock(&s->mu);
}

/* Drops parked entries past their time (under mu). */
static void park_expire(rt_server *s, int64_t now) {
  int j = 0;
  for (int i = 0; i < s->nparked; i++) {
    if (s->parked[i].until_us <= now)
      free(s->parked[i].key);
    else
      s->parked[j++] = s->parked[i];
  }
  s->nparked = j;
}

void rt_server_park(rt_server *s, const char *key, rt_pos acked) {
  int64_t now = time_mono_us();
  pthread_mutex_lock(&s->mu);
  park_expire(s, now);
  if (s->nparked == RT_MAX_PARKED) { /* the oldest is first */
    free(s->parked[0].key);
    memmove(s->parked, s->parked + 1, (size_t)(s->nparked - 1) * sizeof *s->parked);
    s->nparked--;
  }
  if (s->nparked == s->parked_cap) {
    s->parked_cap = s->parked_cap ? 2 * s->parked_cap : 64;
    s->parked = xrealloc(s->parked, (size_t)s->parked_cap * sizeof *s->parked);
  }
  s->parked[s->nparked++] =
      (rt_parked){xstrdup(key), acked, now + (int64_t)s->cfg.window_s * 1000000};
  pthread_mutex_unlock(&s->mu);
}

int rt_server_unpark(rt_server *s, const char *key, rt_pos *acked) {
  int found = 0;
  pthread_mutex_lock(&s->mu);
  park_expire(s, time_mono_us());
  /* The newest first: a client that dropped twice resumes from the last. */
  for (int i = s->nparked - 1; i >= 0 && !found; i--)
    if (!strcmp(s->parked[i].key, key)) {
      *acked = s->parked[i].acked;
      free(s->parked[i].key);
      memmove(s->parked + i, s->parked + i + 1,
              (size_t)(s->nparked - i - 1) * sizeof *s->parked);
      s->nparked--;
      found = 1;
    }
  pthread_mutex_unlock(&s->mu);
  return found;
}
