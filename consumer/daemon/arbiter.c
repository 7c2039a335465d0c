/* Claim and confirm over a pipelined hiredis connection (status.h). */
#include "arbiter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "call.h"
#include "seckill_scripts.h"

static const char claim_script[] = SECKILL_SCRIPT_CLAIM;
static const char confirm_script[] = SECKILL_SCRIPT_CONFIRM;

void status_init(struct status *s, const struct seckill_config *cfg)
{
    memset(s, 0, sizeof(*s));
    s->cfg = cfg;
}

void status_close(struct status *s)
{
    store_close(&s->store);
}

static int load_script(struct status *s, const char *script, char sha[41])
{
    redisReply *r = redisCommand(s->store.rc, "SCRIPT LOAD %s", script);

    if (r == NULL || r->type != REDIS_REPLY_STRING || r->len != 40) {
        snprintf(s->err, sizeof(s->err), "Redis at %s: SCRIPT LOAD: %s", s->store.addr,
                 r == NULL ? s->store.rc->errstr : r->type == REDIS_REPLY_ERROR ? r->str
                                                                                : "unexpected reply");
        if (r != NULL)
            freeReplyObject(r);
        status_close(s);
        return -1;
    }
    memcpy(sha, r->str, 41);
    freeReplyObject(r);
    return 0;
}

static int load_scripts(struct status *s)
{
    return load_script(s, claim_script, s->claim_sha) == 0
        && load_script(s, confirm_script, s->confirm_sha) == 0 ? 0 : -1;
}

static int connected(struct status *s)
{
    if (s->store.rc != NULL && s->store.rc->err == 0)
        return 0;
    status_close(s);
    if (store_open(&s->store, s->cfg) != 0) {
        snprintf(s->err, sizeof(s->err), "%s", s->store.err);
        return -1;
    }
    return load_scripts(s);
}

static int append_call(struct status *s, struct call *c, const char *sha,
                       const struct batch *b, const struct course_order *o,
                       size_t n)
{
    call_begin(c, sha, o[0].course_id);
    for (size_t i = 0; i < n; i++) {
        const struct order_event *ev = &b->entries[o[i].entry].ev;

        call_add(c, ev->user_id, ev->order_id);
    }
    call_end(c);
    if (redisAppendCommandArgv(s->store.rc, c->argc, c->argv, NULL) != REDIS_OK) {
        snprintf(s->err, sizeof(s->err), "Redis at %s: out of memory queueing a script", s->store.addr);
        status_close(s);
        return -1;
    }
    return 0;
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
typedef int answer_fn(struct status *s, struct batch_entry *e,
                      const redisReply *r, void *arg);

struct script {
    const char *name;           /* for messages */
    enum batch_select orders;   /* which orders it takes */
    answer_fn *answer;
};

/* One verdict per order of the call, in order. */
static int answer_call(struct status *s, const struct script *sc,
                       struct batch *b, const struct course_order *o, size_t n,
                       const redisReply *r, void *arg)
{
    char what[256];

    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        snprintf(s->err, sizeof(s->err), "Redis at %s: %s script for %zu orders of course %"
                 PRIu64 " answered %s", s->store.addr, sc->name, n, o[0].course_id,
                 describe(what, sizeof(what), r));
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (sc->answer(s, &b->entries[o[i].entry], r->element[i], arg) != 0)
            return -1;
    return 0;
}

/* Sends one EVALSHA per run of at most CALL_MAX_ORDERS orders of one course,
 * then reads the replies in order into answer_call(). Returns 0, 1 when the
 * server had lost the script (reload and run again), or -1. */
static int pipeline(struct status *s, const struct script *sc, const char *sha,
                    struct batch *b, const struct course_order *o, size_t n,
                    void *arg)
{
    struct call call;
    size_t sent = 0, len;
    int noscript = 0, failed = 0;

    for (size_t at = 0; at < n; at += len) {
        len = course_run(o + at, n - at, CALL_MAX_ORDERS);
        if (append_call(s, &call, sha, b, o + at, len) != 0)
            return -1;
        sent++;
    }
    /* Every reply is read, even after an error, to keep the connection in
     * step with the commands. */
    for (size_t at = 0; sent > 0; at += len, sent--) {
        redisReply *r;

        len = course_run(o + at, n - at, CALL_MAX_ORDERS);
        if (redisGetReply(s->store.rc, (void **)&r) != REDIS_OK) {
            snprintf(s->err, sizeof(s->err), "Redis at %s: %s", s->store.addr,
                     s->store.rc->errstr[0] ? s->store.rc->errstr : "connection lost");
            status_close(s);
            return -1;
        }
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            noscript = 1;
        } else if (!failed && !noscript && answer_call(s, sc, b, o + at, len, r, arg) != 0) {
            failed = 1;
        }
        freeReplyObject(r);
    }
    if (failed)
        return -1;
    return noscript;
}

