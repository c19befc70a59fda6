#!/usr/bin/env bash
# verify --report FILE: the evidence a security officer files, in Markdown and JSON, written
# whether the bundle verifies or not; each check in order, the keys, the hashes, the trust store.
source "$(dirname "$0")/lib.sh"
: "${FERRY_FORGE:?}"
readonly PY=/usr/bin/python3

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml
ID1=$(key_id "$KEYS/test-release-1.pub")
readonly ID1
sed 's/^  release: 1$/  release: 2/' "$TRUST" >"$KEYS/trust-2.yaml"
TREE=$(sample_tree)
build greeter-2.0.0.yaml good
readonly B=$BUILT
readonly MANIFEST_SHA=$(tar -xOf "$B" manifest.yaml | sha256sum | cut -c1-64)
readonly PAYLOAD_SHA=$(tar -xOf "$B" payload.tar.zst | sha256sum | cut -c1-64)
readonly TRUST_SHA=$(sha256sum "$TRUST" | cut -c1-64)
mkdir "$SCRATCH/reports"
readonly REP=$SCRATCH/reports

# report_holds NAME FILE PYTHON-EXPR: the JSON report FILE parses and EXPR holds for it (as r).
report_holds() {
    if "$PY" -c 'import json, sys
r = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$2" "$3" 2>"$SCRATCH/json-err"; then
        pass "$1"
    else
        fail "$1: $3 does not hold for: $(cat "$2" "$SCRATCH/json-err")"
    fi
}
checks() { "$PY" -c 'import json, sys; print(" ".join("%s:%s" % (c["check"], "ok" if c["passed"] else "FAILED") for c in json.load(open(sys.argv[1]))["checks"]))' "$1"; }

# --- A bundle that verifies ----------------------------------------------------------------------

expect_ok "verify --report (Markdown)" "$FERRY_APPLIER" verify -q "$B" --trust "$TRUST" --report "$REP/good.md"
expect_output "the usual result on stdout" "verified: greeter 2.0.0 (sequence 2)"
grep -qF "report written to $REP/good.md" "$SCRATCH/err" && pass "says where the report is" || fail "stderr: $(cat "$SCRATCH/err")"
md=$(cat "$REP/good.md")
[[ "$md" == "# Verification report: greeter 2.0.0"* ]] && pass "Markdown: titled by the bundle" || fail "title: $(head -1 "$REP/good.md")"
grep -qF '| Result | **verified** |' "$REP/good.md" && pass "Markdown: the result" || fail "no result row: $md"
grep -qF "| Manifest SHA-256 | \`$MANIFEST_SHA\` |" "$REP/good.md" && pass "Markdown: the manifest's SHA-256, as sha256sum gives it" ||
    fail "manifest sha256 $MANIFEST_SHA not in: $md"
grep -qF "| Payload SHA-256 | \`$PAYLOAD_SHA\` (as signed, and recomputed) |" "$REP/good.md" &&
    pass "Markdown: the payload's SHA-256, recomputed" || fail "payload sha256 $PAYLOAD_SHA not in: $md"
grep -qE "^\| Trust store \| $TRUST, version 1, thresholds: release 1, trust 1 \|$" "$REP/good.md" &&
    grep -qF "| Trust store SHA-256 | \`$TRUST_SHA\` |" "$REP/good.md" &&
    pass "Markdown: the trust store, its version and hash" || fail "trust store rows: $md"
order=$(grep -E '^\| [0-9]+ \| ' "$REP/good.md" | awk -F' \\| ' '{ printf "%s:%s ", $2, $3 }')
[ "$order" == "envelope:passed signatures:passed manifest:passed expiry:passed payload:passed " ] &&
    pass "Markdown: every check in order, each passed" || fail "checks: $order"
grep -qE "^\| \`$ID1\` \| test-release-1 \| release, trust \| [0-9-]+T[0-9:]+Z \| [0-9-]+T[0-9:]+Z \| yes \| valid \|$" "$REP/good.md" &&
    pass "Markdown: the key with its name, roles, expiry and signing time" || fail "signature rows: $(grep -F "$ID1" "$REP/good.md")"

expect_ok "verify --report (JSON) --json" "$FERRY_APPLIER" verify "$B" --trust "$TRUST" --report "$REP/good.json" --json
expect_json "--json says where the report is" "j['result'] == 'verified' and j['report'] == '$REP/good.json'"
report_holds "JSON: verified, with both hashes and the trust store" "$REP/good.json" \
    "r['result'] == 'verified' and r['verified'] and r['manifest_sha256'] == '$MANIFEST_SHA' and r['payload_sha256'] == '$PAYLOAD_SHA' and r['payload_sha256_recomputed'] and r['trust_store'] == {'file': '$TRUST', 'version': 1, 'sha256': '$TRUST_SHA', 'thresholds': {'release': 1, 'trust': 1}} and 'error' not in r"
report_holds "JSON: the key" "$REP/good.json" \
    "[(k['key_id'], k['key_name'], k['roles'], k['counted']) for k in r['keys']] == [('$ID1', 'test-release-1', 'release, trust', True)] and r['keys'][0]['signed_at'].endswith('Z')"
report_holds "JSON: who, where, when" "$REP/good.json" \
    "r['verifier'].startswith('ferry-applier ') and r['host'] and r['verified_at'].endswith('Z') and r['name'] == 'greeter' and r['version'] == '2.0.0'"
