# Shared helpers for the command-line tests. Each test script sources this file and runs with:
#   FERRY_BUNDLER, FERRY_APPLIER  the two tools
#   FERRY_BUILD_DIR               the CMake build folder (sample tree in samples/greeter)
#   FERRY_SOURCE_DIR              the source tree
# A scratch folder is made per test and kept when the test fails.
set -euo pipefail

: "${FERRY_BUNDLER:?}" "${FERRY_APPLIER:?}" "${FERRY_BUILD_DIR:?}" "${FERRY_SOURCE_DIR:?}"
# Now, so bundles built by tests never expire under them; tests of reproducibility set their own.
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(date +%s)}"
unset FERRY_PASSPHRASE

TEST_NAME=$(basename "$0" .sh)
SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/ferry-$TEST_NAME.XXXXXX")
PASSED=0
FAILED=0

finish() {
    local rc=$?
    if [ "$FAILED" -eq 0 ] && [ "$rc" -eq 0 ]; then
        rm -rf "$SCRATCH"
    else
        echo "scratch folder kept: $SCRATCH" >&2
    fi
    echo "$PASSED passed, $FAILED failed"
    if [ "$FAILED" -ne 0 ]; then
        exit 1
    fi
    exit "$rc"
}
trap finish EXIT

pass() { PASSED=$((PASSED + 1)); echo "ok   - $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL - $1" >&2; }

# Runs a command, capturing stdout in $SCRATCH/out, stderr in $SCRATCH/err and the code in $RC.
run() {
    set +e
    "$@" >"$SCRATCH/out" 2>"$SCRATCH/err"
    RC=$?
    set -e
}

# expect_ok NAME CMD...: the command succeeds.
expect_ok() {
    local name=$1
    shift
    run "$@"
    if [ "$RC" -eq 0 ]; then
        pass "$name"
    else
        fail "$name: exit $RC, stderr: $(cat "$SCRATCH/err")"
    fi
}

# expect_fail NAME CODE MESSAGE CMD...: exits with CODE and stderr contains MESSAGE (fixed string).
expect_fail() {
    local name=$1 code=$2 message=$3
    shift 3
    run "$@"
    if [ "$RC" -ne "$code" ]; then
        fail "$name: expected exit $code, got $RC; stderr: $(cat "$SCRATCH/err")"
    elif ! grep -qF -- "$message" "$SCRATCH/err"; then
        fail "$name: stderr lacks \"$message\": $(cat "$SCRATCH/err")"
    else
        pass "$name"
    fi
}

# snapshot DIR: a listing of every file below DIR with its hash, to compare before and after.
snapshot() {
    (cd "$1" && find . -mindepth 1 -printf '%y %m %p\n' | sort && find . -type f -exec sha256sum {} + | sort -k2)
}

# expect_unchanged NAME DIR BEFORE: DIR's snapshot equals BEFORE (nothing written, nothing left).
expect_unchanged() {
    local name=$1 dir=$2 before=$3
    if [ "$(snapshot "$dir")" == "$before" ]; then
        pass "$name: nothing written"
    else
        fail "$name: $dir changed: $(diff <(echo "$before") <(snapshot "$dir") | head -5)"
    fi
}

# expect_output NAME TEXT: the last command's stdout contains TEXT (fixed string).
expect_output() {
    if grep -qF -- "$2" "$SCRATCH/out"; then
        pass "$1"
    else
        fail "$1: stdout lacks \"$2\": $(cat "$SCRATCH/out")"
    fi
}

# expect_json NAME PYTHON-EXPR: the last command's stdout is JSON and EXPR holds for it (as j).
expect_json() {
    if /usr/bin/python3 -c 'import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if eval(sys.argv[2]) else 1)' "$SCRATCH/out" "$2" 2>"$SCRATCH/json-err"; then
        pass "$1"
    else
        fail "$1: $2 does not hold for: $(cat "$SCRATCH/out") $(cat "$SCRATCH/json-err")"
    fi
}

