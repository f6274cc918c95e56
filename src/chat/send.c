/* send.c - building provider requests for outbound messages and reading the
 * answers (see send.h). No database, no network: the outbox calls these,
 * and tests/unit/test_chat_send.c checks every shape and error class. */
#include "chat/send.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/crypto.h"
#include "base/json.h"

static int why_set(char *why, size_t n, const char *msg) {
  if (why && n) snprintf(why, n, "%s", msg);
  return -1;
}

/* Code points of well-formed UTF-8 text (json.c has checked it). */
static size_t utf8_chars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++)
    if (((unsigned char)s[i] & 0xC0) != 0x80) c++;
  return c;
}

static const char *str_member(const json *o, const char *key) {
  const json *v = json_get(o, key);
  return v && v->type == JSON_STRING ? v->str : NULL;
}

/* A template parameter: a string, or a number kept as its literal text. */
static const char *param_text(const json *v) {
  if (v && (v->type == JSON_STRING || v->type == JSON_NUMBER)) return v->str;
  return NULL;
}

static int read_template(const json *t, chat_message *m, char *why,
                         size_t whylen) {
  if (!t || t->type != JSON_OBJECT)
    return why_set(why, whylen, "metadata.template must be an object");
  const char *name = str_member(t, "name");
  if (!name || !*name || strlen(name) > 512)
    return why_set(why, whylen, "metadata.template.name is missing");
  const char *lang = str_member(t, "language");
  const json *ps = json_get(t, "params");
  m->tpl_name = name;
  m->tpl_language = lang ? lang : "";
  m->n_params = 0;
  if (ps && ps->type != JSON_NULL) {
    if (ps->type != JSON_ARRAY || ps->n > CHAT_TEMPLATE_MAX_PARAMS)
      return why_set(why, whylen,
                     "metadata.template.params must be an array of at most "
                     "20 strings");
    for (size_t i = 0; i < ps->n; i++) {
      const char *p = param_text(ps->items[i]);
      if (!p || !*p)
        return why_set(why, whylen,
                       "metadata.template.params holds an empty or "
                       "non-text value");
      m->tpl_params[m->n_params++] = p;
    }
  }
  m->has_template = 1;
  return 0;
}

static int read_buttons(const json *bs, chat_message *m, char *why,
                        size_t whylen) {
  if (!bs || bs->type != JSON_ARRAY || bs->n < 1 || bs->n > CHAT_MAX_BUTTONS)
    return why_set(why, whylen,
                   "metadata.buttons must be an array of 1 to 3 buttons");
  for (size_t i = 0; i < bs->n; i++) {
    const json *b = bs->items[i];
    const char *id = b && b->type == JSON_OBJECT ? str_member(b, "id") : NULL;
    const char *title = b && b->type == JSON_OBJECT ? str_member(b, "title") : NULL;
    if (!id || !*id || strlen(id) > CHAT_BUTTON_ID_MAX)
      return why_set(why, whylen,
                     "each button needs an id of 1 to 64 bytes");
    if (!title || !*title ||
        utf8_chars(title, strlen(title)) > CHAT_BUTTON_TITLE_MAX)
      return why_set(why, whylen,
                     "each button needs a title of 1 to 20 characters");
    for (size_t k = 0; k < i; k++)
      if (!strcmp(m->buttons[k].id, id))
        return why_set(why, whylen, "a button id is repeated");
    m->buttons[i].id = id;
    m->buttons[i].title = title;
  }
  m->n_buttons = (int)bs->n;
  return 0;
}

/* A file name as it may stand in a message and a Content-Disposition. */
static int filename_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > 128) return 0;
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f || *s == '/' || *s == '\\' ||
        *s == '"')
      return 0;
  return 1;
}

