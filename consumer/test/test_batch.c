/* Batches: when they are due, their offsets, revoked partitions, their
 * grouping into Redis script calls, and their INSERT (batch.c). */
#include "batch.h"
#include "unit.h"

#include <stdlib.h>
#include <string.h>

static struct order_event order(uint64_t id, uint64_t course, uint64_t user, int64_t ts)
{
    struct order_event ev = { id, course, user, ts };

    return ev;
}

static void add(struct batch *b, int32_t partition, int64_t offset, int64_t now)
{
    struct order_event ev = order((uint64_t)offset + 1, 1, (uint64_t)offset + 1, 5);

    CHECK(batch_add_order(b, partition, offset, &ev, now) == 0);
}

static void an_empty_batch_is_never_due_and_polls_idle(void)
{
    struct batch b;

    batch_init(&b, 3, 20);
    CHECK(!batch_full(&b));
    CHECK(!batch_due(&b, 1000000));
    CHECK(batch_wait_ms(&b, 1000, 500) == 500);
    batch_free(&b);
}

static void full_at_batch_size(void)
{
    struct batch b;

    batch_init(&b, 3, 1000);
    add(&b, 0, 10, 100);
    add(&b, 0, 11, 100);
    CHECK(!batch_full(&b));
    CHECK(!batch_due(&b, 100));
    add(&b, 0, 12, 100);
    CHECK(batch_full(&b));
    CHECK(batch_due(&b, 100));
    batch_free(&b);
}

static void due_when_the_first_entry_is_batch_ms_old(void)
{
    struct batch b;

    batch_init(&b, 1000, 20);
    add(&b, 0, 1, 100);
    add(&b, 0, 2, 115);
    CHECK(!batch_due(&b, 119));
    CHECK(batch_wait_ms(&b, 105, 500) == 15);
    CHECK(batch_wait_ms(&b, 119, 500) == 1);
    CHECK(batch_due(&b, 120));
    CHECK(batch_wait_ms(&b, 120, 500) == 0);
    CHECK(batch_wait_ms(&b, 500, 500) == 0);
    batch_free(&b);
}

static void batch_ms_zero_is_due_at_once(void)
{
    struct batch b;

    batch_init(&b, 1000, 0);
    add(&b, 0, 1, 100);
    CHECK(batch_due(&b, 100));
    batch_free(&b);
}

static void the_wait_is_capped_by_the_idle_poll(void)
{
    struct batch b;

    batch_init(&b, 1000, 60000);
    add(&b, 0, 1, 0);
    CHECK(batch_wait_ms(&b, 0, 500) == 500);
    batch_free(&b);
}

static void grows_past_its_size_when_asked(void)
{
    struct batch b;

    batch_init(&b, 2, 20);
    for (int i = 0; i < 50; i++)
        add(&b, i % 3, i, 0);
    CHECK(b.n == 50);
    CHECK(b.entries[49].offset == 49);
    batch_free(&b);
}

static void clearing_resets_the_stage_and_the_age(void)
{
    struct batch b;

    batch_init(&b, 10, 20);
    add(&b, 0, 1, 100);
    b.stage = STAGE_CONFIRM;
    batch_clear(&b);
    CHECK(b.n == 0 && b.stage == STAGE_DEAD_LETTERS);
    add(&b, 0, 2, 500);
    CHECK(!batch_due(&b, 510));
    CHECK(batch_due(&b, 520));
    batch_free(&b);
}

static void offsets_are_one_past_the_highest_per_partition(void)
{
    struct batch b;
    struct partition_offset *po;
    size_t n;

    batch_init(&b, 10, 20);
    CHECK(batch_offsets(&b, &n) == NULL && n == 0);
    add(&b, 2, 40, 0);
    add(&b, 0, 7, 0);
    add(&b, 2, 41, 0);
    add(&b, 5, 0, 0);
    add(&b, 0, 8, 0);
    po = batch_offsets(&b, &n);
    CHECK(po != NULL && n == 3);
    CHECK(po[0].partition == 2 && po[0].next == 42);
    CHECK(po[1].partition == 0 && po[1].next == 9);
    CHECK(po[2].partition == 5 && po[2].next == 1);
    free(po);
    batch_free(&b);
}

static void dead_letters_count_in_the_offsets_and_keep_copies(void)
{
    struct batch b;
    struct partition_offset *po;
    char key[] = "1", value[] = "{oops";
    size_t n;

    batch_init(&b, 10, 20);
    add(&b, 1, 3, 0);
    CHECK(batch_add_dead(&b, 1, 4, key, 1, value, 5, "invalid JSON", 0) == 0);
    CHECK(batch_add_dead(&b, 1, 5, NULL, 0, NULL, 0, "empty value", 0) == 0);
    value[0] = 'X';
    CHECK(b.entries[1].kind == ENTRY_DEAD);
    CHECK(memcmp(b.entries[1].dead->value, "{oops", 5) == 0);
    CHECK(b.entries[1].dead->value_len == 5 && b.entries[1].dead->key_len == 1);
    CHECK_STR(b.entries[1].dead->reason, "invalid JSON");
    CHECK(b.entries[2].dead->key == NULL && b.entries[2].dead->value_len == 0);
    CHECK(batch_count(&b, ENTRY_DEAD, VERDICT_UNKNOWN) == 2);
    po = batch_offsets(&b, &n);
    CHECK(n == 1 && po[0].next == 6);
    free(po);
    batch_free(&b);
}

