#!/usr/bin/env bash
# Offline signing: a bundle built unsigned, its manifest carried to a signing station, signed
# there (by Debian's minisign with minisign's own key files, or by ferry-bundler sign --detached),
# and the signature attached without touching the payload.
source "$(dirname "$0")/lib.sh"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
ID1=$(key_id "$KEYS/test-release-1.pub")
readonly ID1
TREE=$(sample_tree)
payload_hash() { tar -xOf "$1" payload.tar.zst | sha256sum | cut -c1-64; }

# --- Built unsigned ------------------------------------------------------------------------------

mkdir "$SCRATCH/bundles"
expect_ok "build --unsigned" "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --unsigned -o "$SCRATCH/bundles"
readonly U=$SCRATCH/bundles/greeter-2.0.0.ferry
expect_output "built with 0 signatures" "0 signature(s)"
grep -qF "warning: $U is unsigned" "$SCRATCH/err" && pass "says it must be signed before it goes" || fail "stderr: $(cat "$SCRATCH/err")"
[ "$(tar -tf "$U" | tr '\n' ' ')" == "manifest.yaml payload.tar.zst " ] && pass "the envelope holds no signature" ||
    fail "members: $(tar -tf "$U")"
expect_fail "verify refuses an unsigned bundle" 3 "bundle carries no signature" "$FERRY_APPLIER" verify "$U" --trust "$TRUST"
R=$SCRATCH/site/root S=$SCRATCH/site/state
mkdir -p "$R"
expect_fail "apply refuses an unsigned bundle" 3 "bundle carries no signature" \
    "$FERRY_APPLIER" apply "$U" --trust "$TRUST" --root "$R" --state-dir "$S"
[ ! -e "$S" ] || [ -z "$(find "$S" -name '*.ferry')" ] && pass "unsigned: nothing staged" || fail "staged: $(find "$S")"
expect_ok "inspect shows an unsigned bundle" "$FERRY_BUNDLER" inspect "$U"
PAYLOAD=$(payload_hash "$U")

# --- The manifest to the station, its signature back ----------------------------------------------

expect_ok "manifest -o" "$FERRY_BUNDLER" manifest "$U" -o "$SCRATCH/manifest.yaml"
cmp -s "$SCRATCH/manifest.yaml" <(tar -xOf "$U" manifest.yaml) && pass "the exact bytes of manifest.yaml" ||
    fail "manifest.yaml differs from the bundle's"
expect_fail "manifest -o refuses to overwrite" 2 "$SCRATCH/manifest.yaml already exists" \
    "$FERRY_BUNDLER" manifest "$U" -o "$SCRATCH/manifest.yaml"
expect_ok "manifest to standard output" "$FERRY_BUNDLER" manifest "$U"
cmp -s "$SCRATCH/out" "$SCRATCH/manifest.yaml" && pass "standard output: the same bytes" || fail "stdout differs"

# Debian's minisign with its own key pair (not Ferry's key format).
if command -v minisign >/dev/null; then
    minisign -G -W -p "$SCRATCH/station.pub" -s "$SCRATCH/station.key" >/dev/null 2>&1
    minisign -S -l -s "$SCRATCH/station.key" -m "$SCRATCH/manifest.yaml" -x "$SCRATCH/station.minisig" \
        -t "timestamp:$(date +%s)	file:manifest.yaml" >/dev/null 2>&1
    STATION_ID=$(key_id "$SCRATCH/station.pub")
    cp "$U" "$SCRATCH/by-minisign.ferry"
    expect_ok "attach a minisign signature, checked with --pub" \
        "$FERRY_BUNDLER" attach -q "$SCRATCH/by-minisign.ferry" "$SCRATCH/station.minisig" --pub "$SCRATCH/station.pub"
    expect_output "names the key" "attached to $SCRATCH/by-minisign.ferry the signature by key $STATION_ID"
    [ "$(payload_hash "$SCRATCH/by-minisign.ferry")" == "$PAYLOAD" ] && pass "the payload is the same bytes" || fail "payload changed"
    # A trust store holding the station's key accepts the bundle.
    cp "$TRUST" "$SCRATCH/trust-station.yaml"
    cat >>"$SCRATCH/trust-station.yaml" <<EOF
  - name: station
    id: "$STATION_ID"
    public_key: "$(sed -n 2p "$SCRATCH/station.pub")"
    $(grep -m1 'expires:' "$TRUST" | sed 's/^ *//')
    roles: [release]
