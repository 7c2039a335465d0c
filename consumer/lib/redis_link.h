/* What redis.c (the connections) gives redis_pipe.c (the commands): a
 * node's connection made on demand, and what to do when it fails. Private
 * to those two files; callers use redis.h. */
#ifndef SECKILL_REDIS_LINK_H
#define SECKILL_REDIS_LINK_H

#include "redis.h"

/* Node i's connection, made when there is none (once per run: a node down
 * costs one connect timeout per command, not one per round), with the
 * scripts loaded. NULL with r->err. */
redisContext *redis_link_up(struct redis *r, int i);

/* Node i's connection is gone: the next command makes a new one, and a
 * cluster's map is read again first (a replica may have taken over). */
void redis_link_lost(struct redis *r, int i);

/* r->err for node i's connection, which failed while doing what. */
void redis_link_error(struct redis *r, int i, const char *what);

/* The map again, from a node already connected, else from any node known,
 * seeds included. 0, or -1 leaving the map as it was. */
int redis_map_refresh(struct redis *r);

#endif
