/* The daemon's MariaDB side: a batch's claimed orders in one multi-row
 * INSERT, committed as one transaction. The connection is made on first use
 * and made again after any failure. */
#ifndef SECKILL_SINK_H
#define SECKILL_SINK_H

#include <stdint.h>

#include "batch.h"
#include "config.h"
#include "db.h"

struct sink {
    const struct seckill_config *cfg;
    struct db db;                   /* db.conn is NULL while disconnected;
                                       db.err: why the last call failed */
    struct sqlbuf sql;              /* reused batch after batch */
    int checked_durability;
};

void sink_init(struct sink *k, const struct seckill_config *cfg);
void sink_close(struct sink *k);

/* Inserts and commits the claimed orders of the batch; *new_rows counts the
 * ones that were not there yet. Returns 0, or -1 with the reason in
 * k->db.err (nothing committed, or not known: running it again is safe). */
int sink_write(struct sink *k, const struct batch *b, uint64_t *new_rows);

#endif