# flip_byte FILE OFFSET: the byte at OFFSET inverted, so that it surely changes (writing a fixed
# byte leaves the file as it was once in 256 times).
flip_byte() {
    local b
    b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
    printf "\\$(printf '%03o' $((b ^ 255)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# key_id PUB: the key id of a minisign public key file, as Ferry and minisign print it.
key_id() {
    sed -n 2p "$1" | base64 -d | od -An -v -tx1 -j2 -N8 | awk '{ for (i = NF; i >= 1; i--) id = id toupper($i) } END { print id }'
}

# make_keys DIR: two unencrypted test keys and a trust.yaml (version 1, both keys release and
# trust keys, thresholds 1).
make_keys() {
    bash "$FERRY_SOURCE_DIR/samples/make-test-keys.sh" "$FERRY_BUNDLER" "$1" >/dev/null 2>&1
}

# sample_tree: a private copy of the built sample tree; prints its path.
sample_tree() {
    local dir="$SCRATCH/samples"
    if [ ! -d "$dir" ]; then
        cp -a "$FERRY_BUILD_DIR/samples/greeter" "$dir"
    fi
    echo "$dir"
}

# variant FROM TO PYTHON: writes spec TO in the sample tree $TREE from spec FROM, changed by the
# Python statements PYTHON acting on the spec as s.
variant() {
    /usr/bin/python3 - "$TREE/$1" "$TREE/$2" "$3" <<'EOF'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))
exec(sys.argv[3])
yaml.safe_dump(s, open(sys.argv[2], "w"), sort_keys=False)
EOF
}

# build SPEC DIR: builds $TREE/SPEC with $KEYS/test-release-1.key into $SCRATCH/bundles/DIR; sets
# BUILT to the bundle.
build() {
    mkdir -p "$SCRATCH/bundles/$2"
    if "$FERRY_BUNDLER" build -q "$TREE/$1" --key "$KEYS/test-release-1.key" --out-dir "$SCRATCH/bundles/$2" \
        >"$SCRATCH/build.out" 2>&1; then
        BUILT=$(find "$SCRATCH/bundles/$2" -name '*.ferry')
    else
        fail "building $1: $(cat "$SCRATCH/build.out")"
        exit 1
    fi
}

# Install roots that site() made; stop_services stops the sample service below each.
ROOTS=()

# site NAME: a fresh install root R and state folder S (the state folder not yet created).
site() {
    R=$SCRATCH/sites/$1/root
    S=$SCRATCH/sites/$1/state
    mkdir -p "$R"
    ROOTS+=("$R")
}

# stop_services: the sample service below every root site() made (or a test added), stopped.
stop_services() {
    local r
    for r in "${ROOTS[@]}"; do
        if [ -x "$r/usr/bin/greeterctl" ]; then
            "$r/usr/bin/greeterctl" stop "$r" >/dev/null 2>&1 || true
        fi
    done
}

# greeter_setup: test keys in $KEYS, their trust store in $TRUST and a private copy of the
# sample tree in $TREE, as the tests of the greeter start.
greeter_setup() {
    KEYS=$SCRATCH/keys
    make_keys "$KEYS"
    TRUST=$KEYS/trust.yaml
    TREE=$(sample_tree)
}

# greeter_cluster N BUNDLE [cluster]: N local greeter nodes (node-1 .. node-N, below
# $SCRATCH/sites) with BUNDLE installed and running on ports BASE_PORT+1 .., node-1 the leader.
# By default leadership is greeterctl's stand-in in files: each node's GREETER_NEXT_LEADER is the
# next node's root. With "cluster", greeter's own cluster mode: the nodes share the lease file
# $LEASE (GREETER_CLUSTER_LEASE), each has its GREETER_NODE and GREETER_PEERS lists every port;
# node-1, installed first, takes the lease. $INV lists them; the caller adds the rollout policy.
greeter_cluster() {
    local n=$1 bundle=$2 mode=${3:-files} i next vars peers
    CLUSTER_SIZE=$n
    INV=$SCRATCH/inventory.yaml
    LEASE=$SCRATCH/sites/cluster.lease
    peers=$(seq -s, $((BASE_PORT + 1)) $((BASE_PORT + n)))
    printf 'cluster: greeters\nnodes:\n' >"$INV"
    for i in $(seq 1 "$n"); do
        site "node-$i"
        if [ "$mode" = cluster ]; then
            vars="GREETER_PORT: \"$((BASE_PORT + i))\", GREETER_CLUSTER_LEASE: $LEASE, GREETER_NODE: node-$i, GREETER_PEERS: \"$peers\""
            echo "  - {name: node-$i, root: $R, state_dir: $S, vars: {$vars}}" >>"$INV"
            GREETER_PORT=$((BASE_PORT + i)) GREETER_CLUSTER_LEASE=$LEASE GREETER_NODE=node-$i GREETER_PEERS=$peers \
                expect_ok "node-$i: install $(basename "$bundle") in cluster mode" \
                "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S"
            continue
        fi
        next=$SCRATCH/sites/node-$((i % n + 1))/root
        echo "  - {name: node-$i, root: $R, state_dir: $S, vars: {GREETER_PORT: \"$((BASE_PORT + i))\", GREETER_NEXT_LEADER: $next}}" >>"$INV"
        mkdir -p "$R/var/lib/greeter"
        if [ "$i" -eq 1 ]; then echo leader >"$R/var/lib/greeter/role"; else echo follower >"$R/var/lib/greeter/role"; fi
        GREETER_PORT=$((BASE_PORT + i)) expect_ok "node-$i: install $(basename "$bundle")" \
            "$FERRY_APPLIER" apply -q "$bundle" --trust "$TRUST" --root "$R" --state-dir "$S"
    done
}

