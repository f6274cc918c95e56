/* effects.c - side effects of workflow steps made once, and the caps that
 * pause a workflow which makes too many of them (effects.h).
 *
 * A workflow_effects row is keyed by (profile, the step's effect key): the
 * node inserts it in the transaction that makes the effect (a queued
 * message) or right after biz_run made it under an Idempotency-Key built
 * from the same key. Its created_at is the step's clock (c->now_us), which
 * the caps count: messages of the last hour, money moved (invoices and
 * payments) in the last day, per blueprint.
 *
 * Pausing is one transaction: the blueprint's is_active goes false with
 * paused_reason and paused_at, and - only when this call is the one that
 * paused it (it was active, or never paused) - a message to the owner's phone is queued
 * on the business's first WhatsApp channel, so the owner hears of it once
 * however many steps hit the cap at the same time. */
#include "flow/effects.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "chat/store.h"
#include "jobs/worker.h"

#define HOUR_US (3600LL * 1000000LL)
#define DAY_US (24LL * HOUR_US)

int flow_effect_find(const flow_step_ctx *c, const char *key, int *found,
                     buf *result, db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_text(key)};
  db_res *r = NULL;
  *found = 0;
  if (db_query_fixed(c->d,
                     "SELECT result FROM workflow_effects WHERE profile_id = "
                     "$1 AND key = $2",
                     v, 2, &r, err))
    return -1;
  int rc = 0;
  if (db_res_rows(r) == 1) {
    *found = 1;
    if (result) {
      buf_reset(result);
      rc = buf_puts(result, db_res_text(r, 0, 0));
      if (rc) {
        snprintf(err->code, sizeof err->code, "54000");
        snprintf(err->message, sizeof err->message,
                 "a stored effect is too large");
      }
    }
  }
  db_res_free(r);
  return rc;
}

int flow_effect_once(const flow_step_ctx *c, const char *key, const char *kind,
                     int64_t amount, const char *result, int *fresh,
                     db_err *err) {
  const char *node_id = c->bp ? c->bp->nodes[c->node].id : "";
  db_val v[] = {db_uuid(c->profile_id), db_text(key),
                db_uuid(c->blueprint_id), db_uuid(c->run_id),
                db_text(node_id), db_text(kind), db_money(amount),
                db_json(result && *result ? result : "{}"), db_ts(c->now_us)};
  db_res *r = NULL;
  if (db_query_fixed(c->d,
                     "INSERT INTO workflow_effects (profile_id, key, "
                     "blueprint_id, run_id, node_id, kind, amount, result, "
                     "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, "
                     "$9) ON CONFLICT (profile_id, key) DO NOTHING RETURNING "
                     "key",
                     v, 9, &r, err))
    return -1;
  *fresh = db_res_rows(r) == 1;
  db_res_free(r);
  return 0;
}

int flow_effect_record(const flow_step_ctx *c, const char *key,
                       const char *kind, int64_t amount, const char *result,
                       db_err *err) {
  int fresh;
  return flow_effect_once(c, key, kind, amount, result, &fresh, err);
}

/* Queues the owner's note about the pause, inside the pausing transaction.
 * No owner phone or no WhatsApp channel: nobody to tell (logged); the
 * pause stands. */
static int tell_owner(const flow_step_ctx *c, const char *text, int *queued,
                      db_err *err) {
  db_val p[] = {db_uuid(c->profile_id)};
  db_res *r = NULL;
  *queued = 0;
  if (db_query_fixed(c->d, "SELECT owner_phone FROM profiles WHERE id = $1", p,
                     1, &r, err))
    return -1;
  char phone[20] = "";
  if (db_res_rows(r) == 1 && !db_res_isnull(r, 0, 0))
    snprintf(phone, sizeof phone, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  if (!phone[0]) {
    log_warn("flow: workflow %s paused; the business has no owner_phone",
             c->blueprint_id);
    return 0;
  }
  chat_channel ch;
  int found = 0;
  if (chat_channel_first(c->d, c->a, c->profile_id, CHAT_WHATSAPP, &ch, &found,
                         err))
    return -1;
  if (!found) {
    log_warn("flow: workflow %s paused; no WhatsApp channel to tell the owner",
             c->blueprint_id);
    return 0;
  }
  chat_contact who = {.contact_id = phone + 1, .name = NULL, .phone = phone};
  chat_session s;
  if (chat_session_get_or_create(c->d, c->a, &ch, &who, &s, NULL, err))
    return -1;
  chat_out m = {.session_id = s.id, .sender = "workflow", .content = text};
  char id[37];
  if (chat_enqueue(c->d, &s, &m, id, NULL, err)) return -1;
  *queued = 1;
  return 0;
}

/* Pauses the workflow and tells the owner, in one transaction. */
static int pause_workflow(const flow_step_ctx *c, const char *why,
                          db_err *err) {
  int queued = 0;
  if (db_begin(c->d, 1, err)) return -1;
  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->blueprint_id),
                db_text(why), db_ts(c->now_us)};
  db_res *r = NULL;
  if (db_query(c->d,
               "UPDATE workflow_blueprints SET is_active = false, "
               "paused_reason = $3, paused_at = $4, updated_at = $4 WHERE "
               "profile_id = $1 AND id = $2 AND (is_active OR paused_at IS "
               "NULL) RETURNING "
               "name",
               v, 4, &r, err))
    goto fail;
  if (db_res_rows(r) == 1) {
    const char *name = c->bp && c->bp->name ? c->bp->name
                                            : db_res_text(r, 0, 0);
    char *text = arena_printf(
        c->a,
        "Workflow \"%s\" was paused: %s. Nothing more was done; check it "
        "and turn it on again when it is right.",
        name, why);
    db_res_free(r);
    r = NULL;
    if (tell_owner(c, text, &queued, err)) goto fail;
  }
  db_res_free(r);
  if (db_commit(c->d, err)) return -1;
  if (queued) jobs_wake();
  return 0;
