#!/usr/bin/env bash
# The good path end to end: generate keys, build the sample, inspect, verify, co-sign, and check
# that builds are reproducible and that minisign and the JSON schemas accept what Ferry writes.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

# payload_hash BUNDLE / manifest_hash BUNDLE: sha256 of a member's bytes.
payload_hash() { tar -xOf "$1" payload.tar.zst | sha256sum | cut -c1-64; }
manifest_hash() { tar -xOf "$1" manifest.yaml | sha256sum | cut -c1-64; }

# --- Keys ------------------------------------------------------------------------------------

GEN=$SCRATCH/gen
mkdir "$GEN"
expect_ok "key generate --unencrypted" "$FERRY_BUNDLER" key generate --name alpha --out-dir "$GEN" --unencrypted
expect_output "key generate prints the key id" "key id:      $(key_id "$GEN/alpha.pub")"
grep -qF "is NOT encrypted" "$SCRATCH/err" && pass "unencrypted key: warning" ||
    fail "unencrypted key: no warning: $(cat "$SCRATCH/err")"
[ "$(stat -c %a "$GEN/alpha.key")" == 600 ] && pass "unencrypted secret key file is mode 0600" ||
    fail "alpha.key has mode $(stat -c %a "$GEN/alpha.key")"
head -1 "$GEN/alpha.key" | grep -qF "UNENCRYPTED" && pass "unencrypted key file says so" ||
    fail "alpha.key's comment: $(head -1 "$GEN/alpha.key")"

expect_ok "key generate (encrypted)" env FERRY_PASSPHRASE=correct-horse-battery \
    "$FERRY_BUNDLER" key generate --name beta --out-dir "$GEN"
[ "$(stat -c %a "$GEN/beta.key")" == 600 ] && pass "encrypted secret key file is mode 0600" ||
    fail "beta.key has mode $(stat -c %a "$GEN/beta.key")"
head -1 "$GEN/beta.key" | grep -qF "encrypted with a passphrase" && pass "encrypted key file says so" ||
    fail "beta.key's comment: $(head -1 "$GEN/beta.key")"

before=$(snapshot "$GEN")
expect_fail "key generate refuses to overwrite" 2 "$GEN/alpha.key already exists" \
    "$FERRY_BUNDLER" key generate --name alpha --out-dir "$GEN" --unencrypted
expect_unchanged "key generate refuses to overwrite" "$GEN" "$before"

# --- Build, inspect, verify ------------------------------------------------------------------

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly K1=$KEYS/test-release-1.key K2=$KEYS/test-release-2.key TRUST=$KEYS/trust.yaml
ID1=$(key_id "$KEYS/test-release-1.pub")
ID2=$(key_id "$KEYS/test-release-2.pub")
readonly ID1 ID2
sed 's/^  release: 1$/  release: 2/' "$TRUST" >"$KEYS/trust-2.yaml"
readonly TRUST2=$KEYS/trust-2.yaml
TREE=$(sample_tree)

mkdir "$SCRATCH/b1"
readonly B=$SCRATCH/b1/greeter-2.0.0.ferry
expect_ok "build the sample with one key" "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/b1"
expect_output "build reports the bundle" "built $B: greeter 2.0.0, sequence 2, 11 files"
[ "$(find "$SCRATCH/b1" -mindepth 1)" == "$B" ] && pass "build leaves only the bundle" ||
    fail "build left: $(find "$SCRATCH/b1" -mindepth 1)"
expect_ok "the bundle is a tar of manifest, signature, payload" tar -tf "$B"
if [ "$(cat "$SCRATCH/out")" == "$(printf 'manifest.yaml\nsignatures/%s.minisig\npayload.tar.zst' "$ID1")" ]; then
    pass "envelope members in the format's order"
else
    fail "envelope members: $(cat "$SCRATCH/out")"
fi

expect_ok "inspect" "$FERRY_APPLIER" inspect "$B"
expect_output "inspect: name" "name:             greeter"
expect_output "inspect: version" "version:          2.0.0"
expect_output "inspect: unverified without a trust store" "signatures:       not verified (no trust store given)"
expect_output "inspect: the signing key" "  $ID1"
expect_output "inspect: files" "files:            11 ("
expect_ok "inspect --trust" "$FERRY_APPLIER" inspect "$B" --trust "$TRUST"
expect_output "inspect --trust: the signature is valid" "  $ID1  test-release-1  valid"
expect_ok "inspect --json" "$FERRY_APPLIER" inspect --json "$B"
expect_json "inspect --json: fields" \
    "j['name'] == 'greeter' and j['version'] == '2.0.0' and j['sequence'] == 2 and j['file_count'] == 11 and j['compatible'] == {'product': 'greeter', 'channel': 'stable'} and j['upgrade_from'] == '>=1.0.0 <2.0.0'"
