/*
 * The conformance runner: reads the files named (preludes first, then
 * case files and matrix tables) and runs every case as a cmocka test,
 * each on a fresh stack that must end leak-free.
 *
 *   conform FILE...             run every case
 *   conform --ipv6 FILE...      run every case over IPv6 (engine.c); a case
 *                               written for one family ("family ipv4")
 *                               runs over that family only
 *   conform --list FILE...      print each case's name and clause
 *   conform --doc DOC FILE...   fail unless DOC (docs/conformance.md) names
 *                               every case written out in the files (the
 *                               matrix's generated cases are documented by
 *                               their table)
 *   CONFORM_CASE=TEXT conform   run only the cases whose name holds TEXT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "conform.h"
#include "support.h"

static struct cf_suite suite;

static void run_case(void **state)
{
    const struct cf_case *cc = *state;
    static char err[65536];

    if (cf_case_run(&suite, cc, err, sizeof(err)) < 0)
        fail_msg("%s", err);
    check_live_objects(0);
}

int main(int argc, char **argv)
{
    const char *only = getenv("CONFORM_CASE");
    struct CMUnitTest *tests;
    bool list = false, ipv6 = false;
    const char *doc = NULL;
    char err[1024];
    unsigned i, n = 0;
    int a, rc;

    for (a = 1; a < argc; a++) {
        if (strcmp(argv[a], "--list") == 0) {
            list = true;
            continue;
        }
        if (strcmp(argv[a], "--ipv6") == 0) {
            cf_use_ipv6(true);
            ipv6 = true;
            continue;
        }
        if (strcmp(argv[a], "--doc") == 0 && a + 1 < argc) {
            doc = argv[++a];
            continue;
        }
        if (cf_suite_load(&suite, argv[a], err, sizeof(err)) < 0) {
            fprintf(stderr, "conform: %s\n", err);
            return 2;
        }
    }
    if (doc != NULL) {
        FILE *f = fopen(doc, "r");
        char *text;
        long len;
        unsigned missing = 0;

        if (f == NULL || fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0) {
            fprintf(stderr, "conform: cannot read %s\n", doc);
            return 2;
        }
        rewind(f);
        text = calloc(1, (size_t)len + 1);
        if (text == NULL || fread(text, 1, (size_t)len, f) != (size_t)len) {
            fprintf(stderr, "conform: cannot read %s\n", doc);
            return 2;
        }
        fclose(f);
        for (i = 0; i < suite.cs_ncases; i++) {
            const char *name = suite.cs_cases[i].cc_name;

            if (strchr(name, ':') == NULL && strstr(text, name) == NULL) {
                fprintf(stderr, "conform: %s does not document case %s\n", doc, name);
                missing++;
            }
        }
        free(text);
        cf_suite_free(&suite);
        return missing ? 1 : 0;
    }
    if (list) {
        for (i = 0; i < suite.cs_ncases; i++)
            printf("%s\t%s\n", suite.cs_cases[i].cc_name,
                   suite.cs_cases[i].cc_clause ? suite.cs_cases[i].cc_clause : "?");
        cf_suite_free(&suite);
        return 0;
    }
    tests = calloc(suite.cs_ncases ? suite.cs_ncases : 1, sizeof(*tests));
    if (tests == NULL)
        return 2;
    for (i = 0; i < suite.cs_ncases; i++) {
        if (only != NULL && strstr(suite.cs_cases[i].cc_name, only) == NULL)
            continue;
        if (suite.cs_cases[i].cc_family != 0 && suite.cs_cases[i].cc_family != (ipv6 ? 6u : 4u))
            continue;
        tests[n].name = suite.cs_cases[i].cc_name;
        tests[n].test_func = run_case;
        tests[n].initial_state = &suite.cs_cases[i];
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "conform: no case to run\n");
        free(tests);
        cf_suite_free(&suite);
        return 2;
    }
    rc = _cmocka_run_group_tests("conformance", tests, n, NULL, NULL);
    free(tests);
    cf_suite_free(&suite);
    return rc;
}
