/* inbound.c - stored webhooks → sessions, messages, statuses and
 * message.received events (see inbound.h and chat.h chat_inbound_poll).
 *
 * The poller claims a batch of chat_inbound rows under a lease in one
 * short write transaction (PostgreSQL: FOR UPDATE SKIP LOCKED, so workers
 * take different rows), then processes the whole batch in one transaction
 * and deletes its rows with one statement: many payloads share one commit
 * and few round trips, which is what makes thousands of messages a second
 * possible. When any payload fails, that transaction is undone and the
 * batch is run again one payload per transaction, so the bad one is
 * retried alone after a back-off (and set aside as 'failed' after
 * CHAT_INBOUND_MAX_ATTEMPTS, or at once when it does not parse).
 *
 * Exactly once comes from the database, not from the claim: a message is
 * inserted ON CONFLICT (profile_id, channel_id, provider_message_id) DO
 * NOTHING, and only the insert that wrote the row updates the session and
 * emits message.received. Two workers holding two copies of one payload
 * (Meta redelivers) therefore log it once; on PostgreSQL the second insert
 * waits for the first transaction and then does nothing. Statuses move a
 * message only to a higher rank (whatsapp.h wa_status_rank), so order and
 * repetition do not matter; one for a message that has no provider id yet
 * waits in chat_status_pending. */
#include "chat/inbound.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/arena.h"
#include "base/buf.h"
#include "base/crypto.h"
#include "base/ident.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/api.h"
#include "base/uuid.h"
#include "biz/events.h"
#include "chat/chat.h"
#include "chat/telegram.h"
#include "chat/whatsapp.h"

/* Statements that find rows by a key of a table that starts empty (sessions,
 * unified_messages, the pending statuses) go through db_query, not
 * db_query_fixed: PostgreSQL's generic plan made while the table is tiny
 * may pick another index of the same cost (any narrower index that starts
 * with profile_id, see 0005_chat.sql) and keep it as the table grows, turning each lookup into a
 * scan of the business's rows. Inserts of VALUES keep db_query_fixed. */
#define LEASE_S 60
#define SWEEP_EVERY_US (10LL * 1000000)
#define PENDING_KEEP_US (7LL * US_PER_DAY)
#define CACHE_MAX 16

static int set_err(db_err *err, const char *code, const char *msg) {
  snprintf(err->code, sizeof err->code, "%s", code);
  snprintf(err->message, sizeof err->message, "%s", msg);
  return -1;
}

/* ---- storing ------------------------------------------------------------------- */

int chat_inbound_store(db *d, chat_platform platform, const char *channel_id,
                       int64_t update_id, const char *body, size_t len,
                       int *stored, db_err *err) {
  if (stored) *stored = 0;
  if (strlen(body) != len)
    return set_err(err, "22023", "a webhook body must not hold NUL bytes");
  db_val v[] = {db_text(platform == CHAT_TELEGRAM ? "telegram" : "whatsapp"),
                channel_id ? db_uuid(channel_id) : db_null(),
                update_id >= 0 ? db_int(update_id) : db_null(), db_text(body),
                db_ts(time_now_us())};
  db_res *r = NULL;
  if (db_query_fixed(d,
                     "INSERT INTO chat_inbound (platform, channel_id, "
                     "update_id, payload, received_at) VALUES ($1, $2, $3, "
                     "$4, $5) ON CONFLICT (channel_id, update_id) DO NOTHING",
                     v, 5, &r, err))
    return -1;
  if (stored) *stored = db_res_changes(r) == 1;
  db_res_free(r);
  return 0;
}

/* ---- statuses ------------------------------------------------------------------ */

/* Gives the wamid pmid to our outbound message ours (the status's
 * biz_opaque_callback_data) when that message has none: the outbox died
 * while the send was in flight, so only this status knows the send
 * happened (docs/chat.md, the unknowable case). *given is 1 when it did. */
