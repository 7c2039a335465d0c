/* A tiny unit-test harness: each test_*.c file offers one suite that runs its
 * cases with UNIT_RUN; a case fails when one of its CHECKs does. main()
 * ends with the line "N passed, M failed" and exits non-zero on a failure. */
#ifndef SECKILL_UNIT_H
#define SECKILL_UNIT_H

#include <string.h>

void unit_fail(const char *file, int line, const char *what);
void unit_run(const char *name, void (*test)(void));

#define UNIT_RUN(test) unit_run(#test, test)
#define CHECK(cond) \
    do { if (!(cond)) unit_fail(__FILE__, __LINE__, #cond); } while (0)
#define CHECK_STR(got, want) \
    do { \
        const char *got_ = (got), *want_ = (want); \
        if (strcmp(got_, want_) != 0) { \
            unit_fail(__FILE__, __LINE__, #got " == " #want); \
            unit_show(got_, want_); \
        } \
    } while (0)

void unit_show(const char *got, const char *want);

/* The suites. */
void suite_config(void);
void suite_ids(void);
void suite_keys(void);
void suite_call(void);
void suite_catalog(void);
void suite_event(void);
void suite_batch(void);
void suite_backoff(void);
void suite_sweep(void);
void suite_course(void);
void suite_secure_link(void);
void suite_slot(void);
void suite_cluster(void);

#endif
