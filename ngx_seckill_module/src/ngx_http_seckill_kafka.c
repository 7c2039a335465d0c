
/*
 * One idempotent producer per worker (acks=all), made in init_process:
 * librdkafka's threads would not survive the master's fork.
 *
 * Delivery reports, errors and librdkafka's own log lines are all served
 * from the main queue, in the worker's thread (log.queue), by
 * rd_kafka_poll(rk, 0), which never waits.  librdkafka wakes the event
 * loop by writing to a pipe when that queue goes from empty to non-empty:
 * an edge, so the handler drains the pipe first and then polls until
 * nothing is served, or a write would be lost.  A slow timer polls as
 * well, in case a wakeup is lost all the same; it may not keep an exiting
 * worker alive (the requests' own timers do that).
 *
 * librdkafka 2.0.2 may raise a fatal idempotence error (e.g. "sequence
 * desynchronization" after a broker restart).  The producer is then
 * useless: a new one replaces it, and the old one's messages are purged;
 * their reports come back as failures and the reservations are released,
 * unless the consumer claimed them first (the arbiter's call).  The old
 * producer is destroyed, a blocking call, in a thread of its own once its
 * queue is empty.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <pthread.h>

#include "ngx_http_seckill_kafka.h"
#include "ngx_http_seckill_stats.h"


#define NGX_HTTP_SECKILL_KAFKA_POLL_INTERVAL  100
#define NGX_HTTP_SECKILL_KAFKA_POLL_ROUNDS    16


typedef struct {
    rd_kafka_t                         *rk;
    rd_kafka_topic_t                   *rkt;
    ngx_queue_t                         queue;      /* retired producers */
    pthread_t                           thread;     /* destroying it */
    ngx_atomic_t                        destroyed;
    unsigned                            destroying:1;
} ngx_http_seckill_producer_t;


typedef struct {
    ngx_http_seckill_main_conf_t       *conf;
    ngx_log_t                          *log;
    ngx_http_seckill_kafka_handler_pt   handler;

    ngx_http_seckill_producer_t        *producer;   /* NULL: none works */
    ngx_queue_t                         retired;

    ngx_connection_t                   *wakeup;     /* the pipe's read end */
    ngx_socket_t                        wakeup_fd;  /* its write end */
    ngx_event_t                         timer;
    pthread_t                           thread;     /* the worker's */

    ngx_msec_t                          timeout;    /* message.timeout.ms */

    unsigned                            fatal:1;
} ngx_http_seckill_kafka_t;


static ngx_http_seckill_producer_t *ngx_http_seckill_kafka_create(
    ngx_http_seckill_kafka_t *kf);
static ngx_int_t ngx_http_seckill_kafka_set(ngx_http_seckill_kafka_t *kf,
    rd_kafka_conf_t *conf, const char *name, const char *value);
static void ngx_http_seckill_kafka_wakeup_handler(ngx_event_t *rev);
static void ngx_http_seckill_kafka_timer_handler(ngx_event_t *ev);
static void ngx_http_seckill_kafka_poll(ngx_http_seckill_kafka_t *kf);
static ngx_uint_t ngx_http_seckill_kafka_serve(rd_kafka_t *rk);
static void ngx_http_seckill_kafka_replace(ngx_http_seckill_kafka_t *kf);
static void ngx_http_seckill_kafka_retire(ngx_http_seckill_kafka_t *kf,
    ngx_http_seckill_producer_t *p);
static void *ngx_http_seckill_kafka_destroy_thread(void *data);
static void ngx_http_seckill_kafka_destroy(ngx_http_seckill_kafka_t *kf,
    ngx_http_seckill_producer_t *p);
static void ngx_http_seckill_kafka_wakeup_off(rd_kafka_t *rk);
static void ngx_http_seckill_kafka_dr(rd_kafka_t *rk,
    const rd_kafka_message_t *msg, void *opaque);