static int adopt_wamid(db *d, const char *profile, const char *channel,
                       const char *pmid, const char *ours, int *given,
                       db_err *err) {
  char id[UUID_STR_LEN + 1];
  *given = 0;
  if (!ours || uuid_normalize(ours, id)) return 0;
  db_val v[] = {db_uuid(profile), db_uuid(channel), db_text(pmid),
                db_uuid(id)};
  db_res *r = NULL;
  if (db_query(d,
               "UPDATE unified_messages SET provider_message_id = $3 WHERE "
               "profile_id = $1 AND channel_id = $2 AND id = $4 AND "
               "direction = 'outbound' AND provider_message_id IS NULL",
               v, 4, &r, err))
    return -1;
  *given = db_res_changes(r) > 0;
  db_res_free(r);
  return 0;
}

/* Moves the outbound message with provider id pmid to status when that is
 * a higher rank; keeps the status for later when no message has the id
 * (ours, the callback data, may name it: see adopt_wamid). */
static int apply_status(db *d, const char *profile, const char *channel,
                        const char *pmid, const char *ours,
                        const char *status, const char *error, int64_t at,
                        db_err *err) {
  int rank = wa_status_rank(status);
  if (rank <= 0) return 0;
  db_val v[] = {db_uuid(profile), db_uuid(channel), db_text(pmid),
                db_text(status), error ? db_json(error) : db_null(),
                db_ts(at), db_int(rank)};
  db_res *r = NULL;
  if (db_query(
          d,
          "UPDATE unified_messages SET status = $4, error = $5, updated_at = "
          "$6 WHERE profile_id = $1 AND channel_id = $2 AND "
          "provider_message_id = $3 AND direction = 'outbound' AND (CASE "
          "status WHEN 'queued' THEN 0 WHEN 'sent' THEN 10 WHEN 'failed' THEN "
          "15 WHEN 'delivered' THEN 20 WHEN 'read' THEN 30 ELSE 0 END) < $7",
          v, 7, &r, err))
    return -1;
  int64_t changed = db_res_changes(r);
  db_res_free(r);
  if (changed > 0) return 0;
  r = NULL;
  if (db_query(d,
                     "SELECT 1 FROM unified_messages WHERE profile_id = $1 "
                     "AND channel_id = $2 AND provider_message_id = $3",
                     v, 3, &r, err))
    return -1;
  int known = db_res_rows(r) > 0;
  db_res_free(r);
  if (known) return 0; /* a status it has passed already */
  int given = 0;
  if (adopt_wamid(d, profile, channel, pmid, ours, &given, err)) return -1;
  if (given)
    return apply_status(d, profile, channel, pmid, NULL, status, error, at,
                        err);
  return db_query_fixed(d,
                        "INSERT INTO chat_status_pending (profile_id, "
                        "channel_id, provider_message_id, status, error, "
                        "received_at) VALUES ($1, $2, $3, $4, $5, $6) ON "
                        "CONFLICT DO NOTHING",
                        v, 6, NULL, err);
}

int chat_statuses_apply_pending(db *d, const char *profile_id,
                                const char *channel_id,
                                const char *provider_message_id, db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_uuid(channel_id),
                db_text(provider_message_id)};
  db_res *r = NULL;
  if (db_query(d,
                     "DELETE FROM chat_status_pending WHERE profile_id = $1 "
                     "AND channel_id = $2 AND provider_message_id = $3 "
                     "RETURNING status, error, received_at",
                     v, 3, &r, err))
    return -1;
  int rc = 0;
  for (int i = 0; i < db_res_rows(r) && rc == 0; i++)
    rc = apply_status(d, profile_id, channel_id, provider_message_id, NULL,
                      db_res_text(r, i, 0),
                      db_res_isnull(r, i, 1) ? NULL : db_res_text(r, i, 1),
                      time_now_us(), err);
  db_res_free(r);
  return rc;
}

/* The outbox calls chat_statuses_apply_pending after it stores an id, but
 * a status committed by another worker between the two can slip past it
 * (neither transaction sees the other's row). Every few seconds a worker
 * applies whatever pending status has a message by now, and drops those
 * no message claimed within a week (statuses of messages sent by other
 * software on the same number), and failed bodies older than a week. */
static _Atomic int64_t last_sweep;

