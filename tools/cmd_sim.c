/*
 * refnet sim: scenarios run in the simulator (include/refnet/sim.h), for
 * people.  Two stacks, a and b, joined by one simulated cable with seeded
 * faults, in virtual time; the same arguments print the same output.
 *
 *   refnet sim ping [--count N] [--size BYTES] [--loss PCT] [--corrupt PCT]
 *                   [--interval MS] [--seed N] [--trace FILE] [--pcap FILE]
 *   refnet sim udp-echo [--count N] [--max-size BYTES] [--loss PCT]
 *                   [--corrupt PCT] [--interval MS] [--seed N] [--trace FILE]
 *                   [--pcap FILE]
 *
 * ping: a (198.18.0.2) pings b (198.18.0.3) and prints what ping prints,
 * with virtual round-trip times.  Exit 0 if any reply came back intact, 1
 * if none did (or one was corrupt, or something leaked).
 *
 * udp-echo: b runs the UDP echo service, a sends it datagrams of sizes
 * from 4 to --max-size bytes and checks every echo byte for byte.  Lost
 * datagrams are counted, not errors; exit 1 if any echo differed from what
 * was sent (corruption nothing caught), or nothing came back over a link
 * that loses less than everything, or something leaked.
 *
 * Both: --loss and --corrupt apply to each direction; options and the
 * scenario come in any order (rn__cmd_getopt()); exit 2 for bad arguments.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"
#include "apps/apps.h"
#include "apps/echo_client.h"
#include "refnet/error.h"
#include "apps/ping.h"
#include "refnet/sim.h"
#include "refnet/stack.h"

#define ADDR_A "198.18.0.2/15"
#define ADDR_B "198.18.0.3/15"
#define ADDR_B_HOST 0xc6120003u

/* Options shared by the scenarios. */
struct sim_opts {
    uint64_t so_seed;          /* --seed */
    uint32_t so_count;         /* --count */
    uint32_t so_size;          /* --size */
    double so_loss;            /* --loss, percent */
    double so_corrupt;         /* --corrupt, percent */
    uint32_t so_interval_ms;   /* --interval */
    const char *so_trace;      /* --trace FILE, "-" for stdout */
    const char *so_pcap;       /* --pcap FILE */
};

/* Parses a percentage "20", "12.5" or "20%" in [0, 100].  Returns 0 or -1. */
static int parse_pct(const char *s, double *out)
{
    char *end;
    double v;

    if (s == NULL || ((*s < '0' || *s > '9') && *s != '.'))
        return -1;
    v = strtod(s, &end);
    if (*end == '%')
        end++;
    if (*end != '\0' || !(v >= 0.0 && v <= 100.0))
        return -1;
    *out = v;
    return 0;
}

enum {
    O_COUNT = 1, O_SIZE, O_MAX_SIZE, O_LOSS, O_CORRUPT, O_INTERVAL, O_SEED, O_TRACE, O_PCAP,
    O_COUNT_
};
static const struct cmd_opt sim_opts[] = {
    {"count", 0, true, false, O_COUNT},
    {"size", 0, true, false, O_SIZE},
    {"max-size", 0, true, false, O_MAX_SIZE},
    {"loss", 0, true, false, O_LOSS},
    {"corrupt", 0, true, false, O_CORRUPT},
    {"interval", 0, true, false, O_INTERVAL},
    {"seed", 0, true, false, O_SEED},
    {"trace", 0, true, false, O_TRACE},
    {"pcap", 0, true, false, O_PCAP},
    {NULL, 0, false, false, 0},
};

/* Reads the options given (vals[id], NULL if absent) into o.  size_opt is
 * O_SIZE or O_MAX_SIZE, the one the scenario takes.  Returns 0, or the
 * exit status of a usage error already printed. */
static int parse_opts(const char *scenario, const char *const *vals, int size_opt,
                      struct sim_opts *o)
{
    const char *val;
    uint64_t v;
    int id;

