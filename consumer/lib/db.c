/* MariaDB through Connector/C (db.h). */
#include "db.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <errmsg.h>
#include <mysqld_error.h>

static const char *const schema[] = {
    "CREATE TABLE IF NOT EXISTS courses ("
    " id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
    " name VARCHAR(200) NOT NULL,"
    " total INT UNSIGNED NOT NULL COMMENT 'seats on sale',"
    " starts_at BIGINT NOT NULL COMMENT 'sale opens, Unix ms',"
    " ends_at BIGINT NOT NULL COMMENT 'sale closes, Unix ms',"
    " created_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",

    /* uq_course_user also serves every lookup by course_id (its leftmost
     * column), so orders carry no second index to slow their inserts. */
    "CREATE TABLE IF NOT EXISTS orders ("
    " order_id BIGINT UNSIGNED NOT NULL PRIMARY KEY,"
    " course_id BIGINT UNSIGNED NOT NULL,"
    " user_id BIGINT UNSIGNED NOT NULL,"
    " created_at BIGINT NOT NULL COMMENT 'Unix ms, from the order event',"
    " persisted_at TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),"
    " UNIQUE KEY uq_course_user (course_id, user_id)"
    ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
};

int db_fail(struct db *db, const char *what)
{
    snprintf(db->err, sizeof(db->err), "MariaDB at %s: %s: %s (error %u)",
             db->addr, what, mysql_error(db->conn), mysql_errno(db->conn));
    return -1;
}

static void connect_hint(unsigned code, const char *conf, char *hint, size_t size)
{
    switch (code) {
    case ER_ACCESS_DENIED_ERROR:
        snprintf(hint, size, "check mysql_user and mysql_password in %.300s", conf);
        break;
    case ER_DBACCESS_DENIED_ERROR:
    case ER_BAD_DB_ERROR:
        snprintf(hint, size, "the database and the user's grants are made by the deploy scripts (`make run`)");
        break;
    default:
        snprintf(hint, size, "is it running? try `make status`");
        break;
    }
}

