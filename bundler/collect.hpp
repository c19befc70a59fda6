#pragma once

// Turning a bundle spec into the list of files to pack.

#include "manifest-schema/manifest.hpp"
#include "core/fs.hpp"
#include "manifest-schema/spec.hpp"

#include <memory>

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::bundler {

// One file to pack: where it comes from and what the manifest will say of it.
struct PlannedFile {
    std::filesystem::path source;
    schema::ManifestFile entry;    // sha256 filled in while packing
    std::filesystem::path layout;  // an OCI layout folder pack_layouts() turns into SOURCE, or empty
};

// Expands the spec's sources (files, folders, globs) relative to the spec's folder, sorted by
// payload path; checks that sources exist and are regular files and that payload paths and
// destinations are unique. Rewrites migration step names into payload paths.
[[nodiscard]] std::vector<PlannedFile> plan_files(schema::BundleSpec& spec);

// Packs each OCI layout folder of FILES as an OCI archive dated MTIME, in a temp file in DIR that
// becomes the file's source; the returned files remove themselves when destroyed.
[[nodiscard]] std::vector<std::unique_ptr<AtomicFile>> pack_layouts(std::vector<PlannedFile>& files,
                                                                    const std::filesystem::path& dir,
                                                                    std::int64_t mtime);

} // namespace ferry::bundler
