/* test_realtime_phoenix.c - the Phoenix protocol without sockets: frames
 * parsed and written in both serializations (src/realtime/phoenix.c), the
 * WebSocket accept key (src/http/upgrade.c), and a session's channels
 * (src/realtime/channel.c) driven with text frames and hand-built changes:
 * the join reply that echoes each binding with an id, the system message,
 * heartbeats, phx_leave, refused joins (bad and expired tokens, unknown
 * tables, bad filters, caps), tenancy and filters on delivery, token expiry
 * and access_token refresh, and the parking of channels for a reconnect
 * with the position the heartbeats prove was received. The frames compared
 * are byte for byte what realtime-js was seen to exchange
 * (/work/shared/realtime-protocol.md). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "auth/jwt.h"
#include "base/config.h"
#include "base/timeutil.h"
#include "http/upgrade.h"
#include "realtime/channel.h"
#include "realtime/phoenix.h"

static const uint8_t SECRET[] = "phoenix-test-secret-0123456789abcdef-xyz";
#define SECRET_LEN (sizeof SECRET - 1)

#define USER_A "11111111-1111-4111-8111-111111111111"
#define USER_B "22222222-2222-4222-8222-222222222222"
#define SESS_A "aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa"

/* ---- frames --------------------------------------------------------------- */

static void test_vsn(void **state) {
  (void)state;
  assert_int_equal(phx_vsn_parse(NULL), PHX_V1);
  assert_int_equal(phx_vsn_parse("1.0.0"), PHX_V1);
  assert_int_equal(phx_vsn_parse("2.0.0"), PHX_V2);
  assert_int_equal(phx_vsn_parse("3.0.0"), 0);
  assert_int_equal(phx_vsn_parse(""), 0);
}

static void test_parse_v2(void **state) {
  (void)state;
  arena *a = arena_new();
  phx_msg m;
  char err[128];
  const char *f = "[\"6\",\"6\",\"realtime:x\",\"phx_join\",{\"access_token\":\"t\"}]";
  assert_int_equal(phx_parse(a, PHX_V2, f, strlen(f), &m, err, sizeof err), 0);
  assert_string_equal(m.join_ref, "\"6\"");
  assert_string_equal(m.ref, "\"6\"");
  assert_string_equal(m.topic, "realtime:x");
  assert_string_equal(m.event, "phx_join");
  assert_int_equal(m.payload->type, JSON_OBJECT);
  /* Refs: null and numbers kept as the client wrote them. */
  f = "[null,7,\"phoenix\",\"heartbeat\",{}]";
  assert_int_equal(phx_parse(a, PHX_V2, f, strlen(f), &m, err, sizeof err), 0);
  assert_string_equal(m.join_ref, "null");
  assert_string_equal(m.ref, "7");
  /* Refused shapes. */
  const char *bad[] = {
      "",
      "{}",
      "[\"1\",\"1\",\"t\",\"e\"]",
      "[\"1\",\"1\",\"t\",\"e\",{},1]",
      "[{},\"1\",\"t\",\"e\",{}]",
      "[\"1\",[],\"t\",\"e\",{}]",
      "[\"1\",\"1\",5,\"e\",{}]",
      "[\"1\",\"1\",\"\",\"e\",{}]",
      "[\"1\",\"1\",\"t\",null,{}]",
      "[\"1\",\"1\",\"t\",\"e\",{}",
      "[\"1\",\"1\",\"t\",\"e\",{\"a\":1,\"a\":2}]",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    err[0] = '\0';
    assert_int_equal(phx_parse(a, PHX_V2, bad[i], strlen(bad[i]), &m, err, sizeof err), -1);
    assert_true(err[0] != '\0');
  }
  /* A topic past the cap. */
  char big[400];
  memset(big, 'x', sizeof big);
  char frame[600];
  snprintf(frame, sizeof frame, "[null,null,\"%.*s\",\"e\",{}]", 300, big);
  assert_int_equal(phx_parse(a, PHX_V2, frame, strlen(frame), &m, err, sizeof err), -1);
  snprintf(frame, sizeof frame, "[\"%.*s\",null,\"t\",\"e\",{}]", 70, big);
  assert_int_equal(phx_parse(a, PHX_V2, frame, strlen(frame), &m, err, sizeof err), -1);
  arena_free(a);
}

static void test_parse_v1(void **state) {
  (void)state;
  arena *a = arena_new();
  phx_msg m;
  char err[128];
  const char *f =
      "{\"topic\":\"realtime:x\",\"event\":\"phx_join\",\"payload\":{},\"ref\":\"1\"}";
  assert_int_equal(phx_parse(a, PHX_V1, f, strlen(f), &m, err, sizeof err), 0);
  assert_string_equal(m.join_ref, "null");
  assert_string_equal(m.ref, "\"1\"");
  assert_string_equal(m.topic, "realtime:x");
  /* A payload left out reads as null. */
  f = "{\"topic\":\"phoenix\",\"event\":\"heartbeat\",\"ref\":null}";
  assert_int_equal(phx_parse(a, PHX_V1, f, strlen(f), &m, err, sizeof err), 0);
  assert_int_equal(m.payload->type, JSON_NULL);
  /* An array is not a v1 frame; a v1 object is not a v2 frame. */
  f = "[null,null,\"t\",\"e\",{}]";
  assert_int_equal(phx_parse(a, PHX_V1, f, strlen(f), &m, err, sizeof err), -1);
  f = "{\"topic\":\"t\",\"event\":\"e\",\"payload\":{},\"ref\":\"1\"}";
  assert_int_equal(phx_parse(a, PHX_V2, f, strlen(f), &m, err, sizeof err), -1);
  f = "{\"event\":\"e\",\"payload\":{},\"ref\":\"1\"}";
  assert_int_equal(phx_parse(a, PHX_V1, f, strlen(f), &m, err, sizeof err), -1);
  arena_free(a);
}

