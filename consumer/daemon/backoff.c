/* The retry schedule (backoff.h). */
#include "backoff.h"

unsigned backoff_ms(unsigned attempt)
{
    unsigned ms = BACKOFF_FIRST_MS;

    /* Stop doubling at the cap: no overflow however long the outage. */
    while (attempt-- > 0 && ms < BACKOFF_MAX_MS)
        ms *= 2;
    return ms < BACKOFF_MAX_MS ? ms : BACKOFF_MAX_MS;
}
