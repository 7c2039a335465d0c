/* Redis Cluster's slot map (cluster.c): CLUSTER SLOTS replies, built here
 * as hiredis would hand them over, and the redirections that correct it. */
#include "cluster.h"
#include "unit.h"

#include <stdarg.h>
#include <stdio.h>

/* Replies from a pool: a test builds a few hundred at most. */
static redisReply pool[1024];
static redisReply *elements[1024];
static size_t used, used_elements;

static void pool_reset(void)
{
    memset(pool, 0, sizeof(pool));
    used = used_elements = 0;
}

static redisReply *integer(long long v)
{
    redisReply *r = &pool[used++];

    r->type = REDIS_REPLY_INTEGER;
    r->integer = v;
    return r;
}

static redisReply *string(const char *s)
{
    redisReply *r = &pool[used++];

    r->type = REDIS_REPLY_STRING;
    r->str = (char *)s;
    r->len = strlen(s);
    return r;
}

static redisReply *error(const char *s)
{
    redisReply *r = string(s);

    r->type = REDIS_REPLY_ERROR;
    return r;
}

/* An array of n replies. */
static redisReply *array(size_t n, ...)
{
    redisReply *r = &pool[used++];
    va_list ap;

    r->type = REDIS_REPLY_ARRAY;
    r->elements = n;
    r->element = &elements[used_elements];
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        elements[used_elements++] = va_arg(ap, redisReply *);
    va_end(ap);
    return r;
}

/* A node as CLUSTER SLOTS of Redis 7 names it: host, port, id, metadata. */
static redisReply *node(const char *host, long long port)
{
    return array(4, string(host), integer(port), string("e7d1eecce10fd6bb5eb35b9f99a514335d9ba9ca"),
                 array(0));
}

static const struct endpoint asked = { "127.0.0.1", 7000 };
static struct cluster_map map;
static char err[512];

/* Three masters of 5461, 5462 and 5461 slots, the first two with a replica. */
static redisReply *three_masters(void)
{
    return array(3,
                 array(4, integer(0), integer(5460), node("127.0.0.1", 7000), node("127.0.0.1", 7003)),
                 array(4, integer(5461), integer(10922), node("127.0.0.1", 7001), node("127.0.0.1", 7004)),
                 array(3, integer(10923), integer(16383), node("127.0.0.1", 7002)));
}

static int read_map(const redisReply *reply)
{
    err[0] = '\0';
    return cluster_map_read(&map, reply, &asked, err, sizeof(err));
}

static int node_at(const char *host, unsigned port)
{
    for (int i = 0; i < map.n; i++)
        if (map.node[i].port == port && strcmp(map.node[i].host, host) == 0)
            return i;
    return CLUSTER_NO_NODE;
}

static void every_slot_goes_to_the_master_of_its_range(void)
{
    pool_reset();
    cluster_map_init(&map);
    CHECK(read_map(three_masters()) == 0);
    CHECK_STR(err, "");
    CHECK(map.n == 3);              /* replicas take no commands: not in the table */
    CHECK(map.masters == 3);
    CHECK(cluster_owner(&map, 0) == node_at("127.0.0.1", 7000));
    CHECK(cluster_owner(&map, 5460) == node_at("127.0.0.1", 7000));
    CHECK(cluster_owner(&map, 5461) == node_at("127.0.0.1", 7001));
    CHECK(cluster_owner(&map, 10922) == node_at("127.0.0.1", 7001));
    CHECK(cluster_owner(&map, 10923) == node_at("127.0.0.1", 7002));
    CHECK(cluster_owner(&map, 16383) == node_at("127.0.0.1", 7002));
    CHECK(cluster_owner(&map, 16384) == CLUSTER_NO_NODE);
    /* a course goes where its hash tag does: "c1" is in slot 14347 */
    CHECK(seckill_course_slot(1) == 14347);
    CHECK(cluster_owner(&map, seckill_course_slot(1)) == node_at("127.0.0.1", 7002));
    CHECK(cluster_owner(&map, seckill_key_slot("seckill:courses", 15)) != CLUSTER_NO_NODE);
}

