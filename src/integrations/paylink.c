/* paylink.c - rpc/create_payment_link {invoice_id, expire_by?}: a Razorpay
 * payment link for what an issued invoice still has due.
 *
 * The payment_links row is written (and committed) before Razorpay is
 * called, with the reference_id Razorpay will echo back in its webhooks;
 * the call is made with no transaction open; its outcome is written after.
 * A second call for the same open due finds that row (a unique index of
 * open links per invoice and amount, migration 0013) and:
 *   - answers its link when it has one;
 *   - else (the earlier call failed, or its outcome is unknown: a timeout
 *     after Razorpay made the link) first asks Razorpay for a link with
 *     that reference_id and adopts it, and only when there is none makes
 *     one. Razorpay refuses a second link with a reference it has seen, so
 *     two racing calls also end with one link.
 * When the due changed (a part was paid), the old link no longer counts
 * and a new one is made for the new due.
 *
 * The account: the business's own razorpay integration when it has an
 * active one with a key pair, else the deployment's shared account
 * (MUNSHI_RAZORPAY_KEY_ID / _KEY_SECRET). Credentials go only into the
 * Authorization header of the request; nothing here logs them. */
#include <stdio.h>
#include <string.h>

#include "base/dec.h"
#include "base/json.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/uuid.h"
#include "integrations/integ_int.h"
#include "integrations/razorpay.h"
#include "net/http_client.h"

#define LINK_DEFAULT_TTL_S (7 * 86400LL)
/* Razorpay wants expire_by some minutes ahead and at most six months. */
#define LINK_MIN_TTL_S (16 * 60LL)
#define LINK_MAX_TTL_S (180 * 86400LL)

/* The account a link is made with. */
typedef struct rzp_account {
  const char *key_id, *key_secret;
  const char *integration_id; /* NULL: the shared account */
} rzp_account;

