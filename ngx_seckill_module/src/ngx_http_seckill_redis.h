
/*
 * The worker's Redis connection: one hiredis async context per worker,
 * driven by the nginx event loop, reconnected by itself.
 */


#ifndef _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_
#define _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <hiredis/hiredis.h>


typedef struct {
    ngx_str_t                   name;      /* as configured, for messages */
    ngx_str_t                   host;      /* numeric address or unix path,
                                              null-terminated for hiredis */
    int                         port;      /* 0 for a unix socket */
    ngx_str_t                   password;  /* AUTH before anything else;
                                              empty: none */
    ngx_msec_t                  connect_timeout;
    ngx_msec_t                  timeout;   /* per request, for the callers */
} ngx_http_seckill_redis_conf_t;


/*
 * Called once per command with the reply, or with NULL when no reply will
 * ever come (connection lost, worker exiting).  The reply is freed when the
 * handler returns: copy out what is needed.
 */
typedef void (*ngx_http_seckill_redis_handler_pt)(redisReply *reply,
    void *data);

/*
 * Called on every new connection before any other command can be queued on
 * it: what a connection must carry (loaded scripts) is sent first.
 */
typedef void (*ngx_http_seckill_redis_connect_pt)(void *data);


ngx_int_t ngx_http_seckill_redis_init(ngx_cycle_t *cycle,
    ngx_http_seckill_redis_conf_t *conf);
void ngx_http_seckill_redis_exit(ngx_cycle_t *cycle);

/* before ngx_http_seckill_redis_init() */
ngx_int_t ngx_http_seckill_redis_on_connect(
    ngx_http_seckill_redis_connect_pt handler, void *data);

/*
 * Queues a command (hiredis format) on the connection; the handler is called
 * exactly once if NGX_OK is returned and never otherwise.  Fails at once
 * when Redis is not connected, so that the caller can answer 503 instead
 * of waiting.
 */
ngx_int_t ngx_http_seckill_redis_command(
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *fmt, ...);

/* the same with the arguments given whole: hiredis copies them at once */
ngx_int_t ngx_http_seckill_redis_command_argv(
    ngx_http_seckill_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen);

/* commands can be queued now */
ngx_uint_t ngx_http_seckill_redis_ready(void);


#endif /* _NGX_HTTP_SECKILL_REDIS_H_INCLUDED_ */
