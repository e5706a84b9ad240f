#!/usr/bin/env bash
# `mp map --persistent` benchmarks, each next to its peers in the same run:
#  1. throughput: `seq 10000000` (78.9 MB) through `cat` with 2 workers:
#     mp map --persistent (ordered) vs GNU parallel --pipe --round-robin
#     (unordered) vs rust-parallel --pipe, unordered and -k (if installed)
#     vs the floor `seq | cat`; wall, MB/s, ratio to the floor, peak RSS.
#  2. a Python worker doing trivial work per record (int(x) * 2), 100,000
#     records, 2 workers: mp map --persistent with bench/persistent_worker.py
#     vs per-record mp map (one python3 per record: measured on 1,000 records,
#     extrapolated) vs CPython multiprocessing.Pool(2).imap, chunksize 1000
#     (bench/persistent_pool.py, timed as a whole python3 process).
# Every output is checked (line count; ordered runs byte for byte against the
# expected output); a wrong result fails the script. Rounds rotate the order
# of the tools so load hits all alike; tables show medians.
# Peak RSS is GNU time's %M: the largest peak RSS among the measured process
# and the descendants it waited for (a maximum, not a sum). For mp that is
# max(main process, workers, the commands they run); round 1 also samples
# each process's VmHWM (bench/rss_tree.py) to split it.
# Usage: bench/persistent.sh [ROUNDS]  (default 5; about 15 s a round).
# MP=path/to/mp uses that binary instead of building target/release/mp.
# Needs GNU parallel (and optionally rust-parallel):
# ../shared/bench/install-peers.sh [--with-rust-parallel] installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
if [[ -n ${MP:-} ]]; then
  mp=$MP
else
  cargo build --release --quiet --bin mp
  mp=target/release/mp
fi
have_persistent=0
help=$("$mp" map --help)
[[ $help == *--persistent* ]] && have_persistent=1
# The interpreter itself: a version manager's python3 shim (pyenv's is a bash
# script) would add ~100 ms to every start-up, which the per-record row pays
# once per record.
py=$(python3 -c 'import sys; print(sys.executable)')
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=10000000
seq "$n" >"$tmp/expect"
bytes=$(stat -c %s "$tmp/expect")
pn=100000 # Python records
pn_one=1000 # per-record mode runs on the first pn_one of them
seq "$pn" >"$tmp/py_in"
head -n "$pn_one" "$tmp/py_in" >"$tmp/py_in_one"
awk '{print $1 * 2}' "$tmp/py_in" >"$tmp/py_expect"
head -n "$pn_one" "$tmp/py_expect" >"$tmp/py_expect_one"
notes=()
tools=(floor)
((have_persistent)) && tools+=(mp)
((have_persistent)) || notes+=("$mp has no --persistent yet: its rows are skipped")
if command -v parallel >/dev/null; then
  tools+=(parallel)
else
  notes+=("GNU parallel is not installed: its row is skipped")
fi
if command -v rust-parallel >/dev/null; then
  tools+=(rust_parallel rust_parallel_k)
else
  notes+=("rust-parallel is not installed (../shared/bench/install-peers.sh --with-rust-parallel): its rows are skipped")
fi
pytools=(pool mp_one)
((have_persistent)) && pytools+=(mp)

fail() { echo "persistent.sh: $*" >&2; exit 1; }
lines_ok() { # file count
  local c
  c=$(wc -l <"$1")
  ((c == $2)) || fail "$3: $c lines, expected $2"
}
run() { # key input expected ordered command... : timed run, output checked;
  # appends "key wall_us maxrss_kb" to $tmp/runs
  local key=$1 input=$2 expected=$3 ordered=$4 s e
  shift 4
  s=$(date +%s%N)
  if [[ $input == seq ]]; then
    seq "$n" | /usr/bin/time -f %M -o "$tmp/t" "$@" >"$tmp/out"
  else
    /usr/bin/time -f %M -o "$tmp/t" "$@" <"$input" >"$tmp/out"
  fi
  e=$(date +%s%N)
  echo "$key $(((e - s) / 1000)) $(tail -n 1 "$tmp/t")" >>"$tmp/runs"
  lines_ok "$tmp/out" "$(wc -l <"$expected")" "$key"
  if ((ordered)); then
    cmp -s "$tmp/out" "$expected" || fail "$key: output differs from the expected output"
  fi
}
tp() { # throughput runner
  case $1 in
    floor) run floor seq "$tmp/expect" 1 cat ;;
    mp) run mp seq "$tmp/expect" 1 "$mp" map --persistent --no-progress -j2 -- cat ;;
    parallel) run parallel seq "$tmp/expect" 0 parallel --pipe --round-robin -j2 cat ;;
    rust_parallel) run rust_parallel seq "$tmp/expect" 0 rust-parallel --pipe -j2 cat ;;
    rust_parallel_k) run rust_parallel_k seq "$tmp/expect" 1 rust-parallel --pipe -k -j2 cat ;;
  esac
}
py() { # Python runner
  case $1 in
    mp) run py_mp "$tmp/py_in" "$tmp/py_expect" 1 \
      "$mp" map --persistent --no-progress -j2 -- "$py" bench/persistent_worker.py ;;
    mp_one) run py_mp_one "$tmp/py_in_one" "$tmp/py_expect_one" 1 \
      "$mp" map --no-progress -j2 -- "$py" -c 'import sys; print(int(sys.argv[1]) * 2)' ;;
    pool) run py_pool "$tmp/py_in" "$tmp/py_expect" 1 "$py" bench/persistent_pool.py ;;
  esac
}
for r in $(seq "$rounds"); do
  for i in "${!tools[@]}"; do tp "${tools[(i + r) % ${#tools[@]}]}"; done
  for i in "${!pytools[@]}"; do py "${pytools[(i + r) % ${#pytools[@]}]}"; done
  if ((r == 1 && have_persistent)); then # untimed: mp's peak RSS per process
    seq "$n" | "$py" bench/rss_tree.py "$mp" map --persistent --no-progress -j2 -- cat \
      >"$tmp/out" 2>"$tmp/rss"
    cmp -s "$tmp/out" "$tmp/expect" || fail "mp (rss_tree run): output differs from seq $n"
  fi
