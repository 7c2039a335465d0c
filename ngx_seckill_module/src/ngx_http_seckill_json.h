
/*
 * JSON responses: generated with yajl into memory, sent in one piece.
 */


#ifndef _NGX_HTTP_SECKILL_JSON_H_INCLUDED_
#define _NGX_HTTP_SECKILL_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>


/* a generator that lives, with its output, as long as the request */
yajl_gen ngx_http_seckill_json_gen(ngx_http_request_t *r);

yajl_gen_status ngx_http_seckill_json_str(yajl_gen g, const char *s);

/*
 * Send the generated document as the whole response.  Returns what a
 * content handler returns, or what ngx_http_finalize_request() takes.
 */
ngx_int_t ngx_http_seckill_json_send(ngx_http_request_t *r,
    ngx_uint_t status, yajl_gen g, time_t retry_after);

/* {"status":reason,"error":text}; 429 and 503 carry Retry-After: 1 */
ngx_int_t ngx_http_seckill_json_error(ngx_http_request_t *r,
    ngx_uint_t status, const char *reason, const char *text);

ngx_int_t ngx_http_seckill_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value);


#endif /* _NGX_HTTP_SECKILL_JSON_H_INCLUDED_ */
