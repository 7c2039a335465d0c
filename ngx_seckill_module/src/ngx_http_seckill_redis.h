
/*
 * The worker's Redis: hiredis async connections driven by the nginx event
 * loop, reconnected by themselves.  One connection when Redis is a single
 * server; against a Redis Cluster, one per master, each command routed by
 * the hash slot of its keys (protocol/seckill_slot.h), MOVED and ASK
 * followed.  Which of the two it is, Redis says: the first answer to
 * CLUSTER SLOTS.
 */


#ifndef _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_
#define _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>

#include "seckill_slot.h"


/* seed addresses in one seckill_redis directive, at most */
#define NGX_HTTP_SECKILL_REDIS_SEEDS  16


typedef struct {
    ngx_str_t                   name;      /* as configured, for messages */
    ngx_str_t                   host;      /* numeric address or unix path,
                                              null-terminated for hiredis */
    int                         port;      /* 0 for a unix socket */
} ngx_http_seckill_redis_addr_t;


typedef struct {
    ngx_http_seckill_redis_addr_t   seeds[NGX_HTTP_SECKILL_REDIS_SEEDS];
    ngx_uint_t                      nseeds;
    ngx_str_t                       name;      /* the seeds, for messages */
    ngx_str_t                       password;  /* AUTH before anything else;
                                                  empty: none */
    ngx_msec_t                      connect_timeout;
    ngx_msec_t                      timeout;   /* per request, for callers */
} ngx_http_seckill_redis_conf_t;


/* one connection: a single Redis, or one master of a cluster */
typedef struct ngx_http_seckill_redis_node_s  ngx_http_seckill_redis_node_t;


/*
 * Called once per command with the reply, or with NULL when no reply will
 * ever come (connection lost, worker exiting).  The reply is freed when the
 * handler returns: copy out what is needed.
 */
typedef void (*ngx_http_seckill_redis_handler_pt)(redisReply *reply,
    void *data);

/*
 * Called on every new connection before any command routed by slot can be
 * queued on it: what a connection must carry (loaded scripts) is sent first
 * with ngx_http_seckill_redis_node_command().
 */
typedef void (*ngx_http_seckill_redis_connect_pt)(
    ngx_http_seckill_redis_node_t *node, void *data);


/* the slot of every key of a course: they all carry its hash tag */
#define ngx_http_seckill_redis_course_slot(course)                            \
    seckill_course_slot((uint64_t) (course))

/* the slot of a key without a tag, as seckill:order_gen */
#define ngx_http_seckill_redis_key_slot(key)                                  \
    seckill_key_slot(key, sizeof(key) - 1)


ngx_int_t ngx_http_seckill_redis_init(ngx_cycle_t *cycle,
    ngx_http_seckill_redis_conf_t *conf);
void ngx_http_seckill_redis_exit(ngx_cycle_t *cycle);

/* before ngx_http_seckill_redis_init() */
ngx_int_t ngx_http_seckill_redis_on_connect(
    ngx_http_seckill_redis_connect_pt handler, void *data);

/*
 * Queues a command (hiredis format) on the connection that serves the slot
 * of its keys; the handler is called exactly once if NGX_OK is returned and
 * never otherwise.  Fails at once when that connection is not up (or the
 * slot map is not known yet), so that the caller can answer 503 instead of
 * waiting.
 */
ngx_int_t ngx_http_seckill_redis_command(ngx_uint_t slot,
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *fmt, ...);

/* the same with the arguments given whole: hiredis copies them at once */
ngx_int_t ngx_http_seckill_redis_command_argv(ngx_uint_t slot,
    ngx_http_seckill_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/* the same on one connection, for the on_connect hooks */
ngx_int_t ngx_http_seckill_redis_node_command(
    ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *fmt, ...);

/* commands for this slot can be queued now */
ngx_uint_t ngx_http_seckill_redis_ready(ngx_uint_t slot);


#endif /* _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_ */