    for (id = 1; id < O_COUNT_; id++) {
        const char *name = sim_opts[id - 1].co_long;

        if ((val = vals[id]) == NULL)
            continue;
        switch (id) {
        case O_COUNT:
            if (rn__cmd_parse_uint(val, 1, 65535, &v) < 0)
                return rn__cmd_usage_error("sim %s: --count wants a number from 1 to 65535, not '%s'",
                                       scenario, val);
            o->so_count = (uint32_t)v;
            break;
        case O_SIZE:
        case O_MAX_SIZE:
            if (id != size_opt)
                return rn__cmd_usage_error("sim %s: '--%s' is not an option of %s (--%s is)",
                                       scenario, name, scenario,
                                       sim_opts[size_opt - 1].co_long);
            if (rn__cmd_parse_uint(val, 0, 65507, &v) < 0)
                return rn__cmd_usage_error("sim %s: --%s wants a number of bytes from 0 to 65507, "
                                       "not '%s'", scenario, name, val);
            o->so_size = (uint32_t)v;
            break;
        case O_LOSS:
            if (parse_pct(val, &o->so_loss) < 0)
                return rn__cmd_usage_error("sim %s: --loss wants a percentage from 0 to 100, not '%s'",
                                       scenario, val);
            break;
        case O_CORRUPT:
            if (parse_pct(val, &o->so_corrupt) < 0)
                return rn__cmd_usage_error("sim %s: --corrupt wants a percentage from 0 to 100, "
                                       "not '%s'", scenario, val);
            break;
        case O_INTERVAL:
            if (rn__cmd_parse_uint(val, 1, 3600000, &v) < 0)
                return rn__cmd_usage_error("sim %s: --interval wants milliseconds from 1 to "
                                       "3600000, not '%s'", scenario, val);
            o->so_interval_ms = (uint32_t)v;
            break;
        case O_SEED:
            if (rn__cmd_parse_uint(val, 0, UINT64_MAX, &v) < 0)
                return rn__cmd_usage_error("sim %s: --seed wants an unsigned number, not '%s'",
                                       scenario, val);
            o->so_seed = v;
            break;
        case O_TRACE:
            if (*val == '\0')
                return rn__cmd_usage_error("sim %s: --trace needs a file name", scenario);
            o->so_trace = val;
            break;
        case O_PCAP:
            if (*val == '\0')
                return rn__cmd_usage_error("sim %s: --pcap needs a file name", scenario);
            o->so_pcap = val;
            break;
        }
    }
    return 0;
}

/* The two-stack network every scenario uses. */
struct sim_net {
    struct rn_sim *sn_sim;
    struct rn_stack *sn_a;
    struct rn_stack *sn_b;
    struct rn_sim_cable *sn_cable;
    FILE *sn_trace;      /* opened by us, or stdout */
};

/* Builds it.  Returns 0, or prints why not and returns 1. */
static int net_up(struct sim_net *n, const struct sim_opts *o)
{
    struct rn_sim_link_params lp = {0};
    char spec[64];
    int err;

    memset(n, 0, sizeof(*n));
    err = rn_sim_create(o->so_seed, &n->sn_sim);
    if (err < 0) {
        fprintf(stderr, "refnet: sim: %s\n", rn_strerror(err));
        return 1;
    }
    if (o->so_trace != NULL) {
        n->sn_trace = strcmp(o->so_trace, "-") ? fopen(o->so_trace, "w") : stdout;
        if (n->sn_trace == NULL) {
            fprintf(stderr, "refnet: sim: cannot write %s: %s\n", o->so_trace, strerror(errno));
            goto out_destroy;
        }
        rn_sim_trace_to_file(n->sn_sim, n->sn_trace);
    }
    snprintf(spec, sizeof(spec), "drop=%g%%,corrupt=%g%%", o->so_loss, o->so_corrupt);
    lp.sl_fault_ab = spec;
    lp.sl_fault_ba = spec;
    lp.sl_pcap_a = o->so_pcap;
    if (rn_sim_add_stack(n->sn_sim, "a", &n->sn_a) < 0 ||
        rn_sim_add_stack(n->sn_sim, "b", &n->sn_b) < 0 ||
        rn_sim_connect(n->sn_sim, n->sn_a, ADDR_A, n->sn_b, ADDR_B, &lp, &n->sn_cable) < 0) {
        fprintf(stderr, "refnet: sim: %s\n", rn_sim_error(n->sn_sim));
        goto out_destroy;
    }
    return 0;

out_destroy:
    rn_sim_destroy(n->sn_sim);
    if (n->sn_trace != NULL && n->sn_trace != stdout)
        fclose(n->sn_trace);
    return 1;
}

