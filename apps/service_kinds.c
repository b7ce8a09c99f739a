/*
 * The built-in kinds of service (service.h, rn_svc_builtin[]): the apps of
 * apps.h run hosted in the process the service controller made for them.
 *
 *   echo     UDP echo and TCP echo on port 7, both halves in one process
 *   discard  TCP discard on port 9
 *   chargen  TCP chargen on port 19
 *   httpd    static files, httpd=PORT:DIR
 *
 * Each kind drains (sk_drain(), a stop with a grace): httpd finishes its
 * responses, chargen ends its streams, echo and discard serve until their
 * peers end.
 * Each kind's stop is the apps' hosted stop: sk_halt() is rn_*_stop(),
 * which submits nothing more; the controller exits the process; once it
 * was released, sk_released() is rn_*_released(), which frees the app.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apps/apps.h"
#include "refnet/error.h"
#include "refnet/service.h"

/* ---- Limits ------------------------------------------------------------------ */

static struct rn_svc_limits kind_limits;  /* [L] rn__svc_kinds_set_limits() */

void rn__svc_kinds_set_limits(const struct rn_svc_limits *lim)
{
    kind_limits = *lim;
}

/* ---- Counters ------------------------------------------------------------- */

/* The connection counters every TCP service keeps; returns how many. */
static size_t conn_counters(const struct rn_tcpsvc_stats *ss, struct rn_svc_counter *out)
{
    const struct rn_svc_counter c[] = {
        {"accepted", ss->ss_accepted},
        {"refused", ss->ss_refused},
        {"active", ss->ss_active},
        {"closed", ss->ss_closed},
        {"aborted", ss->ss_aborted},
        {"resets", ss->ss_resets},
        {"accept_errors", ss->ss_accept_errors},
        {"bytes_in", ss->ss_bytes_in},
        {"bytes_out", ss->ss_bytes_out},
    };

    memcpy(out, c, sizeof(c));
    return sizeof(c) / sizeof(c[0]);
}

static size_t fixed_port(uint16_t port, uint16_t *ports)
{
    ports[0] = port;
    return 1;
}

/* ---- echo: UDP and TCP halves in one process -------------------------------- */

struct kind_echo {
    struct rn_echo *ke_udp;    /* the UDP half, or NULL */
    struct rn_tcpsvc *ke_tcp;  /* the TCP half, or NULL */
};

static void echo_halt(void *state)
{
    struct kind_echo *ke = state;

    if (ke->ke_udp != NULL)
        rn__echo_stop(ke->ke_udp, NULL, NULL);
    if (ke->ke_tcp != NULL)
        rn__tcpsvc_stop(ke->ke_tcp, NULL, NULL);
}

static void echo_released(void *state)
{
    struct kind_echo *ke = state;

    if (ke->ke_udp != NULL)
        rn__echo_released(ke->ke_udp);
    if (ke->ke_tcp != NULL)
        rn__tcpsvc_released(ke->ke_tcp);
    free(ke);
}

static int echo_start(struct rn_stack *st, struct rn_proc *p, const char *arg, void **state,
                      char *err, size_t errlen)
{
    struct rn_echo_params ep = {.ep_proc = p};
    struct rn_tcpsvc_params tp = {.sv_proc = p,
                                  .sv_max_conns = kind_limits.lim_max_conns,
                                  .sv_backlog = kind_limits.lim_backlog};
    struct kind_echo *ke = calloc(1, sizeof(*ke));
    int rc;

    (void)arg;
    *state = NULL;
    if (ke == NULL)
        return RN_ENOMEM;
    rc = rn__echo_start(st, &ep, &ke->ke_udp);
    if (rc != 0) {
        snprintf(err, errlen, "UDP port 7: %s", rn_strerror(rc));
        free(ke);
        return rc;
    }
    rc = rn__tcpecho_start(st, &tp, &ke->ke_tcp);
    if (rc != 0) {
        snprintf(err, errlen, "TCP port 7: %s", rn_strerror(rc));
        ke->ke_tcp = NULL;
        echo_halt(ke);  /* the UDP half's receives end with the process */
        *state = ke;
        return rc;
    }
    *state = ke;
    return 0;
}

