/* node_message.c - send_message: a text (or, outside WhatsApp's 24-hour
 * window, a template) to the customer, the owner or a phone number,
 * queued on the chat outbox (chat/store.h) with sender "workflow".
 *
 * The message and its workflow_effects row are one transaction under the
 * step's effect key, so a step run again (a crash after the commit, a
 * retry, two workers racing) finds the row and answers what was queued
 * instead of queueing again. The outbox then sends it as it sends every
 * message (docs/chat.md). */
#include <stdio.h>
#include <string.h>

#include "base/ident.h"
#include "base/uuid.h"
#include "chat/store.h"
#include "flow/effects.h"
#include "flow/node_int.h"
#include "jobs/worker.h"

static int send_validate(arena *a, const json *p, bp_error *e) {
  static const char *const known[] = {"to", "text", "template", "channel",
                                      NULL};
  if (np_only(p, known, e) || np_template(a, p, "text", 1, e)) return -1;
  const char *to = np_str(p, "to");
  char ph[17];
  if (!to)
    return np_fail(e, "to", "is required: customer, owner or a phone number");
  if (strcmp(to, "customer") && strcmp(to, "owner") && !strstr(to, "{{") &&
      phone_e164(to, ph))
    return np_fail(e, "to", "must be customer, owner or a phone number");
  if (strstr(to, "{{") && np_template(a, p, "to", 1, e)) return -1;
  const json *t = json_get(p, "template");
  if (t) {
    static const char *const tk[] = {"name", "language", "params", NULL};
    for (size_t i = 0; t->type == JSON_OBJECT && i < t->n; i++) {
      int ok = 0;
      for (int k = 0; tk[k] && !ok; k++) ok = !strcmp(tk[k], t->keys[i]);
      if (!ok) return np_fail(e, "template", "unknown member \"%.64s\"", t->keys[i]);
    }
    const char *name = np_str(t, "name"), *lang = np_str(t, "language");
    const json *ps = json_get(t, "params");
    if (t->type != JSON_OBJECT || !name || !*name || strlen(name) > 512)
      return np_fail(e, "template", "must be {name, language?, params?}");
    if (json_get(t, "language") && (!lang || !*lang || strlen(lang) > 16))
      return np_fail(e, "template", "language must be a code such as en or hi");
    if (ps) {
      if (ps->type != JSON_ARRAY || ps->n > 32)
        return np_fail(e, "template", "params must be a list of texts");
      for (size_t i = 0; i < ps->n; i++)
        if (ps->items[i]->type != JSON_STRING)
          return np_fail(e, "template", "params must be a list of texts");
      if (np_templates_in(a, ps, "template", e)) return -1;
    }
  }
  const json *ch = json_get(p, "channel");
  if (ch && (ch->type != JSON_STRING || ch->len == 0 || ch->len > 100))
    return np_fail(e, "channel", "must be a channel's id or name");
  return 0;
}

