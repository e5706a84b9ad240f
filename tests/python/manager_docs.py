# The multiprocessing docs' manager examples, with the manager reached by
# address (as a client of any SyncManager server: CPython's or mp
# serve-manager) instead of started by Manager(): tests/managers.rs runs it
# against both and compares the outputs.
import os, sys
from multiprocessing import Process
from multiprocessing.managers import SyncManager


def f(d, l):
    d[1] = '1'
    d['2'] = 2
    d[0.25] = None
    l.reverse()


if __name__ == '__main__':
    host, port = sys.argv[1].rsplit(':', 1)
    manager = SyncManager((host, int(port)), authkey=os.environb[b'MP_AUTHKEY'])
    manager.connect()

    # "Server process" (Sharing state between processes).
    d = manager.dict()
    l = manager.list(range(10))
    p = Process(target=f, args=(d, l))
    p.start()
    p.join()
    print(d)
    print(l)

    # Namespace objects.
    namespace = manager.Namespace()
    namespace.x = 10
    namespace.y = 'hello'
    namespace._z = 12.3    # this is an attribute of the proxy
    print(namespace)

    # Proxy objects: a list proxy used like a list.
    l = manager.list([i * i for i in range(10)])
    print(l)
    print(repr(l).split(' at ')[0])
    print(l[4])
    print(l[2:5])
    print('docs done')
