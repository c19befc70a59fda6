#!/usr/bin/env bash
# Self-upgrade, with two builds of ferry-applier: the one under test (OLD) and ferry-applier-next
# (NEXT), the same sources with a version one minor step ahead. A bundle whose
# min_applier_version is above OLD is refused by plan, stage and apply (exit 4, the version to
# install first named, nothing installed or staged). A bundle carrying NEXT as the applier is
# applied by OLD: the applier is installed last, the run finishes with OLD's code, and the
# installed applier is NEXT; rollback puts OLD back; a run killed after the install is resumed by
# NEXT from OLD's journal; NEXT then applies the bundle OLD refused.
source "$(dirname "$0")/lib.sh"
: "${FERRY_APPLIER_NEXT:?}"

KEYS=$SCRATCH/keys
make_keys "$KEYS"
TRUST=$KEYS/trust.yaml
TREE=$SCRATCH/tree
mkdir -p "$TREE/bin-old" "$TREE/bin-next" "$TREE/doc"
cp "$FERRY_APPLIER" "$TREE/bin-old/ferry-applier"
cp "$FERRY_APPLIER_NEXT" "$TREE/bin-next/ferry-applier"
OLD=$("$FERRY_APPLIER" --version | cut -d' ' -f2)
NEXT=$("$FERRY_APPLIER_NEXT" --version | cut -d' ' -f2)
[ "$OLD" != "$NEXT" ] && pass "two applier builds: $OLD and $NEXT" || fail "both builds say $OLD"

# spec FILE VERSION SEQUENCE APPLIER-FOLDER [MIN]: a bundle of the site's tools that carries
# the applier from APPLIER-FOLDER and a note naming VERSION; MIN sets min_applier_version.
spec() {
    local min_line=""
    if [ -n "${5:-}" ]; then
        min_line="min_applier_version: \"$5\""
    fi
    echo "note $2" >"$TREE/doc/note-$2.txt"
    cat >"$TREE/$1" <<EOF
name: site-tools
version: $2
sequence: $3
expires_in_days: 30
compatible: {product: site-tools, channel: stable}
upgrade_from: ">=0.0.0 <2.0.0"
$min_line
components:
  - name: tools
    version: $2
    files:
      - {source: $4/ferry-applier, role: applier, dest: /usr/bin/ferry-applier}
      - {source: doc/note-$2.txt, role: doc, dest: /usr/share/doc/site-tools/note.txt}
procedure:
  smoke:
    - name: applier-runs
      command: ["{root}/usr/bin/ferry-applier", "--version"]
EOF
}
spec a.yaml 1.0.0 1 bin-old
spec b.yaml 1.1.0 2 bin-next
spec c.yaml 1.2.0 3 bin-next "$NEXT"
build a.yaml a && A=$BUILT
build b.yaml b && B=$BUILT
build c.yaml c && C=$BUILT

R=$SCRATCH/root
S=$SCRATCH/state
mkdir -p "$R"
node() { "$1" "$2" --trust "$TRUST" --root "$R" --state-dir "$S" "${@:3}"; }
# here BIN CMD ARGS...: a command of BIN that takes no trust store (rollback, resume) on this node.
here() { "$1" "$2" --root "$R" --state-dir "$S" "${@:3}"; }
expect_ok "setup: OLD applies a bundle that installs OLD itself" node "$FERRY_APPLIER" apply "$A" -q

# (a) min_applier_version above the running applier: refused before anything is staged.
before=$(snapshot "$R")
need="this bundle needs ferry-applier $NEXT or newer, and this is ferry-applier $OLD: install ferry-applier $NEXT first (it may come as a bundle of its own)"
run node "$FERRY_APPLIER" plan "$C"
[ "$RC" -eq 4 ] && pass "plan: exit 4" || fail "plan: exit $RC: $(cat "$SCRATCH/err")"
expect_output "plan: the refusal listed, naming the version to install first" "$need"
expect_fail "stage: refused" 4 "refused: $need" node "$FERRY_APPLIER" stage "$C"
expect_fail "apply: refused" 4 "refused: $need" node "$FERRY_APPLIER" apply "$C"
expect_unchanged "refused bundle" "$R" "$before"
rows=$(sqlite3 "$S/state.db" "SELECT (SELECT count(*) FROM runs) || ' ' || (SELECT count(*) FROM staged);" 2>&1)
if [ "$rows" = "1 0" ] && [ -z "$(ls -A "$S/staged" 2>/dev/null)" ]; then
    pass "refused bundle: no run begun, nothing staged"
