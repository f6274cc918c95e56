/* test_realtime_sse.c - the SSE streams (src/realtime/sse.c) on a hub of
 * the test's own, without a database or a feed thread: the event format
 * (data split at line breaks), the split of ?tables=, what a stream carries
 * (its tenant's rows of the watched tables that pass the filter, each
 * position once, in order) and what it does not, the wake-up promise of
 * rt_sse_read, gaps, keep-alives, a token expiring, a reader too slow for
 * the queue, and the requests refused before a stream opens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "realtime/feed.h"
#include "realtime/rt_int.h"
#include "realtime/sse.h"

#define U1 "0190a000-0000-7000-8000-000000000001"
#define U2 "0190a000-0000-7000-8000-000000000002"
#define C1 "0190a000-0000-7000-8000-0000000000c1"

static const rest_table *tab(const char *name) {
  return schema_table(name, strlen(name));
}

/* A customers row of profile p in state st. */
static rt_change *customer(int64_t seq, const char *p, const char *st,
                           rt_op op) {
  char rec[1024];
  snprintf(rec, sizeof rec,
           "{\"profile_id\":\"%s\",\"id\":\"" C1 "\",\"full_name\":\"Asha\","
           "\"phone_number\":null,\"email\":null,\"gstin\":null,"
           "\"state_code\":\"%s\",\"address\":null,\"total_debt\":0.00,"
           "\"notes\":\"line one\",\"created_at\":\"2026-12-01T10:00:00.000000+00:00\","
           "\"updated_at\":\"2026-12-01T10:00:00.000000+00:00\"}",
           p, st);
  rt_change *c = rt_change_new((rt_pos){0, seq}, tab("customers"), op, p, C1,
                               1796032800000000LL,
                               op == RT_DELETE ? NULL : rec,
                               op == RT_INSERT ? NULL : rec);
  assert_non_null(c);
  return c;
}

static void publish(rt_hub *h, rt_change *c) {
  rt_hub_publish(h, c);
  rt_change_unref(c);
}

static _Atomic int wakes;
static void on_wake(void *cls) {
  (void)cls;
  wakes++;
}

typedef struct fixture {
  rt_hub *hub;
  rt_sses *x;
} fixture;

static fixture fx(size_t max_queue, int keepalive_ms) {
  fixture f;
  f.hub = rt_hub_new();
  rt_sse_config cfg = {f.hub, "sqlite::memory:", max_queue, keepalive_ms, 0};
  char err[200];
  f.x = rt_sses_new(&cfg, err, sizeof err);
  assert_non_null(f.x);
  wakes = 0;
  return f;
}

static void fx_free(fixture *f) {
  assert_int_equal(rt_sses_count(f->x), 0);
  rt_sses_free(f->x);
  rt_hub_free(f->hub);
}

static api_principal user(const char *sub) {
  api_principal w;
  memset(&w, 0, sizeof w);
  w.role = ROLE_AUTHENTICATED;
  snprintf(w.sub, sizeof w.sub, "%s", sub);
  return w;
}

static rt_sse *open_ok(fixture *f, const api_principal *who,
                       const char *tables) {
  api_resp r;
  api_resp_init(&r);
  rt_sse *st = NULL;
  int rc = rt_sses_open(f->x, who, tables, NULL, on_wake, NULL, &st, &r);
  if (rc) fail_msg("open %s: %d %s", tables, r.status, buf_cstr(&r.body));
  api_resp_free(&r);
  return st;
}

/* Everything readable now, as text (NUL-terminated, in out). Returns the
 * last rt_sse_read result. */
static long drain(rt_sse *st, char *out, size_t cap) {
  size_t n = 0;
  long k;
  /* Small reads, to cross the queue's bookkeeping. */
  while ((k = rt_sse_read(st, out + n, cap - 1 - n < 7 ? cap - 1 - n : 7)) > 0)
    n += (size_t)k;
  out[n] = '\0';
  return k;
}

static void event_format(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  assert_int_equal(rt_sse_event(&b, "0.5", "INSERT", "{\"a\":1}", 7), 0);
  assert_string_equal(buf_cstr(&b), "id: 0.5\nevent: INSERT\ndata: {\"a\":1}\n\n");
  buf_reset(&b);
  assert_int_equal(rt_sse_event(&b, NULL, "gap", "one\ntwo\r\nthree\rfour", 19), 0);
  assert_string_equal(buf_cstr(&b),
                      "event: gap\ndata: one\ndata: two\ndata: three\ndata: four\n\n");
  buf_reset(&b);
  assert_int_equal(rt_sse_event(&b, NULL, NULL, "end\n", 4), 0);
  assert_string_equal(buf_cstr(&b), "data: end\ndata: \n\n");
  buf_free(&b);
  buf_init(&b, 10);
  assert_int_equal(rt_sse_event(&b, "0.5", "INSERT", "{}", 2), -1);
  buf_free(&b);
}