static void test_write(void **state) {
  (void)state;
  buf b;
  buf_init(&b, 0);
  assert_int_equal(phx_write(&b, PHX_V2, "\"6\"", NULL, "realtime:x", "system",
                             "{\"a\":1}"),
                   0);
  assert_string_equal(buf_cstr(&b), "[\"6\",null,\"realtime:x\",\"system\",{\"a\":1}]");
  buf_reset(&b);
  /* v1 leaves join_ref out, as Phoenix's v1 serializer does. */
  assert_int_equal(phx_write(&b, PHX_V1, "\"6\"", "\"7\"", "t\"q", "phx_reply", "{}"), 0);
  assert_string_equal(buf_cstr(&b),
                      "{\"topic\":\"t\\\"q\",\"event\":\"phx_reply\",\"payload\":{},"
                      "\"ref\":\"7\"}");
  buf_reset(&b);
  /* A capped buffer reports the overflow. */
  buf small;
  buf_init(&small, 8);
  assert_int_equal(phx_write(&small, PHX_V2, NULL, NULL, "realtime:x", "e", "{}"), -1);
  buf_free(&small);
  buf_free(&b);
}

static void test_join_parse(void **state) {
  (void)state;
  arena *a = arena_new();
  json *p;
  json_error je;
  char err[160];
  phx_join j;
  const char *t =
      "{\"config\":{\"broadcast\":{\"ack\":false,\"self\":false},\"presence\":"
      "{\"key\":\"\",\"enabled\":false},\"postgres_changes\":[{\"event\":\"*\","
      "\"schema\":\"public\",\"table\":\"workflow_logs\",\"filter\":\"id=eq.5\"},"
      "{\"event\":\"INSERT\",\"schema\":\"public\"}],\"private\":false},"
      "\"access_token\":\"tok\",\"version\":\"x\"}";
  assert_int_equal(json_parse(a, t, strlen(t), &p, &je), 0);
  assert_int_equal(phx_parse_join(a, p, 10, &j, err, sizeof err), 0);
  assert_string_equal(j.access_token, "tok");
  assert_int_equal(j.nbindings, 2);
  assert_string_equal(j.bindings[0].event, "*");
  assert_string_equal(j.bindings[0].table, "workflow_logs");
  assert_string_equal(j.bindings[0].filter, "id=eq.5");
  assert_null(j.bindings[1].table);
  assert_null(j.bindings[1].filter);
  /* Over the cap. */
  assert_int_equal(phx_parse_join(a, p, 1, &j, err, sizeof err), -1);
  assert_non_null(strstr(err, "at most 1"));
  /* No config: a join without bindings. */
  assert_int_equal(json_parse(a, "{}", 2, &p, &je), 0);
  assert_int_equal(phx_parse_join(a, p, 10, &j, err, sizeof err), 0);
  assert_int_equal(j.nbindings, 0);
  assert_null(j.access_token);
  const char *bad[] = {
      "[]",
      "{\"access_token\":5}",
      "{\"config\":[]}",
      "{\"config\":{\"postgres_changes\":{}}}",
      "{\"config\":{\"postgres_changes\":[5]}}",
      "{\"config\":{\"postgres_changes\":[{\"schema\":\"public\"}]}}",
      "{\"config\":{\"postgres_changes\":[{\"event\":\"*\",\"table\":7}]}}",
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    assert_int_equal(json_parse(a, bad[i], strlen(bad[i]), &p, &je), 0);
    assert_int_equal(phx_parse_join(a, p, 10, &j, err, sizeof err), -1);
  }
  arena_free(a);
}

static void test_binding_echo(void **state) {
  (void)state;
  arena *a = arena_new();
  json *p, *q;
  json_error je;
  const char *t = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"x\",\"filter\":\"id=eq.5\"}";
  assert_int_equal(json_parse(a, t, strlen(t), &p, &je), 0);
  buf b;
  buf_init(&b, 0);
  assert_int_equal(phx_write_binding_echo(&b, p, 1000), 0);
  assert_string_equal(buf_cstr(&b),
                      "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"x\","
                      "\"filter\":\"id=eq.5\",\"id\":1000}");
  /* A client's own "id" is replaced, never doubled. */
  buf_reset(&b);
  assert_int_equal(json_parse(a, "{\"id\":\"s\",\"event\":\"*\"}", 22, &q, &je), 0);
  assert_int_equal(phx_write_binding_echo(&b, q, 7), 0);
  assert_string_equal(buf_cstr(&b), "{\"event\":\"*\",\"id\":7}");
  buf_free(&b);
  /* Ids: positive, stable for equal params, different for others. */
  long id = phx_binding_id(p);
  assert_true(id > 0);
  json *p2;
  assert_int_equal(json_parse(a, t, strlen(t), &p2, &je), 0);
  assert_int_equal(phx_binding_id(p2), id);
  assert_true(phx_binding_id(q) != id);
  arena_free(a);
}

