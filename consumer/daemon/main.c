/* seckill-consumer: persists the order events of the Kafka topic to MariaDB.
 *
 * Each batch goes through the stages of batch.h in order:
 *   dead letters  malformed messages to dlq_topic, acknowledged
 *   claim         the arbiter's claim script per order (Redis); "dropped"
 *                 orders were released by the producer side: not inserted
 *   insert        one multi-row INSERT of the claimed orders, COMMIT
 *   confirm       the confirm script per claimed order (Redis)
 *   offsets       the batch's Kafka offsets, committed synchronously
 * Every stage is idempotent, and the offsets go last: a crash anywhere
 * before them gets the batch delivered again, where claim answers "claimed"
 * for an order already claimed or confirmed, the UNIQUE keys make the
 * INSERT a no-op and confirm sets success again. Confirming before the
 * commit of the offsets is what keeps a crash from leaving an order
 * persisted but "claimed" for good.
 *
 * When a stage fails (MariaDB, Redis or Kafka away) the daemon pauses its
 * partitions, retries the batch with a capped exponential backoff while
 * still polling the consumer (heartbeats, rebalances) and resumes when the
 * batch goes through. SIGTERM or SIGINT: finish the batch in hand, leave
 * the group, exit 0; a second one abandons the batch (its offsets are not
 * committed: it is delivered again). SIGHUP reopens the log file. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <mysql.h>

#include "arbiter.h"
#include "backoff.h"
#include "batch.h"
#include "clock.h"
#include "config.h"
#include "event.h"
#include "log.h"
#include "metrics.h"
#include "sink.h"
#include "source.h"
#include "sweeper.h"

#define EXIT_RUNTIME 1
#define EXIT_USAGE 2
/* Longest poll when nothing is batched: how soon a signal is noticed. */
#define IDLE_POLL_MS 500
#define REPORT_EVERY_MS 10000

static const char usage_text[] =
    "usage: seckill-consumer [-c FILE] [-f] [--log-file FILE] [--pid-file FILE] [-v]\n"
    "\n"
    "Consumes the order events of `topic` in consumer group `group_id`, writes\n"
    "them to MariaDB in batches (batch_size, batch_ms), confirms them in Redis,\n"
    "then commits their offsets. Malformed events go to `dlq_topic`. Stays in\n"
    "the foreground; SIGTERM/SIGINT finish the batch in hand and exit 0, a\n"
    "second signal exits at once (the batch is delivered again); SIGHUP\n"
    "reopens the log file.\n"
    "\n"
    "Options:\n"
    "  -c FILE           config file (default: $SECKILL_CONF, else conf/consumer.conf)\n"
    "  -f, --foreground  log to stderr instead of the config's log_file\n"
    "  --log-file FILE   log to FILE instead of the config's log_file\n"
    "  --pid-file FILE   write the process id to FILE, removed at exit\n"
    "  -v, --verbose     log every batch (debug level)\n"
    "  -h, --help        this help\n"
    "\n"
    "Exit status: 0 stopped by a signal, 1 failed (the message says why), 2 usage\n"
    "error.\n";

static volatile sig_atomic_t stop_signals;
static volatile sig_atomic_t reopen_log;

static const char *const stage_names[] = {
    [STAGE_DEAD_LETTERS] = "dead letters (Kafka)",
    [STAGE_CLAIM] = "claim (Redis)",
    [STAGE_INSERT] = "insert (MariaDB)",
    [STAGE_CONFIRM] = "confirm (Redis)",
    [STAGE_OFFSETS] = "offset commit (Kafka)",
    [STAGE_DONE] = "done",
};

struct counts {
    uint64_t events, claimed, new_rows, dropped, dead, batches;
};

/* Two batches, and a batch changes hands at one place, hand_over():
 *
 *   message --take()--> filling --hand_over()--> in hand --stages--> done
 *
 * Messages always go into the filling batch. When it is due (full or old
 * enough) and nothing is in hand, it becomes the batch in hand, which goes
 * through its stages, attempt after attempt, until it is done; only then
 * may the next one be handed over. Entries leave a batch otherwise only
 * when their partitions are revoked, or all of them on a second stop
 * signal or an error, and never with a commit. */
struct daemon {
    struct seckill_config cfg;
    struct source src;
    struct sink sink;
    struct arbiter arbiter;
    struct metrics metrics; /* the metrics file (metrics.h) */
    struct sweeper sweeper; /* orphaned reservations (sweeper.h) */
    struct batch filling;   /* what comes in */
    struct batch in_hand;   /* going through its stages */
    unsigned retries;       /* failed attempts at the batch in hand */
    int64_t handed_at;      /* monotonic ms: when it was handed over */
    int64_t retry_at;       /* monotonic ms of its next attempt */
    const char *why;        /* the error of the last failed stage */
    struct counts total, window;
    int64_t window_start;
};

