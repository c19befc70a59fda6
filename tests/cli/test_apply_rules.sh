#!/usr/bin/env bash
# The single-node rules a careful operator relies on, each with the message, the exit code and
# the state left behind: "nothing to do" only for the very bundle installed, after a full
# verification; a rollback puts every declared path back and never undoes a committed run
# unless it is named, keeping the site's data first; paths work from any working directory;
# every hook runs at its point; Ctrl-C ends the hook it interrupts and says what to do next.
source "$(dirname "$0")/lib.sh"

GREETER_PORT=$((18900 + $$ % 90))
export GREETER_PORT
APPLIER_PID=""

cleanup() {
    local r
    [ -n "$APPLIER_PID" ] && kill -9 "$APPLIER_PID" 2>/dev/null
    stop_services
    for r in "${ROOTS[@]}"; do
        [ -f "$r/hook.pid" ] && kill -9 "$(cat "$r/hook.pid")" 2>/dev/null
    done
    return 0
}
trap 'rc=$?; set +e; cleanup; (exit $rc); finish' EXIT

apply() {
    local bundle=$1
    shift
    "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major "$@"
}

history_of() { "$FERRY_APPLIER" history --json --state-dir "$S" 2>&1 || true; }

# expect_same NAME BEFORE NOW: two pictures of the node agree.
expect_same() {
    if [ "$2" == "$3" ]; then
        pass "$1"
    else
        fail "$1: $(diff <(echo "$2") <(echo "$3") | head -8)"
    fi
}

# files_of DIR: every file below DIR with its hash, but for the service's log and pidfile.
files_of() { snapshot "$1" | { grep -vE ' \./(var/log|run)(/|$)' || true; }; }

