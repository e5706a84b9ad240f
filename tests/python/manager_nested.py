# Proxies stored in shared objects (the docs' nested-proxy example and more),
# through any SyncManager server (CPython's or mp serve-manager):
# tests/managers.rs runs it against both and compares the outputs (object
# addresses masked).
import multiprocessing, os, sys
from multiprocessing.managers import SyncManager
host, port = sys.argv[1].rsplit(':', 1)
key = os.environb[b'MP_AUTHKEY']
# A proxy that comes back inside a value is rebuilt with the process's
# authkey (not the manager's): without this its incref is refused, against
# CPython's server as against any other.
multiprocessing.current_process().authkey = key
m = SyncManager((host, int(port)), authkey=key)
m.connect()

# The docs' example.
a = m.list()
b = m.list()
a.append(b)         # referent of a now contains referent of b
print(a, b)
b.append('hello')
print(a[0], b)
print(m._number_of_objects())

# The stored proxy works as a proxy: changes through it show in b.
inner = a[0]
inner.append('world')
print(b, type(inner).__name__, inner._token.typeid)
del inner
# a keeps b's referent alive after the client's last proxy to it goes.
del b
print(m._number_of_objects(), a[0], str(a).count('ListProxy'))
c = a[0]
print(m._number_of_objects(), c)

# In a dict value, a Namespace attribute, a Value and a Queue item.
d = m.dict()
d['k'] = c
d['n'] = [c, {'deep': c}]
print(d)
print(d['k'], d['n'][1]['deep'])
print(d.copy()['k'], d._getvalue()['n'][0])
ns = m.Namespace()
ns.x = c
print(ns, ns.x)
v = m.Value('o', c)
print(v, v.value)
q = m.Queue()
q.put(c)
q.put({'in': c})
print(q.get(), q.get()['in'])

# Proxies of every kind travel, auto proxies with their exposed list.
e = m.dict({'x': 1})
jq = m.Queue()
holder = m.list([e, jq])
print(holder)
back = holder[1]
back.put('via stored proxy')
print(type(holder[0]).__name__, holder[0]['x'], jq.get(), sorted(back._exposed_))

# Identity: a proxy that arrives is a new object each time.
print(c in a, a.count(c), a.index(a[0]) if False else 'skip')
try:
    a.index(c)
except ValueError as err:
    print('ValueError', str(err).split(' at ')[0])
try:
    a.sort()
    print('sorted one')
except TypeError as err:
    print('TypeError', err)
a.append(m.list([0]))
try:
    a.sort()
except TypeError as err:
    print('TypeError', err)

# As a dict key: hashable, but equal only to itself, and each arrives anew.
keys = m.dict()
keys[c] = 1
print(len(keys), c in keys, keys.get(c))
keys[c] = 2
print(len(keys), sorted(keys.values()), str(keys).count('ListProxy'))
print(keys.popitem()[1], len(keys))

# Removing it from its container: the proxy that comes back still works.
popped = a.pop(0)
print(popped, a)
popped.append('!')
print(popped)
print('nested done')
