#!/usr/bin/env bash
# Shared state from the shell, per invocation, in one run, rounds
# alternating, medians (issue 17 §4):
#   mp queue put Q x          vs  redis-cli RPUSH q x
#   mp dict get D k           vs  redis-cli GET k
#   mp lock L -- true         vs  flock FILE true  vs  sem --fg --id L true
# each N times from a bash loop (default 1000; GNU sem is ~0.2 s a call, so
# it runs SEM_N times, default 30, and is reported per invocation too).
# mp talks to mp serve-manager on 127.0.0.1 with an authkey (as a shell
# user would: MP_ADDRESS, MP_AUTHKEY), redis-cli to redis-server on
# 127.0.0.1 (no password).
#
# Then where mp's time goes, from the same loops (medians of the per-round
# differences): process start (`mp dict get` with no address: exec,
# dynamic loading, parsing, a usage error), then connect, the HMAC
# handshake and two round trips (accept_connection with mp_named, the
# call); `redis-cli --version` for the peer's own start; the syscalls of
# one `mp queue put` (strace -c -f), and one traced with strace -r -f for
# the split inside the process.
# Usage: bench/shell.sh [ROUNDS] [N]   (default 5 rounds, 1000 invocations)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
n=${2:-1000}
sem_n=${SEM_N:-30}
cargo build --release --quiet --bin mp
mp=$PWD/target/release/mp
tmp=$(mktemp -d)
cleanup() {
  [[ -n ${mp_pid:-} ]] && kill "$mp_pid" 2>/dev/null || true
  [[ -n ${redis_pid:-} ]] && kill "$redis_pid" 2>/dev/null || true
  [[ -n ${KEEP:-} ]] && echo "kept $tmp" >&2 || rm -rf "$tmp"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

MP_AUTHKEY=bench-key "$mp" serve-manager --address 127.0.0.1:0 >"$tmp/mp.addr" 2>/dev/null &
mp_pid=$!
redis_port=$(free_port)
redis-server --port "$redis_port" --bind 127.0.0.1 --save '' --appendonly no \
  --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
  [[ -s $tmp/mp.addr ]] && redis-cli -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.05
done
export MP_ADDRESS MP_AUTHKEY=bench-key
MP_ADDRESS=$(head -1 "$tmp/mp.addr")
"$mp" dict set D k value
redis-cli -p "$redis_port" SET k value >/dev/null
lockfile=$tmp/flock.L

# One contender: COUNT invocations from a bash loop; prints µs per invocation.
loop() { # NAME COUNT
  local name=$1 count=$2 i t0 t1
  t0=$EPOCHREALTIME
  case $name in
    mp_queue_put) for ((i = 0; i < count; i++)); do "$mp" queue put Q x; done ;;
    redis_rpush) for ((i = 0; i < count; i++)); do redis-cli -p "$redis_port" RPUSH q x >/dev/null; done ;;
    mp_dict_get) for ((i = 0; i < count; i++)); do "$mp" dict get D k >/dev/null; done ;;
    redis_get) for ((i = 0; i < count; i++)); do redis-cli -p "$redis_port" GET k >/dev/null; done ;;
    mp_lock) for ((i = 0; i < count; i++)); do "$mp" lock L -- true; done ;;
    flock) for ((i = 0; i < count; i++)); do flock "$lockfile" true; done ;;
    sem) for ((i = 0; i < count; i++)); do sem --fg --id "mp-bench-$$" true; done ;;
    mp_start) for ((i = 0; i < count; i++)); do MP_ADDRESS= "$mp" dict get D k 2>/dev/null || true; done ;;
    redis_version) for ((i = 0; i < count; i++)); do redis-cli --version >/dev/null; done ;;
    true_bin) for ((i = 0; i < count; i++)); do /bin/true; done ;;
  esac
  t1=$EPOCHREALTIME
  awk -v a="$t0" -v b="$t1" -v c="$count" 'BEGIN {printf "%.1f\n", (b - a) * 1e6 / c}'
}

contenders=(mp_queue_put redis_rpush mp_dict_get redis_get mp_lock flock sem
  mp_start redis_version true_bin)
