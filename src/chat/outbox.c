/* outbox.c - the chat outbox's sender (chat.h chat_outbox_poll): takes
 * queued messages from chat_outbox, sends them through the provider's API
 * and records the outcome on the unified_messages row.
 *
 * One message goes through these steps (docs/chat.md, "Outbox"):
 *
 *   1. claim: one UPDATE marks a batch of due 'pending' rows 'sending' under
 *      a lease (PostgreSQL: FOR UPDATE SKIP LOCKED, so concurrent workers
 *      take different rows; SQLite: the write lock) and COMMITS, before any
 *      provider is called;
 *   2. check: the channel is active, the row is a message the provider can
 *      carry, WhatsApp's 24-hour window (a closed one turns free text into
 *      the message's own or the channel's default template, or fails it
 *      here with a clear reason), and the channel's rate limit (a token
 *      bucket in this process: a row over it goes back to 'pending' for the
 *      moment a token is due, its attempt not counted);
 *   3. call the provider (net/http_client.h, short timeouts, no automatic
 *      retry: retries are the outbox's, spread over time);
 *   4. record, in one transaction: 'sent' with the provider's id, or
 *      'failed' with {code, title, message}, and the outbox row deleted; a
 *      transient error puts the row back 'pending' with an exponential
 *      backoff with jitter (or the wait the provider asked for), until
 *      OUTBOX_MAX_ATTEMPTS or OUTBOX_MAX_AGE_US, when it fails "gave_up".
 *
 * A row still 'sending' when its lease has run out belonged to a process
 * that died between step 1 and step 4. Of one claim's rows only the first
 * still 'sending' can have been on the wire (a batch goes out one message
 * at a time, each outcome committed before the next call); the others go
 * back to 'pending'. For that first one the provider may or may not have
 * the message. It is never sent again (that could double it); the message keeps
 * status 'queued' and gets error "outcome_unknown", and a status webhook
 * for it (WhatsApp echoes munshi's message id as biz_opaque_callback_data)
 * settles it. A message queued but not yet claimed when a process dies is
 * simply 'pending' and is sent after the restart, once. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/crypto.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "chat/chat.h"
#include "chat/inbound.h"
#include "chat/send.h"
#include "chat/store.h"
#include "net/http_client.h"

#define OUTBOX_BATCH 16
#define OUTBOX_CONNECT_TIMEOUT_MS 5000L
#define OUTBOX_CALL_TIMEOUT_MS 15000L
#define OUTBOX_UPLOAD_TIMEOUT_MS 30000L /* a document upload */
/* The lease covers a whole batch of calls that all time out, and more
 * (chat_settings.outbox_lease_s, 300 s by default = 60 s + 16 x 15 s). */
#define OUTBOX_LEASE_US \
  ((int64_t)chat_settings_get()->outbox_lease_s * 1000000)
#define OUTBOX_MAX_ATTEMPTS 12
#define OUTBOX_MAX_AGE_US (24LL * 3600 * 1000000)
#define OUTBOX_BACKOFF_BASE_MS 2000L
#define OUTBOX_BACKOFF_MAX_MS (10L * 60 * 1000)
#define OUTBOX_RETRY_AFTER_MAX_MS (60L * 60 * 1000)
#define OUTBOX_WHATSAPP_RATE 80
#define OUTBOX_TELEGRAM_RATE 30

/* ---- the rate limit -------------------------------------------------------------- */

/* A token bucket per channel, in this process's memory: rate tokens a
 * second, a burst of one second's worth. Each process (`munshi serve`,
 * every `munshi worker`) applies the limit on its own, so n processes may
 * together send up to n times a channel's rate; the provider's own 429s
 * (retried) catch the rest. Tokens are counted in millionths. */
#define BUCKETS 256
static struct bucket {
  char channel[37];
  int rate;
  int64_t micro_tokens;
  int64_t at_us;
} buckets[BUCKETS];
static pthread_mutex_t buckets_mu = PTHREAD_MUTEX_INITIALIZER;

