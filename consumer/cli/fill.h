/* `seckill fill N`: a backlog of N valid orders for the drain benchmark and
 * the consumer's tests, made the way the nginx module makes them: each one
 * reserved in Redis by the reserve script (so the consumer's claim succeeds)
 * and then produced to the order topic by an idempotent producer with
 * acks=all. A reservation whose delivery fails is released, as the module
 * does.
 *
 * The seats come from bench courses FILL_FIRST_COURSE.. (created when
 * missing, else given N more seats, in MariaDB and Redis), so the demo
 * catalogue is left alone and `seckill check` still adds up. Order ids come
 * from the order id generator of the contract; each order has a user of its
 * own (user id = order id). */
#ifndef SECKILL_FILL_H
#define SECKILL_FILL_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "db.h"
#include "redis.h"

#define FILL_FIRST_COURSE 1001
#define FILL_MAX_COURSES 100
#define FILL_MAX_ORDERS 10000000

struct fill_options {
    uint64_t orders;
    unsigned courses;           /* the orders are spread over this many */
};

/* Prints what it did. Returns 0, or -1 with the reason in err. */
int fill_run(const struct seckill_config *cfg, struct db *db, struct redis *redis,
             const struct fill_options *opt, char *err, size_t errlen);

#endif
