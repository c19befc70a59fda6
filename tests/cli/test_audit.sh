#!/usr/bin/env bash
# docs/audit.md: its ```sh blocks, run in order as one script with only an auditor's tools (tar,
# zstd, coreutils, minisign, openssl), accept a fresh bundle and stop with a non-zero exit at the
# right check on tampered ones. Ferry only builds and signs the bundles; /usr/bin/python3 only
# tampers with them.
source "$(dirname "$0")/lib.sh"

readonly doc=$FERRY_SOURCE_DIR/docs/audit.md
readonly python=/usr/bin/python3
readonly bundles=$SCRATCH/bundles
mkdir "$bundles"

for tool in tar zstd sha256sum split base64 od minisign openssl "$python"; do
    command -v "$tool" >/dev/null || { fail "setup: $tool is not installed"; exit 1; }
done

# extract_blocks OUT [SKIP_PATTERN]: the ```sh blocks of the page, in order, without those
# holding SKIP_PATTERN (an awk regex), into OUT.
extract_blocks() {
    awk -v skip="${2:-}" '
        /^```sh$/ { inside = 1; block = ""; next }
        inside && /^```$/ { inside = 0; if (skip == "" || block !~ skip) { printf "%s", block } next }
        inside { block = block $0 "\n" }
        END { if (inside) { print "unclosed ```sh block" > "/dev/stderr"; exit 1 } }' "$doc" >"$1"
}

readonly audit=$SCRATCH/audit.sh
readonly audit_openssl=$SCRATCH/audit-openssl.sh   # the auditor who has no minisign
readonly audit_minisign=$SCRATCH/audit-minisign.sh # the auditor who has no openssl
extract_blocks "$audit"
extract_blocks "$audit_openssl" 'minisign -V'
extract_blocks "$audit_minisign" 'openssl pkeyutl'

blocks=$(grep -c '^```sh$' "$doc")
if [ "$blocks" -ge 10 ] && [ "$(grep -c '^```$' "$doc")" -eq "$(grep -c '^```[a-z]' "$doc")" ]; then
    pass "page: $blocks sh blocks, every fence closed"
else
    fail "page: $blocks sh blocks, or unbalanced fences"
fi
missing=""
for needed in 'tar --numeric-owner --quoting-style=literal -tvf "$BUNDLE"' 'minisign -Vm' \
    'openssl pkeyutl -verify -pubin' 'sha256sum -c --strict --quiet' 'split -b' 'zstd -dc' \
    'AUDIT PASSED'; do
    grep -qF -- "$needed" "$audit" || missing+=" [$needed]"
done
if [ -z "$missing" ]; then
    pass "page: the procedure has every check"
else
    fail "page: the sh blocks lack:$missing"
fi
if grep -v '^ *#' "$audit" | grep -qE 'ferry-(bundler|applier)|FERRY_'; then
    fail "page: the procedure calls Ferry: $(grep -nE 'ferry-(bundler|applier)|FERRY_' "$audit")"
else
    pass "page: the procedure does not use Ferry"
fi
if grep -q 'minisign' "$audit_minisign" && ! grep -q 'minisign -V' "$audit_openssl" &&
    grep -q 'openssl pkeyutl' "$audit_openssl" && ! grep -q 'openssl' "$audit_minisign"; then
    pass "page: the minisign and openssl ways are separate blocks"
else
    fail "page: cannot split the procedure into a minisign-only and an openssl-only one"
fi

# audit SCRIPT BUNDLE PUBKEY TRUST [VAR=VALUE...]: runs SCRIPT in a fresh WORK with no Ferry
# variables; $RC, $SCRATCH/out and $SCRATCH/err as with run.
audit() {
    local -r script_=$1 bundle_=$2 pubkey_=$3 trust_=$4
    shift 4
    local work_
    work_=$(mktemp -d "$SCRATCH/work.XXXXXX")
    run env -u FERRY_BUNDLER -u FERRY_APPLIER -u FERRY_BUILD_DIR -u FERRY_SOURCE_DIR -u SOURCE_DATE_EPOCH \
        BUNDLE="$bundle_" PUBKEY="$pubkey_" TRUST="$trust_" WORK="$work_" "$@" bash -euo pipefail "$script_"
}

# audit_passes NAME SCRIPT BUNDLE PUBKEY TRUST [VAR=VALUE...]: the procedure ends with AUDIT PASSED.
audit_passes() {
    local -r name=$1
    shift
    audit "$@"
    if [ "$RC" -eq 0 ] && grep -q '^AUDIT PASSED' "$SCRATCH/out"; then
        pass "$name"
    else
        fail "$name: exit $RC; stderr: $(tail -n 5 "$SCRATCH/err")"
    fi
}

