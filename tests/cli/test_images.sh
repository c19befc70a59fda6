#!/usr/bin/env bash
# Images with references, against a real registry (Debian's docker-registry on 127.0.0.1, with
# skopeo): the spec errors of an image archive, plan, push and digest check, a second push that
# sends no blob again, rollback restoring a tag's previous digest, a registry that is down, and
# an image whose bytes do not match its signed digest. Then an OCI layout folder (its spec
# errors, a reproducible bundle, pushed to an OCI layout), docs/audit.md's image step, podman
# with its storage in the scratch folder, and a containerd started here on a scratch socket.
# Images are written by the sample's make-image.py; nothing is downloaded.
source "$(dirname "$0")/lib.sh"

# skip REASON: this test cannot run here; CTest reports it as skipped (exit 77).
skip() {
    echo "skip - $1"
    trap - EXIT
    rm -rf "$SCRATCH"
    exit 77
}
for tool in docker-registry skopeo; do
    command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/install-deps.sh installs it)"
done

KEYS=$SCRATCH/keys
make_keys "$KEYS"
readonly TRUST=$KEYS/trust.yaml K=$KEYS/test-release-1.key
readonly MAKE_IMAGE=$FERRY_SOURCE_DIR/samples/make-image.py
SRC=$SCRATCH/src
mkdir -p "$SRC"

# --- The registry: started here, on a free loopback port, stopped at the end ------------------

