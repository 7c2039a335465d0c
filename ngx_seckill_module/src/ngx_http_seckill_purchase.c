
/*
 * POST /api/seckill/{course_id}/{user_id}: one seat, the whole way inside
 * the worker's event loop.
 *
 *   reserve   the reserve script in Redis takes the seat (or says why not);
 *             the purchases of one course in one turn of the event loop
 *             share one script call (ngx_http_seckill_script.c)
 *   deliver   the order event goes to Kafka; the request waits for the
 *             broker's acknowledgement: 200 pending
 *   release   delivery failed or timed out: the release script gives the
 *             seat back (503), unless the consumer claimed the order first
 *             (200: it will be persisted)
 *
 * The purchase lives in a heap context that the request only borrows:
 * Redis replies and delivery reports may come after the request is gone
 * (timed out, connection closed) and still have work to do.  An "ok" from
 * Redis after the client was told 503 is released at once, so no seat is
 * held by an order nobody will hear of; a failed delivery is released
 * whether or not the client still waits.  A release that cannot be sent
 * (Redis down) waits for the next connection.
 *
 * The request's timer is not cancelable, so a gracefully exiting worker
 * (reload, quit) serves its deliveries before it goes; after the request,
 * a context with work left holds the worker once more for a delivery
 * timeout at most.
 *
 * The context's life, state x event -> action (one handler per column;
 * "-": cannot happen in that state):
 *
 *  state        reserve reply   delivery report  release reply   timer
 *  reserving    ok: deliver,    -                -               503, the
 *               or release if                                    reply still
 *               nobody waits;                                    awaited
 *               refused: answer
 *               -> done; error:
 *               503 -> done;
 *               lost: 503 ->
 *               waiting_redis
 *  delivering   -               ok: 200 -> done; -               release
 *                               failed: release
 *  releasing    -               late: ignored    confirmed: 200  503, the
 *                                                -> done;        reply still
 *                                                released, gone: awaited
 *                                                503 -> done;
 *                                                lost: 503 ->
 *                                                waiting_redis
 *  waiting_     -               late: ignored    -               -
 *  redis
 *  done         -               late: ignored    -               -
 *
 * "release" is state releasing, or waiting_redis while Redis is not
 * connected; a new connection releases every context waiting_redis.  The
 * timer column is the request's: once the request is gone the timer only
 * holds an exiting worker (linger).  The request's cleanup only detaches
 * the request; at the worker's exit every reply and report frees what it
 * belongs to.
 *
 * Flags say what the state cannot: a delivery report still to come (also
 * after the timer gave up on it), the client answered, inside a handler
 * (the request's cleanup, run by the answer, must not free the context),
 * the linger timer set once.  One function, leave(), frees the context:
 * every handler and the request's cleanup end there, and it frees once
 * the request is gone and nothing can reach the context any more.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_json.h"
#include "ngx_http_seckill_script.h"
#include "ngx_http_seckill_orderid.h"
#include "ngx_http_seckill_soldout.h"
#include "ngx_http_seckill_kafka.h"


/*
 * How long after librdkafka's own message timeout a report may still come:
 * it looks for timed out messages once a second.
 */
#define NGX_HTTP_SECKILL_DELIVERY_SLACK  2000

#define NGX_HTTP_SECKILL_GONE            410


typedef enum {
    ngx_http_seckill_reserving = 0,
    ngx_http_seckill_delivering,
    ngx_http_seckill_releasing,
    ngx_http_seckill_waiting_redis,      /* a release to send */
    ngx_http_seckill_done
} ngx_http_seckill_purchase_state_e;


typedef struct {
    ngx_http_request_t                 *request;   /* NULL once freed */
    ngx_event_t                         timer;
    ngx_http_seckill_script_call_t      call;
    ngx_queue_t                         queue;     /* in waiting_redis */

    ngx_http_seckill_ids_t              ids;

    ngx_http_seckill_purchase_state_e   state;

    unsigned                            kafka:1;     /* a report to come */
    unsigned                            answered:1;
    unsigned                            running:1;   /* in a handler */
    unsigned                            lingered:1;
} ngx_http_seckill_purchase_t;


