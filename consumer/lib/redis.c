/* Connecting to Redis or a Redis Cluster: a connection per node, made when
 * a command needs it, the slot map, the scripts on every node, and SCAN of
 * every master (redis.h). Commands and their redirections are in
 * redis_pipe.c. */
#include "redis.h"
#include "redis_link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keys SCAN looks at per step. */
#define SCAN_COUNT "1000"

static const struct endpoint *node_endpoint(const struct redis *r, int i)
{
    return r->map != NULL ? &r->map->node[i] : &r->seed;
}

static void describe(struct redis *r)
{
    if (r->map == NULL)
        snprintf(r->addr, sizeof(r->addr), "%s:%u", r->seed.host, r->seed.port);
    else
        snprintf(r->addr, sizeof(r->addr), "%s:%u (a cluster of %d master%s)", r->seed.host,
                 r->seed.port, r->map->masters, r->map->masters == 1 ? "" : "s");
}

/* A connected, authenticated server that answers PING, or NULL with r->err. */
static redisContext *connect_node(struct redis *r, const struct endpoint *ep, const char *addr)
{
    struct timeval connect_timeout = { 3, 0 }, io_timeout = { r->io_timeout_s, 0 };
    redisContext *rc = redisConnectWithTimeout(ep->host, ep->port, connect_timeout);
    redisReply *reply;
    int noauth;

    if (rc == NULL || rc->err) {
        snprintf(r->err, sizeof(r->err),
                 "cannot connect to Redis at %s: %s — is it running? try `make status`",
                 addr, rc ? rc->errstr : "out of memory");
        goto fail;
    }
    redisSetTimeout(rc, io_timeout);

    if (r->cfg->redis_password[0] != '\0') {
        reply = redisCommand(rc, "AUTH %s", r->cfg->redis_password);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            snprintf(r->err, sizeof(r->err),
                     "Redis at %s refused AUTH: %s — redis_password must be the requirepass of its redis.conf",
                     addr, reply ? reply->str : rc->errstr);
            if (reply != NULL)
                freeReplyObject(reply);
            goto fail;
        }
        freeReplyObject(reply);
    }

    /* Connecting is not enough: a loading or password-protected server says
     * so only when asked something. */
    reply = redisCommand(rc, "PING");
    if (reply != NULL && reply->type != REDIS_REPLY_ERROR) {
        freeReplyObject(reply);
        return rc;
    }
    noauth = reply != NULL && strncmp(reply->str, "NOAUTH", 6) == 0;
    snprintf(r->err, sizeof(r->err), "Redis at %s does not answer PING: %s — %s", addr,
             reply ? reply->str : rc->errstr,
             noauth ? "set redis_password to the requirepass of its redis.conf" : "try `make status`");
    if (reply != NULL)
        freeReplyObject(reply);

fail:
    if (rc != NULL)
        redisFree(rc);
    return NULL;
}

/* A node's connection is gone: the next command makes a new one, and a
 * cluster's map is read again first (a replica may have taken over). */
void redis_link_lost(struct redis *r, int i)
{
    struct redis_link *l = &r->link[i];

    if (l->rc != NULL)
        redisFree(l->rc);
    l->rc = NULL;
    r->stale = r->map != NULL;
}

/* r->err for node i's connection, which failed while doing what. */
void redis_link_error(struct redis *r, int i, const char *what)
{
    const redisContext *rc = r->link[i].rc;

    snprintf(r->err, sizeof(r->err), "Redis at %s: %s: %s", r->link[i].addr, what,
             rc != NULL && rc->errstr[0] ? rc->errstr : "connection lost");
}

