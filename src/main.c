/* main.c - the command line: serve, worker, migrate, keys, demo, version.
 * It parses the configuration and calls into the library; nothing else
 * lives here. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "auth/auth.h"
#include "base/config.h"
#include "base/log.h"
#include "biz/run.h"
#include "chat/chat.h"
#include "flow/bpstore.h"
#include "flow/flow.h"
#include "db/db.h"
#include "demo/demo.h"
#include "http/server.h"
#include "integrations/integrations.h"
#include "jobs/worker.h"
#include "realtime/feed.h"
#include "realtime/realtime.h"
#include "rest/rest.h"

/* Creates the folder an SQLite file lives in (./data by default). */
static void make_parent_dirs(const char *url) {
  if (strncmp(url, "sqlite:", 7) || !strcmp(url + 7, ":memory:")) return;
  char path[1024];
  snprintf(path, sizeof path, "%s", url + 7);
  for (char *p = path + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    mkdir(path, 0755); /* errors show up when the file is opened */
    *p = '/';
  }
}

/* Most write operations one SQLite commit carries. Past a few dozen the
 * batch no longer gets cheaper per operation, and every caller in it waits
 * for the slowest. */
#define WRITER_BATCH 64

static int migrate(const config *c) {
  db *d;
  db_err err;
  make_parent_dirs(c->db_url);
  if (db_open(c->db_url, &d, &err)) {
    fprintf(stderr, "munshi: cannot open the database: %s\n", err.message);
    return -1;
  }
  int applied = 0;
  int rc = db_migrate(d, &applied, &err);
  /* The live feed's capture triggers follow the schema (every process
   * that migrates installs them; a no-op when they are current). */
  if (!rc) rc = rt_capture_install(d, &err);
  /* The shipments' tracking schedule (MUNSHI_SHIPMENT_TRACK_EVERY_S). */
  if (!rc) rc = integ_track_schedule(d, &err);
  db_close(d);
  if (rc) {
    fprintf(stderr, "munshi: migration failed: %s\n", err.message);
    return -1;
  }
  log_info("database ready (%d migration%s applied)", applied,
           applied == 1 ? "" : "s");
  return 0;
}

static auth *make_auth(const config *c) {
  auth_config ac = {.secret = c->jwt_secret,
                    .secret_len = c->jwt_secret_len,
                    .access_ttl_s = c->access_ttl_s,
                    .hash_concurrency = 2,
                    .login_fails = c->login_fails,
                    .login_addr_fails = c->login_addr_fails,
                    .signups_per_addr = c->signups_per_addr,
                    .backoff_s = c->limit_backoff_s,
                    .backoff_max_s = c->limit_backoff_max_s,
                    .limit_window_s = c->limit_window_s};
  return auth_new(&ac);
}

static int print_keys(const config *c) {
  auth *au = make_auth(c);
  buf k;
  buf_init(&k, 0);
  int rc = auth_api_key(au, "anon", &k);
  if (!rc) printf("anon: %s\n", buf_cstr(&k));
  buf_reset(&k);
  if (!rc) rc = auth_api_key(au, "service_role", &k);
  if (!rc) printf("service_role: %s\n", buf_cstr(&k));
  buf_free(&k);
  auth_free(au);
  return rc;
}

static int demo(const config *c) {
  if (migrate(c)) return -1;
  db *d;
  db_err err;
  if (db_open(c->db_url, &d, &err)) {
    fprintf(stderr, "munshi: cannot open the database: %s\n", err.message);
    return -1;
  }
  auth *au = make_auth(c);
  int rc = demo_load(d, au, stdout);
  auth_free(au);
  db_close(d);
  return rc;
}

/* The chat outbox's documents: an invoice as its PDF, made at send time
 * (integrations/invoice_pdf.c). A missing invoice or a bad id fails the
 * message; a database error has it tried again later. */
static int invoice_document(void *cls, db *d, arena *a, const char *profile_id,
                            const char *source, const char *ref, buf *out,
                            const char **filename, char *why, size_t whylen) {
  (void)cls;
  if (strcmp(source, "invoice")) {
    snprintf(why, whylen, "no document source \"%.32s\"", source);
    return -1;
  }
  api_error code = E_INTERNAL;
  if (!integ_invoice_pdf(d, a, profile_id, ref, out, filename, &code, why,
                         whylen))
    return 0;
  return code == E_DB || code == E_UNAVAILABLE ? -2 : -1;
}

/* The consumers of the events outbox, the kinds of timers and the pollers
 * this binary runs. A consumer listed here is registered on start and from
 * then on every event is kept for it until it has handled it; the workflow
 * engine and the realtime feed add theirs here. */
