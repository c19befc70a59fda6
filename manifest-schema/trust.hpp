#pragma once

// The site's trust store, trust.yaml (docs/format.md, "Trust store").

#include "core/limits.hpp"
#include "core/time.hpp"

#include <array>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace ferry::schema {

// What a key may sign: `release` keys sign software bundles, `trust` keys sign trust stores.
enum class TrustRole { release, trust };

// Every role, in the order documents list them.
inline constexpr std::array<TrustRole, 2> k_trust_roles = {TrustRole::release, TrustRole::trust};

// The role's name in trust.yaml ("release", "trust").
[[nodiscard]] std::string_view role_name(TrustRole role);

struct TrustedKeyEntry {
    std::string name;
    std::string id;         // 16 upper-case hex digits
    std::string public_key; // base64, the second line of a minisign .pub file
    UnixTime expires = 0;
    std::vector<TrustRole> roles;
    std::string where;      // "trust.yaml:7", for messages
};

// How many distinct keys of each role must sign.
struct Thresholds {
    std::uint64_t release = 0;
    std::uint64_t trust = 0;

    // The threshold of ROLE.
    [[nodiscard]] std::uint64_t of(TrustRole role) const { return role == TrustRole::release ? release : trust; }
};

struct TrustStoreDoc {
    std::uint64_t version = 0; // raised by one with each trust bundle
    Thresholds thresholds;
    std::vector<TrustedKeyEntry> keys;
    Limits limits; // the defaults unless the document sets `limits`
};

// Parses TEXT; FILE names it in messages. Key material is checked by keys::load_trust_store.
[[nodiscard]] TrustStoreDoc parse_trust_store(std::string_view text, const std::string& file);

// Writes a trust store document.
[[nodiscard]] std::string emit_trust_store(const TrustStoreDoc& doc);

// KEY as one item of trust.yaml's `keys` list, each line indented by INDENT spaces.
[[nodiscard]] std::string trust_key_entry(const TrustedKeyEntry& key, std::size_t indent = 2);

// TEXT with KEY added at the end of its top-level `keys:` block list, in that list's indentation,
// everything else byte for byte; an input Error naming FILE when TEXT has no such list.
[[nodiscard]] std::string append_trust_key(std::string_view text, const TrustedKeyEntry& key, const std::string& file);

} // namespace ferry::schema