have_sem=1
command -v sem >/dev/null || have_sem=0
for ((r = 1; r <= rounds; r++)); do
  for c in "${contenders[@]}"; do
    count=$n
    if [[ $c == sem ]]; then
      ((have_sem)) || continue
      count=$sem_n
    fi
    echo "$c $(loop "$c" "$count")" >>"$tmp/results"
  done
  echo "round $r done" >&2
done

med() { # NAME -> median µs
  awk -v k="$1" '$1 == k {print $2}' "$tmp/results" | sort -n |
    awk '{a[NR] = $1} END {if (NR == 0) print "—"; else if (NR % 2) print a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b == "—" || a == "—" || b == 0) print "—"; else printf "%.2f×\n", a / b}'; }

echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg) at the end; $(redis-server --version | awk '{print $1, $3}'); $(flock --version | head -1); $(sem --version 2>/dev/null | head -1); $rounds rounds of $n invocations (sem: $sem_n), medians"
echo
echo "| per invocation (µs) | mp | peer | mp / peer | target |"
echo "|---|---|---|---|---|"
q=$(med mp_queue_put) rp=$(med redis_rpush)
echo "| \`mp queue put Q x\` vs \`redis-cli RPUSH q x\` | $q | $rp | $(ratio "$q" "$rp") | ≤ 1.0× |"
g=$(med mp_dict_get) rg=$(med redis_get)
echo "| \`mp dict get D k\` vs \`redis-cli GET k\` | $g | $rg | $(ratio "$g" "$rg") | ≤ 1.0× |"
l=$(med mp_lock) f=$(med flock) s=$(med sem)
echo "| \`mp lock L -- true\` vs \`flock F true\` | $l | $f | $(ratio "$l" "$f") | ≤ 2× |"
echo "| \`mp lock L -- true\` vs \`sem --fg --id L true\` | $l | $s | $(ratio "$s" "$l") faster | ≥ 20× faster |"
echo
echo "Where mp's time goes (µs per invocation, same run):"
echo
# The median over rounds of (A - B), round by round.
dmed() { # A B
  paste <(awk -v k="$1" '$1 == k {print $2}' "$tmp/results") <(awk -v k="$2" '$1 == k {print $2}' "$tmp/results") |
    awk '{print $1 - $2}' | sort -n |
    awk '{a[NR] = $1} END {if (NR % 2) printf "%.1f\n", a[(NR + 1) / 2]; else printf "%.1f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2}'
}
v=$(med mp_start) t=$(med true_bin) rv=$(med redis_version)
echo "| step | µs | how |"
echo "|---|---|---|"
echo "| fork+exec of /bin/true from bash | $t | \`/bin/true\` loop |"
echo "| mp process start (exec, loading, parsing; a usage error) | $v | \`mp dict get D k\` without an address |"
echo "| + connect, handshake, accept_connection with mp_named, the call | $(dmed mp_dict_get mp_start) | \`mp dict get D k\` minus the above |"
echo "| mp lock: + acquire, fork+exec of \`true\`, release | $(dmed mp_lock mp_dict_get) | \`mp lock L -- true\` minus \`mp dict get\` |"
echo "| flock: + fork+exec of \`true\` | $(dmed flock true_bin) | \`flock F true\` minus \`/bin/true\` |"
echo "| redis-cli process start | $rv | \`redis-cli --version\` |"
echo "| redis-cli: + connect, GET | $(dmed redis_get redis_version) | \`redis-cli GET k\` minus the above |"
echo
if command -v strace >/dev/null; then
  echo "Syscalls of one \`mp queue put Q x\` (strace -c -f):"
  echo
  echo '```'
  strace -c -f -o "$tmp/strace.c" "$mp" queue put Q x && head -30 "$tmp/strace.c"
  echo '```'
  echo
  echo "One \`mp queue put Q x\`, traced (strace -f -r, network and process calls; the times include strace's own cost):"
  echo
  echo '```'
  strace -f -r -e trace=execve,socket,connect,sendto,recvfrom,sendmsg,recvmsg,write,read,exit_group \
    -o "$tmp/strace.r" "$mp" queue put Q x
  grep -v 'read(3, "\\177ELF' "$tmp/strace.r" | cut -c1-110
  echo '```'
else
  echo "(strace not installed: no syscall breakdown)"
fi