static MYSQL *connect_to(const struct seckill_config *cfg, const char *database)
{
    MYSQL *conn = mysql_init(NULL);
    unsigned protocol = MYSQL_PROTOCOL_TCP;
    unsigned connect_timeout = 5, io_timeout = 300;

    if (conn == NULL)
        return NULL;
    mysql_options(conn, MYSQL_OPT_PROTOCOL, &protocol);
    mysql_options(conn, MYSQL_OPT_CONNECT_TIMEOUT, &connect_timeout);
    mysql_options(conn, MYSQL_OPT_READ_TIMEOUT, &io_timeout);
    mysql_options(conn, MYSQL_OPT_WRITE_TIMEOUT, &io_timeout);
    mysql_options(conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    mysql_real_connect(conn, cfg->mysql.host, cfg->mysql_user, cfg->mysql_password,
                       database, cfg->mysql.port, NULL, 0);
    return conn;
}

int db_open(struct db *db, const struct seckill_config *cfg, enum db_open_flags flags)
{
    unsigned code;

    memset(db, 0, sizeof(*db));
    snprintf(db->addr, sizeof(db->addr), "%s:%u", cfg->mysql.host, cfg->mysql.port);

    db->conn = connect_to(cfg, cfg->mysql_database);
    if (db->conn == NULL) {
        snprintf(db->err, sizeof(db->err), "out of memory");
        return -1;
    }
    code = mysql_errno(db->conn);
    if (code == ER_BAD_DB_ERROR && (flags & DB_CREATE_DATABASE)) {
        char sql[128];

        mysql_close(db->conn);
        db->conn = connect_to(cfg, NULL);
        if (db->conn == NULL) {
            snprintf(db->err, sizeof(db->err), "out of memory");
            return -1;
        }
        code = mysql_errno(db->conn);
        if (code == 0) {
            /* mysql_database holds only [A-Za-z0-9_] (config.c). */
            snprintf(sql, sizeof(sql), "CREATE DATABASE IF NOT EXISTS `%s` CHARACTER SET utf8mb4",
                     cfg->mysql_database);
            if (mysql_query(db->conn, sql) != 0 || mysql_select_db(db->conn, cfg->mysql_database) != 0) {
                db_fail(db, "cannot create database");
                mysql_close(db->conn);
                db->conn = NULL;
                return -1;
            }
            db->created_database = 1;
        }
    }
    if (code != 0) {
        char hint[400];

        connect_hint(code, cfg->path, hint, sizeof(hint));
        snprintf(db->err, sizeof(db->err),
                 "cannot connect to MariaDB at %s (user %s, database %s): %s — %s",
                 db->addr, cfg->mysql_user, cfg->mysql_database,
                 mysql_error(db->conn), hint);
        mysql_close(db->conn);
        db->conn = NULL;
        return -1;
    }
    return 0;
}

void db_close(struct db *db)
{
    if (db->conn != NULL)
        mysql_close(db->conn);
    db->conn = NULL;
}

int db_create_schema(struct db *db, int *created)
{
    *created = 0;
    for (size_t i = 0; i < sizeof(schema) / sizeof(schema[0]); i++) {
        if (mysql_query(db->conn, schema[i]) != 0)
            return db_fail(db, "cannot create the schema");
        /* IF NOT EXISTS leaves a note (1050) when the table was there. */
        if (mysql_warning_count(db->conn) == 0)
            (*created)++;
    }
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    char *end;

    if (s == NULL || *s == '-')
        return -1;
    errno = 0;
    *out = strtoull(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

static int parse_i64(const char *s, int64_t *out)
{
    char *end;

    if (s == NULL)
        return -1;
    errno = 0;
    *out = strtoll(s, &end, 10);
    return errno != 0 || end == s || *end != '\0' ? -1 : 0;
}

/* The number in the single-row, single-column answer to sql. */
static int count_of(struct db *db, const char *sql, uint64_t *count)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    int rc = -1;

    if (mysql_query(db->conn, sql) != 0 || (res = mysql_store_result(db->conn)) == NULL)
        return db_fail(db, sql);
    row = mysql_fetch_row(res);
    if (row != NULL && parse_u64(row[0], count) == 0)
        rc = 0;
    else
        snprintf(db->err, sizeof(db->err), "MariaDB at %s: %s: no number in the answer", db->addr, sql);
    mysql_free_result(res);
    return rc;
}

int db_count_courses(struct db *db, uint64_t *count)
{
    return count_of(db, "SELECT COUNT(*) FROM courses", count);
}

int db_count_orders(struct db *db, uint64_t course_id, uint64_t *count)
{
    char sql[96];

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM orders WHERE course_id = %" PRIu64, course_id);
    return count_of(db, sql, count);
}

/* One INSERT of the courses: head, their rows, then tail. what says what
 * failed. */
static int insert_courses(struct db *db, const char *head, const struct course *courses, size_t n,
                          const char *tail, const char *what)
{
    /* A row: the escaped name (at most twice as long), four numbers, punctuation. */
    enum { ROW_MAX = 2 * COURSE_NAME_MAX + 4 * 21 + 16 };
    char escaped[2 * COURSE_NAME_MAX + 1];
    size_t cap = strlen(head) + strlen(tail) + 128 + n * ROW_MAX, len;
    char *sql;
    int rc = 0;

    if (n == 0)
        return 0;
    if ((sql = malloc(cap)) == NULL) {
        snprintf(db->err, sizeof(db->err), "out of memory");
        return -1;
    }
    len = (size_t)snprintf(sql, cap, "%s INTO courses (id, name, total, starts_at, ends_at) VALUES ", head);
    for (size_t i = 0; i < n; i++) {
        const struct course *c = &courses[i];

        mysql_real_escape_string(db->conn, escaped, c->name, strlen(c->name));
        len += (size_t)snprintf(sql + len, cap - len, "%s(%" PRIu64 ", '%s', %" PRIu32 ", %" PRId64 ", %" PRId64 ")",
                                i ? ", " : "", c->id, escaped, c->total, c->starts_at, c->ends_at);
    }
    snprintf(sql + len, cap - len, "%s", tail);
    if (mysql_query(db->conn, sql) != 0)
        rc = db_fail(db, what);
    free(sql);
    return rc;
}

int db_insert_courses(struct db *db, const struct course *courses, size_t n)
{
    /* IGNORE: two `init` at once must not fail on each other's rows. */
    return insert_courses(db, "INSERT IGNORE", courses, n, "", "cannot insert courses");
}

/* The courses that where selects (all of them when empty), by id, each with
 * its order count. */
static int select_courses(struct db *db, const char *where, struct course_orders **rows, size_t *n)
{
    char sql[320];
    MYSQL_RES *res;
    MYSQL_ROW row;
    struct course_orders *out;
    size_t count, i = 0;

    snprintf(sql, sizeof(sql),
             "SELECT c.id, c.name, c.total, c.starts_at, c.ends_at,"
             " (SELECT COUNT(*) FROM orders o WHERE o.course_id = c.id)"
             " FROM courses c%s ORDER BY c.id", where);
    if (mysql_query(db->conn, sql) != 0 || (res = mysql_store_result(db->conn)) == NULL)
        return db_fail(db, "cannot read courses");

    count = (size_t)mysql_num_rows(res);
    out = calloc(count ? count : 1, sizeof(*out));
    if (out == NULL) {
        mysql_free_result(res);
        snprintf(db->err, sizeof(db->err), "out of memory");
        return -1;
    }
    while ((row = mysql_fetch_row(res)) != NULL && i < count) {
        struct course *c = &out[i].course;
        unsigned long *lengths = mysql_fetch_lengths(res);
        uint64_t total;

        if (parse_u64(row[0], &c->id) != 0 || row[1] == NULL
            || lengths[1] > COURSE_NAME_MAX
            || parse_u64(row[2], &total) != 0 || total > UINT32_MAX
            || parse_i64(row[3], &c->starts_at) != 0
            || parse_i64(row[4], &c->ends_at) != 0
            || parse_u64(row[5], &out[i].orders) != 0) {
            snprintf(db->err, sizeof(db->err), "MariaDB at %s: unexpected row in courses (id %s)",
                     db->addr, row[0] ? row[0] : "NULL");
            free(out);
            mysql_free_result(res);
            return -1;
        }
        memcpy(c->name, row[1], lengths[1]);
        c->name[lengths[1]] = '\0';
        c->total = (uint32_t)total;
        i++;
    }
    mysql_free_result(res);
    *rows = out;
    *n = i;
    return 0;
}

int db_list_courses(struct db *db, struct course_orders **rows, size_t *n)
{
    return select_courses(db, "", rows, n);
}

int db_get_course(struct db *db, uint64_t id, struct course_orders *row, int *found)
{
    struct course_orders *rows;
    char where[48];
    size_t n;

    snprintf(where, sizeof(where), " WHERE c.id = %" PRIu64, id);
    if (select_courses(db, where, &rows, &n) != 0)
        return -1;
    *found = n == 1;
    if (*found)
        *row = rows[0];
    free(rows);
    return 0;
}

int db_insert_course(struct db *db, const struct course *c, int *exists)
{
    int rc = insert_courses(db, "INSERT", c, 1, "", "cannot add the course");

    *exists = rc != 0 && mysql_errno(db->conn) == ER_DUP_ENTRY;
    return rc;
}

int db_set_window(struct db *db, uint64_t id, int64_t starts_at, int64_t ends_at)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "UPDATE courses SET starts_at = %" PRId64 ", ends_at = %" PRId64
             " WHERE id = %" PRIu64, starts_at, ends_at, id);
    return mysql_query(db->conn, sql) == 0 ? 0 : db_fail(db, "cannot set the sale window");
}

