/* What Redis holds of each course on sale (stock.h), over a connection of
 * redis.h. */
#include "stock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "keys.h"
#include "seckill_scripts.h"

#define LOAD_FIXED_ARGS 10      /* EVAL script 2 hash pending + 5 ARGV */

int stock_pending_snapshot(struct redis *r, uint64_t course_id,
                           struct pending_snapshot *snap)
{
    char pend[SECKILL_KEY_MAX];

    key_pending(pend, course_id);
    snap->members = redis_command(r, seckill_course_slot(course_id), "HKEYS pending", "HKEYS %s", pend);
    if (snap->members == NULL)
        return -1;
    if (snap->members->type != REDIS_REPLY_ARRAY) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: %s: HKEYS gave no list", r->addr, pend);
        stock_snapshot_free(snap);
        return -1;
    }
    return 0;
}

void stock_snapshot_free(struct pending_snapshot *snap)
{
    if (snap->members != NULL)
        freeReplyObject(snap->members);
    snap->members = NULL;
}

int stock_load_course(struct redis *r, const struct course *c, uint64_t orders,
                      const struct pending_snapshot *snap, struct load_result *out)
{
    char hash[SECKILL_KEY_MAX], pend[SECKILL_KEY_MAX], total[24], count[24], starts[24], ends[24];
    size_t argc = LOAD_FIXED_ARGS + snap->members->elements;
    const char **argv = malloc(argc * sizeof(*argv));
    size_t *argvlen = malloc(argc * sizeof(*argvlen));
    redisReply *reply;

    if (argv == NULL || argvlen == NULL) {
        free(argv);
        free(argvlen);
        snprintf(r->err, sizeof(r->err), "out of memory");
        return -1;
    }
    key_course(hash, c->id);
    key_pending(pend, c->id);
    snprintf(total, sizeof(total), "%" PRIu32, c->total);
    snprintf(count, sizeof(count), "%" PRIu64, orders);
    snprintf(starts, sizeof(starts), "%" PRId64, c->starts_at);
    snprintf(ends, sizeof(ends), "%" PRId64, c->ends_at);
    {
        const char *fixed[LOAD_FIXED_ARGS] = {
            "EVAL", SECKILL_SCRIPT_LOAD_COURSE, "2", hash, pend, c->name, total, count, starts, ends
        };

        for (size_t i = 0; i < LOAD_FIXED_ARGS; i++) {
            argv[i] = fixed[i];
            argvlen[i] = strlen(fixed[i]);
        }
    }
    for (size_t i = 0; i < snap->members->elements; i++) {
        argv[LOAD_FIXED_ARGS + i] = snap->members->element[i]->str;
        argvlen[LOAD_FIXED_ARGS + i] = snap->members->element[i]->len;
    }
    reply = redis_command_argv(r, seckill_course_slot(c->id), "loading a course", (int)argc, argv, argvlen);
    free(argv);
    free(argvlen);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER
        || reply->element[2]->type != REDIS_REPLY_INTEGER) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: unexpected reply to the load script", r->addr);
        freeReplyObject(reply);
        return -1;
    }
    out->pending = (uint64_t)reply->element[0]->integer;
    out->gone = (uint64_t)reply->element[1]->integer;
    out->remaining = (uint64_t)reply->element[2]->integer;
    freeReplyObject(reply);

    /* Listed only once its hash is whole; apart from the script since
     * seckill:courses lives in another Redis Cluster slot. */
    if ((reply = redis_command(r, key_slot(SECKILL_KEY_CATALOGUE), "ZADD " SECKILL_KEY_CATALOGUE,
                               "ZADD %s %" PRIu64 " %" PRIu64, SECKILL_KEY_CATALOGUE, c->id, c->id)) == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int stock_unlist_others(struct redis *r, const uint64_t *keep, size_t n,
                        uint64_t *removed)
{
    redisReply *list, *reply;

    *removed = 0;
    if ((list = redis_command(r, key_slot(SECKILL_KEY_CATALOGUE), "ZRANGE " SECKILL_KEY_CATALOGUE,
                              "ZRANGE %s 0 -1", SECKILL_KEY_CATALOGUE)) == NULL)
        return -1;
    for (size_t i = 0; i < list->elements; i++) {
        redisReply *member = list->element[i];
        uint64_t id;
        int is_id = parse_id(member->str, member->len, &id) == 0;
        char hash[SECKILL_KEY_MAX];

        if (is_id && bsearch(&id, keep, n, sizeof(*keep), cmp_u64) != NULL)
            continue;
        reply = redis_command(r, key_slot(SECKILL_KEY_CATALOGUE), "ZREM " SECKILL_KEY_CATALOGUE, "ZREM %s %b",
                              SECKILL_KEY_CATALOGUE, member->str, member->len);
        if (reply == NULL)
            goto fail;
        freeReplyObject(reply);
        if (is_id) {
            key_course(hash, id);
            if ((reply = redis_command(r, seckill_course_slot(id), "DEL", "DEL %s", hash)) == NULL)
                goto fail;
            freeReplyObject(reply);
        }
        (*removed)++;
    }
    freeReplyObject(list);
    return 0;

fail:
    freeReplyObject(list);
    return -1;
}

static void count_kind(struct wipe_counts *counts, enum key_kind kind)
{
    switch (kind) {
    case KEY_COURSE:       counts->hashes++; break;
    case KEY_PENDING:      counts->pending_sets++; break;
    case KEY_USER:         counts->user_keys++; break;
    case KEY_COURSE_OTHER: counts->other_keys++; break;
    case KEY_NOT_COURSE:   break;
    }
}

/* A key found by SCAN, by its slot. */
struct slot_key {
    unsigned slot;
    const redisReply *key;
};

static int by_slot(const void *pa, const void *pb)
{
    const struct slot_key *a = pa, *b = pb;

    return a->slot < b->slot ? -1 : a->slot > b->slot;
}

/* Deletes the per-course keys among keys, adding them to counts: one DEL
 * per slot, since a cluster refuses a DEL across slots (CROSSSLOT), all
 * DELs pipelined. */
static int delete_keys(struct redis *r, const redisReply *keys, struct wipe_counts *counts)
{
    struct slot_key *sk = malloc((keys->elements + 1) * sizeof(*sk));
    const char **argv = malloc((keys->elements + 1) * sizeof(*argv));
    size_t *argvlen = malloc((keys->elements + 1) * sizeof(*argvlen));
    size_t n = 0, len;
    struct redis_pipe p;
    int rc = -1;

    redis_pipe_init(&p);
    if (sk == NULL || argv == NULL || argvlen == NULL) {
        snprintf(r->err, sizeof(r->err), "out of memory");
        goto done;
    }
    for (size_t i = 0; i < keys->elements; i++) {
        const redisReply *key = keys->element[i];
        uint64_t course_id;
        enum key_kind kind = key_classify(key->str, key->len, &course_id, NULL);

        if (kind == KEY_NOT_COURSE)
            continue;
        count_kind(counts, kind);
        /* The key's own slot: a key in another spelling of the id ({c07})
         * is not in the slot of its course. */
        sk[n].slot = seckill_key_slot(key->str, key->len);
        sk[n].key = key;
        n++;
    }
    qsort(sk, n, sizeof(*sk), by_slot);
    argv[0] = "DEL";
    argvlen[0] = 3;
    for (size_t at = 0; at < n; at += len) {
        for (len = 0; at + len < n && sk[at + len].slot == sk[at].slot; len++) {
            argv[1 + len] = sk[at + len].key->str;
            argvlen[1 + len] = sk[at + len].key->len;
        }
        if (redis_pipe_add_argv(r, &p, sk[at].slot, (int)(1 + len), argv, argvlen) != 0)
            goto done;
    }
    if (p.n > 0 && (redis_pipe_run(r, &p, "DEL") != 0 || redis_pipe_error(r, &p, "DEL") != 0))
        goto done;
    rc = 0;

done:
    redis_pipe_free(&p);
    free(sk);
    free(argv);
    free(argvlen);
    return rc;
}

/* Deletes every per-course key matching pattern, on every master, SCAN
 * step by step, adding what it deleted to counts. */
static int delete_matching(struct redis *r, const char *pattern, struct wipe_counts *counts)
{
    struct redis_scan scan;
    redisReply *step;
    int more;

    redis_scan_begin(r, &scan);
    while ((more = redis_scan_next(r, &scan, pattern, &step)) > 0) {
        int rc = delete_keys(r, step->element[1], counts);

        freeReplyObject(step);
        if (rc != 0)
            return -1;
    }
    return more;
}

int stock_wipe_courses(struct redis *r, struct wipe_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    return delete_matching(r, SECKILL_KEY_ANY_COURSE, counts);
}

int stock_remove_course(struct redis *r, uint64_t course_id, struct wipe_counts *counts)
{
    char hash[SECKILL_KEY_MAX], pattern[SECKILL_KEY_MAX + 1];
    redisReply *reply;

    memset(counts, 0, sizeof(*counts));
    key_course(hash, course_id);
    if ((reply = redis_command(r, key_slot(SECKILL_KEY_CATALOGUE), "ZREM " SECKILL_KEY_CATALOGUE,
                               "ZREM %s %" PRIu64, SECKILL_KEY_CATALOGUE, course_id)) == NULL)
        return -1;
    counts->unlisted = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject(reply);
    /* The hash before the rest: from here on a purchase is "unknown"
     * and takes no seat, so no new user key appears behind the SCAN. */
    if ((reply = redis_command(r, seckill_course_slot(course_id), "DEL", "DEL %s", hash)) == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        counts->hashes += (uint64_t)reply->integer;
    freeReplyObject(reply);
    /* "seckill:{c7}*" matches course 7's keys only: '}' follows the id. */
    snprintf(pattern, sizeof(pattern), "%s*", hash);
    return delete_matching(r, pattern, counts);
}

int stock_set_window(struct redis *r, uint64_t course_id, int64_t starts_at, int64_t ends_at,
                     int *loaded)
{
    char hash[SECKILL_KEY_MAX];
    redisReply *reply;

    key_course(hash, course_id);
    reply = redis_command(r, seckill_course_slot(course_id), "setting the sale window",
                          "EVAL %s 1 %s %" PRId64 " %" PRId64, SECKILL_SCRIPT_SET_WINDOW, hash,
                          starts_at, ends_at);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_INTEGER) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: unexpected reply to the window script", r->addr);
        freeReplyObject(reply);
        return -1;
    }
    *loaded = reply->integer == 1;
    freeReplyObject(reply);
    return 0;
}