# audit_fails NAME CHECK SCRIPT BUNDLE PUBKEY TRUST [VAR=VALUE...]: the procedure stops with a
# non-zero exit, and its first failure is "AUDIT FAILED: CHECK..." (CHECK an extended regex).
audit_fails() {
    local -r name=$1 check=$2
    shift 2
    audit "$@"
    local -r first=$(grep -m 1 '^AUDIT FAILED: ' "$SCRATCH/err" || true)
    if [ "$RC" -eq 0 ]; then
        fail "$name: the audit passed"
    elif grep -q '^AUDIT PASSED' "$SCRATCH/out"; then
        fail "$name: exit $RC, but AUDIT PASSED was printed"
    elif ! grep -qE -- "^AUDIT FAILED: ($check)" <<<"$first"; then
        fail "$name: exit $RC, but not at \"$check\": ${first:-$(tail -n 5 "$SCRATCH/err")}"
    else
        pass "$name: $first"
    fi
}

# unpack BUNDLE DIR: the envelope's members in DIR.
unpack() {
    mkdir "$2"
    tar -xf "$1" -C "$2"
}

# pack DIR OUT MEMBER...: an envelope of MEMBERs of DIR, in that order, made by GNU tar with the
# header fields Ferry writes (ustar, 0/0, mode 0644, the good bundle's time in every header)
# and no padding after the end blocks.
pack() {
    local -r dir=$1 out=$2
    shift 2
    tar --format=ustar --numeric-owner --owner=0 --group=0 --mode=0644 --record-size=512 \
        --mtime="@$((8#$(head -c 147 "$good" | tail -c 11)))" -cf "$out" -C "$dir" "$@"
}

