
/*
 * hiredis does the protocol, nginx does the waiting.  hiredis asks for read
 * and write interest through the ev hooks of redisAsyncContext; the socket
 * is registered with the worker's event module as an ordinary
 * ngx_connection_t.  The registration is level-triggered on purpose:
 * redisAsyncHandleRead() reads at most 16 KB per call and cannot say whether
 * the socket is drained, so with edge-triggered epoll a large burst of
 * replies could be left unread until the next one arrives.
 *
 * Every command for a node waits in the same connection, so many requests
 * in flight are pipelined by hiredis without any effort here.  The commands
 * of one turn of the event loop leave in one write: hiredis asks for write
 * interest at each command, and the write event is posted, to run after
 * every request of the turn has queued its command.  Only a write that
 * could not finish (a full socket buffer) or a connect in progress waits
 * for epoll, which saves two epoll_ctl() calls and a turn per batch.
 *
 * Topology.  Each configured address is a seed.  The first command on a
 * seed's new connection is CLUSTER SLOTS:
 *
 *   "cluster support disabled"   a single Redis: every slot is served by
 *                                that connection, as if there were no
 *                                slots at all
 *   a slot map                   a cluster: a connection per master, made
 *                                as the map names them; a command goes to
 *                                the master of its slot
 *
 * Until one seed has answered, commands fail at once (503), as they do for
 * a slot whose master is not connected: the other masters' courses sell on.
 * The map is asked for again when a master's connection is lost (a failover
 * may have moved its slots) and after a MOVED, which also updates that slot
 * at once.  A command that met MOVED or ASK is sent again, as it was
 * formatted, to the node named (after ASKING for an ASK), at most
 * NGX_HTTP_SECKILL_REDIS_REDIRECTS times: the reply the caller gets is the
 * one of the node that ran it.  An error reply means the command did not
 * run, so a MOVED that cannot be followed goes to the caller as the error
 * it is.  In cluster mode each command keeps its formatted copy for that.
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

/* seeds plus the masters a cluster names; a slot holds an index + 1 */
#define NGX_HTTP_SECKILL_REDIS_NODES        64
#define NGX_HTTP_SECKILL_REDIS_REDIRECTS    3

/* a cluster without slots yet (being created): ask again after */
#define NGX_HTTP_SECKILL_REDIS_MAP_RETRY    500


typedef enum {
    ngx_http_seckill_redis_unknown = 0,
    ngx_http_seckill_redis_single,
    ngx_http_seckill_redis_cluster
} ngx_http_seckill_redis_mode_e;


typedef struct {
    ngx_http_seckill_redis_handler_pt   handler;
    void                               *data;
    uint64_t                            sent;       /* usec, for stats */
    ngx_uint_t                          redirects;
    size_t                              len;        /* of command; 0: none */
    char                               *command;    /* kept in cluster mode */
} ngx_http_seckill_redis_cmd_t;


typedef struct {
    ngx_http_seckill_redis_connect_pt   handler;
    void                               *data;
} ngx_http_seckill_redis_hook_t;


struct ngx_http_seckill_redis_node_s {
    ngx_str_t                           name;       /* for messages */
    ngx_str_t                           host;       /* null-terminated */
    int                                 port;

    redisAsyncContext                  *ac;

    ngx_event_t                         connect_timer;
    ngx_event_t                         retry_timer;
    ngx_event_t                         drop;       /* posted */
    ngx_msec_t                          backoff;

    ngx_uint_t                          inflight;
    ngx_msec_t                          busy_since;

    ngx_uint_t                          failures;   /* connects in a row */

    u_char                              text[2 * NGX_SOCKADDR_STRLEN + 8];

    unsigned                            connected:1;
    unsigned                            hooked:1;   /* hooks have run */
    unsigned                            owner:1;    /* has slots in the map */
    unsigned                            writing:1;  /* in the handler */
};