/* the worker's purchases that outlive their requests */
typedef struct {
    ngx_http_seckill_main_conf_t       *conf;
    ngx_log_t                          *log;
    ngx_queue_t                         waiting;   /* releases to send */

    /* Redis timeouts: one log line a second at most, with their count */
    ngx_uint_t                          timeouts;
    ngx_msec_t                          timeouts_logged;

    unsigned                            exiting:1;
} ngx_http_seckill_purchases_t;


/* how each verdict of the reserve script is answered */
typedef struct {
    ngx_str_t                           verdict;
    ngx_uint_t                          status;
    ngx_http_seckill_reason_e           reason;
    const char                         *field;     /* the script's value */
} ngx_http_seckill_verdict_t;


static ngx_int_t ngx_http_seckill_purchase_send(ngx_http_request_t *r,
    ngx_uint_t status, ngx_http_seckill_reason_e reason,
    ngx_http_seckill_ids_t *ids, const char *field, int64_t value);
static ngx_uint_t ngx_http_seckill_purchase_replied(
    ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_reserved(redisReply *reply,
    void *data);
static void ngx_http_seckill_purchase_deliver(
    ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_delivered(void *opaque,
    rd_kafka_resp_err_t err);
static void ngx_http_seckill_purchase_release(
    ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_released(redisReply *reply,
    void *data);
static void ngx_http_seckill_purchase_wait_redis(
    ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_timeout(ngx_event_t *ev);
static void ngx_http_seckill_purchase_redis_timed_out(ngx_log_t *log);
static ngx_uint_t ngx_http_seckill_purchase_waits(
    ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_answer(ngx_http_seckill_purchase_t *ctx,
    ngx_uint_t status, ngx_http_seckill_reason_e reason, const char *field,
    int64_t value);
static void ngx_http_seckill_purchase_fail(ngx_http_seckill_purchase_t *ctx,
    const char *text);
static void ngx_http_seckill_purchase_finalize(
    ngx_http_seckill_purchase_t *ctx, ngx_int_t rc);
static void ngx_http_seckill_purchase_leave(ngx_http_seckill_purchase_t *ctx);
static void ngx_http_seckill_purchase_cleanup(void *data);
static void ngx_http_seckill_purchase_linger(
    ngx_http_seckill_purchase_t *ctx);
static ngx_log_t *ngx_http_seckill_purchase_log(
    ngx_http_seckill_purchase_t *ctx);


static ngx_http_seckill_verdict_t  ngx_http_seckill_verdicts[] = {
    { ngx_string("duplicate"), NGX_HTTP_CONFLICT,
      NGX_HTTP_SECKILL_REASON_DUPLICATE, "order_id" },
    { ngx_string("sold_out"), NGX_HTTP_SECKILL_GONE,
      NGX_HTTP_SECKILL_REASON_SOLD_OUT, NULL },
    { ngx_string("not_started"), NGX_HTTP_FORBIDDEN,
      NGX_HTTP_SECKILL_REASON_NOT_STARTED, "starts_at" },
    { ngx_string("ended"), NGX_HTTP_FORBIDDEN,
      NGX_HTTP_SECKILL_REASON_ENDED, "ends_at" },
    { ngx_string("unknown"), NGX_HTTP_NOT_FOUND,
      NGX_HTTP_SECKILL_REASON_UNKNOWN_COURSE, NULL },
    { ngx_null_string, 0, 0, NULL }
};


static ngx_http_seckill_purchases_t  ngx_http_seckill_purchases;


ngx_int_t
ngx_http_seckill_purchase_init(ngx_cycle_t *cycle,
    ngx_http_seckill_main_conf_t *smcf)
{
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    pw->conf = smcf;
    pw->log = cycle->log;
    ngx_queue_init(&pw->waiting);

    if (ngx_http_seckill_kafka_init(cycle, smcf,
                                    ngx_http_seckill_purchase_delivered)
        != NGX_OK)
    {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, 0,
                      "kafka producer not started: purchases are answered "
                      "503");
    }

    return NGX_OK;
}


void
ngx_http_seckill_purchase_exit(ngx_cycle_t *cycle)
{
    ngx_queue_t                   *q;
    ngx_uint_t                     n;
    ngx_http_seckill_purchase_t   *ctx;
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    if (pw->conf == NULL) {
        return;
    }

    /* from now on replies and reports only free what they belong to */

    pw->exiting = 1;

    ngx_http_seckill_script_exit();

    n = 0;

    while (!ngx_queue_empty(&pw->waiting)) {
        q = ngx_queue_head(&pw->waiting);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_seckill_purchase_t, queue);
        ctx->state = ngx_http_seckill_done;
        n++;

        ctx->running = 1;
        ngx_http_seckill_purchase_leave(ctx);
    }

    if (n) {
        ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                      "%ui reservations not released at exit: redis was "
                      "not reachable; the sweeper will release them", n);
    }

    ngx_http_seckill_kafka_exit(cycle);
}


ngx_int_t
ngx_http_seckill_purchase_handler(ngx_http_request_t *r)
{
    int64_t                        order;
    ngx_int_t                      rc;
    ngx_time_t                    *tp;
    ngx_pool_cleanup_t            *cln;
    ngx_http_seckill_ids_t         ids;
    ngx_http_seckill_purchase_t   *ctx;
    ngx_http_seckill_main_conf_t  *smcf;

    static ngx_str_t  allow = ngx_string("POST");

    /* a purchase has no body: never read into memory, never kept */

    rc = ngx_http_seckill_request_ids(r, NGX_HTTP_POST, &allow, &ids);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_seckill_module);

    if (smcf->sold_out_zone
        && ngx_http_seckill_sold_out_test(smcf->sold_out_zone, ids.course))
    {
        return ngx_http_seckill_purchase_send(r, NGX_HTTP_SECKILL_GONE,
                                              NGX_HTTP_SECKILL_REASON_SOLD_OUT,
                                              &ids, NULL, 0);
    }

    /* a seat reserved now could only be released again */

    if (!ngx_http_seckill_kafka_ready()) {
        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "no kafka producer");
    }

    if (ngx_http_seckill_order_id_next(&order) != NGX_OK) {
        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "no order id block from redis "
                                           "yet");
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_ERROR;
    }

    ctx = ngx_calloc(sizeof(ngx_http_seckill_purchase_t), r->connection->log);
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    ctx->ids = ids;
    ctx->state = ngx_http_seckill_reserving;

    /* the order id and its time live in the call: the event carries both */

    ctx->call.script = NGX_HTTP_SECKILL_SCRIPT_RESERVE;
    ctx->call.handler = ngx_http_seckill_purchase_reserved;
    ctx->call.data = ctx;
    ctx->call.course = ids.course;
    ctx->call.user = ids.user;
    ctx->call.order = order;
    ctx->call.now = (int64_t) tp->sec * 1000 + tp->msec;

    if (ngx_http_seckill_script_run(&ctx->call) != NGX_OK) {
        /* nothing else has seen the context yet */
        ngx_free(ctx);
        return ngx_http_seckill_json_error(r, NGX_HTTP_SERVICE_UNAVAILABLE,
                                           NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                           "redis is not connected");
    }

    ctx->request = r;

    cln->handler = ngx_http_seckill_purchase_cleanup;
    cln->data = ctx;

    ctx->timer.handler = ngx_http_seckill_purchase_timeout;
    ctx->timer.data = ctx;
    ctx->timer.log = r->connection->log;

    ngx_add_timer(&ctx->timer, smcf->redis.timeout);

    r->main->count++;

    return NGX_DONE;
}


