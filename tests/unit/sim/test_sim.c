/*
 * The simulator: stacks over lossy cables in virtual time.  Pings through
 * loss (with ARP retrying), replay of a run from its seed (byte-identical
 * trace), several stacks and cables, fragmented pings through loss with
 * reassembly timeouts, pcap captures with virtual timestamps, livelock and
 * leak detection, bad parameters, the trace's frame summaries, and UDP
 * echo through loss and corruption, and HTTP GETs through the socket layer
 * replayed run after run.  Every test ends with no live object
 * and every pool empty.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <pcap/pcap.h>

#include "net/net_priv.h"
#include "apps/apps.h"
#include "apps/echo_client.h"
#include "refnet/error.h"
#include "refnet/service.h"
#include "refnet/socket.h"
#include "apps/ping.h"
#include "refnet/sim.h"
#include "refnet/stack.h"
#include "refnet/strbuf.h"
#include "support.h"
#include "wire/wire.h"

#define ADDR_A 0xc6120002u  /* 198.18.0.2 */
#define ADDR_B 0xc6120003u  /* 198.18.0.3 */

/* Counts the lines of text containing n1 and, unless it is NULL, n2. */
static unsigned count_lines(const char *text, const char *n1, const char *n2)
{
    unsigned n = 0;

    while (*text) {
        const char *eol = strchr(text, '\n');
        size_t len = eol ? (size_t)(eol - text) : strlen(text);
        size_t k = len < 511 ? len : 511;
        char line[512];

        memcpy(line, text, k);
        line[k] = '\0';
        if (strstr(line, n1) && (n2 == NULL || strstr(line, n2)))
            n++;
        text += len;
        if (*text == '\n')
            text++;
    }
    return n;
}

static bool ping_running(void *ctx)
{
    return !rn__ping_done(ctx);
}

/* What one ping scenario saw. */
struct ping_run {
    struct rn_strbuf pr_trace;      /* the whole trace */
    struct rn_ping_stats pr_stats;  /* the pinger's counters */
    struct rn_fault_counters pr_ab; /* fault counters a -> b */
    struct rn_fault_counters pr_ba; /* and b -> a */
    uint64_t pr_b_echo_replies;     /* echo replies b sent */
    uint64_t pr_a_arp_out;          /* ARP packets a sent */
    uint64_t pr_a_frag_timeouts;    /* fragments a dropped at reassembly timeout */
    uint64_t pr_b_frag_timeouts;
    uint64_t pr_digest;             /* rn_sim_trace_digest */
};

/* Two stacks over one cable with fault spec `fault` both ways; a pings b
 * count times with size data bytes, then the sim runs `settle` more.
 * Checks that the run ends leak-free. */
