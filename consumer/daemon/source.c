/* Kafka through librdkafka (source.h). */
#include "source.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

#define DLQ_FLUSH_MS 15000
#define DLQ_TIMEOUT_MS "10000"

struct setting {
    const char *name, *value;
};

static const struct setting consumer_settings[] = {
    { "client.id", "seckill-consumer" },
    /* Offsets are committed by hand, only after the orders are in MariaDB. */
    { "enable.auto.commit", "false" },
    { "enable.auto.offset.store", "false" },
    { "auto.offset.reset", "earliest" },
    { "partition.assignment.strategy", "range" },
    /* A consumer killed -9 holds its partitions until its session times
     * out: 10 s rather than 45 s before its restart (or a peer) resumes. */
    { "session.timeout.ms", "10000" },
    { "heartbeat.interval.ms", "3000" },
    /* The prefetch queue is what the daemon's memory is made of: 16 MB holds
     * more than 100,000 events, plenty to keep batches of 1,000 full. */
    { "queued.max.messages.kbytes", "16384" },
    { "queued.min.messages", "20000" },
    /* Fetches that wait for 64 KB (or 100 ms) instead of returning each
     * new event at once: a flash crowd's events then cost the broker a
     * fetch per few hundred rather than per few, and the broker shares the
     * machine's cores with the purchases (all-accepted, interleaved runs:
     * its CPU per seat 49, 19, 20 us before, 17, 11, 13 after). At rest a
     * fetch waits 100 ms: 10 ms cost an idle broker 6% of a core, 100 ms
     * 1% more than librdkafka's default. Below about 6,000 events a second
     * (~100 bytes each) a fetch returns at its 100 ms, so an order's row
     * may come up to that much later than it could. */
    { "fetch.wait.max.ms", "100" },
    { "fetch.min.bytes", "65536" },
};

static const struct setting dlq_settings[] = {
    { "client.id", "seckill-consumer-dlq" },
    { "enable.idempotence", "true" },
    { "acks", "all" },
    { "message.timeout.ms", DLQ_TIMEOUT_MS },
};

static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    enum log_level mine = level <= 3 ? LOG_ERROR : level <= 4 ? LOG_WARN
                        : level <= 6 ? LOG_INFO : LOG_DEBUG;

    log_msg(mine, "kafka %s: %s: %s", rd_kafka_name(rk), fac, buf);
}

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    (void)opaque;
    /* Connection failures are in the log already (on_log, "FAIL"); the
     * client reconnects by itself. */
    if (code == RD_KAFKA_RESP_ERR__TRANSPORT || code == RD_KAFKA_RESP_ERR__RESOLVE)
        return;
    log_msg(code == RD_KAFKA_RESP_ERR__FATAL ? LOG_ERROR : LOG_WARN, "kafka %s: %s (%s)",
            rd_kafka_name(rk), reason, rd_kafka_err2name((rd_kafka_resp_err_t)code));
}

