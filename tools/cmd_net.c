/*
 * The `refnet` commands whose data travels over refnet's own TCP, through
 * the daemon, in the streaming mode of the control protocol
 * (docs/control-protocol.md):
 *
 *   send ADDR PORT [--timeout S]     stdin -> a TCP connection from refnet;
 *                                    what the peer sends back -> stdout
 *   recv PORT [--addr A] [--timeout S]
 *                                    refnet accepts one connection on PORT;
 *                                    what it receives -> stdout
 *   get URL [-o FILE] [--timeout S]  HTTP/1.1 GET of http://ADDR[:PORT]/path
 *
 * Common options: --ctl PATH (the control socket), -v (the daemon's go and
 * summary lines on stderr); options and operands in any order
 * (rn__cmd_getopt()).  send and get ask the daemon to `connect`,
 * recv to `accept ... --recv-only`; the daemon pipes the TCP connection
 * through the control connection and ends with a trailer whose status is
 * ours.  The HTTP decoding of get happens here (apps/http_resp.c), so
 * the daemon stays a byte pipe.
 *
 * Exit statuses: 0 success (send: every byte sent and the connection
 * closed gracefully; recv: the peer closed after sending; get: a 2xx
 * response, complete); 1 failure, with one line on stderr ("refnet send:
 * 198.18.0.1:9: connection refused", "refnet get: HTTP/1.0 404 File not
 * found"); 2 bad usage.
 *
 * The loop here (stream_loop) is the client half of the backpressure:
 * stdin is read only when the previous block went out, and the stream is
 * read only as fast as stdout takes it.  A standard input of send that
 * is a pipe is not read here at all: send passes a descriptor of it with
 * the request (`connect ... --data-fd`) and the daemon reads the pipe
 * itself, which spares every byte a trip through this process and the
 * control connection.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "apps/http_resp.h"
#include "ctl/ctl.h"
#include "refnet/addr.h"
#include "refnet/error.h"
#include "refnet/version.h"

/* Blocks of stdin sent at once, and of the stream read at once. */
#define NET_UP_BUF (256u * 1024u)
#define NET_DOWN_BUF (256u * 1024u)
/* The wait for the daemon to take the request (not for the answer). */
#define NET_CTL_TIMEOUT RN_SEC(10)
#define NET_DEFAULT_CONNECT_TIMEOUT "30"
#define NET_MAX_TIMEOUT_S 86400.0

struct stream_run;

/* Where the data the daemon pipes to us goes. */
struct stream_sink {
    /* Bytes from the peer.  Returns 0, or -1 after printing why the
     * command must stop. */
    int (*ss_data)(struct stream_run *sr, const uint8_t *p, size_t n);
    /* The peer finished sending (its FIN).  Returns as ss_data. */
    int (*ss_eof)(struct stream_run *sr);
};

struct stream_run {
    const char *sr_cmd;            /* our command name, for messages */
    const char *sr_dcmd;           /* the daemon's command name */
    int sr_fd;                     /* the control stream */
    int sr_in_fd;                  /* the source of the data we send, or -1 */
    uint8_t *sr_up;                /* bytes to send; NET_UP_BUF if sr_in_fd */
    size_t sr_up_len;              /* bytes held */
    size_t sr_up_off;              /* bytes sent, <= sr_up_len */
    bool sr_in_eof;                /* no more bytes will join sr_up */
    bool sr_shut;                  /* our end of data was signalled */
    bool sr_up_broken;             /* the daemon stopped taking our bytes */
    bool sr_splice;                /* sr_in_fd is a pipe: its bytes move to sr_fd
                                      by splice(), never through sr_up */
    bool sr_wait_out;              /* a splice found sr_fd full */
    const struct stream_sink *sr_sink;
    void *sr_ctx;                  /* the sink's state */
    int32_t sr_status;             /* the trailer's status */
    char *sr_text;                 /* its text, malloc'd, NUL-terminated */
    size_t sr_textlen;
};

/* Prints a daemon text, naming our command instead of the daemon's
 * (`refnet connect: ...` becomes `refnet send: ...`). */
static void print_text(FILE *f, const char *cmd, const char *dcmd, const char *text, size_t len)
{
    char pre[64];
    size_t plen;

    snprintf(pre, sizeof(pre), "refnet %s: ", dcmd);
    plen = strlen(pre);
    if (len >= plen && memcmp(text, pre, plen) == 0) {
        fprintf(f, "refnet %s: ", cmd);
        text += plen;
        len -= plen;
    }
    fwrite(text, 1, len, f);
    if (len > 0 && text[len - 1] != '\n')
        fputc('\n', f);
}

