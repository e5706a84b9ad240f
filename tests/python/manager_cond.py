# Condition and Barrier through any SyncManager server (CPython's or mp
# serve-manager): tests/managers.rs runs it against both and compares.
import os, sys, threading, time
from multiprocessing.managers import SyncManager
from threading import BrokenBarrierError
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()
cond = m.Condition()
try:
    cond.notify()
except RuntimeError as e:
    print('RuntimeError', e)
try:
    cond.wait(0.01)
except RuntimeError as e:
    print('RuntimeError', e)
with cond:
    print('timed out:', cond.wait(0.05))
box = m.list()
def producer():
    with cond:
        box.append('made')
        cond.notify()
with cond:
    threading.Thread(target=producer).start()
    print('woken:', cond.wait_for(lambda: len(box) > 0, 10), box[:])
print(cond.acquire(), cond.acquire(), cond.release(), cond.release())
# notify_all wakes every waiter: two threads wait (the condition's repr
# counts its waiters: polled, with a deadline), then one call wakes both.
with cond:
    cond.notify_all()
woken = m.list()
def waiter():
    with cond:
        woken.append(cond.wait(10))
ws = [threading.Thread(target=waiter) for _ in range(2)]
for t in ws:
    t.start()
deadline = time.monotonic() + 10
while not str(cond).endswith(', 2)>') and time.monotonic() < deadline:
    time.sleep(0.01)
print('waiting:', str(cond)[-4:])
with cond:
    cond.notify_all()
for t in ws:
    t.join()
print('notify_all woke:', woken[:])
bar = m.Barrier(3)
print(bar.parties, bar.n_waiting, bar.broken)
got = []
def party():
    got.append(bar.wait(10))
ts = [threading.Thread(target=party) for _ in range(2)]
for t in ts:
    t.start()
got.append(bar.wait(10))
for t in ts:
    t.join()
print(sorted(got))
try:
    bar.wait(0.05)
except BrokenBarrierError:
    print('broken after a timeout:', bar.broken)
bar.reset()
print('after reset:', bar.broken)
bar.abort()
try:
    bar.wait(1)
except BrokenBarrierError:
    print('aborted')
