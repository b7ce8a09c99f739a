/*
 * The TCP test client and HTTP response reader (helper_client.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <dirent.h>
#include <cmocka.h>

#include "helper_client.h"
#include "support.h"
#include "refnet/error.h"
#include "refnet/object.h"

/* A send in flight: its own copy of the data. */
struct tcl_send_rec {
    struct tcl *sr_c;
    size_t sr_len;
    uint8_t sr_data[];
};

static void tcl_done(struct rn_proc *p, const struct rn_sock_completion *cmp);

static void tcl_recv(struct tcl *c)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_RECV, .sq_handle = c->cl_h, .sq_buf = c->cl_buf,
                             .sq_len = sizeof(c->cl_buf), .sq_user = c};

    if (c->cl_recv_pending || c->cl_paused || c->cl_eof || c->cl_err != 0 || c->cl_close_sent ||
        !c->cl_connected)
        return;
    assert_int_equal(rn_sock_submit(c->cl_proc, &rq, tcl_done), 0);
    c->cl_recv_pending = true;
}

static void tcl_keep(struct tcl *c, const uint8_t *data, size_t n)
{
    c->cl_rx_total += n;
    if (c->cl_rx_len + n > c->cl_rx_max)
        return;
    if (c->cl_rx_len + n > c->cl_rx_cap) {
        size_t cap = c->cl_rx_cap ? c->cl_rx_cap : 65536;

        while (cap < c->cl_rx_len + n)
            cap *= 2;
        c->cl_rx = realloc(c->cl_rx, cap);
        assert_non_null(c->cl_rx);
        c->cl_rx_cap = cap;
    }
    memcpy(c->cl_rx + c->cl_rx_len, data, n);
    c->cl_rx_len += n;
}

static void tcl_done(struct rn_proc *p, const struct rn_sock_completion *cmp)
{
    struct tcl *c;

    (void)p;
    switch (cmp->sc_op) {
    case RN_SOP_SEND: {
        struct tcl_send_rec *sr = cmp->sc_user;

        c = sr->sr_c;
        c->cl_sends--;
        if (cmp->sc_result < 0 && cmp->sc_result != RN_ECANCELED)
            c->cl_send_err = (int)cmp->sc_result;
        free(sr);
        return;
    }
    case RN_SOP_CONNECT:
        c = cmp->sc_user;
        if (cmp->sc_result == 0) {
            c->cl_connected = true;
            tcl_recv(c);
        } else {
            c->cl_connect_err = (int)cmp->sc_result;
        }
        return;
    case RN_SOP_RECV:
        c = cmp->sc_user;
        c->cl_recv_pending = false;
        if (cmp->sc_result > 0) {
            tcl_keep(c, c->cl_buf, (size_t)cmp->sc_result);
            tcl_recv(c);
        } else if (cmp->sc_result == 0) {
            c->cl_eof = true;
        } else if (cmp->sc_result != RN_ECANCELED) {
            c->cl_err = (int)cmp->sc_result;
        }
        return;
    case RN_SOP_CLOSE:
        c = cmp->sc_user;
        c->cl_closed = true;
        return;
    default:
        fail_msg("unexpected completion %d", cmp->sc_op);
    }
}

void tcl_connect(struct tcl *c, struct rn_proc *p, uint16_t port)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = port};
    struct rn_sock_req rq = {.sq_op = RN_SOP_CONNECT, .sq_to = &to, .sq_user = c};

    memset(c, 0, sizeof(*c));
    c->cl_proc = p;
    c->cl_rx_max = 64u << 20;
    c->cl_h = rn_sock_open(p, RN_SOCK_STREAM, 0);
    assert_true(c->cl_h > 0);
    rq.sq_handle = c->cl_h;
    assert_int_equal(rn_sock_submit(p, &rq, tcl_done), 0);
}

void tcl_send(struct tcl *c, const void *data, size_t len)
{
    struct tcl_send_rec *sr = malloc(sizeof(*sr) + len);
    struct rn_sock_req rq = {.sq_op = RN_SOP_SEND, .sq_handle = c->cl_h, .sq_len = len};

    assert_non_null(sr);
    sr->sr_c = c;
    sr->sr_len = len;
    memcpy(sr->sr_data, data, len);
    rq.sq_buf = sr->sr_data;
    rq.sq_user = sr;
    assert_int_equal(rn_sock_submit(c->cl_proc, &rq, tcl_done), 0);
    c->cl_sends++;
}

void tcl_send_str(struct tcl *c, const char *s)
{
    tcl_send(c, s, strlen(s));
}

void tcl_pause(struct tcl *c, bool paused)
{
    c->cl_paused = paused;
    tcl_recv(c);
}

void tcl_shutdown(struct tcl *c)
{
    assert_int_equal(rn_sock_shutdown(c->cl_proc, c->cl_h, RN_SHUT_WR), 0);
}

