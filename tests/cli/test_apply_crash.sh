#!/usr/bin/env bash
# Crash safety of apply: the applier is killed with SIGKILL at every journaled point of a
# greeter 1.0.0 -> 2.0.0 upgrade (FERRY_TEST_CRASH_AT), and at random moments; each time the
# next invocation must report the interrupted run, and `resume` must then leave exactly the new
# state and `rollback` exactly the old one, with the service healthy on that version. Then the
# recovery itself is killed: a rollback (of the broken 2.1.0, of an interrupted run, of the
# committed 2.0.0) must be reported and finished by `rollback` again, and a killed resume by
# `resume` again.
#
# Every node lives at one path ($NODE), copied from a template before each case and saved and
# restored around the resume, because the state database records absolute paths. Cases run one
# after the other on one port, and the service is stopped before a node is copied or removed.
# CRASH_SEED=N repeats the random kills of an earlier run (the seed is printed); CRASH_KILLS=N
# makes N of them (5 by default, 2 in the sanitizer build).
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3
readonly APPLY_FLAGS=(--ack-breaking --allow-major -q)

GREETER_PORT=$((18300 + $$ % 200))
export GREETER_PORT
readonly NODE=$SCRATCH/node
readonly SAVED=$SCRATCH/saved
readonly STATE=$NODE/state ROOT=$NODE/root
readonly REF=$SCRATCH/ref
T0=$(date +%s)

# --- Setup -----------------------------------------------------------------------------------

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
TREE=$(sample_tree)
readonly GCTL=$TREE/scripts/greeterctl
mkdir "$SCRATCH/bundles" "$REF"
for spec in greeter-1.0.0 greeter-2.0.0 greeter-2.1.0-broken; do
    "$FERRY_BUNDLER" build -q "$TREE/$spec.yaml" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH/bundles" >/dev/null
done
readonly B1=$SCRATCH/bundles/greeter-1.0.0.ferry B2=$SCRATCH/bundles/greeter-2.0.0.ferry
readonly B21=$SCRATCH/bundles/greeter-2.1.0.ferry

# The service below $NODE is stopped whatever happens, then lib.sh reports.
cleanup() {
    local rc=$?
    set +e
    [ -d "$ROOT" ] && "$GCTL" stop "$ROOT" >/dev/null 2>&1
    (exit "$rc")
    finish
}
trap cleanup EXIT

# svc_stop / svc_start: the greeter below $ROOT (the sample's greeterctl, the one installed).
svc_stop() { "$GCTL" stop "$ROOT" >/dev/null 2>&1 || true; }
svc_start() { "$GCTL" start "$ROOT" >"$SCRATCH/svc.out" 2>&1; }
svc_running() { "$GCTL" status "$ROOT" >/dev/null 2>&1; }

# wait_hooks: until no hook or check the applier started for $ROOT still runs (a killed
# applier leaves them running in their own process groups), at most 15 s.
wait_hooks() {
    local i
    for i in $(seq 150); do
        if ! pgrep -af -- "$ROOT" | grep -v " serve --root " | grep -q .; then
            return 0
        fi
        sleep 0.1
    done
    echo "hooks for $ROOT still running: $(pgrep -af -- "$ROOT")" >&2
}

# node_from TEMPLATE: a fresh $NODE, a copy of TEMPLATE, with its service running.
node_from() {
    [ -d "$NODE" ] && svc_stop
    rm -rf "$NODE"
    cp -a "$1" "$NODE"
    svc_start || echo "greeterctl start failed: $(cat "$SCRATCH/svc.out")" >&2
}

# save_node / restore_node: keeps the node as it is now (services stopped for the copy, then
# started again if they ran), to put it back at the same path for a second outcome.
save_node() {
    WAS_RUNNING=0
    if svc_running; then
        WAS_RUNNING=1
        svc_stop
    fi
    rm -rf "$SAVED"
    cp -a "$NODE" "$SAVED"
    if [ "$WAS_RUNNING" = 1 ]; then
        svc_start || true
    fi
}
restore_node() {
    svc_stop
    rm -rf "$NODE"
    mv "$SAVED" "$NODE"
    if [ "$WAS_RUNNING" = 1 ]; then
        svc_start || true
    fi
}

