#!/usr/bin/env bash
# usage: bench/lock_ab.sh ROUNDS N BIN_A BIN_B : per-call µs of `mp lock L -- true`, alternating, medians
set -euo pipefail
rounds=$1 n=$2 a=$3 b=$4
tmp=$(mktemp -d)
MP_AUTHKEY=bench-key "$a" serve-manager --address 127.0.0.1:0 >"$tmp/addr" 2>/dev/null &
srv=$!
trap 'kill $srv; rm -rf "$tmp"' EXIT
for _ in $(seq 100); do [ -s "$tmp/addr" ] && break; sleep 0.05; done
export MP_ADDRESS=$(head -1 "$tmp/addr") MP_AUTHKEY=bench-key
lf=$tmp/flock.L
for r in $(seq "$rounds"); do
  for who in A B F; do
    s=$(date +%s%N)
    case $who in
      A) for ((i=0;i<n;i++)); do "$a" lock L -- true; done;;
      B) for ((i=0;i<n;i++)); do "$b" lock L -- true; done;;
      F) for ((i=0;i<n;i++)); do flock "$lf" true; done;;
    esac
    e=$(date +%s%N)
    echo "$who $(( (e - s) / n / 1000 ))" >> "$tmp/runs"
  done
done
for who in A B F; do
  echo "$who $(awk -v w=$who '$1==w{print $2}' "$tmp/runs" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}') us"
done
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
