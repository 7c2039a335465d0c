/*
 * The Redis keys of Course Seckill, shared by the nginx module, the consumer
 * daemon and the CLI.  Every key of one course carries the hash tag {c<id>},
 * so a course lives in one Redis Cluster slot and a script may touch all of
 * its keys:
 *
 *   seckill:courses            ZSET  course ids (score = id): the catalogue
 *   seckill:order_gen          STRING  INCR gives an order-id block
 *                                      (seckill_order_id.h)
 *   seckill:{c<id>}            HASH  name, total, remaining, starts_at, ends_at
 *   seckill:{c<id>}:pending    HASH  user id -> reservation time (Unix ms) of
 *                                    every order not yet confirmed (a hash,
 *                                    not a zset: a field costs Redis a third
 *                                    of a zset member, and the sweeper picks
 *                                    old ones by value as well)
 *   seckill:{c<id>}:u:<uid>    HASH  order_id, status, ts: the user's status
 *                                    key, the arbiter (seckill_scripts.h)
 *
 * Key names are built from printf conversion specs given by the caller, so
 * the one definition serves printf ("%" PRIu64), hiredis ("%s") and nginx
 * ("%L"): SECKILL_KEY_USER("%L", "%L").
 */

#ifndef SECKILL_KEYS_H
#define SECKILL_KEYS_H

#define SECKILL_KEY_CATALOGUE          "seckill:courses"
#define SECKILL_KEY_ORDER_GEN          "seckill:order_gen"

#define SECKILL_KEY_COURSE_PREFIX      "seckill:{c"
#define SECKILL_KEY_COURSE(id)         SECKILL_KEY_COURSE_PREFIX id "}"
#define SECKILL_KEY_PENDING(id)        SECKILL_KEY_COURSE_PREFIX id "}:pending"
#define SECKILL_KEY_USER(id, uid)      SECKILL_KEY_COURSE_PREFIX id "}:u:" uid

/* SCAN patterns ('{' and '}' are not special in Redis glob patterns):
 * every per-course key and nothing else; every user's status key. */
#define SECKILL_KEY_ANY_COURSE         SECKILL_KEY_COURSE_PREFIX "*"
#define SECKILL_KEY_ANY_USER           SECKILL_KEY_COURSE_PREFIX "*}:u:*"

/* The longest key of two ids below 2^53 (16 digits each), with its NUL. */
#define SECKILL_KEY_MAX                64

/* The course hash's fields as the catalogue reads them, in this order. */
#define SECKILL_COURSE_FIELDS          "name total remaining starts_at ends_at"

#endif /* SECKILL_KEYS_H */
