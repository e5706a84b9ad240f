"""CPython's side of examples/bench_wire.rs: multiprocessing.connection
Listener here, Client in a child process; 64-byte send_bytes round trips,
then 1 MiB messages one way. Usage: wire.py tcp|unix ROUNDTRIPS BULK_MIB"""
import os
import sys
import tempfile
import time
from multiprocessing import Process
from multiprocessing.connection import Client, Listener


def echo_peer(addr):
    c = Client(addr)
    while True:
        m = c.recv_bytes()
        if not m:
            break
        c.send_bytes(m)
    n = 0
    while True:
        m = c.recv_bytes()
        if not m:
            break
        n += len(m)
    c.send_bytes(n.to_bytes(8, 'little'))


def main():
    kind = sys.argv[1]
    rounds, bulk = int(sys.argv[2]), int(sys.argv[3])
    d = tempfile.mkdtemp()
    addr = os.path.join(d, 'wire.sock') if kind == 'unix' else ('127.0.0.1', 0)
    l = Listener(addr)
    p = Process(target=echo_peer, args=(l.address,))
    p.start()
    c = l.accept()
    msg = bytes(64)
    for _ in range(1000):
        c.send_bytes(msg)
        c.recv_bytes()
    t = time.perf_counter()
    for _ in range(rounds):
        c.send_bytes(msg)
        c.recv_bytes()
    dt = time.perf_counter() - t
    print(f"{kind}_roundtrips {rounds / dt:.0f} per_s")
    c.send_bytes(b'')
    big = bytes(1 << 20)
    t = time.perf_counter()
    for _ in range(bulk):
        c.send_bytes(big)
    c.send_bytes(b'')
    got = int.from_bytes(c.recv_bytes(), 'little')
    dt = time.perf_counter() - t
    assert got == bulk << 20
    print(f"{kind}_bulk {(bulk << 20) / dt / 1e9:.3f} GB_per_s")
    p.join()
    l.close()


if __name__ == '__main__':
    main()
