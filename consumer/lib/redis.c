/* Connecting to Redis or a Redis Cluster, routing commands to the master of
 * their slot, the scripts, pipelines and pipelined script calls (redis.h). */
#include "redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Keys SCAN looks at per step. */
#define SCAN_COUNT "1000"
/* A TRYAGAIN lasts as long as a migration moves one slot's keys. */
#define TRYAGAIN_WAIT_MS 100

/* A command's way through redis_pipe_run(). */
enum { CMD_TODO, CMD_SENT, CMD_DONE, CMD_FAILED };

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
static void link_lost(struct redis *r, int i)
{
    struct redis_link *l = &r->link[i];

    if (l->rc != NULL)
        redisFree(l->rc);
    l->rc = NULL;
    r->stale = r->map != NULL;
}

/* r->err for node i's connection, which failed while doing what. */
static void io_error(struct redis *r, int i, const char *what)
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
                io_error(r, i, "SCRIPT LOAD");
            else
                snprintf(r->err, sizeof(r->err), "Redis at %s: SCRIPT LOAD: %s", l->addr,
                         reply->type == REDIS_REPLY_ERROR ? reply->str : "unexpected reply");
            if (reply != NULL)
                freeReplyObject(reply);
            link_lost(r, i);
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
static redisContext *link_up(struct redis *r, int i)
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
    redisContext *rc = link_up(r, i);
    redisReply *reply;
    char why[512];

    if (rc == NULL)
        return -1;
    if ((reply = redisCommand(rc, "CLUSTER SLOTS")) == NULL) {
        io_error(r, i, "CLUSTER SLOTS");
        link_lost(r, i);
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
static int refresh_map(struct redis *r)
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

        if (i == CLUSTER_NO_NODE || link_up(r, i) == NULL) {
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

void redis_pipe_init(struct redis_pipe *p)
{
    memset(p, 0, sizeof(*p));
}

/* Room for one more command. */
static struct redis_cmd *pipe_slot(struct redis *r, struct redis_pipe *p, unsigned slot)
{
    struct redis_cmd *c;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        struct redis_cmd *more = realloc(p->cmd, cap * sizeof(*more));

        if (more == NULL) {
            snprintf(r->err, sizeof(r->err), "out of memory queueing %zu Redis commands", p->n + 1);
            return NULL;
        }
        p->cmd = more;
        p->cap = cap;
    }
    c = &p->cmd[p->n];
    memset(c, 0, sizeof(*c));
    c->slot = slot;
    return c;
}

static int pipe_vadd(struct redis *r, struct redis_pipe *p, unsigned slot, const char *fmt, va_list ap)
{
    struct redis_cmd *c = pipe_slot(r, p, slot);
    int len;

    if (c == NULL)
        return -1;
    if ((len = redisvFormatCommand(&c->text, fmt, ap)) < 0) {
        snprintf(r->err, sizeof(r->err), "cannot format the Redis command '%.40s' (out of memory?)", fmt);
        return -1;
    }
    c->len = (size_t)len;
    p->n++;
    return 0;
}

int redis_pipe_add(struct redis *r, struct redis_pipe *p, unsigned slot, const char *fmt, ...)
{
    va_list ap;
    int rc;

    va_start(ap, fmt);
    rc = pipe_vadd(r, p, slot, fmt, ap);
    va_end(ap);
    return rc;
}

int redis_pipe_add_argv(struct redis *r, struct redis_pipe *p, unsigned slot,
                        int argc, const char **argv, const size_t *argvlen)
{
    struct redis_cmd *c = pipe_slot(r, p, slot);
    int len;

    if (c == NULL)
        return -1;
    if ((len = redisFormatCommandArgv(&c->text, argc, argv, argvlen)) < 0) {
        snprintf(r->err, sizeof(r->err), "cannot format the Redis command %.40s (out of memory)", argv[0]);
        return -1;
    }
    c->len = (size_t)len;
    p->n++;
    return 0;
}

void redis_pipe_reset(struct redis_pipe *p)
{
    for (size_t i = 0; i < p->n; i++) {
        redisFreeCommand(p->cmd[i].text);
        if (p->cmd[i].reply != NULL)
            freeReplyObject(p->cmd[i].reply);
    }
    p->n = 0;
}

void redis_pipe_free(struct redis_pipe *p)
{
    redis_pipe_reset(p);
    free(p->cmd);
    redis_pipe_init(p);
}

/* A command without an answer: a redirection read before is none. */
static void fail_cmd(struct redis_cmd *c)
{
    if (c->reply != NULL)
        freeReplyObject(c->reply);
    c->reply = NULL;
    c->state = CMD_FAILED;
}

/* Every command of node i sent this round fails: its connection failed. */
static void fail_sent(struct redis *r, struct redis_pipe *p, int i)
{
    for (size_t k = 0; k < p->n; k++)
        if (p->cmd[k].state == CMD_SENT && p->cmd[k].node == i)
            fail_cmd(&p->cmd[k]);
    link_lost(r, i);
}

/* Queues and writes to node i the commands going there this round. */
static int send_to(struct redis *r, struct redis_pipe *p, int i, const char *what)
{
    redisContext *rc = link_up(r, i);
    int done = 0;

    for (size_t k = 0; k < p->n; k++) {
        struct redis_cmd *c = &p->cmd[k];

        if (c->state != CMD_TODO || c->node != i)
            continue;
        if (rc == NULL) {
            fail_cmd(c);
            continue;
        }
        c->state = CMD_SENT;
        if ((c->asking && redisAppendCommand(rc, "ASKING") != REDIS_OK)
            || redisAppendFormattedCommand(rc, c->text, c->len) != REDIS_OK) {
            snprintf(r->err, sizeof(r->err), "Redis at %s: %s: out of memory queueing commands",
                     r->link[i].addr, what);
            fail_sent(r, p, i);
            return -1;
        }
    }
    if (rc == NULL)
        return -1;
    /* Written now, read later: every master works on its share at once. */
    while (!done) {
        if (redisBufferWrite(rc, &done) != REDIS_OK) {
            io_error(r, i, what);
            fail_sent(r, p, i);
            return -1;
        }
    }
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

    nanosleep(&ts, NULL);
}

/* What to do with the reply to c, sent for the last time or not. Returns
 * 1 when c goes again (c->node and c->asking set for it), 0 when the reply
 * is its answer.
 *
 * Sending c again is safe for any command, scripts included: MOVED, ASK
 * and TRYAGAIN all mean the node ran nothing of it. That matters for
 * reserve, which a second run would answer "duplicate" for the order it
 * placed; claim, confirm and release answer a second run as the first
 * (protocol/seckill_scripts.h). Only the call goes again, not its
 * pipeline: the calls that ran have their answers, and a course's calls
 * stay in order unless a migration moves its keys between two of them. A
 * reply lost with its connection is never sent again here: it may have
 * run. */
static int redirected(struct redis *r, struct redis_cmd *c, const redisReply *reply, int last, int *wait)
{
    int node;

    if (r->map == NULL || reply->type != REDIS_REPLY_ERROR || last)
        return 0;
    switch (cluster_next(r->map, reply->str, reply->len, &node)) {
    case CLUSTER_ANSWER:
        return 0;
    case CLUSTER_MOVED:
        /* To the owner the MOVED named, whatever the map read again before
         * the next round says: a node asked may not have heard yet. */
        r->stale = 1;
        c->node = node;
        c->asking = 0;
        return 1;
    case CLUSTER_ASK:
        c->node = node;
        c->asking = 1;
        return 1;
    case CLUSTER_TRYAGAIN:
        *wait = 1;
        return 1;
    }
    return 0;
}

/* Reads node i's replies to the commands sent this round. Returns how many
 * commands go again. */
static size_t read_from(struct redis *r, struct redis_pipe *p, int i, const char *what, int last,
                        int *wait, int *failed)
{
    redisContext *rc = r->link[i].rc;
    size_t again = 0;

    for (size_t k = 0; k < p->n; k++) {
        struct redis_cmd *c = &p->cmd[k];
        redisReply *reply;

        if (c->state != CMD_SENT || c->node != i)
            continue;
        if (c->asking) {
            if (redisGetReply(rc, (void **)&reply) != REDIS_OK)
                goto lost;
            freeReplyObject(reply);
        }
        if (redisGetReply(rc, (void **)&reply) != REDIS_OK)
            goto lost;
        if (c->reply != NULL)
            freeReplyObject(c->reply);
        c->reply = reply;
        if (redirected(r, c, reply, last, wait)) {
            c->state = CMD_TODO;
            again++;
        } else {
            c->state = CMD_DONE;
        }
    }
    return again;

lost:
    io_error(r, i, what);
    fail_sent(r, p, i);
    *failed = 1;
    return again;
}

/* One round: routes the commands to send, sends them, reads the replies.
 * Returns how many go again. */
static size_t pipe_round(struct redis *r, struct redis_pipe *p, const char *what, int last,
                         int *wait, int *failed)
{
    char used[CLUSTER_NODES_MAX] = { 0 };
    int order[CLUSTER_NODES_MAX], nodes = 0;
    size_t again = 0;

    for (size_t k = 0; k < p->n; k++) {
        struct redis_cmd *c = &p->cmd[k];

        if (c->state != CMD_TODO)
            continue;
        if (r->map == NULL)
            c->node = 0;
        else if (c->node == CLUSTER_NO_NODE)
            c->node = cluster_owner(r->map, c->slot);
        if (c->node == CLUSTER_NO_NODE) {
            snprintf(r->err, sizeof(r->err), "Redis at %s: %s: no master serves slot %u: the cluster "
                     "lost a master or is being resharded (`redis-cli --cluster check` tells)",
                     r->addr, what, c->slot);
            fail_cmd(c);
            r->stale = 1;
            *failed = 1;
            continue;
        }
        if (!used[c->node]) {
            used[c->node] = 1;
            order[nodes++] = c->node;
        }
    }
    for (int n = 0; n < nodes; n++)
        if (send_to(r, p, order[n], what) != 0)
            *failed = 1;
    for (int n = 0; n < nodes; n++)
        if (r->link[order[n]].rc != NULL)
            again += read_from(r, p, order[n], what, last, wait, failed);
    return again;
}

int redis_pipe_run(struct redis *r, struct redis_pipe *p, const char *what)
{
    int failed = 0;
    size_t again = p->n;

    if (!redis_is_open(r)) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: not connected", r->addr);
        return -1;
    }
    r->run++;
    for (size_t k = 0; k < p->n; k++) {
        struct redis_cmd *c = &p->cmd[k];

        if (c->reply != NULL)
            freeReplyObject(c->reply);
        c->reply = NULL;
        c->node = CLUSTER_NO_NODE;
        c->asking = 0;
        c->state = CMD_TODO;
    }
    for (int round = 0; again > 0 && round < REDIS_SENDS; round++) {
        int wait = 0;

        if (r->map != NULL && r->stale)
            refresh_map(r);
        again = pipe_round(r, p, what, round == REDIS_SENDS - 1, &wait, &failed);
        if (wait)
            sleep_ms(TRYAGAIN_WAIT_MS);
    }
    return failed ? -1 : 0;
}