/* Prints the trace summary, tears down and checks for leaks.  Returns
 * status, or 1 if something leaked. */
static int net_down(struct sim_net *n, int status)
{
    uint64_t lines, digest = rn_sim_trace_digest(n->sn_sim, &lines);

    printf("trace: %" PRIu64 " lines, digest %016" PRIx64 "\n", lines, digest);
    if (rn_sim_destroy(n->sn_sim) < 0) {
        fprintf(stderr, "refnet: sim: objects or buffers leaked (reported above)\n");
        status = 1;
    }
    if (n->sn_trace != NULL && n->sn_trace != stdout && fclose(n->sn_trace) != 0) {
        fprintf(stderr, "refnet: sim: cannot write the trace file\n");
        status = 1;
    }
    return status;
}

static void fmt_ms(rn_time_t t, char *buf, size_t len)
{
    snprintf(buf, len, "%llu.%03llu", (unsigned long long)(t / RN_NSEC_PER_MSEC),
             (unsigned long long)(t % RN_NSEC_PER_MSEC / RN_NSEC_PER_USEC));
}

static void on_reply(void *ctx, const struct rn_ping_reply *r)
{
    char addr[16], ms[32];

    (void)ctx;
    snprintf(addr, sizeof(addr), "%u.%u.%u.%u", r->pr_src >> 24, (r->pr_src >> 16) & 0xff,
             (r->pr_src >> 8) & 0xff, r->pr_src & 0xff);
    fmt_ms(r->pr_rtt, ms, sizeof(ms));
    printf("%u bytes from %s: icmp_seq=%u ttl=%u time=%s ms%s%s\n", r->pr_bytes, addr,
           r->pr_seq, r->pr_ttl, ms, r->pr_dup ? " (DUP!)" : "",
           r->pr_corrupt ? " (wrong data)" : "");
}

static bool ping_running(void *ctx)
{
    return !rn__ping_done(ctx);
}

static int sim_ping(const char *const *vals)
{
    struct sim_opts o = {.so_count = 10, .so_size = 56, .so_interval_ms = 1000, .so_seed = 1};
    struct rn_ping_params pp = {0};
    struct rn_ping_stats ps;
    struct rn_ping *ping;
    struct sim_net n;
    rn_time_t limit;
    char mn[32], avg[32], mx[32];
    int err, status;

    err = parse_opts("ping", vals, O_SIZE, &o);
    if (err != 0)
        return err;
    if (net_up(&n, &o) != 0)
        return 1;
    pp.pp_dst = ADDR_B_HOST;
    pp.pp_count = o.so_count;
    pp.pp_size = o.so_size;
    pp.pp_size_set = true;
    pp.pp_interval = RN_MSEC(o.so_interval_ms);
    pp.pp_on_reply = on_reply;
    err = rn__ping_start(n.sn_a, &pp, &ping);
    if (err < 0) {
        fprintf(stderr, "refnet: sim ping: %s\n", rn_strerror(err));
        return net_down(&n, 1);
    }
    printf("PING 198.18.0.3 from 198.18.0.2: %u data bytes, loss %g%% each way, seed %" PRIu64
           "\n",
           o.so_size, o.so_loss, o.so_seed);
    if (o.so_corrupt > 0)
        printf("corrupting %g%% of frames each way\n", o.so_corrupt);
    /* Every request, the final wait, and ample room for ARP retries. */
    limit = (rn_time_t)o.so_count * pp.pp_interval + RN_SEC(60);
    err = rn_sim_run_while(n.sn_sim, ping_running, ping, limit);
    rn__ping_stats(ping, &ps);
    rn__ping_free(ping);
    if (err < 0) {
        fprintf(stderr, "refnet: sim ping: the simulation stopped: %s\n",
                rn_sim_error(n.sn_sim)[0] ? rn_sim_error(n.sn_sim) : rn_strerror(err));
        return net_down(&n, 1);
    }
    printf("--- 198.18.0.3 ping statistics ---\n");
    printf("%u sent, %u received", ps.ps_sent, ps.ps_received);
    if (ps.ps_dups)
        printf(", +%u duplicates", ps.ps_dups);
    if (ps.ps_corrupt)
        printf(", %u corrupt", ps.ps_corrupt);
    printf(", %u%% loss, virtual time %.1fs\n",
           ps.ps_sent ? (ps.ps_sent - ps.ps_received) * 100u / ps.ps_sent : 0u,
           (double)(ps.ps_finished - ps.ps_started) / 1e9);
    if (ps.ps_received > 0) {
        fmt_ms(ps.ps_rtt_min, mn, sizeof(mn));
        fmt_ms(ps.ps_rtt_sum / ps.ps_received, avg, sizeof(avg));
        fmt_ms(ps.ps_rtt_max, mx, sizeof(mx));
        printf("rtt min/avg/max = %s/%s/%s ms\n", mn, avg, mx);
    }
    status = ps.ps_received > 0 && ps.ps_corrupt == 0 ? 0 : 1;
    return net_down(&n, status);
}