/* Writes all of p to fd, waiting when it is full.  Returns 0 or -1 with
 * errno set. */
static int write_all(int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);

        if (w > 0) {
            p += w;
            n -= (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};

            (void)poll(&pfd, 1, -1);
            continue;
        }
        return -1;
    }
    return 0;
}

/* How deep the stages of a transfer may be: the standard input or output
 * when it is a pipe, and the control connection's send buffer. */
#define NET_PIPE_DEPTH (1 << 20)

/* Deepens the stages between a producer (or consumer) and the daemon:
 * grows std (the standard input of send, output of recv) to
 * NET_PIPE_DEPTH if it is a pipe smaller than that, and asks as much send
 * buffer of the control connection ctl unless -1 (the kernel caps it at
 * wmem_max).
 * With the default 64 KiB pipe, `producer | refnet send` stopped the
 * producer, this process and the daemon in turn every 64 KiB, and the
 * machine sat a third idle at half the rate (docs/benchmarks.md).  Each
 * step is best effort: a pipe that cannot grow (pipe-max-size for a user)
 * only keeps the default depth.  Returns whether std is a pipe. */
static bool net_deepen(int std, int ctl)
{
    struct stat st;
    int depth = NET_PIPE_DEPTH;
    bool fifo = fstat(std, &st) == 0 && S_ISFIFO(st.st_mode);

    if (fifo && fcntl(std, F_GETPIPE_SZ) < depth)
        (void)fcntl(std, F_SETPIPE_SZ, depth);
    if (ctl >= 0)
        (void)setsockopt(ctl, SOL_SOCKET, SO_SNDBUF, &depth, sizeof(depth));
    return fifo;
}

/* Feeds stream bytes to the decoder and the sink.  Returns 1 once the
 * trailer is in, 0 for more, -1 on failure (printed). */
static int stream_feed(struct stream_run *sr, struct rn_ctl_unchunker *uc, const uint8_t *buf,
                       size_t len)
{
    char why[200];

    while (len > 0) {
        bool had_eof = uc->uc_eof;
        const uint8_t *data;
        size_t used, dlen;
        int r = rn__ctl_unchunk(uc, buf, len, &used, &data, &dlen, why, sizeof(why));

        if (r < 0) {
            fprintf(stderr, "refnet %s: bad stream from the daemon: %s\n", sr->sr_cmd, why);
            return -1;
        }
        if (dlen > 0 && sr->sr_sink->ss_data(sr, data, dlen) != 0)
            return -1;
        if (!had_eof && uc->uc_eof && sr->sr_sink->ss_eof(sr) != 0)
            return -1;
        if (r == 1) {
            const uint8_t *payload;
            const char *text;
            uint32_t plen;
            size_t tlen;

            payload = rn__ctl_reader_payload(&uc->uc_trailer, &plen);
            if (rn__ctl_reply_decode(payload, plen, &sr->sr_status, &text, &tlen, why,
                                    sizeof(why)) != 0) {
                fprintf(stderr, "refnet %s: bad result from the daemon: %s\n", sr->sr_cmd, why);
                return -1;
            }
            sr->sr_text = malloc(tlen + 1);
            if (sr->sr_text == NULL) {
                fprintf(stderr, "refnet %s: out of memory\n", sr->sr_cmd);
                return -1;
            }
            memcpy(sr->sr_text, text, tlen);
            sr->sr_text[tlen] = '\0';
            sr->sr_textlen = tlen;
            return 1;
        }
        buf += used;
        len -= used;
    }
    return 0;
}

/* Moves what the standard input pipe holds to the control stream with
 * splice(): the pages go from the pipe into the socket without passing
 * through this process.  Returns 0, or -1 after printing why not. */
