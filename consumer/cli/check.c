/* `seckill check`: the invariants of SPEC section 5, on a quiet sale (no
 * purchase in flight, the consumer caught up). Per course:
 *   1. orders in MariaDB <= total;
 *   2. no user with two orders;
 *   5. remaining (Redis) + orders (MariaDB) + pending (Redis) == total, every
 *      order row's status key says success with that order id, and no
 *      status key says success without its order row.
 * Each failure is printed on a line of its own, naming the course and the
 * numbers, and the exit status is 1. */
#include "cli.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"

/* Orders read and status keys looked up per round trip. */
#define PAGE 2000
/* Per kind of status-key problem, this many are shown one by one; the
 * per-course counts tell the rest. */
#define DETAIL_MAX 10
#define GROUPS_MAX 100

/* The kinds of status-key problems, counted per course. */
enum kind {
    NO_KEY,         /* order row, no status key */
    NOT_SUCCESS,    /* order row, status key not success */
    OTHER_ORDER,    /* order row, status key names another order */
    NO_ROW,         /* status key success, no such order row */
    KINDS
};

static const char *const kind_text[KINDS] = {
    [NO_KEY] = "order row(s) without a status key",
    [NOT_SUCCESS] = "order row(s) whose status is not success",
    [OTHER_ORDER] = "order row(s) whose status key names another order",
    [NO_ROW] = "status key(s) saying success without their order row",
};

struct check_result {
    size_t courses;
    uint64_t orders;
    uint64_t problems;
    uint64_t pending;           /* reservations pending in Redis, all courses */
};

struct tally {
    uint64_t n[KINDS];
};

/* A user's order status key seckill:{c<id>}:u:<uid>, as the check reads it. */
struct user_status {
    uint64_t course_id, user_id;
    int exists;                 /* the key is there */
    uint64_t order_id;          /* 0 when missing or not a number */
    char status[16];            /* "" when missing */
};

/* Reads the status keys of us[i].course_id/user_id (pipelined HMGET, each
 * to the master of its course). */
static int user_statuses(struct redis *r, struct user_status *us, size_t n)
{
    struct redis_pipe p;
    int rc = -1;

    redis_pipe_init(&p);
    for (size_t i = 0; i < n; i++) {
        char key[SECKILL_KEY_MAX];

        key_user(key, us[i].course_id, us[i].user_id);
        if (redis_pipe_add(r, &p, seckill_course_slot(us[i].course_id), "HMGET %s order_id status", key) != 0)
            goto done;
    }
    if (redis_pipe_run(r, &p, "HMGET user status") != 0
        || redis_pipe_error(r, &p, "HMGET of a user status key") != 0)
        goto done;
    for (size_t i = 0; i < n; i++) {
        const redisReply *reply = p.cmd[i].reply, *oid, *status;
        uint64_t id = 0;

        if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
            snprintf(r->err, sizeof(r->err), "Redis at %s: HMGET of a user status key: unexpected reply",
                     r->addr);
            goto done;
        }
        oid = reply->element[0];
        status = reply->element[1];
        us[i].exists = oid->type == REDIS_REPLY_STRING || status->type == REDIS_REPLY_STRING;
        us[i].order_id = 0;
        if (oid->type == REDIS_REPLY_STRING && strspn(oid->str, "0123456789") == oid->len
            && oid->len > 0 && oid->len < 20) {
            for (size_t k = 0; k < oid->len; k++)
                id = id * 10 + (uint64_t)(oid->str[k] - '0');
            us[i].order_id = id;
        }
        snprintf(us[i].status, sizeof(us[i].status), "%s",
                 status->type == REDIS_REPLY_STRING ? status->str : "");
    }
    rc = 0;

done:
    redis_pipe_free(&p);
    return rc;
}

/* One step of a SCAN over every user status key, on every master: *out
 * (malloc'd, *n of them) with their contents. Returns 1 with a step, 0
 * when the scan is over, -1 with r->err. */
static int scan_users(struct redis *r, struct redis_scan *scan, struct user_status **out, size_t *n)
{
    redisReply *step;
    const redisReply *keys;
    struct user_status *us;
    size_t count = 0;
    int more;

    *out = NULL;
    *n = 0;
    if ((more = redis_scan_next(r, scan, SECKILL_KEY_ANY_USER, &step)) <= 0)
        return more;
    keys = step->element[1];
    us = calloc(keys->elements ? keys->elements : 1, sizeof(*us));
    if (us == NULL) {
        snprintf(r->err, sizeof(r->err), "out of memory");
        freeReplyObject(step);
        return -1;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        uint64_t course_id, user_id;

        if (key_classify(keys->element[i]->str, keys->element[i]->len, &course_id, &user_id) != KEY_USER)
            continue;
        us[count].course_id = course_id;
        us[count].user_id = user_id;
        count++;
    }
    freeReplyObject(step);
    if (user_statuses(r, us, count) != 0) {
        free(us);
        return -1;
    }
    *out = us;
    *n = count;
    return 1;
}