typedef struct {
    ngx_http_seckill_redis_conf_t      *conf;
    ngx_log_t                          *log;

    ngx_http_seckill_redis_mode_e       mode;
    ngx_http_seckill_redis_node_t      *single;     /* mode single */

    ngx_http_seckill_redis_node_t       nodes[NGX_HTTP_SECKILL_REDIS_NODES];
    ngx_uint_t                          nnodes;
    u_char                              slots[SECKILL_SLOTS];

    ngx_event_t                         refresh;    /* posted or timer */

    ngx_http_seckill_redis_hook_t       hooks[NGX_HTTP_SECKILL_REDIS_HOOKS];
    ngx_uint_t                          nhooks;

    unsigned                            asking:1;   /* CLUSTER SLOTS sent */
    unsigned                            up:1;       /* as the gauge says */
    unsigned                            exiting:1;
} ngx_http_seckill_redis_t;


static ngx_http_seckill_redis_node_t *ngx_http_seckill_redis_node_add(
    ngx_str_t *name, ngx_str_t *host, int port);
static ngx_http_seckill_redis_node_t *ngx_http_seckill_redis_node_at(
    u_char *host, size_t len, int port);
static ngx_uint_t ngx_http_seckill_redis_numeric(u_char *host, size_t len);
static ngx_http_seckill_redis_node_t *ngx_http_seckill_redis_route(
    ngx_uint_t slot);
static ngx_int_t ngx_http_seckill_redis_send(
    ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *command, size_t len);
static ngx_int_t ngx_http_seckill_redis_redirect(
    ngx_http_seckill_redis_node_t *node, ngx_http_seckill_redis_cmd_t *cmd,
    redisReply *reply);
static void ngx_http_seckill_redis_ask_map(ngx_http_seckill_redis_node_t *node);
static void ngx_http_seckill_redis_map(redisAsyncContext *ac, void *reply,
    void *privdata);
static ngx_int_t ngx_http_seckill_redis_map_apply(
    ngx_http_seckill_redis_node_t *node, redisReply *reply);
static void ngx_http_seckill_redis_refresh_handler(ngx_event_t *ev);
static void ngx_http_seckill_redis_refresh_soon(void);
static void ngx_http_seckill_redis_hooks(void);
static void ngx_http_seckill_redis_gauge(void);
static void ngx_http_seckill_redis_connect(ngx_http_seckill_redis_node_t *node);
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
    ngx_uint_t                      i;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_addr_t  *seed;

    rd = &ngx_http_seckill_redis;

    /* a new worker starts from zeroes, with the hooks registered before */

    rd->conf = conf;
    rd->log = cycle->log;

    rd->refresh.handler = ngx_http_seckill_redis_refresh_handler;
    rd->refresh.data = rd;
    rd->refresh.log = cycle->log;
    rd->refresh.cancelable = 1;

    for (i = 0; i < conf->nseeds; i++) {
        seed = &conf->seeds[i];

        if (ngx_http_seckill_redis_node_add(&seed->name, &seed->host,
                                            seed->port)
            == NULL)
        {
            return NGX_ERROR;
        }
    }

    for (i = 0; i < rd->nnodes; i++) {
        ngx_http_seckill_redis_connect(&rd->nodes[i]);
    }

    return NGX_OK;
}


