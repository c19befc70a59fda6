#!/usr/bin/env bash
# The greeter sample's own cluster mode under a rolling upgrade: three instances share a lease
# file; node-1, started first, leads and alone takes writes; the followers copy its greetings.
# A client writes to whichever node leads through the whole of `apply 2.0.0 --inventory`: the
# followers are upgraded one at a time, the leader steps down (handing the lease to a follower
# that caught up) and is upgraded last, and no acknowledged write is lost on any node. The order
# is read from the nodes' own logs. Cluster settings that cannot work are refused, naming the
# setting; a bundle whose peers exclude 1.x is refused on the 1.x cluster before anything
# changes.
source "$(dirname "$0")/lib.sh"

CLIENT_PID=
trap 'rc=$?; set +e; [ -n "$CLIENT_PID" ] && kill "$CLIENT_PID" 2>/dev/null; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((20300 + $$ % 60 * 3))

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT
variant greeter-2.0.0.yaml skew.yaml 's["procedure"]["cluster"]["peers"] = ">=2.0.0"'
build skew.yaml skew && SKEW=$BUILT

greeter_cluster 3 "$B1" cluster
echo "rollout: {order: leader-last, canary: 1, after_canary: 0s, max_unavailable: 1, max_failures: 0, gate_timeout: 30s}" >>"$INV"
PORTS=$(seq -s, $((BASE_PORT + 1)) $((BASE_PORT + 3)))

# node_env I CMD...: CMD with node-I's variables, as the applier runs its procedure.
node_env() {
    local i=$1
    shift
    GREETER_PORT=$((BASE_PORT + i)) GREETER_CLUSTER_LEASE=$LEASE GREETER_NODE=node-$i GREETER_PEERS=$PORTS "$@"
}
ctl() { node_env "$1" "$SCRATCH/sites/node-$1/root/usr/bin/greeterctl" "$2" "$SCRATCH/sites/node-$1/root"; }
roles() { local i out=(); for i in 1 2 3; do out+=("$(ctl "$i" role 2>&1)"); done; echo "${out[*]}"; }

# --- The cluster on 1.0.0 ------------------------------------------------------------------------

[ "$(roles)" == "leader follower follower" ] && pass "greeterctl role: node-1 leads (it took the lease first)" ||
    fail "roles: $(roles)"
grep -q '^holder node-1$' "$LEASE" && pass "the lease file names node-1" || fail "lease: $(cat "$LEASE")"
synced_all() { local i; for i in 1 2 3; do ctl "$i" synced >/dev/null 2>&1 || return 1; done; }
for _ in $(seq 1 50); do synced_all && break; sleep 0.1; done
synced_all && pass "greeterctl synced: every node caught up" || fail "not every node is synced"
run curl -s -o /dev/null -w '%{http_code}' -X POST -d '{"text":"to a follower"}' "http://127.0.0.1:$((BASE_PORT + 2))/greetings"
[ "$(cat "$SCRATCH/out")" == 409 ] && pass "a follower refuses a write (409)" || fail "follower write: $(cat "$SCRATCH/out")"
run curl -s -X POST -d '{"text":"to a follower"}' "http://127.0.0.1:$((BASE_PORT + 2))/greetings"
expect_output "the refusal names the leader" '"leader":"node-1","leader_port":'"$((BASE_PORT + 1))"
expect_fail "step-down on a follower is refused, naming the leader" 1 "not the leader; the leader is node-1" ctl 2 step-down

# Cluster settings that cannot work are refused, naming the setting.
G1=$SCRATCH/sites/node-1/root/usr/bin/greeter
ENV1=$SCRATCH/sites/node-1/root/etc/greeter/greeter.env
expect_fail "cluster mode without a node name" 1 "cluster mode (GREETER_CLUSTER_LEASE) needs a node name: set NODE or GREETER_NODE" \
    env GREETER_CLUSTER_LEASE="$LEASE" "$G1" cluster role --config "$ENV1"
expect_fail "a lease that is not an absolute path" 1 'GREETER_CLUSTER_LEASE must be an absolute path, got "lease"' \
    env GREETER_CLUSTER_LEASE=lease GREETER_NODE=x "$G1" cluster role --config "$ENV1"
expect_fail "a peer that is not a port" 1 'GREETER_PEERS (a comma-separated list of ports) must be a number from 1 to 65535, got "x"' \
    env GREETER_CLUSTER_LEASE="$LEASE" GREETER_NODE=x GREETER_PEERS=1,x "$G1" cluster role --config "$ENV1"
expect_fail "greeter cluster without cluster mode" 1 "cluster mode is off (neither CLUSTER_LEASE nor GREETER_CLUSTER_LEASE is set)" \
    "$G1" cluster role --config "$ENV1"
