#!/usr/bin/env bash
# docs/quickstart.md, run as a reader would: every sh block, in order, in one shell that stops at
# the first error, from an empty folder, with the built tools on PATH.
source "$(dirname "$0")/lib.sh"

DOC=$FERRY_SOURCE_DIR/docs/quickstart.md
awk '/^```sh$/ { b = 1; next } /^```$/ { b = 0 } b' "$DOC" >"$SCRATCH/quickstart.sh"
blocks=$(grep -c '^```sh$' "$DOC")
[ "$blocks" -ge 8 ] && pass "the quickstart has its $blocks command blocks" || fail "only $blocks sh blocks in $DOC"

mkdir "$SCRATCH/reader"
tools=$(dirname "$FERRY_BUNDLER"):$(dirname "$FERRY_APPLIER")
set +e
(cd "$SCRATCH/reader" && env PATH="$tools:/usr/bin:/bin" FERRY_PASSPHRASE=correct-horse-battery-staple \
    bash -euo pipefail "$SCRATCH/quickstart.sh") >"$SCRATCH/out" 2>"$SCRATCH/err"
RC=$?
set -e
[ "$RC" -eq 0 ] && pass "every block runs (exit 0)" || fail "the quickstart stops with exit $RC: $(tail -5 "$SCRATCH/err")"

# What the reader sees and what is left, block by block.
[ "$(grep '^hello from ' "$SCRATCH/out" | tr '\n' '|')" == "hello from 1.0.0|hello from 1.1.0|hello from 1.0.0|" ] &&
    pass "the program says 1.0.0, then 1.1.0 after the upgrade, then 1.0.0 after the rollback" ||
    fail "the program said: $(grep '^hello from ' "$SCRATCH/out")"
expect_output "verify before the bundle leaves" "verified: hello 1.0.0 (sequence 1), signed by 1 trusted release key(s), 1 required [release-1]"
grep -qF '| Result | **verified** |' "$SCRATCH/reader/hello-1.0.0.verify.md" && pass "the verification report is filed" ||
    fail "no report: $(ls "$SCRATCH/reader")"
expect_output "the trust store installed" "installed trust store version 1"
expect_output "plan says what apply would do" "new          /usr/bin/hello"
expect_output "status after the rollback" "installed: hello 1.0.0 (sequence 1"
expect_output "the audit log is intact" "audit log intact:"
[ "$(grep -cE '^ +[0-9]+  [0-9TZ:-]+  ' "$SCRATCH/out")" -ge 2 ] && pass "history lists the runs" ||
    fail "history: $(cat "$SCRATCH/out")"
[ -f "$SCRATCH/reader/node/root/etc/ferry/trust.yaml" ] && cmp -s "$SCRATCH/reader/trust.yaml" "$SCRATCH/reader/node/root/etc/ferry/trust.yaml" &&
    pass "the node's trust store is the one made in step 1" || fail "node trust store: $(ls -R "$SCRATCH/reader/node/root/etc" 2>&1)"
[ "$(ls -A "$SCRATCH" | tr '\n' ' ')" == "err json-err out quickstart.sh reader " ] || [ "$(ls -A "$SCRATCH" | tr '\n' ' ')" == "err out quickstart.sh reader " ] &&
    pass "nothing written beside the reader's folder" || fail "written beside it: $(ls -A "$SCRATCH")"
