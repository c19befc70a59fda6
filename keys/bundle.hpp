#pragma once

// Opening, inspecting and verifying a bundle file: the trust decision end to end.

#include "core/envelope.hpp"
#include "core/payload.hpp"
#include "keys/trust_store.hpp"
#include "manifest-schema/manifest.hpp"

#include <filesystem>
#include <memory>
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
};

// The result of a successful verification.
struct VerifiedBundle {
    BundleInfo info;
    std::uint64_t chunks = 0;
};

// A bundle verified in steps: opening it reads the head and authenticates the manifest
// (threshold, expiry) and reads nothing of the payload, so the caller decides (plan, policy)
// before read_payload() streams the payload, every chunk authenticated, into a sink.
class BundleReader {
public:
    // Throws a verification Error for a forged or damaged head, a policy Error for an expired one.
    BundleReader(const std::filesystem::path& path, const TrustStore& trust, UnixTime now);
    ~BundleReader();
    BundleReader(const BundleReader&) = delete;
    BundleReader& operator=(const BundleReader&) = delete;

    [[nodiscard]] const BundleInfo& info() const { return m_info; }
    // Checks every chunk and file, handing them to SINK (nullptr: check only); call it once.
    [[nodiscard]] VerifiedBundle read_payload(PayloadSink* sink, bool progress, const std::string& label = {});

private:
    struct Open;
    std::unique_ptr<Open> m_open;
    const TrustStore& m_trust;
    BundleInfo m_info;
};

// Opens and reads the whole bundle: signatures (threshold), expiry, then every chunk and file
// in one pass. Throws a verification Error for a forged or damaged bundle, a policy Error for
// an expired one.
[[nodiscard]] VerifiedBundle verify_bundle(const std::filesystem::path& path, const TrustStore& trust,
                                           const VerifyOptions& options);

} // namespace ferry::keys
