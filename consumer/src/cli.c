/* The admin CLI `seckill`: prepares and inspects a sale. It creates the
 * schema and the Kafka topics, fills an empty database with the demo
 * catalogue, puts the stock into Redis, starts a new sale and prints the
 * numbers of each course. Exit status: 0 done, 1 failed, 2 usage error. */
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
#include "config.h"
#include "course.h"
#include "db.h"
#include "fill.h"
#include "ids.h"
#include "store.h"
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
    "\n"
    "Options:\n"
    "  -c FILE       config file (default: $SECKILL_CONF, else conf/consumer.conf)\n"
    "  -h, --help    this help; `seckill COMMAND --help` tells what COMMAND does\n"
    "\n"
    "Exit status: 0 done, 1 failed (the message says why), 2 usage error.\n";

/* The services a command talks to, opened on demand. */
struct session {
    struct seckill_config cfg;
    struct db db;
    struct store store;
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

static int open_store(struct session *s)
{
    if (store_open(&s->store, &s->cfg) != 0) {
        fail_with(s->store.err);
        return -1;
    }
    return 0;
}

static void format_ms(int64_t ms, char *buf, size_t size)
{
    time_t secs = (time_t)(ms / 1000);
    struct tm tm;

    if (gmtime_r(&secs, &tm) == NULL || strftime(buf, size, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, size, "%" PRId64 " ms", ms);
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
        const struct course *c = &rows[i].course;
        struct pending_snapshot snap;
        struct load_result got;
        uint64_t orders;
        int loaded;

        if (c->id == 0 || c->id > SECKILL_ID_MAX)
            fprintf(stderr, "seckill: warning: course id %" PRIu64 " is outside 1..2^53-1; "
                    "the purchase API cannot name it\n", c->id);
        /* In this order: snapshot, count, script (store.h says why). */
        if (store_pending_snapshot(&s->store, c->id, &snap) != 0) {
            fail_with(s->store.err);
            goto done;
        }
        if (db_count_orders(&s->db, c->id, &orders) != 0) {
            store_snapshot_free(&snap);
            fail_with(s->db.err);
            goto done;
        }
        loaded = store_load_course(&s->store, c, orders, &snap, &got);
        store_snapshot_free(&snap);
        if (loaded != 0) {
            fail_with(s->store.err);
            goto done;
        }
        printf("load: course %" PRIu64 ": total %" PRIu32 " - orders %" PRIu64 " - pending %" PRIu64,
               c->id, c->total, orders, got.pending);
        if (got.gone > 0)
            printf(" - left pending while loading %" PRIu64, got.gone);
        printf(" = remaining %" PRIu64 "\n", got.remaining);
        ids[i] = c->id;
        seats += got.remaining;
    }
    /* rows come ORDER BY id: ids is sorted for the lookup. */
    if (store_unlist_others(&s->store, ids, n, &removed) != 0) {
        fail_with(s->store.err);
        goto done;
    }
    if (removed > 0)
        printf("load: took %" PRIu64 " course(s) no longer in MariaDB off sale\n", removed);
    printf("load: %zu course(s), %" PRIu64 " seat(s) on sale in Redis at %s\n", n, seats, s->store.addr);
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

    if (open_db(s, DB_CREATE_DATABASE) != 0 || open_store(s) != 0)
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
        format_ms(demo[0].ends_at, until, sizeof(until));
        printf("init: added the demo catalogue: %d courses, %" PRIu32 " seats, on sale until %s UTC\n",
               CATALOG_DEMO_COURSES, seats, until);
    } else {
        printf("init: catalogue: %" PRIu64 " course(s) already there, left as they are\n", courses);
    }

    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_load(struct session *s)
{
    if (open_db(s, DB_EXISTING) != 0 || open_store(s) != 0)
        return EXIT_RUNTIME;
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_reset(struct session *s)
{
    struct wipe_counts wiped;
    uint64_t deleted;

    if (open_db(s, DB_EXISTING) != 0 || open_store(s) != 0)
        return EXIT_RUNTIME;
    if (db_delete_orders(&s->db, &deleted) != 0) {
        fail_with(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("reset: deleted %" PRIu64 " order(s) in MariaDB at %s\n", deleted, s->db.addr);
    if (store_wipe_courses(&s->store, &wiped) != 0) {
        fail_with(s->store.err);
        return EXIT_RUNTIME;
    }
    printf("reset: deleted %" PRIu64 " course hash(es), %" PRIu64 " pending set(s), %" PRIu64
           " user order key(s)", wiped.hashes, wiped.pending_sets, wiped.user_keys);
    if (wiped.other_keys > 0)
        printf(", %" PRIu64 " other per-course key(s)", wiped.other_keys);
    printf(" in Redis at %s\n", s->store.addr);
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

static int cmd_stats(struct session *s)
{
    struct course_orders *rows;
    uint64_t total = 0, remaining = 0, pending = 0, orders = 0;
    size_t n;
    int unloaded = 0;

    if (open_db(s, DB_EXISTING) != 0 || open_store(s) != 0)
        return EXIT_RUNTIME;
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

        if (store_course_stock(&s->store, c->id, &left, &pend) != 0) {
            fail_with(s->store.err);
            free(rows);
            return EXIT_RUNTIME;
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

static int cmd_check(struct session *s)
{
    struct check_result res;
    char err[4096];

    if (open_db(s, DB_EXISTING) != 0 || open_store(s) != 0)
        return EXIT_RUNTIME;
    if (check_run(&s->db, &s->store, &res, err, sizeof(err)) != 0) {
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
    if (open_db(s, DB_EXISTING) != 0 || open_store(s) != 0)
        return EXIT_RUNTIME;
    if (fill_run(&s->cfg, &s->db, &s->store, &opt, err, sizeof(err)) != 0) {
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
    printf("%6s %7s  %-19s  %-19s  %s\n", "id", "total", "starts_at (UTC)", "ends_at (UTC)", "name");
    for (size_t i = 0; i < n; i++) {
        const struct course *c = &rows[i].course;
        char starts[32], ends[32];

        format_ms(c->starts_at, starts, sizeof(starts));
        format_ms(c->ends_at, ends, sizeof(ends));
        printf("%6" PRIu64 " %7" PRIu32 "  %-19s  %-19s  %s\n", c->id, c->total, starts, ends, c->name);
    }
    free(rows);
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
      "Puts each course of MariaDB on sale in Redis: its hash seckill:{c<id>}\n"
      "(name, total, remaining, starts_at, ends_at) and its id in seckill:courses,\n"
      "with remaining = total - orders in MariaDB - pending reservations.\n"
      "Courses no longer in MariaDB are taken off sale. Exact on a quiet sale;\n"
      "under traffic it can only leave seats off sale, never sell one twice.\n", cmd_load, 0 },
    { "reset", "usage: seckill [-c FILE] reset\n"
      "Starts a new sale: deletes every order in MariaDB and every per-course key\n"
      "in Redis (course hashes, pending reservations, users' order keys), then\n"
      "does what `seckill load` does. Stop the traffic first: a purchase or an\n"
      "order persisted during a reset belongs to neither sale.\n", cmd_reset, 0 },
    { "stats", "usage: seckill [-c FILE] stats\n"
      "Prints per course: seats on sale (total), remaining in Redis, reservations\n"
      "pending in Redis, orders persisted in MariaDB; then the totals.\n", cmd_stats, 0 },
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
    if (cmd == NULL)
        return usage_error(strcmp(argv[optind], "course") == 0 ? "%s: did you mean `course list`?"
                                                               : "unknown command '%s'", argv[optind]);
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
    store_close(&s.store);
    mysql_library_end();
    return rc;
}
