/* phoenix.c - Phoenix frames parsed and written (see phoenix.h).
 *
 * Everything a client sends passes through phx_parse first, so it is
 * strict: one JSON value of the right shape, refs only as strings, numbers
 * or null, and bounded lengths; it is a fuzz target
 * (tests/fuzz/fuzz_realtime_frames.c). */
#include "realtime/phoenix.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

phx_vsn phx_vsn_parse(const char *vsn) {
  if (!vsn || !strcmp(vsn, "1.0.0")) return PHX_V1;
  if (!strcmp(vsn, "2.0.0")) return PHX_V2;
  return 0;
}

static int fail(char *err, size_t errlen, const char *msg) {
  if (errlen) snprintf(err, errlen, "%s", msg);
  return -1;
}

/* A ref as JSON text: null, a string or a number, bounded. */
static const char *ref_text(arena *a, const json *v) {
  if (!v || v->type == JSON_NULL) return "null";
  if (v->type != JSON_STRING && v->type != JSON_NUMBER) return NULL;
  if (v->len > PHX_MAX_REF) return NULL;
  return json_to_text(a, v);
}

static const char *str_of(const json *v, size_t max) {
  if (!v || v->type != JSON_STRING || v->len == 0 || v->len > max) return NULL;
  if (memchr(v->str, '\0', v->len)) return NULL; /* defensive: the parser refuses NUL */
  return v->str;
}

int phx_parse(arena *a, phx_vsn v, const char *text, size_t n, phx_msg *out,
              char *err, size_t errlen) {
  json *root;
  json_error je;
  memset(out, 0, sizeof *out);
  if (json_parse(a, text, n, &root, &je)) return fail(err, errlen, "not JSON");
  const json *jr, *r, *t, *e, *p;
  if (v == PHX_V2) {
    if (root->type != JSON_ARRAY || root->n != 5)
      return fail(err, errlen, "a frame is [join_ref, ref, topic, event, payload]");
    jr = root->items[0], r = root->items[1], t = root->items[2];
    e = root->items[3], p = root->items[4];
  } else {
    if (root->type != JSON_OBJECT)
      return fail(err, errlen, "a frame is {topic, event, payload, ref}");
    jr = json_get(root, "join_ref"), r = json_get(root, "ref");
    t = json_get(root, "topic"), e = json_get(root, "event");
    p = json_get(root, "payload");
  }
  out->join_ref = ref_text(a, jr);
  out->ref = ref_text(a, r);
  if (!out->join_ref || !out->ref)
    return fail(err, errlen, "a ref is a string, a number or null");
  out->topic = str_of(t, PHX_MAX_TOPIC);
  if (!out->topic) return fail(err, errlen, "topic is not a string of 1 to 256 bytes");
  out->event = str_of(e, PHX_MAX_EVENT);
  if (!out->event) return fail(err, errlen, "event is not a string of 1 to 64 bytes");
  if (!p) {
    json *nul = arena_alloc(a, sizeof *nul);
    nul->type = JSON_NULL;
    p = nul;
  }
  out->payload = p;
  return 0;
}

int phx_write(buf *b, phx_vsn v, const char *join_ref, const char *ref,
              const char *topic, const char *event, const char *payload) {
  int rc = 0;
  if (!join_ref) join_ref = "null";
  if (!ref) ref = "null";
  if (v == PHX_V2) {
    rc |= buf_putc(b, '[');
    rc |= buf_puts(b, join_ref);
    rc |= buf_putc(b, ',');
    rc |= buf_puts(b, ref);
    rc |= buf_putc(b, ',');
    rc |= json_write_str(b, topic, strlen(topic));
    rc |= buf_putc(b, ',');
    rc |= json_write_str(b, event, strlen(event));
    rc |= buf_putc(b, ',');
    rc |= buf_puts(b, payload);
    rc |= buf_putc(b, ']');
  } else {
    rc |= buf_puts(b, "{\"topic\":");
    rc |= json_write_str(b, topic, strlen(topic));
    rc |= buf_puts(b, ",\"event\":");
    rc |= json_write_str(b, event, strlen(event));
    rc |= buf_puts(b, ",\"payload\":");
    rc |= buf_puts(b, payload);
    rc |= buf_puts(b, ",\"ref\":");
    rc |= buf_puts(b, ref);
    rc |= buf_putc(b, '}');
  }
  return rc ? -1 : 0;
}

