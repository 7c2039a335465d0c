/* The daemon's Kafka side: the group consumer of the order topic, its
 * offsets committed by hand, and the producer of the dead-letter topic.
 *
 * Partitions are handed out with the eager `range` assignor: librdkafka 2.0.2
 * (Debian 12) has known crashes and hangs in cooperative-sticky when a
 * consumer closes during a rebalance (librdkafka #4312, #4527; fixed in 2.2
 * and 2.4). Before a partition is taken away the daemon's revoke hook runs,
 * inside the rebalance, so it can finish or drop the batch in hand while the
 * partitions are still its own. */
#ifndef SECKILL_SOURCE_H
#define SECKILL_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "batch.h"
#include "config.h"

/* Called before the given partitions of the order topic are taken away;
 * lost: the group already gave them to another member (commits will fail). */
typedef void revoke_hook(void *opaque, const int32_t *partitions, size_t n, int lost);

struct source {
    const struct seckill_config *cfg;
    rd_kafka_t *consumer;
    rd_kafka_t *dlq;                /* made on the first dead letter */
    int paused;                     /* the whole assignment is paused */
    revoke_hook *on_revoke;
    void *opaque;
    char err[8192];                 /* why the last call failed */
};

/* Creates the consumer and subscribes to cfg->topic. Returns 0, or -1 with
 * the reason in src->err. */
int source_open(struct source *src, const struct seckill_config *cfg,
                revoke_hook *on_revoke, void *opaque);

/* The next message or event (NULL when none within timeout_ms). Rebalances
 * are served in here. Destroy it with rd_kafka_message_destroy(). */
rd_kafka_message_t *source_poll(struct source *src, int timeout_ms);

/* Commits the offsets synchronously. Returns 0, or -1 with the reason in
 * src->err. */
int source_commit(struct source *src, const struct partition_offset *offsets, size_t n);

/* Stops (or restarts) fetching on every assigned partition; partitions
 * assigned while paused are paused at once. Messages fetched before a pause
 * are not handed out; fetching resumes after the last one handed out. */
void source_pause(struct source *src);
void source_resume(struct source *src);

/* Produces the dead letters of the batch not yet acknowledged, with headers
 * error, source_topic, source_partition and source_offset, and waits for the
 * broker's acknowledgement (acks=all, idempotent). Returns 0 when every one
 * is acknowledged, else -1 with the reason in src->err. */
int source_dead_letters(struct source *src, struct batch *b);

/* Leaves the group (the revoke hook runs once more) and frees everything. */
void source_close(struct source *src);

#endif