static void on_stop(int sig)
{
    (void)sig;
    stop_signals++;
}

static void on_hup(int sig)
{
    (void)sig;
    reopen_log = 1;
}

static void add_counts(struct counts *to, const struct counts *c)
{
    to->events += c->events;
    to->claimed += c->claimed;
    to->new_rows += c->new_rows;
    to->dropped += c->dropped;
    to->dead += c->dead;
    to->batches += c->batches;
}

/* A message into the filling batch: an order, or a dead letter with the
 * reason. Returns -1 when out of memory. */
static int take(struct daemon *d, rd_kafka_message_t *m)
{
    struct order_event ev;
    char why[EVENT_REASON_MAX];

    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
            log_warn("kafka: %s%s%s", m->rkt ? rd_kafka_topic_name(m->rkt) : "",
                     m->rkt ? ": " : "", rd_kafka_message_errstr(m));
        return 0;
    }
    if (event_parse(m->key, m->key_len, m->payload, m->len, &ev, why) == 0) {
        sweeper_observe(&d->sweeper, ev.course_id, m->partition);
        return batch_add_order(&d->filling, m->partition, m->offset, &ev, mono_ms());
    }
    log_warn("%s[%" PRId32 "] offset %" PRId64 ": malformed event, to %s: %s",
             rd_kafka_topic_name(m->rkt), m->partition, m->offset, d->cfg.dlq_topic, why);
    return batch_add_dead(&d->filling, m->partition, m->offset, m->key, m->key_len,
                          m->payload, m->len, why, mono_ms());
}

/* The filling batch becomes the batch in hand, due for its first attempt
 * now. Only when nothing is in hand: the one before is done. */
static void hand_over(struct daemon *d, int64_t now)
{
    batch_swap(&d->in_hand, &d->filling);
    d->retries = 0;
    d->handed_at = now;
    d->retry_at = now;
}

/* Lets go of everything batched, committing nothing: whoever owns the
 * partitions next gets the events again. Returns how many went. */
static size_t let_go(struct daemon *d)
{
    size_t n = d->in_hand.n + d->filling.n;

    batch_clear(&d->in_hand);
    batch_clear(&d->filling);
    return n;
}

static void log_dropped(const struct batch *b)
{
    for (size_t i = 0; i < b->n; i++) {
        const struct batch_entry *e = &b->entries[i];

        if (e->kind == ENTRY_ORDER && e->verdict == VERDICT_DROPPED)
            log_info("order %" PRIu64 " (course %" PRIu64 ", user %" PRIu64 ") dropped: "
                     "its reservation was released by the producer side", e->ev.order_id,
                     e->ev.course_id, e->ev.user_id);
    }
}

/* One attempt at the stages the batch in hand has left. Returns 0 when it
 * is done (and cleared), -1 with d->why set. */
