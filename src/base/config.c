/* config.c - flags and environment into struct config (see config.h). */
#include "base/config.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crypto.h"

void config_usage(FILE *out) {
  fputs(
      "usage: munshi [command] [options]\n"
      "\n"
      "commands:\n"
      "  serve      migrate the database and serve HTTP (the default)\n"
      "  worker     migrate, then run only the background workers\n"
      "  migrate    apply pending migrations and exit\n"
      "  keys       print the anon and service_role API keys\n"
      "  demo       load a sample business to try every operation on\n"
      "  version    print the version\n"
      "  help       print this text\n"
      "\n"
      "options (environment in brackets):\n"
      "  --db URL         sqlite:PATH or postgres://... [MUNSHI_DB, DATABASE_URL]\n"
      "                   default sqlite:./data/munshi.db\n"
      "  --port N         TCP port, default 8080 [MUNSHI_PORT]\n"
      "  --listen ADDR    address to bind, default 127.0.0.1 [MUNSHI_LISTEN]\n"
      "  --threads N      worker threads, default: number of cores [MUNSHI_THREADS]\n"
      "  --max-body N     request body cap in bytes, default 1048576 [MUNSHI_MAX_BODY]\n"
      "  --data-dir DIR   where the generated JWT secret is kept, default ./data\n"
      "                   [MUNSHI_DATA_DIR]\n"
      "  --token-ttl N    access token lifetime in seconds, default 3600\n"
      "                   [MUNSHI_TOKEN_TTL]\n"
      "  --log LEVEL      debug, info, warn or error [MUNSHI_LOG]\n"
      "  auth attempt limits, per client address (see docs/deploy.md):\n"
      "  --login-fails N  failed logins per email from one address before\n"
      "                   waiting, default 5 [MUNSHI_LOGIN_FAILS]\n"
      "  --login-addr-fails N  failed logins per address, any email, default 20\n"
      "                   [MUNSHI_LOGIN_ADDR_FAILS]\n"
      "  --signups-per-addr N  signup attempts per address, default 10\n"
      "                   [MUNSHI_SIGNUPS_PER_ADDR]\n"
      "  --limit-backoff N  first wait in seconds once those are used, doubling\n"
      "                   with each further attempt, default 30 [MUNSHI_LIMIT_BACKOFF]\n"
      "  --limit-backoff-max N  longest wait, default 900 [MUNSHI_LIMIT_BACKOFF_MAX]\n"
      "  --limit-window N  seconds without attempts after which an address\n"
      "                   starts over, default 3600 [MUNSHI_LIMIT_WINDOW]\n"
      "  --trusted-proxies LIST  IPs/CIDRs of reverse proxies whose\n"
      "                   X-Forwarded-For is believed [MUNSHI_TRUSTED_PROXIES]\n"
      "  --max-connections N     open connections, default 1000\n"
      "                   [MUNSHI_MAX_CONNECTIONS]\n"
      "  --max-connections-per-ip N  from one address, default 128, 0: no limit\n"
      "                   [MUNSHI_MAX_CONNECTIONS_PER_IP]\n"
      "  --header-timeout N  seconds to send the request headers, default 10\n"
      "                   [MUNSHI_HEADER_TIMEOUT]\n"
      "  --offload-threads N, --offload-queue N  the pool for slow requests\n"
      "                   (password hashing), default 2 and 32\n"
      "                   [MUNSHI_OFFLOAD_THREADS, MUNSHI_OFFLOAD_QUEUE]\n"
      "  --ops-threads N  threads (and database connections) running business\n"
      "                   operations (/rest/v1/rpc), default 16 on SQLite, one\n"
      "                   per core (at least 2) on PostgreSQL [MUNSHI_OPS_THREADS]\n"
      "  --workers N      background workers in serve, default 2; 0: none\n"
      "                   (worker runs at least 1) [MUNSHI_WORKERS]\n"
      "  --job-lease N    seconds a worker may hold a claim, default 60\n"
      "                   [MUNSHI_JOB_LEASE]\n"
      "  --event-retention N  seconds handled events are kept, default 604800\n"
      "                   [MUNSHI_EVENT_RETENTION]\n"
      "  --idempotency-ttl N  seconds an Idempotency-Key is kept, default 86400\n"
      "                   [MUNSHI_IDEMPOTENCY_TTL]\n"
      "  --max-response N largest /rest/v1 response in bytes, default 4194304\n"
      "                   [MUNSHI_MAX_RESPONSE]\n"
      "  --max-rows N     most rows one /rest/v1 read returns, default 1000\n"
      "                   [MUNSHI_MAX_ROWS]\n"
      "  [MUNSHI_JWT_SECRET]  HS256 secret, at least 32 characters; when unset,\n"
      "                   one is generated once into <data-dir>/jwt_secret\n",
      out);
}

