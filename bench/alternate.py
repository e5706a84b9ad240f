#!/usr/bin/env python3
"""Start-up A/B: runs each command N times, alternating the commands in
every round (reversing the order every other round), and prints the median
and quartiles of each one's wall time. For short runs (an `mp map` of one
record) where hyperfine's one-command-after-another order lets a change in
the machine's speed fall on one contender.
Usage: bench/alternate.py N 'CMD ARGS...' 'CMD ARGS...' ...
  (each command is split on spaces; stdin, stdout and stderr are /dev/null)
"""
import os
import statistics
import subprocess
import sys
import time

if len(sys.argv) < 3:
    sys.exit(__doc__)
n = int(sys.argv[1])
cmds = [c.split() for c in sys.argv[2:]]
times = [[] for _ in cmds]
with open(os.devnull, "w") as devnull:
    for i in range(n):
        order = list(range(len(cmds)))
        if i % 2:
            order.reverse()
        for k in order:
            t = time.perf_counter()
            subprocess.run(cmds[k], stdout=devnull, stderr=devnull, stdin=subprocess.DEVNULL)
            times[k].append((time.perf_counter() - t) * 1000)
for c, t in zip(sys.argv[2:], times):
    q = statistics.quantiles(t, n=4)
    print(f"{statistics.median(t):6.2f} ms median (quartiles {q[0]:.2f}-{q[2]:.2f})  {c}")