static void ping_scenario(uint64_t seed, const char *fault, uint32_t count, uint32_t size,
                          rn_time_t arp_ttl, rn_time_t settle, struct ping_run *out)
{
    struct rn_stack_params sp = {.sp_arp_ttl = arp_ttl};
    struct rn_sim_link_params lp = {.sl_fault_ab = fault, .sl_fault_ba = fault};
    struct rn_ping_params pp = {.pp_dst = ADDR_B, .pp_count = count, .pp_size = size};
    struct rn_sim *sim;
    struct rn_stack *a, *b;
    struct rn_sim_cable *c;
    struct rn_ping *ping;

    memset(out, 0, sizeof(*out));
    rn_strbuf_init(&out->pr_trace);
    assert_int_equal(rn_sim_create(seed, &sim), 0);
    rn_sim_trace_to_strbuf(sim, &out->pr_trace);
    assert_int_equal(rn_sim_add_stack_params(sim, "a", &sp, &a), 0);
    assert_int_equal(rn_sim_add_stack_params(sim, "b", &sp, &b), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", &lp, &c), 0);
    assert_int_equal(rn__ping_start(a, &pp, &ping), 0);
    assert_int_equal(rn_sim_run_while(sim, ping_running, ping, RN_SEC(count + 60)), 0);
    rn__ping_stats(ping, &out->pr_stats);
    rn__ping_free(ping);
    assert_int_equal(rn_sim_run_for(sim, settle), 0);
    rn_sim_cable_faults(c, true, &out->pr_ab);
    rn_sim_cable_faults(c, false, &out->pr_ba);
    out->pr_b_echo_replies = net_st(b)->ns_icmp_echo_replies;
    out->pr_a_arp_out = net_st(a)->ns_arp_out;
    out->pr_a_frag_timeouts = rn_stack_drops(a, RN_DROP_FRAG_TIMEOUT);
    out->pr_b_frag_timeouts = rn_stack_drops(b, RN_DROP_FRAG_TIMEOUT);
    /* Settled: nothing in flight, nothing held, no datagram half built. */
    assert_int_equal(net_st(a)->ns_nreass, 0);
    assert_int_equal(net_st(b)->ns_nreass, 0);
    assert_int_equal(rn_nbpool_outstanding(rn_stack_pool(a), RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_outstanding(rn_stack_pool(b), RN_NB_OWNER_NONE), 0);
    out->pr_digest = rn_sim_trace_digest(sim, NULL);
    assert_int_equal(rn_sim_destroy(sim), 0);
    check_live_objects(0);
}

static void test_ping_through_loss(void **state)
{
    struct ping_run r;
    const char *t;
    unsigned echo_rx_b, reply_rx_a, who_has, arp_replies_in;

    (void)state;
    /* ARP entries last 5 s, so resolution happens again and again under
     * loss and some requests must be retried. */
    ping_scenario(42, "drop=20%", 100, 56, RN_SEC(5), RN_SEC(1), &r);
    t = rn_strbuf_str(&r.pr_trace);
    /* Loss happened both ways, and some pings came back but not all. */
    assert_true(r.pr_ab.fc_dropped > 0);
    assert_true(r.pr_ba.fc_dropped > 0);
    assert_int_equal(r.pr_stats.ps_sent, 100);
    assert_true(r.pr_stats.ps_received >= 40 && r.pr_stats.ps_received <= 90);
    assert_int_equal(r.pr_stats.ps_corrupt, 0);
    assert_int_equal(r.pr_stats.ps_dups, 0);
    /* b answered every request that reached it, and a counted every
     * reply that reached it. */
    echo_rx_b = count_lines(t, "c1.b < ", "ICMP echo 198.18.0.2 > 198.18.0.3 id");
    reply_rx_a = count_lines(t, "c1.a < ", "ICMP echo-reply 198.18.0.3 > 198.18.0.2");
    assert_int_equal(r.pr_b_echo_replies, echo_rx_b);
    assert_int_equal(r.pr_stats.ps_received, reply_rx_a);
    assert_true(reply_rx_a < echo_rx_b);
    /* ARP retried: a asked more often than it was answered. */
    who_has = count_lines(t, "c1.a > ", "ARP who-has 198.18.0.3 tell 198.18.0.2");
    arp_replies_in = count_lines(t, "c1.a < ", "ARP reply 198.18.0.3 is-at 02:52:4e:00:01:02");
    assert_true(who_has > 10);
    assert_true(who_has > arp_replies_in);
    /* Each sent frame is one trace line at a, with the summary's form. */
    assert_non_null(strstr(t, "1.000000000 c1.a > 42 ARP announce 198.18.0.2 ["));
    assert_true(count_lines(t, "c1.a > ", NULL) == r.pr_ab.fc_frames);
    assert_true(count_lines(t, "c1.b < ", NULL) == r.pr_ab.fc_frames - r.pr_ab.fc_dropped);
    rn_strbuf_free(&r.pr_trace);
}

static void test_same_seed_same_trace(void **state)
{
    struct ping_run r1, r2, r3;

    (void)state;
    ping_scenario(7, "drop=20%", 100, 56, RN_SEC(5), RN_SEC(1), &r1);
    ping_scenario(7, "drop=20%", 100, 56, RN_SEC(5), RN_SEC(1), &r2);
    ping_scenario(8, "drop=20%", 100, 56, RN_SEC(5), RN_SEC(1), &r3);
    assert_true(r1.pr_trace.sb_len > 1000);
    assert_int_equal(r1.pr_trace.sb_len, r2.pr_trace.sb_len);
    assert_memory_equal(rn_strbuf_str(&r1.pr_trace), rn_strbuf_str(&r2.pr_trace),
                        r1.pr_trace.sb_len);
    assert_int_equal(r1.pr_digest, r2.pr_digest);
    assert_int_equal(r1.pr_stats.ps_received, r2.pr_stats.ps_received);
    /* Another seed loses other frames. */
    assert_true(r1.pr_trace.sb_len != r3.pr_trace.sb_len ||
                memcmp(rn_strbuf_str(&r1.pr_trace), rn_strbuf_str(&r3.pr_trace),
                       r1.pr_trace.sb_len) != 0);
    assert_true(r1.pr_digest != r3.pr_digest);
    rn_strbuf_free(&r1.pr_trace);
    rn_strbuf_free(&r2.pr_trace);
    rn_strbuf_free(&r3.pr_trace);
}

static void test_fragments_through_loss(void **state)
{
    struct ping_run r;
    const char *t;

    (void)state;
    /* 8000 data bytes: 6 fragments each way at MTU 1500.  Run 35 s past
     * the end so every incomplete datagram times out. */
    ping_scenario(3, "drop=5%", 60, 8000, 0, RN_SEC(35), &r);
    t = rn_strbuf_str(&r.pr_trace);
    assert_int_equal(r.pr_stats.ps_sent, 60);
    assert_true(r.pr_stats.ps_received > 10);
    assert_true(r.pr_stats.ps_received < 60);
    assert_int_equal(r.pr_stats.ps_corrupt, 0);
    /* Fragments went both ways, whole datagrams came back together... */
    assert_true(count_lines(t, "c1.a > ", "IPv4 198.18.0.2 > 198.18.0.3 proto 1 frag id") > 250);
    assert_true(count_lines(t, "c1.a > ", "ICMP echo 198.18.0.2 > 198.18.0.3") >= 60);
    assert_true(count_lines(t, " frag id ", " off 0 len 1480 MF") >= 60);
    /* ...and datagrams that lost a piece timed out and were counted. */
    assert_true(r.pr_b_frag_timeouts > 0);
    assert_true(r.pr_a_frag_timeouts > 0);
    assert_true(count_lines(t, "c1.b > ", "ICMP time-exceeded-reass 198.18.0.3 > 198.18.0.2") > 0);
    rn_strbuf_free(&r.pr_trace);
}

/* Three stacks: a in the middle with two interfaces, b and c on either
 * side.  refnet is a host: b and c reach a, never each other. */
static void test_three_stacks_two_cables(void **state)
{
    struct rn_sim *sim;
    struct rn_stack *a, *b, *c;
    struct rn_sim_cable *c1, *c2;
    struct rn_ping *pa, *pb, *pc;
    struct rn_ping_params pp = {.pp_count = 5};
    struct rn_ping_stats s;
    struct rn_strbuf trace = RN_STRBUF_INIT;
    const char *t;

    (void)state;
    assert_int_equal(rn_sim_create(11, &sim), 0);
    rn_sim_trace_to_strbuf(sim, &trace);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_add_stack(sim, "c", &c), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.1.1/24", b, "198.18.1.2/24", NULL, &c1), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.2.1/24", c, "198.18.2.2/24", NULL, &c2), 0);
    assert_string_equal(rn_sim_cable_name(c1), "c1");
    assert_string_equal(rn_sim_cable_name(c2), "c2");
    assert_string_equal(rn_iface_name(rn_sim_cable_iface(c1, true)), "sim0");
    assert_string_equal(rn_iface_name(rn_sim_cable_iface(c2, true)), "sim1");
    assert_string_equal(rn_iface_name(rn_sim_cable_iface(c2, false)), "sim0");

    pp.pp_dst = 0xc6120202u;  /* a -> c, 198.18.2.2 */
    assert_int_equal(rn__ping_start(a, &pp, &pa), 0);
    pp.pp_dst = 0xc6120101u;  /* b -> a */
    assert_int_equal(rn__ping_start(b, &pp, &pb), 0);
    pp.pp_dst = 0xc6120102u;  /* c -> b: no route, refnet does not forward */
    assert_int_equal(rn__ping_start(c, &pp, &pc), 0);
    /* One ping per stack: the observer is taken. */
    {
        struct rn_ping *again;

        assert_int_equal(rn__ping_start(a, &pp, &again), RN_EBUSY);
    }
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(10)), 0);
    assert_true(rn__ping_done(pa) && rn__ping_done(pb) && rn__ping_done(pc));
    rn__ping_stats(pa, &s);
    assert_int_equal(s.ps_received, 5);
    rn__ping_stats(pb, &s);
    assert_int_equal(s.ps_received, 5);
    rn__ping_stats(pc, &s);
    assert_int_equal(s.ps_sent, 0);
    assert_int_equal(s.ps_send_errors, 5);  /* no route: c knows only 198.18.2.0/24 */
    rn__ping_free(pa);
    rn__ping_free(pb);
    rn__ping_free(pc);
    t = rn_strbuf_str(&trace);
    assert_int_equal(count_lines(t, "c2.a > ", "ICMP echo 198.18.2.1 > 198.18.2.2"), 5);
    assert_int_equal(count_lines(t, "c1.b > ", "ICMP echo 198.18.1.2 > 198.18.1.1"), 5);
    assert_int_equal(count_lines(t, "c1.a < ", "ICMP echo 198.18.1.2 > 198.18.1.1"), 5);
    assert_int_equal(count_lines(t, "198.18.1.2", "198.18.2.2"), 0);
    assert_int_equal(rn_sim_destroy(sim), 0);
    rn_strbuf_free(&trace);
    check_live_objects(0);
}

