/* validate.c - rules for what a client may write to profiles, customers and
 * products through /rest/v1 (see biz_check_fields in biz.h). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

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

int biz_check_fields(arena *a, const char *table, biz_fields *f, int insert,
                     biz_err *e) {
  (void)insert;
  if (!strcmp(table, "customers")) {
    if (check_phone(a, f, "phone_number", e) || check_gstin(a, f, "gstin", e) ||
        check_state(f, e))
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
