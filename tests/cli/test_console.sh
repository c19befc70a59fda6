#!/usr/bin/env bash
# What the operator sees at the console: `plan`'s exit code, `status` on a fresh, busy,
# interrupted or failed node, one JSON document from every --json command on success and on
# failure, the default trust store, and what `plan` lists; then the console's conventions (-q,
# -v, colour, progress on a terminal and off it, -o and --out-dir, the bundler's --json, key
# generate's trust entry). For each: the message, the exit code and the state left behind.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

GREETER_PORT=$((18900 + $$ % 300))
export GREETER_PORT

LOCK_HOLDER=""
cleanup() {
    if [ -n "$LOCK_HOLDER" ]; then
        kill "$LOCK_HOLDER" 2>/dev/null || true
        wait "$LOCK_HOLDER" 2>/dev/null || true
    fi
    stop_services
}
trap 'rc=$?; set +e; cleanup; (exit $rc); finish' EXIT

apply() {
    local bundle=$1
    shift
    "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S" "$@"
}

# state_picture: the state folder's files (SQLite's own -wal and -shm aside) and the database's content.
state_picture() {
    snapshot "$S" | { grep -vE 'state\.db(-wal|-shm)?$' || true; }
    sqlite3 "$S/state.db" .dump
}

stop_service() { "$R/usr/bin/greeterctl" stop "$R" >/dev/null 2>&1 || true; }

# expect_code NAME CODE: the last command exited with CODE.
expect_code() {
    if [ "$RC" -eq "$2" ]; then
        pass "$1: exit $2"
    else
        fail "$1: expected exit $2, got $RC; stderr: $(cat "$SCRATCH/err")"
    fi
}

# expect_one_json NAME PYTHON-EXPR: stdout is exactly one JSON document (nothing before or
# after it) and EXPR holds for it (as j).
expect_one_json() {
    if "$PY" -c 'import json, sys
text = open(sys.argv[1]).read()
j, end = json.JSONDecoder().raw_decode(text)
if text[end:].strip():
    sys.exit("more than one document: " + repr(text[end:end + 80]))
sys.exit(0 if eval(sys.argv[2]) else "does not hold")' "$SCRATCH/out" "$2" 2>"$SCRATCH/json-err"; then
        pass "$1"
    else
        fail "$1: $2: $(cat "$SCRATCH/json-err"); stdout: $(head -c 600 "$SCRATCH/out")"
    fi
}

# The error object every failed --json command prints.
error_doc() { echo "j['result'] == '$1' and j['error']['kind'] == '$2' and j['error']['exit_code'] == $3 and '$4' in j['error']['message'] and 'hint' in j['error']"; }

greeter_setup
build greeter-1.0.0.yaml v1 && B1=$BUILT
build greeter-2.0.0.yaml v2 && B2=$BUILT

# --- B. plan exits as apply would -------------------------------------------------------------

site plan
expect_ok "plan: install 1.0.0" apply "$B1"
BEFORE_STATE=$(snapshot "$S")
BEFORE_ROOT=$(snapshot "$R/usr")
run "$FERRY_APPLIER" plan "$B2" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_code "plan refused" 4
expect_output "plan refused: says so" "policy: apply would be REFUSED:"
expect_output "plan refused: lists every reason" "pass --allow-major"
expect_output "plan refused: still prints the whole plan" "release notes:"
run "$FERRY_APPLIER" plan --json "$B2" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_code "plan --json refused" 4
expect_one_json "plan --json refused: one document, result refused" \
    "j['result'] == 'refused' and not j['ok'] and len(j['refusals']) == 2 and j['to'] == '2.0.0'"
run "$FERRY_APPLIER" plan "$B2" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_code "plan allowed" 0
expect_output "plan allowed: says so" "policy: ok, apply may proceed"
run "$FERRY_APPLIER" plan --json "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_code "plan of the installed bundle" 0
expect_one_json "plan of the installed bundle: result already_installed" "j['result'] == 'already_installed'"
expect_unchanged "plan" "$S" "$BEFORE_STATE"
expect_unchanged "plan: root" "$R/usr" "$BEFORE_ROOT"
stop_service

# --- A. status: fresh, installed, busy, interrupted, failed -----------------------------------

site status
run "$FERRY_APPLIER" status --state-dir "$S"
expect_code "status on a fresh node" 0
expect_output "status on a fresh node: says so" "nothing installed"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_code "status --json on a fresh node" 0
expect_one_json "status --json on a fresh node: node fresh" \
    "j['result'] == 'reported' and j['node'] == 'fresh' and j['installed'] is None and j['interrupted'] is None"
[ ! -e "$S" ] && pass "status on a fresh node: no state folder created" || fail "status created $S"

# A v1 whose start hook refuses while ROOT/no-start exists, and a v2 that never starts: the
# automatic rollback of v2 then fails too, leaving the node between versions.
variant greeter-1.0.0.yaml fragile.yaml '
s["procedure"]["hooks"]["start"] = ["/bin/sh", "-c",
    "test ! -e \"$FERRY_ROOT/no-start\" && exec \"$FERRY_ROOT/usr/bin/greeterctl\" start \"$FERRY_ROOT\""]'
