/* test_realtime_db_feed.c - the live feed's capture and feed thread
 * (src/realtime/{capture,feed,render,change,hub}.c) on each backend: a
 * write through /rest/v1 (or any other writer) reaches an attached sink,
 * with record and old_record byte-equal to what GET /rest/v1 answers for
 * that row, in order, from other connections too. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "realtime/change.h"
#include "realtime/feed.h"
#include "rest/call.h"
#include "testutil.h"

/* ---- a sink that keeps what it gets ------------------------------------ */

#define MAX_GOT 4096
typedef struct collector {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  rt_change *got[MAX_GOT];
  int n;
  int gaps;
  const char *only; /* keep the changes of this table only (NULL: all) */
} collector;

static void collect(void *cls, rt_change *c) {
  collector *k = cls;
  pthread_mutex_lock(&k->mu);
  if (k->n < MAX_GOT && (!k->only || !strcmp(k->only, c->table->name)))
    k->got[k->n++] = rt_change_ref(c);
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

static void collect_gap(void *cls) {
  collector *k = cls;
  pthread_mutex_lock(&k->mu);
  k->gaps++;
  pthread_cond_broadcast(&k->cv);
  pthread_mutex_unlock(&k->mu);
}

/* Waits up to ms for the collector to hold n changes; returns how many. */
static int wait_for(collector *k, int n, int ms) {
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&k->mu);
  while (k->n < n)
    if (pthread_cond_timedwait(&k->cv, &k->mu, &until)) break;
  int got = k->n;
  pthread_mutex_unlock(&k->mu);
  return got;
}

static void collector_clear(collector *k) {
  pthread_mutex_lock(&k->mu);
  for (int i = 0; i < k->n; i++) rt_change_unref(k->got[i]);
  k->n = 0;
  k->gaps = 0;
  pthread_mutex_unlock(&k->mu);
}

/* ---- fixture ------------------------------------------------------------ */

typedef struct fx {
  db *d;
  char url[4096];
  char profile[37];
  api_principal owner, service;
  rt_hub *hub;
  rt_feed *feed;
  rt_sink *sink;
  collector k;
} fx;

static int setup(void **state) {
  fx *f = calloc(1, sizeof *f);
  f->d = test_db_open_migrated(NULL);
  snprintf(f->url, sizeof f->url, "%s", test_db_url());
  db_err err;
  if (rt_capture_install(f->d, &err)) test_die("capture install", err.message);
  test_tenant(f->d, "29", f->profile);
  f->owner.role = ROLE_AUTHENTICATED;
  snprintf(f->owner.sub, sizeof f->owner.sub, "%s", f->profile);
  f->service.role = ROLE_SERVICE;
  pthread_mutex_init(&f->k.mu, NULL);
  pthread_cond_init(&f->k.cv, NULL);
  f->hub = rt_hub_new();
  f->sink = rt_hub_attach(f->hub, NULL, collect, collect_gap, &f->k);
  char e[256];
  if (rt_feed_start(f->url, f->hub, 120, &f->feed, e, sizeof e))
    test_die("feed start", e);
  *state = f;
  return 0;
}

static int teardown(void **state) {
  fx *f = *state;
  rt_feed_stop(f->feed);
  rt_hub_detach(f->hub, f->sink);
  rt_hub_free(f->hub);
  collector_clear(&f->k);
  test_db_close(f->d);
  free(f);
  return 0;
}

/* ---- REST calls ----------------------------------------------------------- */

static const char *prefer_header(const api_req *r, const char *name) {
  (void)r;
  return !strcasecmp(name, "Prefer") ? "return=representation" : NULL;
}

/* The answer's body (in a); fails the test on another status. */
static const char *rest(db *d, arena *a, const api_principal *who,
                        const char *method, const char *path,
                        const char *query, const char *body, int want) {
  api_resp resp;
  api_resp_init(&resp);
  rest_call_req c = {.who = who, .method = method, .path = path,
                     .query = query, .body = body, .header = prefer_header};
  int status = rest_call(d, a, &c, &resp);
  const char *out = arena_strndup(a, resp.body.data ? resp.body.data : "",
                                  resp.body.len);
  api_resp_free(&resp);
  if (status != want)
    fail_msg("%s %s?%s: %d, wanted %d: %s", method, path, query ? query : "",
             status, want, out);
  return out;
}

/* GET of one row by id, as the object REST answers (the array's one item). */
static const char *rest_row(db *d, arena *a, const api_principal *who,
                            const char *table, const char *id) {
  const char *body = rest(d, a, who, "GET", table,
                          arena_printf(a, "id=eq.%s", id), NULL, 200);
  size_t n = strlen(body);
  if (n < 2 || body[0] != '[' || body[n - 1] != ']')
    fail_msg("GET %s: not one row: %s", table, body);
  return arena_strndup(a, body + 1, n - 2);
}

/* The id of the row a POST answered (representation: an array of one). */
static const char *id_of(arena *a, const char *answer) {
  const char *p = strstr(answer, "\"id\":\"");
  if (!p) fail_msg("no id in %s", answer);
  return arena_strndup(a, p + 6, 36);
}

static void check_change(rt_change *c, const char *table, rt_op op,
                         const char *id, const char *record,
                         const char *old_record) {
  assert_string_equal(c->table->name, table);
  assert_int_equal(c->op, op);
  assert_string_equal(c->row_id, id);
  if (record) {
    assert_non_null(c->record);
    assert_string_equal(c->record, record);
  } else {
    assert_null(c->record);
  }
  if (old_record) {
    assert_non_null(c->old_record);
    assert_string_equal(c->old_record, old_record);
  } else {
    assert_null(c->old_record);
  }
}

/* ---- tests -------------------------------------------------------------- */

/* A REST insert, update and delete of a customer each reach the sink, with
 * the records a REST read gives, in order. */
