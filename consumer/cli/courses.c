/* `seckill course list|add|remove|set-window|set-stock`: the courses one
 * by one, in MariaDB and in Redis at once. */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "catalog.h"
#include "clock.h"
#include "ids.h"

/* The clock for times given on the command line: whole seconds, so that
 * "now" and "+2h" print as they were meant. */
static int64_t now_s_ms(void)
{
    return now_ms() / 1000 * 1000;
}

static int arg_course_id(struct session *s, const char *arg, uint64_t *id)
{
    if (parse_id(arg, strlen(arg), id) == 0)
        return 0;
    cli_usage(s, "course id '%s': want a whole number from 1 to %" PRIu64, arg, SECKILL_ID_MAX);
    return -1;
}

static int arg_seats(struct session *s, const char *arg, uint32_t *total)
{
    uint64_t v;

    if (cli_parse_count(arg, 0, UINT32_MAX, &v) == 0) {
        *total = (uint32_t)v;
        return 0;
    }
    cli_usage(s, "seats '%s': want a whole number from 0 to %" PRIu32, arg, UINT32_MAX);
    return -1;
}

static int arg_time(struct session *s, const char *what, const char *arg, int64_t now, int64_t *ms)
{
    if (course_parse_time(arg, now, ms) == 0)
        return 0;
    cli_usage(s, "%s '%s': want %s", what, arg, COURSE_TIME_FORMS);
    return -1;
}

static int arg_window(struct session *s, int64_t starts_at, int64_t ends_at)
{
    char from[40], until[40];

    if (starts_at < ends_at)
        return 0;
    course_format_time(starts_at, from, sizeof(from));
    course_format_time(ends_at, until, sizeof(until));
    cli_usage(s, "the sale must start before it ends (start %s, end %s)", from, until);
    return -1;
}

/* A name the page and `course list` can show: 1 to 200 characters of
 * UTF-8 (MariaDB checks the encoding), no control character. */
static int arg_name(struct session *s, const char *arg)
{
    size_t chars = 0;

    for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            cli_usage(s, "the name has a control character (byte 0x%02x)", *p);
            return -1;
        }
        chars += (*p & 0xc0) != 0x80;
    }
    if (chars == 0 || chars > COURSE_NAME_CHARS || strlen(arg) > COURSE_NAME_MAX) {
        cli_usage(s, "the name must have 1 to %d characters (it has %zu)", COURSE_NAME_CHARS, chars);
        return -1;
    }
    return 0;
}

/* Where a sale window stands at now. */
static const char *window_state(int64_t starts_at, int64_t ends_at, int64_t now)
{
    return now < starts_at ? "not open yet" : now >= ends_at ? "ended" : "open now";
}

static void print_window(const char *cmd, const struct course *c, int64_t now)
{
    char from[40], until[40];

    course_format_time(c->starts_at, from, sizeof(from));
    course_format_time(c->ends_at, until, sizeof(until));
    printf("%s: course %" PRIu64 ": on sale from %s until %s (%s)\n", cmd, c->id, from, until,
           window_state(c->starts_at, c->ends_at, now));
}

static int get_course(struct session *s, uint64_t id, struct course_orders *row)
{
    int found;

    if (db_get_course(&s->db, id, row, &found) != 0) {
        cli_error(s->db.err);
        return -1;
    }
    if (!found) {
        fprintf(stderr, "seckill: %s: no course %" PRIu64 " in MariaDB at %s (`seckill course list` "
                "shows them; `seckill course add` adds one)\n", s->name, id, s->db.addr);
        return -1;
    }
    return 0;
}

