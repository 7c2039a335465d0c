/* A batch: the Kafka messages the daemon persists together, in the order it
 * received them, and the pure logic around it: when it is due, which offsets
 * it commits, which entries go when a partition is taken away, how its orders
 * are grouped into Redis script calls, and the one INSERT that writes them.
 *
 * A batch moves through the stages of batch_stage in order; each stage can be
 * retried after a failure because each is idempotent (see main.c). */
#ifndef SECKILL_BATCH_H
#define SECKILL_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "event.h"

enum entry_kind {
    ENTRY_ORDER,        /* a well-formed order event */
    ENTRY_DEAD          /* malformed: bound for the dead-letter topic */
};

/* What the claim script answered for an order. */
enum verdict {
    VERDICT_UNKNOWN,    /* not claimed yet */
    VERDICT_CLAIMED,    /* insert it */
    VERDICT_DROPPED     /* released by the producer side: never insert */
};

/* A malformed message, copied out of librdkafka's buffers. */
struct dead_letter {
    void *key, *value;
    size_t key_len, value_len;
    char reason[EVENT_REASON_MAX];
    int acked;          /* the dead-letter topic has it */
};

struct batch_entry {
    int32_t partition;
    int64_t offset;
    enum entry_kind kind;
    struct order_event ev;          /* ENTRY_ORDER */
    enum verdict verdict;           /* ENTRY_ORDER */
    struct dead_letter *dead;       /* ENTRY_DEAD, owned by the batch */
};

enum batch_stage {
    STAGE_DEAD_LETTERS,     /* produce the malformed ones, wait for the acks */
    STAGE_CLAIM,            /* claim script on every order */
    STAGE_INSERT,           /* one INSERT of the claimed orders, COMMIT */
    STAGE_CONFIRM,          /* confirm script on every claimed order */
    STAGE_OFFSETS,          /* commit the Kafka offsets */
    STAGE_DONE
};

struct batch {
    struct batch_entry *entries;
    size_t n, cap;
    size_t limit;               /* full at this many entries */
    int64_t max_age_ms;         /* due when the first entry is this old */
    int64_t opened_at;          /* monotonic ms of the first entry */
    enum batch_stage stage;
    uint64_t new_rows;          /* the insert stage's count of new orders */
};

/* The next offset to consume of one partition: what a commit stores. */
struct partition_offset {
    int32_t partition;
    int64_t next;
};

void batch_init(struct batch *b, size_t limit, int max_age_ms);
void batch_free(struct batch *b);

/* Appends an entry; a batch grows past its limit when asked (the caller
 * decides when to stop adding). now is the monotonic clock in ms. Return 0,
 * or -1 when out of memory. */
int batch_add_order(struct batch *b, int32_t partition, int64_t offset,
                    const struct order_event *ev, int64_t now);
int batch_add_dead(struct batch *b, int32_t partition, int64_t offset,
                   const void *key, size_t key_len,
                   const void *value, size_t value_len,
                   const char *reason, int64_t now);

int batch_full(const struct batch *b);
int batch_due(const struct batch *b, int64_t now);

/* How long a poll may wait before the batch is due; idle_ms when it is
 * empty. */
int batch_wait_ms(const struct batch *b, int64_t now, int idle_ms);

/* Empties the batch and sets it back to its first stage. */
void batch_clear(struct batch *b);

/* Removes the entries of the given partitions, keeping the others in order.
 * Returns how many went. An emptied batch is cleared. */
size_t batch_drop_partitions(struct batch *b, const int32_t *partitions,
                             size_t n);

/* Exchanges the contents of two batches. */
void batch_swap(struct batch *a, struct batch *b);

/* Per partition of the batch, in order of first appearance, one past its
 * highest offset. Returns a malloc'd array of *n entries (NULL with *n = 0
 * for an empty batch or when out of memory: check b->n). */
struct partition_offset *batch_offsets(const struct batch *b, size_t *n);

size_t batch_count(const struct batch *b, enum entry_kind kind, enum verdict verdict);

/* Which orders a Redis script takes (arbiter.c): claim every order, confirm
 * the claimed ones. */
enum batch_select {
    SELECT_ORDERS,
    SELECT_CLAIMED
};

/* The selected orders grouped by course for the script calls (call.h):
 * sorted by course id and, within a course, in batch order; entry is the
 * index in b->entries. Sets *out to a malloc'd array of *n elements (NULL
 * when none is selected). Returns 0, or -1 when out of memory. */
int batch_by_course(const struct batch *b, enum batch_select sel,
                    struct course_order **out, size_t *n);

/* A growing buffer for the INSERT statement, reused batch after batch. */
struct sqlbuf {
    char *p;
    size_t len, cap;
};

void sqlbuf_free(struct sqlbuf *sql);

/* Writes into sql the multi-row INSERT of the batch's claimed orders. An
 * order already there (same order_id, or the same user in the same course)
 * is left as it is: on a redelivery the statement is a no-op. Returns the
 * number of rows (0: no statement needed), or -1 when out of memory. */
long sql_insert_orders(struct sqlbuf *sql, const struct batch *b);

#endif
