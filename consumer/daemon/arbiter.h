/* The daemon's side of the arbiter protocol (protocol/seckill_scripts.h):
 * the claim script before an order is inserted, the confirm script after its
 * transaction committed. Each call takes up to CALL_MAX_ORDERS orders of one
 * course (call.h), and the calls of a whole batch are pipelined. The connection is
 * made on first use and made again after any failure. */
#ifndef SECKILL_STATUS_H
#define SECKILL_STATUS_H

#include <stddef.h>

#include "batch.h"
#include "config.h"
#include "stock.h"

struct status {
    const struct seckill_config *cfg;
    struct store store;         /* store.rc is NULL while disconnected */
    char claim_sha[41], confirm_sha[41];
    char err[2048];             /* why the last call failed */
};

void status_init(struct status *s, const struct seckill_config *cfg);
void status_close(struct status *s);

/* Runs claim for every order of the batch and sets its verdict. Returns 0,
 * or -1 with the reason in s->err (the batch may then be claimed again:
 * claim is idempotent). */
int status_claim(struct status *s, struct batch *b);

/* Runs confirm for every claimed order. *gone counts the orders whose status
 * key no longer named them (a reset meanwhile). Returns 0 or -1. */
int status_confirm(struct status *s, struct batch *b, size_t *gone);

#endif