int cmd_course_list(struct session *s)
{
    struct course_orders *rows;
    size_t n;

    if (cli_open_db(s, DB_EXISTING) != 0)
        return EXIT_RUNTIME;
    if (db_list_courses(&s->db, &rows, &n) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("%6s %7s  %-20s  %-20s  %s\n", "id", "total", "starts_at", "ends_at", "name");
    for (size_t i = 0; i < n; i++) {
        const struct course *c = &rows[i].course;
        char starts[32], ends[32];

        course_format_time(c->starts_at, starts, sizeof(starts));
        course_format_time(c->ends_at, ends, sizeof(ends));
        printf("%6" PRIu64 " %7" PRIu32 "  %-20s  %-20s  %s\n", c->id, c->total, starts, ends, c->name);
    }
    free(rows);
    return 0;
}

int cmd_course_add(struct session *s)
{
    static struct course_orders there;      /* large: not on the stack */
    static struct course c;
    const char *pos[3];
    struct wipe_counts leftovers;
    struct load_result got;
    uint64_t orders;
    int64_t now = now_s_ms();
    int npos = 0, exists, have_starts = 0, have_ends = 0;

    c.starts_at = now;
    c.ends_at = now + CATALOG_DEMO_WINDOW_MS;
    for (int i = 0; i < s->argc; i++) {
        const char *a = s->argv[i];

        if (strcmp(a, "--starts") == 0 || strcmp(a, "--ends") == 0) {
            int starts = a[2] == 's';

            if (i + 1 >= s->argc)
                return cli_usage(s, "%s needs a time: %s", a, COURSE_TIME_FORMS);
            if (arg_time(s, a, s->argv[++i], now, starts ? &c.starts_at : &c.ends_at) != 0)
                return EXIT_USAGE;
            *(starts ? &have_starts : &have_ends) = 1;
        } else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            return cli_usage(s, "unknown option '%s'", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return cli_usage(s, "unexpected argument '%s' (a name of several words goes in quotes)", a);
        }
    }
    if (npos < 3)
        return cli_usage(s, "want ID NAME TOTAL, got %d of them", npos);
    if (arg_course_id(s, pos[0], &c.id) != 0 || arg_name(s, pos[1]) != 0
        || arg_seats(s, pos[2], &c.total) != 0)
        return EXIT_USAGE;
    snprintf(c.name, sizeof(c.name), "%s", pos[1]);
    /* Only a start moves the default end: a sale starting next week still
     * gets its 30 days. */
    if (have_starts && !have_ends)
        c.ends_at = c.starts_at + CATALOG_DEMO_WINDOW_MS;
    if (arg_window(s, c.starts_at, c.ends_at) != 0)
        return EXIT_USAGE;

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_get_course(&s->db, c.id, &there, &exists) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    if (exists || (db_insert_course(&s->db, &c, &exists) != 0 && !exists)) {
        if (!exists)
            cli_error(s->db.err);
        else
            fprintf(stderr, "seckill: course add: course %" PRIu64 " is already in MariaDB at %s; "
                    "change it with `seckill course set-stock` or `set-window`, or remove it first\n",
                    c.id, s->db.addr);
        return EXIT_RUNTIME;
    }
    printf("course add: course %" PRIu64 " \"%s\": %" PRIu32 " seat(s), added to MariaDB at %s\n",
           c.id, c.name, c.total, s->db.addr);
    print_window("course add", &c, now);

    /* Keys of the id left in Redis belong to no course of MariaDB: the
     * buyers of an earlier course must not count against this one. */
    if (stock_remove_course(&s->redis, c.id, &leftovers) != 0) {
        cli_error(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (leftovers.hashes + leftovers.pending_sets + leftovers.user_keys + leftovers.other_keys > 0)
        cli_print_wiped("course add: leftovers of an earlier course", &leftovers, s->redis.addr);
    return cli_load_course(s, &c, &got, &orders) == 0 ? 0 : EXIT_RUNTIME;
}

/* --force on orders: asked at a terminal, --yes otherwise. 0: go on. */
static int confirm_deletion(uint64_t id, const char *name, uint64_t orders, uint64_t pending)
{
    char answer[16];

    if (!isatty(STDIN_FILENO)) {
        fprintf(stderr, "seckill: course remove: course %" PRIu64 " \"%s\" has %" PRIu64 " order(s) and %"
                PRIu64 " pending reservation(s); not asked without a terminal: add --yes to delete them\n",
                id, name, orders, pending);
        return -1;
    }
    fprintf(stderr, "seckill: course remove: this deletes course %" PRIu64 " \"%s\" with its %" PRIu64
            " order(s) and %" PRIu64 " pending reservation(s).\nType yes to go on: ", id, name, orders, pending);
    if (fgets(answer, sizeof(answer), stdin) != NULL && strcmp(answer, "yes\n") == 0)
        return 0;
    fprintf(stderr, "seckill: course remove: nothing removed\n");
    return -1;
}

int cmd_course_remove(struct session *s)
{
    static struct course_orders row;
    struct wipe_counts wiped;
    uint64_t id = 0, deleted_orders;
    int64_t remaining;
    uint64_t pending;
    int force = 0, yes = 0, have_id = 0, found, deleted;

    for (int i = 0; i < s->argc; i++) {
        if (strcmp(s->argv[i], "--force") == 0)
            force = 1;
        else if (strcmp(s->argv[i], "--yes") == 0)
            yes = 1;
        else if (!have_id && s->argv[i][0] != '-')
            have_id = arg_course_id(s, s->argv[i], &id) == 0 ? 1 : -1;
        else
            return cli_usage(s, "unexpected argument '%s'", s->argv[i]);
        if (have_id < 0)
            return EXIT_USAGE;
    }
    if (!have_id)
        return cli_usage(s, "which course? want ID");

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_get_course(&s->db, id, &row, &found) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    if (stock_of_course(&s->redis, id, &remaining, &pending) != 0) {
        cli_error(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (found && !force && (row.orders > 0 || pending > 0)) {
        fprintf(stderr, "seckill: course remove: course %" PRIu64 " \"%s\" has %" PRIu64 " order(s) in MariaDB "
                "and %" PRIu64 " reservation(s) pending in Redis; nothing removed. "
                "`seckill course remove %" PRIu64 " --force` deletes them with it\n",
                id, row.course.name, row.orders, pending, id);
        return EXIT_RUNTIME;
    }
    if (found && (row.orders > 0 || pending > 0) && !yes
        && confirm_deletion(id, row.course.name, row.orders, pending) != 0)
        return EXIT_RUNTIME;

    /* Off sale in Redis first: no purchase takes a seat of a course that is
     * going, and a reservation in flight finds its key gone and is dropped
     * by the consumer instead of becoming an order without a course. */
    if (stock_remove_course(&s->redis, id, &wiped) != 0) {
        cli_error(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (!found) {
        if (wiped.hashes + wiped.pending_sets + wiped.user_keys + wiped.other_keys + (uint64_t)wiped.unlisted == 0) {
            fprintf(stderr, "seckill: course remove: no course %" PRIu64 " in MariaDB at %s nor in Redis at %s\n",
                    id, s->db.addr, s->redis.addr);
            return EXIT_RUNTIME;
        }
        printf("course remove: course %" PRIu64 " is not in MariaDB; took what Redis had of it off sale\n", id);
        cli_print_wiped("course remove", &wiped, s->redis.addr);
        return 0;
    }
    cli_print_wiped("course remove", &wiped, s->redis.addr);
    if (db_delete_course(&s->db, id, force, &deleted_orders, &deleted) != 0) {
        cli_error(s->db.err);
        fprintf(stderr, "seckill: course remove: course %" PRIu64 " is off sale in Redis but still in MariaDB: "
                "run the command again (`seckill load` puts it back on sale)\n", id);
        return EXIT_RUNTIME;
    }
    if (!deleted) {
        fprintf(stderr, "seckill: course remove: course %" PRIu64 " got an order while it was being removed: "
                "it is off sale in Redis but still in MariaDB; run the command again%s "
                "(`seckill load` puts it back on sale)\n", id, force ? "" : " with --force");
        return EXIT_RUNTIME;
    }
    printf("course remove: course %" PRIu64 " \"%s\": deleted from MariaDB at %s", id, row.course.name, s->db.addr);
    if (force)
        printf(" with its %" PRIu64 " order(s)", deleted_orders);
    printf("\n");
    return 0;
}

int cmd_course_set_window(struct session *s)
{
    static struct course_orders row;
    struct load_result got;
    uint64_t id, orders;
    int64_t now = now_s_ms(), starts_at, ends_at;
    int loaded;

    if (s->argc != 3)
        return cli_usage(s, "want ID START END, got %d argument(s)", s->argc);
    if (arg_course_id(s, s->argv[0], &id) != 0 || arg_time(s, "START", s->argv[1], now, &starts_at) != 0
        || arg_time(s, "END", s->argv[2], now, &ends_at) != 0 || arg_window(s, starts_at, ends_at) != 0)
        return EXIT_USAGE;

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (get_course(s, id, &row) != 0)
        return EXIT_RUNTIME;
    if (db_set_window(&s->db, id, starts_at, ends_at) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    row.course.starts_at = starts_at;
    row.course.ends_at = ends_at;
    print_window("course set-window", &row.course, now);
    if (stock_set_window(&s->redis, id, starts_at, ends_at, &loaded) != 0) {
        cli_error(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (loaded) {
        printf("course set-window: course %" PRIu64 ": window set in MariaDB at %s and Redis at %s\n",
               id, s->db.addr, s->redis.addr);
        return 0;
    }
    printf("course set-window: course %" PRIu64 " was not on sale in Redis: loading it\n", id);
    return cli_load_course(s, &row.course, &got, &orders) == 0 ? 0 : EXIT_RUNTIME;
}

int cmd_course_set_stock(struct session *s)
{
    static struct course_orders row;
    struct load_result got;
    uint64_t id, orders, taken;
    uint32_t total, was;

    if (s->argc != 2)
        return cli_usage(s, "want ID TOTAL, got %d argument(s)", s->argc);
    if (arg_course_id(s, s->argv[0], &id) != 0 || arg_seats(s, s->argv[1], &total) != 0)
        return EXIT_USAGE;

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (get_course(s, id, &row) != 0)
        return EXIT_RUNTIME;
    if (db_set_total(&s->db, id, total) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    was = row.course.total;
    row.course.total = total;
    printf("course set-stock: course %" PRIu64 ": total %" PRIu32 " (was %" PRIu32 ") in MariaDB at %s\n",
           id, total, was, s->db.addr);
    if (cli_load_course(s, &row.course, &got, &orders) != 0)
        return EXIT_RUNTIME;
    taken = orders + got.pending;
    if (taken > total)
        printf("course set-stock: course %" PRIu64 ": note: %" PRIu64 " seat(s) already taken, more than %" PRIu32
               "; their orders stay, none is left on sale\n", id, taken, total);
    return 0;
}