static int stream_splice(struct stream_run *sr)
{
    ssize_t r = splice(sr->sr_in_fd, NULL, sr->sr_fd, NULL, NET_PIPE_DEPTH,
                       SPLICE_F_MOVE | SPLICE_F_NONBLOCK);

    if (r > 0)
        return 0;
    if (r == 0) {
        sr->sr_in_eof = true;
    } else if (errno == EAGAIN) {
        sr->sr_wait_out = true;  /* the pipe was readable: the socket is full */
    } else if (errno == EINVAL) {
        sr->sr_splice = false;  /* not spliceable after all: read and send */
    } else if (errno == EPIPE || errno == ECONNRESET) {
        sr->sr_up_broken = true;  /* the daemon ended the transfer */
    } else if (errno != EINTR) {
        fprintf(stderr, "refnet %s: cannot read the standard input: %s\n", sr->sr_cmd,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* Moves bytes both ways until the trailer arrives.  Returns 0 with
 * sr_status and sr_text set, or -1 after printing why. */
static int stream_loop(struct stream_run *sr)
{
    struct rn_ctl_unchunker uc;
    uint8_t *down = malloc(NET_DOWN_BUF);
    int rc = -1;

    rn__ctl_unchunker_init(&uc);
    if (down == NULL) {
        fprintf(stderr, "refnet %s: out of memory\n", sr->sr_cmd);
        goto out;
    }
    for (;;) {
        bool want_out = sr->sr_up_off < sr->sr_up_len && !sr->sr_up_broken;
        struct pollfd pfd[2];
        nfds_t n = 1;
        ssize_t r;

        if (!want_out && sr->sr_in_eof && !sr->sr_shut) {
            /* Our end of data: the daemon sends the FIN after it. */
            (void)shutdown(sr->sr_fd, SHUT_WR);
            sr->sr_shut = true;
        }
        pfd[0].fd = sr->sr_fd;
        pfd[0].events = (short)(POLLIN | (want_out || sr->sr_wait_out ? POLLOUT : 0));
        pfd[0].revents = 0;
        if (sr->sr_in_fd >= 0 && !sr->sr_in_eof && !want_out && !sr->sr_up_broken &&
            !sr->sr_wait_out) {
            pfd[1].fd = sr->sr_in_fd;
            pfd[1].events = POLLIN;
            pfd[1].revents = 0;
            n = 2;
        }
        if (poll(pfd, n, -1) < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "refnet %s: poll: %s\n", sr->sr_cmd, strerror(errno));
            goto out;
        }
        if (sr->sr_wait_out && (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP)))
            sr->sr_wait_out = false;
        if (n == 2 && pfd[1].revents != 0 && sr->sr_splice) {
            r = stream_splice(sr);
            if (r < 0)
                goto out;
        } else if (n == 2 && pfd[1].revents != 0) {
            r = read(sr->sr_in_fd, sr->sr_up, NET_UP_BUF);
            if (r > 0) {
                sr->sr_up_len = (size_t)r;
                sr->sr_up_off = 0;
            } else if (r == 0) {
                sr->sr_in_eof = true;
            } else if (errno != EINTR && errno != EAGAIN) {
                fprintf(stderr, "refnet %s: cannot read the standard input: %s\n", sr->sr_cmd,
                        strerror(errno));
                goto out;
            }
        }
        if (want_out && (pfd[0].revents & (POLLOUT | POLLERR | POLLHUP))) {
            r = send(sr->sr_fd, sr->sr_up + sr->sr_up_off, sr->sr_up_len - sr->sr_up_off,
                     MSG_NOSIGNAL | MSG_DONTWAIT);
            if (r > 0) {
                sr->sr_up_off += (size_t)r;
                if (sr->sr_up_off == sr->sr_up_len && sr->sr_in_fd >= 0)
                    sr->sr_up_off = sr->sr_up_len = 0;
            } else if (r < 0 && errno != EAGAIN && errno != EINTR) {
                /* The daemon ended the transfer; its trailer says why. */
                sr->sr_up_broken = true;
            }
        }
        if (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) {
            r = recv(sr->sr_fd, down, NET_DOWN_BUF, MSG_DONTWAIT);
            if (r < 0 && (errno == EAGAIN || errno == EINTR))
                continue;
            if (r <= 0) {
                fprintf(stderr, "refnet %s: the daemon ended the transfer without a result%s%s\n",
                        sr->sr_cmd, r < 0 ? ": " : "", r < 0 ? strerror(errno) : "");
                goto out;
            }
            r = stream_feed(sr, &uc, down, (size_t)r);
            if (r < 0)
                goto out;
            if (r == 1) {
                rc = 0;
                goto out;
            }
        }
    }
out:
    rn__ctl_unchunker_fini(&uc);
    free(down);
    return rc;
}

/* ---- Options -------------------------------------------------------------- */

/* Prints "refnet CMD: <msg>" and returns 2, for usage errors. */
static int net_usage(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int net_usage(const char *cmd, const char *fmt, ...)
{
    va_list ap;

    fprintf(stderr, "refnet %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return CMD_EXIT_USAGE;
}

struct net_opts {
    const char *no_ctl;        /* --ctl PATH */
    const char *no_timeout;    /* --timeout S, as given */
    const char *no_addr;       /* recv --addr A */
    bool no_v6only;            /* recv --v6only */
    const char *no_out;        /* get -o FILE */
    bool no_verbose;           /* -v */
    const char *no_pos[3];     /* operands */
    int no_npos;
};

enum { O_CTL = 1, O_TIMEOUT, O_VERBOSE, O_ADDR, O_OUTPUT, O_V6ONLY };

#define NET_OPTS                                                               \
    {"ctl", 0, true, false, O_CTL}, {"timeout", 0, true, false, O_TIMEOUT},     \
        {"verbose", 'v', false, false, O_VERBOSE}

static const struct cmd_opt opts_send[] = {NET_OPTS, {NULL, 0, false, false, 0}};
static const struct cmd_opt opts_recv[] = {
    NET_OPTS, {"addr", 0, true, false, O_ADDR}, {"v6only", 0, false, false, O_V6ONLY},
    {NULL, 0, false, false, 0}};
static const struct cmd_opt opts_get[] = {
    NET_OPTS, {"output", 'o', true, false, O_OUTPUT}, {NULL, 0, false, false, 0}};

/* Parses argv (argv[0] the command) with opts, taking npos operands
 * exactly.  Returns 0, or -1 after -h or a mistake (printed) with the
 * exit status in *status. */
static int net_parse(int argc, char **argv, const struct cmd_opt *opts, int npos,
                     struct net_opts *o, int *status)
{
    const struct cmd_def *cmd = rn__cmd_find(argv[0]);
    struct cmd_parser p;
    char prefix[32];
    double s;
    int c, i;

    memset(o, 0, sizeof(*o));
    snprintf(prefix, sizeof(prefix), "refnet %s: ", cmd->cd_name);
    rn__cmd_parser_init(&p, cmd, prefix, opts, argc, argv);
    while ((c = rn__cmd_getopt(&p)) > 0) {
        switch (c) {
        case O_CTL:
            o->no_ctl = p.cp_val;
            break;
        case O_TIMEOUT:
            o->no_timeout = p.cp_val;
            break;
        case O_VERBOSE:
            o->no_verbose = true;
            break;
        case O_ADDR:
            o->no_addr = p.cp_val;
            break;
        case O_OUTPUT:
            o->no_out = p.cp_val;
            break;
        case O_V6ONLY:
            o->no_v6only = true;
            break;
        }
    }
    if (c == CMD_OPT_STOP) {
        *status = p.cp_status;
        return -1;
    }
    if (p.cp_json) {
        /* Only `get` takes --json, for TCP's settings (tools/cmd_ctl.c). */
        *status = rn__cmd_parser_error(&p, "--json: refnet %s has no JSON output for a transfer",
                                       cmd->cd_name);
        rn__cmd_parser_free(&p);
        return -1;
    }
    if (p.cp_nops != npos) {
        *status = p.cp_nops > npos
                      ? rn__cmd_parser_error(&p, "unexpected argument '%s'", p.cp_ops[npos])
                      : rn__cmd_parser_error(&p, "usage: refnet %s", cmd->cd_synopsis);
        rn__cmd_parser_free(&p);
        return -1;
    }
    for (i = 0; i < npos; i++)
        o->no_pos[i] = p.cp_ops[i];
    o->no_npos = npos;
    rn__cmd_parser_free(&p);
    *status = 0;
    if (o->no_ctl != NULL && o->no_ctl[0] == '\0')
        *status = net_usage(cmd->cd_name, "--ctl: needs a socket path");
    else if (o->no_out != NULL && o->no_out[0] == '\0')
        *status = net_usage(cmd->cd_name, "--output: needs a file name");
    else if (o->no_timeout != NULL &&
             rn__cmd_parse_seconds(o->no_timeout, NET_MAX_TIMEOUT_S, &s) != 0)
        *status = net_usage(cmd->cd_name, "--timeout: '%s': must be a number of seconds in "
                            "(0, %.0f]", o->no_timeout, NET_MAX_TIMEOUT_S);
    return *status != 0 ? -1 : 0;
}

static bool parse_port(const char *s, unsigned *port)
{
    unsigned long v;
    char *end;

    errno = 0;
    v = strtoul(s, &end, 10);
    if (!isdigit((unsigned char)s[0]) || errno != 0 || *end != '\0' || v == 0 || v > 65535)
        return false;
    *port = (unsigned)v;
    return true;
}

/* True for an IPv4 or an IPv6 address. */
static bool is_ip(const char *s)
{
    struct rn_inaddr addr;

    return rn_inaddr_parse(s, &addr, NULL) == 0;
}

/* What net_open_fd() returns when a daemon does not know --data-fd. */
#define NET_NO_DATA_FD (-1)

/* Asks the daemon for a stream, passing pass with the request unless -1.
 * Returns 0 with *fd on the go (its text shown with -v), the exit status
 * (1 or 2) after printing the answer, or NET_NO_DATA_FD, printing nothing,
 * if pass went with `--data-fd` to a daemon that does not know it. */
static int net_open_fd(const char *cmd, const char *dcmd, const struct net_opts *o, int argc,
                       const char *const *args, int pass, int *fd)
{
    struct rn_ctl_reply reply;
    char err[512];
    int e, status;

    signal(SIGPIPE, SIG_IGN);
    e = rn__ctl_stream_open_fd(rn__ctl_default_path(o->no_ctl), 0, argc, args, pass,
                              NET_CTL_TIMEOUT, fd, &reply, err, sizeof(err));
    if (e < 0) {
        fprintf(stderr, "refnet %s: %s\n", cmd, err);
        return e == RN_EINVAL ? 2 : 1;
    }
    if (e == 1) {
        if (o->no_verbose)
            print_text(stderr, cmd, dcmd, reply.rp_text, reply.rp_len);
        free(reply.rp_text);
        return 0;
    }
    if (pass >= 0 && reply.rp_status == 2 && strstr(reply.rp_text, "unknown option '--data-fd'")) {
        free(reply.rp_text);
        return NET_NO_DATA_FD;
    }
    status = reply.rp_status >= 0 && reply.rp_status <= 255 ? reply.rp_status : 1;
    if (status == 0)
        status = 1;  /* an answer that is not a go is never a success */
    print_text(stderr, cmd, dcmd, reply.rp_text, reply.rp_len);
    free(reply.rp_text);
    return status;
}

static int net_open(const char *cmd, const char *dcmd, const struct net_opts *o, int argc,
                    const char *const *args, int *fd)
{
    return net_open_fd(cmd, dcmd, o, argc, args, -1, fd);
}

/* Ends a run: prints the trailer (to stderr on failure, or with -v) and
 * returns its status. */
static int net_result(struct stream_run *sr, bool verbose)
{
    int status = sr->sr_status >= 0 && sr->sr_status <= 255 ? sr->sr_status : 1;

    if (status != 0 || verbose)
        print_text(stderr, sr->sr_cmd, sr->sr_dcmd, sr->sr_text, sr->sr_textlen);
    return status;
}

/* ---- send and recv ------------------------------------------------------- */

static int sink_stdout_data(struct stream_run *sr, const uint8_t *p, size_t n)
{
    if (write_all(STDOUT_FILENO, p, n) != 0) {
        fprintf(stderr, "refnet %s: cannot write the standard output: %s\n", sr->sr_cmd,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int sink_stdout_eof(struct stream_run *sr)
{
    (void)sr;
    return 0;
}

static const struct stream_sink sink_stdout = {sink_stdout_data, sink_stdout_eof};

/* Runs a stream to its end and returns the exit status. */
static int net_run(struct stream_run *sr, bool verbose)
{
    int status;

    if (stream_loop(sr) != 0)
        status = 1;
    else
        status = net_result(sr, verbose);
    close(sr->sr_fd);
    free(sr->sr_text);
    return status;
}

/* A descriptor of the pipe on the standard input for the daemon to read
 * (a description of its own, non-blocking, so that the daemon's reads do
 * not change ours), or -1 if the input is no pipe or /proc is missing. */
static int send_data_fd(void)
{
    if (!net_deepen(STDIN_FILENO, -1))
        return -1;
    return open("/proc/self/fd/0", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
}

int rn__cmd_send(int argc, char **argv)
{
    struct stream_run sr;
    struct net_opts o;
    const char *args[6];
    unsigned port;
    int st, fd, dfd;
    bool by_fd;

    if (net_parse(argc, argv, opts_send, 2, &o, &st) != 0)
        return st;
    if (!is_ip(o.no_pos[0]))
        return net_usage("send", "'%s': not an IPv4 or IPv6 address", o.no_pos[0]);
    if (!parse_port(o.no_pos[1], &port))
        return net_usage("send", "'%s': a port is a number in 1..65535", o.no_pos[1]);
    args[0] = "connect";
    args[1] = o.no_pos[0];
    args[2] = o.no_pos[1];
    args[3] = "--timeout";
    args[4] = o.no_timeout ? o.no_timeout : NET_DEFAULT_CONNECT_TIMEOUT;
    args[5] = "--data-fd";
    dfd = send_data_fd();
    st = NET_NO_DATA_FD;
    if (dfd >= 0) {
        st = net_open_fd("send", "connect", &o, 6, args, dfd, &fd);
        close(dfd);  /* the daemon has its own */
    }
    by_fd = st != NET_NO_DATA_FD;
    if (!by_fd)
        st = net_open("send", "connect", &o, 5, args, &fd);
    if (st != 0)
        return st;
    memset(&sr, 0, sizeof(sr));
    sr.sr_cmd = "send";
    sr.sr_dcmd = "connect";
    sr.sr_fd = fd;
    if (by_fd) {
        /* The daemon reads the pipe: we only read the stream. */
        sr.sr_in_fd = -1;
        sr.sr_in_eof = true;
        sr.sr_shut = true;
        sr.sr_sink = &sink_stdout;
        return net_run(&sr, o.no_verbose);
    }
    sr.sr_in_fd = STDIN_FILENO;
    /* splice() into the socket waits unless the socket does not. */
    sr.sr_splice = net_deepen(STDIN_FILENO, fd) &&
                   fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0;
    sr.sr_up = malloc(NET_UP_BUF);
    sr.sr_sink = &sink_stdout;
    if (sr.sr_up == NULL) {
        close(fd);
        fputs("refnet send: out of memory\n", stderr);
        return 1;
    }
    st = net_run(&sr, o.no_verbose);
    free(sr.sr_up);
    return st;
}

int rn__cmd_recv(int argc, char **argv)
{
    struct stream_run sr;
    struct net_opts o;
    const char *args[8];
    unsigned port;
    int st, fd, n = 0;

    if (net_parse(argc, argv, opts_recv, 1, &o, &st) != 0)
        return st;
    if (!parse_port(o.no_pos[0], &port))
        return net_usage("recv", "'%s': a port is a number in 1..65535", o.no_pos[0]);
    if (o.no_addr != NULL && !is_ip(o.no_addr))
        return net_usage("recv", "--addr '%s': not an IPv4 or IPv6 address", o.no_addr);
    if (o.no_v6only && (o.no_addr == NULL || strchr(o.no_addr, ':') == NULL))
        return net_usage("recv", "--v6only needs an IPv6 --addr");
    args[n++] = "accept";
    args[n++] = o.no_pos[0];
    args[n++] = "--recv-only";
    if (o.no_addr != NULL) {
        args[n++] = "--addr";
        args[n++] = o.no_addr;
    }
    if (o.no_v6only)
        args[n++] = "--v6only";
    if (o.no_timeout != NULL) {
        args[n++] = "--timeout";
        args[n++] = o.no_timeout;
    }
    st = net_open("recv", "accept", &o, n, args, &fd);
    if (st != 0)
        return st;
    memset(&sr, 0, sizeof(sr));
    sr.sr_cmd = "recv";
    sr.sr_dcmd = "accept";
    sr.sr_fd = fd;
    sr.sr_in_fd = -1;
    sr.sr_in_eof = true;
    sr.sr_shut = true;  /* --recv-only: the daemon reads nothing from us */
    sr.sr_sink = &sink_stdout;
    net_deepen(STDOUT_FILENO, -1);
    return net_run(&sr, o.no_verbose);
}

/* ---- get ------------------------------------------------------------------ */

struct get_state {
    struct rn_http_resp gs_hr;   /* the response being decoded */
    const char *gs_url;          /* as given, for messages */
    const char *gs_path;         /* -o FILE, or NULL for stdout */
    int gs_out;                  /* where the body goes, -1 until known */
    bool gs_ok;                  /* a 2xx status */
    bool gs_complete;            /* the response is complete */
    bool gs_failed;              /* a message was printed */
};

/* The response ended: nothing more to send, the FIN may go. */
static void get_complete(struct stream_run *sr, struct get_state *gs)
{
    gs->gs_complete = true;
    sr->sr_in_eof = true;
}

static int get_head(struct stream_run *sr, struct get_state *gs)
{
    gs->gs_ok = gs->gs_hr.hr_status >= 200 && gs->gs_hr.hr_status <= 299;
    if (!gs->gs_ok)
        return 0;  /* the body is read and dropped; the status line decides */
    if (gs->gs_path == NULL) {
        gs->gs_out = STDOUT_FILENO;
        return 0;
    }
    gs->gs_out = open(gs->gs_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (gs->gs_out < 0) {
        fprintf(stderr, "refnet get: cannot create %s: %s\n", gs->gs_path, strerror(errno));
        gs->gs_failed = true;
        return -1;
    }
    (void)sr;
    return 0;
}

static int get_data(struct stream_run *sr, const uint8_t *p, size_t n)
{
    struct get_state *gs = sr->sr_ctx;
    char why[200];

    while (n > 0 && !gs->gs_complete) {
        const uint8_t *body;
        size_t used, blen;
        int r = rn__http_resp_feed(&gs->gs_hr, p, n, &used, &body, &blen, why, sizeof(why));

        if (r < 0) {
            fprintf(stderr, "refnet get: %s: %s\n", gs->gs_url, why);
            gs->gs_failed = true;
            return -1;
        }
        if (blen > 0 && gs->gs_ok && write_all(gs->gs_out, body, blen) != 0) {
            fprintf(stderr, "refnet get: cannot write %s: %s\n",
                    gs->gs_path ? gs->gs_path : "the standard output", strerror(errno));
            gs->gs_failed = true;
            return -1;
        }
        if (r == RN_HTTP_HEAD && get_head(sr, gs) != 0)
            return -1;
        if (r == RN_HTTP_COMPLETE || gs->gs_hr.hr_phase == RN_HTTP_DONE)
            get_complete(sr, gs);
        p += used;
        n -= used;
    }
    return 0;
}

static int get_eof(struct stream_run *sr)
{
    struct get_state *gs = sr->sr_ctx;
    char why[200];

    if (!gs->gs_complete) {
        if (rn__http_resp_eof(&gs->gs_hr, why, sizeof(why)) < 0) {
            fprintf(stderr, "refnet get: %s: %s\n", gs->gs_url, why);
            gs->gs_failed = true;
            return -1;
        }
        get_complete(sr, gs);
    }
    return 0;
}

static const struct stream_sink sink_http = {get_data, get_eof};

/* Splits an http:// URL.  Returns 0, or 2 after printing what is wrong. */
static int get_parse_url(const char *url, char *host, size_t hostlen, unsigned *port,
                         const char **path)
{
    const char *p = url, *auth, *auth_end, *colon;
    size_t n;

    if (strncasecmp(p, "https://", 8) == 0) {
        fprintf(stderr, "refnet get: '%s': https is not supported; only http:// URLs\n", url);
        return 2;
    }
    if (strncasecmp(p, "http://", 7) != 0) {
        fprintf(stderr, "refnet get: '%s': only http://ADDR[:PORT]/path URLs are supported\n",
                url);
        return 2;
    }
    for (n = 0; url[n] != '\0'; n++) {
        if ((unsigned char)url[n] <= ' ' || url[n] == 0x7f) {
            fprintf(stderr, "refnet get: '%s': the URL holds a space or a control "
                    "character\n", url);
            return 2;
        }
    }
    auth = p + 7;
    auth_end = auth + strcspn(auth, "/?#");
    if (memchr(auth, '@', (size_t)(auth_end - auth)) != NULL) {
        fprintf(stderr, "refnet get: '%s': credentials in the URL are not supported\n", url);
        return 2;
    }
    if (auth[0] == '[') {
        /* An IPv6 address in brackets (RFC 3986 3.2.2), without a zone. */
        const char *close = memchr(auth, ']', (size_t)(auth_end - auth));
        struct rn_ip6 a6;

        n = close != NULL ? (size_t)(close - auth - 1) : 0;
        if (close == NULL || n == 0 || n >= hostlen ||
            (close + 1 != auth_end && close[1] != ':')) {
            fprintf(stderr, "refnet get: '%s': a bad IPv6 address in the URL\n", url);
            return 2;
        }
        memcpy(host, auth + 1, n);
        host[n] = '\0';
        if (rn_ip6_addr_parse(host, &a6, NULL) != 0) {
            fprintf(stderr, "refnet get: '%s': not an IPv6 address\n", host);
            return 2;
        }
        colon = close + 1 != auth_end ? close + 1 : NULL;
    } else {
        colon = memchr(auth, ':', (size_t)(auth_end - auth));
        n = (size_t)((colon ? colon : auth_end) - auth);
        if (n == 0 || n >= hostlen) {
            fprintf(stderr, "refnet get: '%s': no host in the URL\n", url);
            return 2;
        }
        memcpy(host, auth, n);
        host[n] = '\0';
        if (!is_ip(host)) {
            fprintf(stderr, "refnet get: '%s': names are not resolved; give an IPv4 address "
                    "or an IPv6 one in brackets\n", host);
            return 2;
        }
    }
    *port = 80;
    if (colon != NULL) {
        char ps[8];
        size_t pl = (size_t)(auth_end - colon - 1);

        if (pl == 0 || pl >= sizeof(ps)) {
            fprintf(stderr, "refnet get: '%s': a bad port in the URL\n", url);
            return 2;
        }
        memcpy(ps, colon + 1, pl);
        ps[pl] = '\0';
        if (!parse_port(ps, port)) {
            fprintf(stderr, "refnet get: '%s': a port is a number in 1..65535\n", url);
            return 2;
        }
    }
    *path = auth_end;
    return 0;
}

/* `get` is two commands: an HTTP GET of a URL, and TCP's settings (get
 * [tcp | NAME], tools/cmd_ctl.c).  The first operand decides: none, "tcp"
 * or a name "tcp.*" are the settings; anything else is a URL. */
static bool get_wants_settings(int argc, char **argv)
{
    static const char *const with_value[] = {"-o", "--output", "--timeout", "--ctl"};
    int i;
    size_t k;

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];

        if (strcmp(a, "--") == 0) {
            a = i + 1 < argc ? argv[i + 1] : NULL;
        } else if (a[0] == '-' && a[1] != '\0') {
            for (k = 0; k < sizeof(with_value) / sizeof(with_value[0]); k++) {
                if (strcmp(a, with_value[k]) == 0)
                    i++;
            }
            continue;
        }
        return a == NULL || strcmp(a, "tcp") == 0 || strncmp(a, "tcp.", 4) == 0;
    }
    return true;
}

int rn__cmd_get(int argc, char **argv)
{
    struct get_state gs;
    struct stream_run sr;
    struct net_opts o;
    const char *args[5], *path;
    char host[64], portstr[8], *req = NULL;
    size_t pathlen;
    unsigned port;
    int st, fd, reqlen;
    bool v6;

    if (get_wants_settings(argc, argv))
        return rn__cmd_get_settings(argc, argv);
    if (net_parse(argc, argv, opts_get, 1, &o, &st) != 0)
        return st;
    if ((st = get_parse_url(o.no_pos[0], host, sizeof(host), &port, &path)) != 0)
        return st;
    /* The fragment stays here; an empty path is "/"; the Host field names
     * the port unless it is the default. */
    pathlen = strcspn(path, "#");
    snprintf(portstr, sizeof(portstr), "%u", port);
    v6 = strchr(host, ':') != NULL;
    reqlen = asprintf(&req, "GET %s%.*s HTTP/1.1\r\nHost: %s%s%s%s%s\r\nUser-Agent: refnet/%s\r\n"
                      "Accept: */*\r\nConnection: close\r\n\r\n",
                      pathlen == 0 || path[0] != '/' ? "/" : "", (int)pathlen, path,
                      v6 ? "[" : "", host, v6 ? "]" : "", port != 80 ? ":" : "",
                      port != 80 ? portstr : "", rn_version());
    if (reqlen < 0) {
        fputs("refnet get: out of memory\n", stderr);
        return 1;
    }
    args[0] = "connect";
    args[1] = host;
    args[2] = portstr;
    args[3] = "--timeout";
    args[4] = o.no_timeout ? o.no_timeout : NET_DEFAULT_CONNECT_TIMEOUT;
    st = net_open("get", "connect", &o, 5, args, &fd);
    if (st != 0) {
        free(req);
        return st;
    }
    memset(&gs, 0, sizeof(gs));
    rn__http_resp_init(&gs.gs_hr);
    gs.gs_url = o.no_pos[0];
    gs.gs_path = o.no_out;
    gs.gs_out = -1;
    memset(&sr, 0, sizeof(sr));
    sr.sr_cmd = "get";
    sr.sr_dcmd = "connect";
    sr.sr_fd = fd;
    sr.sr_in_fd = -1;
    sr.sr_up = (uint8_t *)req;
    sr.sr_up_len = (size_t)reqlen;
    sr.sr_sink = &sink_http;
    sr.sr_ctx = &gs;
    if (stream_loop(&sr) != 0) {
        st = 1;
    } else if (sr.sr_status != 0 && (!gs.gs_complete ||
                                     gs.gs_hr.hr_framing == RN_HTTP_FRAME_CLOSE)) {
        /* The transfer failed before the response was known complete. */
        st = net_result(&sr, o.no_verbose);
    } else {
        if (o.no_verbose)
            print_text(stderr, "get", "connect", sr.sr_text, sr.sr_textlen);
        if (!gs.gs_complete) {
            fprintf(stderr, "refnet get: %s: the transfer ended before the response\n",
                    gs.gs_url);
            st = 1;
        } else if (!gs.gs_ok) {
            fprintf(stderr, "refnet get: %s\n", gs.gs_hr.hr_status_line);
            st = 1;
        } else {
            st = 0;
        }
    }
    if (gs.gs_out >= 0 && gs.gs_out != STDOUT_FILENO && close(gs.gs_out) != 0 && st == 0) {
        fprintf(stderr, "refnet get: cannot write %s: %s\n", gs.gs_path, strerror(errno));
        st = 1;
    }
    close(fd);
    free(sr.sr_text);
    free(req);
    return st;
}
