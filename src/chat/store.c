/* store.c - channels, sessions and queued messages (see store.h). */
#include "chat/store.h"

#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "biz/events.h"

/* ---- channels ----------------------------------------------------------------- */

#define CHANNEL_COLS                                                          \
  "profile_id, id, platform, coalesce(name, ''), "                            \
  "coalesce(phone_number_id, ''), coalesce(display_phone_number, ''), "        \
  "coalesce(access_token, ''), coalesce(app_secret, ''), "                     \
  "coalesce(verify_token, ''), coalesce(bot_token, ''), "                      \
  "coalesce(webhook_secret, ''), templates, coalesce(default_template, ''), " \
  "coalesce(rate_limit_per_s, 0), coalesce(owner_chat_id, ''), is_active, " \
  "coalesce(verified_phone_number_id = phone_number_id, false) "

static const char *dup_text(arena *a, const db_res *r, int col) {
  return arena_strdup(a, db_res_text(r, 0, col));
}

static void channel_from(arena *a, const db_res *r, chat_channel *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->profile_id, sizeof c->profile_id, "%s", db_res_text(r, 0, 0));
  snprintf(c->id, sizeof c->id, "%s", db_res_text(r, 0, 1));
  c->platform = strcmp(db_res_text(r, 0, 2), "telegram") ? CHAT_WHATSAPP
                                                         : CHAT_TELEGRAM;
  c->name = dup_text(a, r, 3);
  c->phone_number_id = dup_text(a, r, 4);
  c->display_phone_number = dup_text(a, r, 5);
  c->access_token = dup_text(a, r, 6);
  c->app_secret = dup_text(a, r, 7);
  c->verify_token = dup_text(a, r, 8);
  c->bot_token = dup_text(a, r, 9);
  c->webhook_secret = dup_text(a, r, 10);
  c->templates = dup_text(a, r, 11);
  c->default_template = dup_text(a, r, 12);
  c->rate_limit_per_s = (int)db_res_int(r, 0, 13);
  c->owner_chat_id = dup_text(a, r, 14);
  c->is_active = db_res_bool(r, 0, 15);
  c->verified = db_res_bool(r, 0, 16);
}

static int channel_query(db *d, arena *a, const char *sql, const db_val *v,
                         int n, chat_channel *out, int *found, db_err *err) {
  db_res *r = NULL;
  *found = 0;
  if (db_query_fixed(d, sql, v, n, &r, err)) return -1;
  if (db_res_rows(r) > 0) {
    channel_from(a, r, out);
    *found = 1;
  }
  db_res_free(r);
  return 0;
}

int chat_channel_load(db *d, arena *a, const char *profile_id, const char *id,
                      chat_channel *out, int *found, db_err *err) {
  char norm[UUID_STR_LEN + 1];
  *found = 0;
  if (uuid_normalize(id, norm)) return 0;
  if (profile_id) {
    db_val v[] = {db_uuid(profile_id), db_uuid(norm)};
    return channel_query(d, a,
                         "SELECT " CHANNEL_COLS
                         "FROM channels WHERE profile_id = $1 AND id = $2",
                         v, 2, out, found, err);
  }
  db_val v[] = {db_uuid(norm)};
  return channel_query(d, a, "SELECT " CHANNEL_COLS "FROM channels WHERE id = $1",
                       v, 1, out, found, err);
}

int chat_channel_by_phone_number_id(db *d, arena *a, const char *pnid,
                                    chat_channel *out, int *found,
                                    db_err *err) {
  db_val v[] = {db_text(pnid)};
  return channel_query(
      d, a, "SELECT " CHANNEL_COLS "FROM channels WHERE phone_number_id = $1",
      v, 1, out, found, err);
}

int chat_channel_first(db *d, arena *a, const char *profile_id,
                       chat_platform platform, chat_channel *out, int *found,
                       db_err *err) {
  db_val v[] = {db_uuid(profile_id),
                db_text(platform == CHAT_TELEGRAM ? "telegram" : "whatsapp")};
  db_res *r = NULL;
  *found = 0;
  if (db_query(d,
               "SELECT " CHANNEL_COLS
               "FROM channels WHERE profile_id = $1 AND platform = $2 "
               "AND is_active ORDER BY created_at, id LIMIT 1",
               v, 2, &r, err))
    return -1;
  if (db_res_rows(r) > 0) {
    channel_from(a, r, out);
    *found = 1;
  }
  db_res_free(r);
  return 0;
}

/* ---- sessions ------------------------------------------------------------------ */

#define SESSION_COLS                                                          \
  "profile_id, id, coalesce(channel_id, id), coalesce(customer_id, id), "     \
  "customer_id IS NULL, channel, contact_id, is_bot_active, status = 'open', " \
  "last_inbound_at, agent_state "