/* A decimal integer field of a reply, -1 when nil or not a number. */
static int64_t reply_int(const redisReply *r)
{
    char *end;
    long long v;

    if (r == NULL || r->type != REDIS_REPLY_STRING)
        return -1;
    errno = 0;
    v = strtoll(r->str, &end, 10);
    return errno != 0 || end == r->str || *end != '\0' ? -1 : v;
}

int stock_catalogue(struct redis *r, size_t max, struct course_stock **out, size_t *n)
{
    redisReply *list;
    struct redis_pipe p;
    struct course_stock *c;
    size_t k = 0;
    char last[24];
    int rc;

    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    /* hiredis formats %s and %b only */
    snprintf(last, sizeof(last), "%zu", max - 1);
    list = redis_command(r, key_slot(SECKILL_KEY_CATALOGUE), "ZRANGE " SECKILL_KEY_CATALOGUE,
                         "ZRANGE %s 0 %s", SECKILL_KEY_CATALOGUE, last);
    if (list == NULL)
        return -1;
    c = calloc(list->elements + 1, sizeof(*c));
    if (c == NULL) {
        snprintf(r->err, sizeof(r->err), "out of memory listing %zu courses", list->elements);
        freeReplyObject(list);
        return -1;
    }
    redis_pipe_init(&p);
    for (size_t i = 0; i < list->elements; i++) {
        char hash[SECKILL_KEY_MAX], pend[SECKILL_KEY_MAX];
        const redisReply *e = list->element[i];

        if (e->type != REDIS_REPLY_STRING || parse_id(e->str, e->len, &c[k].id) != 0)
            continue;       /* not a course id of ours */
        key_course(hash, c[k].id);
        key_pending(pend, c[k].id);
        if (redis_pipe_add(r, &p, seckill_course_slot(c[k].id), "HMGET %s total remaining", hash) != 0
            || redis_pipe_add(r, &p, seckill_course_slot(c[k].id), "HLEN %s", pend) != 0) {
            freeReplyObject(list);
            redis_pipe_free(&p);
            free(c);
            return -1;
        }
        k++;
    }
    freeReplyObject(list);
    /* A master down leaves its courses unread (-1), not the others. */
    rc = redis_pipe_run(r, &p, "HMGET total remaining, HLEN pending") == 0 ? 0 : 1;
    for (size_t i = 0; i < k; i++) {
        const redisReply *hmget = p.cmd[2 * i].reply, *hlen = p.cmd[2 * i + 1].reply;
        int whole = hmget != NULL && hmget->type == REDIS_REPLY_ARRAY && hmget->elements == 2;

        c[i].total = whole ? reply_int(hmget->element[0]) : -1;
        c[i].remaining = whole ? reply_int(hmget->element[1]) : -1;
        c[i].pending = hlen != NULL && hlen->type == REDIS_REPLY_INTEGER && hlen->integer > 0
                       ? (uint64_t)hlen->integer : 0;
    }
    redis_pipe_free(&p);
    *out = c;
    *n = k;
    return rc;
}