static void split_tables(void **state) {
  (void)state;
  const char *s[8];
  size_t l[8];
  assert_int_equal(rt_sse_split_tables("customers", s, l, 8), 1);
  assert_int_equal(l[0], 9);
  const char *t = "a:id=in.(1,2),b,c:name=eq.\"x,y\"";
  assert_int_equal(rt_sse_split_tables(t, s, l, 8), 3);
  assert_memory_equal(s[0], "a:id=in.(1,2)", l[0]);
  assert_memory_equal(s[1], "b", l[1]);
  assert_memory_equal(s[2], "c:name=eq.\"x,y\"", l[2]);
  assert_int_equal(rt_sse_split_tables("a,,b", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("a,", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("a:id=in.(1,2", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("a:id=in.1)", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("a:x=eq.\"open", s, l, 8), -1);
  assert_int_equal(rt_sse_split_tables("a,b,c", s, l, 2), -1);
}

static void carries_its_tenant_tables_and_filter(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal u1 = user(U1);
  rt_sse *st = open_ok(&f, &u1, "customers:state_code=eq.29,products");
  char out[8192];
  assert_int_equal(drain(st, out, sizeof out), 0);
  assert_non_null(strstr(out, "retry: "));
  assert_int_equal(wakes, 0);

  publish(f.hub, customer(3, U1, "29", RT_INSERT));
  assert_int_equal(wakes, 1); /* the reader had found nothing */
  publish(f.hub, customer(4, U2, "29", RT_INSERT)); /* another tenant */
  publish(f.hub, customer(5, U1, "27", RT_UPDATE)); /* filtered out */
  publish(f.hub, customer(5, U1, "29", RT_UPDATE)); /* a position again */
  publish(f.hub, customer(4, U1, "29", RT_UPDATE)); /* and an older one */
  publish(f.hub, customer(6, U1, "29", RT_DELETE));
  assert_int_equal(wakes, 1); /* one wake until the reader comes back */
  assert_int_equal(drain(st, out, sizeof out), 0);
  const char *ins = strstr(out, "id: 0.3\nevent: INSERT\ndata: {\"schema\":\"public\",\"table\":\"customers\"");
  const char *del = strstr(out, "id: 0.6\nevent: DELETE\ndata: {");
  assert_non_null(ins);
  assert_non_null(del);
  assert_true(ins < del);
  assert_null(strstr(out, "id: 0.4"));
  assert_null(strstr(out, "id: 0.5"));
  assert_null(strstr(out, U2));
  /* The data line is the change's data object, whole. */
  rt_change *c = customer(6, U1, "29", RT_DELETE);
  assert_non_null(strstr(del, c->data));
  rt_change_unref(c);
  /* Read empty again: the next change wakes once more. */
  publish(f.hub, customer(7, U1, "29", RT_UPDATE));
  assert_int_equal(wakes, 2);
  rt_sse_close(st);
  fx_free(&f);
}

static void service_role_sees_every_tenant(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal svc;
  memset(&svc, 0, sizeof svc);
  svc.role = ROLE_SERVICE;
  rt_sse *st = open_ok(&f, &svc, "customers");
  char out[8192];
  drain(st, out, sizeof out);
  publish(f.hub, customer(1, U1, "29", RT_INSERT));
  publish(f.hub, customer(2, U2, "29", RT_INSERT));
  drain(st, out, sizeof out);
  assert_non_null(strstr(out, "id: 0.1\n"));
  assert_non_null(strstr(out, "id: 0.2\n"));
  rt_sse_close(st);
  fx_free(&f);
}

static void gap_is_told(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal u1 = user(U1);
  rt_sse *st = open_ok(&f, &u1, "customers");
  char out[4096];
  drain(st, out, sizeof out);
  rt_hub_gap(f.hub);
  assert_int_equal(wakes, 1);
  assert_int_equal(drain(st, out, sizeof out), 0);
  assert_non_null(strstr(out, "event: gap\ndata: {\"message\":"));
  rt_sse_close(st);
  fx_free(&f);
}

static void sleep_ms(int ms) {
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static void keepalive_when_idle(void **state) {
  (void)state;
  fixture f = fx(0, 100);
  api_principal u1 = user(U1);
  rt_sse *st = open_ok(&f, &u1, "customers");
  char out[4096];
  drain(st, out, sizeof out);
  for (int i = 0; i < 40 && !wakes; i++) sleep_ms(50);
  assert_true(wakes >= 1);
  drain(st, out, sizeof out);
  assert_non_null(strstr(out, ": keep-alive\n\n"));
  rt_sse_close(st);
  fx_free(&f);
}

static void expired_token_ends_the_stream(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal u1 = user(U1);
  u1.exp_s = time_now_us() / 1000000 + 2;
  rt_sse *st = open_ok(&f, &u1, "customers");
  char out[4096];
  assert_int_equal(drain(st, out, sizeof out), 0);
  publish(f.hub, customer(1, U1, "29", RT_INSERT));
  assert_int_equal(drain(st, out, sizeof out), 0);
  assert_non_null(strstr(out, "event: INSERT"));
  for (int i = 0; i < 60 && wakes < 2; i++) sleep_ms(50);
  assert_int_equal(wakes, 2);
  long k = drain(st, out, sizeof out);
  assert_non_null(strstr(out, "event: error\ndata: {\"code\":\"PGRST303\""));
  assert_int_equal(k, -1); /* and then the end */
  publish(f.hub, customer(2, U1, "29", RT_INSERT));
  assert_int_equal(rt_sse_read(st, out, sizeof out), -1);
  rt_sse_close(st);
  fx_free(&f);
}

static void slow_reader_is_ended(void **state) {
  (void)state;
  fixture f = fx(4096, 0);
  api_principal u1 = user(U1);
  rt_sse *st = open_ok(&f, &u1, "customers");
  for (int i = 1; i <= 20; i++) publish(f.hub, customer(i, U1, "29", RT_INSERT));
  char out[65536];
  long k = drain(st, out, sizeof out);
  assert_int_equal(k, -1);
  assert_true(strlen(out) < 4096 + 512);
  assert_non_null(strstr(out, "id: 0.1\n"));
  assert_null(strstr(out, "id: 0.20\n"));
  const char *err = strstr(out, "event: error\ndata: {\"code\":\"slow_client\"");
  assert_non_null(err);
  assert_string_equal(err + strlen(err) - 2, "\n\n"); /* the last event */
  rt_sse_close(st);
  fx_free(&f);
}

/* A resume is answered before its replay reads anything: here the replay
 * cannot read (the fixture's database has no change table), and the stream
 * still opens, then ends with an error event the client can act on rather
 * than being refused or cut off. */
static void resume_that_cannot_read_is_answered_then_ended(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal u1 = user(U1);
  /* The head moves past the resume point (another tenant's change), so
   * the replay has something to read. */
  publish(f.hub, customer(10, U2, "29", RT_INSERT));
  api_resp r;
  api_resp_init(&r);
  rt_sse *st = NULL;
  assert_int_equal(
      rt_sses_open(f.x, &u1, "customers", "0.5", on_wake, NULL, &st, &r), 0);
  api_resp_free(&r);
  char out[8192];
  size_t n = 0;
  long k = 0;
  for (int i = 0; i < 500 && k >= 0; i++) {
    k = drain(st, out + n, sizeof out - n);
    n += strlen(out + n);
    if (k == 0) sleep_ms(10);
  }
  assert_int_equal(k, -1); /* ended */
  assert_non_null(strstr(out, "retry: "));
  assert_non_null(
      strstr(out, "event: error\ndata: {\"code\":\"unavailable\""));
  assert_non_null(strstr(out, "Last-Event-ID"));
  rt_sse_close(st);
  fx_free(&f);
}

static void refused_before_opening(void **state) {
  (void)state;
  fixture f = fx(0, 0);
  api_principal u1 = user(U1);
  api_principal anon;
  memset(&anon, 0, sizeof anon);
  anon.role = ROLE_ANON;
  struct {
    const api_principal *who;
    const char *tables, *last;
    int status;
  } cases[] = {
      {&u1, NULL, NULL, 400},
      {&u1, "", NULL, 400},
      {&u1, "nope", NULL, 404},
      {&u1, "customers:nope=eq.1", NULL, 400},
      {&u1, "customers:state_code=xx.1", NULL, 400},
      {&u1, "customers,", NULL, 400},
      {&u1, "customers", "7", 400},
      {&u1, "customers", "a.b", 400},
      {&anon, "customers", NULL, 401},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    api_resp r;
    api_resp_init(&r);
    rt_sse *st = (rt_sse *)&r;
    assert_int_equal(rt_sses_open(f.x, cases[i].who, cases[i].tables,
                                  cases[i].last, on_wake, NULL, &st, &r),
                     -1);
    assert_null(st);
    if (r.status != cases[i].status)
      fail_msg("case %zu: status %d, body %s", i, r.status, buf_cstr(&r.body));
    api_resp_free(&r);
  }
  assert_int_equal(rt_sses_count(f.x), 0);
  fx_free(&f);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(event_format),
      cmocka_unit_test(split_tables),
      cmocka_unit_test(carries_its_tenant_tables_and_filter),
      cmocka_unit_test(service_role_sees_every_tenant),
      cmocka_unit_test(gap_is_told),
      cmocka_unit_test(keepalive_when_idle),
      cmocka_unit_test(expired_token_ends_the_stream),
      cmocka_unit_test(slow_reader_is_ended),
      cmocka_unit_test(refused_before_opening),
      cmocka_unit_test(resume_that_cannot_read_is_answered_then_ended),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