static const jobs_consumer consumers[] = {
    {"chat.agent", chat_agent_handle, NULL},
    {"flow.trigger", flow_trigger_handle, NULL},
};
static const jobs_kind job_kinds[] = {
    {INTEG_TRACK_KIND, integ_track_job, NULL},
};
static const jobs_poller pollers[] = {
    {"chat.inbound", chat_inbound_poll, NULL},
    {"chat.outbox", chat_outbox_poll, NULL},
    {"flow.steps", flow_steps_poll, NULL},
    {"flow.cron", flow_cron_poll, NULL},
};
#define N_CONSUMERS ((int)(sizeof consumers / sizeof consumers[0]))
#define N_JOB_KINDS ((int)(sizeof job_kinds / sizeof job_kinds[0]))
#define N_POLLERS ((int)(sizeof pollers / sizeof pollers[0]))

/* Starts n background workers (n >= 1). */
static int workers_start(const config *c, int n, jobs_pool **out) {
  jobs_config jc = {.db_url = c->db_url,
                    .workers = n,
                    .lease_s = c->job_lease_s,
                    .event_retention_s = c->event_retention_s,
                    .idem_ttl_s = c->idempotency_ttl_s,
                    .consumers = consumers,
                    .n_consumers = N_CONSUMERS,
                    .kinds = job_kinds,
                    .n_kinds = N_JOB_KINDS,
                    .pollers = pollers,
                    .n_pollers = N_POLLERS};
  char err[256];
  if (jobs_start(&jc, out, err, sizeof err)) {
    fprintf(stderr, "munshi: %s\n", err);
    return -1;
  }
  return 0;
}

/* Blocks SIGINT and SIGTERM in this thread and every thread started after,
 * so that only sigwait sees them. */
static void block_stop_signals(sigset_t *stop) {
  sigemptyset(stop);
  sigaddset(stop, SIGINT);
  sigaddset(stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, stop, NULL);
  signal(SIGPIPE, SIG_IGN);
}

/* `munshi worker`: the background workers without the HTTP server. */
static int worker(const config *c) {
  if (migrate(c)) return -1;
  sigset_t stop;
  block_stop_signals(&stop);
  jobs_pool *jp = NULL;
  int n = c->workers > 0 ? c->workers : 1;
  if (workers_start(c, n, &jp)) return -1;
  printf("munshi %s: %d background worker%s (database: %s)\n", MUNSHI_VERSION,
         n, n == 1 ? "" : "s",
         strncmp(c->db_url, "sqlite:", 7) ? "PostgreSQL" : c->db_url);
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  log_info("signal %d: stopping the workers", sig);
  jobs_stop(jp);
  return 0;
}

