
/*
 * hiredis does the protocol, nginx does the waiting.  hiredis asks for read
 * and write interest through the ev hooks of redisAsyncContext; the socket
 * is registered with the worker's event module as an ordinary
 * ngx_connection_t.  The registration is level-triggered on purpose:
 * redisAsyncHandleRead() reads at most 16 KB per call and cannot say whether
 * the socket is drained, so with edge-triggered epoll a large burst of
 * replies could be left unread until the next one arrives.
 *
 * Every command waits in the same connection, so many requests in flight
 * are pipelined by hiredis without any effort here.  The commands of one
 * turn of the event loop leave in one write: hiredis asks for write
 * interest at each command, and the write event is posted, to run after
 * every request of the turn has queued its command.  Only a write that
 * could not finish (a full socket buffer) or a connect in progress waits
 * for epoll, which saves two epoll_ctl() calls and a turn per batch.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <hiredis/async.h>

#include "ngx_http_seckill_redis.h"
#include "ngx_http_seckill_stats.h"


#define NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN  100
#define NGX_HTTP_SECKILL_REDIS_BACKOFF_MAX  2000
#define NGX_HTTP_SECKILL_REDIS_HOOKS        4


typedef struct {
    ngx_http_seckill_redis_handler_pt   handler;
    void                               *data;
    uint64_t                            sent;       /* usec, for stats */
} ngx_http_seckill_redis_cmd_t;


typedef struct {
    ngx_http_seckill_redis_connect_pt   handler;
    void                               *data;
} ngx_http_seckill_redis_hook_t;


typedef struct {
    ngx_http_seckill_redis_conf_t      *conf;
    ngx_log_t                          *log;

    redisAsyncContext                  *ac;

    ngx_event_t                         connect_timer;
    ngx_event_t                         retry_timer;
    ngx_event_t                         drop;       /* posted */
    ngx_msec_t                          backoff;

    ngx_uint_t                          inflight;
    ngx_msec_t                          busy_since;

    ngx_uint_t                          failures;   /* connects in a row */

    ngx_http_seckill_redis_hook_t       hooks[NGX_HTTP_SECKILL_REDIS_HOOKS];
    ngx_uint_t                          nhooks;

    unsigned                            connected:1;
    unsigned                            exiting:1;
    unsigned                            writing:1;  /* in the handler */
} ngx_http_seckill_redis_t;


static ngx_int_t ngx_http_seckill_redis_send(
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *command, size_t len);
static void ngx_http_seckill_redis_connect(ngx_http_seckill_redis_t *rd);
static void ngx_http_seckill_redis_failed(ngx_http_seckill_redis_t *rd,
    const char *reason);
static void ngx_http_seckill_redis_retry(ngx_http_seckill_redis_t *rd);
static void ngx_http_seckill_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_seckill_redis_authenticated(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_seckill_redis_serve(ngx_http_seckill_redis_t *rd);
static void ngx_http_seckill_redis_disconnected(const redisAsyncContext *ac,
    int status);
static void ngx_http_seckill_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);
static void ngx_http_seckill_redis_read_handler(ngx_event_t *rev);
static void ngx_http_seckill_redis_write_handler(ngx_event_t *wev);
static void ngx_http_seckill_redis_connect_timeout(ngx_event_t *ev);
static void ngx_http_seckill_redis_retry_handler(ngx_event_t *ev);
static void ngx_http_seckill_redis_drop_handler(ngx_event_t *ev);
static void ngx_http_seckill_redis_add_read(void *privdata);
static void ngx_http_seckill_redis_del_read(void *privdata);
static void ngx_http_seckill_redis_add_write(void *privdata);
static void ngx_http_seckill_redis_del_write(void *privdata);
static void ngx_http_seckill_redis_cleanup(void *privdata);


/* one per worker process */
static ngx_http_seckill_redis_t  ngx_http_seckill_redis;


ngx_int_t
ngx_http_seckill_redis_init(ngx_cycle_t *cycle,
    ngx_http_seckill_redis_conf_t *conf)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    /* a new worker starts from zeroes, with the hooks registered before */

    rd->conf = conf;
    rd->log = cycle->log;
    rd->backoff = NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN;

    /* neither timer may keep a gracefully exiting worker alive */

    rd->connect_timer.handler = ngx_http_seckill_redis_connect_timeout;
    rd->connect_timer.data = rd;
    rd->connect_timer.log = cycle->log;
    rd->connect_timer.cancelable = 1;

    rd->retry_timer.handler = ngx_http_seckill_redis_retry_handler;
    rd->retry_timer.data = rd;
    rd->retry_timer.log = cycle->log;
    rd->retry_timer.cancelable = 1;

    rd->drop.handler = ngx_http_seckill_redis_drop_handler;
    rd->drop.data = rd;
    rd->drop.log = cycle->log;

    ngx_http_seckill_redis_connect(rd);

    return NGX_OK;
}


