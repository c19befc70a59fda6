#pragma once

// ferry-bundler's work: building a bundle from a spec and co-signing one.

#include "keys/key.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <vector>

namespace ferry::bundler {

struct BuildOptions {
    std::filesystem::path spec;
    std::vector<std::filesystem::path> keys;
    std::filesystem::path out_dir = ".";  // where NAME-VERSION.ferry goes, unless output is set
    std::filesystem::path output;         // the bundle's own path; empty: out_dir/NAME-VERSION.ferry
    int level = 3;
    int threads = 0; // 0: one per core
    bool force = false;
    bool progress = true;
};

struct BuildResult {
    std::filesystem::path bundle;
    schema::Manifest manifest;
    std::vector<std::string> signers; // key ids, in the order the keys were given
};

// Loads the secret key at PATH, asking for its passphrase when it has one.
[[nodiscard]] keys::SecretKey load_key(const std::filesystem::path& path);

// Builds NAME-VERSION.ferry (or OPTIONS.output) from a spec, signs it with every key, verifies the result and only
// then renames it into place: a failure or Ctrl-C leaves no bundle and no temp file.
[[nodiscard]] BuildResult build_bundle(const BuildOptions& options);

// Adds a signature by KEY to BUNDLE without recompressing its payload; writes OUT (BUNDLE when
// empty) atomically after verifying the new signature and the payload.
[[nodiscard]] std::string sign_bundle(const std::filesystem::path& bundle, const std::filesystem::path& key,
                                      const std::filesystem::path& out, bool progress);

} // namespace ferry::bundler
