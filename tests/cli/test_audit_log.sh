#!/usr/bin/env bash
# The node's audit evidence: every command that changes the node (trust init and update, stage,
# apply, rollback, prune) logs a record naming the bundle, its version, its manifest's sha256,
# the keys that counted, the operator (with sudo's account of who asked) and the host, and
# leaves a receipt signed by the node's own key (made once, mode 0600) that Debian's minisign
# accepts. audit verify names the records missing from a log cut short after a receipt; audit
# export writes the log, the receipts and the node's public key, which docs/audit.md's
# `sh audit-log` blocks check with minisign and python3 alone.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

GREETER_PORT=$((21300 + $$ % 100))
export GREETER_PORT
site n1
trap 'rc=$?; set +e; stop_services; (exit $rc); finish' EXIT
greeter_setup
build greeter-1.0.0.yaml v1 && V1=$BUILT
build greeter-2.0.0.yaml v2 && V2=$BUILT
variant greeter-1.0.0.yaml other.yaml 's["compatible"]["product"] = "other"'
build other.yaml other && OTHER=$BUILT
readonly KEY_ID=$(key_id "$KEYS/test-release-1.pub")
readonly ME=$(id -un) MY_UID=$(id -u) HOST=$(hostname)
sha_of_manifest() { tar -xOf "$1" manifest.yaml | sha256sum | cut -c1-64; }
readonly SHA1=$(sha_of_manifest "$V1") SHA2=$(sha_of_manifest "$V2") SHA_OTHER=$(sha_of_manifest "$OTHER")
applier() { "$FERRY_APPLIER" "$@" --state-dir "$S"; }
# records: the node's audit log as JSON, in $SCRATCH/records.json.
records() { applier audit export >"$SCRATCH/records.json"; }
# expect_records NAME PYTHON-EXPR: EXPR holds for the audit records (as rs, each detail parsed as d).
expect_records() {
    records
    if "$PY" -c 'import json, sys
rs = [dict(r, d=json.loads(r["detail"])) for r in json.load(open(sys.argv[1]))["records"]]
sys.exit(0 if eval(sys.argv[2]) else 1)' "$SCRATCH/records.json" "$2" 2>"$SCRATCH/json-err"; then
        pass "$1"
    else
        fail "$1: $2 does not hold for: $(cat "$SCRATCH/records.json") $(cat "$SCRATCH/json-err")"
    fi
}
receipt_count() { find "$S/receipts" -name '*.json' 2>/dev/null | wc -l; }

# --- each command logs, and leaves a receipt ----------------------------------------------------

expect_ok "trust init" applier trust init "$TRUST" --root "$R"
[ "$(stat -c %a "$S/node.key")" = 600 ] && [ -s "$S/node.pub" ] &&
    pass "the node's key is made at first use, readable by its owner only" ||
    fail "node key: $(ls -l "$S")"
readonly NODE_KEY=$(sed -n 2p "$S/node.pub") NODE_KEY_SHA=$(sha256sum <"$S/node.key")
expect_ok "trust show" "$FERRY_APPLIER" trust show --root "$R" --state-dir "$S"
expect_output "trust show prints the node's public key" "$NODE_KEY"
expect_output "trust show names the node key" "node key: $(key_id "$S/node.pub") ($S/node.pub)"
expect_ok "stage 1.0.0" applier stage "$V1" --root "$R"
SUDO_USER=alice SUDO_UID=4242 expect_ok "apply 1.0.0 (run through sudo)" applier apply -q "$V1" --root "$R"
expect_ok "apply 2.0.0" applier apply -q "$V2" --root "$R" --allow-major --ack-breaking
expect_ok "rollback of 2.0.0" applier rollback --run 2 --root "$R"
expect_ok "prune" applier prune --root "$R"
"$PY" - "$TRUST" "$SCRATCH/trust-v2.yaml" <<'EOF'
import sys
text = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(text.replace("version: 1\n", "version: 2\n", 1))
EOF
mkdir "$SCRATCH/tb"
"$FERRY_BUNDLER" trust build "$SCRATCH/trust-v2.yaml" --key "$KEYS/test-release-1.key" -o "$SCRATCH/tb" >/dev/null
expect_ok "trust update" applier trust update "$SCRATCH/tb/trust-v2.ferry" --root "$R"
expect_fail "a refused apply (another product)" 4 'bundle is for product "other"' applier apply -q "$OTHER" --root "$R"

