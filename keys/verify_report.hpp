#pragma once

// The evidence of one verification, for a security officer to file: every check made, in
// order, with its result; the keys; the manifest's and payload's SHA-256; the trust store.
// Written as Markdown or JSON by `verify --report FILE`, when the bundle verifies and when not.

#include "keys/bundle.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace ferry::keys {

enum class ReportFormat { markdown, json };

// The format named by FILE's extension (.md or .json); a usage Error for any other.
[[nodiscard]] ReportFormat report_format(const std::filesystem::path& file);

struct VerifyReport {
    std::string verifier;                  // "ferry-applier 0.9.0"
    std::string host;
    UnixTime at = 0;
    std::string bundle;                    // as given
    bool quick = false;
    std::filesystem::path trust_file;
    std::string trust_sha256;              // of the trust store's bytes
    const TrustStore* trust = nullptr;
    CheckLog log;
    std::optional<BundleInfo> info;        // once the head was authenticated
    std::optional<Error> error;            // why the bundle was refused; none when verified
};

// Verifies BUNDLE as `verify` does (QUICK: chunk hashes only), recording every check. Throws
// nothing for a bundle that fails to verify: the report holds the error.
[[nodiscard]] VerifyReport verify_with_report(const std::string& bundle, const TrustStore& trust,
                                              const std::filesystem::path& trust_file, const VerifyOptions& options);

[[nodiscard]] std::string report_markdown(const VerifyReport& report);
[[nodiscard]] std::string report_json(const VerifyReport& report);

} // namespace ferry::keys