/* 0 when a token was taken now, else the microseconds until one is due. */
static int64_t rate_take(const char *channel, int rate, int64_t now) {
  int64_t wait = 0;
  pthread_mutex_lock(&buckets_mu);
  struct bucket *b = NULL, *oldest = &buckets[0];
  for (int i = 0; i < BUCKETS && !b; i++) {
    if (!strcmp(buckets[i].channel, channel)) b = &buckets[i];
    else if (buckets[i].at_us < oldest->at_us) oldest = &buckets[i];
  }
  int64_t cap = (int64_t)rate * 1000000;
  if (!b) { /* a new channel, or one unused the longest makes room */
    b = oldest;
    snprintf(b->channel, sizeof b->channel, "%s", channel);
    b->micro_tokens = cap;
    b->at_us = now;
  }
  if (b->rate != rate && b->micro_tokens > cap) b->micro_tokens = cap;
  b->rate = rate;
  if (now > b->at_us) {
    int64_t add = (now - b->at_us) * rate; /* µs × tokens/s = micro-tokens */
    b->micro_tokens = b->micro_tokens + add > cap ? cap : b->micro_tokens + add;
    b->at_us = now;
  }
  if (b->micro_tokens >= 1000000)
    b->micro_tokens -= 1000000;
  else
    wait = (1000000 - b->micro_tokens + rate - 1) / rate;
  pthread_mutex_unlock(&buckets_mu);
  return wait;
}

/* ---- claims ---------------------------------------------------------------------- */

typedef struct claimed {
  char profile_id[37];
  char message_id[37];
  char channel_id[37];
  int attempts; /* after this claim: the fencing token of the later writes */
  int64_t created_at;
} claimed;

static int by_message(const void *x, const void *y) {
  return strcmp(((const claimed *)x)->message_id, ((const claimed *)y)->message_id);
}

static int claim(db *d, const char *worker, int64_t now, claimed *out, int *n,
                 db_err *err) {
  static const char *const sql[2] = {
      "UPDATE chat_outbox SET state = 'sending', claimed_by = $2, lease_until "
      "= $3, attempts = attempts + 1 WHERE state = 'pending' AND (profile_id, "
      "message_id) IN (SELECT profile_id, message_id FROM chat_outbox WHERE "
      "state = 'pending' AND next_attempt_at <= $1 ORDER BY next_attempt_at "
      "LIMIT $4) RETURNING profile_id, message_id, channel_id, attempts, "
      "created_at",
      /* Picked once and joined by key, as the inbound claim (inbound.c):
       * an IN (subquery) may be planned to lock again per pending row. */
      "WITH c AS MATERIALIZED (SELECT profile_id, message_id FROM "
      "chat_outbox WHERE state = 'pending' AND next_attempt_at <= $1 ORDER "
      "BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) UPDATE "
      "chat_outbox t SET state = 'sending', claimed_by = $2, lease_until = "
      "$3, attempts = t.attempts + 1 FROM c WHERE t.profile_id = "
      "c.profile_id AND t.message_id = c.message_id RETURNING t.profile_id, "
      "t.message_id, t.channel_id, t.attempts, t.created_at"};
  db_val v[] = {db_ts(now), db_text(worker ? worker : "worker"),
                db_ts(now + OUTBOX_LEASE_US), db_int(OUTBOX_BATCH)};
  db_res *r = NULL;
  *n = 0;
  if (db_query(d, sql[db_kind_of(d) == DB_POSTGRES], v, 4, &r, err)) return -1;
  for (int i = 0; i < db_res_rows(r) && i < OUTBOX_BATCH; i++) {
    claimed *c = &out[(*n)++];
    snprintf(c->profile_id, sizeof c->profile_id, "%s", db_res_text(r, i, 0));
    snprintf(c->message_id, sizeof c->message_id, "%s", db_res_text(r, i, 1));
    snprintf(c->channel_id, sizeof c->channel_id, "%s", db_res_text(r, i, 2));
    c->attempts = (int)db_res_int(r, i, 3);
    c->created_at = db_res_ts(r, i, 4);
  }
  db_res_free(r);
  /* UUIDv7 ids sort by creation: a batch goes out in the order queued. */
  qsort(out, (size_t)*n, sizeof *out, by_message);
  return 0;
}

