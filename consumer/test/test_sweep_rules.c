/* The orphan sweeper's rules (sweep_rules.c) and its configuration keys. */
#include <stdio.h>

#include "config.h"
#include "sweep_rules.h"
#include "unit.h"

static void cutoff_is_now_minus_the_age(void)
{
    CHECK(sweep_cutoff(1700000015000, 15000) == 1700000000000);
    CHECK(sweep_cutoff(20000, 15000) == 5000);
}

static void caught_up_when_committed_reaches_the_end(void)
{
    CHECK(sweep_caught_up(0, 10, 10));
    CHECK(sweep_caught_up(0, 10, 11));      /* a commit past a marker */
    CHECK(!sweep_caught_up(0, 10, 9));
    CHECK(!sweep_caught_up(5, 10, 0));
    CHECK(sweep_caught_up(0, 0, 0));
}

static void never_committed_is_caught_up_only_when_empty(void)
{
    CHECK(sweep_caught_up(0, 0, -1001));     /* RD_KAFKA_OFFSET_INVALID */
    CHECK(sweep_caught_up(7, 7, -1001));     /* everything expired */
    CHECK(!sweep_caught_up(0, 1, -1001));
    CHECK(!sweep_caught_up(3, 9, -1));
}

static void candidates_are_users_pending_since_the_cutoff(void)
{
    CHECK(sweep_candidate("7", "1000", 1000));
    CHECK(sweep_candidate("7", "999", 1000));
    CHECK(!sweep_candidate("7", "1001", 1000));
    /* not a user id or not a time: not ours */
    CHECK(!sweep_candidate("0", "1", 1000));
    CHECK(!sweep_candidate("x7", "1", 1000));
    CHECK(!sweep_candidate("7", "-1", 1000));
    CHECK(!sweep_candidate("7", "1e3", 1000));
    CHECK(!sweep_candidate(NULL, "1", 1000));
    CHECK(!sweep_candidate("7", NULL, 1000));
}

static void releases_only_old_pending_orders(void)
{
    CHECK(sweep_decide("1048577", "pending", "1000", 1000) == SWEEP_RELEASE);
    CHECK(sweep_decide("1048577", "pending", "999", 1000) == SWEEP_RELEASE);
    CHECK(sweep_decide("1048577", "pending", "1001", 1000) == SWEEP_SKIP);
}

static void leaves_every_other_status_alone(void)
{
    CHECK(sweep_decide("1048577", "claimed", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "success", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "failed", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "Pending", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "", "1", 1000) == SWEEP_SKIP);
}

