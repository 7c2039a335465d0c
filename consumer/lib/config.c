/* Reading conf/consumer.conf (format and keys in config.h). */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

enum value_kind {
    VALUE_STRING,       /* not empty */
    VALUE_SECRET,       /* may be empty */
    VALUE_NAME,         /* a database name: letters, digits, '_' */
    VALUE_TOPIC,        /* a Kafka topic name */
    VALUE_ENDPOINT,     /* host:port */
    VALUE_ENDPOINTS,    /* host:port[,host:port...] */
    VALUE_INT
};

struct key_spec {
    const char *key;
    enum value_kind kind;
    size_t offset;
    size_t size;        /* of a string field */
    int min, max;       /* of an int */
};

#define FIELD(f) offsetof(struct seckill_config, f), \
                 sizeof(((struct seckill_config *)0)->f)

static const struct key_spec keys[] = {
    { "mysql",            VALUE_ENDPOINT, FIELD(mysql),            0, 0 },
    { "mysql_user",       VALUE_STRING,   FIELD(mysql_user),       0, 0 },
    { "mysql_password",   VALUE_SECRET,   FIELD(mysql_password),   0, 0 },
    { "mysql_database",   VALUE_NAME,     FIELD(mysql_database),   0, 0 },
    { "redis",            VALUE_ENDPOINTS, FIELD(redis),           0, 0 },
    { "redis_password",   VALUE_SECRET,   FIELD(redis_password),   0, 0 },
    { "kafka_brokers",    VALUE_STRING,   FIELD(kafka_brokers),    0, 0 },
    { "topic",            VALUE_TOPIC,    FIELD(topic),            0, 0 },
    { "dlq_topic",        VALUE_TOPIC,    FIELD(dlq_topic),        0, 0 },
    { "topic_partitions", VALUE_INT,      FIELD(topic_partitions), 1, 10000 },
    { "group_id",         VALUE_STRING,   FIELD(group_id),         0, 0 },
    { "batch_size",       VALUE_INT,      FIELD(batch_size),       1, 100000 },
    { "batch_ms",         VALUE_INT,      FIELD(batch_ms),         0, 60000 },
    { "sweep_after_ms",   VALUE_INT,      FIELD(sweep_after_ms),   1000, 86400000 },
    { "sweep_interval_ms", VALUE_INT,     FIELD(sweep_interval_ms), 0, 3600000 },
    { "secure_link_secret", VALUE_SECRET, FIELD(secure_link_secret), 0, 0 },
    { "log_file",         VALUE_STRING,   FIELD(log_file),         0, 0 },
    { "stats_file",       VALUE_STRING,   FIELD(stats_file),       0, 0 },
};

#define NKEYS (sizeof(keys) / sizeof(keys[0]))

void config_defaults(struct seckill_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    strcpy(cfg->mysql.host, "127.0.0.1");
    cfg->mysql.port = 3306;
    strcpy(cfg->mysql_user, "seckill");
    strcpy(cfg->mysql_password, "seckill");
    strcpy(cfg->mysql_database, "seckill");
    strcpy(cfg->redis.at[0].host, "127.0.0.1");
    cfg->redis.at[0].port = 6379;
    cfg->redis.n = 1;
    strcpy(cfg->kafka_brokers, "127.0.0.1:9092");
    strcpy(cfg->topic, "seckill.orders");
    strcpy(cfg->dlq_topic, "seckill.orders.dlq");
    cfg->topic_partitions = 6;
    strcpy(cfg->group_id, "seckill-consumer");
    cfg->batch_size = 1000;
    cfg->batch_ms = 20;
    /* nginx's seckill_kafka_timeout (5 s) + 10 s of margin; sweeper.h. */
    cfg->sweep_after_ms = 15000;
    cfg->sweep_interval_ms = 5000;
    strcpy(cfg->log_file, "log/consumer.log");
    strcpy(cfg->stats_file, "../consumer.prom");
}

static int parse_int(const char *s, int min, int max, int *out)
{
    char *end;
    long v;

    if (!isdigit((unsigned char)s[0]))
        return -1;
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = (int)v;
    return 0;
}

/* "host:port" or "[v6 address]:port". */
static int parse_endpoint(const char *s, struct endpoint *ep)
{
    const char *host = s, *colon;
    size_t host_len;
    int port;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');

        if (close == NULL || close[1] != ':')
            return -1;
        host = s + 1;
        host_len = (size_t)(close - host);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        host_len = (size_t)(colon - s);
    }
    if (host_len == 0 || host_len >= sizeof(ep->host)
        || memchr(host, ' ', host_len) != NULL
        || parse_int(colon + 1, 1, 65535, &port) != 0)
        return -1;
    memcpy(ep->host, host, host_len);
    ep->host[host_len] = '\0';
    ep->port = (uint16_t)port;
    return 0;
}