/* The rows whose sender died mid-call (see the top of the file). */
static int settle_unknown(db *d, int64_t now, int *settled, db_err *err) {
  *settled = 0;
  db_res *r = NULL;
  db_val v[] = {db_ts(now)};
  /* Cheap test first: nearly always there is none. */
  if (db_query(d,
               "SELECT count(*) FROM chat_outbox WHERE state = 'sending' AND "
               "lease_until < $1",
               v, 1, &r, err))
    return -1;
  int64_t n = db_res_int(r, 0, 0);
  db_res_free(r);
  r = NULL;
  if (n == 0) return 0;
  static const char unknown[] =
      "{\"code\":\"outcome_unknown\",\"title\":\"Outcome unknown\","
      "\"message\":\"munshi stopped while the provider was being called, so "
      "whether the message went out is not known. It was not sent again, "
      "to avoid a duplicate; a status from the provider for this message "
      "will update it.\"}";
  db_val u[] = {db_ts(now), db_json(unknown)};
  if (db_begin(d, 1, err)) return -1;
  /* A batch is sent one message at a time in message_id order, and each
   * outcome is committed before the next call starts (send_one). So of a
   * dead claim's rows (one claim: one claimed_by and lease_until) only the
   * first still 'sending' can have been on the wire; the rest were never
   * called and go back to 'pending' to be sent once, their claim not
   * counted as an attempt (found by the workflow kill test: a kill
   * stranded up to 15 unsent messages of a batch). */
  if (db_query(d,
               "UPDATE chat_outbox SET state = 'pending', claimed_by = NULL, "
               "lease_until = NULL, next_attempt_at = $1, attempts = "
               "attempts - 1 WHERE state = 'sending' AND lease_until < $1 AND "
               "EXISTS (SELECT 1 FROM chat_outbox o WHERE o.state = "
               "'sending' AND o.claimed_by = chat_outbox.claimed_by AND "
               "o.lease_until = chat_outbox.lease_until AND o.message_id < "
               "chat_outbox.message_id)",
               v, 1, &r, err)) {
    db_rollback(d);
    return -1;
  }
  int64_t back = db_res_changes(r);
  db_res_free(r);
  r = NULL;
  if (back > 0)
    log_warn("chat.outbox: %lld message(s) claimed but not yet sent when "
             "their sender stopped; queued again",
             (long long)back);
  if (db_query(d,
               "UPDATE unified_messages SET error = $2, updated_at = $1 WHERE "
               "status = 'queued' AND (profile_id, id) IN (SELECT profile_id, "
               "message_id FROM chat_outbox WHERE state = 'sending' AND "
               "lease_until < $1)",
               u, 2, NULL, err) ||
      db_query(d,
               "DELETE FROM chat_outbox WHERE state = 'sending' AND "
               "lease_until < $1",
               v, 1, &r, err)) {
    db_rollback(d);
    return -1;
  }
  int64_t gone = db_res_changes(r);
  db_res_free(r);
  if (db_commit(d, err)) return -1;
  if (gone > 0)
    log_warn("chat.outbox: %lld message(s) were in flight when their sender "
             "stopped; marked outcome_unknown, not sent again",
             (long long)gone);
  *settled = (int)gone;
  return 0;
}

/* ---- recording outcomes ------------------------------------------------------------ */

static int64_t jitter(int64_t span) {
  uint64_t x;
  random_bytes(&x, sizeof x);
  return span > 0 ? (int64_t)(x % (uint64_t)(span + 1)) : 0;
}

/* Back to 'pending' for another try at next_at. undo: the attempt did not
 * happen (the rate limit), so it is not counted. */
static int put_back(db *d, const claimed *c, int64_t next_at, int undo,
                    const char *last_error, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->message_id),
                db_int(c->attempts), db_ts(next_at), db_int(undo ? 1 : 0),
                last_error ? db_text(last_error) : db_null()};
  return db_query(d,
                  "UPDATE chat_outbox SET state = 'pending', attempts = "
                  "attempts - $5, next_attempt_at = $4, last_error = "
                  "coalesce($6, last_error), claimed_by = NULL, lease_until "
                  "= NULL WHERE profile_id = $1 AND message_id = $2 AND "
                  "attempts = $3 AND state = 'sending'",
                  v, 6, NULL, err);
}

