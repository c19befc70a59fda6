#include "node_trust.hpp"

#include "core/defaults.hpp"
#include "core/envelope.hpp"
#include "core/error.hpp"
#include "core/fs.hpp"
#include "core/json.hpp"
#include "core/sha256.hpp"
#include "keys/trust_bundle.hpp"

namespace ferry::applier {

namespace fs = std::filesystem;

namespace {

// The node's trust store as an install path (what RootFs takes).
constexpr const char* k_dest = k_default_trust_store;

// The record of a trust change: its bundle is the file given (a trust store, or a trust bundle),
// its manifest the store's bytes, which the trust keys sign.
void log_change(StateDb& state, const std::string& action, const fs::path& source, const TrustChange& c,
                const std::string& error) {
    JsonWriter j;
    j.begin_object().field("trust_store", c.path.string()).field("source", fs::absolute(source).string());
    j.field("bundle", source.filename().string()).field("from_version", c.from_version).field("version", c.version);
    j.field("manifest_sha256", c.sha256).field("sha256", c.sha256);
    write_signing_keys(j, c.signing_keys);
    j.field("detail", error);
    state.audit(action, j);
}

} // namespace

keys::TrustStore load_site_trust(const fs::path& given, const fs::path& root) {
    if (!given.empty()) {
        return keys::load_trust_store(given);
    }
    return keys::load_trust_store(node_trust_store(root), keys::TrustOrigin::node_default);
}

TrustChange init_trust(const SiteOptions& options, const fs::path& file) {
    Site site(options);
    TrustChange change;
    change.path = site.root.host_path(k_dest);
    try {
        if (site.root.exists(k_dest)) {
            const auto current = site.root.read(k_dest, k_max_trust_store_size);
            if (current) {
                change.sha256 = to_hex(sha256(*current));
            }
            throw Error(ErrorKind::policy, change.path.string() + ": the node has a trust store already",
                        "it changes only through a trust bundle: `ferry-applier trust update BUNDLE`");
        }
        const std::string text = read_file(file, k_max_trust_store_size);
        const keys::TrustStore store = keys::parse_trust_store(text, file.string());
        keys::check_thresholds_reachable(store, now(), file.string());
        change.version = store.version;
        change.sha256 = to_hex(sha256(text));
        site.root.install_data(k_dest, text, 0644);
        site.root.sync();
    } catch (const Error& e) {
        log_change(site.state, "trust init refused", file, change, e.what());
        throw;
    }
    log_change(site.state, "trust initialized", file, change, "");
    site.write_receipt();
    return change;
}

TrustChange update_trust(const SiteOptions& options, const fs::path& bundle_path) {
    Site site(options);
    TrustChange change;
    change.path = site.root.host_path(k_dest);
    try {
        const auto current_text = site.root.read(k_dest, k_max_trust_store_size);
        if (!current_text) {
            throw Error(ErrorKind::input, change.path.string() + ": no trust store on this node to update",
                        "install the site's first trust store with `ferry-applier trust init FILE`");
        }
        const keys::TrustStore current = keys::parse_trust_store(*current_text, change.path.string());
        change.from_version = current.version;
        const keys::TrustBundle bundle = keys::read_trust_bundle(bundle_path);
        const keys::TrustUpdate update = keys::check_trust_update(current, bundle, now());
        change.version = update.store.version;
        change.sha256 = to_hex(sha256(bundle.head.store));
        change.signing_keys = counted_keys(update.by_current);
        for (const auto& k : counted_keys(update.by_new)) {
            if (std::none_of(change.signing_keys.begin(), change.signing_keys.end(),
                             [&](const SigningKey& s) { return s.id == k.id; })) {
                change.signing_keys.push_back(k);
            }
        }
        site.root.install_data(k_dest, bundle.head.store, 0644);
        site.root.sync();
    } catch (const Error& e) {
        log_change(site.state, "trust update refused", bundle_path, change, e.what());
        throw;
    }
    log_change(site.state, "trust updated", bundle_path, change, "");
    site.write_receipt();
    return change;
}

} // namespace ferry::applier