static int read_source_document(const json *d, const char *source,
                                chat_message *m, char *why, size_t whylen) {
  size_t sl = strlen(source);
  if (sl == 0 || sl > 32 || strspn(source, "abcdefghijklmnopqrstuvwxyz0123456789_") != sl)
    return why_set(why, whylen,
                   "metadata.document.source must be 1 to 32 of a-z, 0-9 "
                   "and _");
  const char *ref = str_member(d, "ref");
  size_t rl = ref ? strlen(ref) : 0;
  int printable = rl > 0 && rl <= 128;
  for (size_t i = 0; printable && i < rl; i++)
    printable = (unsigned char)ref[i] > 0x20 && ref[i] != 0x7f;
  if (!printable)
    return why_set(why, whylen,
                   "metadata.document.ref must be 1 to 128 printable bytes");
  const char *fn = str_member(d, "filename");
  if (fn && !filename_ok(fn))
    return why_set(why, whylen,
                   "metadata.document.filename must be 1 to 128 bytes without "
                   "/, \\, \" or control characters");
  m->doc_source = source;
  m->doc_ref = ref;
  m->doc_filename = fn;
  return 0;
}

int chat_message_from_row(arena *a, const char *message_type,
                          const char *content, const char *metadata,
                          chat_message *m, char *why, size_t whylen) {
  memset(m, 0, sizeof *m);
  m->text = content ? content : "";
  m->tpl_language = "";
  const char *type = message_type && *message_type ? message_type : "text";
  json *md = NULL;
  json_error je;
  const char *mt = metadata && *metadata ? metadata : "{}";
  if (json_parse(a, mt, strlen(mt), &md, &je) || md->type != JSON_OBJECT)
    return why_set(why, whylen, "the message's metadata is not a JSON object");
  if (utf8_chars(m->text, strlen(m->text)) > CHAT_TEXT_MAX)
    return why_set(why, whylen, "the text is longer than 4096 characters");
  const json *tpl = json_get(md, "template");
  if (tpl && tpl->type != JSON_NULL && read_template(tpl, m, why, whylen))
    return -1;
  if (!strcmp(type, "text")) {
    m->kind = CHAT_MSG_TEXT;
    if (!*m->text) return why_set(why, whylen, "the text is empty");
  } else if (!strcmp(type, "interactive")) {
    m->kind = CHAT_MSG_BUTTONS;
    if (read_buttons(json_get(md, "buttons"), m, why, whylen)) return -1;
    if (!*m->text)
      return why_set(why, whylen, "a message with buttons needs a text");
  } else if (!strcmp(type, "template")) {
    m->kind = CHAT_MSG_TEMPLATE;
    if (!m->has_template)
      return why_set(why, whylen,
                     "a template message needs metadata.template");
  } else if (!strcmp(type, "document")) {
    m->kind = CHAT_MSG_DOCUMENT;
    const json *d = json_get(md, "document");
    if (!d || d->type != JSON_OBJECT)
      return why_set(why, whylen, "a document needs metadata.document");
    const char *link = str_member(d, "link");
    const char *source = str_member(d, "source");
    const char *fn = str_member(d, "filename");
    if (source) {
      if (read_source_document(d, source, m, why, whylen)) return -1;
    } else {
      if (!link ||
          (strncmp(link, "https://", 8) && strncmp(link, "http://", 7)))
        return why_set(why, whylen,
                       "a document needs metadata.document.link, an http(s) "
                       "URL, or metadata.document.source and ref");
      m->doc_link = link;
      m->doc_filename = fn && *fn ? fn : NULL;
    }
  } else {
    {
    if (why && whylen) snprintf(why, whylen, "message_type \"%.32s\" cannot be sent", type);
    return -1;
  }
  }
  /* Buttons given on a text message: send them too. */
  if (m->kind == CHAT_MSG_TEXT) {
    const json *bs = json_get(md, "buttons");
    if (bs && bs->type != JSON_NULL) {
      if (read_buttons(bs, m, why, whylen)) return -1;
      m->kind = CHAT_MSG_BUTTONS;
    }
  }
  return 0;
}

/* The language and the number of body parameters the channel's list gives
 * a template (-1 params: not listed). */