build fragile.yaml fragile && B_FRAGILE=$BUILT
variant greeter-2.0.0.yaml never-starts.yaml 's["procedure"]["hooks"]["start"] = ["/bin/false"]'
build never-starts.yaml never-starts && B_NEVER=$BUILT

expect_ok "status: install 1.0.0" apply "$B_FRAGILE"
run "$FERRY_APPLIER" status --state-dir "$S"
expect_code "status on an installed node" 0
expect_output "status on an installed node: the version" "installed: greeter 1.0.0"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_one_json "status --json on an installed node: node installed" \
    "j['node'] == 'installed' and j['installed']['version'] == '1.0.0' and j['exit_code'] == 0"

# A run killed after staging: interrupted, waiting for resume or rollback.
run env FERRY_TEST_CRASH_AT=stage:done "$FERRY_APPLIER" apply -q "$B2" --trust "$TRUST" --root "$R" --state-dir "$S" \
    --ack-breaking --allow-major
expect_code "status: apply killed after staging" 137
BEFORE_STATE=$(state_picture)
run "$FERRY_APPLIER" status --state-dir "$S"
expect_code "status of an interrupted run" 7
expect_output "status of an interrupted run: says so" "INTERRUPTED: run 2, apply of greeter 2.0.0"
expect_output "status of an interrupted run: what to do" "finish it with \`ferry-applier resume\`"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_code "status --json of an interrupted run" 7
expect_one_json "status --json of an interrupted run: node interrupted" \
    "j['node'] == 'interrupted' and j['interrupted']['run'] == 2 and j['exit_code'] == 7 and j['journal']"
[ "$(state_picture)" == "$BEFORE_STATE" ] && pass "status of an interrupted run: state unchanged" ||
    fail "status of an interrupted run: state changed: $(diff <(echo "$BEFORE_STATE") <(state_picture) | head -5)"

# Another applier holds the lock, its pid in the lock file: in progress, not interrupted.
bash -c 'exec 9>>"$1" && flock 9 && : >"$1" && echo $$ >&9 && exec sleep 30' lock-holder "$S/lock" &
LOCK_HOLDER=$!
for _ in $(seq 50); do
    [ "$(cat "$S/lock" 2>/dev/null)" == "$LOCK_HOLDER" ] && break
    sleep 0.1
done
run "$FERRY_APPLIER" status --state-dir "$S"
expect_code "status while another applier runs" 4
expect_output "status while another applier runs: says so" "in progress (pid $LOCK_HOLDER)"
if grep -q INTERRUPTED "$SCRATCH/out"; then
    fail "status while another applier runs: reported as interrupted: $(cat "$SCRATCH/out")"
else
    pass "status while another applier runs: not reported as interrupted"
fi
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_code "status --json while another applier runs" 4
expect_one_json "status --json while another applier runs: node in_progress" \
    "j['node'] == 'in_progress' and j['in_progress']['pid'] == $LOCK_HOLDER and j['interrupted'] is None"
kill "$LOCK_HOLDER" 2>/dev/null || true
wait "$LOCK_HOLDER" 2>/dev/null || true
LOCK_HOLDER=""
expect_ok "status: roll the interrupted run back" "$FERRY_APPLIER" rollback --root "$R" --state-dir "$S"

# The automatic rollback fails too: failed, between versions.
touch "$R/no-start"
expect_fail "status: the upgrade and its rollback fail" 6 "the rollback failed too" \
    apply "$B_NEVER" --ack-breaking --allow-major
run "$FERRY_APPLIER" status --state-dir "$S"
expect_code "status of a failed node" 6
expect_output "status of a failed node: says so" "FAILED: run 3, apply of greeter 2.0.0, could not be rolled back"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_code "status --json of a failed node" 6
expect_one_json "status --json of a failed node: node failed" \
    "j['node'] == 'failed' and j['failed']['run'] == 3 and j['backup'].endswith('/runs/3/backup')"
rm "$R/no-start"
stop_service

# --- C. every --json command prints one document, on success and on failure ------------------

# json_case NAME CODE PYTHON-EXPR CMD...: CMD exits CODE and prints one JSON document for which
# EXPR holds, with a `result`.
json_case() {
    local name=$1 code=$2 expr=$3
    shift 3
    run "$@"
    expect_code "$name" "$code"
    expect_one_json "$name: one document" "'result' in j and ($expr)"
}

site json
A=("$FERRY_APPLIER")
SITE=(--root "$R" --state-dir "$S")
cp "$B1" "$SCRATCH/flipped.ferry"
flip_byte "$SCRATCH/flipped.ferry" $(($(stat -c %s "$B1") - 3000))

for tool in "$FERRY_APPLIER" "$FERRY_BUNDLER"; do
    t=$(basename "$tool")
    json_case "$t verify --json" 0 "j['result'] == 'verified' and j['verified'] is True" \
        "$tool" verify --json "$B1" --trust "$TRUST"
    json_case "$t verify --json of a damaged bundle" 3 "$(error_doc not_verified verification 3 "$SCRATCH/flipped.ferry")" \
        "$tool" verify --json "$SCRATCH/flipped.ferry" --trust "$TRUST"
    json_case "$t inspect --json" 0 "j['result'] == 'inspected' and j['name'] == 'greeter'" \
        "$tool" inspect --json "$B1"
    json_case "$t inspect --json of a missing bundle" 1 "$(error_doc error input 1 "$SCRATCH/none.ferry: no such file")" \
        "$tool" inspect --json "$SCRATCH/none.ferry"
    json_case "$t: a bad command line with --json" 2 "$(error_doc error usage 2 "--no-such-option")" \
        "$tool" verify --json "$B1" --trust "$TRUST" --no-such-option