/* The owner's phone (profiles.owner_phone) into out, "" when none. */
static int owner_phone(flow_step_ctx *c, char out[17], db_err *err) {
  db_val v[] = {db_uuid(c->profile_id)};
  db_res *r = NULL;
  out[0] = '\0';
  if (db_query_fixed(c->d, "SELECT owner_phone FROM profiles WHERE id = $1", v,
                     1, &r, err))
    return -1;
  if (db_res_rows(r) == 1 && !db_res_isnull(r, 0, 0))
    snprintf(out, 17, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  return 0;
}

/* The channel named by param (an id or a name). */
static int channel_named(flow_step_ctx *c, const char *name, chat_channel *ch,
                         int *found, db_err *err) {
  char id[37];
  if (uuid_normalize(name, id) == 0)
    return chat_channel_load(c->d, c->a, c->profile_id, id, ch, found, err);
  db_val v[] = {db_uuid(c->profile_id), db_text(name)};
  db_res *r = NULL;
  *found = 0;
  if (db_query(c->d,
               "SELECT id FROM channels WHERE profile_id = $1 AND name = $2 "
               "AND is_active ORDER BY created_at, id LIMIT 1",
               v, 2, &r, err))
    return -1;
  int rows = db_res_rows(r);
  if (rows == 1) snprintf(id, sizeof id, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  if (rows != 1) return 0;
  return chat_channel_load(c->d, c->a, c->profile_id, id, ch, found, err);
}

/* The customer's latest session that is on a channel (the one they wrote
 * on last), or *found 0. */
static int customer_session(flow_step_ctx *c, const char *customer_id,
                            chat_session *s, chat_channel *ch, int *found,
                            db_err *err) {
  db_val v[] = {db_uuid(c->profile_id), db_uuid(customer_id)};
  db_res *r = NULL;
  *found = 0;
  if (db_query(c->d,
               "SELECT s.id FROM sessions s JOIN channels ch ON ch.profile_id "
               "= s.profile_id AND ch.id = s.channel_id AND ch.is_active "
               "WHERE s.profile_id = $1 AND s.customer_id = $2 ORDER BY "
               "(s.last_inbound_at IS NULL), s.last_inbound_at DESC, "
               "s.created_at DESC LIMIT 1",
               v, 2, &r, err))
    return -1;
  char id[37] = "";
  if (db_res_rows(r) == 1) snprintf(id, sizeof id, "%s", db_res_text(r, 0, 0));
  db_res_free(r);
  if (!id[0]) return 0;
  int f = 0;
  if (chat_session_load(c->d, c->a, c->profile_id, id, s, &f, err)) return -1;
  if (!f) return 0;
  if (chat_channel_load(c->d, c->a, c->profile_id, s->channel_id, ch, &f, err))
    return -1;
  *found = f;
  return 0;
}

static int send_run(flow_step_ctx *c, flow_step_result *r, db_err *err) {
  const json *p = c->bp->nodes[c->node].params;
  const char *to = np_str(p, "to"), *chname = np_str(p, "channel");
  const json *tpl = json_get(p, "template");
  char msg[300];
  int in_tx = 0;

  const char *text = node_render(c, np_str(p, "text"), NODE_TEXT_MAX, msg,
                                 sizeof msg);
  if (!text) {
    node_input_params(c, r);
    return flow_step_fail(r, NODE_FAILED, "text: %s", msg);
  }
  if (!*text) {
    node_input_params(c, r);
    return flow_step_fail(r, NODE_FAILED, "text: the message is empty");
  }
  /* The recipient. */
  char phone[17] = "";
  const char *customer_id = NULL;
  if (!strcmp(to, "customer")) {
    int dberr = 0;
    const json *cust = flow_env_record(c->env, "customer", &dberr);
    if (dberr) {
      snprintf(err->code, sizeof err->code, "58030");
      snprintf(err->message, sizeof err->message, "the customer could not be read");
      return -1;
    }
    if (!cust) {
      node_input_params(c, r);
      return flow_step_fail(r, NODE_FAILED,
                            "to: this run names no customer");
    }
    customer_id = np_str(cust, "id");
    const char *ph = np_str(cust, "phone_number");
    if (ph) snprintf(phone, sizeof phone, "%s", ph);
  } else if (!strcmp(to, "owner")) {
    if (owner_phone(c, phone, err)) return -1;
    if (!phone[0]) {
      node_input_params(c, r);
      return flow_step_fail(r, NODE_FAILED,
                            "to: the business has no owner_phone set");
    }
  } else {
    const char *t = node_render(c, to, 64, msg, sizeof msg);
    if (!t || phone_e164(t, phone)) {
      node_input_params(c, r);
      return flow_step_fail(r, NODE_FAILED, "to: \"%.40s\" is not a phone number",
                            t ? t : to);
    }
  }
  /* The template's params, rendered now: what is sent is what the input
   * shows. */
  buf tjson;
  buf_init(&tjson, 64 * 1024);
  if (tpl) {
    const json *ps = json_get(tpl, "params");
    json_obj t, arr;
    json_obj_open(&t, &tjson);
    json_obj_str(&t, "name", np_str(tpl, "name"));
    json_obj_str(&t, "language",
                 np_str(tpl, "language") ? np_str(tpl, "language") : "en");
    json_obj_arr(&t, "params", &arr);
    for (size_t i = 0; ps && i < ps->n; i++) {
      const char *v = node_render(c, ps->items[i]->str, 1024, msg, sizeof msg);
      if (!v) {
        buf_free(&tjson);
        node_input_params(c, r);
        return flow_step_fail(r, NODE_FAILED, "template: %s", msg);
      }
      json_obj_str(&arr, NULL, v);
    }
    json_obj_close(&arr);
    json_obj_close(&t);
  }
  json_obj in;
  json_obj_open(&in, &r->input);
  json_obj_str(&in, "to", to);
  json_obj_str(&in, "phone", phone[0] ? phone : NULL);
  json_obj_str(&in, "text", text);
  if (tpl) json_obj_raw(&in, "template", buf_cstr(&tjson));
  if (chname) json_obj_str(&in, "channel", chname);
  json_obj_close(&in);

  if (!phone[0]) {
    buf_free(&tjson);
    return flow_step_fail(r, NODE_FAILED,
                          "to: the customer has no phone number");
  }
  if (c->dry_run) {
    json_obj o;
    json_obj_open(&o, &r->output);
    json_obj_str(&o, "would", "send");
    json_obj_str(&o, "to", phone);
    json_obj_str(&o, "text", text);
    if (tpl) json_obj_raw(&o, "template", buf_cstr(&tjson));
    json_obj_close(&o);
    buf_free(&tjson);
    r->outcome = NODE_DONE;
    return 0;
  }

  int found = 0, over = 0, rc = -1;
  char why[256];
  if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) goto out;
  if (found) {
    rc = 0;
    r->outcome = NODE_DONE;
    goto out;
  }
  if (flow_caps_check(c, "message", 0, &over, why, sizeof why, err)) goto out;
  if (over) {
    rc = flow_step_fail(r, NODE_PAUSED, "paused: %s", why);
    goto out;
  }

  if (db_begin(c->d, 1, err)) goto out;
  in_tx = 1;
  chat_channel ch;
  chat_session s;
  int have_ch = 0, have_s = 0;
  if (chname) {
    if (channel_named(c, chname, &ch, &have_ch, err)) goto out;
    if (!have_ch) {
      rc = flow_step_fail(r, NODE_FAILED, "channel: no channel \"%.100s\"",
                          chname);
      goto out;
    }
  } else if (customer_id) {
    if (customer_session(c, customer_id, &s, &ch, &have_s, err)) goto out;
    have_ch = have_s;
  }
  if (!have_ch) {
    if (chat_channel_first(c->d, c->a, c->profile_id, CHAT_WHATSAPP, &ch,
                           &have_ch, err))
      goto out;
    if (!have_ch) {
      rc = flow_step_fail(r, NODE_FAILED,
                          "channel: the business has no WhatsApp channel");
      goto out;
    }
  }
  if (!have_s) {
    if (ch.platform != CHAT_WHATSAPP) {
      rc = flow_step_fail(r, NODE_FAILED,
                          "channel: %s has no conversation with %s to send on",
                          ch.name && *ch.name ? ch.name : "the channel", phone);
      goto out;
    }
    chat_contact who = {.contact_id = phone + 1, .name = NULL, .phone = phone};
    if (chat_session_get_or_create(c->d, c->a, &ch, &who, &s, NULL, err))
      goto out;
  }
  chat_out m = {.session_id = s.id, .sender = "workflow", .content = text};
  const char *kind = "text";
  if (!chat_window_open(&s, c->now_us)) {
    if (!tpl) {
      rc = flow_step_fail(r, NODE_FAILED,
                          "window_closed: %s has not written in the last 24 "
                          "hours, so WhatsApp takes only a template; give the "
                          "node a template",
                          phone);
      goto out;
    }
    kind = "template";
    m.message_type = "template";
    m.metadata = arena_printf(c->a, "{\"template\":%s}", buf_cstr(&tjson));
  }
  char mid[37];
  if (chat_enqueue(c->d, &s, &m, mid, NULL, err)) goto out;
  buf_reset(&r->output);
  json_obj o;
  json_obj_open(&o, &r->output);
  json_obj_str(&o, "message_id", mid);
  json_obj_str(&o, "session_id", s.id);
  json_obj_str(&o, "channel_id", ch.id);
  json_obj_str(&o, "to", phone);
  json_obj_str(&o, "type", kind);
  json_obj_str(&o, "text", text);
  json_obj_close(&o);
  int fresh = 0;
  if (flow_effect_once(c, c->effect_key, "message", 0, buf_cstr(&r->output),
                       &fresh, err))
    goto out;
  if (!fresh) {
    /* Another worker queued it first: ours is undone, theirs answered. */
    db_rollback(c->d);
    in_tx = 0;
    if (flow_effect_find(c, c->effect_key, &found, &r->output, err)) goto out;
  } else {
    if (db_commit(c->d, err)) {
      in_tx = 0;
      goto out;
    }
    in_tx = 0;
    jobs_wake();
  }
  rc = 0;
  r->outcome = NODE_DONE;
out:
  if (in_tx) db_rollback(c->d);
  buf_free(&tjson);
  return rc;
}

const flow_node_type flow_nt_send_message = {"send_message", NODE_EFFECT,
                                             send_validate, send_run};