static int flush_once(struct daemon *d)
{
    struct batch *b = &d->in_hand;
    struct counts c = { 0 };
    int64_t spent[STAGE_DONE] = { 0 };
    size_t gone;

    while (b->n > 0 && b->stage != STAGE_DONE) {
        int64_t t0 = mono_us();

        switch (b->stage) {
        case STAGE_DEAD_LETTERS:
            if (source_dead_letters(&d->src, b) != 0) {
                d->why = d->src.err;
                return -1;
            }
            break;
        case STAGE_CLAIM:
            if (arbiter_claim(&d->arbiter, b) != 0) {
                d->why = d->arbiter.redis.err;
                return -1;
            }
            log_dropped(b);
            break;
        case STAGE_INSERT:
            if (sink_write(&d->sink, b, &b->new_rows) != 0) {
                d->why = d->sink.db.err;
                return -1;
            }
            break;
        case STAGE_CONFIRM:
            if (arbiter_confirm(&d->arbiter, b, &gone) != 0) {
                d->why = d->arbiter.redis.err;
                return -1;
            }
            if (gone > 0)
                log_warn("%zu order(s) persisted but not confirmed: their status key names "
                         "another order or none (a `seckill reset` meanwhile?)", gone);
            break;
        case STAGE_OFFSETS: {
            size_t n;
            struct partition_offset *offsets = batch_offsets(b, &n);

            /* The orders are durable and confirmed: a failed commit only
             * means a redelivery, which changes nothing. Retrying would not
             * help when the group took the partitions meanwhile. */
            if (offsets == NULL)
                log_warn("out of memory listing the offsets of a batch; not committed "
                         "(the batch will be delivered again after a restart)");
            else if (source_commit(&d->src, offsets, n) != 0)
                log_warn("%s; the batch's orders are persisted, so a redelivery changes nothing", d->src.err);
            free(offsets);
            break;
        }
        case STAGE_DONE:
            break;
        }
        spent[b->stage] = mono_us() - t0;
        b->stage++;
    }
    c.events = b->n;
    c.new_rows = b->new_rows;
    c.claimed = batch_count(b, ENTRY_ORDER, VERDICT_CLAIMED);
    c.dropped = batch_count(b, ENTRY_ORDER, VERDICT_DROPPED);
    c.dead = batch_count(b, ENTRY_DEAD, VERDICT_UNKNOWN);
    c.batches = b->n > 0;
    log_debug("batch: %" PRIu64 " events, %" PRIu64 " claimed (%" PRIu64 " new rows), %" PRIu64
              " dropped, %" PRIu64 " dead letters; ms: dead letters %.1f, claim %.1f, insert %.1f,"
              " confirm %.1f, offsets %.1f", c.events, c.claimed, c.new_rows, c.dropped, c.dead,
              spent[STAGE_DEAD_LETTERS] / 1e3, spent[STAGE_CLAIM] / 1e3, spent[STAGE_INSERT] / 1e3,
              spent[STAGE_CONFIRM] / 1e3, spent[STAGE_OFFSETS] / 1e3);
    add_counts(&d->window, &c);
    metrics_batch(&d->metrics, b, spent[STAGE_INSERT]);
    batch_clear(b);
    return 0;
}

/* An attempt at the batch in hand. A failure pauses consumption (the batch
 * holds the partitions' next offsets) and sets the next attempt after the
 * backoff; consumption resumes in run() once the batch is done. */
static void attempt(struct daemon *d)
{
    unsigned delay;

    if (flush_once(d) == 0)
        return;
    if (!d->src.paused) {
        source_pause(&d->src);
        log_warn("pausing consumption: a batch of %zu events failed at stage %s",
                 d->in_hand.n, stage_names[d->in_hand.stage]);
    }
    delay = backoff_ms(d->retries);
    log_warn("%s; retry %u in %u ms (%zu events waiting, no offset committed)",
             d->why, d->retries + 1, delay, d->in_hand.n + d->filling.n);
    d->retries++;
    d->retry_at = mono_ms() + delay;
}

/* Kafka's turn: heartbeats, rebalances (on_revoke() runs in here) and at
 * most one message, into the filling batch. Returns -1 when it could not
 * be held. */
static int poll_once(struct daemon *d, int timeout_ms)
{
    rd_kafka_message_t *m = source_poll(&d->src, timeout_ms);
    int rc;

    if (m == NULL)
        return 0;
    rc = take(d, m);
    rd_kafka_message_destroy(m);
    /* Paused: the batch in hand is failing. Partitions assigned meanwhile
     * are paused already; this covers anything fetched before a pause took
     * effect. */
    if (d->src.paused)
        source_pause(&d->src);
    return rc;
}

/* The consumer is about to lose these partitions (called from inside
 * source_poll(), before they go): get what is batched through while they
 * are ours, else forget their events without committing anything, so that
 * their next owner gets them again. Only one attempt: the rebalance waits
 * for us. */
static void on_revoke(void *opaque, const int32_t *partitions, size_t n, int lost)
{
    struct daemon *d = opaque;
    size_t dropped;

    if (stop_signals < 2) {
        if (d->in_hand.n == 0 && d->filling.n > 0)
            hand_over(d, mono_ms());
        if (d->in_hand.n > 0 && flush_once(d) != 0)
            log_warn("rebalance: the batch in hand failed at stage %s: %s",
                     stage_names[d->in_hand.stage], d->why);
    }
    if (n == 0 && lost)
        dropped = let_go(d);
    else
        dropped = batch_drop_partitions(&d->in_hand, partitions, n)
                + batch_drop_partitions(&d->filling, partitions, n);
    if (dropped > 0)
        log_warn("rebalance: let go of %zu event(s) of the revoked partitions, offsets not "
                 "committed: their next owner gets them again", dropped);
}