int redis_pipe_error(struct redis *r, const struct redis_pipe *p, const char *what)
{
    for (size_t k = 0; k < p->n; k++) {
        const struct redis_cmd *c = &p->cmd[k];

        if (c->reply != NULL && c->reply->type == REDIS_REPLY_ERROR) {
            snprintf(r->err, sizeof(r->err), "Redis at %s: %s: %s", r->link[c->node].addr, what,
                     c->reply->str);
            return -1;
        }
    }
    return 0;
}

/* The reply of a pipe's one command, or NULL with r->err. */
static redisReply *only_reply(struct redis *r, struct redis_pipe *p, const char *what)
{
    redisReply *reply = NULL;

    if (redis_pipe_run(r, p, what) == 0 && redis_pipe_error(r, p, what) == 0) {
        reply = p->cmd[0].reply;
        p->cmd[0].reply = NULL;
    }
    redis_pipe_free(p);
    return reply;
}

redisReply *redis_command(struct redis *r, unsigned slot, const char *what, const char *fmt, ...)
{
    struct redis_pipe p;
    va_list ap;
    int rc;

    redis_pipe_init(&p);
    va_start(ap, fmt);
    rc = pipe_vadd(r, &p, slot, fmt, ap);
    va_end(ap);
    if (rc != 0) {
        redis_pipe_free(&p);
        return NULL;
    }
    return only_reply(r, &p, what);
}

