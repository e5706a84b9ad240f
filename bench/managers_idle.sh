#!/usr/bin/env bash
# Memory of idle connections: N (default 1000) connections that each
# authenticated and sent accept_connection (bench/managers_idle.py), held
# open while the server's VmRSS/VmHWM/VmSize/Threads are read from /proc;
# then a new client must still be served. Side by side, rounds alternating,
# each server started fresh per round:
#   mp       mp serve-manager (MP=path, default: target/release/mp, built)
#   base:S   optional: another build (BASE_MP=path, e.g. a worktree of the
#            commit before a change) once per RUST_MIN_STACK value S in
#            BASE_STACKS ("default" = unset). RUST_MIN_STACK sets the stack of
#            threads spawned without an explicit size, so it only changes a
#            build whose connection threads have none.
#   cpython  CPython's SyncManager server (thread per connection, too)
#   redis    redis-server on a free 127.0.0.1 port (one event loop; each
#            connection sends PING), if installed
# Usage: bench/managers_idle.sh [ROUNDS] [N]   (default 3 rounds, 1000)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
n=${2:-1000}
if [[ -n ${MP:-} ]]; then
  mp=$MP
else
  cargo build --release --quiet --bin mp
  mp=target/release/mp
fi
export MP_AUTHKEY=bench-key
tmp=$(mktemp -d)
server_pid=
cleanup() {
  [[ -n $server_pid ]] && kill "$server_pid" 2>/dev/null || true
  rm -rf "$tmp"
}
trap cleanup EXIT
contenders=(mp)
for s in ${BASE_STACKS:-default}; do
  [[ -n ${BASE_MP:-} ]] && contenders+=("base:$s")
done
contenders+=(cpython)
command -v redis-server >/dev/null && contenders+=(redis)
notes=()
command -v redis-server >/dev/null ||
  notes+=("redis-server is not installed (../shared/bench/install-peers.sh): its row is skipped")

wait_line() { # file: waits (10 s at most) for a first line
  for _ in $(seq 200); do
    [[ -s $1 ]] && return 0
    sleep 0.05
  done
  echo "no address in $1" >&2
  return 1
}

# Starts one contender; sets server_pid, measured_pid, addr, kind.
start() {
  rm -f "$tmp/addr"
  kind=manager
  case $1 in
  mp)
    "$mp" serve-manager --address 127.0.0.1:0 >"$tmp/addr" &
    server_pid=$!
    measured_pid=$server_pid
    ;;
  base:*)
    local s=${1#base:}
    if [[ $s == default ]]; then
      env -u RUST_MIN_STACK "$BASE_MP" serve-manager --address 127.0.0.1:0 >"$tmp/addr" &
    else
      RUST_MIN_STACK=$s "$BASE_MP" serve-manager --address 127.0.0.1:0 >"$tmp/addr" &
    fi
    server_pid=$!
    measured_pid=$server_pid
    ;;
  cpython)
    # The script forks the manager's server process and serves until its
    # stdin closes; the server process (its child) is the one measured.
    mkfifo "$tmp/py.stdin"
    python3 tests/python/manager_server.py <"$tmp/py.stdin" >"$tmp/addr" &
    server_pid=$!
    exec 3>"$tmp/py.stdin"
    ;;
  redis)
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
      --logfile "$tmp/redis.log" --maxclients $((n + 100)) &
    server_pid=$!
    measured_pid=$server_pid
    echo "127.0.0.1:$port" >"$tmp/addr"
    kind=redis
    for _ in $(seq 200); do
      redis-cli -p "$port" ping >/dev/null 2>&1 && break
      sleep 0.05
    done
    ;;
  esac
  wait_line "$tmp/addr"
  addr=$(head -1 "$tmp/addr")
  if [[ $1 == cpython ]]; then
    measured_pid=$(cat /proc/"$server_pid"/task/*/children | awk '{print $1}')
  fi
}

stop() {
  if [[ $1 == cpython ]]; then
    exec 3>&-
    rm -f "$tmp/py.stdin"
  else
    kill "$server_pid" 2>/dev/null || true
  fi
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}

for r in $(seq "$rounds"); do
  for c in "${contenders[@]}"; do
    start "$c"
    python3 bench/managers_idle.py "$kind" "$addr" "$measured_pid" "$n" |
      sed "s/^/$c /" >>"$tmp/runs"
    stop "$c"
  done
done

med() { # contender key
  awk -v c="$1" -v k="$2" '$1==c && $2==k {print $3}' "$tmp/runs" | sort -g |
    awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'
}
echo "machine: $(nproc) cores; $(python3 --version); $(redis-server --version 2>/dev/null | awk '{print $1, $3}'); $rounds rounds, medians; $n idle connections"
echo
echo "| server | RSS idle, no clients (MiB) | RSS with $n idle (MiB) | per connection (KiB) | VmHWM (MiB) | VmSize (MiB) | threads | kernel stacks, system-wide growth (MiB) | new client served |"
echo "|---|---|---|---|---|---|---|---|---|"
for c in "${contenders[@]}"; do
  awk -v c="$c" -v n="$n" -v b="$(med "$c" rss_before_kib)" -v r="$(med "$c" rss_kib)" \
    -v h="$(med "$c" hwm_kib)" -v v="$(med "$c" vmsize_kib)" -v t="$(med "$c" threads)" \
    -v k="$(med "$c" kernel_stack_delta_kib)" -v a="$(med "$c" answers_after)" \
    'BEGIN {printf "| %s | %.1f | %.1f | %.1f | %.1f | %.0f | %d | %.1f | %s |\n",
      c, b/1024, r/1024, (r-b)/n, h/1024, v/1024, t, k/1024, (a == 1 ? "yes" : "NO")}'
done
for note in "${notes[@]}"; do echo "note: $note"; done