static int sweep_pending(db *d, db_err *err) {
  int64_t now = time_now_us(), prev = atomic_load(&last_sweep);
  if (now - prev < SWEEP_EVERY_US ||
      !atomic_compare_exchange_strong(&last_sweep, &prev, now))
    return 0;
  db_res *r = NULL;
  if (db_query(d,
               "SELECT DISTINCT p.profile_id, p.channel_id, "
               "p.provider_message_id FROM chat_status_pending p WHERE EXISTS "
               "(SELECT 1 FROM unified_messages m WHERE m.profile_id = "
               "p.profile_id AND m.channel_id = p.channel_id AND "
               "m.provider_message_id = p.provider_message_id) LIMIT 100",
               NULL, 0, &r, err))
    return -1;
  int n = db_res_rows(r), rc = 0;
  if (db_begin(d, 1, err)) {
    db_res_free(r);
    return -1;
  }
  for (int i = 0; i < n && rc == 0; i++)
    rc = chat_statuses_apply_pending(d, db_res_text(r, i, 0),
                                     db_res_text(r, i, 1),
                                     db_res_text(r, i, 2), err);
  db_res_free(r);
  db_val old[] = {db_ts(now - PENDING_KEEP_US)};
  if (rc == 0)
    rc = db_query(d, "DELETE FROM chat_status_pending WHERE received_at < $1",
                  old, 1, NULL, err);
  /* Bodies set aside as failed are kept a week for a person to look at
   * (their last_error says why), then dropped like the statuses. */
  if (rc == 0)
    rc = db_query(d,
                  "DELETE FROM chat_inbound WHERE state = 'failed' AND "
                  "received_at < $1",
                  old, 1, NULL, err);
  if (rc == 0) return db_commit(d, err) ? -1 : n;
  db_rollback(d);
  return -1;
}

/* ---- the batch ------------------------------------------------------------------ */

typedef struct chan_entry {
  char key[300]; /* "id:<uuid>" or "pn:<phone_number_id>" */
  int found;
  chat_channel ch;
  char owner_phone[17]; /* the business owner's phone, "" none */
} chan_entry;

typedef struct batch {
  db *d;
  arena *ba; /* the batch's: cached channels */
  arena *a;  /* one payload's, reset between payloads */
  chan_entry cache[CACHE_MAX];
  int ncache;
  int64_t now;
} batch;

static chan_entry *channel_get(batch *b, const char *id, const char *pnid,
                               db_err *err) {
  char key[300];
  snprintf(key, sizeof key, "%s:%s", id ? "id" : "pn", id ? id : pnid);
  for (int i = 0; i < b->ncache; i++)
    if (!strcmp(b->cache[i].key, key)) return &b->cache[i];
  if (b->ncache == CACHE_MAX) b->ncache = 0; /* a batch of many numbers */
  chan_entry *e = &b->cache[b->ncache];
  memset(e, 0, sizeof *e);
  snprintf(e->key, sizeof e->key, "%s", key);
  int rc = id ? chat_channel_load(b->d, b->ba, NULL, id, &e->ch, &e->found, err)
              : chat_channel_by_phone_number_id(b->d, b->ba, pnid, &e->ch,
                                                &e->found, err);
  if (rc) return NULL;
  if (e->found && !id && !e->ch.verified) {
    /* The shared route: any business may have typed this number into a
     * channel; only one that proved it owns it gets its messages. */
    log_warn("chat: WhatsApp number %.32s is not verified for its channel "
             "%s (rpc/connect_whatsapp); its messages are dropped",
             pnid, e->ch.id);
    e->found = 0;
  }
  if (e->found) {
    db_val v[] = {db_uuid(e->ch.profile_id)};
    db_res *r = NULL;
    if (db_query(b->d,
                       "SELECT coalesce(owner_phone, '') FROM profiles "
                       "WHERE id = $1",
                       v, 1, &r, err))
      return NULL;
    if (db_res_rows(r) > 0)
      snprintf(e->owner_phone, sizeof e->owner_phone, "%s",
               db_res_text(r, 0, 0));
    db_res_free(r);
  }
  b->ncache++;
  return e;
}

