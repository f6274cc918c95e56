/* validate.c - rules for what a client may write to profiles, customers,
 * products and channels through /rest/v1 (see biz_check_fields in biz.h).
 *
 * They live here, below the REST layer, because they say what a valid row
 * is, not how HTTP carries it: the same rules hold for any writer, and the
 * REST layer only maps their errors to PostgREST's shape. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "base/crypto.h"
#include "base/json.h"
#include "biz/biz.h"
#include "biz/gst.h"

static db_val *field(biz_fields *f, const char *name) {
  for (int i = 0; i < f->n; i++)
    if (!strcmp(f->names[i], name)) return &f->vals[i];
  return NULL;
}

static int set_field(biz_fields *f, const char *name, db_val v) {
  db_val *x = field(f, name);
  if (x) {
    *x = v;
    return 0;
  }
  if (f->n == f->cap) return -1;
  f->names[f->n] = name;
  f->vals[f->n++] = v;
  return 0;
}

static int check_phone(arena *a, biz_fields *f, const char *name, biz_err *e) {
  db_val *v = field(f, name);
  if (!v || v->type == DBT_NULL) return 0;
  char out[17];
  if (phone_e164(v->s, out))
    return biz_fail(e, E_CHECK,
                    "%s \"%.32s\" is not a phone number: give it with its "
                    "country code, e.g. +919812345678",
                    name, v->s);
  *v = db_text(arena_strdup(a, out));
  return 0;
}

/* A GSTIN column: upper-cased, checked, and the state code taken from it. */
static int check_gstin(arena *a, biz_fields *f, const char *name, biz_err *e) {
  db_val *v = field(f, name);
  if (!v || v->type == DBT_NULL) return 0;
  char *g = arena_strdup(a, v->s);
  for (char *p = g; *p; p++) *p = (char)toupper((unsigned char)*p);
  char state[3], why[128];
  if (gstin_check(g, state, why, sizeof why))
    return biz_fail(e, E_CHECK, "%s: %s", name, why);
  *v = db_text(g);
  db_val *sc = field(f, "state_code");
  if (sc && sc->type != DBT_NULL && strcmp(sc->s, state))
    return biz_fail(e, E_CHECK,
                    "state_code %s does not match the GSTIN, whose state is %s",
                    sc->s, state);
  if (set_field(f, "state_code", db_text(arena_strdup(a, state))))
    return biz_fail(e, E_INTERNAL, "too many fields");
  return 0;
}

static int check_state(biz_fields *f, biz_err *e) {
  db_val *v = field(f, "state_code");
  if (!v || v->type == DBT_NULL) return 0;
  if (!gst_state_valid(v->s))
    return biz_fail(e, E_CHECK,
                    "state_code must be a two-digit GST state code (01-38, 97)");
  return 0;
}

/* ---- channels ------------------------------------------------------------- */

/* Set once at start, before any request (biz_channels_configure). */
static int shared_whatsapp_app;

void biz_channels_configure(int shared_app_secret) {
  shared_whatsapp_app = shared_app_secret != 0;
}

static int is_null(const db_val *v) { return !v || v->type == DBT_NULL; }

/* Characters of UTF-8 text (PostgreSQL's length(), which the schema's
 * CHECKs use), so a Devanagari name is held to its characters. */
static size_t utf8_chars(const char *s) {
  size_t n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

static int all_of(const char *s, size_t n, const char *extra) {
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (!isalnum(c) && !(extra && c && strchr(extra, c))) return 0;
  }
  return 1;
}

/* A text column's length, in characters. */
static int check_len(biz_fields *f, const char *name, size_t max, biz_err *e) {
  db_val *v = field(f, name);
  if (is_null(v) || utf8_chars(v->s) <= max) return 0;
  return biz_fail(e, E_CHECK, "%s is longer than %zu characters", name, max);
}

/* A credential: 1..max printable ASCII characters, no spaces (a token
 * pasted with a space or a newline would only fail later, at the
 * provider). The value never appears in a message: it is a secret. */
static int check_secret(biz_fields *f, const char *name, size_t max,
                        biz_err *e) {
  db_val *v = field(f, name);
  if (is_null(v)) return 0;
  size_t n = strlen(v->s);
  int ok = n >= 1 && n <= max;
  for (size_t i = 0; ok && i < n; i++)
    ok = (unsigned char)v->s[i] > 0x20 && (unsigned char)v->s[i] < 0x7f;
  if (ok) return 0;
  return biz_fail(e, E_CHECK,
                  "%s must be 1 to %zu printable characters without spaces "
                  "(check for a space or line break pasted with it)",
                  name, max);
}

