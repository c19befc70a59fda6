#!/usr/bin/env bash
# verify refuses forged, damaged and hostile bundles (docs/format.md): exit 3 when a bundle is
# not authentic or not intact, 4 when it is expired, 1 for a bad trust store; the message names
# the fault, and nothing is written. Hostile payloads come from gen_hostile.py, bundles that
# break the format from ferry-forge.
source "$(dirname "$0")/lib.sh"
: "${FERRY_FORGE:?}" "${FERRY_REEMIT:?}"
readonly PY=/usr/bin/python3

# member_offset BUNDLE NAME: the file offset of member NAME's data.
member_offset() {
    "$PY" -c 'import sys, tarfile
print(tarfile.open(sys.argv[1]).getmember(sys.argv[2]).offset_data)' "$1" "$2"
}

# flip FILE OFFSET [MASK]: XORs the byte at OFFSET with MASK (default 0x01).
flip() {
    "$PY" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); b = f.read(1)[0]; f.seek(int(sys.argv[2])); f.write(bytes([b ^ int(sys.argv[3], 0)]))' \
        "$1" "$2" "${3:-0x01}"
}

# flip_base64 FILE OFFSET: replaces the base64 character at OFFSET by another valid one.
flip_base64() {
    "$PY" -c 'import sys
with open(sys.argv[1], "r+b") as f:
    f.seek(int(sys.argv[2])); c = f.read(1); f.seek(int(sys.argv[2])); f.write(b"B" if c == b"A" else b"A")' "$1" "$2"
}

# signature_list ITEM...: the items ("KEYID...: status") joined as verify lists them, by key id.
signature_list() {
    printf '%s\n' "$@" | LC_ALL=C sort | paste -sd ';' | sed 's/;/; /g'
}

# find_in FILE START TEXT: the offset of the first TEXT at or after START.
find_in() {
    "$PY" -c 'import sys
print(open(sys.argv[1], "rb").read().index(sys.argv[3].encode(), int(sys.argv[2])))' "$1" "$2" "$3"
}

# case_bundle NAME: a fresh folder for one case; prints the path its bundle goes to.
case_bundle() {
    mkdir -p "$SCRATCH/cases/$1"
    echo "$SCRATCH/cases/$1/bundle.ferry"
}

# copy_case NAME: a case whose bundle starts as a copy of the real sample bundle.
copy_case() {
    local b
    b=$(case_bundle "$1")
    cp "$REAL" "$b"
    echo "$b"
}

# forge_case NAME FORGE-ARGS...: a case whose bundle ferry-forge writes.
forge_case() {
    local name=$1 b
    shift
    b=$(case_bundle "$name")
    if ! "$FERRY_FORGE" -o "$b" "$@" >"$SCRATCH/forge.out" 2>&1; then
        echo "ferry-forge failed for $name: $(cat "$SCRATCH/forge.out")" >&2
        return 1
    fi
    # Its signed manifest, for the differential test at the end.
    mkdir -p "$SCRATCH/manifests"
    tar -xOf "$b" manifest.yaml >"$SCRATCH/manifests/$name.yaml" 2>/dev/null || rm -f "$SCRATCH/manifests/$name.yaml"
    echo "$b"
}

# refused NAME CODE MESSAGE BUNDLE [TRUST [TOOL]]: verify, run in the bundle's folder, exits
# with CODE and MESSAGE, prints no verdict on stdout, and leaves the folder as it was.
refused() {
    local name=$1 code=$2 message=$3 bundle=$4 trust=${5:-$TRUST} tool=${6:-$FERRY_APPLIER}
    local dir before
    dir=$(dirname "$bundle")
    before=$(snapshot "$dir")
    expect_fail "$name" "$code" "$message" env -C "$dir" "$tool" verify -q "$(basename "$bundle")" --trust "$trust"
    if grep -q "verified" "$SCRATCH/out"; then
        fail "$name: stdout claims a verdict: $(cat "$SCRATCH/out")"
    fi
    expect_unchanged "$name" "$dir" "$before"
}

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly K1=$KEYS/test-release-1.key TRUST=$KEYS/trust.yaml
ID1=$(key_id "$KEYS/test-release-1.pub")
ID2=$(key_id "$KEYS/test-release-2.pub")
readonly ID1 ID2

