#!/usr/bin/env bash
# Instructions per round trip of mp serve-manager and its Rust client
# (1 client), counted by valgrind's callgrind, which does not depend on the
# load: one side under callgrind, the other native, `bench_managers ADDR 1
# -N OP` for N = 10,000 and 30,000, (count(30k) - count(10k)) / 20,000.
# Usage: bench/callgrind_managers.sh MP CLIENT [dict|queue]...
#   MP: an `mp` binary; CLIENT: a build of examples/bench_managers.
# Prints, per operation, the server's and the client's instructions per
# round trip.
set -euo pipefail
[ $# -ge 2 ] || { sed -n 2,9p "$0"; exit 2; }
mp=$1 client=$2
shift 2
ops=("$@")
[ ${#ops[@]} -gt 0 ] || ops=(dict queue)
command -v valgrind >/dev/null || { echo "callgrind_managers: valgrind is not installed" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export MP_AUTHKEY=k

# total SIDE OP N: the instructions callgrind counts on SIDE (server|client).
total() {
    local side=$1 op=$2 n=$3 out="$tmp/cg.$1.$2.$3"
    local vg=(valgrind --tool=callgrind --callgrind-out-file="$out")
    local srv=("$mp" serve-manager --address 127.0.0.1:0)
    [ "$side" = server ] && srv=("${vg[@]}" "${srv[@]}")
    rm -f "$tmp/addr"
    "${srv[@]}" >"$tmp/addr" 2>"$tmp/server.err" &
    local pid=$! deadline=$((SECONDS + 60))
    until [ "$({ wc -l <"$tmp/addr"; } 2>/dev/null || echo 0)" -ge 1 ]; do
        [ $SECONDS -lt $deadline ] || { echo "server did not start" >&2; cat "$tmp/server.err" >&2; exit 1; }
        sleep 0.05
    done
    local cl=("$client" "$(head -1 "$tmp/addr")" 1 "-$n" "$op")
    [ "$side" = client ] && cl=("${vg[@]}" "${cl[@]}")
    "${cl[@]}" >/dev/null 2>"$tmp/client.err" || { cat "$tmp/client.err" >&2; exit 1; }
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    # The total line of the profile (valgrind writes it at exit).
    awk '/^(summary|totals):/ {print $2; exit}' "$out"
}

for op in "${ops[@]}"; do
    line="$op"
    for side in server client; do
        a=$(total "$side" "$op" 10000)
        b=$(total "$side" "$op" 30000)
        line="$line $side $(( (b - a) / 20000 ))"
    done
    echo "$line"
done