/* Telegram's bot token: "<bot id>:<secret part>", as BotFather gives it. */
static int bot_token_valid(const char *s) {
  const char *colon = strchr(s, ':');
  if (!colon) return 0;
  size_t id = (size_t)(colon - s), rest = strlen(colon + 1);
  return id >= 1 && id <= 20 && strspn(s, "0123456789") == id &&
         rest >= 20 && rest <= 100 && all_of(colon + 1, rest, "_-");
}

/* Meta's template names are lower-case letters, digits and underscores;
 * languages are codes like en, en_US, hi, pt_BR. */
static int template_name_valid(const char *s, size_t n) {
  if (n < 1 || n > 512) return 0;
  for (size_t i = 0; i < n; i++)
    if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) &&
        s[i] != '_')
      return 0;
  return 1;
}

static int language_valid(const char *s, size_t n) {
  return n >= 2 && n <= 15 && all_of(s, n, "_") && isalpha((unsigned char)s[0]);
}

/* A cap on what one request may make us parse and compare (pairs are
 * compared for repeats); far above the templates one number uses. */
#define TEMPLATES_MAX 250
#define TEMPLATE_PARAMS_MAX 10

/* templates: [{"name", "language", "params": 0..10}], each (name,
 * language) once. *out: the parsed array, for default_template. */
static int check_templates(arena *a, const db_val *v, json **out, biz_err *e) {
  static const char usage[] =
      "templates must be an array of {\"name\": \"order_update\", "
      "\"language\": \"en\", \"params\": 2}";
  json *t;
  json_error je;
  if (json_parse(a, v->s, strlen(v->s), &t, &je) || t->type != JSON_ARRAY)
    return biz_fail(e, E_CHECK, "%s", usage);
  if (t->n > TEMPLATES_MAX)
    return biz_fail(e, E_CHECK, "a channel lists at most %d templates",
                    TEMPLATES_MAX);
  for (size_t i = 0; i < t->n; i++) {
    const json *it = t->items[i];
    if (it->type != JSON_OBJECT)
      return biz_fail(e, E_CHECK, "templates[%zu]: %s", i, usage);
    for (size_t k = 0; k < it->n; k++)
      if (strcmp(it->keys[k], "name") && strcmp(it->keys[k], "language") &&
          strcmp(it->keys[k], "params"))
        return biz_fail(e, E_CHECK,
                        "templates[%zu]: unknown member \"%.32s\" (a template "
                        "has name, language and params)",
                        i, it->keys[k]);
    const json *name = json_get(it, "name"), *lang = json_get(it, "language"),
               *params = json_get(it, "params");
    if (!name || name->type != JSON_STRING ||
        !template_name_valid(name->str, name->len))
      return biz_fail(e, E_CHECK,
                      "templates[%zu].name must be the template's name as "
                      "approved in Meta's manager: 1 to 512 of a-z 0-9 _",
                      i);
    if (!lang || lang->type != JSON_STRING ||
        !language_valid(lang->str, lang->len))
      return biz_fail(e, E_CHECK,
                      "templates[%zu].language must be a language code such "
                      "as en, en_US or hi",
                      i);
    int64_t np;
    if (!params || params->type != JSON_NUMBER || json_int64(params, &np) ||
        np < 0 || np > TEMPLATE_PARAMS_MAX)
      return biz_fail(e, E_CHECK,
                      "templates[%zu].params must be the number of body "
                      "parameters, 0 to %d",
                      i, TEMPLATE_PARAMS_MAX);
    for (size_t j = 0; j < i; j++) {
      const json *o = t->items[j];
      const json *on = json_get(o, "name"), *ol = json_get(o, "language");
      if (on->len == name->len && !memcmp(on->str, name->str, name->len) &&
          ol->len == lang->len && !memcmp(ol->str, lang->str, lang->len))
        return biz_fail(e, E_CHECK,
                        "templates[%zu] repeats templates[%zu] (same name and "
                        "language)",
                        i, j);
    }
  }
  *out = t;
  return 0;
}

/* The columns that belong to one platform only. */
static const char *const whatsapp_only[] = {
    "phone_number_id", "display_phone_number", "access_token", "app_secret",
    "verify_token", "templates", "default_template", NULL};
static const char *const telegram_only[] = {"bot_token", "webhook_secret",
                                            "bot_username", NULL};