/*
 * {"status":reason,["order_id"|"starts_at"|"ends_at":value,]
 *  "course_id":..,"user_id":..}
 */

static ngx_int_t
ngx_http_seckill_purchase_send(ngx_http_request_t *r, ngx_uint_t status,
    ngx_http_seckill_reason_e reason, ngx_http_seckill_ids_t *ids,
    const char *field, int64_t value)
{
    yajl_gen  g;

    g = ngx_http_seckill_json_status(r, reason);
    if (g == NULL) {
        return NGX_ERROR;
    }

    if (field) {
        ngx_http_seckill_json_str(g, field);
        yajl_gen_integer(g, value);
    }

    ngx_http_seckill_json_str(g, "course_id");
    yajl_gen_integer(g, ids->course);
    ngx_http_seckill_json_str(g, "user_id");
    yajl_gen_integer(g, ids->user);

    yajl_gen_map_close(g);

    return ngx_http_seckill_json_send(r, status, reason, g, 0);
}


/*
 * The start of both Redis reply handlers: the context is in a handler.
 * False at the worker's exit, when a reply only ends what it belongs to.
 */

static ngx_uint_t
ngx_http_seckill_purchase_replied(ngx_http_seckill_purchase_t *ctx)
{
    ctx->running = 1;

    if (ngx_http_seckill_purchases.exiting) {
        ctx->state = ngx_http_seckill_done;
        return 0;
    }

    return 1;
}


