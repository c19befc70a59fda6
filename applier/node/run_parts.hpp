#pragma once

// Helpers the files of Run (run, backup, images, rollback) share; not for other callers.

#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <string>

namespace ferry::applier::detail {

// PATH without a trailing "/" (a declared backup path may name a folder that way).
[[nodiscard]] std::string without_slash(const std::string& path);

// Hard-links SOURCE to TARGET (same file system), or copies it; replaces TARGET.
void link_or_copy(const std::filesystem::path& source, const std::filesystem::path& target);

// An image kept for a rollback: by content, under its own name (a load command may use it).
[[nodiscard]] std::filesystem::path kept_image_name(const schema::ManifestFile& f);

// The file of M at payload PATH, or nullptr.
[[nodiscard]] const schema::ManifestFile* find_file(const schema::Manifest& m, const std::string& path);

} // namespace ferry::applier::detail
