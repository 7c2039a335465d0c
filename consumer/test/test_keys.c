/* Redis key names of the contract (keys.c). */
#include "keys.h"
#include "unit.h"

static enum key_kind kind_of(const char *key, uint64_t *id)
{
    return key_classify(key, strlen(key), id, NULL);
}

static void keys_carry_the_course_hash_tag(void)
{
    char buf[SECKILL_KEY_MAX];

    key_course(buf, 7);
    CHECK_STR(buf, "seckill:{c7}");
    key_pending(buf, 7);
    CHECK_STR(buf, "seckill:{c7}:pending");
    key_user(buf, 9007199254740991ULL, 9007199254740991ULL);
    CHECK_STR(buf, "seckill:{c9007199254740991}:u:9007199254740991");
}

static void each_kind_of_course_key_is_recognised(void)
{
    uint64_t id = 0;

    CHECK(kind_of("seckill:{c1}", &id) == KEY_COURSE && id == 1);
    CHECK(kind_of("seckill:{c12}:pending", &id) == KEY_PENDING && id == 12);
    CHECK(kind_of("seckill:{c3}:u:77", &id) == KEY_USER && id == 3);
    CHECK(kind_of("seckill:{c3}:seq", &id) == KEY_COURSE_OTHER && id == 3);
    CHECK(kind_of("seckill:{c3}:u:x", &id) == KEY_COURSE_OTHER && id == 3);
}

static void a_user_key_gives_its_user_id(void)
{
    const char *key = "seckill:{c3}:u:9007199254740991";
    uint64_t course = 0, user = 0;

    CHECK(key_classify(key, strlen(key), &course, &user) == KEY_USER);
    CHECK(course == 3 && user == 9007199254740991ULL);
    user = 5;
    key = "seckill:{c3}:pending";
    CHECK(key_classify(key, strlen(key), &course, &user) == KEY_PENDING && user == 5);
}

static void course_1_is_not_course_12(void)
{
    uint64_t id = 0;

    CHECK(kind_of("seckill:{c12}", &id) == KEY_COURSE && id == 12);
}

static void other_keys_are_not_course_keys(void)
{
    uint64_t id;

    CHECK(kind_of("seckill:courses", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("seckill:{c}", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("seckill:{cx}", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("seckill:{c01}", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("seckill:{c1", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("seckill:{c", &id) == KEY_NOT_COURSE);
    CHECK(kind_of("other", &id) == KEY_NOT_COURSE);
}

void suite_keys(void)
{
    UNIT_RUN(keys_carry_the_course_hash_tag);
    UNIT_RUN(each_kind_of_course_key_is_recognised);
    UNIT_RUN(a_user_key_gives_its_user_id);
    UNIT_RUN(course_1_is_not_course_12);
    UNIT_RUN(other_keys_are_not_course_keys);
}
