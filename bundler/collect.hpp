#pragma once

// Turning a bundle spec into the list of files to pack.

#include "manifest-schema/manifest.hpp"
#include "manifest-schema/spec.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::bundler {

// One file to pack: where it comes from and what the manifest will say of it.
struct PlannedFile {
    std::filesystem::path source;
    schema::ManifestFile entry; // sha256 filled in while packing
};

// Expands the spec's sources (files, folders, globs) relative to the spec's folder, sorted by
// payload path; checks that sources exist and are regular files and that payload paths and
// destinations are unique. Rewrites migration step names into payload paths.
[[nodiscard]] std::vector<PlannedFile> plan_files(schema::BundleSpec& spec);

} // namespace ferry::bundler
