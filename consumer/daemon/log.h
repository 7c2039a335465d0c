/* The daemon's log: one line per message, "2025-01-31T12:00:00.123Z info:
 * text", appended to a file (or written to stderr). Each line is one
 * write(2) on an O_APPEND descriptor, so lines from librdkafka's threads
 * never interleave and a log rotated away is picked up by log_reopen(). */
#ifndef SECKILL_LOG_H
#define SECKILL_LOG_H

#include <stddef.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Appends to path (created 0644), or writes to stderr when path is NULL.
 * Returns 0, or -1 with the reason in err. */
int log_open(const char *path, char *err, size_t errlen);

/* Opens the file again under the same name (after a rotation, SIGHUP). */
int log_reopen(char *err, size_t errlen);

void log_set_level(enum log_level max);
int log_enabled(enum log_level level);
void log_close(void);

void log_msg(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) \
    do { if (log_enabled(LOG_DEBUG)) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)

#endif
