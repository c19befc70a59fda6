#!/usr/bin/env bash
# Parts of the procedure the sample does not use: image files loaded by the bundle's command
# or copied to a folder, a migration that is a script, a migration whose content changed after
# it was applied, files a new version drops, and scripts' environment.
source "$(dirname "$0")/lib.sh"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
readonly K=$KEYS/test-release-1.key
readonly R=$SCRATCH/root S=$SCRATCH/state
mkdir -p "$R"
SRC=$SCRATCH/src
mkdir -p "$SRC/v1" "$SRC/v2" "$SRC/v3" "$SRC/images" "$SRC/migrations"

printf 'IMAGE-ONE\n' >"$SRC/images/app-image.tar"
printf 'IMAGE-TWO\n' >"$SRC/images/base-image.tar"
printf '#!/bin/sh\necho tool 1\n' >"$SRC/v1/tool"
printf '#!/bin/sh\necho tool 2\n' >"$SRC/v2/tool"
printf 'obsolete\n' >"$SRC/v1/old-helper"
# A script migration: it sees the documented environment.
cat >"$SRC/migrations/0001_init.sh" <<'SH'
#!/bin/sh
set -e
sqlite3 "$FERRY_DATABASE" "CREATE TABLE t(v TEXT); INSERT INTO t VALUES('$FERRY_BUNDLE_VERSION from [$FERRY_FROM_VERSION] root $FERRY_ROOT');"
SH
printf 'ALTER TABLE t ADD COLUMN w TEXT;\n' >"$SRC/migrations/0002_more.up.sql"
printf 'ALTER TABLE t DROP COLUMN w;\n' >"$SRC/migrations/0002_more.down.sql"

