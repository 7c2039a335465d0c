/* The consumer's hands on the Redis key names of the contract
 * (protocol/seckill_keys.h, which says what each key holds): building them
 * into fixed buffers, and telling which one a key found by SCAN is. */
#ifndef SECKILL_CONSUMER_KEYS_H
#define SECKILL_CONSUMER_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "seckill_keys.h"
#include "seckill_slot.h"

enum key_kind {
    KEY_NOT_COURSE,      /* not a per-course key of ours */
    KEY_COURSE,          /* seckill:{c<id>} */
    KEY_PENDING,         /* seckill:{c<id>}:pending */
    KEY_USER,            /* seckill:{c<id>}:u:<uid> */
    KEY_COURSE_OTHER     /* seckill:{c<id>}<anything else> */
};

void key_course(char buf[SECKILL_KEY_MAX], uint64_t course_id);
void key_pending(char buf[SECKILL_KEY_MAX], uint64_t course_id);
void key_user(char buf[SECKILL_KEY_MAX], uint64_t course_id, uint64_t user_id);

/* The Redis Cluster slot of a key of no course (seckill:courses,
 * seckill:order_gen): that of its whole name. Every key of a course is in
 * seckill_course_slot(id). */
unsigned key_slot(const char *key);

/* Tells which key of the contract the len bytes at key are; sets *course_id
 * for every kind but KEY_NOT_COURSE, and *user_id (when not NULL) for
 * KEY_USER. */
enum key_kind key_classify(const char *key, size_t len, uint64_t *course_id,
                           uint64_t *user_id);

#endif
