#!/usr/bin/env bash
# The ferry.site Ansible collection (ansible/) driven by ansible-playbook against three greeter
# nodes behind a real sshd on 127.0.0.1 (throwaway keys, the test's own known_hosts): check mode
# changes nothing; the rolling playbook takes 1.0.0 to 2.0.0 with the leader last, after its
# step-down; run again it changes nothing; and the broken 2.1.0 fails its health check on the
# first node, which rolls itself back, and stops the play there with Ferry's message and exit code.
source "$(dirname "$0")/lib.sh"

if ! command -v ansible-playbook >/dev/null; then
    echo "skip: no ansible-playbook (Debian's ansible-core; scripts/install-deps.sh installs it)"
    exit 77
fi
# Ansible's multiplexed ssh connections, closed at the end (before sshd stops).
close_masters() {
    local s
    for s in "$SCRATCH"/cp/*; do
        [ -S "$s" ] && ssh -o ControlPath="$s" -O exit node >/dev/null 2>&1
    done
    return 0
}
trap 'rc=$?; set +e; close_masters; stop_sshd; stop_services; (exit $rc); finish' EXIT
BASE_PORT=$((20900 + $$ % 100 * 3))
start_sshd $((21300 + $$ % 100))
pass "sshd listens on 127.0.0.1:$SSH_PORT"

# --- Ansible, with nothing of this machine's or user's own configuration ----------------------

mkdir -p "$SCRATCH/ansible" "$SCRATCH/cp"
cat >"$SCRATCH/ansible/ansible.cfg" <<EOF_CFG
[defaults]
home = $SCRATCH/ansible
local_tmp = $SCRATCH/ansible/tmp
remote_tmp = $SCRATCH/ansible/remote-tmp
retry_files_enabled = False
nocolor = True
host_key_checking = True
[ssh_connection]
pipelining = True
transfer_method = piped
control_path_dir = $SCRATCH/cp
ssh_args = -F none -o BatchMode=yes -o IdentitiesOnly=yes -o IdentityAgent=none -o ControlMaster=auto -o ControlPersist=60s
EOF_CFG
export ANSIBLE_CONFIG=$SCRATCH/ansible/ansible.cfg
export ANSIBLE_COLLECTIONS_PATH=$FERRY_SOURCE_DIR/ansible
export ANSIBLE_COLLECTIONS_SCAN_SYS_PATH=False

run ansible-doc -t module -l ferry.site
for m in ferry_plan ferry_stage ferry_apply ferry_status ferry_step_down; do
    grep -q "^ferry.site.$m " "$SCRATCH/out" || fail "ansible-doc does not list ferry.site.$m: $(cat "$SCRATCH/out" "$SCRATCH/err")"
done
[ "$RC" -eq 0 ] && pass "ansible-doc lists the collection's five modules from the repository" || fail "ansible-doc: exit $RC"

# --- Three nodes behind sshd, on 1.0.0 ----------------------------------------------------------

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT
build greeter-2.1.0-broken.yaml v3 && B3=$BUILT
greeter_cluster 3 "$B1"
HOSTS=$SCRATCH/hosts.yml
{
    cat <<EOF_INV
all:
  vars:
    ansible_host: 127.0.0.1
    ansible_port: $SSH_PORT
    ansible_user: $(id -un)
    ansible_ssh_private_key_file: $SSH_DIR/id
    ansible_ssh_common_args: "-o UserKnownHostsFile=$SSH_DIR/known_hosts -o StrictHostKeyChecking=yes"
    ansible_python_interpreter: /usr/bin/python3
    ferry_applier: $FERRY_APPLIER
    ferry_trust: $TRUST
    ferry_allow_major: true
    ferry_ack_breaking: true
  children:
    ferry_nodes:
      hosts:
EOF_INV
    for i in 1 2 3; do
        cat <<EOF_NODE
        node-$i:
          ferry_root: $SCRATCH/sites/node-$i/root
          ferry_state_dir: $SCRATCH/sites/node-$i/state
          ferry_bundle: $SCRATCH/sites/node-$i/media/greeter.ferry
          ferry_env: {GREETER_PORT: "$((BASE_PORT + i))", GREETER_NEXT_LEADER: $SCRATCH/sites/node-$((i % 3 + 1))/root}
EOF_NODE
    done
} >"$HOSTS"
playbook() { ansible-playbook -i "$HOSTS" ferry.site.rolling "$@"; }
roles() { cat "$SCRATCH"/sites/node-{1,2,3}/root/var/lib/greeter/role | tr '\n' ' '; }
# recap NODE: the node's line of the last play recap, e.g. "ok=9 changed=3 unreachable=0 failed=0 ...".
recap() { sed -n "s/^$1 *: //p" "$SCRATCH/out" | tr -s ' '; }
# steps: the hosts of the step-down and apply tasks that did something, in the order they ran.
steps() {
    awk '/^TASK \[/ { task = $0; sub(/^TASK \[/, "", task); sub(/\].*/, "", task) }
         /^changed: \[node-[0-9]\]$/ && (task == "Upgrade the node" || task == "Step the leader down") {
             host = $2; gsub(/[][]/, "", host); printf "%s %s|", task, host }' "$SCRATCH/out"
}

