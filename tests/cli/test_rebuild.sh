#!/usr/bin/env bash
# build SPEC --check-against B: a rebuild from the sources says whether every byte of B matches,
# and where it does not, with no key and nothing written.
source "$(dirname "$0")/lib.sh"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
TREE=$(sample_tree)
build greeter-2.0.0.yaml one
readonly B=$BUILT
SIZE=$(stat -c %s "$B")
readonly SIZE

# A later day, another folder: the rebuild takes the bundle's own creation time.
export SOURCE_DATE_EPOCH=$((SOURCE_DATE_EPOCH + 86400))
tmp_before=$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ferry-rebuild-*' | sort)
before=$(snapshot "$SCRATCH/bundles")
expect_ok "the same sources rebuild the same bundle" "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --check-against "$B"
expect_output "says so, with the size" "identical: rebuilding $TREE/greeter-2.0.0.yaml gives $B byte for byte ($SIZE bytes)"
expect_unchanged "a rebuild check" "$SCRATCH/bundles" "$before"
[ "$(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ferry-rebuild-*' | sort)" == "$tmp_before" ] &&
    pass "the rebuild's temporary file is gone" || fail "left behind: $(find "${TMPDIR:-/tmp}" -maxdepth 1 -name 'ferry-rebuild-*')"

# A co-signed bundle: both signatures carried over.
cp "$B" "$SCRATCH/cosigned.ferry"
"$FERRY_BUNDLER" sign -q "$SCRATCH/cosigned.ferry" --key "$KEYS/test-release-2.key" >/dev/null
mkdir "$SCRATCH/co" && mv "$SCRATCH/cosigned.ferry" "$SCRATCH/co/greeter-2.0.0.ferry"
expect_ok "a co-signed bundle rebuilds too" "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --check-against "$SCRATCH/co/greeter-2.0.0.ferry"
expect_output "co-signed: identical" "identical: "

# Another compression level: every file the same, the payload not.
expect_fail "another level: differs" 3 "does not give $B: 1 difference(s), listed above" \
    "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --level 9 --check-against "$B"
expect_output "another level: the compression, not the files" "every file is the same, so the compression differs"

# A source file changed: named, with both hashes.
was=$(sha256sum "$TREE/docs-2.0.0/OPERATIONS.md" | cut -c1-64)
echo "one more line" >>"$TREE/docs-2.0.0/OPERATIONS.md"
now=$(sha256sum "$TREE/docs-2.0.0/OPERATIONS.md" | cut -c1-64)
expect_fail "a changed source: differs" 3 "does not give $B" \
    "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --check-against "$B"
expect_output "the changed file is named with both hashes" "differs: file greeter/doc/OPERATIONS.md: sha256 $was"
grep -qF "$now" "$SCRATCH/out" && pass "and the rebuilt hash" || fail "no rebuilt hash $now: $(cat "$SCRATCH/out")"
if grep -q "^differs: payload: " "$SCRATCH/out"; then pass "the payload differs too"; else fail "payload line: $(cat "$SCRATCH/out")"; fi

# Refusals.
expect_fail "--check-against with --key" 2 "--key excludes --check-against" \
    "$FERRY_BUNDLER" build "$TREE/greeter-2.0.0.yaml" --key "$KEYS/test-release-1.key" --check-against "$B"
expect_fail "no key and no check" 2 "no signing key given" "$FERRY_BUNDLER" build "$TREE/greeter-2.0.0.yaml"
expect_fail "a bundle that is not there" 1 "$SCRATCH/none.ferry" \
    "$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --check-against "$SCRATCH/none.ferry"
