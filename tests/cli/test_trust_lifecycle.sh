#!/usr/bin/env bash
# The node's own trust store: trust init (once, logged), --trust defaulting to it, trust show,
# roles (a key without the role does not count) — every refusal with its message and exit code,
# the store byte for byte unchanged and an audit record written.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

TREE=$(sample_tree)
K=$SCRATCH/keys
mkdir -p "$K"
# A: release and trust (revoked in version 2); B, C: trust only; R: release only; E: expired.
for name in key-a key-b key-c key-r; do
    "$FERRY_BUNDLER" key generate --name "$name" --out "$K" --unencrypted >/dev/null 2>&1
done
IDA=$(key_id "$K/key-a.pub")
IDB=$(key_id "$K/key-b.pub")
IDC=$(key_id "$K/key-c.pub")
IDR=$(key_id "$K/key-r.pub")
readonly IDA IDB IDC IDR
EXPIRES=$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%SZ)
readonly EXPIRES

# entry NAME ROLES [EXPIRES]: one key of a trust.yaml, from $K/NAME.pub.
entry() {
    printf '  - name: %s\n    id: "%s"\n    public_key: "%s"\n    expires: %s\n    roles: [%s]\n' \
        "$1" "$(key_id "$K/$1.pub")" "$(sed -n 2p "$K/$1.pub")" "${3:-$EXPIRES}" "$2"
}
# signature_list ITEM...: the items in key id order, as messages list signatures.
signature_list() {
    printf '%s\n' "$@" | LC_ALL=C sort | paste -sd ';' | sed 's/;/; /g'
}
# store FILE VERSION RELEASE TRUST ENTRY...: writes a trust store.
store() {
    local -r file=$1 version=$2 release=$3 trust=$4
    shift 4
    { printf 'version: %s\nthresholds:\n  release: %s\n  trust: %s\nkeys:\n' "$version" "$release" "$trust"; printf '%s\n' "$@"; } >"$file"
}
store "$K/v1.yaml" 1 1 2 "$(entry key-a 'release, trust')" "$(entry key-b trust)" "$(entry key-r release)"
store "$K/v2.yaml" 2 1 2 "$(entry key-b trust)" "$(entry key-c trust)" "$(entry key-r release)"
store "$K/v3.yaml" 3 1 2 "$(entry key-b trust)" "$(entry key-c trust)" "$(entry key-r release)"
store "$K/v1-again.yaml" 1 1 1 "$(entry key-b trust)" "$(entry key-c trust)" "$(entry key-r release)"
store "$K/v2-expired.yaml" 2 1 1 "$(entry key-b trust 2020-01-01T00:00:00Z)" "$(entry key-r release)"
printf 'version: 2\nthresholds: {release: 1, trust: 1}\nkeys: []\n' >"$K/v2-empty.yaml"
store "$K/unknown-role.yaml" 1 1 1 "$(entry key-a 'release, auditor-only')"

site n1
STORE=$R/etc/ferry/trust.yaml
# store_hash: the node's trust store's sha256, or "absent".
store_hash() { if [ -e "$STORE" ]; then sha256sum "$STORE" | cut -c1-64; else echo absent; fi; }
# audit_count ACTION: how many audit records of ACTION the node's log holds.
audit_count() {
    if [ ! -e "$S/state.db" ]; then
        echo 0
        return
    fi
    "$FERRY_APPLIER" audit export --state-dir "$S" |
        "$PY" -c 'import json, sys; print(sum(r["action"] == sys.argv[1] for r in json.load(sys.stdin)["records"]))' "$1"
}
# refused_change NAME CODE MESSAGE ACTION CMD...: CMD fails with CODE and MESSAGE, the trust store
# is byte for byte what it was, and one more ACTION record is in the audit log.
refused_change() {
    local -r name=$1 code=$2 message=$3 action=$4
    shift 4
    local -r before=$(store_hash) records=$(audit_count "$action")
    expect_fail "$name" "$code" "$message" "$@"
    [ "$(store_hash)" == "$before" ] && pass "$name: trust store unchanged" ||
        fail "$name: trust store changed: $before -> $(store_hash)"
    [ "$(audit_count "$action")" -eq $((records + 1)) ] && pass "$name: audit record \"$action\"" ||
        fail "$name: no new \"$action\" audit record"
}

# --- trust init ------------------------------------------------------------------------------