static void
ngx_http_seckill_purchase_reserved(redisReply *reply, void *data)
{
    ngx_http_seckill_purchase_t *ctx = data;

    off_t                          value;
    redisReply                    *verdict, *el;
    ngx_http_seckill_verdict_t    *v;
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    if (!ngx_http_seckill_purchase_replied(ctx)) {
        goto leave;
    }

    if (reply == NULL && !ctx->call.sent) {

        /* Redis went away before the batch left: nothing was reserved */

        ngx_http_seckill_purchase_fail(ctx, "redis is not connected");
        ctx->state = ngx_http_seckill_done;
        goto leave;
    }

    if (reply == NULL) {

        /* the script may have run: release that order id when possible */

        ngx_http_seckill_purchase_fail(ctx, "redis connection lost");
        ngx_http_seckill_purchase_wait_redis(ctx);
        goto leave;
    }

    if (reply->type != REDIS_REPLY_ARRAY
        || reply->elements < 1
        || reply->element[0]->type != REDIS_REPLY_STRING)
    {
        ngx_log_error(NGX_LOG_ERR, ngx_http_seckill_purchase_log(ctx), 0,
                      "reserve script for course %L, user %L failed: "
                      "redis answered type %d \"%*s\"",
                      ctx->ids.course, ctx->ids.user, reply->type,
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);

        ngx_http_seckill_purchase_fail(ctx, "redis error");
        ctx->state = ngx_http_seckill_done;
        goto leave;
    }

    verdict = reply->element[0];

    if (verdict->len == 2 && ngx_strncmp(verdict->str, "ok", 2) == 0) {

        if (ngx_http_seckill_purchase_waits(ctx)) {
            ngx_http_seckill_purchase_deliver(ctx);

        } else {
            /* the client was told 503 or is gone: nobody will buy it */
            ngx_http_seckill_purchase_release(ctx);
        }

        goto leave;
    }

    ctx->state = ngx_http_seckill_done;

    value = 0;

    if (reply->elements > 1) {
        el = reply->element[1];

        if (el->type == REDIS_REPLY_STRING) {
            value = ngx_atoof((u_char *) el->str, el->len);
        }
    }

    for (v = ngx_http_seckill_verdicts; v->status; v++) {
        if (verdict->len == v->verdict.len
            && ngx_strncmp(verdict->str, v->verdict.data, v->verdict.len)
               == 0)
        {
            break;
        }
    }

    if (v->status == 0) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_seckill_purchase_log(ctx), 0,
                      "reserve script for course %L, user %L answered an "
                      "unknown verdict \"%*s\"", ctx->ids.course,
                      ctx->ids.user, verdict->len, verdict->str);

        ngx_http_seckill_purchase_fail(ctx, "unexpected redis reply");
        goto leave;
    }

    if (v->status == NGX_HTTP_SECKILL_GONE && pw->conf->sold_out_zone) {
        ngx_http_seckill_sold_out_set(pw->conf->sold_out_zone,
                                      ctx->ids.course,
                                      pw->conf->sold_out_ttl);
    }

    ngx_http_seckill_purchase_answer(ctx, v->status, v->reason, v->field,
                                     value == NGX_ERROR ? 0 : value);

leave:

    ngx_http_seckill_purchase_leave(ctx);
}


