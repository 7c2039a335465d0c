/* The daemon's metrics: how far behind it is, how big its batches are, how
 * long their MariaDB transactions take, and what became of the events.
 *
 * They are written as a file in Prometheus' text format (`stats_file`),
 * replaced every few seconds by rename(2), so a reader never sees half of
 * one. A file and not an HTTP endpoint: the daemon has no HTTP server and
 * should not grow one for this; node_exporter's textfile collector reads
 * exactly this format from a directory (and exports the file's mtime, so a
 * daemon that stopped writing shows); and in a scale-out every consumer
 * would need a port of its own, where a file only needs a name of its own
 * (one per config file, like its log). */
#ifndef SECKILL_METRICS_H
#define SECKILL_METRICS_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "source.h"
#include "redis.h"

#define METRICS_MAX_BUCKETS 16
/* Courses whose seats the file shows at most (the first by id). */
#define METRICS_MAX_COURSES 1000

/* Counts per bucket (not cumulative) and their sum, in whole units: events,
 * or microseconds shown as seconds. */
struct histogram {
    const uint64_t *bounds;
    size_t n;
    uint64_t unit;                  /* bounds and sum / unit = the value */
    uint64_t counts[METRICS_MAX_BUCKETS + 1];     /* the last: +Inf */
    uint64_t sum;
};

struct metrics {
    char path[PATH_MAX];            /* "" when off */
    int64_t next_write;             /* monotonic ms */
    int failing;                    /* the last write failed (logged) */
    uint64_t events, orders, new_rows, dropped, dead_letters;
    uint64_t last_batch;            /* events in the last batch */
    struct histogram batch_events;
    struct histogram commit;        /* microseconds */
    /* The sale's live view: each course's seats, read from Redis on a
     * connection of its own at every write (every 5 s, whoever scrapes
     * the file and how often). */
    const struct seckill_config *cfg;
    struct redis redis;
    int redis_failing;
};

/* path: where the file goes, "" for none; cfg: the Redis to read the
 * courses' seats from. */
void metrics_init(struct metrics *m, const char *path, const struct seckill_config *cfg);

/* Closes what metrics_init() and the writes opened. */
void metrics_close(struct metrics *m);

/* A batch went through every stage; insert_us is how long its MariaDB
 * transaction took in this attempt (0: it ran in an earlier one, or the
 * batch had no order to insert). */
void metrics_batch(struct metrics *m, const struct batch *b, int64_t insert_us);

/* Writes the file when it is due (now: monotonic ms). Never waits for the
 * broker: the lag comes from the offsets and watermarks librdkafka caches. */
void metrics_tick(struct metrics *m, struct source *src, int64_t now);

/* Writes it now (at exit: the final counts). */
void metrics_write(struct metrics *m, struct source *src);

#endif
