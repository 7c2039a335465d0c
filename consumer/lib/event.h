/* The order event the nginx module produces to Kafka (and `seckill fill`,
 * as the module does), and the checks by which the daemon decides whether a
 * message is one: the value is a JSON object
 *   {"order_id":N,"course_id":N,"user_id":N,"ts":N}
 * of integers (ids from 1 to 2^53-1, ts in Unix ms), keyed by the course id
 * as a decimal string. Anything else goes to the dead-letter topic with the
 * reason event_parse() gives. Other fields are ignored, so that a newer
 * producer may add some. */
#ifndef SECKILL_EVENT_H
#define SECKILL_EVENT_H

#include <stddef.h>
#include <stdint.h>

/* A real event is about 100 bytes: anything this long is not one, and is
 * refused before the JSON parser allocates for it. */
#define EVENT_VALUE_MAX 4096
#define EVENT_REASON_MAX 160

struct order_event {
    uint64_t order_id;
    uint64_t course_id;
    uint64_t user_id;
    int64_t ts;
};

/* An order event as Kafka carries it. */
struct event_message {
    char key[24];           /* the course id in decimal */
    char value[160];        /* the JSON object */
    size_t key_len, value_len;
};

/* Writes ev as the nginx module produces it. */
void event_format(const struct order_event *ev, struct event_message *m);

/* Parses the message's key and value. Returns 0 with *ev set, or -1 with
 * the reason (one line, quoting the offending field) in why. key may be
 * NULL (no key). */
int event_parse(const void *key, size_t key_len, const void *value,
                size_t value_len, struct order_event *ev,
                char why[EVENT_REASON_MAX]);

#endif
