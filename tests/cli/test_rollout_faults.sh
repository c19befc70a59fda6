#!/usr/bin/env bash
# A rolling upgrade of four local greeter nodes (bft: at most f = 1 of 3f+1 out at once) whose
# coordinator is killed (SIGKILL) at every step boundary of its journal, and whose node apply is
# killed in the middle: each time the same command run again carries the rollout on from its
# journal, and it ends with every node on 2.0.0, healthy, never two nodes down at once (watched
# from outside, on the services' ports, the whole time). Also: a step-down that never moves
# leadership, an unreachable node refused before anything changes, the coordinator's lock and
# its hash-chained audit log, and a coordinator stopped while it waits after the canaries.
source "$(dirname "$0")/lib.sh"

WATCH_STOP=$SCRATCH/watch.stop
trap 'rc=$?; set +e; touch "$WATCH_STOP"; wait; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((19800 + $$ % 100 * 4))

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT

greeter_cluster 4 "$B1"
cp "$INV" "$SCRATCH/nodes.yaml"
echo "rollout: {order: leader-last, canary: 1, after_canary: pause, max_unavailable: bft, leader_timeout: 20s}" >>"$INV"
JOURNAL=$SCRATCH/journal
rollout() {
    "$FERRY_APPLIER" apply "$@" --inventory "$INV" --rollout-dir "$JOURNAL" --trust "$TRUST" --ack-breaking --allow-major
}
status_line() { "$FERRY_APPLIER" status --inventory "$INV" --rollout-dir "$JOURNAL" 2>&1 | sed -n 2p || true; }

# The watcher: every 100 ms, how many of the four services do not answer /health; it stops by
# itself after 600 s. It records the most seen down at once, and when.
cat >"$SCRATCH/watch.py" <<'EOF'
import os, sys, time, urllib.request
ports, stop, out = [int(p) for p in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
most, when, end = 0, "", time.time() + 600
while not os.path.exists(stop) and time.time() < end:
    down = []
    for p in ports:
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{p}/health", timeout=0.5).read()
        except Exception:
            down.append(p)
    if len(down) > most:
        most, when = len(down), time.strftime("%H:%M:%S") + " " + ",".join(map(str, down))
    time.sleep(0.1)
open(out, "w").write(f"{most} {when}\n")
EOF
/usr/bin/python3 "$SCRATCH/watch.py" "$((BASE_PORT + 1)),$((BASE_PORT + 2)),$((BASE_PORT + 3)),$((BASE_PORT + 4))" \
    "$WATCH_STOP" "$SCRATCH/watch.out" &

# killed_at POINT [ARGS]: the rollout run with the coordinator killed at POINT.
killed_at() {
    local point=$1
    shift
    run env FERRY_TEST_CRASH_AT="$point" "$FERRY_APPLIER" apply "$B2" "$@" --inventory "$INV" --rollout-dir "$JOURNAL" \
        --trust "$TRUST" --ack-breaking --allow-major
    [ "$RC" -eq 137 ] && pass "coordinator killed at $point" || fail "killed at $point: exit $RC $(tail -3 "$SCRATCH/err")"
}

# --- The coordinator killed at each boundary, and run again -------------------------------------

killed_at rollout:staged:node-2
[ "$(versions)" == "1.0.0 1.0.0 1.0.0 1.0.0" ] && pass "killed while staging: no node changed" || fail "versions: $(versions)"
line=$(status_line)
[[ "$line" == "rollout 1 of greeter 2.0.0 (started "*"): interrupted (its coordinator stopped at: staged node-2); run the same apply again to carry it on" ]] &&
    pass "status --inventory: the rollout was interrupted, and where" || fail "status line: $line"

killed_at rollout:staged_everywhere
grep -q "carrying on rollout 1 (started .*, last step: staged node-2)" "$SCRATCH/err" &&
    pass "the next run carries rollout 1 on" || fail "no carrying on: $(head -3 "$SCRATCH/err")"
killed_at rollout:applying:node-2
[ "$(versions)" == "1.0.0 1.0.0 1.0.0 1.0.0" ] && pass "killed before the canary's apply: no node changed" ||
    fail "versions: $(versions)"
killed_at rollout:applied:node-2
[ "$(versions)" == "1.0.0 2.0.0 1.0.0 1.0.0" ] && pass "killed after the canary's apply: only node-2 on 2.0.0" ||
    fail "versions: $(versions)"
killed_at rollout:upgraded:node-2
grep -q "checking node-2, upgraded before the last coordinator stopped" "$SCRATCH/err" &&
    pass "the canary applied before the kill passes its gate first" || fail "no gate for node-2: $(cat "$SCRATCH/err")"

run rollout "$B2" --json
[ "$RC" -eq 8 ] && pass "then it pauses after the canary (exit 8)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_json "still rollout 1, carried on" "j['rollout'] == 1 and j['resumed'] and j['result'] == 'paused'"

# --continue, and node-3's own apply killed in the middle of its migration: that node is left
# interrupted, not rolled back, and the rollout stops (exit 6) and stays open.
run env FERRY_TEST_CRASH_AT=migrate:begin "$FERRY_APPLIER" apply "$B2" --continue --inventory "$INV" \
    --rollout-dir "$JOURNAL" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 6 ] && pass "a node's apply killed mid-way stops the rollout (exit 6)" || fail "exit $RC $(tail -3 "$SCRATCH/err")"
