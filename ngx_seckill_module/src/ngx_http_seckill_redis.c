
/*
 * The worker's Redis, as the rest of the module sees it: a command goes to
 * the connection that serves the slot of its keys, and its reply, or NULL,
 * to its handler.  A connection's own life (connect, AUTH, watch, replace)
 * is ngx_http_seckill_redis_node.c's.  Every command for a node waits in
 * the same connection, so many requests in flight are pipelined by hiredis
 * without any effort here.
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
#include "ngx_http_seckill_redis_node.h"
#include "ngx_http_seckill_stats.h"


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
    u_char *host, size_t len, int port);
static ngx_http_seckill_redis_node_t *ngx_http_seckill_redis_node_at(
    u_char *host, size_t len, int port);
static ngx_uint_t ngx_http_seckill_redis_numeric(u_char *host, size_t len);
static ngx_http_seckill_redis_node_t *ngx_http_seckill_redis_route(
    ngx_uint_t slot);
static ngx_int_t ngx_http_seckill_redis_vcommand(
    ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data, const char *fmt,
    va_list args);
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
static void ngx_http_seckill_redis_reply(redisAsyncContext *ac, void *reply,
    void *privdata);


/* one per worker process */
static ngx_http_seckill_redis_t  ngx_http_seckill_redis;


ngx_int_t
ngx_http_seckill_redis_init(ngx_cycle_t *cycle,
    ngx_http_seckill_redis_conf_t *conf)
{
    ngx_uint_t                      i;
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_addr_t  *seed;
    ngx_http_seckill_redis_node_t  *node;

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

        node = ngx_http_seckill_redis_node_add(seed->host.data,
                                               seed->host.len, seed->port);
        if (node == NULL) {
            return NGX_ERROR;
        }

        node->name = seed->name;
        node->host = seed->host;
    }

    for (i = 0; i < rd->nnodes; i++) {
        ngx_http_seckill_redis_node_connect(&rd->nodes[i]);
    }

    return NGX_OK;
}


void
ngx_http_seckill_redis_exit(ngx_cycle_t *cycle)
{
    ngx_uint_t                 i;
    ngx_http_seckill_redis_t  *rd;

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
        ngx_http_seckill_redis_node_close(&rd->nodes[i]);
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
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_seckill_redis_vcommand(ngx_http_seckill_redis_route(slot),
                                         handler, data, fmt, args);
    va_end(args);

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
    va_list    args;
    ngx_int_t  rc;

    va_start(args, fmt);
    rc = ngx_http_seckill_redis_vcommand(node, handler, data, fmt, args);
    va_end(args);

    return rc;
}


/* a command formatted by hiredis, queued on node (NULL: not connected) */

static ngx_int_t
ngx_http_seckill_redis_vcommand(ngx_http_seckill_redis_node_t *node,
    ngx_http_seckill_redis_handler_pt handler, void *data, const char *fmt,
    va_list args)
{
    int        len;
    char      *command;
    ngx_int_t  rc;

    len = redisvFormatCommand(&command, fmt, args);

    if (len < 0) {
        return NGX_ERROR;
    }

    rc = ngx_http_seckill_redis_send(node, handler, data, command, len);

    redisFreeCommand(command);

    return rc;
}


/* the next node of the table, its events ready; NULL when it is full */

static ngx_http_seckill_redis_node_t *
ngx_http_seckill_redis_node_add(u_char *host, size_t len, int port)
{
    ngx_http_seckill_redis_t       *rd;
    ngx_http_seckill_redis_node_t  *node;

    rd = &ngx_http_seckill_redis;

    if (rd->nnodes == NGX_HTTP_SECKILL_REDIS_NODES) {
        ngx_log_error(NGX_LOG_ALERT, rd->log, 0,
                      "redis: more than %d nodes, \"%*s:%d\" is not used",
                      NGX_HTTP_SECKILL_REDIS_NODES, len, host, port);
        return NULL;
    }

    node = &rd->nodes[rd->nnodes++];
    node->port = port;

    ngx_http_seckill_redis_node_init(node, rd->conf, rd->log);

    return node;
}


/* the node a cluster names, added and connected when it is new */

static ngx_http_seckill_redis_node_t *
ngx_http_seckill_redis_node_at(u_char *host, size_t len, int port)
{
    u_char                         *p;
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

    node = ngx_http_seckill_redis_node_add(host, len, port);
    if (node == NULL) {
        return NULL;
    }

    /* its text holds "host\0" and then "host:port", the name */

    p = ngx_cpymem(node->text, host, len);
    *p++ = '\0';

    node->host.data = node->text;
    node->host.len = len;

    node->name.data = p;
    node->name.len = ngx_sprintf(p, "%*s:%d", len, host, port) - p;

    ngx_http_seckill_redis_node_connect(node);

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
     * than let the queue grow.
     */

    if (node->inflight
        && ngx_current_msec - node->busy_since >= rd->conf->connect_timeout)
    {
        ngx_log_error(NGX_LOG_ERR, rd->log, 0,
                      "redis \"%V\": no reply for %M ms with %ui commands "
                      "waiting, reconnecting",
                      &node->name, ngx_current_msec - node->busy_since,
                      node->inflight);

        ngx_http_seckill_redis_node_drop(node);
        ngx_http_seckill_redis_gauge();

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
            ngx_http_seckill_redis_node_drop(node);
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


/*
 * A connection is usable.  Once the topology is known the start-up hooks
 * queue their commands first; before, the seed is asked what it is.
 */

void
ngx_http_seckill_redis_node_up(ngx_http_seckill_redis_node_t *node)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

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


void
ngx_http_seckill_redis_node_down(ngx_http_seckill_redis_node_t *node)
{
    ngx_http_seckill_redis_t  *rd;

    rd = &ngx_http_seckill_redis;

    node->hooked = 0;

    ngx_http_seckill_redis_gauge();

    /* a failover may have given its slots to another node */

    if (rd->mode == ngx_http_seckill_redis_cluster && node->owner) {
        ngx_http_seckill_redis_refresh_soon();
    }
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
