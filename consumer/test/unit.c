/* The harness of unit.h and the list of suites. */
#include "unit.h"

#include <stdio.h>

static int passed, failed, case_failed;
static const char *current;

void unit_fail(const char *file, int line, const char *what)
{
    fprintf(stderr, "FAIL %s: %s:%d: %s\n", current, file, line, what);
    case_failed = 1;
}

void unit_show(const char *got, const char *want)
{
    fprintf(stderr, "     got:  \"%s\"\n     want: \"%s\"\n", got, want);
}

void unit_run(const char *name, void (*test)(void))
{
    current = name;
    case_failed = 0;
    test();
    if (case_failed)
        failed++;
    else
        passed++;
}

int main(void)
{
    suite_config();
    suite_ids();
    suite_keys();
    suite_call();
    suite_catalog();
    suite_event();
    suite_batch();
    suite_backoff();
    suite_sweep();
    suite_course();
    suite_secure_link();
    suite_slot();
    suite_cluster();
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
