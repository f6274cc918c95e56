/* telegram.c - the Telegram Update parser (see telegram.h).
 *
 * Integers (update, chat, message and user ids) must be JSON integers;
 * they are re-printed from int64 so that "007" and "7" cannot name two
 * sessions. Media are recorded by Telegram's file ids (the largest photo
 * size), never fetched here. */
#include "chat/telegram.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"

typedef struct tctx {
  arena *a;
  char *why;
  size_t whylen;
} tctx;

static int fail(tctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(tctx *c, const char *fmt, ...) {
  if (c->why && c->whylen) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->why, c->whylen, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A string member, NULL when absent or not a string. */
static const char *opt_str(const json *o, const char *key, size_t max) {
  json *v = json_get(o, key);
  if (!v || v->type != JSON_STRING || v->len == 0 || v->len > max) return NULL;
  return v->str;
}

/* An integer member as decimal text in the arena; -1 when missing or not
 * an integer. */
static int need_int(tctx *c, const json *o, const char *key, const char *where,
                    int64_t *iv, const char **text) {
  json *v = json_get(o, key);
  int64_t i;
  if (!v || v->type != JSON_NUMBER || json_int64(v, &i))
    return fail(c, "%s.%s must be an integer", where, key);
  if (iv) *iv = i;
  if (text) *text = arena_printf(c->a, "%" PRId64, i);
  return 0;
}

/* "first last" of a user object, or NULL. */
static const char *person(arena *a, const json *u) {
  if (!u) return NULL;
  const char *f = opt_str(u, "first_name", 256), *l = opt_str(u, "last_name", 256);
  if (f && l) return arena_printf(a, "%s %s", f, l);
  return f ? f : l;
}

static void sender(tctx *c, const json *from, tg_update *out) {
  if (!from) return;
  int64_t id;
  json *v = json_get(from, "id");
  if (v && v->type == JSON_NUMBER && json_int64(v, &id) == 0)
    out->from_id = arena_printf(c->a, "%" PRId64, id);
  out->name = person(c->a, from);
  out->username = opt_str(from, "username", 64);
}

/* message and edited_message. */
static int parse_message(tctx *c, const json *m, tg_update *out) {
  int64_t date = 0;
  json *chat = json_get_obj(m, "chat");
  if (!chat) return fail(c, "message.chat must be an object");
  if (need_int(c, m, "message_id", "message", NULL, &out->message_id) ||
      need_int(c, chat, "id", "message.chat", NULL, &out->chat_id))
    return -1;
  json *d = json_get(m, "date");
  if (d && d->type == JSON_NUMBER && json_int64(d, &date) == 0) out->date = date;
  sender(c, json_get_obj(m, "from"), out);
  if (!out->name) {
    out->name = opt_str(chat, "title", 256);
    if (!out->name) out->name = person(c->a, chat);
  }

  json *tv = json_get(m, "text"), *cv = json_get(m, "caption");
  if ((tv && tv->type != JSON_STRING) || (cv && cv->type != JSON_STRING))
    return fail(c, "message.text and caption must be strings");
  out->text = tv ? tv->str : cv ? cv->str : "";

  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json *v;
  out->type = "unsupported";
  if (tv) {
    out->type = "text";
  } else if ((v = json_get(m, "photo")) && v->type == JSON_ARRAY && v->n > 0) {
    /* Sizes come smallest first: the last is the original. */
    out->type = "image";
    json_obj_raw(&o, "photo", json_to_text(c->a, v->items[v->n - 1]));
  } else if ((v = json_get_obj(m, "document"))) {
    out->type = "document";
    json_obj_raw(&o, "document", json_to_text(c->a, v));
  } else if ((v = json_get_obj(m, "voice")) || (v = json_get_obj(m, "audio"))) {
    out->type = "audio";
    json_obj_raw(&o, json_get_obj(m, "voice") ? "voice" : "audio", json_to_text(c->a, v));
  } else if ((v = json_get_obj(m, "video")) || (v = json_get_obj(m, "video_note"))) {
    out->type = "video";
    json_obj_raw(&o, "video", json_to_text(c->a, v));
  } else if ((v = json_get_obj(m, "location"))) {
    json *lat = json_get(v, "latitude"), *lon = json_get(v, "longitude");
    if (lat && lat->type == JSON_NUMBER && lon && lon->type == JSON_NUMBER) {
      out->type = "location";
      json_obj_raw(&o, "location", json_to_text(c->a, v));
    }
  } else if ((v = json_get_obj(m, "contact"))) {
    out->type = "contacts";
    json_obj_raw(&o, "contact", json_to_text(c->a, v));
  }
  if (!strcmp(out->type, "unsupported")) {
    /* Name what it was (sticker, poll, ...) without keeping it whole. */
    for (size_t i = 0; i < m->n; i++) {
      const char *k = m->keys[i];
      if (strcmp(k, "message_id") && strcmp(k, "from") && strcmp(k, "chat") &&
          strcmp(k, "date") && strcmp(k, "edit_date") &&
          strcmp(k, "message_thread_id") && strcmp(k, "caption") &&
          m->items[i]->type == JSON_OBJECT) {
        json_obj_str(&o, "original_type", k);
        break;
      }
    }
  }
  json *reply = json_get_obj(m, "reply_to_message");
  int64_t rid;
  if (reply && (v = json_get(reply, "message_id")) && v->type == JSON_NUMBER &&
      json_int64(v, &rid) == 0)
    json_obj_int(&o, "reply_to_message_id", rid);
  if (out->username) json_obj_str(&o, "username", out->username);
  if (out->kind == TG_EDITED) {
    json_obj_bool(&o, "edited", 1);
    d = json_get(m, "edit_date");
    if (d && d->type == JSON_NUMBER && json_int64(d, &date) == 0)
      json_obj_int(&o, "edit_date", date);
  }
  json_obj_close(&o);
  out->metadata = arena_strdup(c->a, buf_cstr(&b));
  buf_free(&b);
  return 0;
}

static int parse_callback(tctx *c, const json *q, tg_update *out) {
  out->callback_id = opt_str(q, "id", 256);
  if (!out->callback_id) return fail(c, "callback_query.id must be a string");
  json *from = json_get_obj(q, "from");
  if (!from) return fail(c, "callback_query.from must be an object");
  const char *from_id = NULL;
  if (need_int(c, from, "id", "callback_query.from", NULL, &from_id)) return -1;
  sender(c, from, out);
  json *dv = json_get(q, "data");
  if (dv && dv->type != JSON_STRING)
    return fail(c, "callback_query.data must be a string");
  out->text = dv ? dv->str : "";
  out->type = "button";
  json *m = json_get_obj(q, "message");
  json *chat = m ? json_get_obj(m, "chat") : NULL;
  if (chat) {
    if (need_int(c, chat, "id", "callback_query.message.chat", NULL,
                 &out->chat_id) ||
        need_int(c, m, "message_id", "callback_query.message", NULL,
                 &out->message_id))
      return -1;
  } else {
    /* An old or inline message: in a private chat the chat is the user. */
    out->chat_id = from_id;
  }
  buf b;
  buf_init(&b, 0);
  json_obj o;
  json_obj_open(&o, &b);
  json_obj_str(&o, "callback_query_id", out->callback_id);
  json_obj_str(&o, "data", out->text);
  if (out->message_id) json_obj_str(&o, "message_id", out->message_id);
  if (out->username) json_obj_str(&o, "username", out->username);
  json_obj_close(&o);
  out->metadata = arena_strdup(c->a, buf_cstr(&b));
  buf_free(&b);
  return 0;
}

int tg_parse(arena *a, const char *body, size_t len, tg_update *out,
             char *why, size_t whylen) {
  tctx c = {.a = a, .why = why, .whylen = whylen};
  memset(out, 0, sizeof *out);
  if (why && whylen) why[0] = 0;
  json *root = NULL;
  json_error je;
  if (json_parse(a, body, len, &root, &je))
    return fail(&c, "the body is not JSON: %s at byte %zu", je.message,
                je.offset);
  if (root->type != JSON_OBJECT) return fail(&c, "the body must be an object");
  if (need_int(&c, root, "update_id", "update", &out->update_id, NULL))
    return -1;
  if (out->update_id < 0) return fail(&c, "update.update_id must not be negative");
  json *v;
  if ((v = json_get(root, "message"))) {
    if (v->type != JSON_OBJECT) return fail(&c, "message must be an object");
    out->kind = TG_MESSAGE;
    return parse_message(&c, v, out);
  }
  if ((v = json_get(root, "edited_message"))) {
    if (v->type != JSON_OBJECT)
      return fail(&c, "edited_message must be an object");
    out->kind = TG_EDITED;
    return parse_message(&c, v, out);
  }
  if ((v = json_get(root, "callback_query"))) {
    if (v->type != JSON_OBJECT)
      return fail(&c, "callback_query must be an object");
    out->kind = TG_CALLBACK;
    return parse_callback(&c, v, out);
  }
  out->kind = TG_OTHER;
  return 0;
}