static int copy(char *dst, size_t cap, const char *src, const char *what,
                char *err, size_t errlen) {
  size_t n = strlen(src);
  if (n >= cap) {
    snprintf(err, errlen, "%s is too long (at most %zu characters)", what,
             cap - 1);
    return -1;
  }
  memcpy(dst, src, n + 1);
  return 0;
}

static int number(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

/* The auth attempt limits: 1 applied, 0 not one of them, -1 bad value. */
static int apply_auth_limit(config *c, const char *name, const char *v) {
  static const struct {
    const char *name;
    size_t off;
    long lo, hi;
  } lims[] = {
      {"login-fails", offsetof(config, login_fails), 1, 1000},
      {"login-addr-fails", offsetof(config, login_addr_fails), 1, 100000},
      {"signups-per-addr", offsetof(config, signups_per_addr), 1, 100000},
      {"limit-backoff", offsetof(config, limit_backoff_s), 1, 86400},
      {"limit-backoff-max", offsetof(config, limit_backoff_max_s), 1, 604800},
      {"limit-window", offsetof(config, limit_window_s), 60, 604800},
  };
  for (size_t i = 0; i < sizeof lims / sizeof lims[0]; i++) {
    if (strcmp(name, lims[i].name)) continue;
    long n;
    if (number(v, lims[i].lo, lims[i].hi, &n)) return -1;
    *(int *)((char *)c + lims[i].off) = (int)n;
    return 1;
  }
  return 0;
}

/* The HTTP limits and proxies. Returns 0, -1 with err, or 1 when name is
 * not one of them. */
static int apply_http(config *c, const char *name, const char *v, char *err,
                      size_t errlen) {
  long n;
  int *target = NULL;
  long lo = 0, hi = 0;
  if (!strcmp(name, "trusted-proxies"))
    return copy(c->trusted_proxies, sizeof c->trusted_proxies, v,
                "--trusted-proxies", err, errlen);
  if (!strcmp(name, "max-connections"))
    target = &c->max_conns, lo = 1, hi = 1000000;
  else if (!strcmp(name, "max-connections-per-ip"))
    target = &c->max_conns_per_ip, lo = 0, hi = 1000000;
  else if (!strcmp(name, "header-timeout"))
    target = &c->header_timeout_s, lo = 1, hi = 3600;
  else if (!strcmp(name, "offload-threads"))
    target = &c->offload_threads, lo = 1, hi = 256;
  else if (!strcmp(name, "offload-queue"))
    target = &c->offload_queue, lo = 0, hi = 100000;
  /* business operations pool (0: the backend's default) */
  else if (!strcmp(name, "ops-threads"))
    target = &c->ops_threads, lo = 1, hi = 256;
  else
    return 1;
  if (number(v, lo, hi, &n)) {
    snprintf(err, errlen, "bad value for --%s: \"%.40s\" (%ld to %ld)", name,
             v, lo, hi);
    return -1;
  }
  *target = (int)n;
  return 0;
}

/* Applies one setting by name (flag or environment). */
static int apply(config *c, const char *name, const char *v, char *err,
                 size_t errlen) {
  long n;
  if (!strcmp(name, "db"))
    return copy(c->db_url, sizeof c->db_url, v, "--db", err, errlen);
  if (!strcmp(name, "listen"))
    return copy(c->listen, sizeof c->listen, v, "--listen", err, errlen);
  if (!strcmp(name, "data-dir"))
    return copy(c->data_dir, sizeof c->data_dir, v, "--data-dir", err, errlen);
  if (!strcmp(name, "log"))
    return copy(c->log_level, sizeof c->log_level, v, "--log", err, errlen);
  if (!strcmp(name, "port")) {
    if (number(v, 0, 65535, &n)) goto bad;
    c->port = (int)n;
    return 0;
  }
  if (!strcmp(name, "threads")) {
    if (number(v, 1, 256, &n)) goto bad;
    c->threads = (int)n;
    return 0;
  }
  if (!strcmp(name, "max-body")) {
    if (number(v, 1024, 1L << 30, &n)) goto bad;
    c->max_body = (size_t)n;
    return 0;
  }
  if (!strcmp(name, "token-ttl")) {
    if (number(v, 60, 7L * 24 * 3600, &n)) goto bad;
    c->access_ttl_s = (int)n;
    return 0;
  }
  int lim = apply_auth_limit(c, name, v);
  if (lim < 0) goto bad;
  if (lim > 0) return 0;
  int h = apply_http(c, name, v, err, errlen);
  if (h != 1) return h;
  /* Background workers (src/jobs, docs/jobs.md). */
  if (!strcmp(name, "workers")) {
    if (number(v, 0, 64, &n)) goto bad;
    c->workers = (int)n;
    return 0;
  }
  if (!strcmp(name, "job-lease")) {
    if (number(v, 5, 86400, &n)) goto bad;
    c->job_lease_s = (int)n;
    return 0;
  }
  if (!strcmp(name, "event-retention")) {
    if (number(v, 60, 3650L * 86400, &n)) goto bad;
    c->event_retention_s = n;
    return 0;
  }
  if (!strcmp(name, "idempotency-ttl")) {
    if (number(v, 60, 3650L * 86400, &n)) goto bad;
    c->idempotency_ttl_s = n;
    return 0;
  }
  /* REST answer caps (rest/rest.h). */
  if (!strcmp(name, "max-response")) {
    if (number(v, 1024, 1L << 30, &n)) goto bad;
    c->max_response = (size_t)n;
    return 0;
  }
  if (!strcmp(name, "max-rows")) {
    if (number(v, 1, 1000000, &n)) goto bad;
    c->max_rows = n;
    return 0;
  }
  snprintf(err, errlen, "unknown option --%s (see munshi --help)", name);
  return -1;
bad:
  snprintf(err, errlen, "bad value for --%s: \"%.40s\"", name, v);
  return -1;
}

/* The chat settings (config.h): environment only. */
static int load_chat(config *c, char *err, size_t errlen) {
  static const struct {
    const char *env;
    size_t off, cap;
    const char *def;
  } vars[] = {
      {"MUNSHI_WHATSAPP_API_URL", offsetof(config, whatsapp_api_url),
       sizeof c->whatsapp_api_url, "https://graph.facebook.com/v21.0"},
      {"MUNSHI_TELEGRAM_API_URL", offsetof(config, telegram_api_url),
       sizeof c->telegram_api_url, "https://api.telegram.org"},
      {"MUNSHI_WHATSAPP_APP_SECRET", offsetof(config, whatsapp_app_secret),
       sizeof c->whatsapp_app_secret, ""},
      {"MUNSHI_LLM_URL", offsetof(config, llm_url), sizeof c->llm_url, ""},
      {"MUNSHI_LLM_KEY", offsetof(config, llm_key), sizeof c->llm_key, ""},
      {"MUNSHI_LLM_MODEL", offsetof(config, llm_model), sizeof c->llm_model,
       ""},
  };
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i].env);
    if (!v || !*v) v = vars[i].def;
    if (copy((char *)c + vars[i].off, vars[i].cap, v, vars[i].env, err,
             errlen))
      return -1;
  }
  const char *t = getenv("MUNSHI_LLM_TIMEOUT_MS");
  long n = 8000;
  if (t && *t && number(t, 100, 120000, &n)) {
    snprintf(err, errlen, "bad value for MUNSHI_LLM_TIMEOUT_MS: \"%.40s\"", t);
    return -1;
  }
  c->llm_timeout_ms = (int)n;
  /* How long a dead sender's claim on outbound messages holds them: it
   * must outlast a batch of slow provider calls (16 x 15 s). */
  t = getenv("MUNSHI_CHAT_OUTBOX_LEASE_S");
  n = 300;
  if (t && *t && number(t, 5, 3600, &n)) {
    snprintf(err, errlen, "bad value for MUNSHI_CHAT_OUTBOX_LEASE_S: \"%.40s\"",
             t);
    return -1;
  }
  c->chat_outbox_lease_s = (int)n;
  return 0;
}

