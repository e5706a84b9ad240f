"""CPython's side of examples/mp_benchmarks.rs (the seed's mp_benchmarks.py,
the parts mp has so far), printing the same lines."""
import multiprocessing as mp
import time


def rate(f):
    n = 1000
    while True:
        t = time.perf_counter()
        f(n)
        dt = time.perf_counter() - t
        if dt > 0.2:
            return n / dt
        n *= 2


def pong(c, turn, n):
    with c:
        for i in range(n):
            while turn[0] != 2 * i + 1:
                c.wait()
            turn[0] = 2 * i + 2
            c.notify()


def lock_loop(n, l=mp.Lock()):
    for _ in range(n):
        l.acquire()
        l.release()


def array_loop(a):
    def f(n):
        s = 0
        for i in range(n):
            s += a[i % 100]
    return f


def cond_loop(n):
    c = mp.Condition()
    turn = mp.RawArray('Q', 1)
    p = mp.Process(target=pong, args=(c, turn, n))
    p.start()
    with c:
        for i in range(n):
            turn[0] = 2 * i + 1
            c.notify()
            while turn[0] != 2 * i + 2:
                c.wait()
    p.join()


if __name__ == "__main__":
    print(f"lock_acquire_release {rate(lock_loop):.0f} per_s")
    print(f"array_lock_true_get {rate(array_loop(mp.Array('Q', 100, lock=True))):.0f} per_s")
    print(f"array_raw_get {rate(array_loop(mp.RawArray('Q', 100))):.0f} per_s")
    print(f"condition_round_trips {rate(cond_loop):.0f} per_s")
