
/*
 * The module's metrics.  Counters and histograms live in one shared memory
 * zone that every worker adds to with ngx_atomic_fetch_add(): no lock, a
 * few atomic adds per request.  A histogram keeps one count per bucket
 * (not cumulative: one add per observation) and the sum in microseconds;
 * seckill_status adds the buckets up as Prometheus wants them.
 *
 * Gauges (Redis connected, Kafka deliveries in flight) are per worker,
 * each in a slot of its own that only its worker writes; the status sums
 * the slots of the workers alive.  A worker takes a slot at start and gives
 * it back at exit; the slot of a worker that died without exiting is
 * skipped, and taken by the next worker that starts.  A shared gauge
 * incremented and decremented by all would keep forever what a killed
 * worker had in flight.
 *
 * The zone survives a reload, so the counters of old and new workers go
 * on from the same numbers; they start from zero when nginx does.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_soldout.h"
#include "ngx_http_seckill_stats.h"
#include "ngx_http_seckill_script.h"


/* old and new workers side by side, over a few reloads */
#define NGX_HTTP_SECKILL_STATS_WORKERS  1024

#define NGX_HTTP_SECKILL_STATS_BUCKETS  13

/* the longest line written, the help lines included */
#define NGX_HTTP_SECKILL_STATS_LINE     192


typedef struct {
    ngx_atomic_t                       pid;        /* 0: free */
    ngx_atomic_t                       redis_connected;
    ngx_atomic_t                       kafka_inflight;
    u_char                             pad[NGX_CPU_CACHE_LINE
                                           - 3 * sizeof(ngx_atomic_t)];
} ngx_http_seckill_stats_worker_t;


typedef struct {
    ngx_atomic_t                       buckets[NGX_HTTP_SECKILL_STATS_BUCKETS
                                               + 1];   /* the last: +Inf */
    ngx_atomic_t                       sum;            /* microseconds */
} ngx_http_seckill_histogram_t;


typedef struct {
    ngx_atomic_t                       responses[NGX_HTTP_SECKILL_NENDPOINTS]
                                                [NGX_HTTP_SECKILL_NREASONS];
    ngx_http_seckill_histogram_t       redis;
    ngx_http_seckill_histogram_t       kafka;
    ngx_atomic_t                       kafka_failures;
    ngx_atomic_t                       script_calls[NGX_HTTP_SECKILL_SCRIPTS];
    ngx_atomic_t                       script_orders[NGX_HTTP_SECKILL_SCRIPTS];
    ngx_http_seckill_stats_worker_t    workers[NGX_HTTP_SECKILL_STATS_WORKERS];
} ngx_http_seckill_stats_t;


typedef struct {
    uint64_t                           usec;
    ngx_str_t                          le;
} ngx_http_seckill_bucket_t;


static ngx_int_t ngx_http_seckill_stats_init_zone(ngx_shm_zone_t *zone,
    void *data);
static ngx_uint_t ngx_http_seckill_stats_alive(ngx_pid_t pid);
static void ngx_http_seckill_stats_observe(ngx_http_seckill_histogram_t *h,
    uint64_t usec);
static u_char *ngx_http_seckill_stats_responses(u_char *p,
    ngx_http_seckill_stats_t *stats);
static u_char *ngx_http_seckill_stats_histogram(u_char *p,
    ngx_http_seckill_histogram_t *h, ngx_str_t *name);
static u_char *ngx_http_seckill_stats_workers(u_char *p,
    ngx_http_seckill_stats_t *stats);
static u_char *ngx_http_seckill_stats_sold_out(u_char *p,
    ngx_array_t *courses);


/* seconds, as Prometheus' own client libraries would bucket a latency */
static ngx_http_seckill_bucket_t  ngx_http_seckill_buckets[] = {
    { 500, ngx_string("0.0005") },
    { 1000, ngx_string("0.001") },
    { 2000, ngx_string("0.002") },
    { 5000, ngx_string("0.005") },
    { 10000, ngx_string("0.01") },
    { 20000, ngx_string("0.02") },
    { 50000, ngx_string("0.05") },
    { 100000, ngx_string("0.1") },
    { 200000, ngx_string("0.2") },
    { 500000, ngx_string("0.5") },
    { 1000000, ngx_string("1") },
    { 2000000, ngx_string("2") },
    { 5000000, ngx_string("5") }
};


static ngx_str_t  ngx_http_seckill_endpoints[] = {
    ngx_string("purchase"),
    ngx_string("orders"),
    ngx_string("courses"),
    ngx_string("error")
};


