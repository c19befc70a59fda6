#!/usr/bin/env bash
# The rolling upgrade over OpenSSH: a real sshd started here on 127.0.0.1 with throwaway host
# and user keys, three greeter nodes behind it (each its own root, state folder and port), the
# coordinator reaching them with the system's ssh and nothing but the inventory's identity and
# known_hosts. An unknown host key, a changed one, a refused user key, a missing applier and
# an older one are each refused before anything changes, naming the node and the fix; the bundle is copied into
# each node's inbox (a partial copy is carried on, a damaged one sent again) and staged there;
# the rollout then runs as it does locally, over one ssh connection per node.
source "$(dirname "$0")/lib.sh"

# When the test stops early: the coordinator it runs in the background is stopped, and an apply
# of node-2 held in its health check is let go and waited for (60 s at most), so that no
# service it starts outlives the test.
release() {
    if [ -n "${job:-}" ]; then kill "$job" 2>/dev/null; fi
    [ -e "$SCRATCH/held" ] || return 0
    touch "$SCRATCH/go"
    for _ in $(seq 1 600); do
        "$FERRY_APPLIER" status --state-dir "$SCRATCH/sites/node-2/state" 2>&1 | grep -q "^in progress" || break
        sleep 0.1
    done
}
trap 'rc=$?; set +e; release; stop_sshd; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((20500 + $$ % 60 * 3))
start_sshd $((20700 + $$ % 100))
pass "sshd listens on 127.0.0.1:$SSH_PORT"
# Keys of this test's refusals: another host key, and a user key the node does not accept.
ssh-keygen -q -t ed25519 -N '' -C other-host -f "$SSH_DIR/other_host_key"
ssh-keygen -q -t ed25519 -N '' -C stranger -f "$SSH_DIR/stranger"
echo "[127.0.0.1]:$SSH_PORT $(cut -d' ' -f1,2 "$SSH_DIR/other_host_key.pub")" >"$SSH_DIR/changed_known_hosts"
: >"$SSH_DIR/empty_known_hosts"

# --- Three nodes behind it, on 1.0.0 -------------------------------------------------------------

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
# 2.0.0 with one more health check, which holds the apply until $SCRATCH/go exists (60 s at
# most): the test cuts the connection of a node there.
variant greeter-2.0.0.yaml greeter-2.0.0-held.yaml "s['procedure']['health'].append({'name': 'held', 'timeout': 90,
    'command': ['/bin/sh', '-c', 'touch $SCRATCH/held; i=0; while [ ! -e $SCRATCH/go ] && [ \$i -lt 600 ]; do sleep 0.1; i=\$((i+1)); done']})"
build greeter-2.0.0-held.yaml v2 && B2=$BUILT
greeter_cluster 3 "$B1"
# The same nodes, reached over ssh: root and state folder are paths on the node.
ssh_inventory() { # KNOWN_HOSTS IDENTITY APPLIER OUT
    sed "s|{name: \(node-[0-9]*\), |{name: \1, transport: ssh, host: 127.0.0.1, port: $SSH_PORT, known_hosts: $1, identity: $2, applier: $3, |" \
        "$INV" >"$4"
    echo "rollout: {order: leader-last, canary: 1, after_canary: 0s, max_unavailable: 1}" >>"$4"
}
SSH_INV=$SCRATCH/ssh.yaml
ssh_inventory "$SSH_DIR/known_hosts" "$SSH_DIR/id" "$FERRY_APPLIER" "$SSH_INV"
coordinator() { "$FERRY_APPLIER" "$@" --trust "$TRUST" --ack-breaking --allow-major; }
before=$(cluster_picture)

# --- Refused before anything changes --------------------------------------------------------------

ssh_inventory "$SSH_DIR/empty_known_hosts" "$SSH_DIR/id" "$FERRY_APPLIER" "$SCRATCH/unknown.yaml"
run coordinator apply "$B2" --inventory "$SCRATCH/unknown.yaml"
[ "$RC" -eq 4 ] && pass "an unknown host key: the rollout is refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
fingerprint=$(ssh-keygen -l -f "$SSH_DIR/host_key.pub" | cut -d' ' -f2)
expect_output "it names the node, the file and the key the host presents" \
    "node node-1 (127.0.0.1:$SSH_PORT): its host key is not in $SSH_DIR/empty_known_hosts (it presents 256 $fingerprint"