EOF
    expect_ok "the site verifies the bundle signed by minisign" "$FERRY_APPLIER" verify -q "$SCRATCH/by-minisign.ferry" --trust "$SCRATCH/trust-station.yaml"
    expect_output "signed by the station's key" "[station]"
    # A prehashed signature (minisign without -l) is named as such.
    minisign -S -s "$SCRATCH/station.key" -m "$SCRATCH/manifest.yaml" -x "$SCRATCH/prehashed.minisig" >/dev/null 2>&1
    cp "$U" "$SCRATCH/prehashed.ferry"
    before=$(sha256sum "$SCRATCH/prehashed.ferry")
    expect_fail "a prehashed minisign signature is refused" 1 "prehashed signature (algorithm \"ED\")" \
        "$FERRY_BUNDLER" attach "$SCRATCH/prehashed.ferry" "$SCRATCH/prehashed.minisig" --pub "$SCRATCH/station.pub"
    grep -qF "minisign -S -l" "$SCRATCH/err" && pass "prehashed: the hint says -l" || fail "hint: $(cat "$SCRATCH/err")"
    [ "$(sha256sum "$SCRATCH/prehashed.ferry")" == "$before" ] && pass "prehashed: the bundle unchanged" || fail "bundle changed"
else
    fail "minisign is not installed (scripts/install-deps.sh installs it)"
fi

# Ferry's own key at the station.
expect_ok "sign --detached" "$FERRY_BUNDLER" sign "$SCRATCH/manifest.yaml" --detached --key "$KEYS/test-release-1.key"
expect_output "writes FILE.minisig" "signed $SCRATCH/manifest.yaml with key $ID1: $SCRATCH/manifest.yaml.minisig"
first_signature=$(sha256sum <"$SCRATCH/manifest.yaml.minisig")
expect_fail "sign --detached again: refused, the first signature kept" 2 \
    "error: $SCRATCH/manifest.yaml.minisig already exists" \
    "$FERRY_BUNDLER" sign "$SCRATCH/manifest.yaml" --detached --key "$KEYS/test-release-2.key"
[ "$(sha256sum <"$SCRATCH/manifest.yaml.minisig")" == "$first_signature" ] &&
    grep -qF "give this signature its own file with -o" "$SCRATCH/err" && pass "the first signature is unchanged; -o is suggested" ||
    fail "the first signature changed, or no hint: $(cat "$SCRATCH/err")"
minisign -V -q -p "$KEYS/test-release-1.pub" -m "$SCRATCH/manifest.yaml" -x "$SCRATCH/manifest.yaml.minisig" &&
    pass "minisign -V accepts the detached signature" || fail "minisign -V refuses the detached signature"
expect_ok "attach, checked against a trust store" "$FERRY_BUNDLER" attach -q "$U" "$SCRATCH/manifest.yaml.minisig" --trust "$TRUST" -o "$SCRATCH/signed.ferry"
expect_output "names the key and its name" "the signature by key $ID1 (test-release-1)"
expect_ok "the site verifies it" "$FERRY_APPLIER" verify -q "$SCRATCH/signed.ferry" --trust "$TRUST"
[ "$(payload_hash "$SCRATCH/signed.ferry")" == "$PAYLOAD" ] && pass "-o: the payload is the same bytes" || fail "payload changed"
[ "$(tar -tf "$U" | wc -l)" -eq 2 ] && pass "-o: the unsigned bundle left as it was" || fail "the input changed"

# sign works on an unsigned bundle as well.
cp "$U" "$SCRATCH/signed-directly.ferry"
expect_ok "sign an unsigned bundle" "$FERRY_BUNDLER" sign -q "$SCRATCH/signed-directly.ferry" --key "$KEYS/test-release-1.key"
expect_ok "and it verifies" "$FERRY_APPLIER" verify -q "$SCRATCH/signed-directly.ferry" --trust "$TRUST"

# --- Refusals: the bundle unchanged -----------------------------------------------------------------