static void ngx_http_seckill_kafka_error(rd_kafka_t *rk, int err,
    const char *reason, void *opaque);
static void ngx_http_seckill_kafka_log(const rd_kafka_t *rk, int level,
    const char *fac, const char *buf);


/* one per worker process */
static ngx_http_seckill_kafka_t  ngx_http_seckill_kafka;


ngx_int_t
ngx_http_seckill_kafka_init(ngx_cycle_t *cycle,
    ngx_http_seckill_main_conf_t *smcf,
    ngx_http_seckill_kafka_handler_pt handler)
{
    int                        fds[2];
    ngx_connection_t          *c;
    ngx_http_seckill_kafka_t  *kf;

    kf = &ngx_http_seckill_kafka;

    kf->conf = smcf;
    kf->log = cycle->log;
    kf->handler = handler;
    kf->timeout = smcf->kafka_timeout;
    kf->thread = pthread_self();
    kf->wakeup_fd = (ngx_socket_t) -1;

    ngx_queue_init(&kf->retired);

    if (pipe(fds) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_errno, "pipe() failed");
        return NGX_ERROR;
    }

    if (ngx_nonblocking(fds[0]) == -1 || ngx_nonblocking(fds[1]) == -1) {
        ngx_log_error(NGX_LOG_ALERT, cycle->log, ngx_socket_errno,
                      ngx_nonblocking_n " failed");
        goto failed;
    }

    c = ngx_get_connection(fds[0], cycle->log);
    if (c == NULL) {
        goto failed;
    }

    c->data = kf;
    c->log = cycle->log;
    c->read->log = cycle->log;
    c->write->log = cycle->log;
    c->read->handler = ngx_http_seckill_kafka_wakeup_handler;

    if (ngx_handle_read_event(c->read, 0) != NGX_OK) {
        ngx_free_connection(c);
        goto failed;
    }

    kf->wakeup = c;
    kf->wakeup_fd = fds[1];

    /* events' data is a connection: nginx's debug log reads its fd */

    kf->timer.handler = ngx_http_seckill_kafka_timer_handler;
    kf->timer.data = c;
    kf->timer.log = cycle->log;
    kf->timer.cancelable = 1;

    ngx_add_timer(&kf->timer, NGX_HTTP_SECKILL_KAFKA_POLL_INTERVAL);

    /*
     * A producer that cannot be made (a combination of properties that
     * librdkafka refuses) leaves the worker up: purchases answer 503.
     * Refusing to start would stop the master from respawning it.
     */

    kf->producer = ngx_http_seckill_kafka_create(kf);

    return NGX_OK;

failed:

    (void) close(fds[0]);
    (void) close(fds[1]);

    return NGX_ERROR;
}


void
ngx_http_seckill_kafka_exit(ngx_cycle_t *cycle)
{
    int                           left;
    ngx_queue_t                  *q;
    rd_kafka_resp_err_t           err;
    ngx_http_seckill_kafka_t     *kf;
    ngx_http_seckill_producer_t  *p;

    kf = &ngx_http_seckill_kafka;

    if (kf->conf == NULL) {
        return;
    }

    if (kf->timer.timer_set) {
        ngx_del_timer(&kf->timer);
    }

    /*
     * The only place the worker waits for Kafka: what is still queued gets
     * its chance to be delivered (reports are served meanwhile), bounded by
     * the message timeout.  What is left is purged; those reservations stay
     * pending in Redis for the consumer's sweeper.
     */

    p = kf->producer;

    if (p) {
        /* messages time out when librdkafka looks, once a second */
        err = rd_kafka_flush(p->rk, (int) kf->timeout + 2000);

        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            left = rd_kafka_outq_len(p->rk);

            ngx_log_error(NGX_LOG_ERR, kf->log, 0,
                          "kafka: %d order events not delivered at exit, "
                          "their reservations are left to the sweeper",
                          left);
        }

        ngx_http_seckill_kafka_destroy(kf, p);
        kf->producer = NULL;
    }

    while (!ngx_queue_empty(&kf->retired)) {
        q = ngx_queue_head(&kf->retired);
        ngx_queue_remove(q);

        p = ngx_queue_data(q, ngx_http_seckill_producer_t, queue);

        if (p->destroying) {
            (void) pthread_join(p->thread, NULL);
            ngx_free(p);
            continue;
        }

        ngx_http_seckill_kafka_destroy(kf, p);
    }

    if (kf->wakeup) {
        ngx_close_connection(kf->wakeup);
        kf->wakeup = NULL;
    }

    if (kf->wakeup_fd != (ngx_socket_t) -1) {
        (void) close(kf->wakeup_fd);
        kf->wakeup_fd = (ngx_socket_t) -1;
    }
}


