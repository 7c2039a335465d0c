/* The two clocks: the wall clock, for what is compared with another host's
 * (an order's ts, a sale window, a signed URL's expiry), and the monotonic
 * one, for how long something took or when it is due again in this process. */
#ifndef SECKILL_CLOCK_H
#define SECKILL_CLOCK_H

#include <stdint.h>

/* Unix ms. */
int64_t now_ms(void);

/* Since an arbitrary point, never stepped by a clock change. */
int64_t mono_ms(void);
int64_t mono_us(void);

#endif