/* A comma-separated list of endpoints; blanks around the commas are fine. */
static int parse_endpoints(const char *s, struct endpoints *eps, char *why, size_t whylen)
{
    struct endpoints got = { .n = 0 };

    for (;;) {
        char one[300];
        size_t len;

        s += strspn(s, " \t");
        len = strcspn(s, ",");
        while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
            len--;
        if (got.n == CONFIG_SEEDS_MAX) {
            snprintf(why, whylen, "more than %d addresses; a few seeds are enough, a cluster "
                     "names its other nodes itself", CONFIG_SEEDS_MAX);
            return -1;
        }
        if (len < sizeof(one)) {
            memcpy(one, s, len);
            one[len] = '\0';
        }
        if (len >= sizeof(one) || parse_endpoint(one, &got.at[got.n]) != 0) {
            snprintf(why, whylen, "address %d ('%.*s'): expected host:port with a port from 1 "
                     "to 65535, several separated by ','", got.n + 1, (int)(len < 80 ? len : 80), s);
            return -1;
        }
        got.n++;
        s += strcspn(s, ",");
        if (*s == '\0')
            break;
        s++;
    }
    *eps = got;
    return 0;
}

void config_endpoints_text(const struct endpoints *e, char *out, size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    for (int i = 0; i < e->n && len < size; i++) {
        int v6 = strchr(e->at[i].host, ':') != NULL;
        int n = snprintf(out + len, size - len, "%s%s%s%s:%u", i > 0 ? "," : "", v6 ? "[" : "",
                         e->at[i].host, v6 ? "]" : "", e->at[i].port);

        if (n < 0)
            break;
        len += (size_t)n;
    }
}

static int valid_chars(const char *s, const char *extra)
{
    for (; *s; s++)
        if (!isalnum((unsigned char)*s) && strchr(extra, *s) == NULL)
            return 0;
    return 1;
}

/* Stores value into the field of spec; on a bad value writes why into err. */
static int set_value(struct seckill_config *cfg, const struct key_spec *spec,
                     const char *value, char *why, size_t whylen)
{
    char *field = (char *)cfg + spec->offset;
    size_t len = strlen(value);

    if (len == 0 && spec->kind != VALUE_SECRET) {
        snprintf(why, whylen, "empty value");
        return -1;
    }
    switch (spec->kind) {
    case VALUE_ENDPOINT:
        if (parse_endpoint(value, (struct endpoint *)field) != 0) {
            snprintf(why, whylen, "expected host:port with a port from 1 to 65535");
            return -1;
        }
        return 0;
    case VALUE_ENDPOINTS:
        return parse_endpoints(value, (struct endpoints *)field, why, whylen);
    case VALUE_INT:
        if (parse_int(value, spec->min, spec->max, (int *)field) != 0) {
            snprintf(why, whylen, "expected a whole number from %d to %d",
                     spec->min, spec->max);
            return -1;
        }
        return 0;
    case VALUE_NAME:
        if (!valid_chars(value, "_")) {
            snprintf(why, whylen, "use only letters, digits and '_'");
            return -1;
        }
        break;
    case VALUE_TOPIC:
        if (!valid_chars(value, "._-") || strcmp(value, ".") == 0
            || strcmp(value, "..") == 0) {
            snprintf(why, whylen, "a Kafka topic name uses only letters, digits, '.', '_' and '-'");
            return -1;
        }
        break;
    case VALUE_STRING:
    case VALUE_SECRET:
        break;
    }
    if (len >= spec->size) {
        snprintf(why, whylen, "longer than %zu bytes", spec->size - 1);
        return -1;
    }
    memcpy(field, value, len + 1);
    return 0;
}

static char *trim(char *s)
{
    char *end;

    while (isspace((unsigned char)*s))
        s++;
    end = s + strlen(s);
    while (end > s && isspace((unsigned char)end[-1]))
        *--end = '\0';
    return s;
}

/* Cuts a trailing comment: a '#' at the start or after whitespace. */
static void cut_comment(char *s)
{
    for (char *p = s; *p; p++) {
        if (*p == '#' && (p == s || isspace((unsigned char)p[-1]))) {
            *p = '\0';
            return;
        }
    }
}

