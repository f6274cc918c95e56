/* config.h - the server's settings from flags and the environment.
 *
 * Precedence: command-line flag, then MUNSHI_* variable, then (for the
 * database) DATABASE_URL, then the default. The JWT secret comes from
 * MUNSHI_JWT_SECRET, or from <data-dir>/jwt_secret, which is generated once
 * (32 random bytes, hex, mode 0600) when absent. */
#ifndef MUNSHI_BASE_CONFIG_H
#define MUNSHI_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CONFIG_SECRET_MAX 256

typedef struct config {
  const char *command; /* serve, worker, migrate, keys, version, help */
  char db_url[1024];
  char listen[64];
  int port;
  int threads;         /* HTTP worker threads, each with its own DB connection */
  size_t max_body;     /* request body cap in bytes */
  char data_dir[512];
  int access_ttl_s;
  uint8_t jwt_secret[CONFIG_SECRET_MAX];
  size_t jwt_secret_len;
  char log_level[16];
  /* Auth attempt limits (auth/auth.h auth_config); 0 leaves auth's default. */
  int login_fails, login_addr_fails, signups_per_addr;
  int limit_backoff_s, limit_backoff_max_s, limit_window_s;
  /* HTTP limits and reverse proxies (see docs/deploy.md). */
  char trusted_proxies[1024]; /* IPs and CIDRs whose X-Forwarded-For counts */
  int max_conns;              /* open connections in all */
  int max_conns_per_ip;       /* from one address; 0: no limit */
  int header_timeout_s;       /* request line + headers due within */
  int offload_threads;        /* threads for slow routes (password hashing) */
  int offload_queue;          /* slow requests waiting beyond those; then 429 */
  int ops_threads; /* business operations pool; 0: the backend's default */
  /* Background workers (src/jobs): threads in `serve` (0: none; `worker`
   * runs at least one), lease of their claims, and what the purge keeps. */
  int workers;
  int job_lease_s;
  int64_t event_retention_s;
  int64_t idempotency_ttl_s;
  /* REST answers (rest_set_limits): body bytes, rows per read. */
  size_t max_response;
  long max_rows;
  /* Chat (src/chat, docs/chat.md): the providers' base URLs, the app
   * secret of a Meta app shared by many businesses, and the optional LLM
   * endpoint. Read from the environment only (secrets never go on a
   * command line, where ps shows them). */
  char whatsapp_api_url[512];    /* MUNSHI_WHATSAPP_API_URL */
  char telegram_api_url[512];    /* MUNSHI_TELEGRAM_API_URL */
  char whatsapp_app_secret[256]; /* MUNSHI_WHATSAPP_APP_SECRET, "" none */
  char llm_url[512];             /* MUNSHI_LLM_URL, "" for rules only */
  char llm_key[512];             /* MUNSHI_LLM_KEY */
  char llm_model[128];           /* MUNSHI_LLM_MODEL */
  int llm_timeout_ms;            /* MUNSHI_LLM_TIMEOUT_MS, default 8000 */
  int chat_outbox_lease_s;       /* MUNSHI_CHAT_OUTBOX_LEASE_S, default 300 */
  /* Workflows (src/flow, docs/workflows.md "Runs"): environment only. */
  int flow_max_running;          /* MUNSHI_FLOW_MAX_RUNNING, default 8 */
  int flow_step_lease_s;         /* MUNSHI_FLOW_STEP_LEASE, default 60 */
  int flow_max_attempts;         /* MUNSHI_FLOW_MAX_ATTEMPTS, default 5 */
  int flow_log_retention_days;   /* MUNSHI_FLOW_LOG_RETENTION_DAYS, 30 */
  int flow_max_step_results;     /* MUNSHI_FLOW_MAX_STEP_RESULTS, 500 */
  char flow_public_url[512];     /* MUNSHI_FLOW_PUBLIC_URL, "" */
  /* The live feed (src/realtime, docs/realtime.md): environment only. */
  long rt_max_sockets;          /* MUNSHI_REALTIME_MAX_SOCKETS, 10000 */
  long rt_max_sockets_per_user; /* MUNSHI_REALTIME_MAX_SOCKETS_PER_USER, 100 */
  long rt_max_channels;         /* MUNSHI_REALTIME_MAX_CHANNELS, 100 */
  long rt_max_bindings;         /* MUNSHI_REALTIME_MAX_BINDINGS, 100 */
  long rt_max_frame;            /* MUNSHI_REALTIME_MAX_FRAME, 65536 */
  long rt_max_queue;            /* MUNSHI_REALTIME_MAX_QUEUE, 4 MiB */
  long rt_window_s;             /* MUNSHI_REALTIME_WINDOW, 120 */
  long rt_max_queue_total;      /* MUNSHI_REALTIME_MAX_QUEUE_TOTAL, 256 MiB */
  long rt_max_bindings_socket;  /* MUNSHI_REALTIME_MAX_BINDINGS_PER_SOCKET, 500 */
  long rt_max_bindings_user;    /* MUNSHI_REALTIME_MAX_BINDINGS_PER_USER, 1000 */
  /* Outside services (src/integrations, docs/integrations.md): base URLs
   * and the deployment's shared Razorpay account. Environment only. */
  char shiprocket_api_url[512];       /* MUNSHI_SHIPROCKET_API_URL */
  char razorpay_api_url[512];         /* MUNSHI_RAZORPAY_API_URL */
  char razorpay_key_id[128];          /* MUNSHI_RAZORPAY_KEY_ID, "" none */
  char razorpay_key_secret[256];      /* MUNSHI_RAZORPAY_KEY_SECRET */
  char razorpay_webhook_secret[256];  /* MUNSHI_RAZORPAY_WEBHOOK_SECRET */
  int track_every_s; /* MUNSHI_SHIPMENT_TRACK_EVERY_S, default 1800 */
} config;

/* Parses argv and the environment. Returns 0, or -1 with a message in err. */
int config_load(int argc, char **argv, config *c, char *err, size_t errlen);
/* Loads or creates the JWT secret (see above). Returns 0 or -1 with err. */
int config_secret(config *c, char *err, size_t errlen);
void config_usage(FILE *out);

#endif
