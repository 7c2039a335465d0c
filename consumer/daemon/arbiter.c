/* Claim and confirm, pipelined over the arbiter's own connection
 * (arbiter.h). */
#include "arbiter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "seckill_scripts.h"

enum { CLAIM, CONFIRM, SCRIPTS };

void arbiter_init(struct arbiter *a, const struct seckill_config *cfg)
{
    memset(a, 0, sizeof(*a));
    a->cfg = cfg;
    a->scripts[CLAIM].body = SECKILL_SCRIPT_CLAIM;
    a->scripts[CONFIRM].body = SECKILL_SCRIPT_CONFIRM;
}

void arbiter_close(struct arbiter *a)
{
    redis_close(&a->redis);
}

/* What a reply says, for a message. */
static const char *describe(char *buf, size_t size, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(buf, size, "an error: %.200s", r->str);
    else if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        snprintf(buf, size, "%.200s", r->str);
    else if (r->type == REDIS_REPLY_ARRAY)
        snprintf(buf, size, "an array of %zu", r->elements);
    else
        snprintf(buf, size, "something unexpected");
    return buf;
}

/* Applied to each order's verdict. */
typedef int answer_fn(struct redis *r, struct batch_entry *e, const redisReply *v, void *arg);

struct script {
    const char *name;           /* for messages */
    int index;                  /* in a->scripts */
    enum batch_select orders;   /* which orders it takes */
    answer_fn *answer;
};

/* A script's run over a batch, as redis_run_calls() hands it back. */
struct run {
    const struct script *sc;
    struct batch *b;
    void *arg;                  /* the answer's */
};

static void order_of(void *arg, size_t entry, uint64_t *user_id, uint64_t *order_id)
{
    const struct run *run = arg;
    const struct order_event *ev = &run->b->entries[entry].ev;

    *user_id = ev->user_id;
    *order_id = ev->order_id;
}

/* One verdict per order of the call, in order. */
static int answer_call(void *arg, struct redis *r, const struct course_order *o, size_t n,
                       const redisReply *reply)
{
    const struct run *run = arg;
    char what[256];

    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != n) {
        snprintf(r->err, sizeof(r->err), "Redis at %s: %s script for %zu orders of course %"
                 PRIu64 " answered %s", r->addr, run->sc->name, n, o[0].course_id,
                 describe(what, sizeof(what), reply));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (run->sc->answer(r, &run->b->entries[o[i].entry], reply->element[i], run->arg) != 0)
            return -1;
    return 0;
}

/* Runs the calls, reloading the scripts once if Redis lost them (a restart
 * without persistence of the script cache, SCRIPT FLUSH). */
static int run_calls(struct arbiter *a, const struct redis_calls *calls,
                     const struct course_order *o, size_t n)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc;

        if (redis_ready(&a->redis, a->cfg, REDIS_IO_TIMEOUT_S, a->scripts, SCRIPTS) != 0)
            return -1;
        rc = redis_run_calls(&a->redis, calls, o, n);
        if (rc <= 0)
            return rc;
        if (redis_load_scripts(&a->redis, a->scripts, SCRIPTS) != 0)
            return -1;
    }
    snprintf(a->redis.err, sizeof(a->redis.err), "Redis at %s: NOSCRIPT right after SCRIPT LOAD",
             a->redis.addr);
    return -1;
}

/* Runs the script on the orders it takes, grouped by course. */
static int run(struct arbiter *a, const struct script *sc, struct batch *b, void *arg)
{
    struct run run = { sc, b, arg };
    const struct redis_calls calls = {
        &a->scripts[sc->index], CALL_MAX_ORDERS, NULL, order_of, answer_call, &run
    };
    struct course_order *o;
    size_t n;
    int rc;

    if (batch_by_course(b, sc->orders, &o, &n) != 0) {
        snprintf(a->redis.err, sizeof(a->redis.err), "out of memory grouping a batch of %zu", b->n);
        return -1;
    }
    rc = n == 0 ? 0 : run_calls(a, &calls, o, n);
    free(o);
    return rc;
}

static int reply_is(const redisReply *r, const char *word)
{
    return (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        && r->len == strlen(word) && memcmp(r->str, word, r->len) == 0;
}

static int unexpected(struct redis *r, const char *script, const struct batch_entry *e,
                      const redisReply *v)
{
    char what[256];

    snprintf(r->err, sizeof(r->err), "Redis at %s: %s script for order %" PRIu64
             " (course %" PRIu64 ", user %" PRIu64 ") answered %s",
             r->addr, script, e->ev.order_id, e->ev.course_id, e->ev.user_id,
             describe(what, sizeof(what), v));
    return -1;
}

static int claim_answer(struct redis *r, struct batch_entry *e, const redisReply *v, void *arg)
{
    (void)arg;
    if (reply_is(v, "claimed"))
        e->verdict = VERDICT_CLAIMED;
    else if (reply_is(v, "dropped"))
        e->verdict = VERDICT_DROPPED;
    else
        return unexpected(r, "claim", e, v);
    return 0;
}

int arbiter_claim(struct arbiter *a, struct batch *b)
{
    static const struct script claim = { "claim", CLAIM, SELECT_ORDERS, claim_answer };

    return run(a, &claim, b, NULL);
}

static int confirm_answer(struct redis *r, struct batch_entry *e, const redisReply *v, void *arg)
{
    size_t *gone = arg;

    if (reply_is(v, "gone"))
        (*gone)++;
    else if (!reply_is(v, "success"))
        return unexpected(r, "confirm", e, v);
    return 0;
}

int arbiter_confirm(struct arbiter *a, struct batch *b, size_t *gone)
{
    static const struct script confirm = { "confirm", CONFIRM, SELECT_CLAIMED, confirm_answer };

    *gone = 0;
    return run(a, &confirm, b, gone);
}
