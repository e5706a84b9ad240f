/* The spawn floor for bench/map.sh: spawn `true` N times with at most J
 * in flight, reaping each with waitpid. What any runner of one command per
 * record must at least pay; nothing else (no pipes, no reading input).
 *
 * Usage: spawn_floor [N=2000] [J=2] [bare|record]
 *   bare   (default) posix_spawn("/bin/true") with no arguments.
 *   record posix_spawnp("true", {"true", "<record number>"}): the same argv
 *          and PATH search as `mp map true`, `xargs -n1 true`, `parallel true`
 *          get (each appends the record). GNU true with one argument calls
 *          setlocale() to check for --help/--version, which loads the locale
 *          files, so it costs more than a bare `true`.
 * Exits 1 if a spawn or a command fails. */
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

extern char **environ;

int main(int argc, char **argv) {
    long n = argc > 1 ? atol(argv[1]) : 2000;
    long j = argc > 2 ? atol(argv[2]) : 2;
    int record = argc > 3 && strcmp(argv[3], "record") == 0;
    if (argc > 3 && !record && strcmp(argv[3], "bare") != 0) {
        fprintf(stderr, "usage: spawn_floor [N] [J] [bare|record]\n");
        return 2;
    }
    char num[24];
    char *bare_args[] = {"true", NULL};
    char *record_args[] = {"true", num, NULL};
    long started = 0, running = 0, failed = 0;
    while (started < n || running > 0) {
        while (started < n && running < j) {
            pid_t pid;
            int e;
            if (record) {
                snprintf(num, sizeof num, "%ld", started + 1);
                e = posix_spawnp(&pid, "true", NULL, NULL, record_args, environ);
            } else {
                e = posix_spawn(&pid, "/bin/true", NULL, NULL, bare_args, environ);
            }
            if (e) {
                fprintf(stderr, "spawn_floor: posix_spawn: %s\n", strerror(e));
                return 1;
            }
            started++;
            running++;
        }
        int status;
        if (waitpid(-1, &status, 0) > 0) {
            running--;
            failed += !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
        }
    }
    if (failed) fprintf(stderr, "spawn_floor: %ld commands failed\n", failed);
    return failed != 0;
}