expect_records "every command logged, in order" \
    "[r['action'] for r in rs] == ['trust initialized', 'staged', 'applied', 'applied', 'rolled back', 'pruned', 'trust updated', 'refused']"
expect_records "every record names the operator and the host" \
    "all(r['d']['operator']['user'] == '$ME' and r['d']['operator']['uid'] == $MY_UID and r['d']['host'] == '$HOST' for r in rs)"
expect_records "sudo's account of who asked is recorded beside the effective user" \
    "rs[2]['d']['operator'] == {'user': '$ME', 'uid': $MY_UID, 'sudo_user': 'alice', 'sudo_uid': 4242} and rs[3]['d']['operator']['sudo_user'] == '' and rs[3]['d']['operator']['sudo_uid'] is None"
expect_records "bundle records name the bundle, version and manifest sha256" \
    "[(r['d']['bundle'], r['d']['version'], r['d']['manifest_sha256']) for r in rs[1:5]] == [('greeter', '1.0.0', '$SHA1'), ('greeter', '1.0.0', '$SHA1'), ('greeter', '2.0.0', '$SHA2'), ('greeter', '2.0.0', '$SHA2')] and rs[7]['d']['manifest_sha256'] == '$SHA_OTHER'"
expect_records "bundle records name the keys that counted (stage, apply, rollback, refusal)" \
    "all(rs[i]['d']['signing_keys'] == [{'id': '$KEY_ID', 'name': 'test-release-1'}] for i in (1, 2, 3, 4, 7))"
expect_records "the trust update names its store, version and signing key" \
    "rs[6]['d']['version'] == 2 and rs[6]['d']['from_version'] == 1 and rs[6]['d']['manifest_sha256'] == '$(sha256sum <"$SCRATCH/trust-v2.yaml" | cut -c1-64)' and rs[6]['d']['signing_keys'] == [{'id': '$KEY_ID', 'name': 'test-release-1'}]"

[ "$(receipt_count)" -eq 8 ] && pass "one receipt per command" || fail "receipts: $(ls "$S/receipts")"
[ "$(sha256sum <"$S/node.key")" = "$NODE_KEY_SHA" ] && [ "$(stat -c %a "$S/node.key")" = 600 ] &&
    pass "the node's key is made once and reused" || fail "the node key changed"
