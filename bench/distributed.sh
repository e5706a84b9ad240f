#!/usr/bin/env bash
# Remote workers (issue 18), in the same run, rounds alternating:
#  1. N x `true` (default 20,000) with 2 remote `mp worker`s of 1 slot each,
#     each in its own network namespace ("host"), the coordinator
#     (`mp map --listen -j 0`) in a third: wall time, and the coordinator's
#     CPU (user+sys) per task;
#  2. the same records through local `mp map -j 2` (the same 2 cores);
#  3. PN x `true` (default 1,000: ssh per job is slow) through GNU parallel
#     -S to the same two namespaces over ssh (an sshd per namespace,
#     openssh-server installed by this script when missing), with -M
#     (ssh ControlMaster: one connection per host, reused, its fastest way).
#  4. `seq PS` (default 1,000,000 records) through `--persistent cat` on
#     the same 2 remote workers (the coordinator with -j 0), against local
#     `mp map --persistent -j2 -- cat`: MB/s, and peak RSS: the
#     coordinator's own (GNU time's %M, its VmHWM: with -j 0 it has no
#     children) beside the local run's (the largest of mp, its workers
#     and cat). Every output is checked against the input, byte for byte.
# Tables show medians. The machine may be shared: wall times are noisy,
# the coordinator's CPU much less so.
# Usage (as root): bench/distributed.sh [ROUNDS] [N] [PN] [PS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}
n=${2:-20000}
pn=${3:-1000}
ps=${4:-1000000}
[ "$(id -u)" = 0 ] || { echo "bench/distributed.sh needs root (network namespaces)" >&2; exit 2; }
need_apt=()
command -v ip >/dev/null || need_apt+=(iproute2)
command -v parallel >/dev/null || need_apt+=(parallel)
[ -x /usr/sbin/sshd ] || need_apt+=(openssh-server)
command -v ssh >/dev/null || need_apt+=(openssh-client)
if [ ${#need_apt[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
cargo build --release --quiet --bin mp
mp=$PWD/target/release/mp
tmp=$(mktemp -d)
ns=mpb$$
cleanup() {
  for h in w1 w2; do
    [ -f "$tmp/sshd-$h.pid" ] && kill "$(cat "$tmp/sshd-$h.pid")" 2>/dev/null || true
  done
  for h in c w1 w2; do ip netns del "$ns-$h" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

# Three "hosts": a bridge in $ns-c (10.99.0.1), workers .2 and .3.
ip netns add "$ns-c"
ip -n "$ns-c" link set lo up
ip -n "$ns-c" link add br0 type bridge
ip -n "$ns-c" addr add 10.99.0.1/24 dev br0
ip -n "$ns-c" link set br0 up
i=2
for h in w1 w2; do
  ip netns add "$ns-$h"
  ip link add "${ns}c$h" type veth peer name "$ns$h"
  ip link set "${ns}c$h" netns "$ns-c"
  ip link set "$ns$h" netns "$ns-$h"
  ip -n "$ns-c" link set "${ns}c$h" master br0
  ip -n "$ns-c" link set "${ns}c$h" up
  ip -n "$ns-$h" addr add "10.99.0.$i/24" dev "$ns$h"
  ip -n "$ns-$h" link set "$ns$h" up
  ip -n "$ns-$h" link set lo up
  i=$((i + 1))
done

# sshd in each worker namespace, for GNU parallel -S.
mkdir -p /run/sshd
ssh-keygen -q -t ed25519 -N '' -f "$tmp/hostkey"
ssh-keygen -q -t ed25519 -N '' -f "$tmp/id"
cp "$tmp/id.pub" "$tmp/authorized_keys"
chmod 600 "$tmp/authorized_keys"
i=2
for h in w1 w2; do
  cat >"$tmp/sshd-$h.conf" <<EOF
ListenAddress 10.99.0.$i
HostKey $tmp/hostkey
PidFile $tmp/sshd-$h.pid
AuthorizedKeysFile $tmp/authorized_keys
PermitRootLogin prohibit-password
StrictModes no
UsePAM no
UseDNS no
GSSAPIAuthentication no
EOF
  ip netns exec "$ns-$h" /usr/sbin/sshd -f "$tmp/sshd-$h.conf"
  i=$((i + 1))
done
ssh_cmd="ssh -i $tmp/id -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o GSSAPIAuthentication=no"

seq "$n" >"$tmp/in"
seq "$pn" >"$tmp/pin"
seq "$ps" >"$tmp/psin"
ps_bytes=$(stat -c %s "$tmp/psin")
head -c 32 /dev/urandom >"$tmp/key"
: >"$tmp/runs"
port=7100

remote() {
  port=$((port + 1))
  ip netns exec "$ns-c" /usr/bin/time -f "%e %U %S" -o "$tmp/t" \
    "$mp" map --listen "0.0.0.0:$port" --authkey-file "$tmp/key" -j 0 -- true <"$tmp/in" >/dev/null 2>"$tmp/co.err" &
  local co=$!
  for h in w1 w2; do
    ip netns exec "$ns-$h" "$mp" worker --connect "10.99.0.1:$port" --authkey-file "$tmp/key" -j 1 2>/dev/null &
  done
  wait
  awk -v n="$n" '{printf "remote_2x1 %s %.3f %.4f\n", $1, $2+$3, ($2+$3)*1000/n}' "$tmp/t" >>"$tmp/runs"
}

local_j2() {
  /usr/bin/time -f "%e %U %S" -o "$tmp/t" "$mp" map -j 2 -- true <"$tmp/in" >/dev/null 2>&1
  awk -v n="$n" '{printf "local_j2 %s %.3f %.4f\n", $1, $2+$3, ($2+$3)*1000/n}' "$tmp/t" >>"$tmp/runs"
}

gnu_parallel() {
  ip netns exec "$ns-c" /usr/bin/time -f "%e %U %S" -o "$tmp/t" \
    parallel -M --ssh "$ssh_cmd" -S 1/root@10.99.0.2,1/root@10.99.0.3 true <"$tmp/pin" >/dev/null 2>&1
  awk -v n="$pn" '{printf "parallel_S %s %.3f %.4f\n", $1*'"$n"'/n, $2+$3, ($2+$3)*1000/n}' "$tmp/t" >>"$tmp/runs"
}

# The workers are started once the coordinator listens (a worker that
# finds nobody retries after 200 ms, which would be most of this run).
remote_persistent() {
  port=$((port + 1))
  : >"$tmp/co.err"
  ip netns exec "$ns-c" /usr/bin/time -f "%e %M" -o "$tmp/t" \
    "$mp" map --listen "0.0.0.0:$port" --authkey-file "$tmp/key" -j 0 --persistent -- cat \
    <"$tmp/psin" >"$tmp/psout" 2>"$tmp/co.err" &
  local tries=0
  until grep -q "listening on" "$tmp/co.err"; do
    tries=$((tries + 1))
    [ "$tries" -lt 2000 ] || { echo "the coordinator did not listen:" >&2; cat "$tmp/co.err" >&2; exit 1; }
    sleep 0.005
  done
  for h in w1 w2; do
    ip netns exec "$ns-$h" "$mp" worker --connect "10.99.0.1:$port" --authkey-file "$tmp/key" -j 1 2>/dev/null &
  done
  wait
  cmp -s "$tmp/psin" "$tmp/psout" || { echo "remote --persistent cat: the output is not the input" >&2; exit 1; }
  awk -v b="$ps_bytes" '{printf "remote_persistent %s %.1f %.1f\n", $1, b / 1e6 / $1, $2 / 1024}' "$tmp/t" >>"$tmp/pruns"
}

local_persistent() {
  /usr/bin/time -f "%e %M" -o "$tmp/t" "$mp" map --persistent -j 2 -- cat <"$tmp/psin" >"$tmp/psout" 2>/dev/null
  cmp -s "$tmp/psin" "$tmp/psout" || { echo "local --persistent cat: the output is not the input" >&2; exit 1; }
  awk -v b="$ps_bytes" '{printf "local_persistent %s %.1f %.1f\n", $1, b / 1e6 / $1, $2 / 1024}' "$tmp/t" >>"$tmp/pruns"
}

: >"$tmp/pruns"
for r in $(seq "$rounds"); do
  case $((r % 3)) in
    1) remote; local_j2; gnu_parallel ;;
    2) local_j2; gnu_parallel; remote ;;
    0) gnu_parallel; remote; local_j2 ;;
  esac
  if [ $((r % 2)) = 1 ]; then remote_persistent; local_persistent; else local_persistent; remote_persistent; fi
