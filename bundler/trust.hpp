#pragma once

// Trust bundles on the signing side: building one from a new trust store, co-signing one.

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::bundler {

struct TrustBuildOptions {
    std::filesystem::path store; // the new trust.yaml
    std::vector<std::filesystem::path> keys;
    std::filesystem::path out_dir = "."; // where trust-vN.ferry goes, unless output is set
    std::filesystem::path output;        // the trust bundle's own path; empty: out_dir/trust-vN.ferry
    bool force = false;
};

struct TrustBuildResult {
    std::filesystem::path bundle;
    std::uint64_t version = 0;
    std::vector<std::string> signers; // key ids
};

// Builds trust-vVERSION.ferry from the trust store at OPTIONS.store (which must load as the
// applier loads it, and be able to meet its thresholds), signed by every key; the store's bytes
// are carried, and signed, as they are.
[[nodiscard]] TrustBuildResult build_trust_bundle(const TrustBuildOptions& options);

// Adds a signature by KEY to the trust bundle at PATH, writing OUT (PATH when empty) atomically.
[[nodiscard]] std::string sign_trust_bundle(const std::filesystem::path& path, const std::filesystem::path& key,
                                            const std::filesystem::path& out);

} // namespace ferry::bundler
