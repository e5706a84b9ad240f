# A Python consumer: the same loop, reaching the names as the docs'
# remote-manager example does.
import os
from multiprocessing.managers import AcquirerProxy, BaseManager

class M(BaseManager):
    pass

M.register('jobs')
M.register('done')
M.register('tally', proxytype=AcquirerProxy)  # AcquirerProxy gives `with`

host, port = os.environ['MP_ADDRESS'].rsplit(':', 1)
key = open(os.environ['MP_AUTHKEY_FILE'], 'rb').read().strip()
m = M(address=(host, int(port)), authkey=key)
m.connect()
jobs, done = m.jobs(), m.done()
while (f := jobs.get()) != 'STOP':
    with open(f) as lines:
        n = sum(1 for _ in lines)
    with m.tally():
        with open('total') as t:
            before = int(t.read())
        with open('total', 'w') as t:
            t.write(f'{before + n}\n')
    done._callmethod('incr', ('python',))  # mp's dict incr, by name
