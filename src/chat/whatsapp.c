/* whatsapp.c - the WhatsApp Cloud API webhook parser (see whatsapp.h).
 *
 * Strict where the inbox depends on a field (ids, the sender, a text
 * message's body, a status's kind) and lenient elsewhere: fields Meta adds
 * later are ignored, and a message type we do not know is kept as
 * "unsupported" with what Meta sent, so a new type never makes Meta retry a
 * whole batch. Every part of the metadata is re-written from the parsed
 * tree, never copied from the body, so it is valid compact JSON. */
#include "chat/whatsapp.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"

typedef struct wctx {
  arena *a;
  char *why;
  size_t whylen;
  size_t items; /* messages + statuses so far */
} wctx;

static int fail(wctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(wctx *c, const char *fmt, ...) {
  if (c->why && c->whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->whylen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A string member of o, or NULL when absent; -1 (with why) when present
 * with another type, empty, or longer than max. */
static int get_str(wctx *c, const json *o, const char *key, size_t max,
                   const char *where, const char **out) {
  *out = NULL;
  json *v = json_get(o, key);
  if (!v || v->type == JSON_NULL) return 0;
  if (v->type != JSON_STRING)
    return fail(c, "%s.%s must be a string", where, key);
  if (v->len == 0 || v->len > max)
    return fail(c, "%s.%s must have 1 to %zu bytes", where, key, max);
  *out = v->str;
  return 0;
}

static int need_str(wctx *c, const json *o, const char *key, size_t max,
                    const char *where, const char **out) {
  if (get_str(c, o, key, max, where, out)) return -1;
  if (!*out) return fail(c, "%s.%s is missing", where, key);
  return 0;
}

/* Meta's timestamps are decimal seconds in a string. */
static int64_t parse_ts(const json *o) {
  json *v = json_get(o, "timestamp");
  if (!v || v->type != JSON_STRING || v->len == 0 || v->len > 12) return 0;
  int64_t t = 0;
  for (size_t i = 0; i < v->len; i++) {
    if (v->str[i] < '0' || v->str[i] > '9') return 0;
    t = t * 10 + (v->str[i] - '0');
  }
  return t;
}

static int all_digits(const char *s) {
  if (!s || !*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

int wa_status_rank(const char *s) {
  if (!s) return -1;
  if (!strcmp(s, "queued")) return 0;
  if (!strcmp(s, "sent")) return 10;
  if (!strcmp(s, "failed")) return 15;
  if (!strcmp(s, "delivered")) return 20;
  if (!strcmp(s, "read")) return 30;
  return -1;
}

/* ---- messages ------------------------------------------------------------------ */

/* The typed part of a message, m[type], which must be an object. */
static json *typed(wctx *c, const json *m, const char *type, int *rc) {
  json *v = json_get(m, type);
  *rc = 0;
  if (!v || v->type != JSON_OBJECT) {
    *rc = fail(c, "a %s message needs a \"%s\" object", type, type);
    return NULL;
  }
  return v;
}

/* Fills type, text and metadata from the message's type-specific part. */
static int message_body(wctx *c, const json *m, const char *type,
                        wa_message *out) {
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  const char *text = "";
  const char *norm = type;
  int rc = 0;
  json *part = NULL;

  if (!strcmp(type, "text")) {
    if (!(part = typed(c, m, "text", &rc))) goto out;
    if ((rc = need_str(c, part, "body", 65536, "text", &text))) goto out;
  } else if (!strcmp(type, "interactive")) {
    if (!(part = typed(c, m, "interactive", &rc))) goto out;
    const char *itype = NULL;
    if ((rc = need_str(c, part, "type", 64, "interactive", &itype))) goto out;
    if (!strcmp(itype, "button_reply") || !strcmp(itype, "list_reply")) {
      json *r = json_get_obj(part, itype);
      const char *rid = NULL, *title = NULL;
      if (!r) {
        rc = fail(c, "interactive.%s must be an object", itype);
        goto out;
      }
      if ((rc = need_str(c, r, "id", 256, itype, &rid)) ||
          (rc = get_str(c, r, "title", 1024, itype, &title)))
        goto out;
      text = title ? title : rid;
    }
    json_obj_raw(&o, "interactive", json_to_text(c->a, part));
  } else if (!strcmp(type, "button")) {
    if (!(part = typed(c, m, "button", &rc))) goto out;
    const char *t = NULL, *payload = NULL;
    if ((rc = get_str(c, part, "text", 1024, "button", &t)) ||
        (rc = get_str(c, part, "payload", 1024, "button", &payload)))
      goto out;
    if (!t && !payload) {
      rc = fail(c, "a button message needs a text or a payload");
      goto out;
    }
    text = t ? t : payload;
    json_obj_raw(&o, "button", json_to_text(c->a, part));
  } else if (!strcmp(type, "image") || !strcmp(type, "document") ||
             !strcmp(type, "audio") || !strcmp(type, "video")) {
    if (!(part = typed(c, m, type, &rc))) goto out;
    const char *mid = NULL, *caption = NULL;
    if ((rc = need_str(c, part, "id", WA_MAX_ID, type, &mid)) ||
        (rc = get_str(c, part, "caption", 65536, type, &caption)))
      goto out;
    text = caption ? caption : "";
    json_obj_raw(&o, type, json_to_text(c->a, part));
  } else if (!strcmp(type, "location")) {
    if (!(part = typed(c, m, "location", &rc))) goto out;
    json *lat = json_get(part, "latitude"), *lon = json_get(part, "longitude");
    if (!lat || lat->type != JSON_NUMBER || !lon || lon->type != JSON_NUMBER) {
      rc = fail(c, "location needs numeric latitude and longitude");
      goto out;
    }
    const char *name = NULL, *addr = NULL;
    if ((rc = get_str(c, part, "name", 1024, "location", &name)) ||
        (rc = get_str(c, part, "address", 1024, "location", &addr)))
      goto out;
    text = name ? name : addr ? addr : "";
    json_obj_raw(&o, "location", json_to_text(c->a, part));
  } else if (!strcmp(type, "contacts")) {
    json *v = json_get(m, "contacts");
    if (!v || v->type != JSON_ARRAY) {
      rc = fail(c, "a contacts message needs a \"contacts\" array");
      goto out;
    }
    json_obj_raw(&o, "contacts", json_to_text(c->a, v));
  } else if (!strcmp(type, "reaction")) {
    if (!(part = typed(c, m, "reaction", &rc))) goto out;
    const char *mid = NULL, *emoji = NULL;
    if ((rc = need_str(c, part, "message_id", WA_MAX_ID, "reaction", &mid)) ||
        (rc = get_str(c, part, "emoji", 64, "reaction", &emoji)))
      goto out;
    text = emoji ? emoji : ""; /* no emoji: the reaction was removed */
    json_obj_raw(&o, "reaction", json_to_text(c->a, part));
  } else {
    /* sticker, system, order, unknown, unsupported and whatever Meta adds:
     * kept with what was sent, so nothing is lost and nothing retried. */
    norm = "unsupported";
    json_obj_str(&o, "original_type", type);
    json *v = json_get(m, type);
    if (v && strcmp(type, "type")) json_obj_raw(&o, type, json_to_text(c->a, v));
    json *errs = json_get(m, "errors");
    if (errs && errs->type == JSON_ARRAY)
      json_obj_raw(&o, "errors", json_to_text(c->a, errs));
  }
  json *ctx = json_get_obj(m, "context");
  if (ctx) json_obj_raw(&o, "context", json_to_text(c->a, ctx));
  json *ref = json_get_obj(m, "referral");
  if (ref) json_obj_raw(&o, "referral", json_to_text(c->a, ref));
  if (json_obj_close(&o)) {
    rc = fail(c, "message metadata too large");
    goto out;
  }
  out->type = norm;
  out->text = text;
  out->metadata = arena_strdup(c->a, buf_cstr(&b));
out:
  buf_free(&b);
  return rc;
}

typedef struct contact {
  const char *key, *wa_id, *name;
} contact;

static int parse_message(wctx *c, const json *m, const contact *cs, size_t nc,
                         wa_message *out) {
  if (m->type != JSON_OBJECT) return fail(c, "a message must be an object");
  memset(out, 0, sizeof *out);
  const char *from = NULL, *from_user = NULL, *type = NULL;
  if (need_str(c, m, "id", WA_MAX_ID, "message", &out->id) ||
      get_str(c, m, "from", WA_MAX_CONTACT, "message", &from) ||
      get_str(c, m, "from_user_id", WA_MAX_CONTACT, "message", &from_user) ||
      need_str(c, m, "type", 64, "message", &type))
    return -1;
  out->from = from ? from : from_user;
  if (!out->from) return fail(c, "a message needs a sender (from)");
  if (from && all_digits(from)) out->wa_id = from;
  out->timestamp = parse_ts(m);
  for (size_t i = 0; i < nc; i++) {
    if (!strcmp(cs[i].key, out->from) ||
        (cs[i].wa_id && !strcmp(cs[i].wa_id, out->from))) {
      out->name = cs[i].name;
      if (!out->wa_id && cs[i].wa_id && all_digits(cs[i].wa_id))
        out->wa_id = cs[i].wa_id;
      break;
    }
  }
  return message_body(c, m, type, out);
}

/* ---- statuses ------------------------------------------------------------------ */

static int parse_status(wctx *c, const json *s, wa_status *out, int *keep) {
  if (s->type != JSON_OBJECT) return fail(c, "a status must be an object");
  memset(out, 0, sizeof *out);
  *keep = 0;
  if (need_str(c, s, "id", WA_MAX_ID, "status", &out->id) ||
      need_str(c, s, "status", 32, "status", &out->status) ||
      get_str(c, s, "recipient_id", WA_MAX_ID, "status", &out->recipient_id) ||
      get_str(c, s, "biz_opaque_callback_data", 512, "status",
              &out->callback_data))
    return -1;
  out->timestamp = parse_ts(s);
  int rank = wa_status_rank(out->status);
  if (rank <= 0) return 0; /* "deleted", "warning", ...: not ours to apply */
  *keep = 1;
  if (strcmp(out->status, "failed")) return 0;
  json *errs = json_get(s, "errors");
  json *e = errs && errs->type == JSON_ARRAY && errs->n > 0 ? errs->items[0]
                                                             : NULL;
  if (errs && errs->type != JSON_ARRAY)
    return fail(c, "status.errors must be an array");
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  if (e && e->type == JSON_OBJECT) {
    json *code = json_get(e, "code");
    int64_t ci;
    if (code && code->type == JSON_NUMBER && json_int64(code, &ci) == 0)
      json_obj_int(&o, "code", ci);
    else
      json_obj_null(&o, "code");
    const char *title = NULL, *msg = NULL, *details = NULL;
    json *t = json_get(e, "title"), *mm = json_get(e, "message");
    json *ed = json_get_obj(e, "error_data");
    json *dt = ed ? json_get(ed, "details") : NULL;
    if (t && t->type == JSON_STRING) title = t->str;
    if (mm && mm->type == JSON_STRING) msg = mm->str;
    if (dt && dt->type == JSON_STRING) details = dt->str;
    json_obj_str(&o, "title", title);
    json_obj_str(&o, "message", details && *details ? details : msg);
  } else {
    json_obj_null(&o, "code");
    json_obj_str(&o, "title", "failed");
    json_obj_null(&o, "message");
  }
  json_obj_close(&o);
  out->error = arena_strdup(c->a, buf_cstr(&b));
  buf_free(&b);
  return 0;
}

/* ---- the body ------------------------------------------------------------------ */

static int parse_value(wctx *c, const json *v, wa_change *out) {
  memset(out, 0, sizeof *out);
  if (!v || v->type != JSON_OBJECT)
    return fail(c, "changes[].value must be an object");
  json *md = json_get_obj(v, "metadata");
  if (!md) return fail(c, "value.metadata is missing");
  if (need_str(c, md, "phone_number_id", WA_MAX_ID, "metadata",
               &out->phone_number_id) ||
      get_str(c, md, "display_phone_number", 64, "metadata",
              &out->display_phone_number))
    return -1;
  json *cj = json_get(v, "contacts"), *mj = json_get(v, "messages"),
       *sj = json_get(v, "statuses");
  if ((cj && cj->type != JSON_ARRAY) || (mj && mj->type != JSON_ARRAY) ||
      (sj && sj->type != JSON_ARRAY))
    return fail(c, "value.contacts, messages and statuses must be arrays");
  size_t nc = cj ? cj->n : 0, nm = mj ? mj->n : 0, ns = sj ? sj->n : 0;
  if (nc > WA_MAX_ITEMS || nm > WA_MAX_ITEMS || ns > WA_MAX_ITEMS ||
      c->items + nm + ns > WA_MAX_ITEMS)
    return fail(c, "more than %d messages and statuses", WA_MAX_ITEMS);
  c->items += nm + ns;
  contact *cs = arena_alloc(c->a, (nc ? nc : 1) * sizeof *cs);
  for (size_t i = 0; i < nc; i++) {
    const json *k = cj->items[i];
    if (k->type != JSON_OBJECT) return fail(c, "a contact must be an object");
    const char *wa = NULL, *uid = NULL, *name = NULL;
    if (get_str(c, k, "wa_id", WA_MAX_CONTACT, "contact", &wa) ||
        get_str(c, k, "user_id", WA_MAX_CONTACT, "contact", &uid))
      return -1;
    json *p = json_get_obj(k, "profile");
    if (p && get_str(c, p, "name", 256, "contact.profile", &name)) return -1;
    cs[i].key = wa ? wa : uid ? uid : "";
    cs[i].wa_id = wa;
    cs[i].name = name;
  }
  out->messages = arena_alloc(c->a, (nm ? nm : 1) * sizeof *out->messages);
  for (size_t i = 0; i < nm; i++)
    if (parse_message(c, mj->items[i], cs, nc, &out->messages[i])) return -1;
  out->n_messages = nm;
  out->statuses = arena_alloc(c->a, (ns ? ns : 1) * sizeof *out->statuses);
  for (size_t i = 0; i < ns; i++) {
    int keep = 0;
    if (parse_status(c, sj->items[i], &out->statuses[out->n_statuses], &keep))
      return -1;
    if (keep) out->n_statuses++;
  }
  return 0;
}

int wa_parse(arena *a, const char *body, size_t len, wa_payload *out,
             char *why, size_t whylen) {
  wctx c = {.a = a, .why = why, .whylen = whylen};
  memset(out, 0, sizeof *out);
  if (why && whylen) why[0] = 0;
  json *root = NULL;
  json_error je;
  if (json_parse(a, body, len, &root, &je))
    return fail(&c, "the body is not JSON: %s at byte %zu", je.message,
                je.offset);
  if (root->type != JSON_OBJECT) return fail(&c, "the body must be an object");
  json *obj = json_get(root, "object");
  if (!obj || obj->type != JSON_STRING ||
      strcmp(obj->str, "whatsapp_business_account"))
    return fail(&c, "object must be \"whatsapp_business_account\"");
  json *entry = json_get(root, "entry");
  if (!entry || entry->type != JSON_ARRAY)
    return fail(&c, "entry must be an array");
  size_t total = 0;
  for (size_t i = 0; i < entry->n; i++) {
    json *e = entry->items[i];
    json *ch = e->type == JSON_OBJECT ? json_get(e, "changes") : NULL;
    if (!ch || ch->type != JSON_ARRAY)
      return fail(&c, "entry[].changes must be an array");
    total += ch->n;
    if (total > WA_MAX_ITEMS) return fail(&c, "too many changes");
  }
  out->changes = arena_alloc(a, (total ? total : 1) * sizeof *out->changes);
  for (size_t i = 0; i < entry->n; i++) {
    json *ch = json_get(entry->items[i], "changes");
    for (size_t j = 0; j < ch->n; j++) {
      json *x = ch->items[j];
      if (x->type != JSON_OBJECT) return fail(&c, "a change must be an object");
      json *field = json_get(x, "field");
      if (!field || field->type != JSON_STRING)
        return fail(&c, "changes[].field must be a string");
      if (strcmp(field->str, "messages")) continue; /* not the inbox's */
      if (parse_value(&c, json_get(x, "value"), &out->changes[out->n_changes]))
        return -1;
      out->n_changes++;
    }
  }
  return 0;
}
