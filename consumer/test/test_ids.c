/* Which strings are ids (ids.c). */
#include "ids.h"
#include "unit.h"

static int is_id(const char *s, uint64_t *id)
{
    return parse_id(s, strlen(s), id) == 0;
}

static void smallest_and_largest_ids_parse(void)
{
    uint64_t id = 0;

    CHECK(is_id("1", &id) && id == 1);
    CHECK(is_id("42", &id) && id == 42);
    CHECK(is_id("9007199254740991", &id) && id == SECKILL_ID_MAX);
}

static void zero_and_beyond_2_pow_53_are_not_ids(void)
{
    uint64_t id;

    CHECK(!is_id("0", &id));
    CHECK(!is_id("9007199254740992", &id));
    CHECK(!is_id("99999999999999999", &id));
    CHECK(!is_id("18446744073709551616", &id));
}

static void only_plain_digits_are_ids(void)
{
    uint64_t id;

    CHECK(!is_id("", &id));
    CHECK(!is_id("01", &id));
    CHECK(!is_id("-1", &id));
    CHECK(!is_id("+1", &id));
    CHECK(!is_id(" 1", &id));
    CHECK(!is_id("1 ", &id));
    CHECK(!is_id("1a", &id));
    CHECK(!is_id("0x10", &id));
}

static void parsing_stops_at_the_given_length(void)
{
    uint64_t id = 0;

    CHECK(parse_id("123/456", 3, &id) == 0 && id == 123);
    CHECK(parse_id("123/456", 4, &id) != 0);
}

void suite_ids(void)
{
    UNIT_RUN(smallest_and_largest_ids_parse);
    UNIT_RUN(zero_and_beyond_2_pow_53_are_not_ids);
    UNIT_RUN(only_plain_digits_are_ids);
    UNIT_RUN(parsing_stops_at_the_given_length);
}
