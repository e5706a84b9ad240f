#!/usr/bin/env bash
# Two builds of mp's connection layer alternating within each round: the
# examples bench_foundation (256-byte Pipe objects and bytes, child →
# parent) and bench_wire (64-byte round trips and 1 MiB messages over TCP
# 127.0.0.1 and Unix sockets); medians and new/old.
# OLD and NEW are directories holding both example binaries, e.g.
#   git archive COMMIT | tar -x -C /tmp/old-src
#   (cd /tmp/old-src && CARGO_TARGET_DIR=/tmp/old-target cargo build --release \
#      --example bench_wire --example bench_foundation)
#   bench/ab_wire.sh /tmp/old-target/release/examples target/release/examples
# Usage: bench/ab_wire.sh OLD NEW [ROUNDS]   (default 9)
set -euo pipefail
old=$1
new=$2
rounds=${3:-9}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for _ in $(seq "$rounds"); do
  for v in old new; do
    d=$old
    [[ $v == new ]] && d=$new
    {
      "$d/bench_foundation" pipe 300000
      "$d/bench_wire" tcp 20000 256
      "$d/bench_wire" unix 20000 256
    } | sed "s/^/$v /" >>"$tmp/runs"
  done
done
med() {
  awk -v v="$1" -v k="$2" '$1 == v && $2 == k {print $3}' "$tmp/runs" | sort -g |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $rounds rounds, medians"
echo
echo "| measurement | old | new | new / old |"
echo "|---|---|---|---|"
for k in pipe_objects pipe_bytes tcp_roundtrips unix_roundtrips tcp_bulk unix_bulk; do
  unit=$(awk -v k=$k '$2 == k {print $4; exit}' "$tmp/runs")
  awk -v k="$k ($unit)" -v o="$(med old $k)" -v n="$(med new $k)" \
    'BEGIN {printf "| %s | %s | %s | %.3f |\n", k, o, n, n / o}'
done
