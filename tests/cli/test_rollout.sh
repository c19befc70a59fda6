#!/usr/bin/env bash
# `apply BUNDLE --inventory I`: a rolling upgrade of three local greeter nodes, node-1 the
# leader. The sample's procedure.cluster keeps each node's role in a file (greeterctl role,
# step-down, synced: a stand-in for a clustered service's own leadership). The canary goes first and
# the rollout pauses; --continue upgrades the follower, steps the leader down and upgrades it
# last; on a terminal, each node's line is redrawn in place as it goes. Then the broken 2.1.0
# fails on the canary, which rolls back, and no other node is touched.
source "$(dirname "$0")/lib.sh"

trap 'rc=$?; set +e; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((19500 + $$ % 100 * 3))

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT
build greeter-2.1.0-broken.yaml v21 && B21=$BUILT

greeter_cluster 3 "$B1"
# The window (UTC) is the hour either side of now; another inventory's is two hours from now.
clock() { printf '%02d:%02d' $(((($1 + 1440) % 1440) / 60)) $((($1 + 1440) % 60)); }
NOW_MIN=$(($(date -u +%s) / 60 % 1440))
IN_WINDOW="{start: \"$(clock $((NOW_MIN - 60)))\", end: \"$(clock $((NOW_MIN + 60)))\"}"
OUT_WINDOW="{start: \"$(clock $((NOW_MIN + 120)))\", end: \"$(clock $((NOW_MIN + 180)))\"}"
cp "$INV" "$SCRATCH/closed.yaml"
echo "rollout: {order: leader-last, canary: 1, after_canary: pause, max_unavailable: 1, max_failures: 0, window: $OUT_WINDOW}" >>"$SCRATCH/closed.yaml"
echo "rollout: {order: leader-last, canary: 1, after_canary: pause, max_unavailable: 1, max_failures: 0, window: $IN_WINDOW}" >>"$INV"

rollout() { "$FERRY_APPLIER" apply "$@" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major; }
history_of() { for i in 1 2 3; do "$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-$i/state"; done; }

# --- Outside the window: staged, but no node stopped -------------------------------------------

runs_before=$(history_of)
run "$FERRY_APPLIER" apply "$B2" --inventory "$SCRATCH/closed.yaml" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 8 ] && pass "outside its window the rollout pauses (exit 8)" || fail "outside the window: exit $RC $(cat "$SCRATCH/err")"
expect_output "it names the window" "outside the window $(clock $((NOW_MIN + 120)))-$(clock $((NOW_MIN + 180))) UTC, when no node may be stopped"
[ "$(versions)" == "1.0.0 1.0.0 1.0.0" ] && [ "$(history_of)" == "$runs_before" ] &&
    pass "outside the window: no node applied anything" || fail "outside the window: versions $(versions), or a new run"

# --- The canary, then a pause (inside the window), shown per node on a terminal ---------------

# Under a pseudo-terminal, each node's line (name, role, version, step) is redrawn in place.
run script -qfec "TERM=xterm $FERRY_APPLIER apply $B2 --inventory $INV --trust $TRUST --ack-breaking --allow-major" /dev/null
[ "$RC" -eq 8 ] && pass "the rollout pauses after the canary (exit 8)" || fail "exit $RC $(cat "$SCRATCH/out")"
expect_output "it says how to go on" "paused after the canaries; check them, then run the same command with --continue"
[ "$(versions)" == "1.0.0 2.0.0 1.0.0" ] && pass "only the canary, node-2, is on 2.0.0" || fail "versions: $(versions)"
for line in 'node-2 +follower +1\.0\.0 +applying' 'node-2 +follower +1\.0\.0 +health and sync' \
    'node-2 +follower +2\.0\.0 +upgraded' 'node-1 +leader +1\.0\.0 +staged' 'canary: node-2'; do
    grep -qE -- "$line" "$SCRATCH/out" && pass "on a terminal: $line" || fail "on a terminal, no \"$line\": $(cat "$SCRATCH/out")"
done
grep -qF $'\033[3A' "$SCRATCH/out" && pass "on a terminal the node lines are redrawn in place" || fail "no redraw"
run script -qfec "TERM=xterm $FERRY_APPLIER apply -q $B2 --inventory $INV --trust $TRUST --ack-breaking --allow-major" /dev/null
[ "$RC" -eq 8 ] && [ "$(versions)" == "1.0.0 2.0.0 1.0.0" ] && pass "run again without --continue: still paused, nothing changed" ||
    fail "again: exit $RC, versions $(versions)"
