"""Manager round trips per second from CPython clients.

usage: managers.py HOST:PORT CLIENTS SECONDS
Each of CLIENTS processes connects with its own SyncManager and, for
SECONDS per operation, does dict set+get pairs, then queue put+get pairs, on
its own objects. Prints one line per operation: `name ops_per_second`
(round trips per second, summed over the clients). With MANAGERS_CPU=1 it
also prints `cpu_name microseconds`: the clients' own CPU time (user+sys,
time.process_time) per round trip, averaged over the clients.
"""
import multiprocessing as mp
import os
import sys
import time
from multiprocessing.managers import SyncManager


def worker(address, seconds, results):
    m = SyncManager(address, authkey=os.environb[b'MP_AUTHKEY'])
    m.connect()
    d = m.dict()
    q = m.Queue()
    d['k'] = 0
    out = {}
    for name in ('dict_set_get', 'queue_put_get'):
        n = 0
        cpu = time.process_time()
        end = time.perf_counter() + seconds
        while time.perf_counter() < end:
            for _ in range(50):
                if name == 'dict_set_get':
                    d['k'] = n
                    d['k']
                else:
                    q.put(n)
                    q.get()
                n += 2
        out[name] = n / seconds
        out['cpu_' + name] = (time.process_time() - cpu) / n * 1e6
    results.put(out)


def main():
    host, port = sys.argv[1].rsplit(':', 1)
    clients, seconds = int(sys.argv[2]), float(sys.argv[3])
    results = mp.get_context('fork').Queue()
    procs = [mp.get_context('fork').Process(target=worker, args=((host, int(port)), seconds, results))
             for _ in range(clients)]
    for p in procs:
        p.start()
    total = {}
    for _ in procs:
        for k, v in results.get().items():
            total[k] = total.get(k, 0) + v
    for p in procs:
        p.join()
    for k in ('dict_set_get', 'queue_put_get'):
        print(k, round(total[k]))
    if os.environ.get('MANAGERS_CPU') == '1':
        for k in ('dict_set_get', 'queue_put_get'):
            print('cpu_' + k, round(total['cpu_' + k] / clients, 2))


if __name__ == '__main__':
    main()
