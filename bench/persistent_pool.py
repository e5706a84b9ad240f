"""CPython's side of bench/persistent.sh: the same per-record work as
bench/persistent_worker.py through multiprocessing.Pool(2).imap, chunksize 1000.

Reads records (lines) on stdin, writes the replies in input order on stdout.
Timed as a whole python3 process, start-up included, as mp's runs are.
"""
import multiprocessing
import sys


def double(line):
    return f"{int(line) * 2}\n"


if __name__ == "__main__":
    with multiprocessing.Pool(2) as pool:
        sys.stdout.writelines(pool.imap(double, sys.stdin, chunksize=1000))