fail:
  db_res_free(r);
  db_rollback(c->d);
  return -1;
}

static int money_kind(const char *kind) {
  return !strcmp(kind, "invoice") || !strcmp(kind, "payment");
}

int flow_caps_check(const flow_step_ctx *c, const char *kind, int64_t amount,
                    int *over, char *why, size_t whylen, db_err *err) {
  *over = 0;
  if (why && whylen) why[0] = '\0';
  int msg = !strcmp(kind, "message"), money = money_kind(kind);
  if (!msg && !money) return 0;

  db_val v[] = {db_uuid(c->profile_id), db_uuid(c->blueprint_id),
                db_ts(c->now_us - HOUR_US), db_ts(c->now_us - DAY_US)};
  db_res *r = NULL;
  /* The limits first; then only what this check needs. The message count
   * stops at the cap (LIMIT): what a send costs is bounded by the cap, not
   * by the hour's volume (counting every row of the hour took 17% of a
   * worker at bench rates, and grew with each send). */
  if (db_query(c->d,
               "SELECT max_messages_per_hour, max_money_per_day FROM "
               "workflow_blueprints WHERE profile_id = $1 AND id = $2",
               v, 2, &r, err))
    return -1;
  if (db_res_rows(r) != 1) {
    /* A blueprint that is gone has no caps to keep (a test's bare run). */
    db_res_free(r);
    return 0;
  }
  int64_t max_msg = db_res_int(r, 0, 0), max_money = db_res_dec(r, 0, 1, 2);
  int64_t n_msg = 0, moved = 0;
  db_res_free(r);
  r = NULL;
  if (msg) {
    db_val w[] = {v[0], v[1], v[2], db_int(max_msg)};
    if (db_query(c->d,
                 "SELECT count(*) FROM (SELECT 1 FROM workflow_effects WHERE "
                 "profile_id = $1 AND blueprint_id = $2 AND kind = 'message' "
                 "AND created_at > $3 LIMIT $4) x",
                 w, 4, &r, err))
      return -1;
    n_msg = db_res_int(r, 0, 0);
  } else {
    db_val w[] = {v[0], v[1], v[3]};
    if (db_query(c->d,
                 "SELECT COALESCE(SUM(amount), 0) FROM workflow_effects WHERE "
                 "profile_id = $1 AND blueprint_id = $2 AND kind IN "
                 "('invoice', 'payment') AND created_at > $3",
                 w, 3, &r, err))
      return -1;
    moved = db_res_dec(r, 0, 0, 2);
  }
  db_res_free(r);
  if (max_money == DB_BAD_VALUE || moved == DB_BAD_VALUE) {
    snprintf(err->code, sizeof err->code, "XX000");
    snprintf(err->message, sizeof err->message, "unreadable workflow caps");
    return -1;
  }

  char reason[200] = "";
  if (msg && n_msg + 1 > max_msg)
    snprintf(reason, sizeof reason,
             "it reached its cap of %lld messages per hour", (long long)max_msg);
  else if (money && moved + (amount < 0 ? -amount : amount) > max_money)
    snprintf(reason, sizeof reason,
             "it would pass its cap of Rs %lld.%02lld moved per day",
             (long long)(max_money / 100), (long long)(max_money % 100));
  if (!reason[0]) return 0;
  *over = 1;
  if (why && whylen) snprintf(why, whylen, "%s", reason);
  return pause_workflow(c, reason, err);
}
