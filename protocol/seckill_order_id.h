/*
 * The order-id rule.  An order id is gen * 2^SECKILL_ORDER_SEQ_BITS + seq:
 * gen comes from INCR seckill:order_gen (seckill_keys.h), so no two
 * writers (nginx workers, nodes, restarts, `seckill fill`) ever share a
 * block, and each numbers the orders of its block by itself.  Ids stay
 * below 2^53, exact in every JSON reader: a gen above SECKILL_ORDER_GEN_MAX
 * (2^33 - 1 blocks) must not be used.
 */

#ifndef SECKILL_ORDER_ID_H
#define SECKILL_ORDER_ID_H

#include <stdint.h>

#define SECKILL_ORDER_SEQ_BITS  20
#define SECKILL_ORDER_SEQS      ((uint64_t) 1 << SECKILL_ORDER_SEQ_BITS)
#define SECKILL_ORDER_GEN_MAX                                                 \
    (((uint64_t) 1 << (53 - SECKILL_ORDER_SEQ_BITS)) - 1)

/* gen in 1..SECKILL_ORDER_GEN_MAX, seq in 0..SECKILL_ORDER_SEQS - 1 */
#define seckill_order_id(gen, seq)                                            \
    (((uint64_t) (gen) << SECKILL_ORDER_SEQ_BITS) | (uint64_t) (seq))

#endif /* SECKILL_ORDER_ID_H */