static void
ngx_http_seckill_purchase_deliver(ngx_http_seckill_purchase_t *ctx)
{
    u_char  *p, *k, key[NGX_INT64_LEN],
             value[sizeof("{\"order_id\":,\"course_id\":,\"user_id\":,"
                          "\"ts\":}") + 4 * NGX_INT64_LEN];

    /* integers only: nothing to escape, no need for yajl */

    p = ngx_sprintf(value,
                    "{\"order_id\":%L,\"course_id\":%L,\"user_id\":%L,"
                    "\"ts\":%L}",
                    ctx->call.order, ctx->ids.course, ctx->ids.user,
                    ctx->call.now);

    /* the key is the course: its events stay in order in one partition */

    k = ngx_sprintf(key, "%L", ctx->ids.course);

    if (ngx_http_seckill_kafka_produce(key, k - key, value, p - value, ctx)
        != NGX_OK)
    {
        ngx_http_seckill_purchase_release(ctx);
        return;
    }

    ctx->kafka = 1;
    ctx->state = ngx_http_seckill_delivering;

    ngx_add_timer(&ctx->timer, ngx_http_seckill_kafka_timeout()
                               + NGX_HTTP_SECKILL_DELIVERY_SLACK);
}


static void
ngx_http_seckill_purchase_delivered(void *opaque, rd_kafka_resp_err_t err)
{
    ngx_http_seckill_purchase_t *ctx = opaque;

    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    ctx->kafka = 0;
    ctx->running = 1;

    /* a report after the timer gave up on it: the release has been run */

    if (ctx->state != ngx_http_seckill_delivering) {
        goto leave;
    }

    if (pw->exiting) {
        ctx->state = ngx_http_seckill_done;

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            ngx_log_error(NGX_LOG_WARN, pw->log, 0,
                          "order %L (course %L, user %L) not delivered at "
                          "exit: %s; left pending for the sweeper",
                          ctx->call.order, ctx->ids.course, ctx->ids.user,
                          rd_kafka_err2str(err));
        }

        goto leave;
    }

    if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        ctx->state = ngx_http_seckill_done;
        ngx_http_seckill_purchase_answer(ctx, NGX_HTTP_OK,
                                         NGX_HTTP_SECKILL_REASON_PENDING,
                                         "order_id", ctx->call.order);
        goto leave;
    }

    ngx_log_error(NGX_LOG_ERR, ngx_http_seckill_purchase_log(ctx), 0,
                  "order %L (course %L, user %L) not delivered to kafka: "
                  "%s; releasing the seat", ctx->call.order, ctx->ids.course,
                  ctx->ids.user, rd_kafka_err2str(err));

    ngx_http_seckill_purchase_release(ctx);

leave:

    ngx_http_seckill_purchase_leave(ctx);
}


static void
ngx_http_seckill_purchase_release(ngx_http_seckill_purchase_t *ctx)
{
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    ctx->state = ngx_http_seckill_releasing;
    ctx->call.script = NGX_HTTP_SECKILL_SCRIPT_RELEASE;
    ctx->call.handler = ngx_http_seckill_purchase_released;

    if (ngx_http_seckill_script_run(&ctx->call) != NGX_OK) {
        ngx_http_seckill_purchase_wait_redis(ctx);
        ngx_http_seckill_purchase_fail(ctx, "redis is not connected");
        return;
    }

    if (ngx_http_seckill_purchase_waits(ctx)) {
        ngx_add_timer(&ctx->timer, pw->conf->redis.timeout);
    }
}