/* The first column of list the write sets to a value (NULL: none). */
static const char *first_set(biz_fields *f, const char *const *list) {
  for (int i = 0; list[i]; i++) {
    db_val *v = field(f, list[i]);
    /* templates has a default ('[]'): an empty list is no WhatsApp use. */
    if (!is_null(v) && !(v->type == DBT_JSON && !strcmp(list[i], "templates") &&
                         !strcmp(v->s, "[]")))
      return list[i];
  }
  return NULL;
}

static int need(biz_fields *f, const char *name, const char *why,
                biz_err *e) {
  if (!is_null(field(f, name))) return 0;
  return biz_fail(e, E_CHECK, "%s is required: %s", name, why);
}

/* What a channel needs by platform, on insert (the platform never changes
 * after). A missing webhook_secret is made here. */
static int check_channel_insert(arena *a, biz_fields *f, biz_err *e) {
  db_val *p = field(f, "platform");
  if (is_null(p))
    return biz_fail(e, E_CHECK,
                    "platform is required: \"whatsapp\" or \"telegram\"");
  const char *other;
  if (!strcmp(p->s, "whatsapp")) {
    if ((other = first_set(f, telegram_only)))
      return biz_fail(e, E_CHECK, "%s belongs to telegram channels", other);
    if (need(f, "phone_number_id",
             "the Phone number ID from WhatsApp > API Setup in Meta's app "
             "dashboard", e) ||
        need(f, "access_token",
             "a permanent System User token with whatsapp_business_messaging",
             e) ||
        need(f, "verify_token",
             "any string you choose, pasted again in WhatsApp > "
             "Configuration when you add the webhook", e))
      return -1;
    if (!shared_whatsapp_app &&
        need(f, "app_secret",
             "the App secret from App settings > Basic, which signs every "
             "webhook (it may be left out only on a server that sets "
             "MUNSHI_WHATSAPP_APP_SECRET for a shared app)", e))
      return -1;
    return 0;
  }
  if (!strcmp(p->s, "telegram")) {
    if ((other = first_set(f, whatsapp_only)))
      return biz_fail(e, E_CHECK, "%s belongs to whatsapp channels", other);
    if (need(f, "bot_token", "the token BotFather gave for the bot", e))
      return -1;
    if (is_null(field(f, "webhook_secret"))) {
      /* 32 random bytes as base64url: 43 characters of [A-Za-z0-9_-],
       * what Telegram allows in secret_token. */
      uint8_t raw[32];
      buf b;
      buf_init(&b, 0);
      random_bytes(raw, sizeof raw);
      int rc = b64url_encode(&b, raw, sizeof raw);
      char *s = rc ? NULL : arena_strndup(a, b.data, b.len);
      buf_free(&b);
      if (!s || set_field(f, "webhook_secret", db_text(s)))
        return biz_fail(e, E_INTERNAL, "could not make a webhook_secret");
    }
    return 0;
  }
  return biz_fail(e, E_CHECK, "platform must be \"whatsapp\" or \"telegram\"");
}

/* A change may not mix the two platforms' columns, nor clear a credential
 * the channel cannot work without (the platform is not in a PATCH; the
 * schema's CHECKs back this up per platform). */
static int check_channel_update(biz_fields *f, biz_err *e) {
  const char *wa = first_set(f, whatsapp_only), *tg = first_set(f, telegram_only);
  if (wa && tg)
    return biz_fail(e, E_CHECK,
                    "%s is for whatsapp channels and %s for telegram ones: a "
                    "change cannot set both",
                    wa, tg);
  static const char *const kept[] = {"phone_number_id", "access_token",
                                     "verify_token", "bot_token",
                                     "webhook_secret", NULL};
  for (int i = 0; kept[i]; i++) {
    db_val *v = field(f, kept[i]);
    if (v && v->type == DBT_NULL)
      return biz_fail(e, E_CHECK,
                      "%s cannot be cleared: give a new value, or stop the "
                      "channel with is_active=false",
                      kept[i]);
  }
  db_val *s = field(f, "app_secret");
  if (s && s->type == DBT_NULL && !shared_whatsapp_app)
    return biz_fail(e, E_CHECK,
                    "app_secret cannot be cleared: this server has no shared "
                    "app (MUNSHI_WHATSAPP_APP_SECRET) to verify webhooks with");
  return 0;
}

