
/*
 * GET /api/courses: the catalogue as the page shows it, read from Redis
 * without blocking the worker.  ZRANGE seckill:courses lists the ids, then
 * one HMGET per course is pipelined on the worker's connection.
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


/* the hash fields as SECKILL_COURSE_FIELDS asks for them: name, numbers */
static const char  *ngx_http_seckill_course_fields[] = {
    "name", "total", "remaining", "starts_at", "ends_at"
};

#define NGX_HTTP_SECKILL_COURSE_NFIELDS  5


typedef struct {
    int64_t                      id;
    ngx_str_t                    name;
    int64_t                      numbers[NGX_HTTP_SECKILL_COURSE_NFIELDS - 1];
    unsigned                     listed:1;
} ngx_http_seckill_course_t;


typedef struct {
    ngx_http_seckill_read_t      read;       /* first: freed through it */
    ngx_uint_t                   ncourses;
    ngx_http_seckill_course_t   *courses;    /* in the request pool */
} ngx_http_seckill_courses_ctx_t;


/*
 * Which course an HMGET reply is for: in a Redis Cluster the courses live
 * on several masters, whose replies come in any order.  Allocated from the
 * heap: the reply may come after the request and its pool are gone.
 */
typedef struct {
    ngx_http_seckill_courses_ctx_t  *ctx;
    ngx_uint_t                       index;
} ngx_http_seckill_courses_ask_t;


static void ngx_http_seckill_courses_list(redisReply *reply, void *data);
static void ngx_http_seckill_courses_course(redisReply *reply, void *data);
static const char *ngx_http_seckill_courses_check(ngx_http_request_t *r,
    redisReply *reply, int type, size_t elements);
static void ngx_http_seckill_courses_parse(ngx_http_request_t *r,
    ngx_http_seckill_course_t *course, redisReply *reply);
static ngx_int_t ngx_http_seckill_courses_send(ngx_http_request_t *r,
    ngx_http_seckill_courses_ctx_t *ctx);
static ngx_int_t ngx_http_seckill_courses_cmp(const void *one,
    const void *two);
static ngx_uint_t ngx_http_seckill_utf8_valid(u_char *p, size_t len);


ngx_int_t
ngx_http_seckill_courses_handler(ngx_http_request_t *r)
{
    ngx_int_t                        rc;
    ngx_http_seckill_courses_ctx_t  *ctx;

    static ngx_str_t  allow = ngx_string("GET, HEAD");

    rc = ngx_http_seckill_json_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD, &allow);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    ctx = ngx_http_seckill_read_create(r, sizeof(*ctx));
    if (ctx == NULL) {
        return NGX_ERROR;
    }

    rc = ngx_http_seckill_redis_command(
             ngx_http_seckill_redis_key_slot(SECKILL_KEY_CATALOGUE),
             ngx_http_seckill_courses_list, ctx,
             "ZRANGE %s 0 -1", SECKILL_KEY_CATALOGUE);

    return ngx_http_seckill_read_wait(r, &ctx->read, rc);
}


