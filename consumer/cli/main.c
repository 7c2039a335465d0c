/* The admin CLI `seckill`: prepares and inspects a sale. It creates the
 * schema and the Kafka topics, fills an empty database with the demo
 * catalogue, puts the stock into Redis, starts a new sale, prints the
 * numbers of each course, manages the courses one by one and signs
 * purchase URLs. This file reads the options, finds the command in the
 * table below (with its help) and runs it; the commands live in a file per
 * group (cli.h). Exit status: 0 done, 1 failed, 2 usage error. */
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "course.h"
#include "seckill_keys.h"

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

struct command {
    const char *name;
    const char *help;
    int (*run)(struct session *s);
    int takes_args;             /* else any argument is a usage error */
};

static const struct command commands[] = {
    { "init", "usage: seckill [-c FILE] init\n"
      "Prepares everything a sale needs, and changes nothing that is already there:\n"
      "  - creates the MariaDB tables courses and orders when missing;\n"
      "  - creates the Kafka topics `topic` (topic_partitions partitions) and\n"
      "    `dlq_topic` (1 partition), with the brokers' default replication\n"
      "    factor and min.insync.replicas;\n"
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
        cli_error(err);
        if (access(conf_path, F_OK) != 0)
            fprintf(stderr, "seckill: give the config file with -c FILE or in $SECKILL_CONF "
                    "(the running stack's is run/conf/consumer.conf)\n");
        return EXIT_RUNTIME;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        cli_error("cannot initialise the MariaDB client library");
        return EXIT_RUNTIME;
    }
    rc = cmd->run(&s);
    db_close(&s.db);
    redis_close(&s.redis);
    mysql_library_end();
    return rc;
}
