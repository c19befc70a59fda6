#!/usr/bin/env bash
# Builds Ferry's libFuzzer targets (tests/fuzz/) with clang, ASan and UBSan, and runs them.
#
# Usage: scripts/fuzz.sh TARGET|all SECONDS [LIBFUZZER_OPTION...]
#   TARGET: spec, manifest, trust, signature, bundle, payload or parts_list; "all" runs them one by one.
#
# Each target fuzzes for SECONDS with a working corpus in work/fuzz/TARGET/ (kept between runs,
# seeded from tests/fuzz/corpus/TARGET/). Crashing, leaking or hanging inputs are written to
# tests/fuzz/crashers/TARGET/; libFuzzer stops at a finding, so the run restarts until its
# time is used. Prints one line per target: seconds, executions, corpus size and result.
# Environment: FERRY_FUZZ_BUILD (default build-fuzz) is the build folder.
set -euo pipefail

readonly targets_all=(spec manifest trust signature bundle payload parts_list)

usage() {
    echo "usage: $0 TARGET|all SECONDS [LIBFUZZER_OPTION...]" >&2
    echo "targets: ${targets_all[*]}" >&2
    exit 2
}

[[ $# -ge 2 ]] || usage
readonly which=$1
readonly seconds=$2
shift 2
[[ $seconds =~ ^[0-9]+$ && $seconds -gt 0 ]] || usage
if [[ $which == all ]]; then
    targets=("${targets_all[@]}")
elif [[ " ${targets_all[*]} " == *" $which "* ]]; then
    targets=("$which")
else
    usage
fi

source_dir=$(cd "$(dirname "$0")/.." && pwd)
readonly source_dir
readonly build_dir=${FERRY_FUZZ_BUILD:-$source_dir/build-fuzz}

# clang and the libFuzzer runtime.
if ! command -v clang++ >/dev/null ||
    ! compgen -G "/usr/lib/llvm-*/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a" >/dev/null; then
    echo "fuzz.sh: installing clang and the libFuzzer runtime" >&2
    apt-get update -qq && apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
fi

# One build at a time: several fuzz.sh may start together, one per core.
mkdir -p "$build_dir"
(
    flock 9
    if [[ ! -f $build_dir/CMakeCache.txt ]]; then
        CC=clang CXX=clang++ cmake -S "$source_dir" -B "$build_dir" -DFERRY_FUZZ=ON -DFERRY_SANITIZE=ON \
            -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
    fi
    cmake --build "$build_dir" -j"$(nproc)" --target "${targets[@]/#/fuzz_}" >"$build_dir/fuzz-build.log" ||
        { echo "fuzz.sh: build failed, see $build_dir/fuzz-build.log" >&2; exit 1; }
) 9>"$build_dir/.fuzz-build.lock"

# Options per target: the longest input worth trying, and a dictionary when there is one.
max_len() {
    case $1 in
    signature) echo 4200 ;;
    spec | trust | parts_list) echo 8192 ;;
    manifest) echo 32768 ;;
    bundle | payload) echo 65536 ;;
    esac
}

# Runs TARGET for SECONDS in total, restarting after each finding; prints the summary line and
# fails if there were findings.
fuzz_one() {
    local -r target=$1
    shift
    local -r work=$source_dir/work/fuzz/$target
    local -r crashers=$source_dir/tests/fuzz/crashers/$target
    local -r log_dir=$work/logs
    rm -rf "$log_dir"
    mkdir -p "$work/corpus" "$crashers" "$log_dir"
    cp -n "$source_dir/tests/fuzz/corpus/$target/"* "$work/corpus/" 2>/dev/null || true

    local -a options=(-rss_limit_mb=2048 -timeout=30 -print_final_stats=1
        "-max_len=$(max_len "$target")" "-artifact_prefix=$crashers/")
    local -r dict=$source_dir/tests/fuzz/dict/$target.dict
    [[ -f $dict ]] && options+=("-dict=$dict")

    local -r deadline=$((SECONDS + seconds))
    local executions=0 runs=0 left result="no findings"
    local -a found=()
    while left=$((deadline - SECONDS)) && [[ $left -gt 0 ]]; do
        runs=$((runs + 1))
        local log=$log_dir/run-$runs.log
        local rc=0
        "$build_dir/tests/fuzz_$target" "-max_total_time=$left" "${options[@]}" "$@" \
            "$work/corpus" >"$log" 2>&1 || rc=$?
        local n
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
        executions=$((executions + ${n:-0}))
        if [[ $rc -ne 0 ]]; then
            local artifact
            artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
            found+=("${artifact:-exit status $rc, see $log}")
            if [[ -z $artifact ]]; then
                break # not a finding libFuzzer could save: do not loop on it
            fi
        fi
    done
    if [[ ${#found[@]} -gt 0 ]]; then
        result="FINDINGS (${#found[@]}): ${found[*]}"
    fi
    local corpus
    corpus=$(find "$work/corpus" -type f | wc -l)
    printf '%-10s %8s %12s %12s  %s\n' "$target" "$seconds" "$executions" "$corpus" "$result"
    [[ ${#found[@]} -eq 0 ]]
}

printf '%-10s %8s %12s %12s  %s\n' target seconds executions "corpus size" result
status=0
for target in "${targets[@]}"; do
    fuzz_one "$target" "$@" || status=1
done
exit $status