/* One inbound message, from either provider. */
typedef struct in_msg {
  const char *pmid; /* provider message id */
  chat_contact who;
  const char *type, *text, *metadata;
  int64_t at; /* µs */
  int from_owner;
} in_msg;

/* The provider's time when it is plausible (reordered deliveries then
 * keep the conversation's order), else now. */
static int64_t msg_time(const batch *b, int64_t ts_s) {
  if (ts_s <= 0 || ts_s > INT64_MAX / 1000000) return b->now;
  int64_t t = ts_s * 1000000;
  if (t > b->now + 300LL * 1000000 || t < b->now - 30 * US_PER_DAY)
    return b->now;
  return t;
}

/* Logs m in its session (found or created) once per provider id. With
 * emit, the session counts it unread and message.received goes out;
 * without (an owner-link command), only the row is written, so that a
 * redelivery finds it and does nothing. *dup is 1 when it was logged
 * already. */
static int log_message(batch *b, const chan_entry *ce, const in_msg *m,
                       int emit, int *dup, db_err *err) {
  const chat_channel *ch = &ce->ch;
  chat_session s;
  *dup = 0;
  if (chat_session_get_or_create(b->d, b->a, ch, &m->who, &s, NULL, err))
    return -1;
  char id[37];
  uuid_v7(id);
  db_val v[] = {db_uuid(ch->profile_id), db_uuid(id), db_uuid(s.id),
                db_uuid(ch->id), db_text(m->text), db_text(m->type),
                db_text(m->pmid), db_json(m->metadata), db_ts(m->at)};
  db_res *r = NULL;
  if (db_query_fixed(b->d,
                     "INSERT INTO unified_messages (profile_id, id, "
                     "session_id, channel_id, direction, content, "
                     "message_type, status, provider_message_id, metadata, "
                     "sender, created_at, updated_at) VALUES ($1, $2, $3, "
                     "$4, 'inbound', $5, $6, 'received', $7, $8, 'customer', "
                     "$9, $9) ON CONFLICT (profile_id, channel_id, "
                     "provider_message_id) DO NOTHING RETURNING id",
                     v, 9, &r, err))
    return -1;
  int inserted = db_res_rows(r) > 0;
  db_res_free(r);
  if (!inserted) {
    *dup = 1;
    return 0;
  }
  if (!emit) return 0;
  db_val u[] = {db_uuid(ch->profile_id), db_uuid(s.id), db_ts(m->at),
                db_ts(b->now)};
  if (db_query(b->d,
                     "UPDATE sessions SET last_inbound_at = CASE WHEN "
                     "last_inbound_at IS NULL OR last_inbound_at < $3 THEN $3 "
                     "ELSE last_inbound_at END, last_message_at = CASE WHEN "
                     "last_message_at IS NULL OR last_message_at < $3 THEN $3 "
                     "ELSE last_message_at END, unread_count = unread_count + "
                     "1, status = 'open', updated_at = $4 WHERE profile_id = "
                     "$1 AND id = $2",
                     u, 4, NULL, err))
    return -1;
  buf p;
  buf_init(&p, 0);
  json_obj o;
  json_obj_open(&o, &p);
  json_obj_str(&o, "message_id", id);
  json_obj_str(&o, "session_id", s.id);
  json_obj_str(&o, "channel_id", ch->id);
  json_obj_str(&o, "customer_id", *s.customer_id ? s.customer_id : NULL);
  json_obj_str(&o, "platform",
               ch->platform == CHAT_TELEGRAM ? "telegram" : "whatsapp");
  json_obj_str(&o, "message_type", m->type);
  json_obj_str(&o, "text", m->text);
  json_obj_bool(&o, "from_owner", m->from_owner);
  json_obj_str(&o, "contact_id", m->who.contact_id);
  json_obj_str(&o, "contact_name", m->who.name);
  json_obj_close(&o);
  int rc = event_emit(b->d, ch->profile_id, "message.received", "message", id,
                      buf_cstr(&p), NULL, err);
  buf_free(&p);
  return rc;
}

/* ---- WhatsApp ------------------------------------------------------------------- */

/* A failure that retrying cannot mend: the row is set aside at once. */
#define PERMANENT 1

