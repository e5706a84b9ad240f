# Python 3.14's manager additions (the set typeid; list clear/copy; dict |,
# |=, reversed, fromkeys; locked() on the locks), called the way a 3.14 typed
# proxy calls them (_callmethod) from an older client. With 'local' as the
# argument the same operations run on plain local Python objects instead:
# tests/managers.rs compares the two outputs (an mp serve-manager answers as
# Python does).
import os, sys, threading
from multiprocessing.managers import SyncManager

local = sys.argv[1] == 'local'
if local:
    make = {'set': set, 'list': list, 'dict': dict, 'Lock': threading.Lock,
            'RLock': threading.RLock, 'Semaphore': threading.Semaphore,
            'BoundedSemaphore': threading.BoundedSemaphore,
            'Condition': threading.Condition}

    def call(obj, name, *args):
        return getattr(obj, name)(*args)

    def value(obj):
        return obj

    def locked(obj):
        # What locked() means in 3.14, for the types 3.11 lacks it on.
        if hasattr(obj, 'locked'):
            return obj.locked()
        if isinstance(obj, threading.Condition):
            obj = obj._lock
        if hasattr(obj, '_value'):
            return obj._value == 0
        return repr(obj).startswith('<locked')
else:
    class Manager314(SyncManager):
        pass
    # The 3.11 client has no SetProxy: an AutoProxy takes the server's list.
    Manager314.register('set')
    host, port = sys.argv[1].rsplit(':', 1)
    m = Manager314((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
    m.connect()
    make = {'set': m.set, 'list': m.list, 'dict': m.dict, 'Lock': m.Lock,
            'RLock': m.RLock, 'Semaphore': m.Semaphore,
            'BoundedSemaphore': m.BoundedSemaphore, 'Condition': m.Condition}

    def call(obj, name, *args):
        return obj._callmethod(name, args)

    def value(obj):
        return obj._getvalue()

    def locked(obj):
        return obj._callmethod('locked')


def norm(x):
    """A form that prints the same whatever order a set happens to be in."""
    if isinstance(x, (set, frozenset)):
        return '%s%s' % (type(x).__name__, sorted(x, key=repr))
    if type(x).__name__.endswith('iterator'):
        return 'iter%s' % list(x)
    return repr(x)


def show(label, f):
    try:
        print(label, 'ok', norm(f()))
    except Exception as e:
        if type(e).__name__ == 'RemoteError':
            # A create that failed in the server: its traceback's last line.
            last = [l for l in str(e).splitlines() if l.strip() and l[0] != '-'][-1]
            print(label, *last.split(': ', 1))
        else:
            print(label, type(e).__name__, e)


# ---- set: every exposed method ----
s = make['set']([1, 2, 3])
for name, args in [
        ('__len__', ()), ('__contains__', (2,)), ('__contains__', (9,)),
        ('__contains__', ([1],)), ('__contains__', ({1},)),
        ('__and__', ({2, 3, 4},)), ('__and__', ([2],)), ('__rand__', (frozenset({3, 9}),)),
        ('__or__', ({4},)), ('__or__', ('x',)), ('__ror__', (frozenset({0}),)),
        ('__sub__', ({1},)), ('__rsub__', ({1, 2, 7},)), ('__rsub__', (frozenset({1, 7}),)),
        ('__xor__', ({3, 4},)), ('__rxor__', ({3, 4},)), ('__rxor__', (5,)),
        ('__le__', ({1, 2, 3, 4},)), ('__le__', ({1},)), ('__lt__', ({1, 2, 3},)),
        ('__ge__', ({1},)), ('__gt__', ({1, 2, 3},)), ('__gt__', ([1],)),
        ('__iter__', ()), ('__class_getitem__', (int,)),
        ('copy', ()), ('difference', ([1], (2,))), ('intersection', ([1, 2, 9], {2, 9})),
        ('intersection', ()), ('isdisjoint', ([7],)), ('isdisjoint', ([1],)),
        ('issubset', (range(5),)), ('issuperset', ([1, 1],)),
        ('symmetric_difference', ('ab',)), ('union', ([4], 'x')), ('union', (5,)),
        ('add', ([1],)), ('remove', (99,)), ('isdisjoint', ()),
]:
    show('set.%s%r' % (name, args), lambda: call(s, name, *args))
for name, args in [
        ('add', (4,)), ('add', (4,)), ('discard', (1,)), ('discard', (99,)),
        ('remove', (2,)), ('update', ([5, 6], {7})), ('difference_update', ([7],)),
        ('intersection_update', ([3, 4, 5, 6, 8],)), ('symmetric_difference_update', ({3, 10},)),
        ('__ior__', ({11},)), ('__iand__', ({4, 5, 6, 10, 11},)), ('__isub__', ({4},)),
        ('__ixor__', ({5, 12},)), ('__ior__', ([1],)),
]:
    show('set.%s%r' % (name, args), lambda: call(s, name, *args))
    print('  now', norm(value(s)))
show('set.pop', lambda: sorted(call(s, 'pop') for _ in range(4)))
show('set.pop empty', lambda: call(s, 'pop'))
t = make['set']('abc')
show('set.clear', lambda: (call(t, 'clear'), norm(value(t))))
show('set of unhashable', lambda: make['set']([[1]]))
show('set of str', lambda: norm(value(make['set']('aab'))))

# ---- list: clear, copy ----
l = make['list']([1, [2], 'x'])
show('list.copy', lambda: call(l, 'copy'))
show('list.clear', lambda: (call(l, 'clear'), value(l)))

# ---- dict: |, |=, reversed, fromkeys ----
d = make['dict']({'a': 1, 'b': 2})
show('dict.__or__', lambda: call(d, '__or__', {'b': 3, 'c': 4}))
show('dict.__or__ list', lambda: call(d, '__or__', [('b', 3)]))
show('dict.__ror__', lambda: call(d, '__ror__', {'b': 3, 'z': 0}))
show('dict.__ror__ int', lambda: call(d, '__ror__', 5))
show('dict.__reversed__', lambda: call(d, '__reversed__'))
show('dict.fromkeys', lambda: call(d, 'fromkeys', 'xy', 0))
show('dict.fromkeys default', lambda: call(d, 'fromkeys', [1, 2]))
show('dict.fromkeys unhashable', lambda: call(d, 'fromkeys', [[1]]))
show('dict.__ior__', lambda: (call(d, '__ior__', [('c', 5)]), value(d)))
show('dict.__ior__ dict', lambda: (call(d, '__ior__', {'a': 0}), value(d)))
show('dict.__ior__ bad', lambda: call(d, '__ior__', 5))

# ---- locked() ----
for name in ('Lock', 'RLock', 'Semaphore', 'BoundedSemaphore', 'Condition'):
    p = make[name]()
    before = locked(p)
    p.acquire()
    during = locked(p)
    p.release()
    print(name, 'locked', before, during, locked(p))
print('py314 done')