PORT=$(/usr/bin/python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
readonly PORT REG=127.0.0.1:$PORT
REGISTRY_PID=""
start_registry() {
    cat >"$SCRATCH/registry.yml" <<YAML
version: 0.1
log: {level: info}
storage:
  filesystem: {rootdirectory: $SCRATCH/registry-data}
http: {addr: "$REG"}
YAML
    docker-registry serve "$SCRATCH/registry.yml" >>"$SCRATCH/registry.log" 2>&1 &
    REGISTRY_PID=$!
    local i
    for i in $(seq 50); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    fail "the registry did not start: $(cat "$SCRATCH/registry.log")"
    exit 1
}
stop_registry() {
    if [ -n "$REGISTRY_PID" ]; then
        kill "$REGISTRY_PID" 2>/dev/null || true
        wait "$REGISTRY_PID" 2>/dev/null || true
        REGISTRY_PID=""
    fi
}
trap 'stop_registry; finish' EXIT
start_registry

# digest_at REF: the sha256 of the manifest the registry serves under REF ("" if none).
digest_at() {
    local raw
    raw=$(skopeo inspect --raw --tls-verify=false "docker://$REG/$1" 2>/dev/null) || return 0
    printf 'sha256:%s' "$(printf '%s' "$raw" | sha256sum | cut -d' ' -f1)"
}
# uploads: how many blob uploads the registry has started so far.
uploads() { grep -c '"POST /v2/[^ ]*/blobs/uploads/' "$SCRATCH/registry.log" || true; }
# signed_digest BUNDLE REF: the manifest digest the bundle's signed manifest records for REF.
signed_digest() {
    tar -xOf "$1" manifest.yaml | /usr/bin/python3 -c '
import sys, yaml
m = yaml.safe_load(sys.stdin)
print(next(r["digest"] for f in m["files"] for r in f.get("image", {}).get("refs", []) if r["ref"] == sys.argv[1]))' "$2"
}

# --- Images and specs ---------------------------------------------------------------------------

# app VERSION SEQUENCE: an image of tool VERSION as app:VERSION and app:stable, in the spec
# $SRC/app-VERSION.yaml; a health check that fails while $R/fail-VERSION exists.
app() {
    mkdir -p "$SRC/$1"
    printf '#!/bin/sh\necho tool %s\n' "$1" >"$SRC/$1/tool"
    /usr/bin/python3 "$MAKE_IMAGE" "$SRC/$1/app.oci.tar" "app:$1" "tool=$SRC/$1/tool"
    # The same image under a second reference: a second manifest entry in index.json.
    /usr/bin/python3 - "$SRC/$1/app.oci.tar" <<'PY'
import io, json, sys, tarfile
path = sys.argv[1]
with tarfile.open(path) as t:
    members = [(m, t.extractfile(m).read()) for m in t.getmembers()]
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as t:
    for m, data in members:
        if m.name == "index.json":
            index = json.loads(data)
            second = dict(index["manifests"][0], annotations={"org.opencontainers.image.ref.name": "app:stable"})
            index["manifests"].append(second)
            data = json.dumps(index, sort_keys=True, separators=(",", ":")).encode()
            m.size = len(data)
        t.addfile(m, io.BytesIO(data))
open(path, "wb").write(out.getvalue())
PY
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
      - {source: $1/tool, role: binary, dest: /usr/bin/tool}
      - {source: $1/app.oci.tar, role: image, format: oci-archive, refs: ["app:$1", "app:stable"]}
procedure:
  health:
    - {name: healthy, command: ["/bin/sh", "-c", "test ! -e {root}/fail-$1"], timeout: 5}
YAML
    expect_ok "build app $1 with its image" "$FERRY_BUNDLER" build -q "$SRC/app-$1.yaml" --key "$K" --out-dir "$SCRATCH"
}
app 1.0.0 1
app 2.0.0 2

# --- Spec errors: file:line:key -------------------------------------------------------------------

line_of() { grep -n -- "$1" "$SRC/bad.yaml" | head -1 | cut -d: -f1; }
sed 's/refs: \["app:1.0.0", "app:stable"\]/refs: ["app:1.0.0", "app:9.9.9"]/' "$SRC/app-1.0.0.yaml" >"$SRC/bad.yaml"
mkdir -p "$SCRATCH/bad-out"
expect_fail "build: a reference the archive does not hold is a spec error" 1 \
    "$SRC/bad.yaml:$(line_of 'app:9.9.9'): components[0].files[1].refs: \"app:9.9.9\" is not in $SRC/1.0.0/app.oci.tar (it holds app:1.0.0, app:stable)" \
    "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" --out-dir "$SCRATCH/bad-out"
head -c 3000 /dev/urandom >"$SRC/1.0.0/garbage.tar"
sed 's|source: 1.0.0/app.oci.tar|source: 1.0.0/garbage.tar|' "$SRC/app-1.0.0.yaml" >"$SRC/bad.yaml"
expect_fail "build: a malformed archive is a spec error" 1 \
    "$SRC/bad.yaml:$(line_of 'garbage.tar'): components[0].files[1].source: not a valid oci-archive: $SRC/1.0.0/garbage.tar: not a tar archive" \
    "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" --out-dir "$SCRATCH/bad-out"
sed 's|format: oci-archive|format: oci-archiv|' "$SRC/app-1.0.0.yaml" >"$SRC/bad.yaml"
expect_fail "build: an unknown format" 1 \
    "$SRC/bad.yaml:$(line_of 'oci-archiv'): components[0].files[1].format: unknown image format \"oci-archiv\" (oci-archive, docker-archive or oci-layout)" \
    "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" --out-dir "$SCRATCH/bad-out"
sed 's|refs: \["app:1.0.0", "app:stable"\]|refs: ["'"$REG"'/app:1.0.0"]|' "$SRC/app-1.0.0.yaml" >"$SRC/bad.yaml"
expect_fail "build: a reference with a registry address" 1 \
    "components[0].files[1].refs: \"$REG/app:1.0.0\" has a repository name that is not lower-case" \
    "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" --out-dir "$SCRATCH/bad-out"
[ -z "$(ls -A "$SCRATCH/bad-out")" ] && pass "build: no bundle written for a bad image" ||
    fail "build wrote $(ls -A "$SCRATCH/bad-out")"

# --- The node's image target ------------------------------------------------------------------------

readonly B1=$SCRATCH/app-1.0.0.ferry B2=$SCRATCH/app-2.0.0.ferry
readonly D1=$(signed_digest "$B1" app:1.0.0) D2=$(signed_digest "$B2" app:2.0.0)
[ "$D1" == "$(signed_digest "$B1" app:stable)" ] && [ "$D1" != "$D2" ] &&
    pass "the manifest records each reference's digest" || fail "digests: $D1 $D2"
R=$SCRATCH/root S=$SCRATCH/state
mkdir -p "$R/etc/ferry"
cat >"$R/etc/ferry/images.yaml" <<YAML
target: registry
address: "$REG"
tls: false
attempts: 2
YAML
apply() { "$FERRY_APPLIER" apply "$@" --trust "$TRUST" --root "$R" --state-dir "$S" -q --allow-major; }

run "$FERRY_APPLIER" plan "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_code() { [ "$RC" -eq "$2" ] && pass "$1" || fail "$1: exit $RC: $(cat "$SCRATCH/err")"; }
expect_code "plan with images" 0
expect_output "plan: the target" "images (to the registry $REG (plain HTTP)):"
grep -qE "^  app:1.0.0 +$D1  to push \(not there: reading manifest 1.0.0 in $REG/app: manifest unknown" "$SCRATCH/out" &&
    pass "plan: app:1.0.0 is to push, and what the registry said" ||
    fail "plan: $(grep -A3 '^images' "$SCRATCH/out")"
run "$FERRY_APPLIER" plan --json "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
expect_json "plan --json: the images, their target and whether it has them" "(
j['image_target'] == 'registry $REG (plain HTTP)' and len(j['images']) == 2 and
j['images'][0]['ref'] == 'app:1.0.0' and j['images'][0]['digest'] == '$D1' and
j['images'][0]['to'] == 'docker://$REG/app:1.0.0' and j['images'][0]['present'] is False)"

