
/*
 * Every body the module writes is JSON from yajl.  The generator's buffer is
 * sent as it is, without a copy, so the generator is freed with the request
 * pool rather than when the handler returns.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_json.h"
#include "ngx_http_seckill_stats.h"


static void ngx_http_seckill_json_free(void *data);


ngx_str_t  ngx_http_seckill_reasons[] = {
    ngx_string("ok"),
    ngx_string("pending"),
    ngx_string("success"),
    ngx_string("failed"),
    ngx_string("none"),
    ngx_string("duplicate"),
    ngx_string("sold_out"),
    ngx_string("not_started"),
    ngx_string("ended"),
    ngx_string("unknown_course"),
    ngx_string("bad_request"),
    ngx_string("forbidden"),
    ngx_string("not_found"),
    ngx_string("method_not_allowed"),
    ngx_string("too_large"),
    ngx_string("uri_too_long"),
    ngx_string("too_many_requests"),
    ngx_string("internal_error"),
    ngx_string("unavailable"),
    ngx_string("error")
};


yajl_gen
ngx_http_seckill_json_gen(ngx_http_request_t *r)
{
    yajl_gen             g;
    ngx_pool_cleanup_t  *cln;

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NULL;
    }

    g = yajl_gen_alloc(NULL);
    if (g == NULL) {
        return NULL;
    }

    cln->handler = ngx_http_seckill_json_free;
    cln->data = g;

    return g;
}


yajl_gen_status
ngx_http_seckill_json_str(yajl_gen g, const char *s)
{
    return yajl_gen_string(g, (const unsigned char *) s, ngx_strlen(s));
}


yajl_gen_status
ngx_http_seckill_json_reason(yajl_gen g, ngx_http_seckill_reason_e reason)
{
    return yajl_gen_string(g, ngx_http_seckill_reasons[reason].data,
                           ngx_http_seckill_reasons[reason].len);
}


ngx_int_t
ngx_http_seckill_json_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_seckill_reason_e reason, yajl_gen g, time_t retry_after)
{
    size_t                len;
    u_char               *p;
    ngx_int_t             rc;
    ngx_buf_t            *b;
    ngx_str_t             value;
    ngx_chain_t           out;
    const unsigned char  *buf;

    static ngx_str_t      retry_key = ngx_string("Retry-After");

    ngx_http_seckill_stats_response(r, reason);

    if (yajl_gen_get_buf(g, &buf, &len) != yajl_gen_status_ok) {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "yajl_gen_get_buf() failed");
        return NGX_ERROR;
    }

    if (retry_after) {
        p = ngx_pnalloc(r->pool, NGX_TIME_T_LEN);
        if (p == NULL) {
            return NGX_ERROR;
        }

        value.data = p;
        value.len = ngx_sprintf(p, "%T", retry_after) - p;

        if (ngx_http_seckill_add_header(r, &retry_key, &value) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    /* an error page may arrive here with headers of the failed request */

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);
    ngx_http_clear_last_modified(r);

    r->headers_out.status = status;
    r->headers_out.content_length_n = len;

    ngx_str_set(&r->headers_out.content_type, "application/json");
    r->headers_out.content_type_len = r->headers_out.content_type.len;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b = ngx_calloc_buf(r->pool);
    if (b == NULL) {
        return NGX_ERROR;
    }

    b->pos = (u_char *) buf;
    b->last = b->pos + len;
    b->memory = 1;
    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


yajl_gen
ngx_http_seckill_json_status(ngx_http_request_t *r,
    ngx_http_seckill_reason_e reason)
{
    yajl_gen  g;

    g = ngx_http_seckill_json_gen(r);
    if (g == NULL) {
        return NULL;
    }

    yajl_gen_map_open(g);
    ngx_http_seckill_json_str(g, "status");
    ngx_http_seckill_json_reason(g, reason);

    return g;
}


ngx_int_t
ngx_http_seckill_json_error(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_seckill_reason_e reason, const char *text)
{
    time_t    retry_after;
    yajl_gen  g;

    g = ngx_http_seckill_json_status(r, reason);
    if (g == NULL) {
        return NGX_ERROR;
    }

    ngx_http_seckill_json_str(g, "error");
    ngx_http_seckill_json_str(g, text);
    yajl_gen_map_close(g);

    /* both are worth retrying, and a client should not retry at once */

    retry_after = (status == NGX_HTTP_SERVICE_UNAVAILABLE
                   || status == NGX_HTTP_TOO_MANY_REQUESTS) ? 1 : 0;

    return ngx_http_seckill_json_send(r, status, reason, g, retry_after);
}


ngx_int_t
ngx_http_seckill_add_header(ngx_http_request_t *r, ngx_str_t *key,
    ngx_str_t *value)
{
    ngx_table_elt_t  *h;

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key = *key;
    h->value = *value;
    h->lowcase_key = NULL;

#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    return NGX_OK;
}


ngx_int_t
ngx_http_seckill_json_method(ngx_http_request_t *r, ngx_uint_t methods,
    ngx_str_t *allow)
{
    u_char     *p;
    ngx_int_t   rc;

    static ngx_str_t  allow_key = ngx_string("Allow");

    rc = ngx_http_discard_request_body(r);

    if (rc != NGX_OK) {
        return rc;
    }

    /*
     * A chunked body has no length for client_max_body_size to refuse, and
     * would be discarded for as long as the client sends it: refused here,
     * and nginx's lingering close bounds what is still read of it.
     */

    if (r->headers_in.chunked) {
        r->keepalive = 0;

        return ngx_http_seckill_json_error(r,
                                       NGX_HTTP_REQUEST_ENTITY_TOO_LARGE,
                                       NGX_HTTP_SECKILL_REASON_TOO_LARGE,
                                       "no chunked request body here: send "
                                       "none");
    }

    if (r->method & methods) {
        return NGX_DECLINED;
    }

    if (ngx_http_seckill_add_header(r, &allow_key, allow) != NGX_OK) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, sizeof("only  allowed here") + allow->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_sprintf(p, "only %V allowed here%Z", allow);

    return ngx_http_seckill_json_error(r, NGX_HTTP_NOT_ALLOWED,
                                   NGX_HTTP_SECKILL_REASON_METHOD_NOT_ALLOWED,
                                   (const char *) p);
}


static void
ngx_http_seckill_json_free(void *data)
{
    yajl_gen_free(data);
}
