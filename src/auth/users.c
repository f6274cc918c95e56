/* users.c - the rows of an account: auth_users (email, password hash,
 * user_metadata, times) and the profiles row a signup creates beside it
 * (the business: its name, GSTIN, state and WhatsApp number), and GoTrue's
 * JSON user object. SQL only; the endpoints decide what to do with it. */
#include "auth/auth_int.h"

#include <string.h>

#define USER_SELECT                                                   \
  "SELECT id, email, raw_user_meta_data, encrypted_password, "        \
  "email_confirmed_at, last_sign_in_at, created_at, updated_at FROM " \
  "auth_users "

static int64_t ts_or_none(const db_res *r, int row, int col) {
  return db_res_isnull(r, row, col) ? TS_NONE : db_res_ts(r, row, col);
}

static int user_load(db *d, arena *a, const char *sql, db_val key, user_row *u,
                     db_err *err) {
  db_res *r = NULL;
  if (db_query(d, sql, &key, 1, &r, err)) return -1;
  int found = db_res_rows(r) > 0;
  if (found) {
    u->id = arena_strdup(a, db_res_text(r, 0, 0));
    u->email = arena_strdup(a, db_res_text(r, 0, 1));
    const char *meta = db_res_text(r, 0, 2);
    u->meta = arena_strdup(a, meta && *meta ? meta : "{}");
    const char *hash = db_res_text(r, 0, 3);
    u->hash = arena_strdup(a, hash ? hash : "");
    u->confirmed_at = ts_or_none(r, 0, 4);
    u->last_sign_in_at = ts_or_none(r, 0, 5);
    u->created_at = ts_or_none(r, 0, 6);
    u->updated_at = ts_or_none(r, 0, 7);
  }
  db_res_free(r);
  return found;
}

int user_load_by_email(db *d, arena *a, const char *email, user_row *u,
                       db_err *err) {
  return user_load(d, a, USER_SELECT "WHERE email = $1", db_text(email), u,
                   err);
}

int user_load_by_id(db *d, arena *a, const char *id, user_row *u,
                    db_err *err) {
  return user_load(d, a, USER_SELECT "WHERE id = $1", db_uuid(id), u, err);
}

int user_email_taken(db *d, const char *email, db_err *err) {
  db_val p = db_text(email);
  return auth_db_exists(d, "SELECT 1 FROM auth_users WHERE email = $1", &p, 1,
                        err);
}

int profile_whatsapp_taken(db *d, const char *whatsapp, db_err *err) {
  db_val p = db_text(whatsapp);
  return auth_db_exists(
      d, "SELECT 1 FROM profiles WHERE whatsapp_number = $1", &p, 1, err);
}

static db_val text_or_null(const char *s) {
  return s ? db_text(s) : db_null();
}

int user_insert(db *d, const user_row *u, const char *hash, db_err *err) {
  db_val p[] = {db_uuid(u->id), db_text(u->email), db_text(hash),
                db_json(u->meta), db_ts(u->created_at)};
  return auth_db_run(d,
                     "INSERT INTO auth_users (id, email, encrypted_password, "
                     "raw_user_meta_data, email_confirmed_at, "
                     "last_sign_in_at, created_at, updated_at) "
                     "VALUES ($1, $2, $3, $4, $5, $5, $5, $5)",
                     p, 5, err) < 0
             ? -1
             : 0;
}

int profile_insert(db *d, const char *id, const profile_fields *f,
                   int64_t now_us, db_err *err) {
  db_val p[] = {db_uuid(id),          text_or_null(f->business),
                text_or_null(f->gst), text_or_null(f->whatsapp),
                db_ts(now_us),        text_or_null(f->state)};
  return auth_db_run(d,
                     "INSERT INTO profiles (id, business_name, gst_number, "
                     "whatsapp_number, created_at, updated_at, state_code) "
                     "VALUES ($1, $2, $3, $4, $5, $5, $6)",
                     p, 6, err) < 0
             ? -1
             : 0;
}

int user_signed_in(db *d, const char *id, int64_t now_us, db_err *err) {
  db_val p[] = {db_uuid(id), db_ts(now_us)};
  return auth_db_run(d,
                     "UPDATE auth_users SET last_sign_in_at = $2 WHERE id = $1",
                     p, 2, err) < 0
             ? -1
             : 0;
}

static void ts_member(json_obj *o, const char *key, int64_t t) {
  if (t == TS_NONE)
    json_obj_null(o, key);
  else
    json_obj_ts(o, key, t);
}

void user_json(json_obj *o, const user_row *u) {
  json_obj_str(o, "id", u->id);
  json_obj_str(o, "aud", "authenticated");
  json_obj_str(o, "role", "authenticated");
  json_obj_str(o, "email", u->email);
  ts_member(o, "email_confirmed_at", u->confirmed_at);
  json_obj_str(o, "phone", "");
  ts_member(o, "confirmed_at", u->confirmed_at);
  ts_member(o, "last_sign_in_at", u->last_sign_in_at);
  json_obj app;
  json_obj_nest(o, "app_metadata", &app);
  json_obj_str(&app, "provider", "email");
  json_obj_raw(&app, "providers", "[\"email\"]");
  json_obj_close(&app);
  /* Stored JSON text: written by signup from a parsed object, or jsonb. */
  json_obj_raw(o, "user_metadata", u->meta);
  json_obj_raw(o, "identities", "[]");
  ts_member(o, "created_at", u->created_at);
  ts_member(o, "updated_at", u->updated_at);
  json_obj_bool(o, "is_anonymous", 0);
}
