#!/usr/bin/env bash
# Faults during `ferry-applier apply`: failing hooks and checks, a migration that breaks halfway,
# a full disk, a read-only target, policy refusals, a held lock, a damaged state database and a
# site-edited configuration. For each: the message the user sees, the exit code, and what is
# left behind (installed files, the service's database, the state database, the service).
# Runs as root for the tmpfs and bind mounts; without root those two cases are skipped.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

# One port for every greeter this test starts; only one runs at a time.
GREETER_PORT=$((18600 + $$ % 300))
export GREETER_PORT

MOUNTS=()  # every mount point, unmounted at exit in reverse order
LOCK_HOLDER=""

cleanup() {
    local i
    if [ -n "$LOCK_HOLDER" ]; then
        kill "$LOCK_HOLDER" 2>/dev/null || true
        wait "$LOCK_HOLDER" 2>/dev/null || true
    fi
    stop_services
    for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
        umount "${MOUNTS[i]}" 2>/dev/null || umount -l "${MOUNTS[i]}" 2>/dev/null || true
    done
}
trap 'rc=$?; set +e; cleanup; (exit $rc); finish' EXIT

# --- Helpers ---------------------------------------------------------------------------------

# skip NAME REASON: a case that cannot run here (not root); counted neither passed nor failed.
skip() { echo "skip - $1 (${2%%$'\n'*})"; }

# apply BUNDLE ARGS...: ferry-applier apply on the current site, quietly.
apply() {
    local bundle=$1
    shift
    "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S" "$@"
}

install_v1() { expect_ok "$1: install 1.0.0" apply "$B1"; }
install_v2() {
    install_v1 "$1"
    expect_ok "$1: upgrade to 2.0.0" apply "$B2" --ack-breaking --allow-major
}

