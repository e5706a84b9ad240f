# A Python worker for `mp map --listen ADDR`: it takes records in batches
# and answers each with the record upper-cased, instead of running COMMAND.
# Usage: MP_AUTHKEY=... python3 remote_worker.py HOST:PORT (or a socket path)
import os, socket, sys
from multiprocessing.managers import BaseManager

class Coordinator(BaseManager):
    pass

Coordinator.register('mp_tasks')

where = sys.argv[1]
if ':' in where:
    host, port = where.rsplit(':', 1)
    where = (host, int(port))
m = Coordinator(address=where, authkey=os.environb[b'MP_AUTHKEY'])
m.connect()
tasks = m.mp_tasks()
worker_id, settings = tasks.hello(socket.gethostname(), 4)
results = []
while True:
    # Hand in the results, lease up to 8 records (waiting up to 1 s).
    batch, control = tasks.exchange(worker_id, results, 8, 1.0)
    # (seq, exit_code, stdout[, stderr, ...]) per record.
    results = [(seq, 0, record.upper() + b'\n') for seq, record in batch]
    if control != 'run' and not results:
        break
sys.exit(0 if control == 'end' else 1)
