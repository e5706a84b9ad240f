/* The floors under examples/mp_benchmarks.rs, printed in its format:
 *   c_mutex        a process-shared pthread mutex: lock+unlock per second
 *   futex_pingpong two processes taking turns on a shared futex word:
 *                  round trips per second (one wake each way)
 * Each runs its loop with growing n until it takes 0.2 s.
 * `sync_floor pingpong N` runs only N round trips, once (for strace -c).
 * Build: gcc -O2 -o sync_floor bench/sync_floor.c -lpthread */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void *shared(size_t n) {
    void *p = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) { perror("mmap"); exit(1); }
    return p;
}

static double mutex_run(long n) {
    pthread_mutex_t *m = shared(sizeof *m);
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutex_init(m, &a);
    double t = now();
    for (long i = 0; i < n; i++) {
        pthread_mutex_lock(m);
        pthread_mutex_unlock(m);
    }
    t = now() - t;
    munmap(m, sizeof *m);
    return t;
}

static void fwait(_Atomic uint32_t *w, uint32_t v) {
    syscall(SYS_futex, w, FUTEX_WAIT, v, NULL, NULL, 0);
}
static void fwake(_Atomic uint32_t *w) {
    syscall(SYS_futex, w, FUTEX_WAKE, 1, NULL, NULL, 0);
}

/* turn: odd = the child's move, even = the parent's. */
static double pingpong_run(long n) {
    _Atomic uint32_t *turn = shared(4096);
    *turn = 0;
    pid_t pid = fork();
    if (pid == 0) {
        for (long i = 0; i < n; i++) {
            uint32_t want = 2 * i + 1;
            uint32_t v;
            while ((v = atomic_load(turn)) != want) fwait(turn, v);
            atomic_store(turn, want + 1);
            fwake(turn);
        }
        _exit(0);
    }
    double t = now();
    for (long i = 0; i < n; i++) {
        atomic_store(turn, 2 * i + 1);
        fwake(turn);
        uint32_t v;
        while ((v = atomic_load(turn)) != 2 * i + 2) fwait(turn, v);
    }
    t = now() - t;
    waitpid(pid, NULL, 0);
    munmap((void *)turn, 4096);
    return t;
}

static double rate(double (*f)(long)) {
    for (long n = 1000;; n *= 2) {
        double dt = f(n);
        if (dt > 0.2) return n / dt;
    }
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "pingpong")) {
        long n = argc >= 3 ? atol(argv[2]) : 20000;
        if (n <= 0) {
            fprintf(stderr, "usage: sync_floor [pingpong [N]] (N: a positive count)\n");
            return 2;
        }
        double dt = pingpong_run(n);
        printf("futex_pingpong %.0f per_s (%ld in %.3f s)\n", n / dt, n, dt);
        return 0;
    }
    printf("c_mutex %.0f per_s\n", rate(mutex_run));
    printf("futex_pingpong %.0f per_s\n", rate(pingpong_run));
    return 0;
}
