
/*
 * A worker's order ids come in blocks of 2^20: INCR seckill:order_gen gives
 * it a generator id that no other worker, node or restart ever gets (Redis
 * persists the counter), and the worker numbers its orders within the
 * block by itself.  The next block is asked for when 90% of the current
 * one is used, so that a busy worker does not stall at the boundary; until
 * the first block arrives, purchases are answered 503.
 *
 * A sequence number is spent on every reservation attempt, won or not:
 * the reserve script needs the id before it knows the outcome.
 */


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_seckill_orderid.h"
#include "ngx_http_seckill_redis.h"
#include "seckill_keys.h"
#include "seckill_order_id.h"


#define NGX_HTTP_SECKILL_ORDER_PREFETCH  (SECKILL_ORDER_SEQS / 10 * 9)


typedef struct {
    ngx_log_t                  *log;
    uint64_t                    gen;        /* 0: none */
    uint64_t                    next_gen;   /* 0: none */
    uint64_t                    seq;
    unsigned                    fetching:1;
} ngx_http_seckill_order_gen_t;


static void ngx_http_seckill_order_id_fetch(void *data);
static void ngx_http_seckill_order_id_fetched(redisReply *reply, void *data);


static ngx_http_seckill_order_gen_t  ngx_http_seckill_order_gen;


void
ngx_http_seckill_order_id_init(ngx_log_t *log)
{
    ngx_http_seckill_order_gen.log = log;
}


void
ngx_http_seckill_order_id_connected(ngx_http_seckill_redis_node_t *node,
    void *data)
{
    ngx_http_seckill_order_id_fetch(&ngx_http_seckill_order_gen);
}


ngx_int_t
ngx_http_seckill_order_id_next(int64_t *id)
{
    ngx_http_seckill_order_gen_t  *og;

    og = &ngx_http_seckill_order_gen;

    if (og->gen == 0) {
        ngx_http_seckill_order_id_fetch(og);
        return NGX_AGAIN;
    }

    *id = (int64_t) seckill_order_id(og->gen, og->seq);

    if (++og->seq == SECKILL_ORDER_SEQS) {
        og->gen = og->next_gen;
        og->next_gen = 0;
        og->seq = 0;
    }

    ngx_http_seckill_order_id_fetch(og);

    return NGX_OK;
}


/*
 * Asks for a block when the worker has none or will soon need the next.
 * Called on each new connection too: a lost INCR is asked for again.
 */

static void
ngx_http_seckill_order_id_fetch(void *data)
{
    ngx_http_seckill_order_gen_t *og = data;

    if (og->fetching
        || (og->gen && (og->next_gen
                        || og->seq < NGX_HTTP_SECKILL_ORDER_PREFETCH)))
    {
        return;
    }

    if (ngx_http_seckill_redis_command(
            ngx_http_seckill_redis_key_slot(SECKILL_KEY_ORDER_GEN),
            ngx_http_seckill_order_id_fetched, og,
            "INCR " SECKILL_KEY_ORDER_GEN)
        == NGX_OK)
    {
        og->fetching = 1;
    }
}


static void
ngx_http_seckill_order_id_fetched(redisReply *reply, void *data)
{
    ngx_http_seckill_order_gen_t *og = data;

    og->fetching = 0;

    if (reply == NULL) {
        return;
    }

    if (reply->type != REDIS_REPLY_INTEGER) {
        ngx_log_error(NGX_LOG_ALERT, og->log, 0,
                      "INCR " SECKILL_KEY_ORDER_GEN " answered \"%*s\", not "
                      "a generator id: purchases are refused",
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
        return;
    }

    if (reply->integer < 1
        || (uint64_t) reply->integer > SECKILL_ORDER_GEN_MAX)
    {
        ngx_log_error(NGX_LOG_ALERT, og->log, 0,
                      "INCR " SECKILL_KEY_ORDER_GEN " answered %L, not a "
                      "generator id from 1 to %uL: purchases are refused",
                      (int64_t) reply->integer,
                      (uint64_t) SECKILL_ORDER_GEN_MAX);
        return;
    }

    if (og->gen == 0) {
        og->gen = reply->integer;
        og->seq = 0;

    } else {
        og->next_gen = reply->integer;
    }

    ngx_log_error(NGX_LOG_INFO, og->log, 0,
                  "order ids from %uL * 2^%d", (uint64_t) reply->integer,
                  SECKILL_ORDER_SEQ_BITS);
}
