/* log.h - one-line logs to stderr: time, level, message.
 *
 * Secrets never go into a log: no passwords, tokens, keys or full request
 * bodies. Level from MUNSHI_LOG (debug, info, warn, error; default info). */
#ifndef MUNSHI_BASE_LOG_H
#define MUNSHI_BASE_LOG_H

typedef enum { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR } log_level;

void log_set_level(log_level l);
int log_level_from_name(const char *name, log_level *out);
void log_msg(log_level l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