static void test_accept_key(void **state) {
  (void)state;
  char out[UPGRADE_ACCEPT_LEN + 1];
  /* The example of RFC 6455 section 1.3. */
  assert_int_equal(upgrade_accept("dGhlIHNhbXBsZSBub25jZQ==", out), 0);
  assert_string_equal(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  assert_int_equal(upgrade_accept("", out), -1);
  assert_int_equal(upgrade_accept("dGhlIHNhbXBsZSBub25jZQ=", out), -1);
  assert_int_equal(upgrade_accept("dGhlIHNhbXBsZSBub25jZQ=x", out), -1);
  assert_int_equal(upgrade_accept("dGhlIHNhbXBsZSBub25j*Q==", out), -1);
}

/* ---- sessions ----------------------------------------------------------------- */

static auth *au;
static int64_t clock_s; /* the sessions' clock; the real one at setup */
static int64_t fake_now(void) { return clock_s; }

#define MAX_SENT 64
static struct {
  char *frames[MAX_SENT];
  void *to[MAX_SENT]; /* the send callback's cls of each */
  int n;
  int closed_code;
  char closed_reason[128];
  /* hooks */
  int owners_a, owners_u;
  int owner_cap;
  char parked_key[1024];
  rt_pos parked_pos;
  int parked;
  int replays;
  rt_pos replay_after;
} out;

static void out_reset(void) {
  for (int i = 0; i < out.n; i++) free(out.frames[i]);
  out.n = 0;
}

static int t_send(void *cls, const char *text, size_t n) {
  assert_true(out.n < MAX_SENT);
  out.to[out.n] = cls;
  out.frames[out.n++] = strndup(text, n);
  return 0;
}

static void t_close(void *cls, int code, const char *reason) {
  (void)cls;
  out.closed_code = code;
  snprintf(out.closed_reason, sizeof out.closed_reason, "%s", reason);
}

static int t_owner_take(void *cls, const char *owner) {
  (void)cls;
  int *n = owner[0] == 'a' ? &out.owners_a : &out.owners_u;
  if (*n >= out.owner_cap) return -1;
  (*n)++;
  return 0;
}
static void t_owner_drop(void *cls, const char *owner) {
  (void)cls;
  if (owner[0] == 'a')
    out.owners_a--;
  else
    out.owners_u--;
}
static void t_park(void *cls, const char *key, rt_pos acked) {
  (void)cls;
  snprintf(out.parked_key, sizeof out.parked_key, "%s", key);
  out.parked_pos = acked;
  out.parked++;
}
static int t_unpark(void *cls, const char *key, rt_pos *acked) {
  (void)cls;
  if (!out.parked || strcmp(key, out.parked_key)) return 0;
  out.parked = 0;
  *acked = out.parked_pos;
  return 1;
}
static int t_replay(void *cls, rt_sess *s, rt_chan *ch, rt_pos after) {
  (void)cls;
  (void)s;
  (void)ch;
  out.replays++;
  out.replay_after = after;
  return 0;
}

static rt_env env;

static int setup(void **state) {
  (void)state;
  auth_config ac = {.secret = SECRET, .secret_len = SECRET_LEN};
  au = auth_new(&ac);
  clock_s = time_now_us() / 1000000;
  memset(&env, 0, sizeof env);
  env.au = au;
  env.max_channels = 2;
  env.max_bindings = 3;
  env.now_s = fake_now;
  env.owner_take = t_owner_take;
  env.owner_drop = t_owner_drop;
  env.park = t_park;
  env.unpark = t_unpark;
  env.replay = t_replay;
  out_reset();
  memset(&out, 0, sizeof out);
  out.owner_cap = 5;
  return 0;
}

static int teardown(void **state) {
  (void)state;
  out_reset();
  auth_free(au);
  return 0;
}

/* A token signed with the test secret; exp relative to the fake clock, and
 * checked by auth against the real clock, so "expired" ones are made in
 * the real past. */
static char *token(const char *role, const char *sub, int64_t exp) {
  char payload[512];
  if (sub)
    snprintf(payload, sizeof payload,
             "{\"role\":\"%s\",\"sub\":\"%s\",\"aud\":\"authenticated\","
             "\"session_id\":\"" SESS_A "\",\"exp\":%lld}",
             role, sub, (long long)exp);
  else
    snprintf(payload, sizeof payload, "{\"role\":\"%s\",\"exp\":%lld}", role,
             (long long)exp);
  buf b;
  buf_init(&b, 0);
  assert_int_equal(jwt_sign(SECRET, SECRET_LEN, payload, &b), 0);
  return buf_steal(&b);
}

static void push(rt_sess *s, const char *frame) { rt_sess_on_text(s, frame, strlen(frame)); }

static void join(rt_sess *s, const char *ref, const char *topic, const char *tok,
                 const char *bindings) {
  char f[16384];
  snprintf(f, sizeof f,
           "[\"%s\",\"%s\",\"%s\",\"phx_join\",{\"config\":{\"broadcast\":{\"ack\":"
           "false,\"self\":false},\"presence\":{\"key\":\"\",\"enabled\":false},"
           "\"postgres_changes\":[%s],\"private\":false}%s%s%s}]",
           ref, ref, topic, bindings, tok ? ",\"access_token\":\"" : "",
           tok ? tok : "", tok ? "\"" : "");
  push(s, f);
}

static rt_change *customer_change(int64_t seq, rt_op op, const char *profile,
                                  const char *name) {
  char rec[512];
  snprintf(rec, sizeof rec,
           "{\"profile_id\":\"%s\",\"id\":\"33333333-3333-4333-8333-33333333333%lld\","
           "\"full_name\":\"%s\",\"phone_number\":null,\"email\":null,\"gstin\":null,"
           "\"state_code\":null,\"address\":null,\"total_debt\":0.00,\"notes\":null,"
           "\"created_at\":\"2026-12-01T10:00:00.000000+00:00\","
           "\"updated_at\":\"2026-12-01T10:00:00.000000+00:00\"}",
           profile, (long long)(seq % 10), name);
  rt_change *c = rt_change_new((rt_pos){0, seq}, schema_table("customers", 9), op,
                               profile, "33333333-3333-4333-8333-333333333333",
                               time_now_us(), op == RT_DELETE ? NULL : rec,
                               op == RT_INSERT ? NULL : rec);
  assert_non_null(c);
  return c;
}

static long frame_id(const char *frame) {
  const char *p = strstr(frame, "\"id\":");
  assert_non_null(p);
  return strtol(p + 5, NULL, 10);
}

static void test_heartbeat_and_unmatched(void **state) {
  (void)state;
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  assert_non_null(s);
  push(s, "[null,\"7\",\"phoenix\",\"heartbeat\",{}]");
  assert_int_equal(out.n, 1);
  assert_string_equal(out.frames[0],
                      "[null,\"7\",\"phoenix\",\"phx_reply\",{\"status\":\"ok\",\"response\":{}}]");
  push(s, "[\"1\",\"8\",\"realtime:nope\",\"access_token\",{}]");
  assert_int_equal(out.n, 2);
  assert_non_null(strstr(out.frames[1], "\"status\":\"error\""));
  assert_non_null(strstr(out.frames[1], "unmatched topic"));
  /* A frame that is not Phoenix closes the socket with a reason. */
  push(s, "[1,2,3]");
  assert_int_equal(out.closed_code, 1007);
  assert_non_null(strstr(out.closed_reason, "bad frame"));
  rt_sess_free(s, 0);
  assert_int_equal(out.owners_a, 0);
  out_reset();
}

static void test_join_deliver_leave(void **state) {
  (void)state;
  char *tok = token("authenticated", USER_A, time_now_us() / 1000000 + 3600);
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  assert_int_equal(out.owners_a, 1);
  join(s, "6", "realtime:x", tok,
       "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"},"
       "{\"event\":\"UPDATE\",\"schema\":\"public\",\"table\":\"customers\","
       "\"filter\":\"full_name=eq.Asha\"}");
  /* The socket now counts against the user, not the address. */
  assert_int_equal(out.owners_a, 0);
  assert_int_equal(out.owners_u, 1);
  assert_int_equal(out.n, 2);
  const char *r = out.frames[0];
  assert_true(!strncmp(r, "[\"6\",\"6\",\"realtime:x\",\"phx_reply\",{\"status\":\"ok\","
                          "\"response\":{\"postgres_changes\":[{\"event\":\"*\","
                          "\"schema\":\"public\",\"table\":\"customers\",\"id\":",
                       strlen("[\"6\",\"6\",\"realtime:x\",\"phx_reply\",{\"status\":\"ok\","
                              "\"response\":{\"postgres_changes\":[{\"event\":\"*\","
                              "\"schema\":\"public\",\"table\":\"customers\",\"id\":")));
  assert_non_null(strstr(r, "\"filter\":\"full_name=eq.Asha\",\"id\":"));
  long id_all = frame_id(r);
  long id_upd = frame_id(strstr(r, "full_name=eq.Asha"));
  assert_true(id_all > 0 && id_upd > 0 && id_all != id_upd);
  assert_string_equal(out.frames[1],
                      "[\"6\",null,\"realtime:x\",\"system\",{\"message\":\"Subscribed "
                      "to PostgreSQL\",\"status\":\"ok\",\"extension\":"
                      "\"postgres_changes\",\"channel\":\"x\"}]");
  assert_int_equal(rt_sess_channels(s), 1);
  out_reset();

  /* Own row, INSERT: only the "*" binding. */
  rt_change *c = customer_change(1, RT_INSERT, USER_A, "Asha");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 1);
  char want[64];
  snprintf(want, sizeof want, "{\"ids\":[%ld],\"data\":", id_all);
  assert_true(!strncmp(out.frames[0], "[null,null,\"realtime:x\",\"postgres_changes\",",
                       strlen("[null,null,\"realtime:x\",\"postgres_changes\",")));
  assert_non_null(strstr(out.frames[0], want));
  assert_non_null(strstr(out.frames[0], c->data));
  rt_change_unref(c);
  out_reset();
  /* UPDATE of a row named Asha: both bindings, in one frame. */
  c = customer_change(2, RT_UPDATE, USER_A, "Asha");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 1);
  snprintf(want, sizeof want, "{\"ids\":[%ld,%ld],", id_all, id_upd);
  assert_non_null(strstr(out.frames[0], want));
  rt_change_unref(c);
  out_reset();
  /* UPDATE of another name: the filter leaves only "*". */
  c = customer_change(3, RT_UPDATE, USER_A, "Ravi");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 1);
  snprintf(want, sizeof want, "{\"ids\":[%ld],", id_all);
  assert_non_null(strstr(out.frames[0], want));
  rt_change_unref(c);
  out_reset();
  /* Another tenant's row: nothing. */
  c = customer_change(4, RT_INSERT, USER_B, "Asha");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 0);
  rt_change_unref(c);
  /* Another table: nothing. */
  char inv[256];
  snprintf(inv, sizeof inv, "{\"profile_id\":\"%s\",\"id\":\"44444444-4444-4444-8444-444444444444\"}", USER_A);
  c = rt_change_new((rt_pos){0, 5}, schema_table("products", 8), RT_INSERT, USER_A,
                    "44444444-4444-4444-8444-444444444444", time_now_us(), inv, NULL);
  assert_non_null(c);
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 0);
  rt_change_unref(c);

  /* phx_leave: reply, phx_close, and nothing after. */
  push(s, "[\"6\",\"9\",\"realtime:x\",\"phx_leave\",{}]");
  assert_int_equal(out.n, 2);
  assert_string_equal(out.frames[0],
                      "[\"6\",\"9\",\"realtime:x\",\"phx_reply\",{\"status\":\"ok\",\"response\":{}}]");
  assert_string_equal(out.frames[1], "[\"6\",\"6\",\"realtime:x\",\"phx_close\",{}]");
  assert_int_equal(rt_sess_channels(s), 0);
  out_reset();
  c = customer_change(6, RT_INSERT, USER_A, "Asha");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 0);
  rt_change_unref(c);
  rt_sess_free(s, 1);
  assert_int_equal(out.parked, 0); /* left channels are not parked */
  assert_int_equal(out.owners_u, 0);
  free(tok);
}