/* The workflow engine's limits (docs/workflows.md, "Runs"). */
static int load_flow(config *c, char *err, size_t errlen) {
  const struct {
    const char *env;
    int *dst;
    long lo, hi, def;
  } ints[] = {
      {"MUNSHI_FLOW_MAX_RUNNING", &c->flow_max_running, 1, 1000, 8},
      {"MUNSHI_FLOW_STEP_LEASE", &c->flow_step_lease_s, 5, 3600, 60},
      {"MUNSHI_FLOW_MAX_ATTEMPTS", &c->flow_max_attempts, 1, 50, 5},
      {"MUNSHI_FLOW_LOG_RETENTION_DAYS", &c->flow_log_retention_days, 1, 3650,
       30},
      {"MUNSHI_FLOW_MAX_STEP_RESULTS", &c->flow_max_step_results, 2, 100000,
       500},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    const char *t = getenv(ints[i].env);
    long n = ints[i].def;
    if (t && *t && number(t, ints[i].lo, ints[i].hi, &n)) {
      snprintf(err, errlen, "bad value for %s: \"%.40s\" (%ld..%ld)",
               ints[i].env, t, ints[i].lo, ints[i].hi);
      return -1;
    }
    *ints[i].dst = (int)n;
  }
  const char *u = getenv("MUNSHI_FLOW_PUBLIC_URL");
  return copy(c->flow_public_url, sizeof c->flow_public_url, u ? u : "",
              "MUNSHI_FLOW_PUBLIC_URL", err, errlen);
}