void
ngx_http_seckill_redis_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                      i;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    if (rd->conf == NULL) {
        return;
    }

    rd->exiting = 1;

    if (rd->refresh.timer_set) {
        ngx_del_timer(&rd->refresh);
    }

    if (rd->refresh.posted) {
        ngx_delete_posted_event(&rd->refresh);
    }

    for (i = 0; i < rd->nnodes; i++) {
        node = &rd->nodes[i];
        node->connected = 0;

        if (node->retry_timer.timer_set) {
            ngx_del_timer(&node->retry_timer);
        }

        /* waiting handlers get their NULL reply; the cleanup hook runs */

        if (node->ac) {
            redisAsyncFree(node->ac);
        }
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
ngx_http_seckill_redis_ready(ngx_uint_t slot)
{
    ngx_http_seckill_redis_node_t  *node;

    node = ngx_http_seckill_redis_route(slot);

    return node != NULL && node->connected;
}


ngx_int_t
ngx_http_seckill_redis_command(ngx_uint_t slot,
    ngx_http_seckill_redis_handler_pt handler, void *data, const char *fmt,
    ...)
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

    rc = ngx_http_seckill_redis_send(ngx_http_seckill_redis_route(slot),
                                     handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


ngx_int_t
ngx_http_seckill_redis_command_argv(ngx_uint_t slot,
    ngx_http_seckill_redis_handler_pt handler, void *data, int argc,
    const char **argv, const size_t *argvlen)
{
    int        len;
    char      *command;
    ngx_int_t  rc;

    len = redisFormatCommandArgv(&command, argc, argv, argvlen);

    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_http_seckill_redis_send(ngx_http_seckill_redis_route(slot),
                                     handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


ngx_int_t
ngx_http_seckill_redis_node_command(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data, const char *fmt,
    ...)
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

    rc = ngx_http_seckill_redis_send(node, handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


static ngx_http_seckill_redis_node_t *
ngx_http_seckill_redis_node_add(ngx_str_t *name, ngx_str_t *host, int port)
{
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    if (rd->nnodes == NGX_HTTP_SECKILL_REDIS_NODES) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "redis: more than %d nodes, \"%V\" is not used",
                      NGX_HTTP_SECKILL_REDIS_NODES, host);
        return NULL;
    }

    node = &rd->nodes[rd->nnodes++];

    node->name = *name;
    node->host = *host;
    node->port = port;
    node->backoff = NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN;

    /* neither timer may keep a gracefully exiting worker alive */

    node->connect_timer.handler = ngx_http_seckill_redis_connect_timeout;
    node->connect_timer.data = node;
    node->connect_timer.log = rd->log;
    node->connect_timer.cancelable = 1;

    node->retry_timer.handler = ngx_http_seckill_redis_retry_handler;
    node->retry_timer.data = node;
    node->retry_timer.log = rd->log;
    node->retry_timer.cancelable = 1;

    node->drop.handler = ngx_http_seckill_redis_drop_handler;
    node->drop.data = node;
    node->drop.log = rd->log;

    return node;
}


/* the node a cluster names, added and connected when it is new */

static ngx_http_seckill_redis_node_t *
ngx_http_seckill_redis_node_at(u_char *host, size_t len, int port)
{
    u_char                         *p;
    ngx_str_t                       name, addr;
    ngx_uint_t                      i;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    if (len == 0 || len > NGX_SOCKADDR_STRLEN - 1) {
        return NULL;
    }

    for (i = 0; i < rd->nnodes; i++) {
        node = &rd->nodes[i];

        if (node->port == port
            && node->host.len == len
            && ngx_strncmp(node->host.data, host, len) == 0)
        {
            return node;
        }
    }

    if (rd->nnodes == NGX_HTTP_SECKILL_REDIS_NODES) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "redis: more than %d nodes, \"%*s:%d\" is not used",
                      NGX_HTTP_SECKILL_REDIS_NODES, len, host, port);
        return NULL;
    }

    /*
     * hiredis would resolve a name with a blocking getaddrinfo() in the
     * worker: a cluster must name its nodes by address, as it does unless
     * cluster-preferred-endpoint-type says otherwise.
     */

    if (!ngx_http_seckill_redis_numeric(host, len)) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis cluster names a node \"%*s:%d\", not an IP "
                      "address: its slots are answered 503; set "
                      "cluster-preferred-endpoint-type ip", len, host, port);
        return NULL;
    }

    /* its text holds "host\0" and then "host:port", the name */

    node = &rd->nodes[rd->nnodes];

    p = ngx_cpymem(node->text, host, len);
    *p++ = '\0';

    addr.data = node->text;
    addr.len = len;

    name.data = p;
    name.len = ngx_sprintf(p, "%*s:%d", len, host, port) - p;

    node = ngx_http_seckill_redis_node_add(&name, &addr, port);

    ngx_http_seckill_redis_connect(node);

    return node;
}


static ngx_uint_t
ngx_http_seckill_redis_numeric(u_char *host, size_t len)
{
#if (NGX_HAVE_INET6)
    u_char  addr6[16];

    if (ngx_inet6_addr(host, len, addr6) == NGX_OK) {
        return 1;
    }
#endif

    return ngx_inet_addr(host, len) != INADDR_NONE;
}


