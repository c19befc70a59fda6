#pragma once

// The site's trust store, trust.yaml (docs/format.md, "Trust store").

#include "core/limits.hpp"
#include "core/time.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::schema {

struct TrustedKeyEntry {
    std::string name;
    std::string id;         // 16 upper-case hex digits
    std::string public_key; // base64, the second line of a minisign .pub file
    UnixTime expires = 0;
    std::vector<std::string> roles;
    std::string where;      // "trust.yaml:7", for messages
};

struct TrustStoreDoc {
    std::uint64_t threshold = 0;
    std::vector<TrustedKeyEntry> keys;
    Limits limits; // the defaults unless the document sets `limits`
};

// Parses TEXT; FILE names it in messages. Key material is checked by keys::load_trust_store.
[[nodiscard]] TrustStoreDoc parse_trust_store(std::string_view text, const std::string& file);

// Writes a trust store document.
[[nodiscard]] std::string emit_trust_store(const TrustStoreDoc& doc);

} // namespace ferry::schema
