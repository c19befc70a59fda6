#pragma once

// The node's own trust store, below the install root: installed once by `trust init`, changed
// only by a trust bundle (`trust update`), each change and each refusal in the audit log.

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
    std::uint64_t from_version = 0; // 0 for trust init
    std::uint64_t version = 0;
    std::string sha256;            // of the store's bytes as installed
    std::vector<SigningKey> signing_keys; // the keys that counted, for trust update: the current store's, then the new one's
};

// Installs FILE as the node's trust store, refusing when the node has one already or when FILE
// is not a trust store whose thresholds can be met; logged either way.
[[nodiscard]] TrustChange init_trust(const SiteOptions& site, const std::filesystem::path& file);

// Replaces the node's trust store by the one BUNDLE carries, atomically, when
// keys::check_trust_update accepts it; the store is left byte for byte as it was otherwise.
// Logged either way.
[[nodiscard]] TrustChange update_trust(const SiteOptions& site, const std::filesystem::path& bundle);

} // namespace ferry::applier