done

json_case "status --json, no state" 0 "j['node'] == 'fresh'" "${A[@]}" status --json --state-dir "$S"
json_case "history --json, no state" 1 "$(error_doc error input 1 "no state database")" \
    "${A[@]}" history --json --state-dir "$S"
json_case "audit export --json, no state" 1 "$(error_doc error input 1 "no state database")" \
    "${A[@]}" audit export --json --state-dir "$S"
json_case "rollback --json, nothing installed" 2 "$(error_doc error usage 2 "no state database: nothing was ever applied here")" \
    "${A[@]}" rollback --json "${SITE[@]}"
json_case "plan --json without a trust store" 1 "$(error_doc error input 1 "$SCRATCH/none.yaml: no trust store")" \
    "${A[@]}" plan --json "$B1" --trust "$SCRATCH/none.yaml" "${SITE[@]}"
json_case "apply --json of a damaged bundle" 3 "$(error_doc not_verified verification 3 "$SCRATCH/flipped.ferry")" \
    "${A[@]}" apply -q --json "$SCRATCH/flipped.ferry" --trust "$TRUST" "${SITE[@]}"
json_case "apply --json" 0 "j['result'] == 'applied' and j['to'] == '1.0.0' and j['run'] == 2" \
    "${A[@]}" apply -q --json "$B1" --trust "$TRUST" "${SITE[@]}"
json_case "apply --json again" 0 "j['result'] == 'already_installed'" \
    "${A[@]}" apply -q --json "$B1" --trust "$TRUST" "${SITE[@]}"
json_case "apply --json refused" 4 "$(error_doc refused policy 4 "refused: upgrade from 1.0.0 to 2.0.0 is a major upgrade")" \
    "${A[@]}" apply -q --json "$B2" --trust "$TRUST" "${SITE[@]}"
if grep -qF "hint: 1 more problem(s)" "$SCRATCH/err"; then
    pass "apply --json refused: the message is on stderr too"
else
    fail "apply --json refused: stderr: $(cat "$SCRATCH/err")"
fi
expect_one_json "apply --json refused: the hint" "j['error']['hint'].startswith('1 more problem(s)')"
json_case "resume --json, nothing interrupted" 2 "$(error_doc error usage 2 "there is no interrupted run")" \
    "${A[@]}" resume --json "${SITE[@]}"
run env FERRY_TEST_CRASH_AT=stage:done "${A[@]}" apply -q "$B2" --trust "$TRUST" "${SITE[@]}" --ack-breaking --allow-major
json_case "resume --json -v" 0 "j['result'] == 'resumed' and j['to'] == '2.0.0'" "${A[@]}" resume --json -v "${SITE[@]}"
grep -qx "  step start (journaled)" "$SCRATCH/err" && grep -qx "  step commit (journaled)" "$SCRATCH/err" &&
    pass "resume -v: each journaled step on stderr, the document alone on stdout" ||
    fail "resume -v: stderr: $(cat "$SCRATCH/err")"
json_case "status --json" 0 "j['node'] == 'installed'" "${A[@]}" status --json --state-dir "$S"
json_case "history --json" 0 "j['result'] == 'listed' and [r['state'] for r in j['runs']] == ['failed', 'committed', 'committed']" \
    "${A[@]}" history --json --state-dir "$S"
json_case "audit verify --json" 0 "j['result'] == 'intact' and j['records'] >= 3 and len(j['last_hash']) == 64" \
    "${A[@]}" audit verify --json --state-dir "$S"
json_case "audit export --json" 0 "j['result'] == 'exported' and j['chain_intact']" \
    "${A[@]}" audit export --json --state-dir "$S"
json_case "trust show --json" 0 "j['result'] == 'shown' and j['version'] == 1 and j['thresholds'] == {'release': 1, 'trust': 1}" \
    "${A[@]}" trust show --json --trust "$TRUST"
json_case "trust show --json without a trust store" 1 "$(error_doc error input 1 "$SCRATCH/none.yaml: no trust store")" \
    "${A[@]}" trust show --json --trust "$SCRATCH/none.yaml"
sqlite3 "$S/state.db" "UPDATE audit SET detail = '{}' WHERE seq = 1"
json_case "audit verify --json of a changed log" 3 "$(error_doc not_verified verification 3 "audit log")" \
    "${A[@]}" audit verify --json --state-dir "$S"
cp "$S/state.db" "$SCRATCH/state.db.good"
head -c 65536 /dev/urandom >"$S/state.db"
json_case "status --json of a damaged state database" 1 "$(error_doc error input 1 "damaged or unreadable")" \
    "${A[@]}" status --json --state-dir "$S"
