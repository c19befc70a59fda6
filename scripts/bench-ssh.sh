#!/usr/bin/env bash
# Nodes over ssh, run by hand (not part of the test suite); see docs/benchmarks.md, "Over ssh".
#
# Usage: scripts/bench-ssh.sh [--size-mib N] [--build DIR] [--work DIR]
#   --size-mib N  the pre-staged bundle's size (default 256)
#   --build DIR   build tree with bundler/ferry-bundler and applier/ferry-applier (default: build)
#   --work DIR    work folder, emptied first (default: /var/tmp/ferry-bench-ssh)
#
# An sshd started here on 127.0.0.1 (throwaway host and user keys, stopped at the end), four
# nodes behind it. 1. Pre-staging: `apply --inventory` of an N MiB bundle (incompressible
# bytes) outside the inventory's window, which copies it to the four nodes at once and stages
# it there, then pauses before any node is stopped; against scp of the same file to the same
# four nodes at once (same sshd, same keys). 2. The coordinator over ssh: a rollout of a tiny
# bundle over the four nodes, against the same rollout over four local nodes; the difference,
# per node, is what reaching a node over ssh costs. Needs /usr/sbin/sshd (openssh-server).
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
source "$repo/scripts/loopback-sshd.sh"
size_mib=256
build=$repo/build
work=/var/tmp/ferry-bench-ssh
while [ $# -gt 0 ]; do
    case $1 in
    --size-mib) size_mib=$2; shift 2 ;;
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    --work) work=$2; shift 2 ;;
    *) sed -n '2,16s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 2 ;;
    esac
done
bundler=$build/bundler/ferry-bundler
applier=$build/applier/ferry-applier
for tool in "$bundler" "$applier"; do
    [ -x "$tool" ] || { echo "bench-ssh: error: $tool is not built (scripts/build.sh)" >&2; exit 1; }
done
[ -x /usr/sbin/sshd ] || { echo "bench-ssh: error: no /usr/sbin/sshd (Debian's openssh-server)" >&2; exit 1; }
rm -rf "$work"
mkdir -p "$work"/{keys,ssh/home,out,scp,big,tiny}
work=$(cd "$work" && pwd)

# --- The sshd, as the tests start it (tests/cli/lib.sh, start_sshd) ----------------------------

port=$((20683 + $$ % 17)) # beside the tests' ports (nodes 20501-20682, sshd 20700-20799)
ssh_dir=$work/ssh
# Sessions get an empty HOME of their own, so that the user's shell start-up files (~/.bashrc)
# are not part of what is measured, for Ferry as for scp.
loopback_sshd "$ssh_dir" "$port" || { echo "bench-ssh: error: sshd did not start: $(tail -3 "$ssh_dir/sshd.log")" >&2; exit 1; }
trap 'loopback_sshd_stop "$ssh_dir"' EXIT
ssh_options=(-F none -o BatchMode=yes -o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$ssh_dir/known_hosts"
    -o IdentitiesOnly=yes -o IdentityAgent=none -o "IdentityFile=$ssh_dir/id")

bash "$repo/samples/make-test-keys.sh" "$bundler" "$work/keys" >/dev/null 2>&1
trust=$work/keys/trust.yaml
# spec DIR NAME: a bundle spec of one component with the files in DIR/files/.
spec() {
    cat >"$1/spec.yaml" <<EOF
name: $2
version: 1.0.0
sequence: 1
expires_in_days: 30
compatible: {product: $2, channel: bench}
upgrade_from: ">=0.0.0 <1.0.0"
breaking_changes: []
components:
  - name: payload
    version: 1.0.0
    files:
      - {source: files/, role: doc, dest: /opt/$2/}
EOF
}
# inventory FILE TRANSPORT SITES [ROLLOUT]: four nodes below SITES, over ssh or local.
inventory() {
    local i
    printf 'cluster: bench\nnodes:\n' >"$1"
    for i in 1 2 3 4; do
        mkdir -p "$3/node-$i/root"
        if [ "$2" = ssh ]; then
            echo "  - {name: node-$i, transport: ssh, host: 127.0.0.1, port: $port, known_hosts: $ssh_dir/known_hosts, identity: $ssh_dir/id, applier: $applier, root: $3/node-$i/root, state_dir: $3/node-$i/state}" >>"$1"
        else
            echo "  - {name: node-$i, root: $3/node-$i/root, state_dir: $3/node-$i/state}" >>"$1"
        fi
    done
    echo "rollout: {canary: 1, after_canary: 0s, max_unavailable: 1${4:+, $4}}" >>"$1"
}
seconds() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }

# --- 1. Pre-staging an N MiB bundle to four nodes, against scp ----------------------------------

echo "== a $size_mib MiB bundle to four nodes over ssh"
mkdir -p "$work/big/files"
head -c "$((size_mib * 1048576))" /dev/urandom >"$work/big/files/payload.bin"
spec "$work/big" bigbench
"$bundler" build -q "$work/big/spec.yaml" --key "$work/keys/test-release-1.key" -o "$work/out" >/dev/null
big=$work/out/bigbench-1.0.0.ferry
echo "bundle: $(du -m "$big" | cut -f1) MiB"
# A window that is not now: the rollout stages everywhere, then pauses before stopping a node.
start=$(date -u -d '+3 hours' +%H:00)
end=$(date -u -d '+4 hours' +%H:00)
inventory "$work/big/inventory.yaml" ssh "$work/big/sites" "window: {start: \"$start\", end: \"$end\"}"
cat "$big" >/dev/null # warm: both read it from the page cache
t0=$(seconds)
set +e
# Each progress line stamped with the time it came, to split the run in its phases.
"$applier" apply "$big" --inventory "$work/big/inventory.yaml" --trust "$trust" 2>&1 >"$work/big/out" |
    while IFS= read -r line; do printf '%s %s\n' "$(date +%s.%N)" "$line"; done >"$work/big/err"