/* Outside services (docs/integrations.md): environment only, since the
 * shared Razorpay account's secrets must not show in ps. */
static int load_integrations(config *c, char *err, size_t errlen) {
  static const struct {
    const char *env;
    size_t off, cap;
    const char *def;
  } vars[] = {
      {"MUNSHI_SHIPROCKET_API_URL", offsetof(config, shiprocket_api_url),
       sizeof c->shiprocket_api_url,
       "https://apiv2.shiprocket.in/v1/external"},
      {"MUNSHI_RAZORPAY_API_URL", offsetof(config, razorpay_api_url),
       sizeof c->razorpay_api_url, "https://api.razorpay.com/v1"},
      {"MUNSHI_RAZORPAY_KEY_ID", offsetof(config, razorpay_key_id),
       sizeof c->razorpay_key_id, ""},
      {"MUNSHI_RAZORPAY_KEY_SECRET", offsetof(config, razorpay_key_secret),
       sizeof c->razorpay_key_secret, ""},
      {"MUNSHI_RAZORPAY_WEBHOOK_SECRET",
       offsetof(config, razorpay_webhook_secret),
       sizeof c->razorpay_webhook_secret, ""},
  };
  for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++) {
    const char *v = getenv(vars[i].env);
    if (!v || !*v) v = vars[i].def;
    if (copy((char *)c + vars[i].off, vars[i].cap, v, vars[i].env, err,
             errlen))
      return -1;
  }
  if (!*c->razorpay_key_id != !*c->razorpay_key_secret) {
    snprintf(err, errlen,
             "MUNSHI_RAZORPAY_KEY_ID and MUNSHI_RAZORPAY_KEY_SECRET go "
             "together: set both or neither");
    return -1;
  }
  const char *t = getenv("MUNSHI_SHIPMENT_TRACK_EVERY_S");
  long n = 1800;
  if (t && *t && number(t, 10, 86400, &n)) {
    snprintf(err, errlen,
             "bad value for MUNSHI_SHIPMENT_TRACK_EVERY_S: \"%.40s\" "
             "(10..86400)",
             t);
    return -1;
  }
  c->track_every_s = (int)n;
  return 0;
}

