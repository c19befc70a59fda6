#include "trust_store.hpp"

#include "core/defaults.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/signature.hpp"
#include "manifest-schema/trust.hpp"

#include <algorithm>
#include <set>

namespace ferry::keys {

bool TrustedKey::has(TrustRole role) const {
    return std::find(roles.begin(), roles.end(), role) != roles.end();
}

std::string roles_text(const std::vector<TrustRole>& roles) {
    std::string out;
    for (const TrustRole r : roles) {
        out += (out.empty() ? "" : ", ") + std::string(schema::role_name(r));
    }
    return out;
}

const TrustedKey* TrustStore::find(const KeyId& id) const {
    for (const auto& k : keys) {
        if (k.key.id == id) {
            return &k;
        }
    }
    return nullptr;
}

TrustStore parse_trust_store(std::string_view text, const std::string& file) {
    const schema::TrustStoreDoc doc = schema::parse_trust_store(text, file);
    TrustStore store;
    store.version = doc.version;
    store.thresholds = doc.thresholds;
    store.limits = doc.limits;
    for (const auto& entry : doc.keys) {
        const PublicKey key = parse_public_key_base64(entry.public_key, entry.where);
        if (key_id_hex(key.id) != entry.id) {
            throw Error(ErrorKind::input, entry.where + ": key \"" + entry.name + "\" has id " +
                                              entry.id + " but its public key is key " +
                                              key_id_hex(key.id));
        }
        for (const auto& other : store.keys) {
            if (other.key.key == key.key) {
                throw Error(ErrorKind::input,
                            entry.where + ": key \"" + entry.name + "\": the same public key is listed twice (also as \"" +
                                other.name + "\", id " + key_id_hex(other.key.id) + ")",
                            "a key counts once towards the threshold, whatever its ids and names");
            }
        }
        store.keys.push_back({entry.name, key, entry.expires, entry.roles});
    }
    return store;
}

TrustStore load_trust_store(const std::filesystem::path& path, TrustOrigin origin) {
    std::error_code ec;
    if (!std::filesystem::exists(path, ec) && !ec) {
        const bool node_default = origin == TrustOrigin::node_default || path == k_default_trust_store;
        throw Error(ErrorKind::input,
                    path.string() + ": no trust store" + (node_default ? " (the node's own, used when --trust is not given)" : ""),
                    node_default ? "install the site's trust store once with `ferry-applier trust init FILE`, or pass --trust FILE"
                                 : "pass --trust with the site's trust store (trust.yaml)");
    }
    return parse_trust_store(read_file(path, 1u << 20), path.string());
}

void check_thresholds_reachable(const TrustStore& store, UnixTime now, const std::string& what) {
    for (const TrustRole role : schema::k_trust_roles) {
        const auto usable = static_cast<std::uint64_t>(std::count_if(
            store.keys.begin(), store.keys.end(), [&](const TrustedKey& k) { return k.has(role) && k.expires > now; }));
        if (usable < store.thresholds.of(role)) {
            const std::string name(schema::role_name(role));
            throw Error(ErrorKind::policy,
                        what + ": thresholds." + name + " is " + std::to_string(store.thresholds.of(role)) + " but only " +
                            std::to_string(usable) + " " + name + " key(s) are unexpired: nothing could ever be signed",
                        "renew the expired keys (a later `expires`) or lower the threshold");
        }
    }
}

std::string status_text(SignatureCheck::Status status) {
    switch (status) {
    case SignatureCheck::Status::valid:
        return "valid";
    case SignatureCheck::Status::unknown_key:
        return "unknown key";
    case SignatureCheck::Status::expired_key:
        return "key expired";
    case SignatureCheck::Status::bad_signature:
        return "BAD SIGNATURE";
    case SignatureCheck::Status::repeated_key:
        return "same key as another signature";
    case SignatureCheck::Status::wrong_role:
        return "wrong role";
    }
    return "?";
}

std::string ignored_text(const Authentication& auth) {
    std::string out;
    for (const auto& s : auth.signatures) {
        if (s.status != SignatureCheck::Status::valid) {
            out += (out.empty() ? "" : "; ") + s.key_id + (s.key_name.empty() ? "" : " (" + s.key_name + ")") + ": " +
                   (s.reason.empty() ? status_text(s.status) : s.reason);
        }
    }
    return out;
}

std::string counted_text(const Authentication& auth) {
    std::string names;
    for (const auto& s : auth.signatures) {
        if (s.status == SignatureCheck::Status::valid) {
            names += (names.empty() ? "" : ", ") + s.key_name;
        }
    }
    const std::string ignored = ignored_text(auth);
    return std::to_string(auth.valid) + " trusted release key(s), " + std::to_string(auth.threshold) + " required [" +
           names + "]" + (ignored.empty() ? "" : "; ignored: " + ignored);
}

Authentication authenticate(std::string_view text, const std::vector<BundleHead::Signature>& signatures,
                            const TrustStore& trust, TrustRole role, UnixTime now, const std::string& what) {
    Authentication auth;
    auth.role = role;
    auth.threshold = trust.thresholds.of(role);
    const std::string role_str(schema::role_name(role));
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
    std::set<std::array<std::uint8_t, k_public_key_size>> counted;
    for (const auto& member : signatures) {
        const std::string where = "signatures/" + member.key_id + ".minisig";
        SignatureCheck check;
        check.key_id = member.key_id;
        Signature sig;
        try {
            sig = parse_signature(member.text, where);
        } catch (const Error& e) {
            throw Error(ErrorKind::verification, e.what());
        }
        if (key_id_hex(sig.id) != member.key_id) {
            throw Error(ErrorKind::verification,
                        where + ": the signature inside is by key " + key_id_hex(sig.id));
        }
        check.trusted_comment = sig.trusted_comment;
        const TrustedKey* key = trust.find(sig.id);
        if (key == nullptr) {
            check.status = SignatureCheck::Status::unknown_key;
        } else {
            check.key_name = key->name;
            if (!verify_signature(key->key, sig, message)) {
                check.status = SignatureCheck::Status::bad_signature;
            } else if (!key->has(role)) {
                check.status = SignatureCheck::Status::wrong_role;
                check.reason = "ignored, not a " + role_str + " key (roles: " + roles_text(key->roles) + ")";
            } else if (key->expires <= now) {
                check.status = SignatureCheck::Status::expired_key;
            } else if (!counted.insert(key->key.key).second) {
                check.status = SignatureCheck::Status::repeated_key;
            } else {
                check.status = SignatureCheck::Status::valid;
                ++auth.valid;
            }
        }
        auth.signatures.push_back(std::move(check));
    }
    if (auth.valid < auth.threshold) {
        std::string detail;
        for (const auto& s : auth.signatures) {
            detail += (detail.empty() ? "" : "; ") + s.key_id +
                      (s.key_name.empty() ? "" : " (" + s.key_name + ")") + ": " +
                      (s.reason.empty() ? status_text(s.status) : s.reason);
        }
        const bool tampered = std::any_of(auth.signatures.begin(), auth.signatures.end(), [](const auto& s) {
            return s.status == SignatureCheck::Status::bad_signature;
        });
        throw Error(ErrorKind::verification,
                    what + " signed by " + std::to_string(auth.valid) + " trusted " + role_str + " key(s), " +
                        std::to_string(auth.threshold) + " required [" + detail + "]",
                    tampered ? "the " + what + " was changed after it was signed"
                             : role == TrustRole::release
                                   ? "have the bundle co-signed with `ferry-bundler sign`, or check the trust store"
                                   : "have the trust bundle co-signed with `ferry-bundler sign` by the trust keys of both stores");
    }
    return auth;
}

Authentication authenticate(const BundleHead& head, const TrustStore& trust, UnixTime now) {
    return authenticate(head.manifest, head.signatures, trust, TrustRole::release, now, "manifest");
}

} // namespace ferry::keys