static int apply(rd_kafka_conf_t *conf, const struct setting *s, size_t n,
                 char *err, size_t errlen)
{
    char why[512];

    for (size_t i = 0; i < n; i++) {
        if (rd_kafka_conf_set(conf, s[i].name, s[i].value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
            snprintf(err, errlen, "librdkafka: %s = %s: %s", s[i].name, s[i].value, why);
            return -1;
        }
    }
    return 0;
}

static rd_kafka_conf_t *base_conf(const struct seckill_config *cfg, char *err, size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char why[512];

    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%.1024s: kafka_brokers = '%.1024s': %.512s", cfg->path, cfg->kafka_brokers, why);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_conf_set_log_cb(conf, on_log);
    rd_kafka_conf_set_error_cb(conf, on_error);
    return conf;
}

static void describe(const rd_kafka_topic_partition_list_t *parts, char *buf, size_t size)
{
    size_t len = 0;

    buf[0] = '\0';
    for (int i = 0; i < parts->cnt && len < size; i++)
        len += (size_t)snprintf(buf + len, size - len, "%s%s[%" PRId32 "]", i ? " " : "",
                                parts->elems[i].topic, parts->elems[i].partition);
}

static void on_rebalance(rd_kafka_t *rk, rd_kafka_resp_err_t err,
                         rd_kafka_topic_partition_list_t *parts, void *opaque)
{
    struct source *src = opaque;
    int cooperative = strcmp(rd_kafka_rebalance_protocol(rk), "COOPERATIVE") == 0;
    rd_kafka_error_t *error = NULL;
    rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
    char names[1024];

    describe(parts, names, sizeof(names));
    switch (err) {
    case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
        log_info("assigned %d partition(s): %s", parts->cnt, names);
        if (cooperative)
            error = rd_kafka_incremental_assign(rk, parts);
        else
            code = rd_kafka_assign(rk, parts);
        if (src->paused && parts->cnt > 0)
            rd_kafka_pause_partitions(rk, parts);
        break;
    case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS: {
        int lost = rd_kafka_assignment_lost(rk);
        int32_t *ids = malloc((size_t)(parts->cnt ? parts->cnt : 1) * sizeof(*ids));
        size_t n = 0;

        log_info("revoking %d partition(s)%s: %s", parts->cnt,
                 lost ? " (lost: the group has moved on without us)" : "", names);
        for (int i = 0; ids != NULL && i < parts->cnt; i++)
            if (strcmp(parts->elems[i].topic, src->cfg->topic) == 0)
                ids[n++] = parts->elems[i].partition;
        if (ids != NULL) {
            src->on_revoke(src->opaque, ids, n, lost);
        } else {
            int32_t all = -1;

            /* Out of memory: drop the whole batch, which is always safe. */
            src->on_revoke(src->opaque, &all, 0, 1);
        }
        free(ids);
        if (cooperative)
            error = rd_kafka_incremental_unassign(rk, parts);
        else
            code = rd_kafka_assign(rk, NULL);
        break;
    }
    default:
        log_error("rebalance failed: %s; dropping the assignment", rd_kafka_err2str(err));
        code = rd_kafka_assign(rk, NULL);
        break;
    }
    if (error != NULL) {
        log_error("rebalance: %s", rd_kafka_error_string(error));
        rd_kafka_error_destroy(error);
    } else if (code != RD_KAFKA_RESP_ERR_NO_ERROR) {
        log_error("rebalance: %s", rd_kafka_err2str(code));
    }
}

int source_open(struct source *src, const struct seckill_config *cfg,
                revoke_hook *on_revoke, void *opaque)
{
    rd_kafka_conf_t *conf;
    rd_kafka_topic_partition_list_t *topics;
    rd_kafka_resp_err_t err;
    char why[512];

    memset(src, 0, sizeof(*src));
    src->cfg = cfg;
    src->on_revoke = on_revoke;
    src->opaque = opaque;

    if ((conf = base_conf(cfg, src->err, sizeof(src->err))) == NULL)
        return -1;
    if (apply(conf, consumer_settings, sizeof(consumer_settings) / sizeof(consumer_settings[0]),
              src->err, sizeof(src->err)) != 0
        || rd_kafka_conf_set(conf, "group.id", cfg->group_id, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        if (src->err[0] == '\0')
            snprintf(src->err, sizeof(src->err), "%s: group_id = '%s': %s", cfg->path, cfg->group_id, why);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_rebalance_cb(conf, on_rebalance);
    rd_kafka_conf_set_opaque(conf, src);

    src->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, conf, why, sizeof(why));
    if (src->consumer == NULL) {
        snprintf(src->err, sizeof(src->err), "cannot create the Kafka consumer: %s", why);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    /* One queue for messages, rebalances and errors: all served by
     * source_poll() in the daemon's thread. */
    rd_kafka_poll_set_consumer(src->consumer);

    topics = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(topics, cfg->topic, RD_KAFKA_PARTITION_UA);
    err = rd_kafka_subscribe(src->consumer, topics);
    rd_kafka_topic_partition_list_destroy(topics);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(src->err, sizeof(src->err), "cannot subscribe to %s: %s", cfg->topic, rd_kafka_err2str(err));
        rd_kafka_destroy(src->consumer);
        src->consumer = NULL;
        return -1;
    }
    return 0;
}

rd_kafka_message_t *source_poll(struct source *src, int timeout_ms)
{
    return rd_kafka_consumer_poll(src->consumer, timeout_ms);
}

int source_commit(struct source *src, const struct partition_offset *offsets, size_t n)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new((int)n);
    rd_kafka_resp_err_t err;
    int rc = 0;

    for (size_t i = 0; i < n; i++)
        rd_kafka_topic_partition_list_add(list, src->cfg->topic, offsets[i].partition)->offset = offsets[i].next;
    err = rd_kafka_commit(src->consumer, list, 0);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(src->err, sizeof(src->err), "offset commit failed: %s", rd_kafka_err2str(err));
        rc = -1;
    }
    for (int i = 0; rc == 0 && i < list->cnt; i++) {
        if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(src->err, sizeof(src->err), "offset commit of %s[%" PRId32 "] at %" PRId64 " failed: %s",
                     list->elems[i].topic, list->elems[i].partition, list->elems[i].offset,
                     rd_kafka_err2str(list->elems[i].err));
            rc = -1;
        }
    }
    rd_kafka_topic_partition_list_destroy(list);
    return rc;
}

