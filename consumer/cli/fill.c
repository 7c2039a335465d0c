/* `seckill fill N`: a backlog of N valid orders for the drain benchmark and
 * the consumer's tests, made the way the nginx module makes them: each one
 * reserved in Redis by the reserve script (so the consumer's claim succeeds)
 * and then produced to the order topic by an idempotent producer with
 * acks=all. A reservation whose delivery fails is released, as the module
 * does.
 *
 * The seats come from bench courses FILL_FIRST_COURSE.. (created when
 * missing, else given N more seats, in MariaDB and Redis), so the demo
 * catalogue is left alone and `seckill check` still adds up. Order ids come
 * from the order id generator of the contract; each order has a user of its
 * own (user id = order id). */
#include "cli.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "call.h"
#include "catalog.h"
#include "clock.h"
#include "event.h"
#include "keys.h"
#include "seckill_order_id.h"
#include "seckill_scripts.h"

#define FILL_FIRST_COURSE 1001
#define FILL_MAX_COURSES 100
#define FILL_MAX_ORDERS 10000000
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
    struct order_event ev;
    enum delivery delivery;
};

struct fill_options {
    uint64_t orders;
    unsigned courses;           /* the orders are spread over this many */
};

enum { RESERVE, RELEASE, SCRIPTS };

struct filler {
    const struct seckill_config *cfg;
    struct db *db;
    struct redis *redis;
    rd_kafka_t *rk;
    struct redis_script scripts[SCRIPTS];
    uint64_t gen, seq;      /* the order id generator block in use */
    char *err;
    size_t errlen;
};