static void slots_of_no_range_have_no_master(void)
{
    pool_reset();
    cluster_map_init(&map);
    CHECK(cluster_owner(&map, 0) == CLUSTER_NO_NODE);
    CHECK(read_map(array(2, array(3, integer(0), integer(99), node("10.0.0.1", 6379)),
                         array(3, integer(200), integer(200), node("10.0.0.2", 6379)))) == 0);
    CHECK(map.masters == 2);
    CHECK(cluster_owner(&map, 99) == node_at("10.0.0.1", 6379));
    CHECK(cluster_owner(&map, 100) == CLUSTER_NO_NODE);
    CHECK(cluster_owner(&map, 200) == node_at("10.0.0.2", 6379));
    CHECK(cluster_owner(&map, 201) == CLUSTER_NO_NODE);
}

static void a_master_without_an_address_is_where_it_was_asked(void)
{
    pool_reset();
    cluster_map_init(&map);
    CHECK(read_map(array(1, array(3, integer(0), integer(16383), node("", 7000)))) == 0);
    CHECK(map.n == 1);
    CHECK_STR(map.node[cluster_owner(&map, 42)].host, "127.0.0.1");
    CHECK(map.node[cluster_owner(&map, 42)].port == 7000);
}

static void a_node_keeps_its_index_when_the_map_is_read_again(void)
{
    int first, second, third, fourth;

    pool_reset();
    cluster_map_init(&map);
    CHECK(read_map(three_masters()) == 0);
    first = node_at("127.0.0.1", 7000);
    second = node_at("127.0.0.1", 7001);
    third = node_at("127.0.0.1", 7002);
    /* 7001 failed over to its replica 7004 */
    CHECK(read_map(array(3,
                         array(3, integer(0), integer(5460), node("127.0.0.1", 7000)),
                         array(3, integer(5461), integer(10922), node("127.0.0.1", 7004)),
                         array(3, integer(10923), integer(16383), node("127.0.0.1", 7002)))) == 0);
    fourth = node_at("127.0.0.1", 7004);
    CHECK(node_at("127.0.0.1", 7000) == first);
    CHECK(node_at("127.0.0.1", 7002) == third);
    CHECK(fourth == 3 && map.n == 4);
    CHECK(cluster_owner(&map, 6000) == fourth);
    CHECK(map.masters == 3);
    CHECK(!cluster_is_master(&map, second));
    CHECK(cluster_is_master(&map, fourth));
    CHECK(cluster_is_master(&map, first));
}

/* Reads the map, then a bad reply, which must leave it as it was. */
static void refused(redisReply *bad, const char *why)
{
    int owner, n;

    cluster_map_init(&map);
    CHECK(read_map(three_masters()) == 0);
    owner = cluster_owner(&map, 100);
    n = map.n;
    CHECK(read_map(bad) == -1);
    CHECK_STR(err, why);
    CHECK(cluster_owner(&map, 100) == owner);
    CHECK(map.n == n);
    CHECK(map.masters == 3);
}

static void a_bad_reply_leaves_the_map_as_it_was(void)
{
    pool_reset();
    refused(error("ERR This instance has cluster support disabled"),
            "CLUSTER SLOTS: ERR This instance has cluster support disabled");
    refused(string("OK"), "CLUSTER SLOTS: the reply is no list of slot ranges");
    /* a new node named before the bad range is not kept either */
    refused(array(2, array(3, integer(0), integer(99), node("10.9.9.9", 7000)),
                  array(3, integer(100), integer(16384), node("127.0.0.1", 7001))),
            "CLUSTER SLOTS: range 1 is not [first slot, last slot, master, ...]");
    refused(array(1, array(3, integer(10), integer(9), node("127.0.0.1", 7001))),
            "CLUSTER SLOTS: range 0 is not [first slot, last slot, master, ...]");
    refused(array(1, array(2, integer(0), integer(9))),
            "CLUSTER SLOTS: range 0 is not [first slot, last slot, master, ...]");
    refused(array(1, array(3, integer(0), integer(9), array(2, string("127.0.0.1"), string("7001")))),
            "CLUSTER SLOTS: slots 0-9: the master is not [host, port, ...]");
    refused(array(1, array(3, integer(0), integer(9), node("127.0.0.1", 0))),
            "CLUSTER SLOTS: slots 0-9: the master is not [host, port, ...]");
    refused(array(1, array(3, integer(0), integer(9), node("?", 7001))),
            "CLUSTER SLOTS: slots 0-9: the master announces no address ('?'); set its "
            "cluster-announce-hostname, or cluster-preferred-endpoint-type ip");
}

