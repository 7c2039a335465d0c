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

/* CREATE TABLE IF NOT EXISTS courses, orders; *created counts the new ones. */
int db_create_schema(struct db *db, int *created);

int db_count_courses(struct db *db, uint64_t *count);

/* Inserts the courses in one statement; ids already present are kept. */
int db_insert_courses(struct db *db, const struct course *courses, size_t n);

/* Every course by id with its order count; free(*rows) when done. */
int db_list_courses(struct db *db, struct course_orders **rows, size_t *n);

/* Orders of one course persisted now. */
int db_count_orders(struct db *db, uint64_t course_id, uint64_t *count);

/* Deletes every order; *deleted is how many. */
int db_delete_orders(struct db *db, uint64_t *deleted);

#endif
