
/*
 * A GET answered from Redis: the lifecycle that the catalogue and the order
 * status share.  The request is suspended while Redis answers; replies may
 * come after the request is gone (timed out, connection closed), so the
 * state they need lives in a heap context that the request only borrows.
 * The request pool's cleanup detaches it, and the last reply frees it.
 *
 * A handler's context starts with an ngx_http_seckill_read_t:
 *
 *     ctx = ngx_http_seckill_read_create(r, sizeof(*ctx));
 *     rc = ... queue the first command ...
 *     return ngx_http_seckill_read_wait(r, &ctx->read, rc);
 *
 * and each reply handler starts with ngx_http_seckill_read_reply(), which
 * says whether there is still a request to answer.
 */


#ifndef _NGX_HTTP_SECKILL_READ_H_INCLUDED_
#define _NGX_HTTP_SECKILL_READ_H_INCLUDED_


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>


typedef struct {
    ngx_http_request_t          *request;    /* NULL once it is gone */
    ngx_pool_cleanup_t          *cleanup;
    ngx_event_t                  timer;
    ngx_uint_t                   pending;    /* replies still to come */
    unsigned                     done:1;     /* answered */
} ngx_http_seckill_read_t;


/* a zeroed heap context of size bytes, its read_t first; NULL on error */
void *ngx_http_seckill_read_create(ngx_http_request_t *r, size_t size);

/*
 * queued is what queueing the first command returned.  NGX_OK: suspends
 * the request for the Redis timeout and returns NGX_DONE; each further
 * command queued adds one to rd->pending.  Otherwise frees the context and
 * answers 503 "redis is not connected".
 */
ngx_int_t ngx_http_seckill_read_wait(ngx_http_request_t *r,
    ngx_http_seckill_read_t *rd, ngx_int_t queued);

/*
 * Counts one reply in.  Returns the request to answer, or NULL when there
 * is none any more: answered already, or gone, in which case the last
 * reply has freed the context.
 */
ngx_http_request_t *ngx_http_seckill_read_reply(ngx_http_seckill_read_t *rd);

/* answers: rc is what sending the response returned */
void ngx_http_seckill_read_finish(ngx_http_seckill_read_t *rd, ngx_int_t rc);

/* answers 503 {"status":"unavailable","error":text} */
void ngx_http_seckill_read_fail(ngx_http_seckill_read_t *rd,
    const char *text);


#endif /* _NGX_HTTP_SECKILL_READ_H_INCLUDED_ */
