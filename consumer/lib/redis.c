/* Connecting to Redis, its scripts, its commands and pipelined script calls
 * (redis.h). */
#include "redis.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int redis_io_error(struct redis *r, const char *what)
{
    snprintf(r->err, sizeof(r->err), "Redis at %s: %s: %s", r->addr, what,
             r->rc != NULL && r->rc->errstr[0] ? r->rc->errstr : "connection lost");
    return -1;
}

redisReply *redis_reply(struct redis *r, redisReply *reply, const char *what)
{
    if (reply == NULL) {
        redis_io_error(r, what);
        return NULL;
    }
    if (reply->type == REDIS_REPLY_ERROR) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: %s: %s", r->addr, what, reply->str);
        freeReplyObject(reply);
        return NULL;
    }
    return reply;
}

redisReply *redis_command(struct redis *r, const char *what, const char *fmt, ...)
{
    va_list ap;
    redisReply *reply;

    va_start(ap, fmt);
    reply = redisvCommand(r->rc, fmt, ap);
    va_end(ap);
    return redis_reply(r, reply, what);
}

int redis_open(struct redis *r, const struct seckill_config *cfg)
{
    struct timeval connect_timeout = { 3, 0 }, io_timeout = { REDIS_IO_TIMEOUT_S, 0 };
    redisReply *reply;

    memset(r, 0, sizeof(*r));
    snprintf(r->addr, sizeof(r->addr), "%s:%u", cfg->redis.host, cfg->redis.port);
    r->rc = redisConnectWithTimeout(cfg->redis.host, cfg->redis.port, connect_timeout);
    if (r->rc == NULL || r->rc->err) {
        snprintf(r->err, sizeof(r->err),
                 "cannot connect to Redis at %s: %s — is it running? try `make status`",
                 r->addr, r->rc ? r->rc->errstr : "out of memory");
        redis_close(r);
        return -1;
    }
    redisSetTimeout(r->rc, io_timeout);

    if (cfg->redis_password[0] != '\0') {
        reply = redisCommand(r->rc, "AUTH %s", cfg->redis_password);
        if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
            snprintf(r->err, sizeof(r->err),
                     "Redis at %s refused AUTH: %s — redis_password must be the requirepass of its redis.conf",
                     r->addr, reply ? reply->str : r->rc->errstr);
            if (reply != NULL)
                freeReplyObject(reply);
            redis_close(r);
            return -1;
        }
        freeReplyObject(reply);
    }

    /* Connecting is not enough: a loading or password-protected server says
     * so only when asked something. */
    reply = redisCommand(r->rc, "PING");
    if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
        int noauth = reply != NULL && strncmp(reply->str, "NOAUTH", 6) == 0;

        snprintf(r->err, sizeof(r->err), "Redis at %s does not answer PING: %s — %s", r->addr,
                 reply ? reply->str : r->rc->errstr,
                 noauth ? "set redis_password to the requirepass of its redis.conf" : "try `make status`");
        if (reply != NULL)
            freeReplyObject(reply);
        redis_close(r);
        return -1;
    }
    freeReplyObject(reply);
    return 0;
}

void redis_close(struct redis *r)
{
    if (r->rc != NULL)
        redisFree(r->rc);
    r->rc = NULL;
}

int redis_load_scripts(struct redis *r, struct redis_script *scripts, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        redisReply *reply = redis_command(r, "SCRIPT LOAD", "SCRIPT LOAD %s", scripts[i].body);

        if (reply == NULL || reply->type != REDIS_REPLY_STRING || reply->len != 40) {
            if (reply != NULL) {
                snprintf(r->err, sizeof(r->err), "Redis at %s: SCRIPT LOAD: unexpected reply", r->addr);
                freeReplyObject(reply);
            }
            redis_close(r);
            return -1;
        }
        memcpy(scripts[i].sha, reply->str, 41);
        freeReplyObject(reply);
    }
    return 0;
}

int redis_ready(struct redis *r, const struct seckill_config *cfg, int io_timeout_s,
                struct redis_script *scripts, size_t n)
{
    struct timeval io_timeout = { io_timeout_s, 0 };

    if (r->rc != NULL && r->rc->err == 0)
        return 0;
    redis_close(r);
    if (redis_open(r, cfg) != 0)
        return -1;
    redisSetTimeout(r->rc, io_timeout);
    return redis_load_scripts(r, scripts, n);
}

/* Queues the calls; returns how many, or -1 (the connection closed). */
static long send_calls(struct redis *r, const struct redis_calls *c,
                       const struct course_order *o, size_t n)
{
    struct call call;
    size_t len;
    long sent = 0;

    for (size_t at = 0; at < n; at += len, sent++) {
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
        if (redisAppendCommandArgv(r->rc, call.argc, call.argv, NULL) != REDIS_OK) {
            snprintf(r->err, sizeof(r->err), "Redis at %s: out of memory queueing a script", r->addr);
            redis_close(r);
            return -1;
        }
    }
    return sent;
}

int redis_run_calls(struct redis *r, const struct redis_calls *c,
                    const struct course_order *o, size_t n)
{
    long sent;
    size_t len;
    int noscript = 0, failed = 0;

    if (r->rc == NULL) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: not connected", r->addr);
        return -1;
    }
    if ((sent = send_calls(r, c, o, n)) < 0)
        return -1;
    /* Every reply is read, even after a failure, to keep the connection in
     * step with the commands. */
    for (size_t at = 0; sent > 0; at += len, sent--) {
        redisReply *reply;

        len = course_run(o + at, n - at, c->max);
        if (redisGetReply(r->rc, (void **)&reply) != REDIS_OK) {
            redis_io_error(r, "script call");
            redis_close(r);
            return -1;
        }
        if (reply->type == REDIS_REPLY_ERROR && strncmp(reply->str, "NOSCRIPT", 8) == 0)
            noscript = 1;
        else if (!failed && !noscript && c->reply(c->arg, r, o + at, len, reply) != 0)
            failed = 1;
        freeReplyObject(reply);
    }
    return failed ? -1 : noscript;
}
