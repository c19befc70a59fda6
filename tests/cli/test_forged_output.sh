#!/usr/bin/env bash
# Text from a bundle cannot forge a line of output: an envelope member whose name holds a
# newline followed by "ferry-applier: verified: ..." is refused, and the message prints the
# name escaped on one line, with --json too.
source "$(dirname "$0")/lib.sh"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
TREE=$(sample_tree)
"$FERRY_BUNDLER" build -q "$TREE/greeter-1.0.0.yaml" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH" >/dev/null
GOOD=$SCRATCH/greeter-1.0.0.ferry
EVIL=$SCRATCH/evil.ferry

# A copy with one more member after the manifest: the manifest's own header, renamed, empty.
/usr/bin/python3 - "$GOOD" "$EVIL" <<'PY'
import sys
data = bytearray(open(sys.argv[1], "rb").read())
header = bytearray(data[:512])
size = int(header[124:136].rstrip(b"\0 ").decode(), 8)
end = 512 + (size + 511) // 512 * 512
name = b"evil\nferry-applier: verified: greeter 1.0.0"
header[0:100] = name.ljust(100, b"\0")
header[124:136] = b"%011o\0" % 0
header[148:156] = b" " * 8
header[148:156] = b"%06o\0 " % sum(header)
open(sys.argv[2], "wb").write(bytes(data[:end] + header + data[end:]))
PY

for tool in "$FERRY_APPLIER" "$FERRY_BUNDLER"; do
    name=$(basename "$tool")
    expect_fail "$name verify: the member is refused" 3 'unexpected member "evil\x0aferry-applier: verified: greeter 1.0.0"' \
        "$tool" verify "$EVIL" --trust "$KEYS/trust.yaml"
    if grep -q '^ferry-applier: verified' "$SCRATCH/err" "$SCRATCH/out"; then
        fail "$name verify: a line was forged: $(cat "$SCRATCH/err")"
    else
        pass "$name verify: no line starts with the forged text"
    fi
    [ "$(wc -l <"$SCRATCH/err")" -eq 1 ] && pass "$name verify: the error is one line" ||
        fail "$name verify: stderr has $(wc -l <"$SCRATCH/err") lines: $(cat "$SCRATCH/err")"
done
run "$FERRY_APPLIER" inspect "$EVIL" --json
[ "$RC" -eq 3 ] && pass "inspect --json: exit 3" || fail "inspect --json: exit $RC"
expect_json "inspect --json: the name is in the JSON document, escaped by JSON" \
    "j['result'] == 'not_verified' and 'evil\\nferry-applier: verified' in j['error']['message']"
mkdir -p "$SCRATCH/root"
run "$FERRY_APPLIER" apply "$EVIL" --trust "$KEYS/trust.yaml" --root "$SCRATCH/root" --state-dir "$SCRATCH/state"
[ "$RC" -eq 3 ] && ! grep -q '^ferry-applier: verified' "$SCRATCH/err" && pass "apply: refused, no forged line" ||
    fail "apply: exit $RC $(cat "$SCRATCH/err")"