static void template_listed(arena *a, const char *templates, const char *name,
                            const char **lang, int *params) {
  *lang = NULL;
  *params = -1;
  json *t = NULL;
  json_error je;
  if (!templates || !*templates ||
      json_parse(a, templates, strlen(templates), &t, &je) ||
      t->type != JSON_ARRAY)
    return;
  for (size_t i = 0; i < t->n; i++) {
    const json *e = t->items[i];
    const char *n = e->type == JSON_OBJECT ? str_member(e, "name") : NULL;
    if (!n || strcmp(n, name)) continue;
    *lang = str_member(e, "language");
    int64_t p;
    const json *pv = json_get(e, "params");
    if (pv && pv->type == JSON_NUMBER && !json_int64(pv, &p) && p >= 0 &&
        p <= CHAT_TEMPLATE_MAX_PARAMS)
      *params = (int)p;
    return;
  }
}

void chat_message_as_template(arena *a, chat_message *m, const char *name,
                              const char *language, const char *templates) {
  int own = m->has_template && !strcmp(m->tpl_name, name);
  const char *listed_lang;
  int listed_params;
  template_listed(a, templates, name, &listed_lang, &listed_params);
  m->kind = CHAT_MSG_TEMPLATE;
  m->tpl_name = name;
  if (language && *language)
    m->tpl_language = language;
  else if (listed_lang && *listed_lang)
    m->tpl_language = listed_lang;
  else
    m->tpl_language = "en";
  if (!own) {
    m->n_params = 0;
    if (listed_params != 0 && *m->text) m->tpl_params[m->n_params++] = m->text;
  }
  m->has_template = 1;
}

/* ---- multipart ----------------------------------------------------------------- */

static int boundary_ok(const char *s) {
  size_t n = strlen(s);
  static const char allowed[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'()+_,-./:=?";
  return n > 0 && n <= 70 && strspn(s, allowed) == n;
}

/* Whether needle occurs in hay[0..n). */
static int contains(const void *hay, size_t n, const char *needle) {
  size_t k = strlen(needle);
  const unsigned char *h = hay;
  for (size_t i = 0; k && i + k <= n; i++)
    if (h[i] == (unsigned char)needle[0] && !memcmp(h + i, needle, k)) return 1;
  return 0;
}

static int quoted(buf *b, const char *s) {
  int rc = buf_putc(b, '"');
  for (; *s && !rc; s++)
    rc = buf_putc(b, *s == '"' || *s == '\\' || *s == '\r' || *s == '\n' ? '_' : *s);
  return rc || buf_putc(b, '"');
}

int chat_multipart_build(buf *b, const char *boundary, const chat_part *parts,
                         int n) {
  if (!boundary || !boundary_ok(boundary)) return -1;
  for (int i = 0; i < n; i++)
    if (contains(parts[i].data, parts[i].len, boundary)) return -1;
  int rc = 0;
  for (int i = 0; i < n && !rc; i++) {
    const chat_part *p = &parts[i];
    rc = buf_printf(b, "--%s\r\nContent-Disposition: form-data; name=", boundary) ||
         quoted(b, p->name);
    if (!rc && p->filename)
      rc = buf_puts(b, "; filename=") || quoted(b, p->filename) ||
           buf_printf(b, "\r\nContent-Type: %s",
                      p->content_type ? p->content_type : "application/octet-stream");
    if (!rc) rc = buf_puts(b, "\r\n\r\n");
    if (!rc && p->len) rc = buf_append(b, p->data, p->len);
    if (!rc) rc = buf_puts(b, "\r\n");
  }
  if (!rc) rc = buf_printf(b, "--%s--\r\n", boundary);
  return rc ? -1 : 0;
}

/* A multipart body of parts with a fresh random boundary (drawn again in
 * the unlikely case it occurs in the data). */
static int multipart(arena *a, buf *b, const chat_part *parts, int n,
                     const char **content_type) {
  for (int tries = 0; tries < 4; tries++) {
    unsigned char raw[16];
    char hex[33], boundary[48];
    random_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, hex);
    snprintf(boundary, sizeof boundary, "munshi-%s", hex);
    buf_reset(b);
    if (!chat_multipart_build(b, boundary, parts, n)) {
      *content_type = arena_printf(a, "multipart/form-data; boundary=%s", boundary);
      return 0;
    }
    if (b->len >= b->max) return -1; /* too large, not a collision */
  }
  return -1;
}

