/* The consumer's connection to Redis, over hiredis' synchronous API: the one
 * way both binaries connect (AUTH, then PING, with errors that say what to
 * do), load the arbiter's scripts and call them by SHA1, send a command, and
 * pipeline script calls over orders grouped by course (call.h).
 *
 * The CLI opens a connection per command. The daemon's arbiter, sweeper and
 * metrics each keep one of their own and call redis_ready() before using
 * it: made on first use, and made again after any failure. */
#ifndef SECKILL_REDIS_H
#define SECKILL_REDIS_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "call.h"
#include "config.h"

struct redis {
    redisContext *rc;           /* NULL while disconnected */
    char addr[300];             /* host:port, for messages */
    char err[2048];             /* why the last call failed */
};

/* How long a reply is waited for, unless redis_ready() is told otherwise. */
#define REDIS_IO_TIMEOUT_S 10

/* A script of protocol/seckill_scripts.h and, once loaded, its SHA1. */
struct redis_script {
    const char *body;
    char sha[41];
};

/* Connects (3 s at most), sends AUTH when cfg has a redis_password, then
 * PING. Returns 0, or -1 with r->err saying what to do. */
int redis_open(struct redis *r, const struct seckill_config *cfg);
void redis_close(struct redis *r);

/* For a connection kept for long: 0 when it is up; else it is made again,
 * its replies waited for io_timeout_s from then on, and the n scripts
 * loaded. -1 with r->err. */
int redis_ready(struct redis *r, const struct seckill_config *cfg, int io_timeout_s,
                struct redis_script *scripts, size_t n);

/* SCRIPT LOAD of each script, its SHA1 into it. Returns 0, or -1 with
 * r->err and the connection closed. */
int redis_load_scripts(struct redis *r, struct redis_script *scripts, size_t n);

/* Sends one command; its reply, or NULL with r->err naming what (also for
 * an error reply). */
redisReply *redis_command(struct redis *r, const char *what, const char *fmt, ...);

/* The same check on a reply hiredis gave otherwise (redisCommandArgv()). */
redisReply *redis_reply(struct redis *r, redisReply *reply, const char *what);

/* r->err for a connection that failed while doing what; returns -1. */
int redis_io_error(struct redis *r, const char *what);

/* What a pipeline of script calls asks its caller. */
struct redis_calls {
    const struct redis_script *script;
    size_t max;                 /* orders per call, at most CALL_MAX_ORDERS */
    const int64_t *clock;       /* reserve's clock (Unix ms); NULL for the others */
    /* The user and order id of the caller's order entry. */
    void (*order)(void *arg, size_t entry, uint64_t *user_id, uint64_t *order_id);
    /* The reply to one call, of the len orders at run. Returns 0, or -1 for
     * a reply that fails the whole pipeline (r->err set): the replies after
     * it are read, not handed over. */
    int (*reply)(void *arg, struct redis *r, const struct course_order *run, size_t len,
                 const redisReply *reply);
    void *arg;
};

/* Sends one call per run of at most c->max orders of one course among the n
 * orders at o, sorted by course_orders_sort(), all before reading any
 * reply; then reads every reply, in order, into c->reply. Returns 0; 1 when
 * Redis had lost the script (NOSCRIPT: load it again and run the calls
 * again); or -1 with r->err, the connection closed when it failed. */
int redis_run_calls(struct redis *r, const struct redis_calls *c,
                    const struct course_order *o, size_t n);

#endif