cp "$SCRATCH/state.db.good" "$S/state.db"
json_case "rollback --json" 0 "j['result'] == 'rolled_back' and j['from'] == '2.0.0' and j['to'] == '1.0.0'" "${A[@]}" rollback --run 3 --json "${SITE[@]}"
stop_service

# --- D1. --trust defaults to the node's own store ---------------------------------------------

readonly DEFAULT_TRUST=/etc/ferry/trust.yaml
if [ -e "$DEFAULT_TRUST" ]; then
    echo "skip - the default trust store (this machine has $DEFAULT_TRUST)"
else
    site default-trust
    # verify has no --root: the node's store is /etc/ferry/trust.yaml; plan's is below --root.
    for cmd in "verify" "plan --root $R --state-dir $S"; do
        store=$DEFAULT_TRUST
        [ "$cmd" == verify ] || store=$R$DEFAULT_TRUST
        # shellcheck disable=SC2086 # the command and its options, split on purpose
        expect_fail "${cmd%% *} without --trust: names the default store" 1 \
            "error: $store: no trust store (the node's own, used when --trust is not given)" \
            "$FERRY_APPLIER" $cmd "$B1"
        grep -qF "hint: install the site's trust store once with \`ferry-applier trust init FILE\`, or pass --trust FILE" "$SCRATCH/err" &&
            pass "${cmd%% *} without --trust: the hint" || fail "${cmd%% *} without --trust: no hint in: $(cat "$SCRATCH/err")"
    done
    [ ! -e "$S" ] && [ -z "$(find "$R" -mindepth 1)" ] && pass "without --trust: nothing written" ||
        fail "without --trust: something was written in $S or $R"
    expect_fail "trust show without --trust: names the default store" 1 "error: $DEFAULT_TRUST: no trust store" \
        "$FERRY_APPLIER" trust show
    expect_fail "apply without --trust: names the default store" 1 "error: $R$DEFAULT_TRUST: no trust store" \
        "$FERRY_APPLIER" apply -q "$B1" --root "$R" --state-dir "$S"
    [ -z "$(find "$R" -mindepth 1)" ] && pass "apply without --trust: nothing installed" ||
        fail "apply without --trust: installed $(find "$R" -mindepth 1 | head -3)"
    expect_fail "a missing --trust file: names it" 1 "$SCRATCH/none.yaml: no trust store" \
        "$FERRY_APPLIER" verify "$B1" --trust "$SCRATCH/none.yaml"
    grep -qF "hint: pass --trust with the site's trust store (trust.yaml)" "$SCRATCH/err" &&
        pass "a missing --trust file: the hint" || fail "a missing --trust file: no hint in: $(cat "$SCRATCH/err")"
fi

# --- D2, D3. plan lists hooks, checks and image loads; a kept config shows no diff -----------

mkdir -p "$TREE/images"
head -c 4096 /dev/urandom >"$TREE/images/web.oci.tar"
variant greeter-2.0.0.yaml with-image.yaml '
s["components"][0]["files"].append({"source": "images/web.oci.tar", "role": "image"})
s["procedure"]["hooks"]["pre_install"] = ["/bin/true", "pre"]
s["procedure"]["images"] = {"load": ["/bin/true", "load", "{path}"]}'
build with-image.yaml with-image && B_IMAGE=$BUILT
variant greeter-2.0.0.yaml keep.yaml '
for f in s["components"][0]["files"]:
    if f["role"] == "config":
        f["config_mode"] = "keep"'
build keep.yaml keep && B_KEEP=$BUILT

site plan-lists
expect_ok "plan lists: install 1.0.0" apply "$B1"
run "$FERRY_APPLIER" plan "$B_IMAGE" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_code "plan with hooks, checks and an image" 0
expect_output "plan: the stop hook" "  stop           $R/usr/bin/greeterctl stop $R"
expect_output "plan: pre_install, in order" "  pre_install    /bin/true pre"
expect_output "plan: the start hook" "  start          $R/usr/bin/greeterctl start $R"
expect_output "plan: the health check" "  running-2.0.0  $R/usr/bin/greeter check --config $R/etc/greeter/greeter.env --expect-version 2.0.0  (up to 6 tries)"
expect_output "plan: the smoke check" "  greetings      $R/usr/bin/greeter check"
expect_output "plan: the image load" "image loads:"
grep -A1 '^image loads:' "$SCRATCH/out" | grep -qE '^  \S*web\.oci\.tar +/bin/true load \{path\}$' &&
    pass "plan: the image and its load command" || fail "plan: image loads: $(grep -A2 '^image loads:' "$SCRATCH/out")"
grep -A4 '^hooks, in the order they run:' "$SCRATCH/out" | awk '{print $1}' | tr '\n' ' ' |
    grep -qF "hooks, stop pre_install start" && pass "plan: hooks in the order apply runs them" ||
    fail "plan: hooks: $(grep -A4 '^hooks' "$SCRATCH/out")"
