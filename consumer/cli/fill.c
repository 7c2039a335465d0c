/* The benchmark backlog (fill.h). */
#include "fill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "call.h"
#include "catalog.h"
#include "keys.h"
#include "seckill_order_id.h"
#include "seckill_scripts.h"

#define CHUNK 1000
#define FLUSH_MS 60000
/* Orders per reserve or release call: as many as the module's calls take
 * at most (seckill_redis_batch's default), so that the backlog is made the
 * way a flash sale makes it. */
#define CALL_ORDERS 64

enum delivery {
    NOT_SENT,               /* not produced (yet) */
    ACKED,                  /* the broker has it */
    FAILED,                 /* delivery failed: release the reservation */
    REFUSED                 /* the reserve script said no: nothing to send */
};

struct order {
    uint64_t order_id, course_id, user_id;
    int64_t ts;
    enum delivery delivery;
};

struct filler {
    const struct seckill_config *cfg;
    struct db *db;
    struct store *st;
    rd_kafka_t *rk;
    char reserve_sha[41], release_sha[41];
    uint64_t gen, seq;      /* the order id generator block in use */
    char *err;
    size_t errlen;
};

static int fail(struct filler *f, const char *fmt, const char *why)
{
    snprintf(f->err, f->errlen, fmt, why);
    return -1;
}

static redisReply *redis(struct filler *f, const char *fmt, ...)
{
    va_list ap;
    redisReply *r;

    va_start(ap, fmt);
    r = redisvCommand(f->st->rc, fmt, ap);
    va_end(ap);
    if (r == NULL || r->type == REDIS_REPLY_ERROR) {
        snprintf(f->err, f->errlen, "Redis at %s: %s", f->st->addr,
                 r ? r->str : f->st->rc->errstr);
        if (r != NULL)
            freeReplyObject(r);
        return NULL;
    }
    return r;
}

static int load_script(struct filler *f, const char *script, char sha[41])
{
    redisReply *r = redis(f, "SCRIPT LOAD %s", script);

    if (r == NULL)
        return -1;
    snprintf(sha, 41, "%s", r->str);
    freeReplyObject(r);
    return 0;
}

/* The bench courses get their seats in MariaDB, then in Redis. */
static int add_seats(struct filler *f, const struct fill_options *opt)
{
    struct course courses[FILL_MAX_COURSES];
    struct course_orders *rows;
    int64_t now = now_ms();
    size_t n;
    int rc = -1;

    for (unsigned i = 0; i < opt->courses; i++) {
        struct course *c = &courses[i];

        memset(c, 0, sizeof(*c));
        c->id = FILL_FIRST_COURSE + i;
        snprintf(c->name, sizeof(c->name), "压测课程 %" PRIu64 " / Bench course %" PRIu64, c->id, c->id);
        c->total = (uint32_t)(opt->orders / opt->courses + (i < opt->orders % opt->courses));
        c->starts_at = now;
        c->ends_at = now + CATALOG_DEMO_WINDOW_MS;
    }
    if (db_add_seats(f->db, courses, opt->courses) != 0 || db_list_courses(f->db, &rows, &n) != 0)
        return fail(f, "%s", f->db->err);

    for (unsigned i = 0; i < opt->courses; i++) {
        const struct course *c = &courses[i];
        char hash[SECKILL_KEY_MAX];
        redisReply *r;
        int there;

        key_course(hash, c->id);
        if ((r = redis(f, "EXISTS %s", hash)) == NULL)
            goto done;
        there = r->integer == 1;
        freeReplyObject(r);
        if (there) {
            r = redis(f, "EVAL %s 1 %s %" PRIu32 " %" PRId64 " %" PRId64, SECKILL_SCRIPT_ADD_SEATS, hash,
                      c->total, c->starts_at, c->ends_at);
            if (r == NULL)
                goto done;
            freeReplyObject(r);
            continue;
        }
        /* New in Redis: the whole course, as `seckill load` puts it. */
        for (size_t k = 0; k < n; k++) {
            struct pending_snapshot snap;
            struct load_result got;
            int loaded;

            if (rows[k].course.id != c->id)
                continue;
            if (store_pending_snapshot(f->st, c->id, &snap) != 0) {
                fail(f, "%s", f->st->err);
                goto done;
            }
            loaded = store_load_course(f->st, &rows[k].course, rows[k].orders, &snap, &got);
            store_snapshot_free(&snap);
            if (loaded != 0) {
                fail(f, "%s", f->st->err);
                goto done;
            }
        }
    }
    rc = 0;

done:
    free(rows);
    return rc;
}

