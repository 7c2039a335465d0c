/* The consumer's connection to Redis, over hiredis' synchronous API: the one
 * way both binaries connect (AUTH, then PING, with errors that say what to
 * do), load the arbiter's scripts and call them by SHA1, send commands, and
 * pipeline script calls over orders grouped by course (call.h).
 *
 * The same calls serve a standalone server and a Redis Cluster. The config's
 * redis line names seeds; the first that answers is asked CLUSTER SLOTS. A
 * server with cluster support disabled gets everything, exactly as if there
 * were no cluster. A cluster member gives the slot map (cluster.h), and each
 * command goes to the master of the slot of its key: a course's keys all
 * carry the hash tag {c<id>}, so its commands name seckill_course_slot(id);
 * seckill:courses and seckill:order_gen name key_slot() of their name
 * (keys.h). A connection per master is made on first use, with the same
 * password and timeouts, and the scripts loaded on it before any EVALSHA.
 *
 * Redirections are followed inside: a MOVED reply means the command ran
 * nowhere; the map is read again and the command sent once more, to the
 * new owner. An ASK (a slot being migrated, the key already moved) sends
 * ASKING and the command once to the node it names, the map unchanged. A
 * TRYAGAIN (a multi-key command during a migration) is sent again after
 * 100 ms. A command is sent REDIS_SENDS times at most; its last answer is
 * its reply. Running a redirected command elsewhere is safe because the
 * node that redirected did not run it: nothing ran twice.
 *
 * A master that cannot be reached fails the commands of its slots, with
 * r->err naming it; the commands of the other masters run and their
 * replies are there. Its connection is tried again by the next command, and
 * the map read again first, which follows a replica promoted in its place.
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
#include "cluster.h"
#include "config.h"

/* How long a reply is waited for, unless redis_ready() is told otherwise. */
#define REDIS_IO_TIMEOUT_S 10

/* Times one command is sent at most: first, after a MOVED, after an ASK
 * from the new owner while it gives the slot away (or a TRYAGAIN). */
#define REDIS_SENDS 3

/* A connection to one node: a standalone server's, or a cluster master's. */
struct redis_link {
    redisContext *rc;           /* NULL while not connected */
    char addr[300];             /* host:port, for messages */
    unsigned down_run;          /* the run in which connecting failed, */
    char down[512];             /* and why */
};

struct redis {
    const struct seckill_config *cfg;   /* NULL while closed */
    struct endpoint seed;       /* the seed that answered */
    struct cluster_map *map;    /* NULL: a standalone server, on link[0] */
    struct redis_link *link;    /* map ? one per node of the map : one */
    int stale;                  /* read the map again before the next command */
    int io_timeout_s;
    struct redis_script *scripts;       /* loaded on every link it makes */
    size_t nscripts;
    unsigned run;               /* pipelines, scans, loads: a node down is
                                   tried once per run */
    char addr[340];             /* the server, or the cluster by its seed */
    char err[2048];             /* why the last call failed */
};

/* A script of protocol/seckill_scripts.h and, once loaded, its SHA1. */
struct redis_script {
    const char *body;
    char sha[41];
};

/* Connects to the first seed that answers (3 s at most each), sends AUTH
 * when cfg has a redis_password, then PING, and asks CLUSTER SLOTS. r is
 * closed or was never opened; cfg must outlive it. Returns 0, or -1 with
 * r->err saying what to do. */
int redis_open(struct redis *r, const struct seckill_config *cfg);
void redis_close(struct redis *r);
int redis_is_open(const struct redis *r);

/* For a connection kept for long: 0 when it is open (a node lost since is
 * connected again by the next command that needs it); else it is opened,
 * its replies waited for io_timeout_s from then on, and the n scripts
 * loaded. -1 with r->err. */
int redis_ready(struct redis *r, const struct seckill_config *cfg, int io_timeout_s,
                struct redis_script *scripts, size_t n);

/* SCRIPT LOAD of each script, its SHA1 into it, on every node connected
 * now and on every node connected later (the scripts must outlive r's use).
 * Returns 0, or -1 with r->err and the failing node's connection closed. */
int redis_load_scripts(struct redis *r, struct redis_script *scripts, size_t n);

/* Sends one command about a key of slot; its reply, or NULL with r->err
 * naming what (also for an error reply). */
redisReply *redis_command(struct redis *r, unsigned slot, const char *what, const char *fmt, ...);
redisReply *redis_command_argv(struct redis *r, unsigned slot, const char *what,
                               int argc, const char **argv, const size_t *argvlen);

/* Commands sent together: to each master those of its slots, all before
 * any reply is read (one round trip per master, the masters at once). */
struct redis_cmd {
    char *text;                 /* as hiredis formats it */
    size_t len;
    unsigned slot;
    int node;                   /* where it goes next; CLUSTER_NO_NODE: the
                                   master of slot */
    int asking;                 /* ASKING first: node is importing the slot */
    int state;                  /* redis.c */
    redisReply *reply;          /* after redis_pipe_run(); NULL when its
                                   node failed */
};

struct redis_pipe {
    struct redis_cmd *cmd;
    size_t n, cap;
};

void redis_pipe_init(struct redis_pipe *p);

/* Adds a command about a key of slot. Returns 0, or -1 with r->err (out of
 * memory). */
int redis_pipe_add(struct redis *r, struct redis_pipe *p, unsigned slot, const char *fmt, ...);
int redis_pipe_add_argv(struct redis *r, struct redis_pipe *p, unsigned slot,
                        int argc, const char **argv, const size_t *argvlen);

/* Sends every command, reads every reply into its redis_cmd, following
 * redirections. Returns 0; or -1 when a node could not be reached or was
 * lost (r->err names it and what was being done): the commands of its
 * slots have no reply, the others do. An error reply is a reply: the
 * caller reads it. */
int redis_pipe_run(struct redis *r, struct redis_pipe *p, const char *what);

/* 0 when no command of p has an error reply; else -1 with r->err naming
 * the node of the first one, what, and the error. */
int redis_pipe_error(struct redis *r, const struct redis_pipe *p, const char *what);

/* Frees the commands and their replies; the pipe can be used again. */
void redis_pipe_reset(struct redis_pipe *p);
void redis_pipe_free(struct redis_pipe *p);

/* A SCAN of the whole keyspace: of every master of a cluster, one after the
 * other, a cursor each. Keys migrated between two masters while it runs may
 * be seen twice or not at all, as SCAN itself allows under a rehash. */
struct redis_scan {
    int node;                   /* the master being scanned; -1: done */
    char cursor[32];
};

void redis_scan_begin(struct redis *r, struct redis_scan *s);

/* One step: SCAN with MATCH pattern on the master being scanned. Returns 1
 * with *reply (the caller frees it; its keys are (*reply)->element[1]),
 * 0 when every master was scanned, -1 with r->err. */
int redis_scan_next(struct redis *r, struct redis_scan *s, const char *pattern, redisReply **reply);

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
 * orders at o, sorted by course_orders_sort(), each to the master of its
 * course, all before reading any reply; then hands every reply, in order,
 * to c->reply. Returns 0; 1 when Redis had lost the script (NOSCRIPT: load
 * it again and run the calls again); or -1 with r->err when a node failed
 * (the replies of the others were handed over: every call that ran is
 * known to its caller). */
int redis_run_calls(struct redis *r, const struct redis_calls *c,
                    const struct course_order *o, size_t n);

#endif
