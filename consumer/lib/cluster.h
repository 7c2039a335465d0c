/* Redis Cluster's slot map, the pure half of routing (redis.c does the
 * talking): which master serves each of the 16384 hash slots, as a CLUSTER
 * SLOTS reply says and MOVED redirections correct it, and the table of the
 * nodes it names. A node keeps its index for the life of the map, even when
 * it serves no slot any more, so that the connection redis.c keeps at that
 * index stays the node's own across refreshes. No I/O in here. */
#ifndef SECKILL_CLUSTER_H
#define SECKILL_CLUSTER_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "config.h"
#include "seckill_slot.h"

/* Masters, plus nodes a redirection named, plus seeds. Redis's own advice
 * tops out near 1000 nodes; a sale's cluster has a handful. */
#define CLUSTER_NODES_MAX 128
#define CLUSTER_NO_NODE (-1)

struct cluster_map {
    struct endpoint node[CLUSTER_NODES_MAX];
    int n;
    int16_t owner[SECKILL_SLOTS];   /* index into node, or CLUSTER_NO_NODE */
    int masters;                    /* nodes serving at least one slot */
};

/* An empty map: no node, no slot served. */
void cluster_map_init(struct cluster_map *m);

/* The index of host:port in the table, added when new; CLUSTER_NO_NODE
 * when the table is full or host does not fit. */
int cluster_node(struct cluster_map *m, const char *host, unsigned port);

/* Reads a CLUSTER SLOTS reply, asked of the node at from (a master that
 * announces no address, "", is reached where it was asked): every slot gets
 * the master of its range, slots of no range get none. The map is left as
 * it was when the reply is not one (err says what is wrong with it). */
int cluster_map_read(struct cluster_map *m, const redisReply *slots, const struct endpoint *from,
                     char *err, size_t errlen);

/* The master of slot, or CLUSTER_NO_NODE. */
int cluster_owner(const struct cluster_map *m, unsigned slot);

/* What an error reply to a command says about where it goes next. */
enum cluster_next {
    CLUSTER_ANSWER,     /* nowhere: the error is the command's answer */
    CLUSTER_MOVED,      /* the slot's owner moved (the map says where now):
                           send it there, and read the map again */
    CLUSTER_ASK,        /* a slot being migrated, the key gone already:
                           ASKING, then the command, to the node asked */
    CLUSTER_TRYAGAIN    /* keys of a multi-key command on both sides of a
                           migration: the same node, a moment later */
};

/* Reads the error reply err (len bytes): a MOVED corrects the map, an ASK
 * sets *node. A redirection to a node the table has no room for is an
 * answer. */
enum cluster_next cluster_next(struct cluster_map *m, const char *err, size_t len, int *node);

/* Node i serves a slot: one of the masters a keyspace scan visits. */
int cluster_is_master(const struct cluster_map *m, int i);

/* The error reply to CLUSTER SLOTS of a server that is no cluster member:
 * Redis with cluster-enabled no, or a server without the command. */
int cluster_disabled(const char *err);

#endif
