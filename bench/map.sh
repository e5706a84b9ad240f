#!/usr/bin/env bash
# Pool / mp map benchmarks, each next to its peers in the same run:
#  1. 2000 x `true`, 2 at a time: mp map vs xargs -P2 vs GNU parallel vs the
#     posix_spawn floors (bench/spawn_floor.c): `floor` spawns a bare
#     /bin/true, `floor_argv` spawns `true N` via PATH as the runners do;
#     wall time and CPU per task.
#  2. start-up: one record through mp map vs xargs.
#  3. the Pool: mp (examples/bench_pool.rs) vs CPython (bench/pool.py).
#  4. batching: $FILES (default 100000) small files removed, 500 to a
#     command: mp map -n 500 and mp map -X vs xargs -P2 -n 500 vs GNU
#     parallel -X (FILES=0 leaves it out; about 10 s a round).
# Rounds rotate the tools so load hits all alike; tables show medians.
# Usage: bench/map.sh [ROUNDS] [NAME=MP_BINARY]...  (default 5 rounds; about
# two minutes). Each NAME=MP_BINARY adds a row for another build of mp in
# the same rounds (e.g. two variants of a change, measured side by side).
# Needs GNU parallel: ../shared/bench/install-peers.sh installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
shift || true
others=()
for o in "$@"; do
  [[ $o == *=* && -x ${o#*=} ]] || { echo "usage: bench/map.sh [ROUNDS] [NAME=MP_BINARY]..." >&2; exit 2; }
  others+=("$o")
done
cargo build --release --quiet --bin mp --example bench_pool
mp=$PWD/target/release/mp
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
gcc -O2 -o "$tmp/floor" bench/spawn_floor.c
seq 2000 >"$tmp/in"
echo x >"$tmp/one"
have_parallel=0
command -v parallel >/dev/null && have_parallel=1
t() { # name command... : appends "name wall cpu" (cpu = user+sys incl. children)
  local name=$1; shift
  /usr/bin/time -f "$name %e %U %S" -o "$tmp/t" "$@" <"$tmp/in" >/dev/null 2>&1 || true
  awk '{printf "%s %s %.3f\n", $1, $2, $3+$4}' "$tmp/t" >>"$tmp/runs"
}
for r in $(seq "$rounds"); do
  t floor "$tmp/floor" 2000 2
  t floor_argv "$tmp/floor" 2000 2 record
  t mp "$mp" map -j2 true
  for o in "${others[@]}"; do t "${o%%=*}" "${o#*=}" map -j2 true; done
  t xargs xargs -P2 -n1 true
  ((have_parallel)) && t parallel parallel -j2 true
  for i in 1 2 3; do
    s=$(date +%s%N); "$mp" map true <"$tmp/one"; e=$(date +%s%N)
    echo "start_mp $(( (e - s) / 1000 ))" >>"$tmp/start"
    s=$(date +%s%N); xargs -n1 true <"$tmp/one"; e=$(date +%s%N)
    echo "start_xargs $(( (e - s) / 1000 ))" >>"$tmp/start"
  done
  target/release/examples/bench_pool | sed 's/^/mp /' >>"$tmp/pool"
  python3 bench/pool.py | sed 's/^/py /' >>"$tmp/pool"
  if ((${FILES:-100000} > 0)); then
    batch=(
      "mp_n500|$mp map -j2 -n 500 rm -f --"
      "mp_X|$mp map -j2 -X rm -f --"
      "xargs_n500|xargs -P2 -n 500 rm -f --"
    )
    ((have_parallel)) && batch+=("parallel_X|parallel -j2 -X rm -f --")
    for b in "${batch[@]}"; do
      mkdir -p "$tmp/files"
      (cd "$tmp/files" && seq -f 'small%06g.txt' "${FILES:-100000}" >../names && xargs touch <../names)
      (cd "$tmp/files" && /usr/bin/time -f "${b%%|*} %e %U %S" -o "$tmp/t" ${b#*|} <../names >/dev/null 2>&1) || true
      left=$(find "$tmp/files" -type f | wc -l)
      ((left == 0)) || echo "${b%%|*}: $left files left" >&2
      awk '{printf "%s %s %.3f\n", $1, $2, $3+$4}' "$tmp/t" >>"$tmp/batch"
    done
  fi
done
med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
fw=$(awk '$1=="floor"{print $2}' "$tmp/runs" | med)
fc=$(awk '$1=="floor"{print $3}' "$tmp/runs" | med)
aw=$(awk '$1=="floor_argv"{print $2}' "$tmp/runs" | med)
ac=$(awk '$1=="floor_argv"{print $3}' "$tmp/runs" | med)
echo "machine: $(nproc) cores; $(python3 --version); $rounds rounds, medians"
echo
echo "### 2000 x true, 2 in flight"
echo
echo "| runner | wall s | jobs/s | wall / floor | wall / floor_argv | CPU s (all processes) |"
echo "|---|---|---|---|---|---|"
for k in floor floor_argv mp "${others[@]%%=*}" xargs parallel; do
  w=$(awk -v k=$k '$1==k{print $2}' "$tmp/runs" | med)
  [[ -z $w ]] && continue
  c=$(awk -v k=$k '$1==k{print $3}' "$tmp/runs" | med)
  awk -v k=$k -v w="$w" -v c="$c" -v f="$fw" -v a="$aw" 'BEGIN {printf "| %s | %.3f | %.0f | %.2f× | %.2f× | %.3f |\n", k, w, 2000/w, w/f, w/a, c}'
done
mc=$(awk '$1=="mp"{print $3}' "$tmp/runs" | med)
echo
awk -v m="$mc" -v f="$fc" -v a="$ac" 'BEGIN {printf "mp CPU per task beyond the floor: %.3f ms (bare floor), %.3f ms (floor_argv) (target ≤ 0.05 ms) = (mp run CPU − floor CPU) / 2000, both counting every process they start\n", (m-f)/2000*1000, (m-a)/2000*1000}'
sm=$(awk '$1=="start_mp"{print $2}' "$tmp/start" | med)
sx=$(awk '$1=="start_xargs"{print $2}' "$tmp/start" | med)
echo "start-up, one record (includes the shell's own fork+exec): mp $(awk -v v="$sm" 'BEGIN{printf "%.1f", v/1000}') ms, xargs $(awk -v v="$sx" 'BEGIN{printf "%.1f", v/1000}') ms (target ≤ 5 ms)"
if command -v hyperfine >/dev/null; then
  # The same without a shell in between: hyperfine -N starts each command itself.
  hyperfine -N --warmup 5 --runs 60 --export-json "$tmp/hf.json" \
    "$mp map -a $tmp/one true" "xargs -a $tmp/one -n1 true" >/dev/null 2>&1
  python3 - "$tmp/hf.json" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))["results"]
mp, xargs = (x["median"] * 1000 for x in r)
print(f"start-up, one record (hyperfine -N, no shell, median of 60): mp {mp:.1f} ms, xargs {xargs:.1f} ms (target ≤ 5 ms)")
PY
fi
if [[ -s $tmp/batch ]]; then
  echo
  echo "### ${FILES:-100000} small files removed, 500 per command (or -X), 2 in flight"
  echo
  echo "| runner | wall s | wall / xargs | CPU s (all processes) |"
  echo "|---|---|---|---|"
  xw=$(awk '$1=="xargs_n500"{print $2}' "$tmp/batch" | med)
  for k in mp_n500 mp_X xargs_n500 parallel_X; do
    w=$(awk -v k=$k '$1==k{print $2}' "$tmp/batch" | med)
    [[ -z $w ]] && continue
    c=$(awk -v k=$k '$1==k{print $3}' "$tmp/batch" | med)
    awk -v k=$k -v w="$w" -v c="$c" -v x="$xw" 'BEGIN {printf "| %s | %.3f | %.2f× (target ≤ 1.05×) | %.3f |\n", k, w, w/x, c}'
  done
fi
echo
echo "### Pool(2) vs CPython multiprocessing.Pool(2)"
echo
echo "| benchmark | mp | CPython | mp speed-up | target |"
echo "|---|---|---|---|---|"
for k in map_pow3_100k map_noop_1M imap_pow3_chunk_n8 imap_chunksize_1 imap_chunksize_100; do
  m=$(awk -v k=$k '$1=="mp" && $2==k{print $3}' "$tmp/pool" | med)
  p=$(awk -v k=$k '$1=="py" && $2==k{print $3}' "$tmp/pool" | med)
  u=$(awk -v k=$k '$2==k{print $4; exit}' "$tmp/pool")
  if [[ $u == s ]]; then
    awk -v k=$k -v m="$m" -v p="$p" 'BEGIN {printf "| %s | %.4f s | %.4f s | %.1f× | ≥ 10× |\n", k, m, p, p/m}'
  else
    awk -v k=$k -v m="$m" -v p="$p" 'BEGIN {printf "| %s | %.0f/s | %.0f/s | %.1f× | ≥ 10× |\n", k, m, p, m/p}'
  fi
done