[ "$(checks "$REP/good.json")" == "envelope:ok signatures:ok manifest:ok expiry:ok payload:ok" ] &&
    pass "JSON: the same checks in order" || fail "JSON checks: $(checks "$REP/good.json")"

expect_ok "verify --quick --report" "$FERRY_BUNDLER" verify -q --quick "$B" --trust "$TRUST" --report "$REP/quick.json"
report_holds "quick: the payload's chunks and whole hash, nothing decompressed" "$REP/quick.json" \
    "r['quick'] and r['payload_sha256_recomputed'] and r['checks'][-1]['check'] == 'payload (quick)' and r['verifier'].startswith('ferry-bundler ')"

# --- Bundles that do not verify: the report says which check failed ---------------------------

expect_fail "below the threshold: refused as without --report" 3 "manifest signed by 1 trusted release key(s), 2 required" \
    "$FERRY_APPLIER" verify -q "$B" --trust "$KEYS/trust-2.yaml" --report "$REP/threshold.md"
grep -qF '| Result | **NOT VERIFIED** |' "$REP/threshold.md" && pass "threshold: the report says NOT VERIFIED" ||
    fail "threshold report: $(cat "$REP/threshold.md")"
order=$(grep -E '^\| [0-9]+ \| ' "$REP/threshold.md" | awk -F' \\| ' '{ printf "%s:%s ", $2, $3 }')
[ "$order" == "envelope:passed signatures:**FAILED** " ] && pass "threshold: the envelope passed, the signatures failed, nothing after" ||
    fail "threshold checks: $order"
grep -qF "2 required [$ID1 (test-release-1): valid]" "$REP/threshold.md" && pass "threshold: the failed check's detail" ||
    fail "threshold detail: $(cat "$REP/threshold.md")"

cp "$B" "$SCRATCH/damaged.ferry"
at=$("$PY" -c 'import sys, tarfile; m = tarfile.open(sys.argv[1]).getmember("payload.tar.zst"); print(m.offset_data + m.size // 2)' "$B")
flip_byte "$SCRATCH/damaged.ferry" "$at"
expect_fail "a damaged chunk: refused" 3 "sha256 mismatch" \
    "$FERRY_APPLIER" verify -q "$SCRATCH/damaged.ferry" --trust "$TRUST" --report "$REP/damaged.json"
report_holds "damaged: the checks before the payload passed, the payload failed with the chunk" "$REP/damaged.json" \
    "[c['passed'] for c in r['checks']] == [True, True, True, True, False] and 'payload.tar.zst chunk' in r['checks'][-1]['detail'] and r['result'] == 'not_verified' and r['error']['exit_code'] == 3 and not r['payload_sha256_recomputed'] and r['name'] == 'greeter'"

# A manifest, signed by a trusted key, whose payload SHA-256 is not the payload's: every chunk
# matches, so only the report's recomputation finds it.
FORGED=$SCRATCH/forged
mkdir "$FORGED"
tar -xf "$B" -C "$FORGED" manifest.yaml payload.tar.zst
WRONG=$(printf 'not the payload' | sha256sum | cut -c1-64)
sed -i "s/  sha256: $PAYLOAD_SHA/  sha256: $WRONG/" "$FORGED/manifest.yaml"
"$FERRY_FORGE" --manifest "$FORGED/manifest.yaml" --manifest-raw --raw-payload "$FORGED/payload.tar.zst" \
    --key "$KEYS/test-release-1.key" -o "$FORGED/greeter-2.0.0.ferry" >/dev/null
expect_fail "a wrong whole-payload SHA-256 is refused with --report" 3 \
    "payload.tar.zst: sha256 mismatch of the whole member (expected $WRONG, got $PAYLOAD_SHA)" \
    "$FERRY_APPLIER" verify -q "$FORGED/greeter-2.0.0.ferry" --trust "$TRUST" --report "$REP/forged.json"
report_holds "forged: the payload check failed" "$REP/forged.json" "r['checks'][-1]['check'] == 'payload' and not r['checks'][-1]['passed']"

expect_fail "a missing bundle: refused" 1 "$SCRATCH/none.ferry" \
    "$FERRY_APPLIER" verify "$SCRATCH/none.ferry" --trust "$TRUST" --report "$REP/none.md"
grep -qE '^\| 1 \| bundle file \| \*\*FAILED\*\* \| .*none\.ferry' "$REP/none.md" && pass "missing bundle: the report names it" ||
    fail "missing bundle report: $(cat "$REP/none.md")"

# --- Bad report names: refused before anything is read or written ------------------------------

before=$(snapshot "$REP")
expect_fail "a report name that is neither .md nor .json" 2 "--report $REP/r.txt: the name must end in .md (Markdown) or .json (JSON)" \
    "$FERRY_APPLIER" verify "$B" --trust "$TRUST" --report "$REP/r.txt"
expect_fail "a report in a missing folder" 2 "--report $REP/no/r.md: no folder $REP/no" \
    "$FERRY_APPLIER" verify "$B" --trust "$TRUST" --report "$REP/no/r.md"
expect_fail "--report with --part" 2 "--part excludes --report" \
    "$FERRY_APPLIER" verify "$B" --trust "$TRUST" --report "$REP/p.md" --part "$B"
expect_unchanged "bad report names" "$REP" "$before"