/* Runs the pipeline, reloading the scripts once if Redis lost them (a
 * restart without persistence of the script cache, SCRIPT FLUSH). */
static int run_calls(struct status *s, const struct script *sc, const char *sha,
                     struct batch *b, const struct course_order *o, size_t n,
                     void *arg)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc;

        if (connected(s) != 0)
            return -1;
        rc = pipeline(s, sc, sha, b, o, n, arg);
        if (rc <= 0)
            return rc;
        if (load_scripts(s) != 0)
            return -1;
    }
    snprintf(s->err, sizeof(s->err), "Redis at %s: NOSCRIPT right after SCRIPT LOAD", s->store.addr);
    return -1;
}

/* Runs the script on the orders it takes, grouped by course. sha is the
 * script's in s, which load_scripts() may rewrite. */
static int run(struct status *s, const struct script *sc, const char *sha,
               struct batch *b, void *arg)
{
    struct course_order *o;
    size_t n;
    int rc;

    if (batch_by_course(b, sc->orders, &o, &n) != 0) {
        snprintf(s->err, sizeof(s->err), "out of memory grouping a batch of %zu", b->n);
        return -1;
    }
    rc = n == 0 ? 0 : run_calls(s, sc, sha, b, o, n, arg);
    free(o);
    return rc;
}

static int reply_is(const redisReply *r, const char *word)
{
    return (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        && r->len == strlen(word) && memcmp(r->str, word, r->len) == 0;
}

static int unexpected(struct status *s, const char *script,
                      const struct batch_entry *e, const redisReply *r)
{
    char what[256];

    snprintf(s->err, sizeof(s->err), "Redis at %s: %s script for order %" PRIu64
             " (course %" PRIu64 ", user %" PRIu64 ") answered %s",
             s->store.addr, script, e->ev.order_id, e->ev.course_id, e->ev.user_id,
             describe(what, sizeof(what), r));
    return -1;
}

static int claim_answer(struct status *s, struct batch_entry *e,
                        const redisReply *r, void *arg)
{
    (void)arg;
    if (reply_is(r, "claimed"))
        e->verdict = VERDICT_CLAIMED;
    else if (reply_is(r, "dropped"))
        e->verdict = VERDICT_DROPPED;
    else
        return unexpected(s, "claim", e, r);
    return 0;
}

int status_claim(struct status *s, struct batch *b)
{
    static const struct script claim = { "claim", SELECT_ORDERS, claim_answer };

    return run(s, &claim, s->claim_sha, b, NULL);
}

static int confirm_answer(struct status *s, struct batch_entry *e,
                          const redisReply *r, void *arg)
{
    size_t *gone = arg;

    if (reply_is(r, "gone"))
        (*gone)++;
    else if (!reply_is(r, "success"))
        return unexpected(s, "confirm", e, r);
    return 0;
}

int status_confirm(struct status *s, struct batch *b, size_t *gone)
{
    static const struct script confirm = { "confirm", SELECT_CLAIMED, confirm_answer };

    *gone = 0;
    return run(s, &confirm, s->confirm_sha, b, gone);
}