static void pause_resume(struct source *src, int pause)
{
    rd_kafka_topic_partition_list_t *parts = NULL;

    src->paused = pause;
    if (rd_kafka_assignment(src->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL)
        return;
    if (parts->cnt > 0) {
        if (pause)
            rd_kafka_pause_partitions(src->consumer, parts);
        else
            rd_kafka_resume_partitions(src->consumer, parts);
    }
    rd_kafka_topic_partition_list_destroy(parts);
}

void source_pause(struct source *src)
{
    pause_resume(src, 1);
}

void source_resume(struct source *src)
{
    if (src->paused)
        pause_resume(src, 0);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    struct dead_letter *d = m->_private;

    (void)rk, (void)opaque;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR)
        d->acked = 1;
    else
        log_warn("dead letter not delivered to %s: %s", rd_kafka_topic_name(m->rkt), rd_kafka_err2str(m->err));
}

static int dlq_ready(struct source *src)
{
    rd_kafka_conf_t *conf;
    char why[512];

    if (src->dlq != NULL && rd_kafka_fatal_error(src->dlq, why, sizeof(why)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        /* librdkafka 2.0.2 can turn a timeout into a fatal idempotence error
         * (FACTS.md); a new producer starts a new sequence. */
        log_warn("dead-letter producer failed for good (%s); making a new one", why);
        rd_kafka_destroy(src->dlq);
        src->dlq = NULL;
    }
    if (src->dlq != NULL)
        return 0;
    if ((conf = base_conf(src->cfg, src->err, sizeof(src->err))) == NULL)
        return -1;
    if (apply(conf, dlq_settings, sizeof(dlq_settings) / sizeof(dlq_settings[0]),
              src->err, sizeof(src->err)) != 0) {
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    src->dlq = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (src->dlq == NULL) {
        snprintf(src->err, sizeof(src->err), "cannot create the dead-letter producer: %s", why);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    return 0;
}

static rd_kafka_resp_err_t produce(struct source *src, const struct batch_entry *e)
{
    struct dead_letter *d = e->dead;
    char partition[16], offset[24];

    snprintf(partition, sizeof(partition), "%" PRId32, e->partition);
    snprintf(offset, sizeof(offset), "%" PRId64, e->offset);
    return rd_kafka_producev(src->dlq,
                             RD_KAFKA_V_TOPIC(src->cfg->dlq_topic),
                             RD_KAFKA_V_KEY(d->key, d->key_len),
                             RD_KAFKA_V_VALUE(d->value, d->value_len),
                             RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                             RD_KAFKA_V_HEADER("error", d->reason, -1),
                             RD_KAFKA_V_HEADER("source_topic", src->cfg->topic, -1),
                             RD_KAFKA_V_HEADER("source_partition", partition, -1),
                             RD_KAFKA_V_HEADER("source_offset", offset, -1),
                             RD_KAFKA_V_OPAQUE(d),
                             RD_KAFKA_V_END);
}

static size_t unacked(const struct batch *b)
{
    size_t n = 0;

    for (size_t i = 0; i < b->n; i++)
        if (b->entries[i].kind == ENTRY_DEAD && !b->entries[i].dead->acked)
            n++;
    return n;
}

int source_dead_letters(struct source *src, struct batch *b)
{
    size_t missing;

    src->err[0] = '\0';
    if (unacked(b) == 0)
        return 0;
    if (dlq_ready(src) != 0)
        return -1;
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_entry *e = &b->entries[i];
        rd_kafka_resp_err_t err;

        if (e->kind != ENTRY_DEAD || e->dead->acked)
            continue;
        if ((err = produce(src, e)) != RD_KAFKA_RESP_ERR_NO_ERROR) {
            snprintf(src->err, sizeof(src->err), "cannot produce to %s: %s",
                     src->cfg->dlq_topic, rd_kafka_err2str(err));
            break;
        }
    }
    rd_kafka_flush(src->dlq, DLQ_FLUSH_MS);
    /* The delivery reports point into the batch: none may come after this
     * function returns, so whatever is still queued is purged and its
     * (failed) reports are served now. */
    if (rd_kafka_outq_len(src->dlq) > 0) {
        rd_kafka_purge(src->dlq, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
        rd_kafka_flush(src->dlq, DLQ_FLUSH_MS);
    }
    if ((missing = unacked(b)) > 0) {
        if (src->err[0] == '\0')
            snprintf(src->err, sizeof(src->err), "%zu dead letter(s) not acknowledged by %s at %s",
                     missing, src->cfg->dlq_topic, src->cfg->kafka_brokers);
        return -1;
    }
    return 0;
}

void source_close(struct source *src)
{
    if (src->consumer != NULL) {
        rd_kafka_resp_err_t err = rd_kafka_consumer_close(src->consumer);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
            log_warn("leaving the consumer group: %s", rd_kafka_err2str(err));
        rd_kafka_destroy(src->consumer);
        src->consumer = NULL;
    }
    if (src->dlq != NULL) {
        rd_kafka_flush(src->dlq, 1000);
        rd_kafka_destroy(src->dlq);
        src->dlq = NULL;
    }
}
