/*
 * A program that closes a socket from a signal handler, as apache2's
 * prefork children close their listeners when SIGWINCH or SIGUSR1 tells
 * them to stop: run under `refnet run` by tests/net/test_run_sigclose.sh.
 * It links nothing of refnet.
 *
 * A listener on 198.18.0.2 (port 0: any), shared with each child by fork.
 * Each child asks for a socket's name in a loop (a call that reaches the
 * daemon each time) and closes the inherited listener in its SIGUSR1
 * handler; the parent signals it at varying moments and waits for it to
 * end.  A handler's close that waited for the channel the interrupted call
 * holds would never return.
 *
 * Exit status: 0 every child ended; 1 a child hung (killed, and named);
 * 2 the listener could not be made.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 30
#define CHILD_MS 100   /* a child's loop after its signal */
#define WAIT_MS 3000   /* how long the parent waits for a child */

static int listener = -1;
static volatile sig_atomic_t closed;

static void on_usr1(int sig)
{
    (void)sig;
    if (!closed) {
        close(listener);
        closed = 1;
    }
}

static long ms_since(const struct timespec *t0)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

/* The child: names a socket in a loop until CHILD_MS after its signal. */
static void child(int other)
{
    struct sockaddr_in sa;
    struct timespec t0;
    socklen_t len;
    long calls = 0;

    for (;;) {
        len = sizeof(sa);
        if (getsockname(other, (struct sockaddr *)&sa, &len) == 0)
            calls++;
        if (closed == 1) {
            clock_gettime(CLOCK_MONOTONIC, &t0);
            closed = 2;
        }
        if (closed == 2 && ms_since(&t0) >= CHILD_MS)
            break;
    }
    _exit(calls > 0 ? 0 : 3);
}

int main(void)
{
    struct sockaddr_in sa = {.sin_family = AF_INET};
    int one = 1, other, i, k, st;
    pid_t pid;

    inet_pton(AF_INET, "198.18.0.2", &sa.sin_addr);
    listener = socket(AF_INET, SOCK_STREAM, 0);
    other = socket(AF_INET, SOCK_STREAM, 0);
    if (listener < 0 || other < 0 ||
        setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(listener, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(listener, 16) != 0) {
        perror("run_sigclose: the listener");
        return 2;
    }
    signal(SIGUSR1, on_usr1);  /* the children's, set before fork: no signal finds it unset */
    for (i = 0; i < ROUNDS; i++) {
        pid = fork();
        if (pid < 0) {
            perror("run_sigclose: fork");
            return 2;
        }
        if (pid == 0)
            child(other);
        usleep(20000 + (useconds_t)(i % 7) * 1300);
        kill(pid, SIGUSR1);
        for (k = 0; k < WAIT_MS / 10; k++) {
            if (waitpid(pid, &st, WNOHANG) == pid)
                break;
            usleep(10000);
        }
        if (k == WAIT_MS / 10) {
            printf("run_sigclose: child %d hung after SIGUSR1 (round %d of %d): its close "
                   "in the handler never returned\n", (int)pid, i + 1, ROUNDS);
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
            return 1;
        }
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            printf("run_sigclose: child %d ended with status %#x (round %d)\n", (int)pid, st,
                   i + 1);
            return 1;
        }
    }
    printf("run_sigclose: %d children closed the listener in a signal handler during calls "
           "to the daemon; each ended\n", ROUNDS);
    return 0;
}