static int check_channel(arena *a, biz_fields *f, int insert, biz_err *e) {
  db_val *v;
  if (check_len(f, "name", 100, e) ||
      check_len(f, "display_phone_number", 32, e) ||
      check_len(f, "bot_username", 64, e) ||
      check_len(f, "default_template", 512, e) ||
      check_secret(f, "access_token", 1024, e) ||
      check_secret(f, "app_secret", 256, e) ||
      check_secret(f, "verify_token", 256, e))
    return -1;
  v = field(f, "phone_number_id");
  if (!is_null(v) && (strlen(v->s) < 1 || strlen(v->s) > 32 ||
                      strspn(v->s, "0123456789") != strlen(v->s)))
    return biz_fail(e, E_CHECK,
                    "phone_number_id must be the digits of the Phone number "
                    "ID from WhatsApp > API Setup (not the phone number)");
  v = field(f, "bot_token");
  if (!is_null(v) && !bot_token_valid(v->s))
    return biz_fail(e, E_CHECK,
                    "bot_token is not a Telegram bot token: BotFather gives "
                    "it as <bot id>:<secret>, digits, a colon, then 20 to "
                    "100 of A-Z a-z 0-9 _ -");
  v = field(f, "webhook_secret");
  if (!is_null(v) && (strlen(v->s) < 1 || strlen(v->s) > 256 ||
                      !all_of(v->s, strlen(v->s), "_-")))
    return biz_fail(e, E_CHECK,
                    "webhook_secret must be 1 to 256 of A-Z a-z 0-9 _ - (or "
                    "leave it out and munshi makes one)");
  v = field(f, "bot_username");
  if (!is_null(v) && v->s[0] == '@') *v = db_text(v->s + 1);
  v = field(f, "rate_limit_per_s");
  if (!is_null(v) && (v->i < 1 || v->i > 1000))
    return biz_fail(e, E_CHECK,
                    "rate_limit_per_s is messages per second, 1 to 1000 (leave "
                    "it null for the provider's default)");
  json *templates = NULL;
  v = field(f, "templates");
  if (v && v->type == DBT_NULL)
    return biz_fail(e, E_CHECK, "templates cannot be null: send [] for none");
  if (v && check_templates(a, v, &templates, e)) return -1;
  v = field(f, "default_template");
  if (!is_null(v) && (templates || insert)) {
    int found = 0;
    for (size_t i = 0; templates && i < templates->n && !found; i++) {
      const json *n = json_get(templates->items[i], "name");
      found = n->len == strlen(v->s) && !memcmp(n->str, v->s, n->len);
    }
    if (!found)
      return biz_fail(e, E_CHECK,
                      "default_template must be the name of one of the "
                      "channel's templates");
  }
  return insert ? check_channel_insert(a, f, e) : check_channel_update(f, e);
}

/* ---- integrations (0011, docs/integrations.md) ------------------------------ */

static const char *const shiprocket_only[] = {"email", "password",
                                              "webhook_token",
                                              "pickup_location", NULL};
static const char *const razorpay_only[] = {"key_id", "key_secret",
                                            "webhook_secret", NULL};

/* Razorpay's key id as its dashboard shows it: rzp_test_ or rzp_live_ and
 * letters and digits. */
static int razorpay_key_id_valid(const char *s) {
  size_t n = strlen(s);
  if (strncmp(s, "rzp_test_", 9) && strncmp(s, "rzp_live_", 9)) return 0;
  return n > 9 && n <= 49 && all_of(s + 9, n - 9, NULL);
}