done

med() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
col() { awk -v k="$1" -v c="$2" '$1==k{print $c}' "$tmp/runs" | med; }
echo "machine: $(nproc) cores; $("$py" --version); $(parallel --version 2>/dev/null | head -n 1 || true);" \
  "$(rust-parallel --version 2>/dev/null || true); $rounds rounds, medians"
echo
echo "### Throughput: seq $n ($(awk -v b="$bytes" 'BEGIN{printf "%.1f", b/1e6}') MB) through cat, 2 workers"
echo
echo "| runner | command | order | wall s | MB/s | wall / floor | peak RSS MiB (%M) | target |"
echo "|---|---|---|---|---|---|---|---|"
fw=$(col floor 2)
for k in floor mp parallel rust_parallel rust_parallel_k; do
  w=$(col $k 2)
  [[ -z $w ]] && continue
  m=$(col $k 3)
  case $k in
    floor) c='seq | cat' o=ordered t='—' ;;
    mp) c='mp map --persistent -j2 -- cat' o=ordered t='≥ 300 MB/s, RSS ≤ 30 MiB' ;;
    parallel) c='parallel --pipe --round-robin -j2 cat' o=unordered t='—' ;;
    rust_parallel) c='rust-parallel --pipe -j2 cat' o=unordered t='—' ;;
    rust_parallel_k) c='rust-parallel --pipe -k -j2 cat' o=ordered t='—' ;;
  esac
  awk -v k="$k" -v c="$c" -v o="$o" -v t="$t" -v w="$w" -v f="$fw" -v m="$m" -v b="$bytes" \
    'BEGIN {printf "| %s | `%s` | %s | %.3f | %.0f | %.2f× | %.1f | %s |\n", k, c, o, w/1e6, b/w, w/f, m/1024, t}'
done
echo
if [[ -s $tmp/rss ]] && grep -q '^rss_tree ' "$tmp/rss"; then
  read -r _ rm rw rc < <(grep '^rss_tree ' "$tmp/rss")
  awk -v a="$rm" -v b="$rw" -v c="$rc" 'BEGIN {printf "mp peak RSS by process (VmHWM sampled every 10 ms, round 1, untimed run): main %.1f MiB, largest worker %.1f MiB, largest command (cat) %.1f MiB\n", a/1024, b/1024, c/1024}'
fi
echo "peak RSS (%M of GNU time) = the largest peak RSS among the measured process and the descendants it waited for; for the floor it is cat alone (seq is outside the measurement)."
echo
echo "### Python worker, int(x) * 2 per record, $pn records, 2 workers"
echo
echo "| runner | command | wall s | records/s | wall / mp --persistent | peak RSS MiB (%M) |"
echo "|---|---|---|---|---|---|"
pw=$(col py_mp 2)
for k in py_mp py_mp_one py_pool; do
  w=$(col $k 2)
  [[ -z $w ]] && continue
  m=$(col $k 3)
  case $k in
    py_mp) c='mp map --persistent -j2 -- python3 bench/persistent_worker.py' l='mp --persistent' x=1 ;;
    py_mp_one) c="mp map -j2 -- python3 -c 'import sys; print(int(sys.argv[1]) * 2)'"
      l="mp per record (measured on $pn_one, ×$((pn / pn_one)) extrapolated)" x=$((pn / pn_one)) ;;
    py_pool) c='python3 bench/persistent_pool.py' l='CPython Pool(2).imap chunksize 1000' x=1 ;;
  esac
  awk -v l="$l" -v c="$c" -v w="$w" -v x="$x" -v p="$pw" -v m="$m" -v n="$pn" \
    'BEGIN {w = w * x / 1e6; r = (p == "") ? "—" : sprintf("%.2f×", w / (p / 1e6));
            printf "| %s | `%s` | %.3f | %.0f | %s | %.1f |\n", l, c, w, n / w, r, m/1024}'
done
if [[ -n $(col py_mp_one 2) ]]; then
  echo
  awk -v w="$(col py_mp_one 2)" -v n="$pn_one" 'BEGIN {printf "per-record mode measured: %.3f s for %d records (%.1f ms per record with 2 in flight)\n", w/1e6, n, w/1e3/n}'
fi
echo "python3 in the commands is $py (resolved once, no shim)"
for note in "${notes[@]}"; do echo "note: $note"; done
