/* hub.c - fans each change of the feed out to the attached sinks.
 *
 * The feed thread publishes changes in position order; every sink is
 * called on that thread, under the hub's lock, which is what makes
 * rt_hub_detach's promise hold (after it returns the sink is not running
 * and never will be). A sink therefore must not block and must not attach
 * or detach from inside its callback. A sink attached for one tenant gets
 * only that tenant's changes (the SSE streams); one attached for all (the
 * WebSocket server) does its own checks.
 *
 * rt_hub_head is kept under a lock of its own, so reading it never waits
 * for a delivery. A consumer that attaches and then replays up to the head
 * gets every change once or twice, never not at all: attach first, then
 * read the head, replay (after, head], and drop live changes at or below
 * head. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "realtime/feed.h"
#include "realtime/rt_int.h"

struct rt_sink {
  rt_sink *next;
  int all; /* every tenant */
  char profile_id[37];
  rt_deliver_fn fn;
  rt_gap_fn gap;
  void *cls;
};

struct rt_hub {
  pthread_mutex_t mu; /* the sink list, and delivery */
  rt_sink *sinks;
  pthread_mutex_t head_mu;
  rt_pos head;
};

rt_hub *rt_hub_new(void) {
  rt_hub *h = xcalloc(1, sizeof *h);
  pthread_mutex_init(&h->mu, NULL);
  pthread_mutex_init(&h->head_mu, NULL);
  return h;
}

void rt_hub_free(rt_hub *h) {
  if (!h) return;
  /* Sinks still attached belong to their owners; only the nodes are ours. */
  for (rt_sink *s = h->sinks, *next; s; s = next) {
    next = s->next;
    free(s);
  }
  pthread_mutex_destroy(&h->mu);
  pthread_mutex_destroy(&h->head_mu);
  free(h);
}

rt_sink *rt_hub_attach(rt_hub *h, const char *profile_id, rt_deliver_fn fn,
                       rt_gap_fn gap, void *cls) {
  rt_sink *s = xcalloc(1, sizeof *s);
  s->all = profile_id == NULL;
  if (profile_id) {
    size_t n = strlen(profile_id);
    if (n >= sizeof s->profile_id) n = sizeof s->profile_id - 1;
    memcpy(s->profile_id, profile_id, n);
  }
  s->fn = fn;
  s->gap = gap;
  s->cls = cls;
  pthread_mutex_lock(&h->mu);
  s->next = h->sinks;
  h->sinks = s;
  pthread_mutex_unlock(&h->mu);
  return s;
}

void rt_hub_detach(rt_hub *h, rt_sink *s) {
  if (!h || !s) return;
  pthread_mutex_lock(&h->mu);
  for (rt_sink **p = &h->sinks; *p; p = &(*p)->next)
    if (*p == s) {
      *p = s->next;
      break;
    }
  pthread_mutex_unlock(&h->mu);
  free(s);
}

rt_pos rt_hub_head(rt_hub *h) {
  pthread_mutex_lock(&h->head_mu);
  rt_pos p = h->head;
  pthread_mutex_unlock(&h->head_mu);
  return p;
}

void rt_hub_publish(rt_hub *h, rt_change *c) {
  pthread_mutex_lock(&h->mu);
  /* Moved before the sinks run, while the delivery lock is held: a sink
   * that got c sees a head at or past it, and a consumer attached before
   * c either reads a head below c (and gets c live) or at c (and gets it
   * from replay too): never neither. */
  pthread_mutex_lock(&h->head_mu);
  if (rt_pos_cmp(c->pos, h->head) > 0) h->head = c->pos;
  pthread_mutex_unlock(&h->head_mu);
  for (rt_sink *s = h->sinks; s; s = s->next)
    if (s->all || !strcmp(s->profile_id, c->profile_id)) s->fn(s->cls, c);
  pthread_mutex_unlock(&h->mu);
}

void rt_hub_gap(rt_hub *h) {
  pthread_mutex_lock(&h->mu);
  for (rt_sink *s = h->sinks; s; s = s->next)
    if (s->gap) s->gap(s->cls);
  pthread_mutex_unlock(&h->mu);
}

void rt_hub_set_head(rt_hub *h, rt_pos p) {
  pthread_mutex_lock(&h->head_mu);
  h->head = p;
  pthread_mutex_unlock(&h->head_mu);
}
