/* config.c - flags and environment into struct config (see config.h). */
#include "base/config.h"

#include <errno.h>
#include <fcntl.h>
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
  c->max_response = 4 * 1024 * 1024;
  c->max_rows = 1000;

  static const struct {
    const char *env, *name;
  } envs[] = {{"DATABASE_URL", "db"},        {"MUNSHI_DB", "db"},
              {"MUNSHI_PORT", "port"},       {"MUNSHI_LISTEN", "listen"},
              {"MUNSHI_THREADS", "threads"}, {"MUNSHI_MAX_BODY", "max-body"},
              {"MUNSHI_DATA_DIR", "data-dir"}, {"MUNSHI_TOKEN_TTL", "token-ttl"},
              {"MUNSHI_LOG", "log"},
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
    static const char *cmds[] = {"serve", "migrate", "keys", "demo", "version",
                                 "help"};
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