# version_of NODE: the version installed on a node of greeter_cluster ("-" for none).
version_of() {
    "$FERRY_APPLIER" status --json --state-dir "$SCRATCH/sites/$1/state" | /usr/bin/python3 -c \
        'import json, sys; j = json.load(sys.stdin); print(j["installed"]["version"] if j["installed"] else "-")'
}

# versions: every node's version, in order, on one line.
versions() {
    local i out=()
    for i in $(seq 1 "$CLUSTER_SIZE"); do out+=("$(version_of "node-$i")"); done
    echo "${out[*]}"
}

source "$FERRY_SOURCE_DIR/scripts/loopback-sshd.sh"

# start_sshd PORT: a real sshd on 127.0.0.1:PORT with throwaway keys (loopback_sshd), for the
# tests of nodes over ssh. Sets SSH_PORT and SSH_DIR ($SCRATCH/ssh), which holds host_key, id,
# known_hosts, sshd_config and sshd.log. Exits 77 (skip) without /usr/sbin/sshd, or when sshd
# will not start without root. stop_sshd, in the test's EXIT trap, stops it.
start_sshd() {
    SSH_PORT=$1
    SSH_DIR=$SCRATCH/ssh
    if [ ! -x /usr/sbin/sshd ]; then
        echo "skip: no /usr/sbin/sshd (Debian's openssh-server; scripts/install-deps.sh installs it)"
        exit 77
    fi
    if ! loopback_sshd "$SSH_DIR" "$SSH_PORT"; then
        if [ "$(id -u)" -ne 0 ]; then
            echo "skip: sshd would not start without root: $(tail -2 "$SSH_DIR/sshd.log")"
            exit 77
        fi
        fail "sshd did not start: $(tail -5 "$SSH_DIR/sshd.log")"
        exit 1
    fi
}

# stop_sshd: the sshd start_sshd started, stopped, with the connections it still serves.
stop_sshd() {
    if [ -n "${SSH_DIR:-}" ]; then
        loopback_sshd_stop "$SSH_DIR"
    fi
}

# writer_of FILE: the pids of the processes below start_sshd's server (what its sessions run)
# whose standard output is FILE; nothing when there is none.
writer_of() {
    local p
    for p in $(ps -eo pid=,ppid= | awk -v top="$(cat "$SSH_DIR/sshd.pid")" '
        { parent[$1] = $2 } END { for (p in parent) { q = p; for (i = 0; i < 20 && q > 1; i++) { q = parent[q]; if (q == top) { print p; break } } } }'); do
        if [ "$(readlink "/proc/$p/fd/1" 2>/dev/null)" == "$1" ]; then echo "$p"; fi
    done
}

# drop_connection PID: the ssh connection whose session runs PID, on start_sshd's server, ends
# as a cut cable or a crashed server would end it: the sshd process serving it (the listener's
# child above PID) is killed; what the session ran goes on. Fails when PID is not below it.
drop_connection() {
    local pid=$1 parent listener
    listener=$(cat "$SSH_DIR/sshd.pid")
    for _ in $(seq 1 20); do
        parent=$(ps -o ppid= -p "$pid" | tr -d ' ')
        if [ -z "$parent" ] || [ "$parent" -le 1 ]; then return 1; fi
        if [ "$parent" == "$listener" ]; then
            kill -KILL "$pid"
            return 0
        fi
        pid=$parent
    done
    return 1
}

# cluster_picture: every node of greeter_cluster as a text to compare before and after: its
# files (the services' logs and pidfiles aside), its runs and its staged bundles.
cluster_picture() {
    local i
    for i in $(seq 1 "$CLUSTER_SIZE"); do
        snapshot "$SCRATCH/sites/node-$i/root" | { grep -vE ' \./(var/log|run)(/|$)' || true; }
        sqlite3 "$SCRATCH/sites/node-$i/state/state.db" 'SELECT id, state FROM runs; SELECT * FROM staged'
    done
}
