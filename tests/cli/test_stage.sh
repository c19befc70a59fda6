#!/usr/bin/env bash
# `stage`: a bundle copied to the node ahead of its apply, each chunk checked as it is copied.
# A stage killed halfway through a 200 MiB bundle continues where it stopped without reading
# the part already staged from the media again (shown by damaging that part of the media
# afterwards, and by the bytes read); a bad chunk is refused and nothing of it kept; apply then
# uses the staged copy and not the media.
source "$(dirname "$0")/lib.sh"

GREETER_PORT=$((19000 + $$ % 90))
export GREETER_PORT
R=$SCRATCH/root
S=$SCRATCH/state
mkdir -p "$R"
trap 'rc=$?; set +e; [ -x "$R/usr/bin/greeterctl" ] && "$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1; (exit $rc); finish' EXIT

greeter_setup
mkdir "$TREE/big"
head -c $((200 << 20)) /dev/urandom >"$TREE/big/blob.bin"
variant greeter-1.0.0.yaml big.yaml '
s["components"][0]["files"].append({"source": "big/blob.bin", "role": "doc", "dest": "/usr/share/doc/greeter/blob.bin"})'
build big.yaml big && BIG=$BUILT
variant greeter-1.0.0.yaml other.yaml 's["compatible"]["product"] = "other"'
build other.yaml other && OTHER=$BUILT
rm "$TREE/big/blob.bin"

stage() { "$FERRY_APPLIER" stage "$@" --trust "$TRUST" --root "$R" --state-dir "$S"; }
staged_row() { sqlite3 "$S/state.db" "SELECT chunks_done || ' ' || state FROM staged;" 2>&1; }
# payload_offset BUNDLE: where the payload member's data starts.
payload_offset() {
    /usr/bin/python3 -c 'import sys, tarfile; print(tarfile.open(sys.argv[1]).getmember("payload.tar.zst").offset_data)' "$1"
}
# flip BUNDLE OFFSET: one byte of BUNDLE changed in place.
flip() { flip_byte "$1" "$2"; }

# stage_in_background N: starts staging BIG into S and returns once N chunks are copied (at
# most 15 s); sets pid and done_chunks.
stage_in_background() {
    set +e
    "$FERRY_APPLIER" stage "$BIG" --trust "$TRUST" --root "$R" --state-dir "$S" -q >"$SCRATCH/out" 2>"$SCRATCH/err" &
    pid=$!
    set -e
    for _ in $(seq 300); do
        done_chunks=$(sqlite3 "$S/state.db" "SELECT chunks_done FROM staged;" 2>/dev/null || true)
        [ -n "$done_chunks" ] && [ "$done_chunks" -ge "$1" ] && return 0
        sleep 0.05
    done
}

readonly CHUNK=$((4 << 20))
OFFSET=$(payload_offset "$BIG")
SIZE=$(stat -c %s "$BIG")
CHUNKS=$(( (SIZE - OFFSET - 1024) / CHUNK + 1 ))
echo "bundle: $SIZE bytes, payload at $OFFSET, about $CHUNKS chunks"

# --- Killed at chunk 25, the media's staged part then damaged: stage continues from the copy ----

MEDIA=$SCRATCH/media/big.ferry
mkdir -p "$(dirname "$MEDIA")"
cp "$BIG" "$MEDIA"
run env FERRY_TEST_CRASH_AT=stage:chunk:25 "$FERRY_APPLIER" stage "$MEDIA" --trust "$TRUST" --root "$R" --state-dir "$S" -q
[ "$RC" -eq 137 ] && pass "stage killed after chunk 25" || fail "stage was not killed: exit $RC $(cat "$SCRATCH/err")"
[ "$(staged_row)" == "25 copying" ] && pass "the state records 25 chunks copied" || fail "staged: $(staged_row)"
flip "$MEDIA" $((OFFSET + 1000))
expect_fail "the media is damaged in a chunk already staged: verify refuses it" 3 "mismatch" \
    "$FERRY_APPLIER" verify -q "$MEDIA" --trust "$TRUST"
run stage "$MEDIA" --json
[ "$RC" -eq 0 ] && pass "stage again succeeds: the damaged part was not read again" ||
    fail "stage again: exit $RC $(cat "$SCRATCH/err")"
expect_json "it resumed after the 25 intact chunks" "j['result'] == 'staged' and j['resumed_at_chunk'] == 25"
expect_json "it read only the rest from the media" \
    "j['media_bytes'] <= $SIZE - 25 * $CHUNK and j['media_bytes'] >= $SIZE - 25 * $CHUNK - $OFFSET - 2 * 1024 * 1024"
[ "$(staged_row)" == "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"])' "$SCRATCH/out") verified" ] &&
    pass "the state records the copy as verified" || fail "staged: $(staged_row)"
COPY=$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["copy"])' "$SCRATCH/out")
cmp -s "$COPY" "$BIG" && pass "the staged copy is byte for byte the genuine bundle" || fail "staged copy differs"
run stage "$MEDIA" --json
expect_json "staging it again: already staged" "j['result'] == 'already_staged' and j['media_bytes'] == 0"

# --- apply uses the staged copy, not the media ------------------------------------------------

run "$FERRY_APPLIER" apply "$MEDIA" --trust "$TRUST" --root "$R" --state-dir "$S"
[ "$RC" -eq 0 ] && pass "apply of the damaged media succeeds from the staged copy" ||
    fail "apply: exit $RC $(cat "$SCRATCH/err")"