# members DIR: the envelope member names in DIR in envelope order.
members() {
    (cd "$1" && echo manifest.yaml && ls signatures/* && echo payload.tar.zst)
}

# flip SRC DST OFFSET: a copy of SRC with the lowest bit of the byte at OFFSET inverted.
flip() {
    "$python" - "$@" <<'EOF'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
data[int(sys.argv[3])] ^= 0x01
open(sys.argv[2], "wb").write(data)
EOF
}

# offset_of FILE HEX: the offset of the first occurrence of the bytes HEX in FILE.
offset_of() {
    "$python" -c '
import sys
i = open(sys.argv[1], "rb").read().find(bytes.fromhex(sys.argv[2]))
assert i >= 0, "not found"
print(i)' "$1" "$2"
}

# --- the bundles -------------------------------------------------------------------------------

keys=$SCRATCH/keys
make_keys "$keys"
readonly pub1=$keys/test-release-1.pub pub2=$keys/test-release-2.pub trust=$keys/trust.yaml
tree=$(sample_tree)
# Created now rather than at lib.sh's fixed time: the audit checks expiry against the clock.
now=$(date +%s)
build() { SOURCE_DATE_EPOCH=$now "$FERRY_BUNDLER" build -q "$@" >/dev/null; }
build "$tree/greeter-2.0.0.yaml" --key "$keys/test-release-1.key" --out-dir "$bundles"
readonly good=$bundles/greeter-2.0.0.ferry
"$FERRY_BUNDLER" sign -q "$good" --key "$keys/test-release-2.key" -o "$bundles/cosigned.ferry" >/dev/null

audit_passes "fresh bundle" "$audit" "$good" "$pub1" "$trust"
audit_passes "fresh bundle, openssl only" "$audit_openssl" "$good" "$pub1" "$trust"
audit_passes "fresh bundle, minisign only" "$audit_minisign" "$good" "$pub1" "$trust"
audit_passes "fresh bundle, the site's expectations" "$audit" "$good" "$pub1" "$trust" \
    SITE_PRODUCT=greeter SITE_CHANNEL=stable SITE_SEQUENCE=2
audit_passes "co-signed bundle, first signer" "$audit" "$bundles/cosigned.ferry" "$pub1" "$trust"
audit_passes "co-signed bundle, second signer" "$audit" "$bundles/cosigned.ferry" "$pub2" "$trust"
cd "$SCRATCH" || exit 1
audit_passes "relative paths" "$audit" bundles/greeter-2.0.0.ferry keys/test-release-1.pub keys/trust.yaml
cd - >/dev/null || exit 1

# Odd but allowed names: a space, a quote, a backslash, a non-ASCII letter, and a name too long for a
# plain ustar header (a pax header in the payload).
odd=$SCRATCH/odd
mkdir -p "$odd/docs/sub"
printf 'one\n' >"$odd/docs/a b.txt"
printf 'two\n' >"$odd/docs/q\"uote.txt"
printf 'three\n' >"$odd/docs/back\\slash.txt"
printf 'four\n' >"$odd/docs/"$'caf\xc3\xa9.txt'
printf 'five\n' >"$odd/docs/sub/$(printf 'x%.0s' {1..120}).txt"
printf '#!/bin/sh\n' >"$odd/run.sh"
cat >"$odd/odd.yaml" <<'EOF'
name: odd
version: 1.0.0
sequence: 1
expires_in_days: 30
compatible: {product: odd, channel: test}
upgrade_from: ">=0.0.0"
release_notes: run.sh
breaking_changes: []
components:
  - name: odd
    version: 1.0.0
    files:
      - {source: docs/, role: doc, dest: /usr/share/doc/odd/}
      - {source: run.sh, role: script}
procedure: {}
EOF
build "$odd/odd.yaml" --key "$keys/test-release-1.key" --out-dir "$bundles"
audit_passes "odd file names" "$audit" "$bundles/odd-1.0.0.ferry" "$pub1" "$trust"

# --- tampering with the envelope ---------------------------------------------------------------

offset=$(offset_of "$good" 28b52ffd)
flip "$good" "$bundles/payload-byte.ferry" $((offset + 1000))
audit_fails "flipped byte in the payload's data" "payload sha256" "$audit" "$bundles/payload-byte.ferry" "$pub1" "$trust"

# "sequence: 2" becomes "sequence: 3" (0x32 ^ 1 = 0x33).
offset=$(offset_of "$good" "$(printf 'sequence: 2' | od -An -tx1 | tr -d ' \n')")
flip "$good" "$bundles/manifest-byte.ferry" $((offset + 10))
audit_fails "flipped byte in the manifest" "signature: minisign" "$audit" "$bundles/manifest-byte.ferry" "$pub1" "$trust"
audit_fails "flipped byte in the manifest, openssl only" "signature: openssl rejects .* for manifest" \
    "$audit_openssl" "$bundles/manifest-byte.ferry" "$pub1" "$trust"

unpack "$good" "$SCRATCH/e"
mapfile -t order < <(members "$SCRATCH/e")
pack "$SCRATCH/e" "$bundles/repacked.ferry" "${order[@]}"
audit_passes "envelope rebuilt by GNU tar, same members (control)" "$audit" "$bundles/repacked.ferry" "$pub1" "$trust"

echo "not part of the bundle" >"$SCRATCH/e/extra.txt"
pack "$SCRATCH/e" "$bundles/extra-last.ferry" "${order[@]}" extra.txt
audit_fails "extra member appended" "envelope: last member is \"extra.txt\"" "$audit" "$bundles/extra-last.ferry" "$pub1" "$trust"
pack "$SCRATCH/e" "$bundles/extra-middle.ferry" "${order[@]:0:${#order[@]}-1}" extra.txt payload.tar.zst
audit_fails "extra member before the payload" "envelope: unexpected member \"extra.txt\"" "$audit" "$bundles/extra-middle.ferry" "$pub1" "$trust"
pack "$SCRATCH/e" "$bundles/swapped.ferry" payload.tar.zst "${order[@]:0:${#order[@]}-1}"
audit_fails "members out of order" "envelope: first member" "$audit" "$bundles/swapped.ferry" "$pub1" "$trust"

cp "$good" "$bundles/trailing.ferry"
printf 'trailing data' >>"$bundles/trailing.ferry"
audit_fails "data after the end blocks" "envelope: .*trailing" "$audit" "$bundles/trailing.ferry" "$pub1" "$trust"
head -c $(($(wc -c <"$good") - 4096)) "$good" >"$bundles/truncated.ferry"
audit_fails "truncated bundle" "envelope: tar cannot list" "$audit" "$bundles/truncated.ferry" "$pub1" "$trust"

# One payload file changed and the payload recompressed; the manifest and signature untouched.
p=$SCRATCH/p
unpack "$good" "$p"
mkdir "$p.files"
zstd -dc "$p/payload.tar.zst" | tar -xf - -C "$p.files"
zstd -dc "$p/payload.tar.zst" | tar -tf - >"$p.order"
sed -i '1s/^./X/' "$p.files/greeter/config/greeter.env"
tar --numeric-owner --owner=0 --group=0 --no-recursion -cf "$p.tar" -C "$p.files" -T "$p.order"
zstd -q -f -19 "$p.tar" -o "$p/payload.tar.zst"
pack "$p" "$bundles/payload-file.ferry" "${order[@]}"
audit_fails "one payload file changed, payload recompressed" "payload (size|sha256|chunks)" \
    "$audit" "$bundles/payload-file.ferry" "$pub1" "$trust"

# The trusted comment changed: only the global signature (minisign, or the second openssl check) sees it.
t=$SCRATCH/t
unpack "$good" "$t"
sed -i '3s/file:manifest.yaml/file:other.yaml/' "$t"/signatures/*.minisig
pack "$t" "$bundles/comment.ferry" "${order[@]}"
audit_fails "trusted comment changed" "signature: minisign" "$audit" "$bundles/comment.ferry" "$pub1" "$trust"
audit_fails "trusted comment changed, openssl only" "signature: openssl rejects the trusted comment" \
    "$audit_openssl" "$bundles/comment.ferry" "$pub1" "$trust"

# --- the wrong key -----------------------------------------------------------------------------

audit_fails "a key that did not sign" "signature: the bundle holds no signature by key $(key_id "$pub2")" \
    "$audit" "$good" "$pub2" "$trust"

r=$SCRATCH/r
unpack "$good" "$r"
mv "$r/signatures/$(key_id "$pub1").minisig" "$r/signatures/$(key_id "$pub2").minisig"
pack "$r" "$bundles/renamed.ferry" manifest.yaml "signatures/$(key_id "$pub2").minisig" payload.tar.zst
audit_fails "signature renamed to another key id" "signature: .* holds key id $(key_id "$pub1")" \
    "$audit" "$bundles/renamed.ferry" "$pub2" "$trust"

make_keys "$SCRATCH/outsider"
mkdir "$bundles/outsider"
build "$tree/greeter-2.0.0.yaml" --key "$SCRATCH/outsider/test-release-1.key" --out-dir "$bundles/outsider"
audit_fails "signer not in the trust store" "trust store: key .* is not in" \
    "$audit" "$bundles/outsider/greeter-2.0.0.ferry" "$SCRATCH/outsider/test-release-1.pub" "$trust"

# key 1's id listed with key 2's public key.
sed "s|$(sed -n 2p "$pub1")|$(sed -n 2p "$pub2")|" "$trust" >"$SCRATCH/swapped-trust.yaml"
audit_fails "trust store lists the id with another public key" "trust store: .*another public key" \
    "$audit" "$good" "$pub1" "$SCRATCH/swapped-trust.yaml"

# The signer listed with the trust role only: it signs trust stores, not software.
sed "/id: \"$(key_id "$pub1")\"/,/roles:/ s/roles: .*/roles: [trust]/" "$trust" >"$SCRATCH/trust-role-only.yaml"
audit_fails "signer without the release role" "trust store: .*without the release role" \
    "$audit" "$good" "$pub1" "$SCRATCH/trust-role-only.yaml"

# --- signed but inconsistent: a manifest edited and signed again by a trusted minisign key -----

minisign -G -W -p "$SCRATCH/mk.pub" -s "$SCRATCH/mk.key" </dev/null >/dev/null
mk_id=$(key_id "$SCRATCH/mk.pub")
readonly mk_id
cat >"$SCRATCH/mk-trust.yaml" <<EOF
version: 1
thresholds: {release: 1, trust: 1}
keys:
  - name: auditor-test
    id: "$mk_id"
    public_key: "$(sed -n 2p "$SCRATCH/mk.pub")"
    expires: 2099-01-01T00:00:00Z
    roles: [release, trust]
EOF

# resign NAME [-l|""] SED_SCRIPT: the good bundle with SED_SCRIPT applied to its manifest (if
# not empty), signed only by the minisign key (-l: legacy Ed, as Ferry; "": prehashed), as NAME.
resign() {
    local -r name=$1 legacy=$2 script=$3
    local -r dir=$SCRATCH/resign-$name
    unpack "$good" "$dir"
    if [ -n "$script" ]; then
        sed -i "$script" "$dir/manifest.yaml"
    fi
    rm "$dir"/signatures/*
    minisign -S ${legacy:+"$legacy"} -s "$SCRATCH/mk.key" -m "$dir/manifest.yaml" -x "$dir/signatures/$mk_id.minisig" \
        -t "timestamp:$now	file:manifest.yaml	bundle:greeter-2.0.0" </dev/null >/dev/null
    pack "$dir" "$bundles/$name.ferry" manifest.yaml "signatures/$mk_id.minisig" payload.tar.zst
}

resign resigned -l ""
audit_passes "manifest signed again, unchanged (control)" "$audit" "$bundles/resigned.ferry" "$SCRATCH/mk.pub" "$SCRATCH/mk-trust.yaml"

resign prehashed "" ""
audit_fails "prehashed ED signature" "signature: .* not a legacy Ed signature" \
    "$audit" "$bundles/prehashed.ferry" "$SCRATCH/mk.pub" "$SCRATCH/mk-trust.yaml"

# A wrong hash that is still plain text to every YAML reader (64 zeros would read as a number).
zeros=$(printf 'ab%.0s' {1..32})
env_file='/path: "greeter\/config\/greeter.env"/,/config_mode:/'
while IFS='|' read -r name check script; do
    resign "$name" -l "$script"
    audit_fails "signed manifest: $name" "$check" "$audit" "$bundles/$name.ferry" "$SCRATCH/mk.pub" "$SCRATCH/mk-trust.yaml"
done <<EOF
format|format|s/^format: .*/format: ferry-bundle\/2/
payload-size|payload size|/^payload:/,\$ s/^  size: .*/  size: 1000/
payload-sha256|payload sha256|/^payload:/,\$ s/^  sha256: .*/  sha256: $zeros/
chunk|payload chunks: chunk hashes|/^  chunks:/,\$ s/^    - [0-9a-f]*/    - $zeros/
chunk-count|payload chunks: manifest lists|/^  chunks:/ a\    - $zeros
chunk-size|payload chunks: chunk_size|s/^  chunk_size: .*/  chunk_size: 1000/
file-sha256|payload files|$env_file s/sha256: .*/sha256: $zeros/
file-mode|payload listing|$env_file s/mode: .*/mode: "0600"/
file-size|files: component greeter declares 11 files|$env_file s/size: .*/size: 1/
file-missing|files: component greeter declares 11 files|/^  - path: "greeter\/doc\/README.md"/,/^    dest:/d
file-type|files: .*type|$env_file s/type: .*/type: symlink/
file-path|files: bad path|s|^  - path: "greeter/doc/README.md"|  - path: "greeter/doc/../README.md"|
expired|expires: the bundle expired|s/^expires: .*/expires: 2020-01-01T00:00:00Z/
sequence|sequence|s/^sequence: .*/sequence: 0/
EOF

# Two file entries swapped: no longer sorted by path.
resign unsorted -l ""
"$python" - "$SCRATCH/resign-unsorted/manifest.yaml" <<'EOF'
import re, sys
text = open(sys.argv[1]).read()
head, rest = text.split("\nfiles:\n", 1)
body, tail = rest.split("\npayload:\n", 1)
entries = re.split(r"(?m)^(?=  - path: )", body)[1:]
entries[0], entries[1] = entries[1], entries[0]
open(sys.argv[1], "w").write(head + "\nfiles:\n" + "".join(entries) + "\npayload:\n" + tail)
EOF
d=$SCRATCH/resign-unsorted
rm "$d"/signatures/*
minisign -S -l -s "$SCRATCH/mk.key" -m "$d/manifest.yaml" -x "$d/signatures/$mk_id.minisig" </dev/null >/dev/null
pack "$d" "$bundles/unsorted.ferry" manifest.yaml "signatures/$mk_id.minisig" payload.tar.zst
audit_fails "signed manifest: files not sorted" "files: .* not sorted" \
    "$audit" "$bundles/unsorted.ferry" "$SCRATCH/mk.pub" "$SCRATCH/mk-trust.yaml"

# --- the site's expectations -------------------------------------------------------------------

audit_fails "older than the site's sequence" "sequence: 2 is lower than 3" \
    "$audit" "$good" "$pub1" "$trust" SITE_SEQUENCE=3
audit_fails "another product" "compatible: product" "$audit" "$good" "$pub1" "$trust" SITE_PRODUCT=other
audit_fails "another channel" "compatible: channel" "$audit" "$good" "$pub1" "$trust" SITE_CHANNEL=beta

sed 's/expires: .*/expires: 2020-01-01T00:00:00Z/' "$trust" >"$SCRATCH/expired-trust.yaml"
audit_fails "signer's key expired in the trust store" "trust store: key .* expired" \
    "$audit" "$good" "$pub1" "$SCRATCH/expired-trust.yaml"

work=$(mktemp -d "$SCRATCH/work.XXXXXX")
touch "$work/leftover"
run env BUNDLE="$good" PUBKEY="$pub1" TRUST="$trust" WORK="$work" bash -euo pipefail "$audit"
if [ "$RC" -ne 0 ] && grep -q '^AUDIT FAILED: setup: WORK' "$SCRATCH/err"; then
    pass "a WORK folder that is not empty is refused"
else
    fail "a WORK folder that is not empty: exit $RC, $(tail -n 3 "$SCRATCH/err")"
fi
