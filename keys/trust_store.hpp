#pragma once

// The site's trust store with its keys decoded, and threshold authentication of a manifest.

#include "core/envelope.hpp"
#include "core/limits.hpp"
#include "core/time.hpp"
#include "keys/key.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::keys {

struct TrustedKey {
    std::string name;
    PublicKey key;
    UnixTime expires = 0;
    std::vector<std::string> roles;
};

struct TrustStore {
    std::uint64_t threshold = 1;
    std::vector<TrustedKey> keys;
    Limits limits;

    // The key with ID, or null.
    [[nodiscard]] const TrustedKey* find(const KeyId& id) const;
};

// Reads trust.yaml and decodes its keys; every id must match the id inside its public key. A
// missing file is an input Error naming it, with a hint (--trust, the node's default store).
[[nodiscard]] TrustStore load_trust_store(const std::filesystem::path& path);

// Parses trust store TEXT; FILE names it in messages.
[[nodiscard]] TrustStore parse_trust_store(std::string_view text, const std::string& file);

// What became of one signature of a bundle.
struct SignatureCheck {
    enum class Status { valid, unknown_key, expired_key, bad_signature, repeated_key };
    std::string key_id;
    std::string key_name; // empty when the key is unknown
    Status status = Status::bad_signature;
    std::string trusted_comment;
};

// The outcome of authenticating a manifest.
struct Authentication {
    std::vector<SignatureCheck> signatures;
    std::uint64_t valid = 0; // distinct trusted, unexpired keys whose signature verified
    std::uint64_t threshold = 0;
};

// A short phrase for STATUS ("valid", "unknown key", ...).
[[nodiscard]] std::string status_text(SignatureCheck::Status status);

// Checks HEAD's signatures over the manifest bytes against TRUST at time NOW. Throws a
// verification Error listing every signature's fate when fewer than the threshold count.
[[nodiscard]] Authentication authenticate(const BundleHead& head, const TrustStore& trust, UnixTime now);

} // namespace ferry::keys
