/*
 * Redis Cluster routing, the pure part both sides share: which of the 16384
 * hash slots a key lives in, and what a MOVED or ASK redirection says.
 *
 * Every key of a course carries the hash tag {c<id>} (seckill_keys.h), so
 * the slot of a course is the slot of "c<id>", and a script call over one
 * course's keys goes to one master.  seckill:courses and seckill:order_gen
 * have no tag: each lives in the slot of its whole name, on one master.
 *
 * The slot is CRC16 (XMODEM: polynomial 0x1021, initial value 0, no
 * reflection) of the key, or of the part between the first '{' and the
 * next '}' when that part is not empty, modulo 16384: the Redis Cluster
 * specification, "Keys distribution model".
 */

#ifndef SECKILL_SLOT_H
#define SECKILL_SLOT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define SECKILL_SLOTS  16384

static inline uint16_t
seckill_crc16(const unsigned char *p, size_t len)
{
    uint16_t  crc = 0;
    size_t    i;
    int       bit;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) (p[i] << 8);

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc;
}

static inline unsigned
seckill_key_slot(const char *key, size_t len)
{
    size_t  open, close;

    for (open = 0; open < len && key[open] != '{'; open++) { /* void */ }

    if (open < len) {
        for (close = open + 1; close < len && key[close] != '}'; close++) {
            /* void */
        }

        if (close < len && close > open + 1) {
            key += open + 1;
            len = close - open - 1;
        }
    }

    return seckill_crc16((const unsigned char *) key, len) % SECKILL_SLOTS;
}

/* the slot of every key of course id: that of its tag "c<id>" */
static inline unsigned
seckill_course_slot(uint64_t course_id)
{
    char  tag[24];
    int   len;

    len = snprintf(tag, sizeof(tag), "c%llu", (unsigned long long) course_id);

    return seckill_crc16((const unsigned char *) tag, (size_t) len)
           % SECKILL_SLOTS;
}

/* A redirection: "MOVED <slot> <host>:<port>" or "ASK <slot> <host>:<port>". */
typedef struct {
    int       ask;              /* 1: ASK (once, after ASKING); 0: MOVED */
    unsigned  slot;
    char      host[64];         /* as the node announces itself */
    int       port;
} seckill_redirect_t;

/* 1 when the error reply err (len bytes, not NUL-terminated) is a well-formed
 * redirection, filled into rd; 0 for any other error. */
static inline int
seckill_redirect_parse(const char *err, size_t len, seckill_redirect_t *rd)
{
    size_t         i, colon, host;
    unsigned long  n;

    if (len > 6 && memcmp(err, "MOVED ", 6) == 0) {
        rd->ask = 0;
        i = 6;

    } else if (len > 4 && memcmp(err, "ASK ", 4) == 0) {
        rd->ask = 1;
        i = 4;

    } else {
        return 0;
    }

    for (n = 0; i < len && err[i] >= '0' && err[i] <= '9'; i++) {
        n = n * 10 + (unsigned long) (err[i] - '0');

        if (n >= SECKILL_SLOTS) {
            return 0;
        }
    }

    if (i == len || err[i] != ' ' || (i > 0 && err[i - 1] == ' ')) {
        return 0;
    }

    rd->slot = (unsigned) n;
    host = ++i;

    for (colon = len; i < len; i++) {
        if (err[i] == ':') {
            colon = i;              /* the last one: IPv6 hosts have more */
        }
    }

    if (colon == len || colon == host || colon - host >= sizeof(rd->host)
        || colon + 1 == len)
    {
        return 0;
    }

    for (n = 0, i = colon + 1; i < len; i++) {
        if (err[i] < '0' || err[i] > '9') {
            return 0;
        }

        n = n * 10 + (unsigned long) (err[i] - '0');

        if (n > 65535) {
            return 0;
        }
    }

    if (n == 0) {
        return 0;
    }

    memcpy(rd->host, err + host, colon - host);
    rd->host[colon - host] = '\0';
    rd->port = (int) n;

    return 1;
}

#endif /* SECKILL_SLOT_H */
