/* The checks the C tests share: each failed one is printed and counted in `failures`, and the
 * test's main returns non-zero when any failed. Header-only: every test is one translation
 * unit (built dynamic, static, with ASan+UBSan and under valgrind by run.sh). */
#ifndef WFLO_TEST_CHECK_H
#define WFLO_TEST_CHECK_H

#include <stdio.h>
#include <string.h>

#include "wflo.h"

#define S(text) text, strlen(text)

static int failures = 0;

static void expect(const char *what, wflo_status got, wflo_status want) {
    if (got != want) {
        fprintf(stderr, "FAIL %s: got %s, want %s (%s)\n", what, wflo_status_name(got), wflo_status_name(want),
                wflo_last_error_message());
        failures++;
    }
}

static void expect_in(const char *what, const char *text, const char *needle) {
    if (text == NULL || strstr(text, needle) == NULL) {
        fprintf(stderr, "FAIL %s: '%s' lacks '%s'\n", what, text ? text : "(null)", needle);
        failures++;
    }
}

static void expect_true(const char *what, int ok) {
    if (!ok) {
        fprintf(stderr, "FAIL %s\n", what);
        failures++;
    }
}

#endif
