/* Redis Cluster routing shared by the module and the consumer
 * (protocol/seckill_slot.h): key slots and redirections. */
#include "seckill_slot.h"
#include "unit.h"

static unsigned slot_of(const char *key)
{
    return seckill_key_slot(key, strlen(key));
}

static void slots_are_crc16_xmodem_of_the_key(void)
{
    CHECK(seckill_crc16((const unsigned char *)"123456789", 9) == 0x31C3);
    CHECK(slot_of("foo") == 12182);
    CHECK(slot_of("bar") == 5061);
    CHECK(slot_of("hello") == 866);
}

static void a_hash_tag_decides_the_slot(void)
{
    CHECK(slot_of("{foo}.anything") == slot_of("foo"));
    CHECK(slot_of("x{foo}y{bar}") == slot_of("foo"));
    /* an empty tag, or an unclosed one, is no tag: the whole key counts */
    CHECK(slot_of("{}foo") == seckill_crc16((const unsigned char *)"{}foo", 5) % 16384);
    CHECK(slot_of("{foo") == seckill_crc16((const unsigned char *)"{foo", 4) % 16384);
}

static void every_key_of_a_course_shares_its_slot(void)
{
    CHECK(seckill_course_slot(7) == slot_of("seckill:{c7}"));
    CHECK(seckill_course_slot(7) == slot_of("seckill:{c7}:pending"));
    CHECK(seckill_course_slot(7) == slot_of("seckill:{c7}:u:123"));
    CHECK(seckill_course_slot(9007199254740991ULL) == slot_of("c9007199254740991"));
}

static int parse(const char *err, seckill_redirect_t *rd)
{
    return seckill_redirect_parse(err, strlen(err), rd);
}

static void moved_and_ask_are_read(void)
{
    seckill_redirect_t rd;

    CHECK(parse("MOVED 3999 127.0.0.1:6381", &rd) == 1);
    CHECK(rd.ask == 0 && rd.slot == 3999 && rd.port == 6381);
    CHECK_STR(rd.host, "127.0.0.1");
    CHECK(parse("ASK 0 ::1:7000", &rd) == 1);
    CHECK(rd.ask == 1 && rd.slot == 0 && rd.port == 7000);
    CHECK_STR(rd.host, "::1");
    CHECK(parse("MOVED 16383 10.0.0.2:1", &rd) == 1 && rd.slot == 16383);
}

static void other_errors_are_no_redirection(void)
{
    seckill_redirect_t rd;

    CHECK(parse("NOSCRIPT No matching script", &rd) == 0);
    CHECK(parse("ERR unknown command", &rd) == 0);
    CHECK(parse("MOVED", &rd) == 0);
    CHECK(parse("MOVED 16384 127.0.0.1:6381", &rd) == 0);
    CHECK(parse("MOVED  1 127.0.0.1:6381", &rd) == 0);
    CHECK(parse("MOVED 1 127.0.0.1", &rd) == 0);
    CHECK(parse("MOVED 1 127.0.0.1:", &rd) == 0);
    CHECK(parse("MOVED 1 :6379", &rd) == 0);
    CHECK(parse("MOVED 1 127.0.0.1:0", &rd) == 0);
    CHECK(parse("MOVED 1 127.0.0.1:65536", &rd) == 0);
    CHECK(parse("ASK 1 127.0.0.1:63x", &rd) == 0);
}

void suite_slot(void)
{
    UNIT_RUN(slots_are_crc16_xmodem_of_the_key);
    UNIT_RUN(a_hash_tag_decides_the_slot);
    UNIT_RUN(every_key_of_a_course_shares_its_slot);
    UNIT_RUN(moved_and_ask_are_read);
    UNIT_RUN(other_errors_are_no_redirection);
}
