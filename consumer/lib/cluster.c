/* Redis Cluster's slot map (cluster.h). */
#include "cluster.h"

#include <stdio.h>
#include <string.h>

static void count_masters(struct cluster_map *m)
{
    char serves[CLUSTER_NODES_MAX] = { 0 };

    m->masters = 0;
    for (unsigned s = 0; s < SECKILL_SLOTS; s++)
        if (m->owner[s] != CLUSTER_NO_NODE && !serves[m->owner[s]]) {
            serves[m->owner[s]] = 1;
            m->masters++;
        }
}

void cluster_map_init(struct cluster_map *m)
{
    m->n = 0;
    m->masters = 0;
    for (unsigned s = 0; s < SECKILL_SLOTS; s++)
        m->owner[s] = CLUSTER_NO_NODE;
}

int cluster_node(struct cluster_map *m, const char *host, unsigned port)
{
    for (int i = 0; i < m->n; i++)
        if (m->node[i].port == port && strcmp(m->node[i].host, host) == 0)
            return i;
    if (m->n == CLUSTER_NODES_MAX || strlen(host) >= sizeof(m->node[0].host) || port == 0
        || port > 65535)
        return CLUSTER_NO_NODE;
    strcpy(m->node[m->n].host, host);
    m->node[m->n].port = (uint16_t)port;
    return m->n++;
}

static int is_int(const redisReply *r, long long min, long long max)
{
    return r->type == REDIS_REPLY_INTEGER && r->integer >= min && r->integer <= max;
}

/* One range of the reply: [start, end, [host, port, id, ...], replicas...].
 * Returns 0 with its master's address, or -1 with err. */
static int read_range(const redisReply *e, size_t k, const struct endpoint *from,
                      const char **host, unsigned *port, char *err, size_t errlen)
{
    const redisReply *master;

    if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 || !is_int(e->element[0], 0, SECKILL_SLOTS - 1)
        || !is_int(e->element[1], e->element[0]->integer, SECKILL_SLOTS - 1)) {
        snprintf(err, errlen, "CLUSTER SLOTS: range %zu is not [first slot, last slot, master, ...]", k);
        return -1;
    }
    master = e->element[2];
    if (master->type != REDIS_REPLY_ARRAY || master->elements < 2
        || master->element[0]->type != REDIS_REPLY_STRING || !is_int(master->element[1], 1, 65535)) {
        snprintf(err, errlen, "CLUSTER SLOTS: slots %lld-%lld: the master is not [host, port, ...]",
                 e->element[0]->integer, e->element[1]->integer);
        return -1;
    }
    *host = master->element[0]->str;
    *port = (unsigned)master->element[1]->integer;
    /* "" : the node does not know its own address; "?" : it announces a
     * hostname it does not have (cluster-preferred-endpoint-type). */
    if ((*host)[0] == '\0') {
        *host = from->host;
    } else if (strcmp(*host, "?") == 0) {
        snprintf(err, errlen, "CLUSTER SLOTS: slots %lld-%lld: the master announces no address ('?'); "
                 "set its cluster-announce-hostname, or cluster-preferred-endpoint-type ip",
                 e->element[0]->integer, e->element[1]->integer);
        return -1;
    }
    return 0;
}

int cluster_map_read(struct cluster_map *m, const redisReply *slots, const struct endpoint *from,
                     char *err, size_t errlen)
{
    const char *host;
    unsigned port;
    int n_before = m->n;

    if (slots->type != REDIS_REPLY_ARRAY) {
        snprintf(err, errlen, "CLUSTER SLOTS: %s", slots->type == REDIS_REPLY_ERROR ? slots->str
                 : "the reply is no list of slot ranges");
        return -1;
    }
    /* Everything checked and every node in the table before a slot
     * changes hands: a bad reply leaves the map as it was. */
    for (size_t k = 0; k < slots->elements; k++) {
        if (read_range(slots->element[k], k, from, &host, &port, err, errlen) != 0)
            goto undo;
        if (cluster_node(m, host, port) == CLUSTER_NO_NODE) {
            snprintf(err, errlen, "CLUSTER SLOTS: more than %d nodes, or a host name longer than %zu "
                     "bytes (%.80s)", CLUSTER_NODES_MAX, sizeof(m->node[0].host) - 1, host);
            goto undo;
        }
    }
    for (unsigned s = 0; s < SECKILL_SLOTS; s++)
        m->owner[s] = CLUSTER_NO_NODE;
    for (size_t k = 0; k < slots->elements; k++) {
        const redisReply *e = slots->element[k];
        int node;

        read_range(e, k, from, &host, &port, err, errlen);
        node = cluster_node(m, host, port);
        for (long long s = e->element[0]->integer; s <= e->element[1]->integer; s++)
            m->owner[s] = (int16_t)node;
    }
    count_masters(m);
    return 0;

undo:
    m->n = n_before;
    return -1;
}

int cluster_owner(const struct cluster_map *m, unsigned slot)
{
    return slot < SECKILL_SLOTS ? m->owner[slot] : CLUSTER_NO_NODE;
}

enum cluster_next cluster_next(struct cluster_map *m, const char *err, size_t len, int *node)
{
    seckill_redirect_t rd;

    if (len >= 8 && memcmp(err, "TRYAGAIN", 8) == 0)
        return CLUSTER_TRYAGAIN;
    if (!seckill_redirect_parse(err, len, &rd)
        || (*node = cluster_node(m, rd.host, (unsigned)rd.port)) == CLUSTER_NO_NODE)
        return CLUSTER_ANSWER;
    if (rd.ask)
        return CLUSTER_ASK;
    m->owner[rd.slot] = (int16_t)*node;
    count_masters(m);
    return CLUSTER_MOVED;
}

int cluster_is_master(const struct cluster_map *m, int i)
{
    for (unsigned s = 0; s < SECKILL_SLOTS; s++)
        if (m->owner[s] == i)
            return 1;
    return 0;
}

int cluster_disabled(const char *err)
{
    return strstr(err, "cluster support disabled") != NULL
        || strncmp(err, "ERR unknown command", 19) == 0;
}