expect_json "inspect --json: sizes" \
    "j['bundle_size'] == $(stat -c %s "$B") and j['payload_bytes'] == $(tar -xOf "$B" payload.tar.zst | wc -c) and j['chunks'] == 1"
expect_json "inspect --json: the signature, unverified" \
    "j['signatures'] == [{'key_id': '$ID1', 'status': 'not verified'}]"
expect_ok "inspect --json --files --trust" "$FERRY_APPLIER" inspect --json --files "$B" --trust "$TRUST"
expect_json "inspect --json --files: every file, sorted, sizes add up" \
    "len(j['files']) == j['file_count'] and [f['path'] for f in j['files']] == sorted(f['path'] for f in j['files']) and sum(f['size'] for f in j['files']) == j['file_bytes']"
expect_json "inspect --json --trust: the signature is valid" \
    "j['signatures'] == [{'key_id': '$ID1', 'key_name': 'test-release-1', 'status': 'valid'}]"

expect_ok "verify" "$FERRY_APPLIER" verify -q "$B" --trust "$TRUST"
if [[ "$(head -1 "$SCRATCH/out")" == "verified: greeter 2.0.0 "* ]]; then
    pass "verify: the verdict line"
else
    fail "verify printed: $(cat "$SCRATCH/out")"
fi
expect_output "verify: who signed" "[test-release-1]"
expect_ok "verify --json" "$FERRY_APPLIER" verify --json "$B" --trust "$TRUST"
expect_json "verify --json: verified" "j['verified'] is True and j['name'] == 'greeter'"
expect_ok "ferry-bundler verify" "$FERRY_BUNDLER" verify -q "$B" --trust "$TRUST"
expect_fail "one signature is not enough for threshold 2" 3 "manifest signed by 1 trusted release key(s), 2 required" \
    "$FERRY_APPLIER" verify -q "$B" --trust "$TRUST2"

# --- Co-signing ------------------------------------------------------------------------------

readonly C=$SCRATCH/b1/cosigned.ferry
expect_ok "sign with the second key" "$FERRY_BUNDLER" sign -q "$B" --key "$K2" -o "$C"
expect_output "sign reports the key" "signed $C with key $ID2"
expect_ok "the co-signed bundle verifies with threshold 2" "$FERRY_APPLIER" verify -q "$C" --trust "$TRUST2"
expect_output "verify: two keys counted" "signed by 2 trusted release key(s), 2 required"
[ "$(payload_hash "$B")" == "$(payload_hash "$C")" ] && pass "sign copies payload.tar.zst byte for byte" ||
    fail "the payload changed when signing"
[ "$(manifest_hash "$B")" == "$(manifest_hash "$C")" ] && pass "sign leaves the manifest as it is" ||
    fail "the manifest changed when signing"
tar -tf "$C" >"$SCRATCH/members"
if [ "$(grep -c '^signatures/' "$SCRATCH/members")" == 2 ] && [ "$(tail -1 "$SCRATCH/members")" == payload.tar.zst ]; then
    pass "co-signed envelope: two signatures, payload last"
else
    fail "co-signed envelope members: $(cat "$SCRATCH/members")"
fi
before=$(snapshot "$SCRATCH/b1")
expect_fail "signing twice with one key" 2 "already signed by key $ID2" "$FERRY_BUNDLER" sign -q "$C" --key "$K2"
expect_unchanged "signing twice with one key" "$SCRATCH/b1" "$before"

# In place, with the encrypted key.
cp "$B" "$SCRATCH/b1/in-place.ferry"
expect_ok "sign in place with an encrypted key" env FERRY_PASSPHRASE=correct-horse-battery \
    "$FERRY_BUNDLER" sign -q "$SCRATCH/b1/in-place.ferry" --key "$GEN/beta.key"
expect_ok "inspect the bundle signed in place" "$FERRY_APPLIER" inspect --json "$SCRATCH/b1/in-place.ferry"
expect_json "the bundle signed in place carries both signatures" \
    "sorted(s['key_id'] for s in j['signatures']) == sorted(['$ID1', '$(key_id "$GEN/beta.pub")'])"

# --- Reproducibility -------------------------------------------------------------------------

