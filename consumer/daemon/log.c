/* The daemon's log (log.h). */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

static int log_fd = STDERR_FILENO;
static char log_path[PATH_MAX];
static enum log_level max_level = LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

static int open_path(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);

    if (fd < 0)
        snprintf(err, errlen, "cannot open log file %s: %s", path, strerror(errno));
    return fd;
}

int log_open(const char *path, char *err, size_t errlen)
{
    int fd;

    if (path == NULL) {
        log_path[0] = '\0';
        log_fd = STDERR_FILENO;
        return 0;
    }
    if (strlen(path) >= sizeof(log_path)) {
        snprintf(err, errlen, "log file path too long: %.80s...", path);
        return -1;
    }
    if ((fd = open_path(path, err, errlen)) < 0)
        return -1;
    strcpy(log_path, path);
    log_fd = fd;
    return 0;
}

int log_reopen(char *err, size_t errlen)
{
    int fd;

    if (log_path[0] == '\0')
        return 0;
    if ((fd = open_path(log_path, err, errlen)) < 0)
        return -1;
    /* dup2 swaps the file under the same descriptor in one step: a thread
     * writing meanwhile writes to the old file or the new one. */
    if (dup2(fd, log_fd) < 0) {
        snprintf(err, errlen, "cannot reopen log file %s: %s", log_path, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

void log_close(void)
{
    if (log_fd != STDERR_FILENO)
        close(log_fd);
    log_fd = STDERR_FILENO;
    log_path[0] = '\0';
}

void log_set_level(enum log_level max)
{
    max_level = max;
}

int log_enabled(enum log_level level)
{
    return level <= max_level;
}

/* ISO 8601, UTC, milliseconds: sorts as text, reads the same everywhere. */
static void format_time(long long unix_ms, char *buf, size_t size)
{
    time_t secs = (time_t)(unix_ms / 1000);
    struct tm tm;
    char date[24];

    gmtime_r(&secs, &tm);
    strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, size, "%s.%03dZ", date, (int)(unix_ms % 1000));
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[2048];
    size_t len;
    va_list ap;
    int n;

    if (!log_enabled(level))
        return;
    format_time(now_ms(), line, sizeof(line));
    len = strlen(line);
    len += (size_t)snprintf(line + len, sizeof(line) - len, " %s: ", level_names[level]);
    va_start(ap, fmt);
    n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
    va_end(ap);
    if (n < 0)
        n = 0;
    len = (size_t)n < sizeof(line) - len ? len + (size_t)n : sizeof(line) - 1;
    line[len++] = '\n';
    while (write(log_fd, line, len) < 0 && errno == EINTR)
        ;
}