int db_set_total(struct db *db, uint64_t id, uint32_t total)
{
    char sql[128];

    snprintf(sql, sizeof(sql), "UPDATE courses SET total = %" PRIu32 " WHERE id = %" PRIu64, total, id);
    return mysql_query(db->conn, sql) == 0 ? 0 : db_fail(db, "cannot set the seats");
}

int db_delete_course(struct db *db, uint64_t id, int with_orders,
                     uint64_t *orders_deleted, int *deleted)
{
    char sql[200];

    *orders_deleted = 0;
    *deleted = 0;
    if (mysql_query(db->conn, "START TRANSACTION") != 0)
        return db_fail(db, "cannot start a transaction");
    if (with_orders) {
        snprintf(sql, sizeof(sql), "DELETE FROM orders WHERE course_id = %" PRIu64, id);
        if (mysql_query(db->conn, sql) != 0)
            goto failed;
        *orders_deleted = (uint64_t)mysql_affected_rows(db->conn);
    }
    /* Never leaves orders without their course, also when one was
     * persisted since the caller counted them. */
    snprintf(sql, sizeof(sql), "DELETE FROM courses WHERE id = %" PRIu64
             " AND NOT EXISTS (SELECT 1 FROM orders WHERE course_id = %" PRIu64 ")", id, id);
    if (mysql_query(db->conn, sql) != 0)
        goto failed;
    *deleted = mysql_affected_rows(db->conn) == 1;
    if (mysql_query(db->conn, "COMMIT") != 0)
        goto failed;
    return 0;

failed:
    db_fail(db, "cannot delete the course");
    mysql_query(db->conn, "ROLLBACK");
    *orders_deleted = 0;
    *deleted = 0;
    return -1;
}

