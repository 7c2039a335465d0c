/* Creating the Kafka topics of the contract with librdkafka's Admin API:
 * the order topic (topic_partitions partitions) and its dead-letter topic
 * (1 partition), both with the brokers' default replication factor and
 * min.insync.replicas (deploy/ sets them from the broker count). A topic
 * that is already there is fine. */
#ifndef SECKILL_TOPICS_H
#define SECKILL_TOPICS_H

#include <stddef.h>

#include "config.h"

struct topic_outcome {
    char name[250];
    int partitions;         /* asked for */
    int created;            /* 0: it was already there */
    int actual_partitions;  /* what the broker has, -1 when unknown */
};

#define TOPICS 2

/* Waits at most about timeout_ms for the broker. Returns 0 with out[] filled,
 * or -1 with the reason in err. */
int topics_create(const struct seckill_config *cfg, int timeout_ms,
                  struct topic_outcome out[TOPICS], char *err, size_t errlen);

#endif