rc=${PIPESTATUS[0]}
set -e
t1=$(seconds)
if [ "$rc" -ne 8 ]; then
    echo "bench-ssh: error: the pre-staging run ended with exit $rc, not 8 (paused outside the window):" >&2
    tail -5 "$work/big/err" "$work/big/out" >&2
    exit 1
fi
ferry_s=$(elapsed "$t0" "$t1")
# The phases: every copy done, every node staged (the node's own verified stage), the end
# (each node's plan of its staged copy, which reads and checks it once more, then the pause).
last_at() { grep -E "^[0-9.]+ $1" "$work/big/err" | tail -1 | cut -d' ' -f1; }
copy_s=$(elapsed "$t0" "$(last_at '  node-[0-9]: copied')")
staged_s=$(elapsed "$t0" "$(last_at 'staged on node-')")
grep -E '^[0-9.]+   node-[0-9]: copied' "$work/big/err" | cut -d' ' -f2- || true

for i in 1 2 3 4; do mkdir -p "$work/scp/node-$i"; done
t0=$(seconds)
for i in 1 2 3 4; do
    scp "${ssh_options[@]}" -q -P "$port" "$big" "127.0.0.1:$work/scp/node-$i/" &
done
wait
t1=$(seconds)
scp_s=$(elapsed "$t0" "$t1")
for i in 1 2 3 4; do cmp -s "$big" "$work/scp/node-$i/$(basename "$big")" || { echo "bench-ssh: scp to node-$i differs" >&2; exit 1; }; done
rm -rf "$work/scp"

# --- 2. The coordinator over ssh: a tiny bundle's rollout, ssh against local --------------------

echo "== a tiny bundle rolled over four nodes, over ssh and locally"
mkdir -p "$work/tiny/files"
echo "tiny" >"$work/tiny/files/tiny.txt"
spec "$work/tiny" tinybench
"$bundler" build -q "$work/tiny/spec.yaml" --key "$work/keys/test-release-1.key" -o "$work/out" >/dev/null
tiny=$work/out/tinybench-1.0.0.ferry
declare -A rollout_s
for transport in local ssh; do
    inventory "$work/tiny/$transport.yaml" "$transport" "$work/tiny/$transport"
    sessions_before=$(grep -c "Starting session: command" "$ssh_dir/sshd.log" || true)
    t0=$(seconds)
    "$applier" apply "$tiny" --inventory "$work/tiny/$transport.yaml" --trust "$trust" >"$work/tiny/$transport.out" 2>&1 ||
        { echo "bench-ssh: error: the $transport rollout failed:" >&2; tail -5 "$work/tiny/$transport.out" >&2; exit 1; }
    t1=$(seconds)
    rollout_s[$transport]=$(elapsed "$t0" "$t1")
done
handshakes=$(grep -c "Accepted publickey" "$ssh_dir/sshd.log" || true)
sessions=$(($(grep -c "Starting session: command" "$ssh_dir/sshd.log") - sessions_before))

echo
echo "| measurement | time |"
echo "|---|---|"
echo "| Ferry: pre-stage $size_mib MiB to 4 nodes over ssh (copy + each node's verified stage) | ${ferry_s} s |"
echo "| ... of which: the copies, four at once (until the last one ended) | ${copy_s} s |"
echo "| ... then each node's own stage (every chunk checked as it goes into its state folder) | $(elapsed "$copy_s" "$staged_s") s |"
echo "| ... then each node's plan of its staged copy, and the pause | $(elapsed "$staged_s" "$ferry_s") s |"
echo "| scp of the same file to the same 4 nodes at once | ${scp_s} s |"
echo "| rollout of a tiny bundle over 4 local nodes | ${rollout_s[local]} s |"
echo "| the same over 4 nodes over ssh | ${rollout_s[ssh]} s |"
echo
awk -v f="$ferry_s" -v c="$copy_s" -v s="$scp_s" -v l="${rollout_s[local]}" -v r="${rollout_s[ssh]}" -v n="$sessions" 'BEGIN {
    printf "pre-stage / scp: %.2fx (target <= 1.2x); the copies alone / scp: %.2fx\n", f / s, c / s
    printf "the coordinator over ssh: %.2f s a node (%.2f s over ssh, %.2f s locally)\n", (r - l) / 4, r / 4, l / 4
    printf "the tiny rollout over ssh ran %d commands (ssh sessions) on the nodes, %.1f a node: %.0f ms a session\n", n, n / 4, (r - l) * 1000 / n
}'
echo "ssh handshakes in all: $handshakes ($(ssh -V 2>&1))"
rm -rf "$work"/big/sites "$work"/tiny/ssh "$work"/tiny/local "$work/big/files" "$big"