static ngx_http_seckill_redis_node_t *
ngx_http_seckill_redis_route(ngx_uint_t slot)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    switch (rd->mode) {

    case ngx_http_seckill_redis_single:
        return rd->single;

    case ngx_http_seckill_redis_cluster:
        return rd->slots[slot] ? &rd->nodes[rd->slots[slot] - 1] : NULL;

    default:
        return NULL;
    }
}


/* queues a command in the protocol's form, as the callers above make it */

static ngx_int_t
ngx_http_seckill_redis_send(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data,
    const char *command, size_t len)
{
    size_t                         keep;
    ngx_http_seckill_redis_t      *rd;
    ngx_http_seckill_redis_cmd_t  *cmd;

    rd = &ngx_http_seckill_redis;

    if (node == NULL || !node->connected) {
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

    if (node->inflight
        && ngx_current_msec - node->busy_since >= rd->conf->connect_timeout)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis \"%V\": no reply for %M ms with %ui commands "
                      "waiting, reconnecting",
                      &node->name, ngx_current_msec - node->busy_since,
                      node->inflight);

        node->connected = 0;
        ngx_http_seckill_redis_gauge();
        ngx_post_event(&node->drop, &ngx_posted_events);

        return NGX_ERROR;
    }

    keep = rd->mode == ngx_http_seckill_redis_cluster ? len : 0;

    cmd = ngx_alloc(sizeof(ngx_http_seckill_redis_cmd_t) + keep, rd->log);
    if (cmd == NULL) {
        return NGX_ERROR;
    }

    cmd->handler = handler;
    cmd->data = data;
    cmd->sent = ngx_http_seckill_stats_usec();
    cmd->redirects = 0;
    cmd->len = keep;
    cmd->command = (char *) &cmd[1];

    ngx_memcpy(cmd->command, command, keep);

    if (redisAsyncFormattedCommand(node->ac, ngx_http_seckill_redis_reply,
                                   cmd, command, len)
        != REDIS_OK)
    {
        ngx_free(cmd);
        return NGX_ERROR;
    }

    if (node->inflight++ == 0) {
        node->busy_since = ngx_current_msec;
    }

    return NGX_OK;
}


/*
 * NGX_OK: the command went again to the node that the MOVED or ASK names,
 * and the reply from there is the caller's.  NGX_DECLINED: the reply is the
 * caller's as it is.
 */

static ngx_int_t
ngx_http_seckill_redis_redirect(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_cmd_t *cmd, redisReply *reply)
{
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *to;
    seckill_redirect_t              redirect;

    rd = &ngx_http_seckill_redis;

    if (reply == NULL
        || reply->type != REDIS_REPLY_ERROR
        || cmd->len == 0
        || !seckill_redirect_parse(reply->str, reply->len, &redirect))
    {
        return NGX_DECLINED;
    }

    to = ngx_http_seckill_redis_node_at((u_char *) redirect.host,
                                        ngx_strlen(redirect.host),
                                        redirect.port);

    if (!redirect.ask) {
        /* the slot has moved for good: so has every later command of it */

        if (to) {
            rd->slots[redirect.slot] = (u_char) (to - rd->nodes) + 1;
        }

        ngx_http_seckill_redis_refresh_soon();
    }

    ngx_log_debug4(NGX_LOG_DEBUG_EVENT, rd->log, 0,
                   "redis \"%V\": %s slot %ui to %s",
                   &node->name, redirect.ask ? "ASK" : "MOVED",
                   (ngx_uint_t) redirect.slot, redirect.host);

    if (to == NULL
        || !to->connected
        || cmd->redirects++ == NGX_HTTP_SECKILL_REDIS_REDIRECTS)
    {
        return NGX_DECLINED;
    }

    /* ASKING holds for the next command of the connection only */

    if (redirect.ask
        && redisAsyncCommand(to->ac, NULL, NULL, "ASKING") != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    if (redisAsyncFormattedCommand(to->ac, ngx_http_seckill_redis_reply, cmd,
                                   cmd->command, cmd->len)
        != REDIS_OK)
    {
        return NGX_DECLINED;
    }

    if (to->inflight++ == 0) {
        to->busy_since = ngx_current_msec;
    }

    return NGX_OK;
}


/* CLUSTER SLOTS: the first question on a seed, and a refresh of the map */

static void
ngx_http_seckill_redis_ask_map(ngx_http_seckill_redis_node_t *node)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    if (rd->asking) {
        return;
    }

    /* not through send(): no slot, no stall check, no kept copy */

    if (redisAsyncCommand(node->ac, ngx_http_seckill_redis_map, node,
                          "CLUSTER SLOTS")
        == REDIS_OK)
    {
        rd->asking = 1;
    }
}


