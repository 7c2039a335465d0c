/* The daemon's metrics file (metrics.h). */
#include "metrics.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "stock.h"

/* Often enough for a scrape every 15 s, rare enough to cost nothing. */
#define METRICS_EVERY_MS 5000

/* Up to a few times batch_size: a batch grows past it while one is retried. */
static const uint64_t batch_bounds[] = {
    1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000
};

/* Microseconds: durable commits take a disk flush, milliseconds. */
static const uint64_t commit_bounds[] = {
    1000, 2000, 5000, 10000, 20000, 50000, 100000, 200000, 500000, 1000000,
    2000000, 5000000
};

static void histogram_init(struct histogram *h, const uint64_t *bounds, size_t n, uint64_t unit)
{
    memset(h, 0, sizeof(*h));
    h->bounds = bounds;
    h->n = n;
    h->unit = unit;
}

static void observe(struct histogram *h, uint64_t v)
{
    size_t i = 0;

    while (i < h->n && v > h->bounds[i])
        i++;
    h->counts[i]++;
    h->sum += v;
}

void metrics_init(struct metrics *m, const char *path, const struct seckill_config *cfg)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->path, sizeof(m->path), "%s", path);
    m->cfg = cfg;
    histogram_init(&m->batch_events, batch_bounds, sizeof(batch_bounds) / sizeof(batch_bounds[0]), 1);
    histogram_init(&m->commit, commit_bounds, sizeof(commit_bounds) / sizeof(commit_bounds[0]), 1000000);
}

void metrics_batch(struct metrics *m, const struct batch *b, int64_t insert_us)
{
    uint64_t orders = batch_count(b, ENTRY_ORDER, VERDICT_CLAIMED);

    if (b->n == 0)
        return;
    m->events += b->n;
    m->orders += orders;
    m->new_rows += b->new_rows;
    m->dropped += batch_count(b, ENTRY_ORDER, VERDICT_DROPPED);
    m->dead_letters += batch_count(b, ENTRY_DEAD, VERDICT_UNKNOWN);
    m->last_batch = b->n;
    observe(&m->batch_events, b->n);
    if (orders > 0 && insert_us > 0)
        observe(&m->commit, (uint64_t)insert_us);
}

/* Messages on the broker not yet handed to the daemon, over its partitions,
 * from what librdkafka last heard (the high watermark comes with every fetch
 * response). A partition nothing was read from since it was assigned has no
 * position yet and counts 0: an idle one is caught up, and one with a
 * backlog gets a position with its first message. */
static int64_t lag(struct source *src, int *assigned)
{
    rd_kafka_topic_partition_list_t *parts = NULL;
    int64_t total = 0;

    *assigned = 0;
    if (rd_kafka_assignment(src->consumer, &parts) != RD_KAFKA_RESP_ERR_NO_ERROR || parts == NULL)
        return 0;
    *assigned = parts->cnt;
    if (rd_kafka_position(src->consumer, parts) == RD_KAFKA_RESP_ERR_NO_ERROR) {
        for (int i = 0; i < parts->cnt; i++) {
            const rd_kafka_topic_partition_t *p = &parts->elems[i];
            int64_t low, high;

            if (p->offset < 0
                || rd_kafka_get_watermark_offsets(src->consumer, p->topic, p->partition, &low, &high)
                       != RD_KAFKA_RESP_ERR_NO_ERROR
                || high < p->offset)
                continue;
            total += high - p->offset;
        }
    }
    rd_kafka_topic_partition_list_destroy(parts);
    return total;
}

static void write_histogram(FILE *f, const char *name, const char *help, const struct histogram *h)
{
    uint64_t cumulative = 0;

    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < h->n; i++) {
        cumulative += h->counts[i];
        if (h->unit == 1)
            fprintf(f, "%s_bucket{le=\"%" PRIu64 "\"} %" PRIu64 "\n", name, h->bounds[i], cumulative);
        else
            fprintf(f, "%s_bucket{le=\"%g\"} %" PRIu64 "\n", name,
                    (double)h->bounds[i] / (double)h->unit, cumulative);
    }
    cumulative += h->counts[h->n];
    fprintf(f, "%s_bucket{le=\"+Inf\"} %" PRIu64 "\n", name, cumulative);
    if (h->unit == 1)
        fprintf(f, "%s_sum %" PRIu64 "\n", name, h->sum);
    else
        fprintf(f, "%s_sum %" PRIu64 ".%06" PRIu64 "\n", name, h->sum / h->unit, h->sum % h->unit);
    fprintf(f, "%s_count %" PRIu64 "\n", name, cumulative);
}

static void write_counter(FILE *f, const char *name, const char *help, uint64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %" PRIu64 "\n", name, help, name, name, v);
}

static void write_gauge(FILE *f, const char *name, const char *help, int64_t v)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s gauge\n%s %" PRId64 "\n", name, help, name, name, v);
}

void metrics_close(struct metrics *m)
{
    redis_close(&m->redis);
}