else
    fail "refused bundle: runs and staged rows: $rows; $(ls -A "$S/staged" 2>&1)"
fi
run node "$FERRY_APPLIER" plan "$C" --json
expect_json "plan --json: the refusal" "j['ok'] is False and j['refusals'][0].startswith('this bundle needs ferry-applier $NEXT')"
run "$FERRY_APPLIER" inspect "$C"
expect_output "inspect: the applier the bundle needs" "ferry-applier $NEXT or newer"
run "$FERRY_APPLIER" verify "$C" --trust "$TRUST"
[ "$RC" -eq 0 ] && pass "verify: an authentic bundle verifies whatever applier it needs" ||
    fail "verify: exit $RC: $(cat "$SCRATCH/err")"

# (b) OLD applies B, which carries NEXT: the applier goes last, the run ends in OLD's code.
expect_ok "OLD applies the bundle carrying NEXT" node "$FERRY_APPLIER" apply "$B" -v
expect_output "the run says it finished with OLD" "installed ferry-applier at /usr/bin/ferry-applier last; this run finished with ferry-applier $OLD, the next command runs the new one"
installs=$(grep -o 'install: [a-z]* /.*' "$SCRATCH/err" | tr '\n' ',')
[ "$installs" = "install: replace /usr/share/doc/site-tools/note.txt,install: replace /usr/bin/ferry-applier," ] &&
    [ "$(cat "$R/usr/share/doc/site-tools/note.txt")" = "note 1.1.0" ] &&
    pass "the applier was installed after every other file" || fail "install order: $installs"
run "$R/usr/bin/ferry-applier" --version
expect_output "the installed applier is NEXT" "ferry-applier $NEXT"
grep -rqF --include=commands.log "ferry-applier $NEXT" "$S" &&
    pass "the smoke check ran the new applier" || fail "the smoke check's output lacks $NEXT"

# (c) rollback, by the applier now installed, puts OLD back.
expect_ok "NEXT rolls the run back" here "$R/usr/bin/ferry-applier" rollback --run 2
cmp -s "$R/usr/bin/ferry-applier" "$FERRY_APPLIER" && pass "rollback: OLD is the installed applier again" ||
    fail "rollback: $("$R/usr/bin/ferry-applier" --version 2>&1)"

# A run of OLD killed after the install is resumed by the applier it installed.
run env FERRY_TEST_CRASH_AT=install:done "$FERRY_APPLIER" apply "$B" --trust "$TRUST" --root "$R" --state-dir "$S" -q
[ "$RC" -eq 137 ] && pass "OLD killed after installing NEXT" || fail "crash: exit $RC: $(cat "$SCRATCH/err")"
run "$R/usr/bin/ferry-applier" status --state-dir "$S"
expect_output "status: the journal shows the applier installed" "item applier /usr/bin/ferry-applier"
expect_ok "NEXT resumes OLD's run" here "$R/usr/bin/ferry-applier" resume
run "$R/usr/bin/ferry-applier" status --state-dir "$S" --json
expect_json "status: 1.1.0 installed, nothing pending" "j['installed']['version'] == '1.1.0' and j['node'] == 'installed'"

# NEXT applies the bundle OLD refused.
expect_ok "NEXT applies the bundle that needs it" node "$R/usr/bin/ferry-applier" apply "$C" -q
[ "$(cat "$R/usr/share/doc/site-tools/note.txt")" = "note 1.2.0" ] && cmp -s "$R/usr/bin/ferry-applier" "$FERRY_APPLIER_NEXT" &&
    pass "1.2.0 installed, NEXT still the applier" || fail "after 1.2.0: $("$R/usr/bin/ferry-applier" --version 2>&1)"
