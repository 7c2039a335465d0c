/* `seckill stats [--watch]`: per course, the seats on sale, what is left of
 * them in Redis, the reservations pending there and the orders persisted in
 * MariaDB; --watch shows it again every second, a live view of a sale. */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* One stats table; -1 (said on stderr) when MariaDB or Redis failed. */
static int print_stats(struct session *s)
{
    struct course_orders *rows;
    uint64_t total = 0, remaining = 0, pending = 0, orders = 0;
    size_t n;
    int unloaded = 0;

    if (db_list_courses(&s->db, &rows, &n) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    /* The name goes last: CJK characters are two columns wide. */
    printf("%6s %7s %10s %8s %8s  %s\n", "id", "total", "remaining", "pending", "orders", "name");
    for (size_t i = 0; i < n; i++) {
        const struct course *c = &rows[i].course;
        int64_t left;
        uint64_t pend;
        char left_text[24];

        if (stock_of_course(&s->redis, c->id, &left, &pend) != 0) {
            cli_error(s->redis.err);
            free(rows);
            return -1;
        }
        if (left < 0) {
            unloaded = 1;
            snprintf(left_text, sizeof(left_text), "-");
        } else {
            snprintf(left_text, sizeof(left_text), "%" PRId64, left);
            remaining += (uint64_t)left;
        }
        printf("%6" PRIu64 " %7" PRIu32 " %10s %8" PRIu64 " %8" PRIu64 "  %s\n",
               c->id, c->total, left_text, pend, rows[i].orders, c->name);
        total += c->total;
        pending += pend;
        orders += rows[i].orders;
    }
    printf("%6s %7" PRIu64 " %10" PRIu64 " %8" PRIu64 " %8" PRIu64 "  %zu course(s)\n",
           "all", total, remaining, pending, orders, n);
    if (unloaded)
        printf("(remaining '-': not in Redis; run `seckill load`)\n");
    free(rows);
    return 0;
}

/* stats --watch: the table again every second until interrupted, on a
 * cleared terminal (a log of timestamped tables otherwise). A service that
 * fails is said and asked again the next second: watching a sale is when
 * one goes down. */
static int watch_stats(struct session *s)
{
    int tty = isatty(STDOUT_FILENO);

    for (;;) {
        time_t now = time(NULL);
        char when[32];

        strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", localtime(&now));
        if (tty)
            fputs("\033[H\033[2J", stdout);
        printf("seckill stats, %s (every second; Ctrl-C to stop)\n", when);
        fflush(stdout);
        if ((s->db.conn == NULL && cli_open_db(s, DB_EXISTING) != 0)
            || (!redis_is_open(&s->redis) && cli_open_redis(s) != 0)
            || print_stats(s) != 0) {
            db_close(&s->db);
            redis_close(&s->redis);
        }
        /* a reader gone (`| head`) ends the watch */
        if (fflush(stdout) == EOF || ferror(stdout))
            return 0;
        sleep(1);
    }
}

int cmd_stats(struct session *s)
{
    if (s->argc == 1 && strcmp(s->argv[0], "--watch") == 0)
        return watch_stats(s);
    if (s->argc > 0) {
        fprintf(stderr, "seckill: stats: unexpected argument '%s'\n%s", s->argv[0], s->help);
        return EXIT_USAGE;
    }
    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    return print_stats(s) == 0 ? 0 : EXIT_RUNTIME;
}
