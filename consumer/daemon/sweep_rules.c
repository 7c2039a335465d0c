/* The sweeper's rules (sweep_rules.h). */
#include "sweep_rules.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

int64_t sweep_cutoff(int64_t now_ms, int sweep_after_ms)
{
    return now_ms - sweep_after_ms;
}

int sweep_caught_up(int64_t low, int64_t high, int64_t committed)
{
    if (committed < 0)
        return low >= high;
    return committed >= high;
}

/* A decimal without sign, as the scripts write them; -1 otherwise. */
static int64_t decimal(const char *s)
{
    char *end;
    long long v;

    if (s == NULL || s[0] < '0' || s[0] > '9')
        return -1;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0')
        return -1;
    return v;
}

int sweep_candidate(const char *user, const char *reserved_at, int64_t cutoff)
{
    int64_t uid = decimal(user), when = decimal(reserved_at);

    return uid > 0 && when >= 0 && when <= cutoff;
}

enum sweep_action sweep_decide(const char *order_id, const char *status,
                               const char *ts, int64_t cutoff)
{
    int64_t when = decimal(ts);

    if (decimal(order_id) <= 0 || status == NULL || strcmp(status, "pending") != 0
        || when < 0 || when > cutoff)
        return SWEEP_SKIP;
    return SWEEP_RELEASE;
}

int32_t sweep_partition_of(uint64_t course_id, int32_t partitions)
{
    char key[24];
    int len;

    if (partitions < 1)
        return -1;
    len = snprintf(key, sizeof(key), "%" PRIu64, course_id);
    /* The producer's own function: with a key it never looks at the topic. */
    return rd_kafka_msg_partitioner_consistent_random(NULL, key, (size_t)len, partitions,
                                                      NULL, NULL);
}

void sweep_trust_partitions(struct sweep_trust *t, int32_t partitions)
{
    if (partitions != t->partitions) {
        t->partitions = partitions;
        t->matched = 0;
    }
}

int sweep_trust_observe(struct sweep_trust *t, uint64_t course_id, int32_t partition)
{
    if (t->partitions < 1 || t->mismatch)
        return 0;
    /* Beyond the known count: the topic grew and the count is stale; wait
     * for the metadata and count again. */
    if (partition >= t->partitions) {
        t->matched = 0;
        return 0;
    }
    if (sweep_partition_of(course_id, t->partitions) != partition) {
        t->mismatch = 1;
        return 1;
    }
    t->matched++;
    return 0;
}

int sweep_trust_per_course(const struct sweep_trust *t)
{
    return !t->mismatch && t->partitions > 0 && t->matched >= SWEEP_TRUST_AFTER;
}
