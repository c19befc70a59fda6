#!/usr/bin/env bash
# Bundle parts for media with a file size limit: a 300 MiB bundle (100 MiB in the sanitizer
# build) written as 64 MiB parts (16 MiB), checked with sha256sum and by the tools; each fault
# (missing, damaged, duplicated, truncated, from another bundle, out of order) named by verify
# and by stage, with nothing of the bad part staged; staging from three folders in shuffled
# order; a stage killed in the middle of a part, resumed; the parts joined with cat verify as
# the single file does. plan and inspect name a missing or damaged part, and an expired bundle
# in parts is refused by verify --quick as by verify; a part size over FAT32's limit is warned of.
source "$(dirname "$0")/lib.sh"

GREETER_PORT=$((19100 + $$ % 90))
export GREETER_PORT
R=$SCRATCH/root
mkdir -p "$R"
trap 'rc=$?; set +e; [ -x "$R/usr/bin/greeterctl" ] && "$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1; (exit $rc); finish' EXIT

if [ "${FERRY_SANITIZE:-OFF}" = "ON" ]; then
    MIB=100 PART_MIB=16
else
    MIB=300 PART_MIB=64
fi
readonly CHUNK=$((4 << 20))

greeter_setup
mkdir "$TREE/big"
head -c $((MIB << 20)) /dev/urandom >"$TREE/big/blob.bin"
variant greeter-1.0.0.yaml big.yaml '
s["components"][0]["files"].append({"source": "big/blob.bin", "role": "doc", "dest": "/usr/share/doc/greeter/blob.bin"})'
P=$SCRATCH/parts
mkdir -p "$P"
expect_ok "build --split-size writes parts" \
    "$FERRY_BUNDLER" build -q "$TREE/big.yaml" --key "$KEYS/test-release-1.key" --out-dir "$P" --split-size "${PART_MIB}M"
expect_output "build names the parts and their list" "greeter-1.0.0.ferry.001"
N=greeter-1.0.0.ferry
[ ! -e "$P/$N" ] && pass "no single file is left beside the parts" || fail "$P/$N was left"
COUNT=$(find "$P" -name "$N.0*" | wc -l)
[ "$COUNT" -ge 4 ] && pass "$COUNT parts" || fail "only $COUNT parts"
too_big=$(find "$P" -name "$N.0*" -size +$((PART_MIB << 10))k | wc -l)
[ "$too_big" -eq 0 ] && pass "no part is over ${PART_MIB} MiB" || fail "$too_big parts over the size"
(cd "$P" && sha256sum --strict -c "$N.parts" >"$SCRATCH/sha.out" 2>&1) &&
    pass "sha256sum -c checks every part against the parts list" || fail "sha256sum -c: $(cat "$SCRATCH/sha.out")"
LAST=$(printf '%03d' "$COUNT")

# The parts joined with cat are the bundle, and split cuts it the same way again.
W=$SCRATCH/whole
mkdir -p "$W" "$SCRATCH/resplit"
cat "$P/$N".0* >"$W/$N"
expect_ok "the parts joined with cat verify" "$FERRY_APPLIER" verify -q "$W/$N" --trust "$TRUST" --json
cp "$SCRATCH/out" "$SCRATCH/whole.json"
expect_ok "split of the joined file" "$FERRY_BUNDLER" split -q "$W/$N" --size "${PART_MIB}M" --out-dir "$SCRATCH/resplit"
for f in "$P/$N".0* "$P/$N.parts"; do
    cmp -s "$f" "$SCRATCH/resplit/$(basename "$f")" || fail "split wrote $(basename "$f") differently from build"
done
pass "split of the joined file writes the same parts and list as build --split-size"
expect_fail "a part size too small for a chunk is refused" 2 "is too small" \
    "$FERRY_BUNDLER" split -q "$W/$N" --size 1M --out-dir "$SCRATCH"

# --- verify, inspect and plan read the parts in sequence -------------------------------------

expect_ok "verify reads the parts from their folder" "$FERRY_APPLIER" verify -q "$P" --trust "$TRUST" --json
expect_json "the same verdict as the single file" \
    "j['result'] == 'verified' and j['chunks'] == json.load(open('$SCRATCH/whole.json'))['chunks'] and len(j['parts']) == $COUNT"
