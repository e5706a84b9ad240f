/* What one spawn costs: glibc's posix_spawn with the attributes mp gives a
 * per-record command, against clone(CLONE_VM|CLONE_VFORK) on a reused,
 * guard-paged stack with a child that resets only the signals this process
 * handles (what src/command/spawn.rs did before it moved to posix_spawn).
 * Both spawn `true 1` with stdio on /dev/null in a new process group; the
 * time is that of the spawn call (both return once the child has exec'd).
 * The two alternate in blocks of 50; medians in microseconds.
 *
 * Usage: gcc -O2 -o spawn_ab bench/spawn_ab.c && ./spawn_ab [N=2000] */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;
static char *args[] = {"true", "1", NULL};
static const int handled[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static double now_us(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int child(void *arg) {
    int fd = *(int *)arg;
    setpgid(0, 0);
    for (int i = 0; i < 3; i++) dup2(fd, i);
    for (unsigned i = 0; i < sizeof handled / sizeof *handled; i++) signal(handled[i], SIG_DFL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve("/usr/bin/true", args, environ);
    _exit(127);
}

static void on_signal(int sig) { (void)sig; }

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    /* Handlers as in an mp worker (SIGPIPE ignored, as Rust does). */
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    signal(SIGHUP, on_signal);
    signal(SIGPIPE, SIG_IGN);
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    int fd = fcntl(null, F_DUPFD_CLOEXEC, 10);
    size_t guard = 4096, len = guard + 65536;
    char *stack = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (stack == MAP_FAILED || mprotect(stack, guard, PROT_NONE)) return 1;
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, dflt;
    sigemptyset(&none);
    sigemptyset(&dflt);
    sigaddset(&dflt, SIGPIPE);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &dflt);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    double *ps = malloc(n * sizeof *ps), *cl = malloc(n * sizeof *cl);
    int nps = 0, ncl = 0;
    for (int i = 0; i < n; i++) {
        pid_t pid;
        double t0 = now_us();
        if ((i / 50) % 2 == 0) {
            posix_spawn_file_actions_t fa;
            posix_spawn_file_actions_init(&fa);
            for (int k = 0; k < 3; k++) posix_spawn_file_actions_adddup2(&fa, fd, k);
            int e = posix_spawn(&pid, "/usr/bin/true", &fa, &attr, args, environ);
            posix_spawn_file_actions_destroy(&fa);
            if (e) return 1;
            ps[nps++] = now_us() - t0;
        } else {
            sigset_t all, old;
            sigfillset(&all);
            pthread_sigmask(SIG_SETMASK, &all, &old);
            pid = clone(child, stack + len, CLONE_VM | CLONE_VFORK | SIGCHLD, &fd);
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            if (pid < 0) return 1;
            cl[ncl++] = now_us() - t0;
        }
        waitpid(pid, NULL, 0);
    }
    qsort(ps, nps, sizeof *ps, cmp);
    qsort(cl, ncl, sizeof *cl, cmp);
    printf("posix_spawn %.1f us, clone (guard-paged stack) %.1f us: +%.1f us per spawn (medians of %d and %d)\n",
           ps[nps / 2], cl[ncl / 2], ps[nps / 2] - cl[ncl / 2], nps, ncl);
    return 0;
}
