/* Names of the Redis keys of the contract, built and recognised in one place.
 * Every key of a course carries the hash tag {c<id>}, so a course lives in one
 * Redis Cluster slot:
 *   seckill:courses            ZSET  course ids (score = id): the catalogue
 *   seckill:{c<id>}            HASH  name, total, remaining, starts_at, ends_at
 *   seckill:{c<id>}:pending    ZSET  user id -> reservation time (Unix ms)
 *   seckill:{c<id>}:u:<uid>    HASH  order_id, status, ts */
#ifndef SECKILL_KEYS_H
#define SECKILL_KEYS_H

#include <stddef.h>
#include <stdint.h>

#define KEY_COURSES "seckill:courses"
/* Every per-course key, and nothing else, matches this SCAN pattern
 * ('{' and '}' are not special in Redis glob patterns). */
#define KEY_ANY_COURSE_PATTERN "seckill:{c*"
/* Every user's order status key matches this one. */
#define KEY_ANY_USER_PATTERN "seckill:{c*}:u:*"
/* Large enough for the longest key of two 16-digit ids. */
#define KEY_MAX 64

enum key_kind {
    KEY_NOT_COURSE,      /* not a per-course key of ours */
    KEY_COURSE,          /* seckill:{c<id>} */
    KEY_PENDING,         /* seckill:{c<id>}:pending */
    KEY_USER,            /* seckill:{c<id>}:u:<uid> */
    KEY_COURSE_OTHER     /* seckill:{c<id>}<anything else> */
};

void key_course(char buf[KEY_MAX], uint64_t course_id);
void key_pending(char buf[KEY_MAX], uint64_t course_id);
void key_user(char buf[KEY_MAX], uint64_t course_id, uint64_t user_id);

/* Tells which key of the contract the len bytes at key are; sets *course_id
 * for every kind but KEY_NOT_COURSE. */
enum key_kind key_classify(const char *key, size_t len, uint64_t *course_id);

#endif
