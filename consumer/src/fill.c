/* The benchmark backlog (fill.h). */
#include "fill.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "catalog.h"
#include "keys.h"
#include "seckill_scripts.h"

#define CHUNK 1000
#define FLUSH_MS 60000

/* Adds seats to a course hash already in Redis, stretching its window.
 * KEYS: course hash. ARGV: seats, starts_at, ends_at. */
static const char add_seats_script[] =
    "redis.call('HINCRBY', KEYS[1], 'total', ARGV[1]) "
    "redis.call('HINCRBY', KEYS[1], 'remaining', ARGV[1]) "
    "if tonumber(redis.call('HGET', KEYS[1], 'starts_at')) > tonumber(ARGV[2]) then "
    "  redis.call('HSET', KEYS[1], 'starts_at', ARGV[2]) end "
    "if tonumber(redis.call('HGET', KEYS[1], 'ends_at')) < tonumber(ARGV[3]) then "
    "  redis.call('HSET', KEYS[1], 'ends_at', ARGV[3]) end "
    "return 1";

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
        char hash[KEY_MAX];
        redisReply *r;
        int there;

        key_course(hash, c->id);
        if ((r = redis(f, "EXISTS %s", hash)) == NULL)
            goto done;
        there = r->integer == 1;
        freeReplyObject(r);
        if (there) {
            r = redis(f, "EVAL %s 1 %s %" PRIu32 " %" PRId64 " %" PRId64, add_seats_script, hash,
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

/* The next order id of the contract: gen * 2^20 + seq. */
static int next_order_id(struct filler *f, uint64_t *id)
{
    if (f->gen == 0 || f->seq == (UINT64_C(1) << SECKILL_ORDER_SEQ_BITS)) {
        redisReply *r = redis(f, "INCR %s", SECKILL_KEY_ORDER_GEN);

        if (r == NULL)
            return -1;
        f->gen = (uint64_t)r->integer;
        f->seq = 0;
        freeReplyObject(r);
    }
    *id = (f->gen << SECKILL_ORDER_SEQ_BITS) + f->seq++;
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

/* Reserves a chunk of orders (pipelined), produces the ones reserved.
 * *refused counts the reserve script's other answers. */
static int reserve_chunk(struct filler *f, struct order *o, size_t n, uint64_t *refused)
{
    int rc = 0;

    for (size_t i = 0; i < n; i++) {
        char course[KEY_MAX], user[KEY_MAX], pending[KEY_MAX], uid[24], ts[24], oid[24];

        key_course(course, o[i].course_id);
        key_user(user, o[i].course_id, o[i].user_id);
        key_pending(pending, o[i].course_id);
        snprintf(uid, sizeof(uid), "%" PRIu64, o[i].user_id);
        snprintf(ts, sizeof(ts), "%" PRId64, o[i].ts);
        snprintf(oid, sizeof(oid), "%" PRIu64, o[i].order_id);
        /* ARGV: user id, order id, clock (seckill_scripts.h). */
        redisAppendCommand(f->st->rc, "EVALSHA %s 3 %s %s %s %s %s %s", f->reserve_sha,
                           course, user, pending, uid, oid, ts);
    }
    for (size_t i = 0; i < n; i++) {
        redisReply *r;

        if (redisGetReply(f->st->rc, (void **)&r) != REDIS_OK)
            return fail(f, "Redis: %s", f->st->rc->errstr);
        if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 && r->element[0]->type == REDIS_REPLY_STRING
            && strcmp(r->element[0]->str, "ok") == 0) {
            if (rc == 0 && produce(f, &o[i]) != 0)
                rc = -1;
        } else {
            o[i].delivery = REFUSED;
            if (*refused == 0)
                fprintf(stderr, "seckill: fill: order %" PRIu64 " not reserved: %s\n", o[i].order_id,
                        r->type == REDIS_REPLY_ARRAY && r->elements > 0 ? r->element[0]->str
                        : r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
            (*refused)++;
        }
        freeReplyObject(r);
    }
    rd_kafka_poll(f->rk, 0);
    return rc;
}

/* A reservation whose event did not reach Kafka goes back on sale. */
static uint64_t release_failed(struct filler *f, struct order *o, size_t n)
{
    uint64_t released = 0;

    for (size_t i = 0; i < n; i++) {
        char course[KEY_MAX], user[KEY_MAX], pending[KEY_MAX];
        redisReply *r;

        if (o[i].delivery == ACKED || o[i].delivery == REFUSED)
            continue;
        key_course(course, o[i].course_id);
        key_user(user, o[i].course_id, o[i].user_id);
        key_pending(pending, o[i].course_id);
        r = redis(f, "EVALSHA %s 3 %s %s %s %" PRIu64 " %" PRIu64, f->release_sha,
                  course, user, pending, o[i].user_id, o[i].order_id);
        if (r != NULL) {
            released += r->type == REDIS_REPLY_STRING && strcmp(r->str, "released") == 0;
            freeReplyObject(r);
        }
    }
    return released;
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
        o->ts = now_ms();
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
