#!/usr/bin/env bash
# Shared-state benchmarks: mp (examples/mp_benchmarks.rs) next to CPython
# (bench/sync.py), same run, alternating; medians of ROUNDS (default 3).
# Usage: bench/sync.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --quiet --example mp_benchmarks
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for r in $(seq "$rounds"); do
  target/release/examples/mp_benchmarks | sed 's/^/mp /' >>"$tmp/all"
  python3 bench/sync.py | sed 's/^/py /' >>"$tmp/all"
done
echo "machine: $(nproc) cores; $(python3 --version); $rounds rounds, medians"
echo
echo "| benchmark | mp per s | CPython per s | mp / CPython |"
echo "|---|---|---|---|"
for k in lock_acquire_release array_lock_true_get array_raw_get condition_round_trips; do
  m=$(awk -v k=$k '$1=="mp" && $2==k {print $3}' "$tmp/all" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  p=$(awk -v k=$k '$1=="py" && $2==k {print $3}' "$tmp/all" | sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
  awk -v k=$k -v m="$m" -v p="$p" 'BEGIN {printf "| %s | %.0f | %.0f | %.1f× |\n", k, m, p, m/p}'
done