static int serve(const config *c) {
  if (migrate(c)) return -1;
  rest_set_limits(c->max_response, c->max_rows);
  /* Blueprints written over REST are checked and versioned by flow. */
  rest_set_write_hook("workflow_blueprints", flow_bp_rest_before,
                      flow_bp_rest_after_insert);
  auth *au = make_auth(c);
  http_config hc = {.listen = c->listen,
                    .port = c->port,
                    .threads = c->threads,
                    .max_body = c->max_body,
                    .db_url = c->db_url,
                    .au = au,
                    .trusted_proxies = c->trusted_proxies,
                    .max_conns = c->max_conns,
                    .max_conns_per_ip = c->max_conns_per_ip,
                    .header_timeout_ms = c->header_timeout_s * 1000,
                    .offload_threads = c->offload_threads,
                    .offload_queue = c->offload_queue,
                    .ops_threads = c->ops_threads};
  /* Block the stop signals before the workers start, so they inherit the
   * mask and only sigwait below sees them. */
  sigset_t stop;
  block_stop_signals(&stop);
  http_server *s;
  char err[256];
  /* The live feed: changes from the database to WebSockets and SSE. */
  rt_config rc = {.db_url = c->db_url,
                  .au = au,
                  .max_sockets = (int)c->rt_max_sockets,
                  .max_sockets_per_user = (int)c->rt_max_sockets_per_user,
                  .max_channels = (int)c->rt_max_channels,
                  .max_bindings = (int)c->rt_max_bindings,
                  .max_frame = (size_t)c->rt_max_frame,
                  .max_queue = (size_t)c->rt_max_queue,
                  .window_s = (int)c->rt_window_s,
                  .max_queue_total = (size_t)c->rt_max_queue_total,
                  .max_bindings_socket = (int)c->rt_max_bindings_socket,
                  .max_bindings_user = (int)c->rt_max_bindings_user};
  rt_server *rt = NULL;
  /* SQLite: write operations of every request (and, later, of the
   * workers) share one writer thread, which commits them in groups
   * (biz/run.h). It starts first and stops last. */
  db_err werr;
  if (biz_writer_start(c->db_url, WRITER_BATCH, &werr)) {
    fprintf(stderr, "munshi: cannot start the writer: %s\n", werr.message);
    auth_free(au);
    return -1;
  }
  jobs_pool *jp = NULL;
  if (c->workers > 0 && workers_start(c, c->workers, &jp)) {
    biz_writer_stop();
    auth_free(au);
    return -1;
  }
  if (rt_start(&rc, &rt, err, sizeof err)) {
    fprintf(stderr, "munshi: %s\n", err);
    jobs_stop(jp);
    biz_writer_stop();
    auth_free(au);
    return -1;
  }
  hc.rt = rt;
  if (http_start(&hc, &s, err, sizeof err)) {
    fprintf(stderr, "munshi: %s\n", err);
    rt_stop(rt);
    jobs_stop(jp);
    biz_writer_stop();
    auth_free(au);
    return -1;
  }
  const char *where = strncmp(c->db_url, "sqlite:", 7) ? "PostgreSQL" : c->db_url;
  printf("munshi %s listening on http://%s:%d (database: %s, %d threads)\n",
         MUNSHI_VERSION, c->listen, http_port(s), where, c->threads);
  printf("API keys: run `munshi keys` with the same environment; sign up with\n"
         "  curl -X POST http://%s:%d/auth/v1/signup -H 'Content-Type: "
         "application/json' -d '{\"email\":\"you@example.com\",\"password\":"
         "\"a-long-password\"}'\n",
         c->listen, http_port(s));
  fflush(stdout);
  int sig = 0;
  sigwait(&stop, &sig);
  log_info("signal %d: stopping", sig);
  /* Requests first (they write events), then the workers finish or give
   * back what they hold. */
  http_stop(s);
  rt_stop(rt);
  jobs_stop(jp);
  biz_writer_stop();
  auth_free(au);
  return 0;
}

int main(int argc, char **argv) {
  config c;
  char err[256];
  if (config_load(argc, argv, &c, err, sizeof err)) {
    fprintf(stderr, "munshi: %s\n", err);
    return 2;
  }
  log_level lvl;
  if (log_level_from_name(c.log_level, &lvl) == 0) log_set_level(lvl);
  chat_settings cs = {c.whatsapp_api_url, c.telegram_api_url,
                      c.whatsapp_app_secret, c.llm_url, c.llm_key,
                      c.llm_model, c.llm_timeout_ms, c.chat_outbox_lease_s};
  chat_configure(&cs);
  /* Workflow limits from MUNSHI_FLOW_*; the Architect shares the chat
   * agent's model. */
  flow_settings fs = {0};
  fs.max_running_per_profile = c.flow_max_running;
  fs.step_lease_s = c.flow_step_lease_s;
  fs.max_attempts = c.flow_max_attempts;
  fs.log_retention_days = c.flow_log_retention_days;
  fs.max_step_results = c.flow_max_step_results;
  fs.public_url = c.flow_public_url;
  fs.llm_url = c.llm_url, fs.llm_key = c.llm_key, fs.llm_model = c.llm_model;
  fs.llm_timeout_ms = c.llm_timeout_ms;
  flow_configure(&fs);
  integ_settings is = {c.shiprocket_api_url, c.razorpay_api_url,
                       c.razorpay_key_id, c.razorpay_key_secret,
                       c.razorpay_webhook_secret, c.track_every_s};
  integ_configure(&is);
  chat_set_document_source(invoice_document, NULL);
  if (!strcmp(c.command, "help")) {
    config_usage(stdout);
    return 0;
  }
  if (!strcmp(c.command, "version")) {
    printf("munshi %s\n", MUNSHI_VERSION);
    return 0;
  }
  if (!strcmp(c.command, "migrate")) return migrate(&c) ? 1 : 0;
  /* Workers sign nothing: no JWT secret needed. */
  if (!strcmp(c.command, "worker")) return worker(&c) ? 1 : 0;
  if (config_secret(&c, err, sizeof err)) {
    fprintf(stderr, "munshi: %s\n", err);
    return 1;
  }
  if (!strcmp(c.command, "keys")) return print_keys(&c) ? 1 : 0;
  if (!strcmp(c.command, "demo")) return demo(&c) ? 1 : 0;
  return serve(&c) ? 1 : 0;
}
