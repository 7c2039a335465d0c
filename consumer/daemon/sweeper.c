/* The orphan sweeper (sweeper.h): its own Redis connection, and the
 * daemon's consumer handle for Kafka's watermarks and the group's committed
 * offsets. */
#include "sweeper.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "clock.h"
#include "ids.h"
#include "keys.h"
#include "log.h"
#include "seckill_scripts.h"

/* Stale reservations looked at per course and sweep: bounds one sweep. */
#define SWEEP_BATCH "1000"
/* Each Kafka query (metadata, watermark, committed offsets). */
#define KAFKA_QUERY_MS 2000
/* Redis answers slower than this fail the sweep (it is tried again). */
#define REDIS_IO_S 2

struct course_sweep {
    uint64_t id;
    int32_t partition;      /* -1: every partition must be caught up */
    int ready;              /* its partition(s) are caught up */
    uint64_t *users;        /* users pending since the cutoff or before */
    size_t n;
};

void sweeper_init(struct sweeper *sw, const struct seckill_config *cfg, int64_t mono_now_ms)
{
    memset(sw, 0, sizeof(*sw));
    sw->cfg = cfg;
    sw->release.body = SECKILL_SCRIPT_RELEASE;
    /* The first sweep one interval after the start: the group has its
     * partitions by then, and a restart right after a crash does not race
     * the deliveries still in flight (the cutoff protects them anyway). */
    sw->next_ms = mono_now_ms + cfg->sweep_interval_ms;
}

int sweeper_due(const struct sweeper *sw, int64_t mono_now_ms)
{
    return sw->cfg->sweep_interval_ms > 0 && mono_now_ms >= sw->next_ms;
}

void sweeper_close(struct sweeper *sw)
{
    redis_close(&sw->redis);
    if (sw->rkt != NULL) {
        rd_kafka_topic_destroy(sw->rkt);
        sw->rkt = NULL;
    }
}

void sweeper_observe(struct sweeper *sw, uint64_t course_id, int32_t partition)
{
    if (sweep_trust_observe(&sw->trust, course_id, partition))
        log_warn("sweeper: an event of course %" PRIu64 " came on partition %" PRId32 ", not on %"
                 PRId32 " where librdkafka's default partitioner puts it: the producers use "
                 "another partitioner, so the sweeper waits for the whole topic to be caught up",
                 course_id, partition, sweep_partition_of(course_id, sw->trust.partitions));
}

/* The connection's own failures (redis.h) say what they are already. */
static int redis_failed(struct sweeper *sw)
{
    snprintf(sw->err, sizeof(sw->err), "%s", sw->redis.err);
    return -1;
}

static const char *field(const redisReply *r, size_t i)
{
    return i < r->elements && r->element[i]->type == REDIS_REPLY_STRING ? r->element[i]->str : NULL;
}

static void free_courses(struct course_sweep *cs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(cs[i].users);
    free(cs);
}

/* The courses with reservations at or before cutoff, each with its stale
 * users: *out (n of them, only those with some). A course whose master
 * could not be read is left for the next sweep, counted in *unread, with
 * sw->err saying why; the others are there. */
