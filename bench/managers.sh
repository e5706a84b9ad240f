#!/usr/bin/env bash
# Manager servers side by side, in one run, rounds alternating, 1 and 8
# clients, round trips per second (medians of the rounds):
#   (a) the CPython client (bench/managers.py: dict set+get, queue put+get,
#       each client process on its own SyncManager connection) against
#       CPython's own SyncManager server
#   (b) the same client against mp serve-manager
#   (c) a Rust client (examples/bench_managers.rs, mp::managers, one
#       connection per client thread) against mp serve-manager, and against
#       CPython's server (the same client on both: the servers' own ratio)
#   (d) redis-server with redis-benchmark -P 1 -t get,set (C client, one
#       event loop for its connections), on a free 127.0.0.1 port
#   (e) the raw floor: bench/managers_floor.c, the same framing over TCP
#       127.0.0.1, 50-byte requests and 25-byte replies (a pickled
#       `d['k'] = n` and its ('#RETURN', None)), thread per connection
# Then, untimed (the tables do not include these runs): CPU per round trip of
# each server (/proc/PID/stat, all threads) and of the clients, and the
# servers' syscalls per round trip (strace -c -f, if installed).
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
  [[ -n ${redis_pid:-} ]] && kill "$redis_pid" 2>/dev/null || true
  # Closing its stdin makes CPython's server script shut its manager down.
  exec 3>&- || true
  [[ -n ${py_pid:-} ]] && wait "$py_pid" 2>/dev/null || true
  [[ -n ${KEEP:-} ]] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
notes=()

# ---- contender (c): a Rust client against mp serve-manager -----------------
# TO BE ADDED with the Rust manager client (src/managers/client.rs): an
# example examples/$rust_client_example.rs taking the arguments of
# bench/managers.py (HOST:PORT CLIENTS SECONDS, each client on its own
# connection) and printing its lines (`dict_set_get RATE`,
# `queue_put_get RATE`, round trips per second summed over the clients).
# Until that file exists this contender is skipped and its columns read "—".
rust_client_example=bench_managers
have_rust_client=0
if [[ -f examples/$rust_client_example.rs ]]; then
  cargo build --release --quiet --example "$rust_client_example"
  have_rust_client=1
else
  notes+=("(c) Rust client: examples/$rust_client_example.rs does not exist yet; its columns are empty")
fi
rust_client() { # HOST:PORT CLIENTS SECONDS
  target/release/examples/$rust_client_example "$@"
}
# ---------------------------------------------------------------------------

gcc -O2 -pthread -o "$tmp/managers_floor" bench/managers_floor.c
target/release/mp serve-manager --address 127.0.0.1:0 >"$tmp/mp.addr" 2>/dev/null &
mp_pid=$!
mkfifo "$tmp/py.stdin"
python3 tests/python/manager_server.py <"$tmp/py.stdin" >"$tmp/py.addr" 2>/dev/null &
py_pid=$!
exec 3>"$tmp/py.stdin"
have_redis=0
if command -v redis-server >/dev/null && command -v redis-benchmark >/dev/null; then
  redis_port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
    --logfile "$tmp/redis.log" &
  redis_pid=$!
  have_redis=1
else
  notes+=("(d) redis-server/redis-benchmark are not installed (../shared/bench/install-peers.sh): its columns are empty")
fi
for _ in $(seq 100); do
  [[ -s $tmp/mp.addr && -s $tmp/py.addr ]] &&
    { ((!have_redis)) || redis-cli -p "$redis_port" ping >/dev/null 2>&1; } && break
  sleep 0.1