static void
ngx_http_seckill_redis_map(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    redisReply                     *r;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;
    node = privdata;
    r = reply;

    rd->asking = 0;

    if (r == NULL) {
        /* the connection went: another one asks, or the next one made */
        ngx_http_seckill_redis_refresh_soon();
        return;
    }

    if (r->type == REDIS_REPLY_ERROR
        && rd->mode != ngx_http_seckill_redis_cluster
        && ngx_strstr(r->str, "cluster support disabled"))
    {
        if (rd->mode == ngx_http_seckill_redis_unknown) {
            rd->mode = ngx_http_seckill_redis_single;
            rd->single = node;

            if (rd->conf->nseeds > 1) {
                ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                              "redis \"%V\" is not a cluster: it serves "
                              "every course, the other addresses of "
                              "\"seckill_redis\" are not used", &node->name);
            }

            ngx_http_seckill_redis_hooks();
        }

        return;
    }

    if (r->type != REDIS_REPLY_ARRAY) {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis \"%V\": CLUSTER SLOTS answered \"%*s\"",
                      &node->name,
                      r->type == REDIS_REPLY_ERROR ? r->len : 0, r->str);

        if (rd->mode == ngx_http_seckill_redis_unknown) {
            /* hiredis is inside its read loop: the context goes from there */
            node->connected = 0;
            ngx_post_event(&node->drop, &ngx_posted_events);
        }

        return;
    }

    if (ngx_http_seckill_redis_map_apply(node, r) != NGX_OK) {
        if (!rd->refresh.timer_set && !rd->exiting) {
            ngx_add_timer(&rd->refresh, NGX_HTTP_SECKILL_REDIS_MAP_RETRY);
        }

        return;
    }

    if (rd->mode == ngx_http_seckill_redis_unknown) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0,
                      "redis \"%V\": a cluster, courses routed by slot",
                      &node->name);
    }

    rd->mode = ngx_http_seckill_redis_cluster;

    ngx_http_seckill_redis_hooks();
    ngx_http_seckill_redis_gauge();
}


/*
 * CLUSTER SLOTS: [[start, end, [host, port, id], replica...], ...].  The map
 * is replaced whole, only once the reply has been read through; a slot
 * the reply does not name has no master (a cluster being created or
 * resharded by hand).
 */