ngx_int_t
ngx_http_seckill_kafka_produce(u_char *key, size_t key_len, u_char *value,
    size_t len, void *opaque)
{
    rd_kafka_resp_err_t        err;
    ngx_http_seckill_kafka_t  *kf;

    kf = &ngx_http_seckill_kafka;

    if (kf->producer == NULL) {
        ngx_log_error(NGX_LOG_ERR, kf->log, 0,
                      "kafka: no producer to send the order event");
        return NGX_ERROR;
    }

    if (rd_kafka_produce(kf->producer->rkt, RD_KAFKA_PARTITION_UA,
                         RD_KAFKA_MSG_F_COPY, value, len, key, key_len,
                         opaque)
        == 0)
    {
        ngx_http_seckill_stats_kafka_queued();
        return NGX_OK;
    }

    err = rd_kafka_last_error();

    ngx_log_error(NGX_LOG_ERR, kf->log, 0,
                  "kafka: cannot queue the order event: %s",
                  rd_kafka_err2str(err));

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        kf->fatal = 1;

        if (kf->wakeup && !kf->wakeup->read->posted) {
            ngx_post_event(kf->wakeup->read, &ngx_posted_events);
        }
    }

    return NGX_ERROR;
}


ngx_uint_t
ngx_http_seckill_kafka_ready(void)
{
    return ngx_http_seckill_kafka.producer != NULL
           && !ngx_http_seckill_kafka.fatal;
}


ngx_msec_t
ngx_http_seckill_kafka_timeout(void)
{
    return ngx_http_seckill_kafka.timeout;
}