static int telegram_document(arena *a, const chat_send_target *t,
                             const chat_message *m, buf *b,
                             const char **content_type) {
  chat_part parts[3];
  int n = 0;
  parts[n++] = (chat_part){"chat_id", NULL, NULL, t->to, strlen(t->to)};
  if (*m->text)
    parts[n++] = (chat_part){"caption", NULL, NULL, m->text, strlen(m->text)};
  parts[n++] = (chat_part){"document",
                           m->doc_filename ? m->doc_filename : "document.pdf",
                           "application/pdf", m->doc_data, m->doc_len};
  return multipart(a, b, parts, n, content_type);
}

int chat_media_build(arena *a, const chat_send_target *t, const char *filename,
                     const char *mime, const void *data, size_t len,
                     chat_http *out, char *why, size_t whylen) {
  memset(out, 0, sizeof *out);
  if (t->platform != CHAT_WHATSAPP)
    return why_set(why, whylen, "only WhatsApp takes media uploads");
  if (!t->base_url || !*t->base_url)
    return why_set(why, whylen, "no provider URL is configured");
  if (!t->phone_number_id || !*t->phone_number_id || !t->access_token ||
      !*t->access_token)
    return why_set(why, whylen,
                   "the WhatsApp channel has no phone_number_id or access_token");
  if (!data || len == 0) return why_set(why, whylen, "the document is empty");
  if (len > CHAT_DOC_MAX)
    return why_set(why, whylen, "the document is larger than 16 MB");
  const char *type = mime && *mime ? mime : "application/pdf";
  chat_part parts[] = {
      {"messaging_product", NULL, NULL, "whatsapp", 8},
      {"type", NULL, NULL, type, strlen(type)},
      {"file", filename && *filename ? filename : "document.pdf", type, data, len}};
  buf b;
  buf_init(&b, len + 4096);
  int rc = -1;
  if (multipart(a, &b, parts, 3, &out->content_type)) {
    why_set(why, whylen, "the upload could not be built");
    goto out;
  }
  out->method = "POST";
  out->url = arena_printf(a, "%s/%s/media", t->base_url, t->phone_number_id);
  out->authorization = arena_printf(a, "Bearer %s", t->access_token);
  out->body = arena_strndup(a, buf_cstr(&b), b.len);
  out->body_len = b.len;
  rc = 0;
out:
  buf_free(&b);
  return rc;
}

/* ---- requests ------------------------------------------------------------------ */

