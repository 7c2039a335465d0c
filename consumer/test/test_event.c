/* Order events: what is one, and the reason given for what is not (event.c). */
#include "event.h"
#include "unit.h"

#include <string.h>

static struct order_event ev;
static char why[EVENT_REASON_MAX];

/* Parses value with key; returns what event_parse returns. */
static int parse(const char *key, const char *value)
{
    memset(&ev, 0, sizeof(ev));
    why[0] = '\0';
    return event_parse(key, key ? strlen(key) : 0, value, value ? strlen(value) : 0, &ev, why);
}

static void a_valid_event_gives_its_four_numbers(void)
{
    CHECK(parse("3", "{\"order_id\":1048577,\"course_id\":3,\"user_id\":42,\"ts\":1732579200123}") == 0);
    CHECK(ev.order_id == 1048577);
    CHECK(ev.course_id == 3);
    CHECK(ev.user_id == 42);
    CHECK(ev.ts == 1732579200123LL);
}

static void field_order_spaces_and_extra_fields_do_not_matter(void)
{
    CHECK(parse("7", " { \"ts\" : 0 , \"user_id\":1,\"v\":2,\"course_id\":7,\"order_id\":9,\"x\":[1,{}]}\n") == 0);
    CHECK(ev.order_id == 9 && ev.course_id == 7 && ev.user_id == 1 && ev.ts == 0);
}

