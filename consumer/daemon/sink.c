/* Writing orders to MariaDB (sink.h). */
#include "sink.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

void sink_init(struct sink *k, const struct seckill_config *cfg)
{
    memset(k, 0, sizeof(*k));
    k->cfg = cfg;
}

void sink_close(struct sink *k)
{
    db_close(&k->db);
    sqlbuf_free(&k->sql);
}

static int insert_failed(struct sink *k, const char *what)
{
    db_fail(&k->db, what);
    /* Whatever went wrong, a new connection starts clean: no transaction
     * left open, no half-read result. */
    db_close(&k->db);
    return -1;
}

/* A commit is durable only when the server flushes its redo log at every
 * commit; say so once when it does not. */
static void check_durability(struct sink *k)
{
    MYSQL_RES *res;
    MYSQL_ROW row;

    k->checked_durability = 1;
    if (mysql_query(k->db.conn, "SELECT @@innodb_flush_log_at_trx_commit") != 0
        || (res = mysql_store_result(k->db.conn)) == NULL)
        return;
    row = mysql_fetch_row(res);
    if (row != NULL && row[0] != NULL && strcmp(row[0], "1") != 0)
        log_warn("MariaDB at %s has innodb_flush_log_at_trx_commit = %s: a server crash can lose "
                 "orders committed in the last second (conf/mariadb.cnf sets 1)", k->db.addr, row[0]);
    mysql_free_result(res);
}

/* Connected, autocommit off; else connects again. */
static int db_ready(struct sink *k)
{
    if (k->db.conn != NULL)
        return 0;
    if (db_open(&k->db, k->cfg, DB_EXISTING) != 0)
        return -1;
    if (mysql_autocommit(k->db.conn, 0) != 0)
        return insert_failed(k, "cannot turn autocommit off");
    if (!k->checked_durability)
        check_durability(k);
    log_info("connected to MariaDB at %s", k->db.addr);
    return 0;
}

int sink_write(struct sink *k, const struct batch *b, uint64_t *new_rows)
{
    long rows = sql_insert_orders(&k->sql, b);

    *new_rows = 0;
    if (rows < 0) {
        snprintf(k->db.err, sizeof(k->db.err), "out of memory building the INSERT of %zu orders", b->n);
        return -1;
    }
    if (rows == 0)
        return 0;
    if (db_ready(k) != 0)
        return -1;
    if (mysql_real_query(k->db.conn, k->sql.p, k->sql.len) != 0)
        return insert_failed(k, "INSERT INTO orders");
    /* ON DUPLICATE KEY UPDATE with an unchanged row counts 0, a new row 1. */
    *new_rows = (uint64_t)mysql_affected_rows(k->db.conn);
    if (mysql_commit(k->db.conn) != 0)
        return insert_failed(k, "COMMIT");
    return 0;
}