/* The live feed's caps and reconnect window (docs/realtime.md). */
static int load_realtime(config *c, char *err, size_t errlen) {
  const struct {
    const char *env;
    long *dst;
    long lo, hi, def;
  } ints[] = {
      {"MUNSHI_REALTIME_MAX_SOCKETS", &c->rt_max_sockets, 1, 1000000, 10000},
      {"MUNSHI_REALTIME_MAX_SOCKETS_PER_USER", &c->rt_max_sockets_per_user, 1,
       1000000, 100},
      {"MUNSHI_REALTIME_MAX_CHANNELS", &c->rt_max_channels, 1, 10000, 100},
      {"MUNSHI_REALTIME_MAX_BINDINGS", &c->rt_max_bindings, 1, 1000, 100},
      {"MUNSHI_REALTIME_MAX_FRAME", &c->rt_max_frame, 1024, 16L << 20, 64L << 10},
      {"MUNSHI_REALTIME_MAX_QUEUE", &c->rt_max_queue, 64L << 10, 1L << 30,
       4L << 20},
      {"MUNSHI_REALTIME_WINDOW", &c->rt_window_s, 1, 86400, 120},
      {"MUNSHI_REALTIME_MAX_QUEUE_TOTAL", &c->rt_max_queue_total, 1L << 20,
       64L << 30, 256L << 20},
      {"MUNSHI_REALTIME_MAX_BINDINGS_PER_SOCKET", &c->rt_max_bindings_socket, 1,
       1000000, 500},
      {"MUNSHI_REALTIME_MAX_BINDINGS_PER_USER", &c->rt_max_bindings_user, 1,
       10000000, 1000},
  };
  for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
    const char *t = getenv(ints[i].env);
    long n = ints[i].def;
    if (t && *t && number(t, ints[i].lo, ints[i].hi, &n)) {
      snprintf(err, errlen, "bad value for %s: \"%.40s\" (%ld..%ld)",
               ints[i].env, t, ints[i].lo, ints[i].hi);
      return -1;
    }
    *ints[i].dst = n;
  }
  return 0;
}

int config_load(int argc, char **argv, config *c, char *err, size_t errlen) {
  memset(c, 0, sizeof *c);
  c->command = "serve";
  memcpy(c->db_url, "sqlite:./data/munshi.db", sizeof "sqlite:./data/munshi.db");
  memcpy(c->listen, "127.0.0.1", sizeof "127.0.0.1");
  memcpy(c->data_dir, "./data", sizeof "./data");
  memcpy(c->log_level, "info", sizeof "info");
  c->port = 8080;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  c->threads = cores > 0 ? (int)cores : 2;
  c->max_body = 1024 * 1024;
  c->access_ttl_s = 3600;
  c->max_conns = 1000;
  c->max_conns_per_ip = 128;
  c->header_timeout_s = 10;
  c->offload_threads = 2;
  c->offload_queue = 32;
  c->workers = 2;
  c->job_lease_s = 60;
  c->event_retention_s = 7L * 86400;
  c->idempotency_ttl_s = 86400;
  c->max_response = 4 * 1024 * 1024;
  c->max_rows = 1000;
  if (load_chat(c, err, errlen)) return -1;
  if (load_flow(c, err, errlen)) return -1;
  if (load_realtime(c, err, errlen)) return -1;
  if (load_integrations(c, err, errlen)) return -1;

  static const struct {
    const char *env, *name;
  } envs[] = {{"DATABASE_URL", "db"},        {"MUNSHI_DB", "db"},
              {"MUNSHI_PORT", "port"},       {"MUNSHI_LISTEN", "listen"},
              {"MUNSHI_THREADS", "threads"}, {"MUNSHI_MAX_BODY", "max-body"},
              {"MUNSHI_DATA_DIR", "data-dir"}, {"MUNSHI_TOKEN_TTL", "token-ttl"},
              {"MUNSHI_LOG", "log"},
              /* auth attempt limits */
              {"MUNSHI_LOGIN_FAILS", "login-fails"},
              {"MUNSHI_LOGIN_ADDR_FAILS", "login-addr-fails"},
              {"MUNSHI_SIGNUPS_PER_ADDR", "signups-per-addr"},
              {"MUNSHI_LIMIT_BACKOFF", "limit-backoff"},
              {"MUNSHI_LIMIT_BACKOFF_MAX", "limit-backoff-max"},
              {"MUNSHI_LIMIT_WINDOW", "limit-window"},
              /* HTTP limits and proxies */
              {"MUNSHI_TRUSTED_PROXIES", "trusted-proxies"},
              {"MUNSHI_MAX_CONNECTIONS", "max-connections"},
              {"MUNSHI_MAX_CONNECTIONS_PER_IP", "max-connections-per-ip"},
              {"MUNSHI_HEADER_TIMEOUT", "header-timeout"},
              {"MUNSHI_OFFLOAD_THREADS", "offload-threads"},
              {"MUNSHI_OFFLOAD_QUEUE", "offload-queue"},
              /* business operations pool */
              {"MUNSHI_OPS_THREADS", "ops-threads"},
              /* background workers */
              {"MUNSHI_WORKERS", "workers"}, {"MUNSHI_JOB_LEASE", "job-lease"},
              {"MUNSHI_EVENT_RETENTION", "event-retention"},
              {"MUNSHI_IDEMPOTENCY_TTL", "idempotency-ttl"},
              /* REST answer caps */
              {"MUNSHI_MAX_RESPONSE", "max-response"},
              {"MUNSHI_MAX_ROWS", "max-rows"}};
  for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++) {
    const char *v = getenv(envs[i].env);
    if (v && *v && apply(c, envs[i].name, v, err, errlen)) {
      size_t m = strlen(err);
      snprintf(err + m, errlen - m, " (from %s)", envs[i].env);
      return -1;
    }
  }
  int have_command = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      c->command = "help";
      have_command = 1;
      continue;
    }
    if (!strcmp(a, "--version")) {
      c->command = "version";
      have_command = 1;
      continue;
    }
    if (!strncmp(a, "--", 2)) {
      const char *name = a + 2, *eq = strchr(name, '=');
      char key[32];
      const char *val;
      size_t kl = eq ? (size_t)(eq - name) : strlen(name);
      if (kl >= sizeof key) kl = sizeof key - 1;
      memcpy(key, name, kl);
      key[kl] = '\0';
      if (eq) {
        val = eq + 1;
      } else if (i + 1 < argc) {
        val = argv[++i];
      } else {
        snprintf(err, errlen, "--%s needs a value", key);
        return -1;
      }
      if (apply(c, key, val, err, errlen)) return -1;
      continue;
    }
    if (have_command) {
      snprintf(err, errlen, "unexpected argument \"%.40s\"", a);
      return -1;
    }
    static const char *cmds[] = {"serve", "migrate", "keys",   "demo",
                                 "version", "help",   "worker"};
    int found = 0;
    for (size_t k = 0; k < sizeof cmds / sizeof cmds[0]; k++)
      if (!strcmp(a, cmds[k])) {
        c->command = cmds[k];
        found = 1;
      }
    if (!found) {
      snprintf(err, errlen, "unknown command \"%.40s\" (see munshi --help)", a);
      return -1;
    }
    have_command = 1;
  }
  if (strncmp(c->db_url, "sqlite:", 7) && strncmp(c->db_url, "postgres://", 11) &&
      strncmp(c->db_url, "postgresql://", 13)) {
    snprintf(err, errlen,
             "the database URL must start with sqlite:, postgres:// or "
             "postgresql://");
    return -1;
  }
  return 0;
}