void tcl_close(struct tcl *c, bool abort)
{
    struct rn_sock_req rq = {.sq_op = RN_SOP_CLOSE, .sq_handle = c->cl_h, .sq_user = c};

    assert_false(c->cl_close_sent);
    if (abort)
        assert_int_equal(rn_sock_setopt(c->cl_proc, c->cl_h, RN_SO_LINGER, 0), 0);
    c->cl_close_sent = true;
    assert_int_equal(rn_sock_submit(c->cl_proc, &rq, tcl_done), 0);
}

void tcl_free(struct tcl *c)
{
    free(c->cl_rx);
    c->cl_rx = NULL;
    c->cl_rx_len = c->cl_rx_cap = 0;
}

void tcl_consume(struct tcl *c, size_t n)
{
    assert_true(n <= c->cl_rx_len);
    memmove(c->cl_rx, c->cl_rx + n, c->cl_rx_len - n);
    c->cl_rx_len -= n;
}

bool tcl_is_connected(void *ctx)
{
    struct tcl *c = ctx;

    return c->cl_connected || c->cl_connect_err != 0;
}

bool tcl_is_ended(void *ctx)
{
    struct tcl *c = ctx;

    return c->cl_eof || c->cl_err != 0;
}

bool tcl_is_closed(void *ctx)
{
    return ((struct tcl *)ctx)->cl_closed;
}

bool tcl_sends_done(void *ctx)
{
    return ((struct tcl *)ctx)->cl_sends == 0;
}

struct bytes_cond {
    struct tcl *bc_c;
    size_t bc_n;
};

static bool has_bytes(void *ctx)
{
    struct bytes_cond *bc = ctx;

    return bc->bc_c->cl_rx_len >= bc->bc_n || tcl_is_ended(bc->bc_c);
}

bool tcl_wait_bytes(struct tcl *c, size_t n, uint64_t limit_ns)
{
    struct bytes_cond bc = {c, n};

    run_while_not(has_bytes, &bc, limit_ns);
    return c->cl_rx_len >= n;
}

/* ---- HTTP responses -------------------------------------------------------------- */

bool resp_parse(const uint8_t *buf, size_t len, bool head_only, struct resp *r)
{
    const char *end = NULL;
    const char *v;
    size_t i;

    memset(r, 0, sizeof(*r));
    for (i = 0; i + 3 < len; i++) {
        if (memcmp(buf + i, "\r\n\r\n", 4) == 0) {
            end = (const char *)buf + i + 4;
            break;
        }
    }
    if (end == NULL)
        return false;
    r->r_head_len = (size_t)(end - (const char *)buf);
    assert_true(r->r_head_len < sizeof(r->r_head));
    memcpy(r->r_head, buf, r->r_head_len);
    r->r_head[r->r_head_len] = '\0';
    assert_int_equal(strncmp(r->r_head, "HTTP/1.1 ", 9), 0);
    r->r_status = atoi(r->r_head + 9);
    assert_true(r->r_status >= 100 && r->r_status < 600);
    v = resp_field(r, "Content-Length");
    assert_non_null(v);  /* the server always sends it */
    r->r_has_length = true;
    r->r_length = strtoull(v, NULL, 10);
    r->r_total = r->r_head_len + (head_only ? 0 : (size_t)r->r_length);
    return len >= r->r_total;
}

const char *resp_field(const struct resp *r, const char *name)
{
    static char value[1024];
    size_t n = strlen(name);
    const char *p = strstr(r->r_head, "\r\n");

    while (p != NULL && p[2] != '\r') {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1, *e = strstr(v, "\r\n");

            while (*v == ' ')
                v++;
            snprintf(value, sizeof(value), "%.*s", (int)(e - v), v);
            return value;
        }
        p = strstr(p, "\r\n");
    }
    return NULL;
}

struct resp_cond {
    struct tcl *rc_c;
    bool rc_head;
    struct resp *rc_r;
};

static bool has_response(void *ctx)
{
    struct resp_cond *rc = ctx;

    return resp_parse(rc->rc_c->cl_rx, rc->rc_c->cl_rx_len, rc->rc_head, rc->rc_r) ||
           tcl_is_ended(rc->rc_c);
}

bool tcl_response(struct tcl *c, bool head_only, struct resp *r, uint64_t limit_ns)
{
    static struct resp tmp;
    struct resp_cond rc = {c, head_only, &tmp};

    run_while_not(has_response, &rc, limit_ns);
    if (!resp_parse(c->cl_rx, c->cl_rx_len, head_only, &tmp))
        return false;
    *r = tmp;
    return true;
}

/* ---- Files -------------------------------------------------------------------- */

unsigned count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    unsigned n = 0;

    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n - 1;  /* the directory's own descriptor */
}