# run_quiet CMD...: as run, without bash's "Killed" line when CMD dies of a signal.
run_quiet() {
    set +e
    { "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"; } 2>/dev/null
    RC=$?
    set -e
}

# apply_v2 [ENV...]: applies 2.0.0 to the node (env assignments before it, as for env). The
# shortest time a whole apply took is kept in APPLY_MS, to aim the random kills.
APPLY_MS=1500
apply_v2() {
    local start_ns ms
    start_ns=$(date +%s%N)
    run_quiet env "$@" "$FERRY_APPLIER" apply "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" "${APPLY_FLAGS[@]}"
    ms=$((($(date +%s%N) - start_ns) / 1000000))
    if [ "$RC" -eq 0 ] && [ "$ms" -lt "$APPLY_MS" ]; then
        APPLY_MS=$ms
    fi
}

# --- Fingerprints ----------------------------------------------------------------------------

# fp_files: type, mode and sha256 of everything below $ROOT but the service's volatile files
# (its log, pidfile and live database, which fp_db compares by content).
fp_files() {
    local skip='\./(var/log|run)(/.*)?|\./var/lib/greeter/greeter\.db(-wal|-shm|-journal)?'
    (cd "$ROOT" && find . -mindepth 1 -regextype posix-extended ! -regex "$skip" -printf '%y %m %p\n' | sort &&
        find . -type f -regextype posix-extended ! -regex "$skip" -exec sha256sum {} + | sort -k2)
}

# fp_db: the database's logical content (created_at timestamps left out).
fp_db() {
    local db=$ROOT/var/lib/greeter/greeter.db
    if [ ! -f "$db" ]; then
        echo "no database"
        return
    fi
    sqlite3 "$db" 'PRAGMA integrity_check; PRAGMA user_version; SELECT id, checksum FROM ferry_migrations ORDER BY id;
        SELECT COUNT(*) FROM greetings; SELECT sql FROM sqlite_master ORDER BY name;' 2>&1
}

# fp_state: what the applier says is installed, whether a run is interrupted, and what it would
# do with 2.0.0 from here (which depends on its record of every installed file).
fp_state() {
    "$FERRY_APPLIER" status --state-dir "$STATE" --json 2>&1 | "$PY" -c 'import json, sys
j = json.load(sys.stdin)
print("installed:", j["installed"] and (j["installed"]["bundle"], j["installed"]["version"], j["installed"]["sequence"]))
print("interrupted:", j["interrupted"] and j["interrupted"]["run"])' 2>&1
    "$FERRY_APPLIER" plan "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" --json --ack-breaking --allow-major 2>&1 |
        "$PY" -c 'import json, sys
j = json.load(sys.stdin)
print("plan:", j["from"], j["to"], j["already_installed"], j["ok"], j["refusals"])
for f in j["files"]: print("  ", f["action"], f["dest"], f["note"])
print("  pending:", j["pending_migrations"])
print("  backups:", j["backups"])' 2>&1
}

# record_state NAME: the node's fingerprints into $REF/NAME.*.
record_state() {
    fp_files >"$REF/$1.files"
    fp_db >"$REF/$1.db"
    fp_state >"$REF/$1.state"
}

