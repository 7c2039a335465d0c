/* The services a command opens, and how it says what went wrong (cli.h). */
#include "cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_error(const char *msg)
{
    fprintf(stderr, "seckill: %s\n", msg);
}

int cli_open_db(struct session *s, enum db_open_flags flags)
{
    if (db_open(&s->db, &s->cfg, flags) != 0) {
        cli_error(s->db.err);
        return -1;
    }
    return 0;
}

int cli_open_redis(struct session *s)
{
    if (redis_open(&s->redis, &s->cfg) != 0) {
        cli_error(s->redis.err);
        return -1;
    }
    return 0;
}

int cli_usage(struct session *s, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "seckill: %s: ", s->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%.*s (--help tells more)\n", (int)strcspn(s->help, "\n"), s->help);
    return EXIT_USAGE;
}

int cli_parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    *out = strtoull(arg, &end, 10);
    return *end != '\0' || *out < min || *out > max ? -1 : 0;
}
