#pragma once

// The site's trust store with its keys decoded, and threshold authentication of signed bytes
// by the keys of one role.

#include "core/envelope.hpp"
#include "core/limits.hpp"
#include "core/time.hpp"
#include "keys/key.hpp"
#include "manifest-schema/trust.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace ferry::keys {

using schema::TrustRole;

struct TrustedKey {
    std::string name;
    PublicKey key;
    UnixTime expires = 0;
    std::vector<TrustRole> roles;

    // Whether the key may sign for ROLE.
    [[nodiscard]] bool has(TrustRole role) const;
};

struct TrustStore {
    std::uint64_t version = 1;
    schema::Thresholds thresholds{1, 1};
    std::vector<TrustedKey> keys;
    Limits limits;

    // The key with ID, or null.
    [[nodiscard]] const TrustedKey* find(const KeyId& id) const;
};

// Where a trust store's path came from, for the message when it is missing.
enum class TrustOrigin { given, node_default };

// Reads trust.yaml and decodes its keys; every id must match the id inside its public key. A
// missing file is an input Error naming it, with a hint that depends on ORIGIN.
[[nodiscard]] TrustStore load_trust_store(const std::filesystem::path& path, TrustOrigin origin = TrustOrigin::given);

// Parses trust store TEXT; FILE names it in messages.
[[nodiscard]] TrustStore parse_trust_store(std::string_view text, const std::string& file);

// Throws a policy Error, naming WHAT, when some role's threshold cannot be met by the keys of
// STORE that hold the role and are unexpired at NOW.
void check_thresholds_reachable(const TrustStore& store, UnixTime now, const std::string& what);

// The roles as trust.yaml writes them ("release, trust").
[[nodiscard]] std::string roles_text(const std::vector<TrustRole>& roles);

// What became of one signature.
struct SignatureCheck {
    enum class Status { valid, unknown_key, expired_key, bad_signature, repeated_key, wrong_role };
    std::string key_id;
    std::string key_name; // empty when the key is unknown
    Status status = Status::bad_signature;
    std::string reason; // why it does not count, for people ("not a release key (roles: trust)")
    std::string trusted_comment;
};

// The outcome of authenticating signed bytes.
struct Authentication {
    std::vector<SignatureCheck> signatures;
    TrustRole role = TrustRole::release;
    std::uint64_t valid = 0; // distinct trusted, unexpired keys of the role whose signature verified
    std::uint64_t threshold = 0;
};

// A short phrase for STATUS ("valid", "unknown key", "wrong role", ...).
[[nodiscard]] std::string status_text(SignatureCheck::Status status);

// The signatures that did not count, each with its key and why ("" when all counted).
[[nodiscard]] std::string ignored_text(const Authentication& auth);

// "N trusted release key(s), M required [NAME, ...]", then "; ignored: " and ignored_text()
// when a signature did not count.
[[nodiscard]] std::string counted_text(const Authentication& auth);

// Checks SIGNATURES over MESSAGE against the keys of TRUST that hold ROLE, at time NOW. Throws
// a verification Error, "WHAT signed by N trusted key(s), M required [...]" listing every
// signature's fate, when fewer than ROLE's threshold count.
[[nodiscard]] Authentication authenticate(std::string_view message, const std::vector<BundleHead::Signature>& signatures,
                                          const TrustStore& trust, TrustRole role, UnixTime now, const std::string& what);

// Checks a software bundle's manifest: the release keys' threshold.
[[nodiscard]] Authentication authenticate(const BundleHead& head, const TrustStore& trust, UnixTime now);

} // namespace ferry::keys