done
mp_addr=$(head -1 "$tmp/mp.addr")
py_addr=$(head -1 "$tmp/py.addr")
# CPython's server is the process its script forked.
py_server_pid=$(cat /proc/"$py_pid"/task/*/children | awk '{print $1}')
# redis-benchmark runs a fixed number of requests: about SECONDS each.
redis_n() { awk -v s="$secs" -v c="$1" 'BEGIN {printf "%d", s * (c == 1 ? 30000 : 45000)}'; }
redis_run() { # CLIENTS -> lines `get RATE`, `set RATE`
  redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$1" -P 1 -t get,set -n "$(redis_n "$1")" --csv |
    awk -F'"' '$2 == "GET" || $2 == "SET" {print tolower($2), $4}'
}

for r in $(seq "$rounds"); do
  for contender in cpython mp rust rust_cpython redis floor; do
    for clients in 1 8; do
      case $contender in
      cpython) python3 bench/managers.py "$py_addr" "$clients" "$secs" ;;
      mp) python3 bench/managers.py "$mp_addr" "$clients" "$secs" ;;
      rust) if ((have_rust_client)); then rust_client "$mp_addr" "$clients" "$secs"; fi ;;
      rust_cpython) if ((have_rust_client)); then rust_client "$py_addr" "$clients" "$secs"; fi ;;
      redis) if ((have_redis)); then redis_run "$clients"; fi ;;
      floor) "$tmp/managers_floor" "$clients" "$secs" | awk '$1 == "roundtrips" {print "roundtrips", $3}' ;;
      esac | while read -r op rate; do echo "$contender $clients $op $rate"; done >>"$tmp/runs"
    done
  done
done

med() { # contender clients op -> median, or nothing
  awk -v c="$1" -v n="$2" -v o="$3" '$1 == c && $2 == n && $3 == o {print $4}' "$tmp/runs" | sort -g |
    awk '{a[NR]=$1} END {if (NR) print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "" || b == "" || b == 0) print "—"; else printf "%.2f×", a / b}'; }
show() { echo "${1:-—}"; }
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(python3 --version); $(redis-server --version 2>/dev/null | awk '{print $1, $3}'); $rounds rounds of ${secs} s per operation, medians"
echo
servers_table() { # CPYTHON_SERVER_CONTENDER MP_CONTENDER: one client on both servers
  echo "| operation | clients | CPython server (round trips/s) | mp serve-manager | mp / CPython |"
  echo "|---|---|---|---|---|"
  for op in dict_set_get queue_put_get; do
    for clients in 1 8; do
      c=$(med "$1" $clients $op)
      m=$(med "$2" $clients $op)
      echo "| $op | $clients | $(show "$c") | $(show "$m") | $(ratio "$m" "$c") |"
    done
  done
}
echo "### CPython client: CPython's server and mp serve-manager"
echo
servers_table cpython mp
echo
echo "### Rust client (c): CPython's server and mp serve-manager"
echo
echo "The same client on both servers, so the ratio is the servers' alone (the Python client's own CPU caps the table above)."
echo
servers_table rust_cpython rust
echo
echo "### mp next to Redis and the raw floor"
echo
echo "Redis set+get is 2 / (1/GET + 1/SET): the rate of alternating them, as the dict rows do."
echo
echo "| clients | mp, CPython client (dict set+get/s) | mp, Rust client (c) | redis GET/s | redis SET/s | redis set+get | raw floor | mp CPython client / redis | Rust client / redis | mp CPython client / floor | Rust client / floor |"
echo "|---|---|---|---|---|---|---|---|---|---|---|"
for clients in 1 8; do
  m=$(med mp $clients dict_set_get)
  rc=$(med rust $clients dict_set_get)
  g=$(med redis $clients get)
  s=$(med redis $clients set)
  rs=
  [[ -n $g && -n $s ]] && rs=$(awk -v g="$g" -v s="$s" 'BEGIN {printf "%.0f", 2 / (1 / g + 1 / s)}')
  f=$(med floor $clients roundtrips)
  echo "| $clients | $(show "$m") | $(show "$rc") | $(show "$g") | $(show "$s") | $(show "$rs") | $(show "$f") | $(ratio "$m" "$rs") | $(ratio "$rc" "$rs") | $(ratio "$m" "$f") | $(ratio "$rc" "$f") |"
done

echo
echo "Spread of the rounds (slowest, fastest round trips/s; the machine is shared):"
awk '{k = $1 " " $2 " " $3; if (!(k in lo) || $4 < lo[k]) lo[k] = $4; if ($4 > hi[k]) hi[k] = $4}
  END {for (k in lo) printf "  %s: %s .. %s (%.2f×)\n", k, lo[k], hi[k], hi[k] / lo[k]}' "$tmp/runs" | sort

# ---- untimed: what limits the figures ------------------------------------
cpu_ticks() { # PID -> utime + stime of all its threads, in clock ticks
  awk '{print $14 + $15}' /proc/"$1"/stat
}
hz=$(getconf CLK_TCK)
strace_start() { # PID: strace -c -f, once it says it attached to every thread
  rm -f "$tmp/strace.out" "$tmp/strace.err"
  strace -c -f -p "$1" -o "$tmp/strace.out" 2>"$tmp/strace.err" &
  strace_pid=$!
  for _ in $(seq 200); do
    grep -qs attached "$tmp/strace.err" && return
    sleep 0.05
  done
  echo "strace did not attach to $1" >&2
}
strace_stop() {
  kill -INT "$strace_pid"
  wait "$strace_pid" 2>/dev/null || true
}
strace_calls() { # ROUNDTRIPS: syscalls per round trip, "N (call n, ...)"
  awk -v n="$1" '$1 ~ /^[0-9.]+$/ && NF >= 5 {
      if ($NF == "total") total = $4; else if ($4 / n >= 0.05) top = top sprintf("%s%s %.2f", top == "" ? "" : ", ", $NF, $4 / n)
    } END {printf "%.2f (%s)", total / n, top}' "$tmp/strace.out"
}
echo
echo "### Where a round trip's time goes (untimed runs of ${secs} s per operation, after the tables)"
echo
echo "Server CPU: utime+stime of all its threads (/proc/PID/stat) over the run, per round trip (for the CPython client, over both operations). Client CPU: the clients' own, per round trip. Syscalls: strace -c -f on the server during a second run (slowed by strace; counts, not times, are used)."
echo
echo "| server | clients | operation | round trips/s | server CPU µs per round trip | client CPU µs per round trip | server syscalls per round trip |"
echo "|---|---|---|---|---|---|---|"
for clients in 1 8; do
  for server in cpython mp; do
    addr=$py_addr pid=$py_server_pid
    [[ $server == mp ]] && addr=$mp_addr pid=$mp_pid
    t0=$(cpu_ticks "$pid")
    MANAGERS_CPU=1 python3 bench/managers.py "$addr" "$clients" "$secs" >"$tmp/cpu.out"
    t1=$(cpu_ticks "$pid")
    sys=
    if command -v strace >/dev/null; then
      strace_start "$pid"
      python3 bench/managers.py "$addr" "$clients" "$secs" >"$tmp/strace.rate"
      strace_stop
      sys=$(strace_calls "$(awk -v s="$secs" '{n += $2 * s} END {print n}' "$tmp/strace.rate")")
    fi
    # The server's CPU covers both operations: shared out by round trips.
    total=$(awk '$1 !~ /^cpu_/ {s += $2} END {print s}' "$tmp/cpu.out")
    scpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$total" -v s="$secs" 'BEGIN {printf "%.1f", t / hz / (n * s) * 1e6}')
    for op in dict_set_get queue_put_get; do
      rate=$(awk -v k=$op '$1 == k {print $2}' "$tmp/cpu.out")
      ccpu=$(awk -v k=cpu_$op '$1 == k {print $2}' "$tmp/cpu.out")
      echo "| $server | $clients | $op | $rate | $scpu (both) | $ccpu | ${sys:-—} (both) |"
    done
  done
  if ((have_redis)); then
    t0=$(cpu_ticks "$redis_pid")
    n=$(redis_n "$clients")
    rm -f "$tmp/rb.time"
    /usr/bin/env time -f '%U %S' -o "$tmp/rb.time" redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$clients" -P 1 -t get,set -n "$n" --csv >"$tmp/rb.out" 2>/dev/null ||
      redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$clients" -P 1 -t get,set -n "$n" --csv >"$tmp/rb.out"
    t1=$(cpu_ticks "$redis_pid")
    scpu=$(awk -v t=$((t1 - t0)) -v hz="$hz" -v n="$n" 'BEGIN {printf "%.1f", t / hz / (2 * n) * 1e6}')
    ccpu=—
    [[ -s $tmp/rb.time ]] && ccpu=$(awk -v n="$n" '{printf "%.1f", ($1 + $2) / (2 * n) * 1e6}' "$tmp/rb.time")
    rate=$(awk -F'"' '$2 == "GET" {g = $4} $2 == "SET" {s = $4} END {print "GET " g ", SET " s}' "$tmp/rb.out")
    sys=—
    if command -v strace >/dev/null; then
      strace_start "$redis_pid"
      redis-benchmark -h 127.0.0.1 -p "$redis_port" -c "$clients" -P 1 -t get,set -n "$n" >/dev/null
      strace_stop
      sys=$(strace_calls $((2 * n)))
    fi
    echo "| redis (redis-benchmark) | $clients | get, set | $rate | $scpu | $ccpu | $sys |"
  fi
  "$tmp/managers_floor" "$clients" "$secs" >"$tmp/floor.out"
  awk -v c="$clients" '$1 == "roundtrips" {r = $3} $1 == "cpu_server_us" {s = $2} $1 == "cpu_client_us" {k = $2}
    END {printf "| raw floor | %s | 50-byte request, 25-byte reply | %s | %.1f | %.1f | 2 (read, write: by construction) |\n", c, r, s, k}' "$tmp/floor.out"
done
for note in "${notes[@]}"; do echo "note: $note"; done
