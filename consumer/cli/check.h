/* `seckill check`: the invariants of SPEC section 5, on a quiet sale (no
 * purchase in flight, the consumer caught up). Per course:
 *   1. orders in MariaDB <= total;
 *   2. no user with two orders;
 *   5. remaining (Redis) + orders (MariaDB) + pending (Redis) == total, every
 *      order row's status key says success with that order id, and no
 *      status key says success without its order row.
 * Each failure is printed on a line of its own, naming the course and the
 * numbers. */
#ifndef SECKILL_CHECK_H
#define SECKILL_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "db.h"
#include "redis.h"

struct check_result {
    size_t courses;
    uint64_t orders;
    uint64_t problems;
    uint64_t pending;           /* reservations pending in Redis, all courses */
};

/* Returns 0 with *res filled (res->problems == 0: all good), or -1 when
 * MariaDB or Redis failed (the reason in err). */
int check_run(struct db *db, struct redis *redis, struct check_result *res,
              char *err, size_t errlen);

#endif
