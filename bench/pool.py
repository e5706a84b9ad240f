"""The Pool benchmark, CPython's side (see bench/map.sh); same output as examples/bench_pool.rs."""
import multiprocessing as mp
import time


def noop(_):
    pass


def pow3(x):
    return x * x * x


if __name__ == "__main__":
    with mp.Pool(2) as pool:
        pool.map(pow3, range(100))  # warm-up
        t = time.perf_counter()
        pool.map(pow3, range(100_000))
        print(f"map_pow3_100k {time.perf_counter() - t:.4f} s")
        t = time.perf_counter()
        pool.map(noop, [None] * 1_000_000)
        print(f"map_noop_1M {time.perf_counter() - t:.4f} s")
        n = 100_000
        t = time.perf_counter()
        s = sum(r % 7 for r in pool.imap(pow3, range(n), chunksize=n // 8))
        print(f"imap_pow3_chunk_n8 {time.perf_counter() - t:.4f} s")
        for cs, n in ((1, 50_000), (100, 200_000)):
            t = time.perf_counter()
            count = sum(1 for _ in pool.imap(pow3, range(n), chunksize=cs))
            print(f"imap_chunksize_{cs} {n / (time.perf_counter() - t):.0f} items_per_s")
