
/*
 * ngx_http_seckill_module: directives, configuration and the process
 * hooks.  The request handlers live in their own files.
 */


#include <ngx_config.h>
#include <ngx_core.h>
#include <ngx_http.h>
#include <librdkafka/rdkafka.h>

#include "ngx_http_seckill_module.h"
#include "ngx_http_seckill_orderid.h"
#include "ngx_http_seckill_script.h"
#include "ngx_http_seckill_soldout.h"
#include "ngx_http_seckill_stats.h"


static void *ngx_http_seckill_create_main_conf(ngx_conf_t *cf);
static char *ngx_http_seckill_init_main_conf(ngx_conf_t *cf, void *conf);
static void *ngx_http_seckill_create_loc_conf(ngx_conf_t *cf);
static char *ngx_http_seckill_merge_loc_conf(ngx_conf_t *cf, void *parent,
    void *child);
static char *ngx_http_seckill_redis_address(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_seckill_conf_set_batch(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_seckill_conf_set_msec(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_seckill_kafka_brokers(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_seckill_kafka_topic(ngx_conf_t *cf, void *post,
    void *data);
static char *ngx_http_seckill_kafka_property(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_seckill_sold_out_ttl(ngx_conf_t *cf,
    ngx_command_t *cmd, void *conf);
static char *ngx_http_seckill_content(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf);
static ngx_int_t ngx_http_seckill_init_process(ngx_cycle_t *cycle);
static void ngx_http_seckill_exit_process(ngx_cycle_t *cycle);


static ngx_conf_post_handler_pt  ngx_http_seckill_kafka_brokers_p =
    ngx_http_seckill_kafka_brokers;

static ngx_conf_post_handler_pt  ngx_http_seckill_kafka_topic_p =
    ngx_http_seckill_kafka_topic;



/*
 * What each content directive installs: its handler, the endpoint its
 * answers are counted under (NGX_CONF_UNSET_UINT: not counted), whether it
 * needs a prefix location (the ids follow it in the URI; the string is an
 * example for the error message), and what the workers must set up for it.
 * One setter, ngx_http_seckill_content(), serves them all through the
 * command's `post`.
 */

typedef struct {
    ngx_http_handler_pt   handler;
    ngx_uint_t            endpoint;
    char                 *prefix;
    unsigned              redis:1;
    unsigned              purchase:1;
    unsigned              status:1;
} ngx_http_seckill_content_t;


static ngx_http_seckill_content_t  ngx_http_seckill_courses_content = {
    ngx_http_seckill_courses_handler, NGX_HTTP_SECKILL_ENDPOINT_COURSES,
    NULL, 1, 0, 0
};

static ngx_http_seckill_content_t  ngx_http_seckill_purchase_content = {
    ngx_http_seckill_purchase_handler, NGX_HTTP_SECKILL_ENDPOINT_PURCHASE,
    "/api/seckill/", 1, 1, 0
};

static ngx_http_seckill_content_t  ngx_http_seckill_orders_content = {
    ngx_http_seckill_orders_handler, NGX_HTTP_SECKILL_ENDPOINT_ORDERS,
    "/api/orders/", 1, 0, 0
};

static ngx_http_seckill_content_t  ngx_http_seckill_error_content = {
    ngx_http_seckill_error_handler, NGX_HTTP_SECKILL_ENDPOINT_ERROR,
    NULL, 0, 0, 0
};

/* loopback only is the configuration's business: allow/deny */

static ngx_http_seckill_content_t  ngx_http_seckill_status_content = {
    ngx_http_seckill_status_handler, NGX_CONF_UNSET_UINT,
    NULL, 0, 0, 1
};


static ngx_command_t  ngx_http_seckill_commands[] = {

    { ngx_string("seckill_redis"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_1MORE,
      ngx_http_seckill_redis_address,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("seckill_redis_password"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, redis.password),
      NULL },

    { ngx_string("seckill_redis_connect_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_seckill_conf_set_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, redis.connect_timeout),
      NULL },

    { ngx_string("seckill_redis_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_seckill_conf_set_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, redis.timeout),
      NULL },

    { ngx_string("seckill_redis_batch"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_seckill_conf_set_batch,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, redis_batch),
      NULL },

    { ngx_string("seckill_kafka_brokers"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, kafka_brokers),
      &ngx_http_seckill_kafka_brokers_p },

    { ngx_string("seckill_kafka_topic"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_conf_set_str_slot,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, kafka_topic),
      &ngx_http_seckill_kafka_topic_p },

    { ngx_string("seckill_kafka_property"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE2,
      ngx_http_seckill_kafka_property,
      NGX_HTTP_MAIN_CONF_OFFSET,
      0,
      NULL },

    { ngx_string("seckill_kafka_timeout"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_seckill_conf_set_msec,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, kafka_timeout),
      NULL },

    { ngx_string("seckill_sold_out_ttl"),
      NGX_HTTP_MAIN_CONF|NGX_CONF_TAKE1,
      ngx_http_seckill_sold_out_ttl,
      NGX_HTTP_MAIN_CONF_OFFSET,
      offsetof(ngx_http_seckill_main_conf_t, sold_out_ttl),
      NULL },

    { ngx_string("seckill_courses"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_seckill_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_seckill_courses_content },

    { ngx_string("seckill_purchase"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_seckill_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_seckill_purchase_content },

    { ngx_string("seckill_orders"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_seckill_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_seckill_orders_content },

    { ngx_string("seckill_error"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_seckill_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_seckill_error_content },

    { ngx_string("seckill_status"),
      NGX_HTTP_LOC_CONF|NGX_CONF_NOARGS,
      ngx_http_seckill_content,
      NGX_HTTP_LOC_CONF_OFFSET,
      0,
      &ngx_http_seckill_status_content },

      ngx_null_command
};


static ngx_http_module_t  ngx_http_seckill_module_ctx = {
    ngx_http_seckill_add_variables,        /* preconfiguration */
    NULL,                                  /* postconfiguration */

    ngx_http_seckill_create_main_conf,     /* create main configuration */
    ngx_http_seckill_init_main_conf,       /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    ngx_http_seckill_create_loc_conf,      /* create location configuration */
    ngx_http_seckill_merge_loc_conf        /* merge location configuration */
};


ngx_module_t  ngx_http_seckill_module = {
    NGX_MODULE_V1,
    &ngx_http_seckill_module_ctx,          /* module context */
    ngx_http_seckill_commands,             /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    ngx_http_seckill_init_process,         /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    ngx_http_seckill_exit_process,         /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static void *
ngx_http_seckill_create_main_conf(ngx_conf_t *cf)
{
    ngx_http_seckill_main_conf_t  *smcf;

    smcf = ngx_pcalloc(cf->pool, sizeof(ngx_http_seckill_main_conf_t));
    if (smcf == NULL) {
        return NULL;
    }

    /*
     * set by ngx_pcalloc():
     *
     *     smcf->redis.seeds = { { { 0, NULL }, ... } };
     *     smcf->redis.nseeds = 0;
     *     smcf->redis.name = { 0, NULL };
     *     smcf->redis.password = { 0, NULL };
     *     smcf->kafka_brokers = { 0, NULL };
     *     smcf->kafka_topic = { 0, NULL };
     *     smcf->kafka_properties = NULL;
     *     smcf->sold_out_zone = NULL;
     *     smcf->redis_used = 0;
     *     smcf->purchase_used = 0;
     */

    smcf->redis.connect_timeout = NGX_CONF_UNSET_MSEC;
    smcf->redis.timeout = NGX_CONF_UNSET_MSEC;
    smcf->redis_batch = NGX_CONF_UNSET_UINT;
    smcf->kafka_timeout = NGX_CONF_UNSET_MSEC;
    smcf->sold_out_ttl = NGX_CONF_UNSET_MSEC;

    return smcf;
}


static char *
ngx_http_seckill_init_main_conf(ngx_conf_t *cf, void *conf)
{
    ngx_http_seckill_main_conf_t *smcf = conf;

    if (smcf->redis.nseeds == 0) {
        ngx_str_set(&smcf->redis.seeds[0].name, "127.0.0.1:6379");
        ngx_str_set(&smcf->redis.seeds[0].host, "127.0.0.1");
        smcf->redis.seeds[0].port = 6379;
        smcf->redis.nseeds = 1;
        smcf->redis.name = smcf->redis.seeds[0].name;
    }

    ngx_conf_init_msec_value(smcf->redis.connect_timeout, 1000);
    ngx_conf_init_msec_value(smcf->redis.timeout, 200);
    ngx_conf_init_uint_value(smcf->redis_batch,
                             NGX_HTTP_SECKILL_REDIS_BATCH_DEFAULT);

    if (smcf->kafka_brokers.data == NULL) {
        ngx_str_set(&smcf->kafka_brokers, "127.0.0.1:9092");
    }

    if (smcf->kafka_topic.data == NULL) {
        ngx_str_set(&smcf->kafka_topic, "seckill.orders");
    }

    ngx_conf_init_msec_value(smcf->kafka_timeout, 5000);

    /* librdkafka's message.timeout.ms is an int */

    if (smcf->kafka_timeout > NGX_MAX_INT32_VALUE) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"seckill_kafka_timeout\" of %M ms is too long, "
                           "the limit is %d ms", smcf->kafka_timeout,
                           NGX_MAX_INT32_VALUE);
        return NGX_CONF_ERROR;
    }

    ngx_conf_init_msec_value(smcf->sold_out_ttl, 1000);

    if (smcf->purchase_used && smcf->sold_out_ttl) {
        smcf->sold_out_zone = ngx_http_seckill_sold_out_zone(cf);
        if (smcf->sold_out_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    /* counted whether or not shown: a status location may come later */

    if (smcf->redis_used || smcf->status_used) {
        smcf->stats_zone = ngx_http_seckill_stats_zone(cf);
        if (smcf->stats_zone == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    return NGX_CONF_OK;
}


static void *
ngx_http_seckill_create_loc_conf(ngx_conf_t *cf)
{
    ngx_http_seckill_loc_conf_t  *slcf;

    slcf = ngx_palloc(cf->pool, sizeof(ngx_http_seckill_loc_conf_t));
    if (slcf == NULL) {
        return NULL;
    }

    slcf->endpoint = NGX_CONF_UNSET_UINT;

    return slcf;
}


/*
 * What a location's answers count as belongs to its own content directive,
 * not to the locations around it; but an "if" or "limit_except" block runs
 * the content handler of its location, and counts as it.
 */

static char *
ngx_http_seckill_merge_loc_conf(ngx_conf_t *cf, void *parent, void *child)
{
    ngx_http_seckill_loc_conf_t *prev = parent;
    ngx_http_seckill_loc_conf_t *conf = child;

    ngx_http_core_loc_conf_t  *clcf;

    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (clcf->noname) {
        ngx_conf_merge_uint_value(conf->endpoint, prev->endpoint,
                                  NGX_CONF_UNSET_UINT);
    }

    return NGX_CONF_OK;
}


/*
 * seckill_redis address ...: one Redis, or seeds of a Redis Cluster (any
 * of its masters; the worker learns the others from them).
 */

static char *
ngx_http_seckill_redis_address(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_seckill_main_conf_t *smcf = conf;

    size_t                          len;
    u_char                         *p;
    ngx_str_t                      *value;
    ngx_url_t                       u;
    ngx_uint_t                      i;
    ngx_http_seckill_redis_addr_t  *seed;

    if (smcf->redis.nseeds) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (cf->args->nelts - 1 > NGX_HTTP_SECKILL_REDIS_SEEDS) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" takes at most %d addresses: a few "
                           "masters of a cluster are enough to find the "
                           "others", &cmd->name, NGX_HTTP_SECKILL_REDIS_SEEDS);
        return NGX_CONF_ERROR;
    }

    for (i = 1; i < cf->args->nelts; i++) {
        seed = &smcf->redis.seeds[i - 1];

        ngx_memzero(&u, sizeof(ngx_url_t));

        u.url = value[i];
        u.default_port = 6379;

        /*
         * Names are resolved here, once, in the master: hiredis would
         * resolve them with a blocking getaddrinfo() in the worker at every
         * reconnect.
         */

        if (ngx_parse_url(cf->pool, &u) != NGX_OK) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "%s in \"%V\" of the \"%V\" directive",
                               u.err ? u.err : "invalid address", &u.url,
                               &cmd->name);
            return NGX_CONF_ERROR;
        }

        if (u.naddrs == 0) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "no address for \"%V\" of the \"%V\" "
                               "directive", &u.url, &cmd->name);
            return NGX_CONF_ERROR;
        }

        seed->name = value[i];

#if (NGX_HAVE_UNIX_DOMAIN)

        if (u.addrs[0].sockaddr->sa_family == AF_UNIX) {
            p = (u_char *)
                ((struct sockaddr_un *) u.addrs[0].sockaddr)->sun_path;

            seed->host.data = p;
            seed->host.len = ngx_strlen(p);
            seed->port = 0;

            continue;
        }

#endif

        /* the first address when a name has several, as in "localhost" */

        p = ngx_pnalloc(cf->pool, NGX_SOCKADDR_STRLEN + 1);
        if (p == NULL) {
            return NGX_CONF_ERROR;
        }

        len = ngx_sock_ntop(u.addrs[0].sockaddr, u.addrs[0].socklen, p,
                            NGX_SOCKADDR_STRLEN, 0);
        p[len] = '\0';

        seed->host.data = p;
        seed->host.len = len;
        seed->port = ngx_inet_get_port(u.addrs[0].sockaddr);
    }

    smcf->redis.nseeds = cf->args->nelts - 1;

    /* "a b c" as written, for the messages about Redis as a whole */

    for (len = 0, i = 1; i < cf->args->nelts; i++) {
        len += value[i].len + 1;
    }

    p = ngx_pnalloc(cf->pool, len);
    if (p == NULL) {
        return NGX_CONF_ERROR;
    }

    smcf->redis.name.data = p;

    for (i = 1; i < cf->args->nelts; i++) {
        p = ngx_cpymem(p, value[i].data, value[i].len);
        *p++ = ' ';
    }

    smcf->redis.name.len = len - 1;

    return NGX_CONF_OK;
}


/*
 * ngx_conf_set_msec_slot() with a zero value refused (a timer that fires at
 * once) and an error that names the value.
 */

/*
 * The orders one script call may carry: Redis runs nothing else while a
 * call runs, so a bound keeps one course's crowd from delaying the other
 * courses' calls by more than a few hundred microseconds.
 */

static char *
ngx_http_seckill_conf_set_batch(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_int_t    n;
    ngx_str_t   *value;
    ngx_uint_t  *np;

    np = (ngx_uint_t *) ((char *) conf + cmd->offset);

    if (*np != NGX_CONF_UNSET_UINT) {
        return "is duplicate";
    }

    value = cf->args->elts;

    n = ngx_atoi(value[1].data, value[1].len);

    if (n < 1 || n > NGX_HTTP_SECKILL_REDIS_BATCH_MAX) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a number of orders from 1 to %d",
                           &value[1], &cmd->name,
                           NGX_HTTP_SECKILL_REDIS_BATCH_MAX);
        return NGX_CONF_ERROR;
    }

    *np = n;

    return NGX_CONF_OK;
}


static char *
ngx_http_seckill_conf_set_msec(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_str_t   *value;
    ngx_msec_t  *msp;

    msp = (ngx_msec_t *) ((char *) conf + cmd->offset);

    if (*msp != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    if (ngx_conf_set_msec_slot(cf, cmd, conf) != NGX_CONF_OK || *msp == 0) {
        value = cf->args->elts;

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a positive time such as \"200ms\" "
                           "or \"1s\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* a time, or "off" (every purchase asks Redis) */

static char *
ngx_http_seckill_sold_out_ttl(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_str_t   *value;
    ngx_msec_t  *msp;

    msp = (ngx_msec_t *) ((char *) conf + cmd->offset);
    value = cf->args->elts;

    if (*msp != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    if (ngx_strcmp(value[1].data, "off") == 0) {
        *msp = 0;
        return NGX_CONF_OK;
    }

    *msp = ngx_parse_time(&value[1], 0);

    if (*msp == (ngx_msec_t) NGX_ERROR || *msp == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid value \"%V\" in \"%V\" directive, "
                           "it must be a positive time such as \"1s\", "
                           "or \"off\"", &value[1], &cmd->name);
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


static char *
ngx_http_seckill_kafka_brokers(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *brokers = data;

    if (brokers->len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "empty value \"\" in \"seckill_kafka_brokers\" "
                           "directive, it must be a list such as "
                           "\"127.0.0.1:9092,127.0.0.1:9093\"");
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* Kafka's own rule for topic names */

static char *
ngx_http_seckill_kafka_topic(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *topic = data;

    u_char      ch;
    ngx_uint_t  i;

    if (topic->len == 0 || topic->len > 249
        || (topic->len == 1 && topic->data[0] == '.')
        || (topic->len == 2 && ngx_strncmp(topic->data, "..", 2) == 0))
    {
        goto invalid;
    }

    for (i = 0; i < topic->len; i++) {
        ch = topic->data[i];

        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z')
            || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-')
        {
            continue;
        }

        goto invalid;
    }

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid topic name \"%V\" in \"seckill_kafka_topic\" "
                       "directive, it must be 1 to 249 of "
                       "[a-zA-Z0-9._-] and not \".\" or \"..\"", topic);

    return NGX_CONF_ERROR;
}


static char *
ngx_http_seckill_kafka_property(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_seckill_main_conf_t *smcf = conf;

    char                  err[512];
    size_t                len;
    ngx_str_t            *value;
    ngx_keyval_t         *kv;
    rd_kafka_conf_t      *kconf;
    rd_kafka_conf_res_t   res;

    value = cf->args->elts;

    /*
     * The producer is made in the workers, too late to refuse a bad
     * property; librdkafka judges it now, on a configuration thrown away.
     * Configuration arguments are null-terminated.
     */

    kconf = rd_kafka_conf_new();

    res = rd_kafka_conf_set(kconf, (const char *) value[1].data,
                            (const char *) value[2].data, err, sizeof(err));

    rd_kafka_conf_destroy(kconf);

    if (res != RD_KAFKA_CONF_OK) {

        /* some of librdkafka's messages end with a newline */

        len = ngx_strlen(err);

        while (len && (err[len - 1] == '\n' || err[len - 1] == ' ')) {
            len--;
        }

        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid \"%V\" \"%V\" in \"%V\" directive: %*s",
                           &value[1], &value[2], &cmd->name, len, err);
        return NGX_CONF_ERROR;
    }

    if (smcf->kafka_properties == NULL) {
        smcf->kafka_properties = ngx_array_create(cf->pool, 8,
                                                  sizeof(ngx_keyval_t));
        if (smcf->kafka_properties == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    kv = ngx_array_push(smcf->kafka_properties);
    if (kv == NULL) {
        return NGX_CONF_ERROR;
    }

    kv->key = value[1];
    kv->value = value[2];

    return NGX_CONF_OK;
}


static char *
ngx_http_seckill_content(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_seckill_loc_conf_t *slcf = conf;

    ngx_http_core_loc_conf_t      *clcf;
    ngx_http_seckill_content_t    *content;
    ngx_http_seckill_main_conf_t  *smcf;

    content = cmd->post;
    clcf = ngx_http_conf_get_module_loc_conf(cf, ngx_http_core_module);

    if (content->prefix
        && (clcf->named || clcf->exact_match
#if (NGX_PCRE)
            || clcf->regex
#endif
           ))
    {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "\"%V\" is not allowed in \"location %V\": it "
                           "needs a prefix location such as \"location %s\", "
                           "the ids follow it in the URI",
                           &cmd->name, &clcf->name, content->prefix);
        return NGX_CONF_ERROR;
    }

    clcf->handler = content->handler;

    if (content->endpoint != NGX_CONF_UNSET_UINT) {
        slcf->endpoint = content->endpoint;
    }

    smcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_seckill_module);

    if (content->redis) {
        smcf->redis_used = 1;
    }

    if (content->purchase) {
        smcf->purchase_used = 1;
    }

    if (content->status) {
        smcf->status_used = 1;
    }

    return NGX_CONF_OK;
}


static ngx_int_t
ngx_http_seckill_init_process(ngx_cycle_t *cycle)
{
    ngx_http_seckill_main_conf_t  *smcf;

    /* cache manager and loader processes serve no requests */

    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    smcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_seckill_module);

    if (smcf == NULL) {
        return NGX_OK;
    }

    /* first: everything below reports to it */

    ngx_http_seckill_stats_init(cycle, smcf->stats_zone);

    if (!smcf->redis_used) {
        return NGX_OK;
    }

    if (smcf->purchase_used) {

        /* the reserve/release batching, the order ids, the purchases and
           their Kafka producer (a producer that fails to start leaves
           purchases answered 503, the worker up) */

        if (ngx_http_seckill_script_init(cycle, smcf->redis_batch) != NGX_OK
            || ngx_http_seckill_purchase_init(cycle, smcf) != NGX_OK)
        {
            return NGX_ERROR;
        }

        ngx_http_seckill_order_id_init(cycle->log);

        /*
         * What every new Redis connection runs, in this order: the
         * scripts are loaded before any EVALSHA can follow them in the
         * pipeline, an order id block is asked for, then the releases
         * that waited for a connection are sent.
         */

        if (ngx_http_seckill_redis_on_connect(
                               ngx_http_seckill_script_connected, NULL)
               != NGX_OK
            || ngx_http_seckill_redis_on_connect(
                               ngx_http_seckill_order_id_connected, NULL)
               != NGX_OK
            || ngx_http_seckill_redis_on_connect(
                               ngx_http_seckill_purchase_connected, NULL)
               != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    /* last: the first connection finds every hook in place */

    return ngx_http_seckill_redis_init(cycle, &smcf->redis);
}


/*
 * Purchases first: they flush the Kafka producer, whose last reports find
 * them exiting and only free what is done; Redis then gives the commands
 * still waiting their NULL replies.  The worker's gauges go last.
 */

static void
ngx_http_seckill_exit_process(ngx_cycle_t *cycle)
{
    ngx_http_seckill_purchase_exit(cycle);
    ngx_http_seckill_redis_exit(cycle);
    ngx_http_seckill_stats_exit(cycle);
}


ngx_int_t
ngx_http_seckill_zone_init(ngx_shm_zone_t *zone, void *data, size_t size)
{
    ngx_slab_pool_t  *shpool;

    if (data) {
        zone->data = data;
        return NGX_OK;
    }

    shpool = (ngx_slab_pool_t *) zone->shm.addr;

    if (zone->shm.exists) {
        zone->data = shpool->data;
        return NGX_OK;
    }

    zone->data = ngx_slab_calloc(shpool, size);
    if (zone->data == NULL) {
        return NGX_ERROR;
    }

    shpool->data = zone->data;

    return NGX_OK;
}


void
ngx_http_seckill_finalize(ngx_http_request_t *r, ngx_event_t *timer,
    ngx_int_t rc)
{
    ngx_connection_t  *c;

    c = r->connection;

    if (timer->timer_set) {
        ngx_del_timer(timer);
    }

    ngx_http_finalize_request(r, rc);
    ngx_http_run_posted_requests(c);
}
