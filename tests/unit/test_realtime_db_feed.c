/* test_realtime_db_feed.c - the live feed's capture and feed thread
 * (src/realtime/{capture,feed,render,change,hub}.c) on each backend: a
 * write through /rest/v1 (or any other writer) reaches an attached sink,
 * with record and old_record byte-equal to what GET /rest/v1 answers for
 * that row, in order, from other connections too. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "realtime/change.h"
#include "realtime/feed.h"
#include "rest/call.h"
#include "testutil.h"

/* ---- a sink that keeps what it gets ------------------------------------ */

#define MAX_GOT 4096
typedef struct collector {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  rt_change *got[MAX_GOT];
  int n;
  int gaps;
  const char *only; /* keep the changes of this table only (NULL: all) */
} collector;

static void collect(void *cls, rt_change *c) {
  collector *k = cls;
  pthread_mutex_lock(&k->mu);
  if (k->n < MAX_GOT && (!k->only || !strcmp(k->only, c->table->name)))
    k->got[k->n++] = rt_change_ref(c);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

static void collect_gap(void *cls) {
  collector *k = cls;
  pthread_mutex_lock(&k->mu);
  k->gaps++;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

/* Waits up to ms for the collector to hold n changes; returns how many. */
static int wait_for(collector *k, int n, int ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&k->mu);
  while (k->n < n)
    if (pthread_cond_timedwait(&k->cv, &k->mu, &until)) break;
  int got = k->n;
  pthread_mutex_unlock(&k->mu);
  return got;
}

static void collector_clear(collector *k) {
  pthread_mutex_lock(&k->mu);
  for (int i = 0; i < k->n; i++) rt_change_unref(k->got[i]);
  k->n = 0;
  k->gaps = 0;
  pthread_mutex_unlock(&k->mu);
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
  db *d;
  char url[4096];
  char profile[37];
  api_principal owner, service;
  rt_hub *hub;
  rt_feed *feed;
  rt_sink *sink;
  collector k;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  db_err err;
  if (rt_capture_install(f->d, &err)) test_die("capture install", err.message);
  test_tenant(f->d, "29", f->profile);
  f->owner.role = ROLE_AUTHENTICATED;
  snprintf(f->owner.sub, sizeof f->owner.sub, "%s", f->profile);
  f->service.role = ROLE_SERVICE;
  pthread_mutex_init(&f->k.mu, NULL);
  pthread_cond_init(&f->k.cv, NULL);
  f->hub = rt_hub_new();
  f->sink = rt_hub_attach(f->hub, NULL, collect, collect_gap, &f->k);
  char e[256];
  if (rt_feed_start(f->url, f->hub, 120, &f->feed, e, sizeof e))
    test_die("feed start", e);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  rt_feed_stop(f->feed);
  rt_hub_detach(f->hub, f->sink);
  rt_hub_free(f->hub);
  collector_clear(&f->k);
  test_db_close(f->d);
  free(f);
  return 0;
}

/* ---- REST calls ----------------------------------------------------------- */

static const char *prefer_header(const api_req *r, const char *name) {
  (void)r;
  return !strcasecmp(name, "Prefer") ? "return=representation" : NULL;
}

/* The answer's body (in a); fails the test on another status. */
static const char *rest(db *d, arena *a, const api_principal *who,
                        const char *method, const char *path,
                        const char *query, const char *body, int want) {
  api_resp resp;
  api_resp_init(&resp);
  rest_call_req c = {.who = who, .method = method, .path = path,
                     .query = query, .body = body, .header = prefer_header};
  int status = rest_call(d, a, &c, &resp);
  const char *out = arena_strndup(a, resp.body.data ? resp.body.data : "",
                                  resp.body.len);
  api_resp_free(&resp);
  if (status != want)
    fail_msg("%s %s?%s: %d, wanted %d: %s", method, path, query ? query : "",
             status, want, out);
  return out;
}

/* GET of one row by id, as the object REST answers (the array's one item). */
static const char *rest_row(db *d, arena *a, const api_principal *who,
                            const char *table, const char *id) {
  const char *body = rest(d, a, who, "GET", table,
                          arena_printf(a, "id=eq.%s", id), NULL, 200);
  size_t n = strlen(body);
  if (n < 2 || body[0] != '[' || body[n - 1] != ']')
    fail_msg("GET %s: not one row: %s", table, body);
  return arena_strndup(a, body + 1, n - 2);
}

/* The id of the row a POST answered (representation: an array of one). */
static const char *id_of(arena *a, const char *answer) {
  const char *p = strstr(answer, "\"id\":\"");
  if (!p) fail_msg("no id in %s", answer);
  return arena_strndup(a, p + 6, 36);
}

static void check_change(rt_change *c, const char *table, rt_op op,
                         const char *id, const char *record,
                         const char *old_record) {
  assert_string_equal(c->table->name, table);
  assert_int_equal(c->op, op);
  assert_string_equal(c->row_id, id);
  if (record) {
    assert_non_null(c->record);
    assert_string_equal(c->record, record);
  } else {
    assert_null(c->record);
  }
  if (old_record) {
    assert_non_null(c->old_record);
    assert_string_equal(c->old_record, old_record);
  } else {
    assert_null(c->old_record);
  }
}

/* ---- tests -------------------------------------------------------------- */

/* A REST insert, update and delete of a customer each reach the sink, with
 * the records a REST read gives, in order. */
static void test_rest_write_reaches_sink(void **state) {
  fx *f = *state;
  f->k.only = "customers";
  arena *a = arena_new();
  const char *made =
      rest(f->d, a, &f->owner, "POST", "customers", NULL,
           "{\"full_name\":\"Asha Traders\",\"phone_number\":\"+919800000001\","
           "\"notes\":\"multi\\nline \\\"quoted\\\" ₹\"}",
           201);
  const char *id = id_of(a, made);
  const char *v1 = rest_row(f->d, a, &f->owner, "customers", id);
  rest(f->d, a, &f->owner, "PATCH", "customers",
       arena_printf(a, "id=eq.%s", id), "{\"email\":\"a@example.com\"}", 200);
  const char *v2 = rest_row(f->d, a, &f->owner, "customers", id);
  rest(f->d, a, &f->owner, "DELETE", "customers",
       arena_printf(a, "id=eq.%s", id), NULL, 200);
  assert_int_equal(wait_for(&f->k, 3, 5000), 3);
  check_change(f->k.got[0], "customers", RT_INSERT, id, v1, NULL);
  check_change(f->k.got[1], "customers", RT_UPDATE, id, v2, v1);
  check_change(f->k.got[2], "customers", RT_DELETE, id, NULL, v2);
  assert_string_equal(f->k.got[0]->profile_id, f->profile);
  assert_true(rt_pos_cmp(f->k.got[0]->pos, f->k.got[1]->pos) < 0);
  assert_true(rt_pos_cmp(f->k.got[1]->pos, f->k.got[2]->pos) < 0);
  assert_true(rt_pos_cmp(rt_hub_head(f->hub), f->k.got[2]->pos) == 0);
  /* the data object carries the record as it is */
  assert_non_null(strstr(f->k.got[0]->data, "\"type\":\"INSERT\""));
  assert_non_null(strstr(f->k.got[0]->data, v1));
  collector_clear(&f->k);
  arena_free(a);
}

/* A change made by another connection (another writer) arrives too. */
static void test_other_connection(void **state) {
  fx *f = *state;
  db *other;
  db_err err;
  assert_int_equal(db_open(f->url, &other, &err), 0);
  f->k.only = "products";
  arena *a = arena_new();
  const char *made = rest(other, a, &f->owner, "POST", "products", NULL,
                          "{\"name\":\"Basmati\",\"base_price\":\"120.50\","
                          "\"current_stock\":\"2.5\",\"gst_rate\":\"5\"}",
                          201);
  const char *id = id_of(a, made);
  const char *v1 = rest_row(f->d, a, &f->owner, "products", id);
  assert_int_equal(wait_for(&f->k, 1, 5000), 1);
  check_change(f->k.got[0], "products", RT_INSERT, id, v1, NULL);
  db_close(other);
  collector_clear(&f->k);
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rest_write_reaches_sink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_other_connection, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
