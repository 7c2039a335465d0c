
/*
 * Courses known to be sold out, shared by the workers, so that the crowd
 * that comes after the last seat is answered 410 without asking Redis.
 */


#ifndef _NGX_HTTP_SECKILL_SOLDOUT_H_INCLUDED_
#define _NGX_HTTP_SECKILL_SOLDOUT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>


ngx_shm_zone_t *ngx_http_seckill_sold_out_zone(ngx_conf_t *cf);

ngx_uint_t ngx_http_seckill_sold_out_test(ngx_shm_zone_t *zone,
    int64_t course);
void ngx_http_seckill_sold_out_set(ngx_shm_zone_t *zone, int64_t course,
    ngx_msec_t ttl);
void ngx_http_seckill_sold_out_clear(ngx_shm_zone_t *zone, int64_t course);

/* the courses that count as sold out now (int64_t), in order of their ids */
ngx_array_t *ngx_http_seckill_sold_out_list(ngx_shm_zone_t *zone,
    ngx_pool_t *pool);


#endif /* _NGX_HTTP_SECKILL_SOLDOUT_H_INCLUDED_ */
