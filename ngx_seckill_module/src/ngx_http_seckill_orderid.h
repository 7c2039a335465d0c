
/*
 * Order ids without a round trip per purchase: gen * 2^20 + seq, where
 * each worker takes gen from INCR seckill:order_gen
 * (protocol/seckill_order_id.h).
 */


#ifndef _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_
#define _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_seckill_redis.h"


void ngx_http_seckill_order_id_init(ngx_log_t *log);

/* a new Redis connection: asks for a generator id while the worker has none
   (or soon needs the next) */
void ngx_http_seckill_order_id_connected(ngx_http_seckill_redis_node_t *node,
    void *data);

/* NGX_OK, or NGX_AGAIN while the worker has no generator id yet */
ngx_int_t ngx_http_seckill_order_id_next(int64_t *id);


#endif /* _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_ */