/* What a captured at its end, with the virtual timestamps. */
static void test_pcap_virtual_time(void **state)
{
    char path[] = "/tmp/refnet-sim-XXXXXX";
    char err[PCAP_ERRBUF_SIZE];
    struct rn_sim_link_params lp = {0};
    struct rn_ping_params pp = {.pp_dst = ADDR_B, .pp_count = 3};
    struct rn_strbuf trace = RN_STRBUF_INIT;
    struct pcap_pkthdr *h;
    const u_char *data;
    struct rn_sim *sim;
    struct rn_stack *a, *b;
    struct rn_ping *ping;
    pcap_t *p;
    unsigned frames = 0;
    int fd;

    (void)state;
    fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    lp.sl_pcap_a = path;
    lp.sl_latency = 250 * RN_NSEC_PER_USEC;
    assert_int_equal(rn_sim_create(5, &sim), 0);
    rn_sim_trace_to_strbuf(sim, &trace);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", &lp, NULL), 0);
    assert_int_equal(rn__ping_start(a, &pp, &ping), 0);
    assert_int_equal(rn_sim_run_while(sim, ping_running, ping, RN_SEC(30)), 0);
    rn__ping_free(ping);
    assert_int_equal(rn_sim_destroy(sim), 0);

    p = pcap_open_offline_with_tstamp_precision(path, PCAP_TSTAMP_PRECISION_NANO, err);
    assert_non_null(p);
    while (pcap_next_ex(p, &h, &data) == 1) {
        if (frames == 0) {
            /* The announcement at the epoch, 1 s of virtual time. */
            assert_int_equal(h->ts.tv_sec, 1);
            assert_int_equal(h->ts.tv_usec, 0);
        }
        frames++;
    }
    pcap_close(p);
    unlink(path);
    /* The capture sits above the trace at end a: same frames. */
    assert_int_equal(frames, count_lines(rn_strbuf_str(&trace), " c1.a ", NULL));
    /* a learns b's address from b's announcement (RFC 826 merge into its
     * waiting entry), so the first reply is back after three one-way
     * trips of 250 us: the request, the echo, the reply. */
    assert_non_null(strstr(rn_strbuf_str(&trace), "\n1.000750000 c1.a < 98 ICMP echo-reply"));
    rn_strbuf_free(&trace);
    check_live_objects(0);
}

