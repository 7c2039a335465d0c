
/*
 * The worker's idempotent Kafka producer, its delivery reports served by
 * the nginx event loop.
 */


#ifndef _NGX_HTTP_SECKILL_KAFKA_H_INCLUDED_
#define _NGX_HTTP_SECKILL_KAFKA_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <librdkafka/rdkafka.h>

#include "ngx_http_seckill_module.h"


/*
 * The delivery report of a message: err is RD_KAFKA_RESP_ERR_NO_ERROR once
 * the broker acknowledged it (acks=all), else it failed or timed out.
 * Called once per message queued with ngx_http_seckill_kafka_produce(),
 * from the event loop, or from ngx_http_seckill_kafka_exit().
 */
typedef void (*ngx_http_seckill_kafka_handler_pt)(void *opaque,
    rd_kafka_resp_err_t err);


ngx_int_t ngx_http_seckill_kafka_init(ngx_cycle_t *cycle,
    ngx_http_seckill_main_conf_t *smcf,
    ngx_http_seckill_kafka_handler_pt handler);
void ngx_http_seckill_kafka_exit(ngx_cycle_t *cycle);

/* NGX_OK: the handler will be called with opaque; NGX_ERROR: logged */
ngx_int_t ngx_http_seckill_kafka_produce(u_char *key, size_t key_len,
    u_char *value, size_t len, void *opaque);

/* a producer can take messages (none: not made, or failed for good) */
ngx_uint_t ngx_http_seckill_kafka_ready(void);

/* the producer's message.timeout.ms: a report comes within that */
ngx_msec_t ngx_http_seckill_kafka_timeout(void);


#endif /* _NGX_HTTP_SECKILL_KAFKA_H_INCLUDED_ */