static int process_wa(batch *b, const char *channel_id, const char *body,
                      int *permanent, char *why, size_t whylen, db_err *err) {
  wa_payload p;
  if (wa_parse(b->a, body, strlen(body), &p, why, whylen)) {
    *permanent = PERMANENT;
    return -1;
  }
  for (size_t i = 0; i < p.n_changes; i++) {
    const wa_change *c = &p.changes[i];
    chan_entry *ce = channel_get(b, channel_id, c->phone_number_id, err);
    if (!ce) return -1;
    if (!ce->found || ce->ch.platform != CHAT_WHATSAPP) {
      /* Acknowledged and dropped: retrying cannot make it known. */
      log_info("chat: whatsapp change for phone_number_id %s dropped: no "
               "such channel%s",
               c->phone_number_id, channel_id ? " (it was deleted)" : "");
      continue;
    }
    if (channel_id && strcmp(ce->ch.phone_number_id, c->phone_number_id)) {
      /* The channel's secret proves the sender may write to this channel
       * only, not to another business's number. */
      log_warn("chat: whatsapp change for phone_number_id %s posted to "
               "channel %s (number %s) ignored",
               c->phone_number_id, ce->ch.id, ce->ch.phone_number_id);
      continue;
    }
    for (size_t j = 0; j < c->n_messages; j++) {
      const wa_message *m = &c->messages[j];
      char phone[17] = "";
      if (m->wa_id) {
        char plus[WA_MAX_CONTACT + 2];
        snprintf(plus, sizeof plus, "+%s", m->wa_id);
        if (phone_e164(plus, phone)) phone[0] = 0;
      }
      in_msg im = {.pmid = m->id,
                   .who = {m->from, m->name, *phone ? phone : NULL},
                   .type = m->type,
                   .text = m->text,
                   .metadata = m->metadata,
                   .at = msg_time(b, m->timestamp),
                   .from_owner = *phone && *ce->owner_phone &&
                                 !strcmp(phone, ce->owner_phone)};
      int dup;
      if (log_message(b, ce, &im, 1, &dup, err)) return -1;
    }
    for (size_t j = 0; j < c->n_statuses; j++) {
      const wa_status *s = &c->statuses[j];
      if (apply_status(b->d, ce->ch.profile_id, ce->ch.id, s->id,
                       s->callback_data, s->status, s->error, b->now, err))
        return -1;
    }
  }
  return 0;
}

/* ---- Telegram ------------------------------------------------------------------- */

/* The code of "/start <code>" or "link <code>", or NULL. */
static const char *link_code(arena *a, const char *text) {
  while (*text == ' ') text++;
  size_t skip = 0;
  if (!strncmp(text, "/start ", 7))
    skip = 7;
  else if (!strncasecmp(text, "link ", 5))
    skip = 5;
  else
    return NULL;
  const char *c = text + skip;
  while (*c == ' ') c++;
  size_t n = strcspn(c, " \t\r\n");
  const char *rest = c + n;
  while (*rest == ' ' || *rest == '\t' || *rest == '\r' || *rest == '\n') rest++;
  if (n == 0 || n > 64 || *rest) return NULL;
  return arena_strndup(a, c, n);
}

/* Links the channel's owner to chat_id when code is its live one-time
 * code; *linked says whether it did. */
static int owner_link(batch *b, chan_entry *ce, const char *chat_id,
                      const char *code, int *linked, db_err *err) {
  *linked = 0;
  db_val k[] = {db_uuid(ce->ch.profile_id), db_uuid(ce->ch.id),
                db_text(chat_id), db_ts(b->now), db_text(code)};
  db_res *r = NULL;
  if (db_query(b->d,
                     "SELECT coalesce(owner_link_code, ''), "
                     "owner_link_expires_at FROM channels WHERE profile_id = "
                     "$1 AND id = $2",
                     k, 2, &r, err))
    return -1;
  int ok = 0;
  if (db_res_rows(r) > 0 && !db_res_isnull(r, 0, 1) &&
      db_res_ts(r, 0, 1) > b->now) {
    const char *want = db_res_text(r, 0, 0);
    uint8_t h1[32], h2[32]; /* compared as digests: constant time */
    sha256(want, strlen(want), h1);
    sha256(code, strlen(code), h2);
    ok = *want && ct_equal(h1, h2, 32);
  }
  db_res_free(r);
  if (!ok) return 0;
  r = NULL;
  if (db_query(b->d,
                     "UPDATE channels SET owner_chat_id = $3, owner_link_code "
                     "= NULL, owner_link_expires_at = NULL, updated_at = $4 "
                     "WHERE profile_id = $1 AND id = $2 AND owner_link_code = "
                     "$5",
                     k, 5, &r, err))
    return -1;
  *linked = db_res_changes(r) == 1;
  db_res_free(r);
  if (*linked) {
    ce->ch.owner_chat_id = arena_strdup(b->ba, chat_id);
    log_info("chat: telegram channel %s linked to its owner's chat", ce->ch.id);
  }
  return 0;
}