static void test_join_refused(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  char *good = token("authenticated", USER_A, now + 3600);
  char *expired = token("authenticated", USER_A, now - 10);
  char *forged = token("authenticated", USER_A, now + 3600);
  forged[strlen(forged) - 3] ^= 1;
  const char *tb = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  struct {
    const char *tok, *bindings, *reason;
  } cases[] = {
      {expired, tb, "expired"},
      {forged, tb, "Invalid token"},
      {NULL, tb, "no token"},
      {good, "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"nope\"}", "unknown table"},
      {good, "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\",\"filter\":\"full_name=zz.1\"}",
       "invalid filter"},
      {good, "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\",\"filter\":\"secret=eq.1\"}",
       "invalid filter"},
      {good, "{\"event\":\"TRUNCATE\",\"schema\":\"public\",\"table\":\"customers\"}", "event must be"},
      {good, "{\"event\":\"*\",\"schema\":\"private\",\"table\":\"customers\"}", "schema"},
      {good, "{\"event\":\"*\",\"schema\":\"public\",\"filter\":\"id=eq.1\"}", "needs a table"},
      {good, "{\"event\":\"*\"},{\"event\":\"*\"},{\"event\":\"*\"},{\"event\":\"*\"}", "at most 3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    out_reset();
    join(s, "1", "realtime:r", cases[i].tok, cases[i].bindings);
    assert_int_equal(out.n, 1);
    if (!strstr(out.frames[0], "\"status\":\"error\"") ||
        !strstr(out.frames[0], cases[i].reason))
      fail_msg("case %zu: %s", i, out.frames[0]);
    assert_true(!strncmp(out.frames[0], "[\"1\",\"1\",\"realtime:r\",\"phx_reply\",{\"status\":\"error\",\"response\":{\"reason\":",
                         strlen("[\"1\",\"1\",\"realtime:r\",\"phx_reply\",{\"status\":\"error\",\"response\":{\"reason\":")));
    assert_int_equal(rt_sess_channels(s), 0);
  }
  /* The channel cap (2 here); a rejoin of a joined topic replaces it. */
  out_reset();
  join(s, "1", "realtime:a", good, tb);
  join(s, "2", "realtime:b", good, tb);
  join(s, "3", "realtime:a", good, tb);
  assert_int_equal(rt_sess_channels(s), 2);
  out_reset();
  join(s, "4", "realtime:c", good, tb);
  assert_int_equal(out.n, 1);
  assert_non_null(strstr(out.frames[0], "too many channels"));
  rt_sess_free(s, 0);
  out_reset();
  /* The caps per owner (1 here): a socket not yet joined counts against
   * its address, a joined one against its user. */
  out.owner_cap = 1;
  rt_sess *s1 = rt_sess_new(&env, PHX_V2, "10.0.0.1", NULL, t_send, t_close, NULL);
  assert_non_null(s1);
  join(s1, "1", "realtime:a", good, tb);
  assert_int_equal(out.owners_u, 1);
  assert_int_equal(out.owners_a, 0);
  rt_sess *s2 = rt_sess_new(&env, PHX_V2, "10.0.0.2", NULL, t_send, t_close, NULL);
  assert_non_null(s2);
  assert_null(rt_sess_new(&env, PHX_V2, "10.0.0.3", NULL, t_send, t_close, NULL));
  out_reset();
  join(s2, "1", "realtime:a", good, tb);
  assert_int_equal(out.n, 1);
  assert_non_null(strstr(out.frames[0], "too many realtime connections"));
  out.owner_cap = 5;
  rt_sess_free(s1, 0);
  rt_sess_free(s2, 0);
  assert_int_equal(out.owners_a + out.owners_u, 0);
  out_reset();
  free(good);
  free(expired);
  free(forged);
}

static void test_tenancy_roles(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  char *anon = token("anon", NULL, now + 3600);
  char *service = token("service_role", NULL, now + 3600);
  const char *tb = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  /* The apikey from the URL serves a join without access_token. */
  rt_sess *sa = rt_sess_new(&env, PHX_V2, "127.0.0.1", anon, t_send, t_close, NULL);
  rt_sess *ss = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(sa, "1", "realtime:a", NULL, tb);
  join(ss, "1", "realtime:s", service, "{\"event\":\"*\",\"schema\":\"public\"}");
  assert_int_equal(rt_sess_channels(sa), 1);
  assert_int_equal(rt_sess_channels(ss), 1);
  out_reset();
  rt_change *c = customer_change(1, RT_INSERT, USER_B, "X");
  rt_sess_deliver(sa, c);
  assert_int_equal(out.n, 0); /* anon reads nothing */
  rt_sess_deliver(ss, c);
  assert_int_equal(out.n, 1); /* the service role reads every row */
  rt_change_unref(c);
  rt_sess_free(sa, 0);
  rt_sess_free(ss, 0);
  out_reset();
  free(anon);
  free(service);
}

static void test_expiry_and_refresh(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  char *tok = token("authenticated", USER_A, now + 100);
  char *later = token("authenticated", USER_A, now + 7200);
  char *other = token("authenticated", USER_B, now + 7200);
  char *expired = token("authenticated", USER_A, now - 5);
  const char *tb = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  clock_s = now;
  join(s, "1", "realtime:a", tok, tb);
  join(s, "2", "realtime:b", tok, tb);
  out_reset();
  /* A refresh with a later token keeps a past the first token's exp. */
  char f[2048];
  snprintf(f, sizeof f, "[\"1\",\"3\",\"realtime:a\",\"access_token\",{\"access_token\":\"%s\"}]", later);
  push(s, f);
  assert_int_equal(out.n, 0); /* no reply, as Supabase */
  /* An sb_ publishable key is ignored. */
  push(s, "[\"1\",\"4\",\"realtime:a\",\"access_token\",{\"access_token\":\"sb_publishable_x\"}]");
  assert_int_equal(out.n, 0);
  clock_s = now + 101;
  rt_sess_tick(s);
  /* b expired: a system error, then phx_close; a lives on. */
  assert_int_equal(out.n, 2);
  assert_string_equal(out.frames[0],
                      "[\"2\",null,\"realtime:b\",\"system\",{\"message\":\"Token has "
                      "expired 1 seconds ago\",\"status\":\"error\",\"extension\":"
                      "\"system\",\"channel\":\"b\"}]");
  assert_string_equal(out.frames[1], "[\"2\",\"2\",\"realtime:b\",\"phx_close\",{}]");
  assert_int_equal(rt_sess_channels(s), 1);
  out_reset();
  /* A token of another principal: the channel reads as it from now on
   * (realtime-js joins with the anon key, then pushes the user's token). */
  snprintf(f, sizeof f, "[\"1\",\"5\",\"realtime:a\",\"access_token\",{\"access_token\":\"%s\"}]", other);
  push(s, f);
  assert_int_equal(out.n, 0);
  assert_int_equal(rt_sess_channels(s), 1);
  rt_change *c = customer_change(1, RT_INSERT, USER_A, "A");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 0);
  rt_change_unref(c);
  c = customer_change(2, RT_INSERT, USER_B, "B");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 1);
  rt_change_unref(c);
  push(s, "[\"1\",\"6\",\"realtime:a\",\"phx_leave\",{}]");
  assert_int_equal(rt_sess_channels(s), 0);
  out_reset();
  /* An expired access_token push ends it too. */
  clock_s = now;
  join(s, "6", "realtime:a", later, tb);
  out_reset();
  snprintf(f, sizeof f, "[\"6\",\"7\",\"realtime:a\",\"access_token\",{\"access_token\":\"%s\"}]", expired);
  push(s, f);
  assert_int_equal(out.n, 2);
  assert_non_null(strstr(out.frames[0], "\"status\":\"error\""));
  assert_non_null(strstr(out.frames[0], "expired"));
  assert_string_equal(out.frames[1], "[\"6\",\"6\",\"realtime:a\",\"phx_close\",{}]");
  assert_int_equal(rt_sess_channels(s), 0);
  rt_sess_free(s, 0);
  out_reset();
  free(tok);
  free(later);
  free(other);
  free(expired);
}