cp "$U" "$SCRATCH/target.ferry"
before=$(sha256sum "$SCRATCH/target.ferry")
"$FERRY_BUNDLER" build -q "$TREE/greeter-1.0.0.yaml" --unsigned -o "$SCRATCH/bundles" >/dev/null 2>&1
"$FERRY_BUNDLER" manifest "$SCRATCH/bundles/greeter-1.0.0.ferry" -o "$SCRATCH/other.yaml"
"$FERRY_BUNDLER" sign "$SCRATCH/other.yaml" --detached --key "$KEYS/test-release-1.key" >/dev/null
expect_fail "a signature of another manifest" 3 "$SCRATCH/other.yaml.minisig: not a valid signature of $SCRATCH/target.ferry's manifest by key $ID1" \
    "$FERRY_BUNDLER" attach "$SCRATCH/target.ferry" "$SCRATCH/other.yaml.minisig" --trust "$TRUST"
expect_fail "a signature by a key the trust store lacks" 1 "which the trust store does not hold" \
    "$FERRY_BUNDLER" attach "$SCRATCH/target.ferry" "$SCRATCH/station.minisig" --trust "$TRUST"
expect_fail "a signature by another key than --pub" 1 "is by key $ID1, not by the given public key" \
    "$FERRY_BUNDLER" attach "$SCRATCH/target.ferry" "$SCRATCH/manifest.yaml.minisig" --pub "$SCRATCH/station.pub"
printf 'untrusted comment: x\nnot base64\n' >"$SCRATCH/garbage.minisig"
expect_fail "a file that is not a signature" 1 "$SCRATCH/garbage.minisig" \
    "$FERRY_BUNDLER" attach "$SCRATCH/target.ferry" "$SCRATCH/garbage.minisig" --trust "$TRUST"
expect_fail "attach with no key to check with" 2 "pass --pub SIGNER.pub or --trust trust.yaml" \
    "$FERRY_BUNDLER" attach "$SCRATCH/target.ferry" "$SCRATCH/manifest.yaml.minisig"
[ "$(sha256sum "$SCRATCH/target.ferry")" == "$before" ] && pass "refusals: the bundle unchanged" || fail "the bundle changed"
expect_fail "the same key twice" 2 "is already signed by key $ID1" \
    "$FERRY_BUNDLER" attach "$SCRATCH/signed.ferry" "$SCRATCH/manifest.yaml.minisig" --trust "$TRUST"
expect_fail "--unsigned with --key" 2 "--key excludes --unsigned" \
    "$FERRY_BUNDLER" build "$TREE/greeter-2.0.0.yaml" --unsigned --key "$KEYS/test-release-1.key"

# A split bundle is signed whole, then split again: its parts are refused, left as they were.
mkdir "$SCRATCH/parts"
"$FERRY_BUNDLER" split -q "$U" --size 3200000 --out-dir "$SCRATCH/parts" >/dev/null
before=$(snapshot "$SCRATCH/parts")
P=$SCRATCH/parts/greeter-2.0.0.ferry.001
expect_fail "attach refuses a part of a split bundle" 2 "$P is a split bundle" \
    "$FERRY_BUNDLER" attach "$P" "$SCRATCH/manifest.yaml.minisig" --trust "$TRUST"
grep -qF "sign the whole bundle, then split it again" "$SCRATCH/err" && pass "split: the hint says what to do" ||
    fail "hint: $(cat "$SCRATCH/err")"
expect_fail "sign refuses a part of a split bundle" 2 "$P is a split bundle" \
    "$FERRY_BUNDLER" sign "$P" --key "$KEYS/test-release-1.key"
expect_fail "manifest refuses a part of a split bundle" 2 "$P is a split bundle" \
    "$FERRY_BUNDLER" manifest "$P" -o "$SCRATCH/parts-manifest.yaml"
expect_unchanged "split bundle refused" "$SCRATCH/parts" "$before"
[ ! -e "$SCRATCH/parts-manifest.yaml" ] && pass "split: no manifest written" || fail "a manifest was written"
expect_fail "sign --detached of a missing file" 1 "$SCRATCH/absent.yaml" \
    "$FERRY_BUNDLER" sign "$SCRATCH/absent.yaml" --detached --key "$KEYS/test-release-1.key"
[ ! -e "$SCRATCH/absent.yaml.minisig" ] && pass "missing file: no signature written" || fail "a signature was written"
