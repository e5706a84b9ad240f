# Every SyncManager typeid but Pool/AsyncResult, and every method it exposes,
# through any SyncManager server (CPython's or mp serve-manager), error paths
# included: tests/managers.rs runs it against both and compares the outputs.
# (Locks, semaphores and events are in manager_sync.py; Condition and Barrier
# in manager_cond.py; this file adds their str/getvalue forms.)
import array, os, queue, sys
from multiprocessing.managers import SyncManager, RemoteError
host, port = sys.argv[1].rsplit(':', 1)
m = SyncManager((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()


def show(label, f):
    """Runs f(); prints its result or the exception it raised (for a
    RemoteError, the traceback's first and last lines: the frames differ)."""
    try:
        print(label, 'ok', repr(f()))
    except RemoteError as e:
        lines = [l for l in str(e).splitlines()
                 if l.strip() and not l.startswith('-' * 20)]
        print(label, 'RemoteError', lines[0].split(':')[0], '|', lines[-1])
    except Exception as e:
        print(label, type(e).__name__, e)


# ---- dict: every exposed method ----
d = m.dict({'a': 1, 'b': [2]}, c=3)
show('dict.__contains__', lambda: ('a' in d, 'z' in d))
show('dict.__getitem__', lambda: d['b'])
show('dict.__getitem__ missing', lambda: d['zz'])
show('dict.__getitem__ unhashable', lambda: d[[1]])
show('dict.__setitem__', lambda: d.__setitem__((1, 2), {'n': None}))
show('dict.__setitem__ unhashable', lambda: d.__setitem__({}, 1))
show('dict.__getitem__ no argument', lambda: d._callmethod('__getitem__', ()))
show('dict.__setitem__ three arguments', lambda: d._callmethod('__setitem__', (1, 2, 3)))
show('dict.__delitem__ no argument', lambda: d._callmethod('__delitem__', ()))
show('dict.__contains__ no argument', lambda: d._callmethod('__contains__', ()))
show('dict.get no argument', lambda: d._callmethod('get', ()))
show('dict.get four arguments', lambda: d.get(1, 2, 3, 4))
show('dict.__delitem__', lambda: d.__delitem__('c'))
show('dict.__delitem__ missing', lambda: d.__delitem__('c'))
show('dict.__len__', lambda: len(d))
show('dict.__iter__', lambda: list(d))
show('dict.keys', lambda: d.keys())
show('dict.values', lambda: d.values())
show('dict.items', lambda: d.items())
show('dict.get', lambda: (d.get('a'), d.get('q'), d.get('q', 'dflt')))
show('dict.setdefault', lambda: (d.setdefault('a', 9), d.setdefault('s', 9), d.setdefault('t')))
show('dict.pop', lambda: (d.pop('s'), d.pop('s', 'gone')))
show('dict.pop missing', lambda: d.pop('s'))
show('dict.popitem', lambda: d.popitem())
show('dict.update', lambda: d.update([('u', 1), ('v', 2)], w=3))
show('dict.update bad', lambda: d.update([(1, 2, 3)]))
show('dict.update not iterable', lambda: d.update(5))
show('dict.copy', lambda: d.copy())
show('dict str', lambda: str(d))
show('dict getvalue', lambda: d._getvalue())
show('dict.clear', lambda: d.clear())
show('dict.popitem empty', lambda: d.popitem())
show('dict empty', lambda: (len(d), str(d)))
d2 = m.dict([(1, 'one'), (2.0, 'two')])
show('dict keys are Python values', lambda: (d2[1.0], d2[True], d2[2]))
show('dict not exposed', lambda: d2._callmethod('nonesuch'))
it = iter(d2)
show('iterator.__next__', lambda: (next(it), next(it)))
show('iterator exhausted', lambda: next(it))
show('iterator str', lambda: str(it).split(' at ')[0])
show('iterator getvalue', lambda: list(iter(d2)._getvalue()))
for name in ('send', 'throw', 'close'):
    show('iterator.' + name, lambda: getattr(iter(d2), name)(None))

# ---- list: every exposed method ----
l = m.list([3, 1, 2])
show('list.__add__', lambda: l + [4])
show('list.__add__ tuple', lambda: l + (4,))
show('list.__contains__', lambda: (1 in l, 9 in l))
show('list.__getitem__', lambda: (l[0], l[-1], l[1:], l[::-1]))
show('list.__getitem__ out of range', lambda: l[5])
show('list.__getitem__ str', lambda: l['x'])
show('list.__setitem__', lambda: l.__setitem__(0, 30))
show('list.__setitem__ out of range', lambda: l.__setitem__(5, 0))
show('list.__setitem__ slice', lambda: l.__setitem__(slice(1, 2), ['a', 'b']))
show('list.__setitem__ slice not iterable', lambda: l.__setitem__(slice(1, 2), 5))
show('list.__setitem__ extended', lambda: l.__setitem__(slice(None, None, 2), [7]))
show('list after setitem', lambda: l[:])
show('list.__delitem__', lambda: l.__delitem__(0))
show('list.__delitem__ slice', lambda: l.__delitem__(slice(0, 1)))
show('list.__delitem__ out of range', lambda: l.__delitem__(9))
show('list.__len__', lambda: len(l))
show('list.__mul__', lambda: l * 2)
show('list.__mul__ str', lambda: l * 'x')
show('list.__rmul__', lambda: 3 * l)
show('list.__imul__', lambda: l.__imul__(2))
show('list after imul', lambda: l[:])
show('list.__reversed__', lambda: list(reversed(l)))
show('list.append', lambda: l.append([1, 2]))
show('list.extend', lambda: l.extend((5, 'ab')))
show('list.extend str', lambda: l.extend('xy'))
show('list.extend not iterable', lambda: l.extend(3))
show('list.count', lambda: (l.count(2), l.count('x'), l.count(99)))
show('list.index', lambda: (l.index(2), l.index('x'), l.index(2, 2)))
show('list.index missing', lambda: l.index(99))
show('list.insert', lambda: (l.insert(0, 'first'), l.insert(-1, 'pen'), l.insert(99, 'last')))
show('list.pop', lambda: (l.pop(), l.pop(0), l.pop(-2)))
show('list.pop out of range', lambda: l.pop(99))
show('list.remove', lambda: l.remove('x'))
show('list.remove missing', lambda: l.remove('nope'))
show('list.reverse', lambda: l.reverse())
show('list now', lambda: l[:])
show('list.sort mixed', lambda: l.sort())
ln = m.list([5, 2.5, True, -1, 10**20])
show('list.sort', lambda: (ln.sort(), ln[:]))
show('list.sort reverse', lambda: (ln.sort(reverse=True), ln[:]))
lt = m.list([(2, 'b'), (1, 'z'), (2, 'a'), (1, 'a')])
show('list.sort tuples', lambda: (lt.sort(), lt[:]))
ls = m.list(['b', 'a', None])
show('list.sort None', lambda: ls.sort())
le = m.list()
show('list.pop empty', lambda: le.pop())
show('list str', lambda: (str(ln), repr(ln)[:10]))
show('list getvalue', lambda: ln._getvalue())
show('list not exposed', lambda: l._callmethod('nonesuch'))

# ---- Namespace ----
ns = m.Namespace(a=1, b='two')
show('Namespace.__getattribute__', lambda: (ns.a, ns.b))
show('Namespace.__getattribute__ missing', lambda: ns.zz)
show('Namespace.__setattr__', lambda: setattr(ns, 'c', [3]))
show('Namespace.__delattr__', lambda: delattr(ns, 'a'))
show('Namespace.__delattr__ missing', lambda: delattr(ns, 'a'))
show('Namespace str', lambda: str(ns))
show('Namespace getvalue', lambda: ns._getvalue())

# ---- Value ----
v = m.Value('d', 2.5)
show('Value.get', lambda: (v.get(), v.value))
show('Value.set', lambda: (v.set('any'), v.value))
show('Value str', lambda: str(v))
show('Value getvalue', lambda: v._getvalue())

# ---- Array: every exposed method, per typecode ----
a = m.Array('i', [1, 2, 3, 4, 5])
show('Array.__len__', lambda: len(a))
show('Array.__getitem__', lambda: (a[0], a[-1]))
show('Array.__getitem__ slice', lambda: (a[1:3], a[::-2]))
show('Array.__getitem__ out of range', lambda: a[5])
show('Array.__getitem__ str', lambda: a['x'])
show('Array.__setitem__', lambda: (a.__setitem__(0, 10), a[0]))
show('Array.__setitem__ float', lambda: a.__setitem__(0, 1.5))
show('Array.__setitem__ overflow', lambda: a.__setitem__(0, 2**40))
show('Array.__setitem__ out of range', lambda: a.__setitem__(5, 1))
show('Array.__setitem__ slice', lambda: (a.__setitem__(slice(1, 3), array.array('i', [7])), a[:]))
show('Array.__setitem__ slice list', lambda: a.__setitem__(slice(1, 3), [7]))
show('Array.__setitem__ slice typecode', lambda: a.__setitem__(slice(1, 3), array.array('d', [7])))
show('Array.__setitem__ extended', lambda: a.__setitem__(slice(None, None, 2), array.array('i', [1, 2, 3, 4])))
show('Array.__setitem__ extended ok', lambda: (a.__setitem__(slice(None, None, 2), array.array('i', [8, 9])), a[:]))
show('Array str', lambda: str(a))
show('Array getvalue', lambda: a._getvalue())
show('Array not exposed', lambda: a._callmethod('append', (1,)))
for code, items in [('b', [-128, 127]), ('B', [0, 255]), ('h', [-2**15]), ('H', [2**16 - 1]),
                    ('i', [-2**31]), ('I', [2**32 - 1]), ('l', [-2**63]), ('L', [2**64 - 1]),
                    ('q', [2**63 - 1]), ('Q', [2**64 - 1]), ('f', [0.1, 1e40]), ('d', [0.1, -0.0]),
                    ('u', 'hé')]:
    arr = m.Array(code, items)
    show('Array %s' % code, lambda: (arr[:], str(arr), arr._getvalue()))
for code, bad in [('b', 128), ('b', 2**15), ('B', -1), ('h', 2**15), ('H', -1), ('H', 2**31),
                  ('i', 2**31), ('I', -1), ('I', 2**32), ('l', 2**63), ('L', -1), ('L', 2**64),
                  ('q', 2**63), ('Q', -1), ('Q', 2**64), ('i', 'x'), ('i', None), ('d', 'x'),
                  ('d', 10**400), ('u', 'ab'), ('u', 1)]:
    show('Array %s[0] = %r' % (code, bad), lambda: m.Array(code, [bad]))
show('Array from bytes', lambda: m.Array('h', b'\x01\x00\x02\x00')[:])
show('Array bytes length', lambda: m.Array('i', b'abc'))
show('Array str for i', lambda: m.Array('i', 'abc'))
show('Array range', lambda: m.Array('b', range(3))[:])
show('Array not iterable', lambda: m.Array('i', 5))
show('Array no sequence', lambda: m.Array('i'))
show('Array typecode', lambda: m.Array('ii', []))

# ---- Queue / JoinableQueue: every exposed method ----
q = m.Queue(2)
show('Queue.empty/full/qsize', lambda: (q.empty(), q.full(), q.qsize()))
show('Queue.put', lambda: (q.put('a'), q.put_nowait(['b'])))
show('Queue full', lambda: (q.full(), q.qsize()))
show('Queue.put_nowait Full', lambda: q.put_nowait('c'))
show('Queue.put timeout Full', lambda: q.put('c', True, 0.05))
show('Queue.put non-blocking Full', lambda: q.put('c', False))
show('Queue.get', lambda: (q.get(), q.get_nowait()))
show('Queue.get_nowait Empty', lambda: q.get_nowait())
show('Queue.get negative timeout', lambda: q.get(True, -1))
show('Queue.put negative timeout', lambda: q.put('x', True, -1))
show('Queue.get timeout Empty', lambda: q.get(timeout=0.05))
show('Queue.get non-blocking Empty', lambda: q.get(False))
show('Queue.task_done', lambda: (q.task_done(), q.task_done()))
show('Queue.task_done too many', lambda: q.task_done())
show('Queue.join', lambda: q.join())
show('Queue str', lambda: str(q).split(' at ')[0])
show('Queue getvalue', lambda: q._getvalue())
jq = m.JoinableQueue()
show('JoinableQueue', lambda: (jq.put(1), jq.get(), jq.task_done(), jq.join(), jq.empty()))

# ---- the rest: str and getvalue forms ----
for name, make in [('Lock', m.Lock), ('RLock', m.RLock), ('Semaphore', lambda: m.Semaphore(2)),
                   ('BoundedSemaphore', m.BoundedSemaphore), ('Event', m.Event),
                   ('Condition', m.Condition), ('Barrier', lambda: m.Barrier(2))]:
    p = make()
    show(name + ' str', lambda: str(p).split(' at ')[0].split(' owner=')[0])
    show(name + ' getvalue', lambda: p._getvalue())
show('Semaphore negative', lambda: m.Semaphore(-1))
show('unknown typeid', lambda: m._create('Nonesuch'))
print('all typeids done')
