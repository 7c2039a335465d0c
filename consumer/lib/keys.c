/* Building and recognising the Redis key names of the contract (keys.h). */
#include "keys.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "ids.h"

/* What follows the '}' closing the course id in a key: its macro with an
 * empty id, past the course hash's name. Derived, so that a renamed key
 * is renamed here too. */
#define COURSE_HEAD_LEN (sizeof(SECKILL_KEY_COURSE("")) - 1)
#define PENDING_TAIL (SECKILL_KEY_PENDING("") + COURSE_HEAD_LEN)
#define PENDING_TAIL_LEN (sizeof(SECKILL_KEY_PENDING("")) - 1 - COURSE_HEAD_LEN)
#define USER_TAIL (SECKILL_KEY_USER("", "") + COURSE_HEAD_LEN)
#define USER_TAIL_LEN (sizeof(SECKILL_KEY_USER("", "")) - 1 - COURSE_HEAD_LEN)

unsigned key_slot(const char *key)
{
    return seckill_key_slot(key, strlen(key));
}

void key_course(char buf[SECKILL_KEY_MAX], uint64_t course_id)
{
    snprintf(buf, SECKILL_KEY_MAX, SECKILL_KEY_COURSE("%" PRIu64), course_id);
}

void key_pending(char buf[SECKILL_KEY_MAX], uint64_t course_id)
{
    snprintf(buf, SECKILL_KEY_MAX, SECKILL_KEY_PENDING("%" PRIu64), course_id);
}

void key_user(char buf[SECKILL_KEY_MAX], uint64_t course_id, uint64_t user_id)
{
    snprintf(buf, SECKILL_KEY_MAX, SECKILL_KEY_USER("%" PRIu64, "%" PRIu64),
             course_id, user_id);
}

enum key_kind key_classify(const char *key, size_t len, uint64_t *course_id,
                           uint64_t *user_id)
{
    size_t plen = sizeof(SECKILL_KEY_COURSE_PREFIX) - 1;
    const char *id, *close, *rest;
    size_t rest_len;
    uint64_t uid;

    if (len <= plen || memcmp(key, SECKILL_KEY_COURSE_PREFIX, plen) != 0)
        return KEY_NOT_COURSE;
    id = key + plen;
    close = memchr(id, '}', len - plen);
    if (close == NULL || parse_id(id, (size_t)(close - id), course_id) != 0)
        return KEY_NOT_COURSE;

    rest = close + 1;
    rest_len = len - (size_t)(rest - key);
    if (rest_len == 0)
        return KEY_COURSE;
    if (rest_len == PENDING_TAIL_LEN && memcmp(rest, PENDING_TAIL, PENDING_TAIL_LEN) == 0)
        return KEY_PENDING;
    if (rest_len > USER_TAIL_LEN && memcmp(rest, USER_TAIL, USER_TAIL_LEN) == 0
        && parse_id(rest + USER_TAIL_LEN, rest_len - USER_TAIL_LEN, &uid) == 0) {
        if (user_id != NULL)
            *user_id = uid;
        return KEY_USER;
    }
    return KEY_COURSE_OTHER;
}