/* Each listed course's seats: total, remaining and pending, from Redis (sold
 * = total - remaining). Nothing when Redis cannot be read, and not the
 * courses of a cluster master that cannot: the rest of the file still goes
 * out, and the failure is logged once. */
static void write_courses(FILE *f, struct metrics *m)
{
    struct course_stock *c;
    size_t n;
    int rc;

    if (m->cfg == NULL)
        return;
    /* The daemon's loop waits for this read: a slow Redis costs it a second
     * at most every METRICS_EVERY_MS. */
    rc = redis_ready(&m->redis, m->cfg, 1, NULL, 0) != 0 ? -1
         : stock_catalogue(&m->redis, METRICS_MAX_COURSES, &c, &n);
    if (rc != 0 && !m->redis_failing)
        log_warn("metrics: %s seats not written: %s", rc < 0 ? "courses'" : "some courses'", m->redis.err);
    if (rc < 0) {
        m->redis_failing = 1;
        redis_close(&m->redis);
        return;
    }
    if (rc == 0 && m->redis_failing)
        log_info("metrics: courses' seats written again");
    m->redis_failing = rc != 0;
    fprintf(f, "# HELP seckill_course_seats Seats of each course on sale, from Redis: total, remaining "
            "and pending (reserved, not yet persisted); sold = total - remaining.\n"
            "# TYPE seckill_course_seats gauge\n");
    for (size_t i = 0; i < n; i++) {
        if (c[i].total < 0 || c[i].remaining < 0)
            continue;       /* listed without a whole hash: being loaded, or unread */
        fprintf(f, "seckill_course_seats{course=\"%" PRIu64 "\",state=\"total\"} %" PRId64 "\n"
                "seckill_course_seats{course=\"%" PRIu64 "\",state=\"remaining\"} %" PRId64 "\n"
                "seckill_course_seats{course=\"%" PRIu64 "\",state=\"pending\"} %" PRIu64 "\n",
                c[i].id, c[i].total, c[i].id, c[i].remaining, c[i].id, c[i].pending);
    }
    free(c);
}

/* Into path.tmp, then renamed over path: node_exporter reads only *.prom. */
static int write_file(struct metrics *m, struct source *src, char *why, size_t whylen)
{
    char tmp[PATH_MAX + 8];
    int assigned, failed;
    int64_t behind = lag(src, &assigned);
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", m->path) >= (int)sizeof(tmp)) {
        snprintf(why, whylen, "path too long");
        return -1;
    }
    if ((f = fopen(tmp, "w")) == NULL) {
        snprintf(why, whylen, "cannot create %s: %s", tmp, strerror(errno));
        return -1;
    }
    write_gauge(f, "seckill_consumer_lag",
                "Order events on the broker not yet read, over the assigned partitions.", behind);
    write_gauge(f, "seckill_consumer_assigned_partitions",
                "Partitions of the order topic assigned to this consumer.", assigned);
    write_gauge(f, "seckill_consumer_paused",
                "1 while a failed batch is retried and consumption is paused.", src->paused);
    write_gauge(f, "seckill_consumer_batch_size", "Events in the last batch.", (int64_t)m->last_batch);
    write_histogram(f, "seckill_consumer_batch_events", "Events per batch.", &m->batch_events);
    write_histogram(f, "seckill_consumer_commit_seconds",
                    "MariaDB transaction of a batch's orders: the INSERT and its COMMIT.", &m->commit);
    write_counter(f, "seckill_consumer_events_total", "Kafka messages persisted or dead-lettered.",
                  m->events);
    write_counter(f, "seckill_consumer_orders_total", "Orders claimed and written to MariaDB.",
                  m->orders);
    write_counter(f, "seckill_consumer_new_rows_total",
                  "Order rows new to MariaDB (a redelivered order adds none).", m->new_rows);
    write_counter(f, "seckill_consumer_dropped_total",
                  "Orders dropped: their reservation was released by the producer side.", m->dropped);
    write_counter(f, "seckill_consumer_dead_letters_total",
                  "Malformed messages sent to the dead-letter topic.", m->dead_letters);
    write_courses(f, m);
    failed = ferror(f);
    if (fclose(f) != 0 || failed) {
        snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, m->path) != 0) {
        snprintf(why, whylen, "cannot rename %s to %s: %s", tmp, m->path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

void metrics_write(struct metrics *m, struct source *src)
{
    char why[PATH_MAX * 2 + 128];

    if (m->path[0] == '\0')
        return;
    if (write_file(m, src, why, sizeof(why)) != 0) {
        /* Once, not every few seconds. */
        if (!m->failing)
            log_warn("metrics: %s; retrying every %d s", why, METRICS_EVERY_MS / 1000);
        m->failing = 1;
    } else if (m->failing) {
        log_info("metrics: %s written again", m->path);
        m->failing = 0;
    }
}

void metrics_tick(struct metrics *m, struct source *src, int64_t now)
{
    if (now < m->next_write)
        return;
    m->next_write = now + METRICS_EVERY_MS;
    metrics_write(m, src);
}
