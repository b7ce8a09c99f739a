/*
 * bench-pair: what `refnet run`'s data path costs per hop -- an AF_UNIX
 * socket pair between the program and the daemon -- next to the faster
 * alternative, a ring in shared memory with an eventfd to wake the side
 * that waits (what a program's epoll would have to wait on).
 *
 * Two processes, as the program and the daemon are: the child ("the
 * program") blocks in its calls, the parent ("the daemon") waits in
 * epoll_wait() and takes what is there without blocking, as the run
 * server does.  Two measurements, each with both transports:
 *   stream    the child writes 128 MiB in 64 KiB writes, the parent
 *             reads it in 64 KiB reads (bulk: iperf3, a large file)
 *   pingpong  the child sends 1 KiB and waits for 1 KiB back, 20,000
 *             times (a keep-alive request and its answer)
 * The ring is a single-producer single-consumer byte ring of 256 KiB per
 * direction (as much as the pair's buffers hold); a side that finds it
 * empty (or full) says it sleeps and waits on its eventfd, and the other
 * side writes that eventfd only then.
 *
 * A round runs the four (transport, measurement) cells in an order that
 * alternates; a ratio is taken within a round only.  Printed: one JSON
 * line with, per measurement, the min/median/max over the rounds of
 * pair_over_ring (the socket pair's time / the ring's: how much a ring
 * would save), the median nanoseconds per 64 KiB or per round trip of
 * each beside it, and the 1-minute load average before and after.
 *
 * Usage: bench-pair [rounds]   (default 7)
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define RING_SIZE (256 * 1024)
#define CHUNK (64 * 1024)
#define STREAM_BYTES (128ull << 20)
#define PING_SIZE 1024
#define PINGS 20000
#define MAX_ROUNDS 51

/* ---- The ring ----------------------------------------------------------------------- */

struct ring {
    _Alignas(64) atomic_uint_fast64_t head;   /* written by the producer */
    _Alignas(64) atomic_uint_fast64_t tail;   /* written by the consumer */
    _Alignas(64) atomic_int cons_sleeps;      /* the consumer waits on efd_cons */
    atomic_int prod_sleeps;                   /* the producer waits on efd_prod */
    int efd_cons;
    int efd_prod;
    _Alignas(64) unsigned char data[RING_SIZE];
};

static void efd_wake(int fd)
{
    uint64_t one = 1;

    if (write(fd, &one, sizeof(one)) != sizeof(one))
        abort();
}

static void efd_wait(int fd)
{
    uint64_t v;

    while (read(fd, &v, sizeof(v)) != sizeof(v))
        if (errno != EINTR)
            abort();
}

/* Writes all of buf, waiting while the ring is full. */
static void ring_write(struct ring *r, const unsigned char *buf, size_t len)
{
    while (len > 0) {
        uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
        uint64_t t = atomic_load_explicit(&r->tail, memory_order_acquire);
        size_t room = RING_SIZE - (size_t)(h - t), n, off, first;

        if (room == 0) {
            atomic_store(&r->prod_sleeps, 1);
            t = atomic_load(&r->tail);
            if (RING_SIZE - (size_t)(h - t) == 0)
                efd_wait(r->efd_prod);
            atomic_store(&r->prod_sleeps, 0);
            continue;
        }
        n = len < room ? len : room;
        off = (size_t)(h % RING_SIZE);
        first = n < RING_SIZE - off ? n : RING_SIZE - off;
        memcpy(r->data + off, buf, first);
        memcpy(r->data, buf + first, n - first);
        atomic_store_explicit(&r->head, h + n, memory_order_seq_cst);
        if (atomic_exchange(&r->cons_sleeps, 0))
            efd_wake(r->efd_cons);
        buf += n;
        len -= n;
    }
}

