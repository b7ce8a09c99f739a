/*
 * Socket requests with their completions recorded, and sockets bound or
 * listening, for the tests that drive the socket layer (support.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "refnet/socket.h"
#include "support.h"

void rec_fn(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct rec *r = c->sc_user;

    (void)p;
    assert_true(r->n < 64);
    r->c[r->n++] = *c;
}

void submit_flags(struct rn_proc *p, int op, int h, void *buf, size_t len,
                  const struct rn_sockaddr_in *to, uint32_t flags, struct rec *r)
{
    struct rn_sock_req rq = {
        .sq_op = op,
        .sq_handle = h,
        .sq_buf = buf,
        .sq_len = len,
        .sq_to = to,
        .sq_flags = flags,
        .sq_user = r,
    };

    assert_int_equal(rn_sock_submit(p, &rq, rec_fn), 0);
}

void submit(struct rn_proc *p, int op, int h, void *buf, size_t len,
            const struct rn_sockaddr_in *to, struct rec *r)
{
    submit_flags(p, op, h, buf, len, to, 0, r);
}

const struct rn_sock_completion *last_of(const struct rec *r, int op)
{
    unsigned i;

    for (i = r->n; i-- > 0;) {
        if ((int)r->c[i].sc_op == op)
            return &r->c[i];
    }
    return NULL;
}

int udp_bound_to(struct rn_proc *p, uint32_t addr, uint16_t port)
{
    struct rn_sockaddr_in a = {.sin_addr = addr, .sin_port = port};
    int h = rn_sock_open(p, RN_SOCK_DGRAM, 0);

    assert_true(h > 0);
    assert_int_equal(rn_sock_bind(p, h, &a), 0);
    return h;
}

int udp_bound(struct rn_proc *p, uint16_t port)
{
    return udp_bound_to(p, 0, port);
}

int tcp_listening(struct rn_proc *p, uint16_t port, int *err)
{
    struct rn_sockaddr_in l = {.sin_addr = 0, .sin_port = port};
    int h = rn_sock_open(p, RN_SOCK_STREAM, 0);

    assert_true(h > 0);
    assert_int_equal(rn_sock_bind(p, h, &l), 0);
    *err = rn_sock_listen(p, h, 8);
    return h;
}

static bool connected_and_accepted(void *ctx)
{
    struct rec *r = ctx;

    return last_of(&r[0], RN_SOP_CONNECT) != NULL && last_of(&r[1], RN_SOP_ACCEPT) != NULL;
}

int tcp_connect_accept(struct rn_proc *pa, int hc, struct rn_proc *pb, int hl, uint16_t port)
{
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = port};
    struct rec r[2];

    memset(r, 0, sizeof(r));
    submit(pb, RN_SOP_ACCEPT, hl, NULL, 0, NULL, &r[1]);
    submit(pa, RN_SOP_CONNECT, hc, NULL, 0, &to, &r[0]);
    assert_true(run_while_not(connected_and_accepted, r, RN_SEC(5)));
    assert_int_equal(last_of(&r[0], RN_SOP_CONNECT)->sc_result, 0);
    assert_true(last_of(&r[1], RN_SOP_ACCEPT)->sc_result > 0);
    return (int)last_of(&r[1], RN_SOP_ACCEPT)->sc_result;
}
