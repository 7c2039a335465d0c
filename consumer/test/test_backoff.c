/* The retry schedule (backoff.c). */
#include "backoff.h"
#include "unit.h"

static void doubles_from_100_ms(void)
{
    CHECK(backoff_ms(0) == 100);
    CHECK(backoff_ms(1) == 200);
    CHECK(backoff_ms(2) == 400);
    CHECK(backoff_ms(3) == 800);
    CHECK(backoff_ms(4) == 1600);
    CHECK(backoff_ms(5) == 3200);
}

static void stops_at_5_s(void)
{
    CHECK(backoff_ms(6) == 5000);
    CHECK(backoff_ms(7) == 5000);
    CHECK(backoff_ms(1000) == 5000);
    CHECK(backoff_ms(4294967295u) == 5000);
}

static void never_shrinks(void)
{
    for (unsigned i = 0; i < 100; i++)
        CHECK(backoff_ms(i + 1) >= backoff_ms(i));
}

void suite_backoff(void)
{
    UNIT_RUN(doubles_from_100_ms);
    UNIT_RUN(stops_at_5_s);
    UNIT_RUN(never_shrinks);
}