int stock_of_course(struct redis *r, uint64_t course_id,
                    int64_t *remaining, uint64_t *pending)
{
    char hash[SECKILL_KEY_MAX], pend[SECKILL_KEY_MAX];
    unsigned slot = seckill_course_slot(course_id);
    const redisReply *hget, *hlen;
    struct redis_pipe p;
    int rc = -1;

    key_course(hash, course_id);
    key_pending(pend, course_id);
    redis_pipe_init(&p);
    if (redis_pipe_add(r, &p, slot, "HGET %s remaining", hash) != 0
        || redis_pipe_add(r, &p, slot, "HLEN %s", pend) != 0
        || redis_pipe_run(r, &p, "HGET remaining, HLEN pending") != 0
        || redis_pipe_error(r, &p, "HGET remaining, HLEN pending") != 0)
        goto done;
    hget = p.cmd[0].reply;
    hlen = p.cmd[1].reply;
    *pending = (uint64_t)hlen->integer;
    if (hget->type == REDIS_REPLY_NIL) {
        *remaining = -1;
    } else {
        char *end;

        errno = 0;
        *remaining = strtoll(hget->str, &end, 10);
        if (errno != 0 || end == hget->str || *end != '\0') {
            snprintf(r->err, sizeof(r->err), "Redis at %s: %s remaining = '%.40s' is not a number",
                     r->addr, hash, hget->str);
            goto done;
        }
    }
    rc = 0;

done:
    redis_pipe_free(&p);
    return rc;
}
