#!/usr/bin/env bash
# The demo: installs what is missing, builds, then walks through Ferry's main job on the
# samples: test keys, a signed bundle, inspect, verify, and a tampered copy refused.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh

build=${BUILD_DIR:-build}
bundler="$build/bundler/ferry-bundler"
applier="$build/applier/ferry-applier"
work=work/demo
rm -rf "$work"
mkdir -p "$work/keys" "$work/out"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "1. Generate test signing keys and a trust store (for tests only)"
bash samples/make-test-keys.sh "$bundler" "$work/keys"

step "2. Build and sign the sample bundles (greeter 1.0.0 and 2.0.0)"
show "$bundler" build "$build/samples/greeter/greeter-1.0.0.yaml" --key "$work/keys/test-release-1.key" -o "$work/out"
show "$bundler" build "$build/samples/greeter/greeter-2.0.0.yaml" --key "$work/keys/test-release-1.key" -o "$work/out"

step "3. Co-sign 2.0.0 with a second key (the payload is copied, not recompressed)"
show "$bundler" sign "$work/out/greeter-2.0.0.ferry" --key "$work/keys/test-release-2.key"

step "4. Inspect it (reads only the manifest)"
show "$applier" inspect "$work/out/greeter-2.0.0.ferry" --trust "$work/keys/trust.yaml"

step "5. Verify it as the site would: signatures, expiry, every chunk and every file"
show "$applier" verify "$work/out/greeter-2.0.0.ferry" --trust "$work/keys/trust.yaml"

step "6. A copy with one byte of the payload flipped is refused"
tampered="$work/out/greeter-2.0.0-tampered.ferry"
cp "$work/out/greeter-2.0.0.ferry" "$tampered"
size=$(stat -c %s "$tampered")
offset=$((size - 2048))
byte=$(od -An -tu1 -j "$offset" -N1 "$tampered" | tr -d ' ')
printf "$(printf '\\%03o' $(((byte + 1) % 256)))" | dd of="$tampered" bs=1 seek="$offset" conv=notrunc status=none
set +e
show "$applier" verify "$tampered" --trust "$work/keys/trust.yaml"
rc=$?
set -e
if [ "$rc" -ne 3 ]; then
    echo "demo: expected the tampered bundle to be refused with exit code 3, got $rc" >&2
    exit 1
fi
echo "(exit code $rc: verification failure; nothing was installed)"

step "Done. Bundles are in $work/out; keys and trust store in $work/keys."
