#!/usr/bin/env bash
# Signing keys unattended: minisign's own secret key files (unencrypted and encrypted) used by
# sign and build, several encrypted keys each with its own passphrase file, and the minimum
# length of a new key's passphrase. No command here has a terminal (setsid).
source "$(dirname "$0")/lib.sh"

command -v minisign >/dev/null || { fail "minisign is not installed (scripts/install-deps.sh installs it)"; exit 1; }
KEYS=$SCRATCH/keys
make_keys "$KEYS"
TREE=$(sample_tree)
EXPIRES=$(grep -m1 'expires:' "$KEYS/trust.yaml" | sed 's/^ *//')
readonly KEYS TREE EXPIRES
nt() { setsid -w "$@" </dev/null; } # no controlling terminal, no standard input

# add_key STORE NAME PUB: appends the key of the minisign public key file PUB as a release key.
add_key() {
    cat >>"$1" <<END
  - name: $2
    id: "$(key_id "$3")"
    public_key: "$(sed -n 2p "$3")"
    $EXPIRES
    roles: [release]
END
}
# passfile NAME TEXT: a passphrase file only its owner reads; prints its path.
passfile() {
    (umask 077 && printf '%s\n' "$2" >"$SCRATCH/$1.pass")
    echo "$SCRATCH/$1.pass"
}

mkdir "$SCRATCH/bundles"
expect_ok "build --unsigned" "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --unsigned --out-dir "$SCRATCH/bundles"
readonly U=$SCRATCH/bundles/greeter-2.0.0.ferry
expect_ok "manifest" "$FERRY_BUNDLER" manifest "$U" -o "$SCRATCH/manifest.yaml"

# --- minisign's secret keys -------------------------------------------------------------------------

minisign -G -W -p "$SCRATCH/plain.pub" -s "$SCRATCH/plain.key" >/dev/null 2>&1
# minisign reads the password from standard input when it is not a terminal (twice at -G).
printf 'station passphrase\nstation passphrase\n' | setsid -w minisign -G -p "$SCRATCH/enc.pub" -s "$SCRATCH/enc.key" >/dev/null 2>&1
cp "$KEYS/trust.yaml" "$SCRATCH/trust.yaml"
add_key "$SCRATCH/trust.yaml" station-plain "$SCRATCH/plain.pub"
add_key "$SCRATCH/trust.yaml" station-enc "$SCRATCH/enc.pub"

cp "$U" "$SCRATCH/plain.ferry"
expect_ok "sign with minisign's unencrypted secret key" nt "$FERRY_BUNDLER" sign -q "$SCRATCH/plain.ferry" --key "$SCRATCH/plain.key"
expect_output "by its key id" "with key $(key_id "$SCRATCH/plain.pub")"
expect_ok "the bundle signed by it verifies" "$FERRY_APPLIER" verify -q "$SCRATCH/plain.ferry" --trust "$SCRATCH/trust.yaml"
expect_output "signed by that key" "[station-plain]"
tar -xOf "$SCRATCH/plain.ferry" manifest.yaml >"$SCRATCH/plain-manifest.yaml"
tar -xOf "$SCRATCH/plain.ferry" "signatures/$(key_id "$SCRATCH/plain.pub").minisig" >"$SCRATCH/plain.minisig"
minisign -V -q -p "$SCRATCH/plain.pub" -m "$SCRATCH/plain-manifest.yaml" -x "$SCRATCH/plain.minisig" &&
    pass "minisign -V accepts the bundle's signature by its unencrypted key" || fail "minisign -V refused it"

ENC_PASS=$(passfile enc 'station passphrase')
expect_ok "sign --detached with minisign's encrypted key and its passphrase file" \
    nt "$FERRY_BUNDLER" sign "$SCRATCH/manifest.yaml" --detached --key "$SCRATCH/enc.key" --passphrase-file "$SCRATCH/enc.key=$ENC_PASS"
minisign -V -q -p "$SCRATCH/enc.pub" -m "$SCRATCH/manifest.yaml" -x "$SCRATCH/manifest.yaml.minisig" &&
    pass "minisign -V accepts the signature made with its own encrypted key" || fail "minisign -V refused it"
cp "$U" "$SCRATCH/enc.ferry"
expect_ok "attach it" "$FERRY_BUNDLER" attach -q "$SCRATCH/enc.ferry" "$SCRATCH/manifest.yaml.minisig" --trust "$SCRATCH/trust.yaml"
expect_ok "verify with the matching trust store" "$FERRY_APPLIER" verify -q "$SCRATCH/enc.ferry" --trust "$SCRATCH/trust.yaml"
expect_output "signed by the encrypted minisign key" "[station-enc]"

WRONG=$(passfile wrong 'not the station passphrase')
before=$(snapshot "$SCRATCH/bundles")
expect_fail "a wrong passphrase for minisign's key" 1 \
    "$SCRATCH/enc.key: wrong passphrase for this minisign secret key" \
    nt "$FERRY_BUNDLER" sign "$U" --key "$SCRATCH/enc.key" --passphrase-file "$SCRATCH/enc.key=$WRONG"
expect_unchanged "a wrong passphrase for minisign's key" "$SCRATCH/bundles" "$before"

# --- Several encrypted keys, each with its own passphrase file --------------------------------------