static void revoked_partitions_leave_the_others_in_order(void)
{
    struct batch b;
    int32_t revoked[] = { 1, 4 };

    batch_init(&b, 10, 20);
    add(&b, 0, 1, 0);
    add(&b, 1, 1, 0);
    CHECK(batch_add_dead(&b, 1, 2, "k", 1, "v", 1, "bad", 0) == 0);
    add(&b, 2, 1, 0);
    add(&b, 0, 2, 0);
    CHECK(batch_drop_partitions(&b, revoked, 2) == 2);
    CHECK(b.n == 3);
    CHECK(b.entries[0].partition == 0 && b.entries[0].offset == 1);
    CHECK(b.entries[1].partition == 2);
    CHECK(b.entries[2].partition == 0 && b.entries[2].offset == 2);
    batch_free(&b);
}

static void a_batch_emptied_by_a_revoke_starts_over(void)
{
    struct batch b;
    int32_t revoked[] = { 0 };

    batch_init(&b, 10, 20);
    add(&b, 0, 1, 0);
    b.stage = STAGE_INSERT;
    CHECK(batch_drop_partitions(&b, revoked, 1) == 1);
    CHECK(b.n == 0 && b.stage == STAGE_DEAD_LETTERS);
    batch_free(&b);
}

static void swapping_exchanges_contents(void)
{
    struct batch a, b;

    batch_init(&a, 10, 20);
    batch_init(&b, 10, 20);
    add(&a, 3, 9, 0);
    batch_swap(&a, &b);
    CHECK(a.n == 0 && b.n == 1 && b.entries[0].partition == 3);
    batch_free(&a);
    batch_free(&b);
}

static void the_insert_has_the_claimed_orders_only(void)
{
    struct batch b;
    struct sqlbuf sql = { 0 };
    struct order_event e1 = order(1048576, 3, 42, 1732579200123LL);
    struct order_event e2 = order(1048577, 3, 43, 1732579200124LL);
    struct order_event e3 = order(9007199254740991ULL, 9007199254740991ULL, 9007199254740991ULL, 0);

    batch_init(&b, 10, 20);
    CHECK(batch_add_order(&b, 0, 1, &e1, 0) == 0);
    CHECK(batch_add_order(&b, 0, 2, &e2, 0) == 0);
    CHECK(batch_add_dead(&b, 0, 3, "1", 1, "x", 1, "bad", 0) == 0);
    CHECK(batch_add_order(&b, 1, 1, &e3, 0) == 0);
    CHECK(sql_insert_orders(&sql, &b) == 0);
    CHECK(sql.len == 0);

    b.entries[0].verdict = VERDICT_CLAIMED;
    b.entries[1].verdict = VERDICT_DROPPED;
    b.entries[3].verdict = VERDICT_CLAIMED;
    CHECK(sql_insert_orders(&sql, &b) == 2);
    CHECK_STR(sql.p, "INSERT INTO orders (order_id, course_id, user_id, created_at) VALUES "
                     "(1048576,3,42,1732579200123),"
                     "(9007199254740991,9007199254740991,9007199254740991,0)"
                     " ON DUPLICATE KEY UPDATE order_id = order_id");
    CHECK(sql.len == strlen(sql.p));
    sqlbuf_free(&sql);
    batch_free(&b);
}

static void the_sql_buffer_is_reused_and_grows(void)
{
    struct batch b;
    struct sqlbuf sql = { 0 };
    char *first;

    batch_init(&b, 1000, 20);
    for (int i = 0; i < 3; i++) {
        add(&b, 0, i, 0);
        b.entries[i].verdict = VERDICT_CLAIMED;
    }
    CHECK(sql_insert_orders(&sql, &b) == 3);
    first = sql.p;
    CHECK(sql_insert_orders(&sql, &b) == 3);
    CHECK(sql.p == first);
    for (int i = 3; i < 1000; i++) {
        struct order_event ev = order(UINT64_MAX, UINT64_MAX, UINT64_MAX, INT64_MIN);

        CHECK(batch_add_order(&b, 0, i, &ev, 0) == 0);
        b.entries[i].verdict = VERDICT_CLAIMED;
    }
    CHECK(sql_insert_orders(&sql, &b) == 1000);
    CHECK(sql.len == strlen(sql.p) && sql.len < sql.cap);
    CHECK(strstr(sql.p, "(18446744073709551615,18446744073709551615,18446744073709551615,"
                        "-9223372036854775808)") != NULL);
    sqlbuf_free(&sql);
    batch_free(&b);
}

/* Appends an order of the course with offset = the entry's index. */
static void add_course(struct batch *b, uint64_t course, enum verdict verdict)
{
    struct order_event ev = order(b->n + 100, course, b->n + 1000, 5);

    CHECK(batch_add_order(b, 0, (int64_t)b->n, &ev, 0) == 0);
    b->entries[b->n - 1].verdict = verdict;
}