static void test_rest_write_reaches_sink(void **state) {
  fx *f = *state;
  f->k.only = "customers";
  arena *a = arena_new();
  const char *made =
      rest(f->d, a, &f->owner, "POST", "customers", NULL,
           "{\"full_name\":\"Asha Traders\",\"phone_number\":\"+919800000001\","
           "\"notes\":\"multi\\nline \\\"quoted\\\" ₹\"}",
           201);
  const char *id = id_of(a, made);
  const char *v1 = rest_row(f->d, a, &f->owner, "customers", id);
  rest(f->d, a, &f->owner, "PATCH", "customers",
       arena_printf(a, "id=eq.%s", id), "{\"email\":\"a@example.com\"}", 200);
  const char *v2 = rest_row(f->d, a, &f->owner, "customers", id);
  rest(f->d, a, &f->owner, "DELETE", "customers",
       arena_printf(a, "id=eq.%s", id), NULL, 200);
  assert_int_equal(wait_for(&f->k, 3, 5000), 3);
  check_change(f->k.got[0], "customers", RT_INSERT, id, v1, NULL);
  check_change(f->k.got[1], "customers", RT_UPDATE, id, v2, v1);
  check_change(f->k.got[2], "customers", RT_DELETE, id, NULL, v2);
  assert_string_equal(f->k.got[0]->profile_id, f->profile);
  assert_true(rt_pos_cmp(f->k.got[0]->pos, f->k.got[1]->pos) < 0);
  assert_true(rt_pos_cmp(f->k.got[1]->pos, f->k.got[2]->pos) < 0);
  assert_true(rt_pos_cmp(rt_hub_head(f->hub), f->k.got[2]->pos) >= 0);
  /* the data object carries the record as it is */
  assert_non_null(strstr(f->k.got[0]->data, "\"type\":\"INSERT\""));
  assert_non_null(strstr(f->k.got[0]->data, v1));
  collector_clear(&f->k);
  arena_free(a);
}

/* A change made by another connection (another writer) arrives too. */
static void test_other_connection(void **state) {
  fx *f = *state;
  db *other;
  db_err err;
  assert_int_equal(db_open(f->url, &other, &err), 0);
  f->k.only = "products";
  arena *a = arena_new();
  const char *made = rest(other, a, &f->owner, "POST", "products", NULL,
                          "{\"name\":\"Basmati\",\"base_price\":\"120.50\","
                          "\"current_stock\":\"2.5\",\"gst_rate\":\"5\"}",
                          201);
  const char *id = id_of(a, made);
  const char *v1 = rest_row(f->d, a, &f->owner, "products", id);
  assert_int_equal(wait_for(&f->k, 1, 5000), 1);
  check_change(f->k.got[0], "products", RT_INSERT, id, v1, NULL);
  db_close(other);
  collector_clear(&f->k);
  arena_free(a);
}


/* ---- every table -------------------------------------------------------- */

static int is_pg(fx *f) { return db_kind_of(f->d) == DB_POSTGRES; }

/* Waits until the feed has handed out every change committed so far. */
static void settle(fx *f) {
  db_res *r = NULL;
  db_err err;
  if (db_query(f->d, "SELECT coalesce(max(seq), 0) FROM realtime_changes", NULL,
               0, &r, &err))
    fail_msg("%s", err.message);
  int64_t want = db_res_int(r, 0, 0);
  db_res_free(r);
  for (int i = 0; i < 500 && rt_hub_head(f->hub).seq < want; i++) {
    struct timespec ts = {0, 10 * 1000000L};
    nanosleep(&ts, NULL);
  }
  assert_true(rt_hub_head(f->hub).seq >= want);
}

/* The last change of (table, id) the collector holds after index from, and
 * its index; NULL when there is none. */
static rt_change *last_change(collector *k, int from, const char *table,
                              const char *id, int *at) {
  rt_change *found = NULL;
  pthread_mutex_lock(&k->mu);
  for (int i = from; i < k->n; i++)
    if (!strcmp(k->got[i]->table->name, table) && !strcmp(k->got[i]->row_id, id)) {
      found = k->got[i];
      if (at) *at = i;
    }
  pthread_mutex_unlock(&k->mu);
  return found;
}

static int got_count(collector *k) {
  pthread_mutex_lock(&k->mu);
  int n = k->n;
  pthread_mutex_unlock(&k->mu);
  return n;
}

static const char *json_str_of(arena *a, const char *answer, const char *key) {
  json *j;
  json_error je;
  if (json_parse(a, answer, strlen(answer), &j, &je)) fail_msg("bad JSON %s", answer);
  if (j->type == JSON_ARRAY && j->n) j = j->items[0];
  const json *v = json_get(j, key);
  if (!v || v->type != JSON_STRING) fail_msg("no %s in %s", key, answer);
  return v->str;
}

static void sql(db *d, const char *text, const db_val *p, int n) {
  db_err err;
  if (db_query(d, text, p, n, NULL, &err)) fail_msg("%s: %s", text, err.message);
}

#define SECRET_TOKEN "EAAGsecretsecretsecret0123456789abcdef"
#define SECRET_APP "assecretsecretsecret0123456789abcdef"
#define SECRET_SR "srsecretsecretsecret0123456789abcdef"

/* For every REST table: rows written by REST, by the business operations
 * and by plain SQL are captured, and the last change of every row carries
 * exactly what a REST read of it answers; then an UPDATE and a DELETE of
 * one row of each table, with record and old_record equal to the REST
 * reads after and before. Secrets never reach the change table. */