static void session_from(arena *a, const db_res *r, chat_session *s) {
  memset(s, 0, sizeof *s);
  snprintf(s->profile_id, sizeof s->profile_id, "%s", db_res_text(r, 0, 0));
  snprintf(s->id, sizeof s->id, "%s", db_res_text(r, 0, 1));
  snprintf(s->channel_id, sizeof s->channel_id, "%s", db_res_text(r, 0, 2));
  if (!db_res_bool(r, 0, 4))
    snprintf(s->customer_id, sizeof s->customer_id, "%s", db_res_text(r, 0, 3));
  s->platform = strcmp(db_res_text(r, 0, 5), "telegram") ? CHAT_WHATSAPP
                                                         : CHAT_TELEGRAM;
  snprintf(s->contact_id, sizeof s->contact_id, "%s", db_res_text(r, 0, 6));
  s->is_bot_active = db_res_bool(r, 0, 7);
  s->is_open = db_res_bool(r, 0, 8);
  s->last_inbound_at = db_res_isnull(r, 0, 9) ? 0 : db_res_ts(r, 0, 9);
  s->agent_state = dup_text(a, r, 10);
}

int chat_session_load(db *d, arena *a, const char *profile_id, const char *id,
                      chat_session *out, int *found, db_err *err) {
  char norm[UUID_STR_LEN + 1];
  *found = 0;
  if (uuid_normalize(id, norm)) return 0;
  db_val v[] = {db_uuid(profile_id), db_uuid(norm)};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "SELECT " SESSION_COLS
                     "FROM sessions WHERE profile_id = $1 AND id = $2",
                     v, 2, &r, err))
    return -1;
  if (db_res_rows(r) > 0) {
    session_from(a, r, out);
    *found = 1;
  }
  db_res_free(r);
  return 0;
}

/* The customer to link a new session to: the one with the contact's phone,
 * else a new one. cid gets its id. */
static int link_customer(db *d, const chat_channel *ch, const chat_contact *who,
                         char cid[37], db_err *err) {
  db_res *r = NULL;
  if (who->phone && *who->phone) {
    db_val v[] = {db_uuid(ch->profile_id), db_text(who->phone)};
    if (db_query(d,
                 "SELECT id FROM customers WHERE profile_id = $1 AND "
                 "phone_number = $2 ORDER BY created_at, id LIMIT 1",
                 v, 2, &r, err))
      return -1;
    int have = db_res_rows(r) > 0;
    if (have) snprintf(cid, 37, "%s", db_res_text(r, 0, 0));
    db_res_free(r);
    if (have) return 0;
  }
  char name[160];
  if (who->name && *who->name)
    snprintf(name, sizeof name, "%.150s", who->name);
  else if (who->phone && *who->phone)
    snprintf(name, sizeof name, "%s", who->phone);
  else
    snprintf(name, sizeof name, "%s %.64s",
             ch->platform == CHAT_TELEGRAM ? "Telegram" : "WhatsApp",
             who->contact_id);
  uuid_v7(cid);
  int64_t now = time_now_us();
  db_val v[] = {db_uuid(ch->profile_id), db_uuid(cid), db_text(name),
                who->phone && *who->phone ? db_text(who->phone) : db_null(),
                db_ts(now)};
  if (db_query_fixed(d,
                     "INSERT INTO customers (profile_id, id, full_name, "
                     "phone_number, notes, created_at, updated_at) VALUES "
                     "($1, $2, $3, $4, 'added from chat', $5, $5)",
                     v, 5, NULL, err))
    return -1;
  buf p;
  buf_init(&p, 0);
  json_obj o;
  json_obj_open(&o, &p);
  json_obj_str(&o, "id", cid);
  json_obj_str(&o, "full_name", name);
  json_obj_str(&o, "phone_number", who->phone && *who->phone ? who->phone : NULL);
  json_obj_str(&o, "source", "chat");
  json_obj_close(&o);
  int rc = event_emit(d, ch->profile_id, "customer.created", "customer", cid,
                      buf_cstr(&p), NULL, err);
  buf_free(&p);
  return rc;
}

