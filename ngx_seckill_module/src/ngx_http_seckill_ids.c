
/*
 * The ids in /api/seckill/{course_id}/{user_id} and /api/orders/...: what
 * follows the location's prefix must be exactly two decimal integers from
 * 1 to 2^53 - 1, written without sign or leading zero, so that one id has
 * one spelling and one Redis key.  Anything else is the client's mistake,
 * answered 400 with the reason, before Redis is asked anything.
 *
 * r->uri is the normalized URI that chose the location: percent-decoded,
 * with "//" merged unless merge_slashes is off.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_json.h"


/* 9007199254740991 */
#define NGX_HTTP_SECKILL_ID_MAX_LEN  16


enum {
    NGX_HTTP_SECKILL_ID_OK = 0,
    NGX_HTTP_SECKILL_ID_MISSING,
    NGX_HTTP_SECKILL_ID_NOT_DECIMAL,
    NGX_HTTP_SECKILL_ID_LEADING_ZERO,
    NGX_HTTP_SECKILL_ID_RANGE
};


/* the reasons, for the course id and for the user id */
static const char  *ngx_http_seckill_id_reasons[2][5] = {
    { NULL,
      "missing course id: expected /{course_id}/{user_id}",
      "course id must be a decimal integer",
      "course id must not have a leading zero",
      "course id must be from 1 to 9007199254740991" },
    { NULL,
      "missing user id: expected /{course_id}/{user_id}",
      "user id must be a decimal integer",
      "user id must not have a leading zero",
      "user id must be from 1 to 9007199254740991" }
};


static ngx_uint_t ngx_http_seckill_parse_id(u_char **pos, u_char *last,
    int64_t *id);


ngx_int_t
ngx_http_seckill_request_ids(ngx_http_request_t *r, ngx_uint_t methods,
    ngx_str_t *allow, ngx_http_seckill_ids_t *ids)
{
    ngx_int_t    rc;
    const char  *reason;

    rc = ngx_http_seckill_json_method(r, methods, allow);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    if (ngx_http_seckill_parse_ids(r, ids, &reason) != NGX_OK) {
        return ngx_http_seckill_json_error(r, NGX_HTTP_BAD_REQUEST,
                                           NGX_HTTP_SECKILL_REASON_BAD_REQUEST,
                                           reason);
    }

    return NGX_DECLINED;
}


ngx_int_t
ngx_http_seckill_parse_ids(ngx_http_request_t *r, ngx_http_seckill_ids_t *ids,
    const char **reason)
{
    u_char                    *p, *last;
    ngx_uint_t                 rc;
    ngx_http_core_loc_conf_t  *clcf;

    /* the directives accept prefix locations only: the URI starts with it */

    clcf = ngx_http_get_module_loc_conf(r, ngx_http_core_module);

    if (r->uri.len < clcf->name.len
        || ngx_strncmp(r->uri.data, clcf->name.data, clcf->name.len) != 0)
    {
        *reason = "the URI does not match the location";
        return NGX_DECLINED;
    }

    p = r->uri.data + clcf->name.len;
    last = r->uri.data + r->uri.len;

    /* "location /api/seckill" as well as "location /api/seckill/" */

    if (clcf->name.len && clcf->name.data[clcf->name.len - 1] != '/') {
        if (p == last || *p != '/') {
            *reason = "expected /{course_id}/{user_id}";
            return NGX_DECLINED;
        }

        p++;
    }

    rc = ngx_http_seckill_parse_id(&p, last, &ids->course);
    if (rc != NGX_HTTP_SECKILL_ID_OK) {
        *reason = ngx_http_seckill_id_reasons[0][rc];
        return NGX_DECLINED;
    }

    if (p == last) {
        *reason = ngx_http_seckill_id_reasons[1][NGX_HTTP_SECKILL_ID_MISSING];
        return NGX_DECLINED;
    }

    /* the course id stopped at a '/' */
    p++;

    rc = ngx_http_seckill_parse_id(&p, last, &ids->user);
    if (rc != NGX_HTTP_SECKILL_ID_OK) {
        *reason = ngx_http_seckill_id_reasons[1][rc];
        return NGX_DECLINED;
    }

    if (p != last) {
        *reason = "unexpected path segment after the user id";
        return NGX_DECLINED;
    }

    return NGX_OK;
}


/* reads one id up to a '/' or the end of the URI */

static ngx_uint_t
ngx_http_seckill_parse_id(u_char **pos, u_char *last, int64_t *id)
{
    u_char   *p, *start;
    int64_t   n;

    start = *pos;

    for (p = start; p < last && *p != '/'; p++) {
        if (*p < '0' || *p > '9') {
            return NGX_HTTP_SECKILL_ID_NOT_DECIMAL;
        }
    }

    *pos = p;

    if (p == start) {
        return NGX_HTTP_SECKILL_ID_MISSING;
    }

    if (*start == '0') {
        return (p - start == 1) ? NGX_HTTP_SECKILL_ID_RANGE
                                : NGX_HTTP_SECKILL_ID_LEADING_ZERO;
    }

    /* also keeps the sum below from overflowing */

    if (p - start > NGX_HTTP_SECKILL_ID_MAX_LEN) {
        return NGX_HTTP_SECKILL_ID_RANGE;
    }

    for (n = 0; start < p; start++) {
        n = n * 10 + (*start - '0');
    }

    if (n > NGX_HTTP_SECKILL_MAX_ID) {
        return NGX_HTTP_SECKILL_ID_RANGE;
    }

    *id = n;

    return NGX_HTTP_SECKILL_ID_OK;
}
