/* Grouping orders into script calls and laying a call out (call.c). */
#include "call.h"
#include "unit.h"

#include <stdio.h>

/* The call's argv as one line, for comparing. */
static const char *joined(const struct call *c)
{
    static char line[4096];
    size_t at = 0;

    line[0] = '\0';
    for (int i = 0; i < c->argc && at < sizeof(line); i++)
        at += (size_t)snprintf(line + at, sizeof(line) - at, i ? " %s" : "%s", c->argv[i]);
    return line;
}

static void orders_are_sorted_by_course_in_the_callers_order(void)
{
    struct course_order o[] = {
        { 7, 0 }, { 3, 1 }, { 7, 2 }, { 9, 3 }, { 3, 4 }, { 3, 5 }, { 7, 6 }
    };
    const size_t want[] = { 1, 4, 5, 0, 2, 6, 3 };

    course_orders_sort(o, 7);
    for (size_t i = 0; i < 7; i++)
        CHECK(o[i].entry == want[i]);
    course_orders_sort(o, 0);
}

static void calls_end_at_a_new_course_or_at_the_limit(void)
{
    const struct course_order o[] = {
        { 1, 0 }, { 1, 3 }, { 1, 4 }, { 1, 9 }, { 1, 10 }, { 2, 1 }, { 5, 2 }, { 5, 5 }
    };
    const size_t want[] = { 2, 2, 1, 1, 2 };
    size_t at = 0, calls = 0, len;

    for (; at < 8; at += len, calls++) {
        len = course_run(o + at, 8 - at, 2);
        CHECK(calls < 5 && len == want[calls]);
        if (len == 0)
            break;
    }
    CHECK(at == 8 && calls == 5);
    CHECK(course_run(o, 8, 100) == 5);
    CHECK(course_run(o + 7, 1, 100) == 1);
    CHECK(course_run(o, 0, 100) == 0);
}

static void a_call_has_the_keys_then_the_ids_of_its_orders(void)
{
    static struct call c;

    call_begin(&c, "sha1", 7);
    call_add(&c, 11, 1048576);
    call_add(&c, 12, 1048577);
    call_end(&c);
    CHECK(c.argc == 11);
    CHECK_STR(joined(&c), "EVALSHA sha1 4 seckill:{c7} seckill:{c7}:pending "
              "seckill:{c7}:u:11 seckill:{c7}:u:12 11 1048576 12 1048577");
}

static void reserve_has_the_clock_last(void)
{
    static struct call c;

    call_begin(&c, "sha1", 3);
    call_add(&c, 5, 6);
    call_end_at(&c, 1700000000123);
    CHECK_STR(joined(&c), "EVALSHA sha1 3 seckill:{c3} seckill:{c3}:pending "
              "seckill:{c3}:u:5 5 6 1700000000123");
}

static void one_call_serves_the_next(void)
{
    static struct call c;

    call_begin(&c, "a", 1);
    call_add(&c, 1, 2);
    call_add(&c, 3, 4);
    call_end_at(&c, 9);
    call_begin(&c, "b", 2);
    call_add(&c, 5, 6);
    call_end(&c);
    CHECK_STR(joined(&c), "EVALSHA b 3 seckill:{c2} seckill:{c2}:pending seckill:{c2}:u:5 5 6");
}

static void a_full_call_takes_no_more_orders(void)
{
    static struct call c;

    call_begin(&c, "sha1", 1);
    for (uint64_t i = 1; i <= CALL_MAX_ORDERS + 1; i++)
        call_add(&c, i, i);
    call_end_at(&c, 1);
    CHECK(c.n == CALL_MAX_ORDERS);
    CHECK(c.argc == CALL_ARGS);
    CHECK_STR(c.argv[2], "102");
    CHECK_STR(c.argv[CALL_ARGS - 2], "100");
}

void suite_call(void)
{
    UNIT_RUN(orders_are_sorted_by_course_in_the_callers_order);
    UNIT_RUN(calls_end_at_a_new_course_or_at_the_limit);
    UNIT_RUN(a_call_has_the_keys_then_the_ids_of_its_orders);
    UNIT_RUN(reserve_has_the_clock_last);
    UNIT_RUN(one_call_serves_the_next);
    UNIT_RUN(a_full_call_takes_no_more_orders);
}