# --- Check mode: every node's plan, nothing changed ---------------------------------------------

before=$(cluster_picture)
run playbook --check -e ferry_bundle="$B2"
[ "$RC" -eq 0 ] && pass "--check: exit 0" || fail "--check: exit $RC $(cat "$SCRATCH/out" "$SCRATCH/err")"
# Would change: the stage and the apply on every node, and the leader's step-down.
for i in 1 2 3; do
    would=2 && [ "$i" -eq 1 ] && would=3
    [[ "$(recap "node-$i")" == *" changed=$would "*"failed=0"* ]] ||
        fail "--check: node-$i does not say it would be staged and upgraded: $(recap "node-$i")"
done
[ "$(steps)" == "Upgrade the node node-2|Upgrade the node node-3|Step the leader down node-1|Upgrade the node node-1|" ] &&
    pass "--check: it says every node would change, in the rollout's order" || fail "--check order: $(steps)"
[ "$(cluster_picture)" == "$before" ] && pass "--check: no node changed, nothing staged" || fail "--check changed a node"
[ "$(roles)" == "leader follower follower " ] && pass "--check: no step-down" || fail "roles: $(roles)"

# --- The rolling upgrade: the bundle copied, staged, the followers, then the leader ------------

run playbook -e ferry_bundle_src="$B2"
[ "$RC" -eq 0 ] && pass "the rolling playbook: exit 0" || fail "exit $RC $(cat "$SCRATCH/out" "$SCRATCH/err")"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "every node on 2.0.0" || fail "versions: $(versions)"
[ "$(steps)" == "Upgrade the node node-2|Upgrade the node node-3|Step the leader down node-1|Upgrade the node node-1|" ] &&
    pass "the followers one at a time, then the leader node-1 after its step-down" || fail "order: $(steps)"
[ "$(roles)" == "follower leader follower " ] && pass "node-2 leads now" || fail "roles: $(roles)"
for i in 1 2 3; do
    cmp -s "$B2" "$SCRATCH/sites/node-$i/media/greeter.ferry" || fail "node-$i was not sent the bundle"
    GREETER_PORT=$((BASE_PORT + i)) "$SCRATCH/sites/node-$i/root/usr/bin/greeter" check \
        --config "$SCRATCH/sites/node-$i/root/etc/greeter/greeter.env" --expect-version 2.0.0 >/dev/null 2>&1 ||
        fail "node-$i does not serve 2.0.0"
    [[ "$(recap "node-$i")" == *"failed=0"* ]] || fail "node-$i: $(recap "node-$i")"
done
pass "each node was sent the bundle and serves 2.0.0"

# --- Run again: nothing changes ------------------------------------------------------------------