static size_t echo_counters(void *state, struct rn_svc_counter *out)
{
    struct kind_echo *ke = state;
    struct rn_tcpsvc_stats ts;
    struct rn_echo_stats es;
    size_t n;

    rn__tcpsvc_stats(ke->ke_tcp, &ts);
    rn__echo_stats(ke->ke_udp, &es);
    n = conn_counters(&ts, out);
    out[n++] = (struct rn_svc_counter){"udp_received", es.es_received};
    out[n++] = (struct rn_svc_counter){"udp_echoed", es.es_echoed};
    out[n++] = (struct rn_svc_counter){"udp_send_errors", es.es_send_errors};
    out[n++] = (struct rn_svc_counter){"udp_recv_errors", es.es_recv_errors};
    return n;
}

/* The TCP half drains; a datagram has nothing to finish. */
static void echo_drain(void *state)
{
    struct kind_echo *ke = state;

    if (ke->ke_tcp != NULL)
        rn__tcpsvc_drain(ke->ke_tcp);
}

static void echo_drain_status(void *state, struct rn_svc_drain *out)
{
    struct kind_echo *ke = state;

    if (ke->ke_tcp != NULL)
        rn__tcpsvc_drain_status(ke->ke_tcp, &out->sd_conns, &out->sd_sent);
}

static size_t echo_ports(const char *arg, uint16_t *ports)
{
    (void)arg;
    return fixed_port(7, ports);
}

/* ---- discard and chargen ------------------------------------------------------ */

static int tcp_simple_start(int (*start)(struct rn_stack *, const struct rn_tcpsvc_params *,
                                         struct rn_tcpsvc **),
                            uint16_t port, struct rn_stack *st, struct rn_proc *p, void **state,
                            char *err, size_t errlen)
{
    struct rn_tcpsvc_params tp = {.sv_proc = p,
                                  .sv_max_conns = kind_limits.lim_max_conns,
                                  .sv_backlog = kind_limits.lim_backlog};
    struct rn_tcpsvc *s;
    int rc = start(st, &tp, &s);

    *state = NULL;
    if (rc != 0) {
        snprintf(err, errlen, "TCP port %u: %s", port, rn_strerror(rc));
        return rc;
    }
    *state = s;
    return 0;
}

static int discard_start(struct rn_stack *st, struct rn_proc *p, const char *arg, void **state,
                         char *err, size_t errlen)
{
    (void)arg;
    return tcp_simple_start(rn__discard_start, 9, st, p, state, err, errlen);
}

static int chargen_start(struct rn_stack *st, struct rn_proc *p, const char *arg, void **state,
                         char *err, size_t errlen)
{
    (void)arg;
    return tcp_simple_start(rn__chargen_start, 19, st, p, state, err, errlen);
}

static void tcp_simple_halt(void *state)
{
    rn__tcpsvc_stop(state, NULL, NULL);
}

static void tcp_simple_released(void *state)
{
    rn__tcpsvc_released(state);
}

static size_t tcp_simple_counters(void *state, struct rn_svc_counter *out)
{
    struct rn_tcpsvc_stats ts;

    rn__tcpsvc_stats(state, &ts);
    return conn_counters(&ts, out);
}

static void tcp_simple_drain(void *state)
{
    rn__tcpsvc_drain(state);
}

static void tcp_simple_drain_status(void *state, struct rn_svc_drain *out)
{
    rn__tcpsvc_drain_status(state, &out->sd_conns, &out->sd_sent);
}

static size_t discard_ports(const char *arg, uint16_t *ports)
{
    (void)arg;
    return fixed_port(9, ports);
}

static size_t chargen_ports(const char *arg, uint16_t *ports)
{
    (void)arg;
    return fixed_port(19, ports);
}

/* ---- httpd ----------------------------------------------------------------------- */

static int httpd_check(const char *arg, char *err, size_t errlen)
{
    struct rn_httpd_params hp;

    return rn__httpd_parse_spec(arg ? arg : "", &hp, err, errlen);
}

static size_t httpd_ports(const char *arg, uint16_t *ports)
{
    struct rn_httpd_params hp;
    char err[160];

    if (rn__httpd_parse_spec(arg ? arg : "", &hp, err, sizeof(err)) != 0)
        return 0;
    return fixed_port(hp.hp_port, ports);
}

