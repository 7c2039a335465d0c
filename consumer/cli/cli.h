/* What the command files of the admin CLI `seckill` share: the session a
 * command runs in (the config file and the services it opened), how a
 * command says what went wrong, and the commands main.c dispatches to, one
 * file per group of them. Each command returns the exit status. */
#ifndef SECKILL_CLI_H
#define SECKILL_CLI_H

#include <stdint.h>

#include "config.h"
#include "course.h"
#include "db.h"
#include "redis.h"
#include "stock.h"

#define EXIT_RUNTIME 1      /* failed; the message says why */
#define EXIT_USAGE 2

/* The services a command talks to, opened on demand. */
struct session {
    const char *name;           /* of the command, for messages */
    const char *help;
    struct seckill_config cfg;
    struct db db;
    struct redis redis;
    int argc;                   /* the command's own arguments */
    char **argv;
};

/* session.c: "seckill: msg" on stderr. */
void cli_error(const char *msg);

/* Connect, or say why not (cli_error) and return -1. */
int cli_open_db(struct session *s, enum db_open_flags flags);
int cli_open_redis(struct session *s);

/* A usage error of the running command: the reason, then its usage line.
 * Returns EXIT_USAGE. */
int cli_usage(struct session *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Reads a whole number from min to max; -1 when arg is not one. */
int cli_parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out);

/* sale.c, for the course commands too: one course of MariaDB into Redis,
 * as `load` does it, printing its numbers (*orders is what MariaDB
 * counted); and what a wipe deleted. */
int cli_load_course(struct session *s, const struct course *c, struct load_result *got,
                    uint64_t *orders);
void cli_print_wiped(const char *cmd, const struct wipe_counts *w, const char *addr);

int cmd_init(struct session *s);            /* sale.c */
int cmd_load(struct session *s);
int cmd_reset(struct session *s);
int cmd_stats(struct session *s);           /* stats.c */
int cmd_check(struct session *s);           /* check.c */
int cmd_fill(struct session *s);            /* fill.c */
int cmd_course_list(struct session *s);     /* courses.c */
int cmd_course_add(struct session *s);
int cmd_course_remove(struct session *s);
int cmd_course_set_window(struct session *s);
int cmd_course_set_stock(struct session *s);
int cmd_sign_url(struct session *s);        /* sign_url.c */

#endif