static ngx_http_seckill_producer_t *
ngx_http_seckill_kafka_create(ngx_http_seckill_kafka_t *kf)
{
    char                          errstr[512], buf[NGX_INT_T_LEN + 1];
    size_t                        size;
    ngx_int_t                     n;
    ngx_uint_t                    i;
    ngx_keyval_t                 *kv;
    rd_kafka_conf_t              *conf;
    rd_kafka_queue_t             *queue;
    ngx_http_seckill_producer_t  *p;

    conf = rd_kafka_conf_new();

    *ngx_sprintf((u_char *) buf, "%M", kf->conf->kafka_timeout) = '\0';

    /*
     * The order of a sale: the broker has it on all in-sync replicas
     * before the buyer hears 200, once (idempotence), and batching waits
     * a millisecond at most.  seckill_kafka_property comes after and may
     * change any of it, except where the reports are served.
     */

    if (ngx_http_seckill_kafka_set(kf, conf, "bootstrap.servers",
                               (char *) kf->conf->kafka_brokers.data)
        != NGX_OK
        || ngx_http_seckill_kafka_set(kf, conf, "client.id", "seckill-nginx")
           != NGX_OK
        || ngx_http_seckill_kafka_set(kf, conf, "enable.idempotence", "true")
           != NGX_OK
        || ngx_http_seckill_kafka_set(kf, conf, "acks", "all") != NGX_OK
        || ngx_http_seckill_kafka_set(kf, conf, "linger.ms", "1") != NGX_OK
        || ngx_http_seckill_kafka_set(kf, conf, "message.timeout.ms", buf)
           != NGX_OK)
    {
        goto failed;
    }

    if (kf->conf->kafka_properties) {
        kv = kf->conf->kafka_properties->elts;

        for (i = 0; i < kf->conf->kafka_properties->nelts; i++) {
            if (ngx_http_seckill_kafka_set(kf, conf, (char *) kv[i].key.data,
                                           (char *) kv[i].value.data)
                != NGX_OK)
            {
                goto failed;
            }
        }
    }

    if (ngx_http_seckill_kafka_set(kf, conf, "log.queue", "true") != NGX_OK) {
        goto failed;
    }

    /* the request's wait follows the timeout librdkafka will apply */

    size = sizeof(buf);

    if (rd_kafka_conf_get(conf, "message.timeout.ms", buf, &size)
        == RD_KAFKA_CONF_OK)
    {
        n = ngx_atoi((u_char *) buf, ngx_strlen(buf));

        if (n > 0) {
            kf->timeout = n;
        }
    }

    rd_kafka_conf_set_opaque(conf, kf);
    rd_kafka_conf_set_dr_msg_cb(conf, ngx_http_seckill_kafka_dr);
    rd_kafka_conf_set_error_cb(conf, ngx_http_seckill_kafka_error);
    rd_kafka_conf_set_log_cb(conf, ngx_http_seckill_kafka_log);

    p = ngx_calloc(sizeof(ngx_http_seckill_producer_t), kf->log);
    if (p == NULL) {
        goto failed;
    }

    /* rd_kafka_new() owns conf from now on, if it succeeds */

    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (p->rk == NULL) {
        ngx_log_error(NGX_LOG_EMERG, kf->log, 0,
                      "kafka: cannot create the producer: %s; purchases are "
                      "answered 503", errstr);
        ngx_free(p);
        goto failed;
    }

    (void) rd_kafka_set_log_queue(p->rk, NULL);

    p->rkt = rd_kafka_topic_new(p->rk, (char *) kf->conf->kafka_topic.data,
                                NULL);
    if (p->rkt == NULL) {
        ngx_log_error(NGX_LOG_EMERG, kf->log, 0,
                      "kafka: cannot create the topic handle \"%V\": %s",
                      &kf->conf->kafka_topic,
                      rd_kafka_err2str(rd_kafka_last_error()));
        rd_kafka_destroy(p->rk);
        ngx_free(p);
        return NULL;
    }

    queue = rd_kafka_queue_get_main(p->rk);
    rd_kafka_queue_io_event_enable(queue, kf->wakeup_fd, "1", 1);
    rd_kafka_queue_destroy(queue);

    return p;

failed:

    rd_kafka_conf_destroy(conf);

    return NULL;
}


static ngx_int_t
ngx_http_seckill_kafka_set(ngx_http_seckill_kafka_t *kf,
    rd_kafka_conf_t *conf, const char *name, const char *value)
{
    char  errstr[512];

    if (rd_kafka_conf_set(conf, name, value, errstr, sizeof(errstr))
        == RD_KAFKA_CONF_OK)
    {
        return NGX_OK;
    }

    ngx_log_error(NGX_LOG_EMERG, kf->log, 0,
                  "kafka: cannot set \"%s\" to \"%s\": %s; purchases are "
                  "answered 503", name, value, errstr);

    return NGX_ERROR;
}


static void
ngx_http_seckill_kafka_wakeup_handler(ngx_event_t *rev)
{
    u_char                     buf[64];
    ssize_t                    n;
    ngx_connection_t          *c;
    ngx_http_seckill_kafka_t  *kf;

    c = rev->data;
    kf = c->data;

    /* drained before polling: a write after the poll is a new edge */

    do {
        n = read(c->fd, buf, sizeof(buf));
    } while (n > 0 || (n == -1 && ngx_errno == NGX_EINTR));

    rev->ready = 0;

    ngx_http_seckill_kafka_poll(kf);
}


