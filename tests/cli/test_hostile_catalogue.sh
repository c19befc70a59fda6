#!/usr/bin/env bash
# The hostile-bundle catalogue: every case gen_hostile.py --catalogue writes (hostile paths,
# links, special files, headers, entries, zstd frames, envelopes, mixed bundles, chunk and
# signature lists, huge manifests and sizes) is forged with ferry-forge, then both verified and
# applied onto an empty root. Each must exit with its code and message, quickly, write nothing
# to the root or outside the scratch folder (a canary outside the root stays as it was) and
# leave no staging folder behind. The table lives in gen_hostile.py; this script only runs it.
# Then every case's signed manifest goes through the differential test of the manifest's readers
# (tests/schema/test_schemas.py --differential): Ferry, and PyYAML with the JSON Schema, must
# read it the same way or both refuse it.
source "$(dirname "$0")/lib.sh"
: "${FERRY_FORGE:?}" "${FERRY_REEMIT:?}"
readonly PY=/usr/bin/python3
# Seconds a refusal may take: the 2^32-byte cases must not read, write or allocate that much.
readonly MAX_SECONDS=10
# Bytes a root plus state folder may hold after a refused apply.
readonly MAX_STATE_BYTES=$((4 << 20))

KEYS=$SCRATCH/keys
make_keys "$KEYS"
"$FERRY_BUNDLER" key generate --name outsider --out-dir "$KEYS" --unencrypted >/dev/null 2>&1
readonly TRUST=$KEYS/trust.yaml

# B is the release the cases start from (greeter 1.0.0: it applies to an empty node), A another
# release whose payload and files get mixed in.
TREE=$(sample_tree)
mkdir "$SCRATCH/real"
"$FERRY_BUNDLER" build -q "$TREE/greeter-1.0.0.yaml" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH/real" >/dev/null
"$FERRY_BUNDLER" build -q "$TREE/greeter-2.0.0.yaml" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH/real" >/dev/null

# docs/audit.md's procedure, the auditor's check with stock tools, must reach the applier's
# verdict on every case (with minisign and openssl both, as the page's blocks run in order).
readonly AUDIT=$SCRATCH/audit.sh
awk '/^```sh$/ { b = 1; next } /^```$/ { b = 0 } b' "$FERRY_SOURCE_DIR/docs/audit.md" >"$AUDIT"

# audit_agrees NAME BUNDLE VERIFY_RC: the audit passes exactly when verify exited 0.
audit_agrees() {
    local name=$1 bundle=$2 verify_rc=$3 work first
    work=$(mktemp -d "$SCRATCH/audit-work.XXXXXX")
    run env -u FERRY_BUNDLER -u FERRY_APPLIER -u FERRY_BUILD_DIR -u FERRY_SOURCE_DIR -u SOURCE_DATE_EPOCH \
        BUNDLE="$bundle" PUBKEY="$KEYS/test-release-1.pub" TRUST="$TRUST" WORK="$work" bash -euo pipefail "$AUDIT"
    rm -rf "$work"
    first=$(grep -a -m 1 '^AUDIT FAILED: ' "$SCRATCH/err" || tail -n 2 "$SCRATCH/err")
    if [ "$RC" -eq 0 ] && [ "$verify_rc" -ne 0 ]; then
        fail "$name: the audit procedure passes a bundle ferry-applier verify refuses (exit $verify_rc)"
    elif [ "$RC" -ne 0 ] && [ "$verify_rc" -eq 0 ]; then
        fail "$name: the audit procedure refuses a bundle ferry-applier verify accepts: $first"
    else
        pass "$name: audit agrees with verify (${first:-AUDIT PASSED})"
    fi
}

# The canary the links aim at, outside every root.
readonly OUTSIDE=$SCRATCH/outside
mkdir "$OUTSIDE"
echo "canary" >"$OUTSIDE/victim"

readonly CATALOGUE=$SCRATCH/catalogue
"$PY" "$FERRY_SOURCE_DIR/tests/cli/gen_hostile.py" --catalogue "$SCRATCH/real/greeter-1.0.0.ferry" \
    "$SCRATCH/real/greeter-2.0.0.ferry" "$TREE" "$OUTSIDE" "$CATALOGUE" >"$SCRATCH/cases"
mkdir "$SCRATCH/bundles" "$SCRATCH/nodes" "$SCRATCH/manifests"

# scratch_listing: everything in the scratch folder but the nodes (checked on their own) and
# run()'s output files, with size, mode and mtime.
scratch_listing() {
    find "$SCRATCH" -mindepth 1 \( -path "$SCRATCH/nodes" -o -path "$SCRATCH/out" -o -path "$SCRATCH/err" \) -prune \
        -o -printf '%y %m %s %T@ %p\n' | sort
}