static ngx_int_t
ngx_http_seckill_redis_map_apply(ngx_http_seckill_redis_node_t *node,
    redisReply *reply)
{
    size_t                          len;
    u_char                         *host;
    ngx_uint_t                      i, s, covered;
    redisReply                     *range, *master;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *to;

    rd = &ngx_http_seckill_redis;

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];

        if (range->type != REDIS_REPLY_ARRAY
            || range->elements < 3
            || range->element[0]->type != REDIS_REPLY_INTEGER
            || range->element[1]->type != REDIS_REPLY_INTEGER
            || range->element[0]->integer < 0
            || range->element[0]->integer > range->element[1]->integer
            || range->element[1]->integer >= SECKILL_SLOTS
            || range->element[2]->type != REDIS_REPLY_ARRAY
            || range->element[2]->elements < 2
            || range->element[2]->element[0]->type != REDIS_REPLY_STRING
            || range->element[2]->element[1]->type != REDIS_REPLY_INTEGER)
        {
            ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                          "redis \"%V\": CLUSTER SLOTS answered an entry "
                          "that is not [start, end, [host, port, ...], ...]",
                          &node->name);
            return NGX_ERROR;
        }
    }

    if (reply->elements == 0) {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "redis \"%V\": a cluster with no slot assigned yet, "
                      "asking again in %d ms", &node->name,
                      NGX_HTTP_SECKILL_REDIS_MAP_RETRY);
        return NGX_ERROR;
    }

    ngx_memzero(rd->slots, sizeof(rd->slots));

    for (i = 0; i < rd->nnodes; i++) {
        rd->nodes[i].owner = 0;
    }

    covered = 0;

    for (i = 0; i < reply->elements; i++) {
        range = reply->element[i];
        master = range->element[2];

        /* an empty host is the address the question went to */

        host = (u_char *) master->element[0]->str;
        len = master->element[0]->len;

        if (len == 0) {
            host = node->host.data;
            len = node->host.len;
        }

        to = ngx_http_seckill_redis_node_at(host, len,
                                            (int) master->element[1]->integer);
        if (to == NULL) {
            continue;
        }

        to->owner = 1;

        for (s = (ngx_uint_t) range->element[0]->integer;
             s <= (ngx_uint_t) range->element[1]->integer;
             s++)
        {
            rd->slots[s] = (u_char) (to - rd->nodes) + 1;
            covered++;
        }
    }

    if (covered < SECKILL_SLOTS) {
        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "redis \"%V\": %ui of %d slots have no master: their "
                      "courses are answered 503", &node->name,
                      SECKILL_SLOTS - covered, SECKILL_SLOTS);
    }

    return NGX_OK;
}


static void
ngx_http_seckill_redis_refresh_soon(void)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    if (!rd->refresh.posted && !rd->exiting) {
        ngx_post_event(&rd->refresh, &ngx_posted_events);
    }
}


/* asks a connected node, an owner of slots first */

static void
ngx_http_seckill_redis_refresh_handler(ngx_event_t *ev)
{
    ngx_uint_t                      i;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node, *ask;

    rd = ev->data;
    ask = NULL;

    for (i = 0; i < rd->nnodes; i++) {
        node = &rd->nodes[i];

        if (node->connected && (ask == NULL || (node->owner && !ask->owner))) {
            ask = node;
        }
    }

    /* none: the next connection asks when it is made */

    if (ask) {
        ngx_http_seckill_redis_ask_map(ask);
    }
}


/* the topology is known: the connections made meanwhile get their hooks */

static void
ngx_http_seckill_redis_hooks(void)
{
    ngx_uint_t                      i, h;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    for (i = 0; i < rd->nnodes; i++) {
        node = &rd->nodes[i];

        if (!node->connected || node->hooked) {
            continue;
        }

        if (rd->mode == ngx_http_seckill_redis_single && node != rd->single) {
            continue;
        }

        node->hooked = 1;

        for (h = 0; h < rd->nhooks && node->connected; h++) {
            rd->hooks[h].handler(node, rd->hooks[h].data);
        }
    }

    ngx_http_seckill_redis_gauge();
}


/* seckill_redis_connected: every node with slots to serve is connected */

static void
ngx_http_seckill_redis_gauge(void)
{
    ngx_uint_t                      i, up;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    switch (rd->mode) {

    case ngx_http_seckill_redis_single:
        up = rd->single->connected;
        break;

    case ngx_http_seckill_redis_cluster:
        up = 1;

        for (i = 0; i < rd->nnodes; i++) {
            node = &rd->nodes[i];

            if (node->owner && !node->connected) {
                up = 0;
            }
        }

        break;

    default:
        up = 0;
    }

    if (up != rd->up) {
        rd->up = up;
        ngx_http_seckill_stats_redis_connected(up);
    }
}


