/* Batches of order events and their INSERT (batch.h). */
#include "batch.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void batch_init(struct batch *b, size_t limit, int max_age_ms)
{
    memset(b, 0, sizeof(*b));
    b->limit = limit;
    b->max_age_ms = max_age_ms;
}

static void free_dead(struct batch_entry *e)
{
    if (e->dead != NULL) {
        free(e->dead->key);
        free(e->dead->value);
        free(e->dead);
        e->dead = NULL;
    }
}

void batch_clear(struct batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free_dead(&b->entries[i]);
    b->n = 0;
    b->opened_at = 0;
    b->stage = STAGE_DEAD_LETTERS;
    b->new_rows = 0;
}

void batch_free(struct batch *b)
{
    batch_clear(b);
    free(b->entries);
    b->entries = NULL;
    b->cap = 0;
}

static struct batch_entry *append(struct batch *b, int32_t partition,
                                  int64_t offset, int64_t now)
{
    struct batch_entry *e;

    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : (b->limit ? b->limit : 16);
        struct batch_entry *bigger = realloc(b->entries, cap * sizeof(*bigger));

        if (bigger == NULL)
            return NULL;
        b->entries = bigger;
        b->cap = cap;
    }
    if (b->n == 0)
        b->opened_at = now;
    e = &b->entries[b->n++];
    memset(e, 0, sizeof(*e));
    e->partition = partition;
    e->offset = offset;
    return e;
}

int batch_add_order(struct batch *b, int32_t partition, int64_t offset,
                    const struct order_event *ev, int64_t now)
{
    struct batch_entry *e = append(b, partition, offset, now);

    if (e == NULL)
        return -1;
    e->kind = ENTRY_ORDER;
    e->ev = *ev;
    e->verdict = VERDICT_UNKNOWN;
    return 0;
}

static void *copy(const void *p, size_t len)
{
    void *out;

    if (p == NULL || len == 0)
        return NULL;
    out = malloc(len);
    if (out != NULL)
        memcpy(out, p, len);
    return out;
}

int batch_add_dead(struct batch *b, int32_t partition, int64_t offset,
                   const void *key, size_t key_len,
                   const void *value, size_t value_len,
                   const char *reason, int64_t now)
{
    struct dead_letter *d = calloc(1, sizeof(*d));
    struct batch_entry *e;

    if (d == NULL)
        return -1;
    d->key = copy(key, key_len);
    d->value = copy(value, value_len);
    if ((key_len > 0 && key != NULL && d->key == NULL)
        || (value_len > 0 && value != NULL && d->value == NULL)
        || (e = append(b, partition, offset, now)) == NULL) {
        free(d->key);
        free(d->value);
        free(d);
        return -1;
    }
    d->key_len = d->key ? key_len : 0;
    d->value_len = d->value ? value_len : 0;
    snprintf(d->reason, sizeof(d->reason), "%s", reason);
    e->kind = ENTRY_DEAD;
    e->dead = d;
    return 0;
}

int batch_full(const struct batch *b)
{
    return b->n >= b->limit;
}

int batch_due(const struct batch *b, int64_t now)
{
    return b->n > 0 && (batch_full(b) || now - b->opened_at >= b->max_age_ms);
}

int batch_wait_ms(const struct batch *b, int64_t now, int idle_ms)
{
    int64_t left;

    if (b->n == 0)
        return idle_ms;
    left = b->opened_at + b->max_age_ms - now;
    return left <= 0 ? 0 : left < idle_ms ? (int)left : idle_ms;
}

static int listed(int32_t partition, const int32_t *partitions, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (partitions[i] == partition)
            return 1;
    return 0;
}

size_t batch_drop_partitions(struct batch *b, const int32_t *partitions,
                             size_t n)
{
    size_t kept = 0, dropped;

    for (size_t i = 0; i < b->n; i++) {
        struct batch_entry *e = &b->entries[i];

        if (listed(e->partition, partitions, n))
            free_dead(e);
        else
            b->entries[kept++] = *e;
    }
    dropped = b->n - kept;
    b->n = kept;
    if (kept == 0)
        batch_clear(b);
    return dropped;
}

