/* Claim and confirm over a pipelined hiredis connection (status.h). */
#include "status.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "keys.h"
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

static int selected(const struct batch_entry *e, int claimed_only)
{
    return e->kind == ENTRY_ORDER && (!claimed_only || e->verdict == VERDICT_CLAIMED);
}

/* Sends `EVALSHA sha course user pending uid order_id` for every selected
 * entry, then reads the replies in order into answer(). Returns 0, 1 when
 * the server had lost the script (reload and run again), or -1. */
typedef int answer_fn(struct status *s, struct batch_entry *e,
                      const redisReply *r, void *arg);

static int pipeline(struct status *s, const char *sha, struct batch *b,
                    int claimed_only, answer_fn *answer, void *arg)
{
    size_t sent = 0, read = 0;
    int noscript = 0, failed = 0;

    for (size_t i = 0; i < b->n; i++) {
        const struct batch_entry *e = &b->entries[i];
        char course[KEY_MAX], user[KEY_MAX], pending[KEY_MAX], uid[24], oid[24];

        if (!selected(e, claimed_only))
            continue;
        key_course(course, e->ev.course_id);
        key_user(user, e->ev.course_id, e->ev.user_id);
        key_pending(pending, e->ev.course_id);
        snprintf(uid, sizeof(uid), "%" PRIu64, e->ev.user_id);
        snprintf(oid, sizeof(oid), "%" PRIu64, e->ev.order_id);
        if (redisAppendCommand(s->store.rc, "EVALSHA %s 3 %s %s %s %s %s",
                               sha, course, user, pending, uid, oid) != REDIS_OK) {
            snprintf(s->err, sizeof(s->err), "Redis at %s: out of memory queueing a script", s->store.addr);
            status_close(s);
            return -1;
        }
        sent++;
    }
    /* Every reply is read, even after an error, to keep the connection in
     * step with the commands. */
    for (size_t i = 0; i < b->n && read < sent; i++) {
        struct batch_entry *e = &b->entries[i];
        redisReply *r;

        if (!selected(e, claimed_only))
            continue;
        if (redisGetReply(s->store.rc, (void **)&r) != REDIS_OK) {
            snprintf(s->err, sizeof(s->err), "Redis at %s: %s", s->store.addr,
                     s->store.rc->errstr[0] ? s->store.rc->errstr : "connection lost");
            status_close(s);
            return -1;
        }
        read++;
        if (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOSCRIPT", 8) == 0) {
            noscript = 1;
        } else if (!failed && !noscript && answer(s, e, r, arg) != 0) {
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
static int run(struct status *s, int claim, struct batch *b, int claimed_only,
               answer_fn *answer, void *arg)
{
    size_t wanted = 0;

    for (size_t i = 0; i < b->n; i++)
        wanted += selected(&b->entries[i], claimed_only);
    if (wanted == 0)
        return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        int rc;

        if (connected(s) != 0)
            return -1;
        rc = pipeline(s, claim ? s->claim_sha : s->confirm_sha, b, claimed_only, answer, arg);
        if (rc <= 0)
            return rc;
        if (load_scripts(s) != 0)
            return -1;
    }
    snprintf(s->err, sizeof(s->err), "Redis at %s: NOSCRIPT right after SCRIPT LOAD", s->store.addr);
    return -1;
}

static int reply_is(const redisReply *r, const char *word)
{
    return (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS)
        && r->len == strlen(word) && memcmp(r->str, word, r->len) == 0;
}

static int unexpected(struct status *s, const char *script,
                      const struct batch_entry *e, const redisReply *r)
{
    snprintf(s->err, sizeof(s->err), "Redis at %s: %s script for order %" PRIu64
             " (course %" PRIu64 ", user %" PRIu64 ") answered %s%.200s",
             s->store.addr, script, e->ev.order_id, e->ev.course_id, e->ev.user_id,
             r->type == REDIS_REPLY_ERROR ? "an error: " : "",
             r->type == REDIS_REPLY_ERROR || r->type == REDIS_REPLY_STRING
                 || r->type == REDIS_REPLY_STATUS ? r->str : "something unexpected");
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
    return run(s, 1, b, 0, claim_answer, NULL);
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
    *gone = 0;
    return run(s, 0, b, 1, confirm_answer, gone);
}
