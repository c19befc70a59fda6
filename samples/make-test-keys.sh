#!/usr/bin/env bash
# Generates two UNENCRYPTED signing keys and a trust store for Ferry's tests and demos.
# Usage: make-test-keys.sh FERRY_BUNDLER OUT_DIR
# Writes OUT_DIR/test-release-{1,2}.key|.pub and OUT_DIR/trust.yaml (version 1, both keys with the
# release and trust roles, thresholds 1).
set -euo pipefail

if [[ $# -ne 2 ]]; then
    echo "usage: $0 FERRY_BUNDLER OUT_DIR" >&2
    exit 2
fi
readonly bundler=$1
readonly out_dir=$2
readonly key_names=(test-release-1 test-release-2)

cat >&2 <<'WARNING'
########################################################################
#  TEST KEYS ONLY. These secret keys are written UNENCRYPTED.          #
#  Never use them, or the trust.yaml made from them, for real bundles  #
#  or at a real site: anyone who can read the files can sign bundles.  #
########################################################################
WARNING

# Prints the key id of a minisign public key file: line 2 is
# BASE64("Ed" || key id (8 bytes) || Ed25519 public key (32 bytes)), and the id is written as
# the 16 upper-case hex digits of those 8 bytes read as a little-endian integer.
key_id_of() {
    local -r pub=$1
    local -a bytes
    read -r -a bytes < <(sed -n 2p "$pub" | base64 -d | od -An -v -tx1 | tr '\n' ' '; echo)
    if [[ ${#bytes[@]} -ne 42 || ${bytes[0]} != 45 || ${bytes[1]} != 64 ]]; then
        echo "$0: error: $pub: line 2 is not an Ed25519 minisign public key" >&2
        return 1
    fi
    local id="" i
    for ((i = 9; i >= 2; i--)); do
        id+=${bytes[i]}
    done
    echo "${id^^}"
}

mkdir -p "$out_dir"
for name in "${key_names[@]}"; do
    "$bundler" key generate --name "$name" --out-dir "$out_dir" --unencrypted </dev/null
done

expires=$(date -u -d '+2 years' +%Y-%m-%dT%H:%M:%SZ)
readonly expires
entries=""
for name in "${key_names[@]}"; do
    pub="$out_dir/$name.pub"
    id=$(key_id_of "$pub")
    public_key=$(sed -n 2p "$pub")
    # Quoted: an id of only decimal digits would otherwise read as a YAML integer.
    entries+="  - name: $name
    id: \"$id\"
    public_key: \"$public_key\"
    expires: $expires
    roles: [release, trust]
"
done

readonly trust="$out_dir/trust.yaml"
{
    echo "# TEST TRUST STORE ONLY: its keys are unencrypted test keys (samples/make-test-keys.sh)."
    echo "version: 1"
    echo "thresholds:"
    echo "  release: 1"
    echo "  trust: 1"
    echo "keys:"
    printf '%s' "$entries"
} >"$trust.tmp"
mv "$trust.tmp" "$trust"
echo "wrote ${key_names[*]} and $trust (TEST KEYS ONLY)" >&2