void batch_swap(struct batch *a, struct batch *b)
{
    struct batch t = *a;

    *a = *b;
    *b = t;
}

struct partition_offset *batch_offsets(const struct batch *b, size_t *n)
{
    struct partition_offset *out;
    size_t count = 0;

    *n = 0;
    if (b->n == 0 || (out = malloc(b->n * sizeof(*out))) == NULL)
        return NULL;
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_entry *e = &b->entries[i];
        size_t p;

        for (p = 0; p < count && out[p].partition != e->partition; p++)
            ;
        if (p == count) {
            out[count].partition = e->partition;
            out[count].next = e->offset + 1;
            count++;
        } else if (e->offset + 1 > out[p].next) {
            out[p].next = e->offset + 1;
        }
    }
    *n = count;
    return out;
}

size_t batch_count(const struct batch *b, enum entry_kind kind, enum verdict verdict)
{
    size_t count = 0;

    for (size_t i = 0; i < b->n; i++)
        if (b->entries[i].kind == kind
            && (kind == ENTRY_DEAD || b->entries[i].verdict == verdict))
            count++;
    return count;
}

static int selected(const struct batch_entry *e, enum batch_select sel)
{
    return e->kind == ENTRY_ORDER && (sel == SELECT_ORDERS || e->verdict == VERDICT_CLAIMED);
}

int batch_by_course(const struct batch *b, enum batch_select sel,
                    struct course_order **out, size_t *n)
{
    struct course_order *o;
    size_t count = 0;

    *out = NULL;
    *n = 0;
    for (size_t i = 0; i < b->n; i++)
        count += selected(&b->entries[i], sel);
    if (count == 0)
        return 0;
    if ((o = malloc(count * sizeof(*o))) == NULL)
        return -1;
    count = 0;
    for (size_t i = 0; i < b->n; i++) {
        if (selected(&b->entries[i], sel)) {
            o[count].course_id = b->entries[i].ev.course_id;
            o[count].entry = i;
            count++;
        }
    }
    course_orders_sort(o, count);
    *out = o;
    *n = count;
    return 0;
}

void sqlbuf_free(struct sqlbuf *sql)
{
    free(sql->p);
    sql->p = NULL;
    sql->len = sql->cap = 0;
}

#define INSERT_HEAD "INSERT INTO orders (order_id, course_id, user_id, created_at) VALUES "
/* Not INSERT IGNORE, which would also turn real errors into warnings. */
#define INSERT_TAIL " ON DUPLICATE KEY UPDATE order_id = order_id"
/* ",(" + three 64-bit numbers + a signed one + three commas + ")". */
#define ROW_MAX (2 + 3 * 20 + 20 + 3 + 1)

long sql_insert_orders(struct sqlbuf *sql, const struct batch *b)
{
    size_t rows = batch_count(b, ENTRY_ORDER, VERDICT_CLAIMED);
    size_t need = sizeof(INSERT_HEAD) + sizeof(INSERT_TAIL) + rows * ROW_MAX;
    long written = 0;

    sql->len = 0;
    if (rows == 0)
        return 0;
    if (need > sql->cap) {
        char *bigger = realloc(sql->p, need);

        if (bigger == NULL)
            return -1;
        sql->p = bigger;
        sql->cap = need;
    }
    memcpy(sql->p, INSERT_HEAD, sizeof(INSERT_HEAD) - 1);
    sql->len = sizeof(INSERT_HEAD) - 1;
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_entry *e = &b->entries[i];

        if (e->kind != ENTRY_ORDER || e->verdict != VERDICT_CLAIMED)
            continue;
        sql->len += (size_t)snprintf(sql->p + sql->len, sql->cap - sql->len,
                                     "%s(%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRId64 ")",
                                     written ? "," : "", e->ev.order_id,
                                     e->ev.course_id, e->ev.user_id, e->ev.ts);
        written++;
    }
    memcpy(sql->p + sql->len, INSERT_TAIL, sizeof(INSERT_TAIL));
    sql->len += sizeof(INSERT_TAIL) - 1;
    return written;
}