expect_output "it says so" "a node failed and was not rolled back: the rollout stopped"
run "$FERRY_APPLIER" status --state-dir "$SCRATCH/sites/node-3/state"
[ "$RC" -eq 7 ] && pass "node-3 is left interrupted" || fail "node-3: exit $RC"

# Without --continue: the journal remembers the pause is behind. node-3's run is resumed, and
# the coordinator is killed once the leader has stepped down.
killed_at rollout:stepped_down:node-1
grep -q "node-3 was left in the middle of its upgrade: resuming its run" "$SCRATCH/err" &&
    pass "node-3's interrupted run is resumed by the next run" || fail "no resume: $(cat "$SCRATCH/err")"
[ "$(versions)" == "1.0.0 2.0.0 2.0.0 2.0.0" ] && pass "the followers are on 2.0.0, the leader not yet" ||
    fail "versions: $(versions)"
[ "$(cat "$SCRATCH/sites/node-1/root/var/lib/greeter/role")" == follower ] &&
    pass "node-1 stepped down before the kill" || fail "node-1 still leads"

run rollout "$B2" --json
[ "$RC" -eq 0 ] && pass "the last run finishes rollout 1 (exit 0)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_json "rollout 1 done, every node on 2.0.0 and healthy" \
    "j['rollout'] == 1 and j['result'] == 'done' and all(n['version'] == '2.0.0' and n['healthy'] for n in j['nodes'])"
for i in 1 2 3 4; do
    GREETER_PORT=$((BASE_PORT + i)) "$SCRATCH/sites/node-$i/root/usr/bin/greeter" check \
        --config "$SCRATCH/sites/node-$i/root/etc/greeter/greeter.env" --expect-version 2.0.0 >/dev/null 2>&1 ||
        fail "node-$i does not serve 2.0.0"
done
run "$FERRY_APPLIER" status --inventory "$INV" --rollout-dir "$JOURNAL"
[ "$RC" -eq 0 ] && pass "status --inventory: exit 0, one version" || fail "status: exit $RC $(cat "$SCRATCH/out")"
expect_output "status --inventory: the rollout is done" "rollout 1 of greeter 2.0.0 (started"
expect_output "status --inventory: ... done" "): done"

touch "$WATCH_STOP"
wait
read -r most when <"$SCRATCH/watch.out"
[ "$most" -le 1 ] && pass "never two nodes down at once through all of it (most down: $most)" ||
    fail "$most nodes down at once at $when"

# The nodes' own logs: the canary first, the leader last.
started() {
    "$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/$1/state" | /usr/bin/python3 -c \
        'import json, sys; print([r for r in json.load(sys.stdin)["runs"] if r["version"] == "2.0.0"][-1]["started"])'
}
[[ "$(started node-2)" < "$(started node-3)" || "$(started node-2)" == "$(started node-3)" ]] &&
    [[ "$(started node-4)" < "$(started node-1)" || "$(started node-4)" == "$(started node-1)" ]] &&
    pass "the nodes' own histories: the canary node-2 first, the leader node-1 last" ||
    fail "starts: $(started node-1) $(started node-2) $(started node-3) $(started node-4)"

# --- The coordinator's audit log ----------------------------------------------------------------

run "$FERRY_APPLIER" audit verify --rollout-dir "$JOURNAL"
expect_output "the coordinator's audit log is intact" "audit log intact:"
run "$FERRY_APPLIER" audit export --rollout-dir "$JOURNAL"
expect_json "it records each decision: the steps of every node, the step-down, the continue, the end" \
    "[r['action'] for r in j['records']].count('node_upgraded') == 4 and 'step_down' in [r['action'] for r in j['records']] and 'continued' in [r['action'] for r in j['records']] and j['records'][-1]['action'] == 'rollout_done' and 'uid' in j['records'][0]['detail']"
sqlite3 "$JOURNAL/rollout.db" "UPDATE audit SET detail = detail || ' ' WHERE seq = 5"
expect_fail "a changed record in the coordinator's log: exit 3, naming the journal and the record" 3 \
    "$JOURNAL/rollout.db: audit log: record 5 was changed after it was written" \
    "$FERRY_APPLIER" audit verify --rollout-dir "$JOURNAL"
expect_fail "a folder with no journal" 1 "holds no rollout journal (rollout.db)" \
    "$FERRY_APPLIER" audit verify --rollout-dir "$SCRATCH"

# --- One coordinator at a time ------------------------------------------------------------------

exec 9>"$JOURNAL/lock"
flock -n 9
expect_fail "a second coordinator on the same rollout folder is refused (exit 4)" 4 \
    "another coordinator is rolling out from $JOURNAL" rollout "$B2"