# --- Push and digest check ----------------------------------------------------------------------

expect_ok "apply 1.0.0 pushes its image" apply "$B1"
[ "$(digest_at app:1.0.0)" == "$D1" ] && [ "$(digest_at app:stable)" == "$D1" ] &&
    pass "the registry serves the signed digest under both references" ||
    fail "registry: app:1.0.0 $(digest_at app:1.0.0), app:stable $(digest_at app:stable), signed $D1"
FIRST_UPLOADS=$(uploads)
[ "$FIRST_UPLOADS" -eq 2 ] && pass "the first push sent two blobs (config and layer), once each" ||
    fail "blob uploads after the first push: $FIRST_UPLOADS"
sqlite3 "$S/state.db" "SELECT detail FROM audit WHERE action = 'applied'" >"$SCRATCH/audit"
grep -qF "\"ref\":\"app:1.0.0\",\"digest\":\"$D1\"" "$SCRATCH/audit" && grep -qF "\"to\":\"docker://$REG/app:stable\"" "$SCRATCH/audit" &&
    pass "the audit record lists the digests and where they went" || fail "audit: $(cat "$SCRATCH/audit")"
run "$FERRY_APPLIER" plan "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
grep -qE "^  app:stable +$D1  already there$" "$SCRATCH/out" && pass "plan: the target already has it" ||
    fail "plan after the push: $(grep -A3 '^images' "$SCRATCH/out")"

# --- A second apply sends no blob twice -----------------------------------------------------------

R_FIRST=$R S_FIRST=$S
R=$SCRATCH/root2 S=$SCRATCH/state2
mkdir -p "$R/etc/ferry"
cp "$R_FIRST/etc/ferry/images.yaml" "$R/etc/ferry/"
expect_ok "a second node applies 1.0.0 to the same registry" apply "$B1"
[ "$(uploads)" -eq "$FIRST_UPLOADS" ] && pass "the second push sent no blob the registry had" ||
    fail "blob uploads went from $FIRST_UPLOADS to $(uploads)"
R=$R_FIRST S=$S_FIRST

# --- Rollback restores the previous tag's digest ----------------------------------------------------

expect_ok "apply 2.0.0" apply "$B2"
[ "$(digest_at app:stable)" == "$D2" ] && [ "$(digest_at app:2.0.0)" == "$D2" ] &&
    pass "app:stable names 2.0.0's image" || fail "app:stable $(digest_at app:stable), expected $D2"