static void report(struct daemon *d, int64_t now, int force)
{
    struct counts *w = &d->window;
    double secs = (double)(now - d->window_start) / 1000;

    if (!force && now - d->window_start < REPORT_EVERY_MS)
        return;
    if (w->events > 0)
        log_info("%" PRIu64 " events in %.1f s (%.0f/s): %" PRIu64 " orders persisted (%" PRIu64
                 " new rows), %" PRIu64 " dropped, %" PRIu64 " dead letters, %" PRIu64 " batches",
                 w->events, secs, secs > 0 ? (double)w->events / secs : 0.0, w->claimed,
                 w->new_rows, w->dropped, w->dead, w->batches);
    add_counts(&d->total, w);
    memset(w, 0, sizeof(*w));
    d->window_start = now;
}

static void reopen(void)
{
    char err[PATH_MAX + 128];

    reopen_log = 0;
    if (log_reopen(err, sizeof(err)) != 0)
        log_error("%s; still logging to the old file", err);
    else
        log_info("log file reopened");
}

/* The daemon's loop. Each turn does the first of these that applies (the
 * stop column counts stop signals; a second one leaves the loop at once):
 *
 *   batch in hand      filling batch   stop   action
 *   its attempt due    any             0, 1   attempt()
 *   waiting to retry   any             0, 1   poll until the retry is due
 *   none               due             0      hand_over()
 *   none               not empty       1      hand_over(): finish it first
 *   none               empty           1      leave the loop
 *   none               empty           0      sweep, when one is due
 *   none               not due         0      poll until it is due
 *
 * Returns 0, or EXIT_RUNTIME when a message could not be held: everything
 * batched is let go then, since going on would commit a later offset of
 * its partition and skip it. */
static int run(struct daemon *d)
{
    int told_stop = 0;

    d->window_start = mono_ms();
    while (stop_signals < 2) {
        int64_t now = mono_ms(), wait;
        int polled = 0;

        if (reopen_log)
            reopen();
        if (stop_signals && !told_stop) {
            log_info("stop signal: %s", d->in_hand.n + d->filling.n > 0
                     ? "finishing the batch in hand (a second signal abandons it)" : "leaving the group");
            told_stop = 1;
        }
        if (d->in_hand.n == 0 && d->src.paused) {
            source_resume(&d->src);
            log_info("resuming consumption: the batch in hand is done after %u retries in %.1f s",
                     d->retries, (double)(now - d->handed_at) / 1000);
        }
        if (d->in_hand.n > 0 && now >= d->retry_at) {
            attempt(d);
        } else if (d->in_hand.n > 0) {
            wait = d->retry_at - now;
            polled = poll_once(d, wait < IDLE_POLL_MS ? (int)wait : IDLE_POLL_MS);
        } else if (d->filling.n > 0 && (stop_signals || batch_due(&d->filling, now))) {
            hand_over(d, now);
        } else if (stop_signals) {
            break;
        } else if (d->filling.n == 0 && sweeper_due(&d->sweeper, now)) {
            /* Between batches: a sweep's round trips delay no order. */
            sweeper_run(&d->sweeper, d->src.consumer, now);
        } else {
            polled = poll_once(d, batch_wait_ms(&d->filling, now, IDLE_POLL_MS));
        }
        if (polled != 0) {
            log_error("out of memory holding a batch of %zu events; exiting (nothing is lost: "
                      "the uncommitted events are delivered again)", d->filling.n);
            let_go(d);
            return EXIT_RUNTIME;
        }
        report(d, now, 0);
        /* Also while a batch is retried: an outage is when the lag and the
         * pause matter most. */
        metrics_tick(&d->metrics, &d->src, now);
    }
    if (d->in_hand.n + d->filling.n > 0)
        log_warn("second stop signal: abandoning %zu event(s)%s%s; their offsets are not "
                 "committed, so they are delivered again", d->in_hand.n + d->filling.n,
                 d->in_hand.n > 0 ? ", the batch in hand at stage " : "",
                 d->in_hand.n > 0 ? stage_names[d->in_hand.stage] : "");
    let_go(d);
    report(d, mono_ms(), 1);
    return 0;
}

static int write_pid_file(const char *path)
{
    char tmp[PATH_MAX];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp)
        || (f = fopen(tmp, "w")) == NULL)
        return -1;
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* Only our own: a newer instance may have written its pid meanwhile. */
static void remove_pid_file(const char *path)
{
    FILE *f = fopen(path, "r");
    long pid = 0;

    if (f == NULL)
        return;
    if (fscanf(f, "%ld", &pid) == 1 && pid == (long)getpid())
        unlink(path);
    fclose(f);
}

