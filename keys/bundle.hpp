#pragma once

// Opening, inspecting and verifying a bundle file: the trust decision end to end.

#include "core/envelope.hpp"
#include "core/payload.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <functional>
#include <optional>

namespace ferry::keys {

// A bundle's head as read for inspection: nothing is verified unless a trust store is given.
struct BundleInfo {
    std::filesystem::path path;
    std::uint64_t file_size = 0;
    BundleHead head;
    schema::Manifest manifest;
    std::optional<Authentication> auth; // set when authenticated against a trust store
};

// Reads only the envelope's head and the manifest; authenticates it first when TRUST is set.
// Without WITH_FILES the manifest's file list is skipped (the components' totals remain).
[[nodiscard]] BundleInfo inspect_bundle(const std::filesystem::path& path, const TrustStore* trust,
                                        bool with_files = true);

// How to verify.
struct VerifyOptions {
    UnixTime now = 0;
    bool progress = true;
    std::string label; // names the work in progress output; the file name when empty
    PayloadSink* sink = nullptr; // receives the payload's files, e.g. for staging
    // Called once the manifest is authenticated and unexpired, before any payload byte is
    // read: the place for policy checks that need the manifest.
    std::function<void(const BundleInfo&)> before_payload;
};

// The result of a successful verification.
struct VerifiedBundle {
    BundleInfo info;
    std::uint64_t chunks = 0;
};

// Verifies signatures (threshold), expiry, then every chunk and file in one pass. Throws a
// verification Error for a forged or damaged bundle, a policy Error for an expired one.
[[nodiscard]] VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                                           const VerifyOptions& options);

} // namespace ferry::keys
