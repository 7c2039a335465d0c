
/*
 * The module's counters, shared by the workers, and seckill_status, which
 * shows them in Prometheus' text format.
 */


#ifndef _NGX_HTTP_SECKILL_STATS_H_INCLUDED_
#define _NGX_HTTP_SECKILL_STATS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_json.h"


/* the locations whose answers are counted, by their content directive */
#define NGX_HTTP_SECKILL_ENDPOINT_PURCHASE  0
#define NGX_HTTP_SECKILL_ENDPOINT_ORDERS    1
#define NGX_HTTP_SECKILL_ENDPOINT_COURSES   2
#define NGX_HTTP_SECKILL_ENDPOINT_ERROR     3
#define NGX_HTTP_SECKILL_NENDPOINTS         4


ngx_shm_zone_t *ngx_http_seckill_stats_zone(ngx_conf_t *cf);

/* a worker takes its slot for the gauges, and gives it back */
void ngx_http_seckill_stats_init(ngx_cycle_t *cycle, ngx_shm_zone_t *zone);
void ngx_http_seckill_stats_exit(ngx_cycle_t *cycle);

ngx_int_t ngx_http_seckill_status_handler(ngx_http_request_t *r);

/* a monotonic clock in microseconds, for the latencies */
uint64_t ngx_http_seckill_stats_usec(void);

void ngx_http_seckill_stats_response(ngx_http_request_t *r,
    ngx_http_seckill_reason_e reason);
void ngx_http_seckill_stats_redis_reply(uint64_t sent);
void ngx_http_seckill_stats_redis_connected(ngx_uint_t connected);

/* a script call left, carrying that many orders */
void ngx_http_seckill_stats_script_call(ngx_uint_t script, ngx_uint_t orders);
void ngx_http_seckill_stats_kafka_queued(void);

/* usec: librdkafka's latency of the message, -1 when it has none */
void ngx_http_seckill_stats_kafka_reported(int64_t usec, ngx_uint_t failed);


#endif /* _NGX_HTTP_SECKILL_STATS_H_INCLUDED_ */
