/* Stock arithmetic and the clock of the sale window (course.h). */
#include "course.h"

#include <time.h>

uint64_t stock_remaining(uint32_t total, uint64_t orders, uint64_t pending)
{
    uint64_t sold = orders + pending;

    return sold >= total ? 0 : total - sold;
}

int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
