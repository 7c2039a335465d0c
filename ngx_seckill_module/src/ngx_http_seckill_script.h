
/*
 * The arbiter's Lua scripts, as the module runs them: by SHA1, loaded on
 * every new Redis connection, loaded again and retried when Redis answers
 * NOSCRIPT.  The scripts and key names are common/seckill_scripts.h.
 */


#ifndef _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_
#define _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>

#include "ngx_http_seckill_redis.h"


#define NGX_HTTP_SECKILL_SCRIPT_RESERVE  0
#define NGX_HTTP_SECKILL_SCRIPT_RELEASE  1


/*
 * One run of a script, kept by the caller until the handler is called:
 * a retry after NOSCRIPT sends the same arguments again.  The arguments
 * are null-terminated decimal strings; "now" is only read by reserve.
 */
typedef struct {
    ngx_uint_t                          script;
    ngx_http_seckill_redis_handler_pt   handler;
    void                               *data;

    u_char                              course[NGX_INT64_LEN + 1];
    u_char                              user[NGX_INT64_LEN + 1];
    u_char                              order[NGX_INT64_LEN + 1];
    u_char                              now[NGX_INT64_LEN + 1];

    unsigned                            retried:1;
} ngx_http_seckill_script_call_t;


/* hashes the scripts and loads them on each new connection */
ngx_int_t ngx_http_seckill_script_init(ngx_log_t *log);

/* as ngx_http_seckill_redis_command(): the handler runs once if NGX_OK */
ngx_int_t ngx_http_seckill_script_run(ngx_http_seckill_script_call_t *call);


#endif /* _NGX_HTTP_SECKILL_SCRIPT_H_INCLUDED_ */