void
ngx_http_seckill_redis_exit(ngx_cycle_t *cycle)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    if (rd->conf == NULL) {
        return;
    }

    rd->exiting = 1;
    rd->connected = 0;

    if (rd->retry_timer.timer_set) {
        ngx_del_timer(&rd->retry_timer);
    }

    /* waiting handlers get their NULL reply; the cleanup hook runs */

    if (rd->ac) {
        redisAsyncFree(rd->ac);
    }
}


ngx_int_t
ngx_http_seckill_redis_on_connect(ngx_http_seckill_redis_connect_pt handler,
    void *data)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    if (rd->nhooks == NGX_HTTP_SECKILL_REDIS_HOOKS) {
        return NGX_ERROR;
    }

    rd->hooks[rd->nhooks].handler = handler;
    rd->hooks[rd->nhooks].data = data;
    rd->nhooks++;

    return NGX_OK;
}


ngx_uint_t
ngx_http_seckill_redis_ready(void)
{
    return ngx_http_seckill_redis.connected;
}


ngx_int_t
ngx_http_seckill_redis_command(ngx_http_seckill_redis_handler_pt handler,
    void *data, const char *fmt, ...)
{
    int        len;
    char      *command;
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    len = redisvFormatCommand(&command, fmt, args);
    va_end(args);

    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_http_seckill_redis_send(handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


ngx_int_t
ngx_http_seckill_redis_command_argv(ngx_http_seckill_redis_handler_pt handler,
    void *data, int argc, const char **argv, const size_t *argvlen)
{
    int        len;
    char      *command;
    ngx_int_t  rc;

    len = redisFormatCommandArgv(&command, argc, argv, argvlen);

    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_http_seckill_redis_send(handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


/* queues a command in the protocol's form, as both callers above make it */

static ngx_int_t
ngx_http_seckill_redis_send(ngx_http_seckill_redis_handler_pt handler,
    void *data, const char *command, size_t len)
{
    ngx_http_seckill_redis_t      *rd;
    ngx_http_seckill_redis_cmd_t  *cmd;

    rd = &ngx_http_seckill_redis;

    if (!rd->connected) {
        return NGX_ERROR;
    }

    /*
     * A Redis that is stopped or cut off by the network keeps the TCP
     * connection open and answers nothing: every request then times out
     * while its command stays queued.  When nothing has come back for as
     * long as a connect may take, start over on a fresh connection rather
     * than let the queue grow.  The old one is freed from the event loop:
     * freeing it here would run the other waiting requests' handlers inside
     * this caller.
     */

    if (rd->inflight
        && ngx_current_msec - rd->busy_since >= rd->conf->connect_timeout)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis \"%V\": no reply for %M ms with %ui commands "
                      "waiting, reconnecting",
                      &rd->conf->name, ngx_current_msec - rd->busy_since,
                      rd->inflight);

        rd->connected = 0;
        ngx_post_event(&rd->drop, &ngx_posted_events);

        return NGX_ERROR;
    }

    cmd = ngx_alloc(sizeof(ngx_http_seckill_redis_cmd_t), rd->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->sent = ngx_http_seckill_stats_usec();

    if (redisAsyncFormattedCommand(rd->ac, ngx_http_seckill_redis_reply, cmd,
                                   command, len)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    if (rd->inflight++ == 0) {
        rd->busy_since = ngx_current_msec;
    }

    return NGX_OK;
}


static void
ngx_http_seckill_redis_connect(ngx_http_seckill_redis_t *rd)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    /* the address is numeric (resolved at configuration time): no DNS */

    if (rd->conf->port == 0) {
        ac = redisAsyncConnectUnix((const char *) rd->conf->host.data);

    } else {
        ac = redisAsyncConnect((const char *) rd->conf->host.data,
                               rd->conf->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "redis \"%V\": cannot allocate a hiredis context",
                      &rd->conf->name);
        ngx_http_seckill_redis_retry(rd);
        return;
    }

    /*
     * TCP keepalive: an idle connection whose peer vanished (host down,
     * network cut) is otherwise only noticed when requests time out on it.
     * A failure leaves the context in error, as a failed connect does.
     */

    if (ac->err
        || (rd->conf->port && redisEnableKeepAlive(&ac->c) != REDIS_OK))
    {
        ngx_http_seckill_redis_failed(rd, ac->c.errstr);
        redisAsyncFree(ac);
        ngx_http_seckill_redis_retry(rd);
        return;
    }

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        ngx_http_seckill_redis_failed(rd, "no free connection");
        redisAsyncFree(ac);
        ngx_http_seckill_redis_retry(rd);
        return;
    }

    c->data = rd;
    c->log = rd->log;
    c->read->log = rd->log;
    c->write->log = rd->log;
    c->read->handler = ngx_http_seckill_redis_read_handler;
    c->write->handler = ngx_http_seckill_redis_write_handler;

    ac->data = rd;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_seckill_redis_add_read;
    ac->ev.delRead = ngx_http_seckill_redis_del_read;
    ac->ev.addWrite = ngx_http_seckill_redis_add_write;
    ac->ev.delWrite = ngx_http_seckill_redis_del_write;
    ac->ev.cleanup = ngx_http_seckill_redis_cleanup;

    rd->ac = ac;

    /*
     * Setting the connect callback asks for write interest: the first
     * writable event tells how the non-blocking connect(2) went.
     */

    redisAsyncSetConnectCallback(ac, ngx_http_seckill_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_seckill_redis_disconnected);

    ngx_add_timer(&rd->connect_timer, rd->conf->connect_timeout);
}


/*
 * The first failed connect is an error; while Redis stays down, the retries
 * every few seconds would only bury the log, so they are logged at "info".
 */

static void
ngx_http_seckill_redis_failed(ngx_http_seckill_redis_t *rd,
    const char *reason)
{
    ngx_uint_t  level;

    level = rd->failures++ ? NGX_LOG_INFO : NGX_LOG_ERR;

    ngx_log_error(level, rd->log, 0,
                  "redis \"%V\": connect failed: %s, retrying in %M ms",
                  &rd->conf->name, reason, rd->backoff);
}


static void
ngx_http_seckill_redis_retry(ngx_http_seckill_redis_t *rd)
{
    if (rd->exiting || rd->retry_timer.timer_set) {
        return;
    }

    ngx_add_timer(&rd->retry_timer, rd->backoff);

    rd->backoff = ngx_min(rd->backoff * 2, NGX_HTTP_SECKILL_REDIS_BACKOFF_MAX);
}


static void
ngx_http_seckill_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_str_t                 *password;
    ngx_http_seckill_redis_t  *rd;

    rd = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context next; its cleanup hook retries */
        ngx_http_seckill_redis_failed(rd, ac->c.errstr);
        return;
    }

    password = &rd->conf->password;

    if (password->len == 0) {
        ngx_http_seckill_redis_serve(rd);
        return;
    }

    /*
     * Nothing else is sent before Redis has accepted the password: a
     * refused one must not leave a connection that answers every purchase
     * with NOAUTH.  The connect timer covers the answer too.
     */

    if (redisAsyncCommand((redisAsyncContext *) ac,
                          ngx_http_seckill_redis_authenticated, NULL,
                          "AUTH %b", password->data, password->len)
        != REDIS_OK)
    {
        ngx_http_seckill_redis_failed(rd, "cannot queue AUTH");
        ngx_post_event(&rd->drop, &ngx_posted_events);
    }
}


