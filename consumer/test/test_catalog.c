/* The demo catalogue (catalog.c). */
#include "catalog.h"
#include "unit.h"

static void demo_has_six_courses_and_850_seats(void)
{
    static const uint32_t seats[] = { 150, 100, 150, 150, 100, 200 };
    struct course demo[CATALOG_DEMO_COURSES];
    uint32_t total = 0;

    catalog_demo(1000, demo);
    CHECK(CATALOG_DEMO_COURSES == 6);
    for (size_t i = 0; i < CATALOG_DEMO_COURSES; i++) {
        CHECK(demo[i].id == i + 1);
        CHECK(demo[i].total == seats[i]);
        CHECK(strstr(demo[i].name, " / ") != NULL);
        total += demo[i].total;
    }
    CHECK(total == 850);
}

static void demo_is_on_sale_from_now_for_30_days(void)
{
    struct course demo[CATALOG_DEMO_COURSES];
    int64_t now = 1764000000000LL;

    catalog_demo(now, demo);
    for (size_t i = 0; i < CATALOG_DEMO_COURSES; i++) {
        CHECK(demo[i].starts_at == now);
        CHECK(demo[i].ends_at == now + 30LL * 24 * 3600 * 1000);
    }
}

void suite_catalog(void)
{
    UNIT_RUN(demo_has_six_courses_and_850_seats);
    UNIT_RUN(demo_is_on_sale_from_now_for_30_days);
}