static int record(db *d, const claimed *c, const chat_send_result *res,
                  db_err *err) {
  int64_t now = time_now_us();
  buf e;
  buf_init(&e, 4096);
  int rc = -1;
  if (db_begin(d, 1, err)) goto out;
  if (res->outcome == CHAT_SEND_SENT) {
    /* 'queued' → 'sent' only: a status webhook matched through
     * biz_opaque_callback_data may have moved it further already. */
    db_val v[] = {db_uuid(c->profile_id), db_uuid(c->message_id),
                  db_text(res->provider_id), db_ts(now)};
    if (db_query_fixed(d,
                       "UPDATE unified_messages SET status = CASE WHEN "
                       "status = 'queued' THEN 'sent' ELSE status END, "
                       "provider_message_id = $3, error = NULL, updated_at = "
                       "$4 WHERE profile_id = $1 AND id = $2",
                       v, 4, NULL, err))
      goto fail;
  } else {
    if (chat_send_error_json(res, &e)) goto fail;
    db_val v[] = {db_uuid(c->profile_id), db_uuid(c->message_id),
                  db_json(buf_cstr(&e)), db_ts(now)};
    if (db_query_fixed(d,
                       "UPDATE unified_messages SET status = 'failed', error "
                       "= $3, updated_at = $4 WHERE profile_id = $1 AND id = "
                       "$2 AND status = 'queued'",
                       v, 4, NULL, err))
      goto fail;
  }
  db_val k[] = {db_uuid(c->profile_id), db_uuid(c->message_id),
                db_int(c->attempts)};
  if (db_query_fixed(d,
                     "DELETE FROM chat_outbox WHERE profile_id = $1 AND "
                     "message_id = $2 AND attempts = $3 AND state = 'sending'",
                     k, 3, NULL, err))
    goto fail;
  /* WhatsApp statuses that arrived for this provider id before it was
   * stored wait in chat_status_pending: apply them now, in this commit. */
  if (res->outcome == CHAT_SEND_SENT &&
      chat_statuses_apply_pending(d, c->profile_id, c->channel_id,
                                  res->provider_id, err))
    goto fail;
  if (db_commit(d, err)) goto out;
  rc = 0;
  goto out;
fail:
  db_rollback(d);
out:
  buf_free(&e);
  return rc;
}

static long backoff_ms(int attempts) {
  long step = OUTBOX_BACKOFF_BASE_MS;
  for (int i = 1; i < attempts && step < OUTBOX_BACKOFF_MAX_MS; i++) step *= 2;
  if (step > OUTBOX_BACKOFF_MAX_MS) step = OUTBOX_BACKOFF_MAX_MS;
  return step / 2 + (long)jitter(step / 2);
}

static int retry_or_give_up(db *d, const claimed *c, chat_send_result *res,
                            db_err *err) {
  int64_t now = time_now_us();
  char last[600];
  snprintf(last, sizeof last, "%s: %s", res->code, res->message);
  if (c->attempts >= OUTBOX_MAX_ATTEMPTS || now - c->created_at > OUTBOX_MAX_AGE_US) {
    chat_send_result g;
    char title[128];
    snprintf(title, sizeof title, "Gave up after %d attempts", c->attempts);
    chat_send_fail(&g, "gave_up", title, last);
    return record(d, c, &g, err);
  }
  long wait = res->retry_after_ms >= 0 ? res->retry_after_ms : backoff_ms(c->attempts);
  if (wait > OUTBOX_RETRY_AFTER_MAX_MS) wait = OUTBOX_RETRY_AFTER_MAX_MS;
  return put_back(d, c, now + (int64_t)wait * 1000, 0, last, err);
}

/* ---- one message ------------------------------------------------------------------- */

typedef struct chan_cache {
  char id[37];
  int found;
  chat_channel ch;
} chan_cache;

