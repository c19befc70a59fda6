#!/usr/bin/env bash
# ferry-bundler build refuses bad specs, bad keys and an existing output with a message that
# points at the spot, and leaves no bundle and no temp file behind, also when interrupted.
source "$(dirname "$0")/lib.sh"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly K1=$KEYS/test-release-1.key
readonly SPEC_NAME=greeter-2.0.0.yaml

# spec_case NAME SED-SCRIPT: a private copy of the sample tree whose spec SED-SCRIPT edits, and
# an empty output folder; sets T (the tree) and OUT. Fails the case if the edit changed nothing.
spec_case() {
    T=$SCRATCH/cases/$1/tree
    OUT=$SCRATCH/cases/$1/out
    mkdir -p "$OUT"
    cp -a "$(sample_tree)" "$T"
    sed -i -e "$2" "$T/$SPEC_NAME"
    if cmp -s "$T/$SPEC_NAME" "$(sample_tree)/$SPEC_NAME"; then
        fail "$1: the sed script \"$2\" did not change the spec"
    fi
}

# line_of PATTERN: the number of the first line of the case's spec matching PATTERN (grep -E).
line_of() {
    grep -nE -m1 "$1" "$T/$SPEC_NAME" | cut -d: -f1
}

# build_fails NAME MESSAGE [ENV...]: building the case's spec exits 1 with MESSAGE, and neither
# the output folder nor the tree gains or loses a file.
build_fails() {
    local name=$1 message=$2
    shift 2
    local before_out before_tree
    before_out=$(snapshot "$OUT")
    before_tree=$(snapshot "$T")
    expect_fail "$name" 1 "$message" env "$@" "$FERRY_BUNDLER" build -q "$T/$SPEC_NAME" --key "$K1" --out-dir "$OUT"
    expect_unchanged "$name (output folder)" "$OUT" "$before_out"
    expect_unchanged "$name (source tree)" "$T" "$before_tree"
}

spec_case unknown-key '0,/^version:/s//verison:/'
build_fails "unknown top-level key" \
    "$SPEC_NAME:$(line_of '^verison:'): unknown key \"verison\" (did you mean \"version\"?)"
if [ "$(line_of '^verison:')" == 4 ]; then
    pass "the misspelt key is on line 4 of the sample spec"
else
    fail "the sample spec changed: \"verison\" is on line $(line_of '^verison:'), not 4"
fi

spec_case missing-source 's#source: bin-2.0.0/greeter,#source: bin-2.0.0/greeter-missing,#'
build_fails "missing source file" \
    "$SPEC_NAME:$(line_of 'greeter-missing'): source \"bin-2.0.0/greeter-missing\": $T/bin-2.0.0/greeter-missing does not exist"

spec_case bad-version '0,/^version: .*/s//version: 2.0/'
build_fails "malformed version" "$SPEC_NAME:$(line_of '^version:'): version: \"2.0\" is not a semantic version"
grep -qF "hint: write MAJOR.MINOR.PATCH" "$SCRATCH/err" && pass "malformed version: hint" ||
    fail "malformed version: no hint: $(cat "$SCRATCH/err")"

spec_case duplicate-dest 's#dest: /etc/greeter/greeter.env#dest: /usr/bin/greeter#'
build_fails "duplicate destination" \
    "$SPEC_NAME:$(line_of 'source: config-2.0.0'): duplicate destination \"/usr/bin/greeter\" (also at $T/$SPEC_NAME:$(line_of 'source: bin-2.0.0'))"

spec_case setuid-mode 's#mode: "0755"#mode: "04755"#'
build_fails "setuid mode" \
    "$SPEC_NAME:$(line_of '04755'): components[0].files[0].mode: \"04755\" is not an octal mode from 0000 to 0777"

spec_case bad-mode 's#mode: "0755"#mode: "0759"#'
build_fails "mode with a non-octal digit" "components[0].files[0].mode: \"0759\" is not an octal mode"

spec_case unknown-role 's#role: binary#role: binery#'
build_fails "unknown role" \
    "$SPEC_NAME:$(line_of 'binery'): components[0].files[0].role: unknown role \"binery\" (binary, image, migration, config, doc, script or applier)"
grep -qF 'hint: did you mean "binary"?' "$SCRATCH/err" && pass "unknown role: did you mean" ||
    fail "unknown role: no suggestion: $(cat "$SCRATCH/err")"

