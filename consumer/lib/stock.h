/* What Redis holds of each course on sale, as the admin commands and the
 * daemon's metrics read and write it: its hash (name, total, remaining, sale
 * window), its pending reservations, its id in the catalogue zset; loading
 * it from MariaDB's numbers, taking it off sale, wiping a sale. Key names
 * are in keys.h. Each call returns 0, or -1 with the reason in r->err.
 * Each command goes to the master of its course's slot (redis.h); a wipe
 * scans every master. */
#ifndef SECKILL_STOCK_H
#define SECKILL_STOCK_H

#include <stddef.h>
#include <stdint.h>

#include "course.h"
#include "redis.h"

/* What stock_wipe_courses() and stock_remove_course() deleted. */
struct wipe_counts {
    uint64_t hashes, pending_sets, user_keys, other_keys;
    int unlisted;               /* stock_remove_course(): was in seckill:courses */
};

/* The members of a course's pending hash at one moment (see stock_load_course). */
struct pending_snapshot {
    redisReply *members;
};

/* What stock_load_course() counted and wrote. */
struct load_result {
    uint64_t pending;       /* reservations pending now */
    uint64_t gone;          /* in the snapshot, no longer pending */
    uint64_t remaining;
};

int stock_pending_snapshot(struct redis *r, uint64_t course_id,
                           struct pending_snapshot *snap);
void stock_snapshot_free(struct pending_snapshot *snap);

/* Writes the course hash with remaining = total - orders - pending - gone
 * (never below 0), in one atomic step with counting the pending
 * reservations, then lists the course in seckill:courses.
 *
 * Why the snapshot: the consumer takes a user out of the pending hash only
 * after committing the order. An order committed after MariaDB's count and
 * confirmed before the script would be counted in neither; taken before the
 * count, the snapshot names it, and the script counts every snapshot member
 * that left the hash as sold. On a quiet sale the result is exact; under
 * traffic it can only err toward fewer seats (released reservations, orders
 * counted twice), never toward selling a seat twice. */
int stock_load_course(struct redis *r, const struct course *c, uint64_t orders,
                      const struct pending_snapshot *snap, struct load_result *out);

/* Takes off sale every course listed in seckill:courses but not in keep
 * (sorted ids): unlisted and its hash deleted. *removed counts them. */
int stock_unlist_others(struct redis *r, const uint64_t *keep, size_t n,
                        uint64_t *removed);

/* Deletes every per-course key (seckill:{c<id>}...) of every course. */
int stock_wipe_courses(struct redis *r, struct wipe_counts *counts);

/* Takes one course off sale, then deletes every key of it: its id in
 * seckill:courses, its hash, its pending hash, its users' order keys. */
int stock_remove_course(struct redis *r, uint64_t course_id, struct wipe_counts *counts);

/* Sets starts_at and ends_at of a course's hash in one atomic step.
 * *loaded is 0 when the course has no hash in Redis: nothing is written. */
int stock_set_window(struct redis *r, uint64_t course_id, int64_t starts_at, int64_t ends_at,
                     int *loaded);

/* A course of the catalogue as Redis holds it: total and remaining from its
 * hash (-1 when absent), reservations pending. */
struct course_stock {
    uint64_t id;
    int64_t total, remaining;
    uint64_t pending;
};

/* Every course listed in the catalogue, in id order, at most max of them,
 * in one ZRANGE and one pipelined HMGET + HLEN per course: *out (malloc'ed,
 * n of them). Returns 1 when a cluster master could not be read: its
 * courses have total and remaining -1, r->err says why, the others are
 * there. */
int stock_catalogue(struct redis *r, size_t max, struct course_stock **out, size_t *n);

/* One course: remaining from its hash (-1 when it is not loaded) and the
 * size of its pending hash. */
int stock_of_course(struct redis *r, uint64_t course_id,
                    int64_t *remaining, uint64_t *pending);

#endif