static const chat_channel *channel_get(db *d, arena *a, chan_cache *cache,
                                       int *n, const claimed *c, db_err *err,
                                       int *dberr) {
  *dberr = 0;
  for (int i = 0; i < *n; i++)
    if (!strcmp(cache[i].id, c->channel_id))
      return cache[i].found ? &cache[i].ch : NULL;
  chan_cache *e = &cache[(*n)++];
  snprintf(e->id, sizeof e->id, "%s", c->channel_id);
  if (chat_channel_load(d, a, c->profile_id, c->channel_id, &e->ch, &e->found,
                        err)) {
    e->found = 0;
    *dberr = 1;
    (*n)--;
    return NULL;
  }
  return e->found ? &e->ch : NULL;
}

/* ---- documents ---------------------------------------------------------------------- */

enum { DOC_READY, DOC_RETRY, DOC_FAILED };

/* Renders a message's document through the registered source and, for
 * WhatsApp, uploads it (POST /<phone_number_id>/media) so that the message
 * can name the media id. Runs with no transaction open: rendering reads the
 * books, and the upload is a provider call. An upload is made again on
 * every attempt (a media id is cheap and an upload has no effect a customer
 * sees), so a lost answer is retried on the normal backoff. */
static int prepare_document(db *d, arena *a, const claimed *c,
                            const chat_send_target *t, chat_message *m,
                            chat_send_result *res) {
  char why[256] = "";
  buf doc;
  buf_init(&doc, CHAT_DOC_MAX);
  const char *fname = NULL;
  int rc = DOC_FAILED;
  int r = chat_document_render(d, a, c->profile_id, m->doc_source, m->doc_ref,
                               &doc, &fname, why, sizeof why);
  if (r == -2) {
    chat_send_fail(res, "document_busy", "The document could not be made now",
                   *why ? why : "the document source asked to try later");
    res->outcome = CHAT_SEND_RETRY;
    rc = DOC_RETRY;
    goto out;
  }
  if (r != 0 || doc.len == 0) {
    chat_send_fail(res, "document_unavailable", "The document could not be made",
                   *why ? why : "the document source gave no bytes");
    goto out;
  }
  if (!m->doc_filename) m->doc_filename = fname && *fname ? arena_strdup(a, fname) : "document.pdf";
  m->doc_data = arena_strndup(a, buf_cstr(&doc), doc.len);
  m->doc_len = doc.len;
  if (t->platform != CHAT_WHATSAPP) {
    rc = DOC_READY;
    goto out;
  }
  chat_http h;
  if (chat_media_build(a, t, m->doc_filename, "application/pdf", m->doc_data,
                       m->doc_len, &h, why, sizeof why)) {
    chat_send_fail(res, "invalid_message", "Message cannot be sent", why);
    goto out;
  }
  net_header hd[2] = {{"Content-Type", h.content_type},
                      {"Authorization", h.authorization}};
  static const char *const keep[] = {"Retry-After"};
  net_req req = {.method = h.method,
                 .url = h.url,
                 .headers = hd,
                 .n_headers = 2,
                 .body = h.body,
                 .body_len = h.body_len,
                 .connect_timeout_ms = OUTBOX_CONNECT_TIMEOUT_MS,
                 .timeout_ms = OUTBOX_UPLOAD_TIMEOUT_MS,
                 .max_response = 64 * 1024,
                 .keep_headers = keep,
                 .n_keep = 1};
  net_result nr;
  if (net_request(&req, &nr) == 0) {
    chat_media_parse(nr.status, buf_cstr(&nr.body), nr.body.len,
                     net_result_header(&nr, "Retry-After"), res);
  } else {
    chat_send_transport(nr.err, res);
    /* A lost upload answer harms no one: no CHAT_SEND_UNSURE_WAIT_MS. */
    if (res->outcome == CHAT_SEND_RETRY) res->retry_after_ms = -1;
  }
  net_result_free(&nr);
  if (res->outcome == CHAT_SEND_SENT) {
    m->doc_media_id = arena_strdup(a, res->provider_id);
    rc = DOC_READY;
  } else {
    log_info("chat.outbox: message %s: media upload %s %s", c->message_id,
             res->outcome == CHAT_SEND_RETRY ? "retry" : "failed", res->code);
    rc = res->outcome == CHAT_SEND_RETRY ? DOC_RETRY : DOC_FAILED;
  }
out:
  buf_free(&doc);
  return rc;
}

