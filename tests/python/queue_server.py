# The docs' remote-manager server: a queue registered as 'get_queue' on a
# free port: prints HOST:PORT, serves until killed.
import os, queue
from multiprocessing.managers import BaseManager

q = queue.Queue()
class QueueManager(BaseManager):
    pass

QueueManager.register('get_queue', callable=lambda: q)
m = QueueManager(('127.0.0.1', 0), authkey=os.environb[b'MP_AUTHKEY'])
s = m.get_server()
print('%s:%d' % s.address, flush=True)
s.serve_forever()
