/* The syscall floor for bench/foundation.sh: a child writes N frames of
 * 4-byte length + 256 bytes over a socketpair (one write each), the parent
 * reads them through a 64 KiB buffer. No encoding, no allocation. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 200000;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv)) return 1;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        unsigned char frame[260] = {0, 0, 1, 0};
        memset(frame + 4, 'x', 256);
        for (long i = 0; i < n; i++)
            if (write(sv[1], frame, sizeof frame) != sizeof frame) _exit(1);
        _exit(0);
    }
    close(sv[1]);
    static unsigned char buf[65536];
    long need = n * 260, got = 0;
    while (got < need) {
        ssize_t r = read(sv[0], buf, sizeof buf);
        if (r <= 0) return 1;
        got += r;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    waitpid(pid, NULL, 0);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("pipe_bytes %.0f per_s\n", n / secs);
    return 0;
}
