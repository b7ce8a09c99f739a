/*
 * The control tests' fixture (helper_ctl.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <cmocka.h>

#include "helper_ctl.h"
#include "support.h"

void ctl_fixture_open(struct ctl_fixture *cf, const char *dir_template,
                      const struct rn_ctl_cmd *cmds, size_t n, void *ctx)
{
    char err[256];

    snprintf(cf->cf_dir, sizeof(cf->cf_dir), "%s", dir_template);
    assert_non_null(mkdtemp(cf->cf_dir));
    snprintf(cf->cf_path, sizeof(cf->cf_path), "%s/ctl.sock", cf->cf_dir);
    assert_int_equal(rn_loop_create_driven(NULL, &cf->cf_loop), 0);
    if (rn__ctl_server_open(cf->cf_loop, cf->cf_path, &cf->cf_srv, err, sizeof(err)) != 0)
        fail_msg("open: %s", err);
    assert_int_equal(rn__ctl_server_add(cf->cf_srv, cmds, n, ctx), 0);
}

static void *loop_thread(void *arg)
{
    rn_loop_run(arg);
    return NULL;
}

void ctl_loop_start(struct ctl_fixture *cf)
{
    assert_int_equal(pthread_create(&cf->cf_thread, NULL, loop_thread, cf->cf_loop), 0);
}

void ctl_loop_stop(struct ctl_fixture *cf)
{
    rn_loop_stop(cf->cf_loop);
    pthread_join(cf->cf_thread, NULL);
}

void ctl_server_shut(struct ctl_fixture *cf)
{
    rn__ctl_server_close(cf->cf_srv);
    cf->cf_srv = NULL;
    /* Closing removed the socket file. */
    assert_int_equal(access(cf->cf_path, F_OK), -1);
}

void ctl_fixture_close(struct ctl_fixture *cf)
{
    rn_loop_destroy(cf->cf_loop);
    cf->cf_loop = NULL;
    rmdir(cf->cf_dir);
    check_live_objects(0);
}
