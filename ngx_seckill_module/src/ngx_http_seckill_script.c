
/*
 * Batching the arbiter's scripts.  Redis runs one command at a time, and a
 * script call costs it far more than one order's work inside the script
 * (parsing, the script lookup, a Lua call, the MULTI/EXEC around the
 * effects in the AOF).  So the orders a worker gets in one turn of its
 * event loop are grouped by script and course, and each group leaves as
 * one EVALSHA carrying up to seckill_redis_batch orders:
 *
 *   run()     the order joins the open batch of its (script, course, now);
 *             the first order of the turn posts the flush event
 *   flush     a posted event: it runs after every event of the turn has
 *             been handled, and queues one command per batch; hiredis'
 *             write is posted behind it, so they all leave in one write
 *   reply     the array of verdicts is handed out, one per order, in order
 *
 * There is no timer and no waiting to fill a batch: under light load a
 * batch is one order and leaves in the turn it came in.  A batch never
 * spans courses, so one call touches one Redis Cluster slot.  The "now" of
 * a reservation is part of the batch's key: a batch decides the sale
 * window for the time its orders were taken, as lone calls would.
 *
 * Each new connection starts with SCRIPT LOAD of every script, so that the
 * EVALSHAs queued behind it on the same connection find them.  Redis can
 * still lose them (SCRIPT FLUSH, a replica promoted): NOSCRIPT is answered
 * by EVAL of the text, which runs the script and caches it again, once per
 * batch.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <ngx_sha1.h>

#include "ngx_http_seckill_script.h"
#include "ngx_http_seckill_stats.h"
#include "seckill_keys.h"
#include "seckill_scripts.h"


/* open batches are found by course in a small hash: courses per turn */
#define NGX_HTTP_SECKILL_SCRIPT_BUCKETS  64

/* the longest argument: a status key; ids and counts are shorter */
#define NGX_HTTP_SECKILL_SCRIPT_ARG      SECKILL_KEY_MAX

/* EVALSHA sha numkeys course pending [now] */
#define NGX_HTTP_SECKILL_SCRIPT_FIXED    6

/* status key, user id and order id of each order */
#define NGX_HTTP_SECKILL_SCRIPT_PER      3


typedef struct {
    const char                         *name;
    const char                         *text;
    u_char                              sha1[2 * 20 + 1];
} ngx_http_seckill_script_t;


typedef struct ngx_http_seckill_batch_s  ngx_http_seckill_batch_t;

struct ngx_http_seckill_batch_s {
    ngx_uint_t                          script;
    int64_t                             course;
    int64_t                             now;
    ngx_uint_t                          slot;      /* the course's, in Redis */

    ngx_queue_t                         queue;     /* open, in arrival order */
    ngx_http_seckill_batch_t           *next;      /* in its bucket */

    ngx_uint_t                          n;
    unsigned                            retried:1;

    ngx_http_seckill_script_call_t     *calls[1];  /* [max] */
};


typedef struct {
    ngx_log_t                          *log;
    ngx_uint_t                          max;       /* orders per call */

    ngx_queue_t                         open;
    ngx_http_seckill_batch_t   *buckets[NGX_HTTP_SECKILL_SCRIPT_BUCKETS];
    ngx_event_t                         flush;     /* posted */

    /* the arguments of the command being queued: hiredis copies them */
    const char                        **argv;
    size_t                             *argvlen;
    u_char                             *args;
} ngx_http_seckill_batches_t;


static ngx_http_seckill_batch_t *ngx_http_seckill_script_batch(
    ngx_http_seckill_script_call_t *call, ngx_uint_t slot);
static void ngx_http_seckill_script_flush(ngx_event_t *ev);
static ngx_int_t ngx_http_seckill_script_send(ngx_http_seckill_batch_t *batch,
    const char *command, const char *script);
static u_char *ngx_http_seckill_script_arg(u_char *p, int *argc,
    const char *fmt, ...);
static void ngx_http_seckill_script_reply(redisReply *reply, void *data);
static void ngx_http_seckill_script_done(ngx_http_seckill_batch_t *batch,
    redisReply *reply);