done

median() { sort -n | awk '{a[NR] = $1} END {print a[int((NR + 1) / 2)]}'; }
echo "# bench/distributed.sh $rounds $n $pn (medians of $rounds rounds)"
echo "# wall: seconds for $n tasks (GNU parallel: its $pn-task time scaled to $n)."
echo "# cpu: user+sys of the tool's process and the children it waited for: the"
echo "# coordinator alone for remote_2x1 (-j 0), mp map with its workers and tasks"
echo "# for local_j2, parallel with its ssh clients for parallel_S."
printf "%-12s %10s %10s %14s\n" tool wall_s cpu_s cpu_ms_per_task
for tool in remote_2x1 local_j2 parallel_S; do
  w=$(awk -v t="$tool" '$1 == t {print $2}' "$tmp/runs" | median)
  c=$(awk -v t="$tool" '$1 == t {print $3}' "$tmp/runs" | median)
  p=$(awk -v t="$tool" '$1 == t {print $4}' "$tmp/runs" | median)
  printf "%-12s %10s %10s %14s\n" "$tool" "$w" "$c" "$p"
done
echo
echo "# --persistent cat, seq $ps ($ps_bytes bytes), 2 remote workers of 1 slot (coordinator -j 0)"
echo "# vs local mp map --persistent -j2; rss: coordinator alone (remote), largest process (local)."
printf "%-18s %10s %10s %12s\n" tool wall_s MB_per_s peak_rss_MiB
for tool in remote_persistent local_persistent; do
  w=$(awk -v t="$tool" '$1 == t {print $2}' "$tmp/pruns" | median)
  m=$(awk -v t="$tool" '$1 == t {print $3}' "$tmp/pruns" | median)
  r=$(awk -v t="$tool" '$1 == t {print $4}' "$tmp/pruns" | median)
  printf "%-18s %10s %10s %12s\n" "$tool" "$w" "$m" "$r"
done
