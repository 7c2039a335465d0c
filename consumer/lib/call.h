/* One call of an arbiter script (protocol/seckill_scripts.h) as hiredis
 * sends it: n orders of one course in the layout all four scripts share
 * (course hash, pending hash, each order's status key; each order's user id
 * and order id; reserve's clock last). The daemon's arbiter (claim, confirm),
 * its sweeper (release) and `seckill fill` (reserve, release) have their
 * calls laid out here by redis_run_calls() (redis.h), after grouping their
 * orders by course with course_orders_sort(). Pure: no Redis in here. */
#ifndef SECKILL_CALL_H
#define SECKILL_CALL_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"

/* Orders per call at most. Each order a call takes saves Redis one call's
 * overhead, but Redis serves nobody else while a script runs: a call of 100
 * orders runs for about 0.4 ms (measured on a loaded 2-core machine), short
 * enough for the purchases queued behind it. */
#define CALL_MAX_ORDERS 100

/* An order of the caller's, by its course. */
struct course_order {
    uint64_t course_id;
    size_t entry;               /* the caller's index of the order */
};

/* Sorts by course id and, within a course, by entry: a call takes the keys
 * of one course only (one Redis Cluster slot), and the orders of a course
 * keep the caller's order (the first to ask gets the last seat). */
void course_orders_sort(struct course_order *o, size_t n);

/* How many of the n sorted orders at o, at most max, belong to the course of
 * the first: the next call. 0 when n is 0. */
size_t course_run(const struct course_order *o, size_t n, size_t max);

/* EVALSHA, sha, numkeys, 2 course keys, then per order a status key and two
 * ids, then reserve's clock. */
#define CALL_ARGS (5 + 3 * CALL_MAX_ORDERS + 1)

/* Large (about 14 KiB): keep one and reuse it. hiredis copies the arguments
 * when the call is queued, so one serves call after call. */
struct call {
    const char *argv[CALL_ARGS];
    int argc;                   /* set by call_end() and call_end_at() */
    size_t n;                   /* orders added */
    const char *sha;
    uint64_t course_id;
    char numkeys[8], clock[24];
    char course[SECKILL_KEY_MAX], pending[SECKILL_KEY_MAX];
    char user[CALL_MAX_ORDERS][SECKILL_KEY_MAX];
    char ids[CALL_MAX_ORDERS][2][24];
};

/* Starts a call of the script whose SHA1 is sha (not copied: it must
 * outlive the call) on orders of course_id. */
void call_begin(struct call *c, const char *sha, uint64_t course_id);

/* Adds an order of the call's course. An order past CALL_MAX_ORDERS is not
 * added: runs from course_run() with max <= CALL_MAX_ORDERS never have one,
 * and the script would answer fewer verdicts than the caller expects, which
 * every caller checks. */
void call_add(struct call *c, uint64_t user_id, uint64_t order_id);

/* Lays out argv and argc: call_end() for release, claim and confirm;
 * call_end_at() for reserve, whose last argument is the caller's clock
 * (Unix ms). */
void call_end(struct call *c);
void call_end_at(struct call *c, int64_t now_ms);

#endif