expect_fail "trust show with no trust store on the node" 1 "$STORE: no trust store (the node's own" \
    "$FERRY_APPLIER" trust show --root "$R"
grep -qF 'ferry-applier trust init FILE' "$SCRATCH/err" && pass "the hint names trust init" ||
    fail "hint: $(cat "$SCRATCH/err")"
refused_change "trust init of a store with an unknown role" 1 \
    "$K/unknown-role.yaml:10: keys[0].roles: unknown role \"auditor-only\"" "trust init refused" \
    "$FERRY_APPLIER" trust init "$K/unknown-role.yaml" --root "$R" --state-dir "$S"
refused_change "trust init of a store whose trust keys have all expired" 4 \
    "thresholds.trust is 1 but only 0 trust key(s) are unexpired" "trust init refused" \
    "$FERRY_APPLIER" trust init "$K/v2-expired.yaml" --root "$R" --state-dir "$S"
expect_ok "trust init" "$FERRY_APPLIER" trust init "$K/v1.yaml" --root "$R" --state-dir "$S"
expect_output "trust init says what it installed" "installed trust store version 1 as $STORE"
cmp -s "$K/v1.yaml" "$STORE" && pass "trust init installs the file byte for byte" || fail "$STORE differs from v1.yaml"
[ "$(audit_count "trust initialized")" -eq 1 ] && pass "trust init: audit record" || fail "trust init: no audit record"
refused_change "trust init when the node has a trust store" 4 "$STORE: the node has a trust store already" \
    "trust init refused" "$FERRY_APPLIER" trust init "$K/v3.yaml" --root "$R" --state-dir "$S"
grep -qF 'ferry-applier trust update BUNDLE' "$SCRATCH/err" && pass "the hint names trust update" ||
    fail "hint: $(cat "$SCRATCH/err")"

# --- trust show ------------------------------------------------------------------------------

expect_ok "trust show" "$FERRY_APPLIER" trust show --root "$R"
expect_output "trust show: version" "trust store: $STORE, version 1"
expect_output "trust show: release threshold" "threshold release: 1 of 2 release keys"
expect_output "trust show: trust threshold" "threshold trust:   2 of 2 trust keys"
expect_output "trust show: a key's roles" "$IDA  key-a                    [release, trust]"
expect_ok "trust show --json" "$FERRY_APPLIER" trust show --root "$R" --json
expect_json "trust show --json: version, thresholds, roles, expiry" \
    "j['version'] == 1 and j['thresholds'] == {'release': 1, 'trust': 2} and [(k['name'], k['roles'], k['expired']) for k in j['keys']] == [('key-a', ['release', 'trust'], False), ('key-b', ['trust'], False), ('key-r', ['release'], False)] and j['keys'][0]['expires'] == '$EXPIRES'"

# --- roles: --trust defaults to the node's store; a key without the release role does not count

mkdir -p "$SCRATCH/by-a" "$SCRATCH/by-b" "$SCRATCH/by-r"
for who in a b r; do
    "$FERRY_BUNDLER" build -q "$TREE/greeter-1.0.0.yaml" --key "$K/key-$who.key" -o "$SCRATCH/by-$who" >/dev/null
done
BY_A=$SCRATCH/by-a/greeter-1.0.0.ferry
BY_B=$SCRATCH/by-b/greeter-1.0.0.ferry
BY_R=$SCRATCH/by-r/greeter-1.0.0.ferry
expect_ok "plan without --trust uses the node's own store" \
    "$FERRY_APPLIER" plan "$BY_R" --root "$R" --state-dir "$S" --json
expect_json "plan: the bundle is authentic by the node's store" "j['result'] != 'refused'"
expect_fail "a bundle signed only by a trust key is not authentic" 3 \
    "manifest signed by 0 trusted release key(s), 1 required [$IDB (key-b): ignored, not a release key (roles: trust)]" \
    "$FERRY_APPLIER" plan "$BY_B" --root "$R" --state-dir "$S"
expect_ok "verify names the keys it ignored" "$FERRY_BUNDLER" sign "$BY_R" --key "$K/key-b.key" -o "$SCRATCH/by-rb.ferry"
expect_ok "a release key and a trust key: verified" "$FERRY_APPLIER" verify -q "$SCRATCH/by-rb.ferry" --trust "$STORE"
expect_output "verify: the trust key is named as ignored" \
    "[key-r]; ignored: $IDB (key-b): ignored, not a release key (roles: trust);"
