/* The spawn floor for bench/map.sh: posix_spawn /bin/true N times, at most
 * J in flight. What any runner of one command per record must at least pay. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000;
    int j = argc > 2 ? atoi(argv[2]) : 2;
    char *args[] = {"true", NULL};
    long started = 0, running = 0;
    while (started < n || running > 0) {
        while (started < n && running < j) {
            pid_t pid;
            if (posix_spawn(&pid, "/bin/true", NULL, NULL, args, environ)) return 1;
            started++;
            running++;
        }
        if (wait(NULL) > 0) running--;
    }
    return 0;
}