static void
ngx_http_seckill_purchase_released(redisReply *reply, void *data)
{
    ngx_http_seckill_purchase_t *ctx = data;

    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    if (!ngx_http_seckill_purchase_replied(ctx)) {
        goto leave;
    }

    if (reply == NULL) {
        ngx_http_seckill_purchase_wait_redis(ctx);
        ngx_http_seckill_purchase_fail(ctx, "redis connection lost");
        goto leave;
    }

    ctx->state = ngx_http_seckill_done;

    if (reply->type == REDIS_REPLY_STRING
        && reply->len == sizeof("confirmed") - 1
        && ngx_strncmp(reply->str, "confirmed", reply->len) == 0)
    {
        /* the consumer claimed the order first: it will be persisted */

        if (!ngx_http_seckill_purchase_waits(ctx)) {
            ngx_log_error(NGX_LOG_WARN, pw->log, 0,
                          "order %L (course %L, user %L) was consumed "
                          "although its client was not told 200",
                          ctx->call.order, ctx->ids.course, ctx->ids.user);
        }

        ngx_http_seckill_purchase_answer(ctx, NGX_HTTP_OK,
                                         NGX_HTTP_SECKILL_REASON_PENDING,
                                         "order_id", ctx->call.order);
        goto leave;
    }

    if (reply->type == REDIS_REPLY_STRING
        && reply->len == sizeof("released") - 1
        && ngx_strncmp(reply->str, "released", reply->len) == 0)
    {
        /* this worker knows the seat is back: no need to wait the TTL */

        if (pw->conf->sold_out_zone) {
            ngx_http_seckill_sold_out_clear(pw->conf->sold_out_zone,
                                            ctx->ids.course);
        }

    } else if (reply->type != REDIS_REPLY_STRING) {
        ngx_log_error(NGX_LOG_ERR, ngx_http_seckill_purchase_log(ctx), 0,
                      "release script for order %L (course %L, user %L) "
                      "failed: redis answered type %d \"%*s\"; the sweeper "
                      "will release it", ctx->call.order, ctx->ids.course,
                      ctx->ids.user, reply->type,
                      reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                      reply->str);
    }

    /* "released", or "gone": the seat is not this order's any more */

    ngx_http_seckill_purchase_fail(ctx, "the order could not be delivered, "
                                        "nothing was reserved");

leave:

    ngx_http_seckill_purchase_leave(ctx);
}


/* a new Redis connection: send the releases that waited for it */

void
ngx_http_seckill_purchase_connected(ngx_http_seckill_redis_node_t *node,
    void *data)
{
    ngx_queue_t                   waiting, *q;
    ngx_http_seckill_purchase_t  *ctx;
    ngx_http_seckill_purchases_t *pw;

    pw = &ngx_http_seckill_purchases;

    if (ngx_queue_empty(&pw->waiting)) {
        return;
    }

    /* a release that fails again queues itself on pw->waiting */

    ngx_queue_init(&waiting);
    ngx_queue_add(&waiting, &pw->waiting);
    ngx_queue_init(&pw->waiting);

    while (!ngx_queue_empty(&waiting)) {
        q = ngx_queue_head(&waiting);
        ngx_queue_remove(q);

        ctx = ngx_queue_data(q, ngx_http_seckill_purchase_t, queue);
        ctx->running = 1;

        ngx_http_seckill_purchase_release(ctx);
        ngx_http_seckill_purchase_leave(ctx);
    }
}


static void
ngx_http_seckill_purchase_wait_redis(ngx_http_seckill_purchase_t *ctx)
{
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    /* never queued twice: only reserving, delivering and releasing (or a
       context just taken off the queue) come here */

    ctx->state = ngx_http_seckill_waiting_redis;
    ngx_queue_insert_tail(&pw->waiting, &ctx->queue);
}


static void
ngx_http_seckill_purchase_timeout(ngx_event_t *ev)
{
    ngx_http_seckill_purchase_t *ctx = ev->data;

    /* after the request, the timer only held an exiting worker */

    if (!ngx_http_seckill_purchase_waits(ctx)) {
        return;
    }

    ctx->running = 1;

    switch (ctx->state) {

    case ngx_http_seckill_reserving:
    case ngx_http_seckill_releasing:

        /* a late "ok" to reserve is released when it comes */

        ngx_http_seckill_purchase_redis_timed_out(ev->log);

        ngx_http_seckill_purchase_fail(ctx, "redis timed out");
        break;

    case ngx_http_seckill_delivering:

        /* librdkafka's timeout passed long ago: the arbiter decides */

        ngx_log_error(NGX_LOG_ERR, ev->log, 0,
                      "order %L (course %L, user %L): no delivery report "
                      "from kafka within %M ms; releasing the seat",
                      ctx->call.order, ctx->ids.course, ctx->ids.user,
                      ngx_http_seckill_kafka_timeout()
                      + NGX_HTTP_SECKILL_DELIVERY_SLACK);

        ngx_http_seckill_purchase_release(ctx);
        break;

    default:
        break;
    }

    ngx_http_seckill_purchase_leave(ctx);
}


