/* The admin CLI `seckill`: prepares and inspects a sale. It creates the
 * schema and the Kafka topics, fills an empty database with the demo
 * catalogue, puts the stock into Redis, starts a new sale, prints the
 * numbers of each course, manages the courses one by one and signs
 * purchase URLs. Exit status: 0 done, 1 failed, 2 usage error. */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "catalog.h"
#include "check.h"
#include "clock.h"
#include "config.h"
#include "course.h"
#include "db.h"
#include "fill.h"
#include "ids.h"
#include "seckill_keys.h"
#include "secure_link.h"
#include "stock.h"
#include "topics.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
#define TOPICS_TIMEOUT_MS 10000

static const char usage_text[] =
    "usage: seckill [-c FILE] COMMAND [--help]\n"
    "\n"
    "Commands:\n"
    "  init          create the schema and the Kafka topics, add the demo catalogue\n"
    "                to an empty database, then load (safe to run again)\n"
    "  load          put each course's stock from MariaDB into Redis\n"
    "  reset         start a new sale: delete every order, then load\n"
    "  stats         per course: total, remaining, pending and orders\n"
    "  check         verify the invariants on a quiet sale; non-zero exit on a failure\n"
    "  fill N        benchmark backlog: reserve N orders and produce their events\n"
    "  course list   the courses in MariaDB and their sale windows\n"
    "  course add ID NAME TOTAL [--starts T] [--ends T]\n"
    "                add a course to MariaDB and put it on sale in Redis\n"
    "  course remove ID [--force [--yes]]\n"
    "                take a course off sale and delete it (--force: and its orders,\n"
    "                asked first at a terminal; --yes: without asking)\n"
    "  course set-window ID START END\n"
    "                set when a course is on sale\n"
    "  course set-stock ID TOTAL\n"
    "                set the seats of a course and reload what is left\n"
    "\n"
    "  sign-url COURSE USER [--ttl D] [--secret S]\n"
    "                print a signed, expiring purchase URL (nginx's secure_link)\n"
    "\n"
    "Times: 2026-12-01T10:00:00Z (UTC), +30s, +5m, +2h, +1d, -1h (from now), now.\n"
    "\n"
    "Options:\n"
    "  -c FILE       config file (default: $SECKILL_CONF, else conf/consumer.conf)\n"
    "  -h, --help    this help; `seckill COMMAND --help` tells what COMMAND does\n"
    "\n"
    "Exit status: 0 done, 1 failed (the message says why), 2 usage error.\n";

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

struct command {
    const char *name;
    const char *help;
    int (*run)(struct session *s);
    int takes_args;             /* else any argument is a usage error */
};

static void fail_with(const char *msg)
{
    fprintf(stderr, "seckill: %s\n", msg);
}

static int open_db(struct session *s, enum db_open_flags flags)
{
    if (db_open(&s->db, &s->cfg, flags) != 0) {
        fail_with(s->db.err);
        return -1;
    }
    return 0;
}

static int open_redis(struct session *s)
{
    if (redis_open(&s->redis, &s->cfg) != 0) {
        fail_with(s->redis.err);
        return -1;
    }
    return 0;
}

/* One course of MariaDB into Redis, as `load` does it; prints its numbers.
 * *orders is what MariaDB counted. */
static int load_course(struct session *s, const struct course *c, struct load_result *got,
                       uint64_t *orders)
{
    struct pending_snapshot snap;
    int loaded;

    if (c->id == 0 || c->id > SECKILL_ID_MAX)
        fprintf(stderr, "seckill: warning: course id %" PRIu64 " is outside 1..2^53-1; "
                "the purchase API cannot name it\n", c->id);
    /* In this order: snapshot, count, script (stock.h says why). */
    if (stock_pending_snapshot(&s->redis, c->id, &snap) != 0) {
        fail_with(s->redis.err);
        return -1;
    }
    if (db_count_orders(&s->db, c->id, orders) != 0) {
        stock_snapshot_free(&snap);
        fail_with(s->db.err);
        return -1;
    }
    loaded = stock_load_course(&s->redis, c, *orders, &snap, got);
    stock_snapshot_free(&snap);
    if (loaded != 0) {
        fail_with(s->redis.err);
        return -1;
    }
    printf("load: course %" PRIu64 ": total %" PRIu32 " - orders %" PRIu64 " - pending %" PRIu64,
           c->id, c->total, *orders, got->pending);
    if (got->gone > 0)
        printf(" - left pending while loading %" PRIu64, got->gone);
    printf(" = remaining %" PRIu64 "\n", got->remaining);
    return 0;
}

