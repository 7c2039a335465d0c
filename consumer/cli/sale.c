/* The sale as a whole: `seckill init` (schema, topics, the demo catalogue),
 * `load` (each course's stock from MariaDB into Redis) and `reset` (a new
 * sale: orders and per-course keys deleted, stock loaded again). */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "catalog.h"
#include "clock.h"
#include "ids.h"
#include "topics.h"

#define TOPICS_TIMEOUT_MS 10000

int cli_load_course(struct session *s, const struct course *c, struct load_result *got,
                    uint64_t *orders)
{
    struct pending_snapshot snap;
    int loaded;

    if (c->id == 0 || c->id > SECKILL_ID_MAX)
        fprintf(stderr, "seckill: warning: course id %" PRIu64 " is outside 1..2^53-1; "
                "the purchase API cannot name it\n", c->id);
    /* In this order: snapshot, count, script (stock.h says why). */
    if (stock_pending_snapshot(&s->redis, c->id, &snap) != 0) {
        cli_error(s->redis.err);
        return -1;
    }
    if (db_count_orders(&s->db, c->id, orders) != 0) {
        stock_snapshot_free(&snap);
        cli_error(s->db.err);
        return -1;
    }
    loaded = stock_load_course(&s->redis, c, *orders, &snap, got);
    stock_snapshot_free(&snap);
    if (loaded != 0) {
        cli_error(s->redis.err);
        return -1;
    }
    printf("load: course %" PRIu64 ": total %" PRIu32 " - orders %" PRIu64 " - pending %" PRIu64,
           c->id, c->total, *orders, got->pending);
    if (got->gone > 0)
        printf(" - left pending while loading %" PRIu64, got->gone);
    printf(" = remaining %" PRIu64 "\n", got->remaining);
    return 0;
}

void cli_print_wiped(const char *cmd, const struct wipe_counts *w, const char *addr)
{
    printf("%s: deleted %" PRIu64 " course hash(es), %" PRIu64 " pending set(s), %" PRIu64
           " user order key(s)", cmd, w->hashes, w->pending_sets, w->user_keys);
    if (w->other_keys > 0)
        printf(", %" PRIu64 " other per-course key(s)", w->other_keys);
    printf(" in Redis at %s\n", addr);
}

/* The stock of every course of MariaDB into Redis; shared by init and reset. */
static int load_stock(struct session *s)
{
    struct course_orders *rows = NULL;
    uint64_t *ids = NULL, removed, seats = 0;
    size_t n;
    int rc = -1;

    if (db_list_courses(&s->db, &rows, &n) != 0) {
        cli_error(s->db.err);
        return -1;
    }
    ids = malloc((n ? n : 1) * sizeof(*ids));
    if (ids == NULL) {
        cli_error("out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        struct load_result got;
        uint64_t orders;

        if (cli_load_course(s, &rows[i].course, &got, &orders) != 0)
            goto done;
        ids[i] = rows[i].course.id;
        seats += got.remaining;
    }
    /* rows come ORDER BY id: ids is sorted for the lookup. */
    if (stock_unlist_others(&s->redis, ids, n, &removed) != 0) {
        cli_error(s->redis.err);
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

int cmd_init(struct session *s)
{
    struct topic_outcome topics[TOPICS];
    char err[1024];
    uint64_t courses;
    int created;

    if (cli_open_db(s, DB_CREATE_DATABASE) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (s->db.created_database)
        printf("init: created database %s\n", s->cfg.mysql_database);

    if (db_create_schema(&s->db, &created) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("init: schema in MariaDB at %s: %s\n", s->db.addr,
           created == 0 ? "tables courses, orders already there"
                        : created == 2 ? "created tables courses, orders" : "created the missing table");

    if (topics_create(&s->cfg, TOPICS_TIMEOUT_MS, topics, err, sizeof(err)) != 0) {
        cli_error(err);
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
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    if (courses == 0) {
        struct course demo[CATALOG_DEMO_COURSES];
        uint32_t seats = 0;
        char until[32];

        catalog_demo(now_ms(), demo);
        if (db_insert_courses(&s->db, demo, CATALOG_DEMO_COURSES) != 0) {
            cli_error(s->db.err);
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

int cmd_load(struct session *s)
{
    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}

int cmd_reset(struct session *s)
{
    struct wipe_counts wiped;
    uint64_t deleted;

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (db_delete_orders(&s->db, &deleted) != 0) {
        cli_error(s->db.err);
        return EXIT_RUNTIME;
    }
    printf("reset: deleted %" PRIu64 " order(s) in MariaDB at %s\n", deleted, s->db.addr);
    if (stock_wipe_courses(&s->redis, &wiped) != 0) {
        cli_error(s->redis.err);
        return EXIT_RUNTIME;
    }
    cli_print_wiped("reset", &wiped, s->redis.addr);
    return load_stock(s) == 0 ? 0 : EXIT_RUNTIME;
}