int config_secret(config *c, char *err, size_t errlen) {
  const char *env = getenv("MUNSHI_JWT_SECRET");
  if (env && *env) {
    size_t n = strlen(env);
    if (n < 32 || n >= CONFIG_SECRET_MAX) {
      snprintf(err, errlen,
               "MUNSHI_JWT_SECRET must be 32 to %d characters long",
               CONFIG_SECRET_MAX - 1);
      return -1;
    }
    memcpy(c->jwt_secret, env, n);
    c->jwt_secret_len = n;
    return 0;
  }
  char path[600];
  snprintf(path, sizeof path, "%s/jwt_secret", c->data_dir);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 && errno == ENOENT) {
    /* First start: make one. O_EXCL so two processes cannot both write. */
    if (mkdir(c->data_dir, 0700) && errno != EEXIST) {
      snprintf(err, errlen, "cannot create %s: %s", c->data_dir,
               strerror(errno));
      return -1;
    }
    uint8_t raw[32];
    char hex[65];
    random_bytes(raw, sizeof raw);
    hex_encode(raw, sizeof raw, hex);
    int wfd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (wfd >= 0) {
      ssize_t w = write(wfd, hex, 64);
      close(wfd);
      if (w != 64) {
        unlink(path);
        snprintf(err, errlen, "cannot write %s", path);
        return -1;
      }
    } else if (errno != EEXIST) {
      snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
      return -1;
    }
    fd = open(path, O_RDONLY | O_CLOEXEC);
  }
  if (fd < 0) {
    snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
    return -1;
  }
  ssize_t n = read(fd, c->jwt_secret, sizeof c->jwt_secret - 1);
  close(fd);
  while (n > 0 && (c->jwt_secret[n - 1] == '\n' || c->jwt_secret[n - 1] == '\r'))
    n--;
  if (n < 32) {
    snprintf(err, errlen, "%s holds fewer than 32 characters", path);
    return -1;
  }
  c->jwt_secret_len = (size_t)n;
  return 0;
}
