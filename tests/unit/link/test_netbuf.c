/*
 * Packet buffers and pools: owner accounting, leak reports, exhaustion, and
 * every data operation across chains of buffers, checked against a flat
 * model of the packet's bytes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helper_link.h"
#include "refnet/error.h"
#include "refnet/netbuf.h"
#include "refnet/strbuf.h"
#include "support.h"

/* Small buffers make chains out of short packets: 64 bytes, 16 of headroom. */
static struct rn_nbpool *small_pool(uint32_t max)
{
    struct rn_nbpool_params p = {
        .np_name = "small", .np_data_size = 48, .np_headroom = 16, .np_max = max, .np_slab = 8};
    struct rn_nbpool *pool = NULL;

    assert_int_equal(rn_nbpool_create(&p, &pool), 0);
    return pool;
}

/* Appends an owner's row as "owner=outstanding/refused;". */
static void owner_line(const struct rn_nbpool_owner_row *row, void *ctx)
{
    rn_strbuf_printf(ctx, "%s=%u/%llu;", row->po_owner, row->po_outstanding,
                     (unsigned long long)row->po_refused);
}

static void test_owner_registry(void **state)
{
    rn_nb_owner_t a = rn_nb_owner_register("ip.reass");
    rn_nb_owner_t b = rn_nb_owner_register("tcp.sndq");
    char longname[64];

    assert_int_not_equal(a, RN_NB_OWNER_NONE);
    assert_int_not_equal(b, RN_NB_OWNER_NONE);
    assert_int_not_equal(a, b);
    assert_int_equal(rn_nb_owner_register("ip.reass"), a);
    assert_string_equal(rn_nb_owner_name(a), "ip.reass");
    assert_string_equal(rn_nb_owner_name(RN_NB_OWNER_MAX - 1), "?");
    assert_int_equal(rn_nb_owner_register(""), RN_NB_OWNER_NONE);
    memset(longname, 'x', sizeof(longname) - 1);
    longname[sizeof(longname) - 1] = '\0';
    assert_int_equal(rn_nb_owner_register(longname), RN_NB_OWNER_NONE);
}

static void test_pool_accounting(void **state)
{
    rn_nb_owner_t rx = rn_nb_owner_register("link.tap.rx");
    rn_nb_owner_t q = rn_nb_owner_register("arp.queue");
    struct rn_nbpool *pool = th_pool(100);
    struct rn_netbuf *a, *b, *c;
    struct rn_nbpool_stats st;
    struct rn_strbuf sb = RN_STRBUF_INIT;

    a = rn_nb_alloc(pool, rx);
    b = rn_nb_alloc(pool, rx);
    c = rn_nb_alloc(pool, q);
    assert_non_null(a);
    assert_non_null(b);
    assert_non_null(c);
    assert_int_equal(rn_nbpool_outstanding(pool, rx), 2);
    assert_int_equal(rn_nbpool_outstanding(pool, q), 1);
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 3);
    /* A fresh buffer: empty, data after the default headroom. */
    assert_int_equal(a->nb_pktlen, 0);
    assert_int_equal(rn_nb_headroom(a), RN_NB_DEFAULT_HEADROOM);
    assert_int_equal(rn_nb_tailroom(a), RN_NB_DEFAULT_DATA);

    rn_nb_set_owner(b, q);
    assert_int_equal(rn_nbpool_outstanding(pool, rx), 1);
    assert_int_equal(rn_nbpool_outstanding(pool, q), 2);

    rn_nbpool_owners(pool, owner_line, &sb);
    assert_non_null(strstr(rn_strbuf_str(&sb), "link.tap.rx=1/0;"));
    assert_non_null(strstr(rn_strbuf_str(&sb), "arp.queue=2/0;"));
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_outstanding, 3);
    rn_strbuf_free(&sb);

    rn_nb_free(a);
    rn_nb_free(b);
    rn_nb_free(c);
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_outstanding, 0);
    assert_int_equal(st.ps_allocs, 3);
    assert_int_equal(st.ps_frees, 3);
    assert_int_equal(st.ps_peak, 3);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_pool_reuse_no_growth(void **state)
{
    struct rn_nbpool_params p = {.np_max = 64, .np_prealloc = 64};
    struct rn_nbpool *pool = NULL;
    struct rn_nbpool_stats st;
    int i;

    assert_int_equal(rn_nbpool_create(&p, &pool), 0);
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_total, 64);
    /* Once warm, a million alloc/free pairs allocate nothing more. */
    for (i = 0; i < 1000000; i++)
        rn_nb_free(rn_nb_alloc(pool, th_owner()));
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_total, 64);
    assert_int_equal(st.ps_outstanding, 0);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

