#include "trust.hpp"

#include "bundler/build.hpp"
#include "core/cli/cli.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "keys/signature.hpp"
#include "keys/trust_bundle.hpp"

#include <map>

namespace ferry::bundler {

namespace fs = std::filesystem;

namespace {

std::string trust_signature(const keys::SecretKey& key, const std::string& store, std::uint64_t version, UnixTime when) {
    const std::span<const std::uint8_t> message(reinterpret_cast<const std::uint8_t*>(store.data()), store.size());
    const std::string trusted = "timestamp:" + std::to_string(when) + "\tfile:trust.yaml\ttrust-store:version-" +
                                std::to_string(version);
    const std::string untrusted = "signature from ferry key " + keys::key_id_hex(key.id());
    return keys::format_signature(keys::sign_message(key, message, trusted, untrusted));
}

// Checks, before anything is written, that the signatures by SIGNERS verify over TEXT.
void self_verify(const std::string& text, const std::map<std::string, std::string>& signatures,
                 const std::vector<keys::PublicKey>& signers) {
    std::vector<BundleHead::Signature> members;
    for (const auto& [id, sig] : signatures) {
        members.push_back({id, sig});
    }
    keys::TrustStore store;
    for (const auto& pk : signers) {
        store.keys.push_back({keys::key_id_hex(pk.id), pk, std::numeric_limits<UnixTime>::max(), {keys::TrustRole::trust}});
    }
    store.thresholds.trust = signers.size();
    try {
        (void)keys::authenticate(text, members, store, keys::TrustRole::trust, now(), "trust.yaml");
    } catch (const Error& e) {
        throw Error(ErrorKind::internal, std::string("the new trust bundle's signatures do not verify: ") + e.what());
    }
}

} // namespace

TrustBuildResult build_trust_bundle(const TrustBuildOptions& options) {
    const std::string text = read_file(options.store, k_max_trust_store_size);
    const keys::TrustStore store = keys::parse_trust_store(text, options.store.string());
    keys::check_thresholds_reachable(store, now(), options.store.string());
    if (options.keys.empty()) {
        throw Error(ErrorKind::usage, "no signing key given", "pass --key SECRET.key for each trust key that signs");
    }
    TrustBuildResult result;
    result.version = store.version;
    result.bundle = options.output.empty() ? options.out_dir / ("trust-v" + std::to_string(store.version) + ".ferry")
                                           : options.output;
    refuse_to_replace(result.bundle, options.force);
    const UnixTime when = build_time();
    std::map<std::string, std::string> signatures;
    std::vector<keys::PublicKey> signers;
    for (const auto& path : options.keys) {
        const keys::SecretKey key = load_key(path);
        const std::string id = keys::key_id_hex(key.id());
        if (signatures.count(id) != 0) {
            throw Error(ErrorKind::usage, path.string() + ": key " + id + " is given twice");
        }
        signatures[id] = trust_signature(key, text, store.version, when);
        signers.push_back(key.public_key());
        result.signers.push_back(id);
    }
    self_verify(text, signatures, signers);
    keys::write_trust_bundle(result.bundle, text, signatures, when);
    return result;
}

std::string sign_trust_bundle(const fs::path& path, const fs::path& key_path, const fs::path& out) {
    const keys::TrustBundle bundle = keys::read_trust_bundle(path);
    const keys::TrustStore store = keys::parse_trust_store(bundle.head.store, path.string() + ":trust.yaml");
    const keys::SecretKey key = load_key(key_path);
    const std::string id = keys::key_id_hex(key.id());
    std::map<std::string, std::string> signatures;
    for (const auto& s : bundle.head.signatures) {
        signatures[s.key_id] = s.text;
    }
    if (signatures.count(id) != 0) {
        throw Error(ErrorKind::usage, path.string() + " is already signed by key " + id);
    }
    signatures[id] = trust_signature(key, bundle.head.store, store.version, build_time());
    self_verify(bundle.head.store, {{id, signatures[id]}}, {key.public_key()});
    keys::write_trust_bundle(out.empty() ? path : out, bundle.head.store, signatures, build_time());
    return id;
}

} // namespace ferry::bundler