static void ngx_http_seckill_script_loaded(redisReply *reply, void *data);


static ngx_http_seckill_script_t  ngx_http_seckill_scripts[] = {
    { "reserve", SECKILL_SCRIPT_RESERVE, "" },
    { "release", SECKILL_SCRIPT_RELEASE, "" }
};

static ngx_http_seckill_batches_t  ngx_http_seckill_batches;


ngx_int_t
ngx_http_seckill_script_init(ngx_cycle_t *cycle, ngx_uint_t batch)
{
    u_char                       hash[20];
    ngx_uint_t                   i, nargs;
    ngx_sha1_t                   sha1;
    ngx_http_seckill_script_t   *s;
    ngx_http_seckill_batches_t  *bs;

    bs = &ngx_http_seckill_batches;

    bs->log = cycle->log;
    bs->max = batch;
    ngx_queue_init(&bs->open);

    bs->flush.handler = ngx_http_seckill_script_flush;
    bs->flush.data = bs;
    bs->flush.log = cycle->log;

    nargs = NGX_HTTP_SECKILL_SCRIPT_FIXED + NGX_HTTP_SECKILL_SCRIPT_PER * batch;

    bs->argv = ngx_palloc(cycle->pool, nargs * sizeof(char *));
    bs->argvlen = ngx_palloc(cycle->pool, nargs * sizeof(size_t));
    bs->args = ngx_palloc(cycle->pool, nargs * NGX_HTTP_SECKILL_SCRIPT_ARG);

    if (bs->argv == NULL || bs->argvlen == NULL || bs->args == NULL) {
        return NGX_ERROR;
    }

    for (i = 0; i < NGX_HTTP_SECKILL_SCRIPTS; i++) {
        s = &ngx_http_seckill_scripts[i];

        ngx_sha1_init(&sha1);
        ngx_sha1_update(&sha1, s->text, ngx_strlen(s->text));
        ngx_sha1_final(hash, &sha1);

        *ngx_hex_dump(s->sha1, hash, 20) = '\0';
    }

    return NGX_OK;
}


ngx_int_t
ngx_http_seckill_script_run(ngx_http_seckill_script_call_t *call)
{
    ngx_uint_t                   slot;
    ngx_http_seckill_batch_t    *batch;
    ngx_http_seckill_batches_t  *bs;

    bs = &ngx_http_seckill_batches;

    slot = ngx_http_seckill_redis_course_slot(call->course);

    if (!ngx_http_seckill_redis_ready(slot)) {
        return NGX_ERROR;
    }

    batch = ngx_http_seckill_script_batch(call, slot);
    if (batch == NULL) {
        return NGX_ERROR;
    }

    call->sent = 0;
    batch->calls[batch->n++] = call;

    if (!bs->flush.posted) {
        ngx_post_event(&bs->flush, &ngx_posted_events);
    }

    return NGX_OK;
}


void
ngx_http_seckill_script_exit(void)
{
    ngx_queue_t                 *q;
    ngx_http_seckill_batch_t    *batch;
    ngx_http_seckill_batches_t  *bs;

    bs = &ngx_http_seckill_batches;

    if (bs->log == NULL) {
        return;
    }

    if (bs->flush.posted) {
        ngx_delete_posted_event(&bs->flush);
    }

    ngx_memzero(bs->buckets, sizeof(bs->buckets));

    while (!ngx_queue_empty(&bs->open)) {
        q = ngx_queue_head(&bs->open);
        ngx_queue_remove(q);

        batch = ngx_queue_data(q, ngx_http_seckill_batch_t, queue);
        ngx_http_seckill_script_done(batch, NULL);
    }
}


/* the open batch that takes the call, a new one if none has room */