/* The stock of every course of MariaDB into Redis; shared by init and reset. */
static int load_stock(struct session *s)
{
    struct course_orders *rows = NULL;
    uint64_t *ids = NULL, removed, seats = 0;
    size_t n;
    int rc = -1;

    if (db_list_courses(&s->db, &rows, &n) != 0) {
        fail_with(s->db.err);
        return -1;
    }
    ids = malloc((n ? n : 1) * sizeof(*ids));
    if (ids == NULL) {
        fail_with("out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct load_result got;
        uint64_t orders;

        if (load_course(s, &rows[i].course, &got, &orders) != 0)
            goto done;
        ids[i] = rows[i].course.id;
        seats += got.remaining;
    }
    /* rows come ORDER BY id: ids is sorted for the lookup. */
    if (stock_unlist_others(&s->redis, ids, n, &removed) != 0) {
        fail_with(s->redis.err);
        goto done;
    }
    if (removed > 0)
        printf("load: took %" PRIu64 " course(s) no longer in MariaDB off sale\n", removed);
    printf("load: %zu course(s), %" PRIu64 " seat(s) on sale in Redis at %s\n", n, seats, s->redis.addr);
    rc = 0;

done:
    free(ids);
    free(rows);
    return rc;
}

static int cmd_init(struct session *s)
{
    struct topic_outcome topics[TOPICS];
    char err[1024];
    uint64_t courses;
    int created;

    if (open_db(s, DB_CREATE_DATABASE) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (s->db.created_database)
        printf("init: created database %s\n", s->cfg.mysql_database);

    if (db_create_schema(&s->db, &created) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("init: schema in MariaDB at %s: %s\n", s->db.addr,
           created == 0 ? "tables courses, orders already there"
                        : created == 2 ? "created tables courses, orders" : "created the missing table");

    if (topics_create(&s->cfg, TOPICS_TIMEOUT_MS, topics, err, sizeof(err)) != 0) {
        fail_with(err);
        return EXIT_RUNTIME;
    }
    for (int i = 0; i < TOPICS; i++) {
        const struct topic_outcome *t = &topics[i];

        if (t->created)
            printf("init: topic %s: created, %d partition(s)\n", t->name, t->partitions);
        else if (t->actual_partitions < 0)
            printf("init: topic %s: already there\n", t->name);
        else
            printf("init: topic %s: already there, %d partition(s)\n", t->name, t->actual_partitions);
        if (!t->created && t->actual_partitions >= 0 && t->actual_partitions != t->partitions)
            fprintf(stderr, "seckill: warning: topic %s has %d partition(s), the config asks for %d; "
                    "init does not change an existing topic\n", t->name, t->actual_partitions, t->partitions);
    }

    if (db_count_courses(&s->db, &courses) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    if (courses == 0) {
        struct course demo[CATALOG_DEMO_COURSES];
        uint32_t seats = 0;
        char until[32];

        catalog_demo(now_ms(), demo);
        if (db_insert_courses(&s->db, demo, CATALOG_DEMO_COURSES) != 0) {
            fail_with(s->db.err);
            return EXIT_RUNTIME;
        }
        for (size_t i = 0; i < CATALOG_DEMO_COURSES; i++)
            seats += demo[i].total;
        course_format_time(demo[0].ends_at, until, sizeof(until));
        printf("init: added the demo catalogue: %d courses, %" PRIu32 " seats, on sale until %s\n",
               CATALOG_DEMO_COURSES, seats, until);
    } else {
        printf("init: catalogue: %" PRIu64 " course(s) already there, left as they are\n", courses);
    }

    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_load(struct session *s)
{
    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_reset(struct session *s)
{
    struct wipe_counts wiped;
    uint64_t deleted;

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_delete_orders(&s->db, &deleted) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("reset: deleted %" PRIu64 " order(s) in MariaDB at %s\n", deleted, s->db.addr);
    if (stock_wipe_courses(&s->redis, &wiped) != 0) {
        fail_with(s->redis.err);
        return EXIT_RUNTIME;
    }
    printf("reset: deleted %" PRIu64 " course hash(es), %" PRIu64 " pending set(s), %" PRIu64
           " user order key(s)", wiped.hashes, wiped.pending_sets, wiped.user_keys);
    if (wiped.other_keys > 0)
        printf(", %" PRIu64 " other per-course key(s)", wiped.other_keys);
    printf(" in Redis at %s\n", s->redis.addr);
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

/* One stats table; -1 (said on stderr) when MariaDB or Redis failed. */
static int print_stats(struct session *s)
{
    struct course_orders *rows;
    uint64_t total = 0, remaining = 0, pending = 0, orders = 0;
    size_t n;
    int unloaded = 0;

    if (db_list_courses(&s->db, &rows, &n) != 0) {
        fail_with(s->db.err);
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
            fail_with(s->redis.err);
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
        if ((s->db.conn == NULL && open_db(s, DB_EXISTING) != 0)
            || (s->redis.rc == NULL && open_redis(s) != 0)
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

static int cmd_stats(struct session *s)
{
    if (s->argc == 1 && strcmp(s->argv[0], "--watch") == 0)
        return watch_stats(s);
    if (s->argc > 0) {
        fprintf(stderr, "seckill: stats: unexpected argument '%s'\n%s", s->argv[0], s->help);
        return EXIT_USAGE;
    }
    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    return print_stats(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_check(struct session *s)
{
    struct check_result res;
    char err[4096];

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (check_run(&s->db, &s->redis, &res, err, sizeof(err)) != 0) {
        fail_with(err);
        return EXIT_RUNTIME;
    }
    /* Not a failure: the invariants hold with reservations in flight, but
     * a quiet sale has none left once the consumer caught up. */
    if (res.pending > 0)
        printf("check: note: %" PRIu64 " reservation(s) still pending in Redis: events not consumed yet, "
               "or orphans waiting for the sweeper\n", res.pending);
    if (res.problems > 0) {
        printf("check: FAILED: %" PRIu64 " problem(s) (%zu courses, %" PRIu64 " orders)\n",
               res.problems, res.courses, res.orders);
        return EXIT_RUNTIME;
    }
    printf("check: ok (%zu courses, %" PRIu64 " orders)\n", res.courses, res.orders);
    return 0;
}

/* Reads a whole number from min to max; -1 when arg is not one. */
static int parse_count(const char *arg, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    if (arg[0] < '0' || arg[0] > '9')
        return -1;
    *out = strtoull(arg, &end, 10);
    return *end != '\0' || *out < min || *out > max ? -1 : 0;
}

static int cmd_fill(struct session *s)
{
    struct fill_options opt = { 0, CATALOG_DEMO_COURSES };
    char err[4096];
    int have_n = 0;

    for (int i = 0; i < s->argc; i++) {
        uint64_t v;

        if (strcmp(s->argv[i], "--courses") == 0 && i + 1 < s->argc) {
            if (parse_count(s->argv[++i], 1, FILL_MAX_COURSES, &v) != 0) {
                fprintf(stderr, "seckill: fill: --courses '%s': want 1 to %d\n", s->argv[i], FILL_MAX_COURSES);
                return EXIT_USAGE;
            }
            opt.courses = (unsigned)v;
        } else if (!have_n && parse_count(s->argv[i], 1, FILL_MAX_ORDERS, &v) == 0) {
            opt.orders = v;
            have_n = 1;
        } else {
            fprintf(stderr, "seckill: fill: unexpected argument '%s' (want N from 1 to %d, --courses K)\n",
                    s->argv[i], FILL_MAX_ORDERS);
            return EXIT_USAGE;
        }
    }
    if (!have_n) {
        fprintf(stderr, "seckill: fill: how many orders? usage: seckill fill N [--courses K]\n");
        return EXIT_USAGE;
    }
    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (fill_run(&s->cfg, &s->db, &s->redis, &opt, err, sizeof(err)) != 0) {
        fail_with(err);
        return EXIT_RUNTIME;
    }
    return 0;
}

static int cmd_course_list(struct session *s)
{
    struct course_orders *rows;
    size_t n;

    if (open_db(s, DB_EXISTING) != 0)
        return EXIT_RUNTIME;
    if (db_list_courses(&s->db, &rows, &n) != 0) {
        fail_with(s->db.err);
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

/* A usage error of the running command: the reason, then its usage line. */
static int usage(struct session *s, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "seckill: %s: ", s->name);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%.*s (--help tells more)\n", (int)strcspn(s->help, "\n"), s->help);
    return EXIT_USAGE;
}

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
    usage(s, "course id '%s': want a whole number from 1 to %" PRIu64, arg, SECKILL_ID_MAX);
    return -1;
}

static int arg_seats(struct session *s, const char *arg, uint32_t *total)
{
    uint64_t v;

    if (parse_count(arg, 0, UINT32_MAX, &v) == 0) {
        *total = (uint32_t)v;
        return 0;
    }
    usage(s, "seats '%s': want a whole number from 0 to %" PRIu32, arg, UINT32_MAX);
    return -1;
}

static int arg_time(struct session *s, const char *what, const char *arg, int64_t now, int64_t *ms)
{
    if (course_parse_time(arg, now, ms) == 0)
        return 0;
    usage(s, "%s '%s': want %s", what, arg, COURSE_TIME_FORMS);
    return -1;
}

static int arg_window(struct session *s, int64_t starts_at, int64_t ends_at)
{
    char from[40], until[40];

    if (starts_at < ends_at)
        return 0;
    course_format_time(starts_at, from, sizeof(from));
    course_format_time(ends_at, until, sizeof(until));
    usage(s, "the sale must start before it ends (start %s, end %s)", from, until);
    return -1;
}

/* A name the page and `course list` can show: 1 to 200 characters of
 * UTF-8 (MariaDB checks the encoding), no control character. */
static int arg_name(struct session *s, const char *arg)
{
    size_t chars = 0;

    for (const unsigned char *p = (const unsigned char *)arg; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            usage(s, "the name has a control character (byte 0x%02x)", *p);
            return -1;
        }
        chars += (*p & 0xc0) != 0x80;
    }
    if (chars == 0 || chars > COURSE_NAME_CHARS || strlen(arg) > COURSE_NAME_MAX) {
        usage(s, "the name must have 1 to %d characters (it has %zu)", COURSE_NAME_CHARS, chars);
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
        fail_with(s->db.err);
        return -1;
    }
    if (!found) {
        fprintf(stderr, "seckill: %s: no course %" PRIu64 " in MariaDB at %s (`seckill course list` "
                "shows them; `seckill course add` adds one)\n", s->name, id, s->db.addr);
        return -1;
    }
    return 0;
}

static void print_wiped(const char *cmd, const struct wipe_counts *w, const char *addr)
{
    printf("%s: deleted %" PRIu64 " course hash(es), %" PRIu64 " pending set(s), %" PRIu64
           " user order key(s)", cmd, w->hashes, w->pending_sets, w->user_keys);
    if (w->other_keys > 0)
        printf(", %" PRIu64 " other key(s)", w->other_keys);
    printf(" in Redis at %s\n", addr);
}

static int cmd_course_add(struct session *s)
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
                return usage(s, "%s needs a time: %s", a, COURSE_TIME_FORMS);
            if (arg_time(s, a, s->argv[++i], now, starts ? &c.starts_at : &c.ends_at) != 0)
                return EXIT_USAGE;
            *(starts ? &have_starts : &have_ends) = 1;
        } else if (strncmp(a, "--", 2) == 0 && a[2] != '\0') {
            return usage(s, "unknown option '%s'", a);
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            return usage(s, "unexpected argument '%s' (a name of several words goes in quotes)", a);
        }
    }
    if (npos < 3)
        return usage(s, "want ID NAME TOTAL, got %d of them", npos);
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

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_get_course(&s->db, c.id, &there, &exists) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    if (exists || (db_insert_course(&s->db, &c, &exists) != 0 && !exists)) {
        if (!exists)
            fail_with(s->db.err);
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
        fail_with(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (leftovers.hashes + leftovers.pending_sets + leftovers.user_keys + leftovers.other_keys > 0)
        print_wiped("course add: leftovers of an earlier course", &leftovers, s->redis.addr);
    return load_course(s, &c, &got, &orders) == 0 ? 0 : EXIT_RUNTIME;
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

static int cmd_course_remove(struct session *s)
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
            return usage(s, "unexpected argument '%s'", s->argv[i]);
        if (have_id < 0)
            return EXIT_USAGE;
    }
    if (!have_id)
        return usage(s, "which course? want ID");

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_get_course(&s->db, id, &row, &found) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    if (stock_of_course(&s->redis, id, &remaining, &pending) != 0) {
        fail_with(s->redis.err);
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
        fail_with(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (!found) {
        if (wiped.hashes + wiped.pending_sets + wiped.user_keys + wiped.other_keys + (uint64_t)wiped.unlisted == 0) {
            fprintf(stderr, "seckill: course remove: no course %" PRIu64 " in MariaDB at %s nor in Redis at %s\n",
                    id, s->db.addr, s->redis.addr);
            return EXIT_RUNTIME;
        }
        printf("course remove: course %" PRIu64 " is not in MariaDB; took what Redis had of it off sale\n", id);
        print_wiped("course remove", &wiped, s->redis.addr);
        return 0;
    }
    print_wiped("course remove", &wiped, s->redis.addr);
    if (db_delete_course(&s->db, id, force, &deleted_orders, &deleted) != 0) {
        fail_with(s->db.err);
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

static int cmd_course_set_window(struct session *s)
{
    static struct course_orders row;
    struct load_result got;
    uint64_t id, orders;
    int64_t now = now_s_ms(), starts_at, ends_at;
    int loaded;

    if (s->argc != 3)
        return usage(s, "want ID START END, got %d argument(s)", s->argc);
    if (arg_course_id(s, s->argv[0], &id) != 0 || arg_time(s, "START", s->argv[1], now, &starts_at) != 0
        || arg_time(s, "END", s->argv[2], now, &ends_at) != 0 || arg_window(s, starts_at, ends_at) != 0)
        return EXIT_USAGE;

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (get_course(s, id, &row) != 0)
        return EXIT_RUNTIME;
    if (db_set_window(&s->db, id, starts_at, ends_at) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    row.course.starts_at = starts_at;
    row.course.ends_at = ends_at;
    print_window("course set-window", &row.course, now);
    if (stock_set_window(&s->redis, id, starts_at, ends_at, &loaded) != 0) {
        fail_with(s->redis.err);
        return EXIT_RUNTIME;
    }
    if (loaded) {
        printf("course set-window: course %" PRIu64 ": window set in MariaDB at %s and Redis at %s\n",
               id, s->db.addr, s->redis.addr);
        return 0;
    }
    printf("course set-window: course %" PRIu64 " was not on sale in Redis: loading it\n", id);
    return load_course(s, &row.course, &got, &orders) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_course_set_stock(struct session *s)
{
    static struct course_orders row;
    struct load_result got;
    uint64_t id, orders, taken;
    uint32_t total, was;

    if (s->argc != 2)
        return usage(s, "want ID TOTAL, got %d argument(s)", s->argc);
    if (arg_course_id(s, s->argv[0], &id) != 0 || arg_seats(s, s->argv[1], &total) != 0)
        return EXIT_USAGE;

    if (open_db(s, DB_EXISTING) != 0 || open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (get_course(s, id, &row) != 0)
        return EXIT_RUNTIME;
    if (db_set_total(&s->db, id, total) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    was = row.course.total;
    row.course.total = total;
    printf("course set-stock: course %" PRIu64 ": total %" PRIu32 " (was %" PRIu32 ") in MariaDB at %s\n",
           id, total, was, s->db.addr);
    if (load_course(s, &row.course, &got, &orders) != 0)
        return EXIT_RUNTIME;
    taken = orders + got.pending;
    if (taken > total)
        printf("course set-stock: course %" PRIu64 ": note: %" PRIu64 " seat(s) already taken, more than %" PRIu32
               "; their orders stay, none is left on sale\n", id, taken, total);
    return 0;
}

#define SIGN_URL_TTL_MS 60000

static int cmd_sign_url(struct session *s)
{
    const char *secret = NULL;
    uint64_t ids[2];
    int64_t ttl = SIGN_URL_TTL_MS, expires;
    int nids = 0;
    char uri[64], url[sizeof(uri) + SIGNURL_SIG_LEN + 48];

    for (int i = 0; i < s->argc; i++) {
        const char *a = s->argv[i];

        if (strcmp(a, "--ttl") == 0 || strcmp(a, "--secret") == 0) {
            if (i + 1 >= s->argc)
                return usage(s, "%s needs a value", a);
            if (a[2] == 's') {
                secret = s->argv[++i];
            } else if (course_parse_duration(s->argv[++i], &ttl) != 0 || ttl < 1000) {
                return usage(s, "--ttl '%s': want a duration such as 60s, 5m, 2h or 1d", s->argv[i]);
            }
        } else if (nids < 2 && parse_id(a, strlen(a), &ids[nids]) == 0) {
            nids++;
        } else {
            return usage(s, "unexpected argument '%s' (want COURSE and USER ids from 1 to %" PRIu64 ")",
                         a, SECKILL_ID_MAX);
        }
    }
    if (nids < 2)
        return usage(s, "want COURSE USER, got %d id(s)", nids);
    if (secret == NULL)
        secret = s->cfg.secure_link_secret;
    if (secret[0] == '\0') {
        /* the stack's run/conf/consumer.conf is rendered from conf/ at every
         * `make run`: an edit belongs in conf/consumer.conf */
        fprintf(stderr, "seckill: sign-url: no secret: give --secret S, or set secure_link_secret in %s "
                "to the value of $seckill_link_secret in nginx.conf%s\n", s->cfg.path,
                strstr(s->cfg.path, "run/conf/consumer.conf") != NULL
                    ? " (for the local stack: in conf/consumer.conf, then `make run`; run/conf/ is "
                      "rewritten from conf/ at every start)"
                    : "");
        return EXIT_RUNTIME;
    }

    /* Rounded up: the link lives at least as long as asked. */
    expires = (now_ms() + ttl + 999) / 1000;
    snprintf(uri, sizeof(uri), "/api/seckill/%" PRIu64 "/%" PRIu64, ids[0], ids[1]);
    if (signurl_make(uri, expires, secret, url, sizeof(url)) != 0) {
        fail_with("sign-url: cannot compute the MD5 signature (OpenSSL's libcrypto refused MD5)");
        return EXIT_RUNTIME;
    }
    printf("%s\n", url);
    return 0;
}

static const struct command commands[] = {
    { "init", "usage: seckill [-c FILE] init\n"
      "Prepares everything a sale needs, and changes nothing that is already there:\n"
      "  - creates the MariaDB tables courses and orders when missing;\n"
      "  - creates the Kafka topics `topic` (topic_partitions partitions) and\n"
      "    `dlq_topic` (1 partition), replication factor 1;\n"
      "  - when the courses table is empty, adds the demo catalogue: 6 courses,\n"
      "    850 seats, on sale from now for 30 days;\n"
      "  - then does what `seckill load` does.\n", cmd_init, 0 },
    { "load", "usage: seckill [-c FILE] load\n"
      "Puts each course of MariaDB on sale in Redis: its hash " SECKILL_KEY_COURSE("<id>") "\n"
      "(name, total, remaining, starts_at, ends_at) and its id in " SECKILL_KEY_CATALOGUE ",\n"
      "with remaining = total - orders in MariaDB - pending reservations.\n"
      "Courses no longer in MariaDB are taken off sale. Exact on a quiet sale;\n"
      "under traffic it can only leave seats off sale, never sell one twice.\n", cmd_load, 0 },
    { "reset", "usage: seckill [-c FILE] reset\n"
      "Starts a new sale: deletes every order in MariaDB and every per-course key\n"
      "in Redis (course hashes, pending reservations, users' order keys), then\n"
      "does what `seckill load` does. Stop the traffic first: a purchase or an\n"
      "order persisted during a reset belongs to neither sale.\n", cmd_reset, 0 },
    { "stats", "usage: seckill [-c FILE] stats [--watch]\n"
      "Prints per course: seats on sale (total), remaining in Redis, reservations\n"
      "pending in Redis, orders persisted in MariaDB; then the totals.\n"
      "--watch: again every second, a live view of a sale, until Ctrl-C.\n", cmd_stats, 1 },
    { "check", "usage: seckill [-c FILE] check\n"
      "Verifies, on a quiet sale (no purchase in flight, the consumer caught up),\n"
      "per course:\n"
      "  - orders in MariaDB <= total seats (no oversell);\n"
      "  - no user holds two orders in one course;\n"
      "  - remaining (Redis) + orders (MariaDB) + pending (Redis) == total;\n"
      "  - every order row's status key says success with that order id, and no\n"
      "    status key says success without its order row.\n"
      "Prints each failure with the course and the numbers and exits 1; else\n"
      "prints \"check: ok (N courses, M orders)\".\n", cmd_check, 0 },
    { "fill", "usage: seckill [-c FILE] fill N [--courses K]\n"
      "Benchmark backlog: reserves N orders in Redis with the module's reserve\n"
      "script, each for a user of its own, and produces their events to `topic`\n"
      "(idempotent producer, acks=all), as the nginx module would. The seats\n"
      "come from K bench courses (default 6) with ids from 1001, created in\n"
      "MariaDB and Redis when missing, else given N/K more seats each: the\n"
      "demo catalogue is left alone and `seckill check` still adds up once the\n"
      "consumer has drained the topic.\n", cmd_fill, 1 },
    { "course list", "usage: seckill [-c FILE] course list\n"
      "Prints the courses in MariaDB with their seats and sale windows (UTC).\n", cmd_course_list, 0 },
    { "course add", "usage: seckill [-c FILE] course add ID NAME TOTAL [--starts T] [--ends T]\n"
      "Adds a course to MariaDB and puts it on sale in Redis, as `seckill load`\n"
      "does for one course. ID is 1 to 2^53-1 and not taken; NAME has 1 to 200\n"
      "characters (quote it); TOTAL is the seats. The sale runs from --starts\n"
      "(default: now) until --ends (default: 30 days after the start). Keys an\n"
      "earlier course of that id left in Redis are deleted first.\n"
      "Times: " COURSE_TIME_FORMS ".\n"
      "Example: seckill course add 7 \"Operating Systems\" 120 --starts +10m --ends 2026-12-31T16:00:00Z\n",
      cmd_course_add, 1 },
    { "course remove", "usage: seckill [-c FILE] course remove ID [--force [--yes]]\n"
      "Takes a course off sale and deletes it: its id in " SECKILL_KEY_CATALOGUE ", its hash,\n"
      "pending set and users' order keys in Redis, then its row in MariaDB.\n"
      "A course with orders in MariaDB or reservations pending in Redis is left\n"
      "alone unless --force, which deletes its orders too: stop the traffic to\n"
      "it first, as for `seckill reset`. At a terminal --force asks first (type\n"
      "yes); elsewhere it wants --yes as well.\n", cmd_course_remove, 1 },
    { "course set-window", "usage: seckill [-c FILE] course set-window ID START END\n"
      "Sets when a course is on sale, START included, END excluded, in MariaDB\n"
      "and in Redis, where both ends change in one atomic step; a purchase\n"
      "outside it is answered 403 not_started or ended. START must be before END.\n"
      "Times: " COURSE_TIME_FORMS ".\n"
      "Example: seckill course set-window 7 now +2h\n", cmd_course_set_window, 1 },
    { "course set-stock", "usage: seckill [-c FILE] course set-stock ID TOTAL\n"
      "Sets the seats of a course in MariaDB and reloads what is left on sale in\n"
      "Redis: TOTAL - orders - pending reservations, never below 0. Orders\n"
      "already taken are kept when TOTAL is lower than them.\n", cmd_course_set_stock, 1 },
    { "sign-url", "usage: seckill [-c FILE] sign-url COURSE USER [--ttl D] [--secret S]\n"
      "Prints a signed purchase URL (path and query) valid for D (default 60s):\n"
      "  /api/seckill/COURSE/USER?sig=...&expires=...\n"
      "for nginx's secure_link, which the shipped nginx.conf enforces once\n"
      "$seckill_link_secret is set. The secret is secure_link_secret from the\n"
      "config file, or S (visible to other users of this machine in `ps`).\n"
      "Durations: 30s, 5m, 2h, 1d.\n"
      "Example: curl -X POST \"http://127.0.0.1:8080$(seckill sign-url 1 42)\"\n", cmd_sign_url, 1 },
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static int usage_error(const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "seckill: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n%s", usage_text);
    return EXIT_USAGE;
}

/* Finds the command named by the words at argv[*i] and after ("course list"
 * takes two); advances *i past them. */
static const struct command *find_command(int argc, char **argv, int *i)
{
    for (size_t c = 0; c < NCOMMANDS; c++) {
        const char *name = commands[c].name, *space = strchr(name, ' ');

        if (space == NULL && strcmp(argv[*i], name) == 0) {
            *i += 1;
            return &commands[c];
        }
        if (space != NULL && strncmp(argv[*i], name, (size_t)(space - name)) == 0
            && argv[*i][space - name] == '\0' && *i + 1 < argc
            && strcmp(argv[*i + 1], space + 1) == 0) {
            *i += 2;
            return &commands[c];
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct session s;    /* large: not on the stack */
    const char *conf_path = NULL;
    const struct command *cmd;
    char err[PATH_MAX + 512];
    int opt, i, rc;

    /* hiredis writes with write(): a server gone mid-command must be an
     * error message, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    /* In order with stderr when both go to one log. */
    setvbuf(stdout, NULL, _IOLBF, 0);

    /* '+': options end at the command, whose own words follow it. */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, "+:c:h", options, NULL)) != -1) {
        switch (opt) {
        case 'c':
            conf_path = optarg;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("option '%s' needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return usage_error("no command given");

    i = optind;
    cmd = find_command(argc, argv, &i);
    if (cmd == NULL && strcmp(argv[optind], "course") == 0) {
        if (optind + 1 < argc && (strcmp(argv[optind + 1], "--help") == 0 || strcmp(argv[optind + 1], "-h") == 0)) {
            fputs(usage_text, stdout);
            return 0;
        }
        return usage_error("course %s: want list, add, remove, set-window or set-stock",
                           optind + 1 < argc ? argv[optind + 1] : "(nothing)");
    }
    if (cmd == NULL)
        return usage_error("unknown command '%s'", argv[optind]);
    for (int k = i; k < argc; k++) {
        if (strcmp(argv[k], "--help") == 0 || strcmp(argv[k], "-h") == 0) {
            fputs(cmd->help, stdout);
            return 0;
        }
        if (!cmd->takes_args) {
            fprintf(stderr, "seckill: %s: unexpected argument '%s'\n%s", cmd->name, argv[k], cmd->help);
            return EXIT_USAGE;
        }
    }
    s.name = cmd->name;
    s.help = cmd->help;
    s.argc = argc - i;
    s.argv = argv + i;

    if (conf_path == NULL)
        conf_path = config_default_path();
    if (config_load(&s.cfg, conf_path, err, sizeof(err)) != 0) {
        fail_with(err);
        if (access(conf_path, F_OK) != 0)
            fprintf(stderr, "seckill: give the config file with -c FILE or in $SECKILL_CONF "
                    "(the running stack's is run/conf/consumer.conf)\n");
        return EXIT_RUNTIME;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        fail_with("cannot initialise the MariaDB client library");
        return EXIT_RUNTIME;
    }
    rc = cmd->run(&s);
    db_close(&s.db);
    redis_close(&s.redis);
    mysql_library_end();
    return rc;
}
