#pragma once

// The version this build of Ferry carries: what `--version` prints and what a bundle's
// `min_applier_version` is compared with.

#include <string_view>

namespace ferry {

// This build's version, from project() in the top-level CMakeLists.txt (compiled into one
// translation unit, core/build_info.cpp, so that a second build differs in that file alone).
[[nodiscard]] std::string_view build_version();

} // namespace ferry