static void
ngx_http_seckill_kafka_timer_handler(ngx_event_t *ev)
{
    ngx_connection_t          *c;
    ngx_http_seckill_kafka_t  *kf;

    c = ev->data;
    kf = c->data;

    ngx_http_seckill_kafka_poll(kf);

    ngx_add_timer(&kf->timer, NGX_HTTP_SECKILL_KAFKA_POLL_INTERVAL);
}


static void
ngx_http_seckill_kafka_poll(ngx_http_seckill_kafka_t *kf)
{
    ngx_uint_t                    more;
    ngx_queue_t                  *q, *next;
    ngx_http_seckill_producer_t  *p;

    more = 0;

    if (kf->producer) {
        more = ngx_http_seckill_kafka_serve(kf->producer->rk);
    }

    for (q = ngx_queue_head(&kf->retired);
         q != ngx_queue_sentinel(&kf->retired);
         q = next)
    {
        next = ngx_queue_next(q);
        p = ngx_queue_data(q, ngx_http_seckill_producer_t, queue);

        if (p->destroying) {
            if (p->destroyed) {
                (void) pthread_join(p->thread, NULL);
                ngx_queue_remove(q);
                ngx_free(p);
            }

            continue;
        }

        more |= ngx_http_seckill_kafka_serve(p->rk);

        if (rd_kafka_outq_len(p->rk) == 0) {
            ngx_http_seckill_kafka_retire(kf, p);
        }
    }

    if (kf->fatal && kf->producer) {
        ngx_http_seckill_kafka_replace(kf);
        more = 1;
    }

    /* a long run of reports must not starve the other events */

    if (more && !kf->wakeup->read->posted) {
        ngx_post_event(kf->wakeup->read, &ngx_posted_events);
    }
}


/* returns 1 when there may be more to serve */

static ngx_uint_t
ngx_http_seckill_kafka_serve(rd_kafka_t *rk)
{
    ngx_uint_t  i;

    for (i = 0; i < NGX_HTTP_SECKILL_KAFKA_POLL_ROUNDS; i++) {
        if (rd_kafka_poll(rk, 0) == 0) {
            return 0;
        }
    }

    return 1;
}


static void
ngx_http_seckill_kafka_replace(ngx_http_seckill_kafka_t *kf)
{
    char                          errstr[512];
    rd_kafka_resp_err_t           err;
    ngx_http_seckill_producer_t  *p, *old;

    old = kf->producer;

    errstr[0] = '\0';
    err = rd_kafka_fatal_error(old->rk, errstr, sizeof(errstr));

    /* until a new producer is made, purchases are answered 503 */

    p = ngx_http_seckill_kafka_create(kf);
    if (p == NULL) {
        return;
    }

    ngx_log_error(NGX_LOG_ERR, kf->log, 0,
                  "kafka: fatal producer error %s: %s; replaced the "
                  "producer, the order events in flight fail and their "
                  "reservations are released unless already consumed",
                  rd_kafka_err2name(err), errstr);

    kf->producer = p;
    kf->fatal = 0;

    (void) rd_kafka_purge(old->rk, RD_KAFKA_PURGE_F_QUEUE
                                   |RD_KAFKA_PURGE_F_INFLIGHT
                                   |RD_KAFKA_PURGE_F_NON_BLOCKING);

    ngx_queue_insert_tail(&kf->retired, &old->queue);
}


/* every report of an old producer has been served: destroy it aside */

static void
ngx_http_seckill_kafka_retire(ngx_http_seckill_kafka_t *kf,
    ngx_http_seckill_producer_t *p)
{
    int  err;

    ngx_http_seckill_kafka_wakeup_off(p->rk);

    rd_kafka_topic_destroy(p->rkt);
    p->rkt = NULL;

    p->destroying = 1;

    err = pthread_create(&p->thread, NULL,
                         ngx_http_seckill_kafka_destroy_thread, p);
    if (err == 0) {
        return;
    }

    ngx_log_error(NGX_LOG_ALERT, kf->log, err,
                  "pthread_create() failed, destroying the old kafka "
                  "producer in the worker");

    rd_kafka_destroy(p->rk);

    ngx_queue_remove(&p->queue);
    ngx_free(p);
}


