/* The daemon's side of the arbiter protocol (protocol/seckill_scripts.h):
 * the claim script before an order is inserted, the confirm script after its
 * transaction committed. Each call takes up to CALL_MAX_ORDERS orders of one
 * course (call.h), and the calls of a whole batch are pipelined. The
 * connection is made on first use and made again after any failure. */
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
