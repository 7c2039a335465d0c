/* The admin commands' Redis side, over hiredis' synchronous API (store.h). */
#include "stock.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "keys.h"
#include "seckill_scripts.h"

#define LOAD_FIXED_ARGS 10      /* EVAL script 2 hash pending + 5 ARGV */
#define SCAN_COUNT "1000"

static int io_error(struct store *st, const char *what)
{
    snprintf(st->err, sizeof(st->err), "Redis at %s: %s: %s", st->addr, what,
             st->rc->errstr[0] ? st->rc->errstr : "connection lost");
    return -1;
}

/* The reply to one command, or NULL with st->err set (also on an error reply). */
static redisReply *reply_of(struct store *st, redisReply *reply, const char *what)
{
    if (reply == NULL) {
        io_error(st, what);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: %s: %s", st->addr, what, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

static redisReply *command(struct store *st, const char *what, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;

    va_start(ap, fmt);
    reply = redisvCommand(st->rc, fmt, ap);
    va_end(ap);
    return reply_of(st, reply, what);
}

int store_open(struct store *st, const struct seckill_config *cfg)
{
    struct timeval connect_timeout = { 3, 0 }, io_timeout = { 10, 0 };
    redisReply *reply;

    memset(st, 0, sizeof(*st));
    snprintf(st->addr, sizeof(st->addr), "%s:%u", cfg->redis.host, cfg->redis.port);
    st->rc = redisConnectWithTimeout(cfg->redis.host, cfg->redis.port, connect_timeout);
    if (st->rc == NULL || st->rc->err) {
        snprintf(st->err, sizeof(st->err),
                 "cannot connect to Redis at %s: %s — is it running? try `make status`",
                 st->addr, st->rc ? st->rc->errstr : "out of memory");
        store_close(st);
        return -1;
    }
    redisSetTimeout(st->rc, io_timeout);

    if (cfg->redis_password[0] != '\0') {
        reply = redisCommand(st->rc, "AUTH %s", cfg->redis_password);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            snprintf(st->err, sizeof(st->err),
                     "Redis at %s refused AUTH: %s — redis_password must be the requirepass of its redis.conf",
                     st->addr, reply ? reply->str : st->rc->errstr);
            if (reply != NULL)
                freeReplyObject(reply);
            store_close(st);
            return -1;
        }
        freeReplyObject(reply);
    }

    /* Connecting is not enough: a loading or password-protected server says
     * so only when asked something. */
    reply = redisCommand(st->rc, "PING");
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        int noauth = reply != NULL && strncmp(reply->str, "NOAUTH", 6) == 0;

        snprintf(st->err, sizeof(st->err), "Redis at %s does not answer PING: %s — %s", st->addr,
                 reply ? reply->str : st->rc->errstr,
                 noauth ? "set redis_password to the requirepass of its redis.conf" : "try `make status`");
        if (reply != NULL)
            freeReplyObject(reply);
        store_close(st);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

void store_close(struct store *st)
{
    if (st->rc != NULL)
        redisFree(st->rc);
    st->rc = NULL;
}

int store_pending_snapshot(struct store *st, uint64_t course_id,
                           struct pending_snapshot *snap)
{
    char pend[SECKILL_KEY_MAX];

    key_pending(pend, course_id);
    snap->members = command(st, "HKEYS pending", "HKEYS %s", pend);
    if (snap->members == NULL)
        return -1;
    if (snap->members->type != REDIS_REPLY_ARRAY) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: %s: HKEYS gave no list", st->addr, pend);
        store_snapshot_free(snap);
        return -1;
    }
    return 0;
}

void store_snapshot_free(struct pending_snapshot *snap)
{
    if (snap->members != NULL)
        freeReplyObject(snap->members);
    snap->members = NULL;
}

int store_load_course(struct store *st, const struct course *c, uint64_t orders,
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
        snprintf(st->err, sizeof(st->err), "out of memory");
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
    reply = reply_of(st, redisCommandArgv(st->rc, (int)argc, argv, argvlen), "loading a course");
    free(argv);
    free(argvlen);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3
        || reply->element[0]->type != REDIS_REPLY_INTEGER
        || reply->element[1]->type != REDIS_REPLY_INTEGER
        || reply->element[2]->type != REDIS_REPLY_INTEGER) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: unexpected reply to the load script", st->addr);
        freeReplyObject(reply);
        return -1;
    }
    out->pending = (uint64_t)reply->element[0]->integer;
    out->gone = (uint64_t)reply->element[1]->integer;
    out->remaining = (uint64_t)reply->element[2]->integer;
    freeReplyObject(reply);

    /* Listed only once its hash is whole; apart from the script since
     * seckill:courses lives in another Redis Cluster slot. */
    if ((reply = command(st, "ZADD " SECKILL_KEY_CATALOGUE, "ZADD %s %" PRIu64 " %" PRIu64,
                         SECKILL_KEY_CATALOGUE, c->id, c->id)) == NULL)
        return -1;
    freeReplyObject(reply);
    return 0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