/* Sends one claimed message. *called is 1 once the provider has been
 * called. Returns -1 only on a database error. */
static int send_one(db *d, arena *a, const claimed *c, chan_cache *cache,
                    int *ncache, int *called, db_err *err) {
  *called = 0;
  int64_t now = time_now_us();
  chat_send_result res;
  char why[256] = "";
  db_res *r = NULL;
  db_val k[] = {db_uuid(c->profile_id), db_uuid(c->message_id)};
  if (db_query_fixed(d,
                     "SELECT m.content, m.message_type, m.metadata, m.status, "
                     "s.contact_id, s.last_inbound_at, s.channel FROM "
                     "unified_messages m JOIN sessions s ON s.profile_id = "
                     "m.profile_id AND s.id = m.session_id WHERE m.profile_id "
                     "= $1 AND m.id = $2",
                     k, 2, &r, err))
    return -1;
  if (db_res_rows(r) == 0 || strcmp(db_res_text(r, 0, 3), "queued")) {
    /* Settled meanwhile (e.g. marked unknown after a long stall): drop the
     * row, never send twice. */
    db_res_free(r);
    db_val q[] = {db_uuid(c->profile_id), db_uuid(c->message_id),
                  db_int(c->attempts)};
    return db_query_fixed(d,
                          "DELETE FROM chat_outbox WHERE profile_id = $1 AND "
                          "message_id = $2 AND attempts = $3",
                          q, 3, NULL, err);
  }
  const char *content = arena_strdup(a, db_res_text(r, 0, 0));
  const char *mtype = arena_strdup(a, db_res_text(r, 0, 1));
  const char *meta = arena_strdup(a, db_res_text(r, 0, 2));
  chat_session s;
  memset(&s, 0, sizeof s);
  snprintf(s.contact_id, sizeof s.contact_id, "%s", db_res_text(r, 0, 4));
  s.last_inbound_at = db_res_isnull(r, 0, 5) ? 0 : db_res_ts(r, 0, 5);
  s.platform = strcmp(db_res_text(r, 0, 6), "telegram") ? CHAT_WHATSAPP : CHAT_TELEGRAM;
  db_res_free(r);

  int dberr;
  const chat_channel *ch = channel_get(d, a, cache, ncache, c, err, &dberr);
  if (dberr) return -1;
  if (!ch || !ch->is_active) {
    chat_send_fail(&res, "channel_inactive", "Channel not active",
                   "the message's channel is switched off or was removed");
    return record(d, c, &res, err);
  }
  s.platform = ch->platform;
  chat_message m;
  if (chat_message_from_row(a, mtype, content, meta, &m, why, sizeof why)) {
    chat_send_fail(&res, "invalid_message", "Message cannot be sent", why);
    return record(d, c, &res, err);
  }
  m.ref = c->message_id;
  if (ch->platform == CHAT_WHATSAPP && m.kind != CHAT_MSG_TEMPLATE &&
      !chat_window_open(&s, now)) {
    /* Outside the customer-service window only templates go out. A
     * rendered document is not turned into a template: the customer would
     * get the caption without the file (docs/chat.md, "Documents"). */
    if (m.kind == CHAT_MSG_DOCUMENT && m.doc_source) {
      chat_send_fail(&res, "window_closed", "Outside the 24-hour window",
                     "WhatsApp takes a document only within 24 hours of the "
                     "customer's last message; ask the customer to write "
                     "first, then send it again");
      return record(d, c, &res, err);
    }
    if (m.has_template)
      chat_message_as_template(a, &m, m.tpl_name, m.tpl_language, ch->templates);
    else if (*ch->default_template)
      chat_message_as_template(a, &m, ch->default_template, "", ch->templates);
    else {
      chat_send_fail(&res, "window_closed", "Outside the 24-hour window",
                     "WhatsApp takes free text only within 24 hours of the "
                     "customer's last message; set the channel's "
                     "default_template or send a template");
      return record(d, c, &res, err);
    }
  }
  const chat_settings *cs = chat_settings_get();
  chat_send_target t = {
      .platform = ch->platform,
      .base_url = ch->platform == CHAT_WHATSAPP ? cs->whatsapp_api_url
                                                : cs->telegram_api_url,
      .phone_number_id = ch->phone_number_id,
      .access_token = ch->access_token,
      .bot_token = ch->bot_token,
      .to = s.contact_id};
  int rate = ch->rate_limit_per_s > 0 ? ch->rate_limit_per_s
             : ch->platform == CHAT_WHATSAPP ? OUTBOX_WHATSAPP_RATE
                                             : OUTBOX_TELEGRAM_RATE;
  int64_t wait = rate_take(ch->id, rate, now);
  if (wait > 0) return put_back(d, c, now + wait, 1, NULL, err);
  if (m.kind == CHAT_MSG_DOCUMENT && m.doc_source) {
    int drc = prepare_document(d, a, c, &t, &m, &res);
    if (drc == DOC_RETRY) return retry_or_give_up(d, c, &res, err);
    if (drc == DOC_FAILED) return record(d, c, &res, err);
  }
  chat_http h;
  if (chat_send_build(a, &t, &m, &h, why, sizeof why)) {
    chat_send_fail(&res, "invalid_message", "Message cannot be sent", why);
    return record(d, c, &res, err);
  }

  net_header hd[2] = {{"Content-Type", h.content_type ? h.content_type : "application/json"},
                      {"Authorization", h.authorization}};
  static const char *const keep[] = {"Retry-After"};
  net_req req = {.method = h.method,
                 .url = h.url,
                 .headers = hd,
                 .n_headers = h.authorization ? 2 : 1,
                 .body = h.body,
                 .body_len = h.body_len,
                 .connect_timeout_ms = OUTBOX_CONNECT_TIMEOUT_MS,
                 .timeout_ms = OUTBOX_CALL_TIMEOUT_MS,
                 .max_response = 256 * 1024,
                 .keep_headers = keep,
                 .n_keep = 1};
  net_result nr;
  *called = 1;
  if (net_request(&req, &nr) == 0)
    chat_send_parse(ch->platform, t.to, nr.status, buf_cstr(&nr.body),
                    nr.body.len, net_result_header(&nr, "Retry-After"), &res);
  else
    chat_send_transport(nr.err, &res);
  net_result_free(&nr);
  if (res.outcome != CHAT_SEND_SENT)
    log_info("chat.outbox: message %s on channel %s: %s %s", c->message_id,
             ch->id, res.outcome == CHAT_SEND_RETRY ? "retry" : "failed",
             res.code);
  if (res.outcome == CHAT_SEND_RETRY) return retry_or_give_up(d, c, &res, err);
  return record(d, c, &res, err);
}