static int check_integration(biz_fields *f, int insert, biz_err *e) {
  db_val *v;
  if (check_len(f, "pickup_location", 100, e) ||
      check_secret(f, "password", 256, e) ||
      check_secret(f, "key_secret", 256, e) ||
      check_secret(f, "webhook_secret", 256, e) ||
      check_secret(f, "webhook_token", 256, e))
    return -1;
  v = field(f, "email");
  if (!is_null(v) && (strlen(v->s) > 254 || !strchr(v->s, '@') ||
                      strchr(v->s, ' ')))
    return biz_fail(e, E_CHECK,
                    "email must be the email of Shiprocket's API user "
                    "(Settings > API > Configure)");
  v = field(f, "webhook_token");
  if (!is_null(v) && strlen(v->s) < 16)
    return biz_fail(e, E_CHECK,
                    "webhook_token must be at least 16 characters: choose a "
                    "long random token and paste the same in Shiprocket's "
                    "Settings > API > Webhooks");
  v = field(f, "key_id");
  if (!is_null(v) && !razorpay_key_id_valid(v->s))
    return biz_fail(e, E_CHECK,
                    "key_id must be a Razorpay key id: rzp_test_ or rzp_live_ "
                    "followed by letters and digits");
  const char *sr = first_set(f, shiprocket_only), *rz = first_set(f, razorpay_only);
  if (!insert) {
    if (sr && rz)
      return biz_fail(e, E_CHECK,
                      "%s is for shiprocket and %s for razorpay: a change "
                      "cannot set both",
                      sr, rz);
    static const char *const kept[] = {"email", "password", "key_id",
                                       "key_secret", NULL};
    for (int i = 0; kept[i]; i++) {
      v = field(f, kept[i]);
      if (v && v->type == DBT_NULL)
        return biz_fail(e, E_CHECK,
                        "%s cannot be cleared: give a new value, or stop the "
                        "integration with is_active=false",
                        kept[i]);
    }
    return 0;
  }
  db_val *p = field(f, "provider");
  if (is_null(p))
    return biz_fail(e, E_CHECK,
                    "provider is required: \"shiprocket\" or \"razorpay\"");
  if (!strcmp(p->s, "shiprocket")) {
    if (rz) return biz_fail(e, E_CHECK, "%s belongs to razorpay", rz);
    return need(f, "email", "the email of Shiprocket's API user", e) ||
                   need(f, "password", "the password of that API user", e)
               ? -1
               : 0;
  }
  if (!strcmp(p->s, "razorpay")) {
    if (sr) return biz_fail(e, E_CHECK, "%s belongs to shiprocket", sr);
    return need(f, "key_id", "the Key Id from Razorpay's API Keys page", e) ||
                   need(f, "key_secret", "the Key Secret shown with it", e)
               ? -1
               : 0;
  }
  return biz_fail(e, E_CHECK,
                  "provider must be \"shiprocket\" or \"razorpay\"");
}

/* A customer's delivery address for couriers: an Indian PIN code is six
 * digits and never starts with 0. */
static int check_delivery(biz_fields *f, biz_err *e) {
  db_val *v = field(f, "pincode");
  if (!is_null(v) && (strlen(v->s) != 6 || v->s[0] < '1' || v->s[0] > '9' ||
                      strspn(v->s, "0123456789") != 6))
    return biz_fail(e, E_CHECK,
                    "pincode must be a six-digit PIN code, e.g. 560001");
  v = field(f, "city");
  if (!is_null(v) && !*v->s)
    return biz_fail(e, E_CHECK, "city cannot be empty: leave it null");
  return check_len(f, "city", 100, e);
}

const char *biz_conflict_message(const char *table, const db_err *err) {
  if (!strcmp(table, "channels") && strstr(err->message, "phone_number_id"))
    return "this WhatsApp phone_number_id is already connected to a channel: "
           "a number can be connected to one business only (remove it from "
           "the other channel first)";
  if (!strcmp(table, "integrations") && strstr(err->message, "provider"))
    return "this business has an integration of this provider already: "
           "change it with PATCH /rest/v1/integrations?id=eq.<id>";
  return NULL;
}

/* ---- the entry point -------------------------------------------------------- */

int biz_check_fields(arena *a, const char *table, biz_fields *f, int insert,
                     biz_err *e) {
  if (!strcmp(table, "channels")) return check_channel(a, f, insert, e);
  if (!strcmp(table, "integrations")) return check_integration(f, insert, e);
  if (!strcmp(table, "customers")) {
    if (check_phone(a, f, "phone_number", e) || check_gstin(a, f, "gstin", e) ||
        check_state(f, e) || check_delivery(f, e))
      return -1;
  } else if (!strcmp(table, "profiles")) {
    if (check_phone(a, f, "whatsapp_number", e) ||
        check_phone(a, f, "owner_phone", e) ||
        check_gstin(a, f, "gst_number", e) || check_state(f, e))
      return -1;
    db_val *p = field(f, "invoice_prefix");
    if (p && (p->type == DBT_NULL || !gst_prefix_valid(p->s)))
      return biz_fail(e, E_CHECK,
                      "invoice_prefix must be 1 to 5 characters of A-Z a-z "
                      "0-9 - /");
  } else if (!strcmp(table, "products")) {
    db_val *h = field(f, "hsn_code");
    if (h && h->type != DBT_NULL && !hsn_valid(h->s))
      return biz_fail(e, E_CHECK, "hsn_code must be 4, 6 or 8 digits");
    db_val *st = field(f, "current_stock");
    if (st && st->type == DBT_DEC && st->i < 0)
      return biz_fail(e, E_CHECK, "the opening current_stock cannot be negative");
    db_val *r = field(f, "gst_rate");
    if (r && r->type == DBT_DEC && (r->i < 0 || r->i > 10000))
      return biz_fail(e, E_CHECK, "gst_rate is a percentage from 0 to 100");
  }
  return 0;
}