expect_output "it says how to trust it once checked: no trust on first use" \
    "nothing is trusted on first use: compare that fingerprint with the node's own"
expect_output "and the command that adds it" "ssh-keyscan -p $SSH_PORT 127.0.0.1 >> $SSH_DIR/empty_known_hosts"
[ ! -s "$SSH_DIR/empty_known_hosts" ] && pass "the known_hosts file is left as it was (empty)" || fail "known_hosts was written"

ssh_inventory "$SSH_DIR/changed_known_hosts" "$SSH_DIR/id" "$FERRY_APPLIER" "$SCRATCH/changed.yaml"
run coordinator apply "$B2" --inventory "$SCRATCH/changed.yaml"
[ "$RC" -eq 4 ] && pass "a changed host key: refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_output "it says the key is not the one known_hosts holds" \
    "node node-1 (127.0.0.1:$SSH_PORT): its host key is not the one $SSH_DIR/changed_known_hosts holds: refused"

ssh_inventory "$SSH_DIR/known_hosts" "$SSH_DIR/stranger" "$FERRY_APPLIER" "$SCRATCH/stranger.yaml"
run coordinator apply "$B2" --inventory "$SCRATCH/stranger.yaml"
[ "$RC" -eq 4 ] && pass "a user key the node does not accept: refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_output "it names the key" "node node-1 (127.0.0.1:$SSH_PORT): the node refused the key $SSH_DIR/stranger"

ssh_inventory "$SSH_DIR/known_hosts" "$SSH_DIR/id" /opt/nowhere/ferry-applier "$SCRATCH/noapplier.yaml"
run coordinator apply "$B2" --inventory "$SCRATCH/noapplier.yaml"
[ "$RC" -eq 4 ] && pass "no applier on the node: refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_output "it names the node and the path" \
    "node node-1 (127.0.0.1:$SSH_PORT): there is no /opt/nowhere/ferry-applier there: install the ferry-applier package"

printf '#!/bin/sh\necho "ferry-applier 0.0.9"\n' >"$SCRATCH/old-applier"
chmod +x "$SCRATCH/old-applier"
ssh_inventory "$SSH_DIR/known_hosts" "$SSH_DIR/id" "$SCRATCH/old-applier" "$SCRATCH/old.yaml"
run coordinator apply "$B2" --inventory "$SCRATCH/old.yaml"
[ "$RC" -eq 4 ] && pass "an older applier on the node: refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_output "it names the versions" "node node-1 (127.0.0.1:$SSH_PORT) runs ferry-applier 0.0.9; this coordinator needs"

mkdir "$SCRATCH/parts"
"$FERRY_BUNDLER" split -q "$B2" --size 3M --out-dir "$SCRATCH/parts" >/dev/null
expect_fail "a bundle in parts, to nodes over ssh: refused, saying how to join them (exit 2)" 2 \
    "the bundle is split in parts, and node node-1 is reached over ssh, which sends it a whole bundle" \
    coordinator apply "$SCRATCH/parts/greeter-2.0.0.ferry.001" --inventory "$SSH_INV"

[ "$(cluster_picture)" == "$before" ] && pass "after all six: no node changed, nothing staged" || fail "a node changed"

# --- plan over ssh ------------------------------------------------------------------------------

run coordinator plan "$B2" --inventory "$SSH_INV"
[ "$RC" -eq 0 ] && pass "plan --inventory over ssh: exit 0" || fail "plan: exit $RC $(cat "$SCRATCH/err") $(cat "$SCRATCH/out")"
expect_output "the nodes answer over ssh; the bundle is not on them yet" \
    "node-1           1.0.0      leader   healthy   plan: not_staged"