mkdir "$SCRATCH/team"
for who in alice bob; do
    env FERRY_PASSPHRASE="the passphrase of $who" "$FERRY_BUNDLER" key generate -q --name "$who" --out-dir "$SCRATCH/team" \
        --append-to "$SCRATCH/trust.yaml" >/dev/null
done
A=$(passfile alice 'the passphrase of alice')
B=$(passfile bob 'the passphrase of bob')
mkdir "$SCRATCH/two"
expect_ok "two encrypted keys, two passphrase files, one build, no terminal" \
    nt "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --out-dir "$SCRATCH/two" \
    --key "$SCRATCH/team/alice.key" --key "$SCRATCH/team/bob.key" \
    --passphrase-file "$SCRATCH/team/alice.key=$A" --passphrase-file "$SCRATCH/team/bob.key=$B"
expect_ok "it verifies" "$FERRY_APPLIER" verify -q "$SCRATCH/two/greeter-2.0.0.ferry" --trust "$SCRATCH/trust.yaml"
grep -qE '\[(alice, bob|bob, alice)\]' "$SCRATCH/out" && pass "signed by both" || fail "signers: $(cat "$SCRATCH/out")"

before=$(snapshot "$SCRATCH/bundles")
expect_fail "the wrong passphrase for one key names that key" 1 "$SCRATCH/team/bob.key: wrong passphrase" \
    nt "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --out-dir "$SCRATCH/bundles" --force \
    --key "$SCRATCH/team/alice.key" --key "$SCRATCH/team/bob.key" \
    --passphrase-file "$SCRATCH/team/alice.key=$A" --passphrase-file "$SCRATCH/team/bob.key=$A"
expect_unchanged "the wrong passphrase for one key" "$SCRATCH/bundles" "$before"

chmod 640 "$B"
expect_fail "a group-readable passphrase file is refused" 2 "passphrase file $B: readable or writable by others (mode 0640)" \
    nt "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --out-dir "$SCRATCH/bundles" --force \
    --key "$SCRATCH/team/bob.key" --passphrase-file "$SCRATCH/team/bob.key=$B"
grep -qF "chmod 600 $B" "$SCRATCH/err" && pass "the hint says chmod 600" || fail "hint: $(cat "$SCRATCH/err")"
expect_unchanged "a group-readable passphrase file" "$SCRATCH/bundles" "$before"
chmod 604 "$B"
expect_fail "a world-readable one too, at trust build" 2 "(mode 0604)" \
    nt "$FERRY_BUNDLER" trust build "$SCRATCH/trust.yaml" --out-dir "$SCRATCH/bundles" \
    --key "$SCRATCH/team/bob.key" --passphrase-file "$SCRATCH/team/bob.key=$B"
expect_unchanged "a world-readable passphrase file" "$SCRATCH/bundles" "$before"
chmod 600 "$B"
sed 's/^version: 1$/version: 2/' "$SCRATCH/trust.yaml" >"$SCRATCH/trust-v2.yaml"
env FERRY_PASSPHRASE="the passphrase of carol" "$FERRY_BUNDLER" key generate -q --name carol --role trust \
    --out-dir "$SCRATCH/team" --append-to "$SCRATCH/trust-v2.yaml" >/dev/null
C=$(passfile carol 'the passphrase of carol')
expect_ok "trust build with an encrypted trust key and its passphrase file" \
    nt "$FERRY_BUNDLER" trust build "$SCRATCH/trust-v2.yaml" --out-dir "$SCRATCH/team" \
    --key "$KEYS/test-release-1.key" --key "$SCRATCH/team/carol.key" --passphrase-file "$SCRATCH/team/carol.key=$C"
expect_output "signed by carol's key too" "$(key_id "$SCRATCH/team/carol.pub")"
expect_fail "a passphrase file for a key not given" 2 "$SCRATCH/team/alice.key is not given as --key" \
    nt "$FERRY_BUNDLER" sign "$U" --key "$SCRATCH/team/bob.key" --passphrase-file "$SCRATCH/team/alice.key=$A"
expect_fail "KEY=FILE expected" 2 "--passphrase-file $A: expected KEY=FILE" \
    nt "$FERRY_BUNDLER" sign "$U" --key "$SCRATCH/team/bob.key" --passphrase-file "$A"
expect_fail "a key without a passphrase source and no terminal" 2 "no terminal to ask for the passphrase" \
    nt "$FERRY_BUNDLER" sign "$U" --key "$SCRATCH/team/bob.key"
expect_unchanged "refused passphrase sources" "$SCRATCH/bundles" "$before"

# --- A new key's passphrase has a minimum length ----------------------------------------------------

mkdir "$SCRATCH/new"
expect_fail "FERRY_PASSPHRASE shorter than 12 characters" 2 \
    "the passphrase in FERRY_PASSPHRASE is too short (11 characters; a new key needs at least 12)" \
    env FERRY_PASSPHRASE="élevenchars" "$FERRY_BUNDLER" key generate --name short --out-dir "$SCRATCH/new"
[ -z "$(ls -A "$SCRATCH/new")" ] && pass "a short passphrase: no key written" || fail "written: $(ls "$SCRATCH/new")"
expect_ok "12 characters are enough" env FERRY_PASSPHRASE="twelve chars" "$FERRY_BUNDLER" key generate -q --name long --out-dir "$SCRATCH/new"
