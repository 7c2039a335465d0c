/* The rules of the orphan sweeper (sweeper.h), kept free of any service so
 * that they are unit-tested: when a reservation is old enough, when a
 * partition counts as caught up, which partition a course's events go to,
 * and when the daemon may trust that mapping.
 *
 * Why a sweep is safe is explained in sweeper.h. */
#ifndef SECKILL_SWEEP_RULES_H
#define SECKILL_SWEEP_RULES_H

#include <stddef.h>
#include <stdint.h>

/* Events checked against the computed partition, with no mismatch, before
 * the sweeper checks a course's own partition instead of the whole topic. */
#define SWEEP_TRUST_AFTER 100

/* Reservations made at or before this Unix ms time are old enough. */
int64_t sweep_cutoff(int64_t now_ms, int sweep_after_ms);

/* A partition is caught up when everything below its high watermark (read
 * first) has been committed by the group (read after): committed >= high.
 * A partition the group never committed (committed < 0, librdkafka's
 * RD_KAFKA_OFFSET_INVALID) is caught up only when it holds no message
 * (low >= high). */
int sweep_caught_up(int64_t low, int64_t high, int64_t committed);

enum sweep_action {
    SWEEP_SKIP,         /* claimed, confirmed, released, or too young */
    SWEEP_RELEASE       /* still pending and old enough: an orphan */
};

/* Whether a field of a course's pending hash, user -> reservation time as
 * the reserve script writes them, is worth reading the status key of:
 * reserved at or before cutoff. Anything else (not an id, not a time) is
 * none of the sweeper's business. */
int sweep_candidate(const char *user, const char *reserved_at, int64_t cutoff);

/* What to do with a status key read as (order_id, status, ts), any of them
 * NULL when missing. The pending hash's value only picks the candidates;
 * the key's own ts decides, so that a user who reserved again since the
 * hash was read is not released. */
enum sweep_action sweep_decide(const char *order_id, const char *status,
                               const char *ts, int64_t cutoff);

/* The partition librdkafka's default partitioner (consistent_random: CRC32
 * of the key modulo the partition count) gives the events of a course, whose
 * key is the course id in decimal. -1 when partitions < 1. */
int32_t sweep_partition_of(uint64_t course_id, int32_t partitions);

/* Whether the producers use that partitioner, learnt from the events the
 * daemon consumes: each is checked against sweep_partition_of(). */
struct sweep_trust {
    int32_t partitions;     /* the topic's partition count, 0 unknown */
    uint64_t matched;       /* events on the computed partition */
    int mismatch;           /* an event elsewhere: never trust it again */
};

/* The partition count from the topic's metadata; a change starts the count
 * of matched events again. */
void sweep_trust_partitions(struct sweep_trust *t, int32_t partitions);

/* One consumed event of course_id on partition. Returns 1 when this event
 * is the first mismatch (to be logged), else 0. */
int sweep_trust_observe(struct sweep_trust *t, uint64_t course_id, int32_t partition);

/* 1: check only the course's partition; 0: every partition of the topic. */
int sweep_trust_per_course(const struct sweep_trust *t);

#endif