# --- The copy: a connection dropped mid-way carried on, a damaged partial copy sent again -------

sha=$(tar -xOf "$B2" manifest.yaml | sha256sum | cut -d' ' -f1) # the staged copy's name (docs/audit.md)
size=$(stat -c %s "$B2")
inbox2=$SCRATCH/sites/node-2/state/inbox/$sha.ferry
mkdir -p "$SCRATCH/sites/node-3/state/inbox"
head -c 300000 "$B2" | tr '\000-\377' '\001-\377\000' >"$SCRATCH/sites/node-3/state/inbox/$sha.ferry"
# A slow link (each copy takes about 3 s), and node-2's connection cut once part of its copy arrived.
FERRY_TEST_COPY_RATE=$((size / 3)) coordinator apply "$B2" --inventory "$SSH_INV" >"$SCRATCH/out" 2>"$SCRATCH/err" &
job=$!
copier=
for _ in $(seq 1 200); do # 10 s at most
    arrived=$(stat -c %s "$inbox2" 2>/dev/null || echo 0)
    if [ "$arrived" -gt 262144 ] && [ "$arrived" -lt "$size" ]; then
        copier=$(writer_of "$inbox2")
        [ -n "$copier" ] && break
    fi
    sleep 0.05
done
[ -n "$copier" ] && drop_connection "$copier" &&
    pass "node-2's connection dropped in the middle of its copy (after $arrived of $size bytes)" ||
    fail "no copy to node-2 caught in the middle: $(cat "$SCRATCH/err")"
set +e; wait "$job"; RC=$?; job=; set -e
[ "$RC" -eq 4 ] && pass "node-2's dropped copy and node-3's damaged one: their stages fail, the rollout is refused (exit 4)" ||
    fail "exit $RC $(cat "$SCRATCH/err")"
partial=$(stat -c %s "$inbox2" 2>/dev/null || echo 0)
expect_output "node-2 is named, with what arrived and what to do" \
    "  - node node-2: stage failed: node node-2: the copy to $inbox2 stopped after $partial of $size bytes ("
expect_output "... run the same command again" "run the same command again to go on from there"
[ "$partial" -gt 0 ] && [ "$partial" -lt "$size" ] && pass "what arrived stays in node-2's inbox ($partial bytes)" ||
    fail "node-2's inbox holds $partial of $size bytes"
expect_output "node-3 is named" "  - node node-3: stage failed: "
[ "$(versions)" == "1.0.0 1.0.0 1.0.0" ] && pass "no service stopped" || fail "versions: $(versions)"
[ ! -e "$SCRATCH/sites/node-3/state/inbox/$sha.ferry" ] && pass "the damaged copy is removed" || fail "the damaged copy is still there"
[ ! -e "$SCRATCH/sites/node-1/state/inbox/$sha.ferry" ] && pass "node-1's inbox copy is gone once staged" ||
    fail "node-1's inbox copy is left"

# --- The rollout over ssh, node-2's connection dropped in the middle of its apply ---------------

# Its health check holds the apply there until the test lets it go (30 s at most).
coordinator apply "$B2" --inventory "$SSH_INV" >"$SCRATCH/out" 2>"$SCRATCH/err" &
job=$!
for _ in $(seq 1 600); do [ -e "$SCRATCH/held" ] && break; sleep 0.1; done # 60 s at most
grep -qF "  node-2: copying $(awk -v b=$((size - partial)) 'BEGIN { printf "%.1f", b / 1048576 }') MiB (resumed after $(awk -v b="$partial" 'BEGIN { printf "%.1f", b / 1048576 }') MiB)" "$SCRATCH/err" &&
    pass "node-2's copy went on from the $partial bytes that had arrived" || fail "no resume: $(cat "$SCRATCH/err")"
grep -qE "^  node-3: copying [0-9.]+ MiB$" "$SCRATCH/err" && pass "node-3 was sent the whole bundle again" ||
    fail "no new copy for node-3: $(cat "$SCRATCH/err")"
