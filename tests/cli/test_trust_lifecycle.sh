#!/usr/bin/env bash
# The node's own trust store: trust init (once, logged), --trust defaulting to it, trust show,
# roles (a key without the role does not count), and rotation by trust bundle — every refusal
# with its message and exit code, the store byte for byte unchanged and an audit record written.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

TREE=$(sample_tree)
K=$SCRATCH/keys
mkdir -p "$K"
# A: release and trust (revoked in version 2); B, C: trust only; R: release only; E: expired.
for name in key-a key-b key-c key-r; do
    "$FERRY_BUNDLER" key generate --name "$name" --out-dir "$K" --unencrypted >/dev/null 2>&1
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
    "$FERRY_BUNDLER" build -q "$TREE/greeter-1.0.0.yaml" --key "$K/key-$who.key" --out-dir "$SCRATCH/by-$who" >/dev/null
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
expect_ok "a bundle by key-a verifies before the rotation" "$FERRY_APPLIER" verify -q "$BY_A" --trust "$STORE"

# --- trust bundles -----------------------------------------------------------------------------

TB=$SCRATCH/tb
mkdir -p "$TB"/{old,new,skip,same,empty,expired,good}
# trust_bundle DIR STORE KEY...: builds DIR/trust-vN.ferry from STORE signed by the keys.
trust_bundle() {
    local -r dir=$1 file=$2
    shift 2
    local args=() k
    for k in "$@"; do
        args+=(--key "$K/$k.key")
    done
    "$FERRY_BUNDLER" trust build "$file" "${args[@]}" --out-dir "$TB/$dir" >"$SCRATCH/tb.out" 2>&1 ||
        { fail "trust build $dir: $(cat "$SCRATCH/tb.out")"; exit 1; }
}
trust_bundle old "$K/v2.yaml" key-a key-b
trust_bundle new "$K/v2.yaml" key-b key-c
trust_bundle skip "$K/v3.yaml" key-a key-b key-c
trust_bundle same "$K/v1-again.yaml" key-a key-b key-c
# The empty store cannot be built by ferry-bundler (it refuses it too): put it in by hand.
expect_fail "trust build refuses a store with no keys" 1 "the trust store lists no keys" \
    "$FERRY_BUNDLER" trust build "$K/v2-empty.yaml" --key "$K/key-a.key" --out-dir "$TB/empty"
"$FERRY_FORGE" --trust-bundle --manifest "$K/v2-empty.yaml" --key "$K/key-a.key" --key "$K/key-b.key" \
    -o "$TB/empty/trust-v2.ferry"
"$FERRY_FORGE" --trust-bundle --manifest "$K/v2-expired.yaml" --key "$K/key-a.key" --key "$K/key-b.key" \
    -o "$TB/expired/trust-v2.ferry"

refused_change "trust update signed only by the current store's keys" 3 \
    "$TB/old/trust-v2.ferry: not signed by the trust threshold of the new trust store (version 2): trust.yaml signed by 1 trusted trust key(s), 2 required" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/old/trust-v2.ferry" --root "$R" --state-dir "$S"
refused_change "trust update signed only by the new store's keys" 3 \
    "not signed by the trust threshold of the current trust store (version 1): trust.yaml signed by 1 trusted trust key(s), 2 required [$(signature_list "$IDB (key-b): valid" "$IDC: unknown key")]" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/new/trust-v2.ferry" --root "$R" --state-dir "$S"
refused_change "trust update skipping a version" 4 \
    "carries trust store version 3, skipping version(s) after the current trust store (version 1)" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/skip/trust-v3.ferry" --root "$R" --state-dir "$S"
refused_change "trust update with the same version" 4 \
    "carries trust store version 1, not newer than the current trust store (version 1)" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/same/trust-v1.ferry" --root "$R" --state-dir "$S"
refused_change "trust update to a store with no keys" 4 "$TB/empty/trust-v2.ferry:trust.yaml:3: keys: the trust store lists no keys" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/empty/trust-v2.ferry" --root "$R" --state-dir "$S"
refused_change "trust update to a store whose thresholds cannot be met" 4 \
    "trust store version 2: thresholds.trust is 1 but only 0 trust key(s) are unexpired" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/expired/trust-v2.ferry" --root "$R" --state-dir "$S"
refused_change "a software bundle given to trust update" 3 "not a trust bundle: the first member is \"manifest.yaml\"" \
    "trust update refused" "$FERRY_APPLIER" trust update "$BY_A" --root "$R" --state-dir "$S"
expect_fail "a trust bundle given to verify" 3 "not a software bundle: it carries a trust store" \
    "$FERRY_APPLIER" verify -q "$TB/old/trust-v2.ferry" --trust "$STORE"

# Co-signing a trust bundle: the current store's keys signed it, the new store's key adds its own.
expect_ok "sign adds a signature to a trust bundle" \
    "$FERRY_BUNDLER" sign "$TB/old/trust-v2.ferry" --key "$K/key-c.key" -o "$TB/good/trust-v2.ferry"
expect_ok "trust update signed by both stores' trust thresholds" \
    "$FERRY_APPLIER" trust update "$TB/good/trust-v2.ferry" --root "$R" --state-dir "$S"
expect_output "trust update says what changed" "updated trust store $STORE from version 1 to 2"
cmp -s "$K/v2.yaml" "$STORE" && pass "trust update installs the new store byte for byte" ||
    fail "$STORE differs from v2.yaml"
[ "$(audit_count "trust updated")" -eq 1 ] && pass "trust update: audit record" || fail "trust update: no audit record"
refused_change "the same trust bundle again (a replay)" 4 \
    "carries trust store version 2, not newer than the current trust store (version 2)" \
    "trust update refused" "$FERRY_APPLIER" trust update "$TB/good/trust-v2.ferry" --root "$R" --state-dir "$S"

# Revocation: key-a is not in version 2; what it alone signed is refused from now on.
expect_fail "a bundle signed only by a revoked key" 3 "manifest signed by 0 trusted release key(s), 1 required [$IDA: unknown key]" \
    "$FERRY_APPLIER" plan "$BY_A" --root "$R" --state-dir "$S"
expect_ok "a bundle by a key still trusted verifies" "$FERRY_APPLIER" plan "$BY_R" --root "$R" --state-dir "$S" --json

# --- key generate --expires ------------------------------------------------------------------

expect_ok "key generate --expires DATE" "$FERRY_BUNDLER" key generate --name dated --out-dir "$K" --unencrypted --expires 2031-03-04
expect_output "the trust.yaml entry carries the expiry" "expires: 2031-03-04T00:00:00Z"
expect_fail "key generate --expires in the past" 2 "--expires 2020-01-01T00:00:00Z is not in the future" \
    "$FERRY_BUNDLER" key generate --name old --out-dir "$K" --unencrypted --expires 2020-01-01
expect_fail "key generate --expires that is not a date" 2 "--expires \"soon\" is not a date" \
    "$FERRY_BUNDLER" key generate --name soon --out-dir "$K" --unencrypted --expires soon
