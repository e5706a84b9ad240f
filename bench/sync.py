"""CPython's side of examples/mp_benchmarks.rs (the seed's mp_benchmarks.py,
ported to Python 3), printing the same lines."""
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


def timed_rate(f):
    n = 1000
    while True:
        dt = f(n)
        if dt > 0.2:
            return n / dt
        n *= 2


def queue_func(q, ready, n):
    a = '0' * 256
    ready.set()
    for _ in range(n):
        q.put(a)
    q.put('STOP')


def pipe_func(c, ready, n):
    a = '0' * 256
    ready.set()
    for _ in range(n):
        c.send(a)
    c.send('STOP')


def queue_loop(n):
    q = mp.Queue()
    ready = mp.Event()
    p = mp.Process(target=queue_func, args=(q, ready, n))
    p.start()
    ready.wait()
    t = time.perf_counter()
    while q.get() != 'STOP':
        pass
    dt = time.perf_counter() - t
    p.join()
    return dt


def pipe_loop(n):
    reader, writer = mp.Pipe(duplex=False)
    ready = mp.Event()
    p = mp.Process(target=pipe_func, args=(writer, ready, n))
    p.start()
    ready.wait()
    t = time.perf_counter()
    while reader.recv() != 'STOP':
        pass
    dt = time.perf_counter() - t
    p.join()
    return dt


def pong(c, turn, ready, n):
    ready.set()
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
    ready = mp.Event()
    p = mp.Process(target=pong, args=(c, turn, ready, n))
    p.start()
    ready.wait()
    t = time.perf_counter()
    with c:
        for i in range(n):
            turn[0] = 2 * i + 1
            c.notify()
            while turn[0] != 2 * i + 2:
                c.wait()
    dt = time.perf_counter() - t
    p.join()
    return dt


if __name__ == "__main__":
    print(f"queue_objects {timed_rate(queue_loop):.0f} per_s")
    print(f"pipe_objects {timed_rate(pipe_loop):.0f} per_s")
    print(f"lock_acquire_release {rate(lock_loop):.0f} per_s")
    print(f"array_lock_true_get {rate(array_loop(mp.Array('Q', 100, lock=True))):.0f} per_s")
    print(f"array_raw_get {rate(array_loop(mp.RawArray('Q', 100))):.0f} per_s")
    print(f"condition_round_trips {timed_rate(cond_loop):.0f} per_s")
