#!/usr/bin/env bash
# The rolling coordinator's own cost per node, run by hand (not part of the test suite); see
# docs/benchmarks.md, "The coordinator".
#
# Usage: scripts/bench-rollout.sh [NODES] [--build DIR]
#   NODES        the simulated cluster's size (default 500)
#   --build DIR  build tree holding tests/ferry-bench-rollout (default: build)
#
# One rollout over a simulated cluster whose nodes answer at no cost, its journal on disk
# (below the build tree) and then in memory (/dev/shm), each against the baseline of the same
# number of transport calls made directly; prints the overhead per node and checks the batch
# logic at that size (exit 1 when a promise is broken).
set -euo pipefail

repo=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")/.." && pwd)
nodes=500
build=$repo/build
while [ $# -gt 0 ]; do
    case $1 in
    --build) build=$(cd "$2" && pwd); shift 2 ;;
    [0-9]*) nodes=$1; shift ;;
    *) sed -n '2,13s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 2 ;;
    esac
done
bench=$build/tests/ferry-bench-rollout
[ -x "$bench" ] || { echo "bench-rollout: error: $bench is not built (scripts/build.sh)" >&2; exit 1; }

echo "== journal on disk"
"$bench" "$nodes" "$build/bench-rollout-journal"
if [ -d /dev/shm ]; then
    echo "== journal in memory"
    "$bench" "$nodes" "/dev/shm/ferry-bench-rollout-$$"
    rm -rf "/dev/shm/ferry-bench-rollout-$$"
fi
rm -rf "$build/bench-rollout-journal"