static int httpd_start(struct rn_stack *st, struct rn_proc *p, const char *arg, void **state,
                       char *err, size_t errlen)
{
    struct rn_httpd_params hp;
    struct rn_httpd *h;
    int rc;

    *state = NULL;
    rc = rn__httpd_parse_spec(arg ? arg : "", &hp, err, errlen);
    if (rc != 0)
        return rc;
    hp.hp_proc = p;
    hp.hp_max_conns = kind_limits.lim_httpd_max_conns;
    hp.hp_backlog = kind_limits.lim_backlog;
    hp.hp_idle_timeout = kind_limits.lim_httpd_idle;
    rc = rn__httpd_start(st, &hp, &h);
    if (rc == RN_ENOENT || (rc == RN_EINVAL && hp.hp_root != NULL)) {
        snprintf(err, errlen, "%s: not a directory httpd can serve", hp.hp_root);
        return rc;
    }
    if (rc != 0) {
        snprintf(err, errlen, "TCP port %u: %s", hp.hp_port, rn_strerror(rc));
        return rc;
    }
    *state = h;
    return 0;
}

static void httpd_halt(void *state)
{
    rn__httpd_stop(state, NULL, NULL);
}

static void httpd_released(void *state)
{
    rn__httpd_released(state);
}

static size_t httpd_counters(void *state, struct rn_svc_counter *out)
{
    static const struct {
        const char *name;
        int code;
    } codes[] = {{"status_400", 400}, {"status_404", 404}, {"status_405", 405},
                 {"status_408", 408}, {"status_414", 414}, {"status_431", 431},
                 {"status_505", 505}};
    struct rn_httpd_stats hs;
    size_t i, n;

    rn__httpd_stats(state, &hs);
    n = conn_counters(&hs.hs_conn, out);
    out[n++] = (struct rn_svc_counter){"requests", hs.hs_requests};
    out[n++] = (struct rn_svc_counter){"status_2xx", hs.hs_status_2xx};
    out[n++] = (struct rn_svc_counter){"status_4xx", hs.hs_status_4xx};
    out[n++] = (struct rn_svc_counter){"status_5xx", hs.hs_status_5xx};
    for (i = 0; i < sizeof(codes) / sizeof(codes[0]); i++)
        out[n++] = (struct rn_svc_counter){codes[i].name,
                                           hs.hs_status[rn__httpd_status_index(codes[i].code)]};
    out[n++] = (struct rn_svc_counter){"refused_paths", hs.hs_refused_paths};
    out[n++] = (struct rn_svc_counter){"idle_closed", hs.hs_idle_closed};
    out[n++] = (struct rn_svc_counter){"header_timeouts", hs.hs_header_timeouts};
    out[n++] = (struct rn_svc_counter){"send_timeouts", hs.hs_send_timeouts};
    out[n++] = (struct rn_svc_counter){"file_bytes", hs.hs_file_bytes};
    out[n++] = (struct rn_svc_counter){"file_errors", hs.hs_file_errors};
    return n;
}

static void httpd_drain(void *state)
{
    rn__httpd_drain(state);
}

static void httpd_drain_status(void *state, struct rn_svc_drain *out)
{
    rn__httpd_drain_status(state, &out->sd_conns, &out->sd_left, &out->sd_sent);
}

const struct rn_svc_kind rn_svc_builtin[] = {
    {"echo", "echo on UDP and TCP port 7", NULL, NULL, echo_ports, echo_start, echo_halt,
     echo_released, echo_counters, echo_drain, echo_drain_status},
    {"discard", "discard on TCP port 9", NULL, NULL, discard_ports, discard_start,
     tcp_simple_halt, tcp_simple_released, tcp_simple_counters, tcp_simple_drain,
     tcp_simple_drain_status},
    {"chargen", "chargen on TCP port 19", NULL, NULL, chargen_ports, chargen_start,
     tcp_simple_halt, tcp_simple_released, tcp_simple_counters, tcp_simple_drain,
     tcp_simple_drain_status},
    {"httpd", "static files over HTTP/1.1", "PORT:DIR", httpd_check, httpd_ports, httpd_start,
     httpd_halt, httpd_released, httpd_counters, httpd_drain, httpd_drain_status},
    {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
};