# spec VERSION SEQUENCE FILES-YAML MIGRATION-STEPS: writes $SRC/app-VERSION.yaml.
spec() {
    cat >"$SRC/app-$1.yaml" <<YAML
name: app
version: $1
sequence: $2
expires_in_days: 30
compatible: {product: app, channel: test}
upgrade_from: ">=0.0.0 <9.0.0"
components:
  - name: app
    version: $1
    files:
$3
procedure:
  images:
    load: ["/bin/sh", "-c", "cp \"\$1\" \"\$FERRY_ROOT/loaded-\$(basename \"\$1\")\"", "sh", "{path}"]
  migrations:
    database: /var/lib/app/app.db
    steps:
$4
YAML
}
spec 1.0.0 1 "      - {source: v1/tool, role: binary, dest: /usr/bin/tool}
      - {source: v1/old-helper, role: binary, dest: /usr/lib/app/old-helper}
      - {source: images/app-image.tar, role: image}
      - {source: images/base-image.tar, role: image, dest: /var/lib/app/images/}
      - {source: migrations/0001_init.sh, role: migration}" \
"      - {id: \"0001_init\", up: 0001_init.sh}"
spec 1.1.0 2 "      - {source: v2/tool, role: binary, dest: /usr/bin/tool}
      - {source: migrations/0001_init.sh, role: migration}
      - {source: \"migrations/0002_*.sql\", role: migration}" \
"      - {id: \"0001_init\", up: 0001_init.sh}
      - {id: \"0002_more\", up: 0002_more.up.sql, down: 0002_more.down.sql}"
for v in 1.0.0 1.1.0; do
    expect_ok "build app $v" "$FERRY_BUNDLER" build -q "$SRC/app-$v.yaml" --key "$K" --out-dir "$SCRATCH"
done

apply() { "$FERRY_APPLIER" apply "$@" --trust "$TRUST" --root "$R" --state-dir "$S" -q; }

# --- Images, script migrations ---------------------------------------------------------------

expect_ok "apply 1.0.0" apply "$SCRATCH/app-1.0.0.ferry"
[ "$(cat "$R/loaded-app-image.tar" 2>/dev/null)" == "IMAGE-ONE" ] && pass "the image was loaded by the bundle's command" ||
    fail "image not loaded: $(ls "$R")"
[ "$(cat "$R/var/lib/app/images/base-image.tar" 2>/dev/null)" == "IMAGE-TWO" ] &&
    pass "an image with a destination is copied there" || fail "image not copied"
run sqlite3 "$R/var/lib/app/app.db" "SELECT v FROM t; SELECT id FROM ferry_migrations;"
[ "$(cat "$SCRATCH/out")" == "$(printf '1.0.0 from [] root %s\n0001_init' "$R")" ] &&
    pass "the script migration ran with FERRY_DATABASE, FERRY_BUNDLE_VERSION, FERRY_FROM_VERSION, FERRY_ROOT" ||
    fail "script migration: $(cat "$SCRATCH/out") $(cat "$SCRATCH/err")"

# --- Files the new version drops; the ledger skips what ran -----------------------------------

expect_ok "apply 1.1.0" apply "$SCRATCH/app-1.1.0.ferry"
[ ! -e "$R/usr/lib/app/old-helper" ] && pass "a file the new version no longer ships is removed" ||
    fail "old-helper still there"
[ "$("$R/usr/bin/tool")" == "tool 2" ] && pass "the new binary is in place" || fail "tool: $("$R/usr/bin/tool")"
run sqlite3 "$R/var/lib/app/app.db" "SELECT COUNT(*) FROM t; SELECT id FROM ferry_migrations ORDER BY id;"
[ "$(cat "$SCRATCH/out")" == "$(printf '1\n0001_init\n0002_more')" ] &&
    pass "the applied script migration was skipped, 0002 ran" || fail "ledger: $(cat "$SCRATCH/out")"

expect_ok "rollback to 1.0.0" "$FERRY_APPLIER" rollback --run 2 --root "$R" --state-dir "$S"
[ -e "$R/usr/lib/app/old-helper" ] && [ "$("$R/usr/bin/tool")" == "tool 1" ] &&
    pass "rollback restores the dropped file and the old binary" || fail "rollback did not restore the files"
run sqlite3 "$R/var/lib/app/app.db" "SELECT id FROM ferry_migrations ORDER BY id; SELECT COUNT(*) FROM pragma_table_info('t');"
[ "$(cat "$SCRATCH/out")" == "$(printf '0001_init\n1')" ] && pass "rollback ran 0002's down migration" ||
    fail "after rollback: $(cat "$SCRATCH/out")"

# --- A migration whose content changed after it was applied ------------------------------------

printf '#!/bin/sh\necho changed >/dev/null\n' >>"$SRC/migrations/0001_init.sh"
sed -i "s/^version: 1.1.0/version: 1.1.1/; s/^sequence: 2/sequence: 3/; s/version: 1.1.0$/version: 1.1.1/" "$SRC/app-1.1.0.yaml"
expect_ok "build 1.1.1 with an edited 0001" "$FERRY_BUNDLER" build -q "$SRC/app-1.1.0.yaml" --key "$K" --out-dir "$SCRATCH"
before=$(snapshot "$R")
expect_fail "a changed migration is an error, and the node is rolled back" 5 \
    "migration 0001_init was applied with checksum" apply "$SCRATCH/app-1.1.1.ferry"
grep -qF "hint: a released migration must never change; ship a new migration instead" "$SCRATCH/err" &&
    pass "the hint says what to do" || fail "no hint: $(cat "$SCRATCH/err")"
after=$(snapshot "$R")
# The database file's bytes may differ (SQLite page writes); compare the files Ferry installed.
[ "$(grep -v 'app.db' <<<"$before")" == "$(grep -v 'app.db' <<<"$after")" ] &&
    pass "changed migration: installed files as before" || fail "changed migration: files changed"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_json "changed migration: 1.0.0 still installed" "j['installed']['version'] == '1.0.0' and j['interrupted'] is None"

# --- Hooks at their points; a failed release's images are reverted --------------------------

# 1.2.0 loads a new app image; pre_install sees the old files, post_install the new files and
# the loaded image; its health check fails, so the rollback must load 1.0.0's images again.
mkdir -p "$SRC/images3"
printf 'IMAGE-THREE\n' >"$SRC/images3/app-image.tar"
hooks_spec() {
    cat >"$SRC/app-$1.yaml" <<YAML
name: app
version: $1
sequence: $2
expires_in_days: 30
compatible: {product: app, channel: test}
upgrade_from: ">=0.0.0 <9.0.0"
components:
  - name: app
    version: $1
    files:
      - {source: v2/tool, role: binary, dest: /usr/bin/tool}
      - {source: images3/app-image.tar, role: image}
procedure:
  hooks:
    pre_install: ["/bin/sh", "-c", "echo pre_install \$(tail -1 \"\$1/usr/bin/tool\") >>\"\$1/hooks.log\"", "sh", "{root}"]
    post_install: $3
    start: ["/bin/sh", "-c", "echo start >>\"\$1/hooks.log\"", "sh", "{root}"]
  health:
    - {name: never, command: ["/bin/false"], timeout: 5}
  images:
    load: ["/bin/sh", "-c", "cp \"\$1\" \"\$FERRY_ROOT/loaded-\$(basename \"\$1\")\"", "sh", "{path}"]
YAML
}
hooks_spec 1.2.0 4 '["/bin/sh", "-c", "echo post_install $(tail -1 \"$1/usr/bin/tool\") $(cat \"$1/loaded-app-image.tar\") >>\"$1/hooks.log\"", "sh", "{root}"]'
hooks_spec 1.2.1 5 '["/bin/sh", "-c", "echo post_install failing >&2; exit 9"]'
for v in 1.2.0 1.2.1; do
    expect_ok "build app $v" "$FERRY_BUNDLER" build -q "$SRC/app-$v.yaml" --key "$K" --out-dir "$SCRATCH"
done
rm -f "$R/hooks.log"
expect_fail "1.2.0 fails its health check and is rolled back" 5 "failed and was rolled back to 1.0.0" \
    apply "$SCRATCH/app-1.2.0.ferry"
[ "$(cat "$R/hooks.log")" == "$(printf 'pre_install echo tool 1\npost_install echo tool 2 IMAGE-THREE\nstart')" ] &&
    pass "pre_install ran before the install, post_install after the install and the image load, then start" ||
    fail "hooks.log: $(cat "$R/hooks.log")"
[ "$(cat "$R/loaded-app-image.tar")" == "IMAGE-ONE" ] && [ "$(cat "$R/loaded-base-image.tar")" == "IMAGE-TWO" ] &&
    pass "the rollback loaded 1.0.0's images again" || fail "images after rollback: $(cat "$R"/loaded-*)"
[ "$("$R/usr/bin/tool")" == "tool 1" ] && pass "the rollback restored the old binary" || fail "tool: $("$R/usr/bin/tool")"
expect_fail "a failing post_install hook rolls back" 5 "post_install hook failed: exit code 9; output: post_install failing" \
    apply "$SCRATCH/app-1.2.1.ferry"
[ "$("$R/usr/bin/tool")" == "tool 1" ] && pass "after the failed post_install: the old binary" || fail "tool: $("$R/usr/bin/tool")"
