#pragma once

// Trust bundles: a new trust store with its signatures, the only way a node's store changes
// after `trust init` (docs/format.md, "Trust bundle").

#include "core/envelope.hpp"
#include "keys/trust_store.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace ferry::keys {

// A trust bundle as read from its file, checked for shape only.
struct TrustBundle {
    std::filesystem::path path;
    TrustBundleHead head;
};

// Whether the file at PATH starts as a trust bundle (its first member is trust.yaml).
[[nodiscard]] bool is_trust_bundle(const std::filesystem::path& path);

// Reads the trust bundle at PATH; a malformed envelope is a verification Error naming it.
[[nodiscard]] TrustBundle read_trust_bundle(const std::filesystem::path& path);

// Writes a trust bundle of STORE (the exact bytes signed) and SIGNATURES (by key id) to PATH
// atomically, its headers dated MTIME.
void write_trust_bundle(const std::filesystem::path& path, const std::string& store,
                        const std::map<std::string, std::string>& signatures, UnixTime mtime);

// What a trust bundle that may replace the current store carries, and who signed it.
struct TrustUpdate {
    TrustStore store;
    Authentication by_current;
    Authentication by_new;
};

// Decides whether BUNDLE may replace CURRENT at time NOW, in steps: the trust keys of CURRENT
// must meet its trust threshold over the new store's bytes (verification Error), before they are
// parsed; then the new store must parse, carry version CURRENT + 1 and be able to meet its own
// thresholds (policy Error); then its own trust keys must meet its trust threshold
// (verification Error).
[[nodiscard]] TrustUpdate check_trust_update(const TrustStore& current, const TrustBundle& bundle, UnixTime now);

} // namespace ferry::keys