/* SCRIPT LOAD of r->scripts on node i. */
static int load_on(struct redis *r, int i)
{
    struct redis_link *l = &r->link[i];

    for (size_t k = 0; k < r->nscripts; k++) {
        redisReply *reply = redisCommand(l->rc, "SCRIPT LOAD %s", r->scripts[k].body);

        if (reply == NULL || reply->type != REDIS_REPLY_STRING || reply->len != 40) {
            if (reply == NULL)
                redis_link_error(r, i, "SCRIPT LOAD");
            else
                snprintf(r->err, sizeof(r->err), "Redis at %s: SCRIPT LOAD: %s", l->addr,
                         reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
            if (reply != NULL)
                freeReplyObject(reply);
            redis_link_lost(r, i);
            return -1;
        }
        memcpy(r->scripts[k].sha, reply->str, 41);
        freeReplyObject(reply);
    }
    return 0;
}

/* Node i's connection, made when there is none (once per run: a node down
 * costs one connect timeout per command, not one per round), with the
 * scripts loaded. NULL with r->err. */
redisContext *redis_link_up(struct redis *r, int i)
{
    struct redis_link *l = &r->link[i];
    const struct endpoint *ep = node_endpoint(r, i);

    if (l->rc != NULL)
        return l->rc;
    snprintf(l->addr, sizeof(l->addr), "%s:%u", ep->host, ep->port);
    if (l->down_run == r->run) {
        snprintf(r->err, sizeof(r->err), "%s", l->down);
        return NULL;
    }
    l->rc = connect_node(r, ep, l->addr);
    if (l->rc == NULL || (r->nscripts > 0 && load_on(r, i) != 0)) {
        l->down_run = r->run;
        snprintf(l->down, sizeof(l->down), "%.*s", (int)sizeof(l->down) - 1, r->err);
        r->stale = r->map != NULL;
        return NULL;
    }
    return l->rc;
}

/* CLUSTER SLOTS of node i into the map. */
static int ask_slots(struct redis *r, int i)
{
    redisContext *rc = redis_link_up(r, i);
    redisReply *reply;
    char why[512];

    if (rc == NULL)
        return -1;
    if ((reply = redisCommand(rc, "CLUSTER SLOTS")) == NULL) {
        redis_link_error(r, i, "CLUSTER SLOTS");
        redis_link_lost(r, i);
        return -1;
    }
    if (cluster_map_read(r->map, reply, &r->map->node[i], why, sizeof(why)) != 0) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: %s", r->link[i].addr, why);
        freeReplyObject(reply);
        return -1;
    }
    freeReplyObject(reply);
    r->stale = 0;
    describe(r);
    return 0;
}

/* The map again, from a node already connected, else from any node known,
 * seeds included. A failure leaves the map as it was, corrected by the
 * MOVED replies seen. */
int redis_map_refresh(struct redis *r)
{
    for (int s = 0; s < r->cfg->redis.n; s++)
        cluster_node(r->map, r->cfg->redis.at[s].host, r->cfg->redis.at[s].port);
    for (int connected = 1; connected >= 0; connected--)
        for (int i = 0; i < r->map->n; i++)
            if ((r->link[i].rc != NULL) == connected && ask_slots(r, i) == 0)
                return 0;
    return -1;
}

int redis_open(struct redis *r, const struct seckill_config *cfg)
{
    redisContext *rc = NULL;
    redisReply *reply;
    char addr[sizeof(r->link[0].addr)], why[512];
    int i;

    memset(r, 0, sizeof(*r));
    r->cfg = cfg;
    r->io_timeout_s = REDIS_IO_TIMEOUT_S;
    r->run = 1;
    for (int s = 0; s < cfg->redis.n && rc == NULL; s++) {
        r->seed = cfg->redis.at[s];
        snprintf(addr, sizeof(addr), "%s:%u", r->seed.host, r->seed.port);
        rc = connect_node(r, &r->seed, addr);
    }
    if (rc == NULL) {
        if (cfg->redis.n > 1) {
            char seeds[1024], last[1024];

            config_endpoints_text(&cfg->redis, seeds, sizeof(seeds));
            snprintf(last, sizeof(last), "%.*s", (int)sizeof(last) - 1, r->err);
            snprintf(r->err, sizeof(r->err), "no Redis seed of %.900s answered; the last: %s", seeds, last);
        }
        r->cfg = NULL;
        return -1;
    }
    snprintf(r->addr, sizeof(r->addr), "%s", addr);

    if ((reply = redisCommand(rc, "CLUSTER SLOTS")) == NULL) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: CLUSTER SLOTS: %s", addr,
                 rc->errstr[0] ? rc->errstr : "connection lost");
        redisFree(rc);
        r->cfg = NULL;
        return -1;
    }
    if (reply->type == REDIS_REPLY_ERROR && cluster_disabled(reply->str)) {
        freeReplyObject(reply);
        if ((r->link = calloc(1, sizeof(*r->link))) == NULL) {
            redisFree(rc);
            snprintf(r->err, sizeof(r->err), "out of memory");
            r->cfg = NULL;
            return -1;
        }
        r->link[0].rc = rc;
        snprintf(r->link[0].addr, sizeof(r->link[0].addr), "%s", addr);
        return 0;
    }

    r->map = malloc(sizeof(*r->map));
    r->link = calloc(CLUSTER_NODES_MAX, sizeof(*r->link));
    if (r->map == NULL || r->link == NULL) {
        freeReplyObject(reply);
        redisFree(rc);
        snprintf(r->err, sizeof(r->err), "out of memory");
        redis_close(r);
        return -1;
    }
    cluster_map_init(r->map);
    i = cluster_node(r->map, r->seed.host, r->seed.port);
    r->link[i].rc = rc;
    snprintf(r->link[i].addr, sizeof(r->link[i].addr), "%s", addr);
    if (cluster_map_read(r->map, reply, &r->seed, why, sizeof(why)) != 0) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: %s", addr, why);
        freeReplyObject(reply);
        redis_close(r);
        return -1;
    }
    freeReplyObject(reply);
    describe(r);
    return 0;
}

