/* Building and recognising the Redis key names of the contract (keys.h). */
#include "keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"

#define COURSE_PREFIX "seckill:{c"

void key_course(char buf[KEY_MAX], uint64_t course_id)
{
    snprintf(buf, KEY_MAX, COURSE_PREFIX "%" PRIu64 "}", course_id);
}

void key_pending(char buf[KEY_MAX], uint64_t course_id)
{
    snprintf(buf, KEY_MAX, COURSE_PREFIX "%" PRIu64 "}:pending", course_id);
}

void key_user(char buf[KEY_MAX], uint64_t course_id, uint64_t user_id)
{
    snprintf(buf, KEY_MAX, COURSE_PREFIX "%" PRIu64 "}:u:%" PRIu64,
             course_id, user_id);
}

enum key_kind key_classify(const char *key, size_t len, uint64_t *course_id)
{
    size_t plen = sizeof(COURSE_PREFIX) - 1;
    const char *id, *close, *rest;
    size_t rest_len;
    uint64_t user_id;

    if (len <= plen || memcmp(key, COURSE_PREFIX, plen) != 0)
        return KEY_NOT_COURSE;
    id = key + plen;
    close = memchr(id, '}', len - plen);
    if (close == NULL || parse_id(id, (size_t)(close - id), course_id) != 0)
        return KEY_NOT_COURSE;

    rest = close + 1;
    rest_len = len - (size_t)(rest - key);
    if (rest_len == 0)
        return KEY_COURSE;
    if (rest_len == 8 && memcmp(rest, ":pending", 8) == 0)
        return KEY_PENDING;
    if (rest_len > 3 && memcmp(rest, ":u:", 3) == 0
        && parse_id(rest + 3, rest_len - 3, &user_id) == 0)
        return KEY_USER;
    return KEY_COURSE_OTHER;
}