run "$FERRY_APPLIER" plan --json "$B_IMAGE" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_one_json "plan --json: hooks, checks and image loads" "(
[h['name'] for h in j['hooks']] == ['stop', 'pre_install', 'start'] and
j['hooks'][0]['command'] == ['$R/usr/bin/greeterctl', 'stop', '$R'] and
[(c['name'], c['retries']) for c in j['health']] == [('running-2.0.0', 5)] and
[c['name'] for c in j['smoke']] == ['greetings'] and
len(j['image_loads']) == 1 and j['image_loads'][0]['name'].endswith('web.oci.tar') and
j['image_loads'][0]['command'] == ['/bin/true', 'load', '{path}'] and
len(j['checklist']) > 5 and {'item', 'automatic'} <= set(j['checklist'][0]))"

# A configuration file the site edited, in keep mode: it stays; the new one goes beside it.
CONF=$R/etc/greeter/greeter.env
echo "# edited on site" >>"$CONF"
BEFORE_STATE=$(snapshot "$S")
BEFORE_ROOT=$(snapshot "$R/etc")
run "$FERRY_APPLIER" plan "$B_KEEP" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_code "plan of a kept config" 0
expect_output "plan of a kept config: the note" \
    "keep site's  /etc/greeter/greeter.env.ferry-new  (the site edited /etc/greeter/greeter.env; the new version goes beside it"
if grep -qE '^(\+\+\+|---) ' "$SCRATCH/out"; then
    fail "plan of a kept config: shows a diff: $(grep -E -A3 '^--- ' "$SCRATCH/out")"
else
    pass "plan of a kept config: no diff"
fi
run "$FERRY_APPLIER" plan --json "$B_KEEP" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_one_json "plan --json of a kept config: no diff, the note" \
    "j['diffs'] == {} and any(f['action'] == \"keep site's\" and 'goes beside it' in f['note'] for f in j['files'])"
# A merged config still shows its diff.
run "$FERRY_APPLIER" plan --json "$B2" --trust "$TRUST" --root "$R" --state-dir "$S" --ack-breaking --allow-major
expect_one_json "plan --json of a merged config: its diff" \
    "list(j['diffs']) == ['/etc/greeter/greeter.env'] and '+++ bundle /etc/greeter/greeter.env' in j['diffs']['/etc/greeter/greeter.env']"
expect_unchanged "plan of a kept config: state" "$S" "$BEFORE_STATE"
expect_unchanged "plan of a kept config: root" "$R/etc" "$BEFORE_ROOT"
stop_service

# --- D4. an image with no dest and no procedure.images.load -----------------------------------

variant greeter-2.0.0.yaml image-nowhere.yaml '
s["components"][0]["files"].append({"source": "images/web.oci.tar", "role": "image"})'
mkdir -p "$SCRATCH/bundles/image-nowhere"
expect_fail "build: an image with nowhere to go is refused" 1 \
    "$TREE/image-nowhere.yaml:" "$FERRY_BUNDLER" build -q "$TREE/image-nowhere.yaml" \
    --key "$KEYS/test-release-1.key" -o "$SCRATCH/bundles/image-nowhere"
grep -qE "image-nowhere\.yaml:[0-9]+: \"images/web\.oci\.tar\": an image with no format and refs, and no dest, is installed only by procedure\.images\.load, which is missing$" \
    "$SCRATCH/err" && pass "build: names the spec, the line, the file and procedure.images.load" ||
    fail "build: message: $(cat "$SCRATCH/err")"
grep -qF "hint: give the image its format and refs (the node pushes or loads it), add procedure.images.load" "$SCRATCH/err" && pass "build: the hint" || fail "build: no hint: $(cat "$SCRATCH/err")"
[ -z "$(ls -A "$SCRATCH/bundles/image-nowhere")" ] && pass "build: no bundle written" ||
    fail "build: wrote $(ls -A "$SCRATCH/bundles/image-nowhere")"

# The same file list signed by a trusted key, without the load command: the manifest of the
# bundle with the image, its `images` lines taken out, signed again over the same payload.
FORGED=$SCRATCH/forged-image
mkdir -p "$FORGED"
tar -xf "$B_IMAGE" -C "$FORGED" manifest.yaml payload.tar.zst
grep -q '^  images:$' "$FORGED/manifest.yaml" || fail "the image bundle's manifest has no images: section"
"$PY" - "$FORGED/manifest.yaml" <<'PYEOF'
import re, sys
text = open(sys.argv[1]).read()
open(sys.argv[1], "w").write(re.sub(r"\n  images:\n    load: [^\n]*", "", text, count=1))
PYEOF
"$FERRY_FORGE" --manifest "$FORGED/manifest.yaml" --manifest-raw --raw-payload "$FORGED/payload.tar.zst" \
    --key "$KEYS/test-release-1.key" -o "$FORGED/greeter-2.0.0.ferry" >/dev/null
site image-nowhere
expect_ok "verify side: install 1.0.0" apply "$B1"
BEFORE_ROOT=$(snapshot "$R/usr")
NOWHERE="manifest.yaml: file \"greeter/image/web.oci.tar\": an image with no format and refs, and no dest, is installed only by procedure.images.load, which is missing"
expect_fail "verify: a manifest with an image that has nowhere to go is refused" 3 "$NOWHERE" \
    "$FERRY_APPLIER" verify "$FORGED/greeter-2.0.0.ferry" --trust "$TRUST"