/* Work that posts itself again until told to stop, so time never
 * advances meanwhile. */
struct spinner {
    struct rn_work sp_work;
    bool sp_stop;
    unsigned sp_runs;
};

static void spin(struct rn_stack *st, struct rn_work *w)
{
    struct spinner *s = (struct spinner *)w;

    s->sp_runs++;
    if (!s->sp_stop)
        rn_stack_post(st, w, spin);
}

static void test_livelock_reported(void **state)
{
    struct spinner s = {0};
    struct rn_sim *sim;
    struct rn_stack *a;
    unsigned runs;

    (void)state;
    assert_int_equal(rn_sim_create(1, &sim), 0);
    assert_int_equal(rn_sim_add_stack(sim, "spinner", &a), 0);
    rn_stack_post(a, &s.sp_work, spin);
    capture_begin();
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(1)), RN_EBUSY);
    capture_end();
    assert_true(capture_has("livelock at 1.000000000"));
    assert_true(capture_has("spinner next 1.000000000 (posted work)"));
    assert_non_null(strstr(rn_sim_error(sim), "polls without time advancing"));
    assert_int_equal(rn_sim_now(sim), RN_SIM_EPOCH);
    /* Bounded: the default allows 10000 polls at one instant. */
    assert_true(s.sp_runs >= 10000 && s.sp_runs <= 2 * 10000 + 2);
    /* The event budget stops it sooner when set lower. */
    runs = s.sp_runs;
    rn_sim_set_limits(sim, 0, 100);
    capture_begin();
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(1)), RN_EBUSY);
    capture_end();
    assert_true(capture_has("100 events in one run call"));
    assert_true(s.sp_runs - runs <= 2 * 100 + 2);
    /* Once the work ends, time moves again. */
    s.sp_stop = true;
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(1)), 0);
    assert_int_equal(rn_sim_now(sim), RN_SIM_EPOCH + RN_SEC(1));
    assert_int_equal(rn_sim_destroy(sim), 0);
    check_live_objects(0);
}

static void test_leaks_reported(void **state)
{
    struct rn_sim *sim;
    struct rn_stack *a, *b;
    struct rn_sim_cable *c;
    struct rn_iface *ifp;
    struct rn_netbuf *nb;
    rn_tag_t tag = rn_tag_intern("test.leak");

    (void)state;
    assert_int_equal(rn_sim_create(2, &sim), 0);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", NULL, &c), 0);
    assert_int_equal(rn_sim_run_for(sim, RN_MSEC(10)), 0);
    /* A reference nobody gives back, and a buffer nobody frees. */
    ifp = rn_sim_cable_iface(c, true);
    assert_int_equal(rn_ob_ref(ifp, tag), 0);
    nb = rn_nb_alloc(rn_stack_pool(b), rn_nb_owner_register("test.leak"));
    assert_non_null(nb);
    capture_begin();
    assert_int_equal(rn_sim_destroy(sim), RN_EBUSY);
    capture_end();
    assert_true(capture_has("interface sim0 198.18.0.2/15"));
    /* The holder, and where it took its reference. */
    assert_true(capture_has("last ref test_leaks_reported"));
    assert_true(capture_has("objects still alive after every stack was destroyed"));
    assert_true(capture_has("netbuf pool \"b\" destroyed with 1 buffer outstanding"));
    assert_true(capture_has("stack b still held buffers"));
    /* Give them back: then everything goes. */
    rn_nb_free(nb);
    rn_ob_deref(ifp, tag);
    check_live_objects(0);
}