int db_delete_orders(struct db *db, uint64_t *deleted)
{
    if (mysql_query(db->conn, "DELETE FROM orders") != 0)
        return db_fail(db, "cannot delete orders");
    *deleted = (uint64_t)mysql_affected_rows(db->conn);
    return 0;
}

/* Reads up to max rows of three numbers, each handed to put() as row i of
 * rows; n counts them. */
static int read_triples(struct db *db, const char *sql, size_t max, size_t *n, const char *what,
                        void (*put)(void *rows, size_t i, const uint64_t v[3]), void *rows)
{
    MYSQL_RES *res;
    MYSQL_ROW row;
    uint64_t v[3];

    *n = 0;
    if (mysql_query(db->conn, sql) != 0 || (res = mysql_store_result(db->conn)) == NULL)
        return db_fail(db, what);
    while ((row = mysql_fetch_row(res)) != NULL && *n < max) {
        for (size_t c = 0; c < 3; c++) {
            if (parse_u64(row[c], &v[c]) != 0) {
                snprintf(db->err, sizeof(db->err), "MariaDB at %s: %s: not a number in the answer",
                         db->addr, what);
                mysql_free_result(res);
                return -1;
            }
        }
        put(rows, (*n)++, v);
    }
    mysql_free_result(res);
    return 0;
}

/* (order_id, course_id, user_id) */
static void put_order(void *rows, size_t i, const uint64_t v[3])
{
    struct order_row *r = (struct order_row *)rows + i;

    r->order_id = v[0];
    r->course_id = v[1];
    r->user_id = v[2];
}

/* (course_id, user_id, orders) */
static void put_group(void *rows, size_t i, const uint64_t v[3])
{
    struct order_group *g = (struct order_group *)rows + i;

    g->course_id = v[0];
    g->user_id = v[1];
    g->orders = v[2];
}

int db_orders_page(struct db *db, uint64_t after, struct order_row *rows,
                   size_t max, size_t *n)
{
    char sql[160];

    snprintf(sql, sizeof(sql), "SELECT order_id, course_id, user_id FROM orders"
             " WHERE order_id > %" PRIu64 " ORDER BY order_id LIMIT %zu", after, max);
    return read_triples(db, sql, max, n, "cannot read orders", put_order, rows);
}

int db_find_orders(struct db *db, const uint64_t *ids, size_t n,
                   struct order_row *found, size_t *nfound)
{
    size_t cap = 96 + n * 22, len;
    char *sql;
    int rc;

    *nfound = 0;
    if (n == 0)
        return 0;
    if ((sql = malloc(cap)) == NULL) {
        snprintf(db->err, sizeof(db->err), "out of memory");
        return -1;
    }
    len = (size_t)snprintf(sql, cap, "SELECT order_id, course_id, user_id FROM orders WHERE order_id IN (");
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(sql + len, cap - len, "%s%" PRIu64, i ? "," : "", ids[i]);
    snprintf(sql + len, cap - len, ")");
    rc = read_triples(db, sql, n, nfound, "cannot look orders up", put_order, found);
    free(sql);
    return rc;
}

int db_duplicate_users(struct db *db, struct order_group *groups, size_t max, size_t *n)
{
    char sql[200];

    snprintf(sql, sizeof(sql), "SELECT course_id, user_id, COUNT(*) FROM orders"
             " GROUP BY course_id, user_id HAVING COUNT(*) > 1 ORDER BY course_id, user_id LIMIT %zu", max);
    return read_triples(db, sql, max, n, "cannot look for users with two orders", put_group, groups);
}

int db_orphan_orders(struct db *db, struct order_group *groups, size_t max, size_t *n)
{
    char sql[240];

    snprintf(sql, sizeof(sql), "SELECT o.course_id, 0, COUNT(*) FROM orders o"
             " LEFT JOIN courses c ON c.id = o.course_id WHERE c.id IS NULL"
             " GROUP BY o.course_id ORDER BY o.course_id LIMIT %zu", max);
    return read_triples(db, sql, max, n, "cannot look for orders of unknown courses", put_group, groups);
}

int db_add_seats(struct db *db, const struct course *courses, size_t n)
{
    return insert_courses(db, "INSERT", courses, n,
                          " ON DUPLICATE KEY UPDATE total = total + VALUES(total),"
                          " starts_at = LEAST(starts_at, VALUES(starts_at)), ends_at = GREATEST(ends_at, VALUES(ends_at))",
                          "cannot add seats");
}