static int digits_only(const char *s) {
  if (*s == '-') s++;
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static void build_whatsapp(const chat_send_target *t, const chat_message *m,
                           buf *b) {
  json_obj o, x, y, z, arr, el, inner;
  json_obj_open(&o, b);
  json_obj_str(&o, "messaging_product", "whatsapp");
  json_obj_str(&o, "recipient_type", "individual");
  json_obj_str(&o, "to", t->to);
  if (m->ref) json_obj_str(&o, "biz_opaque_callback_data", m->ref);
  switch (m->kind) {
    case CHAT_MSG_TEXT:
      json_obj_str(&o, "type", "text");
      json_obj_nest(&o, "text", &x);
      json_obj_str(&x, "body", m->text);
      json_obj_bool(&x, "preview_url", 0);
      json_obj_close(&x);
      break;
    case CHAT_MSG_BUTTONS:
      json_obj_str(&o, "type", "interactive");
      json_obj_nest(&o, "interactive", &x);
      json_obj_str(&x, "type", "button");
      json_obj_nest(&x, "body", &y);
      json_obj_str(&y, "text", m->text);
      json_obj_close(&y);
      json_obj_nest(&x, "action", &y);
      json_obj_arr(&y, "buttons", &arr);
      for (int i = 0; i < m->n_buttons; i++) {
        json_obj_nest(&arr, NULL, &el);
        json_obj_str(&el, "type", "reply");
        json_obj_nest(&el, "reply", &z);
        json_obj_str(&z, "id", m->buttons[i].id);
        json_obj_str(&z, "title", m->buttons[i].title);
        json_obj_close(&z);
        json_obj_close(&el);
      }
      json_obj_close(&arr);
      json_obj_close(&y);
      json_obj_close(&x);
      break;
    case CHAT_MSG_TEMPLATE:
      json_obj_str(&o, "type", "template");
      json_obj_nest(&o, "template", &x);
      json_obj_str(&x, "name", m->tpl_name);
      json_obj_nest(&x, "language", &y);
      json_obj_str(&y, "code", *m->tpl_language ? m->tpl_language : "en");
      json_obj_close(&y);
      if (m->n_params > 0) {
        json_obj_arr(&x, "components", &arr);
        json_obj_nest(&arr, NULL, &el);
        json_obj_str(&el, "type", "body");
        json_obj_arr(&el, "parameters", &inner);
        for (int i = 0; i < m->n_params; i++) {
          json_obj_nest(&inner, NULL, &z);
          json_obj_str(&z, "type", "text");
          json_obj_str(&z, "text", m->tpl_params[i]);
          json_obj_close(&z);
        }
        json_obj_close(&inner);
        json_obj_close(&el);
        json_obj_close(&arr);
      }
      json_obj_close(&x);
      break;
    case CHAT_MSG_DOCUMENT:
      json_obj_str(&o, "type", "document");
      json_obj_nest(&o, "document", &x);
      if (m->doc_media_id)
        json_obj_str(&x, "id", m->doc_media_id);
      else
        json_obj_str(&x, "link", m->doc_link);
      if (m->doc_filename) json_obj_str(&x, "filename", m->doc_filename);
      if (*m->text) json_obj_str(&x, "caption", m->text);
      json_obj_close(&x);
      break;
  }
  json_obj_close(&o);
}

static void build_telegram(const chat_send_target *t, const chat_message *m,
                           buf *b) {
  json_obj o, x, rows, row, btn;
  json_obj_open(&o, b);
  if (digits_only(t->to))
    json_obj_raw(&o, "chat_id", t->to);
  else
    json_obj_str(&o, "chat_id", t->to);
  if (m->kind == CHAT_MSG_DOCUMENT) {
    json_obj_str(&o, "document", m->doc_link);
    if (*m->text) json_obj_str(&o, "caption", m->text);
  } else {
    json_obj_str(&o, "text", m->text);
  }
  if (m->kind == CHAT_MSG_BUTTONS) {
    /* One button per row: titles stay readable on a phone. */
    json_obj_nest(&o, "reply_markup", &x);
    json_obj_arr(&x, "inline_keyboard", &rows);
    for (int i = 0; i < m->n_buttons; i++) {
      json_obj_arr(&rows, NULL, &row);
      json_obj_nest(&row, NULL, &btn);
      json_obj_str(&btn, "text", m->buttons[i].title);
      json_obj_str(&btn, "callback_data", m->buttons[i].id);
      json_obj_close(&btn);
      json_obj_close(&row);
    }
    json_obj_close(&rows);
    json_obj_close(&x);
  }
  json_obj_close(&o);
}

int chat_send_build(arena *a, const chat_send_target *t, const chat_message *m,
                    chat_http *out, char *why, size_t whylen) {
  memset(out, 0, sizeof *out);
  if (!t->to || !*t->to || strlen(t->to) > 64)
    return why_set(why, whylen, "the session has no contact to send to");
  if (!t->base_url || !*t->base_url)
    return why_set(why, whylen, "no provider URL is configured");
  buf b;
  buf_init(&b, (size_t)256 * 1024 + (m->doc_data ? m->doc_len : 0));
  int rc = -1;
  if (t->platform == CHAT_WHATSAPP) {
    if (!t->phone_number_id || !*t->phone_number_id || !t->access_token ||
        !*t->access_token) {
      why_set(why, whylen,
              "the WhatsApp channel has no phone_number_id or access_token");
      goto out;
    }
    if (m->kind == CHAT_MSG_TEMPLATE && (!m->tpl_name || !*m->tpl_name)) {
      why_set(why, whylen, "a template message needs a template name");
      goto out;
    }
    if (m->kind == CHAT_MSG_DOCUMENT && m->doc_source && !m->doc_media_id) {
      why_set(why, whylen, "the document was not uploaded");
      goto out;
    }
    build_whatsapp(t, m, &b);
    out->url = arena_printf(a, "%s/%s/messages", t->base_url, t->phone_number_id);
    out->authorization = arena_printf(a, "Bearer %s", t->access_token);
  } else {
    if (!t->bot_token || !*t->bot_token) {
      why_set(why, whylen, "the Telegram channel has no bot_token");
      goto out;
    }
    if (m->kind == CHAT_MSG_TEMPLATE && !*m->text) {
      why_set(why, whylen,
              "Telegram has no templates and the message has no text");
      goto out;
    }
    if (m->kind == CHAT_MSG_DOCUMENT && m->doc_source) {
      if (!m->doc_data) {
        why_set(why, whylen, "the document was not rendered");
        goto out;
      }
      if (telegram_document(a, t, m, &b, &out->content_type)) {
        why_set(why, whylen, "the document is too large to send");
        goto out;
      }
    } else {
      build_telegram(t, m, &b);
    }
    out->url = arena_printf(a, "%s/bot%s/%s", t->base_url, t->bot_token,
                            m->kind == CHAT_MSG_DOCUMENT ? "sendDocument"
                                                         : "sendMessage");
  }
  if (b.len == 0 || b.len >= b.max) {
    why_set(why, whylen, "the request would be too large");
    goto out;
  }
  out->method = "POST";
  out->body = arena_strndup(a, buf_cstr(&b), b.len);
  out->body_len = b.len;
  rc = 0;
out:
  buf_free(&b);
  return rc;
}

/* ---- answers ------------------------------------------------------------------- */

static void result_set(chat_send_result *r, chat_send_outcome o,
                       const char *code, const char *title,
                       const char *message) {
  r->outcome = o;
  snprintf(r->code, sizeof r->code, "%s", code ? code : "");
  snprintf(r->title, sizeof r->title, "%s", title ? title : "");
  snprintf(r->message, sizeof r->message, "%s", message ? message : "");
}

void chat_send_fail(chat_send_result *r, const char *code, const char *title,
                    const char *message) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  result_set(r, CHAT_SEND_FAILED, code, title, message);
}