expect_output "apply says it used the staged copy" "applied from the copy staged before; the media was not read again"
[ "$(stat -c %s "$R/usr/share/doc/greeter/blob.bin")" == $((200 << 20)) ] && pass "the big file is installed" ||
    fail "blob: $(ls -l "$R/usr/share/doc/greeter/")"
[ ! -e "$(dirname "$COPY")" ] && [ -z "$(staged_row)" ] && pass "the staged copy is removed once applied" ||
    fail "staged copy left: $(staged_row)"
"$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true

# --- A bad chunk is refused, nothing of it kept; the intact bundle then continues -------------

S=$SCRATCH/state2
R=$SCRATCH/root2
mkdir -p "$R"
BAD=$SCRATCH/media/bad.ferry
cp "$BIG" "$BAD"
flip "$BAD" $((OFFSET + 30 * CHUNK + 77))
run stage "$BAD" -q
[ "$RC" -eq 3 ] && pass "a damaged chunk: exit 3" || fail "bad chunk: exit $RC $(cat "$SCRATCH/err")"
grep -qF "$BAD: payload chunk 31 of " "$SCRATCH/err" && grep -qF "sha256 mismatch" "$SCRATCH/err" &&
    grep -qF "nothing of it was staged" "$SCRATCH/err" && pass "the message names the bundle and the chunk" ||
    fail "message: $(cat "$SCRATCH/err")"
copy=$(find "$S/staged" -name bundle.ferry)
[ "$(stat -c %s "$copy")" == $((OFFSET + 30 * CHUNK)) ] && pass "the copy holds the 30 good chunks and nothing of the bad one" ||
    fail "copy size $(stat -c %s "$copy"), expected $((OFFSET + 30 * CHUNK))"
run stage "$BIG" --json
expect_json "staging the intact bundle continues after chunk 30" "j['result'] == 'staged' and j['resumed_at_chunk'] == 30"

# --- A kill at any moment (not at a journaled point) ------------------------------------------

S=$SCRATCH/state3
stage_in_background 5
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
run stage "$BIG" --json
[ "$RC" -eq 0 ] && pass "after a kill at chunk ${done_chunks:-?}, stage again succeeds" || fail "exit $RC $(cat "$SCRATCH/err")"
expect_json "it resumed, re-hashing what was there" "j['resumed_at_chunk'] >= 5 and j['result'] == 'staged'"

# --- Ctrl-C while copying: the stage stops, says how to continue, and continues ----------------

S=$SCRATCH/state5
stage_in_background 3
kill -INT "$pid" 2>/dev/null || true
set +e
wait "$pid"
RC=$?
set -e
[ "$RC" -eq 130 ] && pass "Ctrl-C while staging: the stage stops (exit 130)" || fail "Ctrl-C: exit $RC $(cat "$SCRATCH/err")"
grep -qF "ferry-applier: interrupted while staging; run the same \`ferry-applier stage\` again to continue" "$SCRATCH/err" &&
    pass "Ctrl-C while staging: it says how to continue" || fail "Ctrl-C: stderr: $(cat "$SCRATCH/err")"
run stage "$BIG" --json
expect_json "after Ctrl-C the stage continues" "j['result'] == 'staged' and j['resumed_at_chunk'] >= 3"

# --- Policy, already installed, prune ----------------------------------------------------------

expect_ok "apply the staged bundle" "$FERRY_APPLIER" apply -q "$BIG" --trust "$TRUST" --root "$R" --state-dir "$S"
"$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true
run stage "$BIG" --json
expect_json "staging the installed bundle: already installed" "j['result'] == 'already_installed'"
expect_fail "a bundle apply would refuse is not staged" 4 'bundle is for product "other", this site runs "greeter"' \
    stage "$OTHER" -q
[ -z "$(ls "$S/staged" 2>/dev/null)" ] && pass "nothing staged for the refused bundle" || fail "staged: $(ls "$S/staged")"
cp "$BAD" "$SCRATCH/media/bad2.ferry"
S=$SCRATCH/state4
run stage "$SCRATCH/media/bad2.ferry" -q
expect_ok "prune --staged" "$FERRY_APPLIER" prune --staged --state-dir "$S" --root "$R"
[ -z "$(ls "$S/staged" 2>/dev/null)" ] && [ -z "$(staged_row)" ] && pass "prune --staged drops the partial copy" ||
    fail "after prune: $(ls "$S/staged") $(staged_row)"

# --- status shows what is staged ---------------------------------------------------------------

S=$SCRATCH/state6
run env FERRY_TEST_CRASH_AT=stage:chunk:4 "$FERRY_APPLIER" stage "$BIG" --trust "$TRUST" --root "$R" --state-dir "$S" -q
run "$FERRY_APPLIER" status --state-dir "$S"
[ "$RC" -eq 0 ] && pass "status: a partly staged bundle does not block the node (exit 0)" || fail "status: exit $RC"
expect_output "status shows the partial stage" "staged: greeter 1.0.0, incomplete: stage it again to continue (4 of "
run stage "$BIG" -q
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_json "status --json lists the staged bundle, verified" \
    "j['node'] == 'fresh' and j['staged'][0]['bundle'] == 'greeter' and j['staged'][0]['state'] == 'verified'"