/* Reads what is there, up to len, without waiting: 0 if empty. */
static size_t ring_take(struct ring *r, unsigned char *buf, size_t len)
{
    uint64_t t = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t h = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t have = (size_t)(h - t), n, off, first;

    if (have == 0)
        return 0;
    n = len < have ? len : have;
    off = (size_t)(t % RING_SIZE);
    first = n < RING_SIZE - off ? n : RING_SIZE - off;
    memcpy(buf, r->data + off, first);
    memcpy(buf + first, r->data, n - first);
    atomic_store_explicit(&r->tail, t + n, memory_order_seq_cst);
    if (atomic_exchange(&r->prod_sleeps, 0))
        efd_wake(r->efd_prod);
    return n;
}

/* Says the consumer sleeps; returns true if the ring is still empty (so
 * it must wait on efd_cons), false if data came meanwhile. */
static bool ring_sleep(struct ring *r)
{
    atomic_store(&r->cons_sleeps, 1);
    if (atomic_load(&r->head) != atomic_load(&r->tail)) {
        atomic_store(&r->cons_sleeps, 0);
        return false;
    }
    return true;
}

/* Reads exactly len bytes, blocking (the program's side). */
static void ring_read_all(struct ring *r, unsigned char *buf, size_t len)
{
    while (len > 0) {
        size_t n = ring_take(r, buf, len);

        if (n == 0) {
            if (ring_sleep(r))
                efd_wait(r->efd_cons);
            continue;
        }
        buf += n;
        len -= n;
    }
}

static struct ring *ring_new(void)
{
    struct ring *r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
                          -1, 0);

    if (r == MAP_FAILED)
        return NULL;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->cons_sleeps, 0);
    atomic_init(&r->prod_sleeps, 0);
    r->efd_cons = eventfd(0, EFD_CLOEXEC);
    r->efd_prod = eventfd(0, EFD_CLOEXEC);
    if (r->efd_cons < 0 || r->efd_prod < 0)
        return NULL;
    return r;
}

static void ring_free(struct ring *r)
{
    close(r->efd_cons);
    close(r->efd_prod);
    munmap(r, sizeof(*r));
}

/* ---- The measurements --------------------------------------------------------------- */

static unsigned char cbuf[CHUNK], pbuf[CHUNK];

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void full_write(int fd, const unsigned char *b, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, b, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(1);
        b += n;
        len -= (size_t)n;
    }
}

static void full_read(int fd, unsigned char *b, size_t len)
{
    while (len > 0) {
        ssize_t n = read(fd, b, len);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            _exit(1);
        b += n;
        len -= (size_t)n;
    }
}

/* The parent's wait: epoll_wait on fd, as the daemon's loop does. */
static void parent_wait(int ep)
{
    struct epoll_event ev;

    while (epoll_wait(ep, &ev, 1, -1) < 0)
        if (errno != EINTR)
            abort();
}

static int epoll_on(int fd)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN};

    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
        abort();
    return ep;
}