int chat_session_get_or_create(db *d, arena *a, const chat_channel *ch,
                               const chat_contact *who, chat_session *out,
                               int *created, db_err *err) {
  if (created) *created = 0;
  size_t cl = who->contact_id ? strlen(who->contact_id) : 0;
  if (cl < 1 || cl > 64) {
    snprintf(err->code, sizeof err->code, "22023");
    snprintf(err->message, sizeof err->message, "a contact id has 1 to 64 characters");
    return -1;
  }
  const char *name = who->name && *who->name ? who->name : NULL;
  db_val k[] = {db_uuid(ch->profile_id), db_uuid(ch->id),
                db_text(who->contact_id), name ? db_text(name) : db_null()};
  /* The common case, an existing conversation: one statement. db_query,
   * not db_query_fixed: see the note on tiny tables in inbound.c. */
  db_res *r = NULL;
  if (db_query(d,
                     "UPDATE sessions SET contact_name = coalesce($4, "
                     "contact_name) WHERE profile_id = $1 AND channel_id = $2 "
                     "AND contact_id = $3 RETURNING " SESSION_COLS,
                     k, 4, &r, err))
    return -1;
  if (db_res_rows(r) > 0) {
    session_from(a, r, out);
    db_res_free(r);
    return 0;
  }
  db_res_free(r);
  r = NULL;
  char cid[37], sid[37];
  if (link_customer(d, ch, who, cid, err)) return -1;
  uuid_v7(sid);
  db_val v[] = {db_uuid(ch->profile_id), db_uuid(sid), db_uuid(cid),
                db_text(ch->platform == CHAT_TELEGRAM ? "telegram" : "whatsapp"),
                db_uuid(ch->id), db_text(who->contact_id),
                name ? db_text(name) : db_null()};
  /* Two deliveries for a new contact may race here: the loser's insert
   * does nothing, and it reads the winner's row (its customer row, made
   * above, is then rolled back with its transaction only if the caller
   * fails; a spare customer is harmless but avoided by the UPDATE above
   * in every sequential case). */
  if (db_query_fixed(d,
                     "INSERT INTO sessions (profile_id, id, customer_id, "
                     "channel, channel_id, contact_id, contact_name) VALUES "
                     "($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (profile_id, "
                     "channel_id, contact_id) DO NOTHING RETURNING " SESSION_COLS,
                     v, 7, &r, err))
    return -1;
  if (db_res_rows(r) > 0) {
    session_from(a, r, out);
    if (created) *created = 1;
    db_res_free(r);
    return 0;
  }
  db_res_free(r);
  r = NULL;
  if (db_query(d,
                     "SELECT " SESSION_COLS "FROM sessions WHERE profile_id = "
                     "$1 AND channel_id = $2 AND contact_id = $3",
                     k, 3, &r, err))
    return -1;
  int ok = db_res_rows(r) > 0;
  if (ok) session_from(a, r, out);
  db_res_free(r);
  if (!ok) {
    snprintf(err->code, sizeof err->code, "40001");
    snprintf(err->message, sizeof err->message,
             "the session was created and removed meanwhile; retry");
    return -1;
  }
  return 0;
}

int chat_window_open(const chat_session *s, int64_t now_us) {
  if (s->platform == CHAT_TELEGRAM) return 1;
  return s->last_inbound_at > 0 && now_us - s->last_inbound_at < CHAT_WINDOW_US;
}

/* ---- the outbox ---------------------------------------------------------------- */

int chat_enqueue(db *d, const chat_session *s, const chat_out *m,
                 char id_out[37], int *dup, db_err *err) {
  char id[37];
  if (dup) *dup = 0;
  uuid_v7(id);
  int64_t now = time_now_us();
  const char *type = m->message_type && *m->message_type ? m->message_type : "text";
  db_val v[] = {db_uuid(s->profile_id), db_uuid(id), db_uuid(s->id),
                db_uuid(s->channel_id), db_text(m->content ? m->content : ""),
                db_text(type), db_text(m->sender ? m->sender : "agent"),
                db_json(m->metadata ? m->metadata : "{}"),
                m->reply_to ? db_uuid(m->reply_to) : db_null(), db_ts(now)};
  db_res *r = NULL;
  /* ON CONFLICT (profile_id, reply_to): an agent reply is written once per
   * inbound message, however often its event is delivered. */
  if (db_query_fixed(d,
                     "INSERT INTO unified_messages (profile_id, id, "
                     "session_id, channel_id, direction, content, "
                     "message_type, status, sender, metadata, reply_to, "
                     "created_at, updated_at) VALUES ($1, $2, $3, $4, "
                     "'outbound', $5, $6, 'queued', $7, $8, $9, $10, $10) "
                     "ON CONFLICT (profile_id, reply_to) WHERE reply_to IS NOT NULL "
                     "DO NOTHING "
                     "RETURNING id",
                     v, 10, &r, err))
    return -1;
  int inserted = db_res_rows(r) > 0;
  db_res_free(r);
  if (!inserted) {
    if (dup) *dup = 1;
    if (id_out) id_out[0] = 0;
    return 0;
  }
  db_val o[] = {db_uuid(s->profile_id), db_uuid(id), db_uuid(s->channel_id),
                db_ts(now)};
  if (db_query_fixed(d,
                     "INSERT INTO chat_outbox (profile_id, message_id, "
                     "channel_id, next_attempt_at, created_at) VALUES ($1, "
                     "$2, $3, $4, $4)",
                     o, 4, NULL, err))
    return -1;
  db_val u[] = {db_uuid(s->profile_id), db_uuid(s->id), db_ts(now)};
  if (db_query_fixed(d,
                     "UPDATE sessions SET last_message_at = $3, updated_at = "
                     "$3 WHERE profile_id = $1 AND id = $2",
                     u, 3, NULL, err))
    return -1;
  if (id_out) snprintf(id_out, 37, "%s", id);
  return 0;
}