static int process_tg(batch *b, const char *channel_id, const char *body,
                      int *permanent, char *why, size_t whylen, db_err *err) {
  tg_update u;
  if (tg_parse(b->a, body, strlen(body), &u, why, whylen)) {
    *permanent = PERMANENT;
    return -1;
  }
  if (u.kind == TG_OTHER) return 0;
  if (!channel_id) {
    *permanent = PERMANENT;
    snprintf(why, whylen, "a telegram update without a channel");
    return -1;
  }
  chan_entry *ce = channel_get(b, channel_id, NULL, err);
  if (!ce) return -1;
  if (!ce->found || ce->ch.platform != CHAT_TELEGRAM) {
    log_info("chat: telegram update %" PRId64 " for channel %s dropped: no "
             "such channel", u.update_id, channel_id);
    return 0;
  }
  in_msg im = {.who = {u.chat_id, u.name, NULL},
               .type = u.type,
               .text = u.text,
               .metadata = u.metadata,
               .at = msg_time(b, u.date),
               .from_owner = *ce->ch.owner_chat_id &&
                             !strcmp(ce->ch.owner_chat_id, u.chat_id)};
  int dup;
  if (u.kind == TG_CALLBACK) {
    im.pmid = arena_printf(b->a, "cb:%s", u.callback_id);
    im.at = b->now;
    return log_message(b, ce, &im, 1, &dup, err);
  }
  im.pmid = arena_printf(b->a, "%s:%s", u.chat_id, u.message_id);
  if (u.kind == TG_EDITED) {
    db_val v[] = {db_uuid(ce->ch.profile_id), db_uuid(ce->ch.id),
                  db_text(im.pmid), db_text(im.text), db_json(im.metadata),
                  db_ts(b->now)};
    db_res *r = NULL;
    if (db_query(b->d,
                       "UPDATE unified_messages SET content = $4, metadata = "
                       "$5, updated_at = $6 WHERE profile_id = $1 AND "
                       "channel_id = $2 AND provider_message_id = $3 AND "
                       "direction = 'inbound'",
                       v, 6, &r, err))
      return -1;
    int64_t changed = db_res_changes(r);
    db_res_free(r);
    if (changed > 0) return 0;
    /* The edit came first (or the original was lost): log it as the
     * message; the original, if it comes, is then a duplicate. */
  }
  /* Only a private chat links (there the chat is the person: its id is
   * the sender's): a code sent in a group would make every member the
   * owner (found by review). */
  const char *code = u.kind == TG_MESSAGE && u.from_id &&
                             !strcmp(u.from_id, u.chat_id)
                         ? link_code(b->a, u.text)
                         : NULL;
  if (code) {
    int linked;
    if (owner_link(b, ce, u.chat_id, code, &linked, err)) return -1;
    if (linked) {
      /* Kept without the code and without an event: the agent does not
       * answer it, and a redelivery finds the row and does nothing. */
      in_msg lm = im;
      lm.text = "/start";
      lm.metadata = "{\"owner_link\":true}";
      return log_message(b, ce, &lm, 0, &dup, err);
    }
  }
  return log_message(b, ce, &im, 1, &dup, err);
}

/* ---- the poller ------------------------------------------------------------------ */

