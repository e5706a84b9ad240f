#!/usr/bin/env bash
# Two builds of mp side by side, alternating within each round, so a change
# is measured against what it replaced in the same run (the machine is noisy:
# never compare figures taken at different times).
#   1. 2000 x `true`, 2 in flight (mp map -j2 true)
#   2. start-up: one record (mp map true)
#   3. seq 10000000 | mp map --persistent -j2 -- cat (from a pipe)
#   4. the same from a file
# Usage: bench/ab.sh OLD_MP NEW_MP [ROUNDS]   (default 7 rounds; ~1 min)
# e.g.: git worktree add /tmp/old <commit> && (cd /tmp/old && cargo build
#       --release --bin mp) && bench/ab.sh /tmp/old/target/release/mp
#       target/release/mp
set -euo pipefail
old=$1
new=$2
rounds=${3:-7}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
seq 2000 >"$tmp/in2000"
seq 10000000 >"$tmp/seq"
echo x >"$tmp/one"
ms() { # name bin command-string: appends "name bin ms"
  local s e
  s=$(date +%s%N)
  sh -c "$3" >/dev/null 2>&1 || true
  e=$(date +%s%N)
  echo "$1 $2 $(((e - s) / 1000))" >>"$tmp/runs"
}
for r in $(seq "$rounds"); do
  # Alternate which build goes first.
  if ((r % 2)); then order="old new"; else order="new old"; fi
  for b in $order; do
    bin=$old
    [[ $b == new ]] && bin=$new
    ms true2000 "$b" "$bin map -j2 true <$tmp/in2000"
    ms startup "$b" "$bin map true <$tmp/one"
    ms persistent_pipe "$b" "seq 10000000 | $bin map --persistent -j2 -- cat"
    ms persistent_file "$b" "$bin map --persistent -j2 -- cat <$tmp/seq"
  done
done
echo "old: $old"
echo "new: $new"
echo "$rounds rounds, alternating; medians in ms (all rounds in brackets)"
echo
echo "| benchmark | old ms | new ms | new / old |"
echo "|---|---|---|---|"
for name in true2000 startup persistent_pipe persistent_file; do
  med() {
    grep "^$name $1 " "$tmp/runs" | awk '{print $3}' | sort -n |
      awk '{a[NR]=$1} END {m = (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2; printf "%.1f", m / 1000}'
  }
  all() { grep "^$name $1 " "$tmp/runs" | awk '{printf "%.0f ", $3 / 1000}'; }
  o=$(med old)
  n=$(med new)
  printf '| %s | %s [%s] | %s [%s] | %.3f |\n' "$name" "$o" "$(all old | sed 's/ $//')" "$n" \
    "$(all new | sed 's/ $//')" "$(echo "$n / $o" | bc -l)"
done