/* After a burst, slabs whose buffers are all free go back, newest first,
 * once a period passed that did not need them, down to the buffers the
 * pool was made with; a slab with one buffer still out stays; the pool
 * grows again as before. */
static void test_pool_shrink(void **state)
{
    struct rn_nbpool_params p = {.np_data_size = 48, .np_headroom = 16, .np_max = 64,
                                 .np_slab = 8, .np_prealloc = 8};
    struct rn_nbpool *pool = NULL;
    struct rn_nbpool_stats st;
    struct rn_netbuf *bufs[40], *keep;
    size_t freed;
    int i;

    (void)state;
    assert_int_equal(rn_nbpool_create(&p, &pool), 0);
    /* Nothing to give back yet. */
    assert_int_equal(rn_nbpool_shrink(pool), 0);
    assert_false(rn_nbpool_draining(pool));
    for (i = 0; i < 40; i++) {
        bufs[i] = rn_nb_alloc(pool, th_owner());
        assert_non_null(bufs[i]);
        memset(rn_nb_put(bufs[i], 48), i, 48);
    }
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_total, 40);
    /* All in use: nothing goes. */
    assert_int_equal(rn_nbpool_shrink(pool), 0);
    /* All but one free: bufs[20] holds its slab (the third of five). */
    keep = bufs[20];
    for (i = 0; i < 40; i++) {
        if (i != 20)
            rn_nb_free(bufs[i]);
    }
    /* The burst needed every buffer since the pool was made: nothing goes
     * yet.  A period later, what it did not need does. */
    assert_int_equal(rn_nbpool_shrink(pool), 0);
    /* Draining since the pool grew past its first slab: the first slab's buffers are lent first, and
     * one elsewhere is unwanted (a link's spare would go back). */
    assert_true(rn_nbpool_draining(pool));
    assert_true(rn_nb_unwanted(keep));
    bufs[0] = rn_nb_alloc(pool, th_owner());
    assert_non_null(bufs[0]);
    assert_false(rn_nb_unwanted(bufs[0]));
    rn_nb_free(bufs[0]);
    freed = rn_nbpool_shrink(pool);
    rn_nbpool_stats(pool, &st);
    /* Three slabs go: the first one stays, and bufs[20]'s. */
    assert_int_equal(st.ps_total, 16);
    assert_int_equal(st.ps_free, 15);
    assert_int_equal(st.ps_outstanding, 1);
    assert_true(freed >= 24 * (48 + 16));
    assert_int_equal(keep->nb_data[0], 20);
    assert_true(rn_nb_check(keep));
    /* The pool grows again to its maximum, and every buffer works. */
    for (i = 0; i < 40; i++) {
        bufs[i] = rn_nb_alloc(pool, th_owner());
        assert_non_null(bufs[i]);
        memset(rn_nb_put(bufs[i], 48), 0xee, 48);
    }
    rn_nb_free(keep);
    for (i = 0; i < 40; i++)
        rn_nb_free(bufs[i]);
    assert_int_equal(rn_nbpool_shrink(pool), 0);
    /* A period that needed 3 buffers at most (45 of 48 spare): five slabs
     * go, and the pool's first 8 buffers stay. */
    for (i = 0; i < 3; i++)
        bufs[i] = rn_nb_alloc(pool, th_owner());
    for (i = 0; i < 3; i++)
        rn_nb_free(bufs[i]);
    assert_true(rn_nbpool_shrink(pool) > 0);
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_total, 8);
    assert_int_equal(st.ps_free, 8);
    assert_false(rn_nbpool_draining(pool));
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_pool_exhaustion(void **state)
{
    struct rn_nbpool *pool = th_pool(10);
    rn_nb_owner_t o = th_owner();
    rn_nb_owner_t other = rn_nb_owner_register("udp.rcvq");
    struct rn_netbuf *bufs[10], *nb;
    struct rn_nbpool_stats st;
    int i;

    for (i = 0; i < 10; i++) {
        bufs[i] = rn_nb_alloc(pool, o);
        assert_non_null(bufs[i]);
    }
    assert_null(rn_nb_alloc(pool, o));
    assert_null(rn_nb_alloc(pool, other));
    assert_null(rn_nb_alloc(pool, other));
    rn_nbpool_stats(pool, &st);
    assert_int_equal(st.ps_exhausted, 3);
    assert_int_equal(rn_nbpool_failures(pool, o), 1);
    assert_int_equal(rn_nbpool_failures(pool, other), 2);
    assert_int_equal(rn_nbpool_failures(pool, RN_NB_OWNER_NONE), 3);
    /* Growing a packet fails cleanly too. */
    assert_null(rn_nb_put(bufs[0], RN_NB_DEFAULT_DATA + 1));
    memset(rn_nb_put(bufs[0], RN_NB_DEFAULT_DATA), 1, RN_NB_DEFAULT_DATA);
    assert_null(rn_nb_put(bufs[0], 1));
    assert_int_equal(rn_nb_copyin(bufs[0], RN_NB_DEFAULT_DATA, "x", 1), RN_ENOBUFS);
    assert_int_equal(bufs[0]->nb_pktlen, RN_NB_DEFAULT_DATA);
    assert_null(rn_nb_copy(bufs[0], o));
    assert_true(rn_nb_check(bufs[0]));
    /* A freed buffer is usable again. */
    rn_nb_free(bufs[9]);
    nb = rn_nb_alloc(pool, o);
    assert_non_null(nb);
    bufs[9] = nb;
    for (i = 0; i < 10; i++)
        rn_nb_free(bufs[i]);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_pool_leak_report(void **state)
{
    struct rn_nbpool *pool = th_pool(100);
    rn_nb_owner_t reass = rn_nb_owner_register("ip.reass");
    rn_nb_owner_t sndq = rn_nb_owner_register("tcp.sndq");
    struct rn_netbuf *a, *b, *c;
    const char *text;

    a = rn_nb_alloc(pool, reass);
    b = rn_nb_alloc(pool, reass);
    c = rn_nb_alloc(pool, sndq);
    rn_nb_free(c);
    capture_begin();
    assert_int_equal(rn_nbpool_destroy(pool), RN_EBUSY);
    capture_end();
    text = capture_text();
    assert_int_equal(capture_count(RN_REPORT_LEAK), 1);
    assert_non_null(strstr(text, "netbuf pool \"test\" destroyed with 2 buffers outstanding"));
    assert_non_null(strstr(text, "ip.reass"));
    assert_non_null(strstr(text, " 2\n"));
    assert_null(strstr(text, "tcp.sndq"));  /* owners with nothing outstanding are not named */
    /* The memory lives until the leaked buffers come back; the buffers are
     * still valid meanwhile. */
    memset(rn_nb_put(a, 100), 0xab, 100);
    rn_nb_free(a);
    rn_nb_free(b);  /* the last one: the pool's memory goes now (ASan checks) */
}

static void test_push_pull_put(void **state)
{
    struct rn_nbpool *pool = th_pool(10);
    struct rn_netbuf *nb = rn_nb_alloc(pool, th_owner());
    uint8_t *p;

    p = rn_nb_put(nb, 10);
    memcpy(p, "0123456789", 10);
    p = rn_nb_push(nb, 4);
    assert_non_null(p);
    memcpy(p, "HDR:", 4);
    assert_int_equal(nb->nb_pktlen, 14);
    assert_memory_equal(nb->nb_data, "HDR:0123456789", 14);
    assert_int_equal(rn_nb_headroom(nb), RN_NB_DEFAULT_HEADROOM - 4);
    assert_null(rn_nb_push(nb, RN_NB_DEFAULT_HEADROOM));  /* no room: nothing changes */
    assert_int_equal(nb->nb_pktlen, 14);
    assert_int_equal(rn_nb_pull(nb, 4), 0);
    assert_memory_equal(nb->nb_data, "0123456789", 10);
    assert_int_equal(rn_nb_pull(nb, 11), RN_EINVAL);
    assert_int_equal(nb->nb_pktlen, 10);
    assert_int_equal(rn_nb_trim(nb, 3), 0);
    assert_int_equal(nb->nb_pktlen, 3);
    assert_int_equal(rn_nb_trim(nb, 4), RN_EINVAL);
    assert_true(rn_nb_check(nb));
    rn_nb_free(nb);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static uint16_t fold(uint64_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* Buffers that refer to a sender's memory: read in place, counted while
 * outstanding, never written through, copied by rn_nb_unref(), and their
 * own storage back in service once freed. */
static void test_refs(void **state)
{
    struct rn_nbpool *pool = small_pool(64);
    struct rn_nbpool_stats ps;
    uint8_t ring[200], out[210], scratch[64];
    struct rn_netbuf *nb, *ref, *copy, *plain;
    size_t i;

    (void)state;
    for (i = 0; i < sizeof(ring); i++)
        ring[i] = (uint8_t)(i * 7);
    nb = rn_nb_alloc(pool, th_owner());
    memcpy(rn_nb_put(nb, 10), "HEADER:abc", 10);
    ref = rn_nb_ref(pool, th_owner(), ring + 50, 150);
    assert_non_null(ref);
    assert_true(rn_nb_is_ref(ref));
    assert_false(rn_nb_is_ref(nb));
    assert_int_equal(rn_nb_headroom(ref), 0);
    assert_int_equal(rn_nb_tailroom(ref), 0);
    assert_ptr_equal(ref->nb_data, ring + 50);  /* not a copy */
    rn_nb_cat(nb, ref);
    assert_int_equal(rn_nbpool_refs(pool), 1);
    assert_true(rn_nb_check(nb));
    assert_int_equal(nb->nb_pktlen, 160);
    assert_int_equal(rn_nb_copyout(nb, 10, out, 150), 0);
    assert_memory_equal(out, ring + 50, 150);
    /* The checksum reads through it like any buffer. */
    plain = th_packet(pool, nb->nb_data, 10);
    assert_int_equal(rn_nb_copyin(plain, 10, ring + 50, 150), 0);
    assert_int_equal(fold(rn_nb_csum(nb, 0, 160, 0)), fold(rn_nb_csum(plain, 0, 160, 0)));
    rn_nb_free(plain);
    /* Appending goes to a fresh buffer, never after the referred bytes. */
    memcpy(rn_nb_put(nb, 5), "TAIL!", 5);
    assert_int_equal(rn_nb_count(nb), 3);
    assert_int_equal(rn_nb_copyout(nb, 160, out, 5), 0);
    assert_memory_equal(out, "TAIL!", 5);
    for (i = 0; i < sizeof(ring); i++)
        assert_int_equal(ring[i], (uint8_t)(i * 7));  /* untouched */
    /* Cut short, it still has no room after its data. */
    assert_int_equal(rn_nb_trim(nb, 100), 0);
    assert_int_equal(rn_nb_tailroom(nb), 0);
    memcpy(rn_nb_put(nb, 3), "end", 3);
    assert_int_equal(rn_nb_count(nb), 3);
    assert_int_equal(rn_nb_copyout(nb, 100, out, 3), 0);
    assert_memory_equal(out, "end", 3);
    for (i = 0; i < sizeof(ring); i++)
        assert_int_equal(ring[i], (uint8_t)(i * 7));
    assert_int_equal(rn_nb_trim(nb, 160), RN_EINVAL);
    assert_int_equal(rn_nb_trim(nb, 103), 0);
    /* A header across the head and the reference comes out whole. */
    assert_non_null(rn_nb_header(nb, 5, 20, scratch));
    /* A reference at the head takes no header pushed into memory that is
     * not its own, nor one pulled up. */
    copy = rn_nb_ref(pool, th_owner(), ring, 20);
    assert_null(rn_nb_push(copy, 1));
    rn_nb_cat(copy, th_packet(pool, "xyz", 3));
    assert_null(rn_nb_pullup(copy, 22));
    assert_int_equal(rn_nbpool_refs(pool), 2);
    rn_nb_free(copy);
    assert_int_equal(rn_nbpool_refs(pool), 1);

    /* A copy for whoever keeps it: the ring may change afterwards. */
    nb->nb_offload = RN_NB_OFF_CSUM_PARTIAL;
    copy = rn_nb_unref(nb);
    assert_non_null(copy);
    assert_int_equal(rn_nbpool_refs(pool), 0);
    memset(ring, 0, sizeof(ring));
    assert_int_equal(copy->nb_pktlen, 103);
    assert_int_equal(copy->nb_offload, RN_NB_OFF_CSUM_PARTIAL);
    assert_int_equal(rn_nb_copyout(copy, 0, out, 103), 0);
    assert_memory_equal(out, "HEADER:abc", 10);
    for (i = 0; i < 90; i++)
        assert_int_equal(out[10 + i], (uint8_t)((50 + i) * 7));
    assert_memory_equal(out + 100, "end", 3);
    /* A packet without references comes back as it is. */
    assert_ptr_equal(rn_nb_unref(copy), copy);
    rn_nbpool_stats(pool, &ps);
    assert_int_equal(ps.ps_refs, 0);
    assert_int_equal(ps.ps_ref_copies, 1);
    rn_nb_free(copy);
    /* Every buffer has its own storage again: fill them all. */
    for (i = 0; i < 64; i++) {
        plain = rn_nb_alloc(pool, th_owner());
        assert_non_null(plain);
        assert_false(rn_nb_is_ref(plain));
        memset(rn_nb_put(plain, 48), 0x5a, 48);
        assert_true(rn_nb_check(plain));
        rn_nb_free(plain);
    }
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_chain_ops(void **state)
{
    struct rn_nbpool *pool = small_pool(64);
    uint8_t data[300], out[300], scratch[64];
    struct rn_netbuf *nb, *tail, *dup;
    const uint8_t *h;
    size_t i;

    for (i = 0; i < sizeof(data); i++)
        data[i] = (uint8_t)(i * 13 + 1);
    nb = rn_nb_alloc(pool, th_owner());
    /* 300 bytes: 48 in the head (after 16 of headroom), then 64 per buffer. */
    assert_int_equal(rn_nb_copyin(nb, 0, data, 300), 0);
    assert_int_equal(nb->nb_pktlen, 300);
    assert_int_equal(rn_nb_count(nb), 1 + 4);
    assert_true(rn_nb_check(nb));
    assert_int_equal(rn_nbpool_outstanding(pool, th_owner()), 5);
    memset(out, 0, sizeof(out));
    assert_int_equal(rn_nb_copyout(nb, 0, out, 300), 0);
    assert_memory_equal(out, data, 300);
    assert_int_equal(rn_nb_copyout(nb, 250, out, 51), RN_EINVAL);

    /* A header that straddles two buffers comes back through scratch. */
    h = rn_nb_header(nb, 40, 20, scratch);
    assert_ptr_equal(h, scratch);
    assert_memory_equal(h, data + 40, 20);
    h = rn_nb_header(nb, 50, 10, scratch);
    assert_ptr_not_equal(h, scratch);
    assert_memory_equal(h, data + 50, 10);
    assert_null(rn_nb_header(nb, 295, 6, scratch));

    /* Pull across the first two buffers: emptied later buffers are freed. */
    assert_int_equal(rn_nb_pull(nb, 120), 0);
    assert_true(rn_nb_check(nb));
    assert_int_equal(nb->nb_pktlen, 180);
    assert_int_equal(rn_nb_copyout(nb, 0, out, 180), 0);
    assert_memory_equal(out, data + 120, 180);
    assert_int_equal(rn_nbpool_outstanding(pool, th_owner()), 4);

    /* Pullup makes the first 40 bytes contiguous in the head. */
    assert_non_null(rn_nb_pullup(nb, 40));
    assert_true(nb->nb_len >= 40);
    assert_memory_equal(nb->nb_data, data + 120, 40);
    assert_true(rn_nb_check(nb));
    assert_null(rn_nb_pullup(nb, 65));  /* more than a buffer holds */
    assert_int_equal(rn_nb_copyout(nb, 0, out, 180), 0);
    assert_memory_equal(out, data + 120, 180);

    /* Trim in the middle of the chain frees the buffers behind. */
    assert_int_equal(rn_nb_trim(nb, 70), 0);
    assert_true(rn_nb_check(nb));
    assert_int_equal(rn_nb_linearize(nb, out, 69), RN_EMSGSIZE);
    assert_int_equal(rn_nb_linearize(nb, out, sizeof(out)), 70);
    assert_memory_equal(out, data + 120, 70);

    /* Copy: equal bytes, separate buffers, same headroom. */
    nb->nb_rxtime = 77;
    dup = rn_nb_copy(nb, th_owner());
    assert_non_null(dup);
    assert_true(rn_nb_check(dup));
    assert_int_equal(dup->nb_pktlen, 70);
    assert_int_equal(dup->nb_rxtime, 77);
    assert_int_equal(rn_nb_headroom(dup), rn_nb_headroom(nb));
    assert_int_equal(rn_nb_linearize(dup, out, sizeof(out)), 70);
    assert_memory_equal(out, data + 120, 70);
    memset(dup->nb_data, 0, dup->nb_len);
    assert_int_equal(rn_nb_copyout(nb, 0, out, 70), 0);
    assert_memory_equal(out, data + 120, 70);  /* the original is untouched */

    /* Cat: dup's bytes follow nb's, dup's buffers now count as nb's owner. */
    tail = rn_nb_alloc(pool, rn_nb_owner_register("ip.reass"));
    memcpy(rn_nb_put(tail, 5), "tail!", 5);
    rn_nb_cat(nb, tail);
    assert_true(rn_nb_check(nb));
    assert_int_equal(nb->nb_pktlen, 75);
    assert_int_equal(rn_nb_copyout(nb, 70, out, 5), 0);
    assert_memory_equal(out, "tail!", 5);
    assert_int_equal(rn_nbpool_outstanding(pool, rn_nb_owner_register("ip.reass")), 0);

    /* Copyin over existing bytes and past the end in one go. */
    assert_int_equal(rn_nb_copyin(nb, 73, "XYZW", 4), 0);
    assert_int_equal(nb->nb_pktlen, 77);
    assert_int_equal(rn_nb_copyout(nb, 70, out, 7), 0);
    assert_memory_equal(out, "taiXYZW", 7);
    assert_int_equal(rn_nb_copyin(nb, 78, "x", 1), RN_EINVAL);  /* no holes */

    rn_nb_free(nb);
    rn_nb_free(dup);
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_pull_everything(void **state)
{
    struct rn_nbpool *pool = small_pool(16);
    struct rn_netbuf *nb = rn_nb_alloc(pool, th_owner());
    uint8_t data[200] = {0};

    assert_int_equal(rn_nb_copyin(nb, 0, data, 200), 0);
    assert_int_equal(rn_nb_pull(nb, 200), 0);
    assert_int_equal(nb->nb_pktlen, 0);
    assert_int_equal(rn_nb_count(nb), 1);  /* the head stays */
    assert_true(rn_nb_check(nb));
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 1);
    /* The empty packet can grow again. */
    assert_int_equal(rn_nb_copyin(nb, 0, "abc", 3), 0);
    assert_int_equal(nb->nb_pktlen, 3);
    rn_nb_free(nb);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

static void test_queue(void **state)
{
    struct rn_nbpool *pool = th_pool(10);
    struct rn_nbq q;
    struct rn_netbuf *nb;
    uint32_t i;

    rn_nbq_init(&q);
    assert_null(rn_nbq_get(&q));
    for (i = 0; i < 5; i++)
        rn_nbq_put(&q, th_frame(pool, i, 60 + i));
    assert_int_equal(q.nq_len, 5);
    assert_int_equal(q.nq_bytes, 60 * 5 + 10);
    for (i = 0; i < 3; i++) {
        nb = rn_nbq_get(&q);
        assert_int_equal(th_frame_seq(nb), i);
        assert_null(nb->nb_nextpkt);
        rn_nb_free(nb);
    }
    assert_int_equal(rn_nbq_purge(&q), 2);
    assert_int_equal(q.nq_len, 0);
    assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

/* Random operations on a chained packet, mirrored on a flat array: after
 * each one the packet must hold the model's bytes and keep its invariants,
 * and the pool must count exactly the buffers of the chain. */
static void test_model(void **state)
{
    struct rn_nbpool *pool = small_pool(256);
    static uint8_t model[4096], out[4096], scratch[64];
    size_t mlen = 0;
    struct rn_netbuf *nb = rn_nb_alloc(pool, th_owner());
    static uint8_t ring[512];  /* a sender's memory that buffers refer to */
    bool has_ref = false;      /* some buffer may refer to it */
    uint64_t x = 12345;
    int step;

    for (step = 0; step < (int)sizeof(ring); step++)
        ring[step] = (uint8_t)(step * 13 + 1);
    for (step = 0; step < 20000; step++) {
        size_t a, b, i;
        uint8_t tmp[256];
        void *p;

        x = x * 6364136223846793005ull + 1442695040888963407ull;
        a = (size_t)(x >> 33) % 200;
        b = (size_t)(x >> 17) % 97;
        switch ((x >> 59) % 10) {
        case 0: /* push */
            p = rn_nb_push(nb, b % 20);
            if (p) {
                for (i = 0; i < b % 20; i++)
                    ((uint8_t *)p)[i] = (uint8_t)(step + i);
                memmove(model + b % 20, model, mlen);
                memcpy(model, p, b % 20);
                mlen += b % 20;
            }
            break;
        case 1: /* pull */
            if (a <= mlen) {
                assert_int_equal(rn_nb_pull(nb, a), 0);
                memmove(model, model + a, mlen - a);
                mlen -= a;
            } else {
                assert_int_equal(rn_nb_pull(nb, a), RN_EINVAL);
            }
            break;
        case 2: /* put: at most a whole buffer (64 bytes) at a time */
            if (b > 64) {
                assert_null(rn_nb_put(nb, b));
            } else if (mlen + b < sizeof(model)) {
                p = rn_nb_put(nb, b);
                assert_non_null(p);
                memset(p, (int)(step & 0xff), b);
                memset(model + mlen, (int)(step & 0xff), b);
                mlen += b;
            }
            break;
        case 3: /* trim */
            if (a <= mlen) {
                assert_int_equal(rn_nb_trim(nb, mlen - a), 0);
                mlen -= a;
            }
            break;
        case 4: /* copyin at an offset, maybe growing */
        case 5:
            i = mlen ? (size_t)(x >> 8) % (mlen + 1) : 0;
            if (has_ref)
                i = mlen;  /* over referred bytes it may not write */
            if (i + a < sizeof(model)) {
                memset(tmp, (int)(x >> 40), a);
                assert_int_equal(rn_nb_copyin(nb, i, tmp, a), 0);
                memcpy(model + i, tmp, a);
                if (i + a > mlen)
                    mlen = i + a;
            }
            break;
        case 6: /* pullup */
            if (a % 64 <= mlen && rn_nb_is_ref(nb) && a % 64 > nb->nb_len) {
                assert_null(rn_nb_pullup(nb, a % 64));  /* not its memory to move */
            } else if (a % 64 <= mlen) {
                assert_non_null(rn_nb_pullup(nb, a % 64));
                assert_memory_equal(nb->nb_data, model, a % 64);
            }
            break;
        case 7: { /* header read, then a copy replaces the packet */
            struct rn_netbuf *dup;
            const void *h;

            if (mlen >= b) {
                i = (size_t)(x >> 8) % (mlen - b + 1);
                h = rn_nb_header(nb, i, b % 64, scratch);
                assert_non_null(h);
                assert_memory_equal(h, model + i, b % 64);
            }
            dup = rn_nb_copy(nb, th_owner());
            assert_non_null(dup);
            rn_nb_free(nb);
            nb = dup;
            has_ref = false;
            break;
        }
        case 8: /* bytes of the ring appended by reference */
            i = (size_t)(x >> 8) % (sizeof(ring) - 1);
            b = 1 + a % (sizeof(ring) - i);
            if (mlen + b < sizeof(model)) {
                struct rn_netbuf *r = rn_nb_ref(pool, th_owner(), ring + i, (uint32_t)b);

                assert_non_null(r);
                rn_nb_cat(nb, r);
                memcpy(model + mlen, ring + i, b);
                mlen += b;
                has_ref = true;
            }
            break;
        case 9: /* made to hold its own bytes */
            nb = rn_nb_unref(nb);
            assert_non_null(nb);
            assert_int_equal(rn_nbpool_refs(pool), 0);
            has_ref = false;
            break;
        }
        assert_true(rn_nb_check(nb));
        assert_int_equal(nb->nb_pktlen, mlen);
        assert_int_equal(rn_nbpool_outstanding(pool, RN_NB_OWNER_NONE), rn_nb_count(nb));
        assert_int_equal(rn_nb_copyout(nb, 0, out, mlen), 0);
        assert_memory_equal(out, model, mlen);
    }
    rn_nb_free(nb);
    assert_int_equal(rn_nbpool_refs(pool), 0);
    for (step = 0; step < (int)sizeof(ring); step++)
        assert_int_equal(ring[step], (uint8_t)(step * 13 + 1));  /* never written */
    assert_int_equal(rn_nbpool_destroy(pool), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owner_registry),
        cmocka_unit_test(test_pool_accounting),
        cmocka_unit_test(test_pool_reuse_no_growth),
        cmocka_unit_test(test_pool_shrink),
        cmocka_unit_test(test_pool_exhaustion),
        cmocka_unit_test(test_pool_leak_report),
        cmocka_unit_test(test_push_pull_put),
        cmocka_unit_test(test_refs),
        cmocka_unit_test(test_chain_ops),
        cmocka_unit_test(test_pull_everything),
        cmocka_unit_test(test_queue),
        cmocka_unit_test(test_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
