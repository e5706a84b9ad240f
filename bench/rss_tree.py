"""Peak RSS of a command, split by process (see bench/persistent.sh).

Usage: python3 bench/rss_tree.py COMMAND...  (stdin and stdout pass through)

Runs COMMAND and, every 10 ms while it runs, reads VmHWM (the kernel's peak
RSS of one process) from /proc for it and every descendant. Prints to stderr
one line `rss_tree MAIN_KB SAME_EXE_KB OTHER_KB`: the peak of COMMAND's own
process, the largest peak among descendants running the same executable (for
mp: its workers, whichever start method) and the largest among the other
descendants (for mp map: the commands the workers run). KB are KiB. Values are
the last sample before a process ended, so growth in its final 10 ms is missed.
GNU time's %M instead gives one number: the largest peak among the process and
the descendants it reaped, with no split.
"""
import os
import subprocess
import sys
import time


def read_status(pid):
    name_hwm = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "VmHWM":
                    name_hwm["hwm"] = int(value.split()[0])
        name_hwm["exe"] = os.readlink(f"/proc/{pid}/exe")
    except (OSError, ValueError):
        return None
    return name_hwm if "hwm" in name_hwm else None


def descendants(pid):
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        try:
            tasks = os.listdir(f"/proc/{p}/task")
        except OSError:
            continue
        for t in tasks:
            try:
                with open(f"/proc/{p}/task/{t}/children") as f:
                    kids = [int(k) for k in f.read().split()]
            except OSError:
                continue
            out.extend(kids)
            stack.extend(kids)
    return out


def main():
    proc = subprocess.Popen(sys.argv[1:])
    root = proc.pid
    peak = {}  # pid -> (exe, hwm); an exec starts a new entry (new image, new VmHWM)
    while proc.poll() is None:
        for pid in [root] + descendants(root):
            st = read_status(pid)
            if st is None:
                continue
            exe, hwm = peak.get(pid, (st["exe"], 0))
            peak[pid] = (st["exe"], max(hwm, st["hwm"]) if exe == st["exe"] else st["hwm"])
        time.sleep(0.01)
    root_exe, main_kb = peak.get(root, ("", 0))
    same = [h for p, (e, h) in peak.items() if p != root and e == root_exe]
    other = [h for p, (e, h) in peak.items() if p != root and e != root_exe]
    print(f"rss_tree {main_kb} {max(same, default=0)} {max(other, default=0)}", file=sys.stderr)
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
