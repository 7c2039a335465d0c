
/*
 * What the parts of the seckill module share: the configuration and the
 * content handlers that the directives install.
 */


#ifndef _NGX_HTTP_SECKILL_MODULE_H_INCLUDED_
#define _NGX_HTTP_SECKILL_MODULE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_redis.h"


/* ids are exact integers in every JSON reader: 1 .. 2^53 - 1 */
#define NGX_HTTP_SECKILL_MAX_ID       9007199254740991LL

/* seckill_redis_batch: orders per script call */
#define NGX_HTTP_SECKILL_REDIS_BATCH_DEFAULT  64
#define NGX_HTTP_SECKILL_REDIS_BATCH_MAX      1000


typedef struct {
    ngx_http_seckill_redis_conf_t   redis;
    ngx_uint_t                      redis_batch;

    ngx_str_t                       kafka_brokers;
    ngx_str_t                       kafka_topic;
    ngx_array_t                    *kafka_properties;  /* ngx_keyval_t */
    ngx_msec_t                      kafka_timeout;

    ngx_msec_t                      sold_out_ttl;      /* 0: off */
    ngx_shm_zone_t                 *sold_out_zone;

    ngx_shm_zone_t                 *stats_zone;

    /* a location talks to Redis: the workers connect */
    ngx_flag_t                      redis_used;

    /* a purchase location: the workers produce to Kafka */
    ngx_flag_t                      purchase_used;

    /* a seckill_status location */
    ngx_flag_t                      status_used;
} ngx_http_seckill_main_conf_t;


typedef struct {
    /* NGX_HTTP_SECKILL_ENDPOINT_*; NGX_CONF_UNSET_UINT: not counted */
    ngx_uint_t                      endpoint;
} ngx_http_seckill_loc_conf_t;


/* the two ids of /api/.../{course_id}/{user_id} */
typedef struct {
    int64_t                         course;
    int64_t                         user;
} ngx_http_seckill_ids_t;


/*
 * Parses the URI after the location's prefix.  Returns NGX_OK, or
 * NGX_DECLINED with *reason set to what the client did wrong.
 */
ngx_int_t ngx_http_seckill_parse_ids(ngx_http_request_t *r,
    ngx_http_seckill_ids_t *ids, const char **reason);

/*
 * The method (one of methods, else a JSON 405 naming allow) and the ids
 * after the location's prefix (else a JSON 400 saying what is wrong).
 * NGX_DECLINED when both are good; otherwise what the handler returns.
 */
ngx_int_t ngx_http_seckill_request_ids(ngx_http_request_t *r,
    ngx_uint_t methods, ngx_str_t *allow, ngx_http_seckill_ids_t *ids);

/*
 * The init of a shared zone that holds one zeroed block of size bytes.  A
 * reload (data) and a new set of workers (the zone exists) keep what it
 * holds.
 */
ngx_int_t ngx_http_seckill_zone_init(ngx_shm_zone_t *zone, void *data,
    size_t size);

/*
 * Answers a request suspended for Redis or Kafka: its timer stopped, the
 * request finalized with rc (what sending the response returned), and the
 * connection's posted requests run.  The request may be freed on return.
 */
void ngx_http_seckill_finalize(ngx_http_request_t *r, ngx_event_t *timer,
    ngx_int_t rc);

/* $seckill_limit_user and any other variable of the module */
ngx_int_t ngx_http_seckill_add_variables(ngx_conf_t *cf);

ngx_int_t ngx_http_seckill_courses_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_seckill_error_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_seckill_purchase_handler(ngx_http_request_t *r);
ngx_int_t ngx_http_seckill_orders_handler(ngx_http_request_t *r);

ngx_int_t ngx_http_seckill_purchase_init(ngx_cycle_t *cycle,
    ngx_http_seckill_main_conf_t *smcf);
void ngx_http_seckill_purchase_connected(ngx_http_seckill_redis_node_t *node,
    void *data);
void ngx_http_seckill_purchase_exit(ngx_cycle_t *cycle);


extern ngx_module_t  ngx_http_seckill_module;


#endif /* _NGX_HTTP_SECKILL_MODULE_H_INCLUDED_ */