# expect_state LABEL NAME VERSION [as-left]: the node is exactly reference state NAME, its audit
# log is intact, the service answers as VERSION and, unless as-left (straight after a crash, before
# any recovery), no run's staging folder is left behind.
expect_state() {
    local label=$1 name=$2 version=$3 as_left=${4:-} part left
    fp_files >"$SCRATCH/now.files"
    fp_db >"$SCRATCH/now.db"
    fp_state >"$SCRATCH/now.state"
    for part in files db state; do
        if cmp -s "$REF/$name.$part" "$SCRATCH/now.$part"; then
            pass "$label: $part as in the $name state"
        else
            fail "$label: $part differ from the $name state: $(diff "$REF/$name.$part" "$SCRATCH/now.$part" | head -8 | tr '\n' '|')"
        fi
    done
    expect_ok "$label: audit verify" "$FERRY_APPLIER" audit verify --state-dir "$STATE"
    expect_ok "$label: greeter $version healthy" "$ROOT/usr/bin/greeter" check --config "$ROOT/etc/greeter/greeter.env" \
        --expect-version "$version" --timeout 2
    if [ -z "$as_left" ]; then
        left=$(cd "$STATE" && find runs -mindepth 2 -maxdepth 2 -name staging 2>/dev/null)
        if [ -z "$left" ]; then
            pass "$label: no staging folder left"
        else
            fail "$label: staging folder left behind: $STATE/$left ($(du -sh "$STATE/$left" | cut -f1))"
        fi
    fi
}

# expect_code LABEL CODE: the last command exited with CODE.
expect_code() {
    if [ "$RC" -eq "$2" ]; then
        pass "$1"
    else
        fail "$1: expected exit $2, got $RC; stdout: $(cat "$SCRATCH/out") stderr: $(tail -5 "$SCRATCH/err")"
    fi
}

# expect_last_run LABEL STATE: `history --json` gives the last run as STATE.
expect_last_run() {
    run "$FERRY_APPLIER" history --state-dir "$STATE" --json
    local got
    got=$("$PY" -c 'import json, sys; print(json.load(open(sys.argv[1]))["runs"][-1]["state"])' "$SCRATCH/out" 2>&1)
    if [ "$got" == "$2" ]; then
        pass "$1: history shows the run $2"
    else
        fail "$1: history shows the last run as \"$got\", expected \"$2\""
    fi
}

# --- Reference states ------------------------------------------------------------------------

mkdir -p "$ROOT"
expect_ok "setup: apply 1.0.0 to a fresh root" "$FERRY_APPLIER" apply "$B1" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" -q
svc_stop
record_state old
readonly TPL1=$SCRATCH/template-1.0.0
cp -a "$NODE" "$TPL1"
node_from "$TPL1"
expect_ok "setup: greeter 1.0.0 runs" "$ROOT/usr/bin/greeter" check --config "$ROOT/etc/greeter/greeter.env" --expect-version 1.0.0

apply_v2
expect_code "setup: apply 2.0.0 over 1.0.0" 0
record_state new
expect_ok "setup: greeter 2.0.0 healthy" "$ROOT/usr/bin/greeter" check --config "$ROOT/etc/greeter/greeter.env" --expect-version 2.0.0
expect_ok "setup: audit verify" "$FERRY_APPLIER" audit verify --state-dir "$STATE"
svc_stop
readonly TPL2=$SCRATCH/template-2.0.0
cp -a "$NODE" "$TPL2"
if grep -qF "installed: ('greeter', '1.0.0', 1)" "$REF/old.state" && grep -qF "installed: ('greeter', '2.0.0', 2)" "$REF/new.state"; then
    pass "setup: reference states record 1.0.0 and 2.0.0"
else
    fail "setup: reference states: $(cat "$REF/old.state" "$REF/new.state")"
fi
FILE_ACTIONS=$(grep -c '^   ' "$REF/old.state" || true)
# The plan's file actions in the order apply takes them: "ACTION DEST".
mapfile -t ITEM_ACTIONS < <(grep '^   ' "$REF/old.state" | awk '{print $1, $2}')
ITEM_DESTS=()
for a in "${ITEM_ACTIONS[@]}"; do
    ITEM_DESTS+=("${a#* }")
done
if cmp -s "$REF/old.files" "$REF/new.files" || cmp -s "$REF/old.db" "$REF/new.db"; then
    fail "setup: the old and new references do not differ: the comparisons would prove nothing"
fi

# --- A crash at every journaled point --------------------------------------------------------

