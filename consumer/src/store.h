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
    char err[1024];             /* why the last call failed */
};

/* What store_wipe_courses() deleted. */
struct wipe_counts {
    uint64_t hashes, pending_sets, user_keys, other_keys;
};

int store_open(struct store *st, const struct seckill_config *cfg);
void store_close(struct store *st);

/* Writes the course hash from MariaDB's numbers and lists the course in
 * seckill:courses, atomically against concurrent reservations (WATCH on the
 * hash and the pending zset). *pending and *remaining are what was used. */
int store_load_course(struct store *st, const struct course *c, uint64_t orders,
                      uint64_t *pending, uint64_t *remaining);

/* The course ids listed in seckill:courses; free(*ids) when done. */
int store_listed_courses(struct store *st, uint64_t **ids, size_t *n);

/* Takes a course off sale: out of seckill:courses, its hash deleted. */
int store_unlist_course(struct store *st, uint64_t course_id);

/* Deletes every per-course key (seckill:{c<id>}...) of every course. */
int store_wipe_courses(struct store *st, struct wipe_counts *counts);

/* remaining from the hash (-1 when the course is not loaded) and the size of
 * the pending zset. */
int store_course_stock(struct store *st, uint64_t course_id,
                       int64_t *remaining, uint64_t *pending);

#endif