static void the_largest_id_is_two_to_the_53_minus_one(void)
{
    CHECK(parse("9007199254740991",
                "{\"order_id\":9007199254740991,\"course_id\":9007199254740991,"
                "\"user_id\":9007199254740991,\"ts\":1}") == 0);
    CHECK(ev.order_id == 9007199254740991ULL);
    CHECK(parse("1", "{\"order_id\":9007199254740992,\"course_id\":1,\"user_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "order_id = 9007199254740992 is out of range (1..9007199254740991)");
}

static void bad_json_is_refused_with_yajls_first_line(void)
{
    CHECK(parse("1", "{\"order_id\":1,") == -1);
    CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
    CHECK(strchr(why, '\n') == NULL);
    CHECK(parse("1", "not json") == -1);
    CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
    CHECK(parse("1", "{\"order_id\":1,\"course_id\":1,\"user_id\":1,\"ts\":1} trailing") == -1);
    CHECK(strncmp(why, "invalid JSON: ", 14) == 0);
}

static void empty_huge_and_nul_values_are_refused(void)
{
    static char big[EVENT_VALUE_MAX + 2];

    CHECK(parse("1", NULL) == -1);
    CHECK_STR(why, "empty value");
    CHECK(parse("1", "") == -1);
    CHECK_STR(why, "empty value");
    memset(big, ' ', sizeof(big) - 1);
    CHECK(parse("1", big) == -1);
    CHECK_STR(why, "value of 4097 bytes, longer than 4096");
    CHECK(event_parse("1", 1, "{}\0{}", 5, &ev, why) == -1);
    CHECK_STR(why, "NUL byte in the value");
}

static void a_value_that_is_not_an_object_is_refused(void)
{
    CHECK(parse("1", "[1,2,3]") == -1);
    CHECK_STR(why, "not a JSON object");
    CHECK(parse("1", "42") == -1);
    CHECK_STR(why, "not a JSON object");
}

static void each_missing_field_is_named(void)
{
    CHECK(parse("1", "{\"course_id\":1,\"user_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "missing field order_id");
    CHECK(parse("1", "{\"order_id\":1,\"user_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "missing field course_id");
    CHECK(parse("1", "{\"order_id\":1,\"course_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "missing field user_id");
    CHECK(parse("1", "{\"order_id\":1,\"course_id\":1,\"user_id\":1}") == -1);
    CHECK_STR(why, "missing field ts");
}

static void wrong_types_are_refused(void)
{
    CHECK(parse("1", "{\"order_id\":\"5\",\"course_id\":1,\"user_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "order_id is not a number");
    CHECK(parse("1", "{\"order_id\":5,\"course_id\":1,\"user_id\":null,\"ts\":1}") == -1);
    CHECK_STR(why, "user_id is not a number");
    CHECK(parse("1", "{\"order_id\":5,\"course_id\":1,\"user_id\":2.5,\"ts\":1}") == -1);
    CHECK_STR(why, "user_id = 2.5 is not an integer");
    CHECK(parse("1", "{\"order_id\":5,\"course_id\":1,\"user_id\":1e3,\"ts\":1}") == -1);
    CHECK_STR(why, "user_id = 1e3 is not an integer");
    CHECK(parse("1", "{\"order_id\":5,\"course_id\":1,\"user_id\":2,\"ts\":true}") == -1);
    CHECK_STR(why, "ts is not a number");
}

static void out_of_range_numbers_are_refused(void)
{
    CHECK(parse("1", "{\"order_id\":0,\"course_id\":1,\"user_id\":1,\"ts\":1}") == -1);
    CHECK_STR(why, "order_id = 0 is out of range (1..9007199254740991)");
    CHECK(parse("1", "{\"order_id\":1,\"course_id\":1,\"user_id\":-4,\"ts\":1}") == -1);
    CHECK_STR(why, "user_id = -4 is out of range (1..9007199254740991)");
    CHECK(parse("1", "{\"order_id\":1,\"course_id\":1,\"user_id\":4,\"ts\":-1}") == -1);
    CHECK_STR(why, "ts = -1 is out of range (0..9223372036854775807)");
    CHECK(parse("1", "{\"order_id\":123456789012345678901234,\"course_id\":1,\"user_id\":4,\"ts\":1}") == -1);
    CHECK_STR(why, "order_id = 123456789012345678901234 is out of range");
}

static void a_field_given_twice_is_refused(void)
{
    CHECK(parse("1", "{\"order_id\":1,\"order_id\":2,\"course_id\":1,\"user_id\":4,\"ts\":1}") == -1);
    CHECK_STR(why, "field order_id given twice");
}

static void the_key_must_be_the_course_id(void)
{
    const char *value = "{\"order_id\":1,\"course_id\":12,\"user_id\":4,\"ts\":1}";

    CHECK(parse("12", value) == 0);
    CHECK(parse(NULL, value) == -1);
    CHECK_STR(why, "no key (want course_id 12)");
    CHECK(parse("13", value) == -1);
    CHECK_STR(why, "key '13' does not match course_id 12");
    CHECK(parse("012", value) == -1);
    CHECK_STR(why, "key '012' does not match course_id 12");
    CHECK(parse("1\x01'2", value) == -1);
    CHECK_STR(why, "key '1?" "?2' does not match course_id 12");
    CHECK(parse("1234567890123456789012345678", value) == -1);
    CHECK_STR(why, "key '123456789012345678901234...' does not match course_id 12");
}

static void a_formatted_event_is_what_the_module_produces_and_parses_back(void)
{
    const struct order_event sent = { 9007199254740991ULL, 7, 42, 1732579200123LL };
    struct event_message m;

    event_format(&sent, &m);
    CHECK_STR(m.key, "7");
    CHECK(m.key_len == 1);
    CHECK_STR(m.value, "{\"order_id\":9007199254740991,\"course_id\":7,\"user_id\":42,\"ts\":1732579200123}");
    CHECK(m.value_len == strlen(m.value));
    CHECK(event_parse(m.key, m.key_len, m.value, m.value_len, &ev, why) == 0);
    CHECK(ev.order_id == sent.order_id && ev.course_id == sent.course_id
          && ev.user_id == sent.user_id && ev.ts == sent.ts);
}

void suite_event(void)
{
    UNIT_RUN(a_valid_event_gives_its_four_numbers);
    UNIT_RUN(field_order_spaces_and_extra_fields_do_not_matter);
    UNIT_RUN(the_largest_id_is_two_to_the_53_minus_one);
    UNIT_RUN(bad_json_is_refused_with_yajls_first_line);
    UNIT_RUN(empty_huge_and_nul_values_are_refused);
    UNIT_RUN(a_value_that_is_not_an_object_is_refused);
    UNIT_RUN(each_missing_field_is_named);
    UNIT_RUN(wrong_types_are_refused);
    UNIT_RUN(out_of_range_numbers_are_refused);
    UNIT_RUN(a_field_given_twice_is_refused);
    UNIT_RUN(the_key_must_be_the_course_id);
    UNIT_RUN(a_formatted_event_is_what_the_module_produces_and_parses_back);
}
