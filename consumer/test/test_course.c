/* Times of a sale window as the CLI reads and prints them (course.c). */
#include "course.h"
#include "unit.h"

#include <stdint.h>

/* 2026-12-01T10:00:00Z */
#define DEC_1_2026_10H INT64_C(1796119200000)

static int64_t at(const char *text)
{
    int64_t ms = -42;

    return course_parse_time(text, DEC_1_2026_10H, &ms) == 0 ? ms : -42;
}

static int refused(const char *text)
{
    int64_t ms;

    return course_parse_time(text, DEC_1_2026_10H, &ms) != 0;
}

static void iso_8601_utc_is_read_as_unix_ms(void)
{
    CHECK(at("1970-01-01T00:00:00Z") == 0);
    CHECK(at("2026-12-01T10:00:00Z") == DEC_1_2026_10H);
    CHECK(at("2026-12-01T10:00:00.250Z") == DEC_1_2026_10H + 250);
    CHECK(at("2000-02-29T23:59:59Z") == INT64_C(951868799000));
    CHECK(at("9999-12-31T23:59:59Z") == INT64_C(253402300799000));
}

static void relative_times_count_from_now(void)
{
    CHECK(at("now") == DEC_1_2026_10H);
    CHECK(at("+30s") == DEC_1_2026_10H + 30000);
    CHECK(at("+5m") == DEC_1_2026_10H + 300000);
    CHECK(at("+2h") == DEC_1_2026_10H + 7200000);
    CHECK(at("-1h") == DEC_1_2026_10H - 3600000);
    CHECK(at("+1d") == DEC_1_2026_10H + 86400000);
    CHECK(at("+0s") == DEC_1_2026_10H);
}

static void malformed_times_are_refused(void)
{
    CHECK(refused(""));
    CHECK(refused("NOW"));
    CHECK(refused("+30"));            /* the unit is required */
    CHECK(refused("+s"));
    CHECK(refused("30s"));            /* relative takes a sign */
    CHECK(refused("+30x"));
    CHECK(refused("+30s "));
    CHECK(refused("+-30s"));
    CHECK(refused("+99999999999d"));  /* beyond ten years */
    CHECK(refused("2026-12-01T10:00:00"));       /* UTC only, said with Z */
    CHECK(refused("2026-12-01T10:00:00+08:00"));
    CHECK(refused("2026-12-01 10:00:00Z"));
    CHECK(refused("2026-12-01"));
    CHECK(refused("2026-12-01T10:00Z"));
    CHECK(refused("2026-12-01T10:00:00.5Z"));
    CHECK(refused("2026-12-01T10:00:00Zjunk"));
    CHECK(refused("1969-12-31T23:59:59Z"));
    CHECK(refused("1795648000000"));
}

static void impossible_dates_are_refused(void)
{
    CHECK(refused("2026-13-01T00:00:00Z"));
    CHECK(refused("2026-00-01T00:00:00Z"));
    CHECK(refused("2026-02-29T00:00:00Z"));
    CHECK(at("2024-02-29T00:00:00Z") != -42);
    CHECK(refused("2100-02-29T00:00:00Z"));
    CHECK(refused("2026-04-31T00:00:00Z"));
    CHECK(refused("2026-12-01T24:00:00Z"));
    CHECK(refused("2026-12-01T10:60:00Z"));
    CHECK(refused("2026-12-01T10:00:60Z"));
}

static void durations_need_a_unit(void)
{
    int64_t ms = 0;

    CHECK(course_parse_duration("60s", &ms) == 0 && ms == 60000);
    CHECK(course_parse_duration("5m", &ms) == 0 && ms == 300000);
    CHECK(course_parse_duration("2h", &ms) == 0 && ms == 7200000);
    CHECK(course_parse_duration("1d", &ms) == 0 && ms == 86400000);
    CHECK(course_parse_duration("60", &ms) != 0);
    CHECK(course_parse_duration("-60s", &ms) != 0);
    CHECK(course_parse_duration("1.5h", &ms) != 0);
    CHECK(course_parse_duration("3661d", &ms) != 0);
}

static void times_print_as_iso_8601_utc_and_read_back(void)
{
    char buf[40];
    int64_t samples[] = { 0, DEC_1_2026_10H, DEC_1_2026_10H + 250, INT64_C(951868799000),
                          INT64_C(253402300799000) };

    course_format_time(DEC_1_2026_10H, buf, sizeof(buf));
    CHECK_STR(buf, "2026-12-01T10:00:00Z");
    course_format_time(DEC_1_2026_10H + 7, buf, sizeof(buf));
    CHECK_STR(buf, "2026-12-01T10:00:00.007Z");
    course_format_time(0, buf, sizeof(buf));
    CHECK_STR(buf, "1970-01-01T00:00:00Z");
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        course_format_time(samples[i], buf, sizeof(buf));
        CHECK(at(buf) == samples[i]);
    }
}

void suite_course(void)
{
    UNIT_RUN(iso_8601_utc_is_read_as_unix_ms);
    UNIT_RUN(relative_times_count_from_now);
    UNIT_RUN(malformed_times_are_refused);
    UNIT_RUN(impossible_dates_are_refused);
    UNIT_RUN(durations_need_a_unit);
    UNIT_RUN(times_print_as_iso_8601_utc_and_read_back);
}
