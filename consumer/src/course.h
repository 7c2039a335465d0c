/* A course on sale, as the CLI and the daemon hold it. */
#ifndef SECKILL_COURSE_H
#define SECKILL_COURSE_H

#include <stdint.h>

/* courses.name is VARCHAR(200) in utf8mb4: at most 4 bytes a character. */
#define COURSE_NAME_MAX (200 * 4)

struct course {
    uint64_t id;
    char name[COURSE_NAME_MAX + 1];
    uint32_t total;         /* seats on sale */
    int64_t starts_at;      /* sale window, Unix ms */
    int64_t ends_at;
};

/* Current time in Unix ms. */
int64_t now_ms(void);

#endif