expect_ok "verify reads them from the first part" "$FERRY_APPLIER" verify -q "$P/$N.001" --trust "$TRUST"
expect_output "it says so" "read from $COUNT parts"
expect_ok "verify --quick checks every chunk without decompressing" "$FERRY_APPLIER" verify -q --quick "$P" --trust "$TRUST"
expect_output "quick says what it checked" "every chunk's hash matches (quick: nothing decompressed)"
expect_ok "verify --part checks part 3 alone" "$FERRY_APPLIER" verify -q "$P/$N.001" --part "$P/$N.003" --trust "$TRUST"
expect_output "it names the part and its chunks" "is part 3 of greeter 1.0.0"
expect_ok "verify --part checks the last part alone" "$FERRY_APPLIER" verify -q "$P/$N.001" --part "$P/$N.$LAST" --trust "$TRUST"
expect_output "the last part's number" "is part $((10#$LAST)) of greeter 1.0.0"
expect_ok "inspect names a middle part's bundle and number" "$FERRY_APPLIER" inspect "$P/$N.003" --json
expect_json "part 3 of $COUNT of greeter-1.0.0" "j['bundle'] == 'greeter-1.0.0' and j['number'] == 3 and j['of'] == $COUNT"
mkdir -p "$SCRATCH/alone"
cp "$P/$N.parts" "$SCRATCH/alone/" && ln "$P/$N.002" "$SCRATCH/alone/"
expect_ok "inspect of a part with only the parts list beside it" "$FERRY_APPLIER" inspect "$SCRATCH/alone/$N.002"
expect_output "it reads the list" "part number:      2 of $COUNT"
expect_fail "verify of a part other than the first names the first" 1 "give its first part" \
    "$FERRY_APPLIER" verify -q "$P/$N.002" --trust "$TRUST"
mkdir -p "$SCRATCH/lone"
ln "$P/$N.003" "$SCRATCH/lone/"
expect_fail "inspect of a lone middle part says what it is and what it needs" 1 \
    "$N.003 is part 3 of $N by its name alone: neither the first part nor the parts list is beside it" \
    "$FERRY_APPLIER" inspect "$SCRATCH/lone/$N.003"
grep -qF "hint: put $N.001 or $N.parts beside it" "$SCRATCH/err" && pass "its hint names the first part and the list" ||
    fail "lone part hint: $(cat "$SCRATCH/err")"
expect_ok "plan reads the parts" "$FERRY_APPLIER" plan "$P/$N.001" --trust "$TRUST" --root "$R" --state-dir "$SCRATCH/plan-state"

# An expired bundle, 9 MiB (three chunks) in 5 MiB parts: verify --quick refuses it as verify does.
mkdir "$TREE/small"
head -c $((9 << 20)) /dev/urandom >"$TREE/small/blob.bin"
variant greeter-1.0.0.yaml expired.yaml '
s["components"][0]["files"].append({"source": "small/blob.bin", "role": "doc", "dest": "/usr/share/doc/greeter/blob.bin"})
s["expires_in_days"] = 1'
XP=$SCRATCH/expired
mkdir -p "$XP"
SOURCE_DATE_EPOCH=$((SOURCE_DATE_EPOCH - 3 * 86400)) "$FERRY_BUNDLER" build -q "$TREE/expired.yaml" \
    --key "$KEYS/test-release-1.key" --out-dir "$XP" --split-size 5M >/dev/null 2>&1
[ -e "$XP/$N.003" ] && pass "the expired bundle is in 3 parts" || fail "expired bundle: $(ls "$XP")"
expect_fail "verify of the expired bundle's parts: refused" 4 "$XP: bundle greeter 1.0.0 expired at " \
    "$FERRY_APPLIER" verify -q "$XP" --trust "$TRUST"
expect_fail "verify --quick of the expired bundle's parts: refused the same" 4 "$XP: bundle greeter 1.0.0 expired at " \
    "$FERRY_APPLIER" verify -q --quick "$XP" --trust "$TRUST"

# 4G is one byte over FAT32's limit per file: split and build say so (the parts are written).
cat "$XP/$N".0* >"$SCRATCH/expired.ferry"
mkdir -p "$SCRATCH/fat32"
run "$FERRY_BUNDLER" split -q "$SCRATCH/expired.ferry" --size 4G --out-dir "$SCRATCH/fat32"
[ "$RC" -eq 0 ] && grep -qF "warning: --size 4G is 4294967296 bytes, over FAT32's limit of 4294967295 per file: leave --size out for FAT32 sticks" \
    "$SCRATCH/err" && pass "split --size 4G warns that its parts may not fit on FAT32" || fail "split --size 4G: exit $RC $(cat "$SCRATCH/err")"
run "$FERRY_BUNDLER" split -q "$SCRATCH/expired.ferry" --out-dir "$SCRATCH/fat32" --force
[ "$RC" -eq 0 ] && ! grep -q FAT32 "$SCRATCH/err" && pass "split with the default size: no warning" || fail "default size: exit $RC $(cat "$SCRATCH/err")"

