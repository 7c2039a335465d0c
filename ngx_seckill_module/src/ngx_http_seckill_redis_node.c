
/*
 * One connection to one Redis node, on nginx events.  hiredis does the
 * protocol, nginx does the waiting: hiredis asks for read and write
 * interest through the ev hooks of redisAsyncContext; the socket is
 * registered with the worker's event module as an ordinary
 * ngx_connection_t.  The registration is level-triggered on purpose:
 * redisAsyncHandleRead() reads at most 16 KB per call and cannot say
 * whether the socket is drained, so with edge-triggered epoll a large burst
 * of replies could be left unread until the next one arrives.
 *
 * The commands of one turn of the event loop leave in one write: hiredis
 * asks for write interest at each command, and the write event is posted,
 * to run after every request of the turn has queued its command.  Only a
 * write that could not finish (a full socket buffer) or a connect in
 * progress waits for epoll, which saves two epoll_ctl() calls and a turn
 * per batch.
 *
 *   connect -> (AUTH) -> up: ngx_http_seckill_redis_node_up()
 *   lost, refused, timed out -> down: ngx_http_seckill_redis_node_down(),
 *                               then a new connect after the backoff
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_event.h>
#include <hiredis/async.h>

#include "ngx_http_seckill_redis_node.h"


static void ngx_http_seckill_redis_failed(ngx_http_seckill_redis_node_t *node,
    const char *reason);
static void ngx_http_seckill_redis_retry(ngx_http_seckill_redis_node_t *node);
static void ngx_http_seckill_redis_connected(const redisAsyncContext *ac,
    int status);
static void ngx_http_seckill_redis_authenticated(redisAsyncContext *ac,
    void *reply, void *privdata);
static void ngx_http_seckill_redis_serve(ngx_http_seckill_redis_node_t *node);
static void ngx_http_seckill_redis_disconnected(const redisAsyncContext *ac,
    int status);
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


void
ngx_http_seckill_redis_node_init(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_conf_t *conf, ngx_log_t *log)
{
    node->conf = conf;
    node->log = log;
    node->backoff = NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN;

    /* neither timer may keep a gracefully exiting worker alive */

    node->connect_timer.handler = ngx_http_seckill_redis_connect_timeout;
    node->connect_timer.data = node;
    node->connect_timer.log = log;
    node->connect_timer.cancelable = 1;

    node->retry_timer.handler = ngx_http_seckill_redis_retry_handler;
    node->retry_timer.data = node;
    node->retry_timer.log = log;
    node->retry_timer.cancelable = 1;

    node->drop.handler = ngx_http_seckill_redis_drop_handler;
    node->drop.data = node;
    node->drop.log = log;
}


/* the worker exits: waiting handlers get their NULL reply, nothing retries */

void
ngx_http_seckill_redis_node_close(ngx_http_seckill_redis_node_t *node)
{
    node->exiting = 1;
    node->connected = 0;

    if (node->retry_timer.timer_set) {
        ngx_del_timer(&node->retry_timer);
    }

    if (node->ac) {
        redisAsyncFree(node->ac);
    }
}


/*
 * The connection is replaced from the event loop: freeing it in the
 * caller, often inside hiredis' read loop or a request's handler, would run
 * the other waiting handlers there.
 */

void
ngx_http_seckill_redis_node_drop(ngx_http_seckill_redis_node_t *node)
{
    node->connected = 0;

    if (!node->drop.posted) {
        ngx_post_event(&node->drop, &ngx_posted_events);
    }
}


void
ngx_http_seckill_redis_node_connect(ngx_http_seckill_redis_node_t *node)
{
    ngx_connection_t   *c;
    redisAsyncContext  *ac;

    /* the address is numeric (resolved at configuration time): no DNS */

    if (node->port == 0) {
        ac = redisAsyncConnectUnix((const char *) node->host.data);

    } else {
        ac = redisAsyncConnect((const char *) node->host.data, node->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, node->log, 0,
                      "redis \"%V\": cannot allocate a hiredis context",
                      &node->name);
        ngx_http_seckill_redis_retry(node);
        return;
    }

    /*
     * TCP keepalive: an idle connection whose peer vanished (host down,
     * network cut) is otherwise only noticed when requests time out on it.
     * A failure leaves the context in error, as a failed connect does.
     */

    if (ac->err
        || (node->port && redisEnableKeepAlive(&ac->c) != REDIS_OK))
    {
        ngx_http_seckill_redis_failed(node, ac->c.errstr);
        redisAsyncFree(ac);
        ngx_http_seckill_redis_retry(node);
        return;
    }

    c = ngx_get_connection(ac->c.fd, node->log);
    if (c == NULL) {
        ngx_http_seckill_redis_failed(node, "no free connection");
        redisAsyncFree(ac);
        ngx_http_seckill_redis_retry(node);
        return;
    }

    c->data = node;
    c->log = node->log;
    c->read->log = node->log;
    c->write->log = node->log;
    c->read->handler = ngx_http_seckill_redis_read_handler;
    c->write->handler = ngx_http_seckill_redis_write_handler;

    ac->data = node;
    ac->ev.data = c;
    ac->ev.addRead = ngx_http_seckill_redis_add_read;
    ac->ev.delRead = ngx_http_seckill_redis_del_read;
    ac->ev.addWrite = ngx_http_seckill_redis_add_write;
    ac->ev.delWrite = ngx_http_seckill_redis_del_write;
    ac->ev.cleanup = ngx_http_seckill_redis_cleanup;

    node->ac = ac;

    /*
     * Setting the connect callback asks for write interest: the first
     * writable event tells how the non-blocking connect(2) went.
     */

    redisAsyncSetConnectCallback(ac, ngx_http_seckill_redis_connected);
    redisAsyncSetDisconnectCallback(ac, ngx_http_seckill_redis_disconnected);

    ngx_add_timer(&node->connect_timer, node->conf->connect_timeout);
}