/* One cell: returns nanoseconds per unit (per 64 KiB, or per round trip). */
static double cell(bool ring, bool pingpong)
{
    struct ring *up = NULL, *down = NULL;
    int sv[2] = {-1, -1}, ep, status;
    uint64_t t0, t1, got = 0;
    pid_t pid;

    if (ring) {
        up = ring_new();
        down = ring_new();
        if (up == NULL || down == NULL)
            abort();
    } else if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
        abort();
    }
    t0 = now_ns();
    pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        /* The program: blocking calls. */
        if (pingpong) {
            for (int i = 0; i < PINGS; i++) {
                if (ring) {
                    ring_write(up, cbuf, PING_SIZE);
                    ring_read_all(down, cbuf, PING_SIZE);
                } else {
                    full_write(sv[1], cbuf, PING_SIZE);
                    full_read(sv[1], cbuf, PING_SIZE);
                }
            }
        } else {
            for (uint64_t sent = 0; sent < STREAM_BYTES; sent += CHUNK) {
                if (ring)
                    ring_write(up, cbuf, CHUNK);
                else
                    full_write(sv[1], cbuf, CHUNK);
            }
        }
        _exit(0);
    }
    /* The daemon: epoll, then what is there without blocking. */
    ep = epoll_on(ring ? up->efd_cons : sv[0]);
    if (!ring)
        close(sv[1]);
    if (pingpong) {
        for (int i = 0; i < PINGS; i++) {
            size_t have = 0;

            while (have < PING_SIZE) {
                size_t n;

                if (ring) {
                    n = ring_take(up, pbuf + have, PING_SIZE - have);
                    if (n == 0 && ring_sleep(up)) {
                        uint64_t v;

                        parent_wait(ep);
                        if (read(up->efd_cons, &v, sizeof(v)) < 0)
                            abort();
                    }
                } else {
                    ssize_t r = recv(sv[0], pbuf + have, PING_SIZE - have, MSG_DONTWAIT);

                    n = r > 0 ? (size_t)r : 0;
                    if (r == 0)
                        abort();
                    if (r < 0)
                        parent_wait(ep);
                }
                have += n;
            }
            if (ring)
                ring_write(down, pbuf, PING_SIZE);
            else if (send(sv[0], pbuf, PING_SIZE, MSG_NOSIGNAL) != PING_SIZE)
                abort();
        }
    } else {
        while (got < STREAM_BYTES) {
            if (ring) {
                size_t n = ring_take(up, pbuf, CHUNK);

                if (n == 0 && ring_sleep(up)) {
                    uint64_t v;

                    parent_wait(ep);
                    if (read(up->efd_cons, &v, sizeof(v)) < 0)
                        abort();
                }
                got += n;
            } else {
                ssize_t r = recv(sv[0], pbuf, CHUNK, MSG_DONTWAIT);

                if (r == 0)
                    abort();
                if (r < 0)
                    parent_wait(ep);
                else
                    got += (uint64_t)r;
            }
        }
    }
    if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
        abort();
    t1 = now_ns();
    close(ep);
    if (ring) {
        ring_free(up);
        ring_free(down);
    } else {
        close(sv[0]);
    }
    return (double)(t1 - t0) / (pingpong ? PINGS : (double)(STREAM_BYTES / CHUNK));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static double load1(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");

    if (f != NULL) {
        if (fscanf(f, "%lf", &l) != 1)
            l = -1;
        fclose(f);
    }
    return l;
}

int main(int argc, char **argv)
{
    static const char *names[2] = {"stream", "pingpong"};
    double ratio[2][MAX_ROUNDS], t_pair[2][MAX_ROUNDS], t_ring[2][MAX_ROUNDS];
    unsigned rounds = 7;
    double before = load1();

    if (argc > 1) {
        char *end;
        unsigned long v = strtoul(argv[1], &end, 10);

        if (*end != '\0' || v < 1 || v > MAX_ROUNDS) {
            fprintf(stderr, "usage: bench-pair [rounds 1..%d]\n", MAX_ROUNDS);
            return 2;
        }
        rounds = (unsigned)v;
    }
    memset(cbuf, 'x', sizeof(cbuf));
    for (unsigned r = 0; r < rounds; r++) {
        for (int m = 0; m < 2; m++) {
            /* The order alternates between rounds. */
            bool ring_first = (r + (unsigned)m) % 2 == 0;
            double a = cell(ring_first, m == 1);
            double b = cell(!ring_first, m == 1);

            t_ring[m][r] = ring_first ? a : b;
            t_pair[m][r] = ring_first ? b : a;
            ratio[m][r] = t_pair[m][r] / t_ring[m][r];
        }
    }
    printf("{\"bench\":\"pair\",\"rounds\":%u,\"load_before\":%.2f,\"load_after\":%.2f", rounds,
           before, load1());
    for (int m = 0; m < 2; m++) {
        qsort(ratio[m], rounds, sizeof(double), cmp_double);
        qsort(t_pair[m], rounds, sizeof(double), cmp_double);
        qsort(t_ring[m], rounds, sizeof(double), cmp_double);
        printf(",\"%s\":{\"pair_over_ring_min\":%.3f,\"pair_over_ring\":%.3f,"
               "\"pair_over_ring_max\":%.3f,\"pair_ns\":%.0f,\"ring_ns\":%.0f}",
               names[m], ratio[m][0], ratio[m][rounds / 2], ratio[m][rounds - 1],
               t_pair[m][rounds / 2], t_ring[m][rounds / 2]);
    }
    printf("}\n");
    return 0;
}