typedef struct claimed {
  int64_t id;
  int telegram;
  const char *channel_id; /* NULL: the shared WhatsApp route */
  const char *payload;
  int attempts;
} claimed;

static int by_id(const void *x, const void *y) {
  const claimed *a = x, *b = y;
  return (a->id > b->id) - (a->id < b->id);
}

/* Claims up to n due rows for worker, in one short write transaction. */
static int claim(db *d, arena *a, const char *worker, int n, claimed **out,
                 int *got, db_err *err) {
  static const char *const sql[2] = {
      "UPDATE chat_inbound SET attempts = attempts + 1, claimed_by = $2, "
      "lease_until = $3 WHERE id IN (SELECT id FROM chat_inbound WHERE state "
      "= 'pending' AND (lease_until IS NULL OR lease_until < $1) ORDER BY id "
      "LIMIT $4) RETURNING id, platform, channel_id, payload, attempts",
      /* The rows are picked once (MATERIALIZED) and joined by key: as an
       * IN (subquery), a plan made while the table was empty ran the
       * locking subquery again for every pending row, which is quadratic
       * in the backlog and stalled the workers for minutes. */
      "WITH c AS MATERIALIZED (SELECT id FROM chat_inbound WHERE state = "
      "'pending' AND (lease_until IS NULL OR lease_until < $1) ORDER BY id "
      "LIMIT $4 FOR UPDATE SKIP LOCKED) UPDATE chat_inbound t SET attempts "
      "= t.attempts + 1, claimed_by = $2, lease_until = $3 FROM c WHERE "
      "t.id = c.id RETURNING t.id, t.platform, t.channel_id, t.payload, "
      "t.attempts"};
  int64_t now = time_now_us();
  db_val v[] = {db_ts(now), db_text(worker ? worker : "?"),
                db_ts(now + LEASE_S * 1000000LL), db_int(n)};
  db_res *r = NULL;
  *got = 0;
  if (db_begin(d, 1, err)) return -1;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], v, 4, &r, err) ||
      db_commit(d, err)) {
    db_res_free(r);
    db_rollback(d);
    return -1;
  }
  int rows = db_res_rows(r);
  claimed *c = arena_alloc(a, (size_t)(rows ? rows : 1) * sizeof *c);
  for (int i = 0; i < rows; i++) {
    c[i].id = db_res_int(r, i, 0);
    c[i].telegram = !strcmp(db_res_text(r, i, 1), "telegram");
    c[i].channel_id =
        db_res_isnull(r, i, 2) ? NULL : arena_strdup(a, db_res_text(r, i, 2));
    c[i].payload = arena_strdup(a, db_res_text(r, i, 3));
    c[i].attempts = (int)db_res_int(r, i, 4);
  }
  db_res_free(r);
  qsort(c, (size_t)rows, sizeof *c, by_id);
  *out = c;
  *got = rows;
  return 0;
}

/* Records why row c failed: retried after a back-off, or set aside. A
 * transient failure of the database (a lock wait or serialization failure
 * under load, a lost connection) does not count towards setting the row
 * aside: the payload is good, the moment was not. */
static int record_failure(db *d, const claimed *c, int permanent,
                          int transient, const char *why, db_err *err) {
  int give_up =
      permanent || (!transient && c->attempts >= CHAT_INBOUND_MAX_ATTEMPTS);
  int64_t retry_at =
      time_now_us() + (int64_t)(c->attempts < 30 ? c->attempts : 30) * 2 *
                          1000000;
  db_val v[] = {db_int(c->id), db_text(give_up ? "failed" : "pending"),
                db_text(why), give_up ? db_null() : db_ts(retry_at),
                db_int(transient && !give_up ? 1 : 0)};
  if (give_up)
    log_warn("chat: inbound payload %" PRId64 " set aside after %d "
             "attempt(s): %s",
             c->id, c->attempts, why);
  return db_query_fixed(d,
                        "UPDATE chat_inbound SET state = $2, last_error = $3, "
                        "claimed_by = NULL, lease_until = $4, attempts = "
                        "attempts - $5 WHERE id = $1",
                        v, 5, NULL, err);
}

/* Processes one claimed row on the open transaction; why gets the reason
 * of a failure that is not the database's. */