# An encrypted key and the wrong passphrase.
FERRY_PASSPHRASE=correct-horse-battery "$FERRY_BUNDLER" key generate --name sealed --out-dir "$KEYS" >/dev/null
spec_case wrong-passphrase 's/^sequence: 2$/sequence: 3/'
before_out=$(snapshot "$OUT")
expect_fail "wrong passphrase" 1 "$KEYS/sealed.key: wrong passphrase" \
    env FERRY_PASSPHRASE=battery-horse-correct "$FERRY_BUNDLER" build -q "$T/$SPEC_NAME" --key "$KEYS/sealed.key" --out-dir "$OUT"
expect_unchanged "wrong passphrase" "$OUT" "$before_out"
expect_ok "the right passphrase builds" \
    env FERRY_PASSPHRASE=correct-horse-battery "$FERRY_BUNDLER" build -q "$T/$SPEC_NAME" --key "$KEYS/sealed.key" --out-dir "$OUT"

# An existing bundle is not replaced without --force.
spec_case existing-output 's/^sequence: 2$/sequence: 4/'
echo "precious, not a bundle" >"$OUT/greeter-2.0.0.ferry"
before_out=$(snapshot "$OUT")
expect_fail "existing output without --force" 2 "$OUT/greeter-2.0.0.ferry already exists" \
    "$FERRY_BUNDLER" build -q "$T/$SPEC_NAME" --key "$K1" --out-dir "$OUT"
grep -qF "hint: pass --force to replace it" "$SCRATCH/err" && pass "existing output: hint" ||
    fail "existing output: no hint: $(cat "$SCRATCH/err")"
expect_unchanged "existing output without --force" "$OUT" "$before_out"
expect_ok "existing output with --force" "$FERRY_BUNDLER" build -q --force "$T/$SPEC_NAME" --key "$K1" --out-dir "$OUT"
expect_ok "the forced build replaced the file with a bundle" \
    "$FERRY_APPLIER" verify -q "$OUT/greeter-2.0.0.ferry" --trust "$KEYS/trust.yaml"

# Interrupted while packing 300 MB: the tool dies of SIGINT and removes its temp files.
spec_case interrupted '/source: "migrations\/\*.sql"/a\      - {source: big.bin, role: script}'
head -c 300M /dev/urandom >"$T/big.bin"
"$FERRY_BUNDLER" build -q "$T/$SPEC_NAME" --key "$K1" --out-dir "$OUT" >"$SCRATCH/out" 2>"$SCRATCH/err" &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null || true # if it is gone already, the exit code below says so
set +e
wait "$pid"
RC=$?
set -e
if [ "$RC" -eq 130 ]; then
    pass "interrupted build: killed by SIGINT"
else
    fail "interrupted build: exit $RC, not 130 (was it interrupted at all?); stderr: $(cat "$SCRATCH/err")"
fi
left=$(find "$OUT" -mindepth 1)
if [ -z "$left" ]; then
    pass "interrupted build: no bundle and no temp file left"
else
    fail "interrupted build left: $left"
fi
rm -f "$T/big.bin"

# A file below another file's path: payload paths and destinations must each be a file or a
# folder, not both.
NEST=$SCRATCH/nest
mkdir -p "$NEST/d/x" "$NEST/out"
printf 'a\n' >"$NEST/d/x/y"
printf 'b\n' >"$NEST/x"
write_nest() {
    cat >"$NEST/nest.yaml" <<YAML
name: nest
version: 1.0.0
sequence: 1
expires_in_days: 3
compatible: {product: nest, channel: test}
upgrade_from: ">=0.0.0"
components:
  - name: nest
    version: 1.0.0
    files:
      - {source: x, role: doc, dest: $1}
      - {source: d/, role: doc, dest: $2}
YAML
}
write_nest /opt/nest/a /opt/nest/b/
expect_fail "a payload path below another file" 1 \
    'nest.yaml:12: payload path "nest/doc/x/y" lies below "nest/doc/x", a file from' \
    "$FERRY_BUNDLER" build "$NEST/nest.yaml" --key "$KEYS/test-release-1.key" --out-dir "$NEST/out"
mv "$NEST/x" "$NEST/z"
sed -i 's/source: x,/source: z,/' "$NEST/nest.yaml"
sed -i 's#dest: /opt/nest/a#dest: /opt/nest/b/x#' "$NEST/nest.yaml"
expect_fail "a destination below another file's" 1 \
    'destination "/opt/nest/b/x/y" lies below "/opt/nest/b/x", a file from' \
    "$FERRY_BUNDLER" build "$NEST/nest.yaml" --key "$KEYS/test-release-1.key" --out-dir "$NEST/out"
[ -z "$(find "$NEST/out" -mindepth 1)" ] && pass "nested paths: nothing written" || fail "nested paths left files"
