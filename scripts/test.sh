#!/usr/bin/env bash
# The test command: installs what is missing, builds, and runs the whole suite; then builds
# again with AddressSanitizer and UndefinedBehaviorSanitizer in build-asan and runs the whole
# suite there too. FERRY_NO_SANITIZE=1 skips the second run (for a quick local check).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-deps.sh
bash scripts/build.sh
(cd "${BUILD_DIR:-build}" && ctest --output-on-failure -j"$(nproc)" "$@")

if [ "${FERRY_NO_SANITIZE:-}" != "1" ]; then
    echo "== the same suite under AddressSanitizer and UndefinedBehaviorSanitizer (build-asan)"
    BUILD_DIR=build-asan BUILD_TYPE=Debug bash scripts/build.sh -DFERRY_SANITIZE=ON
    (cd build-asan && ctest --output-on-failure -j"$(nproc)" "$@")
fi
