/* log.c - one-line logs to stderr (see log.h).
 *
 * Each line is built whole in a stack buffer and handed to the kernel in one
 * write(2), so lines from concurrent threads do not interleave mid-line.
 * Control characters in a message are escaped, because messages may quote
 * client input and a forged newline would forge a log line. Long messages
 * are cut with "..." rather than split. The level is an atomic read on every
 * call; MUNSHI_LOG sets it once unless log_set_level has already been
 * called. */
#include "base/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "base/timeutil.h"

#define LOG_LINE_MAX 2048

static atomic_int current_level = LOG_INFO;
static atomic_bool level_set;
static pthread_once_t env_once = PTHREAD_ONCE_INIT;

static void read_env(void) {
  const char *e = getenv("MUNSHI_LOG");
  log_level l;
  if (!atomic_load(&level_set) && e && log_level_from_name(e, &l) == 0)
    atomic_store(&current_level, (int)l);
}

void log_set_level(log_level l) {
  atomic_store(&level_set, true);
  atomic_store(&current_level, (int)l);
}

int log_level_from_name(const char *name, log_level *out) {
  static const struct {
    const char *name;
    log_level level;
  } names[] = {{"debug", LOG_DEBUG},
               {"info", LOG_INFO},
               {"warn", LOG_WARN},
               {"warning", LOG_WARN},
               {"error", LOG_ERROR}};
  if (!name) return -1;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    if (strcasecmp(name, names[i].name) == 0) {
      *out = names[i].level;
      return 0;
    }
  }
  return -1;
}

static const char *level_name(log_level l) {
  switch (l) {
    case LOG_DEBUG:
      return "DEBUG";
    case LOG_INFO:
      return "INFO";
    case LOG_WARN:
      return "WARN";
    case LOG_ERROR:
      return "ERROR";
  }
  return "?";
}

static void write_all(const char *p, size_t n) {
  while (n) {
    ssize_t w = write(STDERR_FILENO, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return; /* nowhere left to report it */
    }
    p += w;
    n -= (size_t)w;
  }
}

void log_msg(log_level l, const char *fmt, ...) {
  pthread_once(&env_once, read_env);
  if ((int)l < atomic_load(&current_level)) return;

  char msg[LOG_LINE_MAX];
  va_list ap;
  va_start(ap, fmt);
  int mlen = vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (mlen < 0) mlen = 0;
  int cut = (size_t)mlen >= sizeof msg;
  size_t mn = cut ? sizeof msg - 1 : (size_t)mlen;

  /* Timestamp to the millisecond, "2026-11-24T20:00:00.123Z". */
  char ts[TS_TEXT_LEN + 1];
  ts_format(time_now_us(), ts);
  char line[LOG_LINE_MAX + 64];
  size_t n = 0;
  memcpy(line, ts, 23);
  n = 23;
  line[n++] = 'Z';
  line[n++] = ' ';
  const char *ln = level_name(l);
  size_t lnl = strlen(ln);
  memcpy(line + n, ln, lnl);
  n += lnl;
  line[n++] = ' ';

  /* Leave room for "...\n" at the end. */
  const size_t room = sizeof line - 5;
  for (size_t i = 0; i < mn; i++) {
    unsigned char c = (unsigned char)msg[i];
    const char *esc = NULL;
    if (c == '\n')
      esc = "\\n";
    else if (c == '\r')
      esc = "\\r";
    else if (c < 0x20 && c != '\t')
      esc = "?";
    else if (c == 0x7f)
      esc = "?";
    size_t need = esc ? strlen(esc) : 1;
    if (n + need > room) {
      cut = 1;
      break;
    }
    if (esc) {
      memcpy(line + n, esc, need);
    } else {
      line[n] = (char)c;
    }
    n += need;
  }
  if (cut) {
    memcpy(line + n, "...", 3);
    n += 3;
  }
  line[n++] = '\n';
  write_all(line, n);
}