# forge_bundle CASE BUNDLE: builds the case's bundle from the arguments in its forge file.
forge_bundle() {
    local arg args=()
    while IFS= read -r arg; do
        arg=${arg//@KEY@/$KEYS/test-release-1.key}
        args+=("${arg//@OUTSIDER_KEY@/$KEYS/outsider.key}")
    done <"$CATALOGUE/$1/forge"
    env -C "$CATALOGUE/$1" "$FERRY_FORGE" -o "$2" "${args[@]}" >"$SCRATCH/forge.out" 2>&1
}

# outcome NAME CODE MESSAGE CMD...: runs CMD, which must exit with CODE within MAX_SECONDS,
# MESSAGE in stderr (in stdout for a success), and leave the scratch folder as it was.
outcome() {
    local name=$1 code=$2 message=$3 before start elapsed stream=err
    shift 3
    before=$(scratch_listing)
    start=$(date +%s%N)
    run "$@"
    elapsed=$((($(date +%s%N) - start) / 1000000))
    [ "$code" -eq 0 ] && stream=out
    if [ "$RC" -ne "$code" ]; then
        fail "$name: expected exit $code, got $RC; stderr: $(head -c 600 "$SCRATCH/err")"
    elif ! grep -qF -- "$message" "$SCRATCH/$stream"; then
        fail "$name: $stream lacks \"$message\": $(head -c 600 "$SCRATCH/$stream")"
    else
        pass "$name (${elapsed} ms)"
    fi
    if [ "$elapsed" -gt $((MAX_SECONDS * 1000)) ]; then
        fail "$name: took $elapsed ms"
    fi
    if [ "$(scratch_listing)" != "$before" ]; then
        fail "$name: wrote outside its node: $(diff <(echo "$before") <(scratch_listing) | head -5)"
    fi
    if [ "$(cat "$OUTSIDE/victim")" != "canary" ] || [ "$(ls -A "$OUTSIDE")" != "victim" ]; then
        fail "$name: the canary outside the root changed: $(ls -la "$OUTSIDE")"
    fi
}

# node_clean NAME NODE: after a refused apply the root is empty, the state folder holds no run
# (so no staging), nothing else appeared beside them but the node's key and the receipt of the
# refusal, and it all stays small.
node_clean() {
    local name=$1 node=$2 extra
    extra=$(find "$node" -mindepth 1 ! -path "$node/root" ! -path "$node/state" \
        ! -path "$node/state/lock" ! -path "$node/state/state.db" ! -path "$node/state/runs" \
        ! -path "$node/state/state.db-*" ! -path "$node/state/node.key" ! -path "$node/state/node.pub" \
        ! -path "$node/state/receipts" ! -path "$node/state/receipts/*.json" ! -path "$node/state/receipts/*.json.minisig")
    if [ -n "$(ls -A "$node/root")" ]; then
        fail "$name: wrote to the root: $(find "$node/root" -mindepth 1 | head -5)"
    elif [ -n "$extra" ]; then
        fail "$name: left behind: $(echo "$extra" | head -5)"
    elif [ "$(du -sb "$node" | cut -f1)" -gt "$MAX_STATE_BYTES" ]; then
        fail "$name: the node holds $(du -sb "$node" | cut -f1) bytes"
    else
        pass "$name: root empty, no staging left"
    fi
}

while read -r name; do
    failed_before=$FAILED
    bundle=$SCRATCH/bundles/$name.ferry
    if ! forge_bundle "$name" "$bundle"; then
        fail "$name: ferry-forge failed: $(cat "$SCRATCH/forge.out")"
        continue
    fi
    # The signed manifest, for the differential test (not every envelope lets tar extract it).
    tar -xOf "$bundle" manifest.yaml >"$SCRATCH/manifests/$name.yaml" 2>/dev/null ||
        rm -f "$SCRATCH/manifests/$name.yaml"
    while read -r tool code message; do
        if [ "$code" == "skip" ]; then
            continue
        fi
        if [ "$tool" == "verify" ]; then
            outcome "$name: verify" "$code" "$message" "$FERRY_APPLIER" verify -q "$bundle" --trust "$TRUST"
            audit_agrees "$name" "$bundle" "$RC"
        elif [ "$tool" == "inspect" ]; then
            outcome "$name: inspect --files" "$code" "$message" "$FERRY_APPLIER" inspect --files "$bundle"
        elif [ "$tool" == "plan" ]; then
            node=$SCRATCH/nodes/$name-plan
            mkdir -p "$node/root" "$node/state"
            outcome "$name: plan" "$code" "$message" "$FERRY_APPLIER" plan "$bundle" --trust "$TRUST" \
                --root "$node/root" --state-dir "$node/state"
            node_clean "$name: plan" "$node"
            rm -rf "$node"
        else
            node=$SCRATCH/nodes/$name
            mkdir -p "$node/root" "$node/state"
            outcome "$name: apply" "$code" "$message" "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" \
                --root "$node/root" --state-dir "$node/state"
            node_clean "$name: apply" "$node"
            if [ "$RC" -eq 0 ] && [ -x "$node/root/usr/bin/greeterctl" ]; then
                "$node/root/usr/bin/greeterctl" stop "$node/root" >/dev/null 2>&1 || true
            fi
            if [ "$FAILED" -eq "$failed_before" ]; then
                rm -rf "$node"
            fi
        fi
    done <"$CATALOGUE/$name/expect"
    rm -f "$bundle"
    # Only the inputs and nodes of failed cases are worth keeping (a payload is 2 MiB).
    if [ "$FAILED" -eq "$failed_before" ]; then
        rm -rf "${CATALOGUE:?}/$name"
    fi
done <"$SCRATCH/cases"

# The manifest's readers agree on every manifest of the catalogue.
if "$PY" "$FERRY_SOURCE_DIR/tests/schema/test_schemas.py" "$FERRY_SOURCE_DIR" --differential "$FERRY_REEMIT" \
    "$SCRATCH"/manifests/*.yaml >"$SCRATCH/differential" 2>&1; then
    pass "differential test: $(tail -1 "$SCRATCH/differential")"
else
    fail "differential test: $(grep -A3 '^FAIL' "$SCRATCH/differential" | head -40)"
fi
