"""The Foundation benchmark, CPython's side (see bench/foundation.sh).

Same measurements and output format as examples/bench_foundation.rs.
"""
import multiprocessing as mp
import statistics
import sys
import time


def noop():
    pass


def send_objects(conn, n):
    s = "x" * 256
    for _ in range(n):
        conn.send(s)


def send_raw(conn, n):
    b = b"x" * 256
    for _ in range(n):
        conn.send_bytes(b)


def start(method, n):
    ctx = mp.get_context(method)
    p = ctx.Process(target=noop)  # warm-up (starts the forkserver)
    p.start()
    p.join()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        p = ctx.Process(target=noop)
        p.start()
        p.join()
        times.append((time.perf_counter() - t) * 1e3)
    print(f"start_{method} {statistics.median(times):.3f} ms")


def pipe(n):
    for name, target, recv in (("pipe_objects", send_objects, "recv"), ("pipe_bytes", send_raw, "recv_bytes")):
        a, b = mp.Pipe()
        p = mp.get_context("fork").Process(target=target, args=(b, n))
        t = time.perf_counter()
        p.start()
        r = getattr(a, recv)
        for _ in range(n):
            r()
        secs = time.perf_counter() - t
        p.join()
        print(f"{name} {n / secs:.0f} per_s")


if __name__ == "__main__":
    if sys.argv[1] == "start":
        start(sys.argv[2], int(sys.argv[3]))
    else:
        pipe(int(sys.argv[2]))