int config_parse(struct seckill_config *cfg, const char *text,
                 const char *name, char *err, size_t errlen)
{
    unsigned first_line[NKEYS] = { 0 };
    unsigned lineno = 0;
    const char *next;

    for (const char *p = text; *p != '\0'; p = next) {
        char line[4096], why[256];
        char *key, *value, *eq;
        const struct key_spec *spec = NULL;
        size_t len, i;

        lineno++;
        next = strchr(p, '\n');
        len = next ? (size_t)(next - p) : strlen(p);
        next = next ? next + 1 : p + len;
        if (len >= sizeof(line)) {
            snprintf(err, errlen, "%s:%u: line longer than %zu bytes",
                     name, lineno, sizeof(line) - 1);
            return -1;
        }
        memcpy(line, p, len);
        line[len] = '\0';

        cut_comment(line);
        key = trim(line);
        if (*key == '\0')
            continue;
        eq = strchr(key, '=');
        if (eq == NULL) {
            snprintf(err, errlen, "%s:%u: expected 'key = value', got '%.80s'",
                     name, lineno, key);
            return -1;
        }
        *eq = '\0';
        key = trim(key);
        value = trim(eq + 1);

        for (i = 0; i < NKEYS; i++) {
            if (strcmp(keys[i].key, key) == 0) {
                spec = &keys[i];
                break;
            }
        }
        if (spec == NULL) {
            snprintf(err, errlen, "%s:%u: unknown key '%.80s'", name, lineno, key);
            return -1;
        }
        if (first_line[i] != 0) {
            snprintf(err, errlen, "%s:%u: key '%s' set again (first set on line %u)",
                     name, lineno, key, first_line[i]);
            return -1;
        }
        first_line[i] = lineno;
        if (set_value(cfg, spec, value, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "%s:%u: %s = '%.80s': %s",
                     name, lineno, key, spec->kind == VALUE_SECRET ? "***" : value, why);
            return -1;
        }
    }

    if (strcmp(cfg->topic, cfg->dlq_topic) == 0) {
        snprintf(err, errlen, "%s: topic and dlq_topic are both '%s'; the dead letters need a topic of their own",
                 name, cfg->topic);
        return -1;
    }
    return 0;
}

int config_relative_path(const char *base_file, const char *value,
                         char *out, size_t size)
{
    const char *slash = strrchr(base_file, '/');
    int n;

    if (value[0] == '/' || slash == NULL)
        n = snprintf(out, size, "%s", value);
    else
        n = snprintf(out, size, "%.*s/%s", (int)(slash - base_file), base_file, value);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static int read_file(const char *path, char **text, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    size_t cap = 8192, len = 0, n;
    char *buf;

    if (f == NULL) {
        snprintf(err, errlen, "cannot open config file %s: %s", path, strerror(errno));
        return -1;
    }
    buf = malloc(cap);
    while (buf != NULL && (n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
        len += n;
        if (cap - len == 1) {
            char *bigger = cap < (1 << 20) ? realloc(buf, cap * 2) : NULL;

            if (bigger == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
    }
    if (buf == NULL || ferror(f)) {
        snprintf(err, errlen, "cannot read config file %s: %s", path,
                 buf == NULL ? "too large" : strerror(errno));
        free(buf);
        fclose(f);
        return -1;
    }
    fclose(f);
    buf[len] = '\0';
    *text = buf;
    return 0;
}

/* Absolute, so that the daemon finds its files wherever it runs from. */
static int make_absolute(const char *path, const char *key, char *field, size_t size,
                         char *err, size_t errlen)
{
    char joined[PATH_MAX], cwd[PATH_MAX];

    if (config_relative_path(path, field, joined, sizeof(joined)) != 0
        || (joined[0] != '/' && getcwd(cwd, sizeof(cwd)) == NULL)
        || snprintf(field, size, "%s%s%s",
                    joined[0] == '/' ? "" : cwd, joined[0] == '/' ? "" : "/",
                    joined) >= (int)size) {
        snprintf(err, errlen, "%s: %s: path too long or working directory unknown", path, key);
        return -1;
    }
    return 0;
}

int config_load(struct seckill_config *cfg, const char *path,
                char *err, size_t errlen)
{
    char *text;
    int rc;

    config_defaults(cfg);
    if (strlen(path) >= sizeof(cfg->path)) {
        snprintf(err, errlen, "config file path too long: %.80s...", path);
        return -1;
    }
    strcpy(cfg->path, path);
    if (read_file(path, &text, err, errlen) != 0)
        return -1;
    rc = config_parse(cfg, text, path, err, errlen);
    free(text);
    if (rc != 0)
        return -1;

    if (make_absolute(path, "log_file", cfg->log_file, sizeof(cfg->log_file), err, errlen) != 0)
        return -1;
    if (strcmp(cfg->stats_file, "off") == 0)
        cfg->stats_file[0] = '\0';
    else if (make_absolute(path, "stats_file", cfg->stats_file, sizeof(cfg->stats_file),
                           err, errlen) != 0)
        return -1;
    return 0;
}

/* The stack's rendered copy, not the shipped file: only the copy has the
 * stack's ports and passwords (deploy/ writes it at every start). */
const char *config_default_path(void)
{
    static char path[PATH_MAX];
    const char *env = getenv(CONFIG_ENV), *run = getenv("SECKILL_RUN");
    char exe[PATH_MAX], *slash;
    ssize_t n;
    int i;

    if (env != NULL && env[0] != '\0')
        return env;
    if (run != NULL && run[0] != '\0') {
        snprintf(path, sizeof(path), "%s/conf/consumer.conf", run);
        return path;
    }
    /* build/bin/seckill of a checkout: that checkout's run/, if it has one */
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n > 0) {
        exe[n] = '\0';
        for (i = 0; i < 3 && (slash = strrchr(exe, '/')) != NULL; i++)
            *slash = '\0';
        if (i == 3 && (size_t) snprintf(path, sizeof(path), "%s/run/conf/consumer.conf", exe)
                          < sizeof(path)
            && access(path, R_OK) == 0)
            return path;
    }
    return CONFIG_DEFAULT_PATH;
}