mkdir "$SCRATCH/r1" "$SCRATCH/r2" "$SCRATCH/r3"
expect_ok "build with --threads 1" "$FERRY_BUNDLER" build -q --threads 1 "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/r1"
expect_ok "build with --threads 2" "$FERRY_BUNDLER" build -q --threads 2 "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/r2"
expect_ok "builds with 1 and 2 threads are byte-identical" cmp "$SCRATCH/r1/greeter-2.0.0.ferry" "$SCRATCH/r2/greeter-2.0.0.ferry"
expect_ok "a rebuild is byte-identical to the first build" cmp "$B" "$SCRATCH/r1/greeter-2.0.0.ferry"
# The self-check reads what was written and changes nothing of it; skipping it says so.
mkdir "$SCRATCH/r4"
run "$FERRY_BUNDLER" build --no-self-check "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/r4"
[ "$RC" -eq 0 ] && grep -qxF "warning: $SCRATCH/r4/greeter-2.0.0.ferry was not self-checked (--no-self-check): build it again without that option before it is carried to a site" "$SCRATCH/err" &&
    pass "build --no-self-check: warns that the bundle was not checked" || fail "build --no-self-check: exit $RC: $(cat "$SCRATCH/err")"
expect_ok "build --no-self-check writes the same bytes" cmp "$SCRATCH/r1/greeter-2.0.0.ferry" "$SCRATCH/r4/greeter-2.0.0.ferry"
expect_ok "build with another SOURCE_DATE_EPOCH" env SOURCE_DATE_EPOCH=$((SOURCE_DATE_EPOCH + 1)) \
    "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/r3"
if cmp -s "$SCRATCH/r1/greeter-2.0.0.ferry" "$SCRATCH/r3/greeter-2.0.0.ferry"; then
    fail "another SOURCE_DATE_EPOCH gave the same bytes: the comparisons above prove nothing"
else
    pass "another SOURCE_DATE_EPOCH gives another bundle"
fi

# --- Other tools accept what Ferry writes ----------------------------------------------------

tar -xOf "$B" manifest.yaml >"$SCRATCH/manifest.yaml"
tar -xOf "$B" "signatures/$ID1.minisig" >"$SCRATCH/manifest.yaml.minisig"
if command -v minisign >/dev/null; then
    expect_ok "minisign -V accepts the signature" \
        minisign -V -p "$KEYS/test-release-1.pub" -m "$SCRATCH/manifest.yaml" -x "$SCRATCH/manifest.yaml.minisig"
    expect_output "minisign shows the trusted comment" "file:manifest.yaml"
    sed 's/^sequence: 2$/sequence: 3/' "$SCRATCH/manifest.yaml" >"$SCRATCH/tampered.yaml"
    expect_fail "minisign -V refuses a changed manifest" 1 "Signature verification failed" \
        minisign -V -p "$KEYS/test-release-1.pub" -m "$SCRATCH/tampered.yaml" -x "$SCRATCH/manifest.yaml.minisig"
else
    fail "minisign is not installed (apt-get install minisign)"
fi

expect_ok "the JSON schemas accept the built manifest and trust.yaml" \
    "$PY" "$FERRY_SOURCE_DIR/tests/schema/test_schemas.py" "$FERRY_SOURCE_DIR" "$SCRATCH/manifest.yaml" --trust "$TRUST"
expect_ok "Ferry and PyYAML read the built manifest the same way" \
    "$PY" "$FERRY_SOURCE_DIR/tests/schema/test_schemas.py" "$FERRY_SOURCE_DIR" --differential "$FERRY_REEMIT" \
    "$SCRATCH/manifest.yaml"

# --- Trust store -----------------------------------------------------------------------------

expect_ok "trust show" "$FERRY_APPLIER" trust show --trust "$TRUST"
expect_output "trust show: version" "trust store: $TRUST, version 1"
expect_output "trust show: threshold" "threshold release: 1 of 2 release keys"
expect_output "trust show: first key" "  $ID1  test-release-1           [release, trust]"
expect_output "trust show: second key" "  $ID2  test-release-2"
expect_ok "trust show --json" "$FERRY_APPLIER" trust show --json --trust "$TRUST2"
expect_json "trust show --json: fields" \
    "j['thresholds'] == {'release': 2, 'trust': 1} and [(k['name'], k['id'], k['roles'], k['expired']) for k in j['keys']] == [('test-release-1', '$ID1', ['release', 'trust'], False), ('test-release-2', '$ID2', ['release', 'trust'], False)]"