# wait_for FILE: until FILE exists, at most 10 s.
wait_for() {
    local i
    for i in $(seq 100); do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

# gone PID: the process PID ends within 5 s.
gone() {
    local i
    for i in $(seq 50); do
        kill -0 "$1" 2>/dev/null || return 0
        sleep 0.1
    done
    return 1
}

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT

# --- 1. "Nothing to do" only for the installed manifest, after a full verification ------------

variant greeter-2.0.0.yaml other-product.yaml 's["compatible"]["product"] = "other"'
build other-product.yaml other-product && B_OTHER=$BUILT
variant greeter-2.0.0.yaml rebuilt.yaml 's["breaking_changes"].append("one more line in a second build")'
build rebuilt.yaml rebuilt && B_REBUILT=$BUILT
FLIPPED=$SCRATCH/bundles/flipped.ferry
cp "$B2" "$FLIPPED"
size=$(stat -c %s "$FLIPPED")
flip_byte "$FLIPPED" $((size - 4096))

site nothing
expect_ok "1: install 1.0.0" apply "$B1"
expect_ok "1: upgrade to 2.0.0" apply "$B2"
before_files=$(files_of "$R")
before_runs=$(history_of)
expect_fail "1: verify refuses the copy with a flipped payload byte" 3 "mismatch" \
    "$FERRY_APPLIER" verify "$FLIPPED" --trust "$TRUST"
expect_fail "1: apply refuses it too, instead of nothing to do" 3 "mismatch" apply "$FLIPPED"
expect_fail "1: a bundle of the same name, version and sequence for another product is refused" 4 \
    'bundle is for product "other", this site runs "greeter"' apply "$B_OTHER"
expect_fail "1: the same version from another manifest is refused" 4 \
    "greeter 2.0.0 (sequence 2) is installed from another manifest" apply "$B_REBUILT"
expect_same "1: the refusals changed no file" "$before_files" "$(files_of "$R")"
expect_same "1: the refusals added no run" "$before_runs" "$(history_of)"
run apply "$B2"
[ "$RC" -eq 0 ] && pass "1: the genuine bundle again: exit 0" || fail "1: genuine bundle again: exit $RC $(cat "$SCRATCH/err")"
expect_output "1: the genuine bundle again: nothing to do" "greeter 2.0.0 is already installed; nothing to do"
run "$FERRY_APPLIER" audit export --state-dir "$S"
expect_json "1: the audit log records the verification" \
    "any(r['action'] == 'verified' and 'nothing to do' in r['detail'] for r in j['records'])"
"$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true

# --- 2. A rollback restores every declared path; the backup is taken after the stop -------------

# The stop hook leaves what a service flushes when it stops; the new release changes the
# declared path /etc/greeter/ in its post_install hook, then fails its health check.
variant greeter-2.0.0.yaml paths.yaml '
s["procedure"]["hooks"]["stop"] = ["/bin/sh", "-c", "\"$1\"/usr/bin/greeterctl stop \"$1\" && echo flushed >>\"$1\"/etc/greeter/flushed-at-stop", "sh", "{root}"]
s["procedure"]["hooks"]["post_install"] = ["/bin/sh", "-c", "echo new >\"$1\"/etc/greeter/added-by-2.0.0; echo CHANGED=1 >>\"$1\"/etc/greeter/greeter.env", "sh", "{root}"]
s["procedure"]["health"][0]["retries"] = 0
s["procedure"]["health"][0]["command"] = ["/bin/false"]'
build paths.yaml paths && B_PATHS=$BUILT
site paths
expect_ok "2: install 1.0.0" apply "$B1"
echo "site-setting" >"$R/etc/greeter/local.conf"
before_etc=$(snapshot "$R/etc/greeter" | grep -v flushed-at-stop)
expect_fail "2: the release fails its health check and is rolled back" 5 "failed and was rolled back to 1.0.0" apply "$B_PATHS"
[ "$(cat "$R/etc/greeter/flushed-at-stop" 2>/dev/null)" == "flushed" ] &&
    pass "2: what the service wrote at its stop is in the backup, so it is kept" ||
    fail "2: flushed-at-stop: $(cat "$R/etc/greeter/flushed-at-stop" 2>&1)"
expect_same "2: /etc/greeter/ is byte for byte as before the run" "$before_etc" \
    "$(snapshot "$R/etc/greeter" | grep -v flushed-at-stop)"
expect_ok "2: 1.0.0 serves again" "$R/usr/bin/greeter" check --config "$R/etc/greeter/greeter.env" --expect-version 1.0.0
"$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true

# --- 3. A failed first install leaves no folder behind -----------------------------------------

variant greeter-1.0.0.yaml first-fails.yaml 's["procedure"]["hooks"]["start"] = ["/bin/false"]'
build first-fails.yaml first-fails && B_FIRST_FAILS=$BUILT
site first
expect_fail "3: a first install whose start fails is rolled back" 5 "(nothing installed)" apply "$B_FIRST_FAILS"
left=$(cd "$R" && find . -mindepth 1)
[ -z "$left" ] && pass "3: the root is empty again: no folder the install created is left" ||
    fail "3: left below the root: $(echo "$left" | head -5 | tr '\n' ' ')"

# --- 4. rollback never undoes a committed run unless it is named; the site's data is kept --------

site named
expect_ok "4: install 1.0.0" apply "$B1"
sqlite3 "$R/var/lib/greeter/greeter.db" "INSERT INTO greetings (text) VALUES ('written by the site');"
before_files=$(files_of "$R")
rows() { sqlite3 "$1" "SELECT COUNT(*) FROM greetings WHERE text = 'written by the site';" 2>&1; }
expect_fail "4: rollback with no interrupted run is refused" 2 "there is no interrupted run to roll back" \
    "$FERRY_APPLIER" rollback --root "$R" --state-dir "$S"
grep -qF 'hint: to undo run 1, which installed greeter 1.0.0, name it: `ferry-applier rollback --run 1`' "$SCRATCH/err" &&
    pass "4: the hint names the run and the command" || fail "4: hint: $(cat "$SCRATCH/err")"
expect_fail "4: a run that is not the installed one is refused" 2 "run 7 is not the run that installed what is here" \
    "$FERRY_APPLIER" rollback --run 7 --root "$R" --state-dir "$S"
expect_same "4: the refusals changed no file" "$before_files" "$(files_of "$R")"
[ "$(rows "$R/var/lib/greeter/greeter.db")" == 1 ] && pass "4: the site's row is still there" || fail "4: row gone"
run "$FERRY_APPLIER" rollback --run 1 --root "$R" --state-dir "$S"
[ "$RC" -eq 0 ] && pass "4: rollback --run 1 undoes the first install" || fail "4: rollback --run 1: exit $RC $(cat "$SCRATCH/err")"
grep -qF "undoing run 1 (apply of greeter 1.0.0, committed): back to nothing installed" "$SCRATCH/err" &&
    grep -qF "undo the migrations it applied to /var/lib/greeter/greeter.db" "$SCRATCH/err" &&
    pass "4: it says what it will undo before it does" || fail "4: no summary: $(cat "$SCRATCH/err")"
expect_output "4: the outcome names the kept copy" "are kept in $S/kept/before-rollback-of-run-1"
kept_db=$S/kept/before-rollback-of-run-1/sqlite/var/lib/greeter/greeter.db
[ "$(rows "$kept_db")" == 1 ] && pass "4: the database as the site left it is kept, with the site's row" ||
    fail "4: kept database: $(rows "$kept_db")"
[ -f "$S/kept/before-rollback-of-run-1/path/etc/greeter/greeter.env" ] &&
    pass "4: the declared path is kept too" || fail "4: kept: $(find "$S/kept" | head)"

# --- 5. Relative --root and --state-dir, then recovery from another working directory -----------

mkdir -p "$SCRATCH/rel/root"
ROOTS+=("$SCRATCH/rel/root")
(cd "$SCRATCH/rel" && "$FERRY_APPLIER" apply -q "$B1" --trust "$TRUST" --root root --state-dir state) >"$SCRATCH/out" 2>&1 &&
    (cd "$SCRATCH/rel" && "$FERRY_APPLIER" apply -q "$B2" --trust "$TRUST" --root ./root --state-dir state/ \
        --ack-breaking --allow-major) >"$SCRATCH/out" 2>&1 &&
    pass "5: 1.0.0 then 2.0.0 applied with a relative root and state folder" || fail "5: apply: $(cat "$SCRATCH/out")"
copies=$(sqlite3 "$SCRATCH/rel/state/state.db" "SELECT copy FROM backup_items WHERE copy != '' AND kind != 'ledger';")
if [ -n "$copies" ] && ! grep -qv '^/' <<<"$copies"; then
    pass "5: the backups are recorded by absolute path"
else
    fail "5: backups recorded as: $copies"
fi
grep -qF "FERRY_ROOT" "$SCRATCH/rel/root/etc/greeter/greeter.env" 2>/dev/null || true
run bash -c "cd / && '$FERRY_APPLIER' rollback --run 2 --root '$SCRATCH/rel/root' --state-dir '$SCRATCH/rel/state'"
[ "$RC" -eq 0 ] && pass "5: rollback from another folder succeeds" || fail "5: rollback from /: exit $RC $(cat "$SCRATCH/err")"
expect_ok "5: 1.0.0 serves again" "$SCRATCH/rel/root/usr/bin/greeter" check \
    --config "$SCRATCH/rel/root/etc/greeter/greeter.env" --expect-version 1.0.0
"$SCRATCH/rel/root/usr/bin/greeterctl" stop "$SCRATCH/rel/root" >/dev/null 2>&1 || true

# --- 6. resume and rollback never create a state folder ------------------------------------------

for cmd in rollback resume; do
    expect_fail "6: $cmd on a missing state folder is refused" 2 "no state database: nothing was ever applied here" \
        "$FERRY_APPLIER" "$cmd" --root "$SCRATCH" --state-dir "$SCRATCH/no-such-state"
    [ ! -e "$SCRATCH/no-such-state" ] && pass "6: $cmd created no folder" || fail "6: $cmd created $SCRATCH/no-such-state"
done

# --- 7. Ctrl-C or SIGTERM during a hook ends the hook's process group and says what to do ---------

variant greeter-2.0.0.yaml slow-hook.yaml '
s["procedure"]["hooks"]["pre_install"] = ["/bin/sh", "-c", "sleep 60 & echo $! >\"$1\"/hook.pid; wait", "sh", "{root}"]'
build slow-hook.yaml slow-hook && B_SLOW=$BUILT
for sig in INT TERM; do
    site "signal-$sig"
    expect_ok "7 ($sig): install 1.0.0" apply "$B1"
    set +e
    "$FERRY_APPLIER" apply "$B_SLOW" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major \
        >"$SCRATCH/out" 2>"$SCRATCH/err" &
    APPLIER_PID=$!
    set -e
    if wait_for "$R/hook.pid"; then
        kill -"$sig" "$APPLIER_PID"
        set +e
        wait "$APPLIER_PID"
        RC=$?
        set -e
        APPLIER_PID=""
        [ "$RC" -eq 7 ] && pass "7 ($sig): the applier exits 7 (interrupted)" || fail "7 ($sig): exit $RC $(cat "$SCRATCH/err")"
        grep -qF "interrupted by SIG$sig during the pre_install hook" "$SCRATCH/err" &&
            grep -qF "ferry-applier resume" "$SCRATCH/err" && grep -qF "ferry-applier rollback" "$SCRATCH/err" &&
            pass "7 ($sig): it says what stopped and the commands to run next" || fail "7 ($sig): stderr: $(cat "$SCRATCH/err")"
        gone "$(cat "$R/hook.pid")" && pass "7 ($sig): the hook's child is gone, not left to init" ||
            fail "7 ($sig): the hook's child $(cat "$R/hook.pid") still runs"
        run "$FERRY_APPLIER" history --json --state-dir "$S"
        expect_json "7 ($sig): the run is recorded as interrupted, waiting" "j['runs'][-1]['state'] == 'running'"
        journal=$(sqlite3 "$S/state.db" "SELECT step || ' ' || phase || ' ' || detail FROM journal WHERE run_id = 2 ORDER BY seq DESC LIMIT 1;")
        [ "$journal" == "pre_install interrupted SIG$sig" ] && pass "7 ($sig): the journal records the interruption" ||
            fail "7 ($sig): last journal entry: $journal"
        expect_ok "7 ($sig): rollback then undoes the run" "$FERRY_APPLIER" rollback --root "$R" --state-dir "$S"
        expect_ok "7 ($sig): 1.0.0 serves again" "$R/usr/bin/greeter" check --config "$R/etc/greeter/greeter.env" \
            --expect-version 1.0.0
    else
        fail "7 ($sig): the hook never started: $(cat "$SCRATCH/err")"
    fi
    "$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true
done

# --- 8. Hooks are echoed as a shell would need them; commands.log has a header per command ------

site echo
expect_ok "8: install 1.0.0" apply "$B1"
run "$FERRY_APPLIER" apply "$B_PATHS" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
grep -qF "post_install hook: /bin/sh -c 'echo new >\"\$1\"/etc/greeter/added-by-2.0.0; echo CHANGED=1 >>\"\$1\"/etc/greeter/greeter.env' sh $R" \
    "$SCRATCH/err" && pass "8: the hook is printed shell-quoted" || fail "8: hook line: $(grep hook "$SCRATCH/err")"
log=$(find "$S/runs" -name commands.log | head -1)
grep -qE '^--- [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z post_install hook: /bin/sh -c ' "$log" &&
    grep -qE '^--- [0-9T:Z-]+ health check running-2\.0\.0: exit code 1, after [0-9]+ ms$' "$log" &&
    pass "8: commands.log has a timed header and footer per command" || fail "8: commands.log: $(head -5 "$log")"
"$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true

# --- 9. prune removes old runs' backups, never the installed run's --------------------------------

site prune
expect_ok "9: install 1.0.0" apply "$B1"
for i in 1 2; do
    run apply "$B_PATHS"
    [ "$RC" -eq 5 ] && pass "9: failed run $i rolled back" || fail "9: failed run $i: exit $RC $(cat "$SCRATCH/err")"
done
[ "$(ls "$S/runs" | tr '\n' ' ')" == "1 2 3 " ] && pass "9: three run folders" || fail "9: runs: $(ls "$S/runs")"
run "$FERRY_APPLIER" prune --keep 1 --state-dir "$S" --root "$R"
[ "$RC" -eq 0 ] && pass "9: prune --keep 1" || fail "9: prune: exit $RC $(cat "$SCRATCH/err")"
expect_output "9: prune names what it removed" "removed $S/runs/2"
[ "$(ls "$S/runs" | tr '\n' ' ')" == "1 3 " ] && pass "9: the installed run's and the newest other run's backups stay" ||
    fail "9: runs after prune: $(ls "$S/runs")"
run "$FERRY_APPLIER" prune --keep 0 --json --state-dir "$S" --root "$R"
expect_json "9: prune --keep 0 --json" "j['result'] == 'pruned' and j['removed'] == ['$S/runs/3']"
run "$FERRY_APPLIER" audit export --state-dir "$S"
expect_json "9: each prune is in the audit log" "sum(r['action'] == 'pruned' for r in j['records']) == 2"
expect_ok "9: rollback --run 1 still works after the prune" "$FERRY_APPLIER" rollback --run 1 --root "$R" --state-dir "$S"