for cmd in plan apply; do
    expect_fail "$cmd: a manifest with an image that has nowhere to go is refused" 3 "$NOWHERE" \
        "$FERRY_APPLIER" "$cmd" "$FORGED/greeter-2.0.0.ferry" --trust "$TRUST" --root "$R" --state-dir "$S" \
        --ack-breaking --allow-major
done
expect_unchanged "an image that has nowhere to go: nothing installed" "$R/usr" "$BEFORE_ROOT"
stop_service

# --- E. the console's conventions -------------------------------------------------------------

BN=("$FERRY_BUNDLER")
K1=$KEYS/test-release-1.key
E=$SCRATCH/console
mkdir -p "$E/out"

# on_tty CMD...: runs CMD with a terminal as stdin, stdout and stderr (script(1)); what it wrote,
# both streams together, is in $SCRATCH/tty and its exit code in $RC.
on_tty() {
    local cmd
    printf -v cmd '%q ' "$@"
    set +e
    script -qec "$cmd" /dev/null </dev/null >"$SCRATCH/tty" 2>&1
    RC=$?
    set -e
}
readonly ESC=$'\033'
has_colour() { grep -qF "${ESC}[1;31merror:${ESC}[0m" "$SCRATCH/tty"; }

# Colour: on a terminal, not with NO_COLOR (any non-empty value), nor TERM=dumb, nor off a terminal.
if ! command -v script >/dev/null; then
    fail "script(1) (bsdutils) is missing: the terminal cases cannot run"
else
    on_tty env TERM=xterm "${BN[@]}" inspect "$E/none.ferry" --no-such
    [ "$RC" -eq 2 ] && has_colour && grep -qF "${ESC}[36mhint:${ESC}[0m" "$SCRATCH/tty" &&
        pass "colour: error: in red, hint: in cyan on a terminal" ||
        fail "colour on a terminal: exit $RC: $(cat -v "$SCRATCH/tty")"
    on_tty env TERM=xterm NO_COLOR= "${BN[@]}" inspect "$E/none.ferry"
    has_colour && pass "colour: an empty NO_COLOR leaves it on" || fail "colour with NO_COLOR='': $(cat -v "$SCRATCH/tty")"
    for setting in NO_COLOR=1 NO_COLOR=false TERM=dumb; do
        on_tty env TERM=xterm "$setting" "${A[@]}" verify "$E/none.ferry" --trust "$TRUST"
        if [ "$RC" -eq 1 ] && ! grep -qF "$ESC" "$SCRATCH/tty" && grep -qF "ferry-applier: error: $E/none.ferry" "$SCRATCH/tty"; then
            pass "colour: off with $setting"
        else
            fail "colour with $setting: exit $RC: $(cat -v "$SCRATCH/tty")"
        fi
    done

    # Progress: a bar with the rate and the time left on a terminal; plain lines with TERM=dumb.
    on_tty env TERM=xterm "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/out" --force
    if [ "$RC" -eq 0 ] && grep -qE "packing greeter-1\.0\.0\.ferry \[#+\] 100% [0-9.]+ [KMG]iB/[0-9.]+ [KMG]iB  [0-9.]+ [KMG]iB/s  ([0-9]+:[0-9]{2}|--:--) left" "$SCRATCH/tty"; then
        pass "progress on a terminal: a bar, the rate and the time left"
    else
        fail "progress on a terminal: exit $RC: $(cat -v "$SCRATCH/tty")"
    fi
    on_tty env TERM=dumb "${BN[@]}" build -v "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/out" --force
    # script(1) ends each line with \r\n; a redrawn bar would leave a \r inside a line.
    sed 's/\r$//' "$SCRATCH/tty" >"$SCRATCH/tty.lines"
    if [ "$RC" -eq 0 ] && ! grep -qF $'\r' "$SCRATCH/tty.lines" &&
        grep -qE "^packing greeter-1\.0\.0\.ferry: done, [0-9.]+ [KMG]iB in [0-9.]+ s, [0-9.]+ [KMG]iB/s$" "$SCRATCH/tty.lines"; then
        pass "progress with TERM=dumb: plain lines, no bar"
    else
        fail "progress with TERM=dumb: exit $RC: $(cat -v "$SCRATCH/tty")"
    fi
fi

# Off a terminal: no colour, no bar; plain progress lines only with -v (the sample is small).
run "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/out" --force
[ "$RC" -eq 0 ] && [ ! -s "$SCRATCH/err" ] && pass "build off a terminal: nothing on stderr for small work" ||
    fail "build off a terminal: exit $RC, stderr: $(cat -v "$SCRATCH/err")"
run "${BN[@]}" build -v "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/out" --force
for line in "  reading the spec $TREE/greeter-1.0.0.yaml" "  signing the manifest with 1 key(s)" \
    "  verifying the bundle's signatures and chunks as an applier would" "  renaming it into place"; do
    grep -qxF -- "$line" "$SCRATCH/err" || fail "build -v: no \"$line\" in: $(cat "$SCRATCH/err")"
done
grep -qE "^packing greeter-1\.0\.0\.ferry: done, " "$SCRATCH/err" && ! grep -qF "$ESC" "$SCRATCH/err" &&
    pass "build -v: each step and plain progress lines, no colour" || fail "build -v: stderr: $(cat -v "$SCRATCH/err")"