grep -q '^holder node-1$' "$LEASE" && pass "the refusals left the lease alone" || fail "lease: $(cat "$LEASE")"

# --- The skew guard: a bundle whose peers exclude 1.x --------------------------------------------

# picture: every node's installed files (logs, pidfiles and the copied database aside) and state.
picture() {
    local i
    for i in 1 2 3; do
        snapshot "$SCRATCH/sites/node-$i/root" | { grep -vE ' \./(var/log|run|var/lib/greeter)(/|$)' || true; }
        sqlite3 "$SCRATCH/sites/node-$i/state/state.db" .dump
    done
}
before=$(picture)
skew_message="node node-2 runs 1.0.0, and greeter 2.0.0 interoperates only with peers >=2.0.0"
run "$FERRY_APPLIER" plan "$SKEW" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major
[ "$RC" -eq 4 ] && pass "skew: plan --inventory refuses (exit 4)" || fail "skew plan: exit $RC $(cat "$SCRATCH/err")"
expect_output "skew: plan names the node and the range" "$skew_message"
run "$FERRY_APPLIER" apply "$SKEW" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major --continue
[ "$RC" -eq 4 ] && pass "skew: apply --inventory refuses (exit 4)" || fail "skew apply: exit $RC $(cat "$SCRATCH/err")"
grep -qF -- "$skew_message" "$SCRATCH/out" "$SCRATCH/err" && pass "skew: apply names the node and the range" ||
    fail "skew apply: $(cat "$SCRATCH/out" "$SCRATCH/err")"
[ "$(versions)" == "1.0.0 1.0.0 1.0.0" ] && [ "$(picture)" == "$before" ] && [ "$(roles)" == "leader follower follower" ] &&
    pass "skew: nothing changed (every node on 1.0.0, node-1 still leads)" || fail "skew: versions $(versions), roles $(roles)"

# --- A client writing through the rolling upgrade -----------------------------------------------

# It writes to the node that leads (following the refusals' "leader_port"), retries on refusals
# and errors, and records every acknowledged write; bounded in writes and time, stopped by a file.
cat >"$SCRATCH/client.py" <<'EOF'
import json, os, sys, time, urllib.error, urllib.request
ports, acked, stop = [int(p) for p in sys.argv[1].split(",")], sys.argv[2], sys.argv[3]
port, n, refusals, deadline = ports[0], 0, 0, time.monotonic() + 90
with open(acked, "w") as out:
    while n < 3000 and time.monotonic() < deadline and not os.path.exists(stop):
        text = "write %d" % n
        body = json.dumps({"text": text}).encode()
        try:
            r = urllib.request.urlopen(urllib.request.Request(
                "http://127.0.0.1:%d/greetings" % port, data=body, method="POST"), timeout=2)
            answer = json.load(r)
            out.write("%d\t%s\t%s\n" % (answer["id"], answer["node"], text))
            out.flush()
            n += 1
            time.sleep(0.02)
            continue
        except urllib.error.HTTPError as e:
            refusals += 1
            leader = json.loads(e.read() or b"{}").get("leader_port")
            port = leader if leader in ports else ports[(ports.index(port) + 1) % len(ports)]
        except (OSError, ValueError):
            refusals += 1
            port = ports[(ports.index(port) + 1) % len(ports)]
        time.sleep(0.05)
print("%d acknowledged, %d refused or failed" % (n, refusals))
EOF
/usr/bin/python3 "$SCRATCH/client.py" "$PORTS" "$SCRATCH/acked.tsv" "$SCRATCH/stop-client" >"$SCRATCH/client.out" 2>&1 &
CLIENT_PID=$!
for _ in $(seq 1 50); do [ -s "$SCRATCH/acked.tsv" ] && break; sleep 0.1; done

# --- The rolling upgrade --------------------------------------------------------------------------

run "$FERRY_APPLIER" apply "$B2" --inventory "$INV" --trust "$TRUST" --ack-breaking --allow-major --continue
[ "$RC" -eq 0 ] && pass "the rolling upgrade to 2.0.0 finishes (exit 0)" || fail "apply: exit $RC $(cat "$SCRATCH/err" "$SCRATCH/out")"
sleep 1 # a few more writes to the new leader
touch "$SCRATCH/stop-client"
wait "$CLIENT_PID" && pass "the client stopped: $(cat "$SCRATCH/client.out")" || fail "client: $(cat "$SCRATCH/client.out")"
CLIENT_PID=
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "every node is on 2.0.0" || fail "versions: $(versions)"
order=$(grep -E '^(upgrading|stepping down)' "$SCRATCH/err" | tr '\n' '|')
[ "$order" == "upgrading node-2|upgrading node-3|stepping down the leader node-1|upgrading node-1|" ] &&
    pass "the coordinator's order: the canary, the follower, then the leader after its step-down" || fail "order: $order"