grep -qE 'node-1 +leader +1\.0\.0' "$SCRATCH/out" && fail "-q on a terminal drew the node lines: $(cat "$SCRATCH/out")" ||
    pass "-q on a terminal: no node lines"
run "$FERRY_APPLIER" status --inventory "$INV"
[ "$RC" -eq 4 ] && pass "status --inventory on the paused cluster: exit 4" || fail "status --inventory: exit $RC"
expect_output "status --inventory says the versions differ" "cluster greeters: nodes on different versions"
expect_output "status --inventory shows the canary" "node-2           installed    2.0.0      follower healthy"

# --- --continue: the follower, then the leader after a step-down ---------------------------------

run rollout "$B2" --continue
[ "$RC" -eq 0 ] && pass "--continue finishes the rollout (exit 0)" || fail "--continue: exit $RC $(cat "$SCRATCH/err") $(cat "$SCRATCH/out")"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "every node is on 2.0.0" || fail "versions: $(versions)"
grep -q $'\033' "$SCRATCH/err" && fail "without a terminal, an escape sequence: $(cat -v "$SCRATCH/err")" ||
    pass "without a terminal: plain lines, no escape sequence"
order=$(grep -E '^(upgrading|stepping down)' "$SCRATCH/err" | tr '\n' '|')
[ "$order" == "upgrading node-3|stepping down the leader node-1|upgrading node-1|" ] &&
    pass "the follower first, then the leader, stepped down, last" || fail "order: $order"
[ "$(cat "$SCRATCH/sites/node-1/root/var/lib/greeter/role")" == follower ] &&
    [ "$(cat "$SCRATCH/sites/node-2/root/var/lib/greeter/role")" == leader ] &&
    pass "leadership moved to node-2 before node-1 was upgraded" || fail "roles: $(cat "$SCRATCH"/sites/*/root/var/lib/greeter/role)"
for i in 1 2 3; do
    GREETER_PORT=$((BASE_PORT + i)) "$SCRATCH/sites/node-$i/root/usr/bin/greeter" check --config "$SCRATCH/sites/node-$i/root/etc/greeter/greeter.env" \
        --expect-version 2.0.0 >/dev/null 2>&1 && pass "node-$i serves 2.0.0" || fail "node-$i does not serve 2.0.0"
done
run rollout "$B2" --continue --json
expect_json "re-running a finished rollout changes nothing: every node skipped" \
    "j['result'] == 'done' and all(n['outcome'] == 'skipped' for n in j['nodes'])"
run "$FERRY_APPLIER" status --inventory "$INV" --json
expect_json "status --inventory after the rollout: one version, every node healthy (exit 0)" \
    "j['exit_code'] == 0 and j['one_version'] and all(n['healthy'] and n['version'] == '2.0.0' for n in j['nodes'])"

# --- The broken 2.1.0 fails on the canary; nothing else is touched --------------------------------

runs_before=$(for i in 2 3; do "$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-$i/state"; done)
run rollout "$B21" --continue --json
[ "$RC" -eq 5 ] && pass "2.1.0: the rollout stops (exit 5)" || fail "2.1.0: exit $RC $(cat "$SCRATCH/err")"
expect_json "2.1.0: the canary failed and rolled back; the budget (0) stops the rollout" \
    "j['result'] == 'stopped' and [n['outcome'] for n in j['nodes']] == ['failed', 'not_reached', 'not_reached'] and 'rolled back' in j['nodes'][0]['detail']"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "2.1.0: every node is on 2.0.0, the canary rolled back" ||
    fail "versions: $(versions)"
runs_after=$(for i in 2 3; do "$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-$i/state"; done)
[ "$runs_after" == "$runs_before" ] && pass "2.1.0: no other node was touched" || fail "another node has a new run"

# --- A failure budget of one: past the first failure, stopped at the second ---------------------

sed 's/max_failures: 0/max_failures: 1/' "$INV" >"$SCRATCH/budget.yaml"
run "$FERRY_APPLIER" apply "$B21" --inventory "$SCRATCH/budget.yaml" --trust "$TRUST" --continue --json
[ "$RC" -eq 5 ] && pass "max_failures 1: stopped at the second failure (exit 5)" || fail "budget: exit $RC $(cat "$SCRATCH/err")"
expect_json "max_failures 1: two nodes failed and rolled back, the third not reached" \
    "j['failures'] == 2 and sorted(n['outcome'] for n in j['nodes']) == ['failed', 'failed', 'not_reached']"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "max_failures 1: every node still on 2.0.0" || fail "versions: $(versions)"