static void leaves_missing_or_odd_fields_alone(void)
{
    /* the key was reset or deleted: nothing of ours to release */
    CHECK(sweep_decide(NULL, NULL, NULL, 1000) == SWEEP_SKIP);
    CHECK(sweep_decide(NULL, "pending", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "pending", NULL, 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("0", "pending", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("-5", "pending", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("12x", "pending", "1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "pending", "", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "pending", "-1", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "pending", "5.5", 1000) == SWEEP_SKIP);
    CHECK(sweep_decide("1048577", "pending", "99999999999999999999", 1000) == SWEEP_SKIP);
}

/* CRC32 (zlib's) of the decimal key, modulo the partition count: what
 * librdkafka's consistent_random partitioner and kcat compute. */
static void course_partition_is_crc32_of_the_key(void)
{
    CHECK(sweep_partition_of(1, 6) == 5);       /* crc32("1") = 0x83dcefb7 */
    CHECK(sweep_partition_of(2, 6) == 1);
    CHECK(sweep_partition_of(4, 6) == 4);
    CHECK(sweep_partition_of(131, 6) == 3);
    CHECK(sweep_partition_of(300, 6) == 2);
    CHECK(sweep_partition_of(1001, 6) == 5);
    CHECK(sweep_partition_of(1, 1) == 0);
    CHECK(sweep_partition_of(1, 0) == -1);
    for (uint64_t c = 1; c < 500; c++) {
        int32_t p = sweep_partition_of(c, 7);

        CHECK(p >= 0 && p < 7);
        CHECK(p == sweep_partition_of(c, 7));
    }
}

static void trusts_the_partitioner_after_enough_matches(void)
{
    struct sweep_trust t = { 0 };

    /* count unknown: nothing can be checked, nothing trusted */
    CHECK(sweep_trust_observe(&t, 1, 5) == 0);
    CHECK(!sweep_trust_per_course(&t));
    sweep_trust_partitions(&t, 6);
    for (int i = 0; i < SWEEP_TRUST_AFTER - 1; i++)
        CHECK(sweep_trust_observe(&t, i % 2 ? 1 : 2, i % 2 ? 5 : 1) == 0);
    CHECK(!sweep_trust_per_course(&t));
    CHECK(sweep_trust_observe(&t, 131, 3) == 0);
    CHECK(sweep_trust_per_course(&t));
    /* the same count again changes nothing */
    sweep_trust_partitions(&t, 6);
    CHECK(sweep_trust_per_course(&t));
}

static void one_mismatch_means_the_whole_topic_for_good(void)
{
    struct sweep_trust t = { 0 };

    sweep_trust_partitions(&t, 6);
    for (int i = 0; i < SWEEP_TRUST_AFTER; i++)
        sweep_trust_observe(&t, 1, 5);
    CHECK(sweep_trust_per_course(&t));
    CHECK(sweep_trust_observe(&t, 1, 4) == 1);      /* told once */
    CHECK(!sweep_trust_per_course(&t));
    CHECK(sweep_trust_observe(&t, 1, 0) == 0);
    for (int i = 0; i < 2 * SWEEP_TRUST_AFTER; i++)
        sweep_trust_observe(&t, 1, 5);
    sweep_trust_partitions(&t, 12);
    CHECK(!sweep_trust_per_course(&t));
}

static void a_new_partition_count_is_learnt_again(void)
{
    struct sweep_trust t = { 0 };

    sweep_trust_partitions(&t, 6);
    for (int i = 0; i < SWEEP_TRUST_AFTER; i++)
        sweep_trust_observe(&t, 1, 5);
    CHECK(sweep_trust_per_course(&t));
    /* the topic grew: an event beyond the known count, not a mismatch */
    CHECK(sweep_trust_observe(&t, 1, 9) == 0);
    CHECK(!sweep_trust_per_course(&t));
    CHECK(!t.mismatch);
    sweep_trust_partitions(&t, 12);
    CHECK(!sweep_trust_per_course(&t));
    for (int i = 0; i < SWEEP_TRUST_AFTER; i++)
        sweep_trust_observe(&t, 1, sweep_partition_of(1, 12));
    CHECK(sweep_trust_per_course(&t));
}

static void config_keys(void)
{
    struct seckill_config cfg;
    char err[256];

    config_defaults(&cfg);
    CHECK(cfg.sweep_after_ms == 15000);
    CHECK(cfg.sweep_interval_ms == 5000);
    CHECK(config_parse(&cfg, "sweep_after_ms = 8000\nsweep_interval_ms = 0\n", "c", err, sizeof(err)) == 0);
    CHECK(cfg.sweep_after_ms == 8000);
    CHECK(cfg.sweep_interval_ms == 0);
    config_defaults(&cfg);
    CHECK(config_parse(&cfg, "sweep_after_ms = 999\n", "c", err, sizeof(err)) != 0);
    CHECK_STR(err, "c:1: sweep_after_ms = '999': expected a whole number from 1000 to 86400000");
    CHECK(config_parse(&cfg, "sweep_interval_ms = -1\n", "c", err, sizeof(err)) != 0);
}

void suite_sweep(void)
{
    UNIT_RUN(cutoff_is_now_minus_the_age);
    UNIT_RUN(caught_up_when_committed_reaches_the_end);
    UNIT_RUN(never_committed_is_caught_up_only_when_empty);
    UNIT_RUN(candidates_are_users_pending_since_the_cutoff);
    UNIT_RUN(releases_only_old_pending_orders);
    UNIT_RUN(leaves_every_other_status_alone);
    UNIT_RUN(leaves_missing_or_odd_fields_alone);
    UNIT_RUN(course_partition_is_crc32_of_the_key);
    UNIT_RUN(trusts_the_partitioner_after_enough_matches);
    UNIT_RUN(one_mismatch_means_the_whole_topic_for_good);
    UNIT_RUN(a_new_partition_count_is_learnt_again);
    UNIT_RUN(config_keys);
}
