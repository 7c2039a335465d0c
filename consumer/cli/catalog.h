/* The demo catalogue `seckill init` puts into an empty database: the six
 * courses and 850 seats of the original system, on sale from now for 30 days. */
#ifndef SECKILL_CATALOG_H
#define SECKILL_CATALOG_H

#include <stddef.h>
#include <stdint.h>

#include "course.h"

#define CATALOG_DEMO_COURSES 6
#define CATALOG_DEMO_WINDOW_MS (30LL * 24 * 3600 * 1000)

/* Fills out[CATALOG_DEMO_COURSES] with the sale window opening at now. */
void catalog_demo(int64_t now, struct course out[CATALOG_DEMO_COURSES]);

#endif
