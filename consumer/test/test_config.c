/* Reading consumer.conf (config.c). */
#include "config.h"
#include "unit.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static struct seckill_config cfg;
static char err[1024];

/* Defaults, then text; returns what config_parse returns. */
static int parse(const char *text)
{
    config_defaults(&cfg);
    err[0] = '\0';
    return config_parse(&cfg, text, "consumer.conf", err, sizeof(err));
}

static void defaults_are_the_local_stack(void)
{
    config_defaults(&cfg);
    CHECK_STR(cfg.mysql.host, "127.0.0.1");
    CHECK(cfg.mysql.port == 3306);
    CHECK_STR(cfg.mysql_user, "seckill");
    CHECK_STR(cfg.mysql_password, "seckill");
    CHECK_STR(cfg.mysql_database, "seckill");
    CHECK(cfg.redis.n == 1);
    CHECK_STR(cfg.redis.at[0].host, "127.0.0.1");
    CHECK(cfg.redis.at[0].port == 6379);
    CHECK_STR(cfg.redis_password, "");
    CHECK_STR(cfg.kafka_brokers, "127.0.0.1:9092");
    CHECK_STR(cfg.topic, "seckill.orders");
    CHECK_STR(cfg.dlq_topic, "seckill.orders.dlq");
    CHECK(cfg.topic_partitions == 6);
    CHECK_STR(cfg.group_id, "seckill-consumer");
    CHECK(cfg.batch_size == 1000);
    CHECK(cfg.batch_ms == 20);
    CHECK_STR(cfg.log_file, "log/consumer.log");
}

static void every_key_of_the_contract_is_read(void)
{
    CHECK(parse("mysql = 10.0.0.1:13306\n"
                "mysql_user = u\n"
                "mysql_password = p\n"
                "mysql_database = shop_2\n"
                "redis = redis.local:16379\n"
                "redis_password = rp\n"
                "kafka_brokers = k1:19092,k2:19092\n"
                "topic = t.orders\n"
                "dlq_topic = t.dlq\n"
                "topic_partitions = 12\n"
                "group_id = g\n"
                "batch_size = 500\n"
                "batch_ms = 0\n"
                "log_file = /var/log/c.log\n") == 0);
    CHECK_STR(err, "");
    CHECK_STR(cfg.mysql.host, "10.0.0.1");
    CHECK(cfg.mysql.port == 13306);
    CHECK_STR(cfg.mysql_user, "u");
    CHECK_STR(cfg.mysql_password, "p");
    CHECK_STR(cfg.mysql_database, "shop_2");
    CHECK(cfg.redis.n == 1);
    CHECK_STR(cfg.redis.at[0].host, "redis.local");
    CHECK(cfg.redis.at[0].port == 16379);
    CHECK_STR(cfg.redis_password, "rp");
    CHECK_STR(cfg.kafka_brokers, "k1:19092,k2:19092");
    CHECK_STR(cfg.topic, "t.orders");
    CHECK_STR(cfg.dlq_topic, "t.dlq");
    CHECK(cfg.topic_partitions == 12);
    CHECK_STR(cfg.group_id, "g");
    CHECK(cfg.batch_size == 500);
    CHECK(cfg.batch_ms == 0);
    CHECK_STR(cfg.log_file, "/var/log/c.log");
}

static void keys_not_in_the_file_keep_their_default(void)
{
    CHECK(parse("redis = 127.0.0.1:16379\n") == 0);
    CHECK(cfg.redis.at[0].port == 16379);
    CHECK(cfg.mysql.port == 3306);
    CHECK(parse("") == 0);
}

static void comments_blank_lines_spaces_and_crlf_are_ignored(void)
{
    CHECK(parse("# the local stack\r\n"
                "\r\n"
                "   # indented comment\n"
                "\tbatch_ms=5   # milliseconds\r\n"
                "batch_size   =   7\n"
                "group_id = g1\t\n") == 0);
    CHECK_STR(err, "");
    CHECK(cfg.batch_ms == 5);
    CHECK(cfg.batch_size == 7);
    CHECK_STR(cfg.group_id, "g1");
}

static void a_hash_inside_a_value_is_kept(void)
{
    CHECK(parse("mysql_password = pa#ss=word # comment\n") == 0);
    CHECK_STR(cfg.mysql_password, "pa#ss=word");
}

static void the_password_alone_may_be_empty(void)
{
    CHECK(parse("mysql_password =\n") == 0);
    CHECK_STR(cfg.mysql_password, "");
    CHECK(parse("\n\nmysql_user =\n") != 0);
    CHECK_STR(err, "consumer.conf:3: mysql_user = '': empty value");
}

static void an_unknown_key_is_named_with_its_line(void)
{
    CHECK(parse("# comment\nmysql = 127.0.0.1:3306\nfoo = bar\n") != 0);
    CHECK_STR(err, "consumer.conf:3: unknown key 'foo'");
}