redisReply *redis_command_argv(struct redis *r, unsigned slot, const char *what,
                               int argc, const char **argv, const size_t *argvlen)
{
    struct redis_pipe p;

    redis_pipe_init(&p);
    if (redis_pipe_add_argv(r, &p, slot, argc, argv, argvlen) != 0) {
        redis_pipe_free(&p);
        return NULL;
    }
    return only_reply(r, &p, what);
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
        refresh_map(r);
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
    if ((rc = link_up(r, s->node)) == NULL)
        return -1;
    if ((reply = redisCommand(rc, "SCAN %s MATCH %s COUNT " SCAN_COUNT, s->cursor, pattern)) == NULL) {
        io_error(r, s->node, "SCAN");
        link_lost(r, s->node);
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

/* Queues the calls, one per run of one course, each for its course's slot. */
static int add_calls(struct redis *r, struct redis_pipe *p, const struct redis_calls *c,
                     const struct course_order *o, size_t n)
{
    struct call call;
    size_t len;

    for (size_t at = 0; at < n; at += len) {
        len = course_run(o + at, n - at, c->max);
        call_begin(&call, c->script->sha, o[at].course_id);
        for (size_t i = at; i < at + len; i++) {
            uint64_t user_id, order_id;

            c->order(c->arg, o[i].entry, &user_id, &order_id);
            call_add(&call, user_id, order_id);
        }
        if (c->clock != NULL)
            call_end_at(&call, *c->clock);
        else
            call_end(&call);
        if (redis_pipe_add_argv(r, p, seckill_course_slot(o[at].course_id), call.argc, call.argv, NULL) != 0)
            return -1;
    }
    return 0;
}

int redis_run_calls(struct redis *r, const struct redis_calls *c,
                    const struct course_order *o, size_t n)
{
    struct redis_pipe p;
    size_t len, k = 0;
    int rc, noscript = 0, failed = 0;

    redis_pipe_init(&p);
    if (add_calls(r, &p, c, o, n) != 0) {
        redis_pipe_free(&p);
        return -1;
    }
    rc = redis_pipe_run(r, &p, "script call");
    /* In the order of the runs, as one connection would have answered. */
    for (size_t at = 0; at < n; at += len, k++) {
        const redisReply *reply = p.cmd[k].reply;

        len = course_run(o + at, n - at, c->max);
        if (reply == NULL)
            continue;       /* its node failed: rc says so */
        if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0)
            noscript = 1;
        else if (!failed && !noscript && c->reply(c->arg, r, o + at, len, reply) != 0)
            failed = 1;
    }
    redis_pipe_free(&p);
    return rc != 0 || failed ? -1 : noscript;
}