static ngx_http_seckill_batch_t *
ngx_http_seckill_script_batch(ngx_http_seckill_script_call_t *call,
    ngx_uint_t slot)
{
    ngx_uint_t                   bucket;
    ngx_http_seckill_batch_t    *batch;
    ngx_http_seckill_batches_t  *bs;

    bs = &ngx_http_seckill_batches;

    bucket = (ngx_uint_t) call->course % NGX_HTTP_SECKILL_SCRIPT_BUCKETS;

    for (batch = bs->buckets[bucket]; batch; batch = batch->next) {
        if (batch->course == call->course
            && batch->script == call->script
            && batch->now == call->now
            && batch->n < bs->max)
        {
            return batch;
        }
    }

    batch = ngx_alloc(sizeof(ngx_http_seckill_batch_t)
                      + (bs->max - 1)
                        * sizeof(ngx_http_seckill_script_call_t *),
                      bs->log);
    if (batch == NULL) {
        return NULL;
    }

    batch->script = call->script;
    batch->course = call->course;
    batch->now = call->now;
    batch->slot = slot;
    batch->n = 0;
    batch->retried = 0;

    batch->next = bs->buckets[bucket];
    bs->buckets[bucket] = batch;

    ngx_queue_insert_tail(&bs->open, &batch->queue);

    return batch;
}


static void
ngx_http_seckill_script_flush(ngx_event_t *ev)
{
    ngx_http_seckill_batches_t *bs = ev->data;

    ngx_uint_t                 i;
    ngx_queue_t                open, *q;
    ngx_http_seckill_batch_t  *batch;
    ngx_http_seckill_script_t *s;

    /* a handler called from here may open batches: they wait for the next */

    ngx_queue_init(&open);
    ngx_queue_add(&open, &bs->open);
    ngx_queue_init(&bs->open);
    ngx_memzero(bs->buckets, sizeof(bs->buckets));

    while (!ngx_queue_empty(&open)) {
        q = ngx_queue_head(&open);
        ngx_queue_remove(q);

        batch = ngx_queue_data(q, ngx_http_seckill_batch_t, queue);
        s = &ngx_http_seckill_scripts[batch->script];

        if (ngx_http_seckill_script_send(batch, "EVALSHA", (char *) s->sha1)
            != NGX_OK)
        {
            ngx_http_seckill_script_done(batch, NULL);
            continue;
        }

        for (i = 0; i < batch->n; i++) {
            batch->calls[i]->sent = 1;
        }

        ngx_http_seckill_stats_script_call(batch->script, batch->n);
    }
}


/*
 * EVALSHA|EVAL sha|text 2+n course pending key_1..key_n
 *      user_1 order_1 .. user_n order_n [now]
 * as protocol/seckill_scripts.h lays them out.
 */

static ngx_int_t
ngx_http_seckill_script_send(ngx_http_seckill_batch_t *batch,
    const char *command, const char *script)
{
    int                              argc;
    u_char                          *p;
    ngx_uint_t                       i;
    ngx_http_seckill_batches_t      *bs;
    ngx_http_seckill_script_call_t  *call;

    bs = &ngx_http_seckill_batches;

    argc = 0;
    p = bs->args;

    bs->argv[argc] = command;
    bs->argvlen[argc++] = ngx_strlen(command);
    bs->argv[argc] = script;
    bs->argvlen[argc++] = ngx_strlen(script);

    p = ngx_http_seckill_script_arg(p, &argc, "%ui", 2 + batch->n);
    p = ngx_http_seckill_script_arg(p, &argc, SECKILL_KEY_COURSE("%L"),
                                    batch->course);
    p = ngx_http_seckill_script_arg(p, &argc, SECKILL_KEY_PENDING("%L"),
                                    batch->course);

    for (i = 0; i < batch->n; i++) {
        call = batch->calls[i];
        p = ngx_http_seckill_script_arg(p, &argc, SECKILL_KEY_USER("%L", "%L"),
                                        call->course, call->user);
    }

    for (i = 0; i < batch->n; i++) {
        call = batch->calls[i];
        p = ngx_http_seckill_script_arg(p, &argc, "%L", call->user);
        p = ngx_http_seckill_script_arg(p, &argc, "%L", call->order);
    }

    if (batch->script == NGX_HTTP_SECKILL_SCRIPT_RESERVE) {
        p = ngx_http_seckill_script_arg(p, &argc, "%L", batch->now);
    }

    return ngx_http_seckill_redis_command_argv(
               batch->slot,
               ngx_http_seckill_script_reply, batch, argc, bs->argv,
               bs->argvlen);
}