static void test_bad_parameters(void **state)
{
    struct rn_sim *sim, *other;
    struct rn_stack *a, *b, *dup;
    struct rn_sim_link_params lp = {.sl_fault_ab = "drop=20%,bogus=1"};

    (void)state;
    assert_int_equal(rn_sim_create(3, &sim), 0);
    /* One sim per process: it owns the clock. */
    assert_int_equal(rn_sim_create(4, &other), RN_EBUSY);
    assert_int_equal(rn_clock_now(), RN_SIM_EPOCH);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_add_stack(sim, "a", &dup), RN_EEXIST);
    assert_int_equal(rn_sim_add_stack(sim, "", &dup), RN_EINVAL);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", &lp, NULL),
                     RN_EINVAL);
    assert_non_null(strstr(rn_sim_error(sim), "bogus"));
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2", b, "198.18.0.3/15", NULL, NULL),
                     RN_EINVAL);
    assert_non_null(strstr(rn_sim_error(sim), "198.18.0.2"));
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", a, "198.18.0.3/15", NULL, NULL),
                     RN_EINVAL);
    /* Nothing half-built stayed behind. */
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", NULL, NULL), 0);
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(2)), 0);
    assert_int_equal(rn_clock_now(), RN_SIM_EPOCH + RN_SEC(2));
    assert_int_equal(rn_sim_destroy(sim), 0);
    check_live_objects(0);
}

/* ---- Frame summaries -------------------------------------------------- */

static uint8_t fr[2048];

/* Builds an Ethernet + IPv4 frame around l4 (n bytes) in fr; returns its
 * length. */
static size_t ip_frame(uint8_t proto, uint16_t id, uint16_t off, bool mf, const uint8_t *l4,
                       size_t n)
{
    struct rn_mac dst = {{2, 0, 0, 0, 0, 3}}, src = {{2, 0, 0, 0, 0, 2}};
    struct rn_ip4_hdr ip = {0};

    rn__eth_emit(fr, &dst, &src, RN_ETHERTYPE_IPV4);
    ip.ip_id = id;
    ip.ip_off = off;
    ip.ip_mf = mf;
    ip.ip_ttl = 64;
    ip.ip_proto = proto;
    ip.ip_src = ADDR_A;
    ip.ip_dst = ADDR_B;
    ip.ip_paylen = (uint16_t)n;
    rn__ip4_emit(fr + RN_ETH_HLEN, &ip);
    memcpy(fr + RN_ETH_HLEN + RN_IP4_HLEN, l4, n);
    return RN_ETH_HLEN + RN_IP4_HLEN + n;
}

static void assert_summary(size_t len, const char *want)
{
    struct rn_strbuf sb = RN_STRBUF_INIT;

    rn_sim_frame_summary(fr, len, &sb);
    assert_string_equal(rn_strbuf_str(&sb), want);
    rn_strbuf_free(&sb);
}

static void test_frame_summaries(void **state)
{
    struct rn_mac bcast = RN_MAC_BROADCAST, a = {{2, 0, 0, 0, 0, 2}}, b = {{2, 0, 0, 0, 0, 3}};
    struct rn_arp ar = {0};
    uint8_t l4[1500] = {0};
    struct rn_udp_hdr uh = {.uh_sport = 1024, .uh_dport = 7, .uh_paylen = 100};
    struct rn_tcp_hdr th = {.th_sport = 40000, .th_dport = 80, .th_seq = 1, .th_ack = 0,
                            .th_flags = RN_TCP_SYN | RN_TCP_ACK, .th_win = 65535};
    size_t n;

    (void)state;
    rn__eth_emit(fr, &bcast, &a, RN_ETHERTYPE_ARP);
    ar.ar_op = RN_ARP_OP_REQUEST;
    ar.ar_sha = a;
    ar.ar_spa = ADDR_A;
    ar.ar_tpa = ADDR_B;
    rn__arp_emit(fr + RN_ETH_HLEN, &ar);
    assert_summary(42, "ARP who-has 198.18.0.3 tell 198.18.0.2");
    ar.ar_tpa = ADDR_A;
    rn__arp_emit(fr + RN_ETH_HLEN, &ar);
    assert_summary(42, "ARP announce 198.18.0.2");
    ar.ar_op = RN_ARP_OP_REPLY;
    ar.ar_sha = b;
    ar.ar_spa = ADDR_B;
    rn__arp_emit(fr + RN_ETH_HLEN, &ar);
    assert_summary(42, "ARP reply 198.18.0.3 is-at 02:00:00:00:00:03");
    assert_summary(30, "ARP bad (truncated)");
    assert_summary(10, "ether bad (truncated)");

    /* Echo request id 1 seq 5 with 56 data bytes: 84 bytes of IP. */
    l4[0] = RN_ICMP_ECHO;
    rn_put_be16(l4 + 4, 1);
    rn_put_be16(l4 + 6, 5);
    rn_put_be16(l4 + 2, rn_csum(l4, 64));
    n = ip_frame(RN_IPPROTO_ICMP, 9, 0, false, l4, 64);
    assert_summary(n, "ICMP echo 198.18.0.2 > 198.18.0.3 id 1 seq 5 len 84");
    l4[63] ^= 1;
    n = ip_frame(RN_IPPROTO_ICMP, 9, 0, false, l4, 64);
    assert_summary(n, "ICMP echo 198.18.0.2 > 198.18.0.3 id 1 seq 5 len 84 bad (bad_icmp_csum)");
    /* A first fragment cannot be checked; later ones have no header. */
    n = ip_frame(RN_IPPROTO_ICMP, 7, 0, true, l4, 1480);
    assert_summary(n, "ICMP echo 198.18.0.2 > 198.18.0.3 id 1 seq 5 len 1500 frag id 7 off 0 len 1480 MF");
    n = ip_frame(RN_IPPROTO_ICMP, 7, 1480, false, l4, 200);
    assert_summary(n, "IPv4 198.18.0.2 > 198.18.0.3 proto 1 frag id 7 off 1480 len 200");
    fr[RN_ETH_HLEN + 10] ^= 0xff;
    assert_summary(n, "IPv4 bad (bad_ip_csum)");

    memset(l4, 0, sizeof(l4));
    rn__udp_emit4(l4, &uh, ADDR_A, ADDR_B);
    n = ip_frame(RN_IPPROTO_UDP, 1, 0, false, l4, 108);
    assert_summary(n, "UDP 198.18.0.2:1024 > 198.18.0.3:7 len 100");
    rn__tcp_emit4(l4, &th, ADDR_A, ADDR_B);
    n = ip_frame(RN_IPPROTO_TCP, 1, 0, false, l4, 20);
    assert_summary(n, "TCP 198.18.0.2:40000 > 198.18.0.3:80 [S.] seq 1 ack 0 win 65535 len 0");
    n = ip_frame(253, 1, 0, false, l4, 20);
    assert_summary(n, "IPv4 198.18.0.2 > 198.18.0.3 proto 253 len 40");
    rn__eth_emit(fr, &b, &a, RN_ETHERTYPE_IPV6);
    assert_summary(60, "ether type 0x86dd");
    check_live_objects(0);
}

