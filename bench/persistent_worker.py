"""A persistent `mp map --persistent` worker, as a user would write it (see bench/persistent.sh).

Reads one record per line on stdin and writes one reply line per record (the
number doubled) on stdout. Each reply is one write followed by a flush: the
reply reaches mp at once whether or not stdout is buffered (mp sets
PYTHONUNBUFFERED=1 for its workers, but the same script then also works under
any runner that does not), so the worker never holds a reply while mp waits
for it. The cost is one write syscall per record.
"""
import sys

for line in sys.stdin:
    sys.stdout.write(f"{int(line) * 2}\n")
    sys.stdout.flush()