/*
 * The first failed connect is an error; while Redis stays down, the retries
 * every few seconds would only bury the log, so they are logged at "info".
 */

static void
ngx_http_seckill_redis_failed(ngx_http_seckill_redis_node_t *node,
    const char *reason)
{
    ngx_uint_t  level;

    level = node->failures++ ? NGX_LOG_INFO : NGX_LOG_ERR;

    ngx_log_error(level, node->log, 0,
                  "redis \"%V\": connect failed: %s, retrying in %M ms",
                  &node->name, reason, node->backoff);
}


static void
ngx_http_seckill_redis_retry(ngx_http_seckill_redis_node_t *node)
{
    if (node->exiting || node->retry_timer.timer_set) {
        return;
    }

    ngx_add_timer(&node->retry_timer, node->backoff);

    node->backoff = ngx_min(node->backoff * 2,
                            NGX_HTTP_SECKILL_REDIS_BACKOFF_MAX);
}


static void
ngx_http_seckill_redis_connected(const redisAsyncContext *ac, int status)
{
    ngx_str_t                      *password;
    ngx_http_seckill_redis_node_t  *node;

    node = ac->data;

    if (status != REDIS_OK) {
        /* hiredis frees the context next; its cleanup hook retries */
        ngx_http_seckill_redis_failed(node, ac->c.errstr);
        return;
    }

    password = &node->conf->password;

    if (password->len == 0) {
        ngx_http_seckill_redis_serve(node);
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
        ngx_http_seckill_redis_failed(node, "cannot queue AUTH");
        ngx_http_seckill_redis_node_drop(node);
    }
}


static void
ngx_http_seckill_redis_authenticated(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    u_char                          reason[256];
    redisReply                     *r;
    ngx_http_seckill_redis_node_t  *node;

    node = ac->data;
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
        ngx_http_seckill_redis_failed(node, (const char *) reason);
        ngx_http_seckill_redis_node_drop(node);
        return;
    }

    ngx_http_seckill_redis_serve(node);
}


/* the connection is usable: redis.c decides what goes first on it */

static void
ngx_http_seckill_redis_serve(ngx_http_seckill_redis_node_t *node)
{
    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    node->connected = 1;

    if (node->failures == 0) {
        ngx_log_error(NGX_LOG_NOTICE, node->log, 0, "redis \"%V\": connected",
                      &node->name);

    } else {
        /* a recovery is worth as much attention as the failure was */

        ngx_log_error(NGX_LOG_WARN, node->log, 0,
                      "redis \"%V\": connected after %ui failed attempts",
                      &node->name, node->failures);

        node->failures = 0;
    }

    ngx_http_seckill_redis_node_up(node);
}


static void
ngx_http_seckill_redis_disconnected(const redisAsyncContext *ac, int status)
{
    ngx_http_seckill_redis_node_t  *node;

    /* REDIS_OK means the module itself closed it, and has said why */

    if (status == REDIS_OK) {
        return;
    }

    node = ac->data;

    ngx_log_error(NGX_LOG_ERR, node->log, 0,
                  "redis \"%V\": connection lost: %s",
                  &node->name, ac->c.errstr);
}


static void
ngx_http_seckill_redis_read_handler(ngx_event_t *rev)
{
    ngx_connection_t               *c;
    ngx_http_seckill_redis_node_t  *node;

    c = rev->data;
    node = c->data;

    /* may free the connection: c is not touched afterwards */
    redisAsyncHandleRead(node->ac);
}


static void
ngx_http_seckill_redis_write_handler(ngx_event_t *wev)
{
    ngx_connection_t               *c;
    ngx_http_seckill_redis_node_t  *node;

    c = wev->data;
    node = c->data;

    /* what is left unwritten asks for write interest from inside */

    node->writing = 1;
    redisAsyncHandleWrite(node->ac);
    node->writing = 0;
}


static void
ngx_http_seckill_redis_connect_timeout(ngx_event_t *ev)
{
    ngx_http_seckill_redis_node_t  *node;

    node = ev->data;

    ngx_http_seckill_redis_failed(node, "timed out");

    redisAsyncFree(node->ac);
}


static void
ngx_http_seckill_redis_retry_handler(ngx_event_t *ev)
{
    ngx_http_seckill_redis_node_connect(ev->data);
}


static void
ngx_http_seckill_redis_drop_handler(ngx_event_t *ev)
{
    ngx_http_seckill_redis_node_t  *node;

    node = ev->data;

    redisAsyncFree(node->ac);
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

    ngx_http_seckill_redis_node_t  *node;

    node = c->data;

    if (node->connected && !node->writing) {
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
    ngx_connection_t               *c = privdata;
    ngx_http_seckill_redis_node_t  *node;

    node = c->data;

    /* nothing may reach the freed ngx_connection_t through the hooks */

    node->ac->ev.addRead = NULL;
    node->ac->ev.delRead = NULL;
    node->ac->ev.addWrite = NULL;
    node->ac->ev.delWrite = NULL;
    node->ac->ev.cleanup = NULL;

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

    node->ac = NULL;
    node->connected = 0;

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    if (node->drop.posted) {
        ngx_delete_posted_event(&node->drop);
    }

    if (node->exiting) {
        return;
    }

    ngx_http_seckill_redis_node_down(node);

    ngx_http_seckill_redis_retry(node);
}
