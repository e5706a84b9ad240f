/* The raw floor under bench/managers.sh: a manager-sized ping-pong over TCP
 * (127.0.0.1) with the manager protocol's framing (4-byte big-endian length,
 * header and payload in one write), no pickling and no library in between.
 * A server thread per connection (as mp serve-manager and CPython's server)
 * answers each REQ-byte request frame with a REPLY-byte frame; CLIENTS forked
 * client processes (as bench/managers.py's) each do round trips for SECONDS
 * after 1000 untimed ones. Both ends read through a buffer (one read per
 * frame when it arrives whole) and set TCP_NODELAY.
 * Prints `roundtrips CLIENTS RATE` (round trips per second, summed over the
 * clients, each over its own SECONDS), then `cpu_server_us X` and
 * `cpu_client_us Y`: CPU time (user+sys, getrusage) per round trip of the
 * server process and of the clients, warm-up included.
 * Build: gcc -O2 -pthread -o managers_floor bench/managers_floor.c
 * Usage: managers_floor CLIENTS SECONDS [REQ [REPLY]]  (default 50 and 25
 * bytes: a pickled `d['k'] = n` request and its ('#RETURN', None)). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static size_t req_len = 50, reply_len = 25;
static long served; /* frames answered, all server threads */
static pthread_mutex_t served_lock = PTHREAD_MUTEX_INITIALIZER;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* Bytes read ahead on one connection. */
struct rbuf {
    char data[4096];
    size_t start, end;
};

/* Reads one frame (payload up to sizeof data - 4); returns 0 at EOF. */
static int recv_frame(int fd, struct rbuf *b) {
    for (;;) {
        size_t have = b->end - b->start;
        if (have >= 4) {
            uint32_t n;
            memcpy(&n, b->data + b->start, 4);
            n = ntohl(n);
            if (n > sizeof b->data - 4) { fprintf(stderr, "frame too long\n"); exit(1); }
            if (have >= 4 + n) {
                b->start += 4 + n;
                if (b->start == b->end) b->start = b->end = 0;
                return 1;
            }
        }
        if (b->start > 0) {
            memmove(b->data, b->data + b->start, have);
            b->start = 0;
            b->end = have;
        }
        ssize_t r = read(fd, b->data + b->end, sizeof b->data - b->end);
        if (r == 0) return 0;
        if (r < 0) { perror("read"); exit(1); }
        b->end += r;
    }
}

static void send_all(int fd, const char *p, size_t n) {
    while (n) {
        ssize_t r = write(fd, p, n);
        if (r <= 0) { perror("write"); exit(1); }
        p += r;
        n -= r;
    }
}

/* A frame of `len` payload bytes, header included. */
static char *frame(size_t len) {
    char *f = malloc(4 + len);
    uint32_t h = htonl(len);
    memcpy(f, &h, 4);
    memset(f + 4, 'x', len);
    return f;
}

/* With FLOOR_CLIENT_CPU=N the client processes run on CPU N only (the
 * server keeps the affinity it was started with, e.g. by taskset), so that
 * bench scripts can place both ends as they place mp's. */
static void pin_client(void) {
    const char *cpu = getenv("FLOOR_CLIENT_CPU");
    if (!cpu || !*cpu) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(atoi(cpu), &set);
    if (sched_setaffinity(0, sizeof set, &set)) { perror("sched_setaffinity"); _exit(1); }
}

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    struct rbuf *b = calloc(1, sizeof *b);
    char *reply = frame(reply_len);
    long n = 0;
    while (recv_frame(fd, b)) {
        send_all(fd, reply, 4 + reply_len);
        n++;
    }
    close(fd);
    pthread_mutex_lock(&served_lock);
    served += n;
    pthread_mutex_unlock(&served_lock);
    return NULL;
}

int main(int argc, char **argv) {
    int clients = argc > 1 ? atoi(argv[1]) : 1;
    double secs = argc > 2 ? atof(argv[2]) : 2;
    if (argc > 3) req_len = atol(argv[3]);
    if (argc > 4) reply_len = atol(argv[4]);
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {0};
    in.sin_family = AF_INET;
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t alen = sizeof in;
    if (bind(ls, (struct sockaddr *)&in, sizeof in) || getsockname(ls, (struct sockaddr *)&in, &alen) ||
        listen(ls, clients)) { perror("listen"); return 1; }
    int results[2];
    if (pipe(results)) { perror("pipe"); return 1; }
    for (int i = 0; i < clients; i++) {
        if (fork() == 0) {
            pin_client();
            int c = socket(AF_INET, SOCK_STREAM, 0), one = 1;
            if (connect(c, (struct sockaddr *)&in, sizeof in)) { perror("connect"); _exit(1); }
            setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            struct rbuf *b = calloc(1, sizeof *b);
            char *req = frame(req_len);
            for (int k = 0; k < 1000; k++) { send_all(c, req, 4 + req_len); recv_frame(c, b); }
            long n = 0;
            double end = now() + secs;
            while (now() < end) {
                for (int k = 0; k < 50; k++) { send_all(c, req, 4 + req_len); recv_frame(c, b); }
                n += 50;
            }
            double rate = n / secs;
            if (write(results[1], &rate, sizeof rate) != sizeof rate) _exit(1);
            _exit(0);
        }
    }
    pthread_t *threads = calloc(clients, sizeof *threads);
    for (int i = 0; i < clients; i++) {
        int fd = accept(ls, NULL, NULL), one = 1;
        if (fd < 0) { perror("accept"); return 1; }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_create(&threads[i], NULL, serve, (void *)(intptr_t)fd);
    }
    double total = 0;
    for (int i = 0; i < clients; i++) {
        double rate;
        if (read(results[0], &rate, sizeof rate) != sizeof rate) { perror("results"); return 1; }
        total += rate;
    }
    while (wait(NULL) > 0) {}
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
#define SECS(tv) ((tv).tv_sec + (tv).tv_usec / 1e6)
    printf("roundtrips %d %.0f\n", clients, total);
    printf("cpu_server_us %.2f\n", (SECS(self.ru_utime) + SECS(self.ru_stime)) / served * 1e6);
    printf("cpu_client_us %.2f\n", (SECS(kids.ru_utime) + SECS(kids.ru_stime)) / served * 1e6);
    return 0;
}
