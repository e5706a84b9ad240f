#!/usr/bin/env bash
# Manager servers side by side, in one run, rounds alternating: the same
# CPython client (bench/managers.py) against (a) CPython's SyncManager server
# and (b) mp serve-manager, with 1 and 8 client processes; dict set+get and
# queue put+get round trips per second (medians of the rounds).
# Still to come (issue 15): a Rust client against mp, redis-server with
# redis-benchmark, and a raw ping-pong floor.
# Usage: bench/managers.sh [ROUNDS] [SECONDS_PER_OP]  (default 3 rounds, 2 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
secs=${2:-2}
cargo build --release --quiet --bin mp
export MP_AUTHKEY=bench-key
tmp=$(mktemp -d)
cleanup() {
  [[ -n ${mp_pid:-} ]] && kill "$mp_pid" 2>/dev/null || true
  # Closing its stdin makes CPython's server script shut its manager down.
  exec 3>&- || true
  [[ -n ${py_pid:-} ]] && wait "$py_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
target/release/mp serve-manager --address 127.0.0.1:0 >"$tmp/mp.addr" 2>/dev/null &
mp_pid=$!
mkfifo "$tmp/py.stdin"
python3 tests/python/manager_server.py <"$tmp/py.stdin" >"$tmp/py.addr" 2>/dev/null &
py_pid=$!
exec 3>"$tmp/py.stdin"
for _ in $(seq 100); do
  [[ -s $tmp/mp.addr && -s $tmp/py.addr ]] && break
  sleep 0.1
done
mp_addr=$(head -1 "$tmp/mp.addr")
py_addr=$(head -1 "$tmp/py.addr")
for r in $(seq "$rounds"); do
  for server in cpython mp; do
    addr=$py_addr
    [[ $server == mp ]] && addr=$mp_addr
    for clients in 1 8; do
      python3 bench/managers.py "$addr" "$clients" "$secs" |
        while read -r op rate; do echo "$server $clients $op $rate"; done >>"$tmp/runs"
    done
  done
done
echo "machine: $(nproc) cores; $(python3 --version); $rounds rounds of ${secs} s per operation, medians"
echo
echo "| operation | clients | CPython server (round trips/s) | mp serve-manager | mp / CPython |"
echo "|---|---|---|---|---|"
for op in dict_set_get queue_put_get; do
  for clients in 1 8; do
    med() {
      grep "^$1 $clients $op " "$tmp/runs" | awk '{print $4}' | sort -n |
        awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
    }
    c=$(med cpython)
    m=$(med mp)
    printf '| %s | %s | %s | %s | %.2f× |\n' "$op" "$clients" "$c" "$m" "$(echo "$m / $c" | bc -l)"
  done
done