/*
 * A stalled Redis times out every request in flight, thousands a second:
 * the first is logged, then one line a second at most with the count.
 */

static void
ngx_http_seckill_purchase_redis_timed_out(ngx_log_t *log)
{
    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    pw->timeouts++;

    if (pw->timeouts_logged
        && ngx_current_msec - pw->timeouts_logged < 1000)
    {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, log, 0,
                  "redis \"%V\" did not answer within %M ms: %ui purchase(s) "
                  "answered 503 since the last such message",
                  &pw->conf->redis.name, pw->conf->redis.timeout,
                  pw->timeouts);

    pw->timeouts = 0;
    pw->timeouts_logged = ngx_current_msec;
}


/* the client still waits for the answer */

static ngx_uint_t
ngx_http_seckill_purchase_waits(ngx_http_seckill_purchase_t *ctx)
{
    return ctx->request != NULL && !ctx->answered;
}


static void
ngx_http_seckill_purchase_answer(ngx_http_seckill_purchase_t *ctx,
    ngx_uint_t status, ngx_http_seckill_reason_e reason, const char *field,
    int64_t value)
{
    if (!ngx_http_seckill_purchase_waits(ctx)) {
        return;
    }

    ngx_http_seckill_purchase_finalize(ctx,
        ngx_http_seckill_purchase_send(ctx->request, status, reason,
                                       &ctx->ids, field, value));
}


/* 503 with Retry-After */

static void
ngx_http_seckill_purchase_fail(ngx_http_seckill_purchase_t *ctx,
    const char *text)
{
    if (!ngx_http_seckill_purchase_waits(ctx)) {
        return;
    }

    ngx_http_seckill_purchase_finalize(ctx,
        ngx_http_seckill_json_error(ctx->request,
                                    NGX_HTTP_SERVICE_UNAVAILABLE,
                                    NGX_HTTP_SECKILL_REASON_UNAVAILABLE,
                                    text));
}


static void
ngx_http_seckill_purchase_finalize(ngx_http_seckill_purchase_t *ctx,
    ngx_int_t rc)
{
    ctx->answered = 1;

    /* the request may be freed here: its cleanup leaves ctx to us */

    ngx_http_seckill_finalize(ctx->request, &ctx->timer, rc);
}


/*
 * The end of every handler that ran with ctx->running set, and the one
 * place a context is freed: once neither the request nor a Redis reply,
 * a delivery report or a new connection can reach it.
 */

static void
ngx_http_seckill_purchase_leave(ngx_http_seckill_purchase_t *ctx)
{
    ctx->running = 0;

    if (ctx->request) {
        return;
    }

    if (ctx->state != ngx_http_seckill_done || ctx->kafka) {
        ngx_http_seckill_purchase_linger(ctx);
        return;
    }

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    ngx_free(ctx);
}


static void
ngx_http_seckill_purchase_cleanup(void *data)
{
    ngx_http_seckill_purchase_t *ctx = data;

    ngx_http_seckill_purchases_t  *pw;

    pw = &ngx_http_seckill_purchases;

    ctx->request = NULL;
    ctx->timer.log = pw->log;

    if (ctx->timer.timer_set) {
        ngx_del_timer(&ctx->timer);
    }

    if (ctx->running) {
        return;
    }

    ctx->running = 1;
    ngx_http_seckill_purchase_leave(ctx);
}


/*
 * Work left after the request: a graceful exit waits for it once, a
 * delivery timeout at most; a release waiting for Redis to come back may
 * be left to the sweeper after that.
 */

static void
ngx_http_seckill_purchase_linger(ngx_http_seckill_purchase_t *ctx)
{
    if (ctx->lingered || ngx_http_seckill_purchases.exiting) {
        return;
    }

    ctx->lingered = 1;

    ngx_add_timer(&ctx->timer, ngx_http_seckill_kafka_timeout()
                               + NGX_HTTP_SECKILL_DELIVERY_SLACK);
}


static ngx_log_t *
ngx_http_seckill_purchase_log(ngx_http_seckill_purchase_t *ctx)
{
    return ctx->request ? ctx->request->connection->log
                        : ngx_http_seckill_purchases.log;
}