stop_service() { "$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true; }

# root_snapshot: every file below R with its hash, but for the service's log, pidfile and the
# database file (compared by content with db_state instead).
root_snapshot() {
    snapshot "$R" | { grep -vE ' \./(var/log|run)/| \./var/lib/greeter/greeter\.db(-wal|-shm|-journal)?$' || true; }
}

# db_state: what the service's database holds: integrity, schema version, ledger, rows, schema.
db_state() {
    [ -f "$R/var/lib/greeter/greeter.db" ] || { echo "no database"; return; }
    sqlite3 "$R/var/lib/greeter/greeter.db" 'PRAGMA integrity_check; PRAGMA user_version;
        SELECT id FROM ferry_migrations ORDER BY id; SELECT COUNT(*) FROM greetings;' .schema 2>&1
}

# history_of: the state database's runs as JSON.
history_of() { "$FERRY_APPLIER" history --json --state-dir "$S" 2>&1 || true; }

# runs_of: the run folders kept in S/runs (backups of the last runs).
runs_of() { ls "$S/runs" 2>/dev/null || true; }

# remember: takes the before-picture of the current site.
remember() {
    BEFORE_RUNS=$(runs_of)
    BEFORE_ROOT=$(root_snapshot)
    BEFORE_DB=$(db_state)
    BEFORE_HISTORY=$(history_of)
}

# expect_root_unchanged NAME: no installed file changed, none added or left behind.
expect_root_unchanged() {
    local now
    now=$(root_snapshot)
    if [ "$now" == "$BEFORE_ROOT" ]; then
        pass "$1: installed files unchanged"
    else
        fail "$1: files below $R changed: $(diff <(echo "$BEFORE_ROOT") <(echo "$now") | head -8)"
    fi
}

# expect_db_unchanged NAME: the service's database holds what it held before.
expect_db_unchanged() {
    local now
    now=$(db_state)
    if [ "$now" == "$BEFORE_DB" ]; then
        pass "$1: service database unchanged"
    else
        fail "$1: service database changed: $(diff <(echo "$BEFORE_DB") <(echo "$now") | head -8)"
    fi
}

# expect_history_unchanged NAME: no run was added or changed.
expect_history_unchanged() {
    local now
    now=$(history_of)
    if [ "$now" == "$BEFORE_HISTORY" ]; then
        pass "$1: history unchanged"
    else
        fail "$1: history changed: $now"
    fi
    expect_no_new_run "$1"
}

# expect_state NAME VERSION: status says VERSION is installed and no run is interrupted, and
# the audit log is intact.
expect_state() {
    run "$FERRY_APPLIER" status --json --state-dir "$S"
    expect_json "$1: status: $2 installed, no interrupted run" \
        "j['installed'] is not None and j['installed']['version'] == '$2' and j['interrupted'] is None"
    expect_ok "$1: audit verify" "$FERRY_APPLIER" audit verify --state-dir "$S"
}

# expect_last_run NAME STATE VERSION: the newest run in history is VERSION's and ended as STATE.
expect_last_run() {
    run "$FERRY_APPLIER" history --json --state-dir "$S"
    expect_json "$1: history: the run of $3 ended $2" "j['runs'][-1]['version'] == '$3' and j['runs'][-1]['state'] == '$2'"
}

# expect_healthy NAME VERSION: the service below R answers as VERSION.
expect_healthy() {
    expect_ok "$1: the service answers as $2" \
        "$R/usr/bin/greeter" check --config "$R/etc/greeter/greeter.env" --expect-version "$2"
}

# expect_no_staging NAME: no run left its staging folder behind.
expect_no_staging() {
    local left
    left=$(find "$S/runs" -mindepth 2 -maxdepth 2 -name staging 2>/dev/null || true)
    if [ -z "$left" ]; then
        pass "$1: no staging left"
    else
        fail "$1: staging left: $left"
    fi
}

# expect_no_new_run NAME: S/runs holds the folders it held before: the refused run left none.
expect_no_new_run() {
    local now
    now=$(runs_of)
    if [ "$now" == "$BEFORE_RUNS" ]; then
        pass "$1: no run folder added"
    else
        fail "$1: run folders were \"$BEFORE_RUNS\", now \"$now\""
    fi
}

# expect_intact NAME VERSION: the node is exactly as remembered, and VERSION serves.
expect_intact() {
    expect_no_staging "$1"
    expect_root_unchanged "$1"
    expect_db_unchanged "$1"
    expect_state "$1" "$2"
    expect_healthy "$1" "$2"
}

# expect_runs_empty NAME: no staging or backup folder of a failed run is left in S/runs.
expect_runs_empty() {
    local left
    left=$(find "$S/runs" -mindepth 1 2>/dev/null || true)
    if [ -z "$left" ]; then
        pass "$1: no staging left"
    else
        fail "$1: left in $S/runs: $(echo "$left" | head -5)"
    fi
}

# --- Bundles ---------------------------------------------------------------------------------

START=$(date +%s)
KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
TREE=$(sample_tree)

build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT
build greeter-2.1.0-broken.yaml v21 && B21=$BUILT

# Variants of 2.0.0, one fault each.
variant greeter-2.0.0.yaml stop-fails.yaml 's["procedure"]["hooks"]["stop"] = ["/bin/false"]'
build stop-fails.yaml stop-fails && B_STOP=$BUILT
variant greeter-2.0.0.yaml start-fails.yaml \
    's["procedure"]["hooks"]["start"] = ["/bin/sh", "-c", "echo cannot start >&2; exit 1"]'
build start-fails.yaml start-fails && B_START=$BUILT
variant greeter-2.0.0.yaml smoke-fails.yaml '
s["procedure"]["health"][0]["retries"] = 1
s["procedure"]["smoke"][0]["command"] = ["/bin/sh", "-c", "echo no greetings >&2; exit 1"]'
build smoke-fails.yaml smoke-fails && B_SMOKE=$BUILT

mkdir "$TREE/migrations-fault"
cat >"$TREE/migrations-fault/0003_fail_midway.up.sql" <<'EOF'
-- Valid statements first, then one that fails: the whole step must leave no trace.
CREATE TABLE greeting_stats (day TEXT PRIMARY KEY, count INTEGER NOT NULL);
ALTER TABLE greetings ADD COLUMN author TEXT;
INSERT INTO greetings (text) VALUES ('half-migrated');
PRAGMA user_version = 3;
INSERT INTO no_such_table VALUES (1);
EOF
variant greeter-2.0.0.yaml migration-fails.yaml '
s["components"][0]["files"].append({"source": "migrations-fault/*.sql", "role": "migration"})
s["procedure"]["migrations"]["steps"].append({"id": "0003_fail_midway", "up": "0003_fail_midway.up.sql"})'
build migration-fails.yaml migration-fails && B_MIGRATION=$BUILT

mkdir "$TREE/big"
head -c $((3 << 20)) /dev/urandom >"$TREE/big/blob.bin"
variant greeter-2.0.0.yaml big.yaml '
s["components"][0]["files"].append({"source": "big/blob.bin", "role": "doc", "dest": "/usr/share/doc/greeter/blob.bin"})'
build big.yaml big && B_BIG=$BUILT

variant greeter-2.0.0.yaml other-product.yaml 's["compatible"]["product"] = "other"'
build other-product.yaml other-product && B_OTHER=$BUILT
variant greeter-2.0.0.yaml expired.yaml 's["expires_in_days"] = 1'
SOURCE_DATE_EPOCH=$((SOURCE_DATE_EPOCH - 3 * 86400)) build expired.yaml expired && B_EXPIRED=$BUILT
variant greeter-2.0.0.yaml keep.yaml '
for f in s["components"][0]["files"]:
    if f["role"] == "config":
        f["config_mode"] = "keep"'
build keep.yaml keep && B_KEEP=$BUILT

# --- 1. The stop hook fails ------------------------------------------------------------------

site stop-hook
install_v1 "stop hook"
remember
expect_fail "stop hook fails: rolled back" 5 \
    "greeter 2.0.0 failed and was rolled back to 1.0.0: stop hook failed: exit code 1" \
    apply "$B_STOP" --ack-breaking --allow-major
expect_intact "stop hook fails" 1.0.0
expect_last_run "stop hook fails" rolled_back 2.0.0
stop_service

# --- 2. The start hook fails -----------------------------------------------------------------

site start-hook
install_v1 "start hook"
remember
expect_fail "start hook fails: rolled back" 5 \
    "greeter 2.0.0 failed and was rolled back to 1.0.0: start hook failed: exit code 1" \
    apply "$B_START" --ack-breaking --allow-major
grep -qF "cannot start" "$SCRATCH/err" && pass "start hook fails: the hook's output is shown" ||
    fail "start hook fails: the hook's output is not in: $(cat "$SCRATCH/err")"
expect_intact "start hook fails" 1.0.0
expect_last_run "start hook fails" rolled_back 2.0.0
stop_service

# --- 3. The health check fails ---------------------------------------------------------------

site health
install_v2 "health check"
remember
expect_fail "health check fails: rolled back" 5 \
    "greeter 2.1.0 failed and was rolled back to 2.0.0: health check \"running-2.1.0\" failed after 3 attempt(s)" \
    apply "$B21"
expect_intact "health check fails" 2.0.0
expect_last_run "health check fails" rolled_back 2.1.0
stop_service

# --- 4. The smoke check fails ----------------------------------------------------------------

site smoke
install_v1 "smoke check"
remember
expect_fail "smoke check fails: rolled back" 5 \
    "greeter 2.0.0 failed and was rolled back to 1.0.0: smoke check \"greetings\" failed: exit code 1; output: no greetings" \
    apply "$B_SMOKE" --ack-breaking --allow-major
expect_intact "smoke check fails" 1.0.0
expect_last_run "smoke check fails" rolled_back 2.0.0
stop_service

# --- 5. A migration fails halfway ------------------------------------------------------------

site migration
install_v1 "migration"
remember
expect_fail "migration fails halfway: rolled back" 5 \
    "greeter 2.0.0 failed and was rolled back to 1.0.0: migration 0003_fail_midway failed: " \
    apply "$B_MIGRATION" --ack-breaking --allow-major
grep -qF "no such table: no_such_table" "$SCRATCH/err" && pass "migration fails halfway: SQLite's reason is shown" ||
    fail "migration fails halfway: no reason in: $(cat "$SCRATCH/err")"
expect_intact "migration fails halfway" 1.0.0
expect_last_run "migration fails halfway" rolled_back 2.0.0
stop_service

# --- 6. The disk fills up --------------------------------------------------------------------

# (a) A state folder on a 1 MiB file system: the space check refuses before anything is staged.
site disk-small
mkdir -p "$S"
if ! mount_error=$(mount -t tmpfs -o size=1m,mode=0700 tmpfs "$S" 2>&1); then
    skip "disk full" "cannot mount tmpfs: $mount_error"
else
    MOUNTS+=("$S")
    remember
    expect_fail "state folder too small: refused" 4 "refused: not enough disk space in $S: staging and backups need" \
        apply "$B1"
    expect_root_unchanged "state folder too small"
    expect_runs_empty "state folder too small"
fi

# (b) The space check passes, but the runs folder is a separate 1 MiB file system: staging
# hits ENOSPC while v1 runs. Nothing on the node may change.
site disk-full
install_v1 "disk full"
if ! mount_error=$(mount -t tmpfs -o size=1m,mode=0700 tmpfs "$S/runs" 2>&1); then
    skip "disk full" "cannot mount tmpfs: $mount_error"
else
    MOUNTS+=("$S/runs")
    remember
    # The error is an I/O error (exit 1): nothing on the node was changed yet.
    expect_fail "disk full while staging: fails" 1 "No space left on device" \
        apply "$B_BIG" --ack-breaking --allow-major
    grep -qF "writing staging $S/runs/" "$SCRATCH/err" && pass "disk full while staging: names the file" ||
        fail "disk full while staging: does not say what was being staged: $(cat "$SCRATCH/err")"
    expect_intact "disk full while staging" 1.0.0
    expect_last_run "disk full while staging" failed 2.0.0
    expect_runs_empty "disk full while staging"
fi
stop_service

# --- 7. A read-only target -------------------------------------------------------------------

site read-only
install_v1 "read-only target"
DOC=$R/usr/share/doc/greeter
if ! mount_error=$(mount --bind "$DOC" "$DOC" 2>&1); then
    skip "read-only target" "cannot bind-mount: $mount_error"
elif MOUNTS+=("$DOC") && ! mount_error=$(mount -o remount,ro,bind "$DOC" 2>&1); then
    skip "read-only target" "cannot remount read-only: $mount_error"
else
    remember
    # Installing OPERATIONS.md fails (EROFS) after the binary and the config were replaced; the
    # rollback restores only what differs from the backups, so the read-only folder (which the
    # install never changed) does not stop it, and 1.0.0 serves again.
    expect_fail "read-only target: rolled back" 5 "Read-only file system" \
        apply "$B2" --ack-breaking --allow-major
    grep -qF "failed and was rolled back to 1.0.0" "$SCRATCH/err" && pass "read-only target: says it rolled back" ||
        fail "read-only target: does not say it rolled back: $(cat "$SCRATCH/err")"
    expect_intact "read-only target" 1.0.0
    expect_last_run "read-only target" rolled_back 2.0.0
fi
stop_service

# --- 8. A bundle for another product ---------------------------------------------------------

site other-product
install_v1 "other product"
remember
expect_fail "other product: refused" 4 "refused: bundle is for product \"other\", this site runs \"greeter\"" \
    apply "$B_OTHER" --ack-breaking --allow-major
expect_intact "other product" 1.0.0
expect_history_unchanged "other product"
run "$FERRY_APPLIER" audit export --json --state-dir "$S"
expect_json "other product: the audit log records the refusal" \
    "j['chain_intact'] and j['records'][-1]['action'] == 'refused' and 'bundle is for product' in j['records'][-1]['detail']"

# --- 11. Wrong upgrade paths (on the same 1.0.0 site) ----------------------------------------

remember
expect_fail "2.1.0 on 1.0.0: refused" 4 "refused: this bundle upgrades versions >=2.0.0 <2.1.0, and version 1.0.0 is installed" \
    apply "$B21"
expect_fail "major upgrade without --allow-major: refused" 4 \
    "refused: upgrade from 1.0.0 to 2.0.0 is a major upgrade; read the release notes and pass --allow-major" \
    apply "$B2" --ack-breaking
expect_fail "breaking changes without --ack-breaking: refused" 4 \
    "refused: the bundle declares 1 breaking change(s); read them and pass --ack-breaking" \
    apply "$B2" --allow-major
expect_intact "wrong upgrade paths" 1.0.0
expect_history_unchanged "wrong upgrade paths"

# --- 10. An expired bundle (same site) -------------------------------------------------------

expect_fail "expired bundle: refused" 4 "$B_EXPIRED: bundle greeter 2.0.0 expired at " \
    apply "$B_EXPIRED" --ack-breaking --allow-major
expect_intact "expired bundle" 1.0.0
expect_history_unchanged "expired bundle"
# A refusal found while verifying (expired) is audited like one found by the plan.
run "$FERRY_APPLIER" audit export --json --state-dir "$S"
expect_json "expired bundle: the audit log records the refusal" \
    "j['chain_intact'] and j['records'][-1]['action'] == 'refused' and 'expired' in j['records'][-1]['detail']"

# --- 12. Another applier holds the lock (same site) ------------------------------------------

# One process holding the lock through flock(1), so that killing it by its pid releases it.
bash -c 'exec 9>>"$1" && flock 9 && exec sleep 5' lock-holder "$S/lock" &
LOCK_HOLDER=$!
for _ in $(seq 50); do
    flock -n "$S/lock" true 2>/dev/null || break
    sleep 0.1
done
expect_fail "lock held: refused" 4 "another ferry-applier is working on $S" \
    apply "$B2" --ack-breaking --allow-major
grep -qF "hint: wait for it to finish" "$SCRATCH/err" && pass "lock held: hint" ||
    fail "lock held: no hint in: $(cat "$SCRATCH/err")"
expect_fail "lock held: rollback refused too" 4 "another ferry-applier is working on $S" \
    "$FERRY_APPLIER" rollback --root "$R" --state-dir "$S"
kill "$LOCK_HOLDER" 2>/dev/null || true
wait "$LOCK_HOLDER" 2>/dev/null || true
LOCK_HOLDER=""
expect_intact "lock held" 1.0.0
expect_history_unchanged "lock held"

# --- 13. A damaged state database (same site) ------------------------------------------------

cp "$S/state.db" "$SCRATCH/state.db.good"
head -c 65536 /dev/urandom >"$S/state.db"
expect_fail "damaged state database: apply refuses" 1 "the state database is damaged or unreadable" \
    apply "$B2" --ack-breaking --allow-major
grep -qF "hint: restore $S/state.db from a backup" "$SCRATCH/err" && pass "damaged state database: hint" ||
    fail "damaged state database: no hint in: $(cat "$SCRATCH/err")"
expect_root_unchanged "damaged state database"
expect_db_unchanged "damaged state database"
expect_healthy "damaged state database" 1.0.0
expect_fail "damaged state database: status says so" 1 "the state database is damaged or unreadable" \
    "$FERRY_APPLIER" status --state-dir "$S"
cp "$SCRATCH/state.db.good" "$S/state.db"
expect_state "state database restored" 1.0.0
stop_service

# --- 9. An older sequence --------------------------------------------------------------------

site older
install_v2 "older sequence"
remember
expect_fail "older sequence: refused" 4 \
    "refused: bundle sequence 1 is older than the newest this site has applied (2); pass --allow-downgrade" \
    apply "$B1"
# With --allow-downgrade the sequence no longer stops it, but 1.0.0 upgrades only <1.0.0.
expect_fail "older sequence with --allow-downgrade: still refused" 4 \
    "refused: this bundle upgrades versions >=0.0.0 <1.0.0, and version 2.0.0 is installed" \
    apply "$B1" --allow-downgrade
expect_intact "older sequence" 2.0.0
expect_history_unchanged "older sequence"
stop_service

# --- 14. A site-edited configuration in keep mode --------------------------------------------

site keep
install_v1 "keep config"
CONF=$R/etc/greeter/greeter.env
# greeter 2 needs LANGUAGE; greeter 1 ignores it, so the site adds it ahead of the upgrade.
cat >"$CONF" <<'EOF'
# Edited on site.
GREETING=Hello from the site!
PORT=18080
DATABASE=/var/lib/greeter/greeter.db
LANGUAGE=en
EOF
SITE_CONF=$(sha256sum <"$CONF")
run apply "$B_KEEP" --ack-breaking --allow-major
if [ "$RC" -eq 0 ]; then pass "keep config: applied"; else fail "keep config: exit $RC: $(cat "$SCRATCH/err")"; fi
expect_output "keep config: the note says so" \
    "note: the site edited /etc/greeter/greeter.env; the new version goes beside it as /etc/greeter/greeter.env.ferry-new"
[ "$(sha256sum <"$CONF")" == "$SITE_CONF" ] && pass "keep config: the site's file is unchanged" ||
    fail "keep config: the site's file changed: $(cat "$CONF")"
cmp -s "$CONF.ferry-new" "$TREE/config-2.0.0/greeter.env" && pass "keep config: .ferry-new holds the bundle's file" ||
    fail "keep config: $CONF.ferry-new is not the bundle's config"
expect_state "keep config" 2.0.0
expect_healthy "keep config" 2.0.0
stop_service

# --- 15. plan changes nothing ----------------------------------------------------------------

site plan
expect_ok "plan on a fresh site" "$FERRY_APPLIER" plan "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_output "plan on a fresh site: policy ok" "policy: ok, apply may proceed"
[ ! -e "$S" ] && pass "plan on a fresh site: no state folder created" || fail "plan created $S: $(ls -la "$S")"
[ -z "$(find "$R" -mindepth 1)" ] && pass "plan on a fresh site: the root stays empty" ||
    fail "plan wrote below $R: $(find "$R" -mindepth 1 | head -5)"
install_v1 "plan"
BEFORE_ROOT=$(root_snapshot)
BEFORE_STATE=$(snapshot "$S")
run "$FERRY_APPLIER" plan "$B2" --trust "$TRUST" --root "$R" --state-dir "$S"
[ "$RC" -eq 4 ] && pass "plan 2.0.0: exits 4, as apply would" || fail "plan 2.0.0: exit $RC, expected 4"
expect_output "plan 2.0.0: lists the refusals" "policy: apply would be REFUSED:"
expect_ok "plan --json 2.0.0 with the flags" "$FERRY_APPLIER" plan --json "$B2" --trust "$TRUST" --root "$R" \
    --state-dir "$S" --ack-breaking --allow-major
expect_json "plan --json: ok, 0002 pending" "j['ok'] and j['pending_migrations'] == ['0002_add_language']"
expect_root_unchanged "plan"
now_state=$(snapshot "$S")
[ "$now_state" == "$BEFORE_STATE" ] && pass "plan: state folder unchanged" ||
    fail "plan changed $S: $(diff <(echo "$BEFORE_STATE") <(echo "$now_state") | head -8)"
expect_state "plan" 1.0.0
expect_healthy "plan" 1.0.0
stop_service

echo "# took $(($(date +%s) - START)) s"
