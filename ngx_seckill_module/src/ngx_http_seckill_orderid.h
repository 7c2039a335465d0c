
/*
 * Order ids without a round trip per purchase: gen * 2^20 + seq, where
 * each worker takes gen from INCR seckill:order_gen (protocol/seckill_order_id.h).
 */


#ifndef _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_
#define _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


/* takes a generator id on each new Redis connection while it has none */
ngx_int_t ngx_http_seckill_order_id_init(ngx_log_t *log);

/* NGX_OK, or NGX_AGAIN while the worker has no generator id yet */
ngx_int_t ngx_http_seckill_order_id_next(int64_t *id);


#endif /* _NGX_HTTP_SECKILL_ORDERID_H_INCLUDED_ */