static void a_key_set_twice_is_an_error(void)
{
    CHECK(parse("batch_ms = 1\nbatch_ms = 2\n") != 0);
    CHECK_STR(err, "consumer.conf:2: key 'batch_ms' set again (first set on line 1)");
}

static void a_line_without_equals_is_an_error(void)
{
    CHECK(parse("redis 127.0.0.1:6379\n") != 0);
    CHECK_STR(err, "consumer.conf:1: expected 'key = value', got 'redis 127.0.0.1:6379'");
}

static void endpoints_need_a_host_and_a_valid_port(void)
{
    CHECK(parse("redis = [::1]:6380\n") == 0);
    CHECK_STR(cfg.redis.at[0].host, "::1");
    CHECK(cfg.redis.at[0].port == 6380);

    CHECK(parse("mysql = 127.0.0.1\n") != 0);
    CHECK_STR(err, "consumer.conf:1: mysql = '127.0.0.1': expected host:port with a port from 1 to 65535");
    CHECK(parse("mysql = :3306\n") != 0);
    CHECK(parse("mysql = host:0\n") != 0);
    CHECK(parse("mysql = host:65536\n") != 0);
    CHECK(parse("mysql = host:33x\n") != 0);
    CHECK(parse("mysql = host:-1\n") != 0);
    CHECK(parse("redis = [::1]6380\n") != 0);
}

static void redis_takes_several_seeds(void)
{
    char text[256];

    CHECK(parse("redis = 10.0.0.1:7000,10.0.0.2:7001 , [::1]:7002\n") == 0);
    CHECK(cfg.redis.n == 3);
    CHECK_STR(cfg.redis.at[0].host, "10.0.0.1");
    CHECK(cfg.redis.at[0].port == 7000);
    CHECK_STR(cfg.redis.at[1].host, "10.0.0.2");
    CHECK(cfg.redis.at[1].port == 7001);
    CHECK_STR(cfg.redis.at[2].host, "::1");
    CHECK(cfg.redis.at[2].port == 7002);
    config_endpoints_text(&cfg.redis, text, sizeof(text));
    CHECK_STR(text, "10.0.0.1:7000,10.0.0.2:7001,[::1]:7002");
    /* one seed, as the line has always been */
    CHECK(parse("redis = 127.0.0.1:6380\n") == 0);
    CHECK(cfg.redis.n == 1);
    config_endpoints_text(&cfg.redis, text, sizeof(text));
    CHECK_STR(text, "127.0.0.1:6380");
}

static void a_bad_seed_is_named_by_its_place(void)
{
    CHECK(parse("redis = 127.0.0.1:7000,127.0.0.1\n") != 0);
    CHECK_STR(err, "consumer.conf:1: redis = '127.0.0.1:7000,127.0.0.1': address 2 ('127.0.0.1'): "
              "expected host:port with a port from 1 to 65535, several separated by ','");
    CHECK(parse("redis = 127.0.0.1:7000,\n") != 0);
    CHECK(parse("redis = ,127.0.0.1:7000\n") != 0);
    CHECK(parse("redis = a:1,,b:2\n") != 0);
    CHECK(parse("redis = a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9,j:10,k:11,l:12,m:13,n:14,o:15,p:16\n") == 0);
    CHECK(cfg.redis.n == 16);
    CHECK(parse("redis = a:1,b:2,c:3,d:4,e:5,f:6,g:7,h:8,i:9,j:10,k:11,l:12,m:13,n:14,o:15,p:16,q:17\n") != 0);
}

static void numbers_must_be_whole_and_in_range(void)
{
    CHECK(parse("topic_partitions = 0\n") != 0);
    CHECK_STR(err, "consumer.conf:1: topic_partitions = '0': expected a whole number from 1 to 10000");
    CHECK(parse("batch_size = 10k\n") != 0);
    CHECK(parse("batch_size = -5\n") != 0);
    CHECK(parse("batch_size = 99999999999999999999\n") != 0);
    CHECK(parse("batch_ms = 60001\n") != 0);
    CHECK(parse("batch_ms = 60000\n") == 0 && cfg.batch_ms == 60000);
}

static void names_are_checked(void)
{
    CHECK(parse("topic = orders/new\n") != 0);
    CHECK_STR(err, "consumer.conf:1: topic = 'orders/new': a Kafka topic name uses only letters, digits, '.', '_' and '-'");
    CHECK(parse("dlq_topic = ..\n") != 0);
    CHECK(parse("mysql_database = seckill; DROP\n") != 0);
    CHECK_STR(err, "consumer.conf:1: mysql_database = 'seckill; DROP': use only letters, digits and '_'");
}

static void a_bad_password_is_not_echoed(void)
{
    char text[400];

    snprintf(text, sizeof(text), "mysql_password = %0300d\n", 1);
    CHECK(parse(text) != 0);
    CHECK_STR(err, "consumer.conf:1: mysql_password = '***': longer than 255 bytes");
}

static void the_dead_letter_topic_must_differ(void)
{
    CHECK(parse("dlq_topic = seckill.orders\n") != 0);
    CHECK_STR(err, "consumer.conf: topic and dlq_topic are both 'seckill.orders'; the dead letters need a topic of their own");
}