static void test_every_table_equals_rest(void **state) {
  fx *f = *state;
  arena *a = arena_new();
  int ntables;
  const rest_table *tables = schema_tables(&ntables);
  /* a tenant made after the feed started, so its profile's INSERT shows */
  char prof[37];
  test_tenant(f->d, "27", prof);
  api_principal who = {.role = ROLE_AUTHENTICATED};
  snprintf(who.sub, sizeof who.sub, "%s", prof);
  rest(f->d, a, &who, "PATCH", "profiles", arena_printf(a, "id=eq.%s", prof),
       "{\"business_name\":\"Shri \\\"Ganesh\\\" Stores \\u0928\\u092e\",\"upi_id\":"
       "\"shop@upi\",\"allow_negative_stock\":true}",
       200);
  const char *cust = id_of(a, rest(f->d, a, &who, "POST", "customers", NULL,
                                    "{\"full_name\":\"Ravi\\tKumar\",\"state_code\":\"27\","
                                    "\"city\":\"Pune\",\"pincode\":\"411001\"}",
                                    201));
  const char *prod = id_of(a, rest(f->d, a, &who, "POST", "products", NULL,
                                    "{\"name\":\"Toor dal\",\"hsn_code\":\"0713\","
                                    "\"base_price\":\"85.50\",\"gst_rate\":\"5\","
                                    "\"current_stock\":\"10.250\","
                                    "\"low_stock_threshold\":\"1.5\"}",
                                    201));
  rest(f->d, a, &who, "POST", "channels", NULL,
       "{\"platform\":\"whatsapp\",\"name\":\"WA shop\",\"phone_number_id\":"
       "\"123456789012345\",\"display_phone_number\":\"+91 98123 45678\","
       "\"access_token\":\"" SECRET_TOKEN "\",\"app_secret\":\"" SECRET_APP
       "\",\"verify_token\":\"vtsecretsecretsecret0123456789\"}",
       201);
  const char *sess = id_of(a, rest(f->d, a, &who, "POST", "sessions", NULL,
                                    arena_printf(a,
                                                 "{\"contact_id\":\"+919811111111\","
                                                 "\"contact_name\":\"Ravi\","
                                                 "\"customer_id\":\"%s\"}",
                                                 cust),
                                    201));
  rest(f->d, a, &who, "POST", "unified_messages", NULL,
       arena_printf(a,
                    "{\"session_id\":\"%s\",\"direction\":\"inbound\","
                    "\"content\":\"price of rice?\",\"metadata\":{\"b\": [1, "
                    "2.50, {\"x\": null}], \"a\":\"\\u20b9\"}}",
                    sess),
       201);
  const char *bp = id_of(a, rest(f->d, a, &who, "POST", "workflow_blueprints", NULL,
                                  "{\"name\":\"Dunning\",\"nodes\":[{\"id\":\"n1\","
                                  "\"type\":\"trigger\",\"params\":{\"manual\":"
                                  "true}}],\"edges\":[]}",
                                  201));
  const char *inv = json_str_of(
      a,
      rest(f->d, a, &who, "POST", "rpc/create_invoice", NULL,
           arena_printf(a,
                        "{\"customer_id\":\"%s\",\"items\":[{\"product_id\":"
                        "\"%s\",\"quantity\":\"2.5\",\"discount\":\"3.25\"}]}",
                        cust, prod),
           200),
      "id");
  rest(f->d, a, &who, "POST", "rpc/record_payment", NULL,
       arena_printf(a,
                    "{\"customer_id\":\"%s\",\"amount_received\":\"100.10\","
                    "\"payment_mode\":\"upi\"}",
                    cust),
       200);
  rest(f->d, a, &who, "POST", "shipments", NULL,
       arena_printf(a,
                    "{\"invoice_id\":\"%s\",\"awb_number\":\"AWB1\","
                    "\"courier_name\":\"Delhivery\",\"shipped_at\":"
                    "\"2026-11-30T10:00:00.5+05:30\"}",
                    inv),
       201);
  /* 0011: an integration (its secrets never captured), and the rows the
   * integrations write themselves (scans, refunds, payment links). */
  rest(f->d, a, &who, "POST", "integrations", NULL,
       "{\"provider\":\"shiprocket\",\"email\":\"api@shop.in\","
       "\"password\":\"" SECRET_SR "\",\"webhook_token\":\"" SECRET_SR
       "tok\",\"pickup_location\":\"Primary\"}",
       201);
  {
    const char *ship = NULL;
    db_res *sr = NULL;
    db_err serr;
    db_val sp = db_uuid(prof);
    assert_int_equal(db_query(f->d, "SELECT id FROM shipments WHERE profile_id = $1",
                              &sp, 1, &sr, &serr),
                     0);
    ship = arena_strdup(a, db_res_text(sr, 0, 0));
    db_res_free(sr);
    char scan[37], refund[37], link[37];
    uuid_v7(scan);
    uuid_v7(refund);
    uuid_v7(link);
    db_val sc[] = {db_uuid(prof), db_uuid(scan), db_uuid(ship),
                   db_ts(1796032800000000LL), db_text("PICKED UP"),
                   db_text("Shipment picked up"), db_text("Pune"), db_int(42)};
    sql(f->d,
        "INSERT INTO shipment_scans (profile_id, id, shipment_id, scanned_at, "
        "status, activity, location, status_code) VALUES ($1, $2, $3, $4, $5, "
        "$6, $7, $8)",
        sc, 8);
    db_val rf[] = {db_uuid(prof), db_uuid(refund), db_uuid(cust), db_money(1050),
                   db_text("damaged"), db_text("razorpay"), db_text("rfnd_1")};
    sql(f->d,
        "INSERT INTO refunds (profile_id, id, customer_id, amount, reason, "
        "provider, provider_refund_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        rf, 7);
    db_val pl[] = {db_uuid(prof), db_uuid(link), db_uuid(inv), db_text(link),
                   db_money(25075), db_json("{\"code\": \"BAD_REQUEST_ERROR\"}")};
    sql(f->d,
        "INSERT INTO payment_links (profile_id, id, invoice_id, provider, "
        "reference_id, amount, last_error) VALUES ($1, $2, $3, 'razorpay', $4, "
        "$5, $6)",
        pl, 6);
  }
  char run[37];
  uuid_v7(run);
  db_val wl[] = {db_uuid(prof), db_uuid(run), db_uuid(bp),
                 db_json("[{\"node\": \"n1\", \"ok\": true}]"),
                 db_json("{\"k\": 1.50}"), db_bool(1), db_ts(1796032800000001LL)};
  sql(f->d,
      "INSERT INTO workflow_logs (profile_id, id, blueprint_id, step_results, "
      "input, rehearsal, finished_at, status) VALUES ($1, $2, $3, $4, $5, $6, "
      "$7, 'completed')",
      wl, 7);
  /* a JSON column written by the database's JSON functions, as the
   * workflow engine appends its steps */
  db_val ap = db_uuid(run);
  sql(f->d,
      is_pg(f) ? "UPDATE workflow_logs SET step_results = step_results || "
                 "'[{\"node_id\": \"c\", \"out\": {\"n\": 2, \"s\": \"\\u20b9\"}}]'::jsonb WHERE id = $1"
               : "UPDATE workflow_logs SET step_results = json_insert("
                 "step_results, '$[#]', json('{\"node_id\": \"c\", \"out\": "
                 "{\"n\": 2, \"s\": \"\\u20b9\"}}')) WHERE id = $1",
      &ap, 1);
  settle(f);

  /* Every row's last change equals its REST read; every table had an
   * INSERT; the tenant's rows are its own. */
  int n = got_count(&f->k);
  for (int t = 0; t < ntables; t++) {
    const rest_table *tb = &tables[t];
    int inserts = 0;
    for (int i = 0; i < n; i++) {
      rt_change *c = f->k.got[i];
      if (c->table != tb || strcmp(c->profile_id, prof)) continue;
      inserts += c->op == RT_INSERT;
      if (last_change(&f->k, 0, tb->name, c->row_id, NULL) != c) continue;
      const char *now = rest_row(f->d, a, &f->service, tb->name, c->row_id);
      if (!c->record || strcmp(c->record, now))
        fail_msg("%s %s: the change has\n%s\nREST reads\n%s", tb->name,
                 c->row_id, c->record ? c->record : "(null)", now);
      assert_true(rt_visible(&who, c));
      assert_false(rt_visible(&f->owner, c));
    }
    if (!inserts) fail_msg("no INSERT of %s was captured", tb->name);
  }

  /* JSON columns are captured as their stored text, also when a JSON
   * function made the value (SQLite hands it to the trigger as JSON). */
  {
    db_res *jr = NULL;
    db_err jerr;
    db_val wt = db_text("workflow_logs");
    assert_int_equal(db_query(f->d,
                              "SELECT record FROM realtime_changes WHERE "
                              "table_name = $1 ORDER BY seq DESC LIMIT 1",
                              &wt, 1, &jr, &jerr),
                     0);
    json *rec;
    json_error je;
    const char *txt = db_res_text(jr, 0, 0);
    assert_int_equal(json_parse(a, txt, strlen(txt), &rec, &je), 0);
    const json *steps = json_get(rec, "step_results");
    assert_non_null(steps);
    assert_int_equal(steps->type, JSON_STRING);
    assert_non_null(strstr(steps->str, "\"c\""));
    db_res_free(jr);
  }

  /* The secrets never reached the change table. */
  db_res *r = NULL;
  db_err err;
  db_val ch = db_text("channels");
  assert_int_equal(db_query(f->d,
                            "SELECT record FROM realtime_changes WHERE "
                            "table_name = $1",
                            &ch, 1, &r, &err),
                   0);
  assert_true(db_res_rows(r) > 0);
  for (int i = 0; i < db_res_rows(r); i++) {
    assert_null(strstr(db_res_text(r, i, 0), SECRET_TOKEN));
    assert_null(strstr(db_res_text(r, i, 0), SECRET_APP));
    assert_null(strstr(db_res_text(r, i, 0), "verify_token"));
  }
  db_res_free(r);
  db_val it = db_text("integrations");
  assert_int_equal(db_query(f->d,
                            "SELECT record FROM realtime_changes WHERE "
                            "table_name = $1",
                            &it, 1, &r, &err),
                   0);
  assert_true(db_res_rows(r) > 0);
  for (int i = 0; i < db_res_rows(r); i++)
    assert_null(strstr(db_res_text(r, i, 0), SECRET_SR));
  db_res_free(r);

  /* An UPDATE of each table (created_at moved, by SQL). */
  for (int t = 0; t < ntables; t++) {
    const rest_table *tb = &tables[t];
    const char *id = NULL;
    for (int i = 0; i < n && !id; i++)
      if (f->k.got[i]->table == tb && !strcmp(f->k.got[i]->profile_id, prof))
        id = f->k.got[i]->row_id;
    const char *before = rest_row(f->d, a, &f->service, tb->name, id);
    int from = got_count(&f->k);
    db_val p[] = {db_ts(1700000000123456LL + t), db_uuid(id)};
    sql(f->d,
        arena_printf(a, "UPDATE %s SET created_at = $1 WHERE id = $2", tb->name),
        p, 2);
    const char *after = rest_row(f->d, a, &f->service, tb->name, id);
    assert_string_not_equal(before, after);
    settle(f);
    rt_change *c = last_change(&f->k, from, tb->name, id, NULL);
    if (!c) fail_msg("no UPDATE of %s captured", tb->name);
    assert_int_equal(c->op, RT_UPDATE);
    assert_string_equal(c->record, after);
    assert_string_equal(c->old_record, before);
  }

  /* A DELETE of one row of each table, children first. */
  static const char *order[] = {
      "payment_allocations", "stock_movements", "invoice_items",
      "shipment_scans", "shipments", "refunds", "payment_links",
      "integrations", "payments", "events", "workflow_logs", "workflow_blueprints",
      "unified_messages", "sessions", "channels", "invoices", "products",
      "customers", "profiles"};
  assert_int_equal((int)(sizeof order / sizeof order[0]), ntables);
  for (size_t o = 0; o < sizeof order / sizeof order[0]; o++) {
    const rest_table *tb = schema_table(order[o], strlen(order[o]));
    assert_non_null(tb);
    const char *id = NULL;
    for (int i = 0; i < n && !id; i++)
      if (f->k.got[i]->table == tb && !strcmp(f->k.got[i]->profile_id, prof) &&
          f->k.got[i]->op == RT_INSERT)
        id = f->k.got[i]->row_id;
    const char *before = rest_row(f->d, a, &f->service, tb->name, id);
    int from = got_count(&f->k);
    db_val p = db_uuid(id);
    sql(f->d, arena_printf(a, "DELETE FROM %s WHERE id = $1", tb->name), &p, 1);
    settle(f);
    rt_change *c = last_change(&f->k, from, tb->name, id, NULL);
    if (!c) fail_msg("no DELETE of %s captured", tb->name);
    assert_int_equal(c->op, RT_DELETE);
    assert_null(c->record);
    assert_string_equal(c->old_record, before);
    assert_non_null(strstr(c->data, "\"type\":\"DELETE\""));
    assert_null(strstr(c->data, "\"record\""));
  }
  arena_free(a);
}

/* ---- order and late commits ------------------------------------------------ */

static const char *customer_sql(void) {
  return "INSERT INTO customers (profile_id, id, full_name, created_at, "
         "updated_at) VALUES ($1, $2, $3, $4, $4)";
}

static void add_customer(db *d, const char *profile, char id[37],
                         const char *name) {
  uuid_v7(id);
  db_val p[] = {db_uuid(profile), db_uuid(id), db_text(name),
                db_ts(time_now_us())};
  sql(d, customer_sql(), p, 4);
}

/* PostgreSQL: a transaction that wrote first and commits last is waited
 * for, not skipped, and nothing after it is delivered before it. */
static void test_late_commit_not_skipped(void **state) {
  fx *f = *state;
  if (!is_pg(f)) skip();
  f->k.only = "customers";
  db *late, *quick;
  db_err err;
  assert_int_equal(db_open(f->url, &late, &err), 0);
  assert_int_equal(db_open(f->url, &quick, &err), 0);
  char a_id[37], b_id[37];
  assert_int_equal(db_begin(late, 1, &err), 0);
  add_customer(late, f->profile, a_id, "late");
  add_customer(quick, f->profile, b_id, "quick"); /* autocommit */
  /* quick committed, but its seq is after late's: held back */
  assert_int_equal(wait_for(&f->k, 1, 700), 0);
  assert_int_equal(db_commit(late, &err), 0);
  assert_int_equal(wait_for(&f->k, 2, 5000), 2);
  assert_string_equal(f->k.got[0]->row_id, a_id);
  assert_string_equal(f->k.got[1]->row_id, b_id);
  /* a transaction that rolls back leaves a hole the feed passes over */
  assert_int_equal(db_begin(late, 1, &err), 0);
  add_customer(late, f->profile, a_id, "gone");
  db_rollback(late);
  add_customer(quick, f->profile, b_id, "after the hole");
  assert_int_equal(wait_for(&f->k, 3, 5000), 3);
  assert_string_equal(f->k.got[2]->row_id, b_id);
  assert_int_equal(f->k.gaps, 0);
  db_close(late);
  db_close(quick);
}

/* PostgreSQL: a transaction that got its id first but updates a row after
 * a younger one did is delivered after it, so the row's last change is its
 * latest state (ordering by transaction id would invert them). */
static void test_row_order_across_transactions(void **state) {
  fx *f = *state;
  if (!is_pg(f)) skip();
  db *older, *younger;
  db_err err;
  assert_int_equal(db_open(f->url, &older, &err), 0);
  assert_int_equal(db_open(f->url, &younger, &err), 0);
  char x[37], other[37];
  add_customer(f->d, f->profile, x, "x0");
  settle(f);
  f->k.only = "customers";
  collector_clear(&f->k);
  assert_int_equal(db_begin(older, 1, &err), 0);
  add_customer(older, f->profile, other, "gives older its id first");
  assert_int_equal(db_begin(younger, 1, &err), 0);
  db_val p1[] = {db_text("x1"), db_uuid(x)};
  sql(younger, "UPDATE customers SET full_name = $1 WHERE id = $2", p1, 2);
  assert_int_equal(db_commit(younger, &err), 0);
  db_val p2[] = {db_text("x2"), db_uuid(x)};
  sql(older, "UPDATE customers SET full_name = $1 WHERE id = $2", p2, 2);
  assert_int_equal(db_commit(older, &err), 0);
  assert_int_equal(wait_for(&f->k, 3, 5000), 3);
  int i1 = -1, i2 = -1;
  for (int i = 0; i < 3; i++) {
    if (strcmp(f->k.got[i]->row_id, x)) continue;
    if (strstr(f->k.got[i]->record, "\"x1\"")) i1 = i;
    if (strstr(f->k.got[i]->record, "\"x2\"")) i2 = i;
  }
  assert_true(i1 >= 0 && i2 > i1);
  assert_non_null(strstr(f->k.got[i2]->old_record, "\"x1\""));
  db_close(older);
  db_close(younger);
}

/* Many writers at once: every change arrives once, in seq order, and each
 * row's changes in the order they were made. */
#define WRITERS 4
#define WRITES 40
typedef struct writer_arg {
  const char *url, *profile;
  char id[37];
} writer_arg;

static void *writer(void *p) {
  writer_arg *w = p;
  db *d;
  db_err err;
  if (db_open(w->url, &d, &err)) return NULL;
  uuid_v7(w->id);
  db_val ins[] = {db_uuid(w->profile), db_uuid(w->id), db_text("0"),
                  db_ts(time_now_us())};
  db_query(d, customer_sql(), ins, 4, NULL, &err);
  for (int i = 1; i < WRITES; i++) {
    char v[16];
    snprintf(v, sizeof v, "%d", i);
    db_val up[] = {db_text(v), db_uuid(w->id)};
    for (int tries = 0; tries < 50; tries++)
      if (!db_query(d, "UPDATE customers SET full_name = $1 WHERE id = $2", up,
                    2, NULL, &err))
        break;
  }
  db_close(d);
  return NULL;
}

static void test_concurrent_writers_in_order(void **state) {
  fx *f = *state;
  f->k.only = "customers";
  pthread_t th[WRITERS];
  writer_arg w[WRITERS];
  for (int i = 0; i < WRITERS; i++) {
    w[i].url = f->url;
    w[i].profile = f->profile;
    pthread_create(&th[i], NULL, writer, &w[i]);
  }
  for (int i = 0; i < WRITERS; i++) pthread_join(th[i], NULL);
  assert_int_equal(wait_for(&f->k, WRITERS * WRITES, 10000), WRITERS * WRITES);
  for (int i = 1; i < f->k.n; i++)
    assert_true(rt_pos_cmp(f->k.got[i - 1]->pos, f->k.got[i]->pos) < 0);
  for (int k = 0; k < WRITERS; k++) {
    int next = 0;
    for (int i = 0; i < f->k.n; i++) {
      rt_change *c = f->k.got[i];
      if (strcmp(c->row_id, w[k].id)) continue;
      char want[40];
      snprintf(want, sizeof want, "\"full_name\":\"%d\"", next);
      if (!strstr(c->record, want))
        fail_msg("writer %d: change %d out of order: %s", k, next, c->record);
      next++;
    }
    assert_int_equal(next, WRITES);
  }
}

/* ---- replay, purge, gaps ---------------------------------------------------- */

typedef struct replayed {
  rt_change *c[64];
  int n;
} replayed;

static int keep(void *cls, rt_change *c) {
  replayed *r = cls;
  if (r->n < 64) r->c[r->n++] = rt_change_ref(c);
  return 0;
}

static void replayed_free(replayed *r) {
  for (int i = 0; i < r->n; i++) rt_change_unref(r->c[i]);
  r->n = 0;
}

static void test_replay(void **state) {
  fx *f = *state;
  char other_prof[37];
  test_tenant(f->d, NULL, other_prof);
  settle(f);
  rt_pos start = rt_hub_head(f->hub);
  char c1[37], c2[37], c3[37];
  add_customer(f->d, f->profile, c1, "one");
  add_customer(f->d, other_prof, c2, "someone else's");
  add_customer(f->d, f->profile, c3, "three");
  settle(f);
  rt_pos head = rt_hub_head(f->hub);
  replayed r = {0};
  db_err err;
  /* the owner gets its own two, in order */
  assert_int_equal(rt_replay(f->d, &f->owner, start, head, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 2);
  assert_string_equal(r.c[0]->row_id, c1);
  assert_string_equal(r.c[1]->row_id, c3);
  /* same bytes as the live change */
  rt_change *live = last_change(&f->k, 0, "customers", c1, NULL);
  assert_string_equal(r.c[0]->data, live->data);
  assert_int_equal(rt_pos_cmp(r.c[0]->pos, live->pos), 0);
  /* after = the first: only the second */
  rt_pos after = r.c[0]->pos;
  replayed_free(&r);
  assert_int_equal(rt_replay(f->d, &f->owner, after, head, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 1);
  assert_string_equal(r.c[0]->row_id, c3);
  replayed_free(&r);
  /* upto is inclusive and bounds it */
  assert_int_equal(rt_replay(f->d, &f->owner, start, after, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 1);
  replayed_free(&r);
  /* the service role sees all three; anon and nobody none */
  assert_int_equal(rt_replay(f->d, &f->service, start, head, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 3);
  replayed_free(&r);
  api_principal anon = {.role = ROLE_ANON};
  assert_int_equal(rt_replay(f->d, &anon, start, head, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 0);
  assert_int_equal(rt_replay(f->d, NULL, start, head, NULL, 0, keep, &r, &err), 0);
  assert_int_equal(r.n, 0);
  /* only the tables asked for */
  const rest_table *only[] = {schema_table("products", 8)};
  assert_int_equal(rt_replay(f->d, &f->service, start, head, only, 1, keep, &r, &err), 0);
  assert_int_equal(r.n, 0);
  const rest_table *cust[] = {schema_table("products", 8), schema_table("customers", 9)};
  assert_int_equal(rt_replay(f->d, &f->service, start, head, cust, 2, keep, &r, &err), 0);
  assert_int_equal(r.n, 3);
  replayed_free(&r);
}

/* A feed with a one-second window purges older changes; a replay from
 * before them says some were lost, and still hands out what is kept. */
static void test_purge_and_lost_replay(void **state) {
  fx *f = *state;
  rt_feed_stop(f->feed);
  char e[256];
  assert_int_equal(rt_feed_start(f->url, f->hub, 1, &f->feed, e, sizeof e), 0);
  rt_pos start = rt_hub_head(f->hub);
  char c1[37], c2[37];
  add_customer(f->d, f->profile, c1, "old");
  settle(f);
  struct timespec ts = {2, 300 * 1000000L};
  nanosleep(&ts, NULL);
  add_customer(f->d, f->profile, c2, "new"); /* wakes the feed: it purges */
  settle(f);
  db_err err;
  int64_t purged = 0;
  for (int i = 0; i < 300 && purged <= start.seq; i++) {
    db_res *r = NULL;
    assert_int_equal(db_query(f->d, "SELECT purged_seq FROM realtime_state", NULL, 0, &r, &err), 0);
    purged = db_res_int(r, 0, 0);
    db_res_free(r);
    struct timespec t2 = {0, 10 * 1000000L};
    nanosleep(&t2, NULL);
  }
  assert_true(purged > start.seq);
  replayed r = {0};
  rt_pos head = rt_hub_head(f->hub);
  assert_int_equal(rt_replay(f->d, &f->owner, start, head, NULL, 0, keep, &r, &err), 1);
  /* "old" is gone from the table; "new" is still kept (younger than 1 s,
   * unless this machine is very slow) */
  for (int i = 0; i < r.n; i++) assert_string_not_equal(r.c[i]->row_id, c1);
  replayed_free(&r);
  /* a replay from the purge point on loses nothing */
  assert_int_equal(rt_replay(f->d, &f->owner, (rt_pos){0, purged}, head, NULL, 0, keep, &r, &err), 0);
  replayed_free(&r);
  /* positions go on growing after the purge (it keeps the newest row) */
  f->k.only = "customers";
  collector_clear(&f->k);
  char c3[37];
  add_customer(f->d, f->profile, c3, "after the purge");
  assert_int_equal(wait_for(&f->k, 1, 5000), 1);
  assert_true(rt_pos_cmp(f->k.got[0]->pos, head) > 0);
}

/* The purge deleting changes the feed has not read yet (it fell behind
 * the window) is told to every sink, and the feed goes on after it. */
static void test_gap_is_reported(void **state) {
  fx *f = *state;
  f->k.only = "customers";
  db_err err;
  char lost[37], kept[37];
  /* as the purge does it: every change up to one, the newest kept */
  assert_int_equal(db_begin(f->d, 1, &err), 0);
  add_customer(f->d, f->profile, lost, "purged before the feed read it");
  add_customer(f->d, f->profile, kept, "kept");
  sql(f->d,
      "UPDATE realtime_state SET purged_seq = (SELECT max(seq) - 1 FROM "
      "realtime_changes)",
      NULL, 0);
  sql(f->d,
      "DELETE FROM realtime_changes WHERE seq < (SELECT max(seq) FROM "
      "realtime_changes)",
      NULL, 0);
  assert_int_equal(db_commit(f->d, &err), 0);
  assert_int_equal(wait_for(&f->k, 1, 5000), 1);
  assert_string_equal(f->k.got[0]->row_id, kept);
  assert_int_equal(f->k.gaps, 1);
}

/* PostgreSQL: the purged change is the last one of the feed's round (the
 * feed read the sequence while its transaction was still open): the hole
 * at the end of the round is a gap too, not a rollback to step over. */
static void test_gap_at_round_end(void **state) {
  fx *f = *state;
  if (!is_pg(f)) skip();
  f->k.only = "customers";
  db *t;
  db_err err;
  assert_int_equal(db_open(f->url, &t, &err), 0);
  char lost[37], kept[37];
  assert_int_equal(db_begin(t, 1, &err), 0);
  add_customer(t, f->profile, lost, "purged inside its own transaction");
  struct timespec ts = {0, 400 * 1000000L}; /* the feed reads the sequence */
  nanosleep(&ts, NULL);
  sql(t, "UPDATE realtime_state SET purged_seq = (SELECT max(seq) FROM realtime_changes)", NULL, 0);
  sql(t, "DELETE FROM realtime_changes", NULL, 0);
  assert_int_equal(db_commit(t, &err), 0);
  add_customer(f->d, f->profile, kept, "kept");
  assert_int_equal(wait_for(&f->k, 1, 5000), 1);
  assert_string_equal(f->k.got[0]->row_id, kept);
  assert_int_equal(f->k.gaps, 1);
  db_close(t);
}

/* ---- the install -------------------------------------------------------- */

static int trigger_count(db *d) {
  db_res *r = NULL;
  db_err err;
  const char *q = db_kind_of(d) == DB_POSTGRES
                      ? "SELECT count(*) FROM pg_trigger WHERE tgname = 'rt_capture'"
                      : "SELECT count(*) FROM sqlite_master WHERE type = "
                        "'trigger' AND name LIKE 'rt\\_%' ESCAPE '\\'";
  if (db_query(d, q, NULL, 0, &r, &err)) fail_msg("%s", err.message);
  int n = (int)db_res_int(r, 0, 0);
  db_res_free(r);
  return n;
}

typedef struct installer {
  const char *url;
  int rc;
} installer;

static void *install_thread(void *p) {
  installer *in = p;
  db *d;
  db_err err;
  in->rc = -1;
  if (db_open(in->url, &d, &err)) return NULL;
  in->rc = rt_capture_install(d, &err);
  if (in->rc) fprintf(stderr, "install: %s\n", err.message);
  db_close(d);
  return NULL;
}

static void test_install(void **state) {
  fx *f = *state;
  f->k.only = "customers";
  int ntables;
  schema_tables(&ntables);
  int want = is_pg(f) ? ntables : 3 * ntables;
  assert_int_equal(trigger_count(f->d), want);
  db_err err;
  /* again: nothing to do */
  assert_int_equal(rt_capture_install(f->d, &err), 0);
  assert_int_equal(trigger_count(f->d), want);
  /* a trigger lost (a table rebuilt by a migration) comes back */
  sql(f->d, is_pg(f) ? "DROP TRIGGER rt_capture ON customers"
                     : "DROP TRIGGER rt_customers_i",
      NULL, 0);
  assert_int_equal(rt_capture_install(f->d, &err), 0);
  assert_int_equal(trigger_count(f->d), want);
  /* several processes at once on a changed schema: all succeed, once */
  sql(f->d, "UPDATE realtime_state SET fingerprint = 'old'", NULL, 0);
  pthread_t th[3];
  installer in[3];
  for (int i = 0; i < 3; i++) {
    in[i].url = f->url;
    pthread_create(&th[i], NULL, install_thread, &in[i]);
  }
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  for (int i = 0; i < 3; i++) assert_int_equal(in[i].rc, 0);
  assert_int_equal(trigger_count(f->d), want);
  char id[37];
  add_customer(f->d, f->profile, id, "captured once");
  settle(f);
  assert_int_equal(wait_for(&f->k, 1, 2000), 1);
  assert_int_equal(wait_for(&f->k, 2, 300), 1);
}

/* ---- the db layer's change notification ---------------------------------- */

static int commits_heard;
static void hear_commit(void *cls) {
  (void)cls;
  __atomic_fetch_add(&commits_heard, 1, __ATOMIC_SEQ_CST);
}
static int heard(void) { return __atomic_load_n(&commits_heard, __ATOMIC_SEQ_CST); }

/* db_on_commit: called after a commit that wrote, autocommit or not; not
 * for reads, read-only transactions or rollbacks. */
static void test_commit_listener(void **state) {
  fx *f = *state;
  db *d;
  db_err err;
  assert_int_equal(db_open(f->url, &d, &err), 0);
  assert_int_equal(db_on_commit(hear_commit, &commits_heard), 0);
  char id[37];
  int n0 = heard();
  add_customer(d, f->profile, id, "autocommit");
  assert_int_equal(heard(), n0 + 1);
  sql(d, "SELECT count(*) FROM customers", NULL, 0);
  assert_int_equal(heard(), n0 + 1);
  assert_int_equal(db_begin(d, 1, &err), 0);
  add_customer(d, f->profile, id, "in a transaction");
  assert_int_equal(heard(), n0 + 1); /* not before the commit */
  assert_int_equal(db_commit(d, &err), 0);
  assert_int_equal(heard(), n0 + 2);
  assert_int_equal(db_begin(d, 1, &err), 0);
  add_customer(d, f->profile, id, "rolled back");
  db_rollback(d);
  assert_int_equal(db_begin(d, 0, &err), 0);
  sql(d, "SELECT count(*) FROM customers", NULL, 0);
  assert_int_equal(db_commit(d, &err), 0);
  assert_int_equal(heard(), n0 + 2);
  db_on_commit_remove(hear_commit, &commits_heard);
  add_customer(d, f->profile, id, "nobody listens");
  assert_int_equal(heard(), n0 + 2);
  /* at most DB_COMMIT_LISTENERS (the feed holds one) */
  int added = 0;
  while (db_on_commit(hear_commit, &added + added) == 0) added++;
  assert_int_equal(added, DB_COMMIT_LISTENERS - 1);
  for (int i = 0; i < added; i++) db_on_commit_remove(hear_commit, &added + i);
  db_close(d);
}

/* db_listen / db_wait_notify: a notification, a timeout, the wake fd;
 * SQLite refuses. */
static void test_listen(void **state) {
  fx *f = *state;
  db *l, *n;
  db_err err;
  assert_int_equal(db_open(f->url, &l, &err), 0);
  if (!is_pg(f)) {
    assert_int_equal(db_listen(l, "munshi_test", &err), -1);
    assert_string_equal(err.code, "0A000");
    assert_int_equal(db_wait_notify(l, 1, -1, &err), -1);
    db_close(l);
    return;
  }
  assert_int_equal(db_open(f->url, &n, &err), 0);
  assert_int_equal(db_listen(l, "bad-name", &err), -1);
  assert_int_equal(db_listen(l, "munshi_test", &err), 0);
  assert_int_equal(db_wait_notify(l, 20, -1, &err), 0);
  sql(n, "SELECT pg_notify('munshi_test', '')", NULL, 0);
  assert_int_equal(db_wait_notify(l, 5000, -1, &err), 1);
  assert_int_equal(db_wait_notify(l, 20, -1, &err), 0); /* consumed */
  int fds[2];
  assert_int_equal(pipe(fds), 0);
  assert_int_equal(write(fds[1], "x", 1), 1);
  assert_int_equal(db_wait_notify(l, 5000, fds[0], &err), 2);
  close(fds[0]);
  close(fds[1]);
  db_close(n);
  db_close(l);
}

/* A JSON column computed by the database's JSON functions in the UPDATE
 * itself - as the workflow engine appends each step to step_results with
 * json_insert - is captured as the REST read renders it. SQLite hands the
 * trigger NEW.step_results with the JSON subtype json_insert gave it, so
 * json_object() nested it as an array instead of the column's text, the
 * feed could not render the row and dropped every step of every run on
 * SQLite (found by the browser test of the live run view). */
static void test_json_from_json_functions(void **state) {
  fx *f = *state;
  f->k.only = "workflow_logs";
  arena *a = arena_new();
  const char *bp = id_of(
      a, rest(f->d, a, &f->owner, "POST", "workflow_blueprints", NULL,
              "{\"name\":\"w\",\"nodes\":[{\"id\":\"t\",\"type\":\"trigger\","
              "\"params\":{\"manual\":true}}],\"edges\":[]}",
              201));
  char run[37];
  uuid_v7(run);
  db_val ins[] = {db_uuid(f->profile), db_uuid(run), db_uuid(bp)};
  sql(f->d,
      "INSERT INTO workflow_logs (profile_id, id, blueprint_id) "
      "VALUES ($1, $2, $3)",
      ins, 3);
  const char *v1 = rest_row(f->d, a, &f->service, "workflow_logs", run);
  db_val up[] = {db_uuid(f->profile), db_uuid(run)};
  sql(f->d,
      is_pg(f) ? "UPDATE workflow_logs SET step_results = step_results || "
                 "jsonb_build_array(jsonb_build_object('node_id', 't', "
                 "'status', 'running')), context = jsonb_set(context, "
                 "'{nodes}', '{\"t\": 1}'::jsonb) "
                 "WHERE profile_id = $1 AND id = $2"
               : "UPDATE workflow_logs SET step_results = "
                 "json_insert(step_results, '$[#]', json_object('node_id', "
                 "'t', 'status', 'running')), context = json_set(context, "
                 "'$.nodes', json('{\"t\": 1}')) "
                 "WHERE profile_id = $1 AND id = $2",
      up, 2);
  const char *v2 = rest_row(f->d, a, &f->service, "workflow_logs", run);
  assert_non_null(strstr(v2, "\"node_id\""));
  settle(f);
  assert_int_equal(wait_for(&f->k, 2, 5000), 2);
  check_change(f->k.got[0], "workflow_logs", RT_INSERT, run, v1, NULL);
  check_change(f->k.got[1], "workflow_logs", RT_UPDATE, run, v2, v1);
  collector_clear(&f->k);
  arena_free(a);
}

int main(int argc, char **argv) {
  test_backend_from_args(argc, argv);
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(test_rest_write_reaches_sink, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_other_connection, setup, teardown),
      cmocka_unit_test_setup_teardown(test_every_table_equals_rest, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_late_commit_not_skipped, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_row_order_across_transactions,
                                      setup, teardown),
      cmocka_unit_test_setup_teardown(test_concurrent_writers_in_order, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_replay, setup, teardown),
      cmocka_unit_test_setup_teardown(test_purge_and_lost_replay, setup,
                                      teardown),
      cmocka_unit_test_setup_teardown(test_gap_is_reported, setup, teardown),
      cmocka_unit_test_setup_teardown(test_gap_at_round_end, setup, teardown),
      cmocka_unit_test_setup_teardown(test_install, setup, teardown),
      cmocka_unit_test_setup_teardown(test_commit_listener, setup, teardown),
      cmocka_unit_test_setup_teardown(test_listen, setup, teardown),
      cmocka_unit_test_setup_teardown(test_json_from_json_functions, setup,
                                      teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
