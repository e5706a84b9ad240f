# A Python client of the objects `mp queue`, `mp dict` and `mp lock` made
# from the shell, reached as the docs' remote-manager example reaches a
# registered name: M.register('jobs'); m.jobs(). Run with HOST:PORT as
# argv[1] and the key in MP_AUTHKEY.
import os, sys
from multiprocessing.managers import AcquirerProxy, BaseManager

class M(BaseManager):
    pass

M.register('jobs')
M.register('counts')
# AcquirerProxy (SyncManager's proxy for locks) gives `with`; a plain
# register('counter_lock') gives acquire() and release().
M.register('counter_lock', proxytype=AcquirerProxy)

host, port = sys.argv[1].rsplit(':', 1)
m = M(address=(host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
m.connect()

jobs = m.jobs()
got = jobs.get(timeout=10)
print('python got', repr(got))
jobs.put('from-python')
jobs.put({'n': 1, 'ok': True, 'tags': ['a', 'b']})

counts = m.counts()
with m.counter_lock():
    counts['python'] = counts.get('python', 0) + 1
counts._callmethod('incr', ('total', 1))
print('python counts', sorted(counts.items()))
