/* Redis side of the admin commands: the stock of each course (its hash and
 * the catalogue zset), and wiping a sale. Key names are in keys.h. */
#ifndef SECKILL_STORE_H
#define SECKILL_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis.h>

#include "config.h"
#include "course.h"

struct store {
    redisContext *rc;
    char addr[300];             /* host:port, for messages */
    char err[2048];             /* why the last call failed */
};

/* What store_wipe_courses() deleted. */
struct wipe_counts {
    uint64_t hashes, pending_sets, user_keys, other_keys;
    int unlisted;               /* store_remove_course(): was in seckill:courses */
};

int store_open(struct store *st, const struct seckill_config *cfg);
void store_close(struct store *st);

/* The members of a course's pending hash at one moment (see store_load_course). */
struct pending_snapshot {
    redisReply *members;
};

/* What store_load_course() counted and wrote. */
struct load_result {
    uint64_t pending;       /* reservations pending now */
    uint64_t gone;          /* in the snapshot, no longer pending */
    uint64_t remaining;
};

int store_pending_snapshot(struct store *st, uint64_t course_id,
                           struct pending_snapshot *snap);
void store_snapshot_free(struct pending_snapshot *snap);

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
int store_load_course(struct store *st, const struct course *c, uint64_t orders,
                      const struct pending_snapshot *snap, struct load_result *out);

/* Takes off sale every course listed in seckill:courses but not in keep
 * (sorted ids): unlisted and its hash deleted. *removed counts them. */
int store_unlist_others(struct store *st, const uint64_t *keep, size_t n,
                        uint64_t *removed);

/* Deletes every per-course key (seckill:{c<id>}...) of every course. */
int store_wipe_courses(struct store *st, struct wipe_counts *counts);

/* Takes one course off sale, then deletes every key of it: its id in
 * seckill:courses, its hash, its pending hash, its users' order keys. */
int store_remove_course(struct store *st, uint64_t course_id, struct wipe_counts *counts);

/* Sets starts_at and ends_at of a course's hash in one atomic step.
 * *loaded is 0 when the course has no hash in Redis: nothing is written. */
int store_set_window(struct store *st, uint64_t course_id, int64_t starts_at, int64_t ends_at,
                     int *loaded);

/* remaining from the hash (-1 when the course is not loaded) and the size of
 * the pending hash. */
/* A course of the catalogue as Redis holds it: total and remaining from its
 * hash (-1 when absent), reservations pending. */
struct course_stock {
    uint64_t id;
    int64_t total, remaining;
    uint64_t pending;
};

/* Every course listed in the catalogue, in id order, at most max of them,
 * in one ZRANGE and one pipelined HMGET + HLEN per course: *out (malloc'ed,
 * n of them). */
int store_catalogue_stock(struct store *st, size_t max, struct course_stock **out, size_t *n);

int store_course_stock(struct store *st, uint64_t course_id,
                       int64_t *remaining, uint64_t *pending);

/* A user's order status key seckill:{c<id>}:u:<uid>, as `check` reads it. */
struct user_status {
    uint64_t course_id, user_id;
    int exists;                 /* the key is there */
    uint64_t order_id;          /* 0 when missing or not a number */
    char status[16];            /* "" when missing */
};

/* Reads the status keys of us[i].course_id/user_id (pipelined HMGET). */
int store_user_statuses(struct store *st, struct user_status *us, size_t n);

/* One step of a SCAN over every user status key: *out (malloc'd, *n of
 * them) with their contents. cursor starts and ends as "0". */
int store_scan_users(struct store *st, char cursor[32], struct user_status **out, size_t *n);

#endif
