#!/usr/bin/env bash
# The demo: installs what is missing, builds, then walks through Ferry's main job on the
# samples: test keys, signed bundles, inspect, verify, a tampered copy refused; then, in a
# sandbox root, installs greeter 1.0.0, upgrades it to 2.0.0 (config merge, migration, health
# check) and applies a deliberately broken 2.1.0 that is rolled back automatically; then rolls
# 1.0.0 -> 2.0.0 across a local cluster of three nodes (canary, pause, the leader last after a
# step-down) and shows the broken 2.1.0 stopped at the canary; where sshd can run, rolls 2.0.0
# across three more nodes reached over ssh on 127.0.0.1 (throwaway keys, an sshd of its own).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/loopback-sshd.sh

bash scripts/install-deps.sh
bash scripts/build.sh

build=${BUILD_DIR:-build}
bundler="$build/bundler/ferry-bundler"
applier="$build/applier/ferry-applier"
work=work/demo
rm -rf "$work"
mkdir -p "$work/keys" "$work/out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. Generate test signing keys and a trust store (for tests only)"
bash samples/make-test-keys.sh "$bundler" "$work/keys"

step "2. Build and sign the sample bundles (greeter 1.0.0, 2.0.0, and a broken 2.1.0)"
show "$bundler" build "$build/samples/greeter/greeter-1.0.0.yaml" --key "$work/keys/test-release-1.key" --out-dir "$work/out"
show "$bundler" build "$build/samples/greeter/greeter-2.0.0.yaml" --key "$work/keys/test-release-1.key" --out-dir "$work/out"
show "$bundler" build "$build/samples/greeter/greeter-2.1.0-broken.yaml" --key "$work/keys/test-release-1.key" --out-dir "$work/out"

step "3. Co-sign 2.0.0 with a second key (the payload is copied, not recompressed)"
show "$bundler" sign "$work/out/greeter-2.0.0.ferry" --key "$work/keys/test-release-2.key"

step "4. Inspect it (reads only the manifest)"
show "$applier" inspect "$work/out/greeter-2.0.0.ferry" --trust "$work/keys/trust.yaml"

step "5. Verify it as the site would: signatures, expiry, every chunk and every file"
show "$applier" verify "$work/out/greeter-2.0.0.ferry" --trust "$work/keys/trust.yaml"

