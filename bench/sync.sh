#!/usr/bin/env bash
# Shared-state and messaging benchmarks: mp (examples/mp_benchmarks.rs, the
# seed's mp_benchmarks suite) next to CPython (bench/sync.py, the same suite
# in Python 3) and the C floors (bench/sync_floor.c), same run, alternating;
# medians of ROUNDS (default 3).
# Usage: bench/sync.sh [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
cargo build --release --quiet --example mp_benchmarks
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/sync_floor" bench/sync_floor.c -lpthread
for r in $(seq "$rounds"); do
  target/release/examples/mp_benchmarks | sed 's/^/mp /' >>"$tmp/all"
  python3 bench/sync.py | sed 's/^/py /' >>"$tmp/all"
  "$tmp/sync_floor" | sed 's/^/c /' >>"$tmp/all"
done
med() { # side key
  awk -v s="$1" -v k="$2" '$1==s && $2==k {print $3}' "$tmp/all" | sort -g |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "machine: $(nproc) cores; $(python3 --version); $rounds rounds, medians"
echo
echo "| benchmark | mp per s | CPython per s | mp / CPython |"
echo "|---|---|---|---|"
for k in queue_objects pipe_objects lock_acquire_release array_lock_true_get array_raw_get condition_round_trips; do
  awk -v k=$k -v m="$(med mp $k)" -v p="$(med py $k)" \
    'BEGIN {printf "| %s | %.0f | %.0f | %.1f× |\n", k, m, p, m/p}'
done
echo
echo "| mp benchmark | mp per s | C floor | C per s | mp / floor |"
echo "|---|---|---|---|---|"
for pair in lock_acquire_release:c_mutex condition_round_trips:futex_pingpong; do
  k=${pair%%:*} c=${pair##*:}
  awk -v k=$k -v c=$c -v m="$(med mp $k)" -v f="$(med c $c)" \
    'BEGIN {printf "| %s | %.0f | %s | %.0f | %.0f%% |\n", k, m, c, f, 100*m/f}'
done