static void relative_paths_start_at_the_config_file(void)
{
    char out[64];

    CHECK(config_relative_path("run/conf/consumer.conf", "log/c.log", out, sizeof(out)) == 0);
    CHECK_STR(out, "run/conf/log/c.log");
    CHECK(config_relative_path("consumer.conf", "log/c.log", out, sizeof(out)) == 0);
    CHECK_STR(out, "log/c.log");
    CHECK(config_relative_path("/etc/consumer.conf", "/var/log/c.log", out, sizeof(out)) == 0);
    CHECK_STR(out, "/var/log/c.log");
    CHECK(config_relative_path("/etc/consumer.conf", "a-very-long-name-that-does-not-fit-in-the-buffer.log",
                               out, 16) != 0);
}

static void loading_a_file_makes_the_log_path_absolute(void)
{
    char dir[] = "/tmp/seckill-unit-XXXXXX", path[128], want[160];
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/consumer.conf", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("log_file = ../log/consumer.log\nbatch_ms = 3\n", f);
    fclose(f);

    CHECK(config_load(&cfg, path, err, sizeof(err)) == 0);
    snprintf(want, sizeof(want), "%s/../log/consumer.log", dir);
    CHECK_STR(cfg.log_file, want);
    CHECK_STR(cfg.path, path);
    CHECK(cfg.batch_ms == 3);
    unlink(path);
    rmdir(dir);
}

static void the_stats_file_is_absolute_or_off(void)
{
    char dir[] = "/tmp/seckill-unit-XXXXXX", path[128], want[160];
    FILE *f;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/consumer.conf", dir);
    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fclose(f);
    CHECK(config_load(&cfg, path, err, sizeof(err)) == 0);
    snprintf(want, sizeof(want), "%s/../consumer.prom", dir);
    CHECK_STR(cfg.stats_file, want);

    f = fopen(path, "w");
    CHECK(f != NULL);
    if (f == NULL)
        return;
    fputs("stats_file = off\n", f);
    fclose(f);
    CHECK(config_load(&cfg, path, err, sizeof(err)) == 0);
    CHECK_STR(cfg.stats_file, "");
    unlink(path);
    rmdir(dir);
}

static void a_missing_file_is_named(void)
{
    CHECK(config_load(&cfg, "/nonexistent/consumer.conf", err, sizeof(err)) != 0);
    CHECK_STR(err, "cannot open config file /nonexistent/consumer.conf: No such file or directory");
}

static void the_default_path_is_the_stacks_copy(void)
{
    char *run = getenv("SECKILL_RUN") ? strdup(getenv("SECKILL_RUN")) : NULL;

    /* the unit test binary is not build/bin/seckill: no checkout's run/ */
    unsetenv("SECKILL_CONF");
    unsetenv("SECKILL_RUN");
    CHECK_STR(config_default_path(), "conf/consumer.conf");
    setenv("SECKILL_RUN", "/srv/stack", 1);
    CHECK_STR(config_default_path(), "/srv/stack/conf/consumer.conf");
    setenv("SECKILL_CONF", "", 1);
    CHECK_STR(config_default_path(), "/srv/stack/conf/consumer.conf");
    setenv("SECKILL_CONF", "/x/c.conf", 1);
    CHECK_STR(config_default_path(), "/x/c.conf");
    unsetenv("SECKILL_CONF");
    if (run != NULL) {
        setenv("SECKILL_RUN", run, 1);
        free(run);
    } else {
        unsetenv("SECKILL_RUN");
    }
}

void suite_config(void)
{
    UNIT_RUN(defaults_are_the_local_stack);
    UNIT_RUN(every_key_of_the_contract_is_read);
    UNIT_RUN(keys_not_in_the_file_keep_their_default);
    UNIT_RUN(comments_blank_lines_spaces_and_crlf_are_ignored);
    UNIT_RUN(a_hash_inside_a_value_is_kept);
    UNIT_RUN(the_password_alone_may_be_empty);
    UNIT_RUN(an_unknown_key_is_named_with_its_line);
    UNIT_RUN(a_key_set_twice_is_an_error);
    UNIT_RUN(a_line_without_equals_is_an_error);
    UNIT_RUN(endpoints_need_a_host_and_a_valid_port);
    UNIT_RUN(redis_takes_several_seeds);
    UNIT_RUN(a_bad_seed_is_named_by_its_place);
    UNIT_RUN(numbers_must_be_whole_and_in_range);
    UNIT_RUN(names_are_checked);
    UNIT_RUN(a_bad_password_is_not_echoed);
    UNIT_RUN(the_dead_letter_topic_must_differ);
    UNIT_RUN(relative_paths_start_at_the_config_file);
    UNIT_RUN(loading_a_file_makes_the_log_path_absolute);
    UNIT_RUN(the_stats_file_is_absolute_or_off);
    UNIT_RUN(a_missing_file_is_named);
    UNIT_RUN(the_default_path_is_the_stacks_copy);
}
