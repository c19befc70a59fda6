#!/usr/bin/env bash
# How Ferry's cost grows with the work, run by hand (see docs/benchmarks.md, "As the work grows").
#
# Usage: scripts/bench-scale.sh [--sizes "256 1024 4096"] [--small-files N] [--small-size-mib M]
#                               [--work DIR] [--build DIR] [--wait-quiet SECONDS]
#   --sizes "A B ..."   corpus sizes in MiB, each a mixed corpus of scripts/bench_corpus.sh
#                       (default "256 1024 4096"; "" for none)
#   --small-files N     also a corpus of N small files (default 100000; 0: none)
#   --small-size-mib M  that corpus's size (default 256)
#   --work DIR          work folder (default /var/tmp/ferry-bench-scale); corpora are kept there
#                       and reused
#   --build DIR, --wait-quiet S   passed to scripts/bench.sh
#
# Runs scripts/bench.sh on each corpus and prints, per corpus, build, verify and apply: the time,
# the time per GiB, the ratio against the baseline of the same run, and the peak memory. Cost
# linear in size shows as a steady time per GiB; memory flat as a steady peak.
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
readonly repo
sizes="256 1024 4096"
small_files=100000
small_size=256
work=/var/tmp/ferry-bench-scale
pass=()
usage() { sed -n '2,17s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }
while (($# > 0)); do
    case $1 in
    --sizes) sizes=${2?--sizes needs sizes ("" for none)}; shift 2 ;;
    --small-files) small_files=${2:?--small-files needs a number}; shift 2 ;;
    --small-size-mib) small_size=${2:?--small-size-mib needs a number}; shift 2 ;;
    --work) work=${2:?--work needs a folder}; shift 2 ;;
    --build | --wait-quiet) pass+=("$1" "${2:?$1 needs a value}"); shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; exit 2 ;;
    esac
done
for n in $sizes $small_files $small_size; do
    [[ $n =~ ^[0-9]+$ ]] || { echo "bench-scale: error: \"$n\" is not a whole number" >&2; exit 2; }
done
mkdir -p -- "$work"

# corpora: NAME SIZE_MIB [SMALL_FILES] per line.
corpora=()
for size in $sizes; do corpora+=("mixed-$size $size"); done
((small_files > 0)) && corpora+=("small-$small_files $small_size $small_files")

rows=()
for entry in "${corpora[@]}"; do
    read -r name size files <<<"$entry"
    corpus=$work/corpus-$name
    if [[ ! -d $corpus ]]; then
        echo "bench-scale: generating $corpus" >&2
        bash "$repo/scripts/bench_corpus.sh" "$corpus" "$size" ${files:+"$files"}
    fi
    echo "bench-scale: measuring $name" >&2
    bash "$repo/scripts/bench.sh" --corpus "$corpus" --work "$work/run-$name" "${pass[@]}" >"$work/$name.md"
    rows+=("$name	$(tail -n 1 "$work/run-$name/last-results.tsv")")
done

per_gib() { awk -v s="$1" -v b="$2" 'BEGIN { printf "%.2f", s * 1073741824 / b }'; }
{
    echo "Ferry as the work grows, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores; each row one run of scripts/bench.sh (medians of 3)"
    echo
    echo "| corpus | files | MiB | build s | s/GiB | / tar\\|zstd | verify s | s/GiB | / zstd -dc | apply s | s/GiB | / tar -x+sync | peak MiB build, verify, apply | other load |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|"
    for row in "${rows[@]}"; do
        IFS=$'\t' read -r name bytes files build br verify vr apply ar brss vrss arss dist <<<"$row"
        printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s, %s, %s | %s %% |\n' "$name" "$files" \
            "$(awk -v b="$bytes" 'BEGIN { printf "%.0f", b / 1048576 }')" "$build" "$(per_gib "$build" "$bytes")" "$br" \
            "$verify" "$(per_gib "$verify" "$bytes")" "$vr" "$apply" "$(per_gib "$apply" "$bytes")" "$ar" "$brss" "$vrss" "$arss" "$dist"
    done
} | tee "$work/scale-results.md"
