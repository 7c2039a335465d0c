/* Parsing of course and user ids (see ids.h for the rule). */
#include "ids.h"

int parse_id(const char *s, size_t len, uint64_t *id)
{
    uint64_t v = 0;

    if (len == 0 || len > 16 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > SECKILL_ID_MAX)
        return -1;
    *id = v;
    return 0;
}