# --- Each fault, named by verify, verify --part and stage; nothing of the bad part staged -----

# another bundle's second part, for "from another bundle"
head -c $(((PART_MIB + 8) << 20)) /dev/urandom >"$TREE/big/blob.bin"
mkdir -p "$SCRATCH/other"
"$FERRY_BUNDLER" build -q "$TREE/big.yaml" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH/other" --split-size "${PART_MIB}M" >/dev/null
rm "$TREE/big/blob.bin"

# faulty NAME SETUP: a folder $F with the parts linked, then SETUP run in it (on copies only).
faulty() {
    F=$SCRATCH/fault-$1
    mkdir -p "$F"
    ln "$P/$N".0* "$F/"
    (cd "$F" && eval "$2")
}
flip() { flip_byte "$1" "$2"; }
S=$SCRATCH/state-faults
stage() { "$FERRY_APPLIER" stage "$@" --trust "$TRUST" --root "$R" --state-dir "$S" -q; }
copy_of() { /usr/bin/python3 -c 'import glob,sys; print(glob.glob(sys.argv[1] + "/staged/*/bundle.ferry")[0])' "$S"; }
OFF3=$(/usr/bin/python3 -c 'import sys; [print(l.split()[4]) for l in open(sys.argv[1]) if l.startswith("# part 3 ")]' "$P/$N.parts")

# check_fault NAME MESSAGE STAGE-MESSAGE: verify and stage of $F refuse it, naming the part.
check_fault() {
    expect_fail "$1: verify names the part" 3 "$2" "$FERRY_APPLIER" verify -q "$F" --trust "$TRUST"
    if [ -n "$3" ]; then
        expect_fail "$1: stage names the part" 3 "$3" stage "$F"
        run "$FERRY_APPLIER" status --state-dir "$S" --json
        expect_json "$1: status still lists part 3 as missing" "j['staged'][0]['missing'].startswith('parts 3,')"
        /usr/bin/python3 - "$(copy_of)" "$OFF3" $((PART_MIB << 20)) <<'EOF' && pass "$1: nothing of the bad part is in the staged copy" || fail "$1: data of the bad part was kept"
import sys
f = open(sys.argv[1], "rb"); f.seek(int(sys.argv[2])); data = f.read(int(sys.argv[3]))
sys.exit(0 if data.count(0) == len(data) else 1)
EOF
    fi
}

faulty missing 'rm $N.003'
check_fault "missing part" "part 3 ($N.003) is missing" ""
expect_fail "missing part: plan names it" 3 "part 3 ($N.003) is missing" \
    "$FERRY_APPLIER" plan "$F" --trust "$TRUST" --root "$R" --state-dir "$SCRATCH/plan-state"
run "$FERRY_APPLIER" inspect "$F" --trust "$TRUST"
expect_output "missing part: inspect names it" "not all in place: part 3 ($N.003) is missing"
# Staging what is there is not a fault: the parts present are staged, the missing one named.
run "$FERRY_APPLIER" stage "$F" --trust "$TRUST" --root "$R" --state-dir "$SCRATCH/state-missing"
[ "$RC" -eq 0 ] && grep -qF "still missing: part 3 of $COUNT" "$SCRATCH/out" &&
    pass "missing part: stage stages the others and names it" || fail "missing part: stage: exit $RC $(cat "$SCRATCH/out" "$SCRATCH/err")"
faulty damaged-head 'rm $N.003; cp '"$P/$N.003"' .; flip $N.003 100'
check_fault "first chunk damaged" "$N.003 is damaged: its first chunk, payload chunk" "$N.003 is damaged: its first chunk"
expect_fail "first chunk damaged: plan names the part" 3 "$N.003 is damaged: its first chunk, payload chunk" \
    "$FERRY_APPLIER" plan "$F" --trust "$TRUST" --root "$R" --state-dir "$SCRATCH/plan-state"
run "$FERRY_APPLIER" inspect "$F" --trust "$TRUST"
expect_output "first chunk damaged: inspect names the part" "not all in place: $N.003 is damaged: its first chunk, payload chunk"
faulty damaged 'rm $N.003; cp '"$P/$N.003"' .; flip $N.003 $((3 * CHUNK + 77))'
check_fault "chunk inside the part damaged" "$N.003 is damaged: payload.tar.zst chunk" "$N.003 is damaged: payload chunk"
expect_fail "damaged: verify --quick names the part" 3 "$N.003 is damaged" "$FERRY_APPLIER" verify -q --quick "$F" --trust "$TRUST"
expect_fail "damaged: plan names the part and the chunk" 3 "$N.003 is damaged: payload.tar.zst chunk" \
    "$FERRY_APPLIER" plan "$F" --trust "$TRUST" --root "$R" --state-dir "$SCRATCH/plan-state"