void redis_close(struct redis *r)
{
    if (r->link != NULL)
        for (int i = 0; i < (r->map != NULL ? r->map->n : 1); i++)
            if (r->link[i].rc != NULL)
                redisFree(r->link[i].rc);
    free(r->link);
    free(r->map);
    r->link = NULL;
    r->map = NULL;
    r->cfg = NULL;
}

int redis_is_open(const struct redis *r)
{
    return r->link != NULL;
}

int redis_load_scripts(struct redis *r, struct redis_script *scripts, size_t n)
{
    int nodes = r->map != NULL ? r->map->n : 1, loaded = 0;

    r->scripts = scripts;
    r->nscripts = n;
    r->run++;
    for (int i = 0; i < nodes; i++) {
        if (r->link[i].rc == NULL)
            continue;
        if (load_on(r, i) != 0)
            return -1;
        loaded = 1;
    }
    /* The callers lay out their calls with the SHA1s: get them from a node
     * even when none is connected now. */
    if (!loaded && n > 0) {
        int i = r->map != NULL ? cluster_owner(r->map, 0) : 0;

        if (i == CLUSTER_NO_NODE || redis_link_up(r, i) == NULL) {
            if (i == CLUSTER_NO_NODE)
                snprintf(r->err, sizeof(r->err), "Redis at %s: no master to load the scripts on", r->addr);
            return -1;
        }
    }
    return 0;
}

int redis_ready(struct redis *r, const struct seckill_config *cfg, int io_timeout_s,
                struct redis_script *scripts, size_t n)
{
    struct timeval io_timeout = { io_timeout_s, 0 };

    if (redis_is_open(r))
        return 0;
    if (redis_open(r, cfg) != 0)
        return -1;
    r->io_timeout_s = io_timeout_s;
    for (int i = 0; i < (r->map != NULL ? r->map->n : 1); i++)
        if (r->link[i].rc != NULL)
            redisSetTimeout(r->link[i].rc, io_timeout);
    return redis_load_scripts(r, scripts, n);
}

/* The master after node i in the table (-1: the first), or -1. */
static int next_master(const struct redis *r, int i)
{
    if (r->map == NULL)
        return i < 0 ? 0 : -1;
    while (++i < r->map->n)
        if (cluster_is_master(r->map, i))
            return i;
    return -1;
}

void redis_scan_begin(struct redis *r, struct redis_scan *s)
{
    r->run++;
    if (r->map != NULL && r->stale)
        redis_map_refresh(r);
    s->node = redis_is_open(r) ? next_master(r, -1) : -1;
    strcpy(s->cursor, "0");
}

int redis_scan_next(struct redis *r, struct redis_scan *s, const char *pattern, redisReply **out)
{
    redisContext *rc;
    redisReply *reply;

    *out = NULL;
    if (s->node < 0)
        return 0;
    r->run++;
    if ((rc = redis_link_up(r, s->node)) == NULL)
        return -1;
    if ((reply = redisCommand(rc, "SCAN %s MATCH %s COUNT " SCAN_COUNT, s->cursor, pattern)) == NULL) {
        redis_link_error(r, s->node, "SCAN");
        redis_link_lost(r, s->node);
        return -1;
    }
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2
        || reply->element[0]->type != REDIS_REPLY_STRING || reply->element[0]->len >= sizeof(s->cursor)
        || reply->element[1]->type != REDIS_REPLY_ARRAY) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: SCAN: %s", r->link[s->node].addr,
                 reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
        freeReplyObject(reply);
        return -1;
    }
    memcpy(s->cursor, reply->element[0]->str, reply->element[0]->len + 1);
    if (strcmp(s->cursor, "0") == 0)
        s->node = next_master(r, s->node);
    *out = reply;
    return 1;
}
