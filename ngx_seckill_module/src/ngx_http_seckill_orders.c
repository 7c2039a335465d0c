
/*
 * GET /api/orders/{course_id}/{user_id}: where the user's order for the
 * course stands, from its status key in Redis (the arbiter's, see
 * protocol/seckill_scripts.h).  "claimed" is the consumer's business: the
 * client sees it as "pending" until the database has the order.
 *
 * The request waits for Redis as ngx_http_seckill_read.h says.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_json.h"
#include "ngx_http_seckill_read.h"
#include "seckill_keys.h"


typedef struct {
    ngx_http_seckill_read_t      read;       /* first: freed through it */
    ngx_http_seckill_ids_t       ids;
} ngx_http_seckill_orders_ctx_t;


static void ngx_http_seckill_orders_reply(redisReply *reply, void *data);
static ngx_int_t ngx_http_seckill_orders_send(ngx_http_request_t *r,
    ngx_http_seckill_orders_ctx_t *ctx, redisReply *reply);


ngx_int_t
ngx_http_seckill_orders_handler(ngx_http_request_t *r)
{
    u_char                          course[NGX_INT64_LEN + 1];
    u_char                          user[NGX_INT64_LEN + 1];
    ngx_int_t                       rc;
    ngx_http_seckill_ids_t          ids;
    ngx_http_seckill_orders_ctx_t  *ctx;

    static ngx_str_t  allow = ngx_string("GET, HEAD");

    rc = ngx_http_seckill_request_ids(r, NGX_HTTP_GET|NGX_HTTP_HEAD, &allow,
                                      &ids);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_http_seckill_read_create(r, sizeof(*ctx));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    ctx->ids = ids;

    ngx_sprintf(course, "%L%Z", ids.course);
    ngx_sprintf(user, "%L%Z", ids.user);

    rc = ngx_http_seckill_redis_command(
             ngx_http_seckill_redis_course_slot(ids.course),
             ngx_http_seckill_orders_reply, ctx,
             "HMGET " SECKILL_KEY_USER("%s", "%s") " order_id status",
             course, user);

    return ngx_http_seckill_read_wait(r, &ctx->read, rc);
}


static void
ngx_http_seckill_orders_reply(redisReply *reply, void *data)
{
    ngx_http_seckill_orders_ctx_t *ctx = data;

    ngx_http_request_t  *r;

    r = ngx_http_seckill_read_reply(&ctx->read);
    if (r == NULL) {
        return;
    }

    if (reply == NULL) {
        ngx_http_seckill_read_fail(&ctx->read, "redis connection lost");
        return;
    }

    ngx_http_seckill_read_finish(&ctx->read,
                                 ngx_http_seckill_orders_send(r, ctx, reply));
}


static ngx_int_t
ngx_http_seckill_orders_send(ngx_http_request_t *r,
    ngx_http_seckill_orders_ctx_t *ctx, redisReply *reply)
{
    off_t                       order;
    yajl_gen                    g;
    ngx_str_t                   status;
    ngx_uint_t                  code;
    redisReply                 *id, *st;
    ngx_http_seckill_reason_e   reason;

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "unexpected redis reply of type %d \"%*s\" to the "
                      "order status of course %L, user %L", reply->type,
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str, ctx->ids.course, ctx->ids.user);

        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "redis error");
    }

    id = reply->element[0];
    st = reply->element[1];

    if (id->type == REDIS_REPLY_NIL && st->type == REDIS_REPLY_NIL) {
        code = NGX_HTTP_NOT_FOUND;
        reason = NGX_HTTP_SECKILL_REASON_NONE;
        order = 0;
        goto send;
    }

    code = NGX_HTTP_OK;

    order = (id->type == REDIS_REPLY_STRING)
            ? ngx_atoof((u_char *) id->str, id->len) : NGX_ERROR;

    if (st->type == REDIS_REPLY_STRING) {
        status.data = (u_char *) st->str;
        status.len = st->len;

    } else {
        ngx_str_null(&status);
    }

    if ((status.len == 7 && ngx_strncmp(status.data, "claimed", 7) == 0)
        || (status.len == 7 && ngx_strncmp(status.data, "pending", 7) == 0))
    {
        reason = NGX_HTTP_SECKILL_REASON_PENDING;

    } else if (status.len == 7 && ngx_strncmp(status.data, "success", 7) == 0)
    {
        reason = NGX_HTTP_SECKILL_REASON_SUCCESS;

    } else if (status.len == 6 && ngx_strncmp(status.data, "failed", 6) == 0)
    {
        reason = NGX_HTTP_SECKILL_REASON_FAILED;

    } else {
        reason = NGX_HTTP_SECKILL_REASON_ERROR;
        order = NGX_ERROR;
    }

    if (order < 1) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "malformed status key for course %L, user %L: "
                      "order_id \"%*s\", status \"%V\"",
                      ctx->ids.course, ctx->ids.user,
                      id->type == REDIS_REPLY_STRING ? id->len : 0, id->str,
                      &status);

        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "malformed order status");
    }

send:

    g = ngx_http_seckill_json_status(r, reason);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (order) {
        ngx_http_seckill_json_str(g, "order_id");
        yajl_gen_integer(g, order);
    }

    ngx_http_seckill_json_str(g, "course_id");
    yajl_gen_integer(g, ctx->ids.course);
    ngx_http_seckill_json_str(g, "user_id");
    yajl_gen_integer(g, ctx->ids.user);

    yajl_gen_map_close(g);

    return ngx_http_seckill_json_send(r, code, reason, g, 0);
}
