# CPython's own SyncManager server on a free port: prints HOST:PORT, serves
# until stdin closes.
import os, sys
from multiprocessing.managers import SyncManager
m = SyncManager(('127.0.0.1', 0), authkey=os.environb[b'MP_AUTHKEY'])
m.start()
print('%s:%d' % m.address, flush=True)
sys.stdin.read()
m.shutdown()