/* The next order id of the contract (seckill_order_id.h), from a block of
 * its own taken from the shared generator. */
static int next_order_id(struct filler *f, uint64_t *id)
{
    if (f->gen == 0 || f->seq == SECKILL_ORDER_SEQS) {
        redisReply *r = redis(f, "INCR %s", SECKILL_KEY_ORDER_GEN);
        long long gen;

        if (r == NULL)
            return -1;
        gen = r->integer;
        freeReplyObject(r);
        if (gen < 1 || (uint64_t)gen > SECKILL_ORDER_GEN_MAX) {
            snprintf(f->err, f->errlen, "Redis at %s: INCR " SECKILL_KEY_ORDER_GEN " answered %lld, not a "
                     "generator id from 1 to %" PRIu64 ": its order ids would not stay below 2^53",
                     f->st->addr, gen, SECKILL_ORDER_GEN_MAX);
            return -1;
        }
        f->gen = (uint64_t)gen;
        f->seq = 0;
    }
    *id = seckill_order_id(f->gen, f->seq++);
    return 0;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct order *o = m->_private;

    (void)rk, (void)opaque;
    o->delivery = m->err == RD_KAFKA_RESP_ERR_NO_ERROR ? ACKED : FAILED;
}

static int make_producer(struct filler *f)
{
    static const char *const settings[][2] = {
        { "client.id", "seckill-fill" },
        { "enable.idempotence", "true" },
        { "acks", "all" },
        { "linger.ms", "20" },
        { "batch.num.messages", "10000" },
        { "queue.buffering.max.messages", "1000000" },
    };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];

    if (rd_kafka_conf_set(conf, "bootstrap.servers", f->cfg->kafka_brokers, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        rd_kafka_conf_destroy(conf);
        return fail(f, "kafka_brokers: %s", why);
    }
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fail(f, "librdkafka: %s", why);
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (f->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return fail(f, "cannot create a Kafka producer: %s", why);
    }
    return 0;
}

static int produce(struct filler *f, struct order *o)
{
    char key[24], value[160];
    int klen = snprintf(key, sizeof(key), "%" PRIu64, o->course_id);
    int vlen = snprintf(value, sizeof(value),
                        "{\"order_id\":%" PRIu64 ",\"course_id\":%" PRIu64 ",\"user_id\":%" PRIu64 ",\"ts\":%" PRId64 "}",
                        o->order_id, o->course_id, o->user_id, o->ts);

    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(f->rk, RD_KAFKA_V_TOPIC(f->cfg->topic),
                                                    RD_KAFKA_V_KEY(key, (size_t)klen),
                                                    RD_KAFKA_V_VALUE(value, (size_t)vlen),
                                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                    RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return fail(f, "cannot produce: %s", rd_kafka_err2str(err));
        rd_kafka_poll(f->rk, 100);
    }
}

/* Groups the n orders at o by course into by (room for n), keeping those
 * that want() takes, or all when it is NULL. Returns how many it kept. */
static size_t by_course(const struct order *o, size_t n, int (*want)(const struct order *),
                        struct course_order *by)
{
    size_t kept = 0;

    for (size_t i = 0; i < n; i++) {
        if (want != NULL && !want(&o[i]))
            continue;
        by[kept].course_id = o[i].course_id;
        by[kept].entry = i;
        kept++;
    }
    course_orders_sort(by, kept);
    return kept;
}

/* Queues one call of the script per run of at most CALL_ORDERS orders of
 * one course among the n grouped ones at by; now is reserve's clock, NULL
 * for release. *sent counts the calls queued, whose replies must be read
 * even when it returns -1 (hiredis out of memory). */