/* ---- UDP echo ----------------------------------------------------------- */

struct udp_run {
    struct rn_echo_client_stats ur_client;
    struct rn_echo_stats ur_server;
    uint64_t ur_b_csum_drops;    /* b: UDP, ICMP and IP checksum drops */
    uint64_t ur_a_csum_drops;
    uint64_t ur_digest;
    uint64_t ur_fragments;       /* trace lines of non-first fragments */
};

static bool client_running(void *ctx)
{
    return !rn__echo_client_done(ctx);
}

static void set_flag(void *ctx)
{
    *(bool *)ctx = true;
}

static bool stops_pending(void *ctx)
{
    const bool *stopped = ctx;

    return !stopped[0] || !stopped[1];
}

static uint64_t csum_drops(struct rn_stack *st)
{
    return rn_stack_drops(st, RN_DROP_BAD_UDP_CSUM) + rn_stack_drops(st, RN_DROP_BAD_IP_CSUM) +
           rn_stack_drops(st, RN_DROP_BAD_ICMP_CSUM);
}

/* b runs the echo service; a sends it count datagrams of 4..max_size
 * bytes over a cable with fault spec `fault` both ways. */
static void udp_scenario(uint64_t seed, const char *fault, uint32_t count, uint32_t max_size,
                         struct udp_run *out)
{
    struct rn_sim_link_params lp = {.sl_fault_ab = fault, .sl_fault_ba = fault};
    struct rn_echo_client_params ep = {.ec_dst = ADDR_B, .ec_count = count,
                                       .ec_max_size = max_size, .ec_seed = seed};
    struct rn_strbuf trace = RN_STRBUF_INIT;
    bool stopped[2] = {false, false};
    struct rn_echo_client *client;
    struct rn_echo *server;
    struct rn_sim *sim;
    struct rn_stack *a, *b;

    memset(out, 0, sizeof(*out));
    assert_int_equal(rn_sim_create(seed, &sim), 0);
    rn_sim_trace_to_strbuf(sim, &trace);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", &lp, NULL), 0);
    assert_int_equal(rn__echo_start(b, NULL, &server), 0);
    assert_int_equal(rn__echo_client_start(a, &ep, &client), 0);
    assert_int_equal(rn_sim_run_while(sim, client_running, client, RN_SEC(count + 60)), 0);
    rn__echo_client_stats(client, &out->ur_client);
    rn__echo_stats(server, &out->ur_server);
    rn__echo_client_stop(client, set_flag, &stopped[0]);
    rn__echo_stop(server, set_flag, &stopped[1]);
    assert_int_equal(rn_sim_run_while(sim, stops_pending, stopped, RN_SEC(5)), 0);
    /* Let anything still in flight land or time out. */
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(35)), 0);
    out->ur_a_csum_drops = csum_drops(a);
    out->ur_b_csum_drops = csum_drops(b);
    out->ur_fragments = count_lines(rn_strbuf_str(&trace), "proto 17 frag id", NULL);
    assert_int_equal(rn_nbpool_outstanding(rn_stack_pool(a), RN_NB_OWNER_NONE), 0);
    assert_int_equal(rn_nbpool_outstanding(rn_stack_pool(b), RN_NB_OWNER_NONE), 0);
    out->ur_digest = rn_sim_trace_digest(sim, NULL);
    assert_int_equal(rn_sim_destroy(sim), 0);
    rn_strbuf_free(&trace);
    check_live_objects(0);
}

