# The same calls against any SyncManager server (CPython's or mp serve-manager):
# tests/managers.rs runs it against both and compares the outputs.
import os, sys, queue
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()
d = m.dict()
d['a'] = 1
d[2] = [1, 2.5, 'x']
d[(1, 'k')] = None
d[1.0] = 'one'   # same key as True/1? no: 1 is not a key yet
print(d['a'], d[2], d.get('zz', 'dflt'), 'a' in d, len(d))
print(sorted(map(repr, d.keys())), d.items()[:2])
print(repr(d), str(d))
print(d.copy())
try:
    d['missing']
except KeyError as e:
    print('KeyError', e)
print(list(d))
print(d.pop('a'), d.setdefault('n', 5), d.popitem())
d.update({'u': 1}, v=2)
print(d.copy())
l = m.list([3, 1, 2])
l.append('x'); l.extend([5]); l.insert(0, 9)
print(l[0], l[-1], len(l), l.count(1), l.index(2), 3 in l)
try:
    l.sort()
except TypeError as e:
    print('TypeError', e)
l.remove('x'); l.sort(); print(l, repr(l))
l.sort(reverse=True); print(l[:])
try:
    l[99]
except IndexError as e:
    print('IndexError', e)
print(l + [7], l * 2)
ns = m.Namespace()
ns.x = 10; ns.y = 'why'
print(ns.x, ns.y)
try:
    ns.z
except AttributeError as e:
    print('AttributeError', e)
v = m.Value('i', 5)
print(v.value); v.value = 7; print(v.value, v.get())
q = m.Queue()
q.put('item-1'); q.put(2)
print(q.qsize(), q.empty(), q.get(), q.get_nowait())
try:
    q.get_nowait()
except queue.Empty:
    print('Empty')
try:
    q.get(timeout=0.1)
except queue.Empty:
    print('Empty after timeout')
jq = m.JoinableQueue(); jq.put(1); jq.get(); jq.task_done(); jq.join(); print('joined')
l2 = m.list(range(10))
print(l2[2:5], l2[::-3], l2[-2:], l2[5:2])
l2[1:3] = ['a', 'b', 'c']; del l2[::4]; print(l2[:])
m2 = m.dict({'k': 1}); print(m2.copy(), m2.keys(), m2.values())
print(d == d, repr(ns), str(v))