static int send_calls(struct filler *f, const char *sha, const struct order *o,
                      const struct course_order *by, size_t n, const int64_t *now, size_t *sent)
{
    struct call call;
    size_t len;

    *sent = 0;
    for (size_t at = 0; at < n; at += len, (*sent)++) {
        len = course_run(by + at, n - at, CALL_ORDERS);
        call_begin(&call, sha, by[at].course_id);
        for (size_t k = at; k < at + len; k++)
            call_add(&call, o[by[k].entry].user_id, o[by[k].entry].order_id);
        if (now != NULL)
            call_end_at(&call, *now);
        else
            call_end(&call);
        if (redisAppendCommandArgv(f->st->rc, call.argc, call.argv, NULL) != REDIS_OK)
            return fail(f, "Redis at %s: out of memory queueing a script", f->st->addr);
    }
    return 0;
}

/* Applied to each order's verdict. */
typedef void verdict_fn(struct filler *f, struct order *o, const redisReply *v, void *arg);

/* Reads the replies to the sent calls that send_calls() queued and hands
 * each order its verdict: its element of the reply, or the whole reply when that
 * is no array of one verdict per order (an error). Returns 0, or -1 when
 * the connection failed. */
static int read_calls(struct filler *f, struct order *o, const struct course_order *by, size_t n,
                      size_t sent, verdict_fn *fn, void *arg)
{
    size_t len;

    for (size_t at = 0; sent > 0; at += len, sent--) {
        redisReply *r;

        len = course_run(by + at, n - at, CALL_ORDERS);
        if (redisGetReply(f->st->rc, (void **)&r) != REDIS_OK)
            return fail(f, "Redis: %s", f->st->rc->errstr);
        for (size_t k = 0; k < len; k++) {
            const redisReply *v = r->type == REDIS_REPLY_ARRAY && r->elements == len ? r->element[k] : r;

            fn(f, &o[by[at + k].entry], v, arg);
        }
        freeReplyObject(r);
    }
    return 0;
}

struct reserving {
    uint64_t *refused;      /* the reserve script's other answers */
    int rc;                 /* -1 once producing failed */
};

/* "ok": produce the order; else it is refused, and the first refusal says why. */
static void reserve_answer(struct filler *f, struct order *o, const redisReply *v, void *arg)
{
    struct reserving *res = arg;

    if (v->type == REDIS_REPLY_ARRAY && v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING
        && strcmp(v->element[0]->str, "ok") == 0) {
        if (res->rc == 0 && produce(f, o) != 0)
            res->rc = -1;
        return;
    }
    o->delivery = REFUSED;
    if (*res->refused == 0)
        fprintf(stderr, "seckill: fill: order %" PRIu64 " not reserved: %s\n", o->order_id,
                v->type == REDIS_REPLY_ARRAY && v->elements > 0 ? v->element[0]->str
                : v->type == REDIS_REPLY_ERROR ? v->str : "unexpected reply");
    (*res->refused)++;
}

/* Reserves a chunk of orders (pipelined, grouped by course), produces the
 * ones reserved. *refused counts the reserve script's other answers. */
static int reserve_chunk(struct filler *f, struct order *o, size_t n, uint64_t *refused)
{
    struct course_order by[CHUNK];
    struct reserving res = { refused, 0 };
    int64_t now = now_ms();
    size_t sent;
    int queued;

    /* The reserve script's clock for the whole chunk: the events say when
     * their orders were reserved, as the module's do. */
    for (size_t i = 0; i < n; i++)
        o[i].ts = now;
    by_course(o, n, NULL, by);
    queued = send_calls(f, f->reserve_sha, o, by, n, &now, &sent);
    if (read_calls(f, o, by, n, sent, reserve_answer, &res) != 0)
        return -1;
    rd_kafka_poll(f->rk, 0);
    return queued == 0 && res.rc == 0 ? 0 : -1;
}

static int not_delivered(const struct order *o)
{
    return o->delivery != ACKED && o->delivery != REFUSED;
}

/* "released" counts; "confirmed" (the consumer claimed it: it will be
 * persisted) and "gone" (not reserved, or released already) do not. */