static void test_park_and_replay(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  clock_s = now;
  char *tok = token("authenticated", USER_A, now + 3600);
  const char *tb = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  env.seen = (rt_pos){0, 10};
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", tok, tb);
  assert_int_equal(out.replays, 0);
  /* Changes 11..13 go out; a heartbeat reply is queued at 12, the next
   * heartbeat (at 13) proves everything up to 12 arrived. */
  env.seen = (rt_pos){0, 12};
  push(s, "[null,\"2\",\"phoenix\",\"heartbeat\",{}]");
  env.seen = (rt_pos){0, 13};
  push(s, "[null,\"3\",\"phoenix\",\"heartbeat\",{}]");
  rt_sess_free(s, 1);
  assert_int_equal(out.parked, 1);
  assert_int_equal(out.parked_pos.seq, 12);
  out_reset();
  /* The same user, session, topic and bindings on a new socket: replay
   * from 12. */
  env.seen = (rt_pos){0, 20};
  s = rt_sess_new(&env, PHX_V1, "127.0.0.1", NULL, t_send, t_close, NULL);
  char f[2048];
  snprintf(f, sizeof f,
           "{\"topic\":\"realtime:a\",\"event\":\"phx_join\",\"ref\":\"1\",\"join_ref\":\"1\","
           "\"payload\":{\"config\":{\"postgres_changes\":[%s]},\"access_token\":\"%s\"}}",
           tb, tok);
  push(s, f);
  assert_int_equal(out.replays, 1);
  assert_int_equal(out.replay_after.seq, 12);
  /* v1 frames: objects without join_ref. */
  assert_true(!strncmp(out.frames[0], "{\"topic\":\"realtime:a\",\"event\":\"phx_reply\",\"payload\":{\"status\":\"ok\"",
                       strlen("{\"topic\":\"realtime:a\",\"event\":\"phx_reply\",\"payload\":{\"status\":\"ok\"")));
  assert_null(strstr(out.frames[0], "join_ref"));
  /* Live changes only after what the replay covered. */
  out_reset();
  rt_change *c = customer_change(20, RT_INSERT, USER_A, "Old");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 0);
  rt_change_unref(c);
  c = customer_change(21, RT_INSERT, USER_A, "New");
  rt_sess_deliver(s, c);
  assert_int_equal(out.n, 1);
  rt_change_unref(c);
  /* A different binding does not pick up the parked channel. */
  rt_sess_free(s, 1);
  out_reset();
  s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", tok, "{\"event\":\"INSERT\",\"schema\":\"public\",\"table\":\"customers\"}");
  assert_int_equal(out.replays, 1);
  rt_sess_free(s, 0);
  out_reset();
  env.seen = (rt_pos){0, 0};
  free(tok);
}

