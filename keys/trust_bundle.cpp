#include "trust_bundle.hpp"

#include "core/error.hpp"
#include "core/fs.hpp"


namespace ferry::keys {

bool is_trust_bundle(const std::filesystem::path& path) {
    const Fd fd = open_regular_file(path);
    EnvelopeReader reader(fd.get(), path.string());
    const auto first = reader.next();
    return first && first->name == k_trust_member;
}

TrustBundle read_trust_bundle(const std::filesystem::path& path) {
    const Fd fd = open_regular_file(path);
    EnvelopeReader reader(fd.get(), path.string());
    try {
        return {path, read_trust_bundle_head(reader)};
    } catch (const Error& e) {
        throw e.with_context(path.string());
    }
}

void write_trust_bundle(const std::filesystem::path& path, const std::string& store,
                        const std::map<std::string, std::string>& signatures, UnixTime mtime) {
    AtomicFile file(path);
    EnvelopeWriter writer(file.fd(), file.temp_path().string(), mtime);
    writer.add(k_trust_member, store);
    for (const auto& [id, text] : signatures) {
        writer.add(std::string(k_signature_prefix) + id + std::string(k_signature_suffix), text);
    }
    writer.finish();
    file.commit();
}

TrustUpdate check_trust_update(const TrustStore& current, const TrustBundle& bundle, UnixTime now) {
    const std::string file = bundle.path.string();
    const std::string& text = bundle.head.store;
    const std::string current_name = "the current trust store (version " + std::to_string(current.version) + ")";
    TrustUpdate update;
    try {
        update.by_current = authenticate(text, bundle.head.signatures, current, TrustRole::trust, now, "trust.yaml");
    } catch (const Error& e) {
        throw Error(e.kind(), file + ": not signed by the trust threshold of " + current_name + ": " + e.what(),
                    "a trust bundle needs the signatures of the current store's trust keys and of the new store's");
    }
    try {
        update.store = parse_trust_store(text, file + ":trust.yaml");
    } catch (const Error& e) {
        throw Error(ErrorKind::policy, std::string(e.what()), e.hint());
    }
    const std::uint64_t next = current.version + 1;
    const std::uint64_t version = update.store.version;
    if (version <= current.version) {
        throw Error(ErrorKind::policy,
                    file + ": carries trust store version " + std::to_string(version) + ", not newer than " + current_name +
                        ": an old trust bundle replayed, or a downgrade",
                    "a trust bundle must carry version " + std::to_string(next));
    }
    if (version > next) {
        throw Error(ErrorKind::policy,
                    file + ": carries trust store version " + std::to_string(version) + ", skipping version(s) after " +
                        current_name,
                    "trust bundles are applied one version at a time: apply the one with version " + std::to_string(next) +
                        " first");
    }
    check_thresholds_reachable(update.store, now, file + ": trust store version " + std::to_string(version));
    try {
        update.by_new = authenticate(text, bundle.head.signatures, update.store, TrustRole::trust, now, "trust.yaml");
    } catch (const Error& e) {
        throw Error(e.kind(),
                    file + ": not signed by the trust threshold of the new trust store (version " + std::to_string(version) +
                        "): " + e.what(),
                    "a trust bundle needs the signatures of the current store's trust keys and of the new store's");
    }
    return update;
}

} // namespace ferry::keys
