#!/usr/bin/env bash
# A/B of two builds of mp serve-manager and its Rust client (1 client),
# alternated with the raw floor in every round: prints, per round, each
# build's dict set+get and queue put+get rates as a ratio of the floor's.
# Usage: bench/ab_managers.sh OLD_MP OLD_CLIENT NEW_MP NEW_CLIENT [ROUNDS] [SECONDS]
#   (*_CLIENT: a build of examples/bench_managers)
# PLACE=free (default: the scheduler places both ends), same (server and
# client on CPU 0: every instruction of either side is on the critical
# path) or split (server on CPU 1, client on CPU 0: each round trip pays two
# cross-CPU wake-ups); the floor is placed the same way. Pinning takes the
# scheduler's placement, which moves the floor by ~30% between runs, out of
# the comparison.
set -euo pipefail
[ $# -ge 4 ] || { sed -n 2,6p "$0"; exit 2; }
old_mp=$1 old_client=$2 new_mp=$3 new_client=$4 rounds=${5:-5} secs=${6:-1.5}
cd "$(dirname "$0")/.."
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -pthread -o "$tmp/floor" bench/managers_floor.c
case ${PLACE:-free} in
free) srv=() cli=() flo=() ;;
same) srv=(taskset -c 0) cli=(taskset -c 0) flo=(taskset -c 0) ;;
split) srv=(taskset -c 1) cli=(taskset -c 0) flo=(env FLOOR_CLIENT_CPU=0 taskset -c 1) ;;
*) echo "PLACE must be free, same or split" >&2; exit 2 ;;
esac
run() { # MP CLIENT: prints "dict queue" round trips/s
    rm -f "$tmp/addr"
    MP_AUTHKEY=k "${srv[@]}" "$1" serve-manager --address 127.0.0.1:0 >"$tmp/addr" &
    local pid=$!
    local deadline=$((SECONDS + 10))
    until [ "$(wc -l <"$tmp/addr" 2>/dev/null || echo 0)" = 1 ]; do
        [ $SECONDS -lt $deadline ] || { echo "server did not start" >&2; exit 1; }
        sleep 0.02
    done
    MP_AUTHKEY=k "${cli[@]}" "$2" "$(head -1 "$tmp/addr")" 1 "$secs" | awk '{printf "%s ", $2}'
    kill "$pid"; wait "$pid" 2>/dev/null || true
}
for _ in $(seq "$rounds"); do
    f=$("${flo[@]}" "$tmp/floor" 1 "$secs" | awk '$1 == "roundtrips" {print $3}')
    o=$(run "$old_mp" "$old_client")
    n=$(run "$new_mp" "$new_client")
    echo "$f $o $n" | awk '{printf "floor %d  old dict %.2f queue %.2f  new dict %.2f queue %.2f\n", $1, $2/$1, $3/$1, $4/$1, $5/$1}' | tee -a "$tmp/rounds"
done
# Medians over the rounds of each ratio (fields 5, 7, 10, 12 of a round's line).
med() { awk -v f="$1" '{print $f}' "$tmp/rounds" | sort -n | awk '{v[NR]=$1} END {print (NR%2 ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2)}'; }
echo "medians (PLACE=${PLACE:-free}, $rounds rounds): old dict $(med 5) queue $(med 7)  new dict $(med 10) queue $(med 12)"