/* The reason into the caller's err; returns -1. */
static int fill_failed(struct filler *f, const char *fmt, const char *why)
{
    snprintf(f->err, f->errlen, fmt, why);
    return -1;
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
        return fill_failed(f, "%s", f->db->err);

    for (unsigned i = 0; i < opt->courses; i++) {
        const struct course *c = &courses[i];
        char hash[SECKILL_KEY_MAX];
        redisReply *r;
        int there;

        key_course(hash, c->id);
        if ((r = redis_command(f->redis, seckill_course_slot(c->id), "EXISTS", "EXISTS %s", hash)) == NULL) {
            fill_failed(f, "%s", f->redis->err);
            goto done;
        }
        there = r->integer == 1;
        freeReplyObject(r);
        if (there) {
            r = redis_command(f->redis, seckill_course_slot(c->id), "adding seats",
                              "EVAL %s 1 %s %" PRIu32 " %" PRId64 " %" PRId64,
                              SECKILL_SCRIPT_ADD_SEATS, hash, c->total, c->starts_at, c->ends_at);
            if (r == NULL) {
                fill_failed(f, "%s", f->redis->err);
                goto done;
            }
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
            if (stock_pending_snapshot(f->redis, c->id, &snap) != 0) {
                fill_failed(f, "%s", f->redis->err);
                goto done;
            }
            loaded = stock_load_course(f->redis, &rows[k].course, rows[k].orders, &snap, &got);
            stock_snapshot_free(&snap);
            if (loaded != 0) {
                fill_failed(f, "%s", f->redis->err);
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
        redisReply *r = redis_command(f->redis, key_slot(SECKILL_KEY_ORDER_GEN), "INCR " SECKILL_KEY_ORDER_GEN,
                                      "INCR %s", SECKILL_KEY_ORDER_GEN);
        long long gen;

        if (r == NULL)
            return fill_failed(f, "%s", f->redis->err);
        gen = r->integer;
        freeReplyObject(r);
        if (gen < 1 || (uint64_t)gen > SECKILL_ORDER_GEN_MAX) {
            snprintf(f->err, f->errlen, "Redis at %s: INCR " SECKILL_KEY_ORDER_GEN " answered %lld, not a "
                     "generator id from 1 to %" PRIu64 ": its order ids would not stay below 2^53",
                     f->redis->addr, gen, SECKILL_ORDER_GEN_MAX);
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
        return fill_failed(f, "kafka_brokers: %s", why);
    }
    for (size_t i = 0; i < sizeof(settings) / sizeof(settings[0]); i++) {
        if (rd_kafka_conf_set(conf, settings[i][0], settings[i][1], why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            rd_kafka_conf_destroy(conf);
            return fill_failed(f, "librdkafka: %s", why);
        }
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    f->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (f->rk == NULL) {
        rd_kafka_conf_destroy(conf);
        return fill_failed(f, "cannot create a Kafka producer: %s", why);
    }
    return 0;
}

static int produce(struct filler *f, struct order *o)
{
    struct event_message m;

    event_format(&o->ev, &m);
    for (;;) {
        rd_kafka_resp_err_t err = rd_kafka_producev(f->rk, RD_KAFKA_V_TOPIC(f->cfg->topic),
                                                    RD_KAFKA_V_KEY(m.key, m.key_len),
                                                    RD_KAFKA_V_VALUE(m.value, m.value_len),
                                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                                    RD_KAFKA_V_OPAQUE(o), RD_KAFKA_V_END);

        if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
            return 0;
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            return fill_failed(f, "cannot produce: %s", rd_kafka_err2str(err));
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
        by[kept].course_id = o[i].ev.course_id;
        by[kept].entry = i;
        kept++;
    }
    course_orders_sort(by, kept);
    return kept;
}

/* A chunk of orders, as redis_run_calls() hands it back. */
struct chunk {
    struct filler *f;
    struct order *o;
    /* One order's verdict: its element of the call's reply, or the whole
     * reply when that is no array of one verdict per order (an error). */
    void (*answer)(struct chunk *ch, struct order *o, const redisReply *v);
    uint64_t *count;        /* reserve: refused; release: released */
    int rc;                 /* reserve: -1 once producing failed */
};

static void order_of(void *arg, size_t entry, uint64_t *user_id, uint64_t *order_id)
{
    const struct chunk *ch = arg;

    *user_id = ch->o[entry].ev.user_id;
    *order_id = ch->o[entry].ev.order_id;
}

static int answer_orders(void *arg, struct redis *r, const struct course_order *run, size_t len,
                         const redisReply *reply)
{
    struct chunk *ch = arg;

    (void)r;
    for (size_t k = 0; k < len; k++)
        ch->answer(ch, &ch->o[run[k].entry],
                   reply->type == REDIS_REPLY_ARRAY && reply->elements == len ? reply->element[k] : reply);
    return 0;
}

/* redis_run_calls()' failure into the caller's err. */
static int calls_failed(struct filler *f, int rc)
{
    if (rc > 0)
        snprintf(f->err, f->errlen, "Redis at %s: NOSCRIPT: the scripts were flushed while filling",
                 f->redis->addr);
    else
        snprintf(f->err, f->errlen, "%s", f->redis->err);
    return -1;
}

/* "ok": produce the order; else it is refused, and the first refusal says why. */
static void reserve_answer(struct chunk *ch, struct order *o, const redisReply *v)
{
    if (v->type == REDIS_REPLY_ARRAY && v->elements == 2 && v->element[0]->type == REDIS_REPLY_STRING
        && strcmp(v->element[0]->str, "ok") == 0) {
        if (ch->rc == 0 && produce(ch->f, o) != 0)
            ch->rc = -1;
        return;
    }
    o->delivery = REFUSED;
    if (*ch->count == 0)
        fprintf(stderr, "seckill: fill: order %" PRIu64 " not reserved: %s\n", o->ev.order_id,
                v->type == REDIS_REPLY_ARRAY && v->elements > 0 ? v->element[0]->str
                : v->type == REDIS_REPLY_ERROR ? v->str : "unexpected reply");
    (*ch->count)++;
}

/* Reserves a chunk of orders (pipelined, grouped by course), produces the
 * ones reserved. *refused counts the reserve script's other answers. */
static int reserve_chunk(struct filler *f, struct order *o, size_t n, uint64_t *refused)
{
    struct course_order by[CHUNK];
    struct chunk ch = { f, o, reserve_answer, refused, 0 };
    int64_t now = now_ms();
    const struct redis_calls calls = {
        &f->scripts[RESERVE], CALL_ORDERS, &now, order_of, answer_orders, &ch
    };
    int rc;

    /* The reserve script's clock for the whole chunk: the events say when
     * their orders were reserved, as the module's do. */
    for (size_t i = 0; i < n; i++)
        o[i].ev.ts = now;
    by_course(o, n, NULL, by);
    rc = redis_run_calls(f->redis, &calls, by, n);
    rd_kafka_poll(f->rk, 0);
    if (rc != 0)
        return calls_failed(f, rc);
    return ch.rc;
}

static int not_delivered(const struct order *o)
{
    return o->delivery != ACKED && o->delivery != REFUSED;
}

/* "released" counts; "confirmed" (the consumer claimed it: it will be
 * persisted) and "gone" (not reserved, or released already) do not. */
static void release_answer(struct chunk *ch, struct order *o, const redisReply *v)
{
    (void)o;
    if (v->type == REDIS_REPLY_STRING && strcmp(v->str, "released") == 0)
        (*ch->count)++;
    else if (v->type == REDIS_REPLY_ERROR)
        snprintf(ch->f->err, ch->f->errlen, "Redis at %s: %s", ch->f->redis->addr, v->str);
}

/* A reservation whose event did not reach Kafka goes back on sale. */
static uint64_t release_failed(struct filler *f, struct order *o, size_t n)
{
    struct course_order by[CHUNK];
    uint64_t count = 0;

    for (size_t i = 0; i < n; i += CHUNK) {
        size_t len = n - i < CHUNK ? n - i : CHUNK;
        struct chunk ch = { f, o + i, release_answer, &count, 0 };
        const struct redis_calls calls = {
            &f->scripts[RELEASE], CALL_ORDERS, NULL, order_of, answer_orders, &ch
        };
        size_t m = by_course(o + i, len, not_delivered, by);
        int rc = redis_run_calls(f->redis, &calls, by, m);

        if (rc != 0) {
            calls_failed(f, rc);
            break;
        }
    }
    return count;
}

/* Prints what it did. Returns 0, or -1 with the reason in err. */
static int fill_run(const struct seckill_config *cfg, struct db *db, struct redis *redis,
                    const struct fill_options *opt, char *err, size_t errlen)
{
    struct filler f = {
        .cfg = cfg, .db = db, .redis = redis, .err = err, .errlen = errlen,
        .scripts = { [RESERVE] = { SECKILL_SCRIPT_RESERVE, "" }, [RELEASE] = { SECKILL_SCRIPT_RELEASE, "" } },
    };
    struct order *orders = calloc(opt->orders, sizeof(*orders));
    uint64_t refused = 0, delivered = 0, released;
    int64_t t0;
    double secs;
    int rc = -1;

    err[0] = '\0';
    if (orders == NULL)
        return fill_failed(&f, "%s", "out of memory");
    t0 = mono_us();
    if (add_seats(&f, opt) != 0 || make_producer(&f) != 0)
        goto done;
    if (redis_load_scripts(redis, f.scripts, SCRIPTS) != 0) {
        fill_failed(&f, "%s", redis->err);
        goto done;
    }

    for (uint64_t i = 0; i < opt->orders; i++) {
        struct order *o = &orders[i];

        if (next_order_id(&f, &o->ev.order_id) != 0)
            goto done;
        o->ev.course_id = FILL_FIRST_COURSE + i % opt->courses;
        o->ev.user_id = o->ev.order_id;
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
    secs = (double)(mono_us() - t0) / 1e6;
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

int cmd_fill(struct session *s)
{
    struct fill_options opt = { 0, CATALOG_DEMO_COURSES };
    char err[4096];
    int have_n = 0;

    for (int i = 0; i < s->argc; i++) {
        uint64_t v;

        if (strcmp(s->argv[i], "--courses") == 0 && i + 1 < s->argc) {
            if (cli_parse_count(s->argv[++i], 1, FILL_MAX_COURSES, &v) != 0) {
                fprintf(stderr, "seckill: fill: --courses '%s': want 1 to %d\n", s->argv[i], FILL_MAX_COURSES);
                return EXIT_USAGE;
            }
            opt.courses = (unsigned)v;
        } else if (!have_n && cli_parse_count(s->argv[i], 1, FILL_MAX_ORDERS, &v) == 0) {
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
    if (cli_open_db(s, DB_EXISTING) != 0 || cli_open_redis(s) != 0)
        return EXIT_RUNTIME;
    if (fill_run(&s->cfg, &s->db, &s->redis, &opt, err, sizeof(err)) != 0) {
        cli_error(err);
        return EXIT_RUNTIME;
    }
    return 0;
}