static int whatsapp_code_retryable(int64_t code) {
  switch (code) {
    case 1:      /* API unknown: a temporary failure */
    case 2:      /* API service: temporary downtime */
    case 4:      /* too many calls for the app */
    case 80007:  /* the business account's rate limit */
    case 130429: /* throughput (messages per second) reached */
    case 131000: /* something went wrong */
    case 131016: /* service unavailable */
    case 131056: /* too many messages to this one user: back off */
    case 133004: /* server temporarily unavailable */
      return 1;
    default:
      return 0;
  }
}

/* media: the answer of a media upload ({"id"}), else of a message send
 * ({"messages":[{"id"}]}). */
static void parse_whatsapp(arena *a, long status, const char *body,
                           size_t len, int media, chat_send_result *r) {
  json *v = NULL;
  json_error je;
  int parsed = len && !json_parse(a, body, len, &v, &je) && v->type == JSON_OBJECT;
  char code[32];
  if (parsed && status >= 200 && status < 300) {
    const json *ms = json_get(v, "messages");
    const json *m0 = ms && ms->type == JSON_ARRAY && ms->n ? ms->items[0] : NULL;
    const char *id = media ? str_member(v, "id")
                     : m0 && m0->type == JSON_OBJECT ? str_member(m0, "id")
                                                     : NULL;
    if (id && *id && strlen(id) < sizeof r->provider_id) {
      r->outcome = CHAT_SEND_SENT;
      snprintf(r->provider_id, sizeof r->provider_id, "%s", id);
      return;
    }
  }
  const json *e = parsed ? json_get(v, "error") : NULL;
  if (e && e->type == JSON_OBJECT) {
    const json *cv = json_get(e, "code");
    int64_t c = -1;
    if (cv && cv->type == JSON_NUMBER) json_int64(cv, &c);
    else if (cv && cv->type == JSON_STRING) {
      /* Some relays send the code as a string; read it the same way. */
      json num = {.type = JSON_NUMBER, .str = cv->str, .len = cv->len};
      json_int64(&num, &c);
    }
    const char *msg = str_member(e, "message");
    const json *ed = json_get(e, "error_data");
    const char *details =
        ed && ed->type == JSON_OBJECT ? str_member(ed, "details") : NULL;
    snprintf(code, sizeof code, "%lld", (long long)c);
    int retry = whatsapp_code_retryable(c) || status >= 500 || status == 429;
    result_set(r, retry ? CHAT_SEND_RETRY : CHAT_SEND_FAILED,
               c >= 0 ? code : "whatsapp_error", msg ? msg : "WhatsApp error",
               details && *details ? details : (msg ? msg : ""));
    return;
  }
  snprintf(code, sizeof code, "http_%ld", status);
  if (status >= 500 || status == 429 || status == 408) {
    result_set(r, CHAT_SEND_RETRY, code, "The provider is unavailable",
               "WhatsApp answered without a result; will try again");
    return;
  }
  /* A 2xx without a message id, or an error without Meta's error object:
   * whether it went out is not known, so it is not sent again. */
  result_set(r, CHAT_SEND_FAILED, status >= 200 && status < 300 ? "bad_response" : code,
             "Unexpected answer from WhatsApp",
             "the answer carried neither a message id nor an error; the "
             "message was not sent again");
}