/* Standard base64 with padding (HTTP Basic). */
static void b64(buf *out, const char *s, size_t n) {
  static const char T[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (size_t i = 0; i < n; i += 3) {
    unsigned v = (unsigned char)s[i] << 16;
    if (i + 1 < n) v |= (unsigned char)s[i + 1] << 8;
    if (i + 2 < n) v |= (unsigned char)s[i + 2];
    buf_putc(out, T[(v >> 18) & 63]);
    buf_putc(out, T[(v >> 12) & 63]);
    buf_putc(out, i + 1 < n ? T[(v >> 6) & 63] : '=');
    buf_putc(out, i + 2 < n ? T[v & 63] : '=');
  }
}

static const char *basic_auth(arena *a, const rzp_account *acc) {
  buf pair, hdr;
  buf_init(&pair, 0);
  buf_init(&hdr, 0);
  buf_printf(&pair, "%s:%s", acc->key_id, acc->key_secret);
  buf_puts(&hdr, "Basic ");
  b64(&hdr, pair.data, pair.len);
  const char *s = arena_strdup(a, buf_cstr(&hdr));
  /* The pair is a secret: do not leave it in freed memory. */
  memset(pair.data, 0, pair.len);
  buf_free(&pair);
  buf_free(&hdr);
  return s;
}

static int load_account(db *d, arena *a, const char *profile_id,
                        rzp_account *acc, api_resp *resp) {
  integ_creds c;
  int found;
  db_err err;
  memset(acc, 0, sizeof *acc);
  if (integ_creds_load(d, a, profile_id, "razorpay", &c, &found, &err))
    return api_fail(resp, api_error_for_sqlstate(err.code), NULL, NULL, NULL);
  if (found && c.is_active && c.key_id && c.key_secret) {
    acc->key_id = c.key_id;
    acc->key_secret = c.key_secret;
    acc->integration_id = arena_strdup(a, c.id);
    return 0;
  }
  const integ_settings *s = integ_settings_get();
  if (s->razorpay_key_id && *s->razorpay_key_id && s->razorpay_key_secret &&
      *s->razorpay_key_secret) {
    acc->key_id = s->razorpay_key_id;
    acc->key_secret = s->razorpay_key_secret;
    return 0;
  }
  return api_fail(resp, E_OP_CONFLICT,
                  "no Razorpay account: add a razorpay integration with "
                  "key_id and key_secret",
                  NULL, NULL);
}

/* The invoice as the link needs it. */
typedef struct link_invoice {
  char id[37];
  const char *number, *name, *phone, *email;
  int64_t due;
} link_invoice;

static int load_invoice(db *d, arena *a, const char *profile_id,
                        link_invoice *inv, api_resp *resp) {
  db_val v[] = {db_uuid(profile_id), db_uuid(inv->id)};
  db_res *r = NULL;
  db_err err;
  if (db_query_fixed(d,
                     "SELECT i.status, i.balance_due, i.invoice_number, "
                     "c.full_name, c.phone_number, c.email FROM invoices i "
                     "JOIN customers c ON c.profile_id = i.profile_id AND "
                     "c.id = i.customer_id WHERE i.profile_id = $1 AND i.id "
                     "= $2",
                     v, 2, &r, &err))
    return api_fail(resp, api_error_for_sqlstate(err.code), NULL, NULL, NULL);
  int rc = 0;
  if (db_res_rows(r) != 1) {
    rc = api_fail(resp, E_OP_NOT_FOUND, "invoice not found", NULL, NULL);
    goto out;
  }
  const char *st = db_res_text(r, 0, 0);
  if (strcmp(st, "pending") && strcmp(st, "partially_paid")) {
    rc = api_failf(resp, E_OP_CONFLICT,
                   "invoice is %s: a payment link is made only for an issued "
                   "invoice with a balance due",
                   st);
    goto out;
  }
  inv->due = db_res_dec(r, 0, 1, 2);
  inv->number = arena_strdup(a, db_res_text(r, 0, 2));
  inv->name = arena_strdup(a, db_res_text(r, 0, 3));
  inv->phone = db_res_isnull(r, 0, 4) ? NULL : arena_strdup(a, db_res_text(r, 0, 4));
  inv->email = db_res_isnull(r, 0, 5) ? NULL : arena_strdup(a, db_res_text(r, 0, 5));
out:
  db_res_free(r);
  return rc;
}

/* The open link row for this invoice and amount. */
typedef struct link_row {
  char id[37];
  const char *reference_id, *provider_link_id, *short_url, *status;
  int64_t expire_by_us;
  int is_new; /* written by this call */
} link_row;

#define LINK_COLS                                                        \
  "id, reference_id, provider_link_id, short_url, status, expire_by FROM " \
  "payment_links "

static int find_open(db *d, arena *a, const char *profile_id,
                     const link_invoice *inv, link_row *row, int *found,
                     db_err *err) {
  db_val v[] = {db_uuid(profile_id), db_uuid(inv->id), db_money(inv->due)};
  db_res *r = NULL;
  *found = 0;
  if (db_query(d,
               "SELECT " LINK_COLS
               "WHERE profile_id = $1 AND invoice_id = $2 AND amount = $3 "
               "AND status = 'created'",
               v, 3, &r, err))
    return -1;
  if (db_res_rows(r) >= 1) {
    *found = 1;
    uuid_normalize(db_res_text(r, 0, 0), row->id);
    row->reference_id = arena_strdup(a, db_res_text(r, 0, 1));
    row->provider_link_id =
        db_res_isnull(r, 0, 2) ? NULL : arena_strdup(a, db_res_text(r, 0, 2));
    row->short_url =
        db_res_isnull(r, 0, 3) ? NULL : arena_strdup(a, db_res_text(r, 0, 3));
    row->status = arena_strdup(a, db_res_text(r, 0, 4));
    row->expire_by_us = db_res_isnull(r, 0, 5) ? 0 : db_res_ts(r, 0, 5);
  }
  db_res_free(r);
  return 0;
}

/* Finds the open link row, or writes one (committed before any call). */
static int open_row(db *d, arena *a, const char *profile_id,
                    const link_invoice *inv, const rzp_account *acc,
                    int64_t expire_by_us, link_row *row, api_resp *resp) {
  db_err err;
  int found;
  int64_t now = time_now_us();
  memset(row, 0, sizeof *row);
  /* Links past their expiry no longer count (the payment_link.expired
   * webhook says so too, when it comes). */
  db_val x[] = {db_ts(now), db_uuid(profile_id), db_uuid(inv->id)};
  if (db_query(d,
               "UPDATE payment_links SET status = 'expired', updated_at = $1 "
               "WHERE profile_id = $2 AND invoice_id = $3 AND status = "
               "'created' AND expire_by < $1",
               x, 3, NULL, &err) ||
      find_open(d, a, profile_id, inv, row, &found, &err))
    goto dbfail;
  if (found) return 0;
  char id[UUID_STR_LEN + 1], ref[RZP_REFERENCE_MAX + 1];
  uuid_v7(id);
  /* "mu" and the row id's 32 hex digits: unique across businesses. */
  size_t k = 0;
  ref[k++] = 'm';
  ref[k++] = 'u';
  for (const char *p = id; *p; p++)
    if (*p != '-') ref[k++] = *p;
  ref[k] = 0;
  db_val v[] = {db_uuid(profile_id),
                db_uuid(id),
                db_uuid(inv->id),
                db_text(ref),
                db_money(inv->due),
                db_ts(expire_by_us),
                acc->integration_id ? db_uuid(acc->integration_id) : db_null(),
                db_ts(now)};
  if (db_query_fixed(d,
                     "INSERT INTO payment_links (profile_id, id, invoice_id, "
                     "provider, reference_id, amount, expire_by, "
                     "integration_id, created_at, updated_at) VALUES ($1, "
                     "$2, $3, 'razorpay', $4, $5, $6, $7, $8, $8) ON CONFLICT "
                     "(profile_id, invoice_id, amount) WHERE status = "
                     "'created' DO NOTHING",
                     v, 8, NULL, &err) ||
      find_open(d, a, profile_id, inv, row, &found, &err))
    goto dbfail;
  if (!found)
    return api_fail(resp, E_UNAVAILABLE, "the payment link changed meanwhile",
                    NULL, "try again");
  row->is_new = !strcmp(row->id, id);
  return 0;
dbfail:
  log_warn("paylink: [%s] %s", err.code, err.message);
  return api_fail(resp, api_error_for_sqlstate(err.code), NULL, NULL, NULL);
}

static int save_link(db *d, const char *profile_id, const link_row *row,
                     const rzp_link *l, api_resp *resp) {
  db_val v[] = {db_text(l->id), db_text(l->short_url), db_ts(time_now_us()),
                db_uuid(profile_id), db_uuid(row->id)};
  db_err err;
  if (db_query_fixed(d,
                     "UPDATE payment_links SET provider_link_id = $1, "
                     "short_url = $2, last_error = NULL, updated_at = $3 "
                     "WHERE profile_id = $4 AND id = $5",
                     v, 5, NULL, &err))
    return api_fail(resp, api_error_for_sqlstate(err.code), NULL, NULL, NULL);
  return 0;
}

/* Writes why the call stopped; refused: the link will not be made with
 * this row (status failed: the next call starts afresh). */
static void save_error(db *d, const char *profile_id, const link_row *row,
                       int refused, const char *error_json) {
  db_val v[] = {db_json(error_json), db_text(refused ? "failed" : "created"),
                db_ts(time_now_us()), db_uuid(profile_id), db_uuid(row->id)};
  db_err err;
  if (db_query_fixed(d,
                     "UPDATE payment_links SET last_error = $1, status = $2, "
                     "updated_at = $3 WHERE profile_id = $4 AND id = $5",
                     v, 5, NULL, &err))
    log_warn("paylink: last_error not saved: [%s] %s", err.code, err.message);
}

/* A Razorpay answer that is not a success: refused (4xx, with its words)
 * or down (anything else). Writes last_error and answers. */
static int provider_failed(db *d, arena *a, const char *profile_id,
                           const link_row *row, const net_result *res,
                           const char *step, api_resp *resp) {
  buf ej;
  buf_init(&ej, 0);
  json_obj o;
  json_obj_open(&o, &ej);
  json_obj_str(&o, "step", step);
  int refused = res->status >= 400 && res->status < 500 && res->status != 429;
  rzp_error re;
  int has_re = res->status &&
               !rzp_error_parse(a, res->body.data ? res->body.data : "",
                                res->body.len, &re);
  if (res->status)
    json_obj_int(&o, "status", res->status);
  else
    json_obj_str(&o, "error", net_error_name(res->err));
  if (has_re) {
    json_obj_str(&o, "code", re.code);
    json_obj_str(&o, "message", re.description);
    json_obj_str(&o, "field", re.field);
  }
  json_obj_close(&o);
  save_error(d, profile_id, row, refused, buf_cstr(&ej));
  buf_free(&ej);
  if (refused) {
    const char *hint = NULL;
    if (has_re && re.field) {
      buf h;
      buf_init(&h, 0);
      json_obj ho, arr;
      json_obj_open(&ho, &h);
      json_obj_arr(&ho, re.field, &arr);
      json_obj_str(&arr, NULL, re.description ? re.description : "invalid");
      json_obj_close(&arr);
      json_obj_close(&ho);
      hint = arena_strdup(a, buf_cstr(&h));
      buf_free(&h);
    }
    return api_fail(resp, E_PROVIDER_REFUSED, "Razorpay refused the payment link",
                    has_re && re.description
                        ? re.description
                        : arena_printf(a, "HTTP %ld", res->status),
                    hint);
  }
  return api_fail(resp, E_PROVIDER_DOWN, "Razorpay could not be reached",
                  res->status ? arena_printf(a, "HTTP %ld", res->status)
                              : net_strerror(res->err),
                  NULL);
}

/* GET /payment_links?reference_id=: *found when Razorpay has it. */
static int lookup(arena *a, const rzp_account *acc, const char *auth,
                  const char *ref, rzp_link *l, int *found, net_result *res) {
  const integ_settings *s = integ_settings_get();
  (void)acc;
  const char *url =
      arena_printf(a, "%s/payment_links?reference_id=%s", s->razorpay_api_url, ref);
  net_header h[] = {{"Authorization", auth}};
  net_req req = {.method = "GET", .url = url, .headers = h, .n_headers = 1,
                 .timeout_ms = 15000};
  *found = 0;
  if (net_request_retry(&req, NULL, res) || res->status != 200) return -1;
  char why[128];
  if (rzp_link_list_find(a, res->body.data ? res->body.data : "", res->body.len,
                         ref, l, found, why, sizeof why)) {
    res->status = 502; /* nonsense: counts as down */
    return -1;
  }
  return 0;
}

static int create(arena *a, const char *auth, const link_invoice *inv,
                  const link_row *row, int64_t expire_by_us, rzp_link *l,
                  net_result *res) {
  const integ_settings *s = integ_settings_get();
  buf body;
  buf_init(&body, 0);
  rzp_link_req lr = {.amount = inv->due,
                     .reference_id = row->reference_id,
                     .description = arena_printf(a, "Invoice %s", inv->number),
                     .customer_name = inv->name,
                     .customer_contact = inv->phone,
                     .customer_email = inv->email,
                     .expire_by_s = expire_by_us / 1000000};
  rzp_link_request(&body, &lr);
  net_header h[] = {{"Authorization", auth},
                    {"Content-Type", "application/json"}};
  net_req req = {.method = "POST",
                 .url = arena_printf(a, "%s/payment_links", s->razorpay_api_url),
                 .headers = h,
                 .n_headers = 2,
                 .body = body.data,
                 .body_len = body.len,
                 .timeout_ms = 15000};
  /* Sent again only when it surely was not processed: a second link would
   * be refused for its reference anyway, but the answer would be lost. */
  net_retry_policy pol = {.max_attempts = 3, .only_unprocessed = 1};
  int rc = net_request_retry(&req, &pol, res);
  buf_free(&body);
  if (rc || res->status < 200 || res->status >= 300) return -1;
  char why[128];
  if (rzp_link_parse(a, res->body.data ? res->body.data : "", res->body.len, l,
                     why, sizeof why)) {
    res->status = 502;
    return -1;
  }
  return 0;
}

/* A refusal that says the reference was used: the link exists already. */
static int duplicate_reference(arena *a, const net_result *res) {
  rzp_error re;
  if (res->status != 400 ||
      rzp_error_parse(a, res->body.data ? res->body.data : "", res->body.len, &re))
    return 0;
  return (re.field && !strcmp(re.field, "reference_id")) ||
         (re.description && strstr(re.description, "reference_id") &&
          strstr(re.description, "already"));
}

static void answer(const link_row *row, const link_invoice *inv,
                   const char *link_id, const char *url, int reused,
                   api_resp *resp) {
  json_obj o;
  resp->status = 200;
  json_obj_open(&o, &resp->body);
  json_obj_str(&o, "id", row->id);
  json_obj_str(&o, "invoice_id", inv->id);
  json_obj_str(&o, "provider", "razorpay");
  json_obj_str(&o, "provider_link_id", link_id);
  json_obj_str(&o, "reference_id", row->reference_id);
  json_obj_str(&o, "short_url", url);
  json_obj_dec(&o, "amount", inv->due, 2);
  json_obj_str(&o, "status", "created");
  if (row->expire_by_us)
    json_obj_ts(&o, "expire_by", row->expire_by_us);
  else
    json_obj_null(&o, "expire_by");
  json_obj_bool(&o, "reused", reused);
  json_obj_close(&o);
}

static int read_args(const json *args, link_invoice *inv, int64_t *expire_by,
                     api_resp *resp) {
  for (size_t i = 0; i < args->n; i++)
    if (strcmp(args->keys[i], "invoice_id") && strcmp(args->keys[i], "expire_by"))
      return api_failf(resp, E_OP_INVALID, "unknown argument \"%.64s\"",
                       args->keys[i]);
  const json *id = json_get(args, "invoice_id");
  if (!id || id->type == JSON_NULL)
    return api_fail(resp, E_OP_INVALID, "invoice_id is required", NULL, NULL);
  if (id->type != JSON_STRING || uuid_normalize(id->str, inv->id))
    return api_fail(resp, E_OP_INVALID, "invoice_id must be a UUID", NULL, NULL);
  int64_t now = time_now_us();
  *expire_by = now + LINK_DEFAULT_TTL_S * 1000000;
  const json *ex = json_get(args, "expire_by");
  if (ex && ex->type != JSON_NULL) {
    if (ex->type != JSON_STRING || ts_parse(ex->str, expire_by))
      return api_fail(resp, E_OP_INVALID,
                      "expire_by must be a timestamp, e.g. "
                      "2026-11-24T10:00:00+05:30",
                      NULL, NULL);
    if (*expire_by < now + LINK_MIN_TTL_S * 1000000 ||
        *expire_by > now + LINK_MAX_TTL_S * 1000000)
      return api_fail(resp, E_OP_INVALID,
                      "expire_by must be between 16 minutes and 180 days ahead",
                      NULL, NULL);
  }
  return 0;
}

void op_create_payment_link(db *d, api_req *req, const json *args,
                            api_resp *resp) {
  arena *a = req->a;
  const char *profile_id = req->who.sub;
  link_invoice inv;
  rzp_account acc;
  link_row row;
  int64_t expire_by;
  memset(&inv, 0, sizeof inv);
  if (read_args(args, &inv, &expire_by, resp) ||
      load_invoice(d, a, profile_id, &inv, resp) ||
      load_account(d, a, profile_id, &acc, resp) ||
      open_row(d, a, profile_id, &inv, &acc, expire_by, &row, resp))
    return;
  if (!row.expire_by_us) row.expire_by_us = expire_by;
  if (row.provider_link_id && row.short_url) {
    answer(&row, &inv, row.provider_link_id, row.short_url, 1, resp);
    return;
  }
  const char *auth = basic_auth(a, &acc);
  rzp_link l;
  int found = 0;
  net_result res;
  net_result_init(&res);
  /* An earlier call may have made the link and lost the answer. */
  if (!row.is_new &&
      lookup(a, &acc, auth, row.reference_id, &l, &found, &res)) {
    provider_failed(d, a, profile_id, &row, &res, "lookup", resp);
    goto out;
  }
  if (!found) {
    net_result_free(&res);
    if (create(a, auth, &inv, &row, row.expire_by_us, &l, &res)) {
      if (!duplicate_reference(a, &res)) {
        provider_failed(d, a, profile_id, &row, &res, "create", resp);
        goto out;
      }
      net_result_free(&res);
      if (lookup(a, &acc, auth, row.reference_id, &l, &found, &res) || !found) {
        provider_failed(d, a, profile_id, &row, &res, "lookup", resp);
        goto out;
      }
    }
  }
  if (save_link(d, profile_id, &row, &l, resp)) goto out;
  answer(&row, &inv, l.id, l.short_url, !row.is_new, resp);
out:
  net_result_free(&res);
}
