/* Course and user ids: decimal integers from 1 to 2^53-1, so that every JSON
 * reader holds them exactly. One spelling per id (no sign, no leading zero),
 * so one id always names the same Redis key. */
#ifndef SECKILL_IDS_H
#define SECKILL_IDS_H

#include <stddef.h>
#include <stdint.h>

#define SECKILL_ID_MAX ((UINT64_C(1) << 53) - 1)

/* Parses the len bytes at s; returns 0 and sets *id, or -1 when they are not an id. */
int parse_id(const char *s, size_t len, uint64_t *id);

#endif