static bool echo_running(void *ctx)
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

static int sim_udp_echo(const char *const *vals)
{
    struct sim_opts o = {.so_count = 100, .so_size = 1472, .so_interval_ms = 10, .so_seed = 1};
    struct rn_echo_client_params ep = {0};
    struct rn_echo_client_stats cs;
    struct rn_echo_stats ss;
    struct rn_echo_client *client;
    struct rn_echo *server;
    struct sim_net n;
    bool stopped[2] = {false, false};
    char mn[32], avg[32], mx[32];
    uint32_t lost;
    int err, status = 0;

    err = parse_opts("udp-echo", vals, O_MAX_SIZE, &o);
    if (err != 0)
        return err;
    if (o.so_size < RN_ECHO_CLIENT_MIN_SIZE)
        return rn__cmd_usage_error("sim udp-echo: --max-size must be at least %u bytes",
                               RN_ECHO_CLIENT_MIN_SIZE);
    if (net_up(&n, &o) != 0)
        return 1;
    err = rn__echo_start(n.sn_b, NULL, &server);
    if (err < 0) {
        fprintf(stderr, "refnet: sim udp-echo: cannot start the echo service: %s\n",
                rn_strerror(err));
        return net_down(&n, 1);
    }
    ep.ec_dst = ADDR_B_HOST;
    ep.ec_count = o.so_count;
    ep.ec_max_size = o.so_size;
    ep.ec_seed = o.so_seed;
    ep.ec_interval = RN_MSEC(o.so_interval_ms);
    err = rn__echo_client_start(n.sn_a, &ep, &client);
    if (err < 0) {
        fprintf(stderr, "refnet: sim udp-echo: cannot start the client: %s\n", rn_strerror(err));
        rn__echo_stop(server, set_flag, &stopped[1]);
        rn_sim_run_while(n.sn_sim, stops_pending, (bool[]){true, false}, RN_SEC(10));
        return net_down(&n, 1);
    }
    printf("UDP ECHO 198.18.0.3:7 from 198.18.0.2: %u datagrams of 4 to %u bytes, "
           "loss %g%% each way, seed %" PRIu64 "\n",
           o.so_count, o.so_size, o.so_loss, o.so_seed);
    if (o.so_corrupt > 0)
        printf("corrupting %g%% of frames each way\n", o.so_corrupt);
    err = rn_sim_run_while(n.sn_sim, echo_running, client,
                           (rn_time_t)o.so_count * ep.ec_interval + RN_SEC(60));
    rn__echo_client_stats(client, &cs);
    rn__echo_stats(server, &ss);
    if (err < 0) {
        fprintf(stderr, "refnet: sim udp-echo: the simulation stopped: %s\n",
                rn_sim_error(n.sn_sim)[0] ? rn_sim_error(n.sn_sim) : rn_strerror(err));
        status = 1;
    }
    /* Stop both ends and let their processes go. */
    rn__echo_client_stop(client, set_flag, &stopped[0]);
    rn__echo_stop(server, set_flag, &stopped[1]);
    if (rn_sim_run_while(n.sn_sim, stops_pending, stopped, RN_SEC(10)) < 0) {
        fprintf(stderr, "refnet: sim udp-echo: the client or the service did not stop\n");
        status = 1;
    }
    lost = cs.ecs_sent - cs.ecs_echoed;
    printf("--- udp echo statistics ---\n");
    printf("%u sent, %u echoed intact, %u mismatched, %u lost (%u%%)", cs.ecs_sent,
           cs.ecs_echoed, cs.ecs_mismatched, lost, cs.ecs_sent ? lost * 100u / cs.ecs_sent : 0u);
    if (cs.ecs_dups)
        printf(", +%u duplicates", cs.ecs_dups);
    printf(", virtual time %.1fs\n", (double)(cs.ecs_finished - cs.ecs_started) / 1e9);
    printf("%" PRIu64 " bytes sent, %" PRIu64 " echoed; the service received %" PRIu64
           " datagrams and echoed %" PRIu64 "\n",
           cs.ecs_bytes_sent, cs.ecs_bytes_echoed, ss.es_received, ss.es_echoed);
    if (cs.ecs_echoed > 0) {
        fmt_ms(cs.ecs_rtt_min, mn, sizeof(mn));
        fmt_ms(cs.ecs_rtt_sum / cs.ecs_echoed, avg, sizeof(avg));
        fmt_ms(cs.ecs_rtt_max, mx, sizeof(mx));
        printf("rtt min/avg/max = %s/%s/%s ms\n", mn, avg, mx);
    }
    if (cs.ecs_mismatched > 0) {
        fprintf(stderr, "refnet: sim udp-echo: %u echoes differed from what was sent\n",
                cs.ecs_mismatched);
        status = 1;
    }
    if (cs.ecs_echoed == 0 && o.so_loss < 100) {
        fprintf(stderr, "refnet: sim udp-echo: nothing came back\n");
        status = 1;
    }
    return net_down(&n, status);
}