static int process_row(batch *b, const claimed *c, int *permanent, char *why,
                       size_t whylen, db_err *perr) {
  arena_reset(b->a);
  return c->telegram ? process_tg(b, c->channel_id, c->payload, permanent,
                                  why, whylen, perr)
                     : process_wa(b, c->channel_id, c->payload, permanent,
                                  why, whylen, perr);
}

/* The common case: the whole batch in one transaction and its rows
 * deleted by one statement (fewer round trips: they are most of the cost
 * on PostgreSQL). Returns 0 when committed, 1 when some row failed (all
 * undone), -1 when the database failed. */
static int batch_fast(batch *b, const claimed *rows, int n, const char *token,
                      db_err *err) {
  if (db_begin(b->d, 1, err)) return -1;
  b->now = time_now_us();
  for (int i = 0; i < n; i++) {
    int permanent = 0;
    char why[256];
    db_err perr = {0};
    if (process_row(b, &rows[i], &permanent, why, sizeof why, &perr)) {
      db_rollback(b->d);
      b->ncache = 0;
      return 1;
    }
  }
  db_val v[] = {db_int(rows[0].id), db_int(rows[n - 1].id), db_text(token)};
  if (db_query_fixed(b->d,
                     "DELETE FROM chat_inbound WHERE id BETWEEN $1 AND $2 AND "
                     "claimed_by = $3",
                     v, 3, NULL, err) ||
      db_commit(b->d, err)) {
    db_rollback(b->d);
    b->ncache = 0;
    return 1;
  }
  return 0;
}

/* After a failure: each row in a transaction of its own, so one bad
 * payload is retried (or set aside) alone. */
static int batch_slow(batch *b, const claimed *rows, int n, db_err *err) {
  for (int i = 0; i < n; i++) {
    int permanent = 0;
    char why[256] = "";
    db_err perr = {0};
    if (db_begin(b->d, 1, err)) return -1;
    b->now = time_now_us();
    int prc = process_row(b, &rows[i], &permanent, why, sizeof why, &perr);
    if (prc == 0) {
      db_val v[] = {db_int(rows[i].id)};
      prc = db_query_fixed(b->d, "DELETE FROM chat_inbound WHERE id = $1", v,
                           1, NULL, &perr);
    }
    if (prc == 0 && db_commit(b->d, &perr) == 0) continue;
    db_rollback(b->d);
    b->ncache = 0; /* what the undone part cached may be undone too */
    int transient = !*why && (api_sqlstate_retryable(perr.code) ||
                              !strncmp(perr.code, "08", 2));
    if (!*why)
      snprintf(why, sizeof why, "database: [%s] %.200s", perr.code,
               perr.message);
    if (record_failure(b->d, &rows[i], permanent, transient, why, err))
      return -1;
  }
  return 0;
}

int chat_inbound_poll(void *arg, db *d, const char *worker, db_err *err) {
  const chat_inbound_opts *o = arg;
  int want = o && o->batch > 0 && o->batch <= 1000 ? o->batch
                                                  : CHAT_INBOUND_BATCH;
  int swept = sweep_pending(d, err);
  if (swept < 0) {
    log_warn("chat: pending statuses sweep failed: %s", err->message);
    swept = 0;
  }
  arena *ca = arena_new();
  batch b = {.d = d, .ba = arena_new(), .a = arena_new()};
  claimed *rows = NULL;
  int n = 0, rc = -1;
  /* The claim's own token: the fast path deletes exactly the rows this
   * claim still holds (one taken over after a lost lease is not). */
  char token[128], u[37];
  uuid_v7(u);
  snprintf(token, sizeof token, "%.80s/%s", worker ? worker : "?", u);
  if (claim(d, ca, token, want, &rows, &n, err)) goto out;
  if (n == 0) {
    rc = swept;
    goto out;
  }
  int fast = batch_fast(&b, rows, n, token, err);
  if (fast < 0) goto out;
  if (fast > 0 && batch_slow(&b, rows, n, err)) goto out;
  rc = n + swept;
out:
  arena_free(b.a);
  arena_free(b.ba);
  arena_free(ca);
  return rc;
}
