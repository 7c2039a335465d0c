/* MariaDB: connecting with errors that say what to do, the schema of the
 * contract, and the queries on courses and orders. */
#ifndef SECKILL_DB_H
#define SECKILL_DB_H

#include <stddef.h>
#include <stdint.h>

#include <mysql.h>

#include "config.h"
#include "course.h"

struct db {
    MYSQL *conn;
    char addr[300];             /* host:port, for messages */
    int created_database;       /* db_open() had to create it */
    char err[2048];             /* why the last call failed */
};

/* A course with the number of its orders persisted in MariaDB. */
struct course_orders {
    struct course course;
    uint64_t orders;
};

enum db_open_flags { DB_EXISTING = 0, DB_CREATE_DATABASE = 1 };

/* Connects over TCP (never a local socket: the system's own server is not
 * ours). With DB_CREATE_DATABASE, creates mysql_database when missing. */
int db_open(struct db *db, const struct seckill_config *cfg, enum db_open_flags flags);
void db_close(struct db *db);

/* db->err: what failed, with MariaDB's error and its number. Returns -1. */
int db_fail(struct db *db, const char *what);

/* CREATE TABLE IF NOT EXISTS courses, orders; *created counts the new ones. */
int db_create_schema(struct db *db, int *created);

int db_count_courses(struct db *db, uint64_t *count);

/* Inserts the courses in one statement; ids already present are kept. */
int db_insert_courses(struct db *db, const struct course *courses, size_t n);

/* Every course by id with its order count; free(*rows) when done. */
int db_list_courses(struct db *db, struct course_orders **rows, size_t *n);

/* One course with its order count; *found is 0 when there is none. */
int db_get_course(struct db *db, uint64_t id, struct course_orders *row, int *found);

/* Inserts a new course; *exists is 1 when the id is taken (an error too). */
int db_insert_course(struct db *db, const struct course *c, int *exists);

int db_set_window(struct db *db, uint64_t id, int64_t starts_at, int64_t ends_at);
int db_set_total(struct db *db, uint64_t id, uint32_t total);

/* Deletes a course in one transaction, first its orders when with_orders.
 * A course that still has orders stays: *deleted is 0 then. */
int db_delete_course(struct db *db, uint64_t id, int with_orders,
                     uint64_t *orders_deleted, int *deleted);

/* Orders of one course persisted now. */
int db_count_orders(struct db *db, uint64_t course_id, uint64_t *count);

/* Deletes every order; *deleted is how many. */
int db_delete_orders(struct db *db, uint64_t *deleted);

/* An order row, as `check` reads it. */
struct order_row {
    uint64_t order_id, course_id, user_id;
};

/* A course and user with more than one order, or a course id with orders
 * but not in courses: the id pair and the count. */
struct order_group {
    uint64_t course_id, user_id;
    uint64_t orders;
};

/* Up to max orders with order_id > after, by order_id. */
int db_orders_page(struct db *db, uint64_t after, struct order_row *rows,
                   size_t max, size_t *n);

/* The orders among ids[0..n) that exist, in *found (at most n rows). */
int db_find_orders(struct db *db, const uint64_t *ids, size_t n,
                   struct order_row *found, size_t *nfound);

/* Up to max (course, user) pairs holding more than one order. */
int db_duplicate_users(struct db *db, struct order_group *groups, size_t max, size_t *n);

/* Up to max course ids of orders whose course is not in courses (user_id 0). */
int db_orphan_orders(struct db *db, struct order_group *groups, size_t max, size_t *n);

/* Adds seats to courses: a course not there yet is created with them; a
 * course there gets total += seats and a sale window stretched to cover the
 * given one. */
int db_add_seats(struct db *db, const struct course *courses, size_t n);

#endif