int rn__cmd_sim(int argc, char **argv)
{
    const char *vals[O_COUNT_] = {NULL};
    const char *scenario;
    struct cmd_parser p;
    int o, st;

    rn__cmd_parser_init(&p, rn__cmd_find("sim"), "refnet: sim: ", sim_opts, argc, argv);
    while ((o = rn__cmd_getopt(&p)) > 0)
        vals[o] = p.cp_val;
    if (o == CMD_OPT_STOP)
        return p.cp_status;
    if (p.cp_nops == 0) {
        rn__cmd_parser_free(&p);
        return rn__cmd_usage_error("sim: which scenario? ping or udp-echo (see refnet sim --help)");
    }
    scenario = p.cp_ops[0];
    if (p.cp_nops > 1) {
        st = rn__cmd_usage_error("sim %s: unexpected argument '%s'", scenario, p.cp_ops[1]);
        rn__cmd_parser_free(&p);
        return st;
    }
    rn__cmd_parser_free(&p);
    /* `refnet sim help`, as older versions took it. */
    if (!strcmp(scenario, "help")) {
        rn__cmd_print_usage(rn__cmd_find("sim"), stdout);
        return fflush(stdout) == 0 ? CMD_EXIT_OK : CMD_EXIT_FAIL;
    }
    if (!strcmp(scenario, "ping"))
        return sim_ping(vals);
    if (!strcmp(scenario, "udp-echo"))
        return sim_udp_echo(vals);
    return rn__cmd_usage_error("sim: unknown scenario '%s' (ping or udp-echo; see refnet sim --help)",
                           scenario);
}