BEFORE_ROLLBACK=$(uploads)
expect_ok "rollback of 2.0.0" "$FERRY_APPLIER" rollback --run 2 --root "$R" --state-dir "$S"
[ "$(digest_at app:stable)" == "$D1" ] && pass "rollback: app:stable names 1.0.0's digest again" ||
    fail "after rollback app:stable is $(digest_at app:stable), expected $D1"
[ "$(uploads)" -eq "$BEFORE_ROLLBACK" ] && pass "rollback: no blob sent again" ||
    fail "rollback uploaded $(( $(uploads) - BEFORE_ROLLBACK )) blob(s)"
[ "$("$R/usr/bin/tool")" == "tool 1.0.0" ] && pass "rollback: the 1.0.0 binary is back" || fail "tool: $("$R/usr/bin/tool")"

# --- A failed health check after the push: the automatic rollback puts the tag back -------------

touch "$R/fail-2.0.0"
expect_fail "2.0.0 with a failing health check is rolled back" 5 "failed and was rolled back to 1.0.0" apply "$B2"
rm "$R/fail-2.0.0"
[ "$(digest_at app:stable)" == "$D1" ] && pass "automatic rollback: app:stable names 1.0.0's digest again" ||
    fail "after the automatic rollback app:stable is $(digest_at app:stable)"

# --- A registry that is down --------------------------------------------------------------------

stop_registry
expect_fail "a registry that is down: a clear error, the node rolled back" 5 \
    "pushing image app:2.0.0 to docker://$REG/app:2.0.0 failed after 2 attempt(s)" apply "$B2"
grep -qE "failed after 2 attempt\(s\): .*connection refused" "$SCRATCH/err" &&
    pass "registry down: the error says what skopeo met" || fail "registry down: $(cat "$SCRATCH/err")"
grep -qF "hint: check that the registry $REG (plain HTTP) is reachable ($R/etc/ferry/images.yaml)" "$SCRATCH/err" &&
    pass "registry down: the hint names the target and its configuration" || fail "no hint: $(cat "$SCRATCH/err")"
run "$FERRY_APPLIER" status --json --state-dir "$S"
expect_json "registry down: 1.0.0 is still installed, nothing interrupted" \
    "j['installed']['version'] == '1.0.0' and j['interrupted'] is None"
[ "$("$R/usr/bin/tool")" == "tool 1.0.0" ] && pass "registry down: the 1.0.0 binary is in place" || fail "tool: $("$R/usr/bin/tool")"
start_registry

# --- An image whose bytes do not match its signed digest: refused before any push ---------------

# 3.0.0's manifest, signed by a trusted key, records a digest its image archive does not have.
app 3.0.0 3
FORGED=$SCRATCH/forged
mkdir -p "$FORGED"
tar -xf "$SCRATCH/app-3.0.0.ferry" -C "$FORGED" manifest.yaml payload.tar.zst
D3=$(signed_digest "$SCRATCH/app-3.0.0.ferry" app:3.0.0)
WRONG=sha256:$(printf 'not the image' | sha256sum | cut -d' ' -f1)
sed -i "s/$D3/$WRONG/g" "$FORGED/manifest.yaml"
"$FERRY_FORGE" --manifest "$FORGED/manifest.yaml" --manifest-raw --raw-payload "$FORGED/payload.tar.zst" \
    --key "$K" -o "$FORGED/app-3.0.0.ferry" >/dev/null
BEFORE_UPLOADS=$(uploads)
BEFORE_ROOT=$(snapshot "$R/usr")
expect_fail "an image that does not match its signed digest is refused" 3 \
    "image app/image/app.oci.tar: app:3.0.0 is $D3, the manifest signed $WRONG" apply "$FORGED/app-3.0.0.ferry"
[ "$(uploads)" -eq "$BEFORE_UPLOADS" ] && [ -z "$(digest_at app:3.0.0)" ] &&
    pass "mismatched image: nothing was pushed" || fail "mismatched image: the registry got $(digest_at app:3.0.0)"
expect_unchanged "mismatched image: the node" "$R/usr" "$BEFORE_ROOT"