static void
ngx_http_seckill_redis_connect(ngx_http_seckill_redis_node_t *node)
{
    ngx_connection_t          *c;
    redisAsyncContext         *ac;
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    /* the address is numeric (resolved at configuration time): no DNS */

    if (node->port == 0) {
        ac = redisAsyncConnectUnix((const char *) node->host.data);

    } else {
        ac = redisAsyncConnect((const char *) node->host.data, node->port);
    }

    if (ac == NULL) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
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

    c = ngx_get_connection(ac->c.fd, rd->log);
    if (c == NULL) {
        ngx_http_seckill_redis_failed(node, "no free connection");
        redisAsyncFree(ac);
        ngx_http_seckill_redis_retry(node);
        return;
    }

    c->data = node;
    c->log = rd->log;
    c->read->log = rd->log;
    c->write->log = rd->log;
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

    ngx_add_timer(&node->connect_timer, rd->conf->connect_timeout);
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

    ngx_log_error(level, ngx_http_seckill_redis.log, 0,
                  "redis \"%V\": connect failed: %s, retrying in %M ms",
                  &node->name, reason, node->backoff);
}


static void
ngx_http_seckill_redis_retry(ngx_http_seckill_redis_node_t *node)
{
    if (ngx_http_seckill_redis.exiting || node->retry_timer.timer_set) {
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

    password = &ngx_http_seckill_redis.conf->password;

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
        ngx_post_event(&node->drop, &ngx_posted_events);
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

        /* hiredis is inside its read loop: the context goes from there */
        ngx_post_event(&node->drop, &ngx_posted_events);
        return;
    }

    ngx_http_seckill_redis_serve(node);
}


/*
 * The connection is usable.  Once the topology is known the start-up hooks
 * queue their commands first; before, the seed is asked what it is.
 */

static void
ngx_http_seckill_redis_serve(ngx_http_seckill_redis_node_t *node)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    node->connected = 1;

    if (node->failures == 0) {
        ngx_log_error(NGX_LOG_NOTICE, rd->log, 0, "redis \"%V\": connected",
                      &node->name);

    } else {
        /* a recovery is worth as much attention as the failure was */

        ngx_log_error(NGX_LOG_WARN, rd->log, 0,
                      "redis \"%V\": connected after %ui failed attempts",
                      &node->name, node->failures);

        node->failures = 0;
    }

    switch (rd->mode) {

    case ngx_http_seckill_redis_unknown:
        ngx_http_seckill_redis_ask_map(node);
        return;

    case ngx_http_seckill_redis_cluster:
        /* a master back from a failure may not own what it owned */
        ngx_http_seckill_redis_refresh_soon();
        break;

    default:
        break;
    }

    ngx_http_seckill_redis_hooks();
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

    ngx_log_error(NGX_LOG_ERR, ngx_http_seckill_redis.log, 0,
                  "redis \"%V\": connection lost: %s",
                  &node->name, ac->c.errstr);
}


static void
ngx_http_seckill_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata)
{
    ngx_http_seckill_redis_cmd_t   *cmd;
    ngx_http_seckill_redis_node_t  *node;

    node = ac->data;
    cmd = privdata;

    node->inflight--;

    if (reply) {
        node->busy_since = ngx_current_msec;

        /*
         * Only an answer shows the connection is worth keeping: a Redis
         * that accepts connections but never replies is retried ever more
         * slowly.
         */
        node->backoff = NGX_HTTP_SECKILL_REDIS_BACKOFF_MIN;
    }

    if (ngx_http_seckill_redis_redirect(node, cmd, reply) == NGX_OK) {
        return;
    }

    if (reply) {
        ngx_http_seckill_stats_redis_reply(cmd->sent);
    }

    cmd->handler(reply, cmd->data);

    ngx_free(cmd);
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
    ngx_http_seckill_redis_connect(ev->data);
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
    node->hooked = 0;

    if (node->connect_timer.timer_set) {
        ngx_del_timer(&node->connect_timer);
    }

    if (node->drop.posted) {
        ngx_delete_posted_event(&node->drop);
    }

    if (ngx_http_seckill_redis.exiting) {
        return;
    }

    ngx_http_seckill_redis_gauge();

    /* a failover may have given its slots to another node */

    if (ngx_http_seckill_redis.mode == ngx_http_seckill_redis_cluster
        && node->owner)
    {
        ngx_http_seckill_redis_refresh_soon();
    }

    ngx_http_seckill_redis_retry(node);
}
