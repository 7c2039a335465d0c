/* The demo catalogue (catalog.h). */
#include "catalog.h"

#include <string.h>

static const struct {
    const char *name;
    uint32_t seats;
} demo[CATALOG_DEMO_COURSES] = {
    { "C 语言程序设计 / C Programming", 150 },
    { "数据结构与算法 / Data Structures and Algorithms", 100 },
    { "操作系统原理 / Operating Systems", 150 },
    { "计算机网络 / Computer Networks", 150 },
    { "数据库系统原理 / Database Systems", 100 },
    { "编译原理 / Compilers", 200 },
};

void catalog_demo(int64_t now, struct course out[CATALOG_DEMO_COURSES])
{
    for (size_t i = 0; i < CATALOG_DEMO_COURSES; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].id = i + 1;
        strncpy(out[i].name, demo[i].name, COURSE_NAME_MAX);
        out[i].total = demo[i].seats;
        out[i].starts_at = now;
        out[i].ends_at = now + CATALOG_DEMO_WINDOW_MS;
    }
}
