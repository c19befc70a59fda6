#!/usr/bin/env bash
# Configures and builds Ferry into BUILD_DIR (default: build). With CI=true, warnings are errors.
set -euo pipefail
cd "$(dirname "$0")/.."

build_dir=${BUILD_DIR:-build}
werror=OFF
if [ "${CI:-}" = "true" ]; then
    werror=ON
fi
cmake -S . -B "$build_dir" -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" -DFERRY_WERROR="$werror" "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
