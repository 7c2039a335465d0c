/* How long to wait before retrying a batch that MariaDB, Redis or Kafka
 * refused: doubling from BACKOFF_FIRST_MS up to BACKOFF_MAX_MS, so that a
 * short outage costs little and a long one does not flood the logs. */
#ifndef SECKILL_BACKOFF_H
#define SECKILL_BACKOFF_H

#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS 5000

/* The wait before retry number attempt (0 for the first retry). */
unsigned backoff_ms(unsigned attempt);

#endif
