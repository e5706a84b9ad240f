#!/usr/bin/env bash
# Wire benchmark: mp's Listener/client (examples/bench_wire.rs) next to
# CPython's multiprocessing.connection (bench/wire.py) and a raw socket
# ping-pong in C with the same framing (bench/wire_floor.c), same run,
# alternating; TCP on 127.0.0.1 and Unix sockets; medians of ROUNDS.
# Usage: bench/wire.sh [ROUNDS]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
n=${N:-20000}
mib=${MIB:-512}
cargo build --release --quiet --example bench_wire
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/wire_floor" bench/wire_floor.c
for r in $(seq "$rounds"); do
  for kind in tcp unix; do
    target/release/examples/bench_wire "$kind" "$n" "$mib" | sed 's/^/mp /' >>"$tmp/all"
    python3 bench/wire.py "$kind" "$n" "$mib" | sed 's/^/py /' >>"$tmp/all"
    "$tmp/wire_floor" "$kind" "$n" "$mib" | sed 's/^/c /' >>"$tmp/all"
  done
done
med() {
  awk -v s="$1" -v k="$2" '$1==s && $2==k {print $3}' "$tmp/all" | sort -g |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "machine: $(nproc) cores; $(python3 --version); $rounds rounds, medians; $n round trips of 64 bytes, $mib x 1 MiB one way"
echo
echo "| measurement | mp | CPython | raw C floor | mp / CPython | mp / floor |"
echo "|---|---|---|---|---|---|"
for k in tcp_roundtrips unix_roundtrips tcp_bulk unix_bulk; do
  unit=$(awk -v k=$k '$2==k {print $4; exit}' "$tmp/all")
  awk -v k=$k -v u="$unit" -v m="$(med mp $k)" -v p="$(med py $k)" -v c="$(med c $k)" \
    'BEGIN {printf "| %s (%s) | %s | %s | %s | %.2f× | %.0f%% |\n", k, u, m, p, c, m/p, 100*m/c}'
done