# --- A docker archive: pushed, checked by its config digest --------------------------------------

mkdir -p "$SRC/d"
printf '#!/bin/sh\necho tool d\n' >"$SRC/d/tool"
/usr/bin/python3 "$MAKE_IMAGE" --format docker-archive "$SRC/d/app.docker.tar" "app:4.0.0" "tool=$SRC/d/tool"
sed 's/version: 3.0.0/version: 4.0.0/g; s/sequence: 3/sequence: 4/; s|3.0.0/app.oci.tar, role: image, format: oci-archive, refs: \["app:3.0.0", "app:stable"\]|d/app.docker.tar, role: image, format: docker-archive, refs: ["app:4.0.0"]|' \
    "$SRC/app-3.0.0.yaml" >"$SRC/app-4.0.0.yaml"
expect_ok "build a bundle with a docker archive" "$FERRY_BUNDLER" build -q "$SRC/app-4.0.0.yaml" --key "$K" --out-dir "$SCRATCH"
expect_ok "apply it: pushed and checked by its config digest" apply "$SCRATCH/app-4.0.0.ferry"
CONFIG=$(skopeo inspect --raw --tls-verify=false "docker://$REG/app:4.0.0" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["config"]["digest"])')
[ "$CONFIG" == "sha256:$(tar -xOf "$SRC/d/app.docker.tar" manifest.json | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)[0]["Config"][:64])')" ] &&
    pass "docker archive: the registry holds its image by config digest" || fail "docker archive: config $CONFIG"

# --- An OCI layout folder: checked and packed by the bundler, pushed like an archive ----------------

LAYOUT=$SRC/layout/app-oci
mkdir -p "$LAYOUT"
tar -xf "$SRC/1.0.0/app.oci.tar" -C "$LAYOUT"
sed 's|source: 1.0.0/app.oci.tar, role: image, format: oci-archive|source: layout/app-oci/, role: image, format: oci-layout|; s/sequence: 1/sequence: 7/; s/^version: 1.0.0/version: 1.5.0/' \
    "$SRC/app-1.0.0.yaml" >"$SRC/app-layout.yaml"
mkdir -p "$SCRATCH/layout-a" "$SCRATCH/layout-b"
EPOCH=$(date +%s)
expect_ok "build a bundle from an OCI layout folder" env SOURCE_DATE_EPOCH="$EPOCH" \
    "$FERRY_BUNDLER" build -q "$SRC/app-layout.yaml" --key "$K" -o "$SCRATCH/layout-a"