runs_before=$(sqlite3 "$SCRATCH/sites/node-1/state/state.db" 'SELECT count(*) FROM runs')
run playbook -e ferry_bundle_src="$B2"
[ "$RC" -eq 0 ] && pass "run again: exit 0" || fail "again: exit $RC $(cat "$SCRATCH/out" "$SCRATCH/err")"
for i in 1 2 3; do
    [[ "$(recap "node-$i")" == *" changed=0 "* ]] || fail "run again: node-$i changed: $(recap "node-$i")"
done
[ -z "$(steps)" ] && pass "run again: changed=0 on every node, no step-down, no apply" || fail "again: $(steps)"
[ "$(roles)" == "follower leader follower " ] && pass "run again: the leader stays" || fail "roles: $(roles)"
[ "$(sqlite3 "$SCRATCH/sites/node-1/state/state.db" 'SELECT count(*) FROM runs')" == "$runs_before" ] &&
    pass "run again: no new run on the node" || fail "a new run was recorded"

# --- A failing node stops the play, rolled back ------------------------------------------------

run playbook -e ferry_bundle="$B3"
[ "$RC" -eq 2 ] && pass "the broken 2.1.0: ansible-playbook exits 2 (a host failed)" ||
    fail "broken: exit $RC $(cat "$SCRATCH/out" "$SCRATCH/err")"
# The failed task's result, as the default callback prints it: one JSON object.
sed -n 's/^fatal: \[node-1\]: FAILED! => //p' "$SCRATCH/out" >"$SCRATCH/fatal.json"
error=$("$FERRY_APPLIER" history --json --state-dir "$SCRATCH/sites/node-1/state" | /usr/bin/python3 -c \
    'import json, sys; print(json.load(sys.stdin)["runs"][-1]["error"])')
/usr/bin/python3 - "$SCRATCH/fatal.json" "$error" <<'EOF_PY' && pass "node-1's task failed with Ferry's message, kind rolled_back and rc 5" || fail "fatal: $(cat "$SCRATCH/fatal.json") / $error"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["rc"] == 5 and r["kind"] == "rolled_back", r
assert r["msg"] and r["msg"] == r["ferry"]["error"]["message"], r
assert sys.argv[2] and sys.argv[2] in r["msg"], (sys.argv[2], r["msg"])
assert "running-2.1.0" in r["msg"], r["msg"]
EOF_PY
[ "$(grep -c '^fatal: ' "$SCRATCH/out")" -eq 1 ] && pass "one node failed" || fail "$(grep '^fatal: ' "$SCRATCH/out")"
[ "$(versions)" == "2.0.0 2.0.0 2.0.0" ] && pass "node-1 rolled back to 2.0.0; no other node upgraded" ||
    fail "versions: $(versions)"
GREETER_PORT=$((BASE_PORT + 1)) "$SCRATCH/sites/node-1/root/usr/bin/greeter" check \
    --config "$SCRATCH/sites/node-1/root/etc/greeter/greeter.env" --expect-version 2.0.0 >/dev/null 2>&1 &&
    pass "node-1 serves 2.0.0 again" || fail "node-1 does not serve 2.0.0"
[ "$(sqlite3 "$SCRATCH/sites/node-1/state/state.db" "SELECT state FROM runs WHERE version = '2.1.0'")" == rolled_back ] &&
    pass "node-1's run of 2.1.0 is rolled back" || fail "node-1's runs: $(sqlite3 "$SCRATCH/sites/node-1/state/state.db" 'SELECT * FROM runs')"
for i in 2 3; do
    [ -z "$(sqlite3 "$SCRATCH/sites/node-$i/state/state.db" "SELECT id FROM runs WHERE version = '2.1.0'")" ] ||
        fail "node-$i was upgraded after node-1 failed"
done
[ "$(steps)" == "" ] && [ "$(roles)" == "follower leader follower " ] &&
    pass "the play stopped there: node-3 not touched, the leader node-2 not stepped down" ||
    fail "after the failure: $(steps) roles $(roles)"
grep -q "NO MORE HOSTS LEFT" "$SCRATCH/out" && pass "ansible says no hosts are left to go on with" ||
    fail "no NO MORE HOSTS LEFT: $(tail -20 "$SCRATCH/out")"
