/*
 * The control tests' fixture: a control server on a UNIX socket in a
 * fresh temporary directory, its loop (driven by nothing but its own fds
 * and work) run on a thread of its own while the test is the client.
 */
#ifndef REFNET_TEST_CTL_HELPER_H
#define REFNET_TEST_CTL_HELPER_H

#include <pthread.h>
#include <stddef.h>

#include "ctl/ctl.h"
#include "refnet/loop.h"

/* A server and its loop.  [I] between open and close, but the thread. */
struct ctl_fixture {
    char cf_dir[64];                 /* the temporary directory */
    char cf_path[128];               /* the socket: "<cf_dir>/ctl.sock" */
    struct rn_loop *cf_loop;         /* the server's loop */
    struct rn_ctl_server *cf_srv;    /* the server; NULL once shut */
    pthread_t cf_thread;             /* runs cf_loop between start and stop */
};

/* Makes the directory from dir_template ("/tmp/NAME-XXXXXX"), the loop and
 * the server on cf_path with the n commands of cmds (ctx their argument);
 * the loop is not running yet.  Fails the test on any error. */
void ctl_fixture_open(struct ctl_fixture *cf, const char *dir_template,
                      const struct rn_ctl_cmd *cmds, size_t n, void *ctx);
/* Runs the loop on a thread of its own. */
void ctl_loop_start(struct ctl_fixture *cf);
/* Stops the loop and joins its thread. */
void ctl_loop_stop(struct ctl_fixture *cf);
/* Closes the server (with the loop stopped) and fails the test unless
 * closing removed the socket file. */
void ctl_server_shut(struct ctl_fixture *cf);
/* Destroys the loop, removes the directory (which must be empty), and
 * fails the test unless no object is left alive. */
void ctl_fixture_close(struct ctl_fixture *cf);

#endif