static void test_udp_echo_through_loss(void **state)
{
    struct udp_run r, again;

    (void)state;
    /* Up to 3000 bytes: some datagrams travel in two or three fragments. */
    udp_scenario(21, "drop=20%", 300, 3000, &r);
    assert_int_equal(r.ur_client.ecs_sent, 300);
    assert_int_equal(r.ur_client.ecs_mismatched, 0);
    assert_int_equal(r.ur_client.ecs_foreign, 0);
    assert_true(r.ur_client.ecs_echoed > 60);
    assert_true(r.ur_client.ecs_echoed < 300);
    assert_true(r.ur_fragments > 50);
    /* Whatever reached the service went back, and only that. */
    assert_true(r.ur_server.es_received > r.ur_client.ecs_echoed);
    assert_true(r.ur_server.es_received < 300);
    assert_int_equal(r.ur_server.es_echoed, r.ur_server.es_received);
    assert_int_equal(r.ur_server.es_send_errors, 0);
    /* The same seed, the same run. */
    udp_scenario(21, "drop=20%", 300, 3000, &again);
    assert_int_equal(again.ur_digest, r.ur_digest);
    assert_int_equal(again.ur_client.ecs_echoed, r.ur_client.ecs_echoed);
}

static void test_udp_corruption_caught(void **state)
{
    struct udp_run r;

    (void)state;
    /* One bit flipped in 5% of frames: every one is caught by a checksum
     * and counted as a drop; none reaches the client as a wrong echo. */
    udp_scenario(9, "corrupt=5%", 300, 3000, &r);
    assert_int_equal(r.ur_client.ecs_mismatched, 0);
    assert_true(r.ur_client.ecs_echoed > 200);
    assert_true(r.ur_client.ecs_echoed < 300);
    assert_true(r.ur_a_csum_drops > 0);
    assert_true(r.ur_b_csum_drops > 0);
}

/* ---- HTTP GETs through the socket layer, replayed ------------------------- */

/* One GET: open, CONNECT, SEND the request, RECV to the end, CLOSE. */
struct hget {
    struct rn_proc *g_proc;
    int g_h;
    char g_buf[4096];
    uint64_t g_bytes;
    bool g_done;               /* the whole answer came */
    bool g_failed;
    bool g_early;              /* SEND submitted with the CONNECT, not after it */
    enum rn_sock_op g_pending; /* submitted and not completed; 0 none */
};

static void hget_done(struct rn_proc *p, const struct rn_sock_completion *c);

static void hget_submit(struct hget *g, enum rn_sock_op op, void *buf, size_t len)
{
    static const char req[] = "GET / HTTP/1.1\r\nHost: www\r\nConnection: close\r\n\r\n";
    struct rn_sockaddr_in to = {.sin_addr = ADDR_B, .sin_port = 80};
    struct rn_sock_req rq = {
        .sq_op = op,
        .sq_handle = g->g_h,
        .sq_buf = op == RN_SOP_SEND ? (void *)req : buf,
        .sq_len = op == RN_SOP_SEND ? sizeof(req) - 1 : len,
        .sq_to = op == RN_SOP_CONNECT ? &to : NULL,
        .sq_user = g,
    };

    g->g_pending = op;
    assert_int_equal(rn_sock_submit(g->g_proc, &rq, hget_done), 0);
}

static void hget_done(struct rn_proc *p, const struct rn_sock_completion *c)
{
    struct hget *g = c->sc_user;

    (void)p;
    g->g_pending = 0;
    switch (c->sc_op) {
    case RN_SOP_CONNECT:
        if (c->sc_result == 0) {
            if (!g->g_early)
                hget_submit(g, RN_SOP_SEND, NULL, 0);
            return;
        }
        break;
    case RN_SOP_SEND:
        if (c->sc_result > 0) {
            hget_submit(g, RN_SOP_RECV, g->g_buf, sizeof(g->g_buf));
            return;
        }
        break;
    case RN_SOP_RECV:
        if (c->sc_result > 0) {
            g->g_bytes += (uint64_t)c->sc_result;
            hget_submit(g, RN_SOP_RECV, g->g_buf, sizeof(g->g_buf));
            return;
        }
        if (c->sc_result == 0) {
            g->g_done = true;
            hget_submit(g, RN_SOP_CLOSE, NULL, 0);
            return;
        }
        break;
    case RN_SOP_CLOSE:
        return;
    default:
        break;
    }
    g->g_failed = true;
    hget_submit(g, RN_SOP_CLOSE, NULL, 0);
}