static void orders_are_grouped_by_course_in_batch_order(void)
{
    struct batch b;
    struct course_order *o;
    size_t n;
    const uint64_t courses[] = { 7, 3, 7, 9, 3, 3, 7 };
    const size_t want[] = { 1, 4, 5, 0, 2, 6, 3 };

    batch_init(&b, 10, 20);
    for (size_t i = 0; i < 7; i++)
        add_course(&b, courses[i], VERDICT_UNKNOWN);
    CHECK(batch_by_course(&b, SELECT_ORDERS, &o, &n) == 0);
    CHECK(o != NULL && n == 7);
    for (size_t i = 0; i < n && i < 7; i++) {
        CHECK(o[i].entry == want[i]);
        CHECK(o[i].course_id == courses[want[i]]);
    }
    free(o);
    batch_free(&b);
}

static void a_large_batch_keeps_batch_order_within_a_course(void)
{
    struct batch b;
    struct course_order *o;
    size_t n;

    batch_init(&b, 1000, 20);
    for (size_t i = 0; i < 1000; i++)
        add_course(&b, i % 3, VERDICT_UNKNOWN);
    CHECK(batch_by_course(&b, SELECT_ORDERS, &o, &n) == 0);
    CHECK(n == 1000);
    for (size_t i = 1; i < n; i++)
        CHECK(o[i - 1].course_id < o[i].course_id
              || (o[i - 1].course_id == o[i].course_id && o[i - 1].entry < o[i].entry));
    free(o);
    batch_free(&b);
}

static void the_claimed_selection_skips_dead_letters_and_other_verdicts(void)
{
    struct batch b;
    struct course_order *o;
    size_t n;

    batch_init(&b, 10, 20);
    add_course(&b, 4, VERDICT_CLAIMED);
    add_course(&b, 4, VERDICT_DROPPED);
    CHECK(batch_add_dead(&b, 0, 2, "k", 1, "v", 1, "bad", 0) == 0);
    add_course(&b, 2, VERDICT_UNKNOWN);
    add_course(&b, 4, VERDICT_CLAIMED);
    add_course(&b, 2, VERDICT_CLAIMED);

    CHECK(batch_by_course(&b, SELECT_ORDERS, &o, &n) == 0);
    CHECK(n == 5);
    CHECK(o[0].entry == 3 && o[1].entry == 5 && o[2].entry == 0);
    CHECK(o[3].entry == 1 && o[4].entry == 4);
    free(o);

    CHECK(batch_by_course(&b, SELECT_CLAIMED, &o, &n) == 0);
    CHECK(n == 3);
    CHECK(o[0].entry == 5 && o[0].course_id == 2);
    CHECK(o[1].entry == 0 && o[2].entry == 4 && o[2].course_id == 4);
    free(o);
    batch_free(&b);
}

static void nothing_selected_is_no_array(void)
{
    struct batch b;
    struct course_order stale, *o = &stale;
    size_t n = 99;

    batch_init(&b, 10, 20);
    CHECK(batch_by_course(&b, SELECT_ORDERS, &o, &n) == 0);
    CHECK(o == NULL && n == 0);
    CHECK(batch_add_dead(&b, 0, 0, "k", 1, "v", 1, "bad", 0) == 0);
    add_course(&b, 1, VERDICT_DROPPED);
    CHECK(batch_by_course(&b, SELECT_ORDERS, &o, &n) == 0);
    CHECK(n == 1);
    free(o);
    CHECK(batch_by_course(&b, SELECT_CLAIMED, &o, &n) == 0);
    CHECK(o == NULL && n == 0);
    batch_free(&b);
}

void suite_batch(void)
{
    UNIT_RUN(an_empty_batch_is_never_due_and_polls_idle);
    UNIT_RUN(full_at_batch_size);
    UNIT_RUN(due_when_the_first_entry_is_batch_ms_old);
    UNIT_RUN(batch_ms_zero_is_due_at_once);
    UNIT_RUN(the_wait_is_capped_by_the_idle_poll);
    UNIT_RUN(grows_past_its_size_when_asked);
    UNIT_RUN(clearing_resets_the_stage_and_the_age);
    UNIT_RUN(offsets_are_one_past_the_highest_per_partition);
    UNIT_RUN(dead_letters_count_in_the_offsets_and_keep_copies);
    UNIT_RUN(revoked_partitions_leave_the_others_in_order);
    UNIT_RUN(a_batch_emptied_by_a_revoke_starts_over);
    UNIT_RUN(swapping_exchanges_contents);
    UNIT_RUN(the_insert_has_the_claimed_orders_only);
    UNIT_RUN(the_sql_buffer_is_reused_and_grows);
    UNIT_RUN(orders_are_grouped_by_course_in_batch_order);
    UNIT_RUN(a_large_batch_keeps_batch_order_within_a_course);
    UNIT_RUN(the_claimed_selection_skips_dead_letters_and_other_verdicts);
    UNIT_RUN(nothing_selected_is_no_array);
}
