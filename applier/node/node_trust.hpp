#pragma once

// The node's own trust store, below the install root: installed once by `trust init`, logged in
// the audit log.

#include "applier/node/site.hpp"
#include "keys/trust_store.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::applier {

// The trust store a command uses: GIVEN (--trust) when set, else the node's own below ROOT.
[[nodiscard]] keys::TrustStore load_site_trust(const std::filesystem::path& given, const std::filesystem::path& root);

// What a change of the node's trust store did.
struct TrustChange {
    std::filesystem::path path;    // the node's trust store, as a host path
    std::uint64_t version = 0;
    std::string sha256;            // of the store's bytes as installed
};

// Installs FILE as the node's trust store, refusing when the node has one already or when FILE
// is not a trust store whose thresholds can be met; logged either way.
[[nodiscard]] TrustChange init_trust(const SiteOptions& site, const std::filesystem::path& file);

} // namespace ferry::applier