int store_unlist_others(struct store *st, const uint64_t *keep, size_t n,
                        uint64_t *removed)
{
    redisReply *list, *reply;

    *removed = 0;
    if ((list = command(st, "ZRANGE " SECKILL_KEY_CATALOGUE, "ZRANGE %s 0 -1", SECKILL_KEY_CATALOGUE)) == NULL)
        return -1;
    for (size_t i = 0; i < list->elements; i++) {
        redisReply *member = list->element[i];
        uint64_t id;
        int is_id = parse_id(member->str, member->len, &id) == 0;
        char hash[SECKILL_KEY_MAX];

        if (is_id && bsearch(&id, keep, n, sizeof(*keep), cmp_u64) != NULL)
            continue;
        reply = command(st, "ZREM " SECKILL_KEY_CATALOGUE, "ZREM %s %b", SECKILL_KEY_CATALOGUE, member->str, member->len);
        if (reply == NULL)
            goto fail;
        freeReplyObject(reply);
        if (is_id) {
            key_course(hash, id);
            if ((reply = command(st, "DEL", "DEL %s", hash)) == NULL)
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

/* Deletes every per-course key matching pattern, SCAN batch by batch,
 * adding what it deleted to counts. */
static int delete_matching(struct store *st, const char *pattern, struct wipe_counts *counts)
{
    char cursor[32] = "0";
    redisReply *scan = NULL, *reply;
    const char **argv = NULL;
    size_t *argvlen = NULL;

    do {
        redisReply *keys;
        int argc = 1;

        scan = command(st, "SCAN", "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, pattern);
        if (scan == NULL)
            goto fail;
        if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2
            || scan->element[0]->len >= sizeof(cursor)) {
            snprintf(st->err, sizeof(st->err), "Redis at %s: SCAN: unexpected reply", st->addr);
            goto fail;
        }
        memcpy(cursor, scan->element[0]->str, scan->element[0]->len + 1);
        keys = scan->element[1];

        free(argv);
        free(argvlen);
        argv = malloc((keys->elements + 1) * sizeof(*argv));
        argvlen = malloc((keys->elements + 1) * sizeof(*argvlen));
        if (argv == NULL || argvlen == NULL) {
            snprintf(st->err, sizeof(st->err), "out of memory");
            goto fail;
        }
        argv[0] = "DEL";
        argvlen[0] = 3;
        for (size_t i = 0; i < keys->elements; i++) {
            uint64_t course_id;
            enum key_kind kind = key_classify(keys->element[i]->str, keys->element[i]->len, &course_id, NULL);

            if (kind == KEY_NOT_COURSE)
                continue;
            count_kind(counts, kind);
            argv[argc] = keys->element[i]->str;
            argvlen[argc] = keys->element[i]->len;
            argc++;
        }
        if (argc > 1) {
            reply = reply_of(st, redisCommandArgv(st->rc, argc, argv, argvlen), "DEL");
            if (reply == NULL)
                goto fail;
            freeReplyObject(reply);
        }
        freeReplyObject(scan);
        scan = NULL;
    } while (strcmp(cursor, "0") != 0);

    free(argv);
    free(argvlen);
    return 0;

fail:
    if (scan != NULL)
        freeReplyObject(scan);
    free(argv);
    free(argvlen);
    return -1;
}

int store_wipe_courses(struct store *st, struct wipe_counts *counts)
{
    memset(counts, 0, sizeof(*counts));
    return delete_matching(st, SECKILL_KEY_ANY_COURSE, counts);
}

int store_remove_course(struct store *st, uint64_t course_id, struct wipe_counts *counts)
{
    char hash[SECKILL_KEY_MAX], pattern[SECKILL_KEY_MAX + 1];
    redisReply *reply;

    memset(counts, 0, sizeof(*counts));
    key_course(hash, course_id);
    if ((reply = command(st, "ZREM " SECKILL_KEY_CATALOGUE, "ZREM %s %" PRIu64, SECKILL_KEY_CATALOGUE, course_id)) == NULL)
        return -1;
    counts->unlisted = reply->type == REDIS_REPLY_INTEGER && reply->integer > 0;
    freeReplyObject(reply);
    /* The hash before the rest: from here on a purchase is "unknown"
     * and takes no seat, so no new user key appears behind the SCAN. */
    if ((reply = command(st, "DEL", "DEL %s", hash)) == NULL)
        return -1;
    if (reply->type == REDIS_REPLY_INTEGER)
        counts->hashes += (uint64_t)reply->integer;
    freeReplyObject(reply);
    /* "seckill:{c7}*" matches course 7's keys only: '}' follows the id. */
    snprintf(pattern, sizeof(pattern), "%s*", hash);
    return delete_matching(st, pattern, counts);
}

int store_set_window(struct store *st, uint64_t course_id, int64_t starts_at, int64_t ends_at,
                     int *loaded)
{
    char hash[SECKILL_KEY_MAX];
    redisReply *reply;

    key_course(hash, course_id);
    reply = command(st, "setting the sale window", "EVAL %s 1 %s %" PRId64 " %" PRId64,
                    SECKILL_SCRIPT_SET_WINDOW, hash, starts_at, ends_at);
    if (reply == NULL)
        return -1;
    if (reply->type != REDIS_REPLY_INTEGER) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: unexpected reply to the window script", st->addr);
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

int store_catalogue_stock(struct store *st, size_t max, struct course_stock **out, size_t *n)
{
    redisReply *list, *r;
    struct course_stock *c;
    size_t k = 0;

    char last[24];

    *out = NULL;
    *n = 0;
    if (max == 0)
        return 0;
    /* hiredis formats %s and %b only */
    snprintf(last, sizeof(last), "%zu", max - 1);
    list = command(st, "ZRANGE " SECKILL_KEY_CATALOGUE, "ZRANGE %s 0 %s", SECKILL_KEY_CATALOGUE, last);
    if (list == NULL)
        return -1;
    c = calloc(list->elements + 1, sizeof(*c));
    if (c == NULL) {
        freeReplyObject(list);
        snprintf(st->err, sizeof(st->err), "out of memory listing %zu courses", list->elements);
        return -1;
    }
    for (size_t i = 0; i < list->elements; i++) {
        char hash[SECKILL_KEY_MAX], pend[SECKILL_KEY_MAX];
        const redisReply *e = list->element[i];

        if (e->type != REDIS_REPLY_STRING || parse_id(e->str, e->len, &c[k].id) != 0)
            continue;       /* not a course id of ours */
        key_course(hash, c[k].id);
        key_pending(pend, c[k].id);
        redisAppendCommand(st->rc, "HMGET %s total remaining", hash);
        redisAppendCommand(st->rc, "HLEN %s", pend);
        k++;
    }
    freeReplyObject(list);
    /* Every reply is read, so that the connection stays in step. */
    for (size_t i = 0; i < k; i++) {
        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK) {
            free(c);
            return io_error(st, "HMGET total remaining");
        }
        c[i].total = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? reply_int(r->element[0]) : -1;
        c[i].remaining = r->type == REDIS_REPLY_ARRAY && r->elements == 2 ? reply_int(r->element[1]) : -1;
        freeReplyObject(r);
        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK) {
            free(c);
            return io_error(st, "HLEN pending");
        }
        c[i].pending = r->type == REDIS_REPLY_INTEGER && r->integer > 0 ? (uint64_t)r->integer : 0;
        freeReplyObject(r);
    }
    *out = c;
    *n = k;
    return 0;
}

int store_course_stock(struct store *st, uint64_t course_id,
                       int64_t *remaining, uint64_t *pending)
{
    char hash[SECKILL_KEY_MAX], pend[SECKILL_KEY_MAX];
    redisReply *hget = NULL, *hlen = NULL;
    int rc = -1;

    key_course(hash, course_id);
    key_pending(pend, course_id);
    redisAppendCommand(st->rc, "HGET %s remaining", hash);
    redisAppendCommand(st->rc, "HLEN %s", pend);
    /* Both replies first, so that the connection stays in step on errors. */
    if (redisGetReply(st->rc, (void **)&hget) != REDIS_OK
        || redisGetReply(st->rc, (void **)&hlen) != REDIS_OK) {
        io_error(st, "HGET remaining, HLEN pending");
        goto done;
    }
    if (hget->type == REDIS_REPLY_ERROR || hlen->type == REDIS_REPLY_ERROR) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: course %" PRIu64 ": %s", st->addr, course_id,
                 hget->type == REDIS_REPLY_ERROR ? hget->str : hlen->str);
        goto done;
    }
    *pending = (uint64_t)hlen->integer;
    if (hget->type == REDIS_REPLY_NIL) {
        *remaining = -1;
    } else {
        char *end;

        errno = 0;
        *remaining = strtoll(hget->str, &end, 10);
        if (errno != 0 || end == hget->str || *end != '\0') {
            snprintf(st->err, sizeof(st->err), "Redis at %s: %s remaining = '%.40s' is not a number",
                     st->addr, hash, hget->str);
            goto done;
        }
    }
    rc = 0;

done:
    if (hget != NULL)
        freeReplyObject(hget);
    if (hlen != NULL)
        freeReplyObject(hlen);
    return rc;
}

