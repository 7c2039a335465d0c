/* The configuration file shared by the CLI and the daemon (conf/consumer.conf).
 *
 * Format: one "key = value" a line; blank lines and lines starting with '#'
 * are skipped; a '#' after whitespace starts a trailing comment (a '#' inside
 * a value, as in a password "a#b", is kept). Unknown keys, keys set twice and
 * bad values are errors naming the file, the line and the value. Every key
 * has a default (the contract's local stack); see config_defaults(). */
#ifndef SECKILL_CONFIG_H
#define SECKILL_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_DEFAULT_PATH "conf/consumer.conf"
#define CONFIG_ENV "SECKILL_CONF"

struct endpoint {
    char host[256];
    uint16_t port;
};

/* Redis's seeds: the servers tried in turn when connecting, the first to
 * answer tells whether it is a standalone server or a member of a Redis
 * Cluster, which then names its other masters itself. */
#define CONFIG_SEEDS_MAX 16

struct endpoints {
    struct endpoint at[CONFIG_SEEDS_MAX];
    int n;                          /* at least 1 */
};

struct seckill_config {
    char path[PATH_MAX];            /* the file it was read from */
    struct endpoint mysql;
    char mysql_user[81];
    char mysql_password[256];
    char mysql_database[65];
    struct endpoints redis;         /* host:port[,host:port...] */
    char redis_password[256];       /* AUTH on connect (every node of a
                                       cluster); empty: none */
    char kafka_brokers[1024];       /* librdkafka's bootstrap.servers */
    char topic[250];
    char dlq_topic[250];
    int topic_partitions;           /* of the main topic; the DLQ has 1 */
    char group_id[256];
    int batch_size;                 /* daemon: orders per transaction */
    int batch_ms;                   /* daemon: longest wait to fill a batch */
    int sweep_after_ms;             /* daemon: age of a pending reservation
                                       that may be an orphan (sweeper.h) */
    int sweep_interval_ms;          /* daemon: between sweeps; 0: no sweeper */
    char secure_link_secret[256];   /* CLI: sign-url's key, as nginx's
                                       $seckill_link_secret; "" = none */
    char log_file[PATH_MAX];        /* absolute once loaded by config_load() */
    char stats_file[PATH_MAX];      /* daemon: its metrics (metrics.h); as
                                       log_file, or "" for "off" */
};

void config_defaults(struct seckill_config *cfg);

/* Applies the "key = value" lines of text over cfg. name is the file name
 * used in messages ("consumer.conf:12: unknown key 'foo'"). Returns 0, or -1
 * with the reason in err. */
int config_parse(struct seckill_config *cfg, const char *text,
                 const char *name, char *err, size_t errlen);

/* Defaults, then the file at path; log_file and stats_file become absolute
 * paths taken relative to the file's directory. Returns 0, or -1 with the reason in err. */
int config_load(struct seckill_config *cfg, const char *path,
                char *err, size_t errlen);

/* The endpoints as a config line writes them: "host:port,[v6]:port". */
void config_endpoints_text(const struct endpoints *e, char *out, size_t size);

/* Without -c: $SECKILL_CONF when set and not empty; else the rendered
 * $SECKILL_RUN/conf/consumer.conf; else, for build/bin/seckill of a
 * checkout, that checkout's run/conf/consumer.conf when it exists; else
 * conf/consumer.conf. */
const char *config_default_path(void);

/* Writes value into out as is when it is absolute, else joined to the
 * directory of base_file. Returns 0, or -1 when out is too small. */
int config_relative_path(const char *base_file, const char *value,
                         char *out, size_t size);

#endif