/* A member that must be a string when present: 0 absent, 1 found, -1 other. */
static int opt_str(const json *o, const char *key, size_t max, const char **out) {
  const json *v = json_get(o, key);
  *out = NULL;
  if (!v || v->type == JSON_NULL) return 0;
  if (v->type != JSON_STRING || v->len > max) return -1;
  *out = v->str;
  return 1;
}

int phx_parse_join(arena *a, const json *payload, int max_bindings,
                   phx_join *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!payload || payload->type != JSON_OBJECT)
    return fail(err, errlen, "the join payload is not an object");
  if (opt_str(payload, "access_token", 8192, &out->access_token) < 0)
    return fail(err, errlen, "access_token is not a string");
  const json *cfg = json_get(payload, "config");
  if (!cfg || cfg->type == JSON_NULL) return 0;
  if (cfg->type != JSON_OBJECT)
    return fail(err, errlen, "config is not an object");
  const json *pc = json_get(cfg, "postgres_changes");
  if (!pc || pc->type == JSON_NULL) return 0;
  if (pc->type != JSON_ARRAY)
    return fail(err, errlen, "config.postgres_changes is not an array");
  if (pc->n > (size_t)max_bindings) {
    if (errlen)
      snprintf(err, errlen,
               "too many postgres_changes bindings in one channel (at most %d)",
               max_bindings);
    return -1;
  }
  out->bindings = arena_alloc(a, (pc->n ? pc->n : 1) * sizeof *out->bindings);
  for (size_t i = 0; i < pc->n; i++) {
    const json *o = pc->items[i];
    phx_binding *b = &out->bindings[i];
    if (o->type != JSON_OBJECT)
      return fail(err, errlen, "a postgres_changes binding is not an object");
    b->params = o;
    if (opt_str(o, "event", 16, &b->event) <= 0)
      return fail(err, errlen,
                  "a postgres_changes binding needs event: *, INSERT, UPDATE "
                  "or DELETE");
    if (opt_str(o, "schema", 64, &b->schema) < 0 ||
        opt_str(o, "table", 128, &b->table) < 0 ||
        opt_str(o, "filter", 1024, &b->filter) < 0)
      return fail(err, errlen,
                  "schema, table and filter of a binding are strings (filter "
                  "at most 1024 bytes)");
  }
  out->nbindings = (int)pc->n;
  return 0;
}

int phx_write_binding_echo(buf *b, const json *params, long id) {
  int rc = buf_putc(b, '{');
  int first = 1;
  for (size_t i = 0; params && params->type == JSON_OBJECT && i < params->n; i++) {
    if (!strcmp(params->keys[i], "id")) continue;
    if (!first) rc |= buf_putc(b, ',');
    first = 0;
    rc |= json_write_str(b, params->keys[i], strlen(params->keys[i]));
    rc |= buf_putc(b, ':');
    rc |= json_write(b, params->items[i]);
  }
  rc |= buf_printf(b, "%s\"id\":%ld}", first ? "" : ",", id);
  return rc ? -1 : 0;
}

long phx_binding_id(const json *params) {
  /* FNV-1a over the compact text, folded to 27 bits like phash2's range. */
  buf t;
  buf_init(&t, 0);
  json_write(&t, params);
  uint32_t h = 2166136261u;
  for (size_t i = 0; i < t.len; i++) {
    h ^= (unsigned char)t.data[i];
    h *= 16777619u;
  }
  buf_free(&t);
  long id = (long)(h & 0x7ffffff);
  return id ? id : 1;
}