static void parse_telegram(arena *a, const char *to, long status,
                           const char *body, size_t len, chat_send_result *r) {
  json *v = NULL;
  json_error je;
  int parsed = len && !json_parse(a, body, len, &v, &je) && v->type == JSON_OBJECT;
  char code[32];
  const json *ok = parsed ? json_get(v, "ok") : NULL;
  if (ok && ok->type == JSON_TRUE) {
    const json *res = json_get(v, "result");
    const json *mid = res && res->type == JSON_OBJECT ? json_get(res, "message_id") : NULL;
    const json *chat = res && res->type == JSON_OBJECT ? json_get(res, "chat") : NULL;
    const json *cid = chat && chat->type == JSON_OBJECT ? json_get(chat, "id") : NULL;
    int64_t n;
    if (mid && mid->type == JSON_NUMBER && !json_int64(mid, &n)) {
      const char *chat_id = cid && cid->type == JSON_NUMBER ? cid->str : to;
      r->outcome = CHAT_SEND_SENT;
      snprintf(r->provider_id, sizeof r->provider_id, "%.64s:%lld", chat_id,
               (long long)n);
      return;
    }
  } else if (ok && ok->type == JSON_FALSE) {
    const json *ec = json_get(v, "error_code");
    int64_t c = status;
    if (ec && ec->type == JSON_NUMBER) json_int64(ec, &c);
    const char *desc = str_member(v, "description");
    const json *pars = json_get(v, "parameters");
    const json *ra = pars && pars->type == JSON_OBJECT ? json_get(pars, "retry_after") : NULL;
    int64_t ra_s;
    if (ra && ra->type == JSON_NUMBER && !json_int64(ra, &ra_s) && ra_s >= 0 &&
        ra_s < 86400)
      r->retry_after_ms = (long)ra_s * 1000;
    /* "Bad Request: chat not found": the part before the colon is the title. */
    char title[128];
    const char *colon = desc ? strchr(desc, ':') : NULL;
    if (desc && colon && colon - desc < (long)sizeof title)
      snprintf(title, sizeof title, "%.*s", (int)(colon - desc), desc);
    else
      snprintf(title, sizeof title, "%s", desc ? desc : "Telegram error");
    snprintf(code, sizeof code, "%lld", (long long)c);
    int retry = c == 429 || c >= 500;
    result_set(r, retry ? CHAT_SEND_RETRY : CHAT_SEND_FAILED, code, title,
               desc ? desc : "");
    return;
  }
  snprintf(code, sizeof code, "http_%ld", status);
  if (status >= 500 || status == 429 || status == 408) {
    result_set(r, CHAT_SEND_RETRY, code, "The provider is unavailable",
               "Telegram answered without a result; will try again");
    return;
  }
  result_set(r, CHAT_SEND_FAILED,
             status >= 200 && status < 300 ? "bad_response" : code,
             "Unexpected answer from Telegram",
             "the answer carried neither a message id nor an error; the "
             "message was not sent again");
}

