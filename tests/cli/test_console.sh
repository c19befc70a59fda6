#!/usr/bin/env bash
# What the operator sees at the console: `plan`'s exit code, `status` on a fresh, busy,
# interrupted or failed node, one JSON document from every --json command on success and on
# failure, the default trust store, and what `plan` lists. For each: the message, the exit code
# and the state left behind.
source "$(dirname "$0")/lib.sh"
readonly PY=/usr/bin/python3

GREETER_PORT=$((18300 + $$ % 300))
export GREETER_PORT

ROOTS=()
LOCK_HOLDER=""
cleanup() {
    local r
    if [ -n "$LOCK_HOLDER" ]; then
        kill "$LOCK_HOLDER" 2>/dev/null || true
        wait "$LOCK_HOLDER" 2>/dev/null || true
    fi
    for r in "${ROOTS[@]}"; do
        if [ -x "$r/usr/bin/greeterctl" ]; then
            "$r/usr/bin/greeterctl" stop "$r" >/dev/null 2>&1 || true
        fi
    done
}
trap 'rc=$?; set +e; cleanup; (exit $rc); finish' EXIT

# site NAME: a fresh install root R and state folder S (the state folder not yet created).
site() {
    R=$SCRATCH/sites/$1/root
    S=$SCRATCH/sites/$1/state
    mkdir -p "$R"
    ROOTS+=("$R")
}

apply() {
    local bundle=$1
    shift
    "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S" "$@"
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

# variant FROM TO PYTHON: writes spec TO from spec FROM, changed by PYTHON acting on s.
variant() {
    "$PY" - "$TREE/$1" "$TREE/$2" "$3" <<'EOF'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))
exec(sys.argv[3])
yaml.safe_dump(s, open(sys.argv[2], "w"), sort_keys=False)
EOF
}

# build SPEC DIR: builds TREE/SPEC into SCRATCH/bundles/DIR; sets BUILT to the bundle.
build() {
    mkdir -p "$SCRATCH/bundles/$2"
    if "$FERRY_BUNDLER" build -q "$TREE/$1" --key "$KEYS/test-release-1.key" -o "$SCRATCH/bundles/$2" \
        >"$SCRATCH/build.out" 2>&1; then
        BUILT=$(find "$SCRATCH/bundles/$2" -name '*.ferry')
    else
        fail "building $1: $(cat "$SCRATCH/build.out")"
        exit 1
    fi
}

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
TREE=$(sample_tree)
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
