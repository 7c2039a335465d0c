/* Commands to Redis or a Redis Cluster: pipelines that send each command
 * to the master of its slot and follow MOVED, ASK and TRYAGAIN, single
 * commands as pipelines of one, and the arbiter's script calls over runs
 * of orders (redis.h). The connections are redis.c's. */
#include "redis.h"
#include "redis_link.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* A TRYAGAIN lasts as long as a migration moves one slot's keys. */
#define TRYAGAIN_WAIT_MS 100

/* A command's way through redis_pipe_run(). */
enum { CMD_TODO, CMD_SENT, CMD_DONE, CMD_FAILED };

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
    redis_link_lost(r, i);
}

/* Queues and writes to node i the commands going there this round. */
static int send_to(struct redis *r, struct redis_pipe *p, int i, const char *what)
{
    redisContext *rc = redis_link_up(r, i);
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
            redis_link_error(r, i, what);
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
    redis_link_error(r, i, what);
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
            redis_map_refresh(r);
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