# crash_case POINT: kills apply at POINT, then checks the report, resume and rollback. Sets
# CRASHED=0 when the apply ran to the end instead (POINT does not exist). POINT "STEP:end" is a
# kill after STEP's work but before its "done" reaches the journal: the kill is at STEP:done,
# and the journal's "done" row is deleted again (the one place this test edits the state).
# POINT "install:item:K:mid" is a kill while file action K writes its file: the kill is after
# action K-1, and what action K would have left is put in place, a part of the file in the temp
# file beside it (".NAME.ferry-tmp", as RootFs writes it before the rename).
crash_case() {
    local p=$1 at=$1 unjournal='' temp=
    if [[ "$p" == *:end ]]; then
        unjournal=${p%:end}
        at=$unjournal:done
    elif [[ "$p" == install:item:*:mid ]]; then
        local k=${p#install:item:}
        k=${k%:mid}
        at=install:item:$((k - 1))
        [ "$k" -eq 1 ] && at=install:begin
        local dest=${ITEM_DESTS[$((k - 1))]}
        temp=$ROOT$(dirname "$dest")/.$(basename "$dest").ferry-tmp
    fi
    node_from "$TPL1"
    apply_v2 FERRY_TEST_CRASH_AT="$at"
    if [ "$RC" -eq 0 ]; then
        CRASHED=0
        pass "$p: not reached; the apply completed"
        expect_state "$p (not reached)" new 2.0.0
        return
    fi
    CRASHED=1
    expect_code "$p: apply killed by SIGKILL" 137
    wait_hooks
    if [ -n "$unjournal" ]; then
        local deleted
        deleted=$(sqlite3 "$STATE/state.db" "DELETE FROM journal WHERE run_id = 2 AND step = '$unjournal' AND phase = 'done';
            SELECT changes();" 2>&1)
        [ "$deleted" == 1 ] || fail "$p: removing the journal's \"$unjournal done\" row: $deleted"
    fi
    if [ -n "$temp" ]; then
        echo "partial" >"$temp"
    fi

    local committed=0
    [ "$p" == commit:done ] && committed=1
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    if [ "$committed" = 1 ]; then
        if grep -q INTERRUPTED "$SCRATCH/out"; then
            fail "$p: status reports an interrupted run after the commit: $(cat "$SCRATCH/out")"
        else
            pass "$p: status reports no interrupted run (committed)"
        fi
        expect_state "$p: as left" new 2.0.0 as-left
        run "$FERRY_APPLIER" apply "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" "${APPLY_FLAGS[@]}"
        expect_code "$p: apply again: nothing to do" 0
        expect_output "$p: apply again: already installed" "greeter 2.0.0 is already installed"
    else
        expect_code "$p: status" 7
        expect_output "$p: status shows INTERRUPTED" "INTERRUPTED: run 2, apply of greeter 2.0.0"
        fp_files >"$SCRATCH/before.files"
        expect_fail "$p: apply again is refused" 4 "was interrupted" \
            "$FERRY_APPLIER" apply "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" "${APPLY_FLAGS[@]}"
        if fp_files | cmp -s "$SCRATCH/before.files" -; then
            pass "$p: the refused apply changed no file"
        else
            fail "$p: the refused apply changed files: $(fp_files | diff "$SCRATCH/before.files" - | head -5)"
        fi
    fi

    save_node

    # resume -> the new state (or, if staging never finished, nothing done and the old state).
    run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    if [ "$committed" = 1 ]; then
        expect_code "$p: resume: nothing to resume (exit 2)" 2
        # A crash between the commit and the removal of the staging folder leaves it behind;
        # resume (with nothing to resume) removes it, as apply and rollback do.
        expect_state "$p: after resume" new 2.0.0
    elif grep -qF "discarded" "$SCRATCH/out" && [ "$RC" -eq 0 ]; then
        if [ "$p" == stage:begin ] || [ "$p" == stage:end ]; then
            pass "$p: resume discards the run interrupted while staging"
        else
            fail "$p: resume discarded a run that had finished staging: $(cat "$SCRATCH/out")"
        fi
        expect_last_run "$p: resume" failed
        expect_state "$p: after resume (discarded)" old 1.0.0
        apply_v2
        expect_code "$p: a fresh apply after the discard succeeds" 0
        expect_state "$p: after the fresh apply" new 2.0.0
    else
        expect_code "$p: resume succeeds" 0
        expect_output "$p: resume reports the run finished" "resumed greeter 2.0.0 (was 1.0.0) (run 2)"
        expect_last_run "$p: resume" committed
        expect_state "$p: after resume" new 2.0.0
    fi

    # rollback on the same crash -> the old state (a committed run only when named).
    restore_node
    local named=()
    [ "$committed" = 1 ] && named=(--run 2)
    run "$FERRY_APPLIER" rollback "${named[@]}" --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$p: rollback succeeds" 0
    expect_output "$p: rollback reports it" "rolled back greeter 2.0.0 to 1.0.0"
    expect_last_run "$p: rollback" rolled_back
    expect_state "$p: after rollback" old 1.0.0
}

for p in stage:begin stage:done stop:begin stop:done backup:begin backup:done pre_install:begin pre_install:done \
    install:begin; do
    crash_case "$p"
done
N=0
for i in $(seq 20); do
    crash_case "install:item:$i"
    if [ "$CRASHED" = 0 ]; then
        break
    fi
    N=$i
done
if [ "$N" -eq "$FILE_ACTIONS" ] && [ "$N" -gt 0 ]; then
    pass "install:item:1..$N: one crash point per file action of the plan ($FILE_ACTIONS)"
else
    fail "install:item: $N crash points, but the plan lists $FILE_ACTIONS file actions"
fi
for p in install:done migrate:begin migrate:item:0002_add_language migrate:done images:begin images:done \
    post_install:begin post_install:done start:begin start:done health:begin health:done commit:begin commit:done; do
    crash_case "$p"
done

# Killed while a file action writes its file (not for "unchanged", which writes nothing).
# Rollback removes the temp file a killed install left beside a file, new or replaced.
for k in $(seq "$N"); do
    if [[ "${ITEM_ACTIONS[$((k - 1))]}" != unchanged* ]]; then
        crash_case "install:item:$k:mid"
    fi
done

# Killed at the last instant of each step (commit's end is its transaction: commit:done above).
# A step killed just before its end was journaled runs again on resume: the backup is taken
# again from scratch, over the partial copy the killed run made.
for p in stage:end stop:end backup:end pre_install:end install:end migrate:end images:end post_install:end start:end \
    health:end; do
    crash_case "$p"
done

# --- Random kills ----------------------------------------------------------------------------

SEED=${CRASH_SEED:-$(date +%s)}
RANDOM=$SEED
# Within the shortest apply seen above, so that the kills land inside one.
WINDOW=$APPLY_MS
[ "$WINDOW" -lt 50 ] && WINDOW=50
[ "$WINDOW" -gt 1500 ] && WINDOW=1500
echo "random kills: CRASH_SEED=$SEED, delays within 5..$WINDOW ms (the shortest apply took $APPLY_MS ms)"

# The sanitizer build runs the journaled points above in full, and fewer random kills.
default_kills=5
[ "${FERRY_SANITIZE:-}" == "ON" ] && default_kills=2
for k in $(seq "${CRASH_KILLS:-$default_kills}"); do
    delay=$((5 + RANDOM % WINDOW))
    label="random kill $k (${delay} ms, CRASH_SEED=$SEED)"
    node_from "$TPL1"
    set +e
    "$FERRY_APPLIER" apply "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" "${APPLY_FLAGS[@]}" \
        >"$SCRATCH/out" 2>"$SCRATCH/err" &
    pid=$!
    sleep "$(printf '%d.%03d' $((delay / 1000)) $((delay % 1000)))"
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null
    RC=$?
    set -e
    wait_hooks
    if [ "$RC" -eq 0 ]; then
        pass "$label: the apply finished before the kill"
        expect_state "$label: as left" new 2.0.0
        continue
    fi
    expect_code "$label: apply killed" 137
    run "$FERRY_APPLIER" status --state-dir "$STATE" --json
    where=$("$PY" -c 'import json, sys
j = json.load(open(sys.argv[1]))
print("interrupted" if j["interrupted"] else ("none" if not j["installed"] else j["installed"]["version"]))' "$SCRATCH/out" 2>&1)
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    echo "     $label: left $where$(grep -E '^  [0-9]{4}-' "$SCRATCH/out" | tail -1 | tr -s ' ' | sed 's/^ [^ ]* / after /;s/ $//')"
    save_node
    case $where in
    interrupted)
        run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
        wait_hooks
        expect_code "$label: resume succeeds" 0
        if grep -qF discarded "$SCRATCH/out"; then
            expect_state "$label: after resume (discarded)" old 1.0.0
            apply_v2
            expect_code "$label: a fresh apply after the discard succeeds" 0
        fi
        expect_state "$label: after resume" new 2.0.0
        ;;
    1.0.0)
        pass "$label: killed before a run began"
        expect_state "$label: as left" old 1.0.0
        ;;
    2.0.0)
        pass "$label: killed after the commit"
        expect_state "$label: as left" new 2.0.0 as-left
        run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
        expect_code "$label: resume: nothing to resume (exit 2)" 2
        # As at commit:done, resume removes the staging folder left behind.
        expect_state "$label: after resume" new 2.0.0
        ;;
    *)
        fail "$label: status: $where"
        ;;
    esac
    restore_node
    if [ "$where" != 1.0.0 ]; then
        named=()
        [ "$where" == 2.0.0 ] && named=(--run 2)
        run "$FERRY_APPLIER" rollback "${named[@]}" --root "$ROOT" --state-dir "$STATE"
        wait_hooks
        expect_code "$label: rollback succeeds" 0
        expect_state "$label: after rollback" old 1.0.0
    fi