! grep -q "node-1: copying" "$SCRATCH/err" && pass "node-1, staged already, was not sent it again" ||
    fail "node-1 was sent it again"
applying=$({ "$FERRY_APPLIER" status --json --state-dir "$SCRATCH/sites/node-2/state" || true; } | /usr/bin/python3 -c \
    'import json, sys; j = json.load(sys.stdin); print((j["in_progress"] or {}).get("pid") or "")' || true)
[ -n "$applying" ] && drop_connection "$applying" &&
    pass "node-2's connection dropped during its apply (its health check)" || fail "no apply of node-2 caught: $(cat "$SCRATCH/err")"
set +e; wait "$job"; RC=$?; job=; set -e
[ "$RC" -eq 6 ] && pass "the coordinator stops (exit 6)" || fail "exit $RC $(cat "$SCRATCH/err") $(cat "$SCRATCH/out")"
expect_output "it says the connection to node-2 was lost during its apply" \
    "node node-2 (127.0.0.1:$SSH_PORT): the connection was lost while \`ferry-applier apply\` ran there ("
expect_output "... that it goes on there, and what to do" \
    "it goes on by itself on the node: run the same command again, which waits for it to end and carries on from the node's own journal"
kill -0 "$applying" 2>/dev/null && pass "node-2's apply goes on without its connection" || fail "node-2's apply died with its connection"

# Run again while node-2's apply still runs: it waits for it, and starts no second one.
accepted_before=$(grep -c "Accepted publickey" "$SSH_DIR/sshd.log" || true)
coordinator apply "$B2" --inventory "$SSH_INV" >"$SCRATCH/out" 2>"$SCRATCH/err" &
job=$!
for _ in $(seq 1 300); do grep -q "node-2 is still working" "$SCRATCH/err" && break; sleep 0.1; done # 30 s at most
expect_waits="node-2 is still working on its upgrade (its state folder is locked): waiting for it to end"
grep -qF "$expect_waits" "$SCRATCH/err" && pass "the next run waits for node-2's apply" || fail "no wait: $(cat "$SCRATCH/err")"
touch "$SCRATCH/go"
set +e; wait "$job"; RC=$?; job=; set -e
[ "$RC" -eq 0 ] && pass "then it carries the rollout on to its end: exit 0" || fail "exit $RC $(cat "$SCRATCH/err") $(cat "$SCRATCH/out")"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "every node on 2.0.0" || fail "versions: $(versions)"
runs=$("$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-2/state" | /usr/bin/python3 -c \
    'import json, sys; print(" ".join(r["state"] for r in json.load(sys.stdin)["runs"] if r["version"] == "2.0.0"))')
[ "$runs" == "committed" ] && pass "node-2 ran one apply of 2.0.0, to its end (committed)" || fail "node-2's runs of 2.0.0: $runs"
order=$(grep -E '^(checking|upgrading|stepping down)' "$SCRATCH/err" | tr '\n' '|')
[ "$order" == "checking node-2, upgraded before the last coordinator stopped|upgrading node-3|stepping down the leader node-1|upgrading node-1|" ] &&
    pass "node-2 passes its gate, then the follower, then the leader after its step-down" || fail "order: $order"
accepted=$(( $(grep -c "Accepted publickey" "$SSH_DIR/sshd.log") - accepted_before ))
[ "$accepted" -ge 1 ] && [ "$accepted" -le 3 ] &&
    pass "one ssh handshake per node at most, for the whole run ($accepted)" || fail "$accepted handshakes"
for i in 1 2 3; do
    GREETER_PORT=$((BASE_PORT + i)) "$SCRATCH/sites/node-$i/root/usr/bin/greeter" check \
        --config "$SCRATCH/sites/node-$i/root/etc/greeter/greeter.env" --expect-version 2.0.0 >/dev/null 2>&1 ||
        fail "node-$i does not serve 2.0.0"
done
run "$FERRY_APPLIER" status --inventory "$SSH_INV"
[ "$RC" -eq 0 ] && pass "status --inventory over ssh: exit 0" || fail "status: exit $RC $(cat "$SCRATCH/out")"
