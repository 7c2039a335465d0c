/* Grouping orders by course and laying out an arbiter script call (call.h). */
#include "call.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

/* The entry breaks ties: qsort is not stable, the grouping must be. */
static int by_course(const void *pa, const void *pb)
{
    const struct course_order *a = pa, *b = pb;

    if (a->course_id != b->course_id)
        return a->course_id < b->course_id ? -1 : 1;
    return a->entry < b->entry ? -1 : a->entry > b->entry;
}

void course_orders_sort(struct course_order *o, size_t n)
{
    if (n > 1)
        qsort(o, n, sizeof(*o), by_course);
}

size_t course_run(const struct course_order *o, size_t n, size_t max)
{
    size_t len = 0;

    while (len < n && len < max && o[len].course_id == o[0].course_id)
        len++;
    return len;
}

void call_begin(struct call *c, const char *sha, uint64_t course_id)
{
    c->sha = sha;
    c->course_id = course_id;
    c->n = 0;
    c->argc = 0;
}

void call_add(struct call *c, uint64_t user_id, uint64_t order_id)
{
    if (c->n == CALL_MAX_ORDERS)
        return;
    key_user(c->user[c->n], c->course_id, user_id);
    snprintf(c->ids[c->n][0], sizeof(c->ids[c->n][0]), "%" PRIu64, user_id);
    snprintf(c->ids[c->n][1], sizeof(c->ids[c->n][1]), "%" PRIu64, order_id);
    c->n++;
}

void call_end(struct call *c)
{
    int argc = 0;

    snprintf(c->numkeys, sizeof(c->numkeys), "%zu", 2 + c->n);
    key_course(c->course, c->course_id);
    key_pending(c->pending, c->course_id);
    c->argv[argc++] = "EVALSHA";
    c->argv[argc++] = c->sha;
    c->argv[argc++] = c->numkeys;
    c->argv[argc++] = c->course;
    c->argv[argc++] = c->pending;
    for (size_t i = 0; i < c->n; i++)
        c->argv[argc++] = c->user[i];
    for (size_t i = 0; i < c->n; i++) {
        c->argv[argc++] = c->ids[i][0];
        c->argv[argc++] = c->ids[i][1];
    }
    c->argc = argc;
}

void call_end_at(struct call *c, int64_t now_ms)
{
    call_end(c);
    snprintf(c->clock, sizeof(c->clock), "%" PRId64, now_ms);
    c->argv[c->argc++] = c->clock;
}
