
/*
 * JSON responses: generated with yajl into memory, sent in one piece.
 */


#ifndef _NGX_HTTP_SECKILL_JSON_H_INCLUDED_
#define _NGX_HTTP_SECKILL_JSON_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <yajl/yajl_gen.h>


/*
 * The "status" of every body the module writes: what the client reads, and
 * what seckill_status counts the responses by.
 */
typedef enum {
    NGX_HTTP_SECKILL_REASON_OK = 0,
    NGX_HTTP_SECKILL_REASON_PENDING,
    NGX_HTTP_SECKILL_REASON_SUCCESS,
    NGX_HTTP_SECKILL_REASON_FAILED,
    NGX_HTTP_SECKILL_REASON_NONE,
    NGX_HTTP_SECKILL_REASON_DUPLICATE,
    NGX_HTTP_SECKILL_REASON_SOLD_OUT,
    NGX_HTTP_SECKILL_REASON_NOT_STARTED,
    NGX_HTTP_SECKILL_REASON_ENDED,
    NGX_HTTP_SECKILL_REASON_UNKNOWN_COURSE,
    NGX_HTTP_SECKILL_REASON_BAD_REQUEST,
    NGX_HTTP_SECKILL_REASON_FORBIDDEN,
    NGX_HTTP_SECKILL_REASON_NOT_FOUND,
    NGX_HTTP_SECKILL_REASON_METHOD_NOT_ALLOWED,
    NGX_HTTP_SECKILL_REASON_TOO_LARGE,
    NGX_HTTP_SECKILL_REASON_URI_TOO_LONG,
    NGX_HTTP_SECKILL_REASON_TOO_MANY_REQUESTS,
    NGX_HTTP_SECKILL_REASON_INTERNAL_ERROR,
    NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
    NGX_HTTP_SECKILL_REASON_ERROR,
    NGX_HTTP_SECKILL_NREASONS
} ngx_http_seckill_reason_e;


/* their names, by ngx_http_seckill_reason_e */
extern ngx_str_t  ngx_http_seckill_reasons[];


/* a generator that lives, with its output, as long as the request */
yajl_gen ngx_http_seckill_json_gen(ngx_http_request_t *r);

yajl_gen_status ngx_http_seckill_json_str(yajl_gen g, const char *s);

/* the same, with the document opened as {"status":reason; NULL on error */
yajl_gen ngx_http_seckill_json_status(ngx_http_request_t *r,
    ngx_http_seckill_reason_e reason);

/*
 * Send the generated document, whose "status" is reason, as the whole
 * response, and count it.  Returns what a content handler returns, or what
 * ngx_http_finalize_request() takes.
 */
ngx_int_t ngx_http_seckill_json_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_seckill_reason_e reason, yajl_gen g,
    time_t retry_after);

/* {"status":reason,"error":text}; 429 and 503 carry Retry-After: 1 */
ngx_int_t ngx_http_seckill_json_error(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_seckill_reason_e reason, const char *text);

/* writes the name of reason as a JSON string */
yajl_gen_status ngx_http_seckill_json_reason(yajl_gen g,
    ngx_http_seckill_reason_e reason);

ngx_int_t ngx_http_seckill_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value);

/*
 * The start of every handler: the body is discarded (never read into
 * memory), a chunked one answered 413, and a method not in methods
 * (NGX_HTTP_GET|...) is answered 405 with "Allow: allow".  Returns NGX_DECLINED to go on, else what the
 * handler returns.
 */
ngx_int_t ngx_http_seckill_json_method(ngx_http_request_t *r,
    ngx_uint_t methods, ngx_str_t *allow);


#endif /* _NGX_HTTP_SECKILL_JSON_H_INCLUDED_ */