void chat_send_parse(chat_platform p, const char *to, long status,
                     const char *body, size_t body_len,
                     const char *retry_after, chat_send_result *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  arena *a = arena_new();
  if (p == CHAT_WHATSAPP)
    parse_whatsapp(a, status, body, body_len, 0, r);
  else
    parse_telegram(a, to ? to : "", status, body, body_len, r);
  arena_free(a);
  long ms;
  if (r->outcome == CHAT_SEND_RETRY && retry_after && r->retry_after_ms < 0 &&
      !net_retry_after_ms(retry_after, (int64_t)time(NULL), &ms))
    r->retry_after_ms = ms;
}

void chat_media_parse(long status, const char *body, size_t body_len,
                      const char *retry_after, chat_send_result *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  arena *a = arena_new();
  parse_whatsapp(a, status, body, body_len, 1, r);
  arena_free(a);
  long ms;
  if (r->outcome == CHAT_SEND_RETRY && retry_after &&
      !net_retry_after_ms(retry_after, (int64_t)time(NULL), &ms))
    r->retry_after_ms = ms;
}

void chat_send_transport(net_error e, chat_send_result *r) {
  memset(r, 0, sizeof *r);
  r->retry_after_ms = -1;
  switch (e) {
    case NET_ETIMEOUT:
    case NET_EBROKEN:
      /* The request may have reached the provider before the answer was
       * lost, so a resend could deliver the message twice. The retry waits
       * CHAT_SEND_UNSURE_WAIT_MS: long enough for WhatsApp's "sent" status
       * (which carries munshi's id in biz_opaque_callback_data) to arrive
       * and settle the message, after which the outbox drops the row
       * instead of sending again (docs/chat.md). Found by review: an
       * immediate retry after a response timeout sent two copies. */
      result_set(r, CHAT_SEND_RETRY, net_error_name(e),
                 "The provider's answer was lost", net_strerror(e));
      r->retry_after_ms = CHAT_SEND_UNSURE_WAIT_MS;
      break;
    case NET_ECONNECT:
    case NET_ETLS:
    case NET_EOTHER:
      result_set(r, CHAT_SEND_RETRY, net_error_name(e),
                 "The provider could not be reached", net_strerror(e));
      break;
    default:
      result_set(r, CHAT_SEND_FAILED, net_error_name(e),
                 "The request could not be made", net_strerror(e));
      break;
  }
}

int chat_send_error_json(const chat_send_result *r, buf *b) {
  json_obj o;
  json_obj_open(&o, b);
  json_obj_str(&o, "code", r->code);
  json_obj_str(&o, "title", r->title);
  json_obj_str(&o, "message", r->message);
  return json_obj_close(&o);
}