bad=""
for receipt in "$S"/receipts/*.json; do
    minisign -V -q -p "$S/node.pub" -m "$receipt" || bad+=" $receipt"
done
[ -z "$bad" ] && pass "Debian's minisign accepts every receipt" || fail "minisign rejects:$bad"
LATEST=$(ls "$S"/receipts/*.json | tail -1)
records
"$PY" - "$LATEST" "$SCRATCH/records.json" <<'EOF' && pass "the latest receipt states the chain's head and count" || fail "latest receipt: $(cat "$LATEST")"
import json, sys
r, log = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))["records"]
assert r["records"] == len(log) == 8 and r["head"] == log[-1]["hash"] and r["result"] == "refused", r
assert r["bundle"] == "greeter" and r["version"] == "1.0.0" and len(r["manifest_sha256"]) == 64 and r["node"], r
EOF
expect_ok "audit verify" applier audit verify
expect_output "audit verify: the receipts cover the whole log" "covers records 1 to 8"

# --- export, and the auditor's procedure of docs/audit.md ----------------------------------------

expect_ok "audit export --out-dir" applier audit export --out-dir "$SCRATCH/export"
expect_output "audit export says what it wrote" "exported 8 audit record(s), 8 receipt(s) and the node's public key to $SCRATCH/export"
[ -f "$SCRATCH/export/audit.json" ] && cmp -s "$S/node.pub" "$SCRATCH/export/node.pub" &&
    [ "$(ls "$SCRATCH/export/receipts" | wc -l)" -eq 16 ] && pass "the export holds the log, 8 receipts with signatures and node.pub" ||
    fail "export: $(ls -R "$SCRATCH/export")"
expect_fail "audit export into a folder that holds files" 2 "$SCRATCH/export: exists and is not an empty folder" \
    applier audit export --out-dir "$SCRATCH/export"
readonly procedure=$SCRATCH/audit-log.sh
awk '/^```sh audit-log$/ { b = 1; next } /^```$/ { b = 0 } b' "$FERRY_SOURCE_DIR/docs/audit.md" >"$procedure"
[ "$(grep -c '^```sh audit-log$' "$FERRY_SOURCE_DIR/docs/audit.md")" -ge 3 ] && grep -q 'minisign -V' "$procedure" &&
    grep -q 'python3 -' "$procedure" && pass "docs/audit.md: the audit-log procedure (minisign, python3)" ||
    fail "docs/audit.md: no audit-log procedure"
# auditor EXPORT: the procedure with the auditor's tools only (Debian's python3 and minisign).
auditor() {
    run env -i PATH=/usr/bin:/bin EXPORT="$1" NODE_KEY="$NODE_KEY" bash -euo pipefail "$procedure"
}
auditor "$SCRATCH/export"
[ "$RC" -eq 0 ] && grep -q '^AUDIT PASSED' "$SCRATCH/out" && pass "the auditor's procedure passes the export" ||
    fail "the procedure: exit $RC: $(cat "$SCRATCH/out" "$SCRATCH/err")"

# --- a log cut short after its latest receipt ------------------------------------------------

cp -a "$S" "$SCRATCH/cut"
cp -a "$S" "$SCRATCH/forged"
sqlite3 "$SCRATCH/cut/state.db" 'DELETE FROM audit WHERE seq > 6'
expect_fail "audit verify of a log whose newest records were deleted" 3 \
    "audit log: the log ends at record 6, but receipt $(basename "$LATEST") (signed after \"refused\" of greeter 1.0.0 at" \
    "$FERRY_APPLIER" audit verify --state-dir "$SCRATCH/cut"
grep -qF "covers 8 record(s): records 7 to 8 are missing (the log was truncated)" "$SCRATCH/err" &&
    pass "audit verify names the missing records" || fail "message: $(cat "$SCRATCH/err")"
"$FERRY_APPLIER" audit export --state-dir "$SCRATCH/cut" --out-dir "$SCRATCH/cut-export" >/dev/null
auditor "$SCRATCH/cut-export"
[ "$RC" -ne 0 ] && grep -qF 'truncated:' "$SCRATCH/err" && grep -qF 'AUDIT FAILED' "$SCRATCH/err" &&
    pass "the auditor's procedure finds the truncation too" || fail "procedure on a cut log: exit $RC: $(cat "$SCRATCH/err")"
sed -i 's/"result":"refused"/"result":"applied"/' "$SCRATCH/forged/receipts/$(basename "$LATEST")"
expect_fail "audit verify of a receipt changed after it was signed" 3 \
    "$(basename "$LATEST"): its signature does not verify with the node's key $(key_id "$S/node.pub")" \
    "$FERRY_APPLIER" audit verify --state-dir "$SCRATCH/forged"

# --- the node key's mode is checked before anything changes ------------------------------------

chmod 644 "$S/node.key"
before=$(snapshot "$R")
count=$(receipt_count)
expect_fail "a node key others can read is refused" 1 \
    "$S/node.key: the node's secret key must be a file readable by its owner only (mode 0644)" \
    applier apply -q "$V2" --root "$R" --allow-major --ack-breaking
expect_unchanged "the refused command" "$R" "$before"
[ "$(receipt_count)" -eq "$count" ] && pass "the refused command wrote no receipt" || fail "a receipt was written"
chmod 600 "$S/node.key"

# --- a failure is logged too: a damaged bundle given to stage ----------------------------------

cp "$V2" "$SCRATCH/damaged.ferry"
"$PY" - "$SCRATCH/damaged.ferry" <<'PYEOF'
import sys, tarfile
member = tarfile.open(sys.argv[1]).getmember("payload.tar.zst")
with open(sys.argv[1], "r+b") as f:
    f.seek(member.offset_data + member.size // 2)
    byte = f.read(1)
    f.seek(-1, 1)
    f.write(bytes([byte[0] ^ 0xFF]))
PYEOF
count=$(receipt_count)
expect_fail "stage of a damaged bundle" 3 "sha256 mismatch" applier stage "$SCRATCH/damaged.ferry" --root "$R" --allow-major --ack-breaking
expect_records "the failed stage is logged with what was known of the bundle" \
    "rs[-1]['action'] == 'verification failed' and rs[-1]['d']['manifest_sha256'] == '$SHA2' and rs[-1]['d']['signing_keys'] == [{'id': '$KEY_ID', 'name': 'test-release-1'}] and rs[-1]['d']['operator']['user'] == '$ME'"
[ "$(receipt_count)" -eq $((count + 1)) ] && pass "the failed stage leaves a receipt" || fail "no receipt for the failed stage"
expect_ok "audit verify after the failure" applier audit verify
