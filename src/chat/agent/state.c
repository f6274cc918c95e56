/* state.c - sessions.agent_state as JSON (see state.h). */
#include "chat/agent/state.h"

#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/uuid.h"

void agent_state_read(arena *a, const char *text, agent_state *out) {
  memset(out, 0, sizeof *out);
  out->lang = AGENT_LANG_UNKNOWN;
  json *j;
  json_error je;
  if (!text || !*text || json_parse(a, text, strlen(text), &j, &je) ||
      j->type != JSON_OBJECT)
    return;
  const json *l = json_get(j, "lang");
  if (l && l->type == JSON_STRING) out->lang = agent_lang_from_name(l->str);
  const json *f = json_get(j, "fallbacks");
  int64_t fb;
  if (f && f->type == JSON_NUMBER && !json_int64(f, &fb) && fb >= 0 && fb < 100)
    out->fallbacks = (int)fb;
  const json *oid = json_get(j, "order_id");
  if (oid && oid->type == JSON_STRING &&
      uuid_normalize(oid->str, out->order_id))
    out->order_id[0] = 0;
  const json *p = json_get(j, "pending");
  if (!p || p->type != JSON_ARRAY) return;
  for (size_t i = 0; i < p->n && out->n_pending < AGENT_PENDING_MAX; i++) {
    const json *it = p->items[i];
    const json *id = json_get(it, "product_id"), *q = json_get(it, "quantity");
    agent_pending *x = &out->pending[out->n_pending];
    int64_t v;
    if (!id || id->type != JSON_STRING || !q) continue;
    if (uuid_normalize(id->str, x->product_id)) continue;
    if (q->type == JSON_STRING) {
      if (dec_parse(q->str, q->len, QTY_SCALE, &v)) continue;
    } else if (q->type != JSON_NUMBER || json_decimal(q, QTY_SCALE, &v)) {
      continue;
    }
    if (v <= 0) continue;
    x->qty = v;
    out->n_pending++;
  }
}

void agent_state_write(buf *b, const agent_state *s) {
  json_obj o, arr, it;
  json_obj_open(&o, b);
  if (s->lang != AGENT_LANG_UNKNOWN)
    json_obj_str(&o, "lang", agent_lang_name(s->lang));
  json_obj_int(&o, "fallbacks", s->fallbacks);
  if (s->n_pending > 0) {
    json_obj_arr(&o, "pending", &arr);
    for (int i = 0; i < s->n_pending; i++) {
      char q[DEC_MAX_TEXT];
      dec_format(s->pending[i].qty, QTY_SCALE, q);
      json_obj_nest(&arr, NULL, &it);
      json_obj_str(&it, "product_id", s->pending[i].product_id);
      json_obj_str(&it, "quantity", q);
      json_obj_close(&it);
    }
    json_obj_close(&arr);
    if (s->order_id[0]) json_obj_str(&o, "order_id", s->order_id);
  }
  json_obj_close(&o);
}
