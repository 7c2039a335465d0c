/* The orphan sweeper: a periodic task of the consumer daemon that gives back
 * the seats of reservations nobody will ever deliver.
 *
 * An orphan is a reservation left `pending` in Redis by a crash between the
 * reserve script and the Kafka delivery: an nginx worker killed -9 with
 * events still in its producer's queue, a worker that exited with Redis
 * unreachable so it could not release, a release lost with its connection.
 * Nothing else ever moves such a status key, so its seat would stay taken.
 *
 * Every sweep_interval_ms the daemon's main loop runs one sweep:
 *   1. cutoff = now - sweep_after_ms (wall clock, Unix ms);
 *   2. for each course in seckill:courses, the users of its pending hash
 *      (user -> reservation time) reserved at or before the cutoff, of at
 *      most 1000 fields at random (HRANDFIELD); none: done, without asking
 *      Kafka anything;
 *   3. for the topic's partitions that matter (the course's own partition
 *      under librdkafka's default partitioner once the daemon has checked
 *      that the events it consumes follow it, else every partition): the
 *      high watermark, THEN the group's committed offset; a course whose
 *      partition is not caught up (committed < high) waits for a later
 *      sweep;
 *   4. each candidate's status key (order_id, status, ts): still `pending`
 *      with ts <= cutoff -> the shared RELEASE script with that order id
 *      (status failed, seat back, out of the pending hash), the course's
 *      orphans in calls of up to CALL_MAX_ORDERS (call.h).
 *
 * Why this never releases an order whose buyer was told 200:
 *   - A buyer hears 200 only after the broker acknowledged the event. The
 *     module produces it right after the reserve script answered (within
 *     seckill_redis_timeout of ts), librdkafka gives up on a message after
 *     message.timeout.ms (seckill_kafka_timeout, 5 s), and the module stops
 *     waiting for the report 2 s after that and releases it itself. So the
 *     event of any order answered 200 was in the log before
 *     ts + redis timeout + kafka timeout + 2 s, which sweep_after_ms (15 s
 *     by default) exceeds with margin for clock skew between hosts.
 *   - The high watermark is read after the cutoff was taken, so it covers
 *     every such event of every reservation older than the cutoff. The
 *     committed offset is read after the watermark; the daemon commits an
 *     offset only after the claim, insert and confirm of everything below
 *     it (main.c), by whichever consumer of the group: committed >= high
 *     means the event, if it is in the log, was claimed, and the key is no
 *     longer `pending`. RELEASE then answers "confirmed" and changes
 *     nothing.
 *   - An event produced later than that is not possible for an order the
 *     client was told 200 about; one that reaches the broker later anyway
 *     (a delivery that timed out while in flight, a worker killed while its
 *     request was in the broker's socket) is of an order nobody was told
 *     200: the consumer's claim then answers "dropped" and it never
 *     becomes a row.
 *   - RELEASE matches the order id read in step 4 and the key's ts decides,
 *     not the pending hash's time: a user who got released and reserved again
 *     since has a new order id and a young ts, and is left alone.
 *
 * What the rule assumes: sweep_after_ms exceeds the module's delivery
 * timeout + 2 s + the clock skew between nginx and consumer hosts; nobody
 * moves the group's committed offsets past unprocessed events by hand.
 * Several consumers in one group may all sweep: committed offsets are the
 * group's, and RELEASE is atomic (a second release answers "gone"). */
#ifndef SECKILL_SWEEPER_H
#define SECKILL_SWEEPER_H

#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "config.h"
#include "redis.h"
#include "sweep_rules.h"

struct sweeper {
    const struct seckill_config *cfg;
    struct redis redis;             /* its own connection */
    struct redis_script release;
    rd_kafka_topic_t *rkt;          /* for the topic's metadata */
    struct sweep_trust trust;       /* does the producers' partitioner match? */
    int64_t next_ms;                /* monotonic ms of the next sweep */
    int failing;                    /* the last sweep failed (warned once) */
    uint64_t released;              /* reservations released by this process */
    char err[2048];
};

void sweeper_init(struct sweeper *sw, const struct seckill_config *cfg, int64_t mono_now_ms);

/* A sweep is due (never when sweep_interval_ms is 0). */
int sweeper_due(const struct sweeper *sw, int64_t mono_now_ms);

/* One sweep, with rk the daemon's group consumer (only read: metadata,
 * watermarks, committed offsets). Logs what it released and why it could
 * not; blocks for a few round trips, Kafka's only when there are stale
 * reservations. */
void sweeper_run(struct sweeper *sw, rd_kafka_t *rk, int64_t mono_now_ms);

/* An order event of course_id consumed from partition: checks the producers'
 * partitioner (sweep_rules.h). */
void sweeper_observe(struct sweeper *sw, uint64_t course_id, int32_t partition);

void sweeper_close(struct sweeper *sw);

#endif
