# Locks, semaphores and events through any SyncManager server (CPython's or
# mp serve-manager): tests/managers.rs runs it against both and compares.
import os, sys, threading, time
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()
lock = m.Lock()
print(lock.acquire(), lock.acquire(False), lock.acquire(True, 0.05))
lock.release()
try:
    lock.release()
except RuntimeError as e:
    print('RuntimeError', e)
with lock:
    print('in with')
r = m.RLock()
print(r.acquire(), r.acquire(), r.acquire(blocking=False))
r.release(); r.release(); r.release()
try:
    r.release()
except RuntimeError as e:
    print('RuntimeError', e)
s = m.Semaphore(2)
print(s.acquire(), s.acquire(), s.acquire(False))
s.release(); s.release(); s.release()
print(s.acquire(False), s.acquire(False), s.acquire(False), s.acquire(False))
b = m.BoundedSemaphore(1)
print(b.acquire())
b.release()
try:
    b.release()
except ValueError as e:
    print('ValueError', e)
ev = m.Event()
print(ev.is_set(), ev.wait(0.05))
# Another thread (its own connection) sets it while this one waits.
threading.Timer(0.2, ev.set).start()
print(ev.wait(10), ev.is_set())
ev.clear(); print(ev.is_set())
# A lock taken by another thread is waited for, then acquired.
lock.acquire()
def holder():
    time.sleep(0.2)
    lock.release()
threading.Thread(target=holder).start()
print(lock.acquire(True, 10))
lock.release()
print(repr(ev) == repr(ev), str(lock).startswith('<'))
