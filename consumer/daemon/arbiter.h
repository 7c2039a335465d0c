/* The daemon's side of the arbiter protocol (protocol/seckill_scripts.h):
 * the claim script before an order is inserted, the confirm script after its
 * transaction committed. Each call takes up to CALL_MAX_ORDERS orders of one
 * course (call.h), and the calls of a whole batch are pipelined. The
 * connection is made on first use and made again after any failure.
 *
 * On a Redis Cluster each call goes to the master of its course, the
 * masters' shares of a batch at once (redis.h). A call redirected by MOVED
 * or ASK is sent again on its own to the right master: the node that
 * redirected it did not run it. Running one again would be harmless too,
 * which is why a whole failed stage may simply be retried: claim leaves a
 * claimed or confirmed order as it is and answers "claimed" again, confirm
 * sets success again and the user is already out of the pending hash.
 *
 * A master that cannot be reached fails the stage (its error names it),
 * after the calls of the other masters ran and set their verdicts. The
 * batch is then retried whole, with the daemon's backoff, until that
 * master (or the replica promoted in its place) answers. It cannot go
 * ahead without that master's courses: offsets are committed per
 * partition, up to the first event not done, and every partition holds
 * courses of every master, so committing the others would mean skipping
 * orders. Nothing is lost or done twice meanwhile: nothing is committed,
 * and every stage is idempotent (main.c). The purchases of the other
 * masters' courses go on in nginx, and the sweeper sweeps their courses. */
#ifndef SECKILL_ARBITER_H
#define SECKILL_ARBITER_H

#include <stddef.h>

#include "batch.h"
#include "config.h"
#include "redis.h"

struct arbiter {
    const struct seckill_config *cfg;
    struct redis redis;         /* redis.err: why the last call failed */
    struct redis_script scripts[2];     /* claim, confirm (arbiter.c) */
};

void arbiter_init(struct arbiter *a, const struct seckill_config *cfg);
void arbiter_close(struct arbiter *a);

/* Runs claim for every order of the batch and sets its verdict. Returns 0,
 * or -1 with the reason in a->redis.err (the batch may then be claimed
 * again: claim is idempotent). */
int arbiter_claim(struct arbiter *a, struct batch *b);

/* Runs confirm for every claimed order. *gone counts the orders whose status
 * key no longer named them (a reset meanwhile). Returns 0 or -1. */
int arbiter_confirm(struct arbiter *a, struct batch *b, size_t *gone);

#endif