touch -d @1800000000 "$LAYOUT"/index.json "$LAYOUT"/blobs/sha256/*
expect_ok "build it again" env SOURCE_DATE_EPOCH="$EPOCH" \
    "$FERRY_BUNDLER" build -q "$SRC/app-layout.yaml" --key "$K" -o "$SCRATCH/layout-b"
readonly BL=$SCRATCH/layout-a/app-1.5.0.ferry
cmp -s "$BL" "$SCRATCH/layout-b/app-1.5.0.ferry" && pass "the layout bundle is the same bytes twice" ||
    fail "the two builds of the layout bundle differ"
[ "$(signed_digest "$BL" app:stable)" == "$D1" ] && pass "the layout's manifest digest is signed, as for the archive" ||
    fail "layout: signed $(signed_digest "$BL" app:stable), the archive's is $D1"
tar -xOf "$BL" manifest.yaml | grep -qF 'path: "app/image/app-oci.tar"' && [ -z "$(ls -A "$SCRATCH/layout-a" | grep -v '^app-1.5.0.ferry$')" ] &&
    pass "the layout is packed as one OCI archive; no temp file is left" || fail "layout: $(ls -A "$SCRATCH/layout-a")"

# bad_layout WHAT MESSAGE: the build of a copy of the layout, changed by the commands on stdin, fails with MESSAGE.
bad_layout() {
    rm -rf "$SRC/layout/bad" && cp -r "$LAYOUT" "$SRC/layout/bad"
    (cd "$SRC/layout/bad" && bash -e)
    sed 's|layout/app-oci/|layout/bad/|' "$SRC/app-layout.yaml" >"$SRC/bad.yaml"
    expect_fail "build: $1" 1 "$SRC/bad.yaml:$(line_of 'layout/bad/'): components[0].files[1].source: not a valid oci-layout: $2" \
        "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" -o "$SCRATCH/bad-out"
}
bad_layout "a layout with no oci-layout file" "$SRC/layout/bad/oci-layout: missing" <<<'rm oci-layout'
bad_layout "a layout of another version" \
    "$SRC/layout/bad/oci-layout: imageLayoutVersion is \"2.0.0\", not \"1.0.0\"" <<<'echo "{\"imageLayoutVersion\": \"2.0.0\"}" >oci-layout'
bad_layout "an index.json that is not JSON" "$SRC/layout/bad/index.json:1:2: not JSON: syntax error" <<<'echo "{]" >index.json'
LAYER=$(tar -xOf "$SRC/1.0.0/app.oci.tar" "blobs/sha256/${D1#sha256:}" | /usr/bin/python3 -c 'import json, sys; print(json.load(sys.stdin)["layers"][0]["digest"][7:])')
bad_layout "a missing blob" "$SRC/layout/bad/blobs/sha256/$LAYER: missing (named by manifest $D1's layers[0])" <<<"rm blobs/sha256/$LAYER"
bad_layout "a blob whose bytes do not match its digest" "$SRC/layout/bad/blobs/sha256/$LAYER: its content's sha256 is " \
    <<<"printf x >>blobs/sha256/$LAYER"
sed 's|refs: \["app:1.0.0", "app:stable"\]|refs: ["app:1.0.0", "app:9.9.9"]|' "$SRC/app-layout.yaml" >"$SRC/bad.yaml"
expect_fail "build: a reference the layout does not hold" 1 \
    "$SRC/bad.yaml:$(line_of 'app:9.9.9'): components[0].files[1].refs: \"app:9.9.9\" is not in $LAYOUT (it holds app:1.0.0, app:stable)" \
    "$FERRY_BUNDLER" build -q "$SRC/bad.yaml" --key "$K" -o "$SCRATCH/bad-out"
[ -z "$(ls -A "$SCRATCH/bad-out")" ] && pass "build: no bundle and no temp file left by a bad layout" ||
    fail "build left $(ls -A "$SCRATCH/bad-out")"

R_FIRST=$R S_FIRST=$S
R=$SCRATCH/root-layout S=$SCRATCH/state-layout
mkdir -p "$R/etc/ferry"
printf 'target: oci-layout\npath: /var/lib/images\n' >"$R/etc/ferry/images.yaml"
expect_ok "apply the layout bundle to a node whose target is an OCI layout" apply "$BL"
RAW=$(skopeo inspect --raw "oci:$R/var/lib/images:app:stable")
[ "sha256:$(printf '%s' "$RAW" | sha256sum | cut -d' ' -f1)" == "$D1" ] &&
    pass "the node's layout holds the signed digest under app:stable" || fail "node layout: $RAW"
R=$R_FIRST S=$S_FIRST

# --- docs/audit.md step 11: an image's digests checked with stock tools ------------------------------

AUDIT_IMAGES=$SCRATCH/audit-images.sh
{
    grep '^fail() ' "$FERRY_SOURCE_DIR/docs/audit.md"
    awk '/^## 11\./ { s = 1 } s && /^```bash$/ { b = 1; next } /^```$/ { b = 0 } s && b' "$FERRY_SOURCE_DIR/docs/audit.md"
} >"$AUDIT_IMAGES"
# audit_images BUNDLE: step 11 on the bundle's manifest and files, as steps 1-8 leave them.
audit_images() {
    local work
    work=$SCRATCH/audit-$(basename "$1")
    rm -rf "$work" && mkdir -p "$work/payload"
    tar -xf "$1" -C "$work" manifest.yaml payload.tar.zst &&
        zstd -dcq --memory=128MB "$work/payload.tar.zst" | tar -xf - -C "$work/payload" &&
        M=$work/manifest.yaml WORK=$work bash -euo pipefail "$AUDIT_IMAGES"
}
for b in "$B1" "$BL" "$SCRATCH/app-4.0.0.ferry"; do
    run audit_images "$b"
    [ "$RC" -eq 0 ] && [ "$(grep -c "^image app/image/.* is .*by jq$" "$SCRATCH/out")" -eq "$(grep -c oci-archive "$SCRATCH/audit-$(basename "$b")/images")" ] &&
        [ "$(grep -c "^image app/image/" "$SCRATCH/out")" -gt 0 ] &&
        pass "audit.md step 11 passes $(basename "$b") with skopeo and with jq" || fail "audit step 11 on $b: $(cat "$SCRATCH/out" "$SCRATCH/err")"
done
run audit_images "$FORGED/app-3.0.0.ferry"
[ "$RC" -ne 0 ] && grep -qF "AUDIT FAILED: image app/image/app.oci.tar: app:3.0.0: its manifest is $D3, the manifest signed $WRONG" "$SCRATCH/err" &&
    pass "audit.md step 11 fails a signed digest the image does not have" || fail "audit step 11 on the forged bundle: $RC $(cat "$SCRATCH/err")"

# --- podman: rootful, with its storage in the scratch folder -------------------------------------

if ! command -v podman >/dev/null; then
    echo "skip - the podman target: podman is not installed here (scripts/install-deps.sh installs it)"
else
    # skopeo (the applier's) and podman (the check's) both read this storage configuration.
    export CONTAINERS_STORAGE_CONF=$SCRATCH/podman/storage.conf
    mkdir -p "$SCRATCH/podman"
    printf '[storage]\ndriver = "vfs"\ngraphroot = "%s"\nrunroot = "%s"\n' "$SCRATCH/podman/root" "$SCRATCH/podman/run" \
        >"$CONTAINERS_STORAGE_CONF"
    if ! podman info >"$SCRATCH/podman/info" 2>&1; then
        echo "skip - the podman target: podman is installed but cannot run here ($(tail -1 "$SCRATCH/podman/info"))"
    else
        R_FIRST=$R S_FIRST=$S
        R=$SCRATCH/root-podman S=$SCRATCH/state-podman
        mkdir -p "$R/etc/ferry"
        printf 'target: podman\n' >"$R/etc/ferry/images.yaml"
        expect_ok "podman: apply 1.0.0" apply "$B1"
        [ "$(podman image inspect --format '{{.Digest}}' app:stable 2>&1)" == "$D1" ] &&
            pass "podman: app:stable is the signed digest" || fail "podman: $(podman image inspect --format '{{.Digest}}' app:stable 2>&1)"
        expect_ok "podman: apply 2.0.0" apply "$B2"
        expect_ok "podman: rollback of 2.0.0" "$FERRY_APPLIER" rollback --run 2 --root "$R" --state-dir "$S"
        [ "$(podman image inspect --format '{{.Digest}}' app:stable 2>&1)" == "$D1" ] &&
            pass "podman: rollback puts app:stable back on 1.0.0's image" ||
            fail "podman after rollback: $(podman image inspect --format '{{.Digest}}' app:stable 2>&1)"
        R=$R_FIRST S=$S_FIRST
    fi
    unset CONTAINERS_STORAGE_CONF
fi

# --- containerd: started here with its root, state and socket in the scratch folder ---------------

CTRD=$SCRATCH/containerd
CTRD_PID=""
stop_containerd() {
    if [ -n "$CTRD_PID" ]; then
        kill "$CTRD_PID" 2>/dev/null || true
        wait "$CTRD_PID" 2>/dev/null || true
        CTRD_PID=""
    fi
}
trap 'stop_registry; stop_containerd; finish' EXIT
# start_containerd: starts it and waits up to 10 s for its socket to answer; false if it does not.
start_containerd() {
    mkdir -p "$CTRD"
    cat >"$CTRD/config.toml" <<TOML
version = 2
root = "$CTRD/root"
state = "$CTRD/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$CTRD/containerd.sock"
[ttrpc]
  address = "$CTRD/containerd.sock.ttrpc"
TOML
    containerd --config "$CTRD/config.toml" >"$CTRD/log" 2>&1 &
    CTRD_PID=$!
    local i
    for i in $(seq 100); do
        if ctr --address "$CTRD/containerd.sock" version >/dev/null 2>&1; then
            return 0
        fi
        kill -0 "$CTRD_PID" 2>/dev/null || break
        sleep 0.1
    done
    return 1
}
if ! command -v containerd >/dev/null || ! command -v ctr >/dev/null; then
    echo "skip - the containerd target: containerd is not installed here (scripts/install-deps.sh installs it)"
elif [ "$(id -u)" -ne 0 ]; then
    echo "skip - the containerd target: containerd needs root to run"
elif ! start_containerd; then
    echo "skip - the containerd target: containerd did not start here ($(tail -1 "$CTRD/log"))"
    stop_containerd
else
    CTR=(ctr --address "$CTRD/containerd.sock" --namespace ferry-test)
    # ctr_digest NAME: the manifest digest containerd lists for NAME ("" if none).
    ctr_digest() { "${CTR[@]}" images ls "name==$1" | awk -v n="$1" '$1 == n {print $3}'; }
    R=$SCRATCH/root-containerd S=$SCRATCH/state-containerd
    mkdir -p "$R/etc/ferry"
    printf 'target: containerd\naddress: %s\nnamespace: ferry-test\n' "$CTRD/containerd.sock" >"$R/etc/ferry/images.yaml"
    run "$FERRY_APPLIER" plan "$B1" --trust "$TRUST" --root "$R" --state-dir "$S"
    grep -qE "^  app:1.0.0 +$D1  to push \(not there: containerd has no image app:1.0.0 in the namespace ferry-test\)" "$SCRATCH/out" &&
        pass "containerd: plan says what is to import" || fail "containerd plan: $(cat "$SCRATCH/out" "$SCRATCH/err")"
    expect_ok "containerd: apply 1.0.0 imports its image" apply "$B1"
    [ "$(ctr_digest app:1.0.0)" == "$D1" ] && [ "$(ctr_digest app:stable)" == "$D1" ] &&
        pass "containerd: both references name the signed digest" || fail "containerd: $("${CTR[@]}" images ls)"
    expect_ok "containerd: apply 2.0.0" apply "$B2"
    [ "$(ctr_digest app:stable)" == "$D2" ] && pass "containerd: app:stable names 2.0.0's image" ||
        fail "containerd: app:stable $(ctr_digest app:stable)"
    expect_ok "containerd: rollback of 2.0.0" "$FERRY_APPLIER" rollback --run 2 --root "$R" --state-dir "$S"
    [ "$(ctr_digest app:stable)" == "$D1" ] && pass "containerd: rollback puts app:stable back on 1.0.0's digest" ||
        fail "containerd after rollback: app:stable $(ctr_digest app:stable)"
    stop_containerd
    printf 'attempts: 2\n' >>"$R/etc/ferry/images.yaml"
    expect_fail "containerd down: a clear error, the node rolled back" 5 \
        "pushing image app:2.0.0 to containerd:ferry-test/app:2.0.0 failed after 2 attempt(s): " apply "$B2"
    grep -qF "hint: check that the containerd $CTRD/containerd.sock (namespace ferry-test) is reachable" "$SCRATCH/err" &&
        pass "containerd down: the hint names the socket" || fail "containerd down: $(cat "$SCRATCH/err")"
    if start_containerd; then
        expect_ok "containerd: a docker archive is imported and checked by its config digest" apply "$SCRATCH/app-4.0.0.ferry"
        [ -n "$(ctr_digest docker.io/library/app:4.0.0)" ] && pass "containerd: the docker archive's reference, normalized" ||
            fail "containerd: $("${CTR[@]}" images ls)"
    else
        fail "containerd did not start again: $(tail -3 "$CTRD/log")"
    fi
    stop_containerd
fi