exec 9>&-

# --- A step-down that never moves leadership ------------------------------------------------------

# 1.0.0 again everywhere by each node's own rollback, node-1 the leader again; then a
# step-down that hands leadership to no node of the cluster.
for i in 1 2 3 4; do
    GREETER_PORT=$((BASE_PORT + i)) expect_ok "node-$i: back to 1.0.0" \
        "$FERRY_APPLIER" rollback --run 2 --root "$SCRATCH/sites/node-$i/root" --state-dir "$SCRATCH/sites/node-$i/state"
done
echo leader >"$SCRATCH/sites/node-1/root/var/lib/greeter/role"
for i in 2 3 4; do echo follower >"$SCRATCH/sites/node-$i/root/var/lib/greeter/role"; done
sed "s|GREETER_NEXT_LEADER: $SCRATCH/sites/node-2/root|GREETER_NEXT_LEADER: $SCRATCH/nowhere|" "$SCRATCH/nodes.yaml" >"$SCRATCH/stuck.yaml"
echo "rollout: {order: leader-last, max_unavailable: 1, leader_timeout: 3s}" >>"$SCRATCH/stuck.yaml"
run "$FERRY_APPLIER" apply "$B2" --inventory "$SCRATCH/stuck.yaml" --trust "$TRUST" --ack-breaking --allow-major --json
[ "$RC" -eq 5 ] && pass "leadership that never moves stops the rollout (exit 5)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_json "within leader_timeout, the leader not upgraded" \
    "j['message'] == 'leadership did not move from node-1 within 3 s (leader_timeout); the leader was not upgraded' and j['nodes'][0]['outcome'] == 'not_reached' and j['nodes'][0]['version'] == '1.0.0' and all(n['version'] == '2.0.0' for n in j['nodes'][1:])"
[ -f "$SCRATCH/stuck.rollout/rollout.db" ] && pass "its journal is beside that inventory by default (stuck.rollout)" ||
    fail "no journal beside stuck.yaml"

# --- An unreachable node: refused before anything changes ----------------------------------------

sed "s|root: $SCRATCH/sites/node-4/root|root: $SCRATCH/gone/root|" "$SCRATCH/nodes.yaml" >"$SCRATCH/gone.yaml"
echo "rollout: {order: leader-last, max_unavailable: 1}" >>"$SCRATCH/gone.yaml"
histories() { for i in 1 2 3 4; do "$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-$i/state"; done; }
before=$(histories)
run "$FERRY_APPLIER" apply "$B2" --inventory "$SCRATCH/gone.yaml" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 4 ] && pass "a node that cannot be reached: refused (exit 4)" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_output "it names the node" "node node-4: status failed"
expect_output "before any service stopped" "refused before any service stopped"
[ "$(histories)" == "$before" ] && pass "no node has a new run" || fail "a node changed"

# --- Interrupted while it waits after the canaries, then carried on ------------------------------

# node-1 leads again (on 1.0.0); the others are on 2.0.0 and count as the canaries gone before.
echo leader >"$SCRATCH/sites/node-1/root/var/lib/greeter/role"
cp "$SCRATCH/nodes.yaml" "$SCRATCH/wait.yaml"
echo "rollout: {order: leader-last, canary: 1, after_canary: 4s, max_unavailable: 1}" >>"$SCRATCH/wait.yaml"
wait_rollout() { "$FERRY_APPLIER" apply "$B2" --inventory "$SCRATCH/wait.yaml" --trust "$TRUST" --ack-breaking --allow-major; }
"$FERRY_APPLIER" apply "$B2" --inventory "$SCRATCH/wait.yaml" --trust "$TRUST" --ack-breaking --allow-major \
    >"$SCRATCH/wait.out" 2>"$SCRATCH/wait.err" &
coordinator=$!
for _ in $(seq 1 100); do grep -q "waiting" "$SCRATCH/wait.err" && break; sleep 0.1; done
kill -TERM "$coordinator"
set +e
wait "$coordinator"
rc=$?
set -e
[ "$rc" -eq 143 ] && pass "the coordinator stopped by SIGTERM while it waits" || fail "exit $rc $(cat "$SCRATCH/wait.err")"
grep -qF "ferry-applier: interrupted: the rollout is recorded in $SCRATCH/wait.rollout; run the same command again to carry it on" \
    "$SCRATCH/wait.err" && pass "it says where the rollout is recorded and what to run" || fail "no note: $(cat "$SCRATCH/wait.err")"
run wait_rollout
[ "$RC" -eq 0 ] && pass "run again, it finishes: the leader last (exit 0)" || fail "exit $RC $(cat "$SCRATCH/err")"
waited=$(sed -n 's/^waiting \([0-9]*\) s after the canaries$/\1/p' "$SCRATCH/err")
[ -z "$waited" ] || [ "$waited" -le 4 ] && pass "the wait already begun is not started again (left: ${waited:-0} s)" ||
    fail "waited $waited s again"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0 2.0.0" ] && pass "every node on 2.0.0" || fail "versions: $(versions)"