static void release_answer(struct filler *f, struct order *o, const redisReply *v, void *arg)
{
    uint64_t *count = arg;

    (void)o;
    if (v->type == REDIS_REPLY_STRING && strcmp(v->str, "released") == 0)
        (*count)++;
    else if (v->type == REDIS_REPLY_ERROR)
        snprintf(f->err, f->errlen, "Redis at %s: %s", f->st->addr, v->str);
}

/* A reservation whose event did not reach Kafka goes back on sale. */
static uint64_t release_failed(struct filler *f, struct order *o, size_t n)
{
    struct course_order by[CHUNK];
    uint64_t count = 0;

    for (size_t i = 0; i < n; i += CHUNK) {
        size_t len = n - i < CHUNK ? n - i : CHUNK;
        size_t m = by_course(o + i, len, not_delivered, by), sent;
        int queued = send_calls(f, f->release_sha, o + i, by, m, NULL, &sent);

        if (read_calls(f, o + i, by, m, sent, release_answer, &count) != 0 || queued != 0)
            break;
    }
    return count;
}

static double since(const struct timespec *t0)
{
    struct timespec t1;

    clock_gettime(CLOCK_MONOTONIC, &t1);
    return (double)(t1.tv_sec - t0->tv_sec) + (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

int fill_run(const struct seckill_config *cfg, struct db *db, struct store *st,
             const struct fill_options *opt, char *err, size_t errlen)
{
    struct filler f = { .cfg = cfg, .db = db, .st = st, .err = err, .errlen = errlen };
    struct order *orders = calloc(opt->orders, sizeof(*orders));
    uint64_t refused = 0, delivered = 0, released;
    struct timespec t0;
    double secs;
    int rc = -1;

    err[0] = '\0';
    if (orders == NULL)
        return fail(&f, "%s", "out of memory");
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (add_seats(&f, opt) != 0 || make_producer(&f) != 0
        || load_script(&f, SECKILL_SCRIPT_RESERVE, f.reserve_sha) != 0
        || load_script(&f, SECKILL_SCRIPT_RELEASE, f.release_sha) != 0)
        goto done;

    for (uint64_t i = 0; i < opt->orders; i++) {
        struct order *o = &orders[i];

        if (next_order_id(&f, &o->order_id) != 0)
            goto done;
        o->course_id = FILL_FIRST_COURSE + i % opt->courses;
        o->user_id = o->order_id;
    }
    for (uint64_t i = 0; i < opt->orders; i += CHUNK) {
        size_t n = opt->orders - i < CHUNK ? (size_t)(opt->orders - i) : CHUNK;

        if (reserve_chunk(&f, &orders[i], n, &refused) != 0)
            break;
    }
    if (rd_kafka_flush(f.rk, FLUSH_MS) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fprintf(stderr, "seckill: fill: %d event(s) still unacknowledged after %d s; releasing them\n",
                rd_kafka_outq_len(f.rk), FLUSH_MS / 1000);
    rd_kafka_purge(f.rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_poll(f.rk, 0);
    for (uint64_t i = 0; i < opt->orders; i++)
        delivered += orders[i].delivery == ACKED;
    released = release_failed(&f, orders, opt->orders);
    secs = since(&t0);
    printf("fill: %" PRIu64 " order(s) reserved in Redis and produced to %s in %.2f s (%.0f/s), "
           "courses %d..%u\n", delivered, cfg->topic, secs, secs > 0 ? (double)delivered / secs : 0.0,
           FILL_FIRST_COURSE, FILL_FIRST_COURSE + opt->courses - 1);
    if (refused > 0)
        printf("fill: %" PRIu64 " order(s) refused by the reserve script\n", refused);
    if (released > 0)
        printf("fill: %" PRIu64 " order(s) not delivered to Kafka: released\n", released);
    rc = delivered == opt->orders ? 0 : -1;
    if (rc != 0 && err[0] == '\0')
        snprintf(err, errlen, "fill: %" PRIu64 " of %" PRIu64 " order(s) made it", delivered, opt->orders);

done:
    if (f.rk != NULL)
        rd_kafka_destroy(f.rk);
    free(orders);
    return rc;
}
