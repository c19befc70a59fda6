#pragma once

// Writing a bundle as numbered parts for media with a file size limit, byte for byte (nothing
// is recompressed), with the parts list beside them (see docs/format.md, "Parts").

#include "core/parts.hpp"

#include <filesystem>
#include <vector>

namespace ferry::bundler {

// How to split.
struct SplitOptions {
    std::filesystem::path bundle;
    std::uint64_t part_size = k_default_part_size;
    std::filesystem::path out_dir; // the bundle's folder when empty
    bool force = false;            // replace existing parts
    bool progress = true;
};

// What a split wrote.
struct SplitResult {
    std::vector<PartsListEntry> parts; // file names are relative to out_dir
    std::filesystem::path out_dir;
    std::filesystem::path list; // NAME-VERSION.ferry.parts
};

// Writes the parts of a whole bundle, checking every payload chunk against its manifest as it
// is copied; the parts and their list appear together, only once all are written.
[[nodiscard]] SplitResult split_bundle(const SplitOptions& options);

} // namespace ferry::bundler