/* Frames sent to one session (by its send cls) since the last reset. */
static int sent_to(void *tag) {
  int n = 0;
  for (int i = 0; i < out.n; i++) n += out.to[i] == tag;
  return n;
}

/* The index hands a change only to channels of its tenant (and the
 * service role's) on its table; a token switch moves a channel; a channel
 * gone leaves no trace. Every matching binding's id goes out. */
static void test_index_deliver(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  clock_s = now;
  char *ta = token("authenticated", USER_A, now + 3600);
  char *tb = token("authenticated", USER_B, now + 3600);
  char *tsv = token("service_role", NULL, now + 3600);
  env.idx = rt_index_new();
  env.max_bindings = 64;
  env.max_channels = 4;
  out.owner_cap = 50;
  int A, B, S, N; /* tags */
  rt_sess *sa = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, &A);
  rt_sess *sb = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, &B);
  rt_sess *ss = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, &S);
  rt_sess *sn = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, &N);
  const char *cust = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  join(sa, "1", "realtime:a", ta, cust);
  join(sb, "1", "realtime:b", tb, cust);
  join(ss, "1", "realtime:s", tsv, "{\"event\":\"*\",\"schema\":\"public\"}");
  join(sn, "1", "realtime:n", NULL, cust); /* no token: refused, not indexed */
  /* 40 bindings on one channel, each with its own filter that matches */
  char many[8192];
  size_t off = 0;
  for (int i = 0; i < 40; i++)
    off += (size_t)snprintf(many + off, sizeof many - off,
                            "%s{\"event\":\"INSERT\",\"schema\":\"public\","
                            "\"table\":\"customers\",\"filter\":\"full_name=neq.x%d\"}",
                            i ? "," : "", i);
  join(sa, "2", "realtime:many", ta, many);
  out_reset();
  rt_change *c = customer_change(1, RT_INSERT, USER_A, "Asha");
  rt_env_deliver(&env, c);
  rt_change_unref(c);
  assert_int_equal(sent_to(&A), 2);
  assert_int_equal(sent_to(&S), 1);
  assert_int_equal(sent_to(&B) + sent_to(&N), 0);
  for (int i = 0; i < out.n; i++)
    if (strstr(out.frames[i], "realtime:many")) {
      const char *ids = strstr(out.frames[i], "\"ids\":[");
      assert_non_null(ids);
      int commas = 0;
      for (const char *p = ids; *p != ']'; p++) commas += *p == ',';
      assert_int_equal(commas + 1, 40);
    }
  out_reset();
  c = customer_change(2, RT_INSERT, USER_B, "Ravi");
  rt_env_deliver(&env, c);
  rt_change_unref(c);
  assert_int_equal(sent_to(&B), 1);
  assert_int_equal(sent_to(&S), 1);
  assert_int_equal(sent_to(&A), 0);
  /* sa's first channel now reads as B: B's rows, not A's */
  char f[2048];
  snprintf(f, sizeof f, "[\"1\",\"3\",\"realtime:a\",\"access_token\",{\"access_token\":\"%s\"}]", tb);
  push(sa, f);
  out_reset();
  c = customer_change(3, RT_INSERT, USER_B, "Ravi");
  rt_env_deliver(&env, c);
  rt_change_unref(c);
  assert_int_equal(sent_to(&A), 1);
  assert_non_null(strstr(out.frames[0], "realtime:a"));
  out_reset();
  c = customer_change(4, RT_INSERT, USER_A, "Asha");
  rt_env_deliver(&env, c);
  rt_change_unref(c);
  assert_int_equal(sent_to(&A), 1); /* the 40-binding channel only */
  assert_non_null(strstr(out.frames[0], "realtime:many"));
  /* gone: nothing found, nothing freed twice (ASan) */
  rt_sess_free(sa, 0);
  rt_sess_free(sb, 0);
  out_reset();
  c = customer_change(5, RT_INSERT, USER_A, "Asha");
  rt_env_deliver(&env, c);
  rt_change_unref(c);
  assert_int_equal(out.n, 1);
  assert_true(out.to[0] == &S);
  rt_sess_free(ss, 0);
  rt_sess_free(sn, 0);
  assert_int_equal(out.owners_a + out.owners_u, 0);
  rt_index_free(env.idx);
  env.idx = NULL;
  env.max_bindings = 3;
  env.max_channels = 2;
  out.owner_cap = 5;
  out_reset();
  free(ta);
  free(tb);
  free(tsv);
}