static int usage_error(const char *what, const char *arg)
{
    fprintf(stderr, "seckill-consumer: %s '%s'\n%s", what, arg, usage_text);
    return EXIT_USAGE;
}

int main(int argc, char **argv)
{
    enum { OPT_LOG_FILE = 256, OPT_PID_FILE };
    static const struct option options[] = {
        { "foreground", no_argument, NULL, 'f' },
        { "log-file", required_argument, NULL, OPT_LOG_FILE },
        { "pid-file", required_argument, NULL, OPT_PID_FILE },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    static struct daemon d;     /* large: not on the stack */
    const char *conf_path = NULL, *log_file = NULL, *pid_file = NULL;
    char err[PATH_MAX + 512], redis[1024];
    int opt, to_stderr = 0, verbose = 0, rc;
    struct sigaction sa;

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":c:fvh", options, NULL)) != -1) {
        switch (opt) {
        case 'c': conf_path = optarg; break;
        case 'f': to_stderr = 1; break;
        case 'v': verbose = 1; break;
        case OPT_LOG_FILE: log_file = optarg; break;
        case OPT_PID_FILE: pid_file = optarg; break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
            return usage_error("option needs a value:", argv[optind - 1]);
        default:
            return usage_error("unknown option", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument", argv[optind]);

    if (conf_path == NULL)
        conf_path = config_default_path();
    if (config_load(&d.cfg, conf_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "seckill-consumer: %s\n", err);
        return EXIT_RUNTIME;
    }
    if (log_open(to_stderr ? NULL : log_file ? log_file : d.cfg.log_file, err, sizeof(err)) != 0) {
        fprintf(stderr, "seckill-consumer: %s\n", err);
        return EXIT_RUNTIME;
    }
    log_set_level(verbose ? LOG_DEBUG : LOG_INFO);

    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    /* A server gone mid-write must be an error return, not a death. */
    signal(SIGPIPE, SIG_IGN);

    if (pid_file != NULL && write_pid_file(pid_file) != 0) {
        log_error("cannot write pid file %s: %s", pid_file, strerror(errno));
        return EXIT_RUNTIME;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_error("cannot initialise the MariaDB client library");
        return EXIT_RUNTIME;
    }
    batch_init(&d.filling, (size_t)d.cfg.batch_size, d.cfg.batch_ms);
    batch_init(&d.in_hand, (size_t)d.cfg.batch_size, d.cfg.batch_ms);
    sink_init(&d.sink, &d.cfg);
    arbiter_init(&d.arbiter, &d.cfg);
    if (source_open(&d.src, &d.cfg, on_revoke, &d) != 0) {
        log_error("%s", d.src.err);
        if (pid_file != NULL)
            remove_pid_file(pid_file);
        return EXIT_RUNTIME;
    }
    config_endpoints_text(&d.cfg.redis, redis, sizeof(redis));
    log_info("started (pid %ld, config %s): topic %s, group %s, Kafka %s, MariaDB %s:%u, Redis %s, "
             "batches of %d events or %d ms", (long)getpid(), d.cfg.path, d.cfg.topic, d.cfg.group_id,
             d.cfg.kafka_brokers, d.cfg.mysql.host, d.cfg.mysql.port, redis, d.cfg.batch_size,
             d.cfg.batch_ms);
    sweeper_init(&d.sweeper, &d.cfg, mono_ms());
    if (d.cfg.sweep_interval_ms > 0)
        log_info("sweeper: every %d ms, releases reservations still pending after %d ms once the "
                 "group has caught up", d.cfg.sweep_interval_ms, d.cfg.sweep_after_ms);
    else
        log_info("sweeper: off (sweep_interval_ms = 0)");

    metrics_init(&d.metrics, d.cfg.stats_file, &d.cfg);
    rc = run(&d);
    metrics_write(&d.metrics, &d.src);
    metrics_close(&d.metrics);

    sweeper_close(&d.sweeper);     /* its topic handle before the consumer */
    source_close(&d.src);
    sink_close(&d.sink);
    arbiter_close(&d.arbiter);
    batch_free(&d.filling);
    batch_free(&d.in_hand);
    mysql_library_end();
    log_info("stopped: %" PRIu64 " events, %" PRIu64 " orders persisted (%" PRIu64 " new rows), %" PRIu64
             " dropped, %" PRIu64 " dead letters, %" PRIu64 " orphans swept", d.total.events,
             d.total.claimed, d.total.new_rows, d.total.dropped, d.total.dead, d.sweeper.released);
    if (pid_file != NULL)
        remove_pid_file(pid_file);
    log_close();
    return rc;
}
