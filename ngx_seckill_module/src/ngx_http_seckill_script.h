
/*
 * The arbiter's Lua scripts (protocol/seckill_scripts.h), as the module
 * runs them: the orders of one course that a worker has in one turn of its
 * event loop leave as ONE script call, by SHA1, loaded on every new Redis
 * connection, loaded again and retried when Redis answers NOSCRIPT.
 */


#ifndef _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_
#define _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_seckill_redis.h"


#define NGX_HTTP_SECKILL_SCRIPT_RESERVE  0
#define NGX_HTTP_SECKILL_SCRIPT_RELEASE  1
#define NGX_HTTP_SECKILL_SCRIPTS         2


/*
 * One order's run of a script, kept by the caller until its handler is
 * called.  The handler gets the order's own verdict, as if the script had
 * run for this order alone; the whole reply when Redis answered an error;
 * NULL when no reply will come, and then "sent" says whether the script
 * may have run (the connection was lost after the call left) or surely
 * did not (Redis was not reachable when the batch was due).
 */
typedef struct {
    ngx_uint_t                          script;
    ngx_http_seckill_redis_handler_pt   handler;
    void                               *data;

    int64_t                             course;
    int64_t                             user;
    int64_t                             order;
    int64_t                             now;      /* Unix ms: reserve only */

    unsigned                            sent:1;
} ngx_http_seckill_script_call_t;


/* hashes the scripts; batch is the most orders one call carries */
ngx_int_t ngx_http_seckill_script_init(ngx_cycle_t *cycle, ngx_uint_t batch);

/* a new Redis connection: SCRIPT LOAD of every script, before any EVALSHA */
void ngx_http_seckill_script_connected(ngx_http_seckill_redis_node_t *node,
    void *data);

/*
 * Adds the order to its course's batch of this turn, sent once the turn's
 * events are handled.  NGX_OK: the handler will be called exactly once,
 * never from inside this call.  NGX_ERROR at once when Redis is not
 * connected, so that the caller can answer 503 without waiting.
 */
ngx_int_t ngx_http_seckill_script_run(ngx_http_seckill_script_call_t *call);

/* the worker exits: batches not sent yet get their NULL replies now */
void ngx_http_seckill_script_exit(void);


#endif /* _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_ */