done

# --- A crash during a rollback ---------------------------------------------------------------

readonly ROLLBACK_POINTS=(rollback:stop:begin rollback:migrations:begin rollback:files:begin rollback:start:begin
    rollback:health:begin)

# expect_new_or_old LABEL: the node is exactly the old or exactly the new state (whichever its
# record says is installed), healthy on that version.
expect_new_or_old() {
    local version
    version=$("$FERRY_APPLIER" status --state-dir "$STATE" --json 2>/dev/null | "$PY" -c 'import json, sys
j = json.load(sys.stdin); print(j["installed"]["version"] if j["installed"] else "none")' 2>&1)
    echo "     $1: ended on $version"
    case $version in
    1.0.0) expect_state "$1" old 1.0.0 ;;
    2.0.0) expect_state "$1" new 2.0.0 ;;
    *) fail "$1: ended on \"$version\", neither the old nor the new state" ;;
    esac
}

# The broken 2.1.0 fails its health check, so apply rolls back to 2.0.0; the applier is killed
# at each step of that rollback, and `rollback` then finishes it.
for p in "${ROLLBACK_POINTS[@]}"; do
    label="2.1.0 killed at $p"
    node_from "$TPL2"
    run_quiet env FERRY_TEST_CRASH_AT="$p" "$FERRY_APPLIER" apply "$B21" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" -q
    expect_code "$label: apply of the broken 2.1.0 killed in its rollback" 137
    wait_hooks
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    expect_output "$label: status shows INTERRUPTED" "INTERRUPTED: run 3, apply of greeter 2.1.0"
    expect_fail "$label: apply is refused" 4 "was interrupted" \
        "$FERRY_APPLIER" apply "$B21" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" -q
    [ "$p" == rollback:files:begin ] && save_node
    run "$FERRY_APPLIER" rollback --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$label: rollback succeeds" 0
    expect_output "$label: rollback reports it" "rolled back greeter 2.1.0 to 2.0.0"
    expect_last_run "$label: rollback" rolled_back
    expect_state "$label: after rollback" new 2.0.0
    if [ "$p" == rollback:files:begin ]; then
        # resume instead: 2.1.0 can never pass its health check, so it must end rolled back.
        restore_node
        run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
        wait_hooks
        expect_code "$label: resume fails and rolls back (exit 5)" 5
        expect_state "$label: after resume" new 2.0.0
    fi
