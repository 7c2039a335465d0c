
/*
 * seckill_error: the API's error pages, as JSON.  Reached through
 * error_page (the status is then r->err_status) or as the content handler
 * of a catch-all location such as "location /api/" (404).
 *
 * Two limits of error_page decide how it is configured:
 *  - "error_page 404 = @name" resets r->err_status to 0 before the named
 *    location runs: the status is lost and this answers 404.  Without "="
 *    ("error_page 404 405 429 @name") it is kept.
 *  - nginx refuses to send a request without a URI to a named location
 *    ("empty URI in redirect to named location"), which is what a 400 or
 *    414 from the request line parser is.  Those need a URI:
 *    "error_page 400 414 /_seckill_error" and an internal location.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_json.h"


typedef struct {
    ngx_uint_t                  status;
    ngx_http_seckill_reason_e   reason;
    const char                 *text;
} ngx_http_seckill_error_t;


static ngx_http_seckill_error_t  ngx_http_seckill_errors[] = {

    { NGX_HTTP_BAD_REQUEST, NGX_HTTP_SECKILL_REASON_BAD_REQUEST,
      "malformed request" },
    { NGX_HTTP_FORBIDDEN, NGX_HTTP_SECKILL_REASON_FORBIDDEN,
      "access denied" },
    { NGX_HTTP_NOT_FOUND, NGX_HTTP_SECKILL_REASON_NOT_FOUND,
      "no such API endpoint" },
    { NGX_HTTP_NOT_ALLOWED, NGX_HTTP_SECKILL_REASON_METHOD_NOT_ALLOWED,
      "method not allowed for this endpoint" },
    { NGX_HTTP_REQUEST_ENTITY_TOO_LARGE, NGX_HTTP_SECKILL_REASON_TOO_LARGE,
      "request body too large" },
    { NGX_HTTP_REQUEST_URI_TOO_LARGE, NGX_HTTP_SECKILL_REASON_URI_TOO_LONG,
      "request URI too long" },
    { NGX_HTTP_TOO_MANY_REQUESTS, NGX_HTTP_SECKILL_REASON_TOO_MANY_REQUESTS,
      "too many requests, retry later" },
    { NGX_HTTP_INTERNAL_SERVER_ERROR, NGX_HTTP_SECKILL_REASON_INTERNAL_ERROR,
      "internal server error" },
    { NGX_HTTP_SERVICE_UNAVAILABLE, NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
      "service unavailable, retry later" },

    { 0, NGX_HTTP_SECKILL_REASON_ERROR, "request failed" }
};


ngx_int_t
ngx_http_seckill_error_handler(ngx_http_request_t *r)
{
    ngx_uint_t                 status;
    ngx_http_seckill_error_t  *e;

    /*
     * An error can come before the body was read: it is discarded so that
     * the connection stays usable, or the connection is closed after the
     * answer when even that fails.
     */

    if (ngx_http_discard_request_body(r) != NGX_OK) {
        r->keepalive = 0;
    }

    status = r->err_status ? r->err_status : NGX_HTTP_NOT_FOUND;

    for (e = ngx_http_seckill_errors; e->status; e++) {
        if (e->status == status) {
            break;
        }
    }

    return ngx_http_seckill_json_error(r, status, e->reason, e->text);
}