step "6. A copy with one byte of the payload flipped is refused"
tampered="$work/out/greeter-2.0.0-tampered.ferry"
cp "$work/out/greeter-2.0.0.ferry" "$tampered"
size=$(stat -c %s "$tampered")
offset=$((size - 2048))
byte=$(od -An -tu1 -j "$offset" -N1 "$tampered" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$tampered" bs=1 seek="$offset" conv=notrunc status=none
set +e
show "$applier" verify "$tampered" --trust "$work/keys/trust.yaml"
rc=$?
set -e
if [ "$rc" -ne 3 ]; then
    echo "demo: expected the tampered bundle to be refused with exit code 3, got $rc" >&2
    exit 1
fi
echo "(exit code $rc: verification failure; nothing was installed)"

# The node: a sandbox root and state folder, the service on a loopback port.
root="$PWD/$work/root"
state="$PWD/$work/state"
mkdir -p "$root"
export GREETER_PORT=${GREETER_PORT:-18080}
stop_all() {
    local r
    for r in "$root" "$PWD/$work"/cluster/node-*/root "$PWD/$work"/ssh-cluster/node-*/root; do
        [ -x "$r/usr/bin/greeterctl" ] && "$r/usr/bin/greeterctl" stop "$r" >/dev/null 2>&1
    done
    loopback_sshd_stop "$PWD/$work/ssh"
    return 0
}
trap stop_all EXIT
site=(--trust "$work/keys/trust.yaml" --root "$root" --state-dir "$state")
greeter_check() { show "$root/usr/bin/greeter" check --config "$root/etc/greeter/greeter.env" "$@"; }

step "7. Install greeter 1.0.0 into the sandbox root $root"
show "$applier" apply "$work/out/greeter-1.0.0.ferry" "${site[@]}"
greeter_check --expect-version 1.0.0

step "8. Plan the upgrade to 2.0.0: files, config diff, migrations, images, backups, checklist"
show "$applier" plan "$work/out/greeter-2.0.0.ferry" "${site[@]}" --ack-breaking --allow-major

step "9. Stage 2.0.0 ahead of the window: a verified copy on the node, chunk by chunk, resumable"
show "$applier" stage "$work/out/greeter-2.0.0.ferry" "${site[@]}" --ack-breaking --allow-major
show "$applier" status --state-dir "$state"

step "10. Apply 2.0.0 from the staged copy: stop, back up, install, merge the config, migrate, start, health check"
show "$applier" apply "$work/out/greeter-2.0.0.ferry" "${site[@]}" --ack-breaking --allow-major
greeter_check --expect-version 2.0.0
show sqlite3 "$root/var/lib/greeter/greeter.db" \
    'SELECT id, version FROM ferry_migrations;' 'SELECT id, language, text FROM greetings;'

step "11. Apply the broken 2.1.0: its health check fails, and Ferry rolls back by itself"
set +e
show "$applier" apply "$work/out/greeter-2.1.0.ferry" "${site[@]}"
rc=$?
set -e
if [ "$rc" -ne 5 ]; then
    echo "demo: expected the broken bundle to fail and roll back with exit code 5, got $rc" >&2
    exit 1
fi
echo "(exit code $rc: the procedure failed and the node was rolled back)"
greeter_check --expect-version 2.0.0
show sqlite3 "$root/var/lib/greeter/greeter.db" 'SELECT COUNT(*) AS greetings FROM greetings;'

step "12. What happened, as the state database and its audit log record it"
show "$applier" status --state-dir "$state"
show "$applier" history --state-dir "$state"
show "$applier" audit verify --state-dir "$state"

step "13. A cluster of three nodes on this machine, node-1 leading: greeter 1.0.0 on each"
cluster="$PWD/$work/cluster"
inventory="$cluster/inventory.yaml"
base_port=$((GREETER_PORT + 10))
mkdir -p "$cluster"
printf 'cluster: greeters\nnodes:\n' >"$inventory"
for i in 1 2 3; do
    node="$cluster/node-$i"
    mkdir -p "$node/root/var/lib/greeter"
    # The sample's stand-in for leadership: a role file per node (greeterctl role, step-down).
    if [ "$i" -eq 1 ]; then echo leader; else echo follower; fi >"$node/root/var/lib/greeter/role"
    echo "  - {name: node-$i, root: $node/root, state_dir: $node/state, vars: {GREETER_PORT: \"$((base_port + i))\", GREETER_NEXT_LEADER: $cluster/node-$((i % 3 + 1))/root}}" >>"$inventory"
    GREETER_PORT=$((base_port + i)) "$applier" apply -q "$work/out/greeter-1.0.0.ferry" --trust "$work/keys/trust.yaml" \
        --root "$node/root" --state-dir "$node/state"
done
echo "rollout: {order: leader-last, canary: 1, after_canary: pause, max_unavailable: 1, max_failures: 0}" >>"$inventory"
show cat "$inventory"
cluster_run() { show "$applier" "$@" --inventory "$inventory" --trust "$work/keys/trust.yaml" --ack-breaking --allow-major; }
expect_code() {
    if [ "$1" -ne "$2" ]; then
        echo "demo: expected exit code $2, got $1" >&2
        exit 1
    fi
    echo "(exit code $1: $3)"
}

step "14. Plan the rolling upgrade to 2.0.0: each node's state, role and own plan; the order and why"
cluster_run plan "$work/out/greeter-2.0.0.ferry"

step "15. Roll 2.0.0: staged on every node, then the canary, then a pause"
set +e
cluster_run apply "$work/out/greeter-2.0.0.ferry"
rc=$?
set -e
expect_code "$rc" 8 "paused after the canary"

step "16. --continue: the follower, then the leader, stepped down first, last"
cluster_run apply "$work/out/greeter-2.0.0.ferry" --continue

step "17. Roll the broken 2.1.0: it fails on the canary, which rolls back; no other node is touched"
set +e
cluster_run apply "$work/out/greeter-2.1.0.ferry" --continue
rc=$?
set -e
expect_code "$rc" 5 "the rollout stopped at the canary, rolled back"

step "18. The same upgrade over ssh: three nodes behind an sshd on 127.0.0.1, reached with ssh alone"
# Throwaway host and user keys, an sshd of the demo's own (stopped on exit); the nodes' roots
# and state folders are paths "on the node", which here is this machine.
ssh_dir="$PWD/$work/ssh"
ssh_port=$((GREETER_PORT + 100))
ssh_cluster="$PWD/$work/ssh-cluster"
if [ ! -x /usr/sbin/sshd ]; then
    echo "(skipped: there is no /usr/sbin/sshd here; Debian's openssh-server provides it)"
else
    mkdir -p "$ssh_cluster"
    # The node's host key is in known_hosts by construction: never trusted on first use.
    loopback_sshd "$ssh_dir" "$ssh_port" || true
fi
if [ -x /usr/sbin/sshd ] && [ ! -s "$ssh_dir/sshd.pid" ]; then
    echo "(skipped: sshd would not start here: $(tail -1 "$ssh_dir/sshd.log" 2>/dev/null))"
elif [ -x /usr/sbin/sshd ]; then
    ssh_inventory="$ssh_cluster/inventory.yaml"
    printf 'cluster: greeters-over-ssh\nnodes:\n' >"$ssh_inventory"
    for i in 1 2 3; do
        node="$ssh_cluster/node-$i"
        mkdir -p "$node/root/var/lib/greeter"
        if [ "$i" -eq 1 ]; then echo leader; else echo follower; fi >"$node/root/var/lib/greeter/role"
        echo "  - {name: node-$i, transport: ssh, host: 127.0.0.1, port: $ssh_port, identity: $ssh_dir/id, known_hosts: $ssh_dir/known_hosts, applier: $(realpath "$applier"), root: $node/root, state_dir: $node/state, vars: {GREETER_PORT: \"$((base_port + 10 + i))\", GREETER_NEXT_LEADER: $ssh_cluster/node-$((i % 3 + 1))/root}}" >>"$ssh_inventory"
        GREETER_PORT=$((base_port + 10 + i)) "$applier" apply -q "$work/out/greeter-1.0.0.ferry" --trust "$work/keys/trust.yaml" \
            --root "$node/root" --state-dir "$node/state"
    done
    echo "rollout: {order: leader-last, canary: 1, after_canary: 0s, max_unavailable: 1}" >>"$ssh_inventory"
    show cat "$ssh_inventory"
    echo "(each node: the bundle copied into its inbox and staged there, then its own ferry-applier run over one ssh connection)"
    show "$applier" apply "$work/out/greeter-2.0.0.ferry" --inventory "$ssh_inventory" --trust "$work/keys/trust.yaml" \
        --ack-breaking --allow-major
    show "$applier" status --inventory "$ssh_inventory"
fi

step "Done. Bundles: $work/out; keys: $work/keys; node: $root (state in $state); cluster: $cluster. The services (and the demo's sshd) are stopped on exit."