grep -q "^built $E/out/greeter-1.0.0.ferry: " "$SCRATCH/out" && pass "build -v: the result on stdout as ever" ||
    fail "build -v: stdout: $(cat "$SCRATCH/out")"
run "${BN[@]}" sign -q "$E/out/greeter-1.0.0.ferry" --key "$KEYS/test-release-2.key" -o "$E/out/quiet.ferry"
[ "$RC" -eq 0 ] && [ ! -s "$SCRATCH/err" ] && grep -q "^signed $E/out/quiet.ferry with key " "$SCRATCH/out" &&
    pass "sign -q: the result only" || fail "sign -q: exit $RC, stderr: $(cat "$SCRATCH/err")"
expect_fail "-q and -v together: refused" 2 "--quiet excludes --verbose" \
    "${BN[@]}" build -q -v "$TREE/greeter-1.0.0.yaml" --key "$K1"

# A bad command line points at the command's own --help.
expect_fail "a bad option: names it" 2 "The following argument was not expected: --no-such" \
    "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$K1" --no-such
grep -qxF "hint: see 'ferry-bundler build --help'" "$SCRATCH/err" && pass "a bad option: see the command's --help" ||
    fail "a bad option: hint: $(cat "$SCRATCH/err")"
expect_fail "a group without its command" 2 "hint: see 'ferry-applier trust --help'" "${A[@]}" trust
expect_fail "key generate: a bad --name" 2 "hint: use lower-case letters" "${BN[@]}" key generate --name "Bad Name"
expect_fail "split -o: gone, --out-dir instead" 2 "hint: see 'ferry-bundler split --help'" \
    "${BN[@]}" split "$E/out/greeter-1.0.0.ferry" -o "$E"

