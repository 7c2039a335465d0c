
/*
 * One connection to one Redis node (a single Redis, or a master of a
 * cluster), as ngx_http_seckill_redis.c keeps them: private to the two
 * files.  ngx_http_seckill_redis_node.c makes, authenticates, watches and
 * replaces the connection; ngx_http_seckill_redis.c decides what goes on
 * it and is told when it comes up or goes down.
 */


#ifndef _NGX_HTTP_SECKILL_REDIS_NODE_H_INCLUDED_
#define _NGX_HTTP_SECKILL_REDIS_NODE_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <hiredis/async.h>

#include "ngx_http_seckill_redis.h"


#define NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_SECKILL_REDIS_BACKOFF_MAX  2000


struct ngx_http_seckill_redis_node_s {
    ngx_http_seckill_redis_conf_t      *conf;
    ngx_log_t                          *log;

    ngx_str_t                           name;       /* for messages */
    ngx_str_t                           host;       /* null-terminated */
    int                                 port;

    redisAsyncContext                  *ac;

    ngx_event_t                         connect_timer;
    ngx_event_t                         retry_timer;
    ngx_event_t                         drop;       /* posted */
    ngx_msec_t                          backoff;

    ngx_uint_t                          inflight;
    ngx_msec_t                          busy_since;

    ngx_uint_t                          failures;   /* connects in a row */

    u_char                              text[2 * NGX_SOCKADDR_STRLEN + 8];

    unsigned                            connected:1;
    unsigned                            hooked:1;   /* hooks have run */
    unsigned                            owner:1;    /* has slots in the map */
    unsigned                            writing:1;  /* in the handler */
    unsigned                            exiting:1;
};


/* its timers and backoff; name, host and port are set by the caller */
void ngx_http_seckill_redis_node_init(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_conf_t *conf, ngx_log_t *log);

/* connects now, and again after each loss with backoff (100 ms to 2 s) */
void ngx_http_seckill_redis_node_connect(ngx_http_seckill_redis_node_t *node);

/* not usable any more: replaced from the event loop (then down, retried) */
void ngx_http_seckill_redis_node_drop(ngx_http_seckill_redis_node_t *node);

/* the worker exits: the waiting commands get their NULL replies */
void ngx_http_seckill_redis_node_close(ngx_http_seckill_redis_node_t *node);

/*
 * Implemented by ngx_http_seckill_redis.c: the connection is usable (AUTH
 * accepted), or it is gone (every command waiting on it has had its NULL
 * reply; a new connect follows).
 */
void ngx_http_seckill_redis_node_up(ngx_http_seckill_redis_node_t *node);
void ngx_http_seckill_redis_node_down(ngx_http_seckill_redis_node_t *node);


#endif /* _NGX_HTTP_SECKILL_REDIS_NODE_H_INCLUDED_ */