done

# A rollback of an interrupted run, itself killed part-way (after a crash at install:item:3):
# status still reports the run, `rollback` finishes it, and `resume` ends in one of the states.
for p in "${ROLLBACK_POINTS[@]}"; do
    label="rollback of run 2 killed at $p"
    node_from "$TPL1"
    apply_v2 FERRY_TEST_CRASH_AT=install:item:3
    expect_code "$label: the apply was killed at install:item:3" 137
    wait_hooks
    run_quiet env FERRY_TEST_CRASH_AT="$p" "$FERRY_APPLIER" rollback --root "$ROOT" --state-dir "$STATE"
    expect_code "$label: killed" 137
    wait_hooks
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    expect_output "$label: status shows INTERRUPTED" "INTERRUPTED: run 2"
    save_node
    run "$FERRY_APPLIER" rollback --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$label: rollback again succeeds" 0
    expect_state "$label: after the second rollback" old 1.0.0
    restore_node
    run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    # The killed rollback had started 1.0.0 again: resume stops the service before it installs
    # 2.0.0 and migrates, so the upgrade finishes.
    expect_code "$label: resume succeeds" 0
    expect_new_or_old "$label: after resume"
done

# `rollback` of the committed 2.0.0 (no interrupted run), killed part-way: the node is between
# versions, so the next invocation must report it, and `rollback` again must finish it.
for p in "${ROLLBACK_POINTS[@]}" rollback:keep:begin; do
    label="rollback of committed 2.0.0 killed at $p"
    node_from "$TPL2"
    run_quiet env FERRY_TEST_CRASH_AT="$p" "$FERRY_APPLIER" rollback --run 2 --root "$ROOT" --state-dir "$STATE"
    expect_code "$label: killed" 137
    wait_hooks
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    # A rollback on request counts as an interrupted run until it ends: status says so.
    expect_output "$label: status shows INTERRUPTED" "INTERRUPTED"
    # For the same reason apply refuses to start on the half rolled-back node.
    expect_fail "$label: apply is refused" 4 "was interrupted" \
        "$FERRY_APPLIER" apply "$B2" --trust "$TRUST" --root "$ROOT" --state-dir "$STATE" "${APPLY_FLAGS[@]}"
    run "$FERRY_APPLIER" rollback --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$label: rollback again succeeds" 0
    expect_output "$label: rollback reports it" "rolled back greeter 2.0.0 to 1.0.0"
    expect_state "$label: after the second rollback" old 1.0.0
done

# --- A crash during a resume -----------------------------------------------------------------

for p in install:item:2 migrate:item:0002_add_language health:begin commit:begin; do
    label="resume killed at $p"
    node_from "$TPL1"
    apply_v2 FERRY_TEST_CRASH_AT=install:item:3
    expect_code "$label: the apply was killed at install:item:3" 137
    wait_hooks
    run_quiet env FERRY_TEST_CRASH_AT="$p" "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
    expect_code "$label: killed" 137
    wait_hooks
    run "$FERRY_APPLIER" status --state-dir "$STATE"
    expect_output "$label: status shows INTERRUPTED" "INTERRUPTED: run 2, apply of greeter 2.0.0"
    save_node
    run "$FERRY_APPLIER" resume --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$label: resume again succeeds" 0
    expect_state "$label: after the second resume" new 2.0.0
    restore_node
    run "$FERRY_APPLIER" rollback --root "$ROOT" --state-dir "$STATE"
    wait_hooks
    expect_code "$label: rollback succeeds" 0
    expect_state "$label: after rollback" old 1.0.0
done

svc_stop
echo "runtime: $(($(date +%s) - T0)) s"