/* the next argument, formatted at p in the scratch space */

static u_char *
ngx_http_seckill_script_arg(u_char *p, int *argc, const char *fmt, ...)
{
    u_char                      *last;
    va_list                      args;
    ngx_http_seckill_batches_t  *bs;

    bs = &ngx_http_seckill_batches;

    va_start(args, fmt);
    last = ngx_vslprintf(p, p + NGX_HTTP_SECKILL_SCRIPT_ARG, fmt, args);
    va_end(args);

    bs->argv[*argc] = (const char *) p;
    bs->argvlen[*argc] = last - p;
    (*argc)++;

    return last;
}


static void
ngx_http_seckill_script_reply(redisReply *reply, void *data)
{
    ngx_http_seckill_batch_t *batch = data;

    ngx_http_seckill_script_t  *s;

    if (reply
        && reply->type == REDIS_REPLY_ERROR
        && !batch->retried
        && ngx_strncmp(reply->str, "NOSCRIPT", 8) == 0)
    {
        s = &ngx_http_seckill_scripts[batch->script];

        ngx_log_error(NGX_LOG_WARN, ngx_http_seckill_batches.log, 0,
                      "redis has lost the %s script, loading it again",
                      s->name);

        batch->retried = 1;

        if (ngx_http_seckill_script_send(batch, "EVAL", s->text) == NGX_OK) {
            return;
        }

        /* the script did not run: the callers see the NOSCRIPT error */
    }

    ngx_http_seckill_script_done(batch, reply);
}


/*
 * Hands each order its verdict.  A reply that is not one verdict per order
 * (an error, a script of another version) goes to every caller whole: each
 * sees a reply it cannot read and says so.
 */

static void
ngx_http_seckill_script_done(ngx_http_seckill_batch_t *batch,
    redisReply *reply)
{
    ngx_uint_t                       i, each;
    redisReply                      *verdict;
    ngx_http_seckill_script_call_t  *call;

    each = reply
           && reply->type == REDIS_REPLY_ARRAY
           && reply->elements == batch->n;

    for (i = 0; i < batch->n; i++) {
        call = batch->calls[i];
        verdict = each ? reply->element[i] : reply;

        call->handler(verdict, call->data);
    }

    ngx_free(batch);
}


void
ngx_http_seckill_script_connected(ngx_http_seckill_redis_node_t *node,
    void *data)
{
    ngx_uint_t                  i;
    ngx_http_seckill_script_t  *s;

    /* a failure means the connection is gone; the next one loads again */

    for (i = 0; i < NGX_HTTP_SECKILL_SCRIPTS; i++) {
        s = &ngx_http_seckill_scripts[i];

        (void) ngx_http_seckill_redis_node_command(node,
                                                   ngx_http_seckill_script_loaded,
                                                   s, "SCRIPT LOAD %s", s->text);
    }
}


static void
ngx_http_seckill_script_loaded(redisReply *reply, void *data)
{
    ngx_http_seckill_script_t *s = data;

    if (reply == NULL) {
        return;
    }

    if (reply->type == REDIS_REPLY_STRING
        && reply->len == 40
        && ngx_strncmp(reply->str, s->sha1, 40) == 0)
    {
        return;
    }

    /* EVALSHA would fail with NOSCRIPT and fall back to EVAL each time */

    ngx_log_error(NGX_LOG_ALERT, ngx_http_seckill_batches.log, 0,
                  "redis answered \"%*s\" to SCRIPT LOAD of the %s script, "
                  "expected its SHA1 %s",
                  reply->type == REDIS_REPLY_STRING
                  || reply->type == REDIS_REPLY_ERROR ? reply->len : 0,
                  reply->str, s->name, s->sha1);
}
