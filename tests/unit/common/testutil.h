/*
 * Support shared by the unit tests: a sink that captures reports, and the
 * leak check every test ends with.
 */
#ifndef REFNET_TESTUTIL_H
#define REFNET_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "refnet/report.h"

/* An assertion usable on any thread (cmocka's may only fail on the test's
 * own thread): prints the condition and aborts. */
#define TEST_CHECK(cond)                                                        \
    do {                                                                        \
        if (!(cond))                                                            \
            test_check_failed(#cond, __FILE__, __LINE__);                       \
    } while (0)
void test_check_failed(const char *cond, const char *file, int line)
    __attribute__((noreturn));

/* Starts capturing reports (and stops printing them) until capture_end(). */
void capture_begin(void);
/* Stops capturing; the captured text stays readable until the next begin. */
void capture_end(void);
/* All captured text, reports separated by nothing (each ends in '\n'). */
const char *capture_text(void);
/* Reports of kind captured so far. */
unsigned capture_count(enum rn_report_kind kind);
/* True if the captured text contains needle. */
bool capture_has(const char *needle);

/* Drains released objects and fails the test unless exactly `expected`
 * objects of all types are still alive. */
void check_live_objects(uint64_t expected);

/* A manual clock for tests: installed by clock_manual_install(), moved by
 * clock_manual_advance(). */
void clock_manual_install(uint64_t start_ns);
void clock_manual_advance(uint64_t ns);
void clock_manual_uninstall(void);

#endif
