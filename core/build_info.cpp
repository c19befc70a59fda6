#include "build_info.hpp"

// FERRY_VERSION is defined for this one file only (core/CMakeLists.txt).
std::string_view ferry::build_version() { return FERRY_VERSION; }