static int find_stale(struct sweeper *sw, int64_t cutoff, struct course_sweep **out, size_t *n,
                      size_t *unread)
{
    redisReply *list = redis_command(&sw->redis, key_slot(SECKILL_KEY_CATALOGUE),
                                     "ZRANGE " SECKILL_KEY_CATALOGUE, "ZRANGE %s 0 -1",
                                     SECKILL_KEY_CATALOGUE);
    struct course_sweep *cs;
    struct redis_pipe p;
    size_t sent = 0, kept = 0;

    *out = NULL;
    *n = 0;
    if (list == NULL)
        return redis_failed(sw);
    if (list->type != REDIS_REPLY_ARRAY || list->elements == 0) {
        freeReplyObject(list);
        return 0;
    }
    cs = calloc(list->elements, sizeof(*cs));
    if (cs == NULL) {
        snprintf(sw->err, sizeof(sw->err), "out of memory listing %zu courses", list->elements);
        freeReplyObject(list);
        return -1;
    }
    redis_pipe_init(&p);
    for (size_t i = 0; i < list->elements; i++) {
        const redisReply *e = list->element[i];
        char pending[SECKILL_KEY_MAX];

        if (e->type != REDIS_REPLY_STRING || parse_id(e->str, e->len, &cs[sent].id) != 0)
            continue;       /* not a course id of ours: none of our business */
        key_pending(pending, cs[sent].id);
        /* At most SWEEP_BATCH at random: a long backlog is not caught
         * up anyway, and its old ones come up in a later sweep. */
        if (redis_pipe_add(&sw->redis, &p, seckill_course_slot(cs[sent].id),
                           "HRANDFIELD %s " SWEEP_BATCH " WITHVALUES", pending) != 0) {
            freeReplyObject(list);
            redis_pipe_free(&p);
            free(cs);
            return redis_failed(sw);
        }
        sent++;
    }
    freeReplyObject(list);
    if (redis_pipe_run(&sw->redis, &p, "HRANDFIELD pending") != 0)
        redis_failed(sw);
    for (size_t i = 0; i < sent; i++) {
        const redisReply *r = p.cmd[i].reply;
        uint64_t id = cs[i].id, *users;
        size_t stale;

        if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
            if (r != NULL)
                snprintf(sw->err, sizeof(sw->err), "Redis at %s: HRANDFIELD of course %" PRIu64 "'s pending: %s",
                         sw->redis.addr, id, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            (*unread)++;
            continue;
        }
        users = calloc(r->elements / 2 + 1, sizeof(*users));
        if (users == NULL) {
            redis_pipe_free(&p);
            free_courses(cs, kept);
            snprintf(sw->err, sizeof(sw->err), "out of memory sweeping course %" PRIu64, id);
            return -1;
        }
        stale = 0;
        for (size_t k = 0; k + 1 < r->elements; k += 2) {
            const char *user = field(r, k), *at = field(r, k + 1);

            if (sweep_candidate(user, at, cutoff))
                users[stale++] = strtoull(user, NULL, 10);
        }
        if (stale == 0) {
            free(users);
            continue;
        }
        cs[kept].id = id;
        cs[kept].users = users;
        cs[kept].n = stale;
        cs[kept].partition = -1;
        kept++;
    }
    redis_pipe_free(&p);
    *out = cs;
    *n = kept;
    return 0;
}

/* The topic's partition count from the brokers, 0 when unknown. */
static int32_t partition_count(struct sweeper *sw, rd_kafka_t *rk)
{
    const struct rd_kafka_metadata *md;
    rd_kafka_resp_err_t err;
    int32_t n = 0;

    if (sw->rkt == NULL && (sw->rkt = rd_kafka_topic_new(rk, sw->cfg->topic, NULL)) == NULL) {
        snprintf(sw->err, sizeof(sw->err), "Kafka: no handle for topic %s: %s", sw->cfg->topic,
                 rd_kafka_err2str(rd_kafka_last_error()));
        return 0;
    }
    err = rd_kafka_metadata(rk, 0, sw->rkt, &md, KAFKA_QUERY_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(sw->err, sizeof(sw->err), "Kafka: metadata of %s: %s", sw->cfg->topic,
                 rd_kafka_err2str(err));
        return 0;
    }
    if (md->topic_cnt == 1 && md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR)
        n = md->topics[0].partition_cnt;
    else
        snprintf(sw->err, sizeof(sw->err), "Kafka: metadata of %s: %s", sw->cfg->topic,
                 md->topic_cnt == 1 ? rd_kafka_err2str(md->topics[0].err) : "topic missing");
    rd_kafka_metadata_destroy(md);
    return n;
}

/* Marks the courses whose partition (or, for partition -1, every partition)
 * is caught up. The watermarks are read before the committed offsets:
 * sweeper.h says why that order matters. Returns -1 when Kafka could not
 * tell (nothing is ready then). */