static void svc_heard(struct rn_svc_stop *stp, int result, void *ctx)
{
    (void)stp;
    (void)result;
    *(bool *)ctx = true;
}

/* Two stacks on a cable, httpd on b; 8 GETs from a, 300 ms apart; 2 s
 * more.  early: each GET's SEND is submitted at once behind its CONNECT.
 * Returns the GETs that completed, and the run's trace digest. */
static unsigned http_run(uint64_t seed, const char *docroot, bool early, uint64_t *digest)
{
    struct rn_sim *sim;
    struct rn_stack *a, *b;
    struct rn_svcctl *sc;
    struct rn_svc *httpd;
    struct rn_svc_stop stp;
    struct rn_proc *proc;
    struct hget g[8];
    char spec[320], err[256];
    bool stopped = false;
    unsigned i, done = 0;

    memset(g, 0, sizeof(g));
    assert_int_equal(rn_sim_create(seed, &sim), 0);
    assert_int_equal(rn_sim_add_stack(sim, "a", &a), 0);
    assert_int_equal(rn_sim_add_stack(sim, "b", &b), 0);
    assert_int_equal(rn_sim_connect(sim, a, "198.18.0.2/15", b, "198.18.0.3/15", NULL, NULL), 0);
    assert_int_equal(rn_svcctl_create(b, rn_svc_builtin, &sc), 0);
    snprintf(spec, sizeof(spec), "httpd=80:%s", docroot);
    assert_int_equal(rn_svcctl_add(sc, spec, &httpd, err, sizeof(err)), 0);
    assert_int_equal(rn_svc_start(httpd, err, sizeof(err)), 0);
    assert_int_equal(rn_proc_create(a, "client", &proc), 0);
    assert_int_equal(rn_sim_run_for(sim, RN_MSEC(10)), 0);
    for (i = 0; i < 8; i++) {
        g[i].g_proc = proc;
        g[i].g_early = early;
        g[i].g_h = rn_sock_open(proc, RN_SOCK_STREAM, 0);
        assert_true(g[i].g_h > 0);
        hget_submit(&g[i], RN_SOP_CONNECT, NULL, 0);
        if (early)
            hget_submit(&g[i], RN_SOP_SEND, NULL, 0);
        assert_int_equal(rn_sim_run_for(sim, RN_MSEC(300)), 0);
    }
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(2)), 0);
    for (i = 0; i < 8; i++) {
        /* The page (2000 lines, 54 KB) and the response's head. */
        if (g[i].g_done && !g[i].g_failed && g[i].g_pending == 0 && g[i].g_bytes > 54000)
            done++;
        else
            fprintf(stderr, "seed %llu: GET %u hung (op %d pending, %llu bytes)\n",
                    (unsigned long long)seed, i, (int)g[i].g_pending,
                    (unsigned long long)g[i].g_bytes);
    }
    *digest = rn_sim_trace_digest(sim, NULL);
    if (rn_svc_stop(httpd, RN_SEC(5), &stp, svc_heard, &stopped) == 1)
        stopped = true;
    for (i = 0; i < 100 && !stopped; i++)
        assert_int_equal(rn_sim_run_for(sim, RN_MSEC(100)), 0);
    assert_true(stopped);
    rn_proc_exit(proc);
    assert_int_equal(rn_sim_run_for(sim, RN_SEC(2)), 0);
    rn_svcctl_destroy(sc);
    assert_int_equal(rn_sim_destroy(sim), 0);
    return done;
}

/* The simulator replays exactly: five runs of one seed in which each GET
 * through the socket layer completes and every run's trace is the same;
 * then five more with each SEND submitted behind its CONNECT. */
static void test_http_gets_replay(void **state)
{
    char dir[] = "/tmp/refnet-simhttp-XXXXXX", path[64];
    uint64_t digest, first = 0;
    unsigned run;
    FILE *f;
    int i;

    (void)state;
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/index.html", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    for (i = 0; i < 2000; i++)
        fprintf(f, "<p>line %d of the page</p>\n", i);
    fclose(f);
    for (run = 0; run < 10; run++) {
        assert_int_equal(http_run(7, dir, run >= 5, &digest), 8);
        if (run == 0 || run == 5)
            first = digest;
        assert_true(digest == first);
    }
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ping_through_loss),
        cmocka_unit_test(test_same_seed_same_trace),
        cmocka_unit_test(test_fragments_through_loss),
        cmocka_unit_test(test_three_stacks_two_cables),
        cmocka_unit_test(test_pcap_virtual_time),
        cmocka_unit_test(test_livelock_reported),
        cmocka_unit_test(test_leaks_reported),
        cmocka_unit_test(test_bad_parameters),
        cmocka_unit_test(test_frame_summaries),
        cmocka_unit_test(test_udp_echo_through_loss),
        cmocka_unit_test(test_udp_corruption_caught),
        cmocka_unit_test(test_http_gets_replay),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