static void
ngx_http_seckill_courses_list(redisReply *reply, void *data)
{
    ngx_http_seckill_courses_ctx_t *ctx = data;

    u_char                          *p, key[SECKILL_KEY_MAX];
    off_t                            id;
    size_t                           i;
    redisReply                      *el;
    const char                      *err;
    ngx_uint_t                       n;
    ngx_http_request_t              *r;
    ngx_http_seckill_course_t       *course;
    ngx_http_seckill_courses_ask_t  *ask;

    r = ngx_http_seckill_read_reply(&ctx->read);
    if (r == NULL) {
        return;
    }

    err = ngx_http_seckill_courses_check(r, reply, REDIS_REPLY_ARRAY, 0);
    if (err) {
        ngx_http_seckill_read_fail(&ctx->read, err);
        return;
    }

    if (reply->elements) {
        ctx->courses = ngx_pcalloc(r->pool,
                                   reply->elements * sizeof(*ctx->courses));
        if (ctx->courses == NULL) {
            ngx_http_seckill_read_finish(&ctx->read, NGX_ERROR);
            return;
        }
    }

    n = 0;

    for (i = 0; i < reply->elements; i++) {
        el = reply->element[i];

        if (el->type != REDIS_REPLY_STRING) {
            continue;
        }

        id = ngx_atoof((u_char *) el->str, el->len);

        if (id < 1 || id > NGX_HTTP_SECKILL_MAX_ID) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "member \"%*s\" of \"%s\" is not a course id, "
                          "ignored", el->len, el->str,
                          SECKILL_KEY_CATALOGUE);
            continue;
        }

        ctx->courses[n++].id = id;
    }

    ctx->ncourses = n;

    if (n == 0) {
        ngx_http_seckill_read_finish(&ctx->read,
                                     ngx_http_seckill_courses_send(r, ctx));
        return;
    }

    /* the scores are the ids, but the order must not depend on the writer */

    ngx_sort(ctx->courses, n, sizeof(ngx_http_seckill_course_t),
             ngx_http_seckill_courses_cmp);

    for (i = 0; i < n; i++) {
        course = &ctx->courses[i];

        p = ngx_sprintf(key, SECKILL_KEY_COURSE("%L"), course->id);

        ask = ngx_alloc(sizeof(ngx_http_seckill_courses_ask_t),
                        r->connection->log);
        if (ask == NULL) {
            ngx_http_seckill_read_fail(&ctx->read, "out of memory");
            return;
        }

        ask->ctx = ctx;
        ask->index = i;

        if (ngx_http_seckill_redis_command(
                ngx_http_seckill_redis_course_slot(course->id),
                ngx_http_seckill_courses_course, ask,
                "HMGET %b " SECKILL_COURSE_FIELDS, key, (size_t) (p - key))
            != NGX_OK)
        {
            /*
             * Its Redis (a master of a cluster) is not connected: the page
             * shows the courses that can be bought, and this one when it
             * can be again.
             */

            ngx_free(ask);

            ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                          "course %L not listed: its redis is not "
                          "connected", course->id);
            continue;
        }

        ctx->read.pending++;
    }

    if (ctx->read.pending == 0) {
        ngx_http_seckill_read_finish(&ctx->read,
                                     ngx_http_seckill_courses_send(r, ctx));
    }
}


static void
ngx_http_seckill_courses_course(redisReply *reply, void *data)
{
    ngx_http_seckill_courses_ask_t *ask = data;

    const char                      *err;
    ngx_uint_t                       i;
    ngx_http_request_t              *r;
    ngx_http_seckill_courses_ctx_t  *ctx;

    ctx = ask->ctx;
    i = ask->index;
    ngx_free(ask);

    r = ngx_http_seckill_read_reply(&ctx->read);
    if (r == NULL) {
        return;
    }

    err = ngx_http_seckill_courses_check(r, reply, REDIS_REPLY_ARRAY,
                                         NGX_HTTP_SECKILL_COURSE_NFIELDS);
    if (err) {
        ngx_http_seckill_read_fail(&ctx->read, err);
        return;
    }

    ngx_http_seckill_courses_parse(r, &ctx->courses[i], reply);

    if (ctx->read.pending == 0) {
        ngx_http_seckill_read_finish(&ctx->read,
                                     ngx_http_seckill_courses_send(r, ctx));
    }
}


/* returns NULL for a usable reply, else the reason for the client */

static const char *
ngx_http_seckill_courses_check(ngx_http_request_t *r, redisReply *reply,
    int type, size_t elements)
{
    if (reply == NULL) {
        return "redis connection lost";
    }

    if (reply->type == REDIS_REPLY_ERROR) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "redis error while reading the course catalogue: %*s",
                      reply->len, reply->str);
        return "redis error";
    }

    if (reply->type != type || (elements && reply->elements != elements)) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "unexpected redis reply of type %d with %uz elements "
                      "while reading the course catalogue",
                      reply->type, reply->elements);
        return "unexpected redis reply";
    }

    return NULL;
}


/*
 * A course whose hash is missing (being reloaded) is left out of the list;
 * so is a malformed one, which is logged: the page shows the others.
 */