final_roles=$(roles)
[ "$(echo "$final_roles" | tr ' ' '\n' | grep -c leader)" -eq 1 ] && [ "${final_roles%% *}" == follower ] &&
    pass "one leader, not node-1: $final_roles" || fail "roles: $final_roles"

# --- The order, from the nodes' own logs ---------------------------------------------------------

/usr/bin/python3 - "$SCRATCH/sites" >"$SCRATCH/order.out" 2>&1 <<'EOF' && pass "the nodes' logs: $(cat "$SCRATCH/order.out")" || fail "the nodes' logs: $(cat "$SCRATCH/order.out")"
import re, sys
events = {}
for i in (1, 2, 3):
    for line in open("%s/node-%d/root/var/log/greeter.log" % (sys.argv[1], i)):
        m = re.match(r"greeter: (\S+Z) (.*)", line)
        if not m:
            continue
        t, text = m.groups()
        e = events.setdefault(i, {})
        if text == "stopping on SIGTERM":
            e.setdefault("stop", t)
        elif text.startswith("2.0.0 listening"):
            e["up2"] = t
        elif text.startswith("cluster: handed the lease to "):
            e.setdefault("handover", (t, text.split()[5]))
        elif text.startswith("cluster: leader (the lease was handed over)"):
            e["took"] = t
down = sorted((events[i]["stop"], events[i]["up2"], i) for i in (1, 2, 3))
assert [d[2] for d in down] == [2, 3, 1], "stopped in the order %s" % [d[2] for d in down]
for (s1, u1, a), (s2, u2, b) in zip(down, down[1:]):
    assert u1 < s2, "node-%d stopped at %s before node-%d was back at %s" % (b, s2, a, u1)
handover, successor = events[1]["handover"]
assert handover < events[1]["stop"], "node-1 handed over at %s, after it stopped at %s" % (handover, events[1]["stop"])
took = events[int(successor.split("-")[1])]["took"]
assert handover <= took < events[1]["stop"], "%s took the lease at %s" % (successor, took)
print("node-2, node-3, node-1 down one at a time; node-1 handed the lease to %s at %s and stopped at %s" % (
    successor, handover[11:], events[1]["stop"][11:]))
EOF

# --- No acknowledged write lost --------------------------------------------------------------------

synced_all() { local i; for i in 1 2 3; do ctl "$i" synced >/dev/null 2>&1 || return 1; done; }
for _ in $(seq 1 50); do synced_all && break; sleep 0.1; done
synced_all && pass "every node is synced after the rollout" || fail "not every node is synced"
/usr/bin/python3 - "$SCRATCH/acked.tsv" "$SCRATCH/sites" >"$SCRATCH/lost.out" 2>&1 <<'EOF' && pass "no acknowledged write lost: $(cat "$SCRATCH/lost.out")" || fail "writes: $(cat "$SCRATCH/lost.out")"
import sqlite3, sys, time
acked = [line.rstrip("\n").split("\t") for line in open(sys.argv[1])]
assert len(acked) >= 50, "only %d writes were acknowledged" % len(acked)
by = {}
for _, node, _ in acked:
    by[node] = by.get(node, 0) + 1
assert "node-1" in by and len(by) >= 2, "acknowledged by %s: leadership never moved under the client" % by
# A follower is synced when its last pull found nothing new, so the client's last writes may still
# be on their way to it: each node gets up to 5 s to hold every acknowledged write.
def read_tables():
    tables = []
    for i in (1, 2, 3):
        db = sqlite3.connect("file:%s/node-%d/root/var/lib/greeter/greeter.db?mode=ro" % (sys.argv[2], i), uri=True)
        tables.append(dict(db.execute("SELECT id, text FROM greetings")))
        db.close()
    return tables
for _ in range(50):
    tables = read_tables()
    if all(rows.get(int(i_)) == t for rows in tables for i_, _, t in acked):
        break
    time.sleep(0.1)
for i, rows in enumerate(tables, 1):
    lost = [(i_, t) for i_, _, t in acked if rows.get(int(i_)) != t]
    assert not lost, "node-%d lacks %d acknowledged writes, e.g. %s" % (i, len(lost), lost[:3])
assert tables[0] == tables[1] == tables[2], "the nodes' tables differ"
print("%d writes, acknowledged by %s, on every node" % (len(acked), ", ".join("%s %d" % kv for kv in sorted(by.items()))))
EOF
