#!/usr/bin/env bash
# Bundle parts benchmark, run by hand (not part of the test suite). See docs/benchmarks.md.
#
# Usage: scripts/bench-parts.sh [--size-mib N] [--part-mib N] [--work DIR] [--build DIR]
#   --size-mib N   size of the bundle's incompressible payload in MiB (default 1024)
#   --part-mib N   part size in MiB (default 256)
#   --work DIR     work folder (default /var/tmp/ferry-bench-parts; removed at the end)
#   --build DIR    build tree holding bundler/ferry-bundler and applier/ferry-applier
#                  (default: build-bench, else build, below the repository)
#
# With a warm page cache, it times `verify` and `stage` of the split bundle (its folder of
# parts) against the same commands on the single file (target: at most 1.05 times), and
# `verify --quick` of the single file against `sha256sum` of it (target: at most 1.1 times).
# Each timing is the median of 3 runs, the runs of the compared commands interleaved.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo reps=3
size_mib=1024
part_mib=256
work=/var/tmp/ferry-bench-parts
build=""
usage() { sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
while (($# > 0)); do
    case $1 in
    --size-mib) size_mib=${2:?}; shift 2 ;;
    --part-mib) part_mib=${2:?}; shift 2 ;;
    --work) work=${2:?}; shift 2 ;;
    --build) build=${2:?}; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
if [[ -z $build ]]; then
    for candidate in "$repo/build-bench" "$repo/build"; do
        [[ -x $candidate/bundler/ferry-bundler ]] && build=$candidate && break
    done
fi
[[ -n $build && -x $build/bundler/ferry-bundler ]] || { echo "bench-parts: error: no build tree found" >&2; exit 1; }
readonly bundler=$build/bundler/ferry-bundler applier=$build/applier/ferry-applier
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:[A-Z]*=//p' "$build/CMakeCache.txt" 2>/dev/null || true)
[[ $build_type == Release ]] || echo "bench-parts: note: $build is a '${build_type:-unknown}' build, not Release" >&2

rm -rf "$work"
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(date +%s)}
bash "$repo/samples/make-test-keys.sh" "$bundler" "$work/keys" >/dev/null 2>&1
trust=$work/keys/trust.yaml
cp -r "$build/samples/greeter" "$work/tree"
mkdir "$work/tree/big" "$work/single" "$work/parts"
head -c $((size_mib << 20)) /dev/urandom >"$work/tree/big/blob.bin"
/usr/bin/python3 - "$work/tree/greeter-1.0.0.yaml" "$work/tree/big.yaml" <<'PY'
import sys, yaml
s = yaml.safe_load(open(sys.argv[1]))
s["components"][0]["files"].append({"source": "big/blob.bin", "role": "doc", "dest": "/usr/share/doc/greeter/blob.bin"})
yaml.safe_dump(s, open(sys.argv[2], "w"), sort_keys=False)
PY
"$bundler" build -q "$work/tree/big.yaml" --key "$work/keys/test-release-1.key" --out-dir "$work/single" >/dev/null
rm -rf "$work/tree/big"
single=$(find "$work/single" -name '*.ferry')
"$bundler" split -q "$single" --size "${part_mib}M" --out-dir "$work/parts" >/dev/null
bytes=$(stat -c %s "$single")
parts=$(find "$work/parts" -name '*.ferry.0*' | wc -l)
echo "bundle: $((bytes >> 20)) MiB in $parts parts of at most $part_mib MiB; build: $build ($build_type); $(nproc) cores"

# millis CMD...: the wall time of one run in milliseconds.
millis() {
    local t0 t1
    t0=$(date +%s%N)
    "$@" >/dev/null
    t1=$(date +%s%N)
    echo $(((t1 - t0) / 1000000))
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$((($# + 1) / 2))p"; }
stage_fresh() {
    rm -rf "$work/state" "$work/root"
    mkdir -p "$work/root"
    "$applier" stage -q "$1" --trust "$trust" --root "$work/root" --state-dir "$work/state"
}

# compare LABEL-A LABEL-B TARGET -- CMD-A -- CMD-B: prints both medians and their ratio.
compare() {
    local a_label=$1 b_label=$2 target=$3
    shift 4
    local a=() b=() sep
    for sep in "$@"; do [[ $sep == -- ]] && break; a+=("$sep"); done
    b=("${@:${#a[@]}+2}")
    "${a[@]}" >/dev/null; "${b[@]}" >/dev/null # warm the page cache
    local ta=() tb=()
    for _ in $(seq $reps); do
        ta+=("$(millis "${a[@]}")")
        tb+=("$(millis "${b[@]}")")
    done
    local ma mb
    ma=$(median "${ta[@]}")
    mb=$(median "${tb[@]}")
    awk -v a="$a_label" -v ma="$ma" -v b="$b_label" -v mb="$mb" -v t="$target" 'BEGIN {
        printf "%-30s %7.2f s   %-26s %7.2f s   ratio %.3f (target <= %s)\n", a, ma / 1000, b, mb / 1000, ma / mb, t }'
}

compare "verify (parts folder)" "verify (single file)" 1.05 -- \
    "$applier" verify -q "$work/parts" --trust "$trust" -- "$applier" verify -q "$single" --trust "$trust"
compare "stage (parts folder)" "stage (single file)" 1.05 -- \
    stage_fresh "$work/parts" -- stage_fresh "$single"
compare "verify --quick (single file)" "sha256sum (single file)" 1.1 -- \
    "$applier" verify -q --quick "$single" --trust "$trust" -- sha256sum "$single"
compare "verify --quick (parts folder)" "sha256sum (parts)" 1.1 -- \
    "$applier" verify -q --quick "$work/parts" --trust "$trust" -- sh -c "sha256sum '$work/parts'/*.ferry.0*"