# The honest sample bundle, and the material for hostile ones.
TREE=$(sample_tree)
mkdir "$SCRATCH/real"
"$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --key "$K1" --out-dir "$SCRATCH/real" >/dev/null
readonly REAL=$SCRATCH/real/greeter-2.0.0.ferry
tar -xOf "$REAL" manifest.yaml >"$SCRATCH/manifest.yaml"
readonly H=$SCRATCH/hostile
"$PY" "$FERRY_SOURCE_DIR/tests/cli/gen_hostile.py" "$SCRATCH/manifest.yaml" "$TREE" "$H" >/dev/null
expect_ok "the untouched sample bundle verifies" "$FERRY_APPLIER" verify -q "$REAL" --trust "$TRUST"

# The forge itself must be honest: with nothing broken its bundle verifies, also in 64 KiB
# chunks, so every refusal below is due to the one thing each case breaks.
b=$(forge_case forged-good --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1")
expect_ok "an unbroken forged bundle verifies" "$FERRY_APPLIER" verify -q "$b" --trust "$TRUST"
b=$(forge_case forged-good-64k --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" --chunk-size 65536)
expect_ok "an unbroken forged bundle in 64 KiB chunks verifies" "$FERRY_APPLIER" verify -q "$b" --trust "$TRUST"

# --- Signatures and trust --------------------------------------------------------------------

"$FERRY_BUNDLER" key generate --name outsider --out-dir "$KEYS" --unencrypted >/dev/null 2>&1
ID_OUT=$(key_id "$KEYS/outsider.pub")
b=$(case_bundle unknown-key)
"$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --key "$KEYS/outsider.key" --out-dir "$(dirname "$b")" >/dev/null
mv "$(dirname "$b")/greeter-2.0.0.ferry" "$b"
refused "unknown key" 3 "manifest signed by 0 trusted release key(s), 1 required [$ID_OUT: unknown key]" "$b"
refused "unknown key (ferry-bundler verify)" 3 "[$ID_OUT: unknown key]" "$b" "$TRUST" "$FERRY_BUNDLER"

sed 's/^  release: 1$/  release: 2/' "$TRUST" >"$KEYS/trust-2.yaml"
readonly TRUST2=$KEYS/trust-2.yaml
b=$(copy_case below-threshold)
refused "signatures below the threshold" 3 \
    "manifest signed by 1 trusted release key(s), 2 required [$ID1 (test-release-1): valid]" "$b" "$TRUST2"

# One key's signature filed a second time under another key's id, as it is, and with the id
# inside rewritten too (the key id is covered by neither Ed25519 signature).
b=$(forge_case signature-under-other-id --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" \
    --signature-as "$ID2")
refused "signature filed under another key's id" 3 \
    "signatures/$ID2.minisig: the signature inside is by key $ID1" "$b" "$TRUST2"
b=$(forge_case signature-relabelled --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" \
    --signature-as "$ID2" --rewrite-id)
refused "signature relabelled as another trusted key" 3 \
    "manifest signed by 1 trusted release key(s), 2 required [$(signature_list "$ID1 (test-release-1): valid" "$ID2 (test-release-2): BAD SIGNATURE")]" \
    "$b" "$TRUST2"
b=$(forge_case signature-relabelled-unknown --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" \
    --signature-as 0123456789ABCDEF --rewrite-id)
refused "signature relabelled as an unknown key" 3 \
    "manifest signed by 1 trusted release key(s), 2 required [$(signature_list "0123456789ABCDEF: unknown key" "$ID1 (test-release-1): valid")]" \
    "$b" "$TRUST2"

# A trust store listing one public key twice is refused when it is loaded.
PK1=$(sed -n 2p "$KEYS/test-release-1.pub")
EXPIRES=$(date -u -d '+1 year' +%Y-%m-%dT%H:%M:%SZ)
# trust_entry NAME ID PUBLIC_KEY [EXPIRES]: one key of a trust.yaml.
trust_entry() {
    printf '  - name: %s\n    id: "%s"\n    public_key: "%s"\n    expires: %s\n    roles: [release, trust]\n' \
        "$1" "$2" "$3" "${4:-$EXPIRES}"
}
{
    echo "version: 1"
    echo "thresholds: {release: 2, trust: 1}"
    echo "keys:"
    trust_entry release-1 "$ID1" "$PK1"
    trust_entry release-1-again 0123456789ABCDEF "$PK1"
} >"$KEYS/trust-same-key.yaml"
expect_fail "trust store listing one public key under two ids" 1 \
    "the same public key is listed twice" "$FERRY_APPLIER" verify -q "$REAL" --trust "$KEYS/trust-same-key.yaml"

# The same Ed25519 key again, its public key line carrying the other id so that id and key agree.
ALIAS_PK=$("$PY" -c 'import base64, sys
raw = base64.b64decode(sys.argv[1])
print(base64.b64encode(raw[:2] + bytes.fromhex("0123456789ABCDEF")[::-1] + raw[10:]).decode())' "$PK1")
{
    echo "version: 1"
    echo "thresholds: {release: 2, trust: 1}"
    echo "keys:"
    trust_entry release-1 "$ID1" "$PK1"
    trust_entry release-1-alias 0123456789ABCDEF "$ALIAS_PK"
} >"$KEYS/trust-alias.yaml"
# The same Ed25519 key listed under two ids would make "threshold: 2" unreachable: refused.
expect_fail "trust store listing one Ed25519 key under two ids" 1 \
    "the same public key is listed twice" "$FERRY_APPLIER" trust show --trust "$KEYS/trust-alias.yaml"
# Whether or not that store loads, the relabelled signature must not count twice.
# Signatures are checked in key id order: the first of the two counts, the second is refused.
if [ "$(signature_list "$ID1" 0123456789ABCDEF)" == "$ID1; 0123456789ABCDEF" ]; then
    COUNTED_TWICE="$ID1 (release-1): valid; 0123456789ABCDEF (release-1-alias): same key as another signature"
else
    COUNTED_TWICE="0123456789ABCDEF (release-1-alias): valid; $ID1 (release-1): same key as another signature"
fi
if "$FERRY_APPLIER" trust show --trust "$KEYS/trust-alias.yaml" >/dev/null 2>&1; then
    refused "one key's signature counted twice" 3 \
        "manifest signed by 1 trusted release key(s), 2 required [$COUNTED_TWICE]" \
        "$SCRATCH/cases/signature-relabelled-unknown/bundle.ferry" "$KEYS/trust-alias.yaml"
else
    refused "one key's signature counted twice" 1 "the same public key is listed twice" \
        "$SCRATCH/cases/signature-relabelled-unknown/bundle.ferry" "$KEYS/trust-alias.yaml"
fi

{
    echo "version: 1"
    echo "thresholds: {release: 1, trust: 1}"
    echo "keys:"
    trust_entry test-release-1 "$ID1" "$PK1" 2020-01-01T00:00:00Z
    trust_entry test-release-2 "$ID2" "$(sed -n 2p "$KEYS/test-release-2.pub")"
} >"$KEYS/trust-expired.yaml"
b=$(copy_case expired-key)
refused "signing key expired in the trust store" 3 \
    "manifest signed by 0 trusted release key(s), 1 required [$ID1 (test-release-1): key expired]" \
    "$b" "$KEYS/trust-expired.yaml"

# Built in 2001 to last one day: the bundler warns but builds; verify refuses it by policy.
sed 's/^expires_in_days: .*/expires_in_days: 1/' "$TREE/greeter-2.0.0.yaml" >"$TREE/expired.yaml"
b=$(case_bundle expired-bundle)
run env SOURCE_DATE_EPOCH=1000000000 "$FERRY_BUNDLER" build -q "$TREE/expired.yaml" --key "$K1" --out-dir "$(dirname "$b")"
if [ "$RC" -eq 0 ] && grep -qF "is already expired; appliers will refuse it" "$SCRATCH/err"; then
    pass "an expired bundle is built with a warning"
else
    fail "building an expired bundle: exit $RC, stderr: $(cat "$SCRATCH/err")"
fi
mv "$(dirname "$b")/greeter-2.0.0.ferry" "$b"
refused "expired bundle" 4 "bundle greeter 2.0.0 expired at 2001-09-10T01:46:40Z" "$b"
refused "expired bundle (ferry-bundler verify)" 4 "expired at 2001-09-10T01:46:40Z" "$b" "$TRUST" "$FERRY_BUNDLER"

# --- Damage to the envelope ------------------------------------------------------------------

SIZE=$(stat -c %s "$REAL")
PAYLOAD_AT=$(member_offset "$REAL" payload.tar.zst)
PAYLOAD_SIZE=$(tar -xOf "$REAL" payload.tar.zst | wc -c)
SIG_AT=$(member_offset "$REAL" "signatures/$ID1.minisig")
readonly SIZE PAYLOAD_AT PAYLOAD_SIZE SIG_AT

b=$(copy_case truncated-in-payload)
head -c $((PAYLOAD_AT + 1000)) "$REAL" >"$b"
refused "truncated in the payload" 3 \
    "truncated bundle: end of file at offset $((PAYLOAD_AT + 1000)) inside payload.tar.zst" "$b"
# The bundle's name is given once, not once per layer the error travelled through.
if grep -qF "bundle.ferry: bundle.ferry:" "$SCRATCH/err"; then
    fail "truncated bundle: the message names the bundle twice: $(head -1 "$SCRATCH/err")"
else
    pass "truncated bundle: the message names the bundle once"
fi
b=$(copy_case truncated-end-marker)
head -c $((SIZE - 1)) "$REAL" >"$b"
refused "truncated in the end marker" 3 \
    "truncated bundle: end of file at offset $((SIZE - 1)) inside the end-of-archive marker" "$b"
b=$(copy_case truncated-in-manifest)
head -c 1000 "$REAL" >"$b"
refused "truncated in the manifest" 3 "truncated bundle: end of file at offset 1000 inside manifest.yaml" "$b"

b=$(copy_case flipped-header)
flip "$b" 10
refused "flipped byte in the manifest's header" 3 "envelope header at offset 0: bad header checksum" "$b"
b=$(copy_case flipped-payload-header)
flip "$b" $((PAYLOAD_AT - 512 + 3))
refused "flipped byte in the payload's header" 3 \
    "envelope header at offset $((PAYLOAD_AT - 512)): bad header checksum" "$b"

# The manifest: "sequence: 2" becomes "sequence: 3".
b=$(copy_case flipped-manifest)
flip "$b" $(($(find_in "$REAL" 512 "sequence: 2") + 10))
expect_ok "the tampered manifest reads sequence 3" grep -q "^sequence: 3$" <(tar -xOf "$b" manifest.yaml)
refused "flipped byte in the manifest" 3 \
    "manifest signed by 0 trusted release key(s), 1 required [$ID1 (test-release-1): BAD SIGNATURE]" "$b"
grep -qF "hint: the manifest was changed after it was signed" "$SCRATCH/err" &&
    pass "flipped manifest: the hint says it was changed" ||
    fail "flipped manifest: no tampering hint: $(cat "$SCRATCH/err")"

# The signature: one base64 character of the Ed25519 signature, then of the trusted comment.
b=$(copy_case flipped-signature)
LINE2=$(($(find_in "$REAL" "$SIG_AT" $'\n') + 1))
flip_base64 "$b" $((LINE2 + 40))
refused "flipped byte in the signature" 3 "[$ID1 (test-release-1): BAD SIGNATURE]" "$b"
b=$(copy_case flipped-trusted-comment)
flip "$b" $(($(find_in "$REAL" "$SIG_AT" "timestamp:") + 10))
refused "flipped byte in the trusted comment" 3 "[$ID1 (test-release-1): BAD SIGNATURE]" "$b"

b=$(copy_case flipped-payload)
flip "$b" $((PAYLOAD_AT + PAYLOAD_SIZE / 2)) 0xff
refused "flipped byte in the payload" 3 \
    "payload.tar.zst chunk 0 (bytes 0 to $((PAYLOAD_SIZE - 1))): sha256 mismatch" "$b"
refused "flipped byte in the payload (ferry-bundler verify)" 3 "chunk 0 (bytes 0 to" "$b" "$TRUST" "$FERRY_BUNDLER"
b=$(copy_case flipped-payload-chunk-2)
cp "$SCRATCH/cases/forged-good-64k/bundle.ferry" "$b"
flip "$b" $(($(member_offset "$b" payload.tar.zst) + 2 * 65536 + 7)) 0xff
refused "flipped byte in the payload's third chunk" 3 \
    "payload.tar.zst chunk 2 (bytes 131072 to" "$b"

b=$(forge_case trailing-bytes --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" --trailing-bytes 1)
refused "data after the end marker" 3 "data after the end of the archive at offset $(($(stat -c %s "$b") - 1))" "$b"

# The manifest cap: a manifest of 17 MiB (a long YAML comment), signed as it is.
{
    cat "$H/good.yaml"
    printf '# '
    head -c $((17 << 20)) /dev/zero | tr '\0' 'x'
    echo
} >"$SCRATCH/huge.yaml"
b=$(forge_case huge-manifest --manifest "$SCRATCH/huge.yaml" --manifest-raw --tar "$H/good.tar" --key "$K1")
refused "manifest over 16 MiB" 3 \
    "member manifest.yaml is too large ($(stat -c %s "$SCRATCH/huge.yaml") bytes, limit 16777216)" "$b"
rm -f "$SCRATCH/huge.yaml" "$b" # 34 MiB not worth keeping in a scratch folder

b=$(forge_case zero-signatures --manifest "$H/good.yaml" --tar "$H/good.tar" --no-signature)
refused "zero signatures" 3 "bundle carries no signature" "$b"
b=$(forge_case empty-signature --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" --empty-signature)
refused "empty signature" 3 "signatures/$ID1.minisig: the last line does not end with a newline" "$b"
b=$(forge_case duplicate-signature --manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" \
    --duplicate-signature)
refused "signature member twice" 3 "duplicate member \"signatures/$ID1.minisig\"" "$b"

# --- The manifest's payload section ----------------------------------------------------------

CHUNKED=(--manifest "$H/good.yaml" --tar "$H/good.tar" --key "$K1" --chunk-size 65536)
PSIZE64=$(tar -xOf "$SCRATCH/cases/forged-good-64k/bundle.ferry" payload.tar.zst | wc -c)
NCHUNKS64=$(((PSIZE64 + 65535) / 65536))
b=$(forge_case chunks-shorter "${CHUNKED[@]}" --chunks-delta -1)
refused "chunk list one short" 3 "payload.chunks: lists $((NCHUNKS64 - 1)) chunks, a payload of $PSIZE64 bytes has $NCHUNKS64" "$b"
b=$(forge_case chunks-longer "${CHUNKED[@]}" --chunks-delta 1)
refused "chunk list one long" 3 "payload.chunks: lists $((NCHUNKS64 + 1)) chunks, a payload of $PSIZE64 bytes has $NCHUNKS64" "$b"
b=$(forge_case payload-size "${CHUNKED[@]}" --size-delta 1)
refused "payload size off by one" 3 "payload.tar.zst is $PSIZE64 bytes, the manifest says $((PSIZE64 + 1))" "$b"
b=$(forge_case not-zstd --manifest "$H/good.yaml" --raw-payload "$H/not-zstd.bin" --key "$K1")
refused "payload that is not zstd (chunk hashes right)" 3 "payload.tar.zst: zstd: Unknown frame descriptor" "$b"

# --- Hostile payloads (gen_hostile.py) -------------------------------------------------------

# hostile CASE CODE MESSAGE: the case's tar and manifest template, forged and verified.
hostile() {
    local b
    b=$(forge_case "$1" --manifest "$H/$1.yaml" --tar "$H/$1.tar" --key "$K1")
    refused "hostile payload: $1" "$2" "$3" "$b"
}
README=greeter/doc/README.md
CONFIG=greeter/config/greeter.env
hostile extra-entry 3 "payload entry \"greeter/doc/ZZZ-EXTRA.md\" is not in the manifest"
hostile extra-entry-middle 3 \
    "payload entry \"greeter/binary/greeter-extra\" is not the one the manifest lists next ($CONFIG)"
hostile missing-entry 3 \
    "payload is missing greeter/script/greeterctl (listed in the manifest)"
hostile duplicate-decoy-first 3 "payload $CONFIG: sha256 mismatch (expected $(sha256sum <"$TREE/config-2.0.0/greeter.env" | cut -c1-64)"
hostile duplicate-decoy-last 3 \
    "payload entry \"$CONFIG\" is not the one the manifest lists next (greeter/doc/OPERATIONS.md)"
hostile dotdot-in-tar 3 \
    "payload entry \"greeter/doc/../../../../etc/cron.d/ferry-evil\" is not the one the manifest lists next ($README)"
hostile absolute-in-tar 3 "payload entry \"/etc/greeter/greeter.env\" is not the one the manifest lists next ($CONFIG)"
hostile pax-path-override 3 \
    "payload entry \"../../etc/cron.d/ferry-evil\" is not the one the manifest lists next ($README)"
hostile dotdot-in-manifest 3 \
    'path: "greeter/doc/../../../etc/cron.d/ferry-evil" must not contain empty, "." or ".." components'
hostile absolute-in-manifest 3 'files[0].path: "/usr/bin/greeter" must be a relative path'
hostile symlink 3 "\"$README\" is a symlink (type '2') to \"/etc/shadow\": only regular files (type '0') and pax extended headers (type 'x') are allowed"
hostile hardlink 3 "\"greeter/doc/UPGRADING.md\" is a hardlink (type '1') to \"$README\": only regular files (type '0') and pax extended headers (type 'x') are allowed"
hostile device 3 "\"$README\" is a character device (type '3'): only regular files (type '0') and pax extended headers (type 'x') are allowed"
hostile fifo 3 "\"$README\" is a FIFO (type '6'): only regular files (type '0') and pax extended headers (type 'x') are allowed"
hostile directory 3 "\"$README/\" is a directory (type '5'): only regular files (type '0') and pax extended headers (type 'x') are allowed"
hostile larger-than-declared 3 \
    "payload $README: size $(($(stat -c %s "$TREE/docs-2.0.0/README.md") + 100)) differs from the manifest's $(stat -c %s "$TREE/docs-2.0.0/README.md")"
hostile wrong-sha256 3 "payload $README: sha256 mismatch (expected $(sha256sum <"$TREE/docs-2.0.0/README.md" | cut -c1-64)"
hostile setuid-in-tar 3 "payload greeter/binary/greeter: mode differs from the manifest"
hostile setuid-in-manifest 3 'files[0].mode: "04755" is not a mode from 0000 to 0777'
hostile zstd-bomb 3 "payload.tar.zst decompresses to more than the manifest's files can fill"
# Non-zero data after the tar's end-of-archive blocks, even inside the same decompressed block.
hostile data-after-tar 3 "payload.tar.zst: data after the end of the tar archive"

# --- The site's limits (trust.yaml `limits`) ----------------------------------------------------

# limited NAME LIMITS MESSAGE: with the trust store plus LIMITS (a YAML flow mapping), the real
# bundle is refused with exit 3 and MESSAGE, and nothing is written.
limited() {
    local -r trust=$KEYS/trust-limits-$1.yaml
    { cat "$TRUST"; echo "limits: $2"; } >"$trust"
    local -r before=$(snapshot "$SCRATCH/real")
    expect_fail "limit $1" 3 "$3" "$FERRY_APPLIER" verify "$REAL" --trust "$trust"
    expect_unchanged "limit $1" "$SCRATCH/real" "$before"
}
limited files "{files: 3}" "over the site's limit of 3"
limited file-bytes "{file_bytes: 1000}" "bytes, over the site's limit of 1000"
limited total-bytes "{total_bytes: 5000}" "bytes of files, over the site's limit of 5000"
limited manifest-bytes "{manifest_bytes: 1000}" "member manifest.yaml is too large"
limited window "{window_log: 10}" "payload.tar.zst: a zstd frame needs a window larger than the site's limit of 2^10 bytes (1 KiB), limits.window_log in the trust store"
limited path-bytes "{path_bytes: 20}" "bytes, over the site's limit of 20"
# Memory: verify stays within 300 MiB of address space for any manifest the default limits allow
# (docs/format.md, "Memory"). 4 million list items in 8 MiB took 2.2 GiB before the value limit.
# manifest_with_list OUT COUNT ITEM: the good manifest template with COUNT copies of ITEM as its
# breaking changes.
manifest_with_list() {
    "$PY" - "$H/good.yaml" "$1" "$2" "$3" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
items = ",".join([sys.argv[4]] * int(sys.argv[3]))
text, n = re.subn(r"(?m)^breaking_changes:\n(  .*\n)*", "breaking_changes: [" + items + "]\n", text)
assert n == 1
open(sys.argv[2], "w").write(text)
PYEOF
}
manifest_with_list "$SCRATCH/many-values.yaml" 4000000 a
manifest_with_list "$SCRATCH/near-limit.yaml" 199000 "$(printf 'b%.0s' {1..74})"
# AddressSanitizer reserves terabytes of address space for its shadow memory, so the cap is
# measured in the plain build only; the sanitizer build checks the same verdicts uncapped.
cap='ulimit -v 307200 && '
within=" within 300 MiB"
if [ "${FERRY_SANITIZE:-OFF}" = "ON" ]; then
    cap=''
    within=""
    echo "skip - the 300 MiB address-space cap (not measurable under AddressSanitizer; the plain build checks it)"
fi
for m in many-values near-limit; do
    b=$(forge_case "$m" --manifest "$SCRATCH/$m.yaml" --tar "$H/good.tar" --key "$K1")
    run bash -c "$cap"'exec "$@"' memory "$FERRY_APPLIER" verify -q "$b" --trust "$TRUST"
    if [ "$m" == many-values ] && [ "$RC" -eq 3 ] &&
        grep -qF "the manifest's YAML holds more than 200000 values, the limit that bounds a reader's memory" "$SCRATCH/err"; then
        pass "4 million list items in 8 MiB: refused$within, naming the limit"
    elif [ "$m" == near-limit ] && [ "$RC" -eq 0 ]; then
        pass "199,000 values of 74 bytes (15 MB): verified$within"
    else
        fail "$m: exit $RC$within: $(head -c 300 "$SCRATCH/err")"
    fi
done

{ cat "$TRUST"; echo "limits: {files: 100, window_log: 40}"; } >"$KEYS/trust-limits-bad.yaml"
expect_fail "a limit beyond the format's cap is refused" 1 "limits.window_log: must be between 10 and 31" \
    "$FERRY_APPLIER" verify "$REAL" --trust "$KEYS/trust-limits-bad.yaml"

# Ferry, and PyYAML with the JSON Schema, read every forged manifest the same way or both refuse it.
expect_ok "the differential test of the manifest's readers over every forged manifest" \
    "$PY" "$FERRY_SOURCE_DIR/tests/schema/test_schemas.py" "$FERRY_SOURCE_DIR" --differential "$FERRY_REEMIT" \
    "$SCRATCH"/manifests/*.yaml "$SCRATCH/manifest.yaml"