int store_user_statuses(struct store *st, struct user_status *us, size_t n)
{
    size_t i;
    int rc = 0;

    for (i = 0; i < n; i++) {
        char key[SECKILL_KEY_MAX];

        key_user(key, us[i].course_id, us[i].user_id);
        redisAppendCommand(st->rc, "HMGET %s order_id status", key);
    }
    /* Every reply is read, even after a bad one, to stay in step. */
    for (i = 0; i < n; i++) {
        redisReply *r;

        if (redisGetReply(st->rc, (void **)&r) != REDIS_OK)
            return io_error(st, "HMGET user status");
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
            if (rc == 0)
                snprintf(st->err, sizeof(st->err), "Redis at %s: HMGET of a user status key: %s",
                         st->addr, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            rc = -1;
        } else {
            redisReply *oid = r->element[0], *status = r->element[1];
            uint64_t id = 0;

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
        freeReplyObject(r);
    }
    return rc;
}

int store_scan_users(struct store *st, char cursor[32], struct user_status **out, size_t *n)
{
    redisReply *scan, *keys;
    struct user_status *us;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    scan = command(st, "SCAN", "SCAN %s MATCH %s COUNT " SCAN_COUNT, cursor, SECKILL_KEY_ANY_USER);
    if (scan == NULL)
        return -1;
    if (scan->type != REDIS_REPLY_ARRAY || scan->elements != 2
        || scan->element[0]->len >= 32) {
        snprintf(st->err, sizeof(st->err), "Redis at %s: SCAN: unexpected reply", st->addr);
        freeReplyObject(scan);
        return -1;
    }
    memcpy(cursor, scan->element[0]->str, scan->element[0]->len + 1);
    keys = scan->element[1];
    us = calloc(keys->elements ? keys->elements : 1, sizeof(*us));
    if (us == NULL) {
        snprintf(st->err, sizeof(st->err), "out of memory");
        freeReplyObject(scan);
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
    freeReplyObject(scan);
    if (store_user_statuses(st, us, count) != 0) {
        free(us);
        return -1;
    }
    *out = us;
    *n = count;
    return 0;
}
