#!/usr/bin/env bash
# Foundation benchmark: process start+join per start method, and 256-byte Pipe
# throughput, mp next to CPython in the same run. Rounds alternate mp and
# CPython so machine load hits both alike; the table shows medians of rounds.
# Usage: bench/foundation.sh [ROUNDS]   (default 5; about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
cargo build --release --quiet --example bench_foundation
rs=target/release/examples/bench_foundation
py=${PYTHON:-python3}
out=$(mktemp)
floor=$(mktemp)
trap 'rm -f "$out" "$floor"' EXIT
gcc -O2 -o "$floor" bench/pipe_floor.c
for r in $(seq "$rounds"); do
  for m in fork spawn forkserver; do
    n=50; [[ $m == spawn ]] && n=20
    "$rs" start "$m" "$n" | sed 's/^/mp /' >>"$out"
    "$py" bench/foundation.py start "$m" "$n" | sed 's/^/py /' >>"$out"
  done
  "$rs" pipe 200000 | sed 's/^/mp /' >>"$out"
  "$py" bench/foundation.py pipe 200000 | sed 's/^/py /' >>"$out"
  "$floor" 200000 | sed 's/^/floor /' >>"$out"
done
echo "machine: $(nproc) cores; $($py --version); $rounds rounds, medians"
echo
echo "| measurement | mp | CPython | CPython/mp (higher: mp faster) | target |"
echo "|---|---|---|---|---|"
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for key in start_fork start_spawn start_forkserver pipe_objects pipe_bytes; do
  m=$(awk -v k="$key" '$1=="mp" && $2==k {print $3}' "$out" | median)
  p=$(awk -v k="$key" '$1=="py" && $2==k {print $3}' "$out" | median)
  unit=$(awk -v k="$key" '$2==k {print $4; exit}' "$out")
  case $key in
    start_forkserver) target="≤ 1 ms" ;;
    start_spawn) target="≤ 5 ms" ;;
    start_fork) target="—" ;;
    pipe_objects) target="≥ 5× CPython" ;;
    pipe_bytes) target="" ;;
  esac
  f=$(awk -v k="$key" '$1=="floor" && $2==k {print $3}' "$out" | median)
  if [[ -n $f ]]; then
    target="${target:+$target; }C syscall floor $(printf '%.0f' "$f")/s, mp at $(awk -v a="$m" -v b="$f" 'BEGIN {printf "%.0f%%", 100*a/b}') of it"
  fi
  if [[ $unit == ms ]]; then
    ratio=$(awk -v a="$p" -v b="$m" 'BEGIN {printf "%.1f×", a/b}')
    printf '| %s (ms per process) | %.3f | %.3f | %s | %s |\n' "$key" "$m" "$p" "$ratio" "$target"
  else
    ratio=$(awk -v a="$m" -v b="$p" 'BEGIN {printf "%.1f×", a/b}')
    printf '| %s (256 B, per s) | %.0f | %.0f | %s | %s |\n' "$key" "$m" "$p" "$ratio" "$target"
  fi
done