static int check_lag(struct sweeper *sw, rd_kafka_t *rk, struct course_sweep *cs, size_t n)
{
    int32_t parts = partition_count(sw, rk);
    int64_t *low, *high;
    char *wanted, *caught;
    rd_kafka_topic_partition_list_t *list;
    rd_kafka_resp_err_t err;
    int per_course, all = 1, rc = -1;

    if (parts <= 0)
        return -1;
    sweep_trust_partitions(&sw->trust, parts);
    per_course = sweep_trust_per_course(&sw->trust);
    low = calloc((size_t)parts, sizeof(*low));
    high = calloc((size_t)parts, sizeof(*high));
    wanted = calloc((size_t)parts, 1);
    caught = calloc((size_t)parts, 1);
    list = rd_kafka_topic_partition_list_new(parts);
    if (low == NULL || high == NULL || wanted == NULL || caught == NULL || list == NULL) {
        snprintf(sw->err, sizeof(sw->err), "out of memory checking %" PRId32 " partitions", parts);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        cs[i].partition = per_course ? sweep_partition_of(cs[i].id, parts) : -1;
        if (cs[i].partition >= 0)
            wanted[cs[i].partition] = 1;
        else
            memset(wanted, 1, (size_t)parts);
    }
    for (int32_t p = 0; p < parts; p++) {
        if (!wanted[p])
            continue;
        err = rd_kafka_query_watermark_offsets(rk, sw->cfg->topic, p, &low[p], &high[p], KAFKA_QUERY_MS);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(sw->err, sizeof(sw->err), "Kafka: watermarks of %s[%" PRId32 "]: %s",
                     sw->cfg->topic, p, rd_kafka_err2str(err));
            goto done;
        }
        rd_kafka_topic_partition_list_add(list, sw->cfg->topic, p);
    }
    err = rd_kafka_committed(rk, list, KAFKA_QUERY_MS);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(sw->err, sizeof(sw->err), "Kafka: committed offsets of group %s: %s",
                 sw->cfg->group_id, rd_kafka_err2str(err));
        goto done;
    }
    for (int i = 0; i < list->cnt; i++) {
        const rd_kafka_topic_partition_t *e = &list->elems[i];
        int32_t p = e->partition;

        if (e->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(sw->err, sizeof(sw->err), "Kafka: committed offset of %s[%" PRId32 "]: %s",
                     sw->cfg->topic, p, rd_kafka_err2str(e->err));
            goto done;
        }
        caught[p] = (char)sweep_caught_up(low[p], high[p], e->offset);
        if (!caught[p]) {
            all = 0;
            log_debug("sweeper: %s[%" PRId32 "] is not caught up (committed %" PRId64 ", end %" PRId64
                      "): its stale reservations wait", sw->cfg->topic, p, e->offset, high[p]);
        }
    }
    for (size_t i = 0; i < n; i++)
        cs[i].ready = cs[i].partition >= 0 ? caught[cs[i].partition] : all;
    rc = 0;
done:
    free(low);
    free(high);
    free(wanted);
    free(caught);
    if (list != NULL)
        rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

/* The orphans of one course, as redis_run_calls() hands them back. */
struct orphans {
    uint64_t course_id;
    const uint64_t *uids, *orders;
    int released;
};

static void orphan_of(void *arg, size_t entry, uint64_t *user_id, uint64_t *order_id)
{
    const struct orphans *o = arg;

    *user_id = o->uids[entry];
    *order_id = o->orders[entry];
}

/* One verdict per order: "released", or "confirmed" / "gone" when it was
 * claimed or released meanwhile (nothing to do). */
static int release_reply(void *arg, struct redis *r, const struct course_order *run, size_t len,
                         const redisReply *reply)
{
    struct orphans *o = arg;

    (void)r;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != len) {
        log_warn("sweeper: release of %zu order(s) of course %" PRIu64 " (order %" PRIu64
                 " first) answered %s", len, o->course_id, o->orders[run[0].entry],
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "something unexpected");
        return 0;
    }
    for (size_t i = 0; i < len; i++) {
        const redisReply *v = reply->element[i];

        if (v->type == REDIS_REPLY_STRING && strcmp(v->str, "released") == 0)
            o->released++;
        else if (v->type != REDIS_REPLY_STRING)
            log_warn("sweeper: release of order %" PRIu64 " (course %" PRIu64 ") answered "
                     "something unexpected", o->orders[run[i].entry], o->course_id);
    }
    return 0;
}

/* Reads the status keys of a ready course's stale users (at most
 * SWEEP_BATCH), then releases the orphans among them, CALL_MAX_ORDERS per
 * call of the release script. Returns the number released, or -1. */
