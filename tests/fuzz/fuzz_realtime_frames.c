/* fuzz_realtime_frames.c - libFuzzer target for what a WebSocket client
 * sends realtime: Phoenix frames in both serializations and the phx_join
 * payload with its postgres_changes bindings and filters.
 *
 * The first byte picks the serialization (even: vsn 2.0.0 arrays, odd:
 * 1.0.0 objects); the rest is one text frame. A frame that parses must
 * write back (phx_write) to a frame that parses to the same refs, topic and
 * event; a join payload that parses must echo each binding as a JSON object
 * with a positive id. Then the same frame goes through a session
 * (channel.c) with a real token verifier, which must answer without
 * crashing whatever the frame holds. A violated property aborts. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "base/arena.h"
#include "base/buf.h"
#include "base/json.h"
#include "realtime/channel.h"
#include "realtime/phoenix.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check(int ok, const char *what) {
  if (!ok) {
    fprintf(stderr, "fuzz_realtime_frames: %s\n", what);
    abort();
  }
}

static size_t sent_bytes;
static int f_send(void *cls, const char *text, size_t n) {
  (void)cls;
  (void)text;
  sent_bytes += n;
  return 0;
}
static void f_close(void *cls, int code, const char *reason) {
  (void)cls;
  check(code >= 1000 && code < 5000 && reason, "close code");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static auth *au;
  if (!au) {
    static const uint8_t secret[] = "fuzz-secret-0123456789abcdef-0123456789";
    auth_config ac = {.secret = secret, .secret_len = sizeof secret - 1};
    au = auth_new(&ac);
  }
  if (size < 1) return 0;
  phx_vsn v = (data[0] & 1) ? PHX_V1 : PHX_V2;
  const char *text = (const char *)data + 1;
  size_t n = size - 1;
  arena *a = arena_new();
  phx_msg m;
  char err[160];
  if (phx_parse(a, v, text, n, &m, err, sizeof err) == 0) {
    check(m.topic && m.event && m.join_ref && m.ref && m.payload, "fields");
    buf b;
    buf_init(&b, 0);
    const char *payload = json_to_text(a, m.payload);
    check(phx_write(&b, v, m.join_ref, m.ref, m.topic, m.event, payload) == 0, "write");
    phx_msg m2;
    check(phx_parse(a, v, b.data, b.len, &m2, err, sizeof err) == 0, "reparse");
    check(!strcmp(m.topic, m2.topic) && !strcmp(m.event, m2.event), "topic/event");
    check(!strcmp(m.ref, m2.ref), "ref");
    /* v1 frames written by the server leave join_ref out. */
    check(v == PHX_V1 || !strcmp(m.join_ref, m2.join_ref), "join_ref");
    buf_free(&b);
    phx_join j;
    if (phx_parse_join(a, m.payload, 100, &j, err, sizeof err) == 0) {
      for (int i = 0; i < j.nbindings; i++) {
        buf e;
        buf_init(&e, 0);
        long id = phx_binding_id(j.bindings[i].params);
        check(id > 0, "binding id");
        check(phx_write_binding_echo(&e, j.bindings[i].params, id) == 0, "echo");
        json *back;
        json_error je;
        check(json_parse(a, e.data, e.len, &back, &je) == 0 && back->type == JSON_OBJECT,
              "echo is an object");
        json *jid = json_get(back, "id");
        int64_t got;
        check(jid && json_int64(jid, &got) == 0 && got == id, "echo id");
        buf_free(&e);
      }
    } else {
      check(err[0] != '\0', "join error without a reason");
    }
  } else {
    check(err[0] != '\0', "parse error without a reason");
  }
  arena_free(a);

  /* The whole session path. */
  rt_env env;
  memset(&env, 0, sizeof env);
  env.au = au;
  env.max_channels = 4;
  env.max_bindings = 8;
  env.max_bindings_socket = 12;
  env.idx = rt_index_new(); /* joins, rejoins and leaves keep it consistent */
  rt_sess *s = rt_sess_new(&env, v, "fuzz", NULL, f_send, f_close, NULL);
  check(s != NULL, "session");
  rt_sess_on_text(s, text, n);
  rt_sess_on_text(s, text, n); /* again: rejoin, leave of a joined topic */
  rt_sess_tick(s);
  rt_sess_free(s, 1);
  rt_index_free(env.idx);
  return 0;
}
