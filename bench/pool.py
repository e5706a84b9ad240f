"""The Pool benchmark, CPython's side (see bench/map.sh); same output as examples/bench_pool.rs.

Each timing is the median of REPS runs in the same pool, as on mp's side."""
import multiprocessing as mp
import statistics
import time

REPS = 5


def noop(_):
    pass


def pow3(x):
    return x * x * x


def median_secs(f):
    times = []
    for _ in range(REPS):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.map(pow3, range(100))  # warm-up
        dt = median_secs(lambda: pool.map(pow3, range(100_000)))
        print(f"map_pow3_100k {dt:.4f} s")
        dt = median_secs(lambda: pool.map(noop, [None] * 1_000_000))
        print(f"map_noop_1M {dt:.4f} s")
        n = 100_000
        dt = median_secs(lambda: sum(r % 7 for r in pool.imap(pow3, range(n), chunksize=n // 8)))
        print(f"imap_pow3_chunk_n8 {dt:.4f} s")
        for cs, n in ((1, 50_000), (100, 1_000_000)):
            dt = median_secs(lambda: sum(1 for _ in pool.imap(pow3, range(n), chunksize=cs)))
            print(f"imap_chunksize_{cs} {n / dt:.0f} items_per_s")
