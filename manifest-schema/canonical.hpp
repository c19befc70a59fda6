#pragma once

// A fast path for the manifest's `files` list in exactly the layout emit_manifest writes.
// yaml-cpp needs ~35 µs per listed file, which dominates verifying a bundle of many small
// files; this reads the same text at memory speed. It accepts only what it is sure of and
// otherwise declines, and the full parser then decides (and reports errors with their line).

#include "manifest-schema/manifest.hpp"

#include <optional>
#include <string_view>
#include <vector>

namespace ferry::schema {

// The entries of a `files:` block (the lines after "files:" up to "payload:"), checked as
// parse_manifest checks them (valid paths, roles, modes, hashes, order, unique destinations);
// nullopt if anything deviates from the canonical layout or fails a check.
[[nodiscard]] std::optional<std::vector<ManifestFile>> parse_canonical_files(std::string_view block);

} // namespace ferry::schema