static void moved_corrects_the_map_and_ask_does_not(void)
{
    const char *moved = "MOVED 3999 127.0.0.1:7002", *ask = "ASK 3999 127.0.0.1:7009";
    int node = CLUSTER_NO_NODE, owner;

    pool_reset();
    cluster_map_init(&map);
    CHECK(read_map(three_masters()) == 0);
    CHECK(cluster_owner(&map, 3999) == node_at("127.0.0.1", 7000));
    CHECK(cluster_next(&map, moved, strlen(moved), &node) == CLUSTER_MOVED);
    CHECK(node == node_at("127.0.0.1", 7002));
    CHECK(cluster_owner(&map, 3999) == node);
    CHECK(cluster_owner(&map, 3998) == node_at("127.0.0.1", 7000));

    owner = cluster_owner(&map, 3999);
    CHECK(cluster_next(&map, ask, strlen(ask), &node) == CLUSTER_ASK);
    CHECK(node == node_at("127.0.0.1", 7009) && node != CLUSTER_NO_NODE);
    CHECK(cluster_owner(&map, 3999) == owner);
    CHECK(!cluster_is_master(&map, node));
}

static void other_errors_are_answers(void)
{
    static const char *const answers[] = {
        "NOSCRIPT No matching script. Please use EVAL.",
        "ERR wrong number of arguments",
        "CROSSSLOT Keys in request don't hash to the same slot",
        "CLUSTERDOWN The cluster is down",
        "MOVED 3999",
    };
    const char *again = "TRYAGAIN Multiple keys request during rehashing of slot";
    int node;

    pool_reset();
    cluster_map_init(&map);
    CHECK(read_map(three_masters()) == 0);
    for (size_t i = 0; i < sizeof(answers) / sizeof(answers[0]); i++)
        CHECK(cluster_next(&map, answers[i], strlen(answers[i]), &node) == CLUSTER_ANSWER);
    CHECK(cluster_next(&map, again, strlen(again), &node) == CLUSTER_TRYAGAIN);
    CHECK(map.n == 3);
}

static void a_full_table_takes_no_new_node(void)
{
    char host[32];
    const char *moved = "MOVED 1 10.1.1.1:1";
    int node;

    cluster_map_init(&map);
    for (int i = 0; i < CLUSTER_NODES_MAX; i++) {
        snprintf(host, sizeof(host), "10.0.0.%d", i);
        CHECK(cluster_node(&map, host, 6379) == i);
    }
    CHECK(cluster_node(&map, "10.0.0.5", 6379) == 5);
    CHECK(cluster_node(&map, "10.9.9.9", 6379) == CLUSTER_NO_NODE);
    CHECK(cluster_next(&map, moved, strlen(moved), &node) == CLUSTER_ANSWER);
    CHECK(cluster_owner(&map, 1) == CLUSTER_NO_NODE);
}

static void a_server_without_cluster_is_told_apart(void)
{
    CHECK(cluster_disabled("ERR This instance has cluster support disabled"));
    CHECK(cluster_disabled("ERR unknown command 'CLUSTER', with args beginning with: 'SLOTS' "));
    CHECK(!cluster_disabled("NOAUTH Authentication required."));
    CHECK(!cluster_disabled("LOADING Redis is loading the dataset in memory"));
    CHECK(!cluster_disabled("NOPERM this user has no permissions to run the 'cluster' command"));
}

void suite_cluster(void)
{
    UNIT_RUN(every_slot_goes_to_the_master_of_its_range);
    UNIT_RUN(slots_of_no_range_have_no_master);
    UNIT_RUN(a_master_without_an_address_is_where_it_was_asked);
    UNIT_RUN(a_node_keeps_its_index_when_the_map_is_read_again);
    UNIT_RUN(a_bad_reply_leaves_the_map_as_it_was);
    UNIT_RUN(moved_corrects_the_map_and_ask_does_not);
    UNIT_RUN(other_errors_are_answers);
    UNIT_RUN(a_full_table_takes_no_new_node);
    UNIT_RUN(a_server_without_cluster_is_told_apart);
}
