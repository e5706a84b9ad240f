"""Memory of idle connections: opens N connections to a server, holds them,
and reads the server's memory from /proc.

usage: managers_idle.py manager|redis HOST:PORT SERVER_PID N
manager: each connection authenticates (MP_AUTHKEY) and sends
accept_connection, as a SyncManager proxy's connection does, and gets its
('#RETURN', None); then it sits idle. redis: each connection sends PING and
reads +PONG. Prints `name value` lines: the server's VmRSS and VmHWM (KiB)
and Threads before and with the N connections held, its VmSize, the growth
of the kernel's KernelStack (/proc/meminfo, system-wide: 16 KiB per thread
on x86-64, not part of any VmRSS; noisy when other programs start threads),
and `answers_after 1` once a new client was served while the N are still open.
"""
import os
import resource
import socket
import sys
from multiprocessing.connection import Client


def kernel_stack_kib():
    with open('/proc/meminfo') as f:
        for line in f:
            if line.startswith('KernelStack:'):
                return int(line.split()[1])
    return 0


def status(pid):
    out = {}
    with open('/proc/%d/status' % pid) as f:
        for line in f:
            k, _, v = line.partition(':')
            if k in ('VmRSS', 'VmHWM', 'VmSize', 'Threads'):
                out[k] = int(v.split()[0])
    return out


def manager_conn(host, port, key):
    c = Client((host, port), authkey=key)
    c.send((None, 'accept_connection', ('idle',), {}))
    kind, result = c.recv()
    assert kind == '#RETURN' and result is None, (kind, result)
    return c


def manager_works(host, port, key):
    # A one-shot server-level call on a fresh connection, then a method
    # call on a fresh persistent one: the server still answers.
    c = Client((host, port), authkey=key)
    c.send((None, 'dummy', (), {}))
    assert c.recv() == ('#RETURN', None)
    c.close()
    manager_conn(host, port, key).close()


def redis_conn(host, port):
    s = socket.create_connection((host, port))
    s.sendall(b'PING\r\n')
    assert s.recv(64) == b'+PONG\r\n'
    return s


def main():
    kind, addr, pid, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    host, port = addr.rsplit(':', 1)
    port = int(port)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n + 64:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
    key = os.environb.get(b'MP_AUTHKEY')
    before = status(pid)
    kstack = kernel_stack_kib()
    if kind == 'manager':
        conns = [manager_conn(host, port, key) for _ in range(n)]
    else:
        conns = [redis_conn(host, port) for _ in range(n)]
    held = status(pid)
    kstack = kernel_stack_kib() - kstack
    if kind == 'manager':
        manager_works(host, port, key)
    else:
        redis_conn(host, port).close()
    print('rss_before_kib', before['VmRSS'])
    print('threads_before', before['Threads'])
    print('rss_kib', held['VmRSS'])
    print('hwm_kib', held['VmHWM'])
    print('vmsize_kib', held['VmSize'])
    print('threads', held['Threads'])
    print('kernel_stack_delta_kib', kstack)
    print('answers_after', 1)
    for c in conns:
        c.close()


if __name__ == '__main__':
    main()
