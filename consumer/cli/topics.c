/* Topic creation through rd_kafka_CreateTopics (topics.h). */
#include "topics.h"

#include <stdio.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "clock.h"

/* What the client saw going wrong while we waited: the reason to print when
 * the request times out ("Connection refused" says more than "Timed out"). */
struct broker_trouble {
    char last[512];
};

static void on_error(rd_kafka_t *rk, int code, const char *reason, void *opaque)
{
    struct broker_trouble *trouble = opaque;

    (void)rk;
    /* "1/1 brokers are down" hides the connect error that says why. */
    if (code != RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN || trouble->last[0] == '\0')
        snprintf(trouble->last, sizeof(trouble->last), "%s", reason);
}

/* The errors reach us through on_error; the log would repeat them on stderr. */
static void no_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    (void)rk, (void)level, (void)fac, (void)buf;
}

/* Partition counts of the topics that were already there. */
static void read_partitions(rd_kafka_t *rk, struct topic_outcome out[TOPICS], int timeout_ms)
{
    const struct rd_kafka_metadata *md;

    if (rd_kafka_metadata(rk, 1, NULL, &md, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        return;
    for (int i = 0; i < TOPICS; i++)
        for (int t = 0; t < md->topic_cnt; t++)
            if (strcmp(md->topics[t].topic, out[i].name) == 0 && md->topics[t].err == 0)
                out[i].actual_partitions = md->topics[t].partition_cnt;
    rd_kafka_metadata_destroy(md);
}

/* Reads the result event; returns 0 or -1 with err set. */
static int read_result(rd_kafka_event_t *ev, const char *brokers,
                       const struct broker_trouble *trouble,
                       struct topic_outcome out[TOPICS], char *err, size_t errlen)
{
    const rd_kafka_CreateTopics_result_t *result;
    const rd_kafka_topic_result_t **topics;
    size_t n;

    if (rd_kafka_event_error(ev) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        snprintf(err, errlen, "cannot create topics on Kafka at %s: %s%s%s%s — is it running? try `make status`",
                 brokers, rd_kafka_event_error_string(ev),
                 trouble->last[0] ? " (" : "", trouble->last, trouble->last[0] ? ")" : "");
        return -1;
    }
    result = rd_kafka_event_CreateTopics_result(ev);
    topics = result ? rd_kafka_CreateTopics_result_topics(result, &n) : NULL;
    if (topics == NULL) {
        snprintf(err, errlen, "Kafka at %s: unexpected answer to CreateTopics (%s)",
                 brokers, rd_kafka_event_name(ev));
        return -1;
    }
    for (size_t r = 0; r < n; r++) {
        const char *name = rd_kafka_topic_result_name(topics[r]);
        rd_kafka_resp_err_t code = rd_kafka_topic_result_error(topics[r]);

        for (int i = 0; i < TOPICS; i++) {
            if (strcmp(out[i].name, name) != 0)
                continue;
            if (code == RD_KAFKA_RESP_ERR_NO_ERROR) {
                out[i].created = 1;
                out[i].actual_partitions = out[i].partitions;
            } else if (code != RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS) {
                const char *why = rd_kafka_topic_result_error_string(topics[r]);

                snprintf(err, errlen, "Kafka at %s: cannot create topic %s: %s",
                         brokers, name, why ? why : rd_kafka_err2str(code));
                return -1;
            }
        }
    }
    return 0;
}

int topics_create(const struct seckill_config *cfg, int timeout_ms,
                  struct topic_outcome out[TOPICS], char *err, size_t errlen)
{
    struct broker_trouble trouble = { "" };
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_NewTopic_t *topics[TOPICS] = { NULL, NULL };
    rd_kafka_AdminOptions_t *options = NULL;
    rd_kafka_queue_t *queue = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_t *rk;
    char errstr[512];
    int64_t deadline;
    int rc = -1;

    memset(out, 0, TOPICS * sizeof(*out));
    snprintf(out[0].name, sizeof(out[0].name), "%s", cfg->topic);
    out[0].partitions = cfg->topic_partitions;
    snprintf(out[1].name, sizeof(out[1].name), "%s", cfg->dlq_topic);
    out[1].partitions = 1;
    out[0].actual_partitions = out[1].actual_partitions = -1;

    if (rd_kafka_conf_set(conf, "bootstrap.servers", cfg->kafka_brokers,
                          errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK) {
        snprintf(err, errlen, "%s: kafka_brokers = '%s': %s", cfg->path, cfg->kafka_brokers, errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, no_log);
    rd_kafka_conf_set_opaque(conf, &trouble);

    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (rk == NULL) {
        snprintf(err, errlen, "cannot create a Kafka client: %s", errstr);
        rd_kafka_conf_destroy(conf);
        return -1;
    }

    for (int i = 0; i < TOPICS; i++) {
        /* -1: the brokers' default.replication.factor, and their
         * min.insync.replicas applies (deploy/: the broker count capped
         * at 3, and 2 of 3 in sync), so one topology setting decides */
        topics[i] = rd_kafka_NewTopic_new(out[i].name, out[i].partitions, -1, errstr, sizeof(errstr));
        if (topics[i] == NULL) {
            snprintf(err, errlen, "topic %s: %s", out[i].name, errstr);
            goto done;
        }
    }
    options = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_CREATETOPICS);
    /* The broker answers once the topics are usable, or after the operation
     * timeout; the request timeout bounds the whole exchange. */
    if (rd_kafka_AdminOptions_set_request_timeout(options, timeout_ms, errstr, sizeof(errstr))
        || rd_kafka_AdminOptions_set_operation_timeout(options, timeout_ms / 2, errstr, sizeof(errstr))) {
        snprintf(err, errlen, "Kafka admin options: %s", errstr);
        goto done;
    }
    queue = rd_kafka_queue_new(rk);
    rd_kafka_CreateTopics(rk, topics, TOPICS, options, queue);

    deadline = mono_ms() + timeout_ms + 2000;
    while ((ev = rd_kafka_queue_poll(queue, 100)) == NULL) {
        rd_kafka_poll(rk, 0);           /* serves on_error */
        if (mono_ms() > deadline) {
            snprintf(err, errlen, "Kafka at %s did not answer CreateTopics within %d ms%s%s%s — is it running? try `make status`",
                     cfg->kafka_brokers, timeout_ms,
                     trouble.last[0] ? " (" : "", trouble.last, trouble.last[0] ? ")" : "");
            goto done;
        }
    }
    rd_kafka_poll(rk, 0);
    if (read_result(ev, cfg->kafka_brokers, &trouble, out, err, errlen) != 0)
        goto done;
    if (!out[0].created || !out[1].created)
        read_partitions(rk, out, timeout_ms);
    rc = 0;

done:
    if (ev != NULL)
        rd_kafka_event_destroy(ev);
    if (queue != NULL)
        rd_kafka_queue_destroy(queue);
    if (options != NULL)
        rd_kafka_AdminOptions_destroy(options);
    for (int i = 0; i < TOPICS; i++)
        if (topics[i] != NULL)
            rd_kafka_NewTopic_destroy(topics[i]);
    rd_kafka_destroy(rk);
    return rc;
}