struct checker {
    struct db *db;
    struct redis *redis;
    struct course_orders *courses;
    size_t ncourses;
    struct tally *tallies;      /* per course, same index */
    struct tally shown;         /* detail lines printed so far, per kind */
    struct check_result *res;
    char *err;
    size_t errlen;
};

static void problem(struct checker *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void problem(struct checker *c, const char *fmt, ...)
{
    va_list ap;

    printf("check: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    c->res->problems++;
}

static struct tally *tally_of(struct checker *c, uint64_t course_id)
{
    size_t lo = 0, hi = c->ncourses;

    /* db_list_courses() gives them ORDER BY id. */
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (c->courses[mid].course.id < course_id)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->ncourses && c->courses[lo].course.id == course_id ? &c->tallies[lo] : NULL;
}

/* Counts one status-key problem; shows it while few of its kind were. */
static void note(struct checker *c, uint64_t course_id, enum kind kind, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void note(struct checker *c, uint64_t course_id, enum kind kind, const char *fmt, ...)
{
    struct tally *t = tally_of(c, course_id);
    va_list ap;

    if (t != NULL)
        t->n[kind]++;
    if (c->shown.n[kind]++ < DETAIL_MAX) {
        printf("check:   course %" PRIu64 ": ", course_id);
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
    }
}

static int db_failed(struct checker *c)
{
    snprintf(c->err, c->errlen, "%s", c->db->err);
    return -1;
}

static int redis_failed(struct checker *c)
{
    snprintf(c->err, c->errlen, "%s", c->redis->err);
    return -1;
}

/* Invariants 1 and the counting half of 5, per course. */
static int check_counts(struct checker *c)
{
    for (size_t i = 0; i < c->ncourses; i++) {
        const struct course *co = &c->courses[i].course;
        uint64_t orders = c->courses[i].orders, pending;
        int64_t remaining;

        if (orders > co->total)
            problem(c, "course %" PRIu64 ": oversold: %" PRIu64 " orders in MariaDB > %" PRIu32 " seats",
                    co->id, orders, co->total);
        if (stock_of_course(c->redis, co->id, &remaining, &pending) != 0)
            return redis_failed(c);
        c->res->pending += pending;
        if (remaining < 0) {
            problem(c, "course %" PRIu64 ": not on sale in Redis (no remaining); run `seckill load`", co->id);
            continue;
        }
        if ((uint64_t)remaining + orders + pending != co->total)
            problem(c, "course %" PRIu64 ": remaining %" PRId64 " + orders %" PRIu64 " + pending %" PRIu64
                    " = %" PRIu64 ", want total %" PRIu32, co->id, remaining, orders, pending,
                    (uint64_t)remaining + orders + pending, co->total);
    }
    return 0;
}

/* Invariant 2, and orders of courses that do not exist. */
static int check_groups(struct checker *c)
{
    struct order_group groups[GROUPS_MAX];
    size_t n;

    if (db_duplicate_users(c->db, groups, GROUPS_MAX, &n) != 0)
        return db_failed(c);
    for (size_t i = 0; i < n; i++)
        problem(c, "course %" PRIu64 ": user %" PRIu64 " has %" PRIu64 " orders",
                groups[i].course_id, groups[i].user_id, groups[i].orders);
    if (db_orphan_orders(c->db, groups, GROUPS_MAX, &n) != 0)
        return db_failed(c);
    for (size_t i = 0; i < n; i++)
        problem(c, "course %" PRIu64 ": %" PRIu64 " orders in MariaDB, but no such course",
                groups[i].course_id, groups[i].orders);
    return 0;
}

/* Every order row's status key says success with its order id. */
static int check_rows(struct checker *c)
{
    struct order_row *rows = malloc(PAGE * sizeof(*rows));
    struct user_status *us = malloc(PAGE * sizeof(*us));
    uint64_t after = 0;
    size_t n;
    int rc = -1;

    if (rows == NULL || us == NULL) {
        snprintf(c->err, c->errlen, "out of memory");
        goto done;
    }
    do {
        if (db_orders_page(c->db, after, rows, PAGE, &n) != 0) {
            db_failed(c);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            us[i].course_id = rows[i].course_id;
            us[i].user_id = rows[i].user_id;
        }
        if (user_statuses(c->redis, us, n) != 0) {
            redis_failed(c);
            goto done;
        }
        for (size_t i = 0; i < n; i++) {
            const struct order_row *r = &rows[i];

            if (!us[i].exists)
                note(c, r->course_id, NO_KEY,
                     "order %" PRIu64 " of user %" PRIu64 ": no status key", r->order_id, r->user_id);
            else if (strcmp(us[i].status, "success") != 0)
                note(c, r->course_id, NOT_SUCCESS,
                     "order %" PRIu64 " of user %" PRIu64 ": status '%s', want 'success'",
                     r->order_id, r->user_id, us[i].status);
            else if (us[i].order_id != r->order_id)
                note(c, r->course_id, OTHER_ORDER,
                     "order %" PRIu64 " of user %" PRIu64 ": status key names order %" PRIu64,
                     r->order_id, r->user_id, us[i].order_id);
        }
        c->res->orders += n;
        if (n > 0)
            after = rows[n - 1].order_id;
    } while (n == PAGE);
    rc = 0;

done:
    free(rows);
    free(us);
    return rc;
}

static int by_order_id(const void *a, const void *b)
{
    uint64_t x = ((const struct order_row *)a)->order_id, y = ((const struct order_row *)b)->order_id;

    return x < y ? -1 : x > y;
}

/* The success keys of one SCAN step have their order rows. */
static int check_keys_step(struct checker *c, const struct user_status *us, size_t n)
{
    uint64_t *ids = malloc((n ? n : 1) * sizeof(*ids));
    struct order_row *found = malloc((n ? n : 1) * sizeof(*found));
    size_t nids = 0, nfound;
    int rc = -1;

    if (ids == NULL || found == NULL) {
        snprintf(c->err, c->errlen, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(us[i].status, "success") == 0 && us[i].order_id != 0)
            ids[nids++] = us[i].order_id;
    if (db_find_orders(c->db, ids, nids, found, &nfound) != 0) {
        db_failed(c);
        goto done;
    }
    qsort(found, nfound, sizeof(*found), by_order_id);
    for (size_t i = 0; i < n; i++) {
        struct order_row key = { .order_id = us[i].order_id };
        const struct order_row *row;

        if (strcmp(us[i].status, "success") != 0)
            continue;
        row = us[i].order_id ? bsearch(&key, found, nfound, sizeof(*found), by_order_id) : NULL;
        if (row == NULL)
            note(c, us[i].course_id, NO_ROW,
                 "user %" PRIu64 ": status success for order %" PRIu64 ", which MariaDB does not have",
                 us[i].user_id, us[i].order_id);
        else if (row->course_id != us[i].course_id || row->user_id != us[i].user_id)
            note(c, us[i].course_id, NO_ROW,
                 "user %" PRIu64 ": status success for order %" PRIu64 ", which MariaDB has for course %"
                 PRIu64 " user %" PRIu64, us[i].user_id, us[i].order_id, row->course_id, row->user_id);
    }
    rc = 0;

done:
    free(ids);
    free(found);
    return rc;
}

static int check_keys(struct checker *c)
{
    struct redis_scan scan;
    struct user_status *us;
    size_t n;
    int more;

    redis_scan_begin(c->redis, &scan);
    while ((more = scan_users(c->redis, &scan, &us, &n)) > 0) {
        int rc = check_keys_step(c, us, n);

        free(us);
        if (rc != 0)
            return -1;
    }
    return more < 0 ? redis_failed(c) : 0;
}

static void report_tallies(struct checker *c)
{
    for (size_t i = 0; i < c->ncourses; i++)
        for (int k = 0; k < KINDS; k++)
            if (c->tallies[i].n[k] > 0)
                problem(c, "course %" PRIu64 ": %" PRIu64 " %s", c->courses[i].course.id,
                        c->tallies[i].n[k], kind_text[k]);
}

/* Returns 0 with *res filled (res->problems == 0: all good), or -1 when
 * MariaDB or Redis failed (the reason in err). */
static int check_run(struct db *db, struct redis *redis, struct check_result *res,
                     char *err, size_t errlen)
{
    struct checker c = { .db = db, .redis = redis, .res = res, .err = err, .errlen = errlen };
    int rc = -1;

    memset(res, 0, sizeof(*res));
    if (db_list_courses(db, &c.courses, &c.ncourses) != 0) {
        snprintf(err, errlen, "%s", db->err);
        return -1;
    }
    res->courses = c.ncourses;
    c.tallies = calloc(c.ncourses ? c.ncourses : 1, sizeof(*c.tallies));
    if (c.tallies == NULL) {
        snprintf(err, errlen, "out of memory");
        goto done;
    }
    if (check_counts(&c) != 0 || check_groups(&c) != 0 || check_rows(&c) != 0
        || check_keys(&c) != 0)
        goto done;
    report_tallies(&c);
    rc = 0;

done:
    free(c.tallies);
    free(c.courses);
    return rc;
}

int cmd_check(struct session *s)
{
    struct check_result res;
    char err[4096];

    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (check_run(&s->db, &s->redis, &res, err, sizeof(err)) != 0) {
        cli_error(err);
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
