#!/usr/bin/env bash
# `plan BUNDLE --inventory I`: three local nodes running greeter 1.0.0, one of them the leader.
# The coordinator asks each node, through its own `ferry-applier ... --json`, its state, role,
# health and own plan, then prints the order and why; it changes nothing. A bundle whose peers
# exclude the running version, a node that cannot be reached, and a bad inventory are refused;
# so is each bad inventory given to apply (a name, root or state folder twice, max_unavailable
# out of range), at its line, before anything is touched.
source "$(dirname "$0")/lib.sh"

trap 'rc=$?; set +e; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((19200 + $$ % 100 * 3))

greeter_setup
# The role is what the node's variables say (a test stand-in for asking the service).
role='s["procedure"]["cluster"] = {"role": ["/bin/sh", "-c", "echo $NODE_ROLE"]}'
variant greeter-1.0.0.yaml c1.yaml "$role"
build c1.yaml c1 && C1=$BUILT
variant greeter-2.0.0.yaml c2.yaml "$role"'
s["procedure"]["cluster"]["peers"] = ">=1.0.0 <3.0.0"'
build c2.yaml c2 && C2=$BUILT
variant greeter-2.0.0.yaml skew.yaml "$role"'
s["procedure"]["cluster"]["peers"] = ">=2.0.0"'
build skew.yaml skew && SKEW=$BUILT

# Three nodes, node-1 the leader, each with its own port; 1.0.0 installed and running on each.
INV=$SCRATCH/inventory.yaml
printf 'cluster: greeters\nnodes:\n' >"$INV"
for i in 1 2 3; do
    site "node-$i"
    r=leader
    [ "$i" -gt 1 ] && r=follower
    echo "  - {name: node-$i, root: $R, state_dir: $S, vars: {GREETER_PORT: \"$((BASE_PORT + i))\", NODE_ROLE: $r}}" >>"$INV"
    GREETER_PORT=$((BASE_PORT + i)) NODE_ROLE=$r expect_ok "node-$i: install 1.0.0" \
        "$FERRY_APPLIER" apply -q "$C1" --trust "$TRUST" --root "$R" --state-dir "$S"
done
echo "rollout: {order: leader-last, canary: 1, max_unavailable: 1}" >>"$INV"

# picture: every node's files (the services' logs and pidfiles aside) and state databases.
picture() {
    local i
    for i in 1 2 3; do
        snapshot "$SCRATCH/sites/node-$i/root" | { grep -vE ' \./(var/log|run)(/|$)' || true; }
        sqlite3 "$SCRATCH/sites/node-$i/state/state.db" .dump
    done
}
before=$(picture)

run "$FERRY_APPLIER" plan "$C2" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 0 ] && pass "plan --inventory: exit 0" || fail "plan --inventory: exit $RC $(cat "$SCRATCH/err")"
for line in "node-1           1.0.0      leader   healthy   plan: ok" "leader: node-1" \
    "1. canary: node-2 (at most 1 out at once)" "2. followers: node-3 (at most 1 out at once)" \
    "3. the leader node-1, last, alone, after a step-down" \
    "version skew: the new version interoperates with >=1.0.0 <3.0.0" "policy: ok, the rollout may proceed"; do
    expect_output "plan --inventory shows: $line" "$line"
done
run "$FERRY_APPLIER" plan "$C2" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major --json
expect_json "plan --inventory --json: the batches and each node" \
    "j['result'] == 'ok' and [(b['kind'], b['nodes']) for b in j['batches']] == [('canary', ['node-2']), ('batch', ['node-3']), ('leader', ['node-1'])] and all(n['healthy'] and n['version'] == '1.0.0' and n['plan'] == 'ok' for n in j['nodes'])"
if [ "$(picture)" == "$before" ]; then pass "plan --inventory changed nothing on any node"; else fail "a node changed"; fi

# Without the acknowledgements, each node's own plan refuses, and so does the rollout.
run "$FERRY_APPLIER" plan "$C2" --inventory "$INV" --trust "$TRUST"
[ "$RC" -eq 4 ] && pass "a node's own refusal refuses the rollout: exit 4" || fail "exit $RC"
expect_output "it names the node and its reason" "  - node node-1: upgrade from 1.0.0 to 2.0.0 is a major upgrade"

# The version-skew guard.
run "$FERRY_APPLIER" plan "$SKEW" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 4 ] && pass "skew: exit 4" || fail "skew: exit $RC $(cat "$SCRATCH/err")"
expect_output "skew: the refusal names the node and the range" \
    "node node-2 runs 1.0.0, and greeter 2.0.0 interoperates only with peers >=2.0.0"

# A node that cannot be reached (its root is gone) refuses the rollout, naming it.
sed "s#root: $SCRATCH/sites/node-3/root#root: $SCRATCH/gone#" "$INV" >"$SCRATCH/unreachable.yaml"
run "$FERRY_APPLIER" plan "$C2" --inventory "$SCRATCH/unreachable.yaml" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 4 ] && pass "unreachable node: exit 4" || fail "unreachable: exit $RC $(cat "$SCRATCH/err")"
expect_output "unreachable node: named, with what failed" "node node-3: status failed: --root: Directory does not exist"

# A bad inventory: file, line, key.
sed 's/canary: 1/canery: 1/' "$INV" >"$SCRATCH/bad.yaml"
expect_fail "a misspelt key in the inventory" 1 'bad.yaml:6: unknown key "canery" in rollout (did you mean "canary"?)' \
    "$FERRY_APPLIER" plan "$C2" --inventory "$SCRATCH/bad.yaml" --trust "$TRUST"
if [ "$(picture)" == "$before" ]; then pass "no refusal changed a node"; else fail "a node changed"; fi

# Bad inventories given to apply: each refused at its file and line before anything is touched
# (no node's files or state database, no rollout folder beside the inventory).
s3="$SCRATCH/sites/node-3"
s2="$SCRATCH/sites/node-2"
while IFS='|' read -r name edit message; do
    sed "$edit" "$INV" >"$SCRATCH/$name.yaml"
    expect_fail "apply --inventory refuses $name" 1 "$name.yaml:$message" \
        "$FERRY_APPLIER" apply "$C2" --inventory "$SCRATCH/$name.yaml" --trust "$TRUST" --ack-breaking --allow-major
    [ ! -e "$SCRATCH/$name.rollout" ] && pass "$name: no rollout folder" || fail "$name: $SCRATCH/$name.rollout was created"
done <<EOF2
dup-name|5s/name: node-3/name: node-2/|5: nodes[2].name: node name "node-2" is listed twice
dup-root|5s#root: $s3/root#root: $s2/root#|5: nodes[2].root: $s2/root is also the root of node node-2
dup-state|5s#state_dir: $s3/state#state_dir: $s2/state#|5: nodes[2].state_dir: $s2/state is also the state folder of node node-2
unavailable-0|6s/max_unavailable: 1/max_unavailable: 0/|6: rollout.max_unavailable: must be between 1 and the number of nodes (3)
unavailable-4|6s/max_unavailable: 1/max_unavailable: 4/|6: rollout.max_unavailable: must be between 1 and the number of nodes (3)
EOF2
if [ "$(picture)" == "$before" ]; then pass "no bad inventory changed a node"; else fail "a node changed"; fi