expect_fail "damaged: verify --part names the chunk" 3 "$N.003 is damaged: payload chunk" \
    "$FERRY_APPLIER" verify -q "$F/$N.001" --part "$F/$N.003" --trust "$TRUST"
faulty duplicated 'rm $N.003; cp $N.002 $N.003'
check_fault "duplicated part" "$N.003 is a duplicate" "$N.003 is a duplicate"
faulty truncated 'rm $N.003; head -c $(((PART_MIB << 19) + 1000)) '"$P/$N.003"' >$N.003'
check_fault "truncated part" "$N.003 is truncated" "$N.003 is truncated"
faulty other 'rm $N.003; cp '"$SCRATCH/other/$N.002"' $N.003'
check_fault "part of another bundle" "$N.003 is not a part of this bundle" "$N.003 is not a part of this bundle"
faulty swapped 'rm $N.003 $N.004; ln '"$P/$N.003"' $N.004; ln '"$P/$N.004"' $N.003'
check_fault "parts out of order" "$N.003 is out of order" "$N.003 is out of order"

# --- Staging from three media in shuffled order ------------------------------------------------

S=$SCRATCH/state
for m in 1 2 3; do mkdir -p "$SCRATCH/usb$m"; done
ln "$P/$N.003" "$SCRATCH/usb1/"
ln "$P/$N.001" "$P/$N.$LAST" "$SCRATCH/usb2/"
for f in "$P/$N".0*; do
    [ -e "$SCRATCH/usb1/$(basename "$f")" ] || [ -e "$SCRATCH/usb2/$(basename "$f")" ] || ln "$f" "$SCRATCH/usb3/"
done
expect_fail "a part before the first is refused, naming the first" 1 "stage the bundle's first part ($N.001) first" \
    stage "$SCRATCH/usb1/$N.003"
run stage "$SCRATCH/usb2/$N.001" --json
expect_json "the second stick: the first and last parts staged, the rest missing" \
    "j['result'] == 'partial' and j['parts_staged'] == [1, $((10#$LAST))] and j['missing'].startswith('parts 2, 3')"
run "$FERRY_APPLIER" status --state-dir "$S"
expect_output "status shows which parts are still missing" "incomplete: still missing parts 2, 3"
run stage "$SCRATCH/usb1/$N.003" --json
expect_json "the first stick: part 3" "j['result'] == 'partial' and j['parts_staged'] == [3] and '3' not in j['missing'].split('(')[0]"
run stage "$SCRATCH/usb3" --json
expect_json "the third stick: the rest, then the copy verified" "j['result'] == 'staged' and j['missing'] == ''"
cmp -s "$(copy_of)" "$W/$N" && pass "the staged copy is byte for byte the bundle" || fail "the staged copy differs"
run stage "$SCRATCH/usb1/$N.003" --json
expect_json "a part staged again: already staged" "j['result'] == 'already_staged'"
run "$FERRY_APPLIER" apply "$SCRATCH/usb2/$N.001" --trust "$TRUST" --root "$R" --state-dir "$S" -q
expect_output "apply from the first part uses the staged copy" "applied from the copy staged before"

# --- Killed in the middle of a part, resumed ---------------------------------------------------

S=$SCRATCH/state-kill
mkdir -p "$SCRATCH/root-kill"
FIRST_CHUNKS=$(/usr/bin/python3 -c 'import sys; [print(l.split()[-1].split("-")[1]) for l in open(sys.argv[1]) if l.startswith("# part 1 ")]' "$P/$N.parts")
KILL_AT=$((FIRST_CHUNKS + 2))
run env FERRY_TEST_CRASH_AT=stage:chunk:$KILL_AT "$FERRY_APPLIER" stage "$P" --trust "$TRUST" --root "$SCRATCH/root-kill" --state-dir "$S" -q
[ "$RC" -eq 137 ] && pass "stage killed in part 2, at chunk $KILL_AT" || fail "stage was not killed: exit $RC $(cat "$SCRATCH/err")"
run stage "$P" --json
expect_json "stage again finishes, the chunks of part 2 already copied not read again" \
    "j['result'] == 'staged' and j['resumed_at_chunk'] == 2 and j['parts_staged'][0] == 2 and j['parts_already_staged'] == [1]"
expect_json "it read the rest only" "j['media_bytes'] < $(stat -c %s "$W/$N") - $FIRST_CHUNKS * $CHUNK - 2 * $CHUNK + $CHUNK"
cmp -s "$(copy_of)" "$W/$N" && pass "the resumed copy is byte for byte the bundle" || fail "the resumed copy differs"