static int release_course(struct sweeper *sw, const struct course_sweep *c, int64_t cutoff, int64_t now)
{
    size_t n = c->n, orphans = 0;
    char user[SECKILL_KEY_MAX];
    uint64_t *uids, *orders;
    struct course_order *run;
    struct redis_pipe p;
    struct orphans o = { c->id, NULL, NULL, 0 };
    const struct redis_calls calls = {
        &sw->release, CALL_MAX_ORDERS, NULL, orphan_of, release_reply, &o
    };
    int rc;

    uids = calloc(n, sizeof(*uids));
    orders = calloc(n, sizeof(*orders));
    run = calloc(n, sizeof(*run));
    if (uids == NULL || orders == NULL || run == NULL) {
        free(uids);
        free(orders);
        free(run);
        snprintf(sw->err, sizeof(sw->err), "out of memory sweeping course %" PRIu64, c->id);
        return -1;
    }
    o.uids = uids;
    o.orders = orders;
    redis_pipe_init(&p);
    for (size_t i = 0; i < n; i++) {
        uids[i] = c->users[i];
        key_user(user, c->id, uids[i]);
        if (redis_pipe_add(&sw->redis, &p, seckill_course_slot(c->id), "HMGET %s order_id status ts", user) != 0) {
            rc = redis_failed(sw);
            goto done;
        }
    }
    if (redis_pipe_run(&sw->redis, &p, "sweeping") != 0) {
        rc = redis_failed(sw);
        goto done;
    }
    /* The orphans move to the front of uids and orders, in their order. An
     * order id in another spelling than the reserve script's (parse_id) is
     * left alone: no order of ours has it. */
    for (size_t i = 0; i < n; i++) {
        const redisReply *r = p.cmd[i].reply;

        if (r->type == REDIS_REPLY_ARRAY
            && sweep_decide(field(r, 0), field(r, 1), field(r, 2), cutoff) == SWEEP_RELEASE
            && parse_id(r->element[0]->str, r->element[0]->len, &orders[orphans]) == 0) {
            uids[orphans] = uids[i];
            log_info("sweeper: releasing order %" PRIu64 " (course %" PRIu64 ", user %" PRIu64 "): pending"
                     " for %.1f s and not in the caught-up log, so its delivery never happened",
                     orders[orphans], c->id, uids[i], (double)(now - strtoll(field(r, 2), NULL, 10)) / 1000);
            run[orphans].course_id = c->id;
            run[orphans].entry = orphans;
            orphans++;
        }
    }
    rc = orphans == 0 ? 0 : redis_run_calls(&sw->redis, &calls, run, orphans);
    /* Redis lost its scripts (a restart): load again; the next sweep
     * releases what this one could not. */
    if (rc > 0)
        rc = redis_load_scripts(&sw->redis, &sw->release, 1);
    rc = rc < 0 ? redis_failed(sw) : o.released;
done:
    redis_pipe_free(&p);
    free(uids);
    free(orders);
    free(run);
    return rc;
}

static void failed(struct sweeper *sw)
{
    if (!sw->failing)
        log_warn("sweeper: %s; trying again every %d ms", sw->err, sw->cfg->sweep_interval_ms);
    else
        log_debug("sweeper: %s", sw->err);
    sw->failing = 1;
}

void sweeper_run(struct sweeper *sw, rd_kafka_t *rk, int64_t mono_now_ms)
{
    int64_t now = now_ms(), cutoff = sweep_cutoff(now, sw->cfg->sweep_after_ms);
    struct course_sweep *cs = NULL;
    size_t n = 0, waiting = 0, unswept = 0;
    uint64_t released = 0;

    sw->next_ms = mono_now_ms + sw->cfg->sweep_interval_ms;
    sw->err[0] = '\0';
    if (redis_ready(&sw->redis, sw->cfg, REDIS_IO_S, &sw->release, 1) != 0) {
        redis_failed(sw);
        failed(sw);
        return;
    }
    if (find_stale(sw, cutoff, &cs, &n, &unswept) != 0) {
        failed(sw);
        return;
    }
    if (n > 0 && check_lag(sw, rk, cs, n) != 0) {
        free_courses(cs, n);
        failed(sw);
        return;
    }
    /* A course that fails (its master down) waits for the next sweep; the
     * courses of the other masters are swept meanwhile. */
    for (size_t i = 0; i < n; i++) {
        int r;

        if (!cs[i].ready) {
            waiting += cs[i].n;
            continue;
        }
        if ((r = release_course(sw, &cs[i], cutoff, now)) < 0) {
            unswept++;
            continue;
        }
        if (r > 0)
            log_info("sweeper: course %" PRIu64 ": %d orphaned reservation(s) released, seats back on sale",
                     cs[i].id, r);
        released += (uint64_t)r;
    }
    if (waiting > 0)
        log_debug("sweeper: %zu stale reservation(s) wait for the consumers to catch up", waiting);
    /* also when no course had stale users: find_stale() allocated cs */
    free_courses(cs, n);
    sw->released += released;
    if (unswept > 0) {
        char why[sizeof(sw->err)];

        snprintf(why, sizeof(why), "%s", sw->err);
        snprintf(sw->err, sizeof(sw->err), "%zu course(s) not swept, the others were: %.1900s", unswept, why);
        failed(sw);
        return;
    }
    if (sw->failing)
        log_info("sweeper: working again");
    sw->failing = 0;
}