#define ngx_http_seckill_reason_bit(name)                                     \
    ((uint32_t) 1 << NGX_HTTP_SECKILL_REASON_ ## name)

/*
 * What each endpoint can answer: shown from zero, so that a rate() sees
 * the first one.  Anything else is shown once it happened.
 */
static uint32_t  ngx_http_seckill_endpoint_reasons[] = {

    /* purchase */
    ngx_http_seckill_reason_bit(PENDING)
    | ngx_http_seckill_reason_bit(DUPLICATE)
    | ngx_http_seckill_reason_bit(SOLD_OUT)
    | ngx_http_seckill_reason_bit(NOT_STARTED)
    | ngx_http_seckill_reason_bit(ENDED)
    | ngx_http_seckill_reason_bit(UNKNOWN_COURSE)
    | ngx_http_seckill_reason_bit(BAD_REQUEST)
    | ngx_http_seckill_reason_bit(METHOD_NOT_ALLOWED)
    | ngx_http_seckill_reason_bit(UNAVAILABLE),

    /* orders */
    ngx_http_seckill_reason_bit(PENDING)
    | ngx_http_seckill_reason_bit(SUCCESS)
    | ngx_http_seckill_reason_bit(FAILED)
    | ngx_http_seckill_reason_bit(NONE)
    | ngx_http_seckill_reason_bit(BAD_REQUEST)
    | ngx_http_seckill_reason_bit(METHOD_NOT_ALLOWED)
    | ngx_http_seckill_reason_bit(UNAVAILABLE),

    /* courses */
    ngx_http_seckill_reason_bit(OK)
    | ngx_http_seckill_reason_bit(METHOD_NOT_ALLOWED)
    | ngx_http_seckill_reason_bit(UNAVAILABLE),

    /* error */
    ngx_http_seckill_reason_bit(BAD_REQUEST)
    | ngx_http_seckill_reason_bit(FORBIDDEN)
    | ngx_http_seckill_reason_bit(NOT_FOUND)
    | ngx_http_seckill_reason_bit(METHOD_NOT_ALLOWED)
    | ngx_http_seckill_reason_bit(TOO_LARGE)
    | ngx_http_seckill_reason_bit(URI_TOO_LONG)
    | ngx_http_seckill_reason_bit(TOO_MANY_REQUESTS)
    | ngx_http_seckill_reason_bit(INTERNAL_ERROR)
    | ngx_http_seckill_reason_bit(UNAVAILABLE)
    | ngx_http_seckill_reason_bit(ERROR)
};


/* the worker's view: the zone, and its own slot in it */
static ngx_http_seckill_stats_t         *ngx_http_seckill_stats;
static ngx_http_seckill_stats_worker_t  *ngx_http_seckill_stats_worker;


ngx_shm_zone_t *
ngx_http_seckill_stats_zone(ngx_conf_t *cf)
{
    size_t           size;
    ngx_shm_zone_t  *zone;

    static ngx_str_t  name = ngx_string("seckill_stats");

    /* the slab allocator's own pages and headers fit in eight pages */

    size = ngx_align(sizeof(ngx_http_seckill_stats_t), ngx_pagesize)
           + 8 * ngx_pagesize;

    zone = ngx_shared_memory_add(cf, &name, size, &ngx_http_seckill_module);
    if (zone == NULL) {
        return NULL;
    }

    zone->init = ngx_http_seckill_stats_init_zone;

    return zone;
}


void
ngx_http_seckill_stats_init(ngx_cycle_t *cycle, ngx_shm_zone_t *zone)
{
    ngx_pid_t                         pid;
    ngx_uint_t                        i;
    ngx_http_seckill_stats_t         *stats;
    ngx_http_seckill_stats_worker_t  *w;

    if (zone == NULL) {
        return;
    }

    stats = zone->data;
    ngx_http_seckill_stats = stats;

    for (i = 0; i < NGX_HTTP_SECKILL_STATS_WORKERS; i++) {
        w = &stats->workers[i];
        pid = (ngx_pid_t) w->pid;

        if (pid != 0 && ngx_http_seckill_stats_alive(pid)) {
            continue;
        }

        /* another new worker may be after the same slot */

        if (!ngx_atomic_cmp_set(&w->pid, (ngx_atomic_uint_t) pid,
                                (ngx_atomic_uint_t) ngx_pid))
        {
            continue;
        }

        w->redis_connected = 0;
        w->kafka_inflight = 0;

        ngx_http_seckill_stats_worker = w;

        return;
    }

    ngx_log_error(NGX_LOG_WARN, cycle->log, 0,
                  "seckill: all %d slots for the workers' gauges are taken; "
                  "seckill_redis_connected and seckill_kafka_inflight leave "
                  "out this worker", NGX_HTTP_SECKILL_STATS_WORKERS);
}


void
ngx_http_seckill_stats_exit(ngx_cycle_t *cycle)
{
    ngx_http_seckill_stats_worker_t  *w;

    w = ngx_http_seckill_stats_worker;

    if (w == NULL) {
        return;
    }

    w->redis_connected = 0;
    w->kafka_inflight = 0;

    ngx_memory_barrier();

    w->pid = 0;

    ngx_http_seckill_stats_worker = NULL;
    ngx_http_seckill_stats = NULL;
}


uint64_t
ngx_http_seckill_stats_usec(void)
{
    struct timespec  ts;

    /* a vDSO call: no system call on Linux */

    (void) clock_gettime(CLOCK_MONOTONIC, &ts);

    return (uint64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}


void
ngx_http_seckill_stats_response(ngx_http_request_t *r,
    ngx_http_seckill_reason_e reason)
{
    ngx_http_seckill_loc_conf_t  *slcf;

    if (ngx_http_seckill_stats == NULL) {
        return;
    }

    slcf = ngx_http_get_module_loc_conf(r, ngx_http_seckill_module);

    if (slcf->endpoint == NGX_CONF_UNSET_UINT) {
        return;
    }

    (void) ngx_atomic_fetch_add(
                  &ngx_http_seckill_stats->responses[slcf->endpoint][reason],
                  1);
}


void
ngx_http_seckill_stats_redis_reply(uint64_t sent)
{
    if (ngx_http_seckill_stats == NULL) {
        return;
    }

    ngx_http_seckill_stats_observe(&ngx_http_seckill_stats->redis,
                                   ngx_http_seckill_stats_usec() - sent);
}


void
ngx_http_seckill_stats_script_call(ngx_uint_t script, ngx_uint_t orders)
{
    if (ngx_http_seckill_stats == NULL) {
        return;
    }

    (void) ngx_atomic_fetch_add(&ngx_http_seckill_stats->script_calls[script],
                                1);
    (void) ngx_atomic_fetch_add(&ngx_http_seckill_stats->script_orders[script],
                                orders);
}


void
ngx_http_seckill_stats_redis_connected(ngx_uint_t connected)
{
    if (ngx_http_seckill_stats_worker) {
        ngx_http_seckill_stats_worker->redis_connected = connected;
    }
}


/* only the worker itself writes its slot: no atomic operation needed */

void
ngx_http_seckill_stats_kafka_queued(void)
{
    if (ngx_http_seckill_stats_worker) {
        ngx_http_seckill_stats_worker->kafka_inflight++;
    }
}


void
ngx_http_seckill_stats_kafka_reported(int64_t usec, ngx_uint_t failed)
{
    ngx_http_seckill_stats_worker_t  *w;

    w = ngx_http_seckill_stats_worker;

    if (w && w->kafka_inflight) {
        w->kafka_inflight--;
    }

    if (ngx_http_seckill_stats == NULL) {
        return;
    }

    if (failed) {
        (void) ngx_atomic_fetch_add(&ngx_http_seckill_stats->kafka_failures,
                                    1);
        return;
    }

    if (usec >= 0) {
        ngx_http_seckill_stats_observe(&ngx_http_seckill_stats->kafka,
                                       (uint64_t) usec);
    }
}


ngx_int_t
ngx_http_seckill_status_handler(ngx_http_request_t *r)
{
    size_t                         size;
    ngx_int_t                      rc;
    ngx_buf_t                     *b;
    ngx_chain_t                    out;
    ngx_array_t                   *sold_out;
    ngx_http_seckill_stats_t      *stats;
    ngx_http_seckill_main_conf_t  *smcf;

    static ngx_str_t  allow = ngx_string("GET, HEAD");
    static ngx_str_t  redis = ngx_string("seckill_redis_seconds");
    static ngx_str_t  kafka = ngx_string("seckill_kafka_delivery_seconds");

    rc = ngx_http_seckill_json_method(r, NGX_HTTP_GET|NGX_HTTP_HEAD, &allow);

    if (rc != NGX_DECLINED) {
        return rc;
    }

    smcf = ngx_http_get_module_main_conf(r, ngx_http_seckill_module);
    stats = smcf->stats_zone->data;

    sold_out = NULL;

    if (smcf->sold_out_zone) {
        sold_out = ngx_http_seckill_sold_out_list(smcf->sold_out_zone,
                                                  r->pool);
        if (sold_out == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }
    }

    size = (NGX_HTTP_SECKILL_NENDPOINTS * NGX_HTTP_SECKILL_NREASONS
            + 2 * (NGX_HTTP_SECKILL_STATS_BUCKETS + 4)
            + 24 + (sold_out ? sold_out->nelts : 0))
           * NGX_HTTP_SECKILL_STATS_LINE;

    b = ngx_create_temp_buf(r->pool, size);
    if (b == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    b->last = ngx_http_seckill_stats_responses(b->last, stats);

    b->last = ngx_sprintf(b->last,
                          "# HELP seckill_redis_seconds Redis round trips "
                          "of the workers, from queueing a command to its "
                          "reply.\n"
                          "# TYPE seckill_redis_seconds histogram\n");

    b->last = ngx_http_seckill_stats_histogram(b->last, &stats->redis, &redis);

    b->last = ngx_sprintf(b->last,
                          "# HELP seckill_kafka_delivery_seconds Order "
                          "events from produce to the broker's "
                          "acknowledgement.\n"
                          "# TYPE seckill_kafka_delivery_seconds "
                          "histogram\n");

    b->last = ngx_http_seckill_stats_histogram(b->last, &stats->kafka, &kafka);

    b->last = ngx_sprintf(b->last,
                          "# HELP seckill_kafka_delivery_failures_total "
                          "Order events not delivered (failed or timed "
                          "out).\n"
                          "# TYPE seckill_kafka_delivery_failures_total "
                          "counter\n"
                          "seckill_kafka_delivery_failures_total %uA\n",
                          stats->kafka_failures);

    b->last = ngx_sprintf(b->last,
                          "# HELP seckill_redis_script_calls_total Script "
                          "calls sent to Redis: each carries the orders of "
                          "one course in one turn of a worker's event "
                          "loop.\n"
                          "# TYPE seckill_redis_script_calls_total counter\n"
                          "seckill_redis_script_calls_total"
                          "{script=\"reserve\"} %uA\n"
                          "seckill_redis_script_calls_total"
                          "{script=\"release\"} %uA\n"
                          "# HELP seckill_redis_script_orders_total Orders "
                          "carried by those calls.\n"
                          "# TYPE seckill_redis_script_orders_total "
                          "counter\n"
                          "seckill_redis_script_orders_total"
                          "{script=\"reserve\"} %uA\n"
                          "seckill_redis_script_orders_total"
                          "{script=\"release\"} %uA\n",
                    stats->script_calls[NGX_HTTP_SECKILL_SCRIPT_RESERVE],
                    stats->script_calls[NGX_HTTP_SECKILL_SCRIPT_RELEASE],
                    stats->script_orders[NGX_HTTP_SECKILL_SCRIPT_RESERVE],
                    stats->script_orders[NGX_HTTP_SECKILL_SCRIPT_RELEASE]);

    b->last = ngx_http_seckill_stats_workers(b->last, stats);

    b->last = ngx_http_seckill_stats_sold_out(b->last, sold_out);

    r->headers_out.status = NGX_HTTP_OK;
    r->headers_out.content_length_n = b->last - b->pos;

    ngx_str_set(&r->headers_out.content_type, "text/plain; version=0.0.4");
    r->headers_out.content_type_len = sizeof("text/plain") - 1;
    r->headers_out.content_type_lowcase = NULL;

    rc = ngx_http_send_header(r);

    if (rc == NGX_ERROR || rc > NGX_OK || r->header_only) {
        return rc;
    }

    b->last_buf = (r == r->main) ? 1 : 0;
    b->last_in_chain = 1;

    out.buf = b;
    out.next = NULL;

    return ngx_http_output_filter(r, &out);
}


static ngx_int_t
ngx_http_seckill_stats_init_zone(ngx_shm_zone_t *zone, void *data)
{
    /* a reload keeps the counts */

    return ngx_http_seckill_zone_init(zone, data,
                                      sizeof(ngx_http_seckill_stats_t));
}


/* EPERM: alive, only not ours to signal */

static ngx_uint_t
ngx_http_seckill_stats_alive(ngx_pid_t pid)
{
    return kill(pid, 0) == 0 || ngx_errno != NGX_ESRCH;
}


static void
ngx_http_seckill_stats_observe(ngx_http_seckill_histogram_t *h,
    uint64_t usec)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SECKILL_STATS_BUCKETS; i++) {
        if (usec <= ngx_http_seckill_buckets[i].usec) {
            break;
        }
    }

    (void) ngx_atomic_fetch_add(&h->buckets[i], 1);
    (void) ngx_atomic_fetch_add(&h->sum, (ngx_atomic_int_t) usec);
}


static u_char *
ngx_http_seckill_stats_responses(u_char *p, ngx_http_seckill_stats_t *stats)
{
    ngx_uint_t         e, s;
    ngx_atomic_uint_t  n;

    p = ngx_sprintf(p, "# HELP seckill_responses_total Answers of the "
                       "seckill locations, by endpoint and by the status of "
                       "their JSON body.\n"
                       "# TYPE seckill_responses_total counter\n");

    for (e = 0; e < NGX_HTTP_SECKILL_NENDPOINTS; e++) {
        for (s = 0; s < NGX_HTTP_SECKILL_NREASONS; s++) {
            n = stats->responses[e][s];

            if (n == 0
                && !(ngx_http_seckill_endpoint_reasons[e] & (1U << s)))
            {
                continue;
            }

            p = ngx_sprintf(p, "seckill_responses_total{endpoint=\"%V\","
                               "status=\"%V\"} %uA\n",
                            &ngx_http_seckill_endpoints[e],
                            &ngx_http_seckill_reasons[s], n);
        }
    }

    return p;
}


static u_char *
ngx_http_seckill_stats_histogram(u_char *p, ngx_http_seckill_histogram_t *h,
    ngx_str_t *name)
{
    ngx_uint_t         i;
    ngx_atomic_uint_t  count, sum;

    count = 0;

    for (i = 0; i < NGX_HTTP_SECKILL_STATS_BUCKETS; i++) {
        count += h->buckets[i];

        p = ngx_sprintf(p, "%V_bucket{le=\"%V\"} %uA\n",
                        name, &ngx_http_seckill_buckets[i].le, count);
    }

    count += h->buckets[i];
    sum = h->sum;

    return ngx_sprintf(p, "%V_bucket{le=\"+Inf\"} %uA\n"
                          "%V_sum %uA.%06uA\n"
                          "%V_count %uA\n",
                       name, count, name, sum / 1000000, sum % 1000000,
                       name, count);
}


static u_char *
ngx_http_seckill_stats_workers(u_char *p, ngx_http_seckill_stats_t *stats)
{
    ngx_pid_t                         pid;
    ngx_uint_t                        i, workers, connected, inflight;
    ngx_http_seckill_stats_worker_t  *w;

    workers = 0;
    connected = 0;
    inflight = 0;

    for (i = 0; i < NGX_HTTP_SECKILL_STATS_WORKERS; i++) {
        w = &stats->workers[i];
        pid = (ngx_pid_t) w->pid;

        if (pid == 0 || !ngx_http_seckill_stats_alive(pid)) {
            continue;
        }

        workers++;
        connected += w->redis_connected;
        inflight += w->kafka_inflight;
    }

    return ngx_sprintf(p,
               "# HELP seckill_workers Worker processes, old ones still "
               "finishing their deliveries after a reload included.\n"
               "# TYPE seckill_workers gauge\n"
               "seckill_workers %ui\n"
               "# HELP seckill_redis_connected Workers connected to their "
               "Redis (to every master that holds slots, in a cluster).\n"
               "# TYPE seckill_redis_connected gauge\n"
               "seckill_redis_connected %ui\n"
               "# HELP seckill_kafka_inflight Order events produced and not "
               "yet acknowledged or failed, all workers together.\n"
               "# TYPE seckill_kafka_inflight gauge\n"
               "seckill_kafka_inflight %ui\n",
               workers, connected, inflight);
}


static u_char *
ngx_http_seckill_stats_sold_out(u_char *p, ngx_array_t *courses)
{
    int64_t     *course;
    ngx_uint_t   i;

    p = ngx_sprintf(p, "# HELP seckill_sold_out Courses in the sold-out "
                       "cache: answered 410 without asking Redis.\n"
                       "# TYPE seckill_sold_out gauge\n");

    if (courses == NULL) {
        return p;
    }

    course = courses->elts;

    for (i = 0; i < courses->nelts; i++) {
        p = ngx_sprintf(p, "seckill_sold_out{course=\"%L\"} 1\n", course[i]);
    }

    return p;
}
