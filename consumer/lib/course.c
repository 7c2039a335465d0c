/* The times of a sale window as an operator writes them and reads them
 * (course.h). Pure arithmetic on the proleptic Gregorian calendar: no time
 * zone, no locale, nothing from the environment. */
#include "course.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define MS_PER_DAY INT64_C(86400000)
/* A duration or relative time beyond ten years is a typo. */
#define DURATION_MAX (3660 * MS_PER_DAY)

/* Days from 1970-01-01 to y-m-d (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy, doe;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
    doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
    int64_t era, doe, yoe, doy, mp;

    z += 719468;
    era = (z >= 0 ? z : z - 146096) / 146097;
    doe = z - era * 146097;
    yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;

    return m == 2 && leap ? 29 : days[m - 1];
}

/* Exactly n digits at *s, advancing *s past them. */
static int digits(const char **s, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9')
            return -1;
        v = v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    *out = v;
    return 0;
}

static int expect(const char **s, char c)
{
    if (**s != c)
        return -1;
    (*s)++;
    return 0;
}

static int parse_iso(const char *s, int64_t *ms)
{
    int year, month, day, hour, min, sec, frac = 0;

    if (digits(&s, 4, &year) || expect(&s, '-') || digits(&s, 2, &month) || expect(&s, '-')
        || digits(&s, 2, &day) || expect(&s, 'T') || digits(&s, 2, &hour) || expect(&s, ':')
        || digits(&s, 2, &min) || expect(&s, ':') || digits(&s, 2, &sec))
        return -1;
    if (*s == '.' && (s++, digits(&s, 3, &frac) != 0))
        return -1;
    if (expect(&s, 'Z') || *s != '\0')
        return -1;
    if (year < 1970 || month < 1 || month > 12 || day < 1 || day > days_in_month(year, month)
        || hour > 23 || min > 59 || sec > 59)
        return -1;
    *ms = days_from_civil(year, month, day) * MS_PER_DAY
          + ((int64_t)hour * 3600 + min * 60 + sec) * 1000 + frac;
    return 0;
}

int course_parse_duration(const char *text, int64_t *ms)
{
    int64_t n = 0, unit;
    const char *s = text;

    if (*s < '0' || *s > '9')
        return -1;
    for (; *s >= '0' && *s <= '9'; s++) {
        n = n * 10 + (*s - '0');
        if (n > DURATION_MAX / 1000)
            return -1;
    }
    /* A unit is required: "30" alone reads as seconds to some and as
     * minutes to others. */
    switch (*s) {
    case 's': unit = 1000; break;
    case 'm': unit = 60 * 1000; break;
    case 'h': unit = 3600 * 1000; break;
    case 'd': unit = MS_PER_DAY; break;
    default: return -1;
    }
    if (s[1] != '\0' || n > DURATION_MAX / unit)
        return -1;
    *ms = n * unit;
    return 0;
}

int course_parse_time(const char *text, int64_t now, int64_t *ms)
{
    int64_t delta;

    if (strcmp(text, "now") == 0) {
        *ms = now;
        return 0;
    }
    if (text[0] == '+' || text[0] == '-') {
        if (course_parse_duration(text + 1, &delta) != 0)
            return -1;
        *ms = text[0] == '+' ? now + delta : now - delta;
        return *ms < 0 ? -1 : 0;
    }
    return parse_iso(text, ms);
}

void course_format_time(int64_t ms, char *buf, size_t size)
{
    int64_t days = ms / MS_PER_DAY, rest = ms % MS_PER_DAY, year;
    int month, day;
    char frac[8] = "";

    if (rest < 0) {
        rest += MS_PER_DAY;
        days--;
    }
    civil_from_days(days, &year, &month, &day);
    if (rest % 1000 != 0)
        snprintf(frac, sizeof(frac), ".%03d", (int)(rest % 1000));
    snprintf(buf, size, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d%sZ", year, month, day,
             (int)(rest / 3600000), (int)(rest / 60000 % 60), (int)(rest / 1000 % 60), frac);
}