static void
ngx_http_seckill_redis_authenticated(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    u_char                     reason[256];
    redisReply                *r;
    ngx_http_seckill_redis_t  *rd;

    rd = ac->data;
    r = reply;

    ngx_memzero(reason, sizeof(reason));

    if (r == NULL) {
        /* the connection went first; its cleanup hook retries */
        return;
    }

    if (r->type == REDIS_REPLY_ERROR) {
        ngx_snprintf(reason, sizeof(reason) - 1,
                     "AUTH refused (%s): seckill_redis_password must be "
                     "the requirepass of redis.conf%Z", r->str);
        ngx_http_seckill_redis_failed(rd, (const char *) reason);

        /* hiredis is inside its read loop: the context goes from there */
        ngx_post_event(&rd->drop, &ngx_posted_events);
        return;
    }

    ngx_http_seckill_redis_serve(rd);
}


/* the connection is usable: the start-up hooks queue their commands first */

static void
ngx_http_seckill_redis_serve(ngx_http_seckill_redis_t *rd)
{
    ngx_uint_t  i;

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    rd->connected = 1;

    ngx_http_seckill_stats_redis_connected(1);

    if (rd->failures == 0) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0, "redis \"%V\": connected",
                      &rd->conf->name);

    } else {
        /* a recovery is worth as much attention as the failure was */

        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "redis \"%V\": connected after %ui failed attempts",
                      &rd->conf->name, rd->failures);

        rd->failures = 0;
    }

    for (i = 0; i < rd->nhooks && rd->connected; i++) {
        rd->hooks[i].handler(rd->hooks[i].data);
    }
}