static void
ngx_http_seckill_courses_parse(ngx_http_request_t *r,
    ngx_http_seckill_course_t *course, redisReply *reply)
{
    off_t        n;
    ngx_uint_t   i, missing;
    redisReply  *el;

    missing = 0;

    for (i = 0; i < NGX_HTTP_SECKILL_COURSE_NFIELDS; i++) {
        if (reply->element[i]->type == REDIS_REPLY_NIL) {
            missing++;
        }
    }

    if (missing == NGX_HTTP_SECKILL_COURSE_NFIELDS) {
        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "course %L has no hash, not listed", course->id);
        return;
    }

    for (i = 0; i < NGX_HTTP_SECKILL_COURSE_NFIELDS; i++) {
        el = reply->element[i];

        if (el->type != REDIS_REPLY_STRING) {
            goto malformed;
        }

        if (i == 0) {
            if (!ngx_http_seckill_utf8_valid((u_char *) el->str, el->len)) {
                goto malformed;
            }

            continue;
        }

        n = ngx_atoof((u_char *) el->str, el->len);
        if (n == NGX_ERROR) {
            goto malformed;
        }

        course->numbers[i - 1] = n;
    }

    el = reply->element[0];

    course->name.data = ngx_pnalloc(r->pool, el->len);
    if (course->name.data == NULL) {
        return;
    }

    course->name.len = el->len;
    ngx_memcpy(course->name.data, el->str, el->len);

    course->listed = 1;

    return;

malformed:

    ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                  "course %L: field \"%s\" of \"" SECKILL_KEY_COURSE("%L")
                  "\" is missing "
                  "or malformed, course not listed",
                  course->id, ngx_http_seckill_course_fields[i], course->id);
}


static ngx_int_t
ngx_http_seckill_courses_send(ngx_http_request_t *r,
    ngx_http_seckill_courses_ctx_t *ctx)
{
    yajl_gen                    g;
    ngx_uint_t                  i, j;
    ngx_time_t                 *tp;
    ngx_http_seckill_course_t  *c;

    g = ngx_http_seckill_json_gen(r);
    if (g == NULL) {
        return NGX_ERROR;
    }

    tp = ngx_timeofday();

    yajl_gen_map_open(g);

    ngx_http_seckill_json_str(g, "now");
    yajl_gen_integer(g, (long long) tp->sec * 1000 + tp->msec);

    ngx_http_seckill_json_str(g, "courses");
    yajl_gen_array_open(g);

    for (i = 0; i < ctx->ncourses; i++) {
        c = &ctx->courses[i];

        if (!c->listed) {
            continue;
        }

        yajl_gen_map_open(g);

        ngx_http_seckill_json_str(g, "id");
        yajl_gen_integer(g, c->id);
        ngx_http_seckill_json_str(g, ngx_http_seckill_course_fields[0]);
        yajl_gen_string(g, c->name.data, c->name.len);

        for (j = 1; j < NGX_HTTP_SECKILL_COURSE_NFIELDS; j++) {
            ngx_http_seckill_json_str(g, ngx_http_seckill_course_fields[j]);
            yajl_gen_integer(g, c->numbers[j - 1]);
        }

        yajl_gen_map_close(g);
    }

    yajl_gen_array_close(g);
    yajl_gen_map_close(g);

    return ngx_http_seckill_json_send(r, NGX_HTTP_OK,
                                      NGX_HTTP_SECKILL_REASON_OK, g, 0);
}


static ngx_int_t
ngx_http_seckill_courses_cmp(const void *one, const void *two)
{
    const ngx_http_seckill_course_t  *a = one;
    const ngx_http_seckill_course_t  *b = two;

    return (a->id > b->id) - (a->id < b->id);
}


static ngx_uint_t
ngx_http_seckill_utf8_valid(u_char *p, size_t len)
{
    u_char  *last;

    last = p + len;

    while (p < last) {
        if (*p < 0x80) {
            p++;
            continue;
        }

        if (ngx_utf8_decode(&p, last - p) > 0x10ffff) {
            return 0;
        }
    }

    return 1;
}