/* A user's channel joined again on its socket (a rejoin after a timeout)
 * keeps the socket on its user: it does not go back on a full address on
 * the way. */
static void test_rejoin_keeps_owner(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  clock_s = now;
  char *ta = token("authenticated", USER_A, now + 3600);
  const char *cust = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  out.owner_cap = 1;
  out.closed_code = 0;
  rt_sess *s = rt_sess_new(&env, PHX_V2, "10.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", ta, cust);
  assert_int_equal(out.owners_a, 0);
  assert_int_equal(out.owners_u, 1);
  rt_sess *t = rt_sess_new(&env, PHX_V2, "10.0.0.1", NULL, t_send, t_close, NULL);
  assert_non_null(t); /* the address is free again, and now full */
  join(s, "2", "realtime:a", ta, cust);
  assert_non_null(strstr(out.frames[out.n - 2], "\"status\":\"ok\""));
  assert_int_equal(out.closed_code, 0);
  assert_int_equal(out.owners_u, 1);
  rt_sess_free(s, 0);
  rt_sess_free(t, 0);
  assert_int_equal(out.owners_a + out.owners_u, 0);
  out.owner_cap = 5;
  out_reset();
  free(ta);
}

static rt_chan *later_ch;
static int t_replay_later(void *cls, rt_sess *s, rt_chan *ch, rt_pos after) {
  (void)cls;
  (void)s;
  out.replays++;
  out.replay_after = after;
  later_ch = ch;
  return RT_REPLAY_LATER;
}
static int cancels;
static void t_replay_cancel(void *cls, rt_chan *ch) {
  (void)cls;
  assert_ptr_equal(ch, later_ch);
  cancels++;
}

