/* A course on sale, as the CLI and the daemon hold it, and the times of its
 * sale window as an operator writes them. */
#ifndef SECKILL_COURSE_H
#define SECKILL_COURSE_H

#include <stddef.h>
#include <stdint.h>

/* courses.name is VARCHAR(200) in utf8mb4: at most 4 bytes a character. */
#define COURSE_NAME_CHARS 200
#define COURSE_NAME_MAX (COURSE_NAME_CHARS * 4)

struct course {
    uint64_t id;
    char name[COURSE_NAME_MAX + 1];
    uint32_t total;         /* seats on sale */
    int64_t starts_at;      /* sale window, Unix ms */
    int64_t ends_at;
};

/* What a time on the command line may look like, for messages. */
#define COURSE_TIME_FORMS "ISO 8601 UTC like 2026-12-01T10:00:00Z, " \
                          "relative like +30s, +5m, +2h, +1d or -1h, or now"

/* Reads a time into Unix ms: "now"; "+30s", "-1h" (s, m, h or d from now);
 * or ISO 8601 UTC "2026-12-01T10:00:00Z", optionally with milliseconds
 * ".250", years 1970 to 9999. Returns 0, or -1 when text is none of those. */
int course_parse_time(const char *text, int64_t now, int64_t *ms);

/* Reads a duration "90s", "5m", "2h" or "1d" (the unit is required)
 * into ms, at most 10 years. Returns 0, or -1. */
int course_parse_duration(const char *text, int64_t *ms);

/* Writes ms as "2026-12-01T10:00:00Z" (".250" added when not whole seconds). */
void course_format_time(int64_t ms, char *buf, size_t size);

#endif
