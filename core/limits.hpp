#pragma once

// The bounds a reader puts on a bundle before it trusts anything in it. Safe defaults; a site
// may tighten (or, within the format's own caps, loosen) them in its trust store.

#include <cstdint>

namespace ferry {

struct Limits {
    std::uint64_t manifest_bytes = 16u << 20;      // the manifest member
    std::uint64_t files = 100000;                  // entries in the manifest's file list
    std::uint64_t file_bytes = 64ull << 30;        // one file's declared size
    std::uint64_t total_bytes = 256ull << 30;      // all files' declared sizes together
    int window_log = 27;                           // zstd window: 2^27 = 128 MiB
    std::uint64_t path_bytes = 1024;               // a payload path or install path
};

// The format's own caps, which no trust store can raise.
inline constexpr std::uint64_t k_cap_manifest_bytes = 256u << 20;
inline constexpr int k_cap_window_log = 31;
inline constexpr std::uint64_t k_cap_path_bytes = 1024;

} // namespace ferry