static void
ngx_http_seckill_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_seckill_redis_t  *rd;

    /* REDIS_OK means the module itself closed it, and has said why */

    if (status == REDIS_OK) {
        return;
    }

    rd = ac->data;

    ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                  "redis \"%V\": connection lost: %s",
                  &rd->conf->name, ac->c.errstr);
}


static void
ngx_http_seckill_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    void                               *data;
    ngx_http_seckill_redis_t           *rd;
    ngx_http_seckill_redis_cmd_t       *cmd;
    ngx_http_seckill_redis_handler_pt   handler;

    rd = ac->data;
    cmd = privdata;

    handler = cmd->handler;
    data = cmd->data;

    if (reply) {
        ngx_http_seckill_stats_redis_reply(cmd->sent);
    }

    ngx_free(cmd);

    rd->inflight--;

    if (reply) {
        rd->busy_since = ngx_current_msec;

        /*
         * Only an answer shows the connection is worth keeping: a Redis
         * that accepts connections but never replies is retried ever more
         * slowly.
         */
        rd->backoff = NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN;
    }

    handler(reply, data);
}


static void
ngx_http_seckill_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t          *c;
    ngx_http_seckill_redis_t  *rd;

    c = rev->data;
    rd = c->data;

    /* may free the connection: c is not touched afterwards */
    redisAsyncHandleRead(rd->ac);
}


static void
ngx_http_seckill_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t          *c;
    ngx_http_seckill_redis_t  *rd;

    c = wev->data;
    rd = c->data;

    /* what is left unwritten asks for write interest from inside */

    rd->writing = 1;
    redisAsyncHandleWrite(rd->ac);
    rd->writing = 0;
}


static void
ngx_http_seckill_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_seckill_redis_t  *rd;

    rd = ev->data;

    ngx_http_seckill_redis_failed(rd, "timed out");

    redisAsyncFree(rd->ac);
}


static void
ngx_http_seckill_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_seckill_redis_connect(ev->data);
}


static void
ngx_http_seckill_redis_drop_handler(ngx_event_t *ev)
{
    ngx_http_seckill_redis_t  *rd;

    rd = ev->data;

    redisAsyncFree(rd->ac);
}


/*
 * The event hooks.  A failing ngx_add_event() has been logged by the event
 * module; the connect timeout or the no-reply check above then replaces
 * the connection.
 */

static void
ngx_http_seckill_redis_add_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (!c->read->active) {
        (void) ngx_add_event(c->read, NGX_READ_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_seckill_redis_del_read(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }
}


static void
ngx_http_seckill_redis_add_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    ngx_http_seckill_redis_t  *rd;

    rd = c->data;

    if (rd->connected && !rd->writing) {
        if (!c->write->posted) {
            ngx_post_event(c->write, &ngx_posted_events);
        }

        return;
    }

    if (!c->write->active) {
        (void) ngx_add_event(c->write, NGX_WRITE_EVENT, NGX_LEVEL_EVENT);
    }
}


static void
ngx_http_seckill_redis_del_write(void *privdata)
{
    ngx_connection_t  *c = privdata;

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }
}


/*
 * hiredis is about to free the context and close the socket, whatever the
 * reason: failed or timed out connect, lost connection, or the module's own
 * redisAsyncFree().  The waiting commands have had their NULL replies.
 */

static void
ngx_http_seckill_redis_cleanup(void *privdata)
{
    ngx_connection_t          *c = privdata;
    ngx_http_seckill_redis_t  *rd;

    rd = c->data;

    /* nothing may reach the freed ngx_connection_t through the hooks */

    rd->ac->ev.addRead = NULL;
    rd->ac->ev.delRead = NULL;
    rd->ac->ev.addWrite = NULL;
    rd->ac->ev.delWrite = NULL;
    rd->ac->ev.cleanup = NULL;

    if (c->read->active) {
        (void) ngx_del_event(c->read, NGX_READ_EVENT, 0);
    }

    if (c->write->active) {
        (void) ngx_del_event(c->write, NGX_WRITE_EVENT, 0);
    }

    if (c->read->posted) {
        ngx_delete_posted_event(c->read);
    }

    if (c->write->posted) {
        ngx_delete_posted_event(c->write);
    }

    /* the socket belongs to hiredis, which closes it */

    ngx_free_connection(c);
    c->fd = (ngx_socket_t) -1;

    rd->ac = NULL;
    rd->connected = 0;

    ngx_http_seckill_stats_redis_connected(0);

    if (rd->connect_timer.timer_set) {
        ngx_del_timer(&rd->connect_timer);
    }

    if (rd->drop.posted) {
        ngx_delete_posted_event(&rd->drop);
    }

    ngx_http_seckill_redis_retry(rd);
}
