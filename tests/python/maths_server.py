# The docs' customized manager (MathsClass registered as 'Maths') served on
# a free port: prints HOST:PORT, serves until killed.
import os
from multiprocessing.managers import BaseManager

class MathsClass:
    def add(self, x, y):
        return x + y
    def mul(self, x, y):
        return x * y

class MyManager(BaseManager):
    pass

MyManager.register('Maths', MathsClass)
m = MyManager(('127.0.0.1', 0), authkey=os.environb[b'MP_AUTHKEY'])
s = m.get_server()
print('%s:%d' % s.address, flush=True)
s.serve_forever()