# -o names a file; --out-dir a folder; an existing folder given as -o is written into (as before).
rm -f "$E/out"/*
expect_ok "build -o FILE" "${BN[@]}" build -q "$TREE/greeter-1.0.0.yaml" --key "$K1" -o "$E/out/named.ferry"
[ "$(ls "$E/out")" == "named.ferry" ] && pass "build -o FILE: that file, nothing else" || fail "build -o FILE: $(ls "$E/out")"
expect_ok "build -o FOLDER (the old meaning)" "${BN[@]}" build -q "$TREE/greeter-1.0.0.yaml" --key "$K1" -o "$E/out"
[ -f "$E/out/greeter-1.0.0.ferry" ] && pass "build -o FOLDER: NAME-VERSION.ferry in it" || fail "build -o FOLDER: $(ls "$E/out")"
expect_ok "sign -o FILE" "${BN[@]}" sign -q "$E/out/named.ferry" --key "$KEYS/test-release-2.key" -o "$E/out/cosigned.ferry"
expect_fail "-o and --out-dir together" 2 "--output excludes --out-dir" \
    "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$K1" -o "$E/out/x.ferry" --out-dir "$E/out"
# An encrypted key and no terminal: a passphrase prompt would fail otherwise; the folder is checked first.
FERRY_PASSPHRASE=pass-phrase-1 "${BN[@]}" key generate --name sealed --out-dir "$SCRATCH" >/dev/null
BEFORE_OUT=$(snapshot "$E")
expect_fail "build -o in a missing folder: names the folder" 2 \
    "error: $E/missing: no such folder (the folder of -o $E/missing/b.ferry)" \
    "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$SCRATCH/sealed.key" -o "$E/missing/b.ferry"
grep -qF "hint: create it first (mkdir -p $E/missing)" "$SCRATCH/err" && pass "build -o in a missing folder: the hint" ||
    fail "build -o in a missing folder: $(cat "$SCRATCH/err")"
expect_fail "build --out-dir missing: names it" 2 "error: $E/missing: no such folder (--out-dir)" \
    "${BN[@]}" build "$TREE/greeter-1.0.0.yaml" --key "$SCRATCH/sealed.key" --out-dir "$E/missing"
expect_fail "sign -o in a missing folder: names it" 2 "error: $E/missing: no such folder (the folder of -o $E/missing/c.ferry)" \
    "${BN[@]}" sign "$E/out/named.ferry" --key "$SCRATCH/sealed.key" -o "$E/missing/c.ferry"
expect_fail "key generate --out-dir missing: names it, before the passphrase" 2 \
    "error: $E/missing: no such folder (--out-dir)" "${BN[@]}" key generate --name k --out-dir "$E/missing"
expect_unchanged "missing output folders" "$E" "$BEFORE_OUT"

# --json of build, sign and key generate: one document with every documented field, typed.
doc_types() { echo "all(isinstance(j.get(k, ...), t) for k, t in $1.items())"; }
json_case "build --json" 0 "j['result'] == 'built' and j['bundle'] == '$E/out/greeter-1.0.0.ferry' and j['parts'] is None and $(doc_types \
    "{'name': str, 'version': str, 'sequence': int, 'files': int, 'payload_bytes': int, 'expires': str, 'expired': bool, 'self_checked': bool, 'signatures': list}") and j['self_checked'] and j['signatures'] == ['$(key_id "$KEYS/test-release-1.pub")']" \
    "${BN[@]}" build --json "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/out" --force
mkdir -p "$E/parts"
json_case "build --json --split-size" 0 "len(j['parts']) == 1 and all(isinstance(p['bytes'], int) and p['file'].startswith('$E/parts/greeter-1.0.0.ferry.0') for p in j['parts']) and j['parts_list'] == '$E/parts/greeter-1.0.0.ferry.parts'" \
    "${BN[@]}" build --json "$TREE/greeter-1.0.0.yaml" --key "$K1" --out-dir "$E/parts" --split-size 4G
json_case "build --json of a missing spec" 1 "$(error_doc error input 1 "$E/none.yaml")" \
    "${BN[@]}" build --json "$E/none.yaml" --key "$K1" --out-dir "$E/out"
json_case "sign --json" 0 "j == {'result': 'signed', 'bundle': '$E/out/co.ferry', 'key_id': '$(key_id "$KEYS/test-release-2.pub")', 'trust_bundle': False}" \
    "${BN[@]}" sign --json "$E/out/greeter-1.0.0.ferry" --key "$KEYS/test-release-2.key" -o "$E/out/co.ferry"
json_case "sign --json, already signed by the key" 2 "$(error_doc error usage 2 "is already signed by key")" \
    "${BN[@]}" sign --json "$E/out/co.ferry" --key "$KEYS/test-release-2.key"
mkdir -p "$E/keys"
json_case "key generate --json" 0 "j['result'] == 'generated' and j['name'] == 'j1' and j['encrypted'] is False and j['appended_to'] is None and j['secret_key'] == '$E/keys/j1.key' and $(doc_types \
    "{'key_id': str, 'public_key': str, 'trust_entry': dict}") and j['trust_entry']['roles'] == ['release', 'trust'] and j['trust_entry']['id'] == j['key_id']" \
    "${BN[@]}" key generate --json --name j1 --out-dir "$E/keys" --unencrypted --role trust --role release
[ "$(/usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_id"])' "$SCRATCH/out")" == "$(key_id "$E/keys/j1.pub")" ] &&
    pass "key generate --json: the id of the key written" || fail "key generate --json: the id differs from $E/keys/j1.pub's"

# key generate's trust entry: printed ready to paste, or appended to a trust store, all or nothing.
cp "$TRUST" "$E/trust.yaml"
run "${BN[@]}" key generate --print-entry --name p1 --out-dir "$E/keys" --unencrypted --expires 2031-03-04
P1=$(key_id "$E/keys/p1.pub")
if [ "$RC" -eq 0 ] && [ "$(cat "$SCRATCH/out")" == "  - name: p1
    id: \"$P1\"
    public_key: \"$(sed -n 2p "$E/keys/p1.pub")\"
    expires: 2031-03-04T00:00:00Z
    roles: [release]" ] && grep -qF "key id:      $P1" "$SCRATCH/err"; then
    pass "key generate --print-entry: only the entry on stdout, the files on stderr"
else
    fail "key generate --print-entry: exit $RC, stdout: $(cat "$SCRATCH/out"), stderr: $(cat "$SCRATCH/err")"
fi
cat "$SCRATCH/out" >>"$E/trust.yaml"
json_case "the printed entry pasted into trust.yaml reads" 0 "[k['name'] for k in j['keys']][-1] == 'p1' and j['keys'][-1]['id'] == '$P1'" \
    "${A[@]}" trust show --json --trust "$E/trust.yaml"
STORE_BEFORE=$(cat "$E/trust.yaml")
expect_ok "key generate --append-to" "${BN[@]}" key generate -q --name a1 --out-dir "$E/keys" --unencrypted --append-to "$E/trust.yaml"
expect_output "key generate --append-to: says where" "added to:    $E/trust.yaml (keys: a1)"
A1=$(key_id "$E/keys/a1.pub")
[ "$(head -c ${#STORE_BEFORE} "$E/trust.yaml")" == "$STORE_BEFORE" ] && pass "--append-to: the store's bytes before it kept" ||
    fail "--append-to: the store changed before the new entry: $(diff <(echo "$STORE_BEFORE") "$E/trust.yaml" | head -5)"
json_case "--append-to: the store reads with the new key" 0 "j['keys'][-1]['name'] == 'a1' and j['keys'][-1]['id'] == '$A1' and j['keys'][-1]['roles'] == ['release']" \
    "${A[@]}" trust show --json --trust "$E/trust.yaml"
printf 'version: 1\nthresholds: {release: 1, trust: 1}\nkeys: []\n' >"$E/bad-trust.yaml"
BEFORE_KEYS=$(snapshot "$E")
expect_fail "--append-to, a name the store has: refused" 2 "$E/trust.yaml already has a key named \"a1\"" \
    "${BN[@]}" key generate --name a1 --out-dir "$E" --unencrypted --append-to "$E/trust.yaml"
expect_fail "--append-to a file that is not a valid trust store: refused" 1 "$E/bad-trust.yaml:" \
    "${BN[@]}" key generate --name b1 --out-dir "$E" --unencrypted --append-to "$E/bad-trust.yaml"
expect_unchanged "refused --append-to: no key written, no store changed" "$E" "$BEFORE_KEYS"
