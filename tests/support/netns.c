/*
 * Shell commands and network namespaces for the unit tests that meet the
 * Linux kernel (support.h, "Namespaces").
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

int sup_sh(const char *fmt, ...)
{
    char cmd[1024];
    va_list ap;
    int rc;

    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    rc = system(cmd);
    if (rc != 0)
        fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

int sup_netns_make(struct sup_netns *ns, const char *prefix)
{
    char path[64];

    memset(ns, 0, sizeof(*ns));
    ns->sn_self = ns->sn_fd = -1;
    snprintf(ns->sn_name, sizeof(ns->sn_name), "%s%ld", prefix, (long)getpid());
    if (sup_sh("ip netns add %s", ns->sn_name) != 0) {
        ns->sn_name[0] = '\0';
        return -1;
    }
    snprintf(path, sizeof(path), "/run/netns/%s", ns->sn_name);
    ns->sn_self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    ns->sn_fd = open(path, O_RDONLY | O_CLOEXEC);
    if (ns->sn_self < 0 || ns->sn_fd < 0) {
        fprintf(stderr, "cannot open namespace %s: %s\n", ns->sn_name, strerror(errno));
        return -1;
    }
    return 0;
}

void sup_netns_enter(const struct sup_netns *ns)
{
    if (setns(ns->sn_fd, CLONE_NEWNET) != 0) {
        fprintf(stderr, "cannot enter namespace %s: %s\n", ns->sn_name, strerror(errno));
        abort();
    }
}

void sup_netns_leave(const struct sup_netns *ns)
{
    if (setns(ns->sn_self, CLONE_NEWNET) != 0) {
        fprintf(stderr, "cannot return to the original namespace: %s\n", strerror(errno));
        abort();  /* carrying on would run the rest in the wrong place */
    }
}

void sup_netns_del(struct sup_netns *ns)
{
    if (ns->sn_name[0] != '\0')
        sup_sh("ip netns del %s", ns->sn_name);
    if (ns->sn_self >= 0)
        close(ns->sn_self);
    if (ns->sn_fd >= 0)
        close(ns->sn_fd);
    ns->sn_name[0] = '\0';
    ns->sn_self = ns->sn_fd = -1;
}
