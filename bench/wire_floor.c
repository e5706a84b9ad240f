/* The raw floor under bench/wire.sh, in its output format: the same
 * framing (4-byte big-endian length, header and payload in one write) over a
 * TCP (127.0.0.1) or Unix socket between a parent and a forked child, with
 * no library in between. 64-byte round trips, then 1 MiB messages one way.
 * Build: gcc -O2 -o wire_floor bench/wire_floor.c
 * Usage: wire_floor tcp|unix ROUNDTRIPS BULK_MIB */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void read_exact(int fd, void *buf, size_t n) {
    char *p = buf;
    while (n) {
        ssize_t r = read(fd, p, n);
        if (r <= 0) { perror("read"); exit(1); }
        p += r; n -= r;
    }
}

static void send_frame(int fd, const void *buf, uint32_t n) {
    uint32_t h = htonl(n);
    struct iovec iov[2] = {{&h, 4}, {(void *)buf, n}};
    size_t total = 4 + n, sent = 0;
    while (sent < total) {
        ssize_t r = writev(fd, iov, 2);
        if (r <= 0) { perror("writev"); exit(1); }
        sent += r;
        /* advance the iovecs */
        size_t k = r;
        for (int i = 0; i < 2; i++) {
            size_t take = k < iov[i].iov_len ? k : iov[i].iov_len;
            iov[i].iov_base = (char *)iov[i].iov_base + take;
            iov[i].iov_len -= take;
            k -= take;
        }
    }
}

static uint32_t recv_frame(int fd, char *buf) {
    uint32_t h;
    read_exact(fd, &h, 4);
    uint32_t n = ntohl(h);
    read_exact(fd, buf, n);
    return n;
}

int main(int argc, char **argv) {
    int unix_sock = argc > 1 && strcmp(argv[1], "unix") == 0;
    long rounds = argc > 2 ? atol(argv[2]) : 20000;
    long bulk = argc > 3 ? atol(argv[3]) : 512;
    int ls;
    struct sockaddr_in in = {0};
    struct sockaddr_un un = {0};
    socklen_t alen;
    if (unix_sock) {
        ls = socket(AF_UNIX, SOCK_STREAM, 0);
        un.sun_family = AF_UNIX;
        snprintf(un.sun_path, sizeof un.sun_path, "/tmp/wire_floor.%d.sock", getpid());
        unlink(un.sun_path);
        if (bind(ls, (struct sockaddr *)&un, sizeof un)) { perror("bind"); return 1; }
    } else {
        ls = socket(AF_INET, SOCK_STREAM, 0);
        in.sin_family = AF_INET;
        in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (bind(ls, (struct sockaddr *)&in, sizeof in)) { perror("bind"); return 1; }
        alen = sizeof in;
        getsockname(ls, (struct sockaddr *)&in, &alen);
    }
    listen(ls, 1);
    char *buf = malloc(1 << 20);
    pid_t pid = fork();
    if (pid == 0) {
        int c = socket(unix_sock ? AF_UNIX : AF_INET, SOCK_STREAM, 0);
        if (connect(c, unix_sock ? (struct sockaddr *)&un : (struct sockaddr *)&in,
                    unix_sock ? sizeof un : sizeof in)) { perror("connect"); _exit(1); }
        int one = 1;
        if (!unix_sock) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        for (;;) {
            uint32_t n = recv_frame(c, buf);
            if (!n) break;
            send_frame(c, buf, n);
        }
        uint64_t total = 0;
        for (;;) {
            uint32_t n = recv_frame(c, buf);
            if (!n) break;
            total += n;
        }
        send_frame(c, &total, 8);
        _exit(0);
    }
    int c = accept(ls, NULL, NULL);
    int one = 1;
    if (!unix_sock) setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    char msg[64] = {7};
    for (int i = 0; i < 1000; i++) { send_frame(c, msg, 64); recv_frame(c, buf); }
    double t = now();
    for (long i = 0; i < rounds; i++) { send_frame(c, msg, 64); recv_frame(c, buf); }
    t = now() - t;
    const char *kind = unix_sock ? "unix" : "tcp";
    printf("%s_roundtrips %.0f per_s\n", kind, rounds / t);
    send_frame(c, msg, 0);
    memset(buf, 1, 1 << 20);
    char *big = malloc(1 << 20);
    memset(big, 1, 1 << 20);
    t = now();
    for (long i = 0; i < bulk; i++) send_frame(c, big, 1 << 20);
    send_frame(c, msg, 0);
    recv_frame(c, buf);
    t = now() - t;
    printf("%s_bulk %.3f GB_per_s\n", kind, (double)(bulk << 20) / t / 1e9);
    waitpid(pid, NULL, 0);
    if (unix_sock) unlink(un.sun_path);
    return 0;
}