int chat_outbox_poll(void *arg, db *d, const char *worker, db_err *err) {
  (void)arg;
  int64_t now = time_now_us();
  int settled = 0, n = 0, done = 0, ncache = 0, rc = -1;
  claimed rows[OUTBOX_BATCH];
  chan_cache cache[OUTBOX_BATCH];
  arena *a = arena_new();
  if (settle_unknown(d, now, &settled, err)) goto out;
  if (claim(d, worker, now, rows, &n, err)) goto out;
  int i = 0, called = 0;
  for (; i < n; i++) {
    /* A batch of slow calls (document uploads take up to 30 s more) must
     * end well inside its lease, or another worker would settle its rows
     * while they are still being sent: past half the lease the rest goes
     * back to the queue, its claim not counted. */
    if (time_now_us() - now > OUTBOX_LEASE_US / 2) {
      db_err e2;
      for (int k = i; k < n; k++) put_back(d, &rows[k], now, 1, NULL, &e2);
      break;
    }
    if (send_one(d, a, &rows[i], cache, &ncache, &called, err)) goto failed;
    done++;
  }
  rc = settled + done;
  goto out;
failed:
  /* After a database error, what was not sent goes back untouched (best
   * effort: on a lost connection they wait for their lease). A message
   * whose provider call was made stays 'sending': its outcome is not
   * recorded, so it must not be sent again. */
  {
    db_err e2;
    for (int k = called ? i + 1 : i; k < n; k++)
      put_back(d, &rows[k], now, 1, NULL, &e2);
  }
out:
  arena_free(a);
  return rc;
}