/* A replay read elsewhere: the channel's live changes wait for it and go
 * out after it, in order; a channel that goes first cancels it. */
static void test_replay_later(void **state) {
  (void)state;
  int64_t now = time_now_us() / 1000000;
  clock_s = now;
  char *tok = token("authenticated", USER_A, now + 3600);
  const char *tb = "{\"event\":\"*\",\"schema\":\"public\",\"table\":\"customers\"}";
  env.replay = t_replay_later;
  env.replay_cancel = t_replay_cancel;
  out.replays = 0;
  out.parked = 0;
  env.seen = (rt_pos){0, 10};
  rt_sess *s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", tok, tb);
  rt_sess_free(s, 1); /* parked at 10 */
  env.seen = (rt_pos){0, 20};
  s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", tok, tb);
  assert_int_equal(out.replays, 1);
  assert_non_null(later_ch);
  out_reset();
  rt_change *live = customer_change(21, RT_INSERT, USER_A, "Live");
  rt_sess_deliver(s, live); /* held */
  rt_change_unref(live);
  assert_int_equal(out.n, 0);
  rt_change *old = customer_change(15, RT_INSERT, USER_A, "Missed");
  rt_sess_deliver_to(s, later_ch, old); /* the replay's */
  rt_change_unref(old);
  rt_chan_replayed(s, later_ch, RT_REPLAY_CUT);
  assert_int_equal(out.n, 3);
  assert_non_null(strstr(out.frames[0], "Missed"));
  assert_non_null(strstr(out.frames[1], "too many to replay"));
  assert_non_null(strstr(out.frames[2], "Live"));
  out_reset();
  live = customer_change(22, RT_INSERT, USER_A, "After");
  rt_sess_deliver(s, live); /* no longer held */
  rt_change_unref(live);
  assert_int_equal(out.n, 1);
  rt_sess_free(s, 1);
  /* A rejoin whose socket goes before its replay is in: cancelled, and
   * what it held is freed (ASan). */
  out_reset();
  s = rt_sess_new(&env, PHX_V2, "127.0.0.1", NULL, t_send, t_close, NULL);
  join(s, "1", "realtime:a", tok, tb);
  assert_int_equal(out.replays, 2);
  live = customer_change(23, RT_INSERT, USER_A, "Held");
  rt_sess_deliver(s, live);
  rt_change_unref(live);
  rt_sess_free(s, 0);
  assert_int_equal(cancels, 1);
  out_reset();
  env.replay = t_replay;
  env.replay_cancel = NULL;
  env.seen = (rt_pos){0, 0};
  later_ch = NULL;
  free(tok);
}

/* The caps and the window from MUNSHI_REALTIME_* (base/config.c). */
static void test_config(void **state) {
  (void)state;
  char *argv[] = {"munshi", NULL};
  config c;
  char err[256];
  unsetenv("MUNSHI_REALTIME_MAX_CHANNELS");
  unsetenv("MUNSHI_REALTIME_WINDOW");
  assert_int_equal(config_load(1, argv, &c, err, sizeof err), 0);
  assert_int_equal(c.rt_max_sockets, 10000);
  assert_int_equal(c.rt_max_sockets_per_user, 100);
  assert_int_equal(c.rt_max_channels, 100);
  assert_int_equal(c.rt_max_bindings, 100);
  assert_int_equal(c.rt_max_frame, 65536);
  assert_int_equal(c.rt_max_queue, 4 * 1024 * 1024);
  assert_int_equal(c.rt_window_s, 120);
  setenv("MUNSHI_REALTIME_MAX_CHANNELS", "7", 1);
  setenv("MUNSHI_REALTIME_WINDOW", "30", 1);
  assert_int_equal(config_load(1, argv, &c, err, sizeof err), 0);
  assert_int_equal(c.rt_max_channels, 7);
  assert_int_equal(c.rt_window_s, 30);
  setenv("MUNSHI_REALTIME_WINDOW", "0", 1);
  assert_int_equal(config_load(1, argv, &c, err, sizeof err), -1);
  assert_non_null(strstr(err, "MUNSHI_REALTIME_WINDOW"));
  setenv("MUNSHI_REALTIME_WINDOW", "ten", 1);
  assert_int_equal(config_load(1, argv, &c, err, sizeof err), -1);
  unsetenv("MUNSHI_REALTIME_MAX_CHANNELS");
  unsetenv("MUNSHI_REALTIME_WINDOW");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_vsn),
      cmocka_unit_test(test_parse_v2),
      cmocka_unit_test(test_parse_v1),
      cmocka_unit_test(test_write),
      cmocka_unit_test(test_join_parse),
      cmocka_unit_test(test_binding_echo),
      cmocka_unit_test(test_accept_key),
      cmocka_unit_test(test_heartbeat_and_unmatched),
      cmocka_unit_test(test_join_deliver_leave),
      cmocka_unit_test(test_join_refused),
      cmocka_unit_test(test_tenancy_roles),
      cmocka_unit_test(test_expiry_and_refresh),
      cmocka_unit_test(test_park_and_replay),
      cmocka_unit_test(test_index_deliver),
      cmocka_unit_test(test_replay_later),
      cmocka_unit_test(test_rejoin_keeps_owner),
      cmocka_unit_test(test_config),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