static void *
ngx_http_seckill_kafka_destroy_thread(void *data)
{
    ngx_http_seckill_producer_t *p = data;

    rd_kafka_destroy(p->rk);

    ngx_memory_barrier();
    p->destroyed = 1;

    return NULL;
}


/* at exit: purges what is left and serves the reports, then destroys */

static void
ngx_http_seckill_kafka_destroy(ngx_http_seckill_kafka_t *kf,
    ngx_http_seckill_producer_t *p)
{
    (void) rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE
                                 |RD_KAFKA_PURGE_F_INFLIGHT);

    while (rd_kafka_poll(p->rk, 0) > 0) {
        /* the reports of the purged messages */
    }

    ngx_http_seckill_kafka_wakeup_off(p->rk);

    if (p->rkt) {
        rd_kafka_topic_destroy(p->rkt);
    }

    rd_kafka_destroy(p->rk);

    ngx_free(p);
}


/* librdkafka must not write to the pipe once it is closed */

static void
ngx_http_seckill_kafka_wakeup_off(rd_kafka_t *rk)
{
    rd_kafka_queue_t  *queue;

    queue = rd_kafka_queue_get_main(rk);
    rd_kafka_queue_io_event_enable(queue, -1, NULL, 0);
    rd_kafka_queue_destroy(queue);
}


static void
ngx_http_seckill_kafka_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg,
    void *opaque)
{
    ngx_http_seckill_kafka_t *kf = opaque;

    ngx_http_seckill_stats_kafka_reported(rd_kafka_message_latency(msg),
                                          msg->err
                                          != RD_KAFKA_RESP_ERR_NO_ERROR);

    kf->handler(msg->_private, msg->err);
}


static void
ngx_http_seckill_kafka_error(rd_kafka_t *rk, int err, const char *reason,
    void *opaque)
{
    ngx_http_seckill_kafka_t *kf = opaque;

    /*
     * librdkafka recovers from the others by itself (a broker down is one:
     * the messages wait until their timeout); a fatal one is noted here
     * and acted on once the reports being served are done.
     */

    if (err == RD_KAFKA_RESP_ERR__FATAL) {
        if (kf->producer && rk == kf->producer->rk) {
            kf->fatal = 1;
        }

        ngx_log_error(NGX_LOG_ERR, kf->log, 0, "kafka: fatal error: %s",
                      reason);
        return;
    }

    ngx_log_error(NGX_LOG_WARN, kf->log, 0, "kafka: %s: %s",
                  rd_kafka_err2name(err), reason);
}


static void
ngx_http_seckill_kafka_log(const rd_kafka_t *rk, int level, const char *fac,
    const char *buf)
{
    ngx_uint_t                 lvl;
    ngx_http_seckill_kafka_t  *kf;

    kf = &ngx_http_seckill_kafka;

    /*
     * Lines are served by rd_kafka_poll() in the worker's thread; only a
     * producer being destroyed may still log from its own threads, and
     * nginx's log is not for other threads.
     */

    if (!pthread_equal(pthread_self(), kf->thread)) {
        return;
    }

    if (level <= 3) {
        lvl = NGX_LOG_ERR;

    } else if (level == 4) {
        lvl = NGX_LOG_WARN;

    } else if (level == 5) {
        lvl = NGX_LOG_NOTICE;

    } else if (level == 6) {
        lvl = NGX_LOG_INFO;

    } else {
        lvl = NGX_LOG_DEBUG;
    }

    ngx_log_error(lvl, kf->log, 0, "kafka: %s: %s", fac, buf);
}
